//DEPS org.bouncycastle:bcprov-jdk18on:1.87

package lib.trust;

import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.engines.XSalsa20Engine;
import org.bouncycastle.crypto.macs.Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

/**
 * NaCl's crypto_secretbox_open (XSalsa20 and Poly1305), as Go's golang.org/x/crypto/nacl/secretbox
 * Open reads what Seal wrote: a box is the 16-byte Poly1305 tag, then the message XORed with the
 * XSalsa20 keystream from its byte 32 on; the keystream's first 32 bytes are the one-time Poly1305
 * key. BouncyCastle has the two primitives, not the box, so this file puts them together.
 */
final class SecretBox {

    static final int KEY_BYTES = 32;
    static final int NONCE_BYTES = 24;
    private static final int TAG_BYTES = 16;

    private SecretBox() {}

    /** The message, or null when the box was not sealed with this key and nonce (or was altered). */
    static byte[] open(byte[] box, byte[] nonce, byte[] key) {
        if (key.length != KEY_BYTES || nonce.length != NONCE_BYTES || box.length < TAG_BYTES) {
            return null;
        }
        var stream = new XSalsa20Engine();
        stream.init(false, new ParametersWithIV(new KeyParameter(key), nonce));
        byte[] macKey = new byte[32];
        stream.processBytes(new byte[32], 0, 32, macKey, 0);

        var mac = new Poly1305();
        mac.init(new KeyParameter(macKey));
        mac.update(box, TAG_BYTES, box.length - TAG_BYTES);
        byte[] tag = new byte[TAG_BYTES];
        mac.doFinal(tag, 0);
        Arrays.fill(macKey, (byte) 0);
        if (!MessageDigest.isEqual(tag, Arrays.copyOf(box, TAG_BYTES))) {
            return null;
        }
        byte[] message = new byte[box.length - TAG_BYTES];
        stream.processBytes(box, TAG_BYTES, message.length, message, 0);
        return message;
    }
}

//DEPS org.bouncycastle:bcprov-jdk18on:1.87

package lib.trust;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.crypto.generators.SCrypt;

/**
 * The body of cosign's encrypted private key (PEM "ENCRYPTED SIGSTORE PRIVATE KEY", formerly
 * "ENCRYPTED COSIGN PRIVATE KEY"): go-securesystemslib's encrypted.Encrypt of the PKCS#8 DER, a JSON
 * object such as
 *
 * <pre>{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<32 bytes>"},
 *  "cipher":{"name":"nacl/secretbox","nonce":"<24 bytes>"},"ciphertext":"<tag, then the key>"}</pre>
 *
 * where the byte strings are standard base64, the key is scrypt(password, salt, N, r, p) of 32 bytes,
 * and the ciphertext is a NaCl secretbox ({@link SecretBox}). As go-securesystemslib does, only its
 * three parameter sets are accepted (N of 2^15, 2^16 or 2^17, r 8, p 1): anything else would let the
 * file make scrypt take any time and memory.
 */
final class CosignEncryptedKey {

    /** N: 2^15 (legacy), 2^16 (cosign's default), 2^17 (OWASP's); r and p are always 8 and 1. */
    private static final Set<Integer> SCRYPT_N = Set.of(32768, 65536, 131072);

    /** Why the body cannot be decrypted, in words that quote nothing of it. */
    static final class CannotDecrypt extends Exception {
        CannotDecrypt(String message) {
            super(message);
        }
    }

    private CosignEncryptedKey() {}

    /** The PKCS#8 DER the body holds, decrypted with the password. */
    static byte[] decrypt(byte[] body, String password) throws CannotDecrypt {
        Map<String, Object> json = object(body);
        Map<String, Object> kdf = member(json, "kdf");
        Map<String, Object> params = member(kdf, "params");
        Map<String, Object> cipher = member(json, "cipher");
        if (!"scrypt".equals(kdf.get("name")) || !"nacl/secretbox".equals(cipher.get("name"))) {
            throw new CannotDecrypt("is encrypted with another KDF or cipher than cosign's scrypt and nacl/secretbox");
        }
        if (!SCRYPT_N.contains(params.get("N")) || !Integer.valueOf(8).equals(params.get("r"))
                || !Integer.valueOf(1).equals(params.get("p"))) {
            throw new CannotDecrypt("has scrypt parameters cosign never writes (N 2^15, 2^16 or 2^17, r 8, p 1 expected)");
        }
        byte[] salt = bytes(kdf, "salt");
        byte[] nonce = bytes(cipher, "nonce");
        byte[] box = bytes(json, "ciphertext");
        byte[] passwordBytes = password.getBytes(StandardCharsets.UTF_8);
        byte[] key;
        try {
            key = SCrypt.generate(passwordBytes, salt, (Integer) params.get("N"), 8, 1, SecretBox.KEY_BYTES);
        } catch (OutOfMemoryError e) {
            throw new CannotDecrypt("needs more memory for scrypt (N " + params.get("N") + ") than the JVM's heap has");
        } finally {
            java.util.Arrays.fill(passwordBytes, (byte) 0);
        }
        byte[] der = SecretBox.open(box, nonce, key);
        java.util.Arrays.fill(key, (byte) 0);
        if (der == null) {
            throw new CannotDecrypt("cannot be decrypted with COSIGN_PASSWORD (a wrong password, or an altered file)");
        }
        return der;
    }

    private static Map<String, Object> object(byte[] body) throws CannotDecrypt {
        try {
            return StrictJson.object(body);
        } catch (StrictJson.NotJson e) {
            throw new CannotDecrypt("is not cosign's encrypted key JSON");
        }
    }

    private static Map<String, Object> member(Map<String, Object> object, String name) throws CannotDecrypt {
        Map<String, Object> member = StrictJson.member(object, name);
        if (member == null) {
            throw new CannotDecrypt("is not cosign's encrypted key JSON (no object \"" + name + "\")");
        }
        return member;
    }

    private static byte[] bytes(Map<String, Object> object, String name) throws CannotDecrypt {
        if (object.get(name) instanceof String text) {
            try {
                return Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException e) {
                // falls through to the refusal
            }
        }
        throw new CannotDecrypt("is not cosign's encrypted key JSON (\"" + name + "\" is not base64)");
    }
}

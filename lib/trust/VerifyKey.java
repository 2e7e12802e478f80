package lib.trust;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

/**
 * A public key that entries are verified with (--verify-key FILE): a PEM "PUBLIC KEY" (SPKI), ECDSA
 * P-256 or Ed25519, as `openssl pkey -pubout` and cosign's cosign.pub write it. An ECDSA signature is
 * ASN.1 DER over SHA-256 of the payload (what cosign and `openssl dgst -sha256 -sign` produce), an
 * Ed25519 one the raw 64 bytes over the payload itself.
 */
public final class VerifyKey {

    private final KeyAlgorithm algorithm;
    private final PublicKey key;
    private final String id;

    private VerifyKey(KeyAlgorithm algorithm, PublicKey key) {
        this.algorithm = algorithm;
        this.key = key;
        // the JDK's own encoding, not the file's, so that the id of a key is the same whichever
        // file it came from (a public key file, or derived from the private key)
        this.id = algorithm.word + " SHA256:" + HexFormat.of().formatHex(sha256(key.getEncoded())).substring(0, 12);
    }

    /** The public key in the file; a UsageError naming the file says what is wrong with it. */
    public static VerifyKey load(Path file) {
        KeyFile keyFile = KeyFile.read(file, "verify key");
        KeyFile.Block block = keyFile.block;
        if (!block.label().equals("PUBLIC KEY")) {
            throw keyFile.refuse(block.label().contains("PRIVATE KEY")
                    ? "holds a private key; --verify-key takes the public key (openssl pkey -pubout, or cosign.pub)"
                    : "holds " + block.named() + ", not a PUBLIC KEY");
        }
        try {
            return of(block.der());
        } catch (KeyAlgorithm.WrongKind e) {
            throw keyFile.refuse(e.getMessage());
        } catch (Der.Malformed | GeneralSecurityException e) {
            throw keyFile.refuse("its PUBLIC KEY is not a valid SubjectPublicKeyInfo");
        }
    }

    /** The key an SPKI DER holds. */
    static VerifyKey of(byte[] spki) throws KeyAlgorithm.WrongKind, Der.Malformed, GeneralSecurityException {
        var algorithmId = Der.parse(spki).children();
        if (algorithmId.isEmpty() || algorithmId.get(0).tag() != Der.SEQUENCE) {
            throw new Der.Malformed("no AlgorithmIdentifier");
        }
        KeyAlgorithm algorithm = KeyAlgorithm.of(algorithmId.get(0));
        return new VerifyKey(algorithm, KeyFactory.getInstance(algorithm.keyFactory).generatePublic(new X509EncodedKeySpec(spki)));
    }

    static VerifyKey of(KeyAlgorithm algorithm, PublicKey key) {
        return new VerifyKey(algorithm, key);
    }

    /** Whether the signature is this key's over the payload; a malformed signature is not. */
    public boolean verifies(byte[] payload, byte[] signature) {
        try {
            Signature verifier = Signature.getInstance(algorithm.signature);
            verifier.initVerify(key);
            verifier.update(payload);
            return verifier.verify(signature);
        } catch (java.security.SignatureException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot verify " + algorithm.word + " signatures", e);
        }
    }

    /**
     * Runs a verification that fails, so that the JDK's code for this kind of key is loaded ahead of
     * the first that counts (SignatureWarmUp: some 20 ms, while the run does other things).
     */
    public void warmUp() {
        // ECDSA's DER SEQUENCE { INTEGER 1, INTEGER 1 }, Ed25519's 64 bytes: well formed, never valid.
        byte[] signature = algorithm == KeyAlgorithm.ED25519 ? new byte[64] : new byte[] {0x30, 6, 2, 1, 1, 2, 1, 1};
        verifies(new byte[] {0}, signature);
    }

    /**
     * A short, stable name for messages: the algorithm and the first 12 hex digits of the sha256 of
     * the key's SubjectPublicKeyInfo DER ("ecdsa-p256 SHA256:3f2a9c0d81e4"); `openssl pkey -pubin
     * -in pub.pem -outform DER | sha256sum` gives the same digits.
     */
    public String id() {
        return id;
    }

    /** The key's SubjectPublicKeyInfo DER, for a store that records it. */
    public byte[] spki() {
        return key.getEncoded();
    }

    /** The algorithm's word in ids: "ecdsa-p256" or "ed25519". */
    public String algorithm() {
        return algorithm.word;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof VerifyKey that && MessageDigest.isEqual(spki(), that.spki());
    }

    @Override
    public int hashCode() {
        return id.hashCode();
    }

    @Override
    public String toString() {
        return id;
    }

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package lib.trust;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import lib.common.Environment;

/**
 * The private key an upload signs its entries with (--sign-key FILE), ECDSA P-256 or Ed25519, from
 * a PEM file as `openssl` or cosign writes it: "PRIVATE KEY" (PKCS#8, `openssl genpkey`), "EC
 * PRIVATE KEY" (SEC1, `openssl ecparam -genkey`), or cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" (and
 * its older label "ENCRYPTED COSIGN PRIVATE KEY", {@link CosignEncryptedKey}) with the password in
 * COSIGN_PASSWORD, as cosign reads it: set and empty is the empty password. Neither the key nor the
 * password is ever in a message or a toString.
 */
public final class SigningKey {

    private final KeyAlgorithm algorithm;
    private final PrivateKey key;
    private final VerifyKey publicKey;

    private SigningKey(KeyAlgorithm algorithm, PrivateKey key, VerifyKey publicKey) {
        this.algorithm = algorithm;
        this.key = key;
        this.publicKey = publicKey;
    }

    /** The key in the file; a UsageError naming the file says what is wrong with it. */
    public static SigningKey load(Path file, Environment environment) {
        KeyFile keyFile = KeyFile.read(file, "signing key");
        KeyFile.Block block = keyFile.block;
        byte[] pkcs8 = switch (block.label()) {
            case "PRIVATE KEY" -> block.der();
            case "EC PRIVATE KEY" -> Sec1.toPkcs8(keyFile);
            case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY" -> decrypted(keyFile, environment);
            case "PUBLIC KEY" -> throw keyFile.refuse("holds a public key; --sign-key takes the private key");
            case "RSA PRIVATE KEY" -> throw keyFile.refuse("holds an RSA key; ECDSA P-256 or Ed25519 is needed");
            case "ENCRYPTED PRIVATE KEY" -> throw keyFile.refuse("holds a password-encrypted PKCS#8 key, which is not read:"
                    + " write it unencrypted (openssl pkey) into a Secret, or use a cosign key and COSIGN_PASSWORD");
            default -> throw keyFile.refuse("holds " + block.named() + ", not a private key");
        };
        try {
            var parts = Der.parse(pkcs8).children();
            if (parts.size() < 3 || parts.get(1).tag() != Der.SEQUENCE) {
                throw new Der.Malformed("not a PrivateKeyInfo");
            }
            KeyAlgorithm algorithm = KeyAlgorithm.of(parts.get(1));
            PrivateKey key = KeyFactory.getInstance(algorithm.keyFactory).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            return new SigningKey(algorithm, key, VerifyKey.of(algorithm, MatchingPublicKey.of(algorithm, key, pkcs8)));
        } catch (KeyAlgorithm.WrongKind e) {
            throw keyFile.refuse(e.getMessage());
        } catch (Der.Malformed | GeneralSecurityException | IllegalArgumentException e) {
            throw keyFile.refuse("its " + block.named() + " is not a valid private key");
        } finally {
            Arrays.fill(pkcs8, (byte) 0);
        }
    }

    /** The signature over the payload: ECDSA P-256 over its SHA-256 in ASN.1 DER, or Ed25519's 64 bytes. */
    public byte[] sign(byte[] payload) {
        try {
            Signature signer = Signature.getInstance(algorithm.signature);
            signer.initSign(key);
            signer.update(payload);
            return signer.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot sign with " + publicKey.id(), e);
        }
    }

    /** The matching public key, whose id names this key in messages and in the signatures it makes. */
    public VerifyKey publicKey() {
        return publicKey;
    }

    @Override
    public String toString() {
        return "signing key " + publicKey.id();
    }

    private static byte[] decrypted(KeyFile keyFile, Environment environment) {
        String password = environment.get("COSIGN_PASSWORD");
        if (password == null) {
            throw keyFile.refuse("is an encrypted cosign key and COSIGN_PASSWORD is not set");
        }
        try {
            return CosignEncryptedKey.decrypt(keyFile.block.der(), password);
        } catch (CosignEncryptedKey.CannotDecrypt e) {
            throw keyFile.refuse(e.getMessage());
        }
    }
}

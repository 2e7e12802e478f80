//DEPS org.bouncycastle:bcprov-jdk18on:1.87

package lib.trust;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import lib.common.Environment;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.math.ec.FixedPointCombMultiplier;

/**
 * The private key an upload signs its entries with (--sign-key FILE), ECDSA P-256 or Ed25519, from
 * a PEM file as `openssl` or cosign writes it: "PRIVATE KEY" (PKCS#8, `openssl genpkey`), "EC
 * PRIVATE KEY" (SEC1, `openssl ecparam -genkey`), or cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" (and
 * its older label "ENCRYPTED COSIGN PRIVATE KEY", {@link CosignEncryptedKey}) with the password in
 * COSIGN_PASSWORD, as cosign reads it: set and empty is the empty password. Neither the key nor the
 * password is ever in a message or a toString.
 */
public final class SigningKey {

    /** The contents of the OIDs 1.2.840.10045.2.1 (an EC public key) and 1.3.101.112 (Ed25519). */
    private static final byte[] EC_PUBLIC_KEY_OID = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
    private static final byte[] ED25519_OID = {0x2b, 0x65, 0x70};

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
            case "EC PRIVATE KEY" -> pkcs8FromSec1(keyFile);
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
            return new SigningKey(algorithm, key, VerifyKey.of(algorithm, derivedPublic(algorithm, key)));
        } catch (KeyAlgorithm.WrongKind e) {
            throw keyFile.refuse(e.getMessage());
        } catch (Der.Malformed | GeneralSecurityException | IllegalArgumentException e) {
            throw keyFile.refuse("its " + block.named() + " is not a valid private key");
        } finally {
            java.util.Arrays.fill(pkcs8, (byte) 0);
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

    /**
     * A SEC1 ECPrivateKey (RFC 5915: version 1, the private key, [0] the curve, [1] the public key)
     * wrapped into the PKCS#8 PrivateKeyInfo the JDK reads, its curve moved into the algorithm's
     * parameters.
     */
    private static byte[] pkcs8FromSec1(KeyFile keyFile) {
        try {
            byte[] sec1 = keyFile.block.der();
            Der.Value curve = null;
            for (Der.Value part : Der.parse(sec1).children()) {
                if (part.tag() == 0xa0) {
                    var inside = part.children();
                    curve = inside.size() == 1 && inside.get(0).tag() == Der.OID ? inside.get(0) : null;
                }
            }
            if (curve == null) {
                throw keyFile.refuse("its EC PRIVATE KEY names no curve; ECDSA P-256 is needed");
            }
            byte[] algorithm = Der.write(Der.SEQUENCE, Der.write(Der.OID, EC_PUBLIC_KEY_OID), curve.encoded());
            return Der.write(Der.SEQUENCE, new byte[] {Der.INTEGER, 1, 0}, algorithm, Der.write(Der.OCTET_STRING, sec1));
        } catch (Der.Malformed e) {
            throw keyFile.refuse("its EC PRIVATE KEY is not valid SEC1 DER");
        }
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

    /**
     * The public key of a private key, computed (the JDK has no call for it, and a PKCS#8 Ed25519
     * key holds only its seed): the base point times the scalar on P-256, RFC 8032's derivation
     * for Ed25519, both BouncyCastle's.
     */
    private static java.security.PublicKey derivedPublic(KeyAlgorithm algorithm, PrivateKey key) throws GeneralSecurityException {
        if (algorithm == KeyAlgorithm.ECDSA_P256) {
            var ec = (ECPrivateKey) key;
            var p256 = CustomNamedCurves.getByName("secp256r1");
            var point = new FixedPointCombMultiplier().multiply(p256.getG(), ec.getS()).normalize();
            var spec = new ECPublicKeySpec(new ECPoint(point.getAffineXCoord().toBigInteger(),
                    point.getAffineYCoord().toBigInteger()), ec.getParams());
            return KeyFactory.getInstance("EC").generatePublic(spec);
        }
        byte[] seed = ((EdECPrivateKey) key).getBytes().orElseThrow(() -> new GeneralSecurityException("no seed"));
        byte[] raw = new Ed25519PrivateKeyParameters(seed, 0).generatePublicKey().getEncoded();
        java.util.Arrays.fill(seed, (byte) 0);
        byte[] spki = Der.write(Der.SEQUENCE, Der.write(Der.SEQUENCE, Der.write(Der.OID, ED25519_OID)),
                Der.write(Der.BIT_STRING, new byte[] {0}, raw));
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }
}

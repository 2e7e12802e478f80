package lib.trust;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.NamedParameterSpec;
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

    /** The contents of the OID 1.2.840.10045.2.1, an EC public key. */
    private static final byte[] EC_PUBLIC_KEY_OID = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

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
            return new SigningKey(algorithm, key, VerifyKey.of(algorithm, publicOf(algorithm, key, pkcs8)));
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
     * The public key of the private key, found without BouncyCastle where it can be: the public key
     * a P-256 key's file holds (`openssl`, Go and cosign all write it), or Ed25519's computed by the
     * JDK's own key pair generator from the key's seed. Either is taken only once it verifies a
     * signature of the private key; otherwise, or when the file holds none, {@link DerivedPublicKey}.
     */
    private static PublicKey publicOf(KeyAlgorithm algorithm, PrivateKey key, byte[] pkcs8) throws GeneralSecurityException {
        PublicKey found;
        try {
            found = algorithm == KeyAlgorithm.ECDSA_P256 ? heldPublic((ECPrivateKey) key, pkcs8) : jdkEd25519Public(key);
        } catch (GeneralSecurityException | Der.Malformed | RuntimeException e) {
            found = null;
        }
        return found != null && pair(algorithm, key, found) ? found : DerivedPublicKey.of(algorithm, key);
    }

    /** The public key in PKCS#8's ECPrivateKey ([1], an uncompressed point), or null. */
    private static PublicKey heldPublic(ECPrivateKey key, byte[] pkcs8) throws GeneralSecurityException, Der.Malformed {
        Der.Value sec1 = Der.parse(Der.parse(pkcs8).children().get(2).contents());
        for (Der.Value part : sec1.children()) {
            if (part.tag() == 0xa1 && part.children().size() == 1) {
                byte[] bits = part.children().get(0).contents();
                if (bits.length != 66 || bits[0] != 0 || bits[1] != 4) {
                    return null;
                }
                var x = new BigInteger(1, Arrays.copyOfRange(bits, 2, 34));
                var y = new BigInteger(1, Arrays.copyOfRange(bits, 34, 66));
                return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), key.getParams()));
            }
        }
        return null;
    }

    /**
     * Ed25519's public key by the JDK: its key pair generator draws the 32-byte seed from the
     * SecureRandom it is given and computes the public key from it, so given one that yields this
     * key's seed, it makes this key's pair.
     */
    private static PublicKey jdkEd25519Public(PrivateKey key) throws GeneralSecurityException {
        byte[] seed = ((EdECPrivateKey) key).getBytes().orElseThrow(() -> new GeneralSecurityException("no seed"));
        var generator = KeyPairGenerator.getInstance("Ed25519");
        generator.initialize(NamedParameterSpec.ED25519, new SecureRandom() {
            @Override
            public void nextBytes(byte[] bytes) {
                if (bytes.length != seed.length) {
                    throw new IllegalStateException("the generator asked for " + bytes.length + " bytes");
                }
                System.arraycopy(seed, 0, bytes, 0, seed.length);
            }
        });
        try {
            return generator.generateKeyPair().getPublic();
        } finally {
            Arrays.fill(seed, (byte) 0);
        }
    }

    /** Whether the public key verifies the private key's signature: the two are a pair. */
    private static boolean pair(KeyAlgorithm algorithm, PrivateKey key, PublicKey publicKey) throws GeneralSecurityException {
        byte[] probe = "tekton-caches: is this the key's pair?".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance(algorithm.signature);
        signer.initSign(key);
        signer.update(probe);
        Signature verifier = Signature.getInstance(algorithm.signature);
        verifier.initVerify(publicKey);
        verifier.update(probe);
        return verifier.verify(signer.sign());
    }
}

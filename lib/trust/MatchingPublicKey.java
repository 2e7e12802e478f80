package lib.trust;

import java.math.BigInteger;
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
import java.util.Arrays;

/** The public key that matches a signing key, which the JDK cannot be asked for directly. */
final class MatchingPublicKey {

    private MatchingPublicKey() {}

    /**
     * The public key of the private key, found without BouncyCastle where it can be: the public key
     * a P-256 key's file holds (`openssl`, Go and cosign all write it), or Ed25519's computed by the
     * JDK's own key pair generator from the key's seed. Either is taken only once it verifies a
     * signature of the private key; otherwise, or when the file holds none, {@link DerivedPublicKey}.
     */
    static PublicKey of(KeyAlgorithm algorithm, PrivateKey key, byte[] pkcs8) throws GeneralSecurityException {
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

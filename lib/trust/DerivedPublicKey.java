//DEPS org.bouncycastle:bcprov-jdk18on:1.87

package lib.trust;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.X509EncodedKeySpec;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.math.ec.FixedPointCombMultiplier;

/**
 * A private key's public key computed with BouncyCastle, for the keys whose file does not hold it
 * and the JDK cannot work it out ({@link MatchingPublicKey} tries those first): the base point times
 * the scalar on P-256, RFC 8032's derivation for Ed25519. In a class of its own, so that a run that
 * never needs it never opens BouncyCastle's signed jar (verifying its signature costs 0.2 to 0.3 s).
 */
final class DerivedPublicKey {

    /** The contents of the OID 1.3.101.112, Ed25519. */
    static final byte[] ED25519_OID = {0x2b, 0x65, 0x70};

    private DerivedPublicKey() {}

    static PublicKey of(KeyAlgorithm algorithm, PrivateKey key) throws GeneralSecurityException {
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
        return ed25519(raw);
    }

    /** The Ed25519 public key of those 32 bytes, as SubjectPublicKeyInfo for the JDK. */
    static PublicKey ed25519(byte[] raw) throws GeneralSecurityException {
        byte[] spki = Der.write(Der.SEQUENCE, Der.write(Der.SEQUENCE, Der.write(Der.OID, ED25519_OID)),
                Der.write(Der.BIT_STRING, new byte[] {0}, raw));
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }
}

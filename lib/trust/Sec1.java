package lib.trust;

/**
 * A SEC1 EC private key, PEM "EC PRIVATE KEY" as `openssl ecparam -genkey` writes it, rewrapped into
 * the PKCS#8 the JDK reads; nothing else reads SEC1 here.
 */
final class Sec1 {

    /** The contents of the OID 1.2.840.10045.2.1, an EC public key. */
    private static final byte[] EC_PUBLIC_KEY_OID = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

    private Sec1() {}

    /**
     * A SEC1 ECPrivateKey (RFC 5915: version 1, the private key, [0] the curve, [1] the public key)
     * wrapped into the PKCS#8 PrivateKeyInfo the JDK reads, its curve moved into the algorithm's
     * parameters.
     */
    static byte[] toPkcs8(KeyFile keyFile) {
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
}

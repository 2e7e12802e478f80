package lib.trust;

/**
 * The two kinds of key a cache is signed with: ECDSA on P-256 (what `openssl`, cosign and skopeo's
 * sigstoreSigned policy all handle) and Ed25519. Each names its JCA algorithms and the word that
 * starts a key's id. A key of any other kind is refused by name ("an RSA key"), so that the user
 * learns what the file holds rather than that it failed to parse.
 */
enum KeyAlgorithm {
    ECDSA_P256("ecdsa-p256", "EC", "SHA256withECDSA"),
    ED25519("ed25519", "Ed25519", "Ed25519");

    static final String EC_PUBLIC_KEY = "1.2.840.10045.2.1";
    static final String P256 = "1.2.840.10045.3.1.7";
    static final String ED25519_OID = "1.3.101.112";

    /** How ids and messages name it. */
    final String word;
    final String keyFactory;
    final String signature;

    KeyAlgorithm(String word, String keyFactory, String signature) {
        this.word = word;
        this.signature = signature;
        this.keyFactory = keyFactory;
    }

    /** The algorithm an AlgorithmIdentifier (a SEQUENCE of an OID and its parameters) names. */
    static KeyAlgorithm of(Der.Value algorithmIdentifier) throws WrongKind, Der.Malformed {
        var parts = algorithmIdentifier.children();
        if (parts.isEmpty()) {
            throw new Der.Malformed("an empty AlgorithmIdentifier");
        }
        String curve = parts.size() > 1 && parts.get(1).tag() == Der.OID ? parts.get(1).oid() : null;
        return of(parts.get(0).oid(), curve);
    }

    /**
     * The algorithm an AlgorithmIdentifier names (its OID, and for EC the curve's OID, or null), or
     * a refusal that says which kind of key it is instead.
     */
    static KeyAlgorithm of(String oid, String curve) throws WrongKind {
        if (EC_PUBLIC_KEY.equals(oid)) {
            if (P256.equals(curve)) {
                return ECDSA_P256;
            }
            throw new WrongKind("an ECDSA key on " + curveName(curve));
        }
        if (ED25519_OID.equals(oid)) {
            return ED25519;
        }
        throw new WrongKind(switch (oid) {
            case "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10" -> "an RSA key";
            case "1.3.101.113" -> "an Ed448 key";
            case "1.3.101.110", "1.3.101.111" -> "an X25519 or X448 key, which cannot sign";
            case "1.2.840.10040.4.1" -> "a DSA key";
            default -> "a key of algorithm " + oid;
        });
    }

    private static String curveName(String curve) {
        if (curve == null) {
            return "explicit curve parameters";
        }
        return switch (curve) {
            case "1.3.132.0.34" -> "P-384";
            case "1.3.132.0.35" -> "P-521";
            case "1.3.132.0.10" -> "secp256k1";
            default -> "curve " + curve;
        };
    }

    /** A key of a kind we do not sign with; the message says which kind. */
    static final class WrongKind extends Exception {
        WrongKind(String what) {
            super("holds " + what + "; ECDSA P-256 or Ed25519 is needed");
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;
import lib.trust.VerifyKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our signing and verify keys against openssl's: its keys load, its signatures verify ours and ours its. */
class TrustKeysTest {

    private static final byte[] PAYLOAD = "tekton-caches signed entry v1\nentry k\n".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    private Path key(String form) throws Exception {
        return switch (form) {
            case "pkcs8-p256" -> TrustFixtures.ecdsaKey(tmp, "key.pem");
            case "sec1-p256" -> TrustFixtures.sec1Key(tmp, "key.pem");
            case "ed25519" -> TrustFixtures.ed25519Key(tmp, "key.pem");
            // `openssl ec -no_public`: the file holds no public key, which is then computed
            case "sec1-p256-no-public" -> {
                TrustFixtures.sec1Key(tmp, "full.pem");
                TrustFixtures.openssl(tmp, "ec", "-in", "full.pem", "-no_public", "-out", "key.pem");
                yield tmp.resolve("key.pem");
            }
            case "pkcs8-p256-no-public" -> {
                TrustFixtures.sec1Key(tmp, "full.pem");
                TrustFixtures.openssl(tmp, "ec", "-in", "full.pem", "-no_public", "-out", "sec1.pem");
                TrustFixtures.openssl(tmp, "pkcs8", "-topk8", "-nocrypt", "-in", "sec1.pem", "-out", "key.pem");
                yield tmp.resolve("key.pem");
            }
            default -> throw new IllegalArgumentException(form);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"pkcs8-p256", "sec1-p256", "sec1-p256-no-public", "pkcs8-p256-no-public"})
    void ourEcdsaSignatureVerifiesWithOpensslDgst(String form) throws Exception {
        Path key = key(form);
        Files.write(tmp.resolve("payload.bin"), PAYLOAD);
        Files.write(tmp.resolve("sig.der"), SigningKey.load(key, TrustFixtures.password(null)).sign(PAYLOAD));

        String out = TrustFixtures.openssl(tmp, "dgst", "-sha256", "-verify", TrustFixtures.publicKey(key).toString(),
                "-signature", "sig.der", "payload.bin");

        assertEquals("Verified OK", out.strip());
    }

    @Test
    void ourEd25519SignatureVerifiesWithOpensslPkeyutl() throws Exception {
        Path key = key("ed25519");
        Files.write(tmp.resolve("payload.bin"), PAYLOAD);
        byte[] signature = SigningKey.load(key, TrustFixtures.password(null)).sign(PAYLOAD);
        Files.write(tmp.resolve("sig.bin"), signature);

        String out = TrustFixtures.openssl(tmp, "pkeyutl", "-verify", "-pubin", "-inkey",
                TrustFixtures.publicKey(key).toString(), "-rawin", "-in", "payload.bin", "-sigfile", "sig.bin");

        assertEquals(64, signature.length, "Ed25519's raw signature");
        assertEquals("Signature Verified Successfully", out.strip());
    }

    @ParameterizedTest
    @ValueSource(strings = {"pkcs8-p256", "sec1-p256"})
    void opensslEcdsaSignatureVerifiesWithOurVerifyKey(String form) throws Exception {
        Path key = key(form);
        Files.write(tmp.resolve("payload.bin"), PAYLOAD);
        TrustFixtures.openssl(tmp, "dgst", "-sha256", "-sign", key.toString(), "-out", "sig.der", "payload.bin");
        byte[] signature = Files.readAllBytes(tmp.resolve("sig.der"));
        VerifyKey verifyKey = VerifyKey.load(TrustFixtures.publicKey(key));

        assertTrue(verifyKey.verifies(PAYLOAD, signature));
        assertFalse(verifyKey.verifies("another payload".getBytes(StandardCharsets.UTF_8), signature));
    }

    @Test
    void opensslEd25519SignatureVerifiesWithOurVerifyKey() throws Exception {
        Path key = key("ed25519");
        Files.write(tmp.resolve("payload.bin"), PAYLOAD);
        TrustFixtures.openssl(tmp, "pkeyutl", "-sign", "-inkey", key.toString(), "-rawin", "-in", "payload.bin",
                "-out", "sig.bin");
        byte[] signature = Files.readAllBytes(tmp.resolve("sig.bin"));
        VerifyKey verifyKey = VerifyKey.load(TrustFixtures.publicKey(key));

        assertTrue(verifyKey.verifies(PAYLOAD, signature));
        assertFalse(verifyKey.verifies("another payload".getBytes(StandardCharsets.UTF_8), signature));
    }

    @ParameterizedTest
    @ValueSource(strings = {"pkcs8-p256", "sec1-p256", "ed25519", "sec1-p256-no-public", "pkcs8-p256-no-public"})
    void aSigningKeysPublicKeyIsItsPublicKeyFileWithTheIdOpensslComputes(String form) throws Exception {
        Path key = key(form);
        Path pub = TrustFixtures.publicKey(key);
        TrustFixtures.openssl(tmp, "pkey", "-pubin", "-in", pub.toString(), "-outform", "DER", "-out", "spki.der");
        String digits = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(tmp.resolve("spki.der")))).substring(0, 12);

        VerifyKey fromFile = VerifyKey.load(pub);
        SigningKey signingKey = SigningKey.load(key, TrustFixtures.password(null));

        assertEquals(fromFile, signingKey.publicKey());
        assertEquals((form.equals("ed25519") ? "ed25519" : "ecdsa-p256") + " SHA256:" + digits, fromFile.id());
        assertEquals(fromFile.id(), signingKey.publicKey().id());
        assertEquals("signing key " + fromFile.id(), signingKey.toString(), "a key's toString is its id, nothing more");
    }

    @Test
    void aPublicKeyInTheFileThatIsNotTheKeysPairIsNotBelieved() throws Exception {
        Path key = key("sec1-p256");
        Path other = TrustFixtures.sec1Key(tmp, "other.pem");
        byte[] mine = pemBody(key);
        byte[] theirs = pemBody(other);
        // SEC1 P-256 with its curve: the uncompressed point's 64 bytes end the DER
        System.arraycopy(theirs, theirs.length - 64, mine, mine.length - 64, 64);
        Path mixed = Files.writeString(tmp.resolve("mixed.pem"), "-----BEGIN EC PRIVATE KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(mine) + "\n-----END EC PRIVATE KEY-----\n");

        SigningKey loaded = SigningKey.load(mixed, TrustFixtures.password(null));

        assertEquals(VerifyKey.load(TrustFixtures.publicKey(key)), loaded.publicKey());
        assertTrue(loaded.publicKey().verifies(PAYLOAD, loaded.sign(PAYLOAD)));
    }

    private static byte[] pemBody(Path pem) throws Exception {
        String text = Files.readString(pem);
        String body = text.substring(text.indexOf("-----BEGIN EC PRIVATE KEY-----"));
        return java.util.Base64.getMimeDecoder().decode(body.replaceAll("-----[A-Z ]+-----", ""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"pkcs8-p256", "ed25519"})
    void aSignatureByAnotherKeyOrMalformedDoesNotVerify(String form) throws Exception {
        VerifyKey verifyKey = VerifyKey.load(TrustFixtures.publicKey(key(form)));
        Path other = form.equals("ed25519") ? TrustFixtures.ed25519Key(tmp, "other.pem") : TrustFixtures.ecdsaKey(tmp, "other.pem");
        byte[] byOther = SigningKey.load(other, TrustFixtures.password(null)).sign(PAYLOAD);

        assertFalse(verifyKey.verifies(PAYLOAD, byOther));
        assertFalse(verifyKey.verifies(PAYLOAD, new byte[0]));
        assertFalse(verifyKey.verifies(PAYLOAD, "not a signature at all, just text".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void trustedKeysNameTheKeyThatSignedAmongRotatedOnes() throws Exception {
        SigningKey old = SigningKey.load(TrustFixtures.ecdsaKey(tmp, "old.pem"), TrustFixtures.password(null));
        SigningKey current = SigningKey.load(TrustFixtures.ed25519Key(tmp, "new.pem"), TrustFixtures.password(null));
        SigningKey stranger = SigningKey.load(TrustFixtures.ecdsaKey(tmp, "stranger.pem"), TrustFixtures.password(null));
        TrustedKeys trusted = TrustedKeys.load(List.of(TrustFixtures.publicKey(tmp.resolve("old.pem")),
                TrustFixtures.publicKey(tmp.resolve("new.pem"))));

        assertEquals(Optional.of(old.publicKey()), trusted.verifiedBy(PAYLOAD, old.sign(PAYLOAD)));
        assertEquals(Optional.of(current.publicKey()), trusted.verifiedBy(PAYLOAD, current.sign(PAYLOAD)));
        assertEquals(Optional.empty(), trusted.verifiedBy(PAYLOAD, stranger.sign(PAYLOAD)));
        assertEquals(Optional.empty(), TrustedKeys.of(List.of()).verifiedBy(PAYLOAD, old.sign(PAYLOAD)));
    }
}

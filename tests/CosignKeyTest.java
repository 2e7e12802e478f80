import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import lib.common.ExitStatus;
import lib.common.UsageError;
import lib.trust.SigningKey;
import lib.trust.VerifyKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Cosign's encrypted private keys, made without our code (node's scrypt, tweetnacl's secretbox:
 * tests/trust/cosign-encrypt.js), and one made by Go's go-securesystemslib itself.
 */
class CosignKeyTest {

    private static final byte[] PAYLOAD = "signed by a cosign key".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {1}, N {2}")
    @CsvSource({
        "ecdsa-p256, ENCRYPTED SIGSTORE PRIVATE KEY, 65536",
        "ecdsa-p256, ENCRYPTED COSIGN PRIVATE KEY, 32768",
        "ed25519, ENCRYPTED SIGSTORE PRIVATE KEY, 32768",
    })
    void decryptsWithTheRightPasswordAndSignsAsThePlainKey(String kind, String label, int n) throws Exception {
        Path plain = kind.equals("ed25519") ? TrustFixtures.ed25519Key(tmp, "key.pem") : TrustFixtures.ecdsaKey(tmp, "key.pem");
        Path encrypted = TrustFixtures.cosignKey(plain, label, n, "correct horse");

        SigningKey key = SigningKey.load(encrypted, TrustFixtures.password("correct horse"));

        VerifyKey pub = VerifyKey.load(TrustFixtures.publicKey(plain));
        assertEquals(pub, key.publicKey());
        assertTrue(pub.verifies(PAYLOAD, key.sign(PAYLOAD)));
    }

    @Test
    void anEmptyCosignPasswordIsThePassword() throws Exception {
        Path encrypted = TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(tmp, "key.pem"),
                "ENCRYPTED SIGSTORE PRIVATE KEY", 32768, "");

        assertEquals(VerifyKey.load(TrustFixtures.publicKey(tmp.resolve("key.pem"))),
                SigningKey.load(encrypted, TrustFixtures.password("")).publicKey());
    }

    @Test
    void aWrongPasswordOrNoneIsAUsageErrorNamingTheFileNotThePassword() throws Exception {
        Path encrypted = TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(tmp, "key.pem"),
                "ENCRYPTED SIGSTORE PRIVATE KEY", 32768, "correct horse");

        var wrong = assertThrows(UsageError.class, () -> SigningKey.load(encrypted, TrustFixtures.password("battery staple")));
        var none = assertThrows(UsageError.class, () -> SigningKey.load(encrypted, TrustFixtures.password(null)));

        assertEquals("signing key " + encrypted + ": cannot be decrypted with COSIGN_PASSWORD (a wrong password, or an altered file)",
                wrong.getMessage());
        assertEquals("signing key " + encrypted + ": is an encrypted cosign key and COSIGN_PASSWORD is not set", none.getMessage());
        assertEquals(ExitStatus.USAGE, wrong.exitStatus());
    }

    @Test
    void scryptParametersCosignNeverWritesAreRefusedBeforeAnyWork() throws Exception {
        Path encrypted = TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(tmp, "key.pem"),
                "ENCRYPTED SIGSTORE PRIVATE KEY", 1024, "correct horse");

        var refused = assertThrows(UsageError.class, () -> SigningKey.load(encrypted, TrustFixtures.password("correct horse")));

        assertTrue(refused.getMessage().contains("scrypt parameters cosign never writes"), refused.getMessage());
    }

    /**
     * Under the scripts' heap (their //JAVA_OPTIONS): cosign's default scrypt (N 2^16, 64 MiB) fits;
     * OWASP's (N 2^17, 128 MiB), which cosign writes only when asked, does not, and says so in one line.
     */
    @Test
    void theScriptsHeapTakesCosignsDefaultKeyAndRefusesALargerOneInWords() throws Exception {
        Path standard = TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(tmp, "standard.pem"),
                "ENCRYPTED SIGSTORE PRIVATE KEY", 65536, "correct horse");
        Path owasp = TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(tmp, "owasp.pem"),
                "ENCRYPTED SIGSTORE PRIVATE KEY", 131072, "correct horse");
        var env = new java.util.HashMap<>(System.getenv());
        env.put("COSIGN_PASSWORD", "correct horse");
        var heap = java.util.List.of("-XX:+UseSerialGC", "-Xmx128m", "-Xmn32m");

        var fits = Fixtures.run(Fixtures.scriptCommand(heap, "TrustKeyErrorsTest$LoadSigningKey", standard.toString()), tmp, env);
        var tooLarge = Fixtures.run(Fixtures.scriptCommand(heap, "TrustKeyErrorsTest$LoadSigningKey", owasp.toString()), tmp, env);

        assertEquals(0, fits.status(), fits.toString());
        assertEquals(ExitStatus.USAGE, tooLarge.status(), tooLarge.toString());
        assertEquals("signing key " + owasp + ": needs more memory for scrypt (N 131072) than the JVM's heap has",
                tooLarge.err().strip());
    }

    /**
     * go-securesystemslib's own vector (encrypted/encrypted_test.go, TestDecrypt): "reallyimportant"
     * encrypted by Go with the password "supersecret". Its plaintext is no key, so the right password
     * gets past the decryption to the key's check, and a wrong one stops at the decryption.
     */
    @Test
    void goSecureSystemsLibsVectorDecryptsWithItsPasswordOnly() throws Exception {
        String json = "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1},"
                + "\"salt\":\"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g=\"},"
                + "\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik\"},"
                + "\"ciphertext\":\"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ==\"}";
        Path file = tmp.resolve("go.key");
        Files.writeString(file, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(json.getBytes(StandardCharsets.US_ASCII))
                + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");

        var right = assertThrows(UsageError.class, () -> SigningKey.load(file, TrustFixtures.password("supersecret")));
        var wrong = assertThrows(UsageError.class, () -> SigningKey.load(file, TrustFixtures.password("supersecreT")));

        assertEquals("signing key " + file + ": its ENCRYPTED SIGSTORE PRIVATE KEY is not a valid private key", right.getMessage());
        assertTrue(wrong.getMessage().contains("cannot be decrypted with COSIGN_PASSWORD"), wrong.getMessage());
    }
}

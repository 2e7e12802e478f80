import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.UsageError;
import lib.trust.SigningKey;
import lib.trust.VerifyKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every key file that cannot be used is a usage error (exit 2) of one line that names the file and
 * says what is wrong, and never holds the key's bytes or the password.
 */
class TrustKeyErrorsTest {

    private static final String PASSWORD = "correct horse";
    private static final String WRONG_PASSWORD = "battery staple";

    @TempDir
    Path tmp;

    /** Makes the key file of a case in a folder; returns its path. */
    interface Maker {
        Path make(Path dir) throws Exception;
    }

    /** One row: which option reads the file, the password in the environment, the words expected. */
    record Case(String role, Maker maker, String password, String words) {}

    static Stream<Arguments> cases() {
        return Stream.of(
                row("a missing file", "signing key", dir -> dir.resolve("absent.pem"), null, ": no such file"),
                row("a missing public key", "verify key", dir -> dir.resolve("absent.pub"), null, ": no such file"),
                row("a directory", "signing key", dir -> Files.createDirectory(dir.resolve("keys")), null, "is a directory"),
                row("an empty file", "signing key", dir -> Files.write(dir.resolve("empty.pem"), new byte[0]), null,
                        "is not a PEM file"),
                row("a key in DER, not PEM", "signing key", dir -> {
                    TrustFixtures.ecdsaKey(dir, "k.pem");
                    TrustFixtures.openssl(dir, "pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der");
                    return dir.resolve("k.der");
                }, null, "is not a PEM file"),
                row("a file larger than any key", "signing key", dir -> Files.write(dir.resolve("big.pem"), new byte[70_000]),
                        null, "larger than any key file"),
                row("a PEM block without its END line", "signing key", dir -> {
                    Path key = TrustFixtures.ecdsaKey(dir, "k.pem");
                    String text = Files.readString(key);
                    return Files.writeString(key, text.substring(0, text.indexOf("-----END")));
                }, null, "has no END line"),
                row("two keys in one file", "signing key", dir -> {
                    Path key = TrustFixtures.ecdsaKey(dir, "k.pem");
                    return Files.writeString(key, Files.readString(key) + Files.readString(TrustFixtures.ecdsaKey(dir, "k2.pem")));
                }, null, "holds 2 PEM blocks"),
                row("a cosign key without COSIGN_PASSWORD", "signing key", dir -> TrustFixtures.cosignKey(
                        TrustFixtures.ecdsaKey(dir, "k.pem"), "ENCRYPTED SIGSTORE PRIVATE KEY", 32768, PASSWORD), null,
                        "is an encrypted cosign key and COSIGN_PASSWORD is not set"),
                row("a cosign key with a wrong password", "signing key", dir -> TrustFixtures.cosignKey(
                        TrustFixtures.ecdsaKey(dir, "k.pem"), "ENCRYPTED COSIGN PRIVATE KEY", 32768, PASSWORD), WRONG_PASSWORD,
                        "cannot be decrypted with COSIGN_PASSWORD"),
                row("an RSA key (PKCS#8)", "signing key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem");
                    return dir.resolve("rsa.pem");
                }, null, "holds an RSA key; ECDSA P-256 or Ed25519 is needed"),
                row("an RSA key (PKCS#1)", "signing key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa8.pem");
                    TrustFixtures.openssl(dir, "pkey", "-in", "rsa8.pem", "-traditional", "-out", "rsa.pem");
                    return dir.resolve("rsa.pem");
                }, null, "holds an RSA key"),
                row("a P-384 key (PKCS#8)", "signing key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.pem");
                    return dir.resolve("p384.pem");
                }, null, "holds an ECDSA key on P-384; ECDSA P-256 or Ed25519 is needed"),
                row("a P-384 key (SEC1)", "signing key", dir -> {
                    TrustFixtures.openssl(dir, "ecparam", "-name", "secp384r1", "-genkey", "-out", "p384.pem");
                    return dir.resolve("p384.pem");
                }, null, "holds an ECDSA key on P-384"),
                row("an Ed448 key", "signing key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "ed448", "-out", "ed448.pem");
                    return dir.resolve("ed448.pem");
                }, null, "holds an Ed448 key"),
                row("a certificate as the signing key", "signing key", TrustKeyErrorsTest::certificate, null,
                        "holds CERTIFICATE, not a private key"),
                row("a public key as the signing key", "signing key",
                        dir -> TrustFixtures.publicKey(TrustFixtures.ecdsaKey(dir, "k.pem")), null,
                        "holds a public key; --sign-key takes the private key"),
                row("a key encrypted the legacy OpenSSL way", "signing key", dir -> {
                    TrustFixtures.sec1Key(dir, "k.pem");
                    TrustFixtures.openssl(dir, "ec", "-in", "k.pem", "-aes256", "-passout", "pass:" + PASSWORD, "-out", "enc.pem");
                    return dir.resolve("enc.pem");
                }, null, "is encrypted the legacy OpenSSL way"),
                row("an encrypted PKCS#8 key", "signing key", dir -> {
                    TrustFixtures.ecdsaKey(dir, "k.pem");
                    TrustFixtures.openssl(dir, "pkcs8", "-topk8", "-in", "k.pem", "-v2", "aes256", "-passout", "pass:" + PASSWORD,
                            "-out", "enc.pem");
                    return dir.resolve("enc.pem");
                }, PASSWORD, "holds a password-encrypted PKCS#8 key"),
                row("a PRIVATE KEY block holding no key", "signing key", dir -> Files.writeString(dir.resolve("junk.pem"),
                        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n"), null,
                        "its PRIVATE KEY is not a valid private key"),
                row("a PEM label of the file's own words", "signing key", dir -> Files.writeString(dir.resolve("odd.pem"),
                        "-----BEGIN " + PASSWORD + "-----\nMAMCAQA=\n-----END " + PASSWORD + "-----\n"), null,
                        "holds an unknown PEM block, not a private key"),
                row("a private key as a verify key", "verify key", dir -> TrustFixtures.ecdsaKey(dir, "k.pem"), null,
                        "holds a private key; --verify-key takes the public key"),
                row("an RSA public key", "verify key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem");
                    return TrustFixtures.publicKey(dir.resolve("rsa.pem"));
                }, null, "holds an RSA key"),
                row("a P-384 public key", "verify key", dir -> {
                    TrustFixtures.openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.pem");
                    return TrustFixtures.publicKey(dir.resolve("p384.pem"));
                }, null, "holds an ECDSA key on P-384"),
                row("a certificate as a verify key", "verify key", TrustKeyErrorsTest::certificate, null,
                        "holds CERTIFICATE, not a PUBLIC KEY"));
    }

    private static Arguments row(String name, String role, Maker maker, String password, String words) {
        return Arguments.of(name, new Case(role, maker, password, words));
    }

    private static Path certificate(Path dir) throws Exception {
        TrustFixtures.openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "c.key", "-out", "c.crt", "-subj", "/CN=cache", "-days", "1");
        return dir.resolve("c.crt");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void anUnusableKeyFileIsOneLineNamingItWithoutItsBytesOrThePassword(String name, Case c) throws Exception {
        Path file = c.maker().make(tmp);
        Environment environment = TrustFixtures.password(c.password());

        UsageError error = assertThrows(UsageError.class, () -> {
            if (c.role().equals("signing key")) {
                SigningKey.load(file, environment);
            } else {
                VerifyKey.load(file);
            }
        });

        String message = error.getMessage();
        assertEquals(ExitStatus.USAGE, error.exitStatus());
        assertTrue(message.startsWith(c.role() + " " + file + ": "), message);
        assertTrue(message.contains(c.words()), message);
        assertFalse(message.contains("\n") || message.contains("\r"), "one line: " + message);
        assertNoSecretIn(message, file);
    }

    /** Neither password, nor any 12 characters of the file's base64 lines, nor its bytes. */
    private static void assertNoSecretIn(String message, Path file) throws Exception {
        assertFalse(message.contains(PASSWORD) || message.contains(WRONG_PASSWORD), "a password: " + message);
        if (!Files.isRegularFile(file)) {
            return;
        }
        String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        for (String line : text.split("\n")) {
            if (line.startsWith("-----") || line.length() < 12) {
                continue;
            }
            for (int i = 0; i + 12 <= line.length(); i++) {
                assertFalse(message.contains(line.substring(i, i + 12)), "the key file's text: " + message);
            }
        }
    }

    @Test
    void anUnreadableKeyFileIsAUsageErrorForAUserWhoCannotReadIt() throws Exception {
        Path key = TrustFixtures.ecdsaKey(tmp, "k.pem");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("---------"));
        String expected = "signing key " + key + ": cannot be read (permission denied)";
        if ((Integer) Files.getAttribute(tmp, "unix:uid") != 0) {
            assertEquals(expected, assertThrows(UsageError.class,
                    () -> SigningKey.load(key, TrustFixtures.password(null))).getMessage());
            return;
        }
        // root reads any file: run the load as a user would, without the powers that let root ignore modes
        org.junit.jupiter.api.Assumptions.assumeTrue(
                Fixtures.run(List.of("setpriv", "--version"), tmp, new HashMap<>(System.getenv())).status() == 0,
                "setpriv is not installed");
        var command = new ArrayList<>(List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"));
        command.addAll(Fixtures.scriptCommand(List.of(), "TrustKeyErrorsTest$LoadSigningKey", key.toString()));

        var run = Fixtures.run(command, tmp, new HashMap<>(System.getenv()));

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        assertEquals(expected, run.err().strip());
    }

    /** Loads the signing key its argument names, as a process of its own; prints the refusal and exits 2. */
    static final class LoadSigningKey {
        public static void main(String... args) {
            try {
                SigningKey.load(Path.of(args[0]), Environment.system());
            } catch (UsageError e) {
                System.err.println(e.getMessage());
                System.exit(e.exitStatus());
            }
        }
    }
}

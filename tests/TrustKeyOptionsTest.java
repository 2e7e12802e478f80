import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import lib.common.ExitStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * --sign-key and --verify-key through the scripts (issue 31): a key file that cannot be used is a
 * usage error, exit 2, of one line naming the file, said before the store is touched (here a
 * registry on a port where nothing listens, which would be exit 3), and with --verbose too no
 * line of the key's PEM and no password is printed.
 */
class TrustKeyOptionsTest {

    private static final String PASSWORD = "correct horse";
    private static final String WRONG_PASSWORD = "battery staple";

    @TempDir
    Path tmp;

    /** Makes the key file of a case in a folder; returns its path. */
    interface Maker {
        Path make(Path dir) throws Exception;
    }

    /** One row: the script, its key option, the file given it, COSIGN_PASSWORD (or null). */
    record Case(String script, String option, Maker maker, String password) {}

    static Stream<Arguments> cases() {
        Maker missing = dir -> dir.resolve("absent.pem");
        Maker privateKey = dir -> TrustFixtures.ecdsaKey(dir, "k.pem");
        Maker publicKey = dir -> TrustFixtures.publicKey(TrustFixtures.ecdsaKey(dir, "k.pem"));
        Maker cosign = dir -> TrustFixtures.cosignKey(TrustFixtures.ecdsaKey(dir, "k.pem"), "ENCRYPTED SIGSTORE PRIVATE KEY",
                32768, PASSWORD);
        return Stream.of(
                row("a missing signing key", "upload", "--sign-key", missing, null),
                row("a missing verify key to the upload", "upload", "--verify-key", missing, null),
                row("a missing verify key to the fetch", "fetch", "--verify-key", missing, null),
                row("a public key as the signing key", "upload", "--sign-key", publicKey, null),
                row("a private key as a verify key to the fetch", "fetch", "--verify-key", privateKey, null),
                row("a private key as a verify key to the upload", "upload", "--verify-key", privateKey, null),
                row("a cosign key without COSIGN_PASSWORD", "upload", "--sign-key", cosign, null),
                row("a cosign key with a wrong COSIGN_PASSWORD", "upload", "--sign-key", cosign, WRONG_PASSWORD));
    }

    private static Arguments row(String name, String script, String option, Maker maker, String password) {
        return Arguments.of(name, new Case(script, option, maker, password));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void anUnusableKeyFileIsAUsageErrorNamingItBeforeTheStoreIsTouched(String name, Case c) throws Exception {
        Path file = c.maker().make(tmp);
        Path project = project();
        var env = Fixtures.env(tmp.resolve("xdg"));
        if (c.password() != null) {
            env.put("COSIGN_PASSWORD", c.password());
        }
        // Nothing listens there: a script that reached the store would fail with exit 3.
        String store = "oci://127.0.0.1:" + Fixtures.freePort() + "/trust/keys:{{hash}}";
        var args = new ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--verbose", c.option(), file.toString()));
        args.addAll(List.of(c.script().equals("upload") ? "--target" : "--source", store));

        var run = c.script().equals("upload") ? Fixtures.upload(project, env, args.toArray(String[]::new))
                : Fixtures.fetch(project, env, args.toArray(String[]::new));

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        String command = "cache-" + c.script() + ":";
        var lines = run.err().lines().filter(line -> line.startsWith(command)).toList();
        assertEquals(1, lines.size(), run.toString());
        // lib/trust's words for the file ("signing key FILE: ", "verify key FILE: "), not picocli's
        assertTrue(lines.get(0).contains(" key " + file + ": "), run.toString());
        assertNoSecretIn(run, file);
    }

    /**
     * Before any store is reached, on every scheme: each store here on a port where nothing
     * listens, which a script that got as far as the store would report (exit 3); gs:// through
     * STORAGE_EMULATOR_HOST, the one way a script reaches GCS here.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"upload,s3", "upload,azure", "upload,gs", "fetch,s3", "fetch,azure", "fetch,gs"})
    void aMissingKeyFileIsToldBeforeAnyStoreIsReached(String script, String scheme) throws Exception {
        Path file = tmp.resolve("absent.pem");
        Path project = project();
        var env = Fixtures.env(tmp.resolve("xdg"));
        String closed = "127.0.0.1:" + Fixtures.freePort();
        String store = switch (scheme) {
            case "s3" -> {
                env.put("AWS_ACCESS_KEY_ID", "id");
                env.put("AWS_SECRET_ACCESS_KEY", "secret");
                env.put("AWS_EC2_METADATA_DISABLED", "true");
                env.put("BLOB_QUERY_PARAMS", "?endpoint=http://" + closed + "&s3ForcePathStyle=true&region=us-east-1");
                yield "s3://caches/keys/{{hash}}";
            }
            case "azure" -> {
                env.put("AZURE_STORAGE_ACCOUNT", AzuriteServer.ACCOUNT);
                env.put("AZURE_STORAGE_KEY", AzuriteServer.KEY);
                env.put("BLOB_QUERY_PARAMS", "?domain=" + closed + "&protocol=http&localemu=true");
                yield "azblob://caches/keys/{{hash}}";
            }
            default -> {
                env.put("STORAGE_EMULATOR_HOST", "http://" + closed);
                yield "gs://caches/keys/{{hash}}";
            }
        };
        var args = List.of(script.equals("upload") ? "--sign-key" : "--verify-key", file.toString(),
                "--pattern", "pom.xml", "--folder", "m2", script.equals("upload") ? "--target" : "--source", store);

        var run = script.equals("upload") ? Fixtures.upload(project, env, args.toArray(String[]::new))
                : Fixtures.fetch(project, env, args.toArray(String[]::new));

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-" + script, " key " + file + ": ");

        // Without the key option, the same run reaches for the store, and fails there.
        var reached = script.equals("upload") ? Fixtures.upload(project, env, args.subList(2, 8).toArray(String[]::new))
                : Fixtures.fetch(project, env, args.subList(2, 8).toArray(String[]::new));
        assertEquals(ExitStatus.STORE, reached.status(), reached.toString());
    }

    /** An encrypted cosign key with its password signs; the password is not printed, with --verbose neither. */
    @Test
    void aCosignKeyWithItsPasswordSignsAndThePasswordIsNeverPrinted() throws Exception {
        Path key = TrustFixtures.ecdsaKey(tmp, "k.pem");
        Path cosign = TrustFixtures.cosignKey(key, "ENCRYPTED COSIGN PRIVATE KEY", 32768, PASSWORD);
        Path pub = TrustFixtures.publicKey(key);
        Path project = project();
        var env = Fixtures.env(tmp.resolve("xdg"));
        env.put("COSIGN_PASSWORD", PASSWORD);
        String store = "file://" + tmp.resolve("store") + "/{{hash}}";

        var upload = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--verbose", "--sign-key",
                cosign.toString(), "--target", store);
        assertEquals(ExitStatus.OK, upload.status(), upload.toString());
        assertNoSecretIn(upload, cosign);
        assertNoSecretIn(upload, key);

        Files.delete(project.resolve("m2/settings.xml"));
        var fetch = Fixtures.fetch(project, env, "--pattern", "pom.xml", "--folder", "m2", "--verbose", "--verify-key",
                pub.toString(), "--source", store);
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertTrue(Files.exists(project.resolve("m2/settings.xml")), fetch.toString());
    }

    /** On a blob store an entry of one stream has no index to carry a signature: --sign-key with it is refused. */
    @Test
    void signingAnEntryOfOneStreamOnABlobStoreIsAUsageError() throws Exception {
        Path key = TrustFixtures.ecdsaKey(tmp, "k.pem");
        var run = Fixtures.upload(project(), Fixtures.env(tmp.resolve("xdg")), "--pattern", "pom.xml", "--folder", "m2",
                "--sign-key", key.toString(), "--compression", "none", "--target", "file://" + tmp.resolve("store") + "/{{hash}}");

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-upload", "--compression none");
        assertFalse(Files.exists(tmp.resolve("store")), "nothing written");
    }

    private Path project() throws Exception {
        Path project = tmp.resolve("project");
        Fixtures.write(project.resolve("pom.xml"), "<project>" + tmp + "</project>\n");
        Fixtures.write(project.resolve("m2/settings.xml"), "<settings/>\n");
        return project;
    }

    /** Neither password, nor any 12 characters of the key file's base64 lines, in what the run printed. */
    private static void assertNoSecretIn(Fixtures.Run run, Path file) throws Exception {
        String printed = run.out() + run.err();
        assertFalse(printed.contains(PASSWORD) || printed.contains(WRONG_PASSWORD), "a password: " + run);
        if (!Files.isRegularFile(file)) {
            return;
        }
        for (String line : new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1).split("\n")) {
            if (line.startsWith("-----") || line.length() < 12) {
                continue;
            }
            for (int i = 0; i + 12 <= line.length(); i++) {
                assertFalse(printed.contains(line.substring(i, i + 12)), "the key file's text: " + run);
            }
        }
    }
}

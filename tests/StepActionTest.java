import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lib.archive.SafeRestore;
import lib.common.ExitStatus;
import lib.common.Platform;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The StepActions of tekton/ run as Tekton runs them (see StepRunner), by dash and by busybox sh,
 * with `jbang` on the PATH being this checkout's ./jbang: the results a pipeline reads, and when a
 * step fails or goes on.
 */
class StepActionTest {

    /** The shells a step's `#!/bin/sh` may be: Debian's and Ubuntu's dash, and busybox's ash. */
    enum Shell {
        DASH("dash"), BUSYBOX("busybox", "sh");

        final List<String> command;

        Shell(String... command) {
            this.command = List.of(command);
        }
    }

    private static final StepRunner FETCH = load("cache-fetch.yaml"), UPLOAD = load("cache-upload.yaml");

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.BASIC, false);

    @TempDir
    Path tmp;

    private Path workspace, project, cache, store;

    /** A workspace with spaces in its paths, a Go project and a cache folder of every kind of entry. */
    @BeforeEach
    void project() throws Exception {
        workspace = tmp.resolve("work space");
        project = workspace.resolve("my repo");
        cache = workspace.resolve("go cache");
        store = tmp.resolve("store");
        Fixtures.write(project.resolve("go.mod"), "module example.com/hello\n");
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.0.0 h1:abc=\n");
        Fixtures.write(project.resolve("lock files/a b.lock"), "lock\n");
        Fixtures.richTree(cache, 0);
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void uploadThenFetchRestoresTheFolderAndReportsIt(Shell shell) throws Exception {
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore()));
        assertEquals(0, uploaded.status(), uploaded.toString());
        String key = uploaded.results().get("cache-key");
        assertTrue(key.matches("[0-9a-f]{64}"), uploaded.toString());
        assertEquals(String.valueOf(Files.size(store.resolve(key))), uploaded.results().get("size"), uploaded.toString());

        Path restored = workspace.resolve("restored");
        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString()));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Map.of("fetched", "true", "cache-hit", "true", "cache-key", key, "matched-key", key,
                "size", uploaded.results().get("size")), fetched.results());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void missSucceedsWithFetchedFalseAndTheFolderAsItWas(Shell shell) throws Exception {
        var before = Fixtures.snapshot(cache, true);

        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore()));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("false", fetched.results().get("fetched"), fetched.toString());
        assertEquals("", fetched.results().get("matched-key"), fetched.toString());
        assertTrue(fetched.results().get("cache-key").matches("[0-9a-f]{64}"), fetched.toString());
        assertEquals(before, Fixtures.snapshot(cache, true));
    }

    /** The actions/cache way: restore keys on a miss, cache-hit deciding the save, FAIL_ON_MISS failing the step. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void restoreKeysFillAMissAndCacheHitTellsTheUploadToSaveTheNewKey(Shell shell) throws Exception {
        String uri = "file://" + store + "/go-{{os}}-{{hash}}";
        var first = run(UPLOAD, shell, Map.of("TARGET", uri));
        assertEquals(0, first.status(), first.toString());
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.1.0 h1:def=\n");
        Path restored = workspace.resolve("restored");
        Fixtures.write(restored.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(restored, true);

        var failing = run(FETCH, shell, Map.of("SOURCE", uri, "CACHE_PATH", restored.toString(), "FAIL_ON_MISS", "true"));
        assertEquals(ExitStatus.MISS, failing.status(), failing.toString());
        assertEquals("false", failing.results().get("fetched"), failing.toString());
        assertEquals(before, Fixtures.snapshot(restored, true), "a failed fetch leaves the folder as it was");

        var fallback = run(FETCH, shell, Map.of("SOURCE", uri, "CACHE_PATH", restored.toString(),
                "RESTORE_KEYS", List.of("none yet-", "go-{{os}}-")));
        var saved = run(UPLOAD, shell, Map.of("TARGET", uri, "FETCHED", fallback.results().get("cache-hit"),
                "RESTORE_KEYS", List.of("none yet-", "go-{{os}}-")));

        assertEquals(0, fallback.status(), fallback.toString());
        assertEquals("true", fallback.results().get("fetched"), fallback.toString());
        assertEquals("false", fallback.results().get("cache-hit"), fallback.toString());
        assertEquals("go-" + Platform.os() + "-" + first.results().get("cache-key"), fallback.results().get("matched-key"));
        Files.delete(restored.resolve("mine.txt"));
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
        assertEquals(0, saved.status(), saved.toString());
        assertTrue(Files.isRegularFile(store.resolve("go-" + Platform.os() + "-" + saved.results().get("cache-key"))), saved.toString());
        // The cache folder did not change, only go.sum: its one group is taken from the entry RESTORE_KEYS found.
        assertTrue(saved.err().contains(": 1 reused from go-" + Platform.os() + "-" + first.results().get("cache-key")), saved.toString());
    }

    /** COMPRESSION picks the compression and its level; MAX_SIZE turns a folder too big away, the step succeeding. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void compressionAndMaxSizeReachTheUpload(Shell shell) throws Exception {
        var tooBig = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "COMPRESSION", "gzip:9", "MAX_SIZE", "100"));
        assertEquals(0, tooBig.status(), tooBig.toString());
        assertEquals("0", tooBig.results().get("size"), tooBig.toString());
        assertTrue(tooBig.err().contains("not saved: the files of " + cache), tooBig.toString());
        assertTrue(!Files.exists(store) || Fixtures.snapshot(store, false).isEmpty(), "nothing written to the store");

        var saved = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "COMPRESSION", "gzip:9", "MAX_SIZE", "1Mi"));
        assertEquals(0, saved.status(), saved.toString());
        byte[] head = Files.readAllBytes(store.resolve(saved.results().get("cache-key")));
        assertEquals(List.of(0x1f, 0x8b), List.of(head[0] & 0xff, head[1] & 0xff), "gzip's magic (its level: CompressionLevelAndMaxSizeTest)");
    }

    /** KEEP with RESTORE_KEYS: the older entry goes, the one just saved stays. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void keepLeavesTheNewestEntries(Shell shell) throws Exception {
        String uri = "file://" + store + "/go-{{hash}}";
        var first = run(UPLOAD, shell, Map.of("TARGET", uri));
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.1.0 h1:def=\n");

        var second = run(UPLOAD, shell, Map.of("TARGET", uri, "RESTORE_KEYS", List.of("go-"), "KEEP", "1"));

        assertEquals(0, second.status(), second.toString());
        assertTrue(second.err().contains("deleted 1 older entry starting with go- ("), second.toString());
        assertTrue(!Files.exists(store.resolve("go-" + first.results().get("cache-key"))), second.toString());
        assertTrue(Files.exists(store.resolve("go-" + second.results().get("cache-key"))), second.toString());
    }

    /** EXCLUDES, the third array: left out of the save, and left alone by the restore. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void excludesReachTheSaveAndTheRestore(Shell shell) throws Exception {
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "RESTORE_KEYS", List.of("go-"),
                "EXCLUDES", List.of("secret/**", "bin/run.sh")));
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = workspace.resolve("restored");
        Fixtures.write(restored.resolve("nested/a/b/c/deep.txt"), "mine\n");

        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString(),
                "EXCLUDES", List.of("nested/a/b/c/deep.txt")));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("mine\n", Files.readString(restored.resolve("nested/a/b/c/deep.txt")), "left alone by the restore");
        assertTrue(Files.isDirectory(restored.resolve("secret")), fetched.toString());
        assertEquals(List.of(), Fixtures.snapshot(restored.resolve("secret"), false).keySet().stream().toList(), "left out of the save");
        assertTrue(!Files.exists(restored.resolve("bin/run.sh")) && Files.exists(restored.resolve("links/relative")), fetched.toString());
    }

    /**
     * CACHE_PATHS, the fourth array, beside CACHE_PATH: both saved in one entry, restored into their
     * own places when named in another order; an entry found for other folders is refused.
     */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void cachePathsSaveSeveralFoldersInOneEntry(Shell shell) throws Exception {
        Path second = workspace.resolve("go build cache");
        Fixtures.write(second.resolve("ab/cd-d"), "compiled\n");
        var expected = List.of(Fixtures.snapshot(cache, false), Fixtures.snapshot(second, false));
        String uri = "file://" + store + "/go-{{hash}}";
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", uri, "CACHE_PATHS", List.of(second.toString())));
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("from the folders " + cache + ", " + second + " to "), uploaded.toString());
        SafeRestore.deleteTree(cache);
        SafeRestore.deleteTree(second);

        var fetched = run(FETCH, shell, Map.of("SOURCE", uri, "CACHE_PATH", "",
                "CACHE_PATHS", List.of(second.toString(), cache.toString())));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", fetched.results().get("cache-hit"), fetched.toString());
        assertEquals(expected, List.of(Fixtures.snapshot(cache, false), Fixtures.snapshot(second, false)));

        // One folder: another key, and the entry its restore key finds holds two.
        var before = Fixtures.snapshot(cache, true);
        var refused = run(FETCH, shell, Map.of("SOURCE", uri, "RESTORE_KEYS", List.of("go-"), "FAIL_ON_MISS", "true"));
        assertEquals(ExitStatus.USAGE, refused.status(), refused.toString());
        assertEquals("false", refused.results().get("fetched"), refused.toString());
        assertEquals(1, refused.err().lines().filter(line -> line.startsWith("cache-fetch: ") && line.contains(
                "was saved from the folders " + cache + ", " + second + ", not one folder")).count(), refused.toString());
        assertEquals(before, Fixtures.snapshot(cache, true));
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void unreachableStoreOrBadUriSucceedsWithFetchedFalseAndSaysWhyInOneLine(Shell shell) throws Exception {
        int closed = Fixtures.freePort();
        var unreachable = run(FETCH, shell, Map.of("SOURCE", "oci://127.0.0.1:" + closed + "/cache:{{hash}}"));
        var badScheme = run(FETCH, shell, Map.of("SOURCE", "ftp://example.invalid/{{hash}}"));

        for (var fetched : List.of(unreachable, badScheme)) {
            assertEquals(0, fetched.status(), fetched.toString());
            assertEquals("false", fetched.results().get("fetched"), fetched.toString());
            assertEquals(1, fetched.err().lines().count(), fetched.toString());
        }
        assertTrue(unreachable.err().contains("127.0.0.1:" + closed), unreachable.toString());
        assertTrue(badScheme.err().contains("ftp"), badScheme.toString());
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void uploadIsSkippedWhenTheCacheWasFetchedUnlessForced(Shell shell) throws Exception {
        var skipped = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "FETCHED", "true"));

        assertEquals(0, skipped.status(), skipped.toString());
        assertTrue(skipped.err().contains("skipped"), skipped.toString());
        assertEquals(Map.of("cache-key", "", "size", "0"), skipped.results());
        assertTrue(!Files.exists(store), "nothing was written to the store");

        var forced = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "FETCHED", "true", "FORCE_CACHE_UPLOAD", "true"));

        assertEquals(0, forced.status(), forced.toString());
        assertTrue(Files.isRegularFile(store.resolve(forced.results().get("cache-key"))), forced.toString());
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void failedUploadFailsTheStepInOneLine(Shell shell) throws Exception {
        int closed = Fixtures.freePort();

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", "oci://127.0.0.1:" + closed + "/cache:{{hash}}"));

        assertEquals(ExitStatus.STORE, uploaded.status(), uploaded.toString());
        assertEquals(1, uploaded.err().lines().count(), uploaded.toString());
        assertTrue(uploaded.err().contains("127.0.0.1:" + closed), uploaded.toString());
    }

    /** The key is the one the tool makes from exactly these patterns: no word split, no glob expanded by the shell. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void patternsKeepTheirSpacesAndGlobCharacters(Shell shell) throws Exception {
        var patterns = List.of("lock files/*.lock", "**/go.sum");
        // A shell that expanded globs in its working directory would find these instead.
        Fixtures.write(workspace.resolve("lock files/decoy.lock"), "decoy\n");
        Fixtures.write(workspace.resolve("go.sum"), "decoy\n");

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "PATTERNS", patterns));

        Path direct = tmp.resolve("direct");
        var expected = Fixtures.fetch(tmp, Fixtures.env(tmp.resolve("xdg")), "--pattern", patterns.get(0), "--pattern",
                patterns.get(1), "--workingdir", project.toString(), "--folder", cache.toString(), "--results-dir",
                direct.toString());
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("lock files/a b.lock"), uploaded.toString());
        assertEquals(Files.readString(direct.resolve("cache-key")), uploaded.results().get("cache-key"),
                uploaded + "\n" + expected);
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void emptyPatternsRecogniseTheProject(Shell shell) throws Exception {
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "PATTERNS", List.of()));

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("go.sum"), uploaded.toString());
    }

    /** DOCKER_CONFIG as a folder holding config.json, or a docker-registry secret's .dockerconfigjson. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void registryCredentialsComeFromDockerConfigInBothLayouts(Shell shell) throws Exception {
        Path configJson = registry.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, RegistryServer.PASSWORD);
        Path secret = Files.createDirectories(tmp.resolve("secret"));
        Files.move(configJson.resolve("config.json"), secret.resolve(".dockerconfigjson"));
        registry.dockerConfig(configJson, RegistryServer.USER, RegistryServer.PASSWORD);
        // A repository per shell: the key is the same, and a tag once pushed is not replaced.
        String uri = "oci://" + registry.host() + "/cache/go-" + shell.name().toLowerCase(Locale.ROOT) + ":{{hash}}";

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", uri, "DOCKER_CONFIG", configJson.toString()));
        Path restored = workspace.resolve("restored");
        var fetched = run(FETCH, shell, Map.of("SOURCE", uri, "CACHE_PATH", restored.toString(),
                "DOCKER_CONFIG", secret.toString()));

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals("true", fetched.results().get("fetched"), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void dockerConfigFolderWithNeitherFileFailsTheStepInOneLine(Shell shell) throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("docker config"));
        String uri = "oci://" + registry.host() + "/cache/go:{{hash}}";

        var fetched = run(FETCH, shell, Map.of("SOURCE", uri, "DOCKER_CONFIG", empty.toString()));
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", uri, "DOCKER_CONFIG", empty.toString()));

        for (var step : List.of(fetched, uploaded)) {
            assertEquals(ExitStatus.USAGE, step.status(), step.toString());
            assertEquals(List.of("DOCKER_CONFIG " + empty + " holds neither config.json nor .dockerconfigjson"),
                    step.err().lines().map(line -> line.replaceFirst("^cache-(fetch|upload): ", "")).toList(),
                    step.toString());
        }
        assertEquals("false", fetched.results().get("fetched"), fetched.toString());
    }

    /**
     * VERIFY_KEYS, the fifth array: each path reaches the tool as a --verify-key pair, spaces kept,
     * after the folders; the marker is one only in its place, so a restore key spelt like it stays one.
     */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void verifyKeysReachTheToolAsVerifyKeyPairs(Shell shell) throws Exception {
        Path tool = fakeTool();
        var keys = List.of("/workspace/cache keys/cache.pub", "/workspace/cache keys/old.pub");

        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "RESTORE_KEYS", List.of("--verify-keys--"),
                "CACHE_PATHS", List.of("/more"), "VERIFY_KEYS", keys), tool);
        var fetchArgs = Files.readAllLines(tool.resolve("args"));
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "VERIFY_KEYS", keys), tool);
        var uploadArgs = Files.readAllLines(tool.resolve("args"));

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetchArgs.get(0).endsWith("/cache-fetch.java"), fetchArgs.toString());
        assertEquals(List.of("--folder", cache.toString(), "--pattern", "**/go.sum", "--pattern", "lock files/*.lock",
                "--restore-key", "--verify-keys--", "--folder", "/more", "--verify-key", keys.get(0), "--verify-key", keys.get(1),
                "--results-dir"), fetchArgs.subList(1, fetchArgs.size() - 1));
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploadArgs.get(0).endsWith("/cache-upload.java"), uploadArgs.toString());
        assertEquals(List.of("--folder", cache.toString(), "--pattern", "**/go.sum", "--pattern", "lock files/*.lock",
                "--verify-key", keys.get(0), "--verify-key", keys.get(1), "--results-dir"), uploadArgs.subList(1, uploadArgs.size() - 1));
    }

    /**
     * SIGN_KEY reaches the upload as PARAM_SIGN_KEY and the text of SIGN_KEY_PASSWORD_FILE, its
     * trailing newline dropped, as COSIGN_PASSWORD, printed nowhere; left empty, neither is set.
     */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void signKeyAndItsPasswordFileReachTheUpload(Shell shell) throws Exception {
        Path tool = fakeTool();
        Path secret = tmp.resolve("signing key");
        Fixtures.write(secret.resolve("cosign.key"), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
        Fixtures.write(secret.resolve("cosign.password"), "correct horse battery\n");

        var signed = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", secret.resolve("cosign.key").toString(),
                "SIGN_KEY_PASSWORD_FILE", secret.resolve("cosign.password").toString()), tool);
        var signedEnv = List.of(Files.readString(tool.resolve("sign-key")), Files.readString(tool.resolve("cosign-password")));
        var unsigned = run(UPLOAD, shell, Map.of("TARGET", fileStore()), tool);
        var unsignedEnv = List.of(Files.readString(tool.resolve("sign-key")), Files.readString(tool.resolve("cosign-password")));

        assertEquals(0, signed.status(), signed.toString());
        assertEquals(List.of(secret.resolve("cosign.key").toString(), "correct horse battery"), signedEnv);
        assertTrue(!signed.out().contains("horse") && !signed.err().contains("horse"), signed.toString());
        assertEquals(0, unsigned.status(), unsigned.toString());
        assertEquals(List.of("<unset>", "<unset>"), unsignedEnv);
    }

    @ParameterizedTest
    @EnumSource(Shell.class)
    void signKeyPasswordFileThatIsMissingFailsTheUploadInOneLine(Shell shell) throws Exception {
        Path tool = fakeTool();
        Path missing = tmp.resolve("signing key/cosign.password");

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", tmp.resolve("signing key/cosign.key").toString(),
                "SIGN_KEY_PASSWORD_FILE", missing.toString()), tool);

        assertEquals(ExitStatus.USAGE, uploaded.status(), uploaded.toString());
        assertEquals(List.of("cache-upload: SIGN_KEY_PASSWORD_FILE " + missing + " is not a file this step can read"),
                uploaded.err().lines().toList(), uploaded.toString());
        assertTrue(!Files.exists(tool.resolve("args")), "the tool did not run");
    }

    /** SIGN_KEY on the upload, its public key in VERIFY_KEYS on the fetch: restored, through the real tool. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void entrySignedBySignKeyIsRestoredByAFetchVerifyingItsPublicKey(Shell shell) throws Exception {
        Path key = TrustFixtures.ecdsaKey(Files.createDirectories(tmp.resolve("signing key")), "cache.key");
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", key.toString()));
        assertEquals(0, uploaded.status(), uploaded.toString());

        Path restored = workspace.resolve("restored");
        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString(),
                "VERIFY_KEYS", List.of(TrustFixtures.publicKey(key).toString())));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", fetched.results().get("fetched"), fetched.toString());
        assertEquals("true", fetched.results().get("cache-hit"), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }

    /**
     * An entry signed by another key than VERIFY_KEYS names is a miss said in one line: the step
     * goes on with the folder as it was, and fails only with FAIL_ON_MISS "true".
     */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void entrySignedByAnotherKeyIsAMissThatFailsTheStepOnlyWithFailOnMiss(Shell shell) throws Exception {
        Path keys = Files.createDirectories(tmp.resolve("signing key"));
        Path key = TrustFixtures.ecdsaKey(keys, "cache.key");
        Path other = TrustFixtures.publicKey(TrustFixtures.ecdsaKey(keys, "other.key"));
        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", key.toString()));
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = workspace.resolve("restored");
        Fixtures.write(restored.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(restored, true);

        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString(),
                "VERIFY_KEYS", List.of(other.toString())));
        var failing = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString(),
                "VERIFY_KEYS", List.of(other.toString()), "FAIL_ON_MISS", "true"));

        for (var step : List.of(fetched, failing)) {
            assertEquals("false", step.results().get("fetched"), step.toString());
            assertEquals("false", step.results().get("cache-hit"), step.toString());
            assertEquals(1, step.err().lines().count(), step.toString());
            assertTrue(step.err().contains(" is not signed by a trusted key"), step.toString());
        }
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(ExitStatus.MISS, failing.status(), failing.toString());
        assertEquals(before, Fixtures.snapshot(restored, true), "an untrusted entry leaves the folder as it was");
    }

    /**
     * A cosign-encrypted SIGN_KEY with SIGN_KEY_PASSWORD_FILE signs through the real tool, and its
     * public key restores the entry; the password appears in neither step's output.
     */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void cosignEncryptedSignKeyWithItsPasswordFileSignsWhatItsPublicKeyRestores(Shell shell) throws Exception {
        Path secret = Files.createDirectories(tmp.resolve("signing key"));
        Path plain = TrustFixtures.ecdsaKey(secret, "plain.key");
        Path key = TrustFixtures.cosignKey(plain, "ENCRYPTED SIGSTORE PRIVATE KEY", 32768, "correct horse battery");
        Path pub = TrustFixtures.publicKey(plain);
        Files.delete(plain);
        Fixtures.write(secret.resolve("cosign.password"), "correct horse battery\n");

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", key.toString(),
                "SIGN_KEY_PASSWORD_FILE", secret.resolve("cosign.password").toString()));
        Path restored = workspace.resolve("restored");
        var fetched = run(FETCH, shell, Map.of("SOURCE", fileStore(), "CACHE_PATH", restored.toString(),
                "VERIFY_KEYS", List.of(pub.toString())));

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", fetched.results().get("cache-hit"), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
        for (var step : List.of(uploaded, fetched)) {
            assertTrue(!step.out().contains("horse") && !step.err().contains("horse"), step.toString());
        }
    }

    /** SIGN_KEY with COMPRESSION none on file:// is a usage error: the upload step fails in one line, nothing stored. */
    @ParameterizedTest
    @EnumSource(Shell.class)
    void signKeyWithCompressionNoneFailsTheUploadInOneLine(Shell shell) throws Exception {
        Path key = TrustFixtures.ecdsaKey(Files.createDirectories(tmp.resolve("signing key")), "cache.key");

        var uploaded = run(UPLOAD, shell, Map.of("TARGET", fileStore(), "SIGN_KEY", key.toString(), "COMPRESSION", "none"));

        assertEquals(ExitStatus.USAGE, uploaded.status(), uploaded.toString());
        assertEquals(1, uploaded.err().lines().count(), uploaded.toString());
        assertTrue(uploaded.err().contains("--compression none"), uploaded.toString());
        assertTrue(!Files.exists(store) || Fixtures.snapshot(store, false).isEmpty(), "nothing written to the store");
    }

    /**
     * A jbang that stands for the tool and records, in its own folder, the arguments it was given
     * (one a line) and PARAM_SIGN_KEY and COSIGN_PASSWORD ("<unset>" when unset): what the step
     * hands the tool, before the tool's own options exist to take it.
     */
    private Path fakeTool() throws Exception {
        Path folder = Files.createDirectories(tmp.resolve("fake tool"));
        Path jbang = folder.resolve("jbang");
        Fixtures.write(jbang, """
                #!/bin/sh
                here=$(dirname "$0")
                for arg do printf '%s\\n' "$arg"; done >"$here/args"
                printf '%s' "${PARAM_SIGN_KEY-<unset>}" >"$here/sign-key"
                printf '%s' "${COSIGN_PASSWORD-<unset>}" >"$here/cosign-password"
                """);
        Files.setPosixFilePermissions(jbang, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return folder;
    }

    private String fileStore() {
        return "file://" + store + "/{{hash}}";
    }

    /** Runs a step with the project's parameters, overridden or completed by params. */
    private StepRunner.Outcome run(StepRunner step, Shell shell, Map<String, Object> params) throws Exception {
        return run(step, shell, params, Fixtures.REPO);
    }

    /** As run, with the jbang of the folder tool first on the PATH. */
    private StepRunner.Outcome run(StepRunner step, Shell shell, Map<String, Object> params, Path tool) throws Exception {
        var all = new HashMap<String, Object>(Map.of("PATTERNS", List.of("**/go.sum", "lock files/*.lock"),
                "CACHE_PATH", cache.toString(), "WORKING_DIR", project.toString()));
        all.putAll(params);
        return step.run((scriptAndArgs, stepEnv) -> {
            // The container's environment: PATH finds this checkout's jbang, which finds the scripts;
            // JBang and its caches stay the user's.
            var env = new HashMap<>(System.getenv());
            env.remove("JAVA_TOOL_OPTIONS");
            env.remove("COSIGN_PASSWORD");
            env.put("PATH", tool + ":" + System.getenv("PATH"));
            env.put("TEKTON_CACHES_HOME", Fixtures.REPO.toString());
            env.putAll(stepEnv);
            var command = new ArrayList<>(shell.command);
            command.addAll(scriptAndArgs);
            return Fixtures.run(command, workspace, env);
        }, all, Files.createTempDirectory(tmp, "step-"));
    }

    private static StepRunner load(String name) {
        try {
            return StepRunner.load(Fixtures.REPO.resolve("tekton").resolve(name));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}

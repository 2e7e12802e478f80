import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.common.ExitStatus;
import lib.common.Platform;
import lib.store.file.FileStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What actions/cache users expect, on the file store and against a real registry, a real S3 server
 * and azurite: restore keys, key templates, --lookup-only, --fail-on-miss, immutable entries and expiry.
 */
class CacheLifecycleTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);
    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");
    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        env = azurite.env(s3.env(Fixtures.env(tmp.resolve("xdg")), s3.endpoint()));
        env.remove("BLOB_QUERY_PARAMS"); // each URI carries its own server's

    }

    /** The URI of an entry named name in a folder (or repository) of its own for this test and store. */
    private String uri(String store, String space, String name) {
        return switch (store) {
            case "file" -> "file://" + tmp.resolve("store-" + space) + "/" + name;
            case "oci" -> "oci://" + registry.host() + "/" + space + "/" + tmp.getFileName().toString().toLowerCase() + ":" + name;
            case "s3" -> "s3://caches/" + tmp.getFileName() + "/" + space + "/" + name + "?endpoint=" + s3.endpoint()
                    + "&use_path_style=true&region=us-east-1";
            case "azure" -> "azblob://caches/" + tmp.getFileName() + "/" + space + "/" + name + azurite.queryParams();
            default -> throw new IllegalArgumentException(store);
        };
    }

    /** Saves a folder holding one file with this content, under the key of a lock file with that content. */
    private Fixtures.Run save(String uri, String lock, String content, String... more) throws Exception {
        Fixtures.write(project.resolve("go.sum"), lock + "\n");
        Path folder = tmp.resolve("saved-" + lock);
        Fixtures.write(folder.resolve("cache.txt"), content + "\n");
        var args = new ArrayList<>(List.of("--pattern", "go.sum", "--target", uri, "--folder", folder.toString(),
                "--results-dir", tmp.resolve("up").toString()));
        args.addAll(List.of(more));
        return Fixtures.upload(project, env, args.toArray(String[]::new));
    }

    private Fixtures.Run restore(String uri, String lock, Path folder, String... more) throws Exception {
        Fixtures.write(project.resolve("go.sum"), lock + "\n");
        var args = new ArrayList<>(List.of("--pattern", "go.sum", "--source", uri, "--folder", folder.toString(),
                "--results-dir", tmp.resolve("down").toString()));
        args.addAll(List.of(more));
        return Fixtures.fetch(project, env, args.toArray(String[]::new));
    }

    private String result(String direction, String name) throws Exception {
        return Files.readString(tmp.resolve(direction).resolve(name));
    }

    private static String content(Path folder) throws Exception {
        return Files.readString(folder.resolve("cache.txt")).strip();
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void aRestoreKeyRestoresTheNewestEntryOfTheFirstPrefixThatMatchesAnything(String store) throws Exception {
        String uri = uri(store, "restore", "deps-{{os}}-{{hash}}");
        assertEquals(0, save(uri, "v1", "older").status());
        String older = "deps-" + Platform.os() + "-" + result("up", "cache-key");
        Thread.sleep(1100); // S3 records modification times to the second
        assertEquals(0, save(uri, "v2", "newer").status());
        String newer = "deps-" + Platform.os() + "-" + result("up", "cache-key");
        Thread.sleep(1100);
        assertEquals(0, save(uri(store, "restore", "other-{{hash}}"), "v9", "another prefix, newest of all").status());
        Path folder = tmp.resolve("restored");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");

        var fallback = restore(uri, "v3", folder, "--restore-key", "nothing-", "--restore-key", "deps-{{os}}-");

        assertEquals(0, fallback.status(), fallback.toString());
        assertEquals(1, fallback.err().lines().count(), fallback.toString());
        assertTrue(fallback.err().contains("(restore key deps-" + Platform.os() + "-, the newest of its entries)"), fallback.err());
        assertEquals("newer", content(folder));
        assertEquals("kept\n", Files.readString(folder.resolve("mine.txt")), "a restore merges into the folder");
        assertEquals("true", result("down", "fetched"));
        assertEquals("false", result("down", "cache-hit"));
        assertEquals(newer, result("down", "matched-key"));

        var exact = restore(uri, "v1", tmp.resolve("exact"), "--restore-key", "deps-");
        assertEquals(0, exact.status(), exact.toString());
        assertEquals("older", content(tmp.resolve("exact")));
        assertEquals("true", result("down", "cache-hit"));
        assertEquals(older, result("down", "matched-key"));
        assertEquals(older.substring(older.lastIndexOf('-') + 1), result("down", "cache-key"), "the hash of the lock files");
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void lookupOnlySaysWhatWouldBeRestoredAndTouchesNothing(String store) throws Exception {
        String uri = uri(store, "lookup", "deps-{{hash}}");
        assertEquals(0, save(uri, "v1", "saved").status());
        String saved = "deps-" + result("up", "cache-key");
        Path folder = tmp.resolve("restored");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        var hit = restore(uri, "v1", folder, "--lookup-only");
        assertEquals(0, hit.status(), hit.toString());
        assertTrue(hit.err().startsWith("found ") && hit.err().contains("not restored (--lookup-only)"), hit.err());
        assertEquals(List.of("false", "true", saved), List.of(result("down", "fetched"), result("down", "cache-hit"),
                result("down", "matched-key")));
        assertTrue(Long.parseLong(result("down", "size")) > 0, "the size of the entry found");

        var fallback = restore(uri, "v2", folder, "--lookup-only", "--restore-key", "deps-");
        assertEquals(0, fallback.status(), fallback.toString());
        assertEquals(List.of("false", "false", saved), List.of(result("down", "fetched"), result("down", "cache-hit"),
                result("down", "matched-key")));

        var miss = restore(uri, "v2", folder, "--lookup-only", "--fail-on-miss");
        assertEquals(ExitStatus.MISS, miss.status(), miss.toString());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void aMissExitsZeroUnlessFailOnMissAndLeavesTheFolderAsItWas(String store) throws Exception {
        String uri = uri(store, "miss", "deps-{{hash}}");
        assertEquals(0, save(uri, "v1", "saved").status());
        Path folder = tmp.resolve("restored");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        var quiet = restore(uri, "v2", folder, "--restore-key", "none-");
        var failing = restore(uri, "v2", folder, "--restore-key", "none-", "--fail-on-miss");

        assertEquals(0, quiet.status(), quiet.toString());
        assertTrue(quiet.err().startsWith("cache miss: nothing at ") && quiet.err().contains("nor starting with none-"), quiet.err());
        assertEquals(ExitStatus.MISS, failing.status(), failing.toString());
        assertEquals(1, failing.err().lines().count(), failing.toString());
        assertEquals(List.of("false", "false", ""), List.of(result("down", "fetched"), result("down", "cache-hit"),
                result("down", "matched-key")));
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void anEntryIsImmutableSoASecondSaveOfItsKeyKeepsTheFirst(String store) throws Exception {
        String uri = uri(store, "immutable", "{{hash}}");
        assertEquals(0, save(uri, "v1", "first").status());

        var second = save(uri, "v1", "second");

        assertEquals(0, second.status(), second.toString());
        assertEquals(1, second.err().lines().count(), second.toString());
        assertTrue(second.err().startsWith("kept: ") && second.err().contains("already holds this key's entry"), second.err());
        assertEquals("0", result("up", "size"), "nothing was uploaded");
        assertEquals(0, restore(uri, "v1", tmp.resolve("restored")).status());
        assertEquals("first", content(tmp.resolve("restored")));
    }

    /**
     * Two cache-upload processes of one key started together, each with its own folder. Whichever
     * way they interleave (the second finds the entry before it starts, or loses the commit), both
     * exit 0, one says it uploaded and the other that it kept the entry, which restores whole.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void twoUploadsOfOneKeyAtOnceBothSucceedAndLeaveOneWholeEntry(String store) throws Exception {
        String uri = uri(store, "race", "{{hash}}");
        Fixtures.write(project.resolve("go.sum"), "raced\n");
        for (String side : List.of("a", "b")) {
            Fixtures.write(tmp.resolve(side + "/cache.txt"), side + "\n");
            Fixtures.writeRandom(tmp.resolve(side + "/big.bin"), 48 * Fixtures.MiB, side.hashCode());
        }
        var pool = Executors.newFixedThreadPool(2);
        List<Future<Fixtures.Run>> runs;
        try {
            runs = pool.invokeAll(List.of("a", "b").stream().map(side -> (Callable<Fixtures.Run>) () ->
                    Fixtures.upload(project, env, "--pattern", "go.sum", "--target", uri, "--folder", tmp.resolve(side).toString()))
                    .toList());
        } finally {
            pool.shutdown();
        }
        var a = runs.get(0).get();
        var b = runs.get(1).get();

        assertEquals(List.of(0, 0), List.of(a.status(), b.status()), a + "\n" + b);
        // By the last line: an upload slowed past five seconds by the other reports its progress first.
        long uploaded = List.of(a, b).stream().filter(run -> run.lastLine().startsWith("uploaded ")).count();
        long kept = List.of(a, b).stream().filter(run -> run.lastLine().startsWith("kept: ")).count();
        if (store.equals("oci")) {
            // No conditional manifest PUT: both may push; the tag then names the last one's image.
            assertEquals(2, uploaded + kept, a + "\n" + b);
        } else {
            assertEquals(List.of(1L, 1L), List.of(uploaded, kept), a + "\n" + b);
        }
        assertEquals(0, restore(uri, "raced", tmp.resolve("restored")).status());
        String winner = content(tmp.resolve("restored"));
        assertTrue(winner.equals("a") && !a.err().startsWith("kept: ") || winner.equals("b") && !b.err().startsWith("kept: "),
                "the entry is an uploader's, not the one that kept: " + a + "\n" + b);
        assertEquals(Fixtures.snapshot(tmp.resolve(winner), false).get("big.bin"),
                Fixtures.snapshot(tmp.resolve("restored"), false).get("big.bin"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void anEnvironmentVariableInTheKeySeparatesBranchesAndARestoreKeyBridgesThem(String store) throws Exception {
        env.put("BRANCH", "main");
        env.put("BASE", "main");
        String uri = uri(store, "branches", "{{env:BRANCH}}-{{hash}}");
        assertEquals(0, save(uri, "v1", "from main").status());

        env.put("BRANCH", "topic");
        var topic = restore(uri, "v1", tmp.resolve("topic"), "--restore-key", "{{env:BASE}}-");
        assertEquals(0, topic.status(), topic.toString());
        assertEquals("false", result("down", "cache-hit"), "topic has no entry of its own yet");
        assertEquals("from main", content(tmp.resolve("topic")));

        env.remove("BRANCH");
        var unset = restore(uri, "v1", tmp.resolve("unset"));
        assertEquals(ExitStatus.USAGE, unset.status(), unset.toString());
        assertTrue(unset.err().contains("BRANCH is not set"), unset.err());
        env.put("BRANCH", "feature/x");
        var slash = restore(uri, "v1", tmp.resolve("slash"));
        assertEquals(ExitStatus.USAGE, slash.status(), slash.toString());
        assertFalse(Files.exists(tmp.resolve("slash")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void expiresAfterLabelsAnImageAndIsRefusedElsewhere(String store) throws Exception {
        String uri = uri(store, "expiry", "{{hash}}");

        var saved = save(uri, "v1", "expiring", "--expires-after", "2w");

        if (!store.equals("oci")) {
            assertEquals(ExitStatus.USAGE, saved.status(), saved.toString());
            assertTrue(saved.err().contains("--expires-after labels OCI images"), saved.err());
            return;
        }
        assertEquals(0, saved.status(), saved.toString());
        String image = "docker://" + uri.substring("oci://".length()).replace("{{hash}}", result("up", "cache-key"));
        var config = registry.skopeo("inspect", "--config", image);
        assertTrue(config.out().contains("\"quay.expires-after\": \"2w\""), config.out());
        var bad = save(uri, "v2", "expiring", "--expires-after", "two weeks");
        assertEquals(ExitStatus.USAGE, bad.status(), bad.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    void maxAgePrunesTheFileStoresUnusedEntriesAndIsRefusedElsewhere(String store) throws Exception {
        String uri = uri(store, "prune", "{{hash}}");
        if (!store.equals("file")) {
            var refused = save(uri, "v1", "x", "--max-age", "7d");
            assertEquals(ExitStatus.USAGE, refused.status(), refused.toString());
            assertTrue(refused.err().contains("--max-age prunes a file:// store"), refused.err());
            return;
        }
        Path folder = tmp.resolve("store-prune");
        assertEquals(0, save(uri, "stale", "stale").status());
        Path stale = folder.resolve(result("up", "cache-key"));
        assertEquals(0, save(uri, "read", "old but read").status());
        Path read = folder.resolve(result("up", "cache-key"));
        Fixtures.write(folder.resolve("notes.txt"), "not an archive\n");
        Files.createDirectories(folder.resolve("a-folder"));
        var tenDaysAgo = FileTime.from(Instant.now().minus(Duration.ofDays(10)));
        for (Path file : List.of(stale, read, folder.resolve("notes.txt"))) {
            Files.getFileAttributeView(file, BasicFileAttributeView.class).setTimes(tenDaysAgo, tenDaysAgo, null);
        }
        assertEquals(0, restore(uri, "read", tmp.resolve("restored")).status(), "a fetch counts as a use");

        var pruning = save(uri, "fresh", "fresh", "--max-age", "7d");

        assertEquals(0, pruning.status(), pruning.toString());
        assertTrue(pruning.err().contains("pruned 1 entry"), pruning.err());
        assertTrue(pruning.err().contains("unused for more than 1w"), pruning.err());
        assertFalse(Files.exists(stale), "an entry unused for 10 days");
        assertFalse(Files.exists(stale.resolveSibling(stale.getFileName() + FileStore.DIGEST_SUFFIX)));
        assertTrue(Files.exists(read), "read 10 days after its upload, just now");
        assertTrue(Files.exists(folder.resolve(result("up", "cache-key"))), "the entry just uploaded");
        assertTrue(Files.exists(folder.resolve("notes.txt")), "not an archive: not ours to delete");
        assertTrue(Files.isDirectory(folder.resolve("a-folder")));
    }
}

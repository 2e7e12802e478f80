import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.store.CacheLookup;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * cache-upload --keep N on every store that has a server here (GCS: GcsStoreOnFakeStorageTest):
 * after each save, only the N newest entries the first restore key matches are left, the one just
 * saved among them, and an entry of another prefix is never touched. A registry that does not
 * allow deleting is said in one line, and the save stands.
 */
class RetentionTest {

    static final FlakyProxy registryProxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false).behind(registryProxy);
    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");
    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    @TempDir
    Path tmp;

    private Path project;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.richTree(project.resolve("cache"), 0);
    }

    /** The environment of a step using the store of uri: its credentials and query parameters. */
    private Map<String, String> env(String uri) {
        var base = Fixtures.env(tmp.resolve("xdg"));
        return uri.startsWith("s3:") ? s3.env(base, s3.endpoint()) : uri.startsWith("azblob:") ? azurite.env(base) : base;
    }

    @AfterEach
    void clearFaults() {
        registryProxy.clearFaults();
    }

    /** The store's URI for entries named PREFIX{{hash}}, in a place of this test's own. */
    private String uri(String store, String prefix) {
        String place = "r" + Long.toHexString(System.nanoTime());
        return switch (store) {
            case "file" -> tmp.resolve("store").toUri() + "/" + prefix + "{{hash}}";
            case "s3" -> "s3://caches/" + place + "/" + prefix + "{{hash}}";
            case "azure" -> "azblob://caches/" + place + "/" + prefix + "{{hash}}";
            case "oci" -> "oci://" + registryProxy.host() + "/retention/" + place + ":" + prefix + "{{hash}}";
            default -> throw new IllegalArgumentException(store);
        };
    }

    /** A save of the folder under the key of lock (a go.mod of that content). */
    private Fixtures.Run save(String uri, int lock, String... more) throws Exception {
        Fixtures.write(project.resolve("go.mod"), "module example.com/retention/v" + lock + "\n");
        var args = new ArrayList<>(List.of("--folder", "cache", "--target", uri, "--results-dir", tmp.resolve("up").toString()));
        args.addAll(List.of(more));
        var saved = Fixtures.upload(project, env(uri), args.toArray(String[]::new));
        assertEquals(0, saved.status(), saved.toString());
        // S3 and Azure list modification times to the second: entries a second apart are told apart.
        Thread.sleep(1100);
        return saved;
    }

    /** The names of the entries starting with prefix beside where uri puts them. */
    private TreeSet<String> names(String uri, String prefix) throws Exception {
        var quiet = new Log(new PrintStream(OutputStream.nullOutputStream()), false);
        var target = Stores.open(new StoreUri(uri).resolve("x"), false, java.time.Duration.ofSeconds(30), new Environment(env(uri)), quiet);
        try (Store store = target.store()) {
            String folder = target.path().substring(0, target.path().lastIndexOf('/') + 1);
            var names = new TreeSet<String>();
            store.list(folder + prefix).forEach(object -> names.add(CacheLookup.nameOf(object.path())));
            return names;
        }
    }

    private String key() throws Exception {
        return java.nio.file.Files.readString(tmp.resolve("up/cache-key"));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "azure", "oci"})
    void onlyTheNewestEntriesTheRestoreKeyMatchesAreKept(String store) throws Exception {
        String uri = uri(store, "m2-");
        String other = uri.replace("m2-{{hash}}", "gradle-{{hash}}");
        save(other, 0);
        var keys = new ArrayList<String>();
        for (int lock = 1; lock <= 4; lock++) {
            var saved = save(uri, lock, "--restore-key", "m2-", "--keep", "2");
            keys.add("m2-" + key());
            if (lock >= 3) {
                assertTrue(saved.err().contains("deleted 1 older entry starting with m2- ("), saved.toString());
            }
        }

        assertEquals(new TreeSet<>(keys.subList(2, 4)), names(uri, "m2-"));
        assertEquals(1, names(uri, "gradle-").size(), "another prefix's entry stays");

        // The key's own entry, already there, is kept even when --keep 1 leaves no room for another.
        var again = save(uri, 3, "--restore-key", "m2-", "--keep", "1");
        assertTrue(again.err().contains("deleted 1 older entry starting with m2- ("), again.toString());
        assertEquals(new TreeSet<>(keys.subList(2, 3)), names(uri, "m2-"));
    }

    @Test
    void aRegistryThatDoesNotAllowDeletingIsSaidInOneLineAndTheSaveStands() throws Exception {
        String uri = uri("oci", "m2-");
        save(uri, 1);
        registryProxy.failNext("DELETE .*/manifests/.*", 1, 405);

        var saved = save(uri, 2, "--restore-key", "m2-", "--keep", "1");

        assertTrue(saved.err().contains("--keep 1: nothing deleted, as registry " + registryProxy.host()
                + " does not allow deleting images"), saved.toString());
        assertEquals(2, names(uri, "m2-").size());
    }

    /**
     * An entry deleted between its lookup and its read is gone to the store's read, which a fetch
     * takes for a miss. A registry keeps a deleted manifest's blobs until it collects garbage (a
     * read under way completes): here it collects them at once.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "azure", "oci"})
    void anEntryDeletedAfterItWasFoundIsGoneToTheRead(String store) throws Exception {
        String uri = uri(store, "m2-");
        save(uri, 1);
        var quiet = new Log(new PrintStream(OutputStream.nullOutputStream()), false);
        var target = Stores.open(new StoreUri(uri).resolve(key()), false, java.time.Duration.ofSeconds(30), new Environment(env(uri)),
                quiet);
        try (Store opened = target.store()) {
            Store.StoredObject found = opened.find(target.path()).orElseThrow();
            opened.delete(found);
            if (store.equals("oci")) {
                var collected = Fixtures.run(List.of("docker-registry", "garbage-collect", registry.dir().resolve("config.yml").toString()),
                        tmp, Map.of());
                assertEquals(0, collected.status(), collected.toString());
            }
            assertThrows(Store.EntryGone.class, () -> opened.open(found).close());
        }
    }

    /** A fetch whose entry is deleted while it downloads it: a miss, exit 0, the folder as it was. */
    @Test
    void aFetchWhoseEntryIsDeletedWhileItReadsIsAMissAndLeavesTheFolder() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big.bin"), 40 * Fixtures.MiB, 3);
        try (var proxy = FlakyProxy.start()) {
            proxy.target(s3.endpoint());
            String uri = uri("s3", "m2-");
            var env = s3.env(Fixtures.env(tmp.resolve("xdg")), proxy.url());
            Fixtures.write(project.resolve("go.mod"), "module example.com/vanishing\n");
            var saved = Fixtures.upload(project, env, "--folder", "cache", "--target", uri, "--compression", "none",
                    "--results-dir", tmp.resolve("up").toString());
            assertEquals(0, saved.status(), saved.toString());
            String objectKey = uri.substring("s3://caches/".length()).replace("{{hash}}", key());
            Path folder = tmp.resolve("folder");
            Fixtures.write(folder.resolve("mine.txt"), "kept\n");
            var before = Fixtures.snapshot(folder, true);
            proxy.slow("GET /caches/" + objectKey, 500);

            var fetching = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return Fixtures.fetch(project, env, "--folder", folder.toString(), "--source", uri, "--results-dir",
                            tmp.resolve("down").toString());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            while (proxy.requests().stream().noneMatch(r -> r.startsWith("GET /caches/" + objectKey)) && !fetching.isDone()) {
                Thread.sleep(20);
            }
            s3.client().deleteObject(b -> b.bucket("caches").key(objectKey));
            var fetched = fetching.get();

            assertEquals(0, fetched.status(), fetched.toString());
            assertTrue(fetched.err().startsWith("cache miss: " + uri.replace("{{hash}}", key()) + " was deleted while it was read"),
                    fetched.toString());
            assertEquals("false", java.nio.file.Files.readString(tmp.resolve("down/fetched")));
            assertEquals(before, Fixtures.snapshot(folder, true));
        }
    }

    @Test
    void keepWithoutARestoreKeyIsAUsageError() throws Exception {
        Fixtures.write(project.resolve("go.mod"), "module example.com/retention\n");
        String uri = uri("file", "m2-");
        var run = Fixtures.upload(project, env(uri), "--folder", "cache", "--target", uri, "--keep", "2");
        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-upload", "--keep 2 keeps the newest entries the first --restore-key matches");
    }
}

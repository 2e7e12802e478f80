import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicInteger;
import lib.archive.BadArchive;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.cli.Fetch;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.store.Store;
import lib.store.Stores;
import lib.store.gcs.GcsStore;
import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A bad entry heals: an entry that is corrupt (a group whose tar is not the one its entry names)
 * or truncated (a group's compressed stream cut short) is never kept for good. The key's next
 * upload reads the entry it finds through before keeping it, and deletes a broken one, or, on a
 * registry that deletes nothing, tags its own image over it (over that image only); the fetch
 * after restores the key's own entry, cache-hit true. Real stores: a folder, distribution registries
 * with and without deletion, s3proxy, azurite; GCS's reading through on google-cloud-nio's fake.
 */
class HealTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final RegistryServer undeleting = RegistryServer.perClass(RegistryServer.Auth.NONE, false).withoutDeletion();

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    private static final AtomicInteger NAMES = new AtomicInteger();

    @TempDir
    Path tmp;

    private Path project;
    private Path elsewhere;
    private Map<String, String> env;
    private String base;
    private String query;
    private SortedMap<String, String> saved;

    /** A project whose folder m2/ holds a settings file and two jars, and a second checkout of it with no m2/. */
    @BeforeEach
    void project() throws Exception {
        var checkouts = Fixtures.mavenCheckouts(tmp, 2);
        project = checkouts.project();
        elsewhere = checkouts.elsewhere();
        saved = checkouts.saved();
    }

    private void at(String kind) {
        int n = NAMES.incrementAndGet();
        env = Fixtures.env(tmp.resolve("xdg"));
        query = "";
        base = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/";
            case "oci" -> "oci://" + registry.host() + "/heal/run-" + n + ":";
            case "oci-undeleting" -> "oci://" + undeleting.host() + "/heal/run-" + n + ":";
            case "s3" -> {
                env = s3.env(env, s3.endpoint());
                yield "s3://caches/heal-" + n + "/";
            }
            case "azure" -> {
                env = azurite.env(env);
                query = azurite.queryParams();
                yield "azblob://caches/heal-" + n + "/";
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /**
     * The broken entry is written at the key with no fetch before the upload: the upload alone
     * finds it broken. Before, it said "kept:" and every fetch of the key was refused for good.
     */
    @ParameterizedTest
    @CsvSource({"file,corrupt", "file,truncated", "oci,truncated", "oci-undeleting,corrupt", "s3,truncated", "azure,corrupt"})
    void theNextUploadOfAKeyReplacesItsBrokenEntryAndTheFetchAfterHitsIt(String kind, String how) throws Exception {
        at(kind);
        writeBroken(how);

        var upload = upload();
        assertEquals(ExitStatus.OK, upload.status(), upload.toString());
        assertFalse(upload.err().contains("kept:"), upload.err());
        String broken = upload.err().lines().filter(line -> line.startsWith("the entry at ")).findFirst().orElse("");
        assertTrue(broken.contains(" is broken (") && broken.contains(how.equals("corrupt") ? "its entry names" : "corrupt or truncated"),
                upload.err());
        assertTrue(broken.contains(kind.equals("oci-undeleting") ? "does not let it be deleted" : "it was deleted; saving it anew"),
                upload.err());
        assertTrue(upload.lastLine().startsWith("uploaded "), upload.err());

        var fetch = fetch();
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
        assertEquals("true", Files.readString(tmp.resolve("results/cache-hit")));

        // Sound now, it is kept: the check does not replace a whole entry.
        var again = upload();
        assertEquals(ExitStatus.OK, again.status(), again.toString());
        assertTrue(again.lastLine().startsWith("kept: ") && again.lastLine().contains("read through and sound"), again.err());
    }

    /**
     * A registry that deletes nothing keeps the broken image through the fetch, which says so and
     * gives cache-hit false; the next upload tags over it.
     */
    @Test
    void aFetchThatCannotDeleteABrokenEntryMissesAndTheNextUploadTagsOverIt() throws Exception {
        at("oci-undeleting");
        writeBroken("truncated");

        var refused = fetch();
        assertEquals(ExitStatus.STORE, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-fetch", "corrupt or truncated");
        assertTrue(refused.err().contains("does not let it be deleted"), refused.err());
        assertEquals("false", Files.readString(tmp.resolve("results/cache-hit")));
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertFalse(Files.exists(elsewhere.resolve("m2")), "the folder is as it was: none");

        assertEquals(ExitStatus.OK, upload().status());
        var fetch = fetch();
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertEquals("true", Files.readString(tmp.resolve("results/cache-hit")));
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /**
     * The registry has no conditional manifest PUT: a replacement checks, just before its own, that
     * the tag still names the broken image, and an image pushed there since (a whole one) stays.
     */
    @Test
    void aReplacementNeverTagsOverAnImagePushedSinceTheBrokenOne() throws Exception {
        at("oci-undeleting");
        String key = writeBroken("corrupt");
        var target = target("m2-" + key);
        try (Store store = target.store()) {
            Store.StoredObject broken = store.find(target.path()).orElseThrow();
            try (Store.EntryWrite late = store.createEntry(target.path(), Compression.ZSTD)) {
                assertTrue(late.replaces(broken));
                late.putGroup(new Store.Group(Fixtures.sha256(TAR), TAR.length, Fixtures.sha256(Fixtures.zstd(TAR)), Fixtures.zstd(TAR).length), Fixtures.zstd(TAR));
                // Meanwhile another upload replaced the broken image with a whole one.
                var whole = upload();
                assertEquals(ExitStatus.OK, whole.status(), whole.toString());
                assertFalse(late.commit(new Store.Description("late", Instant.now(), TAR.length, null, 1, null), 1));
            }
        }
        var fetch = fetch();
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /** GCS has no server here: on google-cloud-nio's fake, a broken entry reads through as a BadArchive, a sound one does not. */
    @Test
    void onTheGcsFakeABrokenEntryReadsThroughAsABadArchive() throws Exception {
        var store = new GcsStore(LocalStorageHelper.customOptions(false).getService(), "caches", "the fake", Fixtures.quiet());
        for (boolean corrupt : new boolean[] {false, true}) {
            String name = "m2-" + corrupt;
            byte[] stored = Fixtures.zstd(TAR);
            try (Store.EntryWrite entry = store.createEntry(name, Compression.ZSTD)) {
                entry.putGroup(new Store.Group(corrupt ? Fixtures.sha256(OTHER_TAR) : Fixtures.sha256(TAR), TAR.length, Fixtures.sha256(stored), stored.length),
                        stored);
                assertTrue(entry.commit(new Store.Description(name, Instant.now(), TAR.length, null, 1, null), 1));
            }
            var found = store.find(name).orElseThrow();
            var meter = new Meter("reading through", Fixtures.quiet(), System::nanoTime);
            if (corrupt) {
                var e = assertThrows(BadArchive.class, () -> Fetch.readThrough(store, found, meter));
                assertTrue(e.getMessage().contains("its entry names"), e.getMessage());
            } else {
                Fetch.readThrough(store, found, meter);
            }
        }
    }

    private static final byte[] TAR = new CraftedTar().file("settings.xml", "<settings>a late one</settings>\n").end();
    private static final byte[] OTHER_TAR = new CraftedTar().file("settings.xml", "<settings>another</settings>\n").end();

    /**
     * Writes a broken entry at the project's key, with the groups of an honest upload made under
     * another name: corrupt, its first group's bytes those of another tar (its diff_id the honest
     * one); truncated, its last group's compressed bytes cut in half. Returns the key.
     */
    private String writeBroken(String how) throws Exception {
        var scratch = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target",
                base + "scratch-{{hash}}" + query, "--results-dir", tmp.resolve("scratch").toString());
        assertEquals(ExitStatus.OK, scratch.status(), scratch.toString());
        String key = Files.readString(tmp.resolve("scratch/cache-key"));
        var from = target("scratch-" + key);
        var to = target("m2-" + key);
        try (Store store = to.store(); Store source = from.store()) {
            var found = source.find(from.path()).orElseThrow();
            var groups = source.groups(found).orElseThrow();
            List<Store.StoredGroup> honest = groups.groups();
            try (Store.EntryWrite entry = store.createEntry(to.path(), Compression.ZSTD);
                    Store.GroupStreams streams = source.read(found, groups, in -> in)) {
                for (int i = 0; i < honest.size(); i++) {
                    Store.Group group = honest.get(i).group();
                    byte[] bytes = streams.next().stored().readAllBytes();
                    if (how.equals("corrupt") && i == 0) {
                        bytes = Fixtures.zstd(OTHER_TAR);
                    } else if (how.equals("truncated") && i == honest.size() - 1) {
                        bytes = Arrays.copyOf(bytes, bytes.length / 2);
                    }
                    entry.putGroup(new Store.Group(group.diffId(), group.tarBytes(), Fixtures.sha256(bytes), bytes.length), bytes);
                }
                assertTrue(entry.commit(new Store.Description(key, Instant.now(), 0, null, 1, null), groups.level()));
            }
        }
        return key;
    }

    /** An upload whose restore key matches the key's own name: a broken entry left in place must not be its base. */
    private Fixtures.Run upload() throws Exception {
        return Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target", base + "m2-{{hash}}" + query,
                "--restore-key", "m2-");
    }

    private Fixtures.Run fetch() throws Exception {
        Files.createDirectories(tmp.resolve("results"));
        var args = new ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--source", base + "m2-{{hash}}" + query,
                "--results-dir", tmp.resolve("results").toString()));
        return Fixtures.fetch(elsewhere, env, args.toArray(String[]::new));
    }

    /** The store of base + name, and its own name for that entry. */
    private Stores.Target target(String name) {
        return Stores.open(URI.create(base + name + query), false, Duration.ofSeconds(30), new Environment(env), Fixtures.quiet());
    }
}

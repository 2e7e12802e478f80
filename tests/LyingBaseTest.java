import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import lib.archive.Compression;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.store.Store;
import lib.store.Stores;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A base entry that lies about its groups, written by whoever can write under a restore key's
 * prefix: a save that takes groups from it (cache-upload --restore-key) makes an entry under a key
 * the liar could not write. A group's tar is checked against the diff_id its entry names by every
 * restore, so such an entry never restores foreign bytes: the file store proves what it reuses and
 * sends the group instead; the others make an entry that the fetch refuses (exit 3, the folder as
 * it was) and deletes, so that the key's next upload stores it anew. A lie about what a restore
 * no longer needs (a group's stored digest) or what the registry says itself (a layer's size) makes
 * no dead key at all. Real stores: a folder, a distribution registry, s3proxy.
 */
class LyingBaseTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    private static final AtomicInteger NAMES = new AtomicInteger();

    @TempDir
    Path tmp;

    private Path project;
    private Path elsewhere;
    private Map<String, String> env;
    private String base;
    private SortedMap<String, String> saved;

    /** A project whose folder m2/ holds a settings file and a jar, and a second checkout of it with no m2/. */
    @BeforeEach
    void project() throws Exception {
        var checkouts = Fixtures.mavenCheckouts(tmp, 1);
        project = checkouts.project();
        elsewhere = checkouts.elsewhere();
        saved = checkouts.saved();
    }

    private void at(String kind) {
        int n = NAMES.incrementAndGet();
        env = Fixtures.env(tmp.resolve("xdg"));
        base = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/";
            case "oci" -> "oci://" + registry.host() + "/lying/run-" + n + ":";
            case "s3" -> {
                env = s3.env(env, s3.endpoint());
                yield "s3://caches/lying-" + n + "/";
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3"})
    void aBaseThatNamesAnotherGroupsTarNeverRestoresForeignBytes(String kind) throws Exception {
        at(kind);
        List<Store.StoredGroup> honest = honestGroups();
        // The liar's base: each group a tar holding its own settings.xml, named by the honest group's diff_id.
        byte[] poisoned = Fixtures.zstd(new CraftedTar().file("settings.xml", "<settings>the attacker's</settings>\n").end());
        writeBase(honest, group -> new Store.Group(group.diffId(), group.tarBytes(), Fixtures.sha256(poisoned), poisoned.length),
                poisoned);

        var upload = upload("--restore-key", "m2-");
        assertEquals(ExitStatus.OK, upload.status(), upload.toString());

        var fetch = fetch();
        if (kind.equals("file")) {
            // The file store read the base's groups before reusing them, and sent its own instead.
            assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
            assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
            return;
        }
        assertEquals(ExitStatus.STORE, fetch.status(), fetch.toString());
        Fixtures.assertOneLine(fetch, "cache-fetch", "its entry names");
        assertTrue(fetch.err().contains("the entry was deleted, so that the next upload of its key stores it anew"), fetch.err());
        assertFalse(Files.exists(elsewhere.resolve("m2")), "the folder is as it was: none");
        assertEquals("false", Files.readString(tmp.resolve("results/cache-hit")));

        // Not kept for ever: the next upload of the key (from no base) stores it anew, and it restores.
        var again = upload();
        assertEquals(ExitStatus.OK, again.status(), again.toString());
        assertFalse(again.err().contains("kept:"), again.err());
        var restored = fetch();
        assertEquals(ExitStatus.OK, restored.status(), restored.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /**
     * A liar's base stays a base until something deletes it: a fetch that refuses an entry deletes it
     * and tries the next one found, so the poisoned key and then the liar's base go, an honest older
     * entry is restored, and the next save takes its groups from that one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"oci", "s3"})
    void aFetchDeletesEachRefusedEntryAndRestoresTheNextOneFound(String kind) throws Exception {
        at(kind);
        List<Store.StoredGroup> honest = honestGroups();
        var older = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target", base + "m2-older-{{hash}}");
        assertEquals(ExitStatus.OK, older.status(), older.toString());
        Thread.sleep(1100); // a bucket's times are in seconds: the liar's base is the newest
        byte[] poisoned = Fixtures.zstd(new CraftedTar().file("settings.xml", "<settings>the attacker's</settings>\n").end());
        writeBase(honest, group -> new Store.Group(group.diffId(), group.tarBytes(), Fixtures.sha256(poisoned), poisoned.length),
                poisoned);
        Thread.sleep(1100);
        assertEquals(ExitStatus.OK, upload("--restore-key", "m2-").status());

        var fetch = fetch("--restore-key", "m2-");
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertEquals(2, fetch.err().lines().filter(line -> line.contains("its entry names")
                && line.endsWith("; trying the next entry found")).count(), fetch.err());
        assertTrue(fetch.lastLine().startsWith("restored "), fetch.err());
        assertTrue(fetch.lastLine().contains("m2-older-"), fetch.err());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
        assertEquals("false", Files.readString(tmp.resolve("results/cache-hit")));

        // Neither the poisoned entry nor the liar's base is there to be a base: the next save's entry restores.
        var again = upload("--restore-key", "m2-");
        assertEquals(ExitStatus.OK, again.status(), again.toString());
        assertTrue(again.err().contains("m2-older-"), "the base is the honest entry: " + again.err());
        Fixtures.write(elsewhere.resolve("m2/settings.xml"), "changed since\n");
        var exact = fetch();
        assertEquals(ExitStatus.OK, exact.status(), exact.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
        assertEquals("true", Files.readString(tmp.resolve("results/cache-hit")));
    }

    /**
     * A lie that used to make an entry every fetch refused, for good: on a registry, a layer's size
     * (a reuse takes the size the registry gives, and sends a layer that is not the size its base
     * says). A group's stored digest, the other such lie, is no longer in a blob store's index
     * (version 2), which names a group by its tar alone.
     */
    @Test
    void aBaseThatMisstatesALayersSizeMakesNoDeadKey() throws Exception {
        at("oci");
        List<Store.StoredGroup> honest = honestGroups();
        writeBase(honest, group -> new Store.Group(group.diffId(), group.tarBytes(), group.sha256(), 1L << 40), null);

        var upload = upload("--restore-key", "m2-");
        assertEquals(ExitStatus.OK, upload.status(), upload.toString());
        var fetch = fetch();
        assertEquals(ExitStatus.OK, fetch.status(), fetch.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /** The groups an upload of the project makes, from an entry saved under a prefix no restore key matches. */
    private List<Store.StoredGroup> honestGroups() throws Exception {
        var scratch = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target", base + "scratch-{{hash}}",
                "--results-dir", tmp.resolve("scratch").toString());
        assertEquals(ExitStatus.OK, scratch.status(), scratch.toString());
        var target = target("scratch-" + key());
        try (Store store = target.store()) {
            return store.groups(store.find(target.path()).orElseThrow()).orElseThrow().groups();
        }
    }

    /**
     * Writes the liar's base, m2-base, with as many groups as the honest entry: each described by
     * lie, its bytes those given, or else the honest group's own, read from the scratch entry.
     */
    private void writeBase(List<Store.StoredGroup> honest, UnaryOperator<Store.Group> lie, byte[] bytes) throws Exception {
        var scratch = target("scratch-" + key());
        var liar = target("m2-base");
        try (Store store = liar.store(); Store from = scratch.store()) {
            var found = from.find(scratch.path()).orElseThrow();
            var groups = from.groups(found).orElseThrow();
            try (Store.EntryWrite entry = store.createEntry(liar.path(), Compression.ZSTD);
                    Store.GroupStreams streams = from.read(found, groups, in -> in)) {
                for (Store.StoredGroup group : honest) {
                    byte[] own = streams.next().stored().readAllBytes();
                    entry.putGroup(lie.apply(group.group()), bytes != null ? bytes : own);
                }
                assertTrue(entry.commit(new Store.Description("base", Instant.now(), 0, null, 1, null), groups.level()));
            }
        }
    }

    private Fixtures.Run upload(String... more) throws Exception {
        var args = new java.util.ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--target", base + "m2-{{hash}}"));
        args.addAll(List.of(more));
        return Fixtures.upload(project, env, args.toArray(String[]::new));
    }

    private Fixtures.Run fetch(String... more) throws Exception {
        Files.createDirectories(tmp.resolve("results"));
        var args = new java.util.ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--source", base + "m2-{{hash}}",
                "--results-dir", tmp.resolve("results").toString()));
        args.addAll(List.of(more));
        return Fixtures.fetch(elsewhere, env, args.toArray(String[]::new));
    }

    /** The key, as the scratch upload gave it. */
    private String key() throws Exception {
        return Files.readString(tmp.resolve("scratch/cache-key"));
    }

    /** The store of base + name, and its own name for that entry (the tag, the key after the bucket or folder). */
    private Stores.Target target(String name) {
        return Stores.open(URI.create(base + name), false, Duration.ofSeconds(30), new Environment(env), Fixtures.quiet());
    }
}

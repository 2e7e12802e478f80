import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import lib.archive.BadArchive;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.cli.Upload;
import lib.common.Digests;
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
 * Each group's bytes hashed once on the way up: a blob store's index (version 2) names a group by
 * its tar's sha256 alone, which is what every restore checks, so the save does not hash the bytes
 * it stores; a registry names a layer by them, so there they are hashed and are the layer's digest.
 * Entries of index version 1, which named both, still restore and serve as bases; an index of a
 * version this tool does not know is not taken for a broken entry. Real stores: a folder, s3proxy,
 * azurite, a distribution registry.
 */
class GroupDigestsTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass();

    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final Pattern GROUP_LINE_2 = Pattern.compile("[0-9]+ [0-9]+ [0-9]+ [0-9a-f]{64}");

    @TempDir
    Path tmp;

    private Path project;
    private Path elsewhere;
    private SortedMap<String, String> saved;
    private Map<String, String> env;
    private String base;

    /**
     * A Maven project whose m2/ makes groups of both kinds GroupWriter writes: small ones (jars and
     * text), compressed in memory, and one over GroupWriter.SMALL, streamed (a 5 MiB jar).
     */
    @BeforeEach
    void project() throws Exception {
        var checkouts = Fixtures.mavenCheckouts(tmp, 6);
        project = checkouts.project();
        elsewhere = checkouts.elsewhere();
        Fixtures.writeRandom(project.resolve("m2/big/b/1.0/b-1.0.jar"), 5 << 20, 42);
        for (int i = 0; i < 40; i++) {
            String pom = "<project><version>" + i + "</version></project>\n";
            Fixtures.write(project.resolve("m2/g/text/" + i + ".pom"), pom.repeat(50));
        }
        saved = Fixtures.snapshot(project.resolve("m2"), false);
        env = Fixtures.env(tmp.resolve("xdg"));
    }

    private void at(String kind) {
        int n = NAMES.incrementAndGet();
        base = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/";
            case "oci" -> "oci://" + registry.host() + "/digests/run-" + n + ":";
            case "s3" -> {
                env = s3.env(env, s3.endpoint());
                yield "s3://caches/digests-" + n + "/";
            }
            case "azure" -> {
                azurite.createContainer("digests-" + n);
                env = azurite.env(env);
                yield "azblob://digests-" + n + "/caches/";
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3", "azure"})
    void aBlobStoresIndexNamesEachGroupByItsTarAloneAndTheEntryRestores(String kind) throws Exception {
        at(kind);
        try (var entry = storedEntry(upload("up"))) {
            byte[] object = entry.object();
            String index = TrustFixtures.indexText(object);
            assertTrue(index.startsWith("tekton-caches groups 2\nlevel "), index);
            List<Store.StoredGroup> groups = entry.groups();
            String[] lines = index.split("\n");
            assertEquals(groups.size() + 2, lines.length, index);
            assertTrue(groups.size() >= 3, "the test needs several groups: " + index);
            assertTrue(groups.stream().anyMatch(g -> g.group().tarBytes() > (4 << 20)), "a big group, streamed: " + index);
            for (int i = 0; i < groups.size(); i++) {
                Store.StoredGroup stored = groups.get(i);
                Store.Group group = stored.group();
                assertTrue(GROUP_LINE_2.matcher(lines[i + 2]).matches(), lines[i + 2]);
                assertEquals(stored.offset() + " " + group.size() + " " + group.tarBytes() + " " + group.diffId(), lines[i + 2]);
                assertNull(group.sha256(), "no stored digest is read back");
                byte[] bytes = Arrays.copyOfRange(object, (int) stored.offset(), (int) (stored.offset() + group.size()));
                assertEquals(group.diffId(), Compression.tarSha256(new ByteArrayInputStream(bytes)));
                assertFalse(index.contains(Fixtures.sha256(bytes)), "the stored bytes' digest is nowhere in the index");
            }
        }
        assertEquals(ExitStatus.OK, fetch("down").status());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /**
     * GroupWriter hashes a group's stored bytes only for a store that asks for it, for small groups
     * and a streamed one alike; asked, it gives their true sha256.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theSaveHashesTheStoredBytesOnlyWhereTheStoreNeedsThem(boolean needed) throws Exception {
        at("file");
        var target = target("m2-direct");
        try (Store store = target.store(); var entry = new Recording(store.createEntry(target.path(), Compression.ZSTD), needed)) {
            Upload.write(project.resolve("m2"), Compression.ZSTD, Optional.empty(), entry,
                    new Meter("test", Fixtures.quiet(), System::nanoTime));
            assertTrue(entry.put > 0 && entry.streamed > 0, entry.put + " groups put whole, " + entry.streamed + " streamed");
            for (var given : entry.given) {
                if (needed) {
                    assertEquals(given.actual(), given.group().sha256());
                } else {
                    assertNull(given.group().sha256(), "hashed for a store that does not need it");
                }
            }
        }
    }

    /** A group as GroupWriter gave it, and the sha256 of the bytes it gave with it. */
    private record Given(Store.Group group, String actual) {}

    /** An entry write that records what it is given, passing it on, and says whether it needs the stored digests. */
    private static final class Recording implements Store.EntryWrite {
        private final Store.EntryWrite entry;
        private final boolean needed;
        private final List<Given> given = new ArrayList<>();
        private MessageDigest streaming;
        private int put;
        private int streamed;

        Recording(Store.EntryWrite entry, boolean needed) {
            this.entry = entry;
            this.needed = needed;
        }

        @Override
        public boolean needsStoredDigest() {
            return needed;
        }

        @Override
        public OutputStream beginGroup() throws IOException {
            MessageDigest digest = Digests.sha256();
            streaming = digest;
            return new FilterOutputStream(entry.beginGroup()) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    digest.update(b, off, len);
                    out.write(b, off, len);
                }
            };
        }

        @Override
        public void endGroup(Store.Group group) throws IOException {
            given.add(new Given(group, Digests.hex(streaming.digest())));
            streamed++;
            entry.endGroup(group);
        }

        @Override
        public void putGroup(Store.Group group, byte[] bytes) throws IOException {
            given.add(new Given(group, Fixtures.sha256(bytes)));
            put++;
            entry.putGroup(group, bytes);
        }

        @Override
        public boolean commit(Store.Description description, int level) throws IOException {
            return entry.commit(description, level);
        }

        @Override
        public Store.Sent sent() {
            return entry.sent();
        }

        @Override
        public void close() throws IOException {
            entry.close();
        }
    }

    /** A registry names a layer by its bytes' digest: each layer the manifest lists is the sha256 of the blob's bytes. */
    @Test
    void anImagesLayersAreNamedByTheSha256OfTheirBytes() throws Exception {
        at("oci");
        String key = upload("up");
        String repository = base.substring(("oci://" + registry.host() + "/").length(), base.length() - 1);
        var http = HttpClient.newHttpClient();
        var manifest = http.send(HttpRequest.newBuilder(URI.create("http://" + registry.host() + "/v2/" + repository
                + "/manifests/m2-" + key)).header("Accept", "application/vnd.oci.image.manifest.v1+json").build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, manifest.statusCode(), manifest.body());
        String layers = manifest.body().substring(manifest.body().indexOf("\"layers\""));
        List<String> digests = Pattern.compile("\"digest\":\"sha256:([0-9a-f]{64})\"").matcher(layers).results()
                .map(r -> r.group(1)).toList();
        assertTrue(digests.size() >= 3, "the test needs several layers: " + manifest.body());
        boolean big = false;
        for (String digest : digests) {
            var blob = http.send(HttpRequest.newBuilder(URI.create("http://" + registry.host() + "/v2/" + repository
                    + "/blobs/sha256:" + digest)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, blob.statusCode());
            assertEquals(digest, Fixtures.sha256(blob.body()));
            big |= blob.body().length > (4 << 20);
        }
        assertTrue(big, "a big layer, streamed, among them");
        assertEquals(ExitStatus.OK, fetch("down").status());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /**
     * An entry whose index is of version 1 (each group's stored bytes' sha256 beside its tar's, as
     * saves wrote before) restores, and a save with it as its base reuses its groups, writing
     * version 2.
     */
    @Test
    void aVersion1EntryStillRestoresAndServesAsABase() throws Exception {
        at("file");
        String key = upload("up");
        try (var entry = storedEntry(key)) {
            entry.rewrite(version1(entry.object(), entry.groups()));
            var groups = entry.groups();
            assertTrue(TrustFixtures.indexText(TrustFixtures.bytes(entry.store(), entry.path())).startsWith("tekton-caches groups 1\n"));
            for (Store.StoredGroup g : groups) {
                assertNotNull(g.group().sha256(), "version 1 names the stored bytes' digest");
            }
        }
        var fetched = fetch("down");
        assertEquals(ExitStatus.OK, fetched.status(), fetched.toString());
        assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));

        Fixtures.write(project.resolve("pom.xml"), "<project>bumped " + tmp + "</project>\n");
        Fixtures.writeRandom(project.resolve("m2/g/z/1.0/z-1.0.jar"), 100 << 10, 99);
        Files.createDirectories(tmp.resolve("second"));
        var second = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target", base + "m2-{{hash}}",
                "--restore-key", "m2-", "--results-dir", tmp.resolve("second").toString());
        assertEquals(ExitStatus.OK, second.status(), second.toString());
        assertTrue(second.lastLine().contains(" reused from m2-" + key + " ("), second.lastLine());
        String secondKey = Files.readString(tmp.resolve("second/cache-key"));
        try (var again = storedEntry(secondKey)) {
            assertTrue(TrustFixtures.indexText(again.object()).startsWith("tekton-caches groups 2\n"));
        }
        Files.write(elsewhere.resolve("pom.xml"), Files.readAllBytes(project.resolve("pom.xml")));
        SortedMap<String, String> now = Fixtures.snapshot(project.resolve("m2"), false);
        assertEquals(ExitStatus.OK, fetch("down-second").status());
        assertEquals(now, Fixtures.snapshot(elsewhere.resolve("m2"), false));
    }

    /** The object with its index written as version 1 wrote it: each line with the group's stored bytes' sha256. */
    private static byte[] version1(byte[] object, List<Store.StoredGroup> groups) {
        String index = TrustFixtures.indexText(object);
        var text = new StringBuilder("tekton-caches groups 1\n").append(index.split("\n")[1]).append('\n');
        for (Store.StoredGroup stored : groups) {
            Store.Group g = stored.group();
            byte[] bytes = Arrays.copyOfRange(object, (int) stored.offset(), (int) (stored.offset() + g.size()));
            text.append(stored.offset()).append(' ').append(g.size()).append(' ').append(Fixtures.sha256(bytes)).append(' ')
                    .append(g.tarBytes()).append(' ').append(g.diffId()).append('\n');
        }
        return TrustFixtures.withIndex(object, text.toString());
    }

    /**
     * What a version of this tool does with an index of a version it does not read (as one reading
     * only version 1 does with version 2): refuses it as one it does not read, not as a broken entry,
     * which a fetch would delete. A malformed line under a heading it knows is a broken entry.
     */
    @Test
    void anIndexOfAnotherVersionIsNotReadNorTakenForABrokenEntry() throws Exception {
        at("file");
        try (var entry = storedEntry(upload("up"))) {
            byte[] object = entry.object();
            String index = TrustFixtures.indexText(object);

            entry.rewrite(TrustFixtures.withIndex(object, index.replace("tekton-caches groups 2\n", "tekton-caches groups 3\n")));
            var later = assertThrows(IOException.class, () -> entry.store().groups(entry.found()));
            assertFalse(later instanceof BadArchive, later.toString());
            assertTrue(later.getMessage().contains("is not one this tool reads"), later.getMessage());
            var fetched = fetch("down");
            assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
            assertTrue(entry.store().find(entry.path()).isPresent(), "an entry of another version is not deleted");

            // A line of version 1 under version 2's heading: malformed.
            List<Store.StoredGroup> groups;
            entry.rewrite(object);
            groups = entry.groups();
            String v1Lines = TrustFixtures.indexText(version1(object, groups)).replace("tekton-caches groups 1\n",
                    "tekton-caches groups 2\n");
            entry.rewrite(TrustFixtures.withIndex(object, v1Lines));
            var malformed = assertThrows(IOException.class, () -> entry.store().groups(entry.found()));
            assertInstanceOf(BadArchive.class, malformed);
            assertTrue(malformed.getMessage().contains("malformed line"), malformed.getMessage());
        }
    }

    /**
     * A version 2 entry, one byte of its big group changed (stored in raw zstd blocks, which carry no
     * checksum): the index names only the tar, whose check refuses it, exit 3, the folder as it was.
     */
    @Test
    void aGroupChangedUnderAVersion2IndexIsRefusedLeavingTheFolderAsItWas() throws Exception {
        at("file");
        try (var entry = storedEntry(upload("up"))) {
            byte[] object = entry.object();
            Store.StoredGroup big = entry.groups().stream()
                    .filter(g -> g.group().tarBytes() > (4 << 20)).findFirst().orElseThrow();
            int at = (int) (big.offset() + big.group().size() / 2);
            for (; ; at += 1000) {
                byte[] changed = object.clone();
                changed[at] ^= 0x55;
                byte[] bytes = Arrays.copyOfRange(changed, (int) big.offset(), (int) (big.offset() + big.group().size()));
                try {
                    assertFalse(big.group().diffId().equals(Compression.tarSha256(new ByteArrayInputStream(bytes))));
                } catch (IOException e) {
                    continue; // a block's header: the decompressor's refusal, not the tar's check
                }
                entry.rewrite(changed);
                break;
            }
        }
        Fixtures.write(elsewhere.resolve("m2/earlier.txt"), "from an earlier restore\n");
        var before = Fixtures.snapshot(elsewhere.resolve("m2"), true);
        var fetched = fetch("down");
        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("'s tar hashes to sha256:"), fetched.err());
        assertEquals(before, Fixtures.snapshot(elsewhere.resolve("m2"), true));
    }

    /** Uploads the project's m2/ under m2-<key>, results into tmp/results; its key. */
    private String upload(String results) throws Exception {
        Files.createDirectories(tmp.resolve(results));
        var run = Fixtures.upload(project, env, "--pattern", "pom.xml", "--folder", "m2", "--target", base + "m2-{{hash}}",
                "--results-dir", tmp.resolve(results).toString());
        assertEquals(ExitStatus.OK, run.status(), run.toString());
        return Files.readString(tmp.resolve(results + "/cache-key"));
    }

    /** An entry as its store holds it: the store (closed with it), the entry's path there, and the object's bytes as first read. */
    private record Stored(Store store, String path, byte[] object) implements AutoCloseable {
        Store.StoredObject found() throws IOException {
            return store.find(path).orElseThrow();
        }

        /** The groups its index lists now. */
        List<Store.StoredGroup> groups() throws IOException {
            return store.groups(found()).orElseThrow().groups();
        }

        /** The entry's object replaced by these bytes. */
        void rewrite(byte[] bytes) throws Exception {
            TrustFixtures.rewrite(store, path, bytes);
        }

        @Override
        public void close() throws IOException {
            store.close();
        }
    }

    /** The entry uploaded under m2-<key>: its store opened and its object read. */
    private Stored storedEntry(String key) throws Exception {
        var target = target("m2-" + key);
        Store store = target.store();
        try {
            return new Stored(store, target.path(), TrustFixtures.bytes(store, target.path()));
        } catch (Exception e) {
            store.close();
            throw e;
        }
    }

    private Fixtures.Run fetch(String results) throws Exception {
        Files.createDirectories(tmp.resolve(results));
        return Fixtures.fetch(elsewhere, env, "--pattern", "pom.xml", "--folder", "m2", "--source", base + "m2-{{hash}}",
                "--results-dir", tmp.resolve(results).toString());
    }

    private Stores.Target target(String name) {
        return Stores.open(URI.create(base + name), false, Duration.ofSeconds(30), new Environment(env), Fixtures.quiet());
    }
}

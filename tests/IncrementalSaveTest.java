import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Constructor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.archive.SafeRestore;
import lib.cli.Fetch;
import lib.cli.Upload;
import lib.common.Environment;
import lib.common.Log;
import lib.store.CacheLookup;
import lib.store.Store;
import lib.store.Stores;
import lib.store.file.FileStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A save with --restore-key after a dependency bump: the groups of the base entry that are the same
 * are reused, not sent again, where the store can (file://, oci://; s3:// is expected to), and every
 * entry still restores exactly the folder as it was when it was saved. Real stores throughout: a
 * folder, a distribution registry, s3proxy and azurite.
 */
class IncrementalSaveTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass();

    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final int ARTIFACTS = 30;

    /** The end of the upload line when groups were reused: total groups, then reused, the base, sent. */
    private static final Pattern REUSED = Pattern.compile(
            " in (\\d+) groups\\) from .*: (\\d+) reused from (\\S+) \\([^)]* not sent\\), (\\d+) sent \\(");
    private static final Pattern GROUPS = Pattern.compile(" in (\\d+) groups\\) from ");
    /** Whatever the line says of why nothing was reused, it ends with "all N sent" or "all N were sent". */
    private static final Pattern ALL_SENT = Pattern.compile(": [^;]*\\ball (\\d+) (?:were )?sent ");

    @TempDir
    Path tmp;

    private Path project;
    private Path m2;
    private Path xdg;
    private int jarBytes = 300 << 10;
    /** A file bump() also rewrites in place, with its size and mtime kept (none when null). */
    private Path alsoRewritten;

    /** Where a test's entries go: the URI before the entry's name, and the environment reaching the store. */
    private record Where(String kind, String base, Map<String, String> env) {
        String target() {
            return base + "m2-{{hash}}";
        }

        String entry(String key) {
            return base + "m2-" + key;
        }
    }

    private Where where(String kind) {
        int n = NAMES.incrementAndGet();
        Map<String, String> env = Fixtures.env(xdg);
        return switch (kind) {
            case "file" -> new Where(kind, "file://" + tmp.resolve("store").toAbsolutePath() + "/", env);
            case "oci" -> new Where(kind, "oci://" + registry.host() + "/incremental/run-" + n + ":", env);
            case "s3" -> new Where(kind, "s3://caches/run-" + n + "/", s3.env(env, s3.endpoint()));
            case "azblob" -> {
                azurite.createContainer("incremental-" + n);
                yield new Where(kind, "azblob://incremental-" + n + "/caches/", azurite.env(env));
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /**
     * A Maven project: a lock file (pom.xml) and a repository of ARTIFACTS artifacts g/aNN/1.0/ of a
     * 300 KiB jar (incompressible) and a small pom, plus a few text files: about 9 MiB, several groups.
     */
    @BeforeEach
    void project() throws Exception {
        xdg = tmp.resolve("xdg");
        project = tmp.resolve("project");
        m2 = project.resolve("m2");
        Fixtures.write(project.resolve("pom.xml"), "<project><!-- dependencies, version 1; " + tmp + " --></project>\n");
        for (int i = 0; i < ARTIFACTS; i++) {
            artifact(i, "1.0", i);
        }
        Fixtures.write(m2.resolve("settings.xml"), "<settings><offline>false</offline></settings>\n");
        Fixtures.write(m2.resolve("g/maven-metadata-local.xml"), "<metadata><groupId>g</groupId></metadata>\n");
        Fixtures.write(m2.resolve("notes/README.txt"), "the local repository of a build\n");
    }

    private void artifact(int i, String version, long seed) throws Exception {
        Fixtures.mavenArtifact(m2, i, version, jarBytes, seed);
    }

    /**
     * A dependency bump: a07 1.0 is replaced by 1.1 (a new jar), a20's pom is rewritten in place with
     * the same size and mtime (only its bytes tell), and the lock file changes. Returns the new pom.
     */
    private String bump() throws Exception {
        SafeRestore.deleteTree(m2.resolve("g/a07/1.0"));
        artifact(7, "1.1", 1007);
        Path pom = m2.resolve("g/a20/1.0/a20-1.0.pom");
        FileTime mtime = Files.getLastModifiedTime(pom);
        String changed = Fixtures.mavenPom(20, "1.0", 'y');
        assertEquals(Files.size(pom), changed.getBytes(StandardCharsets.UTF_8).length);
        Files.writeString(pom, changed, StandardCharsets.UTF_8);
        Files.setLastModifiedTime(pom, mtime);
        assertEquals(mtime, Files.getLastModifiedTime(pom), "the pom keeps its mtime");
        if (alsoRewritten != null) {
            FileTime kept = Files.getLastModifiedTime(alsoRewritten);
            long size = Files.size(alsoRewritten);
            Fixtures.writeRandom(alsoRewritten, size, 999);
            Files.setLastModifiedTime(alsoRewritten, kept);
        }
        Fixtures.write(project.resolve("pom.xml"), "<project><!-- dependencies, version 2; " + tmp + " --></project>\n");
        return changed;
    }

    private Fixtures.Run upload(Where where, String... more) throws Exception {
        var run = Fixtures.upload(project, where.env(), uploadArguments(where, more));
        assertEquals(0, run.status(), run.toString());
        return run;
    }

    private String key() throws Exception {
        return Files.readString(tmp.resolve("up/cache-key"));
    }

    /** Fetches the entry of this key by its full name into a new folder, and returns the folder's snapshot. */
    private SortedMap<String, String> fetched(Where where, String key, String folder) throws Exception {
        Path restored = tmp.resolve(folder);
        var run = Fixtures.fetch(project, where.env(), "--source", where.entry(key), "--folder", restored.toString(),
                "--pattern", "pom.xml", "--results-dir", tmp.resolve("down-" + folder).toString());
        assertEquals(0, run.status(), run.toString());
        assertEquals("true", Files.readString(tmp.resolve("down-" + folder + "/fetched")), run.toString());
        return Fixtures.snapshot(restored, false);
    }

    /** What two saves with a bump between them did: the second's upload line, and both keys. */
    private record Saves(String firstKey, String secondKey, String line, int firstGroups) {}

    /** Saves, bumps, saves again with --restore-key m2-, and checks that both entries restore as saved. */
    private Saves saveBumpSave(Where where, String... firstOptions) throws Exception {
        var first = upload(where, firstOptions);
        String firstKey = key();
        Matcher groups = GROUPS.matcher(first.lastLine());
        int firstGroups = groups.find() ? Integer.parseInt(groups.group(1)) : 1;
        var before = Fixtures.snapshot(m2, false);

        String newPom = bump();
        var after = Fixtures.snapshot(m2, false);
        var second = upload(where, "--restore-key", "m2-");
        String secondKey = key();
        assertNotEquals(firstKey, secondKey, "the lock file changed");

        assertEquals(before, fetched(where, firstKey, "first"));
        assertEquals(after, fetched(where, secondKey, "second"));
        assertEquals(newPom, Files.readString(tmp.resolve("second/g/a20/1.0/a20-1.0.pom")),
                "the pom changed with the same size and mtime has its new content");
        assertFalse(Files.exists(tmp.resolve("second/g/a07/1.0")), "the removed version is not restored");
        return new Saves(firstKey, secondKey, second.lastLine(), firstGroups);
    }

    /** The second save reused all but at most 3 of its groups from the first. */
    private static void assertReused(Saves saves) {
        assertReused(saves, 3);
    }

    /** The second save reused all but at most mostSent of its groups from the first. */
    private static void assertReused(Saves saves, int mostSent) {
        assertTrue(saves.firstGroups() >= 5, "the first save made " + saves.firstGroups() + " groups: the test needs several");
        assertTrue(saves.line().contains(" reused from m2-" + saves.firstKey() + " ("), saves.line());
        Matcher m = REUSED.matcher(saves.line());
        assertTrue(m.find(), saves.line());
        int total = Integer.parseInt(m.group(1));
        int reused = Integer.parseInt(m.group(2));
        int sent = Integer.parseInt(m.group(4));
        assertEquals("m2-" + saves.firstKey(), m.group(3));
        assertEquals(total, reused + sent, saves.line());
        assertTrue(sent <= mostSent, sent + " groups sent for a bump of one artifact and one pom: " + saves.line());
        assertTrue(reused >= 2, saves.line());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "oci"})
    void aSaveAfterADependencyBumpReusesTheUnchangedGroupsOfTheBase(String kind) throws Exception {
        Where where = where(kind);
        Saves saves = saveBumpSave(where);
        assertReused(saves);
        if (kind.equals("file")) {
            Path object = tmp.resolve("store/m2-" + saves.secondKey());
            assertEquals(Long.toString(Files.size(object)), Files.readString(tmp.resolve("up/size")));
        } else {
            // The image references the base's layers: most of its layer digests are the first image's.
            Set<String> first = layers("m2-" + saves.firstKey(), where);
            List<String> second = List.copyOf(layersInOrder("m2-" + saves.secondKey(), where));
            long shared = second.stream().filter(first::contains).count();
            assertTrue(shared >= second.size() - 3, shared + " of " + second.size() + " layers shared with the base");
        }
    }

    /**
     * Files bigger than a group made in memory (GroupWriter.SMALL, 4 MiB) are each a group of their
     * own, digested first and compressed only if the base does not have them: of three 5 MiB jars,
     * the one rewritten in place (size and mtime kept) is sent, the two others are reused.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "oci"})
    void bigFilesAreReusedUnlessTheirBytesChanged(String kind) throws Exception {
        for (int i = 0; i < 3; i++) {
            Fixtures.writeRandom(m2.resolve(String.format("big/b%d/1.0/b%d-1.0.jar", i, i)), 5 << 20, 500 + i);
        }
        alsoRewritten = m2.resolve("big/b1/1.0/b1-1.0.jar");
        Saves saves = saveBumpSave(where(kind));
        Matcher m = REUSED.matcher(saves.line());
        assertTrue(m.find(), saves.line());
        int sent = Integer.parseInt(m.group(4));
        assertTrue(sent >= 1 && sent <= 4, sent + " groups sent for a bump and one big jar rewritten: " + saves.line());
        assertTrue(saves.line().matches(".* \\(([2-9][0-9]|1[0-9])\\.[0-9] MB not sent\\).*"),
                "the two big jars left as they were, 10 MiB, are among what was not sent: " + saves.line());
    }

    /**
     * s3:// is to reuse as file:// does, by copies on the server's side (UploadPartCopy); until it
     * does, this test fails. S3 copies parts of 5 MiB at least, and a shorter run of reused groups is
     * streamed (and counted as sent), so the jars here are of 1 MiB: the runs of unchanged groups
     * between the two changes are of 7, 12 and 9 MiB. A jar of 1 MiB is as big as the least target
     * (GroupPlan), so each is a group of its own: the bumped one's, and the groups before it (its
     * folders) and after it (its pom), are sent, and a20's pom's.
     */
    @Test
    void aSaveToS3AfterADependencyBumpReusesTheUnchangedGroupsOfTheBase() throws Exception {
        jarBytes = 1 << 20;
        for (int i = 0; i < ARTIFACTS; i++) {
            artifact(i, "1.0", i);
        }
        assertReused(saveBumpSave(where("s3")), 4);
    }

    /** azblob:// does not reuse yet: every group is sent, and the entry is whole. */
    @Test
    void aSaveToAzureAfterADependencyBumpSendsEveryGroupAndRestoresWhole() throws Exception {
        Saves saves = saveBumpSave(where("azblob"));
        assertFalse(saves.line().contains(" reused from "), saves.line());
        Matcher groups = GROUPS.matcher(saves.line());
        assertTrue(groups.find(), saves.line());
        Matcher all = ALL_SENT.matcher(saves.line());
        assertTrue(all.find(), saves.line());
        assertEquals(groups.group(1), all.group(1), "every group was sent: " + saves.line());
        assertTrue(saves.line().contains("m2-" + saves.firstKey()), "the line names the base: " + saves.line());
    }

    /** An uncompressed entry is one stream: no groups to take, so everything is sent, and said so. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "azblob"})
    void aBaseOfOneStreamReusesNothingAndTheEntryRestoresWhole(String kind) throws Exception {
        Saves saves = saveBumpSave(where(kind), "--compression", "none");
        assertTrue(saves.line().contains(": nothing reused, m2-" + saves.firstKey() + " is one stream"), saves.line());
        assertFalse(saves.line().contains(" reused from "), saves.line());
    }

    /** On oci:// an uncompressed entry is an image of one tar layer: nothing of it is reused by a zstd save. */
    @Test
    void anOciBaseOfAnotherCompressionReusesNothingAndTheEntryRestoresWhole() throws Exception {
        Where where = where("oci");
        Saves saves = saveBumpSave(where, "--compression", "none");
        assertFalse(saves.line().contains(" reused from "), saves.line());
        assertTrue(saves.line().contains("m2-" + saves.firstKey()), "the line names the base: " + saves.line());
        Set<String> first = layers("m2-" + saves.firstKey(), where);
        assertTrue(layersInOrder("m2-" + saves.secondKey(), where).stream().noneMatch(first::contains));
    }

    // -- A base that disappears between the lookup and the write, at the library level, with real stores.

    private static Log quiet() {
        return new Log(new PrintStream(OutputStream.nullOutputStream()), false);
    }

    /**
     * Upload.Base, as Upload.run makes it. Its constructor is package-private in lib.cli, out of the
     * tests' reach (they are in the default package), so it is called by reflection.
     */
    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Optional baseOf(CacheLookup.Match match, Optional<Store.Groups> groups) throws Exception {
        Class<?> type = Class.forName("lib.cli.Upload$Base");
        Constructor<?> constructor = type.getDeclaredConstructor(String.class, Store.StoredObject.class, Optional.class);
        constructor.setAccessible(true);
        return Optional.of(constructor.newInstance(match.name(), match.object(), groups));
    }

    /** Upload.write into a new entry of the store, committed; what was sent and reused. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    private Store.Sent write(Store store, String name, Optional base) throws Exception {
        try (Store.EntryWrite entry = store.createEntry(name, Compression.ZSTD)) {
            var written = Upload.write(m2, Compression.ZSTD, base, entry, new Meter("uploading", quiet(), System::nanoTime));
            assertTrue(entry.commit(written.description(name, null), written.level()), "a new entry is stored");
            return entry.sent();
        }
    }

    /** Restores the entry with Fetch.restore, as cache-fetch does, and returns the folder's snapshot. */
    private SortedMap<String, String> restored(Store store, String name) throws Exception {
        Path folder = tmp.resolve("restored-" + name);
        Fetch.restore(store, store.find(name).orElseThrow(), folder, new Meter("restoring", quiet(), System::nanoTime));
        return Fixtures.snapshot(folder, false);
    }

    @Test
    void aFileBaseDeletedBeforeTheWriteIsSentInstead() throws Exception {
        Where where = where("file");
        upload(where);
        String firstKey = key();
        bump();
        Path folder = tmp.resolve("store");
        var store = new FileStore(folder);
        var match = CacheLookup.find(store, "m2-next", List.of("m2-")).orElseThrow();
        assertEquals("m2-" + firstKey, match.name());
        var groups = store.groups(match.object());
        assertTrue(groups.isPresent() && groups.get().groups().size() >= 5, "the base has several groups: " + groups);
        var base = baseOf(match, groups);

        // The same base, still there: groups are reused, so the write below could reuse them too.
        Store.Sent control = write(store, "m2-control", base);
        assertTrue(control.groupsReused() > 0, "the base's groups are reused while it is there: " + control);

        Files.delete(folder.resolve(match.object().path()));
        Store.Sent sent = write(store, "m2-next", base);

        assertEquals(0, sent.groupsReused(), sent.toString());
        assertEquals(control.groupsReused() + control.groupsSent(), sent.groupsSent(), "every group was sent: " + sent);
        var expected = Fixtures.snapshot(m2, false);
        assertEquals(expected, restored(store, "m2-next"));
        assertEquals(expected, restored(store, "m2-control"));
    }

    @Test
    void anOciLayerDeletedBeforeTheWriteIsSentInstead() throws Exception {
        Where where = where("oci");
        upload(where);
        String firstKey = key();
        String repository = where.base().substring(("oci://" + registry.host() + "/").length(), where.base().length() - 1);
        Stores.Target target = Stores.open(URI.create(where.base() + "m2-next"), false, Duration.ofSeconds(30),
                new Environment(where.env()), quiet());
        try (Store store = target.store()) {
            var match = CacheLookup.find(store, target.path(), List.of("m2-")).orElseThrow();
            assertEquals("m2-" + firstKey, match.name());
            var groups = store.groups(match.object());
            assertTrue(groups.isPresent() && groups.get().groups().size() >= 5, "the base has several layers: " + groups);
            var base = baseOf(match, groups);
            Store.Group gone = groups.get().groups().get(groups.get().groups().size() / 2).group();

            var http = HttpClient.newHttpClient();
            String blob = "http://" + registry.host() + "/v2/" + repository + "/blobs/sha256:" + gone.sha256();
            var deleted = http.send(HttpRequest.newBuilder(URI.create(blob)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(202, deleted.statusCode(), deleted.body());
            var head = http.send(HttpRequest.newBuilder(URI.create(blob)).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(404, head.statusCode(), "the layer is gone from the repository");

            // The folder is as the base saved it: every group is the same, only the one deleted cannot be reused.
            Store.Sent sent = write(store, target.path(), base);

            assertEquals(1, sent.groupsSent(), sent.toString());
            assertEquals(groups.get().groups().size() - 1, sent.groupsReused(), sent.toString());
            var written = store.groups(store.find(target.path()).orElseThrow()).orElseThrow();
            assertTrue(written.groups().stream().anyMatch(g -> g.group().diffId().equals(gone.diffId())),
                    "the deleted group is part of the new entry");
            assertEquals(Fixtures.snapshot(m2, false), restored(store, target.path()));
        }
    }

    /**
     * The window between the base's check and the commit: cache-upload is stopped as it commits, the
     * base object is deleted, and the server's copy of its groups fails (404). Nothing is stored by
     * that attempt; the entry is written again without a base, whole.
     */
    @Test
    void anS3BaseDeletedAsTheUploadCommitsIsUploadedAgainWithoutIt() throws Exception {
        jarBytes = 1 << 20; // runs of reused groups of 5 MiB or more: copied at the commit
        for (int i = 0; i < ARTIFACTS; i++) {
            artifact(i, "1.0", i);
        }
        Where where = where("s3");
        upload(where);
        String baseKey = where.base().substring("s3://caches/".length()) + "m2-" + key();
        bump();
        var run = StoppedScript.run("lib.store.s3.S3EntryWrite", "commit",
                () -> s3.client().deleteObject(b -> b.bucket("caches").key(baseKey)), "CacheUpload", project, where.env(),
                uploadArguments(where, "--restore-key", "m2-"));
        assertAgainWithoutTheBase(where, run);
    }

    /** The same on a registry: the base's layers, which the new image references, are deleted just before its manifest is put. */
    @Test
    void anOciLayerDeletedAsTheUploadCommitsIsUploadedAgainWithoutIt() throws Exception {
        Where where = where("oci");
        upload(where);
        String firstKey = key();
        String repository = where.base().substring(("oci://" + registry.host() + "/").length(), where.base().length() - 1);
        List<String> layers = List.copyOf(layersInOrder("m2-" + firstKey, where));
        bump();
        var run = StoppedScript.run("lib.store.oci.OciStore", "image", () -> {
            for (String gone : layers) {
                var deleted = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + registry.host() + "/v2/"
                        + repository + "/blobs/" + gone)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(202, deleted.statusCode(), deleted.body());
            }
        }, "CacheUpload", project, where.env(), uploadArguments(where, "--restore-key", "m2-"));
        assertAgainWithoutTheBase(where, run);
    }

    private String[] uploadArguments(Where where, String... more) {
        return Stream.concat(Stream.of("--target", where.target(), "--folder", "m2", "--pattern", "pom.xml",
                "--results-dir", tmp.resolve("up").toString()), Stream.of(more)).toArray(String[]::new);
    }

    private void assertAgainWithoutTheBase(Where where, Fixtures.Run run) throws Exception {
        assertEquals(0, run.status(), run.toString());
        assertTrue(run.err().contains(" changed while this upload ran ("), run.err());
        assertTrue(run.err().contains("): uploading again without it"), run.err());
        assertTrue(run.lastLine().startsWith("uploaded ") && !run.lastLine().contains("reused from"), run.lastLine());
        assertEquals(Fixtures.snapshot(m2, false), fetched(where, key(), "again"));
    }

    // -- The registry's view of an image.

    private Set<String> layers(String tag, Where where) throws Exception {
        return new HashSet<>(layersInOrder(tag, where));
    }

    private List<String> layersInOrder(String tag, Where where) throws Exception {
        String repository = where.base().substring(("oci://" + registry.host() + "/").length(), where.base().length() - 1);
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://" + registry.host() + "/v2/" + repository + "/manifests/" + tag))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        String layers = response.body().substring(response.body().indexOf("\"layers\""));
        Matcher m = Pattern.compile("\"digest\":\"(sha256:[0-9a-f]{64})\"").matcher(layers);
        return m.results().map(r -> r.group(1)).toList();
    }
}

//DEPS com.google.cloud:google-cloud-nio:0.135.0

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.archive.SafeRestore;
import lib.cli.Fetch;
import lib.cli.Upload;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.common.UsageError;
import lib.store.BlobUri;
import lib.store.RangedDownload;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.TemporaryName;
import lib.store.gcs.GcsStore;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gs:// through the Store API against google-cloud-nio's LocalStorageHelper: an in-process FAKE of
 * the storage service that lives in the SDK's own RPC layer, not a GCS server. What it shows is
 * that GcsStore drives the SDK correctly (resumable chunks, rewrite with metadata and its
 * precondition, deletes, listing) and that what it stores restores through the same Meter and
 * SafeRestore calls as cache-fetch. It cannot show how real GCS answers (errors, permissions, a
 * missing bucket: the fake has no buckets; a failed precondition: the fake does not answer 412),
 * and it has no compose: that is why commit rewrites instead. The scripts'
 * STORAGE_EMULATOR_HOST handling is tested as far as it goes without a server: a closed port.
 */
class GcsStoreOnFakeStorageTest {

    private static final String BUCKET = "caches";

    @TempDir
    Path tmp;

    private Storage fake;
    private GcsStore store;
    private final ByteArrayOutputStream messages = new ByteArrayOutputStream();

    @BeforeEach
    void fakeStorage() {
        // A fresh fake for each test; customOptions(false) accepts the preconditions (ifGenerationMatch)
        // that getOptions()'s shared instance refuses.
        fake = LocalStorageHelper.customOptions(false).getService();
        store = new GcsStore(fake, BUCKET, "the fake", new Log(new PrintStream(messages, true, StandardCharsets.UTF_8), false));
    }

    /** What Upload.run does between the folder and the store, and what it commits. */
    private Uploaded upload(String name, Path folder, Compression compression) throws IOException {
        try (Store.EntryWrite upload = store.createEntry(name, compression)) {
            var written = Upload.write(folder, compression, Optional.empty(), upload, new Meter("uploading", quiet(), System::nanoTime));
            assertTrue(upload.commit(written.description(name, null), written.level()), "a new object is stored");
        }
        var stored = store.find(name).orElseThrow();
        return new Uploaded(stored.sha256().orElseThrow(), stored.size());
    }

    /** The digest the store recorded for an upload (its index's, for an entry of groups), and its size. */
    private record Uploaded(String sha256, long size) {}

    /** What Fetch.run does between the store and the folder: the digest the store recorded checked while restoring. */
    private SafeRestore.Stats restore(String name, Path folder) throws IOException {
        return Fetch.restore(store, store.find(name).orElseThrow(), folder, new Meter("restoring", quiet(), System::nanoTime));
    }

    private static Log quiet() {
        return new Log(new PrintStream(OutputStream.nullOutputStream()), false);
    }

    /** Every object name in the bucket, temporary ones included. */
    private List<String> names() {
        var names = new ArrayList<String>();
        fake.list(BUCKET).iterateAll().forEach(blob -> names.add(blob.getName()));
        names.sort(null);
        return names;
    }

    /**
     * GCS copies no group on its side (no compose nor rewrite proven on the fake): a save with a
     * base sends every group, counts those the base had, and its entry restores whole.
     */
    @Test
    void aSaveWithABaseSendsEveryGroupAndCountsTheOnesTheBaseHad() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        for (int i = 0; i < 6; i++) {
            Fixtures.writeRandom(cache.resolve("jars/lib-" + i + ".jar"), 700 * 1024, 40 + i);
        }
        upload("ci/m2-base", cache, Compression.ZSTD);
        var object = store.find("ci/m2-base").orElseThrow();
        var groups = store.groups(object);
        assertTrue(groups.isPresent() && groups.get().groups().size() > 1, "an entry of several groups: " + groups);
        var base = new Upload.Base("m2-base", object, groups);

        Upload.Written written;
        Store.Sent sent;
        try (Store.EntryWrite next = store.createEntry("ci/m2-next", Compression.ZSTD)) {
            written = Upload.write(cache, Compression.ZSTD, Optional.of(base), next, new Meter("uploading", quiet(), System::nanoTime));
            assertTrue(next.commit(written.description("next", null), written.level()));
            sent = next.sent();
        }

        assertEquals(0, sent.groupsReused());
        assertEquals(groups.get().groups().size(), sent.groupsSent());
        assertEquals(groups.get().groups().size(), written.matched(), "every group was the base's, and was sent all the same");
        Path restored = tmp.resolve("restored");
        restore("ci/m2-next", restored);
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }

    @Test
    void aTreeGoesUpInSeveralResumableChunksAndRestoresWithItsDigestChecked() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 2L * GcsStore.CHUNK_BYTES + 3 * Fixtures.MiB);

        var uploaded = upload("maven/key1", cache, Compression.ZSTD);

        var found = store.find("maven/key1").orElseThrow();
        assertTrue(found.size() > GcsStore.CHUNK_BYTES, "the archive needs more than one chunk: " + found.size());
        assertEquals(uploaded.size(), found.size());
        assertEquals(uploaded.sha256(), found.sha256().orElseThrow());
        assertEquals(uploaded.sha256(), fake.get(BlobId.of(BUCKET, "maven/key1")).getMetadata().get(BlobUri.SHA256_METADATA));
        assertEquals("application/zstd", fake.get(BlobId.of(BUCKET, "maven/key1")).getContentType());
        assertEquals(List.of("maven/key1"), names(), "the temporary object is deleted after commit");

        Path restored = tmp.resolve("restored");
        restore("maven/key1", restored);
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
        assertEquals("", messages.toString(StandardCharsets.UTF_8), "no note about a temporary object left behind");
    }

    @Test
    void aBigObjectIsReadInRangedPiecesThatFollowEachOther() throws Exception {
        // Past RangedDownload.WORTH_IT, and not a whole number of pieces: read by several ranges at once.
        Path big = tmp.resolve("big.bin");
        Fixtures.writeRandom(big, RangedDownload.WORTH_IT + 3 * Fixtures.MiB + 12345, 11);
        fake.createFrom(BlobInfo.newBuilder(BUCKET, "big/key").build(), big);
        var found = store.find("big/key").orElseThrow();

        for (long offset : new long[] {0, 9 * Fixtures.MiB + 5}) {
            try (var read = store.open(found, offset); var written = Files.newInputStream(big)) {
                written.skipNBytes(offset);
                assertEquals(sha256(written), sha256(read), "from byte " + offset);
            }
        }
    }

    /** The stream's digest and length. */
    private static String sha256(InputStream in) throws IOException {
        var digest = Digests.sha256();
        long length = in.transferTo(new DigestOutputStream(OutputStream.nullOutputStream(), digest));
        return Digests.hex(digest.digest()) + " of " + length + " bytes";
    }

    /** What --keep does with an old entry (RetentionTest runs it on the stores with servers). */
    @Test
    void deletingAnEntryLeavesTheOthers() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        upload("m2-old", cache, Compression.ZSTD);
        upload("m2-new", cache, Compression.ZSTD);

        var old = store.list("m2-").stream().filter(o -> o.path().equals("m2-old")).findFirst().orElseThrow();
        store.delete(old);
        store.delete(new Store.StoredObject("m2-gone", 0, Optional.empty(), Instant.EPOCH, null));

        assertEquals(List.of("m2-new"), names());
        assertThrows(Store.EntryGone.class, () -> store.open(old).readAllBytes(), "a fetch takes it for a miss");
    }

    @Test
    void aMissingObjectIsAMiss() throws Exception {
        assertTrue(store.find("never/written").isEmpty());
    }

    @Test
    void anUploadClosedWithoutCommitLeavesTheEarlierObjectAndNoTemporary() throws Exception {
        Path first = tmp.resolve("first");
        Fixtures.richTree(first, 0);
        var earlier = upload("go/key", first, Compression.GZIP);

        try (Store.PendingWrite abandoned = store.create("go/key")) {
            byte[] junk = new byte[(int) Fixtures.MiB];
            for (int i = 0; i < GcsStore.CHUNK_BYTES / junk.length + 2; i++) {
                abandoned.stream().write(junk); // more than a chunk, so the session has sent data
            }
        }

        assertEquals(List.of("go/key"), names());
        var kept = store.find("go/key").orElseThrow();
        assertEquals(earlier.sha256(), kept.sha256().orElseThrow());
        assertEquals(earlier.size(), kept.size());
        Path restored = tmp.resolve("restored");
        restore("go/key", restored);
        assertEquals(Fixtures.snapshot(first, false), Fixtures.snapshot(restored, false));
    }

    @Test
    void anUploadClosedWithoutCommitWhereNothingWasLeavesNothing() throws Exception {
        try (Store.PendingWrite abandoned = store.create("fresh/key")) {
            abandoned.stream().write("half an archive".getBytes(StandardCharsets.UTF_8));
        }
        assertEquals(List.of(), names());
        assertTrue(store.find("fresh/key").isEmpty());
    }

    /**
     * The rewrite onto the name carries ifGenerationMatch=0. The fake honours it, though not as GCS
     * answers (412, which makes commit return false): it throws FileAlreadyExistsException, which
     * commit reports as a failure. Either way the object stays as it was.
     */
    @Test
    void anUploadOntoATakenNameIsRefusedAndLeavesTheObjectAsItWas() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        var first = upload("taken/key", cache, Compression.GZIP);
        long generation = fake.get(BlobId.of(BUCKET, "taken/key")).getGeneration();
        Fixtures.write(cache.resolve("which.txt"), "another archive for the same key");

        try (Store.EntryWrite again = store.createEntry("taken/key", Compression.GZIP)) {
            var written = Upload.write(cache, Compression.GZIP, Optional.empty(), again, new Meter("uploading", quiet(), System::nanoTime));
            assertThrows(IOException.class, () -> again.commit(written.description("k", null), written.level()));
        }

        assertEquals(generation, fake.get(BlobId.of(BUCKET, "taken/key")).getGeneration());
        assertEquals(first.sha256(), store.find("taken/key").orElseThrow().sha256().orElseThrow());
        assertEquals(List.of("taken/key"), names(), "the refused upload's temporary object is deleted");
    }

    @Test
    void anObjectWhoseBytesDisagreeWithItsRecordedDigestFailsAndLeavesTheFolder() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        var uploaded = upload("bad/key", cache, Compression.NONE);
        byte[] bytes = fake.readAllBytes(BlobId.of(BUCKET, "bad/key"));
        // Inside a file's content: the tar stays well-formed, only the digest can tell.
        int content = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf("linked twice\n");
        assertTrue(content > 0, "hard/one.txt's content is in the uncompressed archive");
        bytes[content] ^= 0x01;
        fake.create(BlobInfo.newBuilder(BUCKET, "bad/key").setMetadata(Map.of(BlobUri.SHA256_METADATA, uploaded.sha256())).build(), bytes);
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        var e = assertThrows(Meter.DigestMismatch.class, () -> restore("bad/key", folder));

        assertTrue(e.getMessage().startsWith("archive digest mismatch: the store recorded sha256:" + uploaded.sha256()), e.getMessage());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @Test
    void aGoToolObjectWithoutMetadataRestores() throws Exception {
        var tarGz = new ByteArrayOutputStream();
        try (var tar = new TarArchiveOutputStream(new GZIPOutputStream(tarGz))) {
            // As the Go tekton-caches writes entries: a "." root, names without "./", everything 0775.
            for (String name : new String[] {".", "pkg", "pkg/mod/cache.txt"}) {
                boolean dir = !name.endsWith(".txt");
                var entry = new TarArchiveEntry(dir ? name + "/" : name);
                entry.setMode(dir ? 040775 : 0100775);
                byte[] content = ("content of " + name).getBytes(StandardCharsets.UTF_8);
                entry.setSize(dir ? 0 : content.length);
                tar.putArchiveEntry(entry);
                if (!dir) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
        }
        fake.create(BlobInfo.newBuilder(BUCKET, "go/abc").build(), tarGz.toByteArray());

        assertTrue(store.find("go/abc").orElseThrow().sha256().isEmpty());
        Path folder = tmp.resolve("gomod");
        var restored = restore("go/abc", folder);

        assertEquals(1, restored.files());
        assertEquals("content of pkg/mod/cache.txt", Files.readString(folder.resolve("pkg/mod/cache.txt")));
    }

    @Test
    void listingFindsTheObjectsWithAPrefixButNoTemporaryOnes() throws Exception {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        var written = new TreeMap<String, String>();
        for (String name : new String[] {"ci/maven-linux-1", "ci/maven-linux-2", "ci/npm-linux-1"}) {
            Fixtures.write(cache.resolve("which.txt"), name);
            written.put(name, upload(name, cache, Compression.ZSTD).sha256());
        }

        try (Store.PendingWrite inProgress = store.create("ci/maven-linux-3")) {
            inProgress.stream().write(1);
            // The fake shows an upload's object from its start (GCS only once finished, or when a
            // commit failed after it); either way a listing must not offer it.
            assertTrue(names().stream().anyMatch(n -> n.startsWith("ci/maven-linux-3" + TemporaryName.MARKER)), names().toString());
            var listed = new TreeMap<String, String>();
            for (var object : store.list("ci/maven-")) {
                listed.put(object.path(), object.sha256().orElseThrow());
                assertTrue(object.size() > 0 && object.modified().isAfter(Instant.now().minusSeconds(600)), object.toString());
            }
            written.remove("ci/npm-linux-1");
            assertEquals(written, listed);
        }
        assertTrue(store.list("nothing/").isEmpty());
    }

    @Test
    void anUnknownParameterIsAUsageErrorBeforeAnythingIsReached() throws Exception {
        var location = StoreUri.parse("--source", "gs://b/caches/{{hash}}?anonymous=true").resolve("k");
        var fromQuery = assertThrows(UsageError.class, () -> Stores.open(
                StoreUri.parse("--source", "gs://b/{{hash}}?region=us").resolve("k"), false, java.time.Duration.ofSeconds(30),
                new Environment(Map.of()), quiet()));
        var fromEnvironment = assertThrows(UsageError.class, () -> Stores.open(location, false, java.time.Duration.ofSeconds(30),
                new Environment(Map.of("BLOB_QUERY_PARAMS", "?endpoint=http://x")), quiet()));

        assertTrue(fromQuery.getMessage().contains("'region' is not a parameter of gs:// stores; known: access_id, anonymous, private_key_path"),
                fromQuery.getMessage());
        assertTrue(fromEnvironment.getMessage().startsWith("BLOB_QUERY_PARAMS: 'endpoint' is not a parameter of gs://"),
                fromEnvironment.getMessage());
        var notAFlag = assertThrows(UsageError.class, () -> Stores.open(StoreUri.parse("--source", "gs://b/{{hash}}?anonymous=maybe")
                .resolve("k"), false, java.time.Duration.ofSeconds(30), new Environment(Map.of("STORAGE_EMULATOR_HOST", "127.0.0.1:1")),
                quiet()));
        assertEquals("parameter anonymous=maybe is not true or false", notAFlag.getMessage());
    }

    @Test
    void aCredentialsFileThatIsMissingOrNotJsonIsAUsageError() throws Exception {
        Path project = project();
        Path notJson = tmp.resolve("key.json");
        Files.writeString(notJson, "not json");
        for (var entry : Map.of(tmp.resolve("absent.json").toString(), "does not exist",
                notJson.toString(), "is not a Google credentials JSON file").entrySet()) {
            var env = Fixtures.env(tmp.resolve("xdg"));
            env.remove("STORAGE_EMULATOR_HOST");
            env.put("GOOGLE_APPLICATION_CREDENTIALS", entry.getKey());

            var run = Fixtures.fetch(project, env, "--source", "gs://b/caches/{{hash}}", "--folder", "cache");

            assertEquals(ExitStatus.USAGE, run.status(), run.toString());
            assertTrue(run.err().startsWith("cache-fetch: GOOGLE_APPLICATION_CREDENTIALS " + entry.getKey() + " " + entry.getValue()),
                    run.toString());
            assertEquals(1, run.err().lines().count(), run.toString());
        }
    }

    @Test
    void anEmulatorHostThatIsNotListeningFailsFastInOneLine() throws Exception {
        Path project = project();
        int closed = Fixtures.freePort();
        Path folder = tmp.resolve("folder");
        for (String host : new String[] {"http://127.0.0.1:" + closed, "127.0.0.1:" + closed}) {
            var env = Fixtures.env(tmp.resolve("xdg"));
            env.put("STORAGE_EMULATOR_HOST", host);
            for (String[] args : new String[][] {{"CacheFetch", "--source", "gs://bucket/caches/{{hash}}", "--folder", folder.toString()},
                    {"CacheUpload", "--target", "gs://bucket/caches/{{hash}}", "--folder", "cache"}}) {
                long started = System.nanoTime();
                var run = Fixtures.script(List.of(), args[0], project, env, java.util.Arrays.copyOfRange(args, 1, args.length));
                double seconds = (System.nanoTime() - started) / 1e9;

                assertEquals(ExitStatus.STORE, run.status(), run.toString());
                assertEquals(1, run.err().lines().count(), run.toString());
                assertTrue(run.err().contains(" gs://bucket/caches/"), run.toString());
                assertTrue(run.err().strip().endsWith(": cannot reach STORAGE_EMULATOR_HOST http://127.0.0.1:" + closed + ": connection refused"),
                        run.toString());
                assertTrue(seconds < 10, args[0] + " took " + seconds + " s");
            }
            assertFalse(Files.exists(folder));
        }
    }

    private Path project() throws IOException {
        Path project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/m\n");
        Fixtures.write(project.resolve("cache/a.txt"), "a\n");
        return project;
    }
}

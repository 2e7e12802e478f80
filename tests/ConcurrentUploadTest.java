import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.Log;
import lib.store.BlobUri;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.azure.AzureBlockUpload;
import lib.store.file.FileStore;
import lib.store.gcs.GcsStore;
import lib.store.oci.OciStore;
import lib.store.s3.S3MultipartUpload;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Two uploads of different archives to one path, meeting at a barrier and committing at the same
 * moment, on every store through a real server (GCS through the SDK's in-process fake): a save
 * never replaces what is there, and what is there is one writer's whole archive with its digest.
 * And a reader whose entry another writer replaces reads what it found, or fails.
 */
class ConcurrentUploadTest {

    private static final AtomicInteger KEYS = new AtomicInteger();

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass();
    static S3Client s3Client;
    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass();
    static BlobContainerClient container;
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @TempDir
    Path tmp;

    @BeforeAll
    static void storesOnTheServers() throws Exception {
        s3.createBucket("caches");
        s3Client = s3.client();
        container = azurite.createContainer("races");
    }

    @AfterAll
    static void closeClient() {
        if (s3Client != null) {
            s3Client.close();
        }
    }

    /** A new client of the store a case names, as another process would open it, and the object's path for the key. */
    private Stores.Target open(String kind, String key) {
        String uri = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/{{hash}}";
            case "s3", "s3-multipart" -> "s3://caches/races/{{hash}}";
            case "azblob" -> "azblob://races/caches/{{hash}}";
            case "oci" -> "oci://" + registry.host() + "/races/tags:{{hash}}";
            default -> throw new IllegalArgumentException(kind);
        };
        var env = Fixtures.env(tmp.resolve("xdg"));
        env = switch (kind) {
            case "s3", "s3-multipart" -> s3.env(env, s3.endpoint());
            case "azblob" -> azurite.env(env);
            default -> env;
        };
        return Stores.open(new StoreUri(uri).resolve(key), false, java.time.Duration.ofSeconds(30), new Environment(env), quiet());
    }

    /** Two archives of the size a case needs: one part or several of S3, several Azure blocks. */
    private static byte[][] archives(String kind) {
        int size = switch (kind) {
            case "s3-multipart" -> S3MultipartUpload.PART + 3 * (int) Fixtures.MiB;
            case "azblob" -> 2 * AzureBlockUpload.BLOCK + 12345;
            default -> 100_000;
        };
        return new byte[][] {random(size, 1), random(size, 2)};
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "s3-multipart", "azblob"})
    void ofTwoUploadsCommittingAtOnceExactlyOneStoresItsArchiveWholeAndNothingTemporaryStays(String kind) throws Exception {
        int rounds = kind.equals("file") ? 20 : kind.equals("s3") ? 5 : 2;
        for (int round = 0; round < rounds; round++) {
            String key = String.format("race-%04d", KEYS.incrementAndGet());
            byte[][] archives = archives(kind);
            var first = open(kind, key);
            var second = open(kind, key);
            try (Store a = first.store(); Store b = second.store()) {
                boolean[] stored = race(a, b, first.path(), archives);

                assertTrue(stored[0] ^ stored[1], "round " + round + ": commits returned " + stored[0] + " and " + stored[1]);
                assertHolds(a, first.path(), stored[0] ? archives[0] : archives[1]);
            }
            assertNothingTemporary(kind, first.path());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "s3-multipart", "azblob", "oci"})
    void aCommitOntoAnExistingObjectReturnsFalseAndLeavesItByteIdentical(String kind) throws Exception {
        String key = String.format("taken-%04d", KEYS.incrementAndGet());
        byte[][] archives = archives(kind);
        var target = open(kind, key);
        try (Store store = target.store()) {
            assertTrue(put(store, target.path(), archives[0]));
            var before = store.find(target.path()).orElseThrow();

            assertFalse(put(store, target.path(), archives[1]));

            assertHolds(store, target.path(), archives[0]);
            assertEquals(before.modified(), store.find(target.path()).orElseThrow().modified());
        }
        assertNothingTemporary(kind, target.path());
    }

    /**
     * An entry found, by its key or in a restore key's listing, then replaced by another writer
     * before it is read: the read gives the bytes found, or fails saying so, and never the new
     * bytes under the size and digest found. Not on the GCS fake, whose reads ignore the generation.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file", "s3", "azblob", "oci"})
    void anEntryReplacedBetweenFindAndOpenIsReadAsFoundOrNotAtAll(String kind) throws Exception {
        for (boolean listed : new boolean[] {false, true}) {
            String key = String.format("replaced-%04d", KEYS.incrementAndGet());
            byte[][] archives = archives(kind);
            var target = open(kind, key);
            String path = target.path();
            try (Store store = target.store()) {
                assertTrue(put(store, path, archives[0]));
                var found = listed ? store.list(path).stream().filter(o -> o.path().equals(path)).findFirst().orElseThrow()
                        : store.find(path).orElseThrow();

                replace(kind, store, path, archives[1]);

                assertEquals(Optional.of(sha256(archives[1])), store.find(path).orElseThrow().sha256(), "not replaced");
                try (var in = store.open(found)) {
                    assertArrayEquals(archives[0], in.readAllBytes(), (listed ? "listed" : "found") + ", replaced, then read");
                } catch (IOException e) {
                    assertTrue(e.getMessage().matches(".*(replaced|gone).*"), e.getMessage());
                }
            }
        }
    }

    /** Puts other bytes at the path behind the store's back, as another writer would, their digest recorded. */
    private void replace(String kind, Store store, String path, byte[] archive) throws Exception {
        var metadata = Map.of(BlobUri.SHA256_METADATA, sha256(archive));
        switch (kind) {
            case "file" -> {
                // A name gets a new file only once the old one is gone (pruned, or deleted by hand).
                Path file = tmp.resolve("store").resolve(path);
                Files.delete(file);
                Files.deleteIfExists(file.resolveSibling(path + FileStore.DIGEST_SUFFIX));
                assertTrue(put(store, path, archive));
            }
            case "s3" -> s3Client.putObject(b -> b.bucket("caches").key(path).metadata(metadata), RequestBody.fromBytes(archive));
            case "azblob" -> {
                var blob = container.getBlobClient(path);
                blob.upload(BinaryData.fromBytes(archive), true);
                blob.setMetadata(metadata);
            }
            case "oci" -> {
                // The tag moves to another image, as a push of the same tag from elsewhere would move it.
                assertTrue(put(store, path + "-next", archive));
                String manifests = registry.url() + "/v2/races/tags/manifests/";
                var http = HttpClient.newHttpClient();
                var manifest = http.send(HttpRequest.newBuilder(URI.create(manifests + path + "-next"))
                        .header("Accept", OciStore.MANIFEST).build(), HttpResponse.BodyHandlers.ofByteArray());
                var moved = http.send(HttpRequest.newBuilder(URI.create(manifests + path)).header("Content-Type", OciStore.MANIFEST)
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest.body())).build(), HttpResponse.BodyHandlers.discarding());
                assertEquals(201, moved.statusCode());
            }
            default -> throw new IllegalArgumentException(kind);
        }
    }

    @Test
    void twoOciUploadsRacingToOneTagLeaveItOnOneWholeImage() throws Exception {
        // A registry has no conditional manifest PUT: both may push, so both commits may return true.
        for (int round = 0; round < 3; round++) {
            String key = String.format("race-%04d", KEYS.incrementAndGet());
            byte[][] archives = archives("oci");
            var first = open("oci", key);
            var second = open("oci", key);
            try (Store a = first.store(); Store b = second.store()) {
                boolean[] stored = race(a, b, first.path(), archives);

                assertTrue(stored[0] || stored[1], "neither upload pushed its image");
                var found = a.find(first.path()).orElseThrow();
                int held = found.sha256().equals(Optional.of(sha256(archives[0]))) ? 0 : 1;
                assertTrue(stored[held], "the tag names the image of the upload whose commit returned false");
                assertHolds(a, first.path(), archives[held]);
            }
        }
    }

    /**
     * The fake's rewrite evaluates ifGenerationMatch=0 but neither atomically (a check, then a put,
     * with no lock between) nor as GCS answers (it throws FileAlreadyExistsException, not 412), so
     * here a racing upload may also store or fail. Its rewrite also puts the object's metadata and
     * its bytes in two steps, so two racing rewrites can leave one writer's metadata over the
     * other's bytes (seen once in CI in 700 runs); real GCS swaps both at once. What must hold here
     * is that the bytes are one writer's, whole, that the metadata names one writer, and that no
     * temporary object stays.
     */
    @Test
    void onTheGcsFakeTwoRacingUploadsLeaveOneWholeObjectAndNoTemporary() throws Exception {
        Storage fake = LocalStorageHelper.customOptions(false).getService();
        for (int round = 0; round < 5; round++) {
            String path = String.format("races/race-%04d", KEYS.incrementAndGet());
            byte[][] archives = archives("gs");
            var a = new GcsStore(fake, "caches", "the fake", quiet());
            var b = new GcsStore(fake, "caches", "the fake", quiet());
            Outcome[] outcomes = raceAllowingFailure(a, b, path, archives);

            assertTrue(outcomes[0].stored() || outcomes[1].stored(), "neither upload stored its object: " + List.of(outcomes));
            var found = a.find(path).orElseThrow();
            assertTrue(found.sha256().equals(Optional.of(sha256(archives[0]))) || found.sha256().equals(Optional.of(sha256(archives[1]))),
                    "the object's metadata names neither upload");
            try (var in = a.open(found)) {
                byte[] held = in.readAllBytes();
                assertTrue(Arrays.equals(held, archives[0]) || Arrays.equals(held, archives[1]), "the object's bytes are neither upload's, whole");
            }
            var names = new ArrayList<String>();
            fake.list("caches", Storage.BlobListOption.prefix(path)).iterateAll().forEach(blob -> names.add(blob.getName()));
            assertEquals(List.of(path), names);
        }
    }

    /** What one upload's commit returned, or the exception that ended it. */
    private record Outcome(boolean stored, Throwable failure) {}

    /** Both uploads write their archive, wait for each other, then commit together; what each commit returned. */
    private static boolean[] race(Store a, Store b, String path, byte[][] archives) throws Exception {
        Outcome[] outcomes = raceAllowingFailure(a, b, path, archives);
        for (int i = 0; i < 2; i++) {
            if (outcomes[i].failure() != null) {
                throw new AssertionError("upload " + (i + 1) + " failed", outcomes[i].failure());
            }
        }
        return new boolean[] {outcomes[0].stored(), outcomes[1].stored()};
    }

    private static Outcome[] raceAllowingFailure(Store a, Store b, String path, byte[][] archives) throws Exception {
        var barrier = new CyclicBarrier(2);
        var pool = Executors.newFixedThreadPool(2);
        try {
            var commits = new ArrayList<Future<Boolean>>();
            Store[] stores = {a, b};
            for (int i = 0; i < 2; i++) {
                Store store = stores[i];
                byte[] archive = archives[i];
                commits.add(pool.submit(() -> {
                    try (Store.PendingWrite upload = store.create(path)) {
                        upload.stream().write(archive);
                        barrier.await(60, TimeUnit.SECONDS);
                        return upload.commit(contents(archive), description(path, archive));
                    }
                }));
            }
            var outcomes = new Outcome[2];
            for (int i = 0; i < 2; i++) {
                try {
                    outcomes[i] = new Outcome(commits.get(i).get(120, TimeUnit.SECONDS), null);
                } catch (ExecutionException e) {
                    outcomes[i] = new Outcome(false, e.getCause());
                }
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private static boolean put(Store store, String path, byte[] archive) throws IOException {
        try (Store.PendingWrite upload = store.create(path)) {
            upload.stream().write(archive);
            return upload.commit(contents(archive), description(path, archive));
        }
    }

    /** What Upload.run would commit for these bytes, stored as they are, and how it would describe them (an image's diff_id included). */
    private static Store.Contents contents(byte[] archive) {
        return new Store.Contents(sha256(archive), archive.length, Compression.NONE);
    }

    private static Store.Description description(String path, byte[] archive) {
        return new Store.Description(path, Instant.now(), archive.length, sha256(archive), 1, null);
    }

    /** The store has exactly these bytes at the path, and records their sha256. */
    private static void assertHolds(Store store, String path, byte[] expected) throws IOException {
        var found = store.find(path).orElseThrow();
        assertEquals(expected.length, found.size());
        assertEquals(Optional.of(sha256(expected)), found.sha256());
        try (var in = store.open(found)) {
            assertArrayEquals(expected, in.readAllBytes(), "the object's bytes are not the winner's");
        }
    }

    /** Nothing but the object is at or beside its path: no temporary file, object, upload or blob. */
    private void assertNothingTemporary(String kind, String path) throws IOException {
        switch (kind) {
            case "file" -> {
                try (var files = Files.list(tmp.resolve("store"))) {
                    assertEquals(List.of(path), files.map(f -> f.getFileName().toString()).filter(n -> n.contains(path)).toList());
                }
            }
            case "s3", "s3-multipart" -> {
                var keys = s3Client.listObjectsV2Paginator(r -> r.bucket("caches").prefix(path)).contents().stream()
                        .map(S3Object::key).toList();
                assertEquals(List.of(path), keys);
                assertEquals(List.of(), s3Client.listMultipartUploads(r -> r.bucket("caches").prefix(path)).uploads());
            }
            case "azblob" -> assertEquals(List.of(path), container.listBlobs(new ListBlobsOptions().setPrefix(path), null)
                    .stream().map(BlobItem::getName).toList());
            default -> { } // a registry shows no upload sessions; a cancelled one is purged by the registry
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new SplittableRandom(seed ^ System.nanoTime()).nextBytes(bytes);
        return bytes;
    }

    private static String sha256(byte[] bytes) {
        return Digests.hex(Digests.sha256().digest(bytes));
    }

    private static Log quiet() {
        return new Log(new PrintStream(OutputStream.nullOutputStream()), false);
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.azure.core.util.BinaryData;
import com.azure.core.util.Context;
import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.BlockListType;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import com.azure.storage.blob.sas.BlobContainerSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.store.BlobUri;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.azure.AzureBlockUpload;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** azblob:// through a real azurite-blob on loopback, by the scripts as a pipeline runs them. */
class AzureStoreTest {

    private static final AtomicInteger CONTAINERS = new AtomicInteger();

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass();

    @TempDir
    Path tmp;

    private Map<String, String> env;
    private Path project;
    private BlobContainerClient container;

    @BeforeEach
    void project() throws Exception {
        env = azurite.env(Fixtures.env(tmp.resolve("xdg")));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/m // " + tmp + "\n");
        Fixtures.richTree(project.resolve("cache"), 0);
        container = azurite.createContainer("test-" + CONTAINERS.incrementAndGet());
    }

    private String uri() {
        return "azblob://" + container.getBlobContainerName() + "/caches/linux/{{hash}}";
    }

    private Fixtures.Run upload(Map<String, String> env, String... more) throws Exception {
        var args = Stream.concat(Stream.of("--target", uri(), "--folder", "cache", "--results-dir",
                tmp.resolve("up").toString()), Stream.of(more)).toArray(String[]::new);
        return Fixtures.upload(project, env, args);
    }

    private Fixtures.Run fetch(Map<String, String> env, Path folder) throws Exception {
        return Fixtures.fetch(project, env, "--source", uri(), "--folder", folder.toString(), "--results-dir",
                tmp.resolve("down").toString());
    }

    /** The blob the last upload wrote, by the key it reported. */
    private BlobClient uploadedBlob() throws Exception {
        return container.getBlobClient("caches/linux/" + Files.readString(tmp.resolve("up/cache-key")));
    }

    private static byte[] bytesOf(BlobClient blob) {
        var out = new ByteArrayOutputStream();
        blob.downloadStream(out);
        return out.toByteArray();
    }

    /** A folder with something in it, and its exact state, to compare after a fetch that must not touch it. */
    private Map.Entry<Path, Map<String, String>> occupiedFolder() throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        return Map.entry(folder, Fixtures.snapshot(folder, true));
    }

    @Test
    void uploadThenFetchRoundTripsTheTreeThroughBlocksStagedInParallel() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big/blob.bin"), 5 * AzureBlockUpload.BLOCK + 12345, 7);

        var uploaded = upload(env);

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(1, uploaded.err().lines().count(), uploaded.err());
        assertTrue(uploaded.err().startsWith("uploaded "), uploaded.err());
        var blob = uploadedBlob();
        var properties = blob.getProperties();
        byte[] stored = bytesOf(blob);
        assertEquals(Map.of(BlobUri.SHA256_METADATA, Fixtures.indexDigest(stored)), properties.getMetadata());
        assertEquals("application/zstd", properties.getContentType());
        assertEquals(Files.readString(tmp.resolve("up/size")), Long.toString(properties.getBlobSize()));
        int blocks = blob.getBlockBlobClient().listBlocks(BlockListType.COMMITTED).getCommittedBlocks().size();
        assertTrue(blocks >= 3, "the archive went up as " + blocks + " blocks");

        Path restored = tmp.resolve("restored");
        var fetched = fetch(env, restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(1, fetched.err().lines().count(), fetched.err());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false));
        assertEquals("true", Files.readString(tmp.resolve("down/fetched")));
        assertEquals(Files.readString(tmp.resolve("up/cache-key")), Files.readString(tmp.resolve("down/matched-key")));
        assertEquals(Long.toString(properties.getBlobSize()), Files.readString(tmp.resolve("down/size")));
    }

    @Test
    void aMissingBlobIsAMissThatLeavesTheFolderAlone() throws Exception {
        var folder = occupiedFolder();

        var fetched = fetch(env, folder.getKey());

        assertEquals(ExitStatus.OK, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("cache miss: "), fetched.toString());
        assertTrue(fetched.err().startsWith("cache miss: nothing at " + uri().replace("{{hash}}", "")), fetched.err());
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
        assertEquals(folder.getValue(), Fixtures.snapshot(folder.getKey(), true));
    }

    @Test
    void aBlobWhoseBytesDoNotMatchItsRecordedSha256IsRejected() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big/blob.bin"), 3 * Fixtures.MiB, 8);
        assertEquals(0, upload(env, "--compression", "none").status());
        var blob = uploadedBlob();
        var metadata = blob.getProperties().getMetadata();
        byte[] bytes = bytesOf(blob);
        bytes[bytes.length / 2] ^= 0x01; // inside the big file's content: the tar stays well-formed, only the digest can tell
        blob.uploadWithResponse(new BlobParallelUploadOptions(BinaryData.fromBytes(bytes)).setMetadata(metadata), null, Context.NONE);
        var folder = occupiedFolder();

        var fetched = fetch(env, folder.getKey());

        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        assertEquals(1, fetched.err().lines().count(), fetched.err());
        assertTrue(fetched.err().contains("archive digest mismatch"), fetched.err());
        assertEquals(folder.getValue(), Fixtures.snapshot(folder.getKey(), true));
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
    }

    @Test
    void aGoToolBlobWithoutMetadataRestores() throws Exception {
        assertEquals(0, upload(env).status()); // only to learn the key's blob name
        Path goCache = tmp.resolve("go-cache");
        Fixtures.write(goCache.resolve("pkg/mod/cache/download/example.com/m/@v/list"), "v1.0.0\n");
        Fixtures.write(goCache.resolve("pkg/mod/example.com/m@v1.0.0/go.mod"), "module example.com/m\n");
        Path targz = tmp.resolve("go-tool.tar.gz");
        var tar = Fixtures.run(List.of("tar", "-C", goCache.toString(), "-czf", targz.toString(), "."), tmp, env);
        assertEquals(0, tar.status(), tar.toString());
        uploadedBlob().uploadFromFile(targz.toString(), true); // replaces blob and metadata: a bare tar.gz

        Path restored = tmp.resolve("restored");
        var fetched = fetch(env, restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("records no sha256"), fetched.err());
        assertEquals(Fixtures.snapshot(goCache, false), Fixtures.snapshot(restored, false));
    }

    @Test
    void aWrongKeyExits3InOneLineNamingTheAccount() throws Exception {
        var wrong = new java.util.HashMap<>(env);
        wrong.put("AZURE_STORAGE_KEY", java.util.Base64.getEncoder().encodeToString("not the key".getBytes()));
        var folder = occupiedFolder();

        var fetched = fetch(wrong, folder.getKey());
        var uploaded = upload(wrong);

        for (var run : List.of(fetched, uploaded)) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains("authentication failed for azblob account 'devstoreaccount1' (AZURE_STORAGE_KEY)"), run.err());
            assertFalse(run.err().contains(wrong.get("AZURE_STORAGE_KEY")), run.err());
        }
        assertEquals(folder.getValue(), Fixtures.snapshot(folder.getKey(), true));
        assertTrue(container.listBlobs().stream().findAny().isEmpty(), "the upload with a wrong key wrote a blob");
    }

    @Test
    void aMissingContainerExits3InOneLineNamingIt() throws Exception {
        container = azurite.client().getBlobContainerClient("never-created");

        var fetched = fetch(env, tmp.resolve("folder"));
        var uploaded = upload(env);

        for (var run : List.of(fetched, uploaded)) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains("azblob container 'never-created' does not exist"), run.err());
        }
        assertFalse(Files.exists(tmp.resolve("folder")));
    }

    @Test
    void anUnreachableEndpointExits3InOneLineWithinSeconds() throws Exception {
        int closed = Fixtures.freePort();
        var unreachable = new java.util.HashMap<>(env);
        unreachable.put("BLOB_QUERY_PARAMS", "?domain=127.0.0.1:" + closed + "&protocol=http&localemu=true");

        long started = System.nanoTime();
        var fetched = fetch(unreachable, tmp.resolve("folder"));
        var uploaded = upload(unreachable);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);

        for (var run : List.of(fetched, uploaded)) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains("cannot reach http://127.0.0.1:" + closed + "/devstoreaccount1: connection refused"), run.err());
        }
        assertTrue(seconds < 40, "two runs took " + seconds + " s");
        assertFalse(Files.exists(tmp.resolve("folder")));
    }

    @Test
    void anUnknownQueryParameterIsAUsageError() throws Exception {
        var misspelt = new java.util.HashMap<>(env);
        misspelt.put("BLOB_QUERY_PARAMS", azurite.queryParams() + "&localemulator=true");

        var fetched = fetch(misspelt, tmp.resolve("folder"));

        assertEquals(ExitStatus.USAGE, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("'localemulator' is not a parameter of azblob:// stores"), fetched.err());
    }

    @Test
    void aConnectionStringAloneReachesTheAccount() throws Exception {
        var connection = Fixtures.env(tmp.resolve("xdg"));
        connection.keySet().removeIf(name -> name.startsWith("AZURE_") || name.equals("BLOB_QUERY_PARAMS"));
        connection.put("AZURE_STORAGE_CONNECTION_STRING", azurite.connectionString());

        var uploaded = upload(connection);
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = fetch(connection, tmp.resolve("restored"));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
        assertTrue(uploadedBlob().getProperties().getMetadata().containsKey(BlobUri.SHA256_METADATA));
    }

    @Test
    void aSasTokenWithTheEndpointFromTheEnvironmentReachesTheContainer() throws Exception {
        var permissions = new BlobContainerSasPermission().setReadPermission(true).setWritePermission(true)
                .setCreatePermission(true).setAddPermission(true).setListPermission(true);
        String sas = container.generateSas(new BlobServiceSasSignatureValues(OffsetDateTime.now().plusHours(1), permissions));
        var withSas = Fixtures.env(tmp.resolve("xdg"));
        withSas.keySet().removeIf(name -> name.startsWith("AZURE_") || name.equals("BLOB_QUERY_PARAMS"));
        withSas.put("AZURE_STORAGE_ACCOUNT", AzuriteServer.ACCOUNT);
        withSas.put("AZURE_STORAGE_SAS_TOKEN", sas);
        withSas.put("AZURE_STORAGE_DOMAIN", azurite.host());
        withSas.put("AZURE_STORAGE_PROTOCOL", "http");
        withSas.put("AZURE_STORAGE_IS_LOCAL_EMULATOR", "true");

        var uploaded = upload(withSas);
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = fetch(withSas, tmp.resolve("restored"));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));

        withSas.put("AZURE_STORAGE_SAS_TOKEN", sas.replaceFirst("sig=[^&]+", "sig=AAAA"));
        var forged = fetch(withSas, tmp.resolve("restored"));
        assertEquals(ExitStatus.STORE, forged.status(), forged.toString());
        assertTrue(forged.err().contains("authentication failed for azblob account 'devstoreaccount1' (AZURE_STORAGE_SAS_TOKEN)"), forged.err());
    }

    @Test
    void anUploadFailingMidwayExits3AndLeavesNoBlobAndThePreviousOneIntact() throws Exception {
        Path cache = project.resolve("cache");
        assertEquals(0, upload(env).status());
        var previous = uploadedBlob();
        var before = previous.getProperties();
        String goMod = Files.readString(project.resolve("go.mod"));
        Fixtures.write(project.resolve("go.mod"), goMod + "// the next version\n"); // a key of its own: a taken one is never written
        Fixtures.writeRandom(cache.resolve("a-big.bin"), 5 * AzureBlockUpload.BLOCK, 9);
        Fixtures.write(cache.resolve("z-unreadable.bin"), "archived after a-big.bin\n");
        Fixtures.chmod(cache.resolve("z-unreadable.bin"), "---------");

        var command = new ArrayList<String>();
        if ((Integer) Files.getAttribute(tmp, "unix:uid") == 0) {
            // root reads any file; without these capabilities it reads like anyone else
            assumeTrue(Fixtures.run(List.of("setpriv", "--version"), tmp, env).status() == 0, "setpriv is not installed");
            command.addAll(List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search"));
        }
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), "CacheUpload", "--target", uri(), "--folder", "cache",
                "--compression", "none"));
        var failed = Fixtures.run(command, project, env);

        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        assertEquals(1, failed.err().lines().count(), failed.err());
        assertTrue(failed.err().contains("z-unreadable.bin"), failed.err());
        assertEquals(List.of(previous.getBlobName()), container.listBlobs().stream().map(b -> b.getName()).toList());
        var after = previous.getProperties();
        assertEquals(before.getETag(), after.getETag());
        assertEquals(before.getMetadata(), after.getMetadata());
        Files.delete(cache.resolve("a-big.bin"));
        Files.delete(cache.resolve("z-unreadable.bin"));
        Files.writeString(project.resolve("go.mod"), goMod);
        var fetched = fetch(env, tmp.resolve("restored"));
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(tmp.resolve("restored"), false));
    }

    @Test
    void anUploadKilledMidwayLeavesItsBlocksUnseenAndThePreviousBlobIntact() throws Exception {
        assertEquals(0, upload(env).status());
        var previous = uploadedBlob();
        var before = previous.getProperties();
        Path restoredBefore = tmp.resolve("first");
        assertEquals(0, fetch(env, restoredBefore).status());
        String goMod = Files.readString(project.resolve("go.mod"));
        Fixtures.write(project.resolve("go.mod"), goMod + "// the next version\n"); // a key of its own: a taken one is never written
        assertEquals(ExitStatus.OK, fetch(env, tmp.resolve("miss")).status()); // a miss, to learn that key
        var blob = container.getBlobClient("caches/linux/" + Files.readString(tmp.resolve("down/cache-key")));
        Fixtures.writeRandom(project.resolve("cache/big.bin"), 256 * Fixtures.MiB, 10);

        var command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), "CacheUpload", "--target", uri(), "--folder", "cache",
                "--compression", "none");
        var builder = new ProcessBuilder(command).directory(project.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("killed.log").toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process = builder.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        int staged = 0;
        while (System.nanoTime() < deadline && process.isAlive() && staged < 2) {
            staged = uncommittedBlocks(blob);
            Thread.sleep(20);
        }
        assertTrue(process.isAlive(), "the upload ended before it could be killed: " + Files.readString(tmp.resolve("killed.log")));
        boolean visibleDuring = blob.exists();
        process.destroyForcibly().waitFor();

        assertTrue(staged >= 2, "no blocks were staged within 60 s");
        assertFalse(visibleDuring, "staged blocks showed at the name before commit");
        assertFalse(blob.exists());
        assertEquals(before.getETag(), previous.getProperties().getETag());
        Files.delete(project.resolve("cache/big.bin"));
        Files.writeString(project.resolve("go.mod"), goMod);
        var fetched = fetch(env, tmp.resolve("restored"));
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(restoredBefore, false), Fixtures.snapshot(tmp.resolve("restored"), false));
    }

    /** The blocks staged at the name and not committed; a name with no block at all is a 404. */
    private static int uncommittedBlocks(BlobClient blob) {
        try {
            return blob.getBlockBlobClient().listBlocks(BlockListType.UNCOMMITTED).getUncommittedBlocks().size();
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 404) {
                return 0;
            }
            throw e;
        }
    }

    @Test
    void transientFailuresAreRetriedAndACutDownloadResumes() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big/blob.bin"), AzureBlockUpload.BLOCK + 3 * Fixtures.MiB, 12);
        try (var proxy = FlakyProxy.start()) {
            proxy.target("http://" + azurite.host());
            var flaky = new java.util.HashMap<>(env);
            flaky.put("BLOB_QUERY_PARAMS", "?domain=" + proxy.host() + "&protocol=http&localemu=true");
            String blobs = "/devstoreaccount1/" + container.getBlobContainerName() + "/";
            proxy.failNext("PUT " + blobs, 2, 503);
            proxy.resetNext("PUT " + blobs, 1);
            proxy.failNext("HEAD " + blobs, 1, 500);
            proxy.truncateNext("GET " + blobs, 1, 100_000);

            var uploaded = upload(flaky, "--compression", "none");
            assertEquals(0, uploaded.status(), uploaded.toString());
            var fetched = fetch(flaky, tmp.resolve("restored"));

            assertEquals(0, fetched.status(), fetched.toString());
            assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
            var requests = proxy.requests();
            assertEquals(2, requests.stream().filter(r -> r.startsWith("GET " + blobs)).count(), requests.toString());
            assertTrue(requests.stream().filter(r -> r.startsWith("PUT " + blobs)).count() >= 3 + 3, requests.toString());
        }
    }

    /** One connection carries a few tens of MB/s: a big blob comes down by several ranged GETs at once. */
    @Test
    void aBigBlobComesDownInPiecesSeveralAtOnce() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big/blob.bin"), 40 * Fixtures.MiB + 5, 14);
        try (var proxy = FlakyProxy.start()) {
            proxy.target("http://" + azurite.host());
            var flaky = new java.util.HashMap<>(env);
            flaky.put("BLOB_QUERY_PARAMS", "?domain=" + proxy.host() + "&protocol=http&localemu=true");
            assertEquals(0, upload(flaky, "--compression", "none").status());
            proxy.slow("GET /devstoreaccount1/" + container.getBlobContainerName() + "/", 100);

            var fetched = fetch(flaky, tmp.resolve("restored"));

            assertEquals(0, fetched.status(), fetched.toString());
            assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
            assertTrue(proxy.mostAtOnce() >= 2, "GETs at once: " + proxy.mostAtOnce());
        }
    }

    @Test
    void aSixHundredMibCacheRoundTripsWithTheHeapCappedAt128m() throws Exception {
        Fixtures.writeRandom(project.resolve("big/one.bin"), 600 * Fixtures.MiB + 3, 11);
        var capped = List.of("-Xmx128m");

        var uploaded = Fixtures.script(capped, "CacheUpload", project, env, "--target", uri(), "--folder", "big",
                "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = Fixtures.script(capped, "CacheFetch", project, env, "--source", uri(), "--folder",
                tmp.resolve("restored").toString());
        assertEquals(0, fetched.status(), fetched.toString());

        assertEquals(Fixtures.sha256(project.resolve("big/one.bin")), Fixtures.sha256(tmp.resolve("restored/one.bin")));
    }

    @Test
    void listingFindsTheBlobsWithAPrefixWithTheirDigests() throws Exception {
        var quiet = new Log(new PrintStream(OutputStream.nullOutputStream()), false);
        var location = StoreUri.parse("--target", uri()).resolve("unused");
        var target = Stores.open(location, false, java.time.Duration.ofSeconds(30), new Environment(env), quiet);
        var written = new TreeMap<String, String>();
        try (Store store = target.store()) {
            for (String name : new String[] {"caches/maven-linux-1", "caches/maven-linux-2", "caches/npm-linux-1"}) {
                byte[] bytes = ("archive of " + name).getBytes(StandardCharsets.UTF_8);
                String sha256 = Digests.hex(Digests.sha256().digest(bytes));
                try (Store.PendingWrite upload = store.create(name)) {
                    upload.stream().write(bytes);
                    assertTrue(upload.commit(new Store.Contents(sha256, bytes.length, Compression.NONE),
                            new Store.Description(name, Instant.now(), bytes.length, null, 1, null)));
                }
                written.put(name, sha256);
            }
            try (Store.PendingWrite abandoned = store.create("caches/maven-linux-3")) {
                abandoned.stream().write(new byte[AzureBlockUpload.BLOCK + 1]); // one block staged, never committed
            }

            var listed = store.list("caches/maven-");

            assertEquals(List.of("caches/maven-linux-1", "caches/maven-linux-2"),
                    listed.stream().map(Store.StoredObject::path).sorted().toList());
            for (var object : listed) {
                assertEquals(Optional.of(written.get(object.path())), object.sha256());
                assertEquals(("archive of " + object.path()).length(), object.size());
            }
            assertTrue(store.list("caches/gradle-").isEmpty());
            assertTrue(store.find("caches/maven-linux-3").isEmpty(), "an uncommitted upload is visible");
        }
    }
}

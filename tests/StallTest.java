import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import lib.common.ExitStatus;
import lib.store.Backoff;
import lib.store.RangedDownload;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stores that go silent in the middle of a transfer, the connection left open: a proxy forwards
 * 1 MiB of a blob, then nothing. With --stall-timeout 2s the fetch abandons the request, goes on
 * by range and restores; when every attempt stalls (after its first MiB) it fails with exit 3 in
 * one line, in bounded time, the folder as it was, or, where the attempts move no byte for 3 stall
 * timeouts in a row, the store is given up and the fetch is a miss. An upload whose request the proxy takes no byte of is abandoned
 * and sent again (oci://, s3://). Each run is capped at 90 s, so that a stall nobody notices fails
 * the test instead of hanging it. GCS is not here: its only fake runs in process, with no socket
 * to stall.
 */
class StallTest {

    private static final Duration LIMIT = Duration.ofSeconds(90);

    static final FlakyProxy registryProxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false).behind(registryProxy);
    static final FlakyProxy s3Proxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches").behind(s3Proxy);
    static final FlakyProxy azureProxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches").behind(azureProxy);

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock " + tmp + "\n");
        // Stored uncompressed, 8 MiB to download: the proxy forwards one before each stall, and
        // every attempt stalling must not add up to the whole archive.
        Fixtures.richTree(project.resolve("cache"), 8 * Fixtures.MiB);
    }

    private Fixtures.Run run(String script, Map<String, String> env, String... args) throws Exception {
        return Fixtures.script(LIMIT, List.of(), script, project, env, args);
    }

    private void upload(String uri, Map<String, String> env) throws Exception {
        var uploaded = run("CacheUpload", env, "--pattern", "go.sum", "--target", uri, "--folder", "cache", "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
    }

    private Fixtures.Run fetch(String uri, Map<String, String> env, Path folder) throws Exception {
        return run("CacheFetch", env, "--pattern", "go.sum", "--source", uri, "--folder", folder.toString(), "--stall-timeout", "2s");
    }

    private void assertRestored(Fixtures.Run fetched, Path restored) throws Exception {
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false));
    }

    /** Exit 3 in one line, the folder exactly as it was. */
    private void assertFailedLeavingTheFolder(String uri, Map<String, String> env, FlakyProxy proxy, String blobGet) throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);
        proxy.stallNext(blobGet, 100, Fixtures.MiB);

        var failed = fetch(uri, env, folder);

        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        var lines = failed.err().lines().filter(line -> line.startsWith("cache-fetch: ")).toList();
        assertEquals(1, lines.size(), failed.err());
        assertTrue(lines.get(0).startsWith("cache-fetch: restoring " + uri.replace("{{hash}}", "")), failed.err());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    /**
     * A miss in one line, the folder exactly as it was: the store, having moved no byte for 3 stall
     * timeouts in a row across the attempts, was given up (Headway) before they ran out.
     */
    private void assertGivenUpLeavingTheFolder(String uri, Map<String, String> env, FlakyProxy proxy, String blobGet) throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);
        proxy.stallNext(blobGet, 100, Fixtures.MiB);

        var missed = fetch(uri, env, folder);

        assertEquals(0, missed.status(), missed.toString());
        var lines = missed.err().lines().filter(line -> line.startsWith("cache miss: ")).toList();
        assertEquals(1, lines.size(), missed.err());
        assertTrue(lines.get(0).contains("so it was given up (--stall-timeout); the folder is as it was"), missed.err());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    private static long count(FlakyProxy proxy, int from, String regex) {
        var requests = proxy.requests();
        return requests.subList(from, requests.size()).stream().filter(r -> r.matches(regex)).count();
    }

    private String ociUri(String repository) {
        return "oci://" + registryProxy.host() + "/" + repository + ":{{hash}}";
    }

    @Test
    void anOciDownloadThatStallsGoesOnByRange() throws Exception {
        upload(ociUri("stall/once"), env);
        registryProxy.stallNext("GET .*/blobs/sha256:.*", 1, Fixtures.MiB);
        int before = registryProxy.requests().size();
        var stepEnv = new HashMap<>(env);
        stepEnv.put("PARAM_STALL_TIMEOUT", "2s"); // as the StepAction gives it

        Path restored = tmp.resolve("restored");
        var fetched = run("CacheFetch", stepEnv, "--pattern", "go.sum", "--source", ociUri("stall/once"), "--folder", restored.toString());

        assertRestored(fetched, restored);
        assertTrue(fetched.err().contains("failed at byte " + Fixtures.MiB + ": no byte for 2s"), fetched.err());
        assertEquals(2, count(registryProxy, before, "GET .*/blobs/sha256:.*"), registryProxy.requests().toString());
    }

    @Test
    void anOciDownloadThatStallsEveryTimeFailsInBoundedTime() throws Exception {
        upload(ociUri("stall/always"), env);
        assertFailedLeavingTheFolder(ociUri("stall/always"), env, registryProxy, "GET .*/blobs/sha256:.*");
    }

    @Test
    void anOciUploadWhoseChunkStallsIsSentAgain() throws Exception {
        registryProxy.hangNext("PATCH .*/blobs/uploads/.*", 1);

        var uploaded = run("CacheUpload", env, "--pattern", "go.sum", "--target", ociUri("stall/upload"), "--folder", "cache",
                "--compression", "none", "--stall-timeout", "2s");

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("no byte for 2s"), uploaded.err());
        Path restored = tmp.resolve("restored");
        assertRestored(fetch(ociUri("stall/upload"), env, restored), restored);
    }

    private Map<String, String> s3Env() {
        return s3.env(env, s3Proxy.url());
    }

    @Test
    void anS3DownloadThatStallsGoesOnByRange() throws Exception {
        upload("s3://caches/once/{{hash}}", s3Env());
        // The first GET reads the object's last 64 KiB, where an entry of groups has its index: not stalled.
        s3Proxy.stallNext("GET /caches/once/", 2, Fixtures.MiB);

        Path restored = tmp.resolve("restored");
        var fetched = fetch("s3://caches/once/{{hash}}", s3Env(), restored);

        assertRestored(fetched, restored);
        assertTrue(fetched.err().contains("failed at byte " + Fixtures.MiB + ": "), fetched.err());
    }

    @Test
    void anS3DownloadThatStallsEveryTimeFailsInBoundedTime() throws Exception {
        upload("s3://caches/always/{{hash}}", s3Env());
        assertFailedLeavingTheFolder("s3://caches/always/{{hash}}", s3Env(), s3Proxy, "GET /caches/always/.*");
    }

    @Test
    void anS3UploadWhosePartStallsIsSentAgain() throws Exception {
        // Two parts, the first of 8 MiB: more than the socket buffers on loopback hold, so its write blocks.
        Fixtures.writeRandom(project.resolve("cache/big/more.bin"), 4 * Fixtures.MiB, 5);
        s3Proxy.hangNext("PUT /caches/upload/", 1);

        var uploaded = run("CacheUpload", s3Env(), "--pattern", "go.sum", "--target", "s3://caches/upload/{{hash}}",
                "--folder", "cache", "--compression", "none", "--stall-timeout", "2s");

        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored");
        assertRestored(fetch("s3://caches/upload/{{hash}}", s3Env(), restored), restored);
    }

    private Map<String, String> azureEnv() {
        var through = azurite.env(env);
        through.put("BLOB_QUERY_PARAMS", "?domain=" + azureProxy.host() + "&protocol=http&localemu=true");
        return through;
    }

    @Test
    void anAzureDownloadThatStallsGoesOnByRange() throws Exception {
        upload("azblob://caches/once/{{hash}}", azureEnv());
        azureProxy.stallNext("GET /devstoreaccount1/caches/once%2F", 1, Fixtures.MiB);
        int before = azureProxy.requests().size();

        Path restored = tmp.resolve("restored");
        long start = System.nanoTime();
        var fetched = fetch("azblob://caches/once/{{hash}}", azureEnv(), restored);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);

        assertRestored(fetched, restored);
        // The SDK resumes by itself, with a range, and says nothing of it.
        assertEquals(2, count(azureProxy, before, "GET /devstoreaccount1/caches/once%2F.*"), azureProxy.requests().toString());
        // Its own read timeout is 60 s: a fetch that took about that long waited it out, not the 2 s asked for.
        assertTrue(seconds < 45, "the fetch took " + seconds + " s");
    }

    @Test
    void aBigAzureBlobThatStallsEveryTimeFailsAfterOurAttemptsAlone() throws Exception {
        // Over RangedDownload.WORTH_IT: read by ranged GETs at once, each piece resumed by us, not by the SDK too.
        Fixtures.writeRandom(project.resolve("cache/big/more.bin"), 40 * Fixtures.MiB, 7);
        upload("azblob://caches/big/{{hash}}", azureEnv());
        int before = azureProxy.requests().size();

        assertFailedLeavingTheFolder("azblob://caches/big/{{hash}}", azureEnv(), azureProxy, "GET /devstoreaccount1/caches/big%2F");

        // One GET of the index at the blob's end (under the 1 MiB the proxy lets through), then each
        // piece under way tried ATTEMPTS times; the SDK's own resumes inside each made it up to 4 times that.
        long gets = count(azureProxy, before, "GET /devstoreaccount1/caches/big%2F.*");
        assertTrue(gets <= 1 + (long) RangedDownload.PARALLEL * Backoff.ATTEMPTS, gets + " GETs of the blob");
    }

    @Test
    void anAzureDownloadThatStallsEveryTimeIsGivenUpAsAMiss() throws Exception {
        // The SDK's own resumes of the GET move nothing through the proxy: 3 stall timeouts with no
        // byte, and the store is given up before our attempts run out.
        upload("azblob://caches/always/{{hash}}", azureEnv());
        assertGivenUpLeavingTheFolder("azblob://caches/always/{{hash}}", azureEnv(), azureProxy,
                "GET /devstoreaccount1/caches/always%2F");
    }
}

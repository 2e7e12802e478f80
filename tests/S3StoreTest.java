import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.TemporaryName;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** s3:// through a real S3 server (s3proxy) on loopback, configured the way the Go tool's users do it. */
class S3StoreTest {

    static final FlakyProxy proxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches").behind(proxy);

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("poetry.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("venv"), 0);
        env = s3.env(Fixtures.env(tmp.resolve("xdg")), s3.endpoint());
    }

    private Fixtures.Run upload(String uri, String... more) throws Exception {
        var args = Stream.concat(Stream.of("--target", uri, "--folder", "venv", "--results-dir", tmp.resolve("up").toString()),
                Stream.of(more)).toArray(String[]::new);
        return Fixtures.upload(project, env, args);
    }

    private Fixtures.Run fetch(String uri, Path folder) throws Exception {
        return Fixtures.fetch(project, env, "--source", uri, "--folder", folder.toString(), "--results-dir", tmp.resolve("down").toString());
    }

    private String key() throws Exception {
        return Files.readString(tmp.resolve("up/cache-key"));
    }

    private static Optional<Store.StoredObject> find(Map<String, String> env, String uri, String key) throws Exception {
        var quiet = new Log(new PrintStream(OutputStream.nullOutputStream()), false);
        var target = Stores.open(new StoreUri(uri).resolve(key), false, java.time.Duration.ofSeconds(30), new Environment(env), quiet);
        try (Store store = target.store()) {
            return store.find(target.path());
        }
    }

    private void assertOneLineFailure(Fixtures.Run run, int status, String expected) {
        assertEquals(status, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().contains(expected), run.err());
    }

    @Test
    void aMultipartUploadRoundTripsWithItsSha256InTheObjectsMetadata() throws Exception {
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB + 3, 9); // three parts, uncompressed
        var uploaded = upload("s3://caches/python/{{hash}}", "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path object = s3.objectFile("caches", "python/" + key());
        assertEquals(Optional.of(Fixtures.sha256(object)), find(env, "s3://caches/python/{{hash}}", key()).orElseThrow().sha256());
        assertEquals(Files.readString(tmp.resolve("up/size")), Long.toString(Files.size(object)));
        try (var left = Files.list(object.getParent())) {
            assertEquals(List.of(object.getFileName().toString()), left.map(p -> p.getFileName().toString()).toList(),
                    "no temporary object is left beside the cache");
        }

        Path restored = tmp.resolve("restored");
        var fetched = fetch("s3://caches/python/{{hash}}", restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));
        assertEquals("true", Files.readString(tmp.resolve("down/fetched")));
    }

    @Test
    void aSmallArchiveIsOnePutAndRoundTrips() throws Exception {
        assertEquals(0, upload("s3://caches/small/{{hash}}").status());
        assertTrue(find(env, "s3://caches/small/{{hash}}", key()).orElseThrow().sha256().isPresent());
        Path restored = tmp.resolve("restored");
        assertEquals(0, fetch("s3://caches/small/{{hash}}", restored).status());
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));
    }

    @Test
    void credentialsAndRegionFromTheAwsFilesTheStepActionMounts() throws Exception {
        Path aws = Files.createDirectories(tmp.resolve("aws"));
        Files.writeString(aws.resolve("credentials"), "[default]\naws_access_key_id = " + S3ProxyServer.ACCESS_KEY
                + "\naws_secret_access_key = " + S3ProxyServer.SECRET_KEY + "\n");
        Files.writeString(aws.resolve("config"), "[default]\nregion = eu-west-3\n");
        env.remove("AWS_ACCESS_KEY_ID");
        env.remove("AWS_SECRET_ACCESS_KEY");
        env.put("AWS_SHARED_CREDENTIALS_FILE", aws.resolve("credentials").toString());
        env.put("AWS_CONFIG_FILE", aws.resolve("config").toString());
        env.put("BLOB_QUERY_PARAMS", "?endpoint=" + s3.endpoint() + "&use_path_style=true");

        assertEquals(0, upload("s3://caches/files/{{hash}}").status());
        Path restored = tmp.resolve("restored");
        var fetched = fetch("s3://caches/files/{{hash}}", restored);
        assertEquals(0, fetched.status(), fetched.toString());
    }

    @Test
    void aMissingObjectIsAMissAndAMissingBucketAnError() throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        var miss = fetch("s3://caches/never/{{hash}}", folder);
        assertEquals(ExitStatus.OK, miss.status(), miss.toString());
        assertTrue(miss.err().contains("cache miss: "), miss.toString());
        assertTrue(miss.err().startsWith("cache miss: nothing at s3://caches/never/"), miss.err());

        assertOneLineFailure(fetch("s3://no-such-bucket/x/{{hash}}", folder), ExitStatus.STORE, "s3 bucket 'no-such-bucket' does not exist");
        assertOneLineFailure(upload("s3://no-such-bucket/x/{{hash}}"), ExitStatus.STORE, "s3 bucket 'no-such-bucket' does not exist");
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @Test
    void wrongCredentialsAnUnreachableEndpointAndAnUnknownParameterFailInOneLine() throws Exception {
        var wrong = new java.util.HashMap<>(env);
        wrong.put("AWS_SECRET_ACCESS_KEY", "not-the-secret");
        assertOneLineFailure(Fixtures.fetch(project, wrong, "--source", "s3://caches/auth/{{hash}}", "--folder", "out"),
                ExitStatus.STORE, "authentication failed for s3 bucket 'caches'");

        var unreachable = s3.env(Fixtures.env(tmp.resolve("xdg")), "http://127.0.0.1:" + Fixtures.freePort());
        assertOneLineFailure(Fixtures.upload(project, unreachable, "--target", "s3://caches/x/{{hash}}", "--folder", "venv"),
                ExitStatus.STORE, "cannot reach http://127.0.0.1:");

        env.put("BLOB_QUERY_PARAMS", "?endpoint=" + s3.endpoint() + "&pathstyle=true");
        assertOneLineFailure(upload("s3://caches/x/{{hash}}"), ExitStatus.USAGE, "'pathstyle' is not a parameter of s3:// stores");
        assertFalse(Files.exists(project.resolve("out")));
    }

    @Test
    void anObjectWhoseBytesDoNotMatchItsSha256IsRejectedAndTheFolderKept() throws Exception {
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 3 * Fixtures.MiB, 8);
        assertEquals(0, upload("s3://caches/corrupt/{{hash}}", "--compression", "none").status());
        Path object = s3.objectFile("caches", "corrupt/" + key());
        try (var file = new RandomAccessFile(object.toFile(), "rw")) { // in place: the metadata stays
            // Inside the big file's content: the tar stays well-formed (a header's checksum would
            // catch a flip there first), only the digest can tell.
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x20);
        }
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        assertOneLineFailure(fetch("s3://caches/corrupt/{{hash}}", folder), ExitStatus.STORE, "archive digest mismatch");
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @Test
    void aTarGzWrittenByTheGoToolRestores() throws Exception {
        var miss = fetch("s3://caches/go-tool/{{hash}}", tmp.resolve("restored"));
        assertEquals(ExitStatus.OK, miss.status(), miss.toString());
        assertTrue(miss.err().contains("cache miss: "), miss.toString());
        String key = Files.readString(tmp.resolve("down/cache-key"));
        Path object = s3.objectFile("caches", "go-tool/" + key);
        Files.createDirectories(object.getParent());
        var tar = Fixtures.run(List.of("tar", "-czf", object.toString(), "-C", project.resolve("venv").toString(), "."), tmp, env);
        assertEquals(0, tar.status(), tar.toString());
        assertEquals(Optional.empty(), find(env, "s3://caches/go-tool/{{hash}}", key).orElseThrow().sha256());

        var fetched = fetch("s3://caches/go-tool/{{hash}}", tmp.resolve("restored"));

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
    }

    @Test
    void anUploadWhosePartsKeepFailingLeavesNothingAtItsKeyNorTemporaryAndTheEarlierObjectIntact() throws Exception {
        env = s3.env(Fixtures.env(tmp.resolve("xdg")), proxy.url());
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB, 4);
        assertEquals(0, upload("s3://caches/flaky/{{hash}}", "--compression", "none").status());
        String earlierKey = key();
        var earlier = Fixtures.snapshot(project.resolve("venv"), false);
        String lock = Files.readString(project.resolve("poetry.lock"));
        Fixtures.write(project.resolve("poetry.lock"), lock + "# the next version\n"); // a key of its own: a taken one is never written
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB, 5);
        proxy.failNext("PUT /caches/flaky/.*" + Pattern.quote(TemporaryName.MARKER), 100, 500);

        var failed = upload("s3://caches/flaky/{{hash}}", "--compression", "none");

        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        assertTrue(failed.err().lines().reduce((a, b) -> b).orElse("").contains("HTTP 500"), failed.err());
        proxy.clearFaults();
        try (var client = s3.client()) {
            var keys = client.listObjectsV2Paginator(r -> r.bucket("caches").prefix("flaky/")).contents().stream()
                    .map(software.amazon.awssdk.services.s3.model.S3Object::key).toList();
            assertEquals(List.of("flaky/" + earlierKey), keys, "an object or a temporary one is left besides the earlier cache");
            assertEquals(List.of(), client.listMultipartUploads(r -> r.bucket("caches").prefix("flaky/")).uploads());
        }
        Fixtures.write(project.resolve("poetry.lock"), lock);
        Path restored = tmp.resolve("restored");
        assertEquals(0, fetch("s3://caches/flaky/{{hash}}", restored).status());
        assertEquals(earlier, Fixtures.snapshot(restored, false));
    }

    /**
     * An entry of groups needs no digest in its metadata (each group is checked against its index),
     * so its parts build the key itself: no temporary object, no copy of its bytes on the server.
     * One whose parts keep failing leaves no upload under way at the key, and the earlier entry.
     */
    @Test
    void anEntryOfGroupsIsBuiltAtItsKeyWithoutATemporaryObjectAndAFailedOneLeavesNothing() throws Exception {
        env = s3.env(Fixtures.env(tmp.resolve("xdg")), proxy.url());
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB, 6); // three parts
        int before = proxy.requests().size();
        assertEquals(0, upload("s3://caches/inplace/{{hash}}").status());
        String earlierKey = key();
        var requests = proxy.requests().subList(before, proxy.requests().size());
        assertTrue(requests.stream().anyMatch(r -> r.startsWith("PUT /caches/inplace/" + earlierKey + "?partNumber=")), requests.toString());
        assertTrue(requests.stream().noneMatch(r -> r.contains(TemporaryName.MARKER) || r.startsWith("DELETE")), requests.toString());
        var earlier = Fixtures.snapshot(project.resolve("venv"), false);

        String lock = Files.readString(project.resolve("poetry.lock"));
        Fixtures.write(project.resolve("poetry.lock"), lock + "# the next version\n");
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB, 7);
        proxy.failNext("PUT /caches/inplace/", 100, 500);
        var failed = upload("s3://caches/inplace/{{hash}}");
        proxy.clearFaults();

        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        try (var client = s3.client()) {
            var keys = client.listObjectsV2Paginator(r -> r.bucket("caches").prefix("inplace/")).contents().stream()
                    .map(software.amazon.awssdk.services.s3.model.S3Object::key).toList();
            assertEquals(List.of("inplace/" + earlierKey), keys);
            assertEquals(List.of(), client.listMultipartUploads(r -> r.bucket("caches").prefix("inplace/")).uploads());
        }
        Fixtures.write(project.resolve("poetry.lock"), lock);
        Path restored = tmp.resolve("restored");
        assertEquals(0, fetch("s3://caches/inplace/{{hash}}", restored).status());
        assertEquals(earlier, Fixtures.snapshot(restored, false));
    }

    @Test
    void aDownloadCutShortGoesOnFromWhereItStoppedAndOneCutEveryTimeFailsCleanly() throws Exception {
        env = s3.env(Fixtures.env(tmp.resolve("xdg")), proxy.url());
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 20 * Fixtures.MiB, 8);
        assertEquals(0, upload("s3://caches/cut/{{hash}}", "--compression", "none").status());
        // The first GET reads the object's last 64 KiB, where an entry of groups has its index: not cut.
        proxy.truncateNext("GET /caches/cut/", 3, 3 * Fixtures.MiB);

        Path restored = tmp.resolve("restored");
        var fetched = fetch("s3://caches/cut/{{hash}}", restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("retry 2 of "), fetched.err());
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));

        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);
        proxy.truncateNext("GET /caches/cut/", 100, Fixtures.MiB);
        var failed = fetch("s3://caches/cut/{{hash}}", folder);
        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    /** One connection carries a few tens of MB/s: a big object comes down by several ranged GETs at once. */
    @Test
    void aBigObjectComesDownInPiecesSeveralAtOnceAndACutPieceGoesOn() throws Exception {
        env = s3.env(Fixtures.env(tmp.resolve("xdg")), proxy.url());
        Fixtures.writeRandom(project.resolve("venv/big/wheel.bin"), 40 * Fixtures.MiB + 5, 13);
        assertEquals(0, upload("s3://caches/pieces/{{hash}}", "--compression", "none").status());
        proxy.slow("GET /caches/pieces/", 100);
        proxy.truncateNext("GET /caches/pieces/", 2, 3 * Fixtures.MiB); // the index's GET, 64 KiB, is not cut

        Path restored = tmp.resolve("restored");
        var fetched = fetch("s3://caches/pieces/{{hash}}", restored);
        int atOnce = proxy.mostAtOnce();
        proxy.clearFaults();

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("retry 1 of "), fetched.err());
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));
        assertTrue(atOnce >= 2, "GETs at once: " + atOnce);
    }

    @Test
    void aSixHundredMibArchiveGoesUpAndComesBackWithTheHeapCappedAt128m() throws Exception {
        Fixtures.writeRandom(project.resolve("big/one.bin"), 600 * Fixtures.MiB + 1, 6);
        var capped = List.of("-Xmx128m");
        var uploaded = Fixtures.script(capped, "CacheUpload", project, env, "--target", "s3://caches/memory/{{hash}}", "--folder", "big",
                "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = Fixtures.script(capped, "CacheFetch", project, env, "--source", "s3://caches/memory/{{hash}}", "--folder",
                tmp.resolve("restored").toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.sha256(project.resolve("big/one.bin")), Fixtures.sha256(tmp.resolve("restored/one.bin")));
    }
}

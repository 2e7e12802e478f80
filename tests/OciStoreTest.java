import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.oci.OciStore;
import lib.store.oci.RegistryClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** oci:// through a real distribution registry (Debian's docker-registry) on loopback, plain HTTP, no auth. */
class OciStoreTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @TempDir
    Path tmp;

    private Map<String, String> env;
    private Path project;

    @BeforeEach
    void project() throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/m // " + tmp + "\n");
        Fixtures.richTree(project.resolve("cache"), 3 * Fixtures.MiB);
    }

    private String uri(String repository) {
        return "oci://" + registry.host() + "/" + repository + ":{{hash}}";
    }

    private Fixtures.Run upload(String repository, String... more) throws Exception {
        var args = Stream.concat(Stream.of("--target", uri(repository), "--folder", "cache", "--results-dir",
                tmp.resolve("up").toString()), Stream.of(more)).toArray(String[]::new);
        return Fixtures.upload(project, env, args);
    }

    private Fixtures.Run fetch(String repository, Path folder) throws Exception {
        return Fixtures.fetch(project, env, "--source", uri(repository), "--folder", folder.toString(), "--results-dir",
                tmp.resolve("down").toString());
    }

    @ParameterizedTest(name = "compression {0}")
    @ValueSource(strings = {"zstd", "gzip", "none"})
    void uploadThenFetchRestoresTheTreeWithTheLayerTypeOfItsCompression(String compression) throws Exception {
        var uploaded = upload("round/trip-" + compression, "--compression", compression);
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().startsWith("uploaded "), uploaded.err());

        Path restored = tmp.resolve("restored");
        var fetched = fetch("round/trip-" + compression, restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false));
        assertEquals("true", Files.readString(tmp.resolve("down/fetched")));
        assertEquals(Files.readString(tmp.resolve("up/cache-key")), Files.readString(tmp.resolve("down/matched-key")));
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var inspected = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/round/trip-" + compression + ":" + key);
        assertEquals(0, inspected.status(), inspected.toString());
        String mediaType = Map.of("zstd", "tar+zstd", "gzip", "tar+gzip", "none", "tar\"").get(compression);
        assertTrue(inspected.out().contains("\"application/vnd.oci.image.layer.v1." + mediaType), inspected.out());
        // The size result is the layers' sum: one layer per group.
        var layerSizes = java.util.regex.Pattern.compile("\"mediaType\":\"application/vnd\\.oci\\.image\\.layer[^\"]*\",\"digest\":\"sha256:[0-9a-f]{64}\",\"size\":([0-9]+)")
                .matcher(inspected.out()).results().mapToLong(m -> Long.parseLong(m.group(1))).sum();
        assertEquals(Files.readString(tmp.resolve("up/size")), Long.toString(layerSizes), inspected.out());
    }

    @Test
    void aMissingTagOrRepositoryIsAMissThatLeavesTheFolderAlone() throws Exception {
        assertEquals(0, upload("miss/present").status());
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);
        Fixtures.write(project.resolve("go.mod"), "module example.com/other\n");

        for (String repository : new String[] {"miss/present", "miss/never-pushed"}) {
            var fetched = fetch(repository, folder);
            assertEquals(ExitStatus.OK, fetched.status(), fetched.toString());
            assertTrue(fetched.err().contains("cache miss: "), fetched.toString());
            assertTrue(fetched.err().startsWith("cache miss: nothing at oci://" + registry.host() + "/" + repository + ":"), fetched.err());
            assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
            assertEquals(before, Fixtures.snapshot(folder, true));
        }
    }

    @Test
    void anUploadToATakenTagPushesNothingAndLeavesTheImageThere() throws Exception {
        assertEquals(0, upload("taken/tag").status());
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var first = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/taken/tag:" + key);
        Files.writeString(project.resolve("cache/bin/run.sh"), "#!/bin/sh\necho changed\n"); // another archive, the same key

        var again = upload("taken/tag");

        assertEquals(0, again.status(), again.toString());
        assertTrue(again.err().startsWith("kept: oci://" + registry.host() + "/taken/tag:" + key + " already holds this key's entry"), again.err());
        assertEquals("0", Files.readString(tmp.resolve("up/size")), "nothing was uploaded");
        var second = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/taken/tag:" + key);
        assertEquals(first.out(), second.out(), "the manifest, with its layer and created time, is the first upload's");
    }

    /** A repository may hold other images than caches: a restore key passes over them, it does not fail on them. */
    @Test
    void aRestoreKeyPassesOverATagThatIsNoCacheImage() throws Exception {
        assertEquals(0, upload("mixed/repo").status());
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var http = java.net.http.HttpClient.newHttpClient();
        String manifests = "http://" + registry.host() + "/v2/mixed/repo/manifests/";
        var head = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(manifests + key))
                .method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody())
                .header("Accept", OciStore.MANIFEST).build(), java.net.http.HttpResponse.BodyHandlers.discarding());
        String digest = head.headers().firstValue("Docker-Content-Digest").orElseThrow();
        long size = head.headers().firstValueAsLong("Content-Length").orElseThrow();
        String index = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{"
                + "\"mediaType\":\"" + OciStore.MANIFEST + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}]}";
        var put = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(manifests + key + "-index"))
                .header("Content-Type", "application/vnd.oci.image.index.v1+json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(index)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        Fixtures.write(project.resolve("go.mod"), "module example.com/next\n");

        var fetched = Fixtures.fetch(project, env, "--source", uri("mixed/repo"), "--folder", tmp.resolve("restored").toString(),
                "--restore-key", key, "--results-dir", tmp.resolve("down").toString());

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(key, Files.readString(tmp.resolve("down/matched-key")), "the cache, not the index tagged after it");
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
    }

    @Test
    void aLayerCorruptedInTheRegistryIsRejectedAndTheFolderKept() throws Exception {
        assertEquals(0, upload("corrupt/layer", "--compression", "none").status());
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var manifest = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/corrupt/layer:" + key).out();
        String layer = manifest.replaceFirst("(?s).*\"layers\":\\[\\{[^}]*\"digest\":\"sha256:([0-9a-f]{64})\".*", "$1");
        Path data = registry.dir().resolve("storage/docker/registry/v2/blobs/sha256/" + layer.substring(0, 2) + "/" + layer + "/data");
        try (var file = new RandomAccessFile(data.toFile(), "rw")) {
            file.seek(file.length() / 2); // inside a file's content: the tar stays well-formed, only its digest can tell
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01);
        }
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        var fetched = fetch("corrupt/layer", folder);

        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("group 1's tar hashes to sha256:"), fetched.err());
        assertEquals(1, fetched.err().lines().count(), fetched.err());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @Test
    void anUnreachableRegistryIsAStoreErrorNamingIt() throws Exception {
        int closed = Fixtures.freePort();
        Path folder = tmp.resolve("folder");
        var fetched = Fixtures.fetch(project, env, "--source", "oci://127.0.0.1:" + closed + "/x/y:{{hash}}", "--folder", folder.toString());
        var uploaded = Fixtures.upload(project, env, "--target", "oci://127.0.0.1:" + closed + "/x/y:{{hash}}", "--folder", "cache");

        for (var run : new Fixtures.Run[] {fetched, uploaded}) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains("oci://127.0.0.1:" + closed + "/x/y:"), run.err());
        }
        assertFalse(Files.exists(folder));
    }

    @Test
    void aMalformedReferenceIsAUsageError() throws Exception {
        for (String bad : new String[] {"oci://" + registry.host() + "/Upper/case:{{hash}}", "oci://" + registry.host() + "/no-tag",
                "oci://" + registry.host() + "/x@sha256:{{hash}}"}) {
            var run = Fixtures.fetch(project, env, "--source", bad, "--folder", "cache");
            assertEquals(ExitStatus.USAGE, run.status(), run.toString());
            assertTrue(run.err().contains("is not an OCI image reference"), run.err());
        }
    }

    @Test
    void aOneGibLayerGoesUpAndComesBackWithTheHeapCappedAt128m() throws Exception {
        Fixtures.writeRandom(project.resolve("big/one.bin"), 1024 * Fixtures.MiB + 7, 3);
        var capped = List.of("-Xmx128m");
        String uri = uri("memory/big");

        var uploaded = Fixtures.script(capped, "CacheUpload", project, env, "--target", uri, "--folder", "big", "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = Fixtures.script(capped, "CacheFetch", project, env, "--source", uri, "--folder", tmp.resolve("restored").toString());
        assertEquals(0, fetched.status(), fetched.toString());

        assertEquals(Fixtures.sha256(project.resolve("big/one.bin")), Fixtures.sha256(tmp.resolve("restored/one.bin")));
    }

    @Test
    void listingFindsTheTagsWithAPrefixWithTheirDigestsAndCreatedTimes() throws Exception {
        var quiet = new Log(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), false);
        var location = StoreUri.parse("--target", "oci://" + registry.host() + "/listing/tags:{{hash}}").resolve("unused");
        var target = Stores.open(location, false, java.time.Duration.ofSeconds(30), new Environment(env), quiet);
        var written = new java.util.TreeMap<String, String>();
        try (Store store = target.store()) {
            for (String tag : new String[] {"maven-linux-1", "maven-linux-2", "npm-linux-1"}) {
                byte[] bytes = ("archive of " + tag).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                String sha256 = Digests.hex(Digests.sha256().digest(bytes));
                try (Store.PendingWrite upload = store.create(tag)) {
                    upload.stream().write(bytes);
                    assertTrue(upload.commit(new Store.Contents(sha256, bytes.length, Compression.NONE), new Store.Description(tag,
                            java.time.Instant.parse("2026-01-0" + (written.size() + 1) + "T00:00:00Z"), bytes.length, sha256, 1, null)));
                }
                written.put(tag, sha256);
            }

            var listed = store.list("maven-");

            assertEquals(List.of("maven-linux-1", "maven-linux-2"), listed.stream().map(Store.StoredObject::path).sorted().toList());
            for (var object : listed) {
                assertEquals(java.util.Optional.of(written.get(object.path())), object.sha256());
            }
            assertEquals(java.time.Instant.parse("2026-01-02T00:00:00Z"),
                    listed.stream().filter(o -> o.path().equals("maven-linux-2")).findFirst().orElseThrow().modified());
            assertTrue(store.list("gradle-").isEmpty());
        }
    }

    /** Incremental saves will reuse a layer another repository holds: the registry links it there, no byte is sent. */
    @Test
    void aLayerOfAnotherRepositoryIsMountedIntoThisOne() throws Exception {
        assertEquals(0, upload("mount/source").status());
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var manifest = client("mount/source", false).getManifest(key).orElseThrow();
        String layer = String.valueOf(((Map<?, ?>) ((List<?>) manifest.get("layers")).get(0)).get("digest"));
        var target = client("mount/target", true);
        assertFalse(target.headBlob(layer), "not there before the mount");

        var mount = target.mountBlob(layer, "mount/source");

        assertTrue(mount.mounted(), mount.toString());
        assertTrue(target.headBlob(layer), "the layer is in the target repository");
    }

    /** A registry that cannot mount (here: the source has no such blob) starts an ordinary upload, which cancel ends. */
    @Test
    void aMountOfABlobTheSourceLacksStartsAnUploadToUseOrCancel() throws Exception {
        String missing = "sha256:" + "0".repeat(64);
        var target = client("mount/fallback", true);

        var mount = target.mountBlob(missing, "mount/nowhere");

        assertFalse(mount.mounted(), mount.toString());
        var upload = mount.upload().orElseThrow();
        var http = java.net.http.HttpClient.newHttpClient();
        var status = java.net.http.HttpRequest.newBuilder(upload).GET().build();
        assertEquals(204, http.send(status, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode(), "an upload under way");
        target.cancelUpload(upload);
        assertEquals(404, http.send(status, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode(), "cancelled");
        assertFalse(target.headBlob(missing));
    }

    private RegistryClient client(String repository, boolean push) throws Exception {
        var quiet = new Log(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), false);
        var location = StoreUri.parse("--target", "oci://" + registry.host() + "/" + repository + ":{{hash}}").resolve("unused");
        return RegistryClient.open(location, push, false, java.time.Duration.ofSeconds(30), new Environment(env), quiet);
    }
}

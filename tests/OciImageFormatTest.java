import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import com.github.luben.zstd.ZstdInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import lib.common.Digests;
import lib.common.ExitStatus;
import lib.common.Version;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images are images: skopeo reads what we push as a valid OCI image and copies it, and an
 * image made the way the Go tekton-caches makes it (crane: one tar+gzip layer) restores.
 */
class OciImageFormatTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @TempDir
    Path tmp;

    @Test
    void skopeoCopiesOurImageAndItsConfigNamesTheUncompressedLayersDigest() throws Exception {
        var env = Fixtures.env(tmp.resolve("xdg"));
        Path project = tmp.resolve("project");
        Fixtures.write(project.resolve("package-lock.json"), "{}\n");
        Fixtures.write(project.resolve("package.json"), "{}\n");
        Fixtures.richTree(project.resolve("node_modules"), 4 * Fixtures.MiB);
        var uploaded = Fixtures.upload(project, env, "--target", "oci://" + registry.host() + "/format/ours:{{hash}}", "--folder", "node_modules",
                "--results-dir", tmp.resolve("up").toString());
        assertEquals(0, uploaded.status(), uploaded.toString());
        String key = Files.readString(tmp.resolve("up/cache-key"));

        Path layout = tmp.resolve("layout");
        var copied = registry.skopeo("copy", "docker://" + registry.host() + "/format/ours:" + key, "oci:" + layout + ":" + key);
        assertEquals(0, copied.status(), copied.toString());

        Map<String, Object> index = json(layout.resolve("index.json"));
        Map<String, Object> manifest = json(blob(layout, (String) first(index, "manifests").get("digest")));
        assertEquals("application/vnd.oci.image.manifest.v1+json", manifest.get("mediaType"));
        Map<String, Object> layer = first(manifest, "layers");
        assertEquals("application/vnd.oci.image.layer.v1.tar+zstd", layer.get("mediaType"));
        @SuppressWarnings("unchecked")
        var annotations = (Map<String, Object>) manifest.get("annotations");
        assertEquals(key, annotations.get("io.github.openshift-pipelines.tekton-caches.key"));
        assertTrue(Instant.parse((String) annotations.get("org.opencontainers.image.created")).isAfter(Instant.now().minusSeconds(600)));
        assertEquals(Version.NUMBER, annotations.get("io.github.openshift-pipelines.tekton-caches.version"));
        assertTrue(uploaded.err().startsWith("uploaded " + String.format("%,d files", Long.parseLong(
                (String) annotations.get("io.github.openshift-pipelines.tekton-caches.files")))), uploaded.err());

        @SuppressWarnings("unchecked")
        var config = json(blob(layout, (String) ((Map<String, Object>) manifest.get("config")).get("digest")));
        @SuppressWarnings("unchecked")
        var diffIds = (List<Object>) ((Map<String, Object>) config.get("rootfs")).get("diff_ids");
        // One layer per group, each a tar of its own: the config lists their digests in order, and
        // each layer's annotations repeat its own.
        @SuppressWarnings("unchecked")
        var layers = (List<Map<String, Object>>) (List<?>) manifest.get("layers");
        assertTrue(layers.size() > 1, "a tree of several MiB makes several groups: " + layers.size());
        var expected = new java.util.ArrayList<Object>();
        long tarBytes = 0;
        for (var each : layers) {
            var digest = Digests.sha256();
            try (InputStream in = new ZstdInputStream(Files.newInputStream(blob(layout, (String) each.get("digest"))))) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; tarBytes += n) {
                    digest.update(buffer, 0, n);
                }
            }
            expected.add("sha256:" + Digests.hex(digest.digest()));
            @SuppressWarnings("unchecked")
            var layerAnnotations = (Map<String, Object>) each.get("annotations");
            assertEquals(expected.get(expected.size() - 1), layerAnnotations.get("io.github.openshift-pipelines.tekton-caches.diff-id"));
        }
        assertEquals(expected, diffIds);
        assertEquals(Long.toString(tarBytes), annotations.get("io.github.openshift-pipelines.tekton-caches.uncompressed-size"));
    }

    @Test
    void anImageInTheGoToolsFormatRestores() throws Exception {
        var env = Fixtures.env(tmp.resolve("xdg"));
        Path project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/app\n");
        var miss = Fixtures.fetch(project, env, "--source", "oci://" + registry.host() + "/format/go:{{hash}}", "--folder", "gomod",
                "--results-dir", tmp.resolve("miss").toString());
        assertEquals(ExitStatus.OK, miss.status(), miss.toString());
        assertTrue(miss.err().contains("cache miss: "), miss.toString());
        String key = Files.readString(tmp.resolve("miss/cache-key"));

        Path layout = goToolLayout(tmp.resolve("go-layout"), key);
        var pushed = registry.skopeo("copy", "oci:" + layout + ":" + key, "docker://" + registry.host() + "/format/go:" + key);
        assertEquals(0, pushed.status(), pushed.toString());

        var fetched = Fixtures.fetch(project, env, "--source", "oci://" + registry.host() + "/format/go:{{hash}}", "--folder", "gomod");

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("module cache\n", Files.readString(project.resolve("gomod/cache/download/example.com/m/@v/v1.0.0.mod")));
        assertEquals("package m\n", Files.readString(project.resolve("gomod/example.com/m@v1.0.0/m.go")));
    }

    /**
     * An OCI layout as crane.Append(empty OCI image, cache.tar.gz) leaves it: an OCI manifest, an
     * OCI config whose rootfs lists the layer, and one tar+gzip layer with relative names.
     */
    private static Path goToolLayout(Path layout, String tag) throws Exception {
        Files.createDirectories(layout.resolve("blobs/sha256"));
        Path tarGz = layout.resolve("layer.tmp");
        var tarDigest = Digests.sha256();
        try (OutputStream file = Files.newOutputStream(tarGz);
                var gzip = new GZIPOutputStream(file);
                var tar = new TarArchiveOutputStream(new java.security.DigestOutputStream(gzip, tarDigest))) {
            add(tar, "cache/download/example.com/m/@v/v1.0.0.mod", "module cache\n");
            add(tar, "example.com/m@v1.0.0/m.go", "package m\n");
        }
        String layer = store(layout, Files.readAllBytes(tarGz));
        Files.delete(tarGz);
        String config = store(layout, ("{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{\"created\":"
                + "\"0001-01-01T00:00:00Z\"}],\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
                + Digests.hex(tarDigest.digest()) + "\"]},\"config\":{}}").getBytes(StandardCharsets.UTF_8));
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
                + "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":" + size(layout, config) + ",\"digest\":\""
                + config + "\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":"
                + size(layout, layer) + ",\"digest\":\"" + layer + "\"}]}").getBytes(StandardCharsets.UTF_8);
        String manifestDigest = store(layout, manifest);
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.writeString(layout.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + manifestDigest + "\",\"size\":" + manifest.length
                + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}");
        return layout;
    }

    private static void add(TarArchiveOutputStream tar, String name, String content) throws Exception {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        var entry = new TarArchiveEntry(name);
        entry.setSize(bytes.length);
        entry.setMode(0644);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static String store(Path layout, byte[] content) throws Exception {
        String digest = "sha256:" + Digests.hex(Digests.sha256().digest(content));
        Files.write(blob(layout, digest), content);
        return digest;
    }

    private static long size(Path layout, String digest) throws Exception {
        return Files.size(blob(layout, digest));
    }

    private static Path blob(Path layout, String digest) {
        return layout.resolve("blobs/sha256/" + digest.substring("sha256:".length()));
    }

    private static Map<String, Object> json(Path file) throws Exception {
        return JSON.std.mapFrom(Files.readString(file));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> first(Map<String, Object> object, String listName) {
        return (Map<String, Object>) ((List<Object>) object.get(listName)).get(0);
    }
}

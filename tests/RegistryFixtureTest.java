import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry fixtures themselves, checked with tools that are not ours (skopeo, java.net.http):
 * each auth mode takes the right credentials and refuses wrong ones, TLS works with the CA, and
 * the proxy forwards intact and breaks exactly what it is told to.
 */
class RegistryFixtureTest {

    @TempDir
    Path tmp;

    private Path layout;
    private String manifestDigest;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void buildImage() throws Exception {
        layout = tmp.resolve("layout");
        manifestDigest = ociLayout(layout);
    }

    @Test
    void openRegistryTakesAPushFromAnyone() throws Exception {
        try (var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.NONE, false)) {
            assertPushAndInspect(registry, registry.host());
            assertEquals(200, get(registry.url() + "/v2/", Map.of()).statusCode());
        }
    }

    @Test
    void basicRegistryNeedsThePassword() throws Exception {
        try (var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.BASIC, false)) {
            assertPushAndInspect(registry, registry.host());
            var wrong = registry.skopeo("copy", "--dest-creds", RegistryServer.USER + ":wrong", "oci:" + layout + ":latest",
                    "docker://" + registry.host() + "/fixture/other:v1");
            assertNotEquals(0, wrong.status(), wrong.toString());
            assertTrue(wrong.err().contains("unauthorized") || wrong.err().contains("401"), wrong.toString());
            var anonymous = get(registry.url() + "/v2/", Map.of());
            assertEquals(401, anonymous.statusCode());
            assertEquals("Basic realm=\"basic-realm\"", anonymous.headers().firstValue("WWW-Authenticate").orElse(""));
            assertEquals(200, get(registry.url() + "/v2/", Map.of("Authorization", basic(RegistryServer.PASSWORD))).statusCode());
        }
    }

    @Test
    void tokenRegistryTakesScopedTokensFromItsTokenServer() throws Exception {
        try (var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.TOKEN, false)) {
            var tokens = registry.tokenServer();
            assertPushAndInspect(registry, registry.host());
            assertTrue(tokens.tokensIssued() > 0);

            var challenge = get(registry.url() + "/v2/", Map.of());
            assertEquals(401, challenge.statusCode());
            assertEquals("Bearer realm=\"" + tokens.realm() + "\",service=\"" + RegistryServer.TOKEN_SERVICE + "\"",
                    challenge.headers().firstValue("WWW-Authenticate").orElse(""));

            var wrong = registry.skopeo("copy", "--dest-creds", RegistryServer.USER + ":wrong", "oci:" + layout + ":latest",
                    "docker://" + registry.host() + "/fixture/other:v1");
            assertNotEquals(0, wrong.status(), wrong.toString());
            String tokenUrl = tokens.realm() + "?service=" + RegistryServer.TOKEN_SERVICE + "&scope=repository:fixture/tiny:pull";
            assertEquals(401, get(tokenUrl, Map.of()).statusCode());
            assertEquals(401, get(tokenUrl, Map.of("Authorization", basic("wrong"))).statusCode());

            // A pull token reads the manifest but may not start an upload: scopes are enforced.
            var pullToken = get(tokenUrl, Map.of("Authorization", basic(RegistryServer.PASSWORD)));
            assertEquals(200, pullToken.statusCode(), pullToken.body());
            String bearer = "Bearer " + jsonString(pullToken.body(), "token");
            var manifest = get(registry.url() + "/v2/fixture/tiny/manifests/v1",
                    Map.of("Authorization", bearer, "Accept", "application/vnd.oci.image.manifest.v1+json"));
            assertEquals(200, manifest.statusCode());
            assertEquals(manifestDigest, manifest.headers().firstValue("Docker-Content-Digest").orElse(""));
            var upload = http.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/fixture/tiny/blobs/uploads/"))
                    .header("Authorization", bearer).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, upload.statusCode());
            // Both actions, in whichever order: the registry writes them from a Go map, unordered.
            assertTrue(upload.headers().firstValue("WWW-Authenticate").orElse("")
                    .matches(".*scope=\"repository:fixture/tiny:(pull,push|push,pull)\".*"), upload.headers().map().toString());

            // The OAuth2 form flow: docker's login (password grant) and its identitytoken (refresh grant).
            var login = postForm(tokens.realm(), "grant_type=password&username=" + RegistryServer.USER + "&password="
                    + RegistryServer.PASSWORD + "&service=" + RegistryServer.TOKEN_SERVICE + "&client_id=test&access_type=offline"
                    + "&scope=repository:fixture/tiny:pull");
            assertEquals(200, login.statusCode(), login.body());
            assertEquals(registry.identityToken(), jsonString(login.body(), "refresh_token"));
            assertEquals(401, postForm(tokens.realm(), "grant_type=refresh_token&refresh_token=nope&service=x&client_id=test").statusCode());

            // skopeo with config.json's identitytoken takes the refresh-token route. containers/image
            // skips entries without "auth", so this one is written as docker login writes it:
            // "auth" holding "user:" (no password) next to the identitytoken.
            Path config = registry.dockerConfigWithIdentityToken(tmp.resolve("docker-id"), registry.identityToken());
            assertEquals("{\"auths\":{\"" + registry.host() + "\":{\"identitytoken\":\"" + registry.identityToken() + "\"}}}",
                    Files.readString(config.resolve("config.json")).strip());
            var inspect = skopeoWithAuthFile(registry, identityTokenConfig(registry, "docker-id-login", registry.identityToken()),
                    "inspect", "--raw", "docker://" + registry.host() + "/fixture/tiny:v1");
            assertEquals(0, inspect.status(), inspect.toString());
            assertEquals(manifestDigest, sha256(inspect.out().getBytes(StandardCharsets.UTF_8)));
            int issued = tokens.tokensIssued();
            var refused = skopeoWithAuthFile(registry, identityTokenConfig(registry, "docker-bad-id", "refresh-wrong"),
                    "inspect", "--raw", "docker://" + registry.host() + "/fixture/tiny:v1");
            assertNotEquals(0, refused.status(), refused.toString());
            assertEquals(issued, tokens.tokensIssued());

            // The docker config with user and password works the same way.
            Path passwordConfig = registry.dockerConfig(tmp.resolve("docker-pw"), RegistryServer.USER, RegistryServer.PASSWORD);
            var withPassword = skopeoWithAuthFile(registry, passwordConfig.resolve("config.json"), "inspect", "--raw",
                    "docker://" + registry.host() + "/fixture/tiny:v1");
            assertEquals(0, withPassword.status(), withPassword.toString());
        }
    }

    @Test
    void tlsRegistryIsTrustedThroughItsCertificate() throws Exception {
        try (var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.BASIC, true)) {
            assertTrue(registry.url().startsWith("https://127.0.0.1:"));
            assertPushAndInspect(registry, registry.host());
            String image = "docker://" + registry.host() + "/fixture/tiny:v1";
            String creds = "--creds=" + RegistryServer.USER + ":" + RegistryServer.PASSWORD;

            var env = new HashMap<>(System.getenv());
            env.put("REGISTRY_AUTH_FILE", tmp.resolve("no-auth.json").toString());
            var untrusted = Fixtures.run(List.of("skopeo", "inspect", "--raw", creds, image), tmp, env);
            assertNotEquals(0, untrusted.status(), untrusted.toString());
            assertTrue(untrusted.err().contains("x509"), untrusted.toString());
            env.put("SSL_CERT_FILE", registry.caCertificate().toString());
            var trusted = Fixtures.run(List.of("skopeo", "inspect", "--raw", creds, image), tmp, env);
            assertEquals(0, trusted.status(), trusted.toString());

            var javaClient = HttpClient.newBuilder().sslContext(registry.sslContext()).build();
            var response = javaClient.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/"))
                    .header("Authorization", basic(RegistryServer.PASSWORD)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
        }
    }

    @Test
    void proxyForwardsAPushIntact() throws Exception {
        try (var proxy = FlakyProxy.start();
                var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.TOKEN, false, proxy.url())) {
            proxy.target(registry.url());
            assertPushAndInspect(registry, proxy.host());
            var raw = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/fixture/tiny:v1");
            assertEquals(manifestDigest, sha256(raw.out().getBytes(StandardCharsets.UTF_8)));
            List<String> seen = proxy.requests();
            assertTrue(seen.stream().anyMatch(r -> r.startsWith("PATCH /v2/fixture/tiny/blobs/uploads/")), seen.toString());
            assertTrue(seen.stream().anyMatch(r -> r.startsWith("PUT /v2/fixture/tiny/blobs/uploads/") && r.contains("digest=")),
                    seen.toString());
            assertTrue(seen.contains("PUT /v2/fixture/tiny/manifests/v1"), seen.toString());
        }
    }

    @Test
    void proxyBreaksWhatItIsToldTo() throws Exception {
        try (var proxy = FlakyProxy.start();
                var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.NONE, false, proxy.url())) {
            proxy.target(registry.url());
            String base = proxy.url() + "/v2/fixture/blob/";

            proxy.failNext("^GET /v2/$", 1, 503);
            assertEquals(503, get(proxy.url() + "/v2/", Map.of()).statusCode());
            assertEquals(200, get(proxy.url() + "/v2/", Map.of()).statusCode());
            // A POST: java.net.http retries an idempotent request once, unasked, when the
            // connection closes before any byte of the answer, which would hide the reset.
            proxy.resetNext("^POST /v2/fixture/blob/blobs/uploads/$", 1);
            assertThrows(IOException.class, () -> http.send(HttpRequest.newBuilder(URI.create(base + "blobs/uploads/"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()));
            assertEquals(List.of("GET /v2/", "GET /v2/", "POST /v2/fixture/blob/blobs/uploads/"), proxy.requests());

            // A chunked upload as the registry API has it, through the proxy: PATCH with a
            // Content-Length body and Content-Range, PATCH with a chunked body, PUT with none.
            byte[] blob = new byte[3 * 1024 * 1024 + 17];
            new SplittableRandom(7).nextBytes(blob);
            String digest = sha256(blob);
            var start = http.send(HttpRequest.newBuilder(URI.create(base + "blobs/uploads/"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
            assertEquals(202, start.statusCode());
            String location = start.headers().firstValue("Location").orElseThrow();
            assertTrue(location.startsWith(proxy.url() + "/v2/fixture/blob/blobs/uploads/"), location);
            int half = blob.length / 2;
            var first = http.send(HttpRequest.newBuilder(URI.create(location))
                    .header("Content-Type", "application/octet-stream").header("Content-Range", "0-" + (half - 1))
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(blob, 0, half)).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(202, first.statusCode());
            assertEquals("0-" + (half - 1), first.headers().firstValue("Range").orElse(""));
            var second = http.send(HttpRequest.newBuilder(URI.create(first.headers().firstValue("Location").orElseThrow()))
                    .header("Content-Type", "application/octet-stream")
                    .method("PATCH", HttpRequest.BodyPublishers.ofInputStream(
                            () -> new ByteArrayInputStream(blob, half, blob.length - half))).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(202, second.statusCode());
            assertEquals("0-" + (blob.length - 1), second.headers().firstValue("Range").orElse(""));
            String finish = second.headers().firstValue("Location").orElseThrow() + "&digest=" + digest;
            var done = http.send(HttpRequest.newBuilder(URI.create(finish)).PUT(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding());
            assertEquals(201, done.statusCode());
            assertEquals(digest, done.headers().firstValue("Docker-Content-Digest").orElse(""));

            String blobUrl = base + "blobs/" + digest;
            var range = get(blobUrl, Map.of("Range", "bytes=100-199"));
            assertEquals(206, range.statusCode());
            assertEquals("bytes 100-199/" + blob.length, range.headers().firstValue("Content-Range").orElse(""));
            // distribution 2.8 answers a range past the end with 416, Content-Length of the whole
            // blob and no body, then closes: the status arrives, reading the body fails.
            var status = new java.util.concurrent.atomic.AtomicInteger();
            assertThrows(IOException.class, () -> http.send(HttpRequest.newBuilder(URI.create(blobUrl))
                    .header("Range", "bytes=" + blob.length + "-").build(), info -> {
                        status.set(info.statusCode());
                        return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
                    }));
            assertEquals(416, status.get());
            var head = http.send(HttpRequest.newBuilder(URI.create(blobUrl)).method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .build(), HttpResponse.BodyHandlers.discarding());
            assertEquals(String.valueOf(blob.length), head.headers().firstValue("Content-Length").orElse(""));

            proxy.truncateNext("^GET /v2/fixture/blob/blobs/sha256:", 1, 1000);
            assertThrows(IOException.class, () -> http.send(HttpRequest.newBuilder(URI.create(blobUrl)).build(),
                    HttpResponse.BodyHandlers.ofByteArray()));
            var whole = http.send(HttpRequest.newBuilder(URI.create(blobUrl)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertArrayEquals(blob, whole.body());

            // Errors pass through with their status, and failNext leaves other requests alone.
            proxy.failNext("^PUT ", 1, 500);
            assertEquals(404, get(base + "blobs/sha256:" + "0".repeat(64), Map.of()).statusCode());
            var failedPut = http.send(HttpRequest.newBuilder(URI.create(finish)).PUT(HttpRequest.BodyPublishers.ofByteArray(blob))
                    .build(), HttpResponse.BodyHandlers.discarding());
            assertEquals(500, failedPut.statusCode());
        }
    }

    /** Pushes the layout through `host` (the registry or a proxy in front of it), then reads the manifest back. */
    private void assertPushAndInspect(RegistryServer registry, String host) throws Exception {
        var copy = registry.skopeo("copy", "oci:" + layout + ":latest", "docker://" + host + "/fixture/tiny:v1");
        assertEquals(0, copy.status(), copy.toString());
        var inspect = registry.skopeo("inspect", "--raw", "docker://" + host + "/fixture/tiny:v1");
        assertEquals(0, inspect.status(), inspect.toString());
        assertEquals(manifestDigest, sha256(inspect.out().getBytes(StandardCharsets.UTF_8)));
        assertTrue(Files.isDirectory(registry.dir().resolve("storage/docker/registry/v2/repositories/fixture/tiny")));
    }

    /** A config.json as `docker login` leaves it for an OAuth2 registry; returns the file. */
    private Path identityTokenConfig(RegistryServer registry, String name, String token) throws Exception {
        String userOnly = Base64.getEncoder().encodeToString((RegistryServer.USER + ":").getBytes(StandardCharsets.UTF_8));
        Path file = tmp.resolve(name).resolve("config.json");
        Fixtures.write(file, "{\"auths\":{\"" + registry.host() + "\":{\"auth\":\"" + userOnly + "\",\"identitytoken\":\""
                + token + "\"}}}\n");
        return file;
    }

    private static Fixtures.Run skopeoWithAuthFile(RegistryServer registry, Path authFile, String subcommand, String... args)
            throws Exception {
        var command = new ArrayList<>(List.of("skopeo", subcommand, "--tls-verify=false", "--authfile", authFile.toString()));
        command.addAll(Arrays.asList(args));
        return Fixtures.run(command, registry.dir(), System.getenv());
    }

    private HttpResponse<String> get(String url, Map<String, String> headers) throws Exception {
        var request = HttpRequest.newBuilder(URI.create(url));
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> postForm(String url, String form) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String basic(String password) {
        return "Basic " + Base64.getEncoder().encodeToString((RegistryServer.USER + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** The string value of a top-level key in a small JSON object of ours. */
    private static String jsonString(String json, String key) {
        int at = json.indexOf("\"" + key + "\":\"");
        assertTrue(at >= 0, key + " in " + json);
        int from = at + key.length() + 4;
        return json.substring(from, json.indexOf('"', from));
    }

    /**
     * A one-layer image in OCI layout, tagged "latest", written by hand so that no image tool is
     * needed: an empty tar (two zero blocks) gzipped, its config and manifest. Returns the
     * manifest's digest.
     */
    static String ociLayout(Path dir) throws Exception {
        byte[] tar = new byte[1024];
        var gz = new ByteArrayOutputStream();
        try (var out = new GZIPOutputStream(gz)) {
            out.write(tar);
        }
        byte[] layer = gz.toByteArray();
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
                + "\"diff_ids\":[\"" + sha256(tar) + "\"]}}").getBytes(StandardCharsets.UTF_8);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + sha256(config)
                + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                + "\"digest\":\"" + sha256(layer) + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
        for (byte[] blob : List.of(layer, config, manifest)) {
            Path file = dir.resolve("blobs/sha256/" + sha256(blob).substring("sha256:".length()));
            Files.createDirectories(file.getParent());
            Files.write(file, blob);
        }
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + sha256(manifest) + "\",\"size\":"
                + manifest.length + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}");
        return sha256(manifest);
    }

    static String sha256(byte[] bytes) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}

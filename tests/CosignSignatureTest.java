import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.Log;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.oci.CosignSignatures;
import lib.store.oci.OciStore;
import lib.store.oci.RegistryClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cosign's key-based signatures of an entry's image, stored by CosignSignatures in a real
 * distribution registry, signed here with openssl (P-256, as cosign's keys are) over a
 * simple-signing payload written by hand, and checked by skopeo under a sigstoreSigned policy with
 * use-sigstore-attachments, an independent reader of cosign's format. Debian's skopeo finds and
 * downloads the signatures but is built with their verification switched off; there the test
 * counts the signatures skopeo found and checks them as cosign verify --key would, with skopeo's
 * copy of the signature image and openssl (see assertAccepted).
 */
class CosignSignatureTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @TempDir
    Path tmp;

    private Map<String, String> env;
    private Path project;
    private final ByteArrayOutputStream logged = new ByteArrayOutputStream();

    @BeforeEach
    void project() throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/m // " + tmp + "\n");
        Fixtures.richTree(project.resolve("cache"), Fixtures.MiB);
    }

    @Test
    void aSignedEntryIsReadBackAndPassesTheKeysPolicy() throws Exception {
        var signed = signed("signed/accepted", key("a"));
        // The digest of the bytes skopeo reads, independently of ours.
        assertEquals(rawManifestDigest("signed/accepted", signed.tag()), signed.digest());
        try (var store = store("signed/accepted")) {
            var read = store.signatures(signed.digest());
            assertEquals(1, read.size());
            assertArrayEquals(signed.payload(), read.get(0).payload());
            assertArrayEquals(signed.signature(), read.get(0).signature());
        }
        assertAccepted("signed/accepted", signed.tag(), key("a"), 1);
    }

    @Test
    void theSignatureImageIsCosignsFormat() throws Exception {
        var signed = signed("signed/format", key("a"));
        String digest = signed.digest();
        byte[] payload = signed.payload();
        byte[] signature = signed.signature();
        String sigTag = "sha256-" + digest.substring("sha256:".length()) + ".sig";
        var raw = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/signed/format:" + sigTag);
        assertEquals(0, raw.status(), raw.toString());
        String payloadDigest = "sha256:" + Digests.hex(Digests.sha256().digest(payload));
        assertEquals("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
                + "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":" + configSize(raw.out()) + ",\"digest\":\""
                + configDigest(raw.out()) + "\"},\"layers\":[{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\","
                + "\"size\":" + payload.length + ",\"digest\":\"" + payloadDigest + "\",\"annotations\":"
                + "{\"dev.cosignproject.cosign/signature\":\"" + java.util.Base64.getEncoder().encodeToString(signature) + "\"}}]}",
                raw.out().strip());
        var config = registry.skopeo("inspect", "--config", "--raw", "docker://" + registry.host() + "/signed/format:" + sigTag);
        assertEquals(0, config.status(), config.toString());
        assertTrue(config.out().strip().matches("\\{\"architecture\":\"\",\"created\":\"[0-9T:.-]+Z\",\"history\":"
                + "\\[\\{\"created\":\"0001-01-01T00:00:00Z\"}],\"os\":\"\",\"rootfs\":\\{\"type\":\"layers\",\"diff_ids\":"
                + "\\[\"" + payloadDigest + "\"]},\"config\":\\{}}"), config.out());
    }

    @Test
    void anUnsignedEntryFailsThePolicy() throws Exception {
        String tag = upload("signed/unsigned");
        try (var store = store("signed/unsigned")) {
            assertEquals(List.of(), store.signatures(manifestDigest("signed/unsigned", tag)));
        }
        var refused = skopeoCopy("signed/unsigned", tag, publicKey(key("a")));
        assertNotEquals(0, refused.status(), refused.toString());
        assertTrue(refused.err().contains("A signature was required, but no signature exists"), refused.toString());
        assertFalse(verifiedByHand("signed/unsigned", tag, publicKey(key("a"))));
    }

    @Test
    void aSignatureByAnotherKeyFailsThePolicy() throws Exception {
        var signed = signed("signed/other-key", key("b"));
        assertRejected("signed/other-key", signed.tag(), key("a"), 1);
    }

    @Test
    void aPayloadNamingAnotherManifestFailsThePolicy() throws Exception {
        String tag = upload("signed/other-manifest");
        String digest = manifestDigest("signed/other-manifest", tag);
        String another = "sha256:" + Digests.hex(Digests.sha256().digest("another manifest".getBytes(StandardCharsets.UTF_8)));
        byte[] payload = payload("signed/other-manifest", another);
        Path key = key("a");
        try (var store = store("signed/other-manifest")) {
            store.sign(digest, payload, sign(key, payload));
            // Stored and read back as given: what the payload names is for the verifier to check.
            assertArrayEquals(payload, store.signatures(digest).get(0).payload());
        }
        assertRejected("signed/other-manifest", tag, key, 1);
    }

    @Test
    void aSecondKeyAppendsItsSignatureAndEitherKeysPolicyAccepts() throws Exception {
        String tag = upload("signed/rotation");
        String digest = manifestDigest("signed/rotation", tag);
        Path a = key("a");
        Path b = key("b");
        byte[] payload = payload("signed/rotation", digest);
        byte[] byA = sign(a, payload);
        byte[] byB = sign(b, payload);
        try (var store = store("signed/rotation")) {
            store.sign(digest, payload, byA);
            store.sign(digest, payload, byB);
            store.sign(digest, payload, byA); // already there: not added again
            var read = store.signatures(digest);
            assertEquals(2, read.size());
            assertArrayEquals(byA, read.get(0).signature());
            assertArrayEquals(byB, read.get(1).signature());
            assertArrayEquals(payload, read.get(1).payload());
        }
        assertAccepted("signed/rotation", tag, a, 2);
        assertAccepted("signed/rotation", tag, b, 2);
        assertRejected("signed/rotation", tag, key("c"), 2);
    }

    @Test
    void theCommittedDigestIsTheDigestOfTheManifestTagged() throws Exception {
        byte[] tar = "not really a tar, which the store does not read".getBytes(StandardCharsets.UTF_8);
        String sha256 = Digests.hex(Digests.sha256().digest(tar));
        String committed;
        try (var store = store("signed/committed");
                Store.EntryWrite write = store.createEntry("written", Compression.NONE)) {
            write.putGroup(new Store.Group(sha256, tar.length, sha256, tar.length), tar);
            assertTrue(write.commit(new Store.Description("written", Instant.now(), tar.length, null, 1, null), -1));
            committed = write.committedDigest().orElseThrow();
        }
        assertEquals(rawManifestDigest("signed/committed", "written"), committed);
        assertEquals(committed, manifestDigest("signed/committed", "written"));
    }

    @Test
    void aListedEntryHasTheDigestOfTheManifestListedAndSignaturesAreNoEntries() throws Exception {
        var signed = signed("signed/listed", key("a"));
        try (var store = store("signed/listed")) {
            List<Store.StoredObject> listed = store.list("");
            assertEquals(1, listed.size(), listed.toString());
            assertEquals(signed.tag(), listed.get(0).path());
            assertEquals(signed.digest(), store.manifestDigest(listed.get(0)).orElseThrow());
            assertTrue(store.groups(listed.get(0)).isPresent());
        }
    }

    /**
     * An image tagged over a listed one, with the same layer (so the same version) but another
     * manifest, is not read as the one listed: the signature checked named the manifest listed.
     */
    @Test
    void aListedEntryTaggedOverWithAnotherManifestIsNotReadAsListed() throws Exception {
        byte[] tar = "the same layer in two manifests".getBytes(StandardCharsets.UTF_8);
        String sha256 = Digests.hex(Digests.sha256().digest(tar));
        var group = new Store.Group(sha256, tar.length, sha256, tar.length);
        try (var store = store("signed/retagged")) {
            try (Store.EntryWrite write = store.createEntry("entry", Compression.NONE)) {
                write.putGroup(group, tar);
                assertTrue(write.commit(new Store.Description("entry", Instant.parse("2026-01-01T00:00:00Z"), tar.length, null, 1, null), -1));
            }
            Store.StoredObject listed = store.list("").get(0);
            String digest = store.manifestDigest(listed).orElseThrow();
            try (var other = store("signed/retagged"); Store.EntryWrite write = other.createEntry("entry", Compression.NONE)) {
                write.putGroup(group, tar);
                assertTrue(write.replaces(listed));
                assertTrue(write.commit(new Store.Description("entry", Instant.parse("2026-01-02T00:00:00Z"), tar.length, null, 1, null), -1));
                assertNotEquals(digest, write.committedDigest().orElseThrow());
            }
            var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> store.groups(listed));
            assertTrue(e.getMessage().contains("was replaced since it was found"), e.getMessage());
        }
    }

    @Test
    void deletingAnEntryDeletesItsSignatures() throws Exception {
        var signed = signed("signed/deleted", key("a"));
        String tag = signed.tag();
        String digest = signed.digest();
        String sigTag = "sha256-" + digest.substring("sha256:".length()) + ".sig";
        try (var store = store("signed/deleted")) {
            assertEquals(0, registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/signed/deleted:" + sigTag).status());
            store.delete(store.find(tag).orElseThrow());
            assertTrue(store.find(tag).isEmpty());
            assertEquals(List.of(), store.signatures(digest));
        }
        var gone = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/signed/deleted:" + sigTag);
        assertNotEquals(0, gone.status(), gone.toString());
    }

    /** A signature image that is no image of layers, too big, or holds layers that are no signature gives none, and no failure. */
    @Test
    void whatCannotBeASignatureIsPassedOverNeverThrown() throws Exception {
        String tag = upload("signed/malformed");
        String digest = manifestDigest("signed/malformed", tag);
        String sigTag = "sha256-" + digest.substring("sha256:".length()) + ".sig";
        String index = "application/vnd.oci.image.index.v1+json";
        try (var store = store("signed/malformed")) {
            putManifest("signed/malformed", sigTag, index, "{\"schemaVersion\":2,\"mediaType\":\"" + index + "\",\"manifests\":[]}");
            assertEquals(List.of(), store.signatures(digest));
            assertTrue(logged.toString().contains("is no image of layers"), logged.toString());

            String big = "x".repeat(1100 * 1024);
            putManifest("signed/malformed", sigTag, index, "{\"schemaVersion\":2,\"mediaType\":\"" + index
                    + "\",\"manifests\":[],\"annotations\":{\"a\":\"" + big + "\"}}");
            assertEquals(List.of(), store.signatures(digest));
            assertTrue(logged.toString().contains("larger than 1 MiB"), logged.toString());

            // Layers whose blobs the registry has (the entry's own config), but which are no signature.
            var entry = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/signed/malformed:" + tag).out();
            String config = "\"size\":" + configSize(entry) + ",\"digest\":\"" + configDigest(entry) + "\"";
            String manifest = "application/vnd.oci.image.manifest.v1+json";
            putManifest("signed/malformed", sigTag, manifest, "{\"schemaVersion\":2,\"mediaType\":\"" + manifest + "\","
                    + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\"," + config + "},\"layers\":["
                    + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\"," + config
                    + ",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"AAAA\"}},"
                    + "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\"," + config + "},"
                    + "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\"," + config
                    + ",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"not base64!\"}},"
                    + "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\"," + config
                    + ",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"AAAA\"}}]}");
            var read = store.signatures(digest);
            assertEquals(1, read.size(), logged.toString()); // the last layer only
            assertArrayEquals(new byte[] {0, 0, 0}, read.get(0).signature());
            assertTrue(logged.toString().contains("its media type is application/vnd.oci.image.layer.v1.tar"), logged.toString());
            assertTrue(logged.toString().contains("has no dev.cosignproject.cosign/signature annotation"), logged.toString());
            assertTrue(logged.toString().contains("annotation is not base64"), logged.toString());
        }
    }

    /** What no real registry serves: payloads that are not the blobs their digests name, or larger than they say. */
    @Test
    void aPayloadThatIsNotItsDigestsOrTooLargeIsPassedOver() throws Exception {
        String digest = "sha256:" + "1".repeat(64);
        byte[] honest = "{\"critical\":{}}".getBytes(StandardCharsets.UTF_8);
        String honestDigest = "sha256:" + Digests.hex(Digests.sha256().digest(honest));
        String liar = "sha256:" + "2".repeat(64);
        String big = "sha256:" + "3".repeat(64);
        String layers = layer(honestDigest, honest.length) + "," + layer(liar, honest.length) + "," + layer(big, 100);
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[" + layers + "]}";
        try (var hostile = HostileRegistry.start((request, out) -> {
            String line = request.line();
            String answer;
            if (line.endsWith("/manifests/sha256-" + "1".repeat(64) + ".sig")) {
                answer = HostileRegistry.answer(200, manifest);
            } else if (line.endsWith("/blobs/" + honestDigest) || line.endsWith("/blobs/" + liar)) {
                answer = HostileRegistry.answer(200, new String(honest, StandardCharsets.UTF_8));
            } else if (line.endsWith("/blobs/" + big)) {
                answer = HostileRegistry.answer(200, "x".repeat(65 * 1024 + 1));
            } else {
                answer = HostileRegistry.answer(line.equals("GET /v2/") ? 200 : 404, "");
            }
            HostileRegistry.send(out, answer);
        })) {
            var log = new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), true);
            URI location = StoreUri.parse("--source", "oci://" + hostile.host() + "/hostile/sig:{{hash}}").resolve("unused");
            try (var client = RegistryClient.open(location, false, false, Duration.ofSeconds(30), new Environment(env), log)) {
                var read = CosignSignatures.read(client, digest);
                assertEquals(1, read.size(), logged.toString());
                assertArrayEquals(honest, read.get(0).payload());
            }
        }
        assertTrue(logged.toString().contains("layer 2: its payload is not the blob its digest names"), logged.toString());
        assertTrue(logged.toString().contains("layer 3: the payload of"), logged.toString());
        assertTrue(logged.toString().contains("is larger than 64 KiB"), logged.toString());
    }

    private static String layer(String digest, long size) {
        return "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":" + size + ",\"digest\":\""
                + digest + "\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"AAAA\"}}";
    }

    // --- fixtures ---

    /** An entry uploaded and signed: its tag, its manifest's digest, the payload and the signature stored for it. */
    private record Signed(String tag, String digest, byte[] payload, byte[] signature) {}

    /** Uploads an entry to the repository and stores the key's signature of cosign's payload for it. */
    private Signed signed(String repository, Path key) throws Exception {
        String tag = upload(repository);
        String digest = manifestDigest(repository, tag);
        byte[] payload = payload(repository, digest);
        byte[] signature = sign(key, payload);
        try (var store = store(repository)) {
            store.sign(digest, payload, signature);
        }
        return new Signed(tag, digest, payload, signature);
    }

    /** Uploads the project's cache folder to the repository with the script; returns the tag (the key). */
    private String upload(String repository) throws Exception {
        var run = Fixtures.upload(project, env, "--target", "oci://" + registry.host() + "/" + repository + ":{{hash}}",
                "--folder", "cache", "--results-dir", tmp.resolve("up").toString());
        assertEquals(0, run.status(), run.toString());
        return Files.readString(tmp.resolve("up/cache-key"));
    }

    private OciStore store(String repository) throws Exception {
        var log = new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), true);
        URI location = StoreUri.parse("--target", "oci://" + registry.host() + "/" + repository + ":{{hash}}").resolve("unused");
        return (OciStore) Stores.open(location, false, Duration.ofSeconds(30), new Environment(env), log).store();
    }

    /** The digest OciStore gives for the manifest it found at the tag. */
    private String manifestDigest(String repository, String tag) throws Exception {
        try (var store = store(repository)) {
            return store.manifestDigest(store.find(tag).orElseThrow()).orElseThrow();
        }
    }

    /** sha256 of the manifest's bytes as skopeo reads them. */
    private String rawManifestDigest(String repository, String tag) throws Exception {
        var raw = registry.skopeo("inspect", "--raw", "docker://" + registry.host() + "/" + repository + ":" + tag);
        assertEquals(0, raw.status(), raw.toString());
        return "sha256:" + Digests.hex(Digests.sha256().digest(raw.out().getBytes(StandardCharsets.UTF_8)));
    }

    /** cosign's simple-signing payload, as sigstore/sigstore's payload.Cosign marshals it (no annotations: "optional":null). */
    private byte[] payload(String repository, String manifestDigest) {
        return ("{\"critical\":{\"identity\":{\"docker-reference\":\"" + registry.host() + "/" + repository + "\"},"
                + "\"image\":{\"docker-manifest-digest\":\"" + manifestDigest + "\"},"
                + "\"type\":\"cosign container image signature\"},\"optional\":null}").getBytes(StandardCharsets.UTF_8);
    }

    /** A P-256 private key made by openssl (SEC1 PEM), once per name. */
    private Path key(String name) throws Exception {
        Path key = tmp.resolve("keys/" + name + ".pem");
        if (!Files.exists(key)) {
            Files.createDirectories(key.getParent());
            RegistryServer.exec(tmp, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.toString());
        }
        return key;
    }

    private Path publicKey(Path key) throws Exception {
        Path pub = Path.of(key + ".pub");
        if (!Files.exists(pub)) {
            RegistryServer.exec(tmp, "openssl", "pkey", "-in", key.toString(), "-pubout", "-out", pub.toString());
        }
        return pub;
    }

    /** An ECDSA-with-SHA256 signature of the payload (ASN.1 DER, as cosign's), by openssl. */
    private byte[] sign(Path key, byte[] payload) throws Exception {
        Path in = Files.createTempFile(tmp, "payload", ".json");
        Path out = Files.createTempFile(tmp, "signature", ".der");
        Files.write(in, payload);
        RegistryServer.exec(tmp, "openssl", "dgst", "-sha256", "-sign", key.toString(), "-out", out.toString(), in.toString());
        return Files.readAllBytes(out);
    }

    /**
     * skopeo accepts the entry under a policy requiring a signature by the key, having found that
     * many signatures. Debian's skopeo is built with sigstore verification switched off (it finds
     * and downloads the signatures, then refuses each with "Debian-local change: sigstore
     * disabled"); there, what it cannot check is checked by hand, by openssl on what skopeo copied.
     */
    private void assertAccepted(String repository, String tag, Path key, int signatures) throws Exception {
        var run = skopeoCopy(repository, tag, publicKey(key));
        if (cannotVerify(run)) {
            assertEquals(signatures, signaturesTried(run), run.toString());
            assertTrue(verifiedByHand(repository, tag, publicKey(key)), "openssl verified no signature of " + tag);
        } else {
            assertEquals(0, run.status(), run.toString());
        }
    }

    /** skopeo refuses the entry under a policy requiring a signature by the key, having found that many signatures. */
    private void assertRejected(String repository, String tag, Path key, int signatures) throws Exception {
        var run = skopeoCopy(repository, tag, publicKey(key));
        assertNotEquals(0, run.status(), run.toString());
        if (cannotVerify(run)) {
            assertEquals(signatures, signaturesTried(run), run.toString());
            assertFalse(verifiedByHand(repository, tag, publicKey(key)), "openssl verified a signature of " + tag);
        }
    }

    private static boolean cannotVerify(Fixtures.Run run) {
        return run.err().contains(SIGSTORE_DISABLED);
    }

    private static final String SIGSTORE_DISABLED = "Debian-local change: sigstore disabled";

    /** How many signatures skopeo found and tried: one reason each in the line that refuses the image. */
    private static int signaturesTried(Fixtures.Run run) {
        String verdict = run.err().lines().filter(l -> l.contains("level=fatal")).findFirst().orElse("");
        return verdict.split(SIGSTORE_DISABLED, -1).length - 1;
    }

    /**
     * What cosign verify --key checks, done with skopeo and openssl alone (none of our code): the
     * entry's manifest digest from the bytes skopeo reads; the image tagged sha256-<hex>.sig copied
     * by skopeo to a dir:; a layer of the simple-signing type whose payload openssl verifies
     * against the base64 signature of its annotation, and which names that digest, that
     * repository and cosign's type.
     */
    private boolean verifiedByHand(String repository, String tag, Path publicKey) throws Exception {
        String digest = rawManifestDigest(repository, tag);
        Path out = Files.createTempDirectory(tmp, "sig");
        Files.delete(out);
        String sigTag = "sha256-" + digest.substring("sha256:".length()) + ".sig";
        var copied = registry.skopeo("copy", "docker://" + registry.host() + "/" + repository + ":" + sigTag, "dir:" + out);
        if (copied.status() != 0) {
            return false;
        }
        Map<String, Object> manifest = com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(Files.readAllBytes(out.resolve("manifest.json")));
        for (Object entry : (List<?>) manifest.get("layers")) {
            var layer = (Map<?, ?>) entry;
            if (!"application/vnd.dev.cosign.simplesigning.v1+json".equals(layer.get("mediaType"))
                    || !(layer.get("annotations") instanceof Map<?, ?> annotations)) {
                continue;
            }
            Path blob = out.resolve(String.valueOf(layer.get("digest")).substring("sha256:".length()));
            Path signature = Files.createTempFile(tmp, "sig", ".der");
            Files.write(signature, java.util.Base64.getDecoder().decode((String) annotations.get("dev.cosignproject.cosign/signature")));
            var verified = Fixtures.run(List.of("openssl", "dgst", "-sha256", "-verify", publicKey.toString(), "-signature",
                    signature.toString(), blob.toString()), tmp, System.getenv());
            if (verified.status() != 0) {
                continue;
            }
            var critical = (Map<?, ?>) com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(Files.readAllBytes(blob)).get("critical");
            if (digest.equals(((Map<?, ?>) critical.get("image")).get("docker-manifest-digest"))
                    && (registry.host() + "/" + repository).equals(((Map<?, ?>) critical.get("identity")).get("docker-reference"))
                    && "cosign container image signature".equals(critical.get("type"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * skopeo copy of the entry's image to a dir:, under a policy that requires a sigstore signature
     * by the public key for the repository (and rejects everything else), with sigstore attachments
     * read from the registry: exit 0 when skopeo verified a signature.
     */
    private Fixtures.Run skopeoCopy(String repository, String tag, Path publicKey) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "skopeo");
        String image = registry.host() + "/" + repository;
        Path policy = dir.resolve("policy.json");
        Files.writeString(policy, "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"" + image + "\":[{"
                + "\"type\":\"sigstoreSigned\",\"keyPath\":\"" + publicKey + "\",\"signedIdentity\":{\"type\":\"matchRepository\"}}]}}}");
        Path registries = Files.createDirectories(dir.resolve("registries.d"));
        Files.writeString(registries.resolve("default.yaml"), "docker:\n  " + registry.host() + ":\n    use-sigstore-attachments: true\n");
        var environment = new java.util.HashMap<>(System.getenv());
        environment.put("REGISTRY_AUTH_FILE", dir.resolve("auth-none.json").toString());
        return Fixtures.run(List.of("skopeo", "--debug", "--policy", policy.toString(), "--registries.d", registries.toString(), "copy",
                "--src-tls-verify=false", "docker://" + image + ":" + tag, "dir:" + dir.resolve("out")), dir, environment);
    }

    /** PUT /v2/<repository>/manifests/<tag> straight to the registry, as a writer of anything would. */
    private void putManifest(String repository, String tag, String mediaType, String body) throws Exception {
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/" + repository
                + "/manifests/" + tag)).header("Content-Type", mediaType).PUT(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, response.statusCode(), response.body());
    }

    private static String configDigest(String manifest) {
        var m = java.util.regex.Pattern.compile("\"config\":\\{[^}]*\"digest\":\"(sha256:[0-9a-f]{64})\"").matcher(manifest);
        assertTrue(m.find(), manifest);
        return m.group(1);
    }

    private static String configSize(String manifest) {
        var m = java.util.regex.Pattern.compile("\"config\":\\{[^}]*\"size\":([0-9]+)").matcher(manifest);
        assertTrue(m.find(), manifest);
        return m.group(1);
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import lib.common.Digests;
import lib.common.ExitStatus;
import lib.store.Store;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A signed entry changed after it was signed, by whoever can write to the store, is not restored
 * by cache-fetch --verify-key (issue 31): on a blob store (a folder, s3proxy, azurite) an index
 * line rewritten, a group's bytes replaced under the index as signed, the whole object copied to
 * another key's name; on a registry, the manifest pushed again with another annotation or config
 * under the same tag, and the signature image copied to the new manifest's digest.
 */
class TrustTamperTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    static Path keys;
    private static TrustFixtures.KeyPair k1;

    @TempDir
    Path tmp;

    @BeforeAll
    static void keys() throws Exception {
        k1 = TrustFixtures.keyPair(keys, "k1", false);
    }

    private TrustFixtures.Checkout at(String kind) throws Exception {
        int n = NAMES.incrementAndGet();
        var env = Fixtures.env(tmp.resolve("xdg"));
        String query = "";
        String base = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/";
            case "oci" -> "oci://" + registry.host() + "/tamper/run-" + n + ":";
            case "s3" -> {
                env = s3.env(env, s3.endpoint());
                yield "s3://caches/tamper-" + n + "/";
            }
            case "azure" -> {
                env = azurite.env(env);
                query = azurite.queryParams();
                yield "azblob://caches/tamper-" + n + "/";
            }
            default -> throw new IllegalArgumentException(kind);
        };
        return new TrustFixtures.Checkout(tmp, env, base, query);
    }

    /** A test run once on each store that keeps an entry as one object and that a script reaches. */
    @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
    @java.lang.annotation.Target(java.lang.annotation.ElementType.METHOD)
    @ParameterizedTest
    @ValueSource(strings = {"file", "s3", "azure"})
    @interface OnEveryBlobStore {}

    /** The last group line's diff_id, one hex digit changed, the signature part kept as it was. */
    @OnEveryBlobStore
    void anIndexLineChangedAfterSigningIsRefused(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-", "--sign-key", k1.sign());
        var target = at.target("m2-");
        try (Store store = target.store()) {
            byte[] object = TrustFixtures.bytes(store, target.path());
            String index = TrustFixtures.indexText(object);
            int signed = index.indexOf("tekton-caches signed entry v1");
            assertTrue(signed > 0, "the index is signed: " + index);
            int lineStart = index.lastIndexOf('\n', signed - 2) + 1;
            int diffId = index.lastIndexOf(' ', index.indexOf('\n', lineStart)) + 1;
            char was = index.charAt(diffId);
            String altered = index.substring(0, diffId) + (was == '0' ? '1' : '0') + index.substring(diffId + 1);
            TrustFixtures.rewrite(store, target.path(), TrustFixtures.withIndex(object, altered));
        }

        at.assertRefused("m2-", "--verify-key", k1.verify());
    }

    /**
     * The index as signed, one byte of the last group's stored bytes changed (the same size): the
     * signature holds, and the restore's check of the group against its diff_id refuses it, exit 3,
     * deleting the entry; nothing is placed.
     */
    @OnEveryBlobStore
    void aGroupReplacedUnderItsSignedIndexIsRefusedByTheRestore(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-", "--sign-key", k1.sign());
        var target = at.target("m2-");
        try (Store store = target.store()) {
            var groups = store.groups(store.find(target.path()).orElseThrow()).orElseThrow().groups();
            var last = groups.get(groups.size() - 1);
            byte[] object = TrustFixtures.bytes(store, target.path());
            int at0 = (int) (last.offset() + last.group().size() / 2);
            object[at0] ^= 0x55;
            TrustFixtures.rewrite(store, target.path(), object);
        }
        var before = Fixtures.snapshot(at.elsewhere.resolve("m2"), true);

        var fetch = at.fetch("m2-", "--verify-key", k1.verify());

        assertEquals(ExitStatus.STORE, fetch.status(), fetch.toString());
        assertFalse(fetch.err().contains("is not signed by a trusted key"), "the signature holds: " + fetch);
        assertTrue(fetch.err().contains("was deleted"), fetch.toString());
        assertEquals("false", at.result("fetched"));
        assertEquals("false", at.result("cache-hit"));
        assertEquals(before, Fixtures.snapshot(at.elsewhere.resolve("m2"), true), "the folder is as it was");
        try (Store store = at.target("m2-").store()) {
            assertTrue(store.find(target.path()).isEmpty(), "the refused entry is deleted");
        }
    }

    /**
     * A signed entry copied whole to another key's name: its signature names the entry it was made
     * for. On a registry, the manifest put under another tag keeps its digest and so its cosign
     * signature, but names in its annotations the tag it was made for, which the signature covers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "s3", "azure", "oci"})
    void aSignedEntryCopiedToAnotherNameIsRefused(String kind) throws Exception {
        var at = at(kind);
        at.upload("elsewhere-", "--sign-key", k1.sign());
        if (kind.equals("oci")) {
            String repository = repository(at);
            put(repository, "manifests/m2-" + at.key(), get(repository, "manifests/elsewhere-" + at.key()));
        } else {
            var from = at.target("elsewhere-");
            var to = at.target("m2-");
            try (Store source = from.store(); Store store = to.store()) {
                TrustFixtures.rewrite(store, to.path(), TrustFixtures.bytes(source, from.path()));
            }
        }

        at.assertRefused("m2-", "--verify-key", k1.verify());
        at.assertHit(at.fetch("m2-")); // a sound entry, refused for its signature alone
    }

    /**
     * The entry's manifest pushed again under its tag with one change (another annotation, or a
     * config of one more field): another digest, which its signature does not name; then cosign's
     * signature image copied to that digest's tag, whose payload names the old digest.
     */
    @ParameterizedTest
    @ValueSource(strings = {"annotation", "config"})
    void aManifestPushedAgainWithAChangeIsRefusedWithOrWithoutTheOldSignatureCopied(String change) throws Exception {
        var at = at("oci");
        at.upload("m2-", "--sign-key", k1.sign());
        String repository = repository(at);
        String tag = "m2-" + at.key();
        byte[] manifest = get(repository, "manifests/" + tag);
        String signed = "sha256:" + Fixtures.sha256(manifest);
        String text = new String(manifest, StandardCharsets.UTF_8);
        String altered = switch (change) {
            case "annotation" -> {
                int top = text.lastIndexOf("\"annotations\":{") + "\"annotations\":{".length();
                yield text.substring(0, top) + "\"org.example.altered\":\"yes\"," + text.substring(top);
            }
            default -> {
                var m = java.util.regex.Pattern.compile("\"config\":\\{[^}]*\"digest\":\"(sha256:[0-9a-f]{64})\"").matcher(text);
                assertTrue(m.find(), text);
                byte[] config = get(repository, "blobs/" + m.group(1));
                String configText = new String(config, StandardCharsets.UTF_8);
                assertTrue(configText.contains("\"os\":\"linux\""), configText);
                byte[] changed = configText.replace("\"os\":\"linux\"", "\"os\":\"linux\",\"author\":\"someone else\"")
                        .getBytes(StandardCharsets.UTF_8);
                String digest = pushBlob(repository, changed);
                String described = "\"digest\":\"" + m.group(1) + "\",\"size\":" + config.length;
                assertTrue(text.contains(described), text);
                yield text.replace(described, "\"digest\":\"" + digest + "\",\"size\":" + changed.length);
            }
        };
        assertNotEquals(text, altered);
        String pushed = put(repository, "manifests/" + tag, altered.getBytes(StandardCharsets.UTF_8));
        assertNotEquals(signed, pushed);

        at.assertRefused("m2-", "--verify-key", k1.verify());

        byte[] signature = get(repository, "manifests/" + sigTag(signed));
        put(repository, "manifests/" + sigTag(pushed), signature);
        at.assertRefused("m2-", "--verify-key", k1.verify());

        at.assertHit(at.fetch("m2-")); // a sound entry, refused for its signature alone
    }

    /** The repository of the checkout's entries: oci://<host>/<repository>:<name>. */
    private static String repository(TrustFixtures.Checkout at) {
        return at.base.substring(("oci://" + registry.host() + "/").length(), at.base.length() - 1);
    }

    private static String sigTag(String digest) {
        return "sha256-" + digest.substring("sha256:".length()) + ".sig";
    }

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /** GET /v2/<repository>/<path>: a manifest (OCI's, as we push) or a blob. */
    private static byte[] get(String repository, String path) throws Exception {
        var response = HTTP.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/" + repository + "/" + path))
                .header("Accept", MANIFEST).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode(), path);
        return response.body();
    }

    /** PUT /v2/<repository>/manifests/<tag>, as a writer of anything would: the digest the registry gives it. */
    private static String put(String repository, String path, byte[] manifest) throws Exception {
        var response = HTTP.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/" + repository + "/" + path))
                .header("Content-Type", MANIFEST).PUT(HttpRequest.BodyPublishers.ofByteArray(manifest)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, response.statusCode(), response.body());
        String digest = response.headers().firstValue("Docker-Content-Digest").orElseThrow();
        assertEquals("sha256:" + Fixtures.sha256(manifest), digest);
        return digest;
    }

    /** POST /v2/<repository>/blobs/uploads/ then PUT <location>?digest=: a blob in one request; its digest. */
    private static String pushBlob(String repository, byte[] blob) throws Exception {
        var started = HTTP.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/" + repository + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
        assertEquals(202, started.statusCode());
        URI location = URI.create(registry.url()).resolve(started.headers().firstValue("Location").orElseThrow());
        String digest = "sha256:" + Digests.hex(Digests.sha256().digest(blob));
        String separator = location.toString().contains("?") ? "&" : "?";
        var put = HTTP.send(HttpRequest.newBuilder(URI.create(location + separator + "digest=" + digest))
                .header("Content-Type", "application/octet-stream").PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        return digest;
    }
}

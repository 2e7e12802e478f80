//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.store.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.archive.Compression;
import lib.common.DaemonThreads;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Platform;
import lib.common.StoreError;
import lib.common.Version;
import lib.store.ResumingDownload;
import lib.store.Store;
import lib.store.Stores;

/**
 * Caches as images in an OCI registry, the Go tool's format: the tag is the key, the image's single
 * layer is the archive, so its digest (sha256) is recorded by the registry itself. Ours carry an
 * OCI image config and annotations saying what the layer holds; the Go tool's (one tar+gzip
 * layer) restore too.
 *
 * <p>A tag once pushed is not replaced, as far as a registry allows: the distribution spec has no
 * conditional manifest PUT, so commit checks the tag just before it finishes the layer and pushes
 * the config and manifest, and gives up (cancelling its layer upload) when the tag exists. Two
 * uploads passing that check at the same moment both push; what holds all the same is that the
 * tag always names one whole image, the last writer's, never a mixture: the layer and config blobs
 * are pushed before the manifest that references them, and a manifest PUT moves the tag in one
 * step.
 */
public final class OciStore implements Store {

    /** Quay deletes an image labelled quay.expires-after once that long has passed since its push. */
    public static final Expiry EXPIRY = new Expiry(false, true, "--expires-after");
    public static final String MANIFEST = RegistryClient.MANIFEST;
    static final String CONFIG = "application/vnd.oci.image.config.v1+json";
    static final String ANNOTATION = "io.github.openshift-pipelines.tekton-caches.";
    static final String CREATED = "org.opencontainers.image.created";
    static final String EXPIRES_AFTER = "quay.expires-after";
    /** How many manifests a restore key's listing reads at once. */
    private static final int LIST_READERS = 8;

    private final OciReference reference;
    private final boolean insecure;
    private final Duration stallTimeout;
    private final Environment environment;
    private final Log log;
    private RegistryClient client;
    private boolean clientMayPush;

    private OciStore(OciReference reference, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        this.reference = reference;
        this.insecure = insecure;
        this.stallTimeout = stallTimeout;
        this.environment = environment;
        this.log = log;
    }

    /** oci://host/repository:TAG: the store is the repository, the object the tag. */
    public static Stores.Target target(URI uri, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        var reference = OciReference.parse(uri);
        return new Stores.Target(new OciStore(reference, insecure, stallTimeout, environment, log), reference.tag());
    }

    /** A client allowed to pull, or to push too; a pull-only one is replaced when a push comes. */
    private RegistryClient client(boolean push) throws IOException {
        if (client == null || (push && !clientMayPush)) {
            client = RegistryClient.open(reference, push, insecure, stallTimeout, environment, log);
            clientMayPush = push;
        }
        return client;
    }

    static String layerMediaType(Compression compression) {
        return switch (compression) {
            case ZSTD -> "application/vnd.oci.image.layer.v1.tar+zstd";
            case GZIP -> "application/vnd.oci.image.layer.v1.tar+gzip";
            case NONE -> "application/vnd.oci.image.layer.v1.tar";
        };
    }

    @Override
    public Optional<StoredObject> find(String tag) throws IOException {
        return client(false).getManifest(tag).map(manifest -> layerOf(tag, manifest));
    }

    @SuppressWarnings("unchecked")
    private StoredObject layerOf(String tag, Map<String, Object> manifest) {
        String where = reference.named(tag);
        if (!(manifest.get("layers") instanceof List<?> layers)) {
            throw new StoreError(where + " is an image index or not an image manifest; a cache is an image with one layer", null);
        }
        if (layers.size() != 1 || !(layers.get(0) instanceof Map<?, ?> layer)) {
            throw new StoreError(where + " has " + layers.size() + " layers; a cache is an image with one layer", null);
        }
        String digest = String.valueOf(layer.get("digest"));
        if (!digest.matches("sha256:[0-9a-f]{64}")) {
            throw new StoreError(where + ": layer digest '" + digest + "' is not a sha256 digest", null);
        }
        long size = layer.get("size") instanceof Number n ? n.longValue() : -1;
        var annotations = manifest.get("annotations") instanceof Map<?, ?> a ? (Map<String, Object>) a : Map.<String, Object>of();
        Instant created = Instant.EPOCH;
        try {
            if (annotations.get(CREATED) instanceof String text) {
                created = Instant.parse(text);
            }
        } catch (DateTimeParseException e) {
            log.debug(where + ": ignoring the unreadable " + CREATED + " annotation '" + annotations.get(CREATED) + "'");
        }
        return new StoredObject(tag, size, Optional.of(digest.substring("sha256:".length())), created, digest);
    }

    /**
     * Reads the layer blob by the digest found, which names its bytes for good: a tag moved to
     * another image since is read as found (while the registry keeps the old layer), never mixed.
     */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        var registry = client(false);
        return new ResumingDownload(position -> registry.getBlob(object.version(), position), object.size(),
                reference.named(object.path()), log);
    }

    @Override
    public PendingWrite create(String tag) throws IOException {
        var registry = client(true);
        var blob = new ChunkedBlobUpload(registry);
        return new PendingWrite() {
            private boolean finished;

            @Override
            public OutputStream stream() {
                return blob;
            }

            @Override
            public boolean needsTarDigest() {
                return true; // an image config lists its layers' uncompressed digests
            }

            @Override
            public boolean commit(Contents contents, Description description) throws IOException {
                blob.flushChunks();
                // A registry has no conditional manifest PUT: this check, just before it, is all there is.
                if (registry.getManifest(tag).isPresent()) {
                    blob.cancel();
                    finished = true;
                    return false;
                }
                blob.finish("sha256:" + contents.sha256());
                byte[] config = config(description);
                String configDigest = "sha256:" + Digests.hex(Digests.sha256().digest(config));
                pushSmallBlob(registry, config, configDigest);
                byte[] manifest = manifest(contents, description, config.length, configDigest);
                registry.putManifest(tag, MANIFEST, manifest);
                finished = true;
                return true;
            }

            @Override
            public void close() throws IOException {
                if (!finished) {
                    blob.cancel();
                }
            }
        };
    }

    /** Pushes a blob held in memory in one request, unless the registry has it already. */
    private static void pushSmallBlob(RegistryClient registry, byte[] content, String digest) throws IOException {
        if (!registry.headBlob(digest)) {
            registry.commitUpload(registry.startUpload(), digest, content);
        }
    }

    /** An OCI image config, so that image tools (skopeo, crane, podman) accept the cache as an image. */
    private static byte[] config(Description description) throws IOException {
        var config = new LinkedHashMap<String, Object>();
        config.put("created", description.created().toString());
        config.put("architecture", Platform.arch());
        config.put("os", "linux");
        // Quay deletes a tag carrying this label once that time has passed since its push.
        config.put("config", description.expiresAfter() == null ? Map.of()
                : Map.of("Labels", Map.of(EXPIRES_AFTER, description.expiresAfter())));
        config.put("rootfs", Map.of("type", "layers", "diff_ids", List.of("sha256:" + description.tarSha256())));
        return JSON.std.asBytes(config);
    }

    private static byte[] manifest(Contents contents, Description description, long configSize, String configDigest)
            throws IOException {
        var annotations = new LinkedHashMap<String, Object>();
        annotations.put(CREATED, description.created().toString());
        annotations.put(ANNOTATION + "key", description.key());
        annotations.put(ANNOTATION + "version", Version.NUMBER);
        annotations.put(ANNOTATION + "uncompressed-size", Long.toString(description.tarBytes()));
        annotations.put(ANNOTATION + "files", Long.toString(description.files()));
        var manifest = new LinkedHashMap<String, Object>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MANIFEST);
        manifest.put("config", descriptor(CONFIG, configDigest, configSize));
        manifest.put("layers", List.of(descriptor(layerMediaType(contents.compression()), "sha256:" + contents.sha256(), contents.size())));
        manifest.put("annotations", annotations);
        return JSON.std.asBytes(manifest);
    }

    private static Map<String, Object> descriptor(String mediaType, String digest, long size) {
        var descriptor = new LinkedHashMap<String, Object>();
        descriptor.put("mediaType", mediaType);
        descriptor.put("digest", digest);
        descriptor.put("size", size);
        return descriptor;
    }

    /**
     * The tags starting with prefix, each with its manifest's created time. A tag list says nothing
     * of when a tag was pushed, so every match costs a manifest GET; they go LIST_READERS at a time,
     * which on a registry far away is what makes a rolling cache of hundreds of tags bearable.
     */
    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var registry = client(false);
        return manifests(registry, registry.listTags(prefix));
    }

    private List<StoredObject> manifests(RegistryClient registry, List<String> tags) throws IOException {
        var objects = new ArrayList<StoredObject>();
        if (tags.isEmpty()) {
            return objects;
        }
        ExecutorService readers = Executors.newFixedThreadPool(Math.min(LIST_READERS, tags.size()),
                DaemonThreads.named("oci-manifest-reader"));
        try {
            var found = new ArrayList<Future<Optional<StoredObject>>>();
            for (String tag : tags) {
                found.add(readers.submit(() -> registry.getManifest(tag).flatMap(manifest -> listedLayerOf(tag, manifest))));
            }
            for (var object : found) {
                object.get().ifPresent(objects::add); // a tag deleted since the listing is no entry
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading manifests");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime; // a StoreError: a manifest that is no cache image
            }
            throw new IOException(e.getCause());
        } finally {
            readers.shutdownNow();
        }
        return objects;
    }

    /** layerOf for a listing: a tag that is no cache image (an index, another image) is passed over, not an error. */
    private Optional<StoredObject> listedLayerOf(String tag, Map<String, Object> manifest) {
        try {
            return Optional.of(layerOf(tag, manifest));
        } catch (StoreError e) {
            log.debug("passing over " + e.getMessage());
            return Optional.empty();
        }
    }
}

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
import java.util.function.UnaryOperator;
import lib.archive.Compression;
import lib.common.DaemonThreads;
import lib.common.Environment;
import lib.common.Futures;
import lib.common.Log;
import lib.common.Platform;
import lib.common.StoreError;
import lib.common.Version;
import lib.store.Headway;
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
    static final String DIFF_ID = ANNOTATION + "diff-id";
    static final String TAR_SIZE = ANNOTATION + "uncompressed-size";
    static final String LEVEL = ANNOTATION + "group-level";
    static final String TAG = ANNOTATION + "tag";
    /** More layers than this are no image of ours (we make 256 at most; ECR takes 500). */
    private static final int MAX_LAYERS = 1000;
    /** How many manifests a restore key's listing reads at once. */
    private static final int LIST_READERS = 8;
    /** How many layers ahead of the one restored are pulled at once, each held in memory when it is at most PULLED_MOST. */
    private static final int PULLERS = 8;
    private static final int PULLED_MOST = 4 << 20;

    private final OciReference reference;
    private final boolean insecure;
    private final Duration stallTimeout;
    private final Environment environment;
    private final Log log;
    /** Every wait on the registry, its clients' retries included: the store is given up when it makes none. */
    private final Headway headway;
    private RegistryClient client;
    private boolean clientMayPush;
    /** Whether the repository held a tag when list last read its tags (null: not read), which an upload then need not ask. */
    private volatile Boolean tagged;

    private OciStore(OciReference reference, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        this.reference = reference;
        this.insecure = insecure;
        this.stallTimeout = stallTimeout;
        this.environment = environment;
        this.log = log;
        this.headway = new Headway(stallTimeout);
    }

    /** oci://host/repository:TAG: the store is the repository, the object the tag. */
    public static Stores.Target target(URI uri, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        var reference = OciReference.parse(uri);
        return new Stores.Target(new OciStore(reference, insecure, stallTimeout, environment, log), reference.tag());
    }

    /** A client allowed to pull, or to push too; a pull-only one is replaced when a push comes. */
    private RegistryClient client(boolean push) throws IOException {
        if (client == null || (push && !clientMayPush)) {
            var opened = RegistryClient.open(reference, push, insecure, stallTimeout, environment, headway, log);
            if (client != null) {
                client.close();
            }
            client = opened;
            clientMayPush = push;
        }
        return client;
    }

    @Override
    public boolean gaveUp() {
        return headway.gaveUp();
    }

    /** Stops counting headway and shuts the client's connections. */
    @Override
    public void close() throws IOException {
        headway.stop();
        if (client != null) {
            client.close();
        }
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
        Optional<RegistryClient.Manifest> manifest = client(false).fetchManifest(tag, RegistryClient.BODY_MAX);
        if (manifest.isEmpty()) {
            found.remove(tag);
            return Optional.empty();
        }
        StoredObject object = layerOf(tag, manifest.get().json());
        found.put(tag, new Found(object.version(), manifest.get().digest(), taggedAs(manifest.get().json()),
                manifest.get().json()));
        return Optional.of(object);
    }

    /**
     * What was read of the manifest last found at a tag (by find, or listed): the entry's version,
     * the digest of the very bytes parsed, the tag it says it was made for (null when none), and,
     * from find, the manifest itself (null from a listing,
     * which reads hundreds), so that groups reads the layers of the manifest whose digest
     * manifestDigest gave, never those of another pushed at the tag since.
     */
    private record Found(String version, String digest, String taggedAs, Map<String, Object> manifest) {}

    private final Map<String, Found> found = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The digest of the manifest the entry was found by (sha256 of the bytes parsed, not the
     * registry's Docker-Content-Digest), which is what a signature names; empty when this store
     * did not find or list that version of it. groups then reads the layers of that manifest.
     */
    public Optional<String> manifestDigest(StoredObject object) {
        Found read = found.get(object.path());
        return read != null && read.version().equals(object.version()) ? Optional.of(read.digest()) : Optional.empty();
    }

    /**
     * The tag the image found at object's tag was made for (its manifest's annotation, which a
     * signature of the manifest covers); empty for an image that names none (made before signing,
     * or by the Go tool) or not found by this store.
     */
    public Optional<String> taggedAs(StoredObject object) {
        Found read = found.get(object.path());
        return read != null && read.version().equals(object.version()) ? Optional.ofNullable(read.taggedAs()) : Optional.empty();
    }

    private static String taggedAs(Map<String, Object> manifest) {
        return annotations(manifest).get(TAG) instanceof String tag ? tag : null;
    }

    /** The registry's name for the repository, as a cosign payload's docker-reference gives it ("host[:port]/repository"). */
    public String dockerReference() {
        return reference.dockerReference();
    }

    /** The cosign signatures stored for the manifest of that digest (see CosignSignatures.read). */
    public List<CosignSignatures.Signature> signatures(String manifestDigest) throws IOException {
        return CosignSignatures.read(client(false), manifestDigest);
    }

    /** Stores a cosign signature of the manifest of that digest beside the ones there (see CosignSignatures.push). */
    public void sign(String manifestDigest, byte[] payload, byte[] signature) throws IOException {
        CosignSignatures.push(client(true), manifestDigest, payload, signature);
    }

    /** The image as an entry: one layer is read whole by its digest; several are groups, pinned by the config's digest. */
    StoredObject layerOf(String tag, Map<String, Object> manifest) {
        List<Map<?, ?>> layers = layers(tag, manifest);
        long size = 0;
        for (Map<?, ?> layer : layers) {
            size += layer.get("size") instanceof Number n ? n.longValue() : 0;
        }
        Map<String, Object> annotations = annotations(manifest);
        Instant created = Instant.EPOCH;
        try {
            if (annotations.get(CREATED) instanceof String text) {
                created = Instant.parse(text);
            }
        } catch (DateTimeParseException e) {
            log.debug(reference.named(tag) + ": ignoring the unreadable " + CREATED + " annotation '" + annotations.get(CREATED) + "'");
        }
        if (layers.size() == 1) {
            String digest = String.valueOf(layers.get(0).get("digest"));
            long layerSize = layers.get(0).get("size") instanceof Number n ? n.longValue() : -1;
            return new StoredObject(tag, layerSize, Optional.of(digest.substring("sha256:".length())), created, digest);
        }
        String config = manifest.get("config") instanceof Map<?, ?> c ? String.valueOf(c.get("digest")) : "";
        if (!config.matches(SHA256)) {
            throw new StoreError(reference.named(tag) + ": config digest '" + config + "' is not a sha256 digest", null);
        }
        return new StoredObject(tag, size, Optional.empty(), created, config);
    }

    private static final String SHA256 = "sha256:[0-9a-f]{64}";

    /** The manifest's layers, each with a sha256 digest; anything else is no cache image. */
    private List<Map<?, ?>> layers(String tag, Map<String, Object> manifest) {
        String where = reference.named(tag);
        if (!(manifest.get("layers") instanceof List<?> layers)) {
            throw new StoreError(where + " is an image index or not an image manifest; a cache is an image of layers", null);
        }
        if (layers.isEmpty() || layers.size() > MAX_LAYERS) {
            throw new StoreError(where + " has " + layers.size() + " layers; a cache is an image of 1 to " + MAX_LAYERS, null);
        }
        var checked = new ArrayList<Map<?, ?>>();
        for (Object layer : layers) {
            if (!(layer instanceof Map<?, ?> map) || !String.valueOf(map.get("digest")).matches(SHA256)) {
                throw new StoreError(where + ": a layer's digest is not a sha256 digest", null);
            }
            checked.add(map);
        }
        return checked;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> annotations(Map<?, ?> holder) {
        return holder.get("annotations") instanceof Map<?, ?> a ? (Map<String, Object>) a : Map.of();
    }

    /**
     * The image's layers as groups, from the manifest find read (the image found, whose layers are
     * named by their digests, as open reads one layer as found), else read again, which must still
     * be the image found (its config, or its one layer; for a listed one, the very bytes listed,
     * whose digest manifestDigest gave): the tag may have moved since. A layer's
     * diff_id is in its annotation (ours since groups); without one the layer is restored but never
     * reused.
     */
    @Override
    public Optional<Groups> groups(StoredObject object) throws IOException {
        Found read = found.get(object.path());
        if (read != null && !read.version().equals(object.version())) {
            read = null;
        }
        Map<String, Object> manifest;
        if (read != null && read.manifest() != null) {
            manifest = read.manifest();
        } else {
            var again = client(false).fetchManifest(object.path(), RegistryClient.BODY_MAX).orElseThrow(() ->
                    new IOException(reference.named(object.path()) + " was deleted since it was found; fetch again"));
            // Listed by its digest: the manifest read now must be those very bytes, as a signature checked names them.
            if (read != null && !read.digest().equals(again.digest())) {
                throw new IOException(reference.named(object.path()) + " was replaced since it was found; fetch again");
            }
            manifest = again.json();
        }
        StoredObject now = layerOf(object.path(), manifest);
        if (!object.version().equals(now.version())) {
            throw new IOException(reference.named(object.path()) + " was replaced since it was found; fetch again");
        }
        var groups = new ArrayList<StoredGroup>();
        var mediaTypes = new java.util.HashSet<Object>();
        for (Map<?, ?> layer : layers(object.path(), manifest)) {
            mediaTypes.add(layer.get("mediaType"));
            Map<String, Object> annotations = annotations(layer);
            String diffId = annotations.get(DIFF_ID) instanceof String d && d.matches(SHA256) ? d.substring("sha256:".length()) : null;
            long tarBytes = annotations.get(TAR_SIZE) instanceof String t && t.matches("[0-9]{1,18}") ? Long.parseLong(t) : -1;
            groups.add(new StoredGroup(new Group(diffId, tarBytes, String.valueOf(layer.get("digest")).substring("sha256:".length()),
                    layer.get("size") instanceof Number n ? n.longValue() : -1), 0));
        }
        Object level = annotations(manifest).get(LEVEL);
        Compression compression = null; // layers of mixed or unknown types are restored, never reused
        for (Compression c : Compression.values()) {
            if (mediaTypes.equals(java.util.Set.of(layerMediaType(c)))) {
                compression = c;
            }
        }
        return Optional.of(new Groups(level instanceof String l && l.matches("[0-9]{1,3}") ? Integer.parseInt(l) : -1,
                compression, groups));
    }

    /**
     * Each layer by its digest (which names its bytes for good), one request each. The small
     * layers ahead are pulled into memory PULLERS at a time while the restore reads the current one
     * (on a registry far away, a request's round trip is what hundreds of layers would cost one
     * after the other); a big one is streamed when its turn comes. A registry may answer with more
     * bytes than the manifest says: a pulled layer is cut one byte past its size, so that memory
     * does not hold them, and the tar's check (or, for a layer of no named diff_id, the digest's)
     * refuses what they make.
     */
    @Override
    public GroupStreams read(StoredObject object, Groups groups, UnaryOperator<InputStream> watch) throws IOException {
        var registry = client(false);
        List<StoredGroup> layers = groups.groups();
        String where = reference.named(object.path());
        return new GroupStreams() {
            private final ExecutorService pullers = Executors.newFixedThreadPool(PULLERS, DaemonThreads.named("oci-pull"));
            private final Map<Integer, Future<byte[]>> pulled = new java.util.HashMap<>();
            private int next;
            private int ahead;
            private InputStream current;

            @Override
            public GroupStream next() throws IOException {
                closeCurrent();
                if (next == layers.size()) {
                    return null;
                }
                int index = next++;
                Group group = layers.get(index).group();
                Future<byte[]> inMemory = pulled.remove(index);
                pullAhead();
                InputStream in = inMemory != null ? new java.io.ByteArrayInputStream(Futures.await(inMemory, "pulling a layer"))
                        : download(group);
                current = watch.apply(in);
                return new GroupStream(group, current);
            }

            /** Starts pulling the small layers after the current one, up to PULLERS of them in flight or held. */
            private void pullAhead() {
                ahead = Math.max(ahead, next);
                while (ahead < layers.size() && ahead < next + PULLERS) {
                    Group group = layers.get(ahead).group();
                    if (group.size() >= 0 && group.size() <= PULLED_MOST) {
                        pulled.put(ahead, pullers.submit(() -> {
                            try (InputStream in = download(group)) {
                                return in.readNBytes((int) group.size() + 1);
                            }
                        }));
                    }
                    ahead++;
                }
            }

            private InputStream download(Group group) throws IOException {
                String digest = "sha256:" + group.sha256();
                return new ResumingDownload(position -> blob(registry, object.path(), digest, position), group.size(),
                        where + " layer " + digest, log);
            }

            private void closeCurrent() throws IOException {
                if (current != null) {
                    current.close();
                    current = null;
                }
            }

            @Override
            public void close() throws IOException {
                pullers.shutdownNow();
                closeCurrent();
            }
        };
    }

    /**
     * Reads the layer blob by the digest found, which names its bytes for good: a tag moved to
     * another image since is read as found (while the registry keeps the old layer), never mixed.
     */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        if (object.sha256().isEmpty()) {
            throw new IOException(reference.named(object.path()) + " is an image of several layers, read by its groups");
        }
        var registry = client(false);
        return new ResumingDownload(position -> blob(registry, object.path(), object.version(), position), object.size(),
                reference.named(object.path()), log);
    }

    /**
     * A layer's bytes from position on. A layer the registry no longer has, whose tag is gone too,
     * is an entry deleted since it was found (its manifest deleted, its blobs collected).
     */
    private InputStream blob(RegistryClient registry, String tag, String digest, long position) throws IOException {
        try {
            return registry.getBlob(digest, position);
        } catch (RegistryClient.BlobMissing e) {
            if (registry.getManifest(tag).isEmpty()) {
                throw new EntryGone(reference.named(tag), e);
            }
            throw e;
        }
    }

    /** An image of one layer, streamed as it is written: the byte-level write; createEntry writes an image of groups. */
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
            public boolean commit(Contents contents, Description description) throws IOException {
                blob.flushChunks();
                // A registry has no conditional manifest PUT: this check, just before it, is all there is.
                if (registry.getManifest(tag).isPresent()) {
                    blob.cancel();
                    finished = true;
                    return false;
                }
                blob.finish("sha256:" + contents.sha256());
                Image image = image(tag, List.of(new Group(description.tarSha256(), description.tarBytes(), contents.sha256(),
                        contents.size())), contents.compression(), description, -1);
                pushBlob(registry, image.config(), image.configDigest());
                registry.putManifest(tag, MANIFEST, image.manifest());
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

    /** An image of one layer per group, each pushed as it is made (OciEntryWrite). */
    @Override
    public EntryWrite createEntry(String tag, Compression compression) throws IOException {
        var registry = client(true);
        return new OciEntryWrite(this, registry, new KnownBlobs(registry, tagged, LIST_READERS), tag, compression);
    }

    /** An image's config and manifest, as they are put, and their digests: the manifest's is what a signature of it names. */
    record Image(byte[] config, String configDigest, byte[] manifest, String digest) {}

    /** The config and manifest of an image of these layers, made for the tag; nothing is pushed. */
    static Image image(String tag, List<Group> layers, Compression compression, Description description, int level)
            throws IOException {
        byte[] config = config(description, layers);
        String configDigest = RegistryClient.sha256Digest(config);
        byte[] manifest = manifest(tag, layers, compression, description, level, config.length, configDigest);
        return new Image(config, configDigest, manifest, RegistryClient.sha256Digest(manifest));
    }

    /** Pushes a blob held in memory in one request, unless the registry has it already. */
    static void pushSmallBlob(RegistryClient registry, byte[] content, String digest) throws IOException {
        if (!registry.headBlob(digest)) {
            pushBlob(registry, content, digest);
        }
    }

    /**
     * Pushes a blob held in memory, without asking first: an image's config names the time it was
     * made, so no repository has it. A POST, then a PUT with the bytes: distribution (2.8) takes
     * no monolithic POST (it answers 202 and drops the body), and sending the bytes twice there
     * would cost more than the request saved elsewhere.
     */
    static void pushBlob(RegistryClient registry, byte[] content, String digest) throws IOException {
        registry.commitUpload(registry.startUpload(), digest, content);
    }

    /** An OCI image config, so that image tools (skopeo, crane, podman) accept the cache as an image. */
    private static byte[] config(Description description, List<Group> layers) throws IOException {
        var config = new LinkedHashMap<String, Object>();
        config.put("created", description.created().toString());
        config.put("architecture", Platform.arch());
        config.put("os", "linux");
        // Quay deletes a tag carrying this label once that time has passed since its push.
        config.put("config", description.expiresAfter() == null ? Map.of()
                : Map.of("Labels", Map.of(EXPIRES_AFTER, description.expiresAfter())));
        var diffIds = new ArrayList<String>();
        layers.forEach(layer -> diffIds.add("sha256:" + layer.diffId()));
        config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
        return JSON.std.asBytes(config);
    }

    private static byte[] manifest(String tag, List<Group> layers, Compression compression, Description description, int level,
            long configSize, String configDigest) throws IOException {
        var annotations = new LinkedHashMap<String, Object>();
        annotations.put(CREATED, description.created().toString());
        annotations.put(ANNOTATION + "key", description.key());
        // The tag it is made for, which a signature of the manifest then covers: an image signed
        // for one key and tagged as another's (moved or copied there) is told apart.
        annotations.put(TAG, tag);
        annotations.put(ANNOTATION + "version", Version.NUMBER);
        annotations.put(TAR_SIZE, Long.toString(description.tarBytes()));
        annotations.put(ANNOTATION + "files", Long.toString(description.files()));
        if (level >= 0) {
            annotations.put(LEVEL, Integer.toString(level));
        }
        var descriptors = new ArrayList<Map<String, Object>>();
        for (Group layer : layers) {
            var descriptor = descriptor(layerMediaType(compression), "sha256:" + layer.sha256(), layer.size());
            // Each layer's diff_id beside it, so that a later save finds them without the config.
            descriptor.put("annotations", Map.of(DIFF_ID, "sha256:" + layer.diffId(), TAR_SIZE, Long.toString(layer.tarBytes())));
            descriptors.add(descriptor);
        }
        var manifest = new LinkedHashMap<String, Object>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MANIFEST);
        manifest.put("config", descriptor(CONFIG, configDigest, configSize));
        manifest.put("layers", descriptors);
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
     * Deletes the manifest the tag names, found by its digest (a registry deletes manifests, not
     * tags), if it is still the image found (by its layer's or config's digest; a push moving the
     * tag between that check and the HEAD of its digest would lose the new image): every tag on it
     * goes too, which is only this one, as our manifests carry their key and time of creation.
     * Then its cosign signatures, where the registry lets them go (CosignSignatures.delete): left
     * behind, they would name a manifest no longer there.
     */
    @Override
    public void delete(StoredObject object) throws IOException {
        var registry = client(true);
        Optional<RegistryClient.Manifest> now = registry.fetchManifest(object.path(), RegistryClient.BODY_MAX);
        if (now.isEmpty() || !layerOf(object.path(), now.get().json()).version().equals(object.version())) {
            return;
        }
        Optional<String> digest = registry.manifestDigest(object.path());
        if (digest.isPresent()) {
            registry.deleteManifest(digest.get());
            found.remove(object.path());
            CosignSignatures.delete(registry, now.get().digest());
        }
    }

    /**
     * The tags starting with prefix, each with its manifest's created time. A tag list says nothing
     * of when a tag was pushed, so every match costs a manifest GET; they go LIST_READERS at a time,
     * which on a registry far away is what makes a rolling cache of hundreds of tags bearable.
     */
    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var registry = client(false);
        RegistryClient.Tags listed = registry.listTags(prefix);
        tagged = listed.any();
        var tags = new ArrayList<>(listed.matching());
        // A restore key of "sha256-" would otherwise take a signature for an entry, and --keep delete it as one.
        tags.removeIf(CosignSignatures::isSignatureTag);
        return manifests(registry, tags);
    }

    private List<StoredObject> manifests(RegistryClient registry, List<String> tags) throws IOException {
        var objects = new ArrayList<StoredObject>();
        if (tags.isEmpty()) {
            return objects;
        }
        ExecutorService readers = Executors.newFixedThreadPool(Math.min(LIST_READERS, tags.size()),
                DaemonThreads.named("oci-manifest-reader"));
        try {
            var reads = new ArrayList<Future<Optional<StoredObject>>>();
            for (String tag : tags) {
                reads.add(readers.submit(() -> registry.fetchManifest(tag, RegistryClient.BODY_MAX)
                        .flatMap(manifest -> listed(tag, manifest))));
            }
            for (var object : reads) {
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

    /**
     * layerOf for a listing, its digest remembered for manifestDigest: a tag that is no cache image
     * (an index, another image) is passed over, not an error.
     */
    private Optional<StoredObject> listed(String tag, RegistryClient.Manifest manifest) {
        try {
            StoredObject object = layerOf(tag, manifest.json());
            found.merge(tag, new Found(object.version(), manifest.digest(), taggedAs(manifest.json()), null),
                    (had, listed) -> had.digest().equals(listed.digest()) ? had : listed);
            return Optional.of(object);
        } catch (StoreError e) {
            log.debug("passing over " + e.getMessage());
            return Optional.empty();
        }
    }
}

package lib.store.oci;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.archive.Compression;
import lib.common.DaemonThreads;
import lib.common.Futures;
import lib.store.Store;

/**
 * OciStore's entry write: an image of one layer per group, each pushed as it is made, which can be
 * signed (SignableImage). A group of the base is reused when the repository still has its blob (a
 * HEAD just before: the manifest only references it), and so is a small group whose blob the
 * repository holds already, whichever entry put it there (KnownBlobs says when that need not be
 * asked). When another upload tagged the image first, the layers pushed stay in the registry
 * unreferenced until its garbage collection, as any registry keeps an abandoned push's blobs.
 */
final class OciEntryWrite implements Store.EntryWrite, SignableImage {

    /** How many small layers are pushed at once (each held in memory until it is). */
    private static final int PUSHERS = 4;

    private final OciStore store;
    private final RegistryClient registry;
    private final KnownBlobs known;
    private final String tag;
    private final Compression compression;

    private final List<Store.Group> layers = new ArrayList<>();
    /** The chunk buffers, made at the first big layer and passed on to the next. */
    private List<byte[]> buffers;
    private ChunkedBlobUpload blob;
    private int groupsSent;
    private long bytesSent;
    private int groupsReused;
    private long bytesReused;

    /**
     * The small layers' pushes, PUSHERS at a time: each is a POST and a PUT, after a HEAD
     * where KnownBlobs does not know the answer, mostly waiting on the registry.
     */
    private final ExecutorService pushers = Executors.newFixedThreadPool(PUSHERS, DaemonThreads.named("oci-push"));
    /** A small layer's push under way: true once done if the repository had its blob, which was then not sent. */
    private record Push(Store.Group group, Future<Boolean> had) {}
    private final ArrayDeque<Push> pushing = new ArrayDeque<>();

    /** A broken image at the tag, which the registry would not delete: the commit tags over it, and over nothing else. */
    private Store.StoredObject replacing;
    /** The digest of the manifest commit tagged. */
    private String committed;
    /** What signs the manifest before it is tagged (cache-upload --sign-key); null: unsigned. */
    private SignableImage.ImageSigner signer;

    OciEntryWrite(OciStore store, RegistryClient registry, KnownBlobs known, String tag, Compression compression) {
        this.store = store;
        this.registry = registry;
        this.known = known;
        this.tag = tag;
        this.compression = compression;
    }

    @Override
    public OutputStream beginGroup() throws IOException {
        if (buffers == null) {
            buffers = List.of(new byte[ChunkedBlobUpload.CHUNK], new byte[ChunkedBlobUpload.CHUNK]);
        }
        blob = new ChunkedBlobUpload(registry, buffers);
        return blob;
    }

    /**
     * A group in memory goes up in one request, unless the repository has its blob already,
     * on a pusher's thread; this one waits only when PUSHERS are under way, so that at
     * most that many groups are held (their order is the layers', whatever the pushes').
     * A blob the repository has is not sent, and counted as reused: a new key, branch or
     * lock file then sends only what no entry of the repository holds.
     */
    @Override
    public void putGroup(Store.Group group, byte[] bytes) throws IOException {
        String digest = "sha256:" + group.sha256();
        pushing.add(new Push(group, pushers.submit(() -> {
            OptionalLong size = known.size(digest);
            if (size.isPresent() && (size.getAsLong() < 0 || size.getAsLong() == bytes.length)) {
                return true;
            }
            OciStore.pushBlob(registry, bytes, digest);
            return false;
        })));
        layers.add(group);
        while (pushing.size() > PUSHERS) {
            counted(pushing.poll());
        }
    }

    /** Waits for a small layer's push, and counts it as sent or as reused. */
    private void counted(Push push) throws IOException {
        if (Futures.await(push.had(), "pushing a layer")) {
            groupsReused++;
            bytesReused += push.group().size();
        } else {
            groupsSent++;
            bytesSent += push.group().size();
        }
    }

    /** Waits until the registry has every small layer pushed. */
    private void pushed() throws IOException {
        while (!pushing.isEmpty()) {
            counted(pushing.poll());
        }
    }

    @Override
    public void endGroup(Store.Group group) throws IOException {
        blob.finish("sha256:" + group.sha256());
        blob = null;
        layers.add(group);
        groupsSent++;
        bytesSent += group.size();
    }

    /** The base's layers are asked for OciStore.LIST_READERS at a time before the walk. */
    @Override
    public void expect(Store.StoredObject base, Store.Groups groups) {
        known.ask(groups.groups().stream().map(group -> "sha256:" + group.group().sha256()).toList());
    }

    /**
     * The layer is the base's, referenced by the new manifest, once a HEAD says the repository
     * still has it at the size the base's manifest gives: a base that misstates it would make
     * an image no registry serves as described, so that layer is sent instead. Its digest
     * names its bytes (the registry checked them as they were pushed), and its tar, which the
     * base's annotation names, is checked by every restore.
     */
    @Override
    public boolean reuse(Store.StoredObject base, Store.StoredGroup group) throws IOException {
        String digest = "sha256:" + group.group().sha256();
        OptionalLong size = known.size(digest);
        if (size.isEmpty() || size.getAsLong() >= 0 && size.getAsLong() != group.group().size()) {
            return false;
        }
        layers.add(group.group());
        groupsReused++;
        bytesReused += group.group().size();
        return true;
    }

    @Override
    public void signWith(SignableImage.ImageSigner signer) {
        this.signer = signer;
    }

    @Override
    public boolean replaces(Store.StoredObject broken) {
        replacing = broken;
        return true;
    }

    @Override
    public boolean commit(Store.Description description, int level) throws IOException {
        pushed();
        OciStore.Image image = OciStore.image(tag, layers, compression, description, level);
        // Signed before it is tagged, so that no reader ever finds the entry unsigned: the
        // signature names the manifest's digest, which the bytes about to be put have. It goes
        // up beside the config, on a pusher (idle by now): neither waits for the other.
        Future<?> signing = signer == null ? null : pushers.submit(() -> {
            CosignSignatures.Signature signature = signer.sign(store.dockerReference(), image.digest());
            CosignSignatures.pushForNewImage(registry, image.digest(), signature.payload(), signature.signature());
            return null;
        });
        OciStore.pushBlob(registry, image.config(), image.configDigest());
        if (signing != null) {
            Futures.await(signing, "signing the image");
        }
        // A registry has no conditional manifest PUT: this check, just before it, is all there
        // is. An image tagged between the two is tagged over, by a whole image of the same key.
        Optional<Map<String, Object>> now = registry.getManifest(tag);
        if (now.isPresent() && !(replacing != null && store.layerOf(tag, now.get()).version().equals(replacing.version()))) {
            if (signer != null) {
                CosignSignatures.delete(registry, image.digest()); // it names a manifest never tagged
            }
            return false;
        }
        try {
            committed = registry.putManifest(tag, OciStore.MANIFEST, image.manifest());
        } catch (RegistryClient.RegistryRefused e) {
            if (groupsReused > 0 && e.status == 400 && e.getMessage().contains("MANIFEST_BLOB_UNKNOWN")) {
                throw new Store.BaseGone("the repository no longer has a layer of it: " + e.getMessage());
            }
            throw e;
        }
        return true;
    }

    @Override
    public Store.Sent sent() {
        return new Store.Sent(groupsSent, bytesSent, groupsReused, bytesReused);
    }

    /** A layer is named by its stored bytes' digest. */
    @Override
    public boolean needsStoredDigest() {
        return true;
    }

    /** The digest of the manifest tagged, the sha256 of the bytes put: what a signature of the entry names. */
    @Override
    public Optional<String> committedDigest() {
        return Optional.ofNullable(committed);
    }

    @Override
    public void close() {
        pushers.shutdownNow();
        known.close();
        if (blob != null) {
            blob.cancel();
        }
    }
}

package lib.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import lib.archive.Archive;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.common.Digests;
import lib.common.Durations;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.common.StoreError;
import lib.common.UsageError;
import lib.key.CacheKey;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;

/** cache-upload: computes the key and stores the folder's archive under it, streamed, committed only when whole. */
public final class Upload {

    /**
     * What to upload. expiresAfter (oci:// only) labels the image for Quay to delete after that age;
     * maxAge (file:// only) prunes the folder's entries unused for longer. Either may be null.
     */
    public record Request(StoreUri target, Path folder, Path workingDir, List<String> patterns, Compression compression,
            String expiresAfter, Duration maxAge, boolean insecure, Duration stallTimeout, Environment environment) {}

    public static final Map<String, String> RESULTS_BEFORE = Map.of("cache-key", "", "size", "0");

    private Upload() {}

    public static void run(Request request, Results results, Log log, LongSupplier nanoTime) {
        if (!Files.isDirectory(request.folder())) {
            throw new UsageError("--folder " + request.folder() + " is not a directory: nothing to upload");
        }
        CacheKey key = CacheKey.forFolder(request.patterns(), request.workingDir(), request.folder(), log);
        results.put("cache-key", key.hash());
        URI location = request.target().resolve(key.hash());
        Stores.Scheme scheme = Stores.scheme(location);
        checkLifecycleOptions(request, location, scheme.expiry());
        Stores.Target target = scheme.open(location, request.insecure(), request.stallTimeout(), request.environment(), log);
        try (Store store = target.store()) {
            var existing = store.find(target.path());
            if (existing.isPresent()) {
                // Entries are immutable, as actions/cache's are: a key names one archive for good.
                log.info("kept: " + location + " already holds this key's entry (" + Log.bytes(existing.get().size())
                        + ", made " + existing.get().modified() + "), so nothing was uploaded; " + key.describe());
            } else {
                upload(request, store, target.path(), location, key, results, log, nanoTime);
            }
            if (request.maxAge() != null) {
                prune(store, request.maxAge(), log);
            }
        } catch (IOException e) {
            throw new StoreError("uploading " + request.folder() + " to " + location + ": " + Reason.of(e), e);
        }
    }

    private static void upload(Request request, Store store, String path, URI location, CacheKey key,
            Results results, Log log, LongSupplier nanoTime) throws IOException {
        try (Store.PendingWrite pending = store.create(path)) {
            var meter = new Meter("uploading to " + location, log, nanoTime);
            Written written = write(request.folder(), request.compression(), key.hash(), request.expiresAfter(), pending, meter);
            Archive.Stats archived = written.archived();
            boolean stored = pending.commit(written.contents(), written.description());
            if (archived.skipped() > 0) {
                log.info("skipped " + archived.skipped() + " sockets, fifos or devices: a cache holds files, links and folders");
            }
            if (!stored) {
                log.info("kept: another upload stored " + location + " while this one ran; its entry stays and this"
                        + " archive was discarded; " + key.describe());
                return;
            }
            results.put("size", Long.toString(meter.bytes()));
            log.info("uploaded " + Log.entries(archived.files(), archived.directories(), archived.links())
                    + " (" + Log.bytes(archived.bytes()) + ", " + Log.bytes(meter.bytes()) + " " + request.compression().label() + ") from " + request.folder() + " to " + location + " "
                    + Log.timing(meter.bytes(), meter.elapsedNanos()) + "; " + key.describe());
        }
    }

    /**
     * Expiry is the store's own business: Quay reads a label, a folder is pruned by us, buckets have
     * lifecycle rules. Checked before the store is opened, so that no work is done for nothing.
     */
    private static void checkLifecycleOptions(Request request, URI location, Store.Expiry expiry) {
        if (request.expiresAfter() != null && !expiry.labels()) {
            throw new UsageError("--expires-after labels OCI images for Quay; for " + location.getScheme()
                    + ":// use " + expiry.instead());
        }
        if (request.maxAge() != null && !expiry.prunes()) {
            throw new UsageError("--max-age prunes a file:// store; for " + location.getScheme() + ":// use " + expiry.instead());
        }
    }

    private static void prune(Store store, Duration maxAge, Log log) throws IOException {
        Store.Pruned pruned = store.prune(maxAge, Instant.now());
        if (pruned.entries() > 0) {
            log.info("pruned " + pruned.entries() + (pruned.entries() == 1 ? " entry" : " entries") + " ("
                    + Log.bytes(pruned.bytes()) + ") unused for more than " + Durations.text(maxAge));
        }
    }

    /** What an upload's stream was given: what its commit records, and what the archive held. */
    public record Written(Store.Contents contents, Store.Description description, Archive.Stats archived) {}

    /** The folder archived, compressed and metered into the upload as it is made: the one way from a folder to a store. */
    public static Written write(Path folder, Compression compression, String key, String expiresAfter, Store.PendingWrite pending,
            Meter meter) throws IOException {
        var tar = new TarTap(pending.needsTarDigest());
        Archive.Stats archived;
        try (OutputStream compressed = compression.compress(keepOpen(meter.watch(pending.stream())))) {
            archived = Archive.create(folder, tar.watch(compressed));
        }
        return new Written(new Store.Contents(meter.sha256(), meter.bytes(), compression),
                new Store.Description(key, Instant.now(), tar.bytes, tar.sha256(), archived.files(), expiresAfter), archived);
    }

    /** Counts the uncompressed tar stream, and digests it when the store asks (an image's diff_id). */
    private static final class TarTap {
        private final MessageDigest digest;
        private long bytes;

        TarTap(boolean digesting) {
            this.digest = digesting ? Digests.sha256() : null;
        }

        String sha256() {
            return digest == null ? null : Digests.hex(digest.digest());
        }

        OutputStream watch(OutputStream out) {
            return new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    bytes += len;
                    if (digest != null) {
                        digest.update(b, off, len);
                    }
                }
            };
        }
    }

    /** The compressor's close ends its frame; the store's stream stays open until the upload commits. */
    private static OutputStream keepOpen(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                out.flush();
            }
        };
    }
}

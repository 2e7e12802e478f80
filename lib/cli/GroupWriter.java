package lib.cli;

import java.io.Closeable;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.archive.Archive;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.common.DaemonThreads;
import lib.common.Digests;
import lib.common.Futures;
import lib.store.Store;

/**
 * Takes an entry's groups from the archive's walk and puts each into the store: reused from the
 * base when its tar is one of the base's (by its sha256, never by names, sizes or mtimes), or
 * compressed and sent.
 *
 * <p>Most groups are small: on compressor threads, one a core (up to as many as groups may be in
 * flight), their files are read into a tar in memory, which is digested and, unless the base has
 * it, compressed with a one-shot compressor; they reach the store in the walk's order. One frame
 * per group is too small for zstd's own workers to share, and the walk's thread alone cannot read
 * the files as fast as they compress, so this is what keeps every core busy. A big group waits for
 * those before it, then streams through the compressor, whose workers share it out, while another
 * thread digests its tar. With a base, a big group's tar is first made only to be digested, on a
 * compressor's thread like a small group, and made again to be compressed if the
 * base does not have it (the digest recorded is the second's, so it names the bytes sent). Memory:
 * the groups in flight (inFlightMost), each at most SMALL and its compressed copy.
 *
 * <p>The compressed bytes are digested too only where the store names a group by them
 * (EntryWrite.needsStoredDigest: an image's layer); a blob store's index names it by its tar's
 * digest alone, which is what the restore checks, so each byte is hashed once. Where both are
 * made, a small group's two are made one after the other on its compressor's thread, the groups
 * spread over the cores, and a big group's on two threads of their own. Uncompressed, the bytes
 * stored are the tar, whose digest serves for both.
 */
final class GroupWriter implements Closeable {

    /** A group whose tar is at most this long is made in memory and compressed on a thread of its own. */
    static final int SMALL = 4 << 20;

    private final Compression compression;
    private final int level;
    private final Store.EntryWrite entry;
    private final Meter meter;
    private final Store.StoredObject base;
    private final Map<String, Store.StoredGroup> reusable;
    private final int parallel = Runtime.getRuntime().availableProcessors();
    private final ExecutorService compressors;
    /**
     * Digest a big group's tar, and its stored bytes (null where they are not digested), beside
     * the thread that reads the files and feeds the compressor.
     */
    private final ExecutorService tarHasher;
    private final ExecutorService storedHasher;
    /** Whether the stored bytes are digested: where the store needs it, and they are not the tar itself. */
    private final boolean storedDigest;
    private final Compression.Frames frames;
    private final ArrayDeque<Future<Done>> inFlight = new ArrayDeque<>();
    /**
     * How many groups may be in flight beyond the one just handed over: two a core keep the cores
     * busy while the oldest is put into the store, and at most 3 keep memory within 32 MiB whatever
     * the cores (the JVM has 128 MiB, and an OCI push holds 32 MiB of chunks): 4 groups, each its
     * tar and its compressed copy, of SMALL at most.
     */
    private final int inFlightMost = Math.min(2 * parallel, 3);
    private final List<String> diffIds = new ArrayList<>();
    private Archive.Stats archived = new Archive.Stats(0, 0, 0, 0, 0);
    private long tarBytes;
    private int matched;

    /**
     * A group digested: a small one's tar made in memory, or a big one's probe (its tar was only
     * digested); the tar's sha256; and unless the base has it, a small one's compressed bytes and
     * their sha256 (null where the store needs none).
     */
    private record Done(Archive.InMemory tar, Probed probed, String diffId, byte[] compressed, String sha256) {}

    /** A big group whose tar was digested, to be streamed if the base does not have it after all. */
    private record Probed(Archive.Group group, Archive.Stats stats, long tarBytes) {}

    /** Digests and counts what is written to it, on the writing thread. */
    private static final class CountingDigest extends FilterOutputStream {
        private final MessageDigest sha256;
        private long count;

        CountingDigest(OutputStream out, MessageDigest sha256) {
            super(out);
            this.sha256 = sha256;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            sha256.update(b, off, len);
            count += len;
        }
    }

    /** base is the base entry and reusable its groups by diff_id (empty when there is none to take from). */
    GroupWriter(Compression.Setting setting, Store.EntryWrite entry, Meter meter, Store.StoredObject base,
            Map<String, Store.StoredGroup> reusable) {
        this.compression = setting.compression();
        this.level = setting.level();
        this.entry = entry;
        this.meter = meter;
        this.base = base;
        this.reusable = reusable;
        this.compressors = Executors.newFixedThreadPool(Math.min(parallel, inFlightMost + 1), DaemonThreads.named("group-compressor"));
        this.tarHasher = Executors.newSingleThreadExecutor(DaemonThreads.named("group-digest"));
        this.storedDigest = entry.needsStoredDigest() && compression != Compression.NONE;
        this.storedHasher = storedDigest ? Executors.newSingleThreadExecutor(DaemonThreads.named("group-digest")) : null;
        this.frames = compression.frames(level);
    }

    void accept(Archive.Group group) throws IOException {
        if (group.estimatedTarBytes() <= SMALL) {
            // This thread walks on; reading the files, the digests and the compression are the compressors' work.
            inFlight.add(compressors.submit(() -> {
                Archive.InMemory tar = group.inMemory();
                String diffId = sha256(tar.bytes(), tar.length());
                if (reusable.containsKey(diffId)) {
                    return new Done(tar, null, diffId, null, null); // the base's, unless the store cannot take it
                }
                byte[] compressed = compression.compressWhole(tar.bytes(), tar.length(), level);
                return new Done(tar, null, diffId, compressed, storedSha256(compressed, diffId));
            }));
            drain(inFlightMost);
            return;
        }
        if (!reusable.isEmpty()) {
            // A big group the base may have: its digest first, on a compressor's thread like the small ones'.
            inFlight.add(compressors.submit(() -> {
                var digest = new CountingDigest(OutputStream.nullOutputStream(), Digests.sha256());
                Archive.Stats stats = group.write(digest);
                return new Done(null, new Probed(group, stats, digest.count), Digests.hex(digest.sha256.digest()), null, null);
            }));
            drain(inFlightMost);
            return;
        }
        drain(0); // the entry takes its groups in the walk's order
        stream(group);
    }

    /** Compresses a big group as its tar is made, into the entry, with its digests computed beside. */
    private void stream(Archive.Group group) throws IOException {
        try (var stored = new Tap(meter.watch(keepOpen(entry.beginGroup())), storedHasher); var tar = new Tap(null, tarHasher)) {
            tar.to(frames.begin(keepOpen(stored), compression != Compression.ZSTD || group.compressible()));
            Archive.Stats stats = group.write(tar);
            frames.end();
            String diffId = tar.sha256();
            String sha256 = compression == Compression.NONE ? diffId : stored.sha256();
            entry.endGroup(new Store.Group(diffId, tar.bytes, sha256, stored.bytes));
            added(stats, tar.bytes, diffId);
        }
    }

    /** Whether the group of this digest was taken from the base; one the base has but the store cannot take is counted. */
    private boolean reused(String diffId) throws IOException {
        Store.StoredGroup same = reusable.get(diffId);
        if (same == null) {
            return false;
        }
        if (entry.reuse(base, same)) {
            return true;
        }
        matched++;
        return false;
    }

    /** The sha256 of a group's stored bytes where the store needs it, else null; uncompressed, they are the tar. */
    private String storedSha256(byte[] stored, String diffId) {
        if (compression == Compression.NONE) {
            return diffId;
        }
        return storedDigest ? sha256(stored, stored.length) : null;
    }

    private static String sha256(byte[] bytes, int length) {
        var digest = Digests.sha256();
        digest.update(bytes, 0, length);
        return Digests.hex(digest.digest());
    }

    private void added(Archive.Stats stats, long bytes, String diffId) {
        archived = archived.plus(stats);
        tarBytes += bytes;
        diffIds.add(diffId);
    }

    /**
     * Puts the oldest groups in flight into the entry, in the walk's order, waiting for their digest
     * and compression, until at most keep are left. One the base has is reused; if the store cannot
     * take it after all, it is compressed here and sent.
     */
    private void drain(int keep) throws IOException {
        while (inFlight.size() > keep) {
            Done done = await(inFlight.poll());
            Archive.InMemory tar = done.tar();
            if (done.probed() != null) {
                if (reused(done.diffId())) {
                    added(done.probed().stats(), done.probed().tarBytes(), done.diffId());
                } else {
                    stream(done.probed().group()); // a second pass; the digest recorded is the stream's
                }
                continue;
            }
            if (done.compressed() == null && !reused(done.diffId())) {
                byte[] compressed = compression.compressWhole(tar.bytes(), tar.length(), level);
                done = new Done(tar, null, done.diffId(), compressed, storedSha256(compressed, done.diffId()));
            }
            if (done.compressed() != null) {
                entry.putGroup(new Store.Group(done.diffId(), tar.length(), done.sha256(), done.compressed().length), done.compressed());
                meter.sent(done.compressed().length);
            }
            added(tar.stats(), tar.length(), done.diffId());
        }
    }

    /** Sends what is still in flight; then what was written is complete. */
    void finish() throws IOException {
        drain(0);
    }

    Archive.Stats archived() {
        return archived;
    }

    long tarBytes() {
        return tarBytes;
    }

    List<String> diffIds() {
        return diffIds;
    }

    int matched() {
        return matched;
    }

    @Override
    public void close() throws IOException {
        compressors.shutdownNow();
        tarHasher.shutdownNow();
        if (storedHasher != null) {
            storedHasher.shutdownNow();
        }
        frames.close();
    }

    /**
     * Counts the bytes on their way to out, and digests them (sha256) on the hasher's thread: each
     * write is copied and handed over, at most a few at a time, so that memory stays bounded. With
     * no hasher it only counts.
     */
    private static final class Tap extends FilterOutputStream {
        private static final int QUEUED = 4;
        private final MessageDigest digest = Digests.sha256();
        private final ExecutorService hasher;
        private final ArrayDeque<Future<?>> queued = new ArrayDeque<>();
        private long bytes;

        Tap(OutputStream out, ExecutorService hasher) {
            super(out);
            this.hasher = hasher;
        }

        /** The digest of what was written, null with no hasher; once, at the end (it resets the digest). */
        String sha256() throws IOException {
            return hasher == null ? null : Digests.hex(await(hasher.submit((Callable<byte[]>) digest::digest)));
        }

        /** Where the bytes go, for a tap made before its destination. */
        void to(OutputStream destination) {
            out = destination;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            bytes += len;
            if (hasher == null) {
                return;
            }
            byte[] copy = Arrays.copyOfRange(b, off, off + len);
            queued.add(hasher.submit(() -> digest.update(copy)));
            while (queued.size() > QUEUED) {
                await(queued.poll());
            }
        }

        @Override
        public void close() {
            // out is the store's or the compressor's, closed by its owner
        }
    }

    private static <T> T await(Future<T> future) throws IOException {
        return Futures.await(future, "digesting");
    }

    /** A frame's close ends it; the store's stream stays open until the upload commits. */
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

package lib.store.oci;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.common.DaemonThreads;
import lib.common.Futures;
import lib.store.Backoff;
import lib.store.Headway;
import lib.store.PartStream;

/**
 * A blob streamed to a registry as it is made, cut in chunks (RegistryClient's POST, then PATCH
 * with Content-Range, then PUT with the digest once the stream is complete), so that no archive
 * file is written first and memory stays at two chunks. One chunk travels while the next is filled. A chunk that fails is
 * resumed from the offset the registry reports having, so a dropped connection costs one chunk at most.
 */
final class ChunkedBlobUpload extends PartStream {

    /** Large enough for registries that want 5 MiB parts (ECR), small enough to hold two in memory. */
    static final int CHUNK = 16 << 20;

    private final RegistryClient registry;
    private final ExecutorService sender = Executors.newSingleThreadExecutor(DaemonThreads.named("blob-upload"));
    /** Two buffers: one travels while the other fills. */
    private final ArrayDeque<byte[]> free;
    private URI location;
    private long sent;
    private Future<?> inFlight;
    private byte[] travelling;

    ChunkedBlobUpload(RegistryClient registry) throws IOException {
        this(registry, List.of(new byte[CHUNK], new byte[CHUNK]));
    }

    /** An upload into the two buffers given (of CHUNK bytes), which an image's layers pass on from one to the next. */
    ChunkedBlobUpload(RegistryClient registry, List<byte[]> buffers) throws IOException {
        super(CHUNK);
        this.registry = registry;
        this.free = new ArrayDeque<>(buffers);
        this.location = registry.startUpload();
    }

    @Override
    protected byte[] emptyPart() {
        return free.pop();
    }

    /** Sends the chunk in the background, once the one before it has arrived (chunks go in order). */
    @Override
    protected void sendPart(byte[] chunk, int length) throws IOException {
        awaitInFlight();
        travelling = chunk;
        inFlight = sender.submit(() -> {
            send(chunk, length);
            return null;
        });
    }

    private void awaitInFlight() throws IOException {
        if (inFlight == null) {
            return;
        }
        try {
            Futures.await(inFlight, "uploading");
        } finally {
            inFlight = null;
            free.push(travelling);
        }
    }

    /** Sends what is buffered and waits until the registry has every byte written so far. */
    void flushChunks() throws IOException {
        sendRest();
        awaitInFlight();
    }

    private void send(byte[] chunk, int length) throws IOException {
        long start = sent;
        IOException last = null;
        for (int attempt = 1; attempt <= Backoff.ATTEMPTS; attempt++) {
            int from = 0;
            if (attempt > 1) {
                registry.backoff(attempt, "PATCH of bytes " + start + "-" + (start + length - 1), last);
                long has = received();
                if (has < start || has > start + length) {
                    throw new IOException("the registry reports " + has + " bytes of the upload, outside the chunk "
                            + start + "-" + (start + length - 1) + " being resent");
                }
                from = (int) (has - start);
            }
            if (from < length) {
                try {
                    location = registry.patchUpload(location, start + from, chunk, from, length - from);
                } catch (RegistryClient.ChunkRefused e) {
                    last = e;
                    if (RegistryClient.isTransient(e.status) || e.status == 416) {
                        continue;
                    }
                    throw e;
                } catch (RegistryClient.RegistryRefused | Headway.GaveUp e) {
                    throw e;
                } catch (IOException e) {
                    last = e;
                    continue;
                }
            }
            sent = start + length;
            return;
        }
        throw last;
    }

    /** How many bytes the registry has of this upload. */
    private long received() throws IOException {
        var status = registry.uploadStatus(location);
        location = status.location();
        // "0-N" says it has N+1 bytes, except that distribution also says "0-0" when it has none.
        return status.rangeEnd() == 0 && sent == 0 ? 0 : status.rangeEnd() + 1;
    }

    /** Completes the blob: the registry checks that its bytes hash to the digest. */
    void finish(String digest) throws IOException {
        flushChunks();
        try {
            registry.commitUpload(location, digest);
        } finally {
            sender.shutdown();
        }
    }

    /** Abandons the session, so the registry drops what it had of this blob; best effort. */
    void cancel() {
        sender.shutdownNow();
        try {
            registry.cancelUpload(location);
        } catch (IOException e) {
            // The registry expires abandoned sessions itself.
        }
    }
}

package lib.store.oci;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.common.DaemonThreads;
import lib.store.Backoff;
import lib.store.PartStream;

/**
 * A blob streamed to a registry as it is made, in chunks (POST, then PATCH with Content-Range,
 * then PUT with the digest once the stream is complete), so that no archive file is written first
 * and memory stays at two chunks. One chunk travels while the next is filled. A chunk that fails is
 * resumed from the offset the registry reports having, so a dropped connection costs one chunk at most.
 */
final class ChunkedBlobUpload extends PartStream {

    /** Large enough for registries that want 5 MiB parts (ECR), small enough to hold two in memory. */
    static final int CHUNK = 16 << 20;

    private final RegistryClient registry;
    private final ExecutorService sender = Executors.newSingleThreadExecutor(DaemonThreads.named("blob-upload"));
    /** Two buffers: one travels while the other fills. */
    private final ArrayDeque<byte[]> free = new ArrayDeque<>(List.of(new byte[CHUNK], new byte[CHUNK]));
    private URI location;
    private long sent;
    private Future<?> inFlight;
    private byte[] travelling;

    ChunkedBlobUpload(RegistryClient registry) throws IOException {
        super(CHUNK);
        this.registry = registry;
        this.location = start(registry);
    }

    /** Opens an upload session; its URL is where the blob's bytes go. */
    static URI start(RegistryClient registry) throws IOException {
        URI uploads = registry.repositoryUri("blobs/uploads/");
        try (var response = new RegistryClient.Closing(registry.send("POST", uploads, Map.of(), null))) {
            if (response.status() != 202) {
                throw registry.refused(response.get(), "POST blobs/uploads/");
            }
            return uploads.resolve(response.get().headers().firstValue("Location")
                    .orElseThrow(() -> new IOException("the registry opened an upload without a Location")));
        }
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
            inFlight.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while uploading");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
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
                int offset = from;
                var headers = Map.of("Content-Type", "application/octet-stream",
                        "Content-Range", (start + offset) + "-" + (start + length - 1));
                try (var response = new RegistryClient.Closing(registry.sendOnce("PATCH", location, headers,
                        () -> ArrayBody.of(chunk, offset, length - offset)))) {
                    if (response.status() != 202) {
                        last = registry.refused(response.get(), "PATCH blob upload");
                        if (RegistryClient.isTransient(response.status()) || response.status() == 416) {
                            continue;
                        }
                        throw last;
                    }
                    moveTo(response);
                } catch (RegistryClient.RegistryRefused e) {
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

    /** How many bytes the registry has of this upload (GET on the session answers with Range: 0-N). */
    private long received() throws IOException {
        try (var response = new RegistryClient.Closing(registry.send("GET", location, Map.of(), null))) {
            if (response.status() != 204 && response.status() != 202) {
                throw registry.refused(response.get(), "GET blob upload status");
            }
            moveTo(response);
            // "0-N" says it has N+1 bytes, except that distribution also says "0-0" when it has none.
            String range = response.get().headers().firstValue("Range").orElse("0-0");
            long last = Long.parseLong(range.substring(range.indexOf('-') + 1));
            return last == 0 && sent == 0 ? 0 : last + 1;
        }
    }

    private void moveTo(RegistryClient.Closing response) {
        response.get().headers().firstValue("Location").ifPresent(next -> location = location.resolve(next));
    }

    /** Completes the blob: the registry checks that its bytes hash to the digest. */
    void finish(String digest) throws IOException {
        flushChunks();
        URI put = URI.create(location + (location.getRawQuery() == null ? "?" : "&") + "digest=" + digest);
        try (var response = new RegistryClient.Closing(registry.send("PUT", put, Map.of(), null))) {
            if (response.status() != 201) {
                throw registry.refused(response.get(), "PUT blob " + digest);
            }
        } finally {
            sender.shutdown();
        }
    }

    /** Abandons the session, so the registry drops what it had of this blob; best effort. */
    void cancel() {
        sender.shutdownNow();
        try (var response = new RegistryClient.Closing(registry.sendOnce("DELETE", location, Map.of(), null))) {
            // 204 or 404: either way nothing of this upload remains to be used.
        } catch (IOException e) {
            // The registry expires abandoned sessions itself.
        }
    }
}

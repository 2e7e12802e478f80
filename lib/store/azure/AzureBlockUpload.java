package lib.store.azure;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.options.BlockBlobCommitBlockListOptions;
import com.azure.storage.blob.options.BlockBlobStageBlockOptions;
import com.azure.storage.blob.specialized.BlockBlobAsyncClient;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import lib.common.DaemonThreads;
import lib.store.PartStream;

/**
 * A block blob written from a stream: the bytes are cut into 8 MiB blocks, each staged (Put Block)
 * as soon as it is full, up to four at a time, and the blob is made from them by one Put Block
 * List at commit. Staged blocks stay invisible, so until commit any earlier blob at the name is
 * what readers get, and an upload abandoned half way leaves it so (Azure drops uncommitted blocks
 * after a week, or when any block list of the blob is committed). Memory holds at most five
 * blocks, whatever the archive's size.
 *
 * <p>The block list is committed with If-None-Match: *, which Azure evaluates as it commits: a
 * blob at the name is never replaced, and of two uploads committing at once exactly one makes the
 * blob. Both stage blocks on the same blob name, so each upload's block ids carry its own random
 * prefix: one commit can never take in the other's blocks.
 */
public final class AzureBlockUpload extends PartStream {

    /** Turns an SDK failure into the one-line IOException messages show. */
    interface Failures {
        IOException of(String action, RuntimeException e);
    }

    public static final int BLOCK = 8 << 20;
    static final int IN_FLIGHT = 4;
    /** A block blob holds at most this many blocks. */
    private static final int MAX_BLOCKS = 50_000;

    private final BlockBlobAsyncClient blob;
    private final Failures failures;
    private final ExecutorService stagers;
    private final Semaphore slots = new Semaphore(IN_FLIGHT);
    private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
    private final List<String> blockIds = new ArrayList<>();
    private final AtomicReference<IOException> failed = new AtomicReference<>();
    /** Block ids of one upload share it, so that two uploads racing to one name never mix blocks. */
    private final String uploadId = String.format("%016x", ThreadLocalRandom.current().nextLong());

    AzureBlockUpload(BlockBlobAsyncClient blob, Failures failures) {
        super(BLOCK);
        this.blob = blob;
        this.failures = failures;
        this.stagers = Executors.newFixedThreadPool(IN_FLIGHT, DaemonThreads.named("azblob-put-block"));
    }

    /** A buffer a finished stager gave back, or a new one while fewer than IN_FLIGHT + 1 exist. */
    @Override
    protected byte[] emptyPart() {
        synchronized (spare) {
            return spare.isEmpty() ? new byte[BLOCK] : spare.pop();
        }
    }

    /** Hands the full block to a stager, once one of the IN_FLIGHT slots is free. */
    @Override
    protected void sendPart(byte[] full, int length) throws IOException {
        throwIfFailed();
        if (blockIds.size() == MAX_BLOCKS) {
            throw new IOException("the archive is larger than " + MAX_BLOCKS + " blocks of " + (BLOCK >> 20)
                    + " MiB, the most an Azure block blob holds");
        }
        try {
            slots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while staging blocks");
        }
        int index = blockIds.size();
        String id = Base64.getEncoder().encodeToString(
                String.format("%s-%06d", uploadId, index).getBytes(StandardCharsets.US_ASCII));
        blockIds.add(id);
        stagers.execute(() -> {
            try {
                // PUT ?comp=block&blockid=ID
                blob.stageBlockWithResponse(new BlockBlobStageBlockOptions(id,
                        BinaryData.fromByteBuffer(ByteBuffer.wrap(full, 0, length)))).block();
            } catch (RuntimeException e) {
                failed.compareAndSet(null, failures.of("staging block " + index, e));
            } finally {
                synchronized (spare) {
                    spare.push(full);
                }
                slots.release();
            }
        });
    }

    private void throwIfFailed() throws IOException {
        IOException failure = failed.get();
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Stages what is left, waits for every block, then makes them the blob with its metadata (Put
     * Block List), only where no blob is. False when another upload's blob was there first.
     */
    boolean commit(Map<String, String> metadata, BlobHttpHeaders headers) throws IOException {
        sendRest();
        try {
            slots.acquire(IN_FLIGHT);
            slots.release(IN_FLIGHT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while staging blocks");
        }
        throwIfFailed();
        try {
            // PUT ?comp=blocklist, If-None-Match: *
            blob.commitBlockListWithResponse(new BlockBlobCommitBlockListOptions(blockIds).setMetadata(metadata)
                    .setHeaders(headers).setRequestConditions(new BlobRequestConditions().setIfNoneMatch("*"))).block();
            return true;
        } catch (BlobStorageException e) {
            if (refusedForAnotherBlob(e)) {
                return false;
            }
            throw failures.of("committing the block list", e);
        } catch (RuntimeException e) {
            throw failures.of("committing the block list", e);
        }
    }

    /**
     * Whether the commit was refused because another upload's blob is at the name: 409
     * BlobAlreadyExists (or 412) for the condition, or 400 InvalidBlockList when that upload's
     * commit came first and discarded the blob's uncommitted blocks, ours among them.
     */
    private boolean refusedForAnotherBlob(BlobStorageException e) {
        if (BlobErrorCode.BLOB_ALREADY_EXISTS.equals(e.getErrorCode()) || e.getStatusCode() == 412) {
            return true;
        }
        if (!BlobErrorCode.INVALID_BLOCK_LIST.equals(e.getErrorCode())) {
            return false;
        }
        try {
            // HEAD /container/path
            return Boolean.TRUE.equals(blob.exists().block());
        } catch (RuntimeException notKnown) {
            e.addSuppressed(notKnown);
            return false;
        }
    }

    /** Stops staging; blocks already staged stay uncommitted, invisible. */
    @Override
    public void close() {
        stagers.shutdownNow();
    }
}

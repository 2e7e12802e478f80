package lib.store.s3;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import lib.common.DaemonThreads;
import lib.common.Futures;
import lib.common.Log;
import lib.common.Reason;
import lib.store.BlobUri;
import lib.store.PartStream;
import lib.store.Store;
import lib.store.TemporaryName;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * An archive streamed into S3 as it is made: parts of 8 MiB go up in parallel while the next ones
 * fill, memory bounded by the parts in flight. A multipart upload makes no object until it is
 * completed, so nothing half-made is ever at the key. An archive that fits in one part is put at
 * the key directly, with its sha256 as its metadata.
 *
 * <p>A single stream (the Go tool's layout, --compression none) is checked as a whole against that
 * metadata, which S3 fixes before an object's first byte while the digest is known after its last:
 * its parts build a temporary object beside the key, copied (server side) to the key with the
 * metadata once complete. An entry of groups (inPlace) needs no such digest, each group being
 * checked against its index: its parts build the key itself, the copied ranges of its base as the
 * first part numbers and the streamed bytes from FIRST_STREAMED_PART on (S3 assembles parts in
 * the order of their numbers, gaps allowed), so that no byte is copied a second time.
 *
 * <p>An object at the key is never replaced. Every write to the key, the PUT and the completion of
 * the upload in place or of the multipart copy, carries If-None-Match: *, and a HEAD comes just
 * before each. What that
 * guarantees depends on the server:
 * <ul>
 * <li>AWS S3, and s3proxy 4.0.0 on its filesystem backend (measured), evaluate the header as they
 * write: of two uploads committing at once exactly one creates the key; the other is refused (412
 * PreconditionFailed, or on AWS 409 ConditionalRequestConflict when both complete together) and
 * discards its bytes.
 * <li>Servers that ignore the header (s3proxy 2.7.0 ignored it on PUT, CopyObject and
 * CompleteMultipartUpload, measured) have only the HEAD: two uploads passing it within the same
 * moment both write, and the last one's object stays, whole, with its own digest.
 * </ul>
 */
public final class S3MultipartUpload implements Store.PendingWrite {

    public static final int PART = 8 << 20;
    static final int PARALLEL_PARTS = 4;
    private static final int MAX_PARTS = 10_000;
    private static final long COPY_PART = 1L << 30;
    /** In place, the streamed parts are numbered from here, the copied ones below: up to 1,000 GiB of copies. */
    private static final int FIRST_STREAMED_PART = 1001;

    private final S3Store store;
    private final String key;
    private final String temporary;
    /** The entry's parts build the key itself (null: a temporary object), of this content type. */
    private final String inPlace;
    private final BlockingQueue<byte[]> freeBuffers = new ArrayBlockingQueue<>(PARALLEL_PARTS + 1);
    private final List<Future<CompletedPart>> parts = new ArrayList<>();
    private final ExecutorService senders = Executors.newFixedThreadPool(PARALLEL_PARTS, DaemonThreads.named("s3-part"));
    private final Stream stream = new Stream();
    private String uploadId;
    private boolean temporaryComplete;
    private boolean committed;

    /** An upload whose parts build the key itself when inPlace names its content type, else a temporary object. */
    S3MultipartUpload(S3Store store, String key, String inPlace) {
        this.store = store;
        this.key = key;
        this.inPlace = inPlace;
        this.temporary = key + TemporaryName.MARKER + Long.toHexString(ThreadLocalRandom.current().nextLong());
        for (int i = 0; i <= PARALLEL_PARTS; i++) {
            freeBuffers.add(new byte[PART]);
        }
    }

    /** Whether a key is one of our uploads under way, not a cache. */
    static boolean isTemporary(String key) {
        return key.contains(TemporaryName.MARKER);
    }

    @Override
    public OutputStream stream() {
        return stream;
    }

    private final class Stream extends PartStream {
        Stream() {
            super(PART);
        }

        @Override
        protected byte[] emptyPart() throws IOException {
            return takeBuffer();
        }

        @Override
        protected void sendPart(byte[] buffer, int length) throws IOException {
            send(buffer, length);
        }
    }

    private byte[] takeBuffer() throws IOException {
        try {
            return freeBuffers.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while uploading");
        }
    }

    /** Sends one part in the background; the buffer goes back to the pool once the part is up. */
    private void send(byte[] buffer, int length) throws IOException {
        failIfAPartFailed();
        startUpload();
        int first = inPlace == null ? 1 : FIRST_STREAMED_PART;
        int number = first + parts.size();
        if (number > MAX_PARTS) {
            throw new IOException("the archive is larger than " + (MAX_PARTS - first + 1) + " parts of " + Log.bytes(PART)
                    + ", the most one S3 upload takes");
        }
        parts.add(senders.submit(() -> {
            try {
                String etag = store.client().uploadPart(b -> b.bucket(store.bucket()).key(uploadKey()).uploadId(uploadId)
                        .partNumber(number).contentLength((long) length),
                        RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buffer, 0, length), length,
                                "application/octet-stream")).eTag();
                return CompletedPart.builder().partNumber(number).eTag(etag).build();
            } catch (SdkException e) {
                throw store.failure(e, "PUT part " + number);
            } finally {
                freeBuffers.add(buffer);
            }
        }));
    }

    /** POST /bucket/key?uploads, once: at the key in place, else at the temporary object. */
    private void startUpload() throws IOException {
        if (uploadId == null) {
            uploadId = call("starting the upload", () -> store.client().createMultipartUpload(b -> b.bucket(store.bucket())
                    .key(uploadKey()).contentType(inPlace == null ? "application/octet-stream" : inPlace)).uploadId());
        }
    }

    private String uploadKey() {
        return inPlace == null ? temporary : key;
    }

    private void failIfAPartFailed() throws IOException {
        for (var part : parts) {
            if (part.isDone()) {
                result(part);
            }
        }
    }

    private static CompletedPart result(Future<CompletedPart> part) throws IOException {
        return Futures.await(part, "uploading");
    }

    @Override
    public boolean commit(Store.Contents contents, Store.Description description) throws IOException {
        return commitAfter(List.of(), contents);
    }

    /** An archive that fits in one part and copies nothing: one PUT at the key, with its digest. */
    private boolean put(Store.Contents contents) throws IOException {
        if (taken()) {
            return false;
        }
        byte[] body = stream.pending();
        int lastLength = stream.pendingLength();
        // PUT /bucket/key, If-None-Match: *
        committed = created("PUT " + key, () -> store.client().putObject(b -> b.bucket(store.bucket()).key(key)
                .contentType(contents.compression().contentType()).metadata(Map.of(BlobUri.SHA256_METADATA, contents.sha256()))
                .ifNoneMatch("*"),
                RequestBody.fromContentProvider(() -> new ByteArrayInputStream(body, 0, lastLength), lastLength,
                        "application/octet-stream")));
        return committed;
    }

    /** A range of another object of the bucket, as found (its ETag), that goes into the key ahead of what was streamed. */
    record Source(String key, String etag, long offset, long length) {}

    /**
     * Commits the key as the copied ranges (each at least 5 MiB, S3's least part but the last),
     * then everything streamed, all assembled on the server. An archive under one part that copies
     * nothing is one PUT; only an upload in place copies ranges.
     */
    boolean commitAfter(List<Source> copied, Store.Contents contents) throws IOException {
        if (uploadId == null && copied.isEmpty()) {
            return put(contents);
        }
        if (inPlace != null) {
            return commitInPlace(copied);
        }
        if (!copied.isEmpty()) {
            throw new IllegalStateException("an upload through a temporary object copies no ranges");
        }
        return commitThroughTemporary(contents);
    }

    /**
     * Completes the temporary object (its last part of any size, perhaps its only one), then
     * copies it to the key with the digest as metadata.
     */
    private boolean commitThroughTemporary(Store.Contents contents) throws IOException {
        stream.sendRest();
        var completed = new ArrayList<CompletedPart>();
        for (var part : parts) {
            completed.add(result(part));
        }
        call("completing the upload", () -> store.client().completeMultipartUpload(b -> b.bucket(store.bucket())
                .key(temporary).uploadId(uploadId).multipartUpload(u -> u.parts(completed))));
        temporaryComplete = true;
        if (taken() || !copyToKey(new Source(temporary, null, 0, contents.size()), Map.of(BlobUri.SHA256_METADATA, contents.sha256()),
                contents.compression().contentType())) {
            return false; // close() deletes the temporary object
        }
        committed = true;
        call("deleting " + temporary, () -> store.client().deleteObject(b -> b.bucket(store.bucket()).key(temporary)));
        return true;
    }

    /**
     * Whether an object is at the key already. If-None-Match alone would tell, but S3-compatible
     * servers that ignore it (s3proxy 2.7.0) would replace the object; checking just before the
     * write narrows that to a window of one request.
     */
    private boolean taken() throws IOException {
        return store.find(key).isPresent();
    }

    /**
     * Copies the complete temporary object to the key with the digest as metadata, unless an
     * object is there: CopyObject takes no If-None-Match in this SDK, CompleteMultipartUpload
     * does, so the copy is a multipart one of server-side ranges. False when another upload's
     * object was there first.
     */
    private boolean copyToKey(Source temporaryObject, Map<String, String> metadata, String contentType) throws IOException {
        var s3 = store.client();
        String bucket = store.bucket();
        // POST /bucket/key?uploads
        String copyId = call("starting the copy to " + key, () -> s3.createMultipartUpload(b -> b.bucket(bucket).key(key)
                .contentType(contentType).metadata(metadata)).uploadId());
        boolean created = false;
        try {
            var copied = copyParts(List.of(temporaryObject), copyId);
            // POST /bucket/key?uploadId=ID, If-None-Match: *
            created = created("completing the copy to " + key, () -> s3.completeMultipartUpload(b -> b.bucket(bucket).key(key)
                    .uploadId(copyId).multipartUpload(u -> u.parts(copied)).ifNoneMatch("*")));
            return created;
        } finally {
            if (!created) {
                try {
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(copyId));
                } catch (SdkException e) {
                    store.debug("could not abort the copy to " + key + ": " + Reason.of(e)); // lifecycle rules reap it
                }
            }
        }
    }

    /**
     * Commits the key in place: the copied ranges as its first parts, then the streamed ones, all
     * assembled on the server by the completion, which carries If-None-Match: *. False when
     * another upload's object was there first (close() aborts the parts).
     */
    private boolean commitInPlace(List<Source> copied) throws IOException {
        long pieces = copied.stream().mapToLong(source -> copyPieces(source.offset(), source.length(), COPY_PART).size()).sum();
        if (pieces >= FIRST_STREAMED_PART) {
            throw new IOException("the base's groups would be " + pieces + " copied parts, more than the "
                    + (FIRST_STREAMED_PART - 1) + " an entry's S3 upload keeps for them");
        }
        stream.sendRest(); // the last part, of any size
        startUpload(); // when all that was streamed fits in the last part
        var completed = copyParts(copied, uploadId);
        for (var part : parts) {
            completed.add(result(part));
        }
        if (taken()) {
            return false;
        }
        // POST /bucket/key?uploadId=ID, If-None-Match: *
        committed = created("completing the upload to " + key, () -> store.client().completeMultipartUpload(b -> b
                .bucket(store.bucket()).key(key).uploadId(uploadId).multipartUpload(u -> u.parts(completed)).ifNoneMatch("*")));
        return committed;
    }

    /**
     * The sources copied (server side) into the upload to the key, as its parts numbered from 1:
     * each source in pieces of at most COPY_PART, pinned to its ETag.
     */
    private List<CompletedPart> copyParts(List<Source> sources, String upload) throws IOException {
        var s3 = store.client();
        String bucket = store.bucket();
        var copied = new ArrayList<CompletedPart>();
        for (Source source : sources) {
            for (long[] piece : copyPieces(source.offset(), source.length(), COPY_PART)) {
                int number = copied.size() + 1;
                String range = "bytes=" + piece[0] + "-" + (piece[1] - 1);
                // PUT /bucket/key?partNumber=N&uploadId=ID, x-amz-copy-source-range, x-amz-copy-source-if-match
                String etag = copy("copying " + range + " of " + source.key(), source, () -> s3.uploadPartCopy(b -> b
                        .sourceBucket(bucket).sourceKey(source.key()).copySourceIfMatch(source.etag()).destinationBucket(bucket)
                        .destinationKey(key).uploadId(upload).partNumber(number).copySourceRange(range)).copyPartResult().eTag());
                copied.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
            }
        }
        return copied;
    }

    /**
     * The range [offset, offset + length) cut into pieces of at most maxPart bytes, as [from, to)
     * pairs: as few as can be, all of one length give or take a byte. Cut at maxPart after maxPart,
     * what is left could be under S3's least part of 5 MiB without being the last part, which S3
     * refuses; an even cut of a range of 5 MiB or more makes no piece shorter than that.
     */
    public static List<long[]> copyPieces(long offset, long length, long maxPart) {
        long count = (length + maxPart - 1) / maxPart;
        var pieces = new ArrayList<long[]>();
        for (long i = 0; i < count; i++) {
            pieces.add(new long[] {offset + length * i / count, offset + length * (i + 1) / count});
        }
        return pieces;
    }

    /**
     * Runs a write carrying If-None-Match: *. False when it was refused because an object is at
     * the key: 412 PreconditionFailed, or 409 ConditionalRequestConflict when another write to
     * the key was completing at the same moment (AWS asks to retry; the HEAD after it tells).
     */
    private boolean created(String what, S3Call<?> write) throws IOException {
        try {
            write.run();
            return true;
        } catch (S3Exception e) {
            String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
            boolean refused = e.statusCode() == 412 || e.statusCode() == 409 && "ConditionalRequestConflict".equals(code);
            if (!refused) {
                throw store.failure(e, what);
            }
            if (!taken()) {
                throw new IOException(store.failure(e, what).getMessage() + ", yet no object is at the key; upload again", e);
            }
            return false;
        } catch (SdkException e) {
            throw store.failure(e, what);
        }
    }

    /** Nothing of an upload that did not commit stays behind; best effort, the key is never touched. */
    @Override
    public void close() {
        senders.shutdownNow();
        if (committed) {
            return;
        }
        try {
            if (temporaryComplete) {
                store.client().deleteObject(b -> b.bucket(store.bucket()).key(temporary));
            } else if (uploadId != null) {
                store.client().abortMultipartUpload(b -> b.bucket(store.bucket()).key(uploadKey()).uploadId(uploadId));
            }
        } catch (SdkException e) {
            store.debug("could not clean up " + uploadKey() + ": " + Reason.of(e));
        }
    }

    private interface S3Call<T> {
        T run();
    }

    /** A copy from the base: its 404 (deleted) or 412 (replaced: the ETag pinned no longer matches) is Store.BaseGone. */
    private <T> T copy(String what, Source source, S3Call<T> call) throws IOException {
        try {
            return call.run();
        } catch (S3Exception e) {
            if (e.statusCode() == 404 || e.statusCode() == 412) {
                throw new Store.BaseGone(source.key() + " was deleted or replaced: HTTP " + e.statusCode() + " " + what);
            }
            throw store.failure(e, what);
        } catch (SdkException e) {
            throw store.failure(e, what);
        }
    }

    private <T> T call(String what, S3Call<T> call) throws IOException {
        try {
            return call.run();
        } catch (SdkException e) {
            throw store.failure(e, what);
        }
    }
}

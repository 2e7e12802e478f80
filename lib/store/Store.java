package lib.store;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import lib.archive.Compression;

/**
 * Where cache archives live. Paths are the store's own names for objects (a file path, a bucket
 * key, a tag); the archive format and the cache key are none of its business.
 */
public interface Store extends Closeable {

    /** An archive in the store; sha256 is empty when the writer recorded none (the Go tool's objects). */
    record StoredObject(String path, long size, Optional<String> sha256, Instant modified) {}

    /**
     * What an upload wrote: the archive's sha256 and size as stored, and what it holds, for
     * stores that record more than the bytes (an image config and annotations). expiresAfter is
     * the quay.expires-after label an image gets (null for none).
     */
    record Contents(String sha256, long size, Compression compression, String key, Instant created,
            long tarBytes, String tarSha256, long files, String expiresAfter) {

        public Contents(String sha256, long size, Compression compression, String key, Instant created, long tarBytes,
                String tarSha256, long files) {
            this(sha256, size, compression, key, created, tarBytes, tarSha256, files, null);
        }
    }

    /** A write under way: nothing is visible at the path until commit, and close without commit discards it. */
    interface PendingWrite extends Closeable {
        OutputStream stream();

        /** Whether commit needs Contents.tarSha256, the digest of the uncompressed tar (it costs a pass of sha256). */
        default boolean needsTarDigest() {
            return false;
        }

        /**
         * Makes the object visible at its path only if nothing is there yet. Returns false, leaving
         * the object already there exactly as it was, when the path already held an object (another
         * upload got there first); the bytes just uploaded are then discarded (temporary objects
         * and blocks cleaned up). Each store's javadoc says how atomic that check is.
         */
        boolean commit(Contents contents) throws IOException;
    }

    /** The object at this path, or empty when there is none (a cache miss). */
    Optional<StoredObject> find(String path) throws IOException;

    /** The object's bytes, as stored. */
    InputStream open(StoredObject object) throws IOException;

    PendingWrite create(String path) throws IOException;

    /** Objects whose path starts with the prefix. */
    List<StoredObject> list(String prefix) throws IOException;

    @Override
    default void close() throws IOException {}
}

package lib.store;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import lib.archive.Compression;

/**
 * Where cache archives live. Paths are the store's own names for objects (a file path, a bucket
 * key, a tag); the archive format and the cache key are none of its business.
 */
public interface Store extends Closeable {

    /**
     * An archive in the store; sha256 is empty when the writer recorded none (the Go tool's objects).
     * version is the store's own opaque name for these bytes at this path (an ETag, a generation, a
     * digest; null when the store gave none), with which open reads the object as it was found.
     */
    record StoredObject(String path, long size, Optional<String> sha256, Instant modified, String version) {}

    /**
     * What every store records of an archive it writes: its sha256 and size as stored, and its
     * compression (the object's media type).
     */
    record Contents(String sha256, long size, Compression compression) {}

    /**
     * What an entry says of itself beyond its bytes, for a store that records more than them (an OCI
     * image's config and annotations); the other stores ignore it. key is the cache key it was made
     * for; tarBytes and tarSha256 are the uncompressed tar's size and sha256 (an image's diff_id, null
     * unless the write asked for it, see needsTarDigest); files counts the files it holds;
     * expiresAfter is the quay.expires-after label an image gets (null for none).
     */
    record Description(String key, Instant created, long tarBytes, String tarSha256, long files, String expiresAfter) {}

    /** A write under way: nothing is visible at the path until commit, and close without commit discards it. */
    interface PendingWrite extends Closeable {
        OutputStream stream();

        /** Whether commit needs Description.tarSha256, the digest of the uncompressed tar (it costs a pass of sha256). */
        default boolean needsTarDigest() {
            return false;
        }

        /**
         * Makes the object visible at its path only if nothing is there yet. Returns false, leaving
         * the object already there exactly as it was, when the path already held an object (another
         * upload got there first); the bytes just uploaded are then discarded (temporary objects
         * and blocks cleaned up). Each store's javadoc says how atomic that check is.
         */
        boolean commit(Contents contents, Description description) throws IOException;
    }

    /**
     * How a store's old entries go, known before one is opened: pruned after an upload
     * (cache-upload --max-age), labelled for the registry to delete (--expires-after), or neither,
     * by the store's own rules. instead is what a user is told to use when they ask this store for
     * what it does not do.
     */
    record Expiry(boolean prunes, boolean labels, String instead) {}

    /** What a prune removed. */
    record Pruned(int entries, long bytes) {}

    /** The object at this path, or empty when there is none (a cache miss). */
    Optional<StoredObject> find(String path) throws IOException;

    /**
     * The object's bytes, as stored when it was found: an object replaced since (another upload, a
     * prune and a new upload, a hand-made copy) is read at the version found or fails, and never gives
     * the new bytes under the old object's size, digest and name. Each store's open says which.
     */
    InputStream open(StoredObject object) throws IOException;

    PendingWrite create(String path) throws IOException;

    /** Objects whose path starts with the prefix. */
    List<StoredObject> list(String prefix) throws IOException;

    /**
     * Deletes the entries neither written nor read for longer than maxAge. Only a store whose Expiry
     * prunes does; the others are never asked, their Expiry having refused --max-age already.
     */
    default Pruned prune(Duration maxAge, Instant now) throws IOException {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not prune; its Expiry says so");
    }

    @Override
    default void close() throws IOException {}
}

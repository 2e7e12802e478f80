package lib.store;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
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
     * for; tarBytes is the uncompressed tar's size (all groups'), tarSha256 its sha256 when it is one
     * group (an image's one diff_id; null for an entry of several); files counts the files it holds;
     * expiresAfter is the quay.expires-after label an image gets (null for none).
     */
    record Description(String key, Instant created, long tarBytes, String tarSha256, long files, String expiresAfter) {}

    /**
     * One group of an entry: the sha256 and size of its uncompressed tar (diffId, as an OCI image's
     * config names a layer) and of its compressed bytes as stored. sha256 is null where the store
     * needs none (EntryWrite.needsStoredDigest): a blob store's index names a group by its diffId
     * alone, which is what the restore checks.
     */
    record Group(String diffId, long tarBytes, String sha256, long size) {}

    /** A group as an entry holds it: offset is where its bytes start in the entry's one object (0 where groups are kept apart, as layers). */
    record StoredGroup(Group group, long offset) {}

    /**
     * What an entry is made of: its groups in the order of the walk, the level of the plan that cut
     * them (GroupPlan, -1 when unknown), which a save with this entry as its base keeps, their
     * compression (null when unknown: such groups are restored, never reused), and the signature the
     * index they were read from holds (IndexSignature.NONE where the entry keeps none in itself).
     */
    record Groups(int level, Compression compression, List<StoredGroup> groups, IndexSignature signature) {
        /** Groups whose entry holds no signature of its own (an image's, whose signatures a registry keeps apart). */
        public Groups(int level, Compression compression, List<StoredGroup> groups) {
            this(level, compression, groups, IndexSignature.NONE);
        }
    }

    /**
     * What an entry's index says of its signature, read with its groups from the same version of the
     * object (FramedObject): text is the signature part stored after the group lines, unchecked (empty
     * when the entry is unsigned), indexDigest the sha256 ("sha256:<hex>") of the index text before it,
     * which is what a valid signature names. EntryTrust.verify says whether a trusted key made it.
     */
    record IndexSignature(byte[] text, String indexDigest) {
        public static final IndexSignature NONE = new IndexSignature(new byte[0], null);

        public boolean signed() {
            return text.length > 0;
        }

        /** By content, so that the groups of one index read twice are equal. */
        @Override
        public boolean equals(Object other) {
            return other instanceof IndexSignature that && java.util.Arrays.equals(text, that.text)
                    && java.util.Objects.equals(indexDigest, that.indexDigest);
        }

        @Override
        public int hashCode() {
            return 31 * java.util.Arrays.hashCode(text) + java.util.Objects.hashCode(indexDigest);
        }

        @Override
        public String toString() {
            return (signed() ? "a signature part of " + text.length + " bytes" : "no signature") + " over index " + indexDigest;
        }
    }

    /**
     * An entry written group by group. Nothing is visible at the path until commit, and close without
     * commit discards what was written.
     */
    interface EntryWrite extends Closeable {
        /** The stream the next group's compressed bytes go to; endGroup says when it is complete. The caller never closes it. */
        OutputStream beginGroup() throws IOException;

        /** Ends the group begun last: what it holds. */
        void endGroup(Group group) throws IOException;

        /**
         * Whether endGroup and putGroup must be told each group's stored bytes' sha256 (Group.sha256):
         * a registry names a layer by it; an entry whose groups are named by their tar's diff_id
         * alone does not need it, and the writer then does not hash the bytes it stores (null).
         */
        default boolean needsStoredDigest() {
            return false;
        }

        /** A whole group compressed in memory, as beginGroup, a write and endGroup would put it; a store may do better. */
        default void putGroup(Group group, byte[] bytes) throws IOException {
            OutputStream out = beginGroup();
            out.write(bytes);
            out.flush();
            endGroup(group);
        }

        /**
         * Makes a group of the base entry (found in this store) part of this entry without sending
         * its bytes again. Returns false when the store cannot, for this group or at all; the caller
         * then sends the group.
         */
        default boolean reuse(StoredObject base, StoredGroup group) throws IOException {
            return false;
        }

        /** Says, before the first group, which base's groups reuse may be asked for: a store may check them all at once. */
        default void expect(StoredObject base, Groups groups) throws IOException {}

        /**
         * Makes the entry visible at its path only if nothing is there yet, as PendingWrite.commit;
         * level is the group plan's. Returns false when another upload got there first.
         */
        boolean commit(Description description, int level) throws IOException;

        /**
         * Lets commit put the entry over broken, an entry the store would not delete, if the path
         * still holds that very version then. Returns false, and the caller writes nothing, where
         * the store cannot replace an entry (its commit never replaces one).
         */
        default boolean replaces(StoredObject broken) {
            return false;
        }

        /** What was reused from the base and what was sent, once committed. */
        Sent sent();

        /**
         * Once committed, the digest that names the entry as the store holds it, where the store
         * has one that a signature can name (an image's manifest digest, "sha256:<hex>"); empty
         * otherwise.
         */
        default Optional<String> committedDigest() {
            return Optional.empty();
        }
    }

    /**
     * The bytes an entry's write sent and reused, as stored (compressed), and how many groups each;
     * bytesSent counts what the store needs beside the groups (an index), so that the two add up to
     * the entry's size. Reused is what the store had already: the base's groups, and on a registry
     * any layer of the repository, whichever entry pushed it.
     */
    record Sent(int groupsSent, long bytesSent, int groupsReused, long bytesReused) {}

    /** A write under way: nothing is visible at the path until commit, and close without commit discards it. */
    interface PendingWrite extends Closeable {
        OutputStream stream();

        /**
         * Makes the object visible at its path only if nothing is there yet. Returns false, leaving
         * the object already there exactly as it was, when the path already held an object (another
         * upload got there first); the bytes just uploaded are then discarded (temporary objects
         * and blocks cleaned up). Each store's javadoc says how atomic that check is.
         */
        boolean commit(Contents contents, Description description) throws IOException;

        /**
         * Appends bytes offset to offset+length of another object of this store, as it was found, to
         * this one without sending them (a copy on the store's side). Returns false, having written
         * nothing, when the store cannot or the object is gone or replaced; the caller sends the bytes.
         */
        default boolean append(StoredObject from, long offset, long length) throws IOException {
            return false;
        }
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

    /**
     * The base an entry was taking groups from changed or went away after they were checked and
     * before the entry was committed (a copy refused on the store's side, a manifest whose layer the
     * registry no longer has): nothing was stored. Written again without a base, the entry would be.
     */
    final class BaseGone extends IOException {
        public BaseGone(String message) {
            super(message);
        }
    }

    /** The object at this path, or empty when there is none (a cache miss). */
    Optional<StoredObject> find(String path) throws IOException;

    /**
     * The object's bytes, as stored when it was found: an object replaced since (another upload, a
     * prune and a new upload, a hand-made copy) is read at the version found or fails, and never gives
     * the new bytes under the old object's size, digest and name. Each store's open says which.
     */
    InputStream open(StoredObject object) throws IOException;

    PendingWrite create(String path) throws IOException;

    /**
     * Whether this store was given up for making no headway ({@link Headway}): a fetch then takes
     * what failed for a miss, not a store error. A file store always makes headway.
     */
    default boolean gaveUp() {
        return false;
    }

    /**
     * An entry written group by group at the path. By default the groups' compressed bytes follow
     * each other in one object, their index at its end (FramedObject); a store that keeps groups
     * apart (an image's layers) says so here.
     */
    default EntryWrite createEntry(String path, Compression compression) throws IOException {
        return FramedObject.write(path, create(path), compression);
    }

    /**
     * The entry's groups, or empty for an entry written as one stream (ours before groups, the Go
     * tool's): such an entry is read with open. By default read from the index at the object's end.
     */
    default Optional<Groups> groups(StoredObject object) throws IOException {
        return FramedObject.index(this, object);
    }

    /**
     * The groups' compressed bytes, one stream after the other, unchecked: the reader checks each
     * group's tar against its diff_id, or, where the entry names none, its bytes against their
     * digest. watch is laid over what comes from the store (a meter). By default the object is read
     * once, in the order of the groups' offsets.
     */
    default GroupStreams read(StoredObject object, Groups groups, UnaryOperator<InputStream> watch) throws IOException {
        return FramedObject.read(this, object, groups, watch);
    }

    /** An entry's groups read one by one. */
    interface GroupStreams extends Closeable {
        /** The next group and its compressed bytes as stored; null after the last. */
        GroupStream next() throws IOException;
    }

    /** A group and its compressed bytes as the store gives them. */
    record GroupStream(Group group, InputStream stored) {}

    /**
     * The object's bytes from offset on, as stored when it was found (see open). Blob stores read a
     * range; this default reads and drops what comes before it.
     */
    default InputStream open(StoredObject object, long offset) throws IOException {
        InputStream in = open(object);
        in.skipNBytes(offset);
        return in;
    }

    /** Objects whose path starts with the prefix. */
    List<StoredObject> list(String prefix) throws IOException;

    /**
     * Deletes an entry, as --keep does with old ones; one already gone is no error. A store that
     * does not let entries be deleted throws DeletionRefused.
     */
    void delete(StoredObject object) throws IOException;

    /**
     * The entry was found, and is gone when read (--keep, a lifecycle rule or a hand deleted it):
     * a fetch takes it for a miss, the folder as it was.
     */
    final class EntryGone extends IOException {
        public EntryGone(String path, Throwable cause) {
            super(path + " was deleted after it was found", cause);
        }
    }

    /** The store does not let anything be deleted here (a registry with deletion switched off): why, in words. */
    final class DeletionRefused extends IOException {
        public DeletionRefused(String message) {
            super(message);
        }
    }

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

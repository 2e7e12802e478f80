package lib.archive;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import lib.common.BulkInputStream;

/**
 * An archive's groups' tars, each decompressed by what its first bytes say, one after the other,
 * for one tar reader. Each tar is checked against the sha256 its entry names as it ends, before
 * the next group's first byte is read, and each group's stored stream is read to its end, so
 * that a digest check around it runs. What a group's stored stream threw is remembered, so that a
 * store's failure is not called a corrupt archive.
 */
final class DecompressedGroups extends BulkInputStream {
    private static final int BUFFER = 256 * 1024;
    private final SafeRestore.Groups groups;
    private BufferedInputStream buffered;
    private InputStream current;
    private volatile Compression compression = Compression.NONE;
    private volatile IOException storeFailure; // set on the read-ahead thread, read on the restore's
    private boolean ended;
    /** Groups opened so far: the current one's number, from 1, for messages. */
    private int opened;

    DecompressedGroups(SafeRestore.Groups groups) {
        this.groups = groups;
    }

    /** The archive as the last group's first bytes name it, for messages. */
    String archive() {
        return compression == Compression.NONE ? "the uncompressed archive" : "the " + compression.label() + " archive";
    }

    boolean isStoreFailure(IOException e) {
        return e == storeFailure;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (!ended) {
            if (current == null && !open()) {
                ended = true;
                break;
            }
            int n = current.read(b, off, len);
            if (n > 0) {
                return n;
            }
            if (n < 0) {
                // The decompressor is done: what follows its frame in the group is read too.
                buffered.transferTo(OutputStream.nullOutputStream());
                current.close();
                current = null;
            }
        }
        return -1;
    }

    private boolean open() throws IOException {
        SafeRestore.Group next;
        try {
            next = groups.next();
        } catch (IOException e) {
            storeFailure = e;
            throw e;
        }
        if (next == null) {
            return false;
        }
        int number = ++opened;
        buffered = new BufferedInputStream(new StoreStream(next.stored()), BUFFER);
        compression = Compression.detect(buffered);
        current = compression.decompress(buffered);
        if (next.tarSha256() != null) {
            current = Meter.verified(current, next.tarSha256(), (expected, actual) -> new Meter.DigestMismatch("group " + number
                    + "'s tar hashes to sha256:" + actual + ", not to the sha256:" + expected + " its entry names (the entry is"
                    + " corrupt, or took the group from a base that lied about it)"));
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        if (current != null) {
            current.close();
        }
    }

    /** A group's stored stream, telling what it threw. */
    private final class StoreStream extends FilterInputStream {

        StoreStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                storeFailure = e;
                throw e;
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                storeFailure = e;
                throw e;
            }
        }
    }
}

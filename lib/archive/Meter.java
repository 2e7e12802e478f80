package lib.archive;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.function.LongSupplier;
import lib.common.Digests;
import lib.common.Log;

/**
 * Watches the bytes that pass between the archive and the store: counts them, checks a stored
 * object's digest as it ends, and tells the reader of stderr the size and rate every few seconds of
 * a long transfer.
 */
public final class Meter {

    /** The stored bytes do not hash to the digest the store recorded for them. */
    public static final class DigestMismatch extends BadArchive {
        public DigestMismatch(String expected, String actual) {
            super("archive digest mismatch: the store recorded sha256:" + expected + ", the bytes read hash to sha256:"
                    + actual + " (the object is corrupt or was truncated)");
        }

        DigestMismatch(String message) {
            super(message);
        }
    }

    static final long REPORT_EVERY_NANOS = 5_000_000_000L;

    private final String action;
    private final Log log;
    private final LongSupplier nanoTime;
    private final long started;
    private long nextReport;
    private long bytes;

    public Meter(String action, Log log, LongSupplier nanoTime) {
        this.action = action;
        this.log = log;
        this.nanoTime = nanoTime;
        this.started = nanoTime.getAsLong();
        this.nextReport = started + REPORT_EVERY_NANOS;
    }

    public long bytes() {
        return bytes;
    }

    public long elapsedNanos() {
        return nanoTime.getAsLong() - started;
    }

    /** Counts bytes that went to the store other than through a watched stream (a group put whole). */
    public void sent(long count) {
        count(count);
    }

    private void count(long len) {
        bytes += len;
        long now = nanoTime.getAsLong();
        if (now >= nextReport) {
            nextReport = now + REPORT_EVERY_NANOS;
            log.info(action + ": " + Log.bytes(bytes) + " so far " + Log.timing(bytes, now - started));
        }
    }

    public OutputStream watch(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                count(len);
            }
        };
    }

    /**
     * Watches a stored object as it is read, counted and reported. When the store recorded a
     * digest, reaching the end of the stream checks it, so a restore that reads to the end cannot
     * miss a corrupt object.
     */
    public InputStream watch(InputStream in, String expectedSha256) {
        InputStream checked = expectedSha256 == null ? in : verified(in, expectedSha256);
        return new ReadingFilter(checked) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    count(n);
                }
                return n;
            }
        };
    }

    /** The stream, its bytes digested and checked against expectedSha256 when it ends (DigestMismatch). */
    public static InputStream verified(InputStream in, String expectedSha256) {
        return verified(in, expectedSha256, DigestMismatch::new);
    }

    /** What a stream that does not hash to the digest expected is refused with, given the two. */
    interface Mismatch {
        DigestMismatch of(String expectedSha256, String actualSha256);
    }

    /** verified, refusing a stream of another digest with mismatch's words. */
    static InputStream verified(InputStream in, String expectedSha256, Mismatch mismatch) {
        MessageDigest digest = Digests.sha256();
        return new ReadingFilter(in) {
            private boolean checked;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    digest.update(b, off, n);
                } else if (n < 0 && !checked) {
                    checked = true;
                    String actual = Digests.hex(digest.digest());
                    if (!expectedSha256.equals(actual)) {
                        throw mismatch.of(expectedSha256, actual);
                    }
                }
                return n;
            }
        };
    }

    /** An input filter whose every byte goes through read(byte[], int, int): skip reads too. */
    private abstract static class ReadingFilter extends FilterInputStream {
        ReadingFilter(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public abstract int read(byte[] b, int off, int len) throws IOException;

        @Override
        public long skip(long n) throws IOException {
            // Every byte must pass through the digest.
            int read = read(new byte[(int) Math.min(Math.max(n, 0), 64 * 1024)]);
            return Math.max(read, 0);
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}

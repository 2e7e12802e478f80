package lib.store;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import lib.common.BulkInputStream;
import lib.common.Log;
import lib.common.Reason;

/**
 * A stored object read as a stream. When the connection drops or ends early, the download goes
 * on from where it stopped (the store's ranged read), a few times with backoff, so a flaky network
 * does not throw a large restore away; the digest check downstream sees every byte exactly once.
 */
public final class ResumingDownload extends BulkInputStream {

    /** Opens the object's bytes from a position on (0: all of them). */
    public interface Opener {
        InputStream open(long position) throws IOException;
    }

    private final Opener opener;
    private final long size;
    private final String what;
    private final Log log;
    private InputStream in;
    private long position;
    private int failures;

    /** size is the object's length, or -1 when unknown; what names it in retry messages. */
    public ResumingDownload(Opener opener, long size, String what, Log log) throws IOException {
        this(opener, 0, size, what, log);
    }

    /** The object's bytes from start on. */
    public ResumingDownload(Opener opener, long start, long size, String what, Log log) throws IOException {
        this.opener = opener;
        this.size = size;
        this.what = what;
        this.log = log;
        this.position = start;
        this.in = opener.open(start);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        while (true) {
            int n;
            try {
                n = in.read(b, off, len);
                if (n < 0 && size >= 0 && position < size) {
                    throw new EOFException("the connection ended after " + position + " of " + size + " bytes");
                }
            } catch (IOException e) {
                resume(e);
                continue;
            }
            if (n > 0) {
                position += n;
            }
            return n;
        }
    }

    private void resume(IOException failure) throws IOException {
        if (++failures >= Backoff.ATTEMPTS || failure instanceof Headway.GaveUp) {
            throw failure;
        }
        try {
            in.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
        Backoff.pause(failures + 1, "reading " + what + " failed at byte " + position + ": " + Reason.of(failure), log);
        in = opener.open(position);
    }

    /** For openers whose store ignored the range: skips to where the download stopped. */
    public static InputStream skipped(InputStream in, long position) throws IOException {
        in.skipNBytes(position);
        return in;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}

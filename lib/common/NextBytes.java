package lib.common;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongFunction;

/**
 * The next length bytes of a stream, which stays open: a response body of Content-Length bytes, a
 * group inside a stored object. The stream ending before them is an error, not a short read, said
 * by early from how many bytes were missing. Its skip reads (InputStream's), so every byte passes
 * a digest wrapped around it.
 */
public final class NextBytes extends BulkInputStream {
    private final InputStream in;
    private final LongFunction<String> early;
    private long left;

    public NextBytes(InputStream in, long length, LongFunction<String> early) {
        this.in = in;
        this.left = length;
        this.early = early;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (left == 0) {
            return -1;
        }
        int n = in.read(b, off, (int) Math.min(len, left));
        if (n < 0) {
            throw new EOFException(early.apply(left));
        }
        left -= n;
        return n;
    }
}

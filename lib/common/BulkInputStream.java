package lib.common;

import java.io.IOException;
import java.io.InputStream;

/**
 * An InputStream that only reads in bulk: the one-byte read goes through read(byte[], int, int),
 * so a stream that counts, resumes or hands on chunks has one read method to get right.
 */
public abstract class BulkInputStream extends InputStream {

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public abstract int read(byte[] b, int off, int len) throws IOException;
}

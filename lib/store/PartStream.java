package lib.store;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The archive cut into parts of one size as it is written, each full part handed to the store's
 * sender (which may send it in the background and reuse the buffer once it is up): the one place
 * where the stores that take an archive in pieces (OCI chunks, S3 parts, Azure blocks) fill them.
 */
public abstract class PartStream extends OutputStream {

    private final int partSize;
    private byte[] part;
    private int filled;

    public PartStream(int partSize) {
        this.partSize = partSize;
    }

    /** An empty buffer of the part size; it may wait for one to come back, which bounds memory. */
    protected abstract byte[] emptyPart() throws IOException;

    /** Takes a part: length bytes of the buffer, which stays the sender's until it gives it back. */
    protected abstract void sendPart(byte[] buffer, int length) throws IOException;

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (part == null) {
                part = emptyPart();
                filled = 0;
            }
            int n = Math.min(len, partSize - filled);
            System.arraycopy(b, off, part, filled, n);
            filled += n;
            off += n;
            len -= n;
            if (filled == partSize) {
                sendRest();
            }
        }
    }

    /** Sends the part being filled, if it holds anything: the last, shorter part of an archive. */
    public final void sendRest() throws IOException {
        if (part != null && filled > 0) {
            byte[] full = part;
            int length = filled;
            part = null;
            filled = 0;
            sendPart(full, length);
        }
    }

    /** The bytes written since the last part was sent, for a store that puts a small archive whole. */
    public final byte[] pending() {
        return part == null ? new byte[0] : part;
    }

    public final int pendingLength() {
        return part == null ? 0 : filled;
    }
}

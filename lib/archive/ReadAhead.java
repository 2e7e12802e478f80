package lib.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import lib.common.BulkInputStream;
import lib.common.DaemonThreads;

/**
 * Reads a stream on a thread of its own, a few buffers ahead of its reader. A restore is a chain
 * of work on one stream: read the stored object, digest it, decompress it, then create files and
 * write them. Without this, one thread does it all in turn while the other core idles; with it,
 * decompression and digesting overlap the file system's work, as `zstd -d | tar -x` overlaps its
 * two processes. Memory: DEPTH + 2 buffers. Whatever the source throws, the reader gets, the same
 * exception, at the point in the stream where it happened.
 */
public final class ReadAhead extends BulkInputStream {

    private static final int DEPTH = 4;

    private record Chunk(byte[] bytes, int length) {}

    /** Put after the last chunk: the source ended, or failed (then failure is set). */
    private static final Chunk END = new Chunk(new byte[0], 0);

    private final InputStream source;
    private final BlockingQueue<Chunk> filled = new ArrayBlockingQueue<>(DEPTH + 1);
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(DEPTH + 2);
    private final Thread reader;
    private volatile Throwable failure;
    private Chunk current = new Chunk(new byte[0], 0);
    private int position;
    private boolean ended;

    public ReadAhead(InputStream source, int bufferSize) {
        this.source = source;
        for (int i = 0; i < DEPTH + 2; i++) {
            free.add(new byte[bufferSize]);
        }
        reader = DaemonThreads.named("read-ahead").newThread(this::fill);
        reader.start();
    }

    private void fill() {
        try {
            for (boolean more = true; more; ) {
                byte[] buffer = free.take();
                int length = 0;
                try {
                    while (length < buffer.length) {
                        int n = source.read(buffer, length, buffer.length - length);
                        if (n < 0) {
                            more = false;
                            break;
                        }
                        length += n;
                    }
                } catch (Throwable e) {
                    failure = e; // after the bytes read before it
                    more = false;
                }
                if (length > 0) {
                    filled.put(new Chunk(buffer, length));
                }
            }
            filled.put(END);
        } catch (InterruptedException e) {
            // closed: nobody reads any more
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (position == current.length()) {
            if (ended) {
                return -1;
            }
            next();
        }
        int n = Math.min(len, current.length() - position);
        System.arraycopy(current.bytes(), position, b, off, n);
        position += n;
        return n;
    }

    private void next() throws IOException {
        if (current.length() > 0) {
            free.add(current.bytes());
        }
        try {
            current = filled.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading ahead");
        }
        position = 0;
        if (current == END) {
            ended = true;
            Throwable thrown = failure;
            if (thrown instanceof IOException e) {
                throw e;
            } else if (thrown instanceof RuntimeException e) {
                throw e;
            } else if (thrown instanceof Error e) {
                throw e;
            }
        }
    }

    /**
     * Stops the reading thread, then closes the source: never both at once, as a native
     * decompressor freed under a read would crash the JVM. A source stuck in a read that an
     * interrupt does not end is left open to the JVM's exit.
     */
    @Override
    public void close() throws IOException {
        reader.interrupt();
        try {
            reader.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!reader.isAlive()) {
            source.close();
        }
    }
}

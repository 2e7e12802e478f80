package lib.archive;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Lines appended to a file of the restore's own and read back newest first: what a restore must
 * remember about every entry (a directory's mode and time, a move to undo) kept on disk, so that
 * its memory does not grow with the archive's number of entries. A line is a name and four numbers,
 * stored as [name length][name][4 longs][line length], so that it can be read from its end.
 */
final class SpillLog implements Closeable {

    /** One line: a name relative to the folder, what kind of line it is, and three numbers. */
    record Line(String name, long kind, long a, long b, long c) {}

    /** What reads the lines. */
    interface Reader {
        void read(Line line) throws IOException;
    }

    private static final int WINDOW = 1 << 16; // more than the longest line: a name is at most TarReader.MAX_NAME
    private static final int FIXED = 4 + 4 * Long.BYTES + 4;

    private final Path path;
    private final FileChannel file;
    private final ByteBuffer pending = ByteBuffer.allocate(WINDOW);
    private long written;

    SpillLog(Path path) throws IOException {
        this(path, FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE));
    }

    private SpillLog(Path path, FileChannel file) throws IOException {
        this.path = path;
        this.file = file;
        this.written = file.size();
    }

    /** The log a process that is gone left, to be read back (a killed restore's journal). */
    static SpillLog existing(Path path) throws IOException {
        return new SpillLog(path, FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
    }

    void append(String name, long kind, long a, long b, long c) throws IOException {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        int length = FIXED + bytes.length;
        if (pending.remaining() < length) {
            flush();
        }
        pending.putInt(bytes.length).put(bytes).putLong(kind).putLong(a).putLong(b).putLong(c).putInt(length);
    }

    /**
     * append, and the line handed to the kernel before this returns: a process killed (SIGKILL) once
     * it has returned leaves the line in the file. Not fsync'd: that is for a machine that stops,
     * and the renames it guards are not fsync'd either.
     */
    void appendWritten(String name, long kind, long a, long b, long c) throws IOException {
        append(name, kind, a, b, c);
        flush();
    }

    /** Every line, the last appended first. */
    void readNewestFirst(Reader reader) throws IOException {
        flush();
        ByteBuffer window = ByteBuffer.allocate(WINDOW);
        long windowStart = written;
        for (long end = written; end > 0; ) {
            if (end - Integer.BYTES < windowStart) {
                windowStart = fill(window, end);
            }
            int length = window.getInt((int) (end - Integer.BYTES - windowStart));
            if (length < FIXED || length > end || length > WINDOW) {
                throw new IOException("the restore's own log " + path + " is damaged");
            }
            long start = end - length;
            if (start < windowStart) {
                windowStart = fill(window, end);
            }
            int at = (int) (start - windowStart);
            int nameLength = window.getInt(at);
            String name = new String(window.array(), at + 4, nameLength, StandardCharsets.UTF_8);
            int numbers = at + 4 + nameLength;
            reader.read(new Line(name, window.getLong(numbers), window.getLong(numbers + 8), window.getLong(numbers + 16),
                    window.getLong(numbers + 24)));
            end = start;
        }
    }

    /** Reads the file's bytes that end at end into the window, as many as it holds; returns where they start. */
    private long fill(ByteBuffer window, long end) throws IOException {
        long start = Math.max(0, end - WINDOW);
        window.clear().limit((int) (end - start));
        while (window.hasRemaining()) {
            if (file.read(window, start + window.position()) < 0) {
                throw new IOException("the restore's own log " + path + " ended early");
            }
        }
        return start;
    }

    private void flush() throws IOException {
        pending.flip();
        while (pending.hasRemaining()) {
            written += file.write(pending, written);
        }
        pending.clear();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}

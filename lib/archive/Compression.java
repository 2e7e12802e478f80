//DEPS com.github.luben:zstd-jni:1.5.7-28

package lib.archive;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import lib.common.Digests;
import lib.common.UsageError;

/**
 * The compression around the tar stream. Upload picks one; fetch recognises it from the first
 * bytes, so tar.gz objects written by the Go tekton-caches restore as well as ours.
 */
public enum Compression {
    ZSTD("zstd", new byte[] {(byte) 0x28, (byte) 0xB5, (byte) 0x2F, (byte) 0xFD}),
    GZIP("gzip", new byte[] {(byte) 0x1F, (byte) 0x8B}),
    NONE("none", new byte[0]);

    public static final int BUFFER = 1 << 20;
    /** zstd level 3, zstd's own default: near gzip's ratio at many times its speed. */
    private static final int ZSTD_LEVEL = 3;
    /** zstd's levels a user may ask for: 20 to 22 ("ultra") need far more memory to restore. */
    private static final int ZSTD_MAX_LEVEL = 19;
    /** zstd's job for its workers: a frame is one group, a few MiB, and the default (8 MiB at level 3) would leave a core idle. */
    private static final int JOB = 1 << 20;

    private final String label;
    private final byte[] magic;

    Compression(String label, byte[] magic) {
        this.label = label;
        this.magic = magic;
    }

    public String label() {
        return label;
    }

    /** The media type of an archive compressed this way, for stores that record one. */
    public String contentType() {
        return switch (this) {
            case ZSTD -> "application/zstd";
            case GZIP -> "application/gzip";
            case NONE -> "application/x-tar";
        };
    }

    /** The level used when none is asked for: zstd's 3 and gzip's 6, their own defaults. */
    public int defaultLevel() {
        return switch (this) {
            case ZSTD -> ZSTD_LEVEL;
            case GZIP -> 6;
            case NONE -> 0;
        };
    }

    /** The highest level a user may ask for; 0 for NONE, which has none. */
    private int maxLevel() {
        return switch (this) {
            case ZSTD -> ZSTD_MAX_LEVEL;
            case GZIP -> Deflater.BEST_COMPRESSION;
            case NONE -> 0;
        };
    }

    /** What --compression names: a compression and its level, as zstd, zstd:19, gzip:1 or none. */
    public record Setting(Compression compression, int level) {

        public static Setting parse(String text) {
            String lower = text.strip().toLowerCase(Locale.ROOT);
            int colon = lower.indexOf(':');
            String name = colon < 0 ? lower : lower.substring(0, colon);
            for (Compression c : values()) {
                if (!c.label.equals(name)) {
                    continue;
                }
                if (colon < 0) {
                    return new Setting(c, c.defaultLevel());
                }
                String level = lower.substring(colon + 1);
                if (c.maxLevel() == 0) {
                    throw new UsageError("--compression " + text + ": none has no level");
                }
                if (!level.matches("[0-9]{1,2}") || Integer.parseInt(level) < 1 || Integer.parseInt(level) > c.maxLevel()) {
                    throw new UsageError("--compression " + text + ": the " + c.label + " level is a number from 1 to "
                            + c.maxLevel() + " (default " + c.defaultLevel() + ")");
                }
                return new Setting(c, Integer.parseInt(level));
            }
            throw new UsageError("--compression " + text + " is not one of zstd, gzip, none (zstd:N 1 to "
                    + ZSTD_MAX_LEVEL + ", gzip:N 1 to " + Deflater.BEST_COMPRESSION + ")");
        }
    }

    /** Wraps the store's stream at this compression's default level; closing the result finishes the compressed frame. */
    public OutputStream compress(OutputStream out) throws IOException {
        return compress(out, defaultLevel());
    }

    /** Wraps the store's stream; closing the result finishes the compressed frame. */
    public OutputStream compress(OutputStream out, int level) throws IOException {
        return switch (this) {
            case ZSTD -> {
                var zstd = new ZstdOutputStream(out, level);
                zstd.setChecksum(true);
                zstd.setWorkers(Runtime.getRuntime().availableProcessors());
                yield zstd;
            }
            case GZIP -> new GZIPOutputStream(out, BUFFER) {
                {
                    def.setLevel(level);
                }
            };
            case NONE -> out;
        };
    }

    /**
     * The first length bytes of src as one complete frame (a gzip member), compressed on the
     * calling thread alone: the way a small group is compressed, several at once on several threads.
     * zstd stores what does not compress in raw blocks (RawZstd).
     */
    public byte[] compressWhole(byte[] src, int length, int level) throws IOException {
        return switch (this) {
            case ZSTD -> {
                if (!RawZstd.compressible(src, length)) {
                    yield RawZstd.frame(src, length);
                }
                ZstdCompressCtx ctx = ZSTD_CONTEXT.get();
                ctx.setLevel(level);
                byte[] dst = new byte[(int) Zstd.compressBound(length)];
                int n = ctx.compressByteArray(dst, 0, dst.length, src, 0, length);
                yield Arrays.copyOf(dst, n);
            }
            case GZIP -> {
                var out = new java.io.ByteArrayOutputStream(length / 2 + 64);
                try (OutputStream gzip = compress(out, level)) {
                    gzip.write(src, 0, length);
                }
                yield out.toByteArray();
            }
            case NONE -> Arrays.copyOf(src, length);
        };
    }

    /** One context a thread, reused from group to group: making one costs more than a small group's compression. */
    private static final ThreadLocal<ZstdCompressCtx> ZSTD_CONTEXT = ThreadLocal.withInitial(() -> {
        var ctx = new ZstdCompressCtx();
        ctx.setChecksum(true);
        return ctx;
    });

    /**
     * One compressed frame after another, each into a stream of its own: an entry's big groups. zstd
     * keeps one compressor (its context and worker threads) for all the frames, ending each with a
     * flush, and writes a frame the caller found not compressible in raw blocks (RawZstd); gzip
     * makes a member per frame; none passes the bytes on.
     */
    public Frames frames(int level) {
        return this == ZSTD ? new ZstdFrames(level) : new Frames() {
            private OutputStream frame;

            @Override
            public OutputStream begin(OutputStream to, boolean compressible) throws IOException {
                frame = compress(to, level);
                return frame;
            }

            @Override
            public void end() throws IOException {
                frame.close(); // the caller's stream stays open: it gave one whose close only flushes
            }
        };
    }

    /** Frames of one compression, begun and ended in turn; closing releases the compressor. */
    public interface Frames extends java.io.Closeable {
        /**
         * The stream the frame's uncompressed bytes go to, compressed into to (or, for zstd, stored
         * in raw blocks when not compressible). Do not close it: end the frame.
         */
        OutputStream begin(OutputStream to, boolean compressible) throws IOException;

        /** Ends the frame: its last compressed bytes are written to the stream begin was given. */
        void end() throws IOException;

        @Override
        default void close() throws IOException {}
    }

    /**
     * zstd frames from one compressor, each ended by a flush, into whichever stream the frame was
     * begun with; or a frame of raw blocks, for one its caller found not compressible.
     */
    private static final class ZstdFrames implements Frames {
        private final Redirect sink = new Redirect(OutputStream.nullOutputStream());
        private final int level;
        private ZstdOutputStream zstd;
        private RawZstd.FrameStream raw;

        ZstdFrames(int level) {
            this.level = level;
        }

        @Override
        public OutputStream begin(OutputStream to, boolean compressible) throws IOException {
            sink.target = to;
            if (!compressible) {
                raw = new RawZstd.FrameStream(to);
                return raw; // its close is not passed on, and the frame's end is end's
            }
            raw = null;
            if (zstd == null) {
                zstd = (ZstdOutputStream) ZSTD.compress(sink, level);
                zstd.setCloseFrameOnFlush(true);
                zstd.setJobSize(JOB);
            }
            return new Redirect(zstd); // flush and close are not passed on: a flush would end the frame before its end
        }

        @Override
        public void end() throws IOException {
            if (raw != null) {
                raw.finish(); // its last block
                raw = null;
            } else {
                zstd.flush(); // ends the frame
            }
            sink.target.flush();
            sink.target = OutputStream.nullOutputStream();
        }

        @Override
        public void close() throws IOException {
            if (zstd != null) {
                sink.target = OutputStream.nullOutputStream(); // the empty frame a close may end with goes nowhere
                zstd.close();
            }
        }
    }

    /**
     * Writes to its target, which may change from frame to frame, and passes on neither flush nor
     * close: the frame's end flushes its own stream.
     */
    private static final class Redirect extends OutputStream {
        private OutputStream target;

        Redirect(OutputStream target) {
            this.target = target;
        }

        @Override
        public void write(int b) throws IOException {
            target.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            target.write(b, off, len);
        }

        @Override
        public void flush() {
            // not passed on
        }
    }

    /** The compression whose magic bytes start the stream; NONE when neither does. */
    static Compression detect(BufferedInputStream in) throws IOException {
        in.mark(8);
        byte[] head = in.readNBytes(4);
        in.reset();
        for (Compression c : values()) {
            if (c.opens(head)) {
                return c;
            }
        }
        return NONE;
    }

    /** Whether these first bytes are this compression's magic; never for NONE, which has none. */
    private boolean opens(byte[] head) {
        return magic.length > 0 && head.length >= magic.length && Arrays.equals(head, 0, magic.length, magic, 0, magic.length);
    }

    /** Whether a stream starts as an archive we may have written: zstd, gzip or a bare tar. Reads its first bytes. */
    public static boolean startsAnArchive(InputStream in) throws IOException {
        byte[] head = in.readNBytes(TarHeader.MAGIC_END);
        for (Compression c : values()) {
            if (c.opens(head)) {
                return true;
            }
        }
        return TarHeader.isHeader(head);
    }

    /**
     * The sha256 of the tar a group's stored bytes decompress to (its diff_id), as a restore would
     * read them: decompressed by what their first bytes say.
     */
    public static String tarSha256(InputStream stored) throws IOException {
        var buffered = new BufferedInputStream(stored, BUFFER);
        try (InputStream tar = detect(buffered).decompress(buffered)) {
            return Digests.hex(Digests.sha256(tar));
        }
    }

    /** Wraps the stored bytes with the decompressor this stream needs. */
    InputStream decompress(InputStream in) throws IOException {
        return switch (this) {
            case ZSTD -> new ZstdInputStream(in);
            case GZIP -> new GZIPInputStream(in, BUFFER);
            case NONE -> in;
        };
    }
}

package lib.archive;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import java.io.IOException;
import java.io.OutputStream;

/**
 * zstd frames of raw blocks, for groups that do not compress: jars, zips, gz and images are
 * compressed already, and zstd would spend a core on them to save 1 to 3% (the maven set: 402 MB
 * of tar, 390 MB at -3). A raw frame is a copy on both sides, and every zstd decoder reads it, so
 * `zstd -dc | tar -x` and an image's layer stay as they were. Whether a group compresses is told by
 * a sample compressed at level 1, about a thousandth of the cost of compressing it: 16 slices
 * spread over the whole group, of its tar when it is made in memory, else of its files
 * (Archive.Group.compressible); never its first bytes alone, which cannot speak for the rest (a
 * file that begins with noise and goes on with text).
 *
 * <p>The frame has no content size and a window of 128 KiB, zstd's largest block: a decoder needs
 * no more memory for it than for one block. It has no checksum either; a group's sha256 is checked
 * on every restore.
 */
final class RawZstd {
    /** The frame's start: zstd's magic, a descriptor with no size, checksum or dictionary, a 128 KiB window. */
    private static final byte[] HEADER = {(byte) 0x28, (byte) 0xB5, (byte) 0x2F, (byte) 0xFD, 0x00, 7 << 3};
    private static final int BLOCK = 128 * 1024;
    /** A sample compressed to at least this fraction of its size says the group does not compress. */
    private static final double STORED = 0.92;
    /** How much of a group is sampled, in as many slices spread over it. */
    private static final int SAMPLE = 256 * 1024;
    static final int SLICES = 16;
    static final int SLICE = SAMPLE / SLICES;

    private RawZstd() {}

    /** Whether length bytes of src are worth compressing, from a sample of them. */
    static boolean compressible(byte[] src, int length) {
        ZstdCompressCtx ctx = SAMPLER.get();
        byte[] dst = DESTINATION.get();
        if (length <= SAMPLE) {
            return ctx.compressByteArray(dst, 0, dst.length, src, 0, length) < STORED * length;
        }
        long compressed = 0;
        for (int i = 0; i < SLICES; i++) {
            int from = (int) ((long) (length - SLICE) * i / (SLICES - 1));
            compressed += ctx.compressByteArray(dst, 0, dst.length, src, from, SLICE);
        }
        return compressed < STORED * SAMPLE;
    }

    private static final ThreadLocal<ZstdCompressCtx> SAMPLER = ThreadLocal.withInitial(() -> {
        var ctx = new ZstdCompressCtx();
        ctx.setLevel(1);
        return ctx;
    });
    private static final ThreadLocal<byte[]> DESTINATION = ThreadLocal.withInitial(() -> new byte[(int) Zstd.compressBound(SAMPLE)]);

    /** length bytes of src as one raw frame. */
    static byte[] frame(byte[] src, int length) {
        int blocks = Math.max(1, (length + BLOCK - 1) / BLOCK);
        byte[] frame = new byte[HEADER.length + 3 * blocks + length];
        System.arraycopy(HEADER, 0, frame, 0, HEADER.length);
        int at = HEADER.length;
        for (int i = 0; i < blocks; i++) {
            int size = Math.min(BLOCK, length - i * BLOCK);
            blockHeader(frame, at, size, i == blocks - 1);
            System.arraycopy(src, i * BLOCK, frame, at + 3, size);
            at += 3 + size;
        }
        return frame;
    }

    private static void blockHeader(byte[] to, int at, int size, boolean last) {
        int header = size << 3 | (last ? 1 : 0); // block type 0: raw
        to[at] = (byte) header;
        to[at + 1] = (byte) (header >>> 8);
        to[at + 2] = (byte) (header >>> 16);
    }

    /**
     * A raw frame written as it comes: whole blocks are written as they fill, the last one, marked
     * so, when the frame is finished. Memory: one block.
     */
    static final class FrameStream extends OutputStream {
        private final OutputStream to;
        private final byte[] block = new byte[3 + BLOCK];
        private int used;

        FrameStream(OutputStream to) throws IOException {
            this.to = to;
            to.write(HEADER);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (used == BLOCK) { // full, and more follows: not the last
                    blockHeader(block, 0, BLOCK, false);
                    to.write(block, 0, 3 + BLOCK);
                    used = 0;
                }
                int n = Math.min(len, BLOCK - used);
                System.arraycopy(b, off, block, 3 + used, n);
                used += n;
                off += n;
                len -= n;
            }
        }

        /** Writes the last block (empty if nothing was written). */
        void finish() throws IOException {
            blockHeader(block, 0, used, true);
            to.write(block, 0, 3 + used);
            used = 0;
        }
    }
}

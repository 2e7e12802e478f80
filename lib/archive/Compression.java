//DEPS com.github.luben:zstd-jni:1.5.7-28

package lib.archive;

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

    public static Compression parse(String name) {
        for (Compression c : values()) {
            if (c.label.equals(name.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        throw new UsageError("--compression " + name + " is not one of zstd, gzip, none");
    }

    /** Wraps the store's stream; closing the result finishes the compressed frame. */
    public OutputStream compress(OutputStream out) throws IOException {
        return switch (this) {
            case ZSTD -> {
                var zstd = new ZstdOutputStream(out, ZSTD_LEVEL);
                zstd.setChecksum(true);
                zstd.setWorkers(Runtime.getRuntime().availableProcessors());
                yield zstd;
            }
            case GZIP -> new GZIPOutputStream(out, BUFFER) {
                {
                    def.setLevel(Deflater.DEFAULT_COMPRESSION);
                }
            };
            case NONE -> out;
        };
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

    /** Wraps the stored bytes with the decompressor this stream needs. */
    InputStream decompress(InputStream in) throws IOException {
        return switch (this) {
            case ZSTD -> new ZstdInputStream(in);
            case GZIP -> new GZIPInputStream(in, BUFFER);
            case NONE -> in;
        };
    }
}

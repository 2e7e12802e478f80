import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import lib.archive.Compression;
import lib.key.CacheKey;
import lib.key.Patterns;

/**
 * A tar stream written block by block, with whatever a hostile writer puts in its headers: raw
 * name bytes, any type, PAX records and GNU long names of any size, a wrong checksum. What tar
 * writers refuse to write is what a restore must refuse to read.
 */
final class CraftedTar {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** A ustar header with a valid checksum. */
    CraftedTar header(byte[] name, char type, long size, int mode, byte[] link) {
        out.writeBytes(block(name, type, size, mode, link, true));
        return this;
    }

    /**
     * A ustar header with this mtime: in octal where it fits, else in GNU's base-256, as a size below
     * zero is too (GNU tar writes both for numbers octal cannot hold).
     */
    CraftedTar header(String name, char type, long size, long mtime) {
        byte[] b = block(name.getBytes(StandardCharsets.UTF_8), type, size, 0644, new byte[0], true);
        number(b, 136, 12, mtime);
        checksum(b, true);
        out.writeBytes(b);
        return this;
    }

    CraftedTar header(String name, char type, long size) {
        return header(name.getBytes(StandardCharsets.UTF_8), type, size, 0644, new byte[0]);
    }

    /** A ustar header whose checksum field is one off. */
    CraftedTar headerWithWrongChecksum(String name, char type, long size) {
        out.writeBytes(block(name.getBytes(StandardCharsets.UTF_8), type, size, 0644, new byte[0], false));
        return this;
    }

    /** A PAX extended header ("x") whose records are these bytes as they are, lengths and all. */
    CraftedTar paxRecords(String records) {
        byte[] data = records.getBytes(StandardCharsets.UTF_8);
        header("PaxHeaders/entry", 'x', data.length);
        return data(data);
    }

    /** A PAX extended header ("x") holding these "key=value" records, each with its length. */
    CraftedTar pax(String... records) {
        var body = new ByteArrayOutputStream();
        for (String record : records) {
            byte[] bytes = (" " + record + "\n").getBytes(StandardCharsets.UTF_8);
            int length = bytes.length + 1;
            while (length != bytes.length + Integer.toString(length).length()) {
                length = bytes.length + Integer.toString(length).length();
            }
            body.writeBytes(Integer.toString(length).getBytes(StandardCharsets.US_ASCII));
            body.writeBytes(bytes);
        }
        byte[] data = body.toByteArray();
        header("PaxHeaders/entry", 'x', data.length);
        return data(data);
    }

    /** A GNU long-name ("L") or long-link ("K") header, followed by the name's bytes and a NUL. */
    CraftedTar gnuLong(char type, byte[] name) {
        byte[] data = Arrays.copyOf(name, name.length + 1);
        header("././@LongLink".getBytes(StandardCharsets.US_ASCII), type, data.length, 0644, new byte[0]);
        return data(data);
    }

    /** Bytes padded to a whole block. */
    CraftedTar data(byte[] bytes) {
        out.writeBytes(bytes);
        out.writeBytes(new byte[(512 - bytes.length % 512) % 512]);
        return this;
    }

    CraftedTar file(String name, String content) {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        return header(name, '0', bytes.length).data(bytes);
    }

    /**
     * An old GNU sparse file ("S") whose map holds one empty region at realSize: readers that
     * expand sparse files write realSize bytes of zeros for a header of one block.
     */
    CraftedTar gnuSparse(String name, long realSize) {
        byte[] b = block(name.getBytes(StandardCharsets.UTF_8), 'S', 0, 0644, new byte[0], true);
        System.arraycopy("ustar  \0".getBytes(StandardCharsets.US_ASCII), 0, b, 257, 8); // GNU's magic
        octal(b, 386, 12, realSize); // sparse[0].offset
        octal(b, 398, 12, 0);        // sparse[0].numbytes
        octal(b, 483, 12, realSize); // realsize
        checksum(b, true);
        out.writeBytes(b);
        return this;
    }

    /** What was written so far, without an end. */
    byte[] bytes() {
        return out.toByteArray();
    }

    /** Two zero blocks: tar's end of archive. */
    byte[] end() {
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    private static byte[] block(byte[] name, char type, long size, int mode, byte[] link, boolean validChecksum) {
        byte[] b = new byte[512];
        System.arraycopy(name, 0, b, 0, Math.min(100, name.length));
        octal(b, 100, 8, mode);
        octal(b, 108, 8, 0);
        octal(b, 116, 8, 0);
        number(b, 124, 12, size);
        octal(b, 136, 12, 1_700_000_000L);
        b[156] = (byte) type;
        System.arraycopy(link, 0, b, 157, Math.min(100, link.length));
        System.arraycopy("ustar\u000000".getBytes(StandardCharsets.US_ASCII), 0, b, 257, 8);
        checksum(b, validChecksum);
        return b;
    }

    private static void checksum(byte[] b, boolean valid) {
        Arrays.fill(b, 148, 156, (byte) ' ');
        int sum = 0;
        for (byte x : b) {
            sum += x & 0xff;
        }
        octal(b, 148, 7, valid ? sum : sum + 1);
    }

    /** Octal where the value fits width - 1 digits, else GNU's base-256: a marker bit, then two's complement. */
    private static void number(byte[] b, int at, int width, long value) {
        if (value >= 0 && Long.toOctalString(value).length() < width) {
            octal(b, at, width, value);
            return;
        }
        for (int i = at + width - 1; i >= at; i--) {
            b[i] = (byte) value;
            value >>= 8; // arithmetic: a negative number's leading bytes are 0xff
        }
        b[at] |= (byte) 0x80;
    }

    private static void octal(byte[] b, int at, int width, long value) {
        String digits = Long.toOctalString(value);
        String padded = "0".repeat(width - 1 - digits.length()) + digits;
        System.arraycopy(padded.getBytes(StandardCharsets.US_ASCII), 0, b, at, width - 1);
        b[at + width - 1] = 0;
    }

    /**
     * Stores the tar, compressed with zstd and with no digest recorded, where the local store keeps
     * the entry of a project keyed by its go.sum: the restore's own checks are all that stand.
     */
    static Path store(byte[] tar, Path project, Path folder, Path xdg) throws IOException {
        Path object = entryPath(project, folder, xdg);
        Files.createDirectories(object.getParent());
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(object))) {
            out.write(tar);
        }
        return object;
    }

    /** Where the local store under xdg keeps the entry of a project keyed by its go.sum. */
    static Path entryPath(Path project, Path folder, Path xdg) {
        String key = CacheKey.compute(project, Patterns.parse(List.of("go.sum")), Set.of(folder)).hash();
        return xdg.resolve("tekton-caches/" + key);
    }
}

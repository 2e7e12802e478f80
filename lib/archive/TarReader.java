package lib.archive;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Reads a tar stream one entry at a time, as strictly as a restore of untrusted bytes needs.
 * Every header block's checksum is checked, the PAX ("x") and GNU long-name ("L", "K") blocks'
 * included, so data that a lying size makes parse as headers is refused; names and link targets
 * are the bytes the archive wrote, from whichever header gave them, never made relative or
 * repaired, and must be UTF-8; what a header may make the reader hold is bounded (a name or link
 * target 4 KiB, a PAX header 1 MiB); sparse files are refused before any of their data is read.
 * Reads ustar, POSIX PAX, GNU (long names, base-256 numbers) and v7 headers: what GNU tar,
 * Go's archive/tar (the Go tekton-caches) and commons-compress write.
 */
final class TarReader {

    /** A name or link target longer than this is refused: Linux's PATH_MAX. */
    static final int MAX_NAME = 4096;
    /** A PAX extended header longer than this is refused: names are bounded, so real ones are small. */
    static final int MAX_PAX = 1 << 20;

    /** One entry's header, its name and link target as the archive wrote them. */
    record Entry(byte type, String name, String link, int mode, long size, FileTime mtime) {
        boolean isDirectory() {
            return type == TarHeader.DIRECTORY;
        }
    }

    /** The bytes are not a tar stream, or not a whole one. */
    static final class Corrupt extends IOException {
        Corrupt(String message) {
            super(message);
        }
    }

    private static final int BLOCK = TarHeader.BLOCK;
    private static final byte PAX = 'x';
    private static final byte GLOBAL_PAX = 'g';
    private static final byte GNU_LONG_NAME = 'L';
    private static final byte GNU_LONG_LINK = 'K';
    private static final byte GNU_SPARSE = 'S';
    private static final byte CONTIGUOUS = '7';
    /** POSIX's magic; GNU's is "ustar  ", whose header has no prefix field. */
    private static final byte[] USTAR = {'u', 's', 't', 'a', 'r', 0};

    private final InputStream in;
    private final byte[] header = new byte[BLOCK];
    private final byte[] skip = new byte[64 * 1024];
    /** Data bytes of the current entry not yet read, then the padding to its block's end. */
    private long remaining;
    private int padding;
    private long offset;

    /** Whether tars follow each other, as an entry's groups do: zero blocks end one, and the next may follow (tar -i). */
    private final boolean concatenated;

    TarReader(InputStream in) {
        this(in, false);
    }

    TarReader(InputStream in, boolean concatenated) {
        this.in = in;
        this.concatenated = concatenated;
    }

    /**
     * The next entry, or null at the end-of-archive block. The rest of the previous entry's data
     * is skipped. A stream that ends anywhere else, even between two entries, is corrupt: an
     * archive cut at a header's boundary must not restore as a smaller whole one.
     */
    Entry next() throws IOException {
        skipRest();
        byte[] longName = null;
        byte[] longLink = null;
        Pax pax = null;
        while (true) {
            if (!readBlock()) {
                throw new Corrupt("it ends at byte " + offset + " without tar's end-of-archive block");
            }
            if (isZero(header)) {
                if (!concatenated || !skipZeros()) {
                    return null;
                }
            }
            checkChecksum();
            byte type = header[156];
            long size = number(124, 12, "size");
            switch (type) {
                case PAX, GLOBAL_PAX -> {
                    byte[] records = extension(size, MAX_PAX, "a PAX header");
                    if (type == PAX) {
                        pax = Pax.parse(records, pax);
                    } else {
                        Pax.parse(records, null); // a global header's records are checked and otherwise not used
                    }
                }
                case GNU_LONG_NAME -> longName = cutAtNul(extension(size, MAX_NAME + 1, "a GNU long name"));
                case GNU_LONG_LINK -> longLink = cutAtNul(extension(size, MAX_NAME + 1, "a GNU long link target"));
                default -> {
                    return entry(type, size, longName, longLink, pax);
                }
            }
        }
    }

    private Entry entry(byte type, long headerSize, byte[] longName, byte[] longLink, Pax pax) throws IOException {
        boolean ustar = header[257] == 'u' && Arrays.equals(header, 257, 263, USTAR, 0, 6); // POSIX, not GNU's "ustar  "
        byte[] name = longName;
        if (pax != null && pax.path != null) {
            name = pax.path;
        } else if (name == null) {
            name = field(0, 100);
            byte[] prefix = ustar ? field(345, 155) : new byte[0];
            if (prefix.length > 0) {
                byte[] joined = Arrays.copyOf(prefix, prefix.length + 1 + name.length);
                joined[prefix.length] = '/';
                System.arraycopy(name, 0, joined, prefix.length + 1, name.length);
                name = joined;
            }
        }
        byte[] link = pax != null && pax.linkpath != null ? pax.linkpath : longLink != null ? longLink : field(157, 100);
        String nameText = text(name, "name", null);
        if (type == GNU_SPARSE || pax != null && pax.sparse) {
            throw new HostileArchive("entry " + nameText + " is a sparse file; a restore does not write sparse files");
        }
        long size = pax != null && pax.size >= 0 ? pax.size : headerSize;
        if (size < 0) {
            throw new Corrupt("entry " + nameText + " has a negative size");
        }
        if ((type == 0 || type == TarHeader.FILE || type == CONTIGUOUS) && nameText.endsWith("/")) {
            type = oldFolder(type, nameText, size);
        } else if (type == 0 || type == CONTIGUOUS) {
            type = TarHeader.FILE;
        }
        // As Go's archive/tar reads them: these types carry no data, whatever their size says.
        boolean headerOnly = type >= TarHeader.HARDLINK && type <= '6';
        remaining = headerOnly ? 0 : size;
        padding = (int) (TarHeader.padded(remaining) - remaining);
        int mode = (int) number(100, 8, "mode") & 07777;
        FileTime mtime = pax != null && pax.mtime != null ? pax.mtime : time(number(136, 12, "mtime"), 0);
        return new Entry(type, nameText, link.length == 0 ? null : text(link, "link target", nameText), mode, size, mtime);
    }

    /**
     * A regular file's type with a name ending in '/': V7's folder, before typeflag 5, when its type
     * is NUL and it holds no data, as GNU tar, Python's tarfile and Go's archive/tar all read it. The
     * rest is refused, since they disagree. Of '0' and '7', GNU tar makes a folder and its -x reads
     * the data as the next headers, where tarfile and Go make a file of them; of NUL with data, all
     * read the data as headers but GNU tar's -t, which skips it. An entry hidden there would be
     * restored by one reader and unseen by another.
     */
    private static byte oldFolder(byte type, String name, long size) throws HostileArchive {
        if (type != 0) {
            throw new HostileArchive("entry " + name + " has a regular file's type ('" + (char) type
                    + "') and a name ending in '/'; tar readers differ on whether it is a file or a folder");
        }
        if (size != 0) {
            throw new HostileArchive("entry " + name + " is an old-style folder (type NUL, its name ending in '/') with "
                    + size + " bytes of data; tar readers differ on whether they are data or headers");
        }
        return TarHeader.DIRECTORY;
    }

    /**
     * A time from a header, which may lie beyond what Instant holds (GNU's base-256 reaches 2^63
     * seconds, PAX 18 digits): kept as a FileTime of seconds, which setting a file's times turns into
     * the furthest time the file system takes, as GNU tar restores it.
     */
    private static FileTime time(long seconds, long nanos) {
        if (seconds < Instant.MIN.getEpochSecond() || seconds > Instant.MAX.getEpochSecond()) {
            return FileTime.from(seconds, TimeUnit.SECONDS);
        }
        return FileTime.from(Instant.ofEpochSecond(seconds, nanos));
    }

    /** Reads up to len bytes of the current entry's data; -1 at its end. */
    int read(byte[] b, int off, int len) throws IOException {
        if (remaining == 0) {
            return -1;
        }
        int n = in.read(b, off, (int) Math.min(len, remaining));
        if (n < 0) {
            throw new EOFException("it ends inside an entry's data, " + remaining + " bytes short");
        }
        remaining -= n;
        offset += n;
        return n;
    }

    private void skipRest() throws IOException {
        while (remaining > 0) {
            read(skip, 0, skip.length);
        }
        if (padding > 0) {
            readFully(skip, padding);
            padding = 0;
        }
    }

    /** The data of an extension header, bounded before anything is read. */
    private byte[] extension(long size, int max, String what) throws IOException {
        if (size < 0) {
            throw new Corrupt("the archive holds " + what + " of a negative size");
        }
        if (size > max) {
            throw new HostileArchive("the archive holds " + what + " of " + size + " bytes; at most " + max + " are read");
        }
        byte[] data = new byte[(int) size];
        readFully(data, data.length);
        readFully(skip, (int) (TarHeader.padded(size) - size));
        return data;
    }

    private boolean readBlock() throws IOException {
        int n = in.readNBytes(header, 0, BLOCK);
        offset += n;
        if (n == 0) {
            return false;
        }
        if (n < BLOCK) {
            throw new EOFException("it ends inside a header block");
        }
        return true;
    }

    private void readFully(byte[] into, int length) throws IOException {
        int n = in.readNBytes(into, 0, length);
        offset += n;
        if (n < length) {
            throw new EOFException("it ends inside an entry, " + (length - n) + " bytes short");
        }
    }

    /**
     * Past a tar's end-of-archive and record padding to the next tar's first header: true when one
     * follows (it is in the header buffer), false at the end of the stream.
     */
    private boolean skipZeros() throws IOException {
        do {
            if (!readBlock()) {
                return false;
            }
        } while (isZero(header));
        return true;
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The sum of the header's bytes, its checksum field counted as spaces, must be the number in
     * that field. Old tars summed signed bytes; both sums are accepted, as GNU tar accepts them.
     */
    private void checkChecksum() throws Corrupt {
        long recorded;
        try {
            recorded = number(148, 8, "checksum");
        } catch (Corrupt e) {
            throw new Corrupt("a header at byte " + (offset - BLOCK) + " has no valid checksum field");
        }
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            byte b = i >= 148 && i < 156 ? (byte) ' ' : header[i];
            unsigned += b & 0xff;
            signed += b;
        }
        if (recorded != unsigned && recorded != signed) {
            throw new Corrupt("the header at byte " + (offset - BLOCK) + " fails its checksum");
        }
    }

    /** An octal field (spaces and NULs around it), or GNU's base-256 for big and negative numbers. */
    private long number(int at, int width, String what) throws Corrupt {
        if ((header[at] & 0x80) != 0) {
            // Two's complement after the marker bit, read as Go's archive/tar reads it: -a-1 == ~a.
            int invert = (header[at] & 0x40) != 0 ? 0xff : 0;
            long value = 0;
            for (int i = at; i < at + width; i++) {
                int b = (header[i] ^ invert) & (i == at ? 0x7f : 0xff);
                if (value >>> 55 != 0) {
                    throw new Corrupt("a header's " + what + " field does not fit 64 bits");
                }
                value = (value << 8) | b;
            }
            return invert != 0 ? ~value : value;
        }
        int i = at;
        int end = at + width;
        while (i < end && (header[i] == ' ' || header[i] == 0)) {
            i++;
        }
        long value = 0;
        for (; i < end && header[i] >= '0' && header[i] <= '7'; i++) {
            value = (value << 3) | (header[i] - '0');
        }
        for (; i < end; i++) {
            if (header[i] != ' ' && header[i] != 0) {
                throw new Corrupt("a header's " + what + " field holds '" + (char) (header[i] & 0xff) + "'");
            }
        }
        return value;
    }

    /** A NUL-terminated field's bytes. */
    private byte[] field(int at, int width) {
        int end = at;
        while (end < at + width && header[end] != 0) {
            end++;
        }
        return Arrays.copyOfRange(header, at, end);
    }

    private static byte[] cutAtNul(byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return Arrays.copyOf(bytes, i);
            }
        }
        return bytes;
    }

    /**
     * The bytes as UTF-8, or the archive refused: a name decoded with replacement characters could
     * become another entry's name, and one kept as raw bytes has no Java path.
     */
    private static String text(byte[] bytes, String what, String entry) throws HostileArchive {
        if (bytes.length > MAX_NAME) {
            throw new HostileArchive("the archive holds a " + what + " of " + bytes.length + " bytes; at most "
                    + MAX_NAME + " are restored");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            String shown = new String(bytes, StandardCharsets.UTF_8);
            throw new HostileArchive((entry == null ? "entry " + shown + " has a name" : "entry " + entry + " has a " + what)
                    + " that is not UTF-8; such names are not restored");
        }
    }


    /** The records of a PAX extended header that a restore uses: "LENGTH key=value\n" each. */
    private static final class Pax {
        byte[] path;
        byte[] linkpath;
        long size = -1;
        FileTime mtime;
        boolean sparse;

        /** Parses records, adding to those of an earlier header for the same entry, if any. */
        static Pax parse(byte[] records, Pax earlier) throws Corrupt, HostileArchive {
            Pax pax = earlier != null ? earlier : new Pax();
            int at = 0;
            while (at < records.length) {
                if (records[at] == 0) {
                    break; // padding some writers leave after the last record
                }
                int space = at;
                long length = 0;
                while (space < records.length && records[space] >= '0' && records[space] <= '9' && length < records.length) {
                    length = length * 10 + (records[space++] - '0');
                }
                int end = (int) (at + length);
                // The length counts the whole record: its digits, the space, at least the newline.
                if (space == at || space >= records.length || records[space] != ' ' || length > records.length - at
                        || length < space - at + 2 || records[end - 1] != '\n') {
                    throw new Corrupt("a PAX header holds a malformed record");
                }
                int equals = space + 1;
                while (equals < end - 1 && records[equals] != '=') {
                    equals++;
                }
                if (equals >= end - 1) {
                    throw new Corrupt("a PAX header holds a record without '='");
                }
                String key = new String(records, space + 1, equals - space - 1, StandardCharsets.UTF_8);
                byte[] value = Arrays.copyOfRange(records, equals + 1, end - 1);
                pax.apply(key, value);
                at = end;
            }
            return pax;
        }

        private void apply(String key, byte[] value) throws Corrupt {
            String text = new String(value, StandardCharsets.US_ASCII);
            switch (key) {
                case "path" -> path = value;
                case "linkpath" -> linkpath = value;
                case "size" -> size = decimal(text, "size");
                case "mtime" -> mtime = time(text);
                default -> sparse |= key.startsWith("GNU.sparse.");
            }
        }

        private static long decimal(String text, String what) throws Corrupt {
            if (!text.matches("[0-9]{1,18}")) {
                throw new Corrupt("a PAX header's " + what + " is '" + text + "'");
            }
            return Long.parseLong(text);
        }

        /** "1700000000", "1700000000.25", "-1.25": seconds since 1970 with an optional fraction. */
        private static FileTime time(String text) throws Corrupt {
            if (!text.matches("-?[0-9]{1,18}(\\.[0-9]*)?")) {
                throw new Corrupt("a PAX header's mtime is '" + text + "'");
            }
            int dot = text.indexOf('.');
            String whole = dot < 0 ? text : text.substring(0, dot);
            String fraction = dot < 0 ? "" : (text.substring(dot + 1) + "000000000").substring(0, 9);
            long seconds = Long.parseLong(whole);
            long nanos = fraction.isEmpty() ? 0 : Long.parseLong(fraction);
            if (text.startsWith("-") && nanos > 0) {
                return TarReader.time(seconds - 1, 1_000_000_000 - nanos);
            }
            return TarReader.time(seconds, nanos);
        }
    }
}

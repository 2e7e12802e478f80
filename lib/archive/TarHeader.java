package lib.archive;

import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Arrays;

/**
 * Encodes the header blocks of one tar entry: a ustar header, preceded by a PAX extended header
 * ("x") for what ustar cannot hold: names and link targets over 100 bytes or not ASCII, sizes of
 * 8 GiB and more, ids over 2097151, mtimes before 1970, after 2242 or with a fraction of a second.
 * This is what commons-compress writes with POSIX long names and big numbers, and what GNU tar's
 * --format=posix writes, encoded straight into the caller's buffer: an entry costs no objects
 * beyond its name's bytes, which matters at 60,000 entries.
 */
final class TarHeader {

    static final int BLOCK = 512;
    static final byte FILE = '0';
    static final byte HARDLINK = '1';
    static final byte SYMLINK = '2';
    static final byte DIRECTORY = '5';
    private static final byte PAX = 'x';

    private static final long MAX_OCTAL_11 = 077777777777L; // size and mtime fields
    private static final long MAX_OCTAL_7 = 07777777L;      // uid and gid fields
    private static final byte[] USTAR_MAGIC = "ustar\u000000".getBytes(StandardCharsets.US_ASCII);
    private static final int MAGIC_OFFSET = 257;
    /** The bytes a header's start must hold for isHeader to tell: up to its magic's "ustar". */
    static final int MAGIC_END = MAGIC_OFFSET + 5;
    private static final byte[] PAX_NAME_PREFIX = "./PaxHeaders.X/".getBytes(StandardCharsets.US_ASCII);

    /** PAX records of the entry being encoded; grown when a long name needs it. */
    private byte[] records = new byte[1024];
    private int recordsLength;

    /** The most bytes encode writes for these names: a PAX header, its records, the ustar header. */
    static int room(byte[] name, byte[] link) {
        return 2 * BLOCK + padded(name.length + (link == null ? 0 : link.length) + 200);
    }

    /** Writes the header blocks of an entry at buffer[offset], room(name, link) free, and returns the offset after them. */
    int encode(byte[] buffer, int offset, byte type, byte[] name, byte[] link, int mode, long uid, long gid,
            long size, FileTime mtime) {
        Instant instant = mtime.toInstant();
        long seconds = instant.getEpochSecond();
        int nanos = instant.getNano();
        boolean secondsFit = seconds >= 0 && seconds <= MAX_OCTAL_11;
        recordsLength = 0;
        if (needsPax(name)) {
            record("path", name);
        }
        if (link != null && needsPax(link)) {
            record("linkpath", link);
        }
        if (size > MAX_OCTAL_11) {
            record("size", Long.toString(size));
        }
        if (uid > MAX_OCTAL_7) {
            record("uid", Long.toString(uid));
        }
        if (gid > MAX_OCTAL_7) {
            record("gid", Long.toString(gid));
        }
        if (!secondsFit || nanos != 0) {
            record("mtime", decimalSeconds(seconds, nanos));
        }
        long headerSeconds = secondsFit ? seconds : 0;
        int at = offset;
        if (recordsLength > 0) {
            byte[] paxName = Arrays.copyOf(PAX_NAME_PREFIX, Math.min(100, PAX_NAME_PREFIX.length + name.length));
            System.arraycopy(name, 0, paxName, PAX_NAME_PREFIX.length, paxName.length - PAX_NAME_PREFIX.length);
            ustar(buffer, at, PAX, paxName, null, 0644, 0, 0, recordsLength, headerSeconds);
            at += BLOCK;
            System.arraycopy(records, 0, buffer, at, recordsLength);
            Arrays.fill(buffer, at + recordsLength, at + padded(recordsLength), (byte) 0); // the buffer holds earlier bytes
            at += padded(recordsLength);
        }
        ustar(buffer, at, type, name, link, mode, uid > MAX_OCTAL_7 ? 0 : uid, gid > MAX_OCTAL_7 ? 0 : gid,
                size > MAX_OCTAL_11 ? 0 : size, headerSeconds);
        return at + BLOCK;
    }

    /** Whether these bytes start a ustar header: "ustar" at its magic, in POSIX and GNU archives alike. */
    static boolean isHeader(byte[] head) {
        return head.length >= MAGIC_END && Arrays.equals(head, MAGIC_OFFSET, MAGIC_END, USTAR_MAGIC, 0, MAGIC_END - MAGIC_OFFSET);
    }

    /** size rounded up to whole blocks, the room an entry's data takes. */
    static int padded(int size) {
        return (size + BLOCK - 1) & -BLOCK;
    }

    static long padded(long size) {
        return (size + BLOCK - 1) & -BLOCK;
    }

    private static boolean needsPax(byte[] text) {
        if (text.length > 100) {
            return true;
        }
        for (byte b : text) {
            if (b < 0) { // not ASCII: readers would decode the ustar field in their own charset
                return true;
            }
        }
        return false;
    }

    /** "1700000000.5", "-1.25": seconds with the fraction's trailing zeros dropped, as PAX writes time. */
    private static String decimalSeconds(long seconds, int nanos) {
        if (nanos == 0) {
            return Long.toString(seconds);
        }
        var fraction = new StringBuilder(Integer.toString(1_000_000_000 + (seconds < 0 ? 1_000_000_000 - nanos : nanos)));
        while (fraction.charAt(fraction.length() - 1) == '0') {
            fraction.setLength(fraction.length() - 1);
        }
        // A negative instant is seconds (rounded down) plus nanos: -1.25 is seconds -2, nanos 750000000.
        String whole = seconds < 0 ? "-" + (-(seconds + 1)) : Long.toString(seconds);
        return whole + "." + fraction.substring(1);
    }

    private void record(String key, String value) {
        record(key, value.getBytes(StandardCharsets.US_ASCII));
    }

    /** Appends "LENGTH key=value\n", where LENGTH counts the whole record, its own digits included. */
    private void record(String key, byte[] value) {
        int body = key.length() + value.length + 3; // ' ', '=', '\n'
        int length = body + 1;
        while (length != body + Integer.toString(length).length()) {
            length = body + Integer.toString(length).length();
        }
        if (recordsLength + length > records.length) {
            records = Arrays.copyOf(records, Math.max(2 * records.length, recordsLength + length));
        }
        int at = recordsLength;
        at = ascii(Integer.toString(length), at);
        records[at++] = ' ';
        at = ascii(key, at);
        records[at++] = '=';
        System.arraycopy(value, 0, records, at, value.length);
        at += value.length;
        records[at++] = '\n';
        recordsLength = at;
    }

    private int ascii(String text, int at) {
        for (int i = 0; i < text.length(); i++) {
            records[at++] = (byte) text.charAt(i);
        }
        return at;
    }

    /** One 512-byte ustar header; fields too long were put in PAX records and are cut here. */
    private static void ustar(byte[] buffer, int offset, byte type, byte[] name, byte[] link, int mode, long uid,
            long gid, long size, long seconds) {
        Arrays.fill(buffer, offset, offset + BLOCK, (byte) 0);
        System.arraycopy(name, 0, buffer, offset, Math.min(100, name.length));
        octal(buffer, offset + 100, 8, mode);
        octal(buffer, offset + 108, 8, uid);
        octal(buffer, offset + 116, 8, gid);
        octal(buffer, offset + 124, 12, size);
        octal(buffer, offset + 136, 12, seconds);
        buffer[offset + 156] = type;
        if (link != null) {
            System.arraycopy(link, 0, buffer, offset + 157, Math.min(100, link.length));
        }
        System.arraycopy(USTAR_MAGIC, 0, buffer, offset + MAGIC_OFFSET, USTAR_MAGIC.length);
        // The checksum is the sum of the header's bytes with its own field read as eight spaces.
        Arrays.fill(buffer, offset + 148, offset + 156, (byte) ' ');
        int sum = 0;
        for (int i = offset; i < offset + BLOCK; i++) {
            sum += buffer[i] & 0xff;
        }
        octal(buffer, offset + 148, 7, sum); // six digits, NUL, and the space already there
    }

    /** value as width - 1 octal digits, zero-padded, then NUL. */
    private static void octal(byte[] buffer, int offset, int width, long value) {
        int at = offset + width - 1;
        buffer[at] = 0;
        for (at--; at >= offset; at--) {
            buffer[at] = (byte) ('0' + (value & 7));
            value >>>= 3;
        }
    }
}

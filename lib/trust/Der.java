package lib.trust;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The little of DER a key file needs: reading a value's tag, length and contents (to name a key's
 * algorithm and curve before any parser sees it, and to take a SEC1 key apart), and writing the
 * few values that wrap a SEC1 key into PKCS#8. Every length is checked against what is left, since
 * the bytes come from a file the user named and may be anything.
 */
final class Der {

    static final int SEQUENCE = 0x30;
    static final int INTEGER = 0x02;
    static final int OCTET_STRING = 0x04;
    static final int BIT_STRING = 0x03;
    static final int OID = 0x06;

    /** The bytes are not the DER this reader expected; the message never quotes them. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message);
        }
    }

    /** One value: its tag and its contents (a view of the bytes it was read from, from its header at). */
    record Value(int tag, byte[] bytes, int header, int start, int length) {
        byte[] contents() {
            return java.util.Arrays.copyOfRange(bytes, start, start + length);
        }

        /** The value whole, tag and length included, for copying into another. */
        byte[] encoded() {
            return java.util.Arrays.copyOfRange(bytes, header, start + length);
        }

        /** The values a constructed value (a SEQUENCE, a context tag) holds, in order. */
        List<Value> children() throws Malformed {
            var children = new ArrayList<Value>();
            int at = start;
            while (at < start + length) {
                Value child = read(bytes, at, start + length);
                children.add(child);
                at = child.start + child.length;
            }
            return children;
        }

        /** An OBJECT IDENTIFIER's dotted form, "1.2.840.10045.2.1". */
        String oid() throws Malformed {
            if (tag != OID || length == 0) {
                throw new Malformed("an object identifier was expected");
            }
            var dotted = new StringBuilder();
            long arc = 0;
            boolean first = true;
            for (int i = start; i < start + length; i++) {
                arc = (arc << 7) | (bytes[i] & 0x7f);
                if (arc > Integer.MAX_VALUE) {
                    throw new Malformed("an object identifier's arc is too large");
                }
                if ((bytes[i] & 0x80) == 0) {
                    if (first) {
                        dotted.append(arc < 80 ? arc / 40 : 2).append('.').append(arc < 80 ? arc % 40 : arc - 80);
                        first = false;
                    } else {
                        dotted.append('.').append(arc);
                    }
                    arc = 0;
                }
            }
            return dotted.toString();
        }
    }

    private Der() {}

    /** The one value the bytes hold, nothing after it. */
    static Value parse(byte[] der) throws Malformed {
        Value value = read(der, 0, der.length);
        if (value.start + value.length != der.length) {
            throw new Malformed("bytes follow the key's DER");
        }
        return value;
    }

    private static Value read(byte[] bytes, int at, int end) throws Malformed {
        if (end - at < 2) {
            throw new Malformed("the DER ends inside a value");
        }
        int tag = bytes[at] & 0xff;
        if ((tag & 0x1f) == 0x1f) {
            throw new Malformed("a DER tag of several bytes");
        }
        int first = bytes[at + 1] & 0xff;
        int start = at + 2;
        long length;
        if (first < 0x80) {
            length = first;
        } else {
            int count = first & 0x7f;
            if (count == 0 || count > 3 || end - start < count) {
                throw new Malformed("a DER length that is indefinite, too large or cut");
            }
            length = 0;
            for (int i = 0; i < count; i++) {
                length = (length << 8) | (bytes[start + i] & 0xff);
            }
            start += count;
        }
        if (length > end - start) {
            throw new Malformed("a DER value longer than what holds it");
        }
        return new Value(tag, bytes, at, start, (int) length);
    }

    /** A value of that tag holding those contents. */
    static byte[] write(int tag, byte[]... contents) {
        var body = new ByteArrayOutputStream();
        for (byte[] part : contents) {
            body.writeBytes(part);
        }
        var out = new ByteArrayOutputStream();
        out.write(tag);
        int length = body.size();
        if (length < 0x80) {
            out.write(length);
        } else if (length < 0x100) {
            out.write(0x81);
            out.write(length);
        } else {
            out.write(0x82);
            out.write(length >> 8);
            out.write(length);
        }
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }
}

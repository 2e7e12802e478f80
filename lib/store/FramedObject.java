package lib.store;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import lib.archive.BadArchive;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.common.Digests;
import lib.common.NextBytes;

/**
 * An entry as one object in a blob store or a folder: its groups' compressed frames one after the
 * other, then an index frame that says where each group is (offset, size) and what it holds (its
 * tar's size and sha256, its diff_id). One object, so bucket lifecycle rules and --max-age treat an
 * entry as a whole and nothing is shared between entries.
 *
 * <p>The index is a frame the decompressor passes over, so that {@code zstd -dc OBJECT | tar -xiC
 * DIR} (or gzip) still extracts the whole folder: for zstd a skippable frame, for gzip an empty
 * member whose comment holds it. It ends with a footer, the index's length in ten digits and
 * TKCINDEX, at the object's end (for gzip just before the member's fixed 11 last bytes), so a
 * reader finds it with one ranged read of the tail. The digest the store records for the object is
 * the index frame's; each group is checked against the index as it is read. An object without the
 * footer is a single stream (ours before groups, the Go tool's, --compression none), read whole.
 *
 * <p>The index's text, for example:
 *
 * <pre>
 * tekton-caches groups 2 signed
 * level 2
 * 0 51234 204800 (sha256 of its tar: its diff_id)
 * 51234 880 10240 (sha256)
 * tekton-caches signed entry v1
 * entry cache/go-3f2a9c0d81e4
 * index sha256:(sha256 of the lines above this signature part)
 * key ecdsa-p256 SHA256:1a2b3c4d5e6f
 * signature MEUCIQD...
 * </pre>
 *
 * A group line says where the group starts in the object, its size as stored, its tar's size and
 * the tar's sha256, which is all a restore checks and all a save reusing the group goes by. An
 * unsigned entry's heading is "tekton-caches groups 2" and its text ends after the group lines.
 * Version 1 (headings "tekton-caches groups 1" and "… 1 signed"), written before, also named each
 * group's stored bytes' sha256, between its size and its tar's size: it is still read, that digest
 * unused; a version of this tool that reads only version 1 refuses version 2 as an index it does not
 * read, not as a broken entry to delete, as it does any heading it does not know.
 * A signed entry's heading says "signed" (so that a version of this tool that reads no signature
 * refuses the index as one it does not read, rather than as a broken entry to delete), and after
 * its group lines comes the signature part, from the first line that is not a group line (one that
 * does not start with a digit) to the end: lib/trust's EntrySignature, over the entry's name and the
 * sha256 of the index text before the signature part. The signature is thus inside the one object
 * that the commit makes visible, and the digest the store records (the whole index frame's) covers
 * it too. The signature part is not checked here: a malformed one leaves the entry untrusted.
 */
public final class FramedObject {

    private static final byte[] MAGIC = "TKCINDEX".getBytes(StandardCharsets.US_ASCII);
    private static final int DIGITS = 10;
    private static final int FOOTER = DIGITS + 8;
    private static final String HEADING = "tekton-caches groups 2";
    private static final String SIGNED_HEADING = HEADING + " signed";
    /** Version 1's headings, whose group lines name the stored bytes' sha256 too: read, no longer written. */
    private static final String HEADING_1 = "tekton-caches groups 1";
    private static final String SIGNED_HEADING_1 = HEADING_1 + " signed";
    /** Room the index leaves for its signature part: more than a valid one takes (EntrySignature.MAX_BYTES). */
    private static final int SIGNATURE_ROOM = 4096;
    /** zstd's skippable frame 0x184D2A5E, little-endian, then the frame's length. */
    private static final byte[] ZSTD_SKIPPABLE = {0x5E, 0x2A, 0x4D, 0x18};
    /** A gzip member's header with only a comment (FLG 0x10), no time, unknown OS. */
    private static final byte[] GZIP_HEADER = {0x1f, (byte) 0x8b, 8, 0x10, 0, 0, 0, 0, 0, (byte) 0xff};
    /** The comment's terminating zero, an empty final deflate block, CRC32 and ISIZE of nothing. */
    private static final byte[] GZIP_END = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    /** What one ranged read of the tail takes: the index of 256 groups fits. */
    private static final int TAIL = 64 << 10;
    /** An index listing more groups than this is refused unread: no writer of ours makes them. */
    private static final int MAX_GROUPS = 4096;

    private FramedObject() {}

    /** A write of an entry's groups into one object at path through a store's PendingWrite. */
    static Store.EntryWrite write(String path, Store.PendingWrite pending, Compression compression) {
        return write(path, pending, compression, (base, group) -> true);
    }

    /** Whether a base's group holds the tar its index names, asked before it is reused. */
    public interface ReuseCheck {
        boolean holdsItsTar(Store.StoredObject base, Store.StoredGroup group) throws IOException;
    }

    /**
     * write, reusing a base's group only where check says it holds the tar its index names: a store
     * that reads its own bytes cheaply proves what it copies, rather than leaving a lying base's
     * groups for every restore of the new entry to refuse. A compressed entry's write is a
     * SignableEntry; an uncompressed one, one stream with no index, is not.
     */
    public static Store.EntryWrite write(String path, Store.PendingWrite pending, Compression compression, ReuseCheck check) {
        return compression == Compression.NONE ? new Writer(path, pending, compression, check)
                : new SignableWriter(path, pending, compression, check);
    }

    private static class Writer implements Store.EntryWrite {
        private final String path;
        private final Store.PendingWrite pending;
        private final Compression compression;
        private final ReuseCheck check;
        private final List<Store.StoredGroup> groups = new ArrayList<>();
        EntrySigner signer;
        private long position;
        private int groupsSent;
        private long bytesSent;
        private int groupsReused;
        private long bytesReused;

        Writer(String path, Store.PendingWrite pending, Compression compression, ReuseCheck check) {
            this.path = path;
            this.pending = pending;
            this.compression = compression;
            this.check = check;
        }

        @Override
        public OutputStream beginGroup() {
            if (compression == Compression.NONE && !groups.isEmpty()) {
                throw new IllegalStateException("an uncompressed entry is one stream, one group");
            }
            return pending.stream();
        }

        /** Only an uncompressed entry's, one stream whose digest the store records (its tar's). */
        @Override
        public boolean needsStoredDigest() {
            return compression == Compression.NONE;
        }

        @Override
        public void endGroup(Store.Group group) {
            groups.add(new Store.StoredGroup(group, position));
            position += group.size();
            groupsSent++;
            bytesSent += group.size();
        }

        @Override
        public boolean reuse(Store.StoredObject base, Store.StoredGroup group) throws IOException {
            if (compression == Compression.NONE || !check.holdsItsTar(base, group)
                    || !pending.append(base, group.offset(), group.group().size())) {
                return false;
            }
            groups.add(new Store.StoredGroup(group.group(), position));
            position += group.group().size();
            groupsReused++;
            bytesReused += group.group().size();
            return true;
        }

        @Override
        public boolean commit(Store.Description description, int level) throws IOException {
            if (compression == Compression.NONE) {
                return pending.commit(new Store.Contents(groups.get(0).group().sha256(), position, compression), description);
            }
            byte[] index = frame(compression, level, groups, path, signer);
            pending.stream().write(index);
            bytesSent += index.length; // so that sent and reused add up to the object's size
            return pending.commit(new Store.Contents(Digests.hex(Digests.sha256().digest(index)), position + index.length,
                    compression), description);
        }

        @Override
        public Store.Sent sent() {
            return new Store.Sent(groupsSent, bytesSent, groupsReused, bytesReused);
        }

        @Override
        public void close() throws IOException {
            pending.close();
        }
    }

    private static final class SignableWriter extends Writer implements SignableEntry {
        SignableWriter(String path, Store.PendingWrite pending, Compression compression, ReuseCheck check) {
            super(path, pending, compression, check);
        }

        @Override
        public void signWith(EntrySigner signer) {
            this.signer = signer;
        }
    }

    /** Whether the base's group, read from this store, decompresses to the tar its index names. */
    public static boolean holdsItsTar(Store store, Store.StoredObject base, Store.StoredGroup group) {
        Store.Group named = group.group();
        try (InputStream object = store.open(base, group.offset())) {
            return Compression.tarSha256(groupBytes(object, base, named)).equals(named.diffId());
        } catch (IOException e) {
            // Gone or replaced since it was found, cut short, or not what the decompressor reads: sent instead.
            return false;
        }
    }

    /** The group's bytes, next in the object's stream, which stays open; the object ending first is an error. */
    private static InputStream groupBytes(InputStream in, Store.StoredObject object, Store.Group group) {
        return new NextBytes(in, group.size(), left -> object.path() + " ends " + left
                + " bytes before the end of a group its index lists");
    }

    /** The index frame of these groups, unsigned, as it ends the object. */
    public static byte[] frame(Compression compression, int level, List<Store.StoredGroup> groups) {
        try {
            return frame(compression, level, groups, null, null);
        } catch (IOException e) {
            throw new IllegalStateException("an unsigned index is made without I/O", e);
        }
    }

    /**
     * The index frame of these groups, as it ends the object at path: signed by signer, its
     * signature part after the group lines, or unsigned where signer is null.
     */
    public static byte[] frame(Compression compression, int level, List<Store.StoredGroup> groups, String path,
            EntrySigner signer) throws IOException {
        var text = new StringBuilder(signer == null ? HEADING : SIGNED_HEADING).append("\nlevel ").append(level).append('\n');
        for (Store.StoredGroup stored : groups) {
            Store.Group group = stored.group();
            if (group.diffId() == null) {
                throw new IllegalArgumentException("a group is named in the index by its tar's sha256, and this one has none");
            }
            text.append(stored.offset()).append(' ').append(group.size()).append(' ').append(group.tarBytes()).append(' ')
                    .append(group.diffId()).append('\n');
        }
        byte[] body = text.toString().getBytes(StandardCharsets.US_ASCII);
        if (signer != null) {
            byte[] signature = signer.sign(path, "sha256:" + Digests.hex(Digests.sha256().digest(body)));
            if (signature.length == 0 || signature.length > SIGNATURE_ROOM || (signature[0] >= '0' && signature[0] <= '9')
                    || signature[signature.length - 1] != '\n' || holdsZero(signature)) {
                // read back, it would not be this signature part; a zero would end a gzip member's comment
                throw new IllegalArgumentException("a signature part of 1 to " + SIGNATURE_ROOM + " bytes is needed, whose"
                        + " first line does not start with a digit, ending with a line feed, without a zero byte");
            }
            body = Arrays.copyOf(body, body.length + signature.length);
            System.arraycopy(signature, 0, body, body.length - signature.length, signature.length);
        }
        byte[] footer = (String.format("%0" + DIGITS + "d", body.length) + "TKCINDEX").getBytes(StandardCharsets.US_ASCII);
        var frame = new java.io.ByteArrayOutputStream(body.length + FOOTER + 32);
        if (compression == Compression.ZSTD) {
            frame.writeBytes(ZSTD_SKIPPABLE);
            int length = body.length + FOOTER;
            frame.writeBytes(new byte[] {(byte) length, (byte) (length >> 8), (byte) (length >> 16), (byte) (length >> 24)});
            frame.writeBytes(body);
            frame.writeBytes(footer);
        } else {
            frame.writeBytes(GZIP_HEADER);
            frame.writeBytes(body);
            frame.writeBytes(footer);
            frame.writeBytes(GZIP_END);
        }
        return frame.toByteArray();
    }

    private static boolean holdsZero(byte[] bytes) {
        for (byte b : bytes) {
            if (b == 0) {
                return true;
            }
        }
        return false;
    }

    /** The groups of a stored object, from the index at its end; empty when it has none (a single stream). */
    static Optional<Store.Groups> index(Store store, Store.StoredObject object) throws IOException {
        long size = object.size();
        int tailLength = (int) Math.min(size, TAIL);
        if (tailLength < FOOTER + GZIP_END.length) {
            return Optional.empty();
        }
        byte[] tail = readAt(store, object, size - tailLength, tailLength);
        boolean gzip = Arrays.equals(tail, tailLength - GZIP_END.length, tailLength, GZIP_END, 0, GZIP_END.length);
        int footerEnd = gzip ? tailLength - GZIP_END.length : tailLength;
        if (!Arrays.equals(tail, footerEnd - MAGIC.length, footerEnd, MAGIC, 0, MAGIC.length)) {
            return Optional.empty();
        }
        String digits = new String(tail, footerEnd - FOOTER, DIGITS, StandardCharsets.US_ASCII);
        if (!digits.matches("[0-9]{" + DIGITS + "}")) {
            return Optional.empty();
        }
        long bodyLength = Long.parseLong(digits);
        int header = gzip ? GZIP_HEADER.length : ZSTD_SKIPPABLE.length + 4;
        long frameLength = header + bodyLength + FOOTER + (tailLength - footerEnd);
        if (frameLength > size || bodyLength > (long) MAX_GROUPS * 300 + SIGNATURE_ROOM) {
            throw new BadArchive("the index at the end of " + object.path() + " says it is " + bodyLength
                    + " bytes long, which the object cannot hold");
        }
        byte[] frame = frameLength <= tailLength ? Arrays.copyOfRange(tail, (int) (tailLength - frameLength), tailLength)
                : readAt(store, object, size - frameLength, (int) frameLength);
        byte[] expectedHeader = gzip ? GZIP_HEADER : zstdHeader((int) (bodyLength + FOOTER));
        if (!Arrays.equals(frame, 0, header, expectedHeader, 0, header)) {
            throw new BadArchive("the index at the end of " + object.path() + " does not start as its frame must");
        }
        String recorded = object.sha256().orElse(null);
        String actual = Digests.hex(Digests.sha256().digest(frame));
        if (recorded != null && !recorded.equals(actual)) {
            throw new Meter.DigestMismatch(recorded, actual);
        }
        byte[] body = Arrays.copyOfRange(frame, header, header + (int) bodyLength);
        return Optional.of(parse(body, size - frameLength, gzip ? Compression.GZIP : Compression.ZSTD, object.path()));
    }

    private static byte[] zstdHeader(int length) {
        return new byte[] {ZSTD_SKIPPABLE[0], ZSTD_SKIPPABLE[1], ZSTD_SKIPPABLE[2], ZSTD_SKIPPABLE[3],
            (byte) length, (byte) (length >> 8), (byte) (length >> 16), (byte) (length >> 24)};
    }

    private static byte[] readAt(Store store, Store.StoredObject object, long offset, int length) throws IOException {
        try (InputStream in = store.open(object, offset)) {
            byte[] bytes = in.readNBytes(length);
            if (bytes.length != length) {
                throw new EOFException(object.path() + " ended " + (length - bytes.length) + " bytes early");
            }
            return bytes;
        }
    }

    /**
     * Reads an index of version 2 or 1, refusing anything but groups that cover the frames before it
     * exactly, each once; a signed index's signature part is passed on unread, with the digest of the
     * text before it. A heading it does not know is an index of another version, not a broken one.
     */
    private static Store.Groups parse(byte[] bytes, long framesEnd, Compression compression, String path) throws IOException {
        String all = new String(bytes, StandardCharsets.ISO_8859_1); // a char a byte, so offsets are the bytes'
        int headingEnd = all.indexOf('\n');
        String heading = headingEnd < 0 ? all : all.substring(0, headingEnd);
        boolean signed = heading.equals(SIGNED_HEADING) || heading.equals(SIGNED_HEADING_1);
        boolean version1 = heading.equals(HEADING_1) || heading.equals(SIGNED_HEADING_1);
        int indexEnd = all.length();
        if (signed) {
            // the signature part starts at the first line after the level line that is not a group line
            int lineStart = all.indexOf('\n', heading.length() + 1) + 1;
            while (lineStart > 0 && lineStart < all.length() && all.charAt(lineStart) >= '0' && all.charAt(lineStart) <= '9') {
                lineStart = all.indexOf('\n', lineStart) + 1;
            }
            if (lineStart > 0) {
                indexEnd = lineStart;
            }
        }
        String body = all.substring(0, indexEnd);
        String[] lines = body.split("\n", -1);
        if (lines.length < 3 || !(signed || version1 || heading.equals(HEADING)) || !lines[1].matches("level [0-9]{1,3}")
                || !lines[lines.length - 1].isEmpty()) {
            // Not called bad: a later version's index may be one this version does not read.
            throw new IOException("the index at the end of " + path + " is not one this tool reads");
        }
        int level = Integer.parseInt(lines[1].substring("level ".length()));
        var groups = new ArrayList<Store.StoredGroup>();
        // version 2: offset size tarBytes diffId; version 1: offset size sha256 tarBytes diffId
        int fields = version1 ? 5 : 4;
        for (int i = 2; i < lines.length - 1; i++) {
            String[] f = lines[i].split(" ", -1);
            if (f.length != fields || !f[0].matches("[0-9]{1,18}") || !f[1].matches("[0-9]{1,18}")
                    || (version1 && !f[2].matches("[0-9a-f]{64}")) || !f[fields - 2].matches("[0-9]{1,18}")
                    || !f[fields - 1].matches("[0-9a-f]{64}")) {
                throw new BadArchive("the index at the end of " + path + " has the malformed line '" + lines[i] + "'");
            }
            groups.add(new Store.StoredGroup(new Store.Group(f[fields - 1], Long.parseLong(f[fields - 2]), version1 ? f[2] : null,
                    Long.parseLong(f[1])), Long.parseLong(f[0])));
        }
        var byOffset = new ArrayList<>(groups);
        byOffset.sort(Comparator.comparingLong(Store.StoredGroup::offset));
        long next = 0;
        for (Store.StoredGroup group : byOffset) {
            if (group.offset() != next) {
                throw new BadArchive("the index at the end of " + path + " leaves bytes " + Math.min(next, group.offset())
                        + " to " + Math.max(next, group.offset()) + " to no group or to two");
            }
            next += group.group().size();
        }
        if (next != framesEnd || groups.isEmpty()) {
            throw new BadArchive("the index at the end of " + path + " covers " + next + " bytes, not the " + framesEnd
                    + " before it");
        }
        var signature = new Store.IndexSignature(signed ? Arrays.copyOfRange(bytes, indexEnd, bytes.length) : new byte[0],
                "sha256:" + Digests.hex(Digests.sha256().digest(Arrays.copyOf(bytes, indexEnd))));
        return new Store.Groups(level, compression, groups, signature);
    }

    /** Reads the object once, from its start, cut into its groups in the order of their offsets. */
    static Store.GroupStreams read(Store store, Store.StoredObject object, Store.Groups groups,
            UnaryOperator<InputStream> watch) throws IOException {
        var byOffset = new ArrayList<>(groups.groups());
        byOffset.sort(Comparator.comparingLong(Store.StoredGroup::offset));
        InputStream whole = watch.apply(store.open(object));
        return new Store.GroupStreams() {
            private int next;

            @Override
            public Store.GroupStream next() throws IOException {
                if (next == byOffset.size()) {
                    // The index frame: read too, so the meter counts the whole object.
                    whole.transferTo(OutputStream.nullOutputStream());
                    next++;
                    return null;
                }
                if (next > byOffset.size()) {
                    return null;
                }
                Store.Group group = byOffset.get(next++).group();
                return new Store.GroupStream(group, groupBytes(whole, object, group));
            }

            @Override
            public void close() throws IOException {
                whole.close();
            }
        };
    }
}

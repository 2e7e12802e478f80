package lib.archive;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a folder as PAX tar streams: regular files of any size, directories (empty ones too),
 * permission bits, mtimes, symlinks with their targets as written, hardlinks within the folder
 * and UTF-8 names. Entries are relative ("a/b.txt", "a/"), children in name order, so the same
 * tree gives the same archive. The walk is cut into groups where a GroupPlan says; each group is a
 * complete tar of its own, written as often as its caller asks (once to learn its digest, once
 * more to compress it), the same bytes every time while its files are unchanged. Headers and file
 * contents go into one large buffer that is handed on whole, so the compressor sees few large
 * writes whatever the files' sizes. A file that changes while it is read fails the archive, which
 * is never stored with a cut or mixed copy.
 */
public final class Archive {

    /** What went into an archive, or into one group of it. */
    public record Stats(long files, long directories, long links, long bytes, long skipped) {

        public Stats plus(Stats other) {
            return new Stats(files + other.files, directories + other.directories, links + other.links,
                    bytes + other.bytes, skipped + other.skipped);
        }
    }

    /** Takes the groups of a walk one by one, each before the walk goes on. */
    public interface GroupSink {
        void accept(Group group) throws IOException;
    }

    /** Names inside the folder that belong to us (staging of a restore under way), never archived. */
    static final String OWN_PREFIX = ".tekton-caches-";

    /** tar's record: archives end on a multiple of it, as GNU tar and commons-compress end theirs. */
    private static final int RECORD = 20 * TarHeader.BLOCK;

    private final byte[] buffer = new byte[Compression.BUFFER];
    private final ByteBuffer view = ByteBuffer.wrap(buffer);
    private final TarHeader header = new TarHeader();
    /** First archived name of each multiply-linked inode, so later names become hardlinks. */
    private final Map<Object, String> linkedInodes = new HashMap<>();
    private OutputStream out;
    private int used;
    private long written;
    private long files;
    private long directories;
    private long links;
    private long bytes;

    private Archive() {}

    /** An entry as the walk saw it, written from that sight (a file that changed since fails the write). */
    private record Entry(Path path, String name, FileStat stat) {}

    /** One group of entries in walk order, written as a complete tar. */
    public final class Group {
        private final List<Entry> entries;

        private Group(List<Entry> entries) {
            this.entries = entries;
        }

        /** About how long the group's tar is: its headers, contents and end, a long name's PAX header apart. */
        public long estimatedTarBytes() {
            long bytes = RECORD;
            for (Entry entry : entries) {
                bytes += 2 * TarHeader.BLOCK + ((entry.stat().mode() & FileStat.TYPE) == FileStat.REGULAR
                        ? TarHeader.padded(entry.stat().size()) : 0);
            }
            return bytes;
        }

        /** Writes the group as a complete tar stream to out, without closing out. */
        public Stats write(OutputStream out) throws IOException {
            Archive archive = Archive.this;
            archive.out = out;
            archive.written = 0;
            archive.files = archive.directories = archive.links = archive.bytes = 0;
            for (Entry entry : entries) {
                archive.add(entry);
            }
            archive.end();
            return new Stats(archive.files, archive.directories, archive.links, archive.bytes, 0);
        }
    }

    /** Writes the folder's content to out as one tar stream, without closing out. */
    public static Stats create(Path folder, OutputStream out) throws IOException {
        Stats[] stats = {null};
        long skipped = create(folder, GroupPlan.single(), group -> stats[0] = group.write(out));
        return new Stats(stats[0].files(), stats[0].directories(), stats[0].links(), stats[0].bytes(), skipped);
    }

    /** Walks the folder, handing each group to sink as the plan cuts them; returns how many entries were skipped. */
    public static long create(Path folder, GroupPlan plan, GroupSink sink) throws IOException {
        var archive = new Archive();
        var group = new ArrayList<Entry>();
        long[] skipped = {0};
        int[] handed = {0};
        Walk.walk(folder, (path, name, stat) -> {
            int type = stat.mode() & FileStat.TYPE;
            if (type != FileStat.DIRECTORY && type != FileStat.REGULAR && type != FileStat.SYMLINK) {
                skipped[0]++; // sockets, fifos and devices have no place in a dependency cache
                return;
            }
            if (plan.cutsBefore(name) && !group.isEmpty()) {
                sink.accept(archive.new Group(List.copyOf(group)));
                group.clear();
                handed[0]++;
            }
            group.add(new Entry(path, name, stat));
            if (plan.cutsAfter(name)) {
                sink.accept(archive.new Group(List.copyOf(group)));
                group.clear();
                handed[0]++;
            }
        });
        if (!group.isEmpty() || handed[0] == 0) { // an empty folder is one empty tar
            sink.accept(archive.new Group(List.copyOf(group)));
        }
        return skipped[0];
    }

    private void add(Entry entry) throws IOException {
        FileStat stat = entry.stat();
        String name = entry.name();
        Path path = entry.path();
        byte type;
        byte[] link = null;
        long size = 0;
        switch (stat.mode() & FileStat.TYPE) {
            case FileStat.DIRECTORY -> type = TarHeader.DIRECTORY;
            case FileStat.SYMLINK -> {
                type = TarHeader.SYMLINK;
                link = Files.readSymbolicLink(path).toString().getBytes(StandardCharsets.UTF_8);
            }
            default -> {
                link = firstNameOfInode(stat, name);
                type = link == null ? TarHeader.FILE : TarHeader.HARDLINK;
                size = link == null ? stat.size() : 0;
            }
        }
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        reserve(TarHeader.room(nameBytes, link));
        used = header.encode(buffer, used, type, nameBytes, link, stat.mode() & 07777,
                Integer.toUnsignedLong(stat.uid()), Integer.toUnsignedLong(stat.gid()), size,
                stat.mtime());
        switch (type) {
            case TarHeader.FILE -> {
                copyContent(path, stat, name);
                bytes += size;
                files++;
            }
            case TarHeader.DIRECTORY -> directories++;
            default -> links++;
        }
    }

    /**
     * The name this inode was archived under already, as a link target, or null (and it is
     * remembered). A group written a second time meets its own first names again: still files.
     */
    private byte[] firstNameOfInode(FileStat stat, String name) {
        if (stat.nlink() < 2) {
            return null;
        }
        String first = linkedInodes.putIfAbsent(stat.inode(), name);
        return first == null || first.equals(name) ? null : first.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads exactly the size the header announced, straight into the buffer, pads to a whole block,
     * then checks that the file is still as the walk saw it.
     */
    private void copyContent(Path path, FileStat stat, String name) throws IOException {
        long size = stat.size();
        if (size > 0) {
            try (FileChannel in = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                for (long left = size; left > 0; ) {
                    if (used == buffer.length) {
                        flush();
                    }
                    view.limit((int) Math.min(buffer.length, used + left)).position(used);
                    int n = in.read(view);
                    if (n < 0) {
                        throw changedWhileRead(name, stat, FileStat.of(path));
                    }
                    used += n;
                    left -= n;
                }
            }
            zeros((int) (TarHeader.padded(size) - size));
        }
        checkUnchanged(path, stat, name);
    }

    /**
     * GNU tar's "file changed as we read it", by one more lstat: a file that grew would otherwise be
     * stored cut at the size in its header, and one rewritten in place (same size, new mtime) would
     * mix two versions, either of which breaks the next build (a jar a build daemon is still writing).
     * Archiving it again is no option: its header and part of its bytes may already be compressed and
     * sent, and a stream cannot take them back. Nor is starting the whole archive over, as a file
     * still being written is likely to change again. So the upload fails: its store discards what
     * was sent without commit, so the store keeps exactly what it held, and the next upload, once
     * the build has finished writing, stores a whole archive.
     */
    private static void checkUnchanged(Path path, FileStat before, String name) throws IOException {
        FileStat after = FileStat.of(path);
        if (after.size() != before.size() || !after.mtime().equals(before.mtime())) {
            throw changedWhileRead(name, before, after);
        }
    }

    private static IOException changedWhileRead(String name, FileStat before, FileStat after) {
        return new IOException(name + " changed while it was read (" + before.size() + " bytes modified " + before.mtime()
                + " when the walk saw it, " + after.size() + " bytes modified " + after.mtime()
                + " after): nothing was stored rather than a cut or mixed copy");
    }

    /** Two zero blocks end a tar stream, and zeros fill its last record. */
    private void end() throws IOException {
        zeros(2 * TarHeader.BLOCK);
        zeros((int) ((RECORD - (written + used) % RECORD) % RECORD));
        flush();
    }

    private void zeros(int count) throws IOException {
        reserve(count);
        Arrays.fill(buffer, used, used + count, (byte) 0);
        used += count;
    }

    /** Makes room for count bytes (at most the buffer's size) after what is buffered. */
    private void reserve(int count) throws IOException {
        if (used + count > buffer.length) {
            flush();
        }
    }

    private void flush() throws IOException {
        out.write(buffer, 0, used);
        written += used;
        used = 0;
    }
}

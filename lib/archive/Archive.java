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
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a folder as PAX tar streams: regular files of any size, directories (empty ones too),
 * permission bits, mtimes, symlinks with their targets as written, hardlinks within a group (the
 * plan never cuts between two names of one inode) and UTF-8 names. Entries are relative
 * ("a/b.txt", "a/"), children in name order, so the same tree gives the same archive. The walk is
 * cut into groups where a GroupPlan says; each group is a complete tar of its own, written as often
 * as its caller asks (once to learn its digest, once more to compress it) and on whichever thread,
 * the same bytes every time while its files are unchanged. Headers and file contents go into one
 * large buffer that is handed on whole, so the compressor sees few large writes whatever the
 * files' sizes. A file that changes while it is read fails the archive, which is never stored with
 * a cut or mixed copy.
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

        /** An entry left out because its name is not UTF-8: where it lies, bytes escaped; a folder's ends with '/'. */
        default void leftOut(String path) {}
    }

    /** Names inside the folder that belong to us (staging of a restore under way), never archived. */
    static final String OWN_PREFIX = ".tekton-caches-";

    /** tar's record: archives end on a multiple of it, as GNU tar and commons-compress end theirs. */
    private static final int RECORD = 20 * TarHeader.BLOCK;

    private Archive() {}

    /**
     * An entry as the walk saw it, written from that sight (a file that changed since fails the
     * write); or, with content, a file of ours written from memory (the manifest of several folders).
     */
    private record Entry(Path path, String name, FileStat stat, byte[] content) {

        Entry(Path path, String name, FileStat stat) {
            this(path, name, stat, null);
        }

        /** The bytes read from the folder for it. */
        long bytesOnDisk() {
            return content == null && (stat.mode() & FileStat.TYPE) == FileStat.REGULAR ? stat.size() : 0;
        }
    }

    /** One group of entries in walk order, written as a complete tar. */
    public static final class Group {
        private final List<Entry> entries;

        private Group(List<Entry> entries) {
            this.entries = entries;
        }

        /** About how long the group's tar is: its headers, contents and end, a long name's PAX header apart. */
        public long estimatedTarBytes() {
            long bytes = RECORD;
            for (Entry entry : entries) {
                bytes += GroupPlan.weight(entry.stat(), false);
            }
            return bytes;
        }

        /**
         * Writes the group as a complete tar stream to out, without closing out. Any thread may
         * write any group, several at once: each write has a writer of its own.
         */
        public Stats write(OutputStream out) throws IOException {
            var writer = new TarWriter(BUFFERS.get(), out);
            writer.write(entries);
            return writer.stats();
        }

        /**
         * Whether the group's files are worth compressing, from slices read at offsets spread over
         * their contents (RawZstd): what a group too big to be made in memory is judged by before
         * it is streamed, since its first bytes cannot speak for the rest.
         */
        public boolean compressible() throws IOException {
            long total = 0;
            for (Entry entry : entries) {
                total += entry.bytesOnDisk();
            }
            byte[] sample = new byte[RawZstd.SLICES * RawZstd.SLICE];
            int sampled = 0;
            long start = 0; // of the entry's content among all the group's
            int slice = 0;
            for (Entry entry : entries) {
                long size = entry.bytesOnDisk();
                try (FileChannel in = size == 0 ? null : TarWriter.open(entry.path(), entry.name())) {
                    for (; slice < RawZstd.SLICES && total * slice / RawZstd.SLICES < start + size; slice++) {
                        long at = total * slice / RawZstd.SLICES - start;
                        var into = ByteBuffer.wrap(sample, sampled, (int) Math.min(RawZstd.SLICE, size - at));
                        for (int n; into.hasRemaining() && (n = in.read(into, at + into.position() - sampled)) > 0; ) {
                            // read on: a positional read may return less than asked
                        }
                        sampled = into.position();
                    }
                }
                start += size;
            }
            return RawZstd.compressible(sample, sampled);
        }

        /** The group's tar in one array, made on the calling thread: no buffer between the files and the array. */
        public InMemory inMemory() throws IOException {
            var writer = new TarWriter(new byte[(int) Math.min(Integer.MAX_VALUE - 16, estimatedTarBytes())], null);
            writer.write(entries);
            return new InMemory(writer.buffer, writer.used, writer.stats());
        }
    }

    /** A group's tar: its first length bytes. */
    public record InMemory(byte[] bytes, int length, Stats stats) {}

    /** The buffer a thread writes groups through to a stream, reused from group to group. */
    private static final ThreadLocal<byte[]> BUFFERS = ThreadLocal.withInitial(() -> new byte[Compression.BUFFER]);

    /** Writes the folder's content to out as one tar stream, without closing out. */
    public static Stats create(Path folder, OutputStream out) throws IOException {
        Stats[] stats = {null};
        long skipped = create(folder, GroupPlan.single(), group -> stats[0] = group.write(out));
        return new Stats(stats[0].files(), stats[0].directories(), stats[0].links(), stats[0].bytes(), skipped);
    }

    /** Walks the folder, handing each group to sink as the plan cuts them; returns how many entries were skipped. */
    public static long create(Path folder, GroupPlan plan, GroupSink sink) throws IOException {
        return create(Folders.single(folder), Exclusion.NONE, plan, sink);
    }

    /** create, of the folders, leaving out what exclusion names. */
    public static long create(Folders folders, Exclusion exclusion, GroupPlan plan, GroupSink sink) throws IOException {
        return createFrom(folders, visitor -> Walk.walk(folders, exclusion, visitor), plan, sink);
    }

    /** create, from the entries the survey's walk saw rather than a walk of its own. */
    public static long create(GroupPlan.Survey survey, GroupPlan plan, GroupSink sink) throws IOException {
        return createFrom(survey.folders(), survey::entries, plan, sink);
    }

    private static long createFrom(Folders folders, Walk.Source entries, GroupPlan plan, GroupSink sink) throws IOException {
        var group = new ArrayList<Entry>();
        if (!folders.single()) { // the manifest first, so that a restore knows the folders before any name under them
            byte[] manifest = folders.manifest();
            group.add(new Entry(null, Folders.MANIFEST, new FileStat(FileStat.REGULAR | 0644, 1, null, 0, 0, manifest.length,
                    FileTime.fromMillis(0)), manifest));
        }
        long[] skipped = {0};
        int[] handed = {0};
        int[] capped = {0}; // cuts by position made
        long[] at = {0, 0}; // the entry's number among those archived, as the survey counts them; the group's bytes so far
        entries.walk((path, name, stat) -> {
            int type = stat.mode() & FileStat.TYPE;
            if (type == FileStat.NON_UTF8_NAME) {
                sink.leftOut(folders.resolve(name) + (name.endsWith("/") ? "/" : ""));
                return;
            }
            if (type != FileStat.DIRECTORY && type != FileStat.REGULAR && type != FileStat.SYMLINK) {
                skipped[0]++; // sockets, fifos and devices have no place in a dependency cache
                return;
            }
            long index = at[0]++;
            // As estimatedTarBytes counts it, a hard link's second name with its content: a cut by position needs only to be
            // the same every time.
            long weight = GroupPlan.weight(stat, false);
            boolean capsBefore = plan.capsBefore(index, at[1], weight, capped[0]);
            if ((plan.cutsBefore(name) || capsBefore) && !group.isEmpty()) {
                sink.accept(new Group(List.copyOf(group)));
                group.clear();
                handed[0]++;
                capped[0] += plan.cutsBefore(name) ? 0 : 1;
                at[1] = 0;
            }
            group.add(new Entry(path, name, stat));
            at[1] += weight;
            if (plan.cutsAfter(name)) {
                sink.accept(new Group(List.copyOf(group)));
                group.clear();
                handed[0]++;
                at[1] = 0;
            }
        });
        if (!group.isEmpty() || handed[0] == 0) { // an empty folder is one empty tar
            sink.accept(new Group(List.copyOf(group)));
        }
        return skipped[0];
    }

    /**
     * Writes one group's entries as a tar, through buffer: to out when it is full, or, when out is
     * null, into buffer itself, grown as needed. A writer of its own for each write, so that groups
     * are written on several threads at once; hard links are looked up within the group only,
     * where the plan keeps them.
     */
    private static final class TarWriter {
        private byte[] buffer;
        private ByteBuffer view;
        private final OutputStream out;
        private final TarHeader header = new TarHeader();
        /** First archived name of each multiply-linked inode, so later names become hardlinks. */
        private final Map<Object, String> linkedInodes = new HashMap<>();
        private int used;
        private long written;
        private long files;
        private long directories;
        private long links;
        private long bytes;

        TarWriter(byte[] buffer, OutputStream out) {
            this.buffer = buffer;
            this.view = ByteBuffer.wrap(buffer);
            this.out = out;
        }

        void write(List<Entry> entries) throws IOException {
            for (Entry entry : entries) {
                add(entry);
            }
            end();
        }

        Stats stats() {
            return new Stats(files, directories, links, bytes, 0);
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
                    link = entry.content() == null ? firstNameOfInode(stat, name) : null;
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
                    if (entry.content() != null) { // ours, not the folders': not counted
                        reserve(entry.content().length); // at most MAX_MANIFEST_BYTES, less than a buffer
                        System.arraycopy(entry.content(), 0, buffer, used, entry.content().length);
                        used += entry.content().length;
                        zeros((int) (TarHeader.padded(size) - size));
                        break;
                    }
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
                try (FileChannel in = open(path, name)) {
                    for (long left = size; left > 0; ) {
                        if (used == buffer.length) {
                            reserve(1);
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

        /** The file, for reading; one removed since the walk saw it fails the archive, as one that changed does. */
        private static FileChannel open(Path path, String name) throws IOException {
            try {
                return FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new IOException(name + " was removed after the walk saw it: nothing was stored rather than an archive"
                        + " without it", e);
            }
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
            if (out != null) {
                flush();
            }
        }

        private void zeros(int count) throws IOException {
            reserve(count);
            Arrays.fill(buffer, used, used + count, (byte) 0);
            used += count;
        }

        /** Makes room for count bytes (at most the buffer's size) after what is buffered. */
        private void reserve(int count) throws IOException {
            if (used + count <= buffer.length) {
                return;
            }
            if (out != null) {
                flush();
            } else { // the tar is made in memory, longer than its estimate (long names' PAX headers)
                buffer = Arrays.copyOf(buffer, Math.max(used + count, 2 * buffer.length));
                view = ByteBuffer.wrap(buffer);
            }
        }

        private void flush() throws IOException {
            out.write(buffer, 0, used);
            written += used;
            used = 0;
        }
    }
}

package lib.archive;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a folder as a PAX tar stream: regular files of any size, directories (empty ones too),
 * permission bits, mtimes, symlinks with their targets as written, hardlinks within the folder
 * and UTF-8 names. Entries are relative ("a/b.txt", "a/"), children in name order, so the same
 * tree gives the same archive. Headers and file contents go into one large buffer that is handed
 * on whole, so the compressor sees few large writes whatever the files' sizes. A file that changes
 * while it is read fails the archive, which is never stored with a cut or mixed copy.
 */
public final class Archive {

    /** What went into an archive. */
    public record Stats(long files, long directories, long links, long bytes, long skipped) {}

    /** Names inside the folder that belong to us (staging of a restore under way), never archived. */
    static final String OWN_PREFIX = ".tekton-caches-";

    /** tar's record: archives end on a multiple of it, as GNU tar and commons-compress end theirs. */
    private static final int RECORD = 20 * TarHeader.BLOCK;

    private final OutputStream out;
    private final byte[] buffer = new byte[Compression.BUFFER];
    private final ByteBuffer view = ByteBuffer.wrap(buffer);
    private int used;
    private long written;
    private final TarHeader header = new TarHeader();
    /** First archived name of each multiply-linked inode, so later names become hardlinks. */
    private final Map<Object, String> linkedInodes = new HashMap<>();
    private long files;
    private long directories;
    private long links;
    private long bytes;
    private long skipped;

    private Archive(OutputStream out) {
        this.out = out;
    }

    /** Writes the folder's content to out and ends the tar stream, without closing out. */
    public static Stats create(Path folder, OutputStream out) throws IOException {
        var archive = new Archive(out);
        archive.addChildren(folder, "");
        archive.end();
        return new Stats(archive.files, archive.directories, archive.links, archive.bytes, archive.skipped);
    }

    private void addChildren(Path dir, String prefix) throws IOException {
        var children = new ArrayList<Path>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        children.sort(null);
        for (Path child : children) {
            String name = child.getFileName().toString();
            if (prefix.isEmpty() && name.startsWith(OWN_PREFIX)) {
                continue;
            }
            add(child, prefix + name);
        }
    }

    private void add(Path path, String name) throws IOException {
        FileStat stat = FileStat.of(path);
        byte type;
        byte[] link = null;
        long size = 0;
        switch (stat.mode() & FileStat.TYPE) {
            case FileStat.DIRECTORY -> {
                type = TarHeader.DIRECTORY;
                name += "/";
            }
            case FileStat.SYMLINK -> {
                type = TarHeader.SYMLINK;
                link = Files.readSymbolicLink(path).toString().getBytes(StandardCharsets.UTF_8);
            }
            case FileStat.REGULAR -> {
                link = firstNameOfInode(stat, name);
                type = link == null ? TarHeader.FILE : TarHeader.HARDLINK;
                size = link == null ? stat.size() : 0;
            }
            default -> {
                // Sockets, fifos and devices have no place in a dependency cache.
                skipped++;
                return;
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
            case TarHeader.DIRECTORY -> {
                directories++;
                addChildren(path, name);
            }
            default -> links++;
        }
    }

    /** The name this inode was archived under already, as a link target, or null (and it is remembered). */
    private byte[] firstNameOfInode(FileStat stat, String name) {
        if (stat.nlink() < 2) {
            return null;
        }
        String first = linkedInodes.putIfAbsent(stat.inode(), name);
        return first == null ? null : first.getBytes(StandardCharsets.UTF_8);
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

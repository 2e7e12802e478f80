//DEPS org.apache.commons:commons-compress:1.28.0
// commons-compress's own dependencies, pinned: the stores' SDKs bring older ones that win otherwise.
//DEPS org.apache.commons:commons-lang3:3.18.0 commons-io:commons-io:2.20.0 commons-codec:commons-codec:1.19.0

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes a folder as a PAX tar stream: regular files of any size, directories (empty ones too),
 * permission bits, mtimes, symlinks with their targets as written, hardlinks within the folder
 * and UTF-8 names. Entries are relative ("a/b.txt", "a/"), children in name order, so the same
 * tree gives the same archive.
 */
final class Archive {

    /** What went into an archive. */
    record Stats(long files, long directories, long links, long bytes, long skipped) {}

    /** Names inside the folder that belong to us (staging of a restore under way), never archived. */
    static final String OWN_PREFIX = ".tekton-caches-";

    private static final String ATTRIBUTES = "unix:mode,nlink,ino,dev,size,lastModifiedTime,uid,gid";

    private final Path root;
    private final TarArchiveOutputStream tar;
    private final byte[] buffer = new byte[Compression.BUFFER];
    /** First archived name of each multiply-linked inode, so later names become hardlinks. */
    private final Map<List<Object>, String> linkedInodes = new HashMap<>();
    private long files;
    private long directories;
    private long links;
    private long bytes;
    private long skipped;

    private Archive(Path root, OutputStream out) {
        this.root = root;
        this.tar = new TarArchiveOutputStream(out, StandardCharsets.UTF_8.name());
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
    }

    /** Writes the folder's content to out and finishes the tar stream, without closing out. */
    static Stats create(Path folder, OutputStream out) throws IOException {
        var archive = new Archive(folder, out);
        archive.addChildren(folder, "");
        archive.tar.finish();
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
        Map<String, Object> attributes = Files.readAttributes(path, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) attributes.get("mode");
        int type = mode & 0170000;
        TarArchiveEntry entry;
        switch (type) {
            case 0040000 -> entry = new TarArchiveEntry(name + "/", TarConstants.LF_DIR, true);
            case 0120000 -> {
                entry = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
                entry.setLinkName(Files.readSymbolicLink(path).toString());
            }
            case 0100000 -> {
                String firstName = firstNameOfInode(attributes, name);
                if (firstName != null) {
                    entry = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
                    entry.setLinkName(firstName);
                } else {
                    entry = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
                    entry.setSize((Long) attributes.get("size"));
                }
            }
            default -> {
                // Sockets, fifos and devices have no place in a dependency cache.
                skipped++;
                return;
            }
        }
        entry.setMode(mode & 07777);
        entry.setLastModifiedTime((FileTime) attributes.get("lastModifiedTime"));
        entry.setUserId((Integer) attributes.get("uid"));
        entry.setGroupId((Integer) attributes.get("gid"));
        tar.putArchiveEntry(entry);
        // Not entry.isFile(): commons-compress calls links and devices files too.
        if (entry.getLinkFlag() == TarConstants.LF_NORMAL) {
            bytes += copyContent(path, entry.getSize(), name);
            files++;
        }
        tar.closeArchiveEntry();
        if (entry.isDirectory()) {
            directories++;
            addChildren(path, name + "/");
        } else if (entry.isSymbolicLink() || entry.isLink()) {
            links++;
        }
    }

    /** The name this inode was archived under already, or null (and it is remembered). */
    private String firstNameOfInode(Map<String, Object> attributes, String name) {
        if ((Integer) attributes.get("nlink") < 2) {
            return null;
        }
        var inode = List.of(attributes.get("dev"), attributes.get("ino"));
        return linkedInodes.putIfAbsent(inode, name);
    }

    /** Copies exactly the size the header announced: a file that grows or shrinks meanwhile is an error. */
    private long copyContent(Path path, long size, String name) throws IOException {
        long copied = 0;
        try (InputStream in = Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS)) {
            while (copied < size) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied));
                if (n < 0) {
                    throw new IOException(name + " shrank while it was archived");
                }
                tar.write(buffer, 0, n);
                copied += n;
            }
        }
        return copied;
    }
}

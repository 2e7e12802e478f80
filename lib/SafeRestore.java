//DEPS org.apache.commons:commons-compress:1.28.0
// commons-compress's own dependencies, pinned: the stores' SDKs bring older ones that win otherwise.
//DEPS org.apache.commons:commons-lang3:3.18.0 commons-io:commons-io:2.20.0 commons-codec:commons-codec:1.19.0

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Restores an archive into a folder so that nothing is lost and nothing escapes. The archive is
 * extracted into a staging folder inside the target (same file system, even when the target is a
 * volume's mount point); only when the whole stream has been read, every entry checked and the
 * digest verified are the entries renamed into place. Any failure removes the staging folder and
 * leaves the target as it was. Rejected, the whole archive: absolute names, names with "..",
 * anything written through a symlink, hardlinks to what the archive did not create, devices and
 * fifos.
 */
final class SafeRestore {

    /** What a restore put in place. */
    record Stats(long files, long directories, long links, long bytes) {}

    /** An archive that must not be restored; the message names the entry. */
    static final class HostileArchive extends IOException {
        HostileArchive(String message) {
            super(message);
        }
    }

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final Set<OpenOption> CREATE_NEW_FILE =
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    private static final PosixFilePermission[] BITS = PosixFilePermission.values(); // OWNER_READ … OTHERS_EXECUTE
    private static final String STAGING_PREFIX = Archive.OWN_PREFIX + "restore-";

    /** A directory whose mode and mtime are set once everything below it is in place. */
    private record DirectoryMetadata(String name, int mode, FileTime mtime) {}

    private final Path staging;
    /** The permission bits file creation drops here: only a mode with one of them needs a chmod. */
    private final int umask;
    /** The access time restored files get: the restore's, as tar gives them. */
    private final FileTime accessed = FileTime.from(Instant.now());
    private final byte[] buffer = new byte[Compression.BUFFER];
    private final ByteBuffer bufferView = ByteBuffer.wrap(buffer);
    /** Names of the symlinks extracted so far: no later entry may pass through one. */
    private final Set<String> symlinks = new HashSet<>();
    /** Directories made in the staging folder so far, so that each costs one system call. */
    private final Set<String> madeDirectories = new HashSet<>();
    private final List<DirectoryMetadata> directories = new ArrayList<>();
    private long files;
    private long links;
    private long bytes;

    private SafeRestore(Path staging) throws IOException {
        this.staging = staging;
        this.umask = umask(staging);
    }

    /** Creates a file asking for every permission bit and sees which ones the process's umask kept. */
    private static int umask(Path folder) throws IOException {
        Path probe = folder.resolve("umask-probe");
        Files.createFile(probe, PosixFilePermissions.asFileAttribute(permissions(0777)));
        try {
            return ~mode(Files.getPosixFilePermissions(probe, NOFOLLOW)) & 0777;
        } finally {
            Files.delete(probe);
        }
    }

    /**
     * Reads the stored stream to its end (so a digest check wrapped around it runs) and swaps the
     * entries into the folder. The folder is created when missing, and removed again on failure.
     */
    static Stats restore(InputStream stored, Path folder) throws IOException {
        Path createdTop = null; // the highest folder this restore creates, removed again on failure
        for (Path p = folder; p != null && !Files.exists(p, NOFOLLOW); p = p.getParent()) {
            createdTop = p;
        }
        Files.createDirectories(folder);
        FileTime folderMtime = Files.getLastModifiedTime(folder);
        removeAbandonedStaging(folder);
        Path staging = folder.resolve(STAGING_PREFIX + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(staging);
        var restore = new SafeRestore(staging);
        try {
            restore.extract(stored);
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(staging);
                if (createdTop != null) {
                    deleteTree(createdTop);
                } else {
                    Files.setLastModifiedTime(folder, folderMtime);
                }
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        restore.moveInto(folder);
        deleteTree(staging);
        return new Stats(restore.files, restore.directories.size(), restore.links, restore.bytes);
    }

    /** Staging folders left by a restore that was killed: their process is gone. */
    private static void removeAbandonedStaging(Path folder) throws IOException {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(folder, STAGING_PREFIX + "*")) {
            for (Path staging : stale) {
                String[] parts = staging.getFileName().toString().substring(STAGING_PREFIX.length()).split("-");
                if (parts[0].matches("[0-9]{1,18}") && ProcessHandle.of(Long.parseLong(parts[0])).isEmpty()) {
                    deleteTree(staging);
                }
            }
        }
    }

    private void extract(InputStream stored) throws IOException {
        var buffered = new BufferedInputStream(stored, Compression.BUFFER);
        Compression compression = Compression.detect(buffered);
        // Read, digested and decompressed on a thread of their own while this one writes files.
        try (InputStream decompressed = new ReadAhead(compression.decompress(buffered), Compression.BUFFER)) {
            extractTar(buffered, decompressed);
        } catch (HostileArchive | Meter.DigestMismatch | FileSystemException e) {
            throw e;
        } catch (IOException e) {
            // What is left is the decompressor or tar refusing the bytes: say which format it was.
            throw new IOException("the " + compression.label() + " archive is corrupt or truncated: " + Cli.reason(e), e);
        }
    }

    private void extractTar(InputStream buffered, InputStream decompressed) throws IOException {
        var tar = new TarArchiveInputStream(decompressed, StandardCharsets.UTF_8.name());
        for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
            String name = checkedName(entry.getName());
            if (name.isEmpty()) {
                continue; // "./", the archive's root: the folder's own metadata stays the user's
            }
            extractEntry(tar, entry, name);
        }
        // Read past tar's end-of-archive blocks to the end of the stored object, so that a digest
        // check around it covers every byte, and trailing garbage is noticed by the decompressor.
        decompressed.transferTo(OutputStream.nullOutputStream());
        buffered.transferTo(OutputStream.nullOutputStream());
    }

    private void extractEntry(TarArchiveInputStream tar, TarArchiveEntry entry, String name) throws IOException {
        Path target = staging.resolve(name);
        makeParent(name, target);
        if (entry.isDirectory()) {
            if (madeDirectories.add(name)) {
                // Every directory made so far is in madeDirectories: a taken name is a file or a link.
                replacing(target, () -> Files.createDirectory(target));
            }
            directories.add(new DirectoryMetadata(name, entry.getMode(), entry.getLastModifiedTime()));
            return;
        }
        if (entry.isCharacterDevice() || entry.isBlockDevice() || entry.isFIFO()) {
            throw new HostileArchive("entry " + name + " is a device or a fifo");
        }
        if (entry.isSymbolicLink()) {
            // The target is kept as written, absolute or climbing: a link is restored, never followed.
            replacing(target, () -> Files.createSymbolicLink(target, Path.of(entry.getLinkName())));
            symlinks.add(name);
            setTimes(target, entry.getLastModifiedTime());
            links++;
        } else if (entry.isLink()) {
            String existing = checkedName(entry.getLinkName());
            Path source = staging.resolve(existing);
            if (existing.isEmpty() || !Files.isRegularFile(source, NOFOLLOW)) {
                throw new HostileArchive("entry " + name + " is a hardlink to " + entry.getLinkName()
                        + ", which is not a file earlier in the archive");
            }
            replacing(target, () -> Files.createLink(target, source));
            links++;
        } else if (entry.isFile()) {
            int mode = entry.getMode() & 0777;
            replacing(target, () -> writeFile(tar, target, name, entry.getSize(), mode));
            if ((mode & umask) != 0) {
                setMode(target, mode); // created with the mode, less what the umask took
            }
            // JDK 17 sets times through an open descriptor; not following a link costs a statx
            // more, and this is a regular file just created in our own staging folder.
            Files.getFileAttributeView(target, BasicFileAttributeView.class).setTimes(entry.getLastModifiedTime(), accessed, null);
            files++;
        } else {
            throw new HostileArchive("entry " + name + " has the unsupported tar type " + (char) entry.getLinkFlag());
        }
    }

    /** A file system step that may find its name taken. */
    private interface Step {
        void run() throws IOException;
    }

    /**
     * Creates an entry; a later entry of the same name replaces the earlier one, as tar does. Only
     * a taken name costs a look: the common case is one system call. A link is removed, not followed.
     */
    private void replacing(Path target, Step create) throws IOException {
        try {
            create.run();
        } catch (FileAlreadyExistsException e) {
            String name = staging.relativize(target).toString();
            symlinks.remove(name);
            madeDirectories.removeIf(dir -> dir.equals(name) || dir.startsWith(name + "/"));
            deleteTree(target);
            create.run();
        }
    }

    /** Parents the archive did not list are made once; known ones cost no system call. */
    private void makeParent(String name, Path target) throws IOException {
        int slash = name.lastIndexOf('/');
        if (slash > 0 && !madeDirectories.contains(name.substring(0, slash))) {
            Files.createDirectories(target.getParent());
            for (int i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
                madeDirectories.add(name.substring(0, i));
            }
        }
    }

    /**
     * The entry's name made relative ("./a//b" is "a/b"), or the archive rejected: absolute
     * names, ".." and names that pass through a symlink extracted earlier would let it write
     * outside the folder.
     */
    private String checkedName(String raw) throws HostileArchive {
        if (raw.startsWith("/") || raw.indexOf('\0') >= 0) {
            throw new HostileArchive("entry " + raw + " has an absolute or invalid name");
        }
        var segments = new ArrayList<String>();
        var prefix = new StringBuilder();
        for (String segment : raw.split("/")) {
            if (segment.isEmpty() || segment.equals(".")) {
                continue;
            }
            if (segment.equals("..")) {
                throw new HostileArchive("entry " + raw + " climbs out with ..");
            }
            if (symlinks.contains(prefix.toString())) {
                throw new HostileArchive("entry " + raw + " would be written through the symlink " + prefix);
            }
            if (prefix.length() > 0) {
                prefix.append('/');
            }
            prefix.append(segment);
            segments.add(segment);
        }
        return String.join("/", segments);
    }

    private void writeFile(InputStream tar, Path target, String name, long size, int mode) throws IOException {
        long written = 0;
        try (var out = Files.newByteChannel(target, CREATE_NEW_FILE, PosixFilePermissions.asFileAttribute(permissions(mode)))) {
            for (int n; (n = tar.read(buffer)) > 0; ) {
                bufferView.clear().limit(n);
                while (bufferView.hasRemaining()) {
                    out.write(bufferView);
                }
                written += n;
            }
        }
        if (written != size) {
            throw new IOException("entry " + name + " is truncated: " + written + " of " + size + " bytes");
        }
        bytes += written;
    }

    /**
     * Renames the staged entries into the folder. A staged directory merges into an existing real
     * directory of the same name; anything else replaces what has its name. Files already in the
     * folder that the archive does not name stay.
     */
    private void moveInto(Path folder) throws IOException {
        mergeChildren(staging, folder);
        // Deepest first, so setting a directory's mtime is the last change made inside it.
        for (int i = directories.size() - 1; i >= 0; i--) {
            DirectoryMetadata dir = directories.get(i);
            Path placed = folder.resolve(dir.name());
            if (Files.isDirectory(placed, NOFOLLOW)) {
                setMode(placed, dir.mode());
                setTimes(placed, dir.mtime());
            }
        }
    }

    private static void mergeChildren(Path from, Path into) throws IOException {
        var children = new ArrayList<Path>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(from)) {
            stream.forEach(children::add);
        }
        for (Path child : children) {
            Path destination = into.resolve(child.getFileName().toString());
            boolean bothDirectories = Files.isDirectory(child, NOFOLLOW) && Files.isDirectory(destination, NOFOLLOW);
            if (bothDirectories) {
                mergeChildren(child, destination);
                continue;
            }
            // rename(2) replaces a file or a link in one step, but neither puts a directory in place of
            // something else nor anything in place of a directory: those are removed first. A link
            // already in the folder is replaced, never followed.
            boolean replaceable = !Files.isDirectory(destination, NOFOLLOW) && !Files.isDirectory(child, NOFOLLOW);
            if (!replaceable && Files.exists(destination, NOFOLLOW)) {
                deleteTree(destination);
            }
            Files.move(child, destination, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static void setMode(Path path, int mode) throws IOException {
        Files.setPosixFilePermissions(path, permissions(mode));
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        var permissions = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < BITS.length; i++) {
            if ((mode & (0400 >> i)) != 0) {
                permissions.add(BITS[i]);
            }
        }
        return permissions;
    }

    private static int mode(Set<PosixFilePermission> permissions) {
        int mode = 0;
        for (PosixFilePermission permission : permissions) {
            mode |= 0400 >> permission.ordinal();
        }
        return mode;
    }

    /** A link's or a directory's times, the link not followed; the access time given spares a stat. */
    private void setTimes(Path path, FileTime mtime) throws IOException {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime, accessed, null);
    }

    /** Removes a file, a link or a whole tree, never following a link. */
    static void deleteTree(Path path) throws IOException {
        if (Files.isDirectory(path, NOFOLLOW)) {
            // The archive may have made directories read-only; as their owner we may open them again.
            if (!Files.isWritable(path) || !Files.isExecutable(path)) {
                Files.setPosixFilePermissions(path, EnumSet.of(PosixFilePermission.OWNER_READ,
                        PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
            }
            try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
                for (Path child : children) {
                    deleteTree(child);
                }
            }
        }
        Files.deleteIfExists(path);
    }
}

package lib.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import lib.common.Reason;

/**
 * Restores an archive into a folder so that nothing is lost and nothing escapes. The archive is
 * extracted into a staging folder inside the target (same file system, even when the target is a
 * volume's mount point); only when the whole stream has been read, every entry checked and the
 * digest verified are the entries renamed into place, each move written to a journal so that a
 * failure part way undoes them all. Any failure leaves the target as it was, with no staging left.
 *
 * <p>What keeps the archive inside the folder: names are relative and never climb; an entry's
 * parents are made or checked one by one, never through a link; a name that was a folder stays a
 * folder to the end, so the folders' modes and times, set once everything is in place, are set on
 * folders the restore made or merged into and on nothing a link leads to; hardlinks only join a
 * file the archive made. Memory does not grow with the number of entries: what must be remembered
 * of each goes to logs in the staging folder.
 */
public final class SafeRestore {

    /** What a restore put in place, and how many of the archive's entries --exclude left out. */
    public record Stats(long files, long directories, long links, long bytes, long excluded) {}

    /** The folder's file system failed (full, read-only, refused): the archive is not to blame. */
    static final class TargetFailure extends IOException {
        TargetFailure(String message, IOException cause) {
            super(message, cause);
        }
    }

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final Set<OpenOption> CREATE_NEW_FILE =
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    private static final PosixFilePermission[] BITS = PosixFilePermission.values(); // OWNER_READ … OTHERS_EXECUTE
    private static final String STAGING_PREFIX = Archive.OWN_PREFIX + "restore-";
    /** A staging folder without its lock file this old was left by a restore killed as it began. */
    private static final Duration UNLOCKED_STAGING_AGE = Duration.ofHours(1);
    /** Folders remembered as made or checked; more are checked again with an lstat, so memory stays bounded. */
    private static final int KNOWN_DIRECTORIES = 4096;

    private final Path folder;
    /** Names the restore leaves out: what is in the folder under them stays as it is. */
    private final Exclusion exclusion;
    private final Path tree;
    /** The permission bits file creation drops here: only a mode with one of them needs a chmod. */
    private final int umask;
    /** The access time restored files get: the restore's, as tar gives them. */
    private final FileTime accessed = FileTime.from(Instant.now());
    private final byte[] buffer = new byte[Compression.BUFFER];
    private final ByteBuffer bufferView = ByteBuffer.wrap(buffer);
    /** Names in the tree known to be real folders; a folder is never replaced, so what is here stays true. */
    private final Map<String, Boolean> knownDirectories = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > KNOWN_DIRECTORIES;
        }
    };
    /** Every folder entry's name, mode and mtime (kind = mode, a and b = seconds and nanos), set last. */
    private final SpillLog directories;
    /** What moves the staged entries into the folder, all or nothing. */
    private final Placement placement;
    /** The exception the archive's stream threw, told apart from the file system's. */
    private IOException archiveFailure;
    private long files;
    private long directoryEntries;
    private long links;
    private long bytes;
    private long excluded;

    private SafeRestore(Path staging, Path folder, Exclusion exclusion) throws IOException {
        this.folder = folder;
        this.exclusion = exclusion;
        this.tree = Files.createDirectory(staging.resolve("tree"));
        this.umask = umask(staging);
        this.directories = new SpillLog(staging.resolve("directories"));
        this.placement = new Placement(folder, tree, staging, directories, accessed);
    }

    /** Creates a file asking for every permission bit and sees which ones the process's umask kept. */
    private static int umask(Path staging) throws IOException {
        Path probe = staging.resolve("umask-probe");
        Files.createFile(probe, PosixFilePermissions.asFileAttribute(permissions(0777)));
        try {
            return ~mode(probe) & 0777;
        } finally {
            Files.delete(probe);
        }
    }

    /**
     * Reads the stored stream to its end (so a digest check wrapped around it runs) and swaps the
     * entries into the folder. The folder is created when missing, and removed again on failure.
     * Whatever fails, an OutOfMemoryError included, the folder is left as it was.
     */
    public static Stats restore(InputStream stored, Path folder) throws IOException {
        return restore(stored, folder, Exclusion.NONE);
    }

    /** restore, leaving out the entries exclusion names. */
    public static Stats restore(InputStream stored, Path folder, Exclusion exclusion) throws IOException {
        boolean[] given = {false};
        return restore(() -> {
            if (given[0]) {
                return null;
            }
            given[0] = true;
            return stored;
        }, false, folder, exclusion);
    }

    /** The stored streams of an archive's groups, each a compressed tar, one after the other. */
    public interface Groups {
        /** The next group's stream, checked against its digest when it ends; null after the last. */
        InputStream next() throws IOException;
    }

    /**
     * Restores an archive made of groups, each a tar of its own, as restore does one stream: every
     * group read to its end and every rule applied across them (a link one group makes is never
     * written through by another), and nothing placed until the last group is read and checked.
     */
    public static Stats restore(Groups groups, Path folder) throws IOException {
        return restore(groups, true, folder, Exclusion.NONE);
    }

    /** restore, leaving out the entries exclusion names. */
    public static Stats restore(Groups groups, Path folder, Exclusion exclusion) throws IOException {
        return restore(groups, true, folder, exclusion);
    }

    /** concatenated: the groups' tars follow each other, each with its end-of-archive blocks (tar -i). */
    private static Stats restore(Groups groups, boolean concatenated, Path folder, Exclusion exclusion) throws IOException {
        Path createdTop = null; // the highest folder this restore creates, removed again on failure
        for (Path p = folder; p != null && !Files.exists(p, NOFOLLOW); p = p.getParent()) {
            createdTop = p;
        }
        Files.createDirectories(folder);
        FileTime folderMtime = Files.getLastModifiedTime(folder);
        removeAbandonedStaging(folder);
        // Random, not the pid: in a pod every restore may be pid 1, and the lock says who is alive.
        Path staging = folder.resolve(STAGING_PREFIX + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(staging);
        Throwable failure = null;
        FileChannel lockFile = null;
        try {
            // Held until the staging folder is gone: another restore takes an unlocked one for abandoned.
            lockFile = FileChannel.open(staging.resolve("lock"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            lockFile.lock();
            try (var resources = new Resources(new SafeRestore(staging, folder, exclusion))) {
                SafeRestore restore = resources.restore();
                restore.extract(groups, concatenated);
                restore.placement.place();
                return new Stats(restore.files, restore.directoryEntries, restore.links, restore.bytes, restore.excluded);
            }
        } catch (Throwable e) {
            failure = e;
            throw e;
        } finally {
            cleanUp(staging, folder, createdTop, folderMtime, failure);
            if (lockFile != null) {
                lockFile.close();
            }
        }
    }

    /** Closes the restore's logs, so that try-with-resources does it in every case. */
    private record Resources(SafeRestore restore) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try (SpillLog d = restore.directories; Placement p = restore.placement) {
                // both closed, the second even when the first fails
            }
        }
    }

    /** Removes the staging folder; after a failure also the folders this restore created, or else the folder's mtime is put back. */
    private static void cleanUp(Path staging, Path folder, Path createdTop, FileTime folderMtime, Throwable failure) {
        try {
            deleteTree(staging);
            if (failure != null && createdTop != null) {
                deleteTree(createdTop);
            } else if (failure != null) {
                Files.setLastModifiedTime(folder, folderMtime);
            }
        } catch (IOException | RuntimeException cleanup) {
            if (failure != null) {
                failure.addSuppressed(cleanup);
            }
        }
    }

    /**
     * Staging folders left by a restore that was killed: nobody holds their lock. One without a
     * lock file is a restore between making its folder and its lock, unless it is old.
     */
    private static void removeAbandonedStaging(Path folder) throws IOException {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(folder, STAGING_PREFIX + "*")) {
            for (Path staging : stale) {
                if (!Files.isDirectory(staging, NOFOLLOW)) {
                    continue;
                }
                try (FileChannel lockFile = FileChannel.open(staging.resolve("lock"), StandardOpenOption.WRITE, NOFOLLOW)) {
                    FileLock lock = lockFile.tryLock();
                    if (lock != null) {
                        deleteTree(staging);
                    }
                } catch (OverlappingFileLockException e) {
                    // held by a restore running in this JVM
                } catch (NoSuchFileException e) {
                    if (isAbandonedWithoutLock(staging)) {
                        deleteTree(staging);
                    }
                }
            }
        }
    }

    /**
     * A staging folder without a lock file: one of an earlier version, named PID-RANDOM, whose
     * process is gone; or one made so long ago that its restore died before it took its lock.
     */
    private static boolean isAbandonedWithoutLock(Path staging) throws IOException {
        String[] parts = staging.getFileName().toString().substring(STAGING_PREFIX.length()).split("-");
        if (parts.length == 2 && parts[0].matches("[0-9]{1,18}")) {
            return ProcessHandle.of(Long.parseLong(parts[0])).isEmpty();
        }
        return Files.getLastModifiedTime(staging, NOFOLLOW).toInstant().isBefore(Instant.now().minus(UNLOCKED_STAGING_AGE));
    }

    /**
     * Reads the groups, decompressed one after the other on a thread of their own (ReadAhead: one
     * pipeline for them all, so that no group waits for its first bytes), into one tar reader.
     */
    private void extract(Groups groups, boolean concatenated) throws IOException {
        var decompressing = new DecompressedGroups(groups);
        try (InputStream decompressed = new ReadAhead(decompressing, Compression.BUFFER)) {
            extractTar(decompressed, concatenated);
        } catch (HostileArchive | Meter.DigestMismatch | TargetFailure e) {
            throw e;
        } catch (TarReader.Corrupt e) {
            throw new IOException(decompressing.archive() + " is corrupt: " + e.getMessage(), e);
        } catch (IOException e) {
            if (decompressing.isStoreFailure(e)) {
                throw e; // the store's read failed, after its retries: no fault of the archive's
            }
            // What is left is the decompressor or tar refusing the bytes: say which format it was.
            throw new IOException(decompressing.archive() + " is corrupt or truncated: " + Reason.of(e), e);
        }
    }

    private void extractTar(InputStream decompressed, boolean concatenated) throws IOException {
        var tar = new TarReader(decompressed, concatenated);
        for (TarReader.Entry entry; (entry = tar.next()) != null; ) {
            String name = checkedName(entry.name());
            if (name.isEmpty()) {
                continue; // "./", the archive's root: the folder's own metadata stays the user's
            }
            if (name.startsWith(Archive.OWN_PREFIX)) {
                throw new HostileArchive("entry " + name + " has a name starting with " + Archive.OWN_PREFIX
                        + ", which this tool keeps for its own staging");
            }
            if (exclusion.excludesOrIsInside(name) || entry.type() == TarHeader.HARDLINK && entry.link() != null
                    && exclusion.excludesOrIsInside(checkedName(entry.link()))) {
                excluded++; // nor a link to a file left out: there is nothing for it to join
                continue;
            }
            extractEntry(tar, entry, name);
        }
        // Read past tar's end-of-archive blocks to the end of the stored object, so that a digest
        // check around it covers every byte, and trailing garbage is noticed by the decompressor.
        decompressed.transferTo(OutputStream.nullOutputStream());
    }

    private void extractEntry(TarReader tar, TarReader.Entry entry, String name) throws IOException {
        Path target = tree.resolve(name);
        makeParents(name);
        switch (entry.type()) {
            case TarHeader.DIRECTORY -> {
                if (!knownDirectories.containsKey(name)) {
                    makeDirectory(name, target);
                }
                Instant mtime = entry.mtime().toInstant();
                directories.append(name, entry.mode(), mtime.getEpochSecond(), mtime.getNano(), 0);
                directoryEntries++;
            }
            case TarHeader.SYMLINK -> {
                String link = entry.link();
                if (link == null || link.indexOf('\0') >= 0) {
                    throw new HostileArchive("entry " + name + " is a symlink without a valid target");
                }
                // The target is kept as written, absolute or climbing: a link is restored, never followed.
                replacing(name, target, () -> Files.createSymbolicLink(target, Path.of(link)));
                onTarget(name, () -> setTimes(target, entry.mtime(), accessed));
                links++;
            }
            case TarHeader.HARDLINK -> {
                String existing = entry.link() == null ? "" : checkedName(entry.link());
                if (existing.isEmpty() || existing.equals(name) || !isFileOfTheTree(existing)) {
                    throw new HostileArchive("entry " + name + " is a hardlink to " + entry.link()
                            + ", which is not a file earlier in the archive");
                }
                Path source = tree.resolve(existing);
                replacing(name, target, () -> Files.createLink(target, source));
                links++;
            }
            case TarHeader.FILE -> {
                int mode = entry.mode() & 0777;
                replacing(name, target, () -> writeFile(tar, target, name, mode, entry.mtime()));
                files++;
                bytes += entry.size();
            }
            case '3', '4', '6' -> throw new HostileArchive("entry " + name + " is a device or a fifo");
            default -> throw new HostileArchive("entry " + name + " has the unsupported tar type " + (char) entry.type());
        }
    }

    /** A folder entry: made, or found already a folder, or put in place of a file or link of its name. */
    private void makeDirectory(String name, Path target) throws IOException {
        onTarget(name, () -> {
            try {
                Files.createDirectory(target);
            } catch (FileAlreadyExistsException e) {
                if (!Files.readAttributes(target, BasicFileAttributes.class, NOFOLLOW).isDirectory()) {
                    Files.delete(target);
                    Files.createDirectory(target);
                }
            }
        });
        knownDirectories.put(name, Boolean.TRUE);
    }

    /** A file system step that may find its name taken. */
    interface Step {
        void run() throws IOException;
    }

    /**
     * Creates an entry; a later entry of the same name replaces an earlier file or link, as tar does.
     * Only a taken name costs a look: the common case is one system call. A link is removed, not
     * followed. A folder is never replaced: a folder that became a link could lead what is restored
     * below it, and the metadata set on it at the end, out of the tree (GNU tar refuses this too).
     */
    private void replacing(String name, Path target, Step create) throws IOException {
        try {
            create.run();
        } catch (FileAlreadyExistsException e) {
            BasicFileAttributes existing = onTarget(name, () -> Files.readAttributes(target, BasicFileAttributes.class, NOFOLLOW));
            if (existing.isDirectory()) {
                throw new HostileArchive("entry " + name + " would replace the folder " + name
                        + " made earlier in the archive; a folder stays a folder");
            }
            onTarget(name, () -> {
                Files.delete(target);
                create.run();
            });
        } catch (IOException e) {
            throw asTargetFailure(name, e);
        }
    }

    /**
     * Makes the entry's parents that are not known yet, top down. A parent that exists must be a
     * real folder: one that is a link (by any name the file system takes for it, case-insensitive
     * volumes included) would lead the entry out of the tree.
     */
    private void makeParents(String name) throws IOException {
        int slash = name.lastIndexOf('/');
        if (slash < 0 || knownDirectories.containsKey(name.substring(0, slash))) {
            return;
        }
        for (int i = name.indexOf('/'); i > 0 && i <= slash; i = name.indexOf('/', i + 1)) {
            String parent = name.substring(0, i);
            if (knownDirectories.containsKey(parent)) {
                continue;
            }
            Path dir = tree.resolve(parent);
            try {
                Files.createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                requireDirectory(parent, name);
            } catch (IOException e) {
                throw asTargetFailure(name, e);
            }
            knownDirectories.put(parent, Boolean.TRUE);
        }
    }

    private void requireDirectory(String parent, String name) throws IOException {
        BasicFileAttributes found = onTarget(name, () -> Files.readAttributes(tree.resolve(parent), BasicFileAttributes.class, NOFOLLOW));
        if (found.isSymbolicLink()) {
            throw new HostileArchive("entry " + name + " would be written through the symlink " + parent);
        }
        if (!found.isDirectory()) {
            throw new HostileArchive("entry " + name + " needs " + parent + " as a folder, but the archive made it a file");
        }
    }

    /** Whether name is a regular file of the tree, reached through real folders only. */
    private boolean isFileOfTheTree(String name) throws IOException {
        for (int i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
            String parent = name.substring(0, i);
            if (!knownDirectories.containsKey(parent)
                    && !onTarget(name, () -> lstat(tree.resolve(parent))).map(BasicFileAttributes::isDirectory).orElse(false)) {
                return false;
            }
        }
        return onTarget(name, () -> lstat(tree.resolve(name))).map(BasicFileAttributes::isRegularFile).orElse(false);
    }

    static Optional<BasicFileAttributes> lstat(Path path) throws IOException {
        try {
            return Optional.of(Files.readAttributes(path, BasicFileAttributes.class, NOFOLLOW));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /**
     * The entry's name made relative ("./a//b" is "a/b"), or the archive rejected: absolute names
     * (from whichever header), ".." and NUL would let it write outside the folder.
     */
    private static String checkedName(String raw) throws HostileArchive {
        if (raw.startsWith("/") || raw.indexOf('\0') >= 0) {
            throw new HostileArchive("entry " + raw.replace('\0', '?') + " has an absolute or invalid name");
        }
        var name = new StringBuilder(raw.length());
        for (String segment : raw.split("/")) {
            if (segment.isEmpty() || segment.equals(".")) {
                continue;
            }
            if (segment.equals("..")) {
                throw new HostileArchive("entry " + raw + " climbs out with ..");
            }
            if (name.length() > 0) {
                name.append('/');
            }
            name.append(segment);
        }
        return name.toString();
    }

    /**
     * Writes the entry to a new file made with its mode, then sets the bits the umask took and its
     * times: through the descriptor that wrote it where the JVM lets us, or else by the path.
     */
    private void writeFile(TarReader tar, Path target, String name, int mode, FileTime mtime) throws IOException {
        int modeToSet = (mode & umask) != 0 ? mode : -1;
        boolean metadataSet;
        try (var out = Files.newByteChannel(target, CREATE_NEW_FILE, PosixFilePermissions.asFileAttribute(permissions(mode)))) {
            for (int n; (n = readArchive(tar)) > 0; ) {
                bufferView.clear().limit(n);
                while (bufferView.hasRemaining()) {
                    out.write(bufferView);
                }
            }
            metadataSet = DescriptorMetadata.set(out, target, modeToSet, mtime, accessed);
        } catch (IOException e) {
            if (e == archiveFailure || e instanceof FileAlreadyExistsException) {
                throw e;
            }
            throw asTargetFailure(name, e);
        }
        if (!metadataSet) {
            onTarget(name, () -> {
                if (modeToSet >= 0) {
                    setMode(target, modeToSet);
                }
                // JDK 17 sets times through an open descriptor; not following a link costs a statx
                // more, and this is a regular file just created in our own staging folder.
                Files.getFileAttributeView(target, BasicFileAttributeView.class).setTimes(mtime, accessed, null);
            });
        }
    }

    private int readArchive(TarReader tar) throws IOException {
        try {
            return tar.read(buffer, 0, buffer.length);
        } catch (IOException e) {
            archiveFailure = e;
            throw e;
        }
    }

    /** A step on the folder's file system, whose failures are the file system's. */
    private interface TargetStep<T> {
        T run() throws IOException;
    }

    private <T> T onTarget(String name, TargetStep<T> step) throws IOException {
        try {
            return step.run();
        } catch (IOException e) {
            throw asTargetFailure(name, e);
        }
    }

    private void onTarget(String name, Step step) throws IOException {
        onTarget(name, () -> {
            step.run();
            return null;
        });
    }

    /** The file system's error as what it is ("no space left on device"), naming the entry; the archive's own errors pass. */
    private IOException asTargetFailure(String name, IOException e) {
        if (e instanceof HostileArchive || e instanceof TargetFailure || e == archiveFailure) {
            return e;
        }
        return targetFailure(folder, name, e);
    }

    static TargetFailure targetFailure(Path folder, String name, IOException e) {
        String reason = e instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason()
                : e instanceof FileAlreadyExistsException ? "it exists" : Reason.of(e);
        return new TargetFailure("writing " + name + " into " + folder + ": " + reason, e);
    }

    static void setMode(Path path, int mode) throws IOException {
        Files.setPosixFilePermissions(path, permissions(mode));
    }

    static int mode(Path path) throws IOException {
        int mode = 0;
        for (PosixFilePermission permission : Files.getPosixFilePermissions(path, NOFOLLOW)) {
            mode |= 0400 >> permission.ordinal();
        }
        return mode;
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

    /** A link's or a directory's times, the link not followed; the access time given spares a stat. */
    static void setTimes(Path path, FileTime mtime, FileTime accessed) throws IOException {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime, accessed, null);
    }

    /** Removes a file, a link or a whole tree, never following a link. */
    public static void deleteTree(Path path) throws IOException {
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

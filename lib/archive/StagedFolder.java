package lib.archive;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import lib.common.Reason;

import static lib.archive.SafeRestore.deleteTree;
import static lib.archive.SafeRestore.lstat;
import static lib.archive.SafeRestore.mode;
import static lib.archive.SafeRestore.permissions;
import static lib.archive.SafeRestore.setMode;
import static lib.archive.SafeRestore.setTimes;
import static lib.archive.SafeRestore.targetFailure;

/**
 * One folder of a restore: its staging folder inside it (same file system, even when the folder is
 * a volume's mount point), held by a lock while the restore lives, the entries extracted there
 * under SafeRestore's rules, and their Placement into the folder. Closing it removes the staging;
 * after a failure, also the folders it created, or else the folder's mtime is put back.
 */
final class StagedFolder {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final Set<OpenOption> CREATE_NEW_FILE =
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    private static final String STAGING_PREFIX = Archive.OWN_PREFIX + "restore-";
    /** A staging folder without its lock file this old was left by a restore killed as it began. */
    private static final Duration UNLOCKED_STAGING_AGE = Duration.ofHours(1);
    /** Folders remembered as made or checked; more are checked again with an lstat, so memory stays bounded. */
    private static final int KNOWN_DIRECTORIES = 4096;

    private final Path folder;
    /** The highest folder this restore created, removed again on failure; null when the folder was there. */
    private final Path createdTop;
    private final FileTime folderMtime;
    private final Path staging;
    private final FileChannel lockFile;
    private final Path tree;
    /** The permission bits file creation drops here: only a mode with one of them needs a chmod. */
    private final int umask;
    /** The access time restored files get: the restore's, as tar gives them. */
    private final FileTime accessed;
    private final byte[] buffer;
    private final ByteBuffer bufferView;
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
    long files;
    long directoryEntries;
    long links;
    long bytes;
    long leftOut;

    /**
     * Makes the folder when missing, takes back what killed restores left in it, and stages into a
     * folder of its own in it; buffer is the restore's, shared by its folders; exclusion names
     * what the restore leaves alone, and stop is asked between the moves of the placement.
     */
    static StagedFolder open(Path folder, FileTime accessed, byte[] buffer, Exclusion exclusion, StopRequest stop)
            throws IOException {
        Path createdTop = null;
        for (Path p = folder; p != null && !Files.exists(p, NOFOLLOW); p = p.getParent()) {
            createdTop = p;
        }
        Files.createDirectories(folder);
        takeBackKilled(folder);
        FileTime folderMtime = Files.getLastModifiedTime(folder);
        // Random, not the pid: in a pod every restore may be pid 1, and the lock says who is alive.
        Path staging = folder.resolve(STAGING_PREFIX + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(staging);
        FileChannel lockFile = null;
        try {
            // Held until the staging folder is gone: another restore takes an unlocked one for abandoned.
            lockFile = FileChannel.open(staging.resolve("lock"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            lockFile.lock();
            return new StagedFolder(folder, createdTop, folderMtime, staging, lockFile, accessed, buffer, exclusion, stop);
        } catch (IOException | RuntimeException | Error e) {
            cleanUp(staging, folder, createdTop, folderMtime, e);
            if (lockFile != null) {
                lockFile.close();
            }
            throw e;
        }
    }

    private StagedFolder(Path folder, Path createdTop, FileTime folderMtime, Path staging, FileChannel lockFile,
            FileTime accessed, byte[] buffer, Exclusion exclusion, StopRequest stop) throws IOException {
        this.folder = folder;
        this.createdTop = createdTop;
        this.folderMtime = folderMtime;
        this.staging = staging;
        this.lockFile = lockFile;
        this.tree = Files.createDirectory(staging.resolve("tree"));
        this.umask = umask(staging);
        this.accessed = accessed;
        this.buffer = buffer;
        this.bufferView = ByteBuffer.wrap(buffer);
        this.directories = new SpillLog(staging.resolve("directories"));
        SpillLog directoriesToClose = directories;
        try {
            this.placement = new Placement(folder, tree, staging, directories, accessed, folderMtime, exclusion, stop);
        } catch (IOException | RuntimeException e) {
            directoriesToClose.close();
            throw e;
        }
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
     * Moves the staged entries into the folder, all or nothing (Placement); a file or link left
     * out there, for a folder holding excluded paths in its place, is counted as excluded.
     */
    void place() throws IOException {
        placement.place();
        files -= placement.leftOutFiles;
        links -= placement.leftOutLinks;
        leftOut = placement.leftOutFiles + placement.leftOutLinks;
    }

    /** Takes back a place() that succeeded, as another folder of the restore could not be placed. */
    void undo(Throwable cause) {
        placement.undo(cause);
    }

    /**
     * Closes the logs, removes the staging (and after the restore's failure, null if none, what it
     * made), then lets go of the lock.
     */
    void close(Throwable failure) throws IOException {
        try (FileChannel l = lockFile) {
            try (SpillLog d = directories; Placement p = placement) {
                // both closed, the second even when the first fails
            } finally {
                cleanUp(staging, folder, createdTop, folderMtime, failure);
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
     * Takes back the restores into this folder that were killed (nobody holds their staging's lock):
     * each one's moves undone from its journal (Placement.rollBack), then its staging removed and the
     * folder's mtime put back. One without a lock file is a restore between making its folder and
     * its lock, unless it is old. Returns how many it took back.
     */
    static int takeBackKilled(Path folder) throws IOException {
        int takenBack = 0;
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(folder, STAGING_PREFIX + "*")) {
            for (Path staging : stale) {
                if (!Files.isDirectory(staging, NOFOLLOW)) {
                    continue;
                }
                FileChannel lockFile;
                try {
                    lockFile = FileChannel.open(staging.resolve("lock"), StandardOpenOption.WRITE, NOFOLLOW);
                } catch (NoSuchFileException e) {
                    if (isAbandonedWithoutLock(staging)) {
                        takeBack(folder, staging);
                        takenBack++;
                    }
                    continue;
                }
                // Held while its moves are undone: two runs that find it do not both undo them.
                try (FileChannel l = lockFile; FileLock lock = lockFile.tryLock()) {
                    if (lock != null) {
                        takeBack(folder, staging);
                        takenBack++;
                    }
                } catch (OverlappingFileLockException e) {
                    // held by a restore running in this JVM
                }
            }
        }
        return takenBack;
    }

    /** Undoes a killed restore's moves; its staging, holding what it moved aside, stays if one cannot be undone. */
    private static void takeBack(Path folder, Path staging) throws IOException {
        FileTime before;
        try {
            before = Placement.rollBack(folder, staging);
        } catch (IOException e) {
            throw new IOException("taking back an earlier restore into " + folder + ", killed part way: " + Reason.of(e)
                    + "; what it moved aside is kept in " + staging, e);
        }
        deleteTree(staging);
        if (before != null) {
            Files.setLastModifiedTime(folder, before);
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
     * Stages one entry; name is its name within this folder, and hardlinkTo, for a hard link, its
     * target's (checked by the caller: relative, not climbing, in this folder).
     */
    void extract(TarReader tar, TarReader.Entry entry, String name, String hardlinkTo) throws IOException {
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
                String existing = hardlinkTo == null ? "" : hardlinkTo;
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

    /**
     * Creates an entry; a later entry of the same name replaces an earlier file or link, as tar does.
     * Only a taken name costs a look: the common case is one system call. A link is removed, not
     * followed. A folder is never replaced: a folder that became a link could lead what is restored
     * below it, and the metadata set on it at the end, out of the tree (GNU tar refuses this too).
     */
    private void replacing(String name, Path target, SafeRestore.Step create) throws IOException {
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

    private void onTarget(String name, SafeRestore.Step step) throws IOException {
        onTarget(name, () -> {
            step.run();
            return null;
        });
    }

    /** The file system's error as what it is ("no space left on device"), naming the entry; the archive's own errors pass. */
    private IOException asTargetFailure(String name, IOException e) {
        if (e instanceof HostileArchive || e instanceof SafeRestore.TargetFailure || e == archiveFailure) {
            return e;
        }
        return targetFailure(folder, name, e);
    }

}

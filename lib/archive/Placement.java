package lib.archive;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

/**
 * Moves a restore's staged tree into the folder, all or nothing. Each move is written to a journal
 * in the staging folder; what a staged entry replaces is moved aside into replaced/, not deleted.
 * If any step fails, the moves are undone newest first, replaced entries put back, and folders
 * merged into get their modes and times back. The folders' own modes and times are set last,
 * once everything is in place.
 */
final class Placement implements AutoCloseable {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    // Kinds of journal lines: what was done, and so what undoing it takes.
    /** An entry moved into place; a = the number of what it replaced in replaced/ (-1: nothing), b = that one's mode to put back (-1: none). */
    private static final long PLACED = 1;
    /** A folder already there that staged entries merged into; a = its mode, b and c = its mtime. */
    private static final long MERGED = 2;

    private final Path folder;
    private final Path tree;
    private final Path replaced;
    /** Every folder entry's name, mode and mtime (kind = mode, a and b = seconds and nanos), set last. */
    private final SpillLog directories;
    /** The moves into the folder, to undo them all if one fails. */
    private final SpillLog journal;
    private final FileTime accessed;
    private long backups;

    /** tree is the staged tree; staging, the restore's own folder, takes the journal and replaced/. */
    Placement(Path folder, Path tree, Path staging, SpillLog directories, FileTime accessed) throws IOException {
        this.folder = folder;
        this.tree = tree;
        this.replaced = Files.createDirectory(staging.resolve("replaced"));
        this.directories = directories;
        this.journal = new SpillLog(staging.resolve("journal"));
        this.accessed = accessed;
    }

    /**
     * Moves the staged entries into the folder, then sets the folders' modes and times; if any
     * step fails, undoes every move, newest first, and puts back the modes and times of folders
     * that were merged into.
     */
    void place() throws IOException {
        try {
            merge(tree, folder, "");
            directories.readNewestFirst(this::applyDirectoryMetadata);
        } catch (IOException | RuntimeException | Error e) {
            undo(e);
            if (e instanceof IOException io) {
                throw io instanceof SafeRestore.TargetFailure ? io : SafeRestore.targetFailure(folder, "the restored entries", io);
            }
            throw e;
        }
    }

    /**
     * Moves the children of a staged folder into its counterpart in the folder. A staged folder
     * merges into a real folder of the same name; anything else is moved aside (into replaced/,
     * for the undo) and the staged entry takes its name. Entries already in the folder that the
     * archive does not name stay.
     */
    private void merge(Path from, Path into, String prefix) throws IOException {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(from)) {
            for (Path child : children) {
                String childName = child.getFileName().toString();
                String name = prefix + childName;
                Path destination = into.resolve(childName);
                BasicFileAttributes existing = SafeRestore.lstat(destination).orElse(null);
                if (existing != null && existing.isDirectory() && Files.isDirectory(child, NOFOLLOW)) {
                    int mode = SafeRestore.mode(destination);
                    Instant mtime = existing.lastModifiedTime().toInstant();
                    journal.append(name, MERGED, mode, mtime.getEpochSecond(), mtime.getNano());
                    withOwnerAccess(destination, mode, () -> merge(child, destination, name + "/"));
                    continue;
                }
                long backup = -1;
                int backupMode = -1;
                Path kept = null;
                if (existing != null) {
                    backup = backups++;
                    kept = replaced.resolve(Long.toString(backup));
                    if (existing.isDirectory() && !Files.isWritable(destination)) {
                        // rename(2) of a folder to another parent rewrites its "..": it must be writable.
                        backupMode = SafeRestore.mode(destination);
                        SafeRestore.setMode(destination, backupMode | 0700);
                    }
                    Files.move(destination, kept, StandardCopyOption.ATOMIC_MOVE);
                }
                try {
                    // A rename, never a copy: staging is on the folder's file system.
                    Files.move(child, destination, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException | RuntimeException e) {
                    if (kept != null) {
                        putBack(kept, destination, backupMode);
                    }
                    throw e;
                }
                journal.append(name, PLACED, backup, backupMode, 0);
            }
        }
    }

    /** Runs step with the owner's rwx on a folder (a Go module cache's are read-only), then puts its mode back. */
    private static void withOwnerAccess(Path dir, int mode, SafeRestore.Step step) throws IOException {
        boolean opened = !Files.isWritable(dir) || !Files.isExecutable(dir);
        if (opened) {
            SafeRestore.setMode(dir, mode | 0700);
        }
        try {
            step.run();
        } finally {
            if (opened) {
                SafeRestore.setMode(dir, mode);
            }
        }
    }

    private void applyDirectoryMetadata(SpillLog.Line line) throws IOException {
        Path placed = folder.resolve(line.name());
        // Every name here was a real folder to the end of the extraction, made or merged into at
        // the same place in the folder: no link can stand on its path.
        if (Files.isDirectory(placed, NOFOLLOW)) {
            SafeRestore.setMode(placed, (int) line.kind());
            SafeRestore.setTimes(placed, FileTime.from(Instant.ofEpochSecond(line.a(), line.b())), accessed);
        }
    }

    /**
     * Undoes every move, newest first, and puts back the modes and times of folders merged into:
     * after a step of place() failed, or after a place() that worked when another folder of the
     * same restore could not be placed. What cannot be undone is added to cause.
     */
    void undo(Throwable cause) {
        try {
            // Every line is undone even when one cannot be: each put back is worth having.
            journal.readNewestFirst(line -> {
                try {
                    undo(line);
                } catch (IOException | RuntimeException undo) {
                    cause.addSuppressed(undo);
                }
            });
        } catch (IOException | RuntimeException undo) {
            cause.addSuppressed(undo);
        }
    }

    /** Undoes one journal line: removes what was placed and puts back what it replaced, or a merged folder's mode and times. */
    private void undo(SpillLog.Line line) throws IOException {
        Path path = folder.resolve(line.name());
        if (line.kind() == MERGED) {
            // Only what changed: a folder of another user's takes no chmod of ours, even a vain one.
            if (SafeRestore.mode(path) != line.a()) {
                SafeRestore.setMode(path, (int) line.a());
            }
            FileTime mtime = FileTime.from(Instant.ofEpochSecond(line.b(), line.c()));
            if (!Files.getLastModifiedTime(path, NOFOLLOW).equals(mtime)) {
                SafeRestore.setTimes(path, mtime, accessed);
            }
            return;
        }
        Path parent = path.getParent();
        withOwnerAccess(parent, SafeRestore.mode(parent), () -> {
            SafeRestore.deleteTree(path);
            if (line.a() >= 0) {
                putBack(replaced.resolve(Long.toString(line.a())), path, (int) line.b());
            }
        });
    }

    private static void putBack(Path kept, Path destination, int mode) throws IOException {
        Files.move(kept, destination, StandardCopyOption.ATOMIC_MOVE);
        if (mode >= 0) {
            SafeRestore.setMode(destination, mode);
        }
    }

    @Override
    public void close() throws IOException {
        journal.close();
    }
}

package lib.archive;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

/**
 * Moves a restore's staged tree into the folder, all or nothing. Each move is written to a journal
 * in the staging folder before it is made; what a staged entry replaces is moved aside into
 * replaced/, not deleted. If any step fails, or the restore is told to stop, the moves are undone
 * newest first, replaced entries put back, and folders merged into get their modes and times back.
 * A restore killed outright (SIGKILL) leaves its journal, and the next run takes it back the same
 * way (rollBack). The folders' own modes and times are set last, once everything is in place.
 */
final class Placement implements AutoCloseable {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    // Kinds of journal lines: what is about to be done, and so what undoing it takes. A line is
    // written before its step, so that the journal names every step a killed restore may have made;
    // undoing a line looks at what is there to tell how far its step went.
    /** The journal's first line: the folder's mtime before the restore made its staging in it (b and c). */
    private static final long FOLDER = 0;
    /**
     * An entry moved into place; a = the number of what it replaces in replaced/ (-1: nothing),
     * b = that one's mode to put back (-1: none).
     */
    private static final long PLACING = 1;
    /** A folder already there that staged entries merge into; a = its mode, b and c = its mtime. */
    private static final long MERGING = 2;

    private final Path folder;
    private final Path tree;
    private final Path replaced;
    /** Every folder entry's name, mode and mtime (kind = mode, a and b = seconds and nanos), set last; null in a rollBack. */
    private final SpillLog directories;
    /** The moves into the folder, to undo them all if one fails, or in the next run if this one is killed. */
    private final SpillLog journal;
    private final FileTime accessed;
    private final Exclusion exclusion;
    private final StopRequest stop;
    private long backups;
    /** Files and links of the archive left out for a folder holding excluded paths in their place. */
    long leftOutFiles;
    long leftOutLinks;

    /**
     * tree is the staged tree; staging, the restore's own folder, takes the journal and replaced/;
     * folderMtime is the folder's before the staging was made in it.
     */
    Placement(Path folder, Path tree, Path staging, SpillLog directories, FileTime accessed, FileTime folderMtime,
            Exclusion exclusion, StopRequest stop) throws IOException {
        this.folder = folder;
        this.tree = tree;
        this.replaced = Files.createDirectory(staging.resolve("replaced"));
        this.directories = directories;
        this.journal = new SpillLog(staging.resolve("journal"));
        this.accessed = accessed;
        this.exclusion = exclusion;
        this.stop = stop;
        Instant before = folderMtime.toInstant();
        journal.appendWritten("", FOLDER, 0, before.getEpochSecond(), before.getNano());
    }

    private Placement(Path folder, Path staging, SpillLog journal) {
        this.folder = folder;
        this.tree = staging.resolve("tree");
        this.replaced = staging.resolve("replaced");
        this.directories = null;
        this.journal = journal;
        this.accessed = FileTime.from(Instant.now());
        this.exclusion = Exclusion.NONE;
        this.stop = null;
    }

    /**
     * Takes back the moves of a restore that was killed (its staging no longer locked): every line
     * of its journal undone, newest first. Returns the folder's mtime before that restore, to be put
     * back once its staging is gone; null when it wrote no journal (it placed nothing). Throws when
     * a move cannot be undone: the staging, which holds what was moved aside, must then stay.
     */
    static FileTime rollBack(Path folder, Path staging) throws IOException {
        SpillLog journal;
        try {
            journal = SpillLog.existing(staging.resolve("journal"));
        } catch (NoSuchFileException e) {
            return null;
        }
        try (Placement killed = new Placement(folder, staging, journal)) {
            FileTime[] before = {null};
            journal.readNewestFirst(line -> {
                if (line.kind() == FOLDER) {
                    before[0] = FileTime.from(Instant.ofEpochSecond(line.b(), line.c()));
                } else {
                    killed.undo(line);
                }
            });
            return before[0];
        }
    }

    /**
     * Moves the staged entries into the folder, then sets the folders' modes and times; if any
     * step fails, or the restore is told to stop, undoes every move, newest first, and puts back
     * the modes and times of folders that were merged into.
     */
    void place() throws IOException {
        try {
            merge(tree, folder, "");
            directories.readNewestFirst(line -> {
                stop.check();
                applyDirectoryMetadata(line);
            });
        } catch (IOException | RuntimeException | Error e) {
            undo(e);
            if (e instanceof IOException io) {
                throw io instanceof SafeRestore.TargetFailure || io instanceof StopRequest.Stopped ? io
                        : SafeRestore.targetFailure(folder, "the restored entries", io);
            }
            throw e;
        }
    }

    /**
     * Moves the children of a staged folder into its counterpart in the folder. A staged folder
     * merges into a real folder of the same name; anything else is moved aside (into replaced/,
     * for the undo) and the staged entry takes its name. Entries already in the folder that the
     * archive does not name stay, and so does a folder holding excluded paths that the archive
     * names as a file or a link: replacing it would take what --exclude leaves alone with it.
     */
    private void merge(Path from, Path into, String prefix) throws IOException {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(from)) {
            for (Path child : children) {
                stop.check();
                String childName = child.getFileName().toString();
                String name = prefix + childName;
                Path destination = into.resolve(childName);
                BasicFileAttributes existing = SafeRestore.lstat(destination).orElse(null);
                if (existing != null && existing.isDirectory()) {
                    BasicFileAttributes staged = Files.readAttributes(child, BasicFileAttributes.class, NOFOLLOW);
                    if (staged.isDirectory()) {
                        int mode = SafeRestore.mode(destination);
                        Instant mtime = existing.lastModifiedTime().toInstant();
                        journal.appendWritten(name, MERGING, mode, mtime.getEpochSecond(), mtime.getNano());
                        withOwnerAccess(destination, mode, () -> merge(child, destination, name + "/"));
                        continue;
                    }
                    if (exclusion != Exclusion.NONE && holdsExcluded(destination, name)) {
                        if (staged.isSymbolicLink()) {
                            leftOutLinks++;
                        } else {
                            leftOutFiles++;
                        }
                        continue;
                    }
                }
                long backup = existing == null ? -1 : backups++;
                // rename(2) of a folder to another parent rewrites its "..": it must be writable.
                int backupMode = existing != null && existing.isDirectory() && !Files.isWritable(destination)
                        ? SafeRestore.mode(destination) : -1;
                journal.appendWritten(name, PLACING, backup, backupMode, 0);
                if (existing != null) {
                    if (backupMode >= 0) {
                        SafeRestore.setMode(destination, backupMode | 0700);
                    }
                    Files.move(destination, replaced.resolve(Long.toString(backup)), StandardCopyOption.ATOMIC_MOVE);
                }
                moveIn(child, destination);
            }
        }
    }

    /** The staged entry takes its name: a rename, never a copy, as staging is on the folder's file system. */
    private static void moveIn(Path staged, Path destination) throws IOException {
        Files.move(staged, destination, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Whether a folder in place holds a path --exclude names, at any depth; links are not followed. */
    private boolean holdsExcluded(Path dir, String name) throws IOException {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                String childName = name + "/" + child.getFileName();
                if (exclusion.excludes(childName) || Files.isDirectory(child, NOFOLLOW) && holdsExcluded(child, childName)) {
                    return true;
                }
            }
        }
        return false;
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

    /**
     * Undoes one journal line, as far as its step went: the entry placed is removed and what it
     * replaced put back, or a merged folder gets its mode and times back. What is there tells how
     * far a step went: a staged entry still in the tree was not moved in, a replaced one still in
     * replaced/ not put back; so undoing a line twice (a rollBack killed in its turn) does no harm.
     */
    private void undo(SpillLog.Line line) throws IOException {
        if (line.kind() == FOLDER) {
            return; // its mtime is put back once the staging is gone
        }
        Path path = folder.resolve(line.name());
        if (line.kind() == MERGING) {
            if (!Files.isDirectory(path, NOFOLLOW)) {
                return;
            }
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
        boolean movedIn = SafeRestore.lstat(tree.resolve(line.name())).isEmpty();
        Path kept = line.a() < 0 ? null : replaced.resolve(Long.toString(line.a()));
        boolean keptAside = kept != null && SafeRestore.lstat(kept).isPresent();
        Path parent = path.getParent();
        withOwnerAccess(parent, SafeRestore.mode(parent), () -> {
            if (movedIn && (kept == null || keptAside)) {
                SafeRestore.deleteTree(path);
            }
            if (keptAside) {
                Files.move(kept, path, StandardCopyOption.ATOMIC_MOVE);
            }
            if (line.b() >= 0 && SafeRestore.lstat(path).isPresent() && SafeRestore.mode(path) != line.b()) {
                SafeRestore.setMode(path, (int) line.b());
            }
        });
    }

    @Override
    public void close() throws IOException {
        journal.close();
    }
}

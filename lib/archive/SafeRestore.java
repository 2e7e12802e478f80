package lib.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import lib.common.Reason;

/**
 * Restores an archive into a folder, or into several, so that nothing is lost and nothing escapes.
 * The archive is extracted into a staging folder inside each target (StagedFolder); only when the
 * whole stream has been read, every entry checked and the digest verified are the entries renamed
 * into place, each move written to a journal so that a failure part way undoes them all, in every
 * folder. Any failure leaves the targets as they were, with no staging left.
 *
 * <p>What keeps the archive inside the folder: names are relative and never climb; an entry's
 * parents are made or checked one by one, never through a link; a name that was a folder stays a
 * folder to the end, so the folders' modes and times, set once everything is in place, are set on
 * folders the restore made or merged into and on nothing a link leads to; hardlinks only join a
 * file the archive made, in the same folder. Memory does not grow with the number of entries: what
 * must be remembered of each goes to logs in the staging folder.
 *
 * <p>An entry of several folders (Folders) starts with their labels; it restores only into the
 * same folders, each of its names under its folder's number going to the folder given with that
 * label. An entry of one folder restores only into one.
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

    /**
     * The entry holds other folders than the restore was given (entryFolders by label, none for an
     * entry of one folder): nothing was restored, and the caller's choice of folders is at fault.
     */
    public static final class OtherFolders extends IOException {
        OtherFolders(List<String> entryFolders, Folders given) {
            super((entryFolders.isEmpty() ? "one folder" : Folders.describe(entryFolders)) + ", not "
                    + (given.single() ? "one folder" : given.describe()));
        }
    }

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final PosixFilePermission[] BITS = PosixFilePermission.values(); // OWNER_READ … OTHERS_EXECUTE

    private final Folders folders;
    /** The folders' staging, by their number in folders. */
    private final List<StagedFolder> staged;
    /** Names the restore leaves out: what is in the folder under them stays as it is. */
    private final Exclusion exclusion;
    /** Asked between entries: a SIGTERM stops the restore, which then leaves the folders as they were. */
    private final StopRequest stop;
    /** For an entry of several folders, the number among folders of the entry's folder N; null before the manifest. */
    private int[] folderOf;
    private long excluded;

    private SafeRestore(Folders folders, List<StagedFolder> staged, Exclusion exclusion, StopRequest stop) {
        this.folders = folders;
        this.staged = staged;
        this.exclusion = exclusion;
        this.stop = stop;
    }

    /**
     * Reads the stored stream to its end (so a digest check wrapped around it runs) and swaps the
     * entries into the folder. The folder is created when missing, and removed again on failure.
     * Whatever fails, an OutOfMemoryError included, the folder is left as it was.
     */
    public static Stats restore(InputStream stored, Path folder) throws IOException {
        return restore(stored, Folders.single(folder), Exclusion.NONE);
    }

    /** restore, into the folders, leaving out the entries exclusion names. */
    public static Stats restore(InputStream stored, Folders folders, Exclusion exclusion) throws IOException {
        return restore(oneStream(stored), false, folders, exclusion);
    }

    /** An archive of one stream as the one group of Groups, its tar's digest named nowhere. */
    static Groups oneStream(InputStream stored) {
        boolean[] given = {false};
        return () -> {
            if (given[0]) {
                return null;
            }
            given[0] = true;
            return new Group(stored, null);
        };
    }

    /** The stored streams of an archive's groups, each a compressed tar, one after the other. */
    public interface Groups {
        /** The next group; null after the last. */
        Group next() throws IOException;
    }

    /**
     * A group's stored bytes, and the sha256 its entry names for its uncompressed tar (its diff_id),
     * which the restore checks as the tar ends: whatever the stored bytes and the index around them
     * say, a group restores only the tar its entry names. tarSha256 is null where the entry names
     * none (an image of the Go tool's, one stream read whole): the stored bytes are then checked
     * against the store's record before they get here.
     */
    public record Group(InputStream stored, String tarSha256) {}

    /**
     * Restores an archive made of groups, each a tar of its own, as restore does one stream: every
     * group read to its end and every rule applied across them (a link one group makes is never
     * written through by another), and nothing placed until the last group is read and checked.
     */
    public static Stats restore(Groups groups, Path folder) throws IOException {
        return restore(groups, true, Folders.single(folder), Exclusion.NONE);
    }

    /** restore, into the folders, leaving out the entries exclusion names. */
    public static Stats restore(Groups groups, Folders folders, Exclusion exclusion) throws IOException {
        return restore(groups, true, folders, exclusion);
    }

    /**
     * concatenated: the groups' tars follow each other, each with its end-of-archive blocks (tar -i).
     * The folders are placed one after the other; one that fails takes back those placed before it.
     */
    private static Stats restore(Groups groups, boolean concatenated, Folders folders, Exclusion exclusion) throws IOException {
        var staged = new ArrayList<StagedFolder>();
        FileTime accessed = FileTime.from(Instant.now());
        byte[] buffer = new byte[Compression.BUFFER];
        Throwable failure = null;
        // Closed last: a SIGTERM's exit waits until the moves are taken back and the staging is gone.
        try (StopRequest stop = StopRequest.register()) {
            try {
                for (Path folder : folders.paths()) {
                    staged.add(StagedFolder.open(folder, accessed, buffer, exclusion, stop));
                }
                var restore = new SafeRestore(folders, staged, exclusion, stop);
                restore.extract(groups, concatenated);
                return restore.place();
            } catch (Throwable e) {
                failure = e;
                throw e;
            } finally {
                closeAll(staged, failure);
            }
        }
    }

    /**
     * Takes back what restores killed part way (SIGKILL, the OOM killer) left in these folders, each
     * one's moves undone from its journal, so that the folder is as it was before it: both scripts
     * do this first, so that neither restores into nor saves a folder half old, half new. Returns
     * how many it took back.
     */
    public static int takeBackKilledRestores(Folders folders) throws IOException {
        int takenBack = 0;
        for (Path folder : folders.paths()) {
            if (Files.isDirectory(folder, NOFOLLOW)) {
                takenBack += StagedFolder.takeBackKilled(folder);
            }
        }
        return takenBack;
    }

    /**
     * Closes every folder's staging, the last opened first (a folder made inside another's new
     * parent goes before that parent), each even when one before it fails; a failure to close is
     * added to the restore's, or thrown when the restore itself worked.
     */
    private static void closeAll(List<StagedFolder> staged, Throwable failure) throws IOException {
        Exception closing = null;
        for (int i = staged.size() - 1; i >= 0; i--) {
            try {
                staged.get(i).close(failure);
            } catch (IOException | RuntimeException e) {
                if (failure != null) {
                    failure.addSuppressed(e);
                } else if (closing == null) {
                    closing = e;
                } else {
                    closing.addSuppressed(e);
                }
            }
        }
        if (closing instanceof IOException io) {
            throw io;
        }
        if (closing instanceof RuntimeException runtime) {
            throw runtime;
        }
    }

    /** Places every folder's entries, or, when one fails, none: those placed already are taken back. */
    private Stats place() throws IOException {
        for (int i = 0; i < staged.size(); i++) {
            try {
                staged.get(i).place();
            } catch (IOException | RuntimeException | Error e) {
                for (int j = i - 1; j >= 0; j--) {
                    staged.get(j).undo(e);
                }
                throw e;
            }
        }
        long files = 0;
        long directories = 0;
        long links = 0;
        long bytes = 0;
        for (StagedFolder folder : staged) {
            excluded += folder.leftOut;
            files += folder.files;
            directories += folder.directoryEntries;
            links += folder.links;
            bytes += folder.bytes;
        }
        return new Stats(files, directories, links, bytes, excluded);
    }

    /**
     * Reads the groups, decompressed one after the other on a thread of their own (ReadAhead: one
     * pipeline for them all, so that no group waits for its first bytes), into one tar reader.
     */
    private void extract(Groups groups, boolean concatenated) throws IOException {
        decompressed(groups, decompressed -> extractTar(decompressed, concatenated));
    }

    /** What reads the groups' tars, one after the other, as one stream. */
    interface TarStep {
        void read(InputStream decompressed) throws IOException;
    }

    /**
     * Gives the groups' tars to step, and calls what the decompressor or the tar reader refuses a
     * BadArchive, saying which format it was; a failure of the store's read stays what it was.
     */
    static void decompressed(Groups groups, TarStep step) throws IOException {
        var decompressing = new DecompressedGroups(groups);
        try (InputStream decompressed = new ReadAhead(decompressing, Compression.BUFFER)) {
            step.read(decompressed);
        } catch (BadArchive | TargetFailure | OtherFolders | StopRequest.Stopped e) {
            throw e;
        } catch (TarReader.Corrupt e) {
            throw new BadArchive(decompressing.archive() + " is corrupt: " + e.getMessage(), e);
        } catch (IOException e) {
            if (decompressing.isStoreFailure(e)) {
                throw e; // the store's read failed, after its retries: no fault of the archive's
            }
            // What is left is the decompressor or tar refusing the bytes: say which format it was.
            throw new BadArchive(decompressing.archive() + " is corrupt or truncated: " + Reason.of(e), e);
        }
    }

    private void extractTar(InputStream decompressed, boolean concatenated) throws IOException {
        var tar = new TarReader(decompressed, concatenated);
        boolean first = true;
        for (TarReader.Entry entry; (entry = tar.next()) != null; first = false) {
            stop.check();
            String name = checkedName(entry.name());
            if (first && name.equals(Folders.MANIFEST)) {
                readManifest(tar, entry);
                continue;
            }
            if (first && !folders.single()) {
                throw new OtherFolders(List.of(), folders);
            }
            int folder = 0;
            if (folderOf != null) { // "N/a/b": a of the entry's folder N
                int slash = name.indexOf('/');
                folder = folderNumber(name, slash < 0 ? name : name.substring(0, slash));
                name = slash < 0 ? "" : name.substring(slash + 1);
            }
            if (name.isEmpty()) {
                continue; // "./", the folder itself: its own metadata stays the user's
            }
            checkNotOwn(entry, name);
            String hardlinkTo = entry.type() == TarHeader.HARDLINK ? hardlinkTarget(entry, folder) : null;
            if (exclusion.excludesOrIsInside(name) || hardlinkTo != null && exclusion.excludesOrIsInside(hardlinkTo)) {
                excluded++; // nor a link to a file left out: there is nothing for it to join
                continue;
            }
            staged.get(folderOf == null ? 0 : folderOf[folder]).extract(tar, entry, name, hardlinkTo);
        }
        if (first && !folders.single()) {
            throw new OtherFolders(List.of(), folders); // an empty archive of one folder
        }
        // Read past tar's end-of-archive blocks to the end of the stored object, so that a digest
        // check around it covers every byte, and trailing garbage is noticed by the decompressor.
        decompressed.transferTo(OutputStream.nullOutputStream());
    }

    /**
     * The entry's first, which lists the folders of an entry of several: they must be the folders
     * given (as a set; their order may differ), each mapped to the one of its label.
     */
    private void readManifest(TarReader tar, TarReader.Entry entry) throws IOException {
        if (entry.type() != TarHeader.FILE || entry.size() > Folders.MAX_MANIFEST_BYTES) {
            throw new HostileArchive("entry " + entry.name() + " is not a list of folders of at most "
                    + Folders.MAX_MANIFEST_BYTES + " bytes");
        }
        byte[] manifest = new byte[(int) entry.size()];
        for (int read = 0, n; read < manifest.length; read += n) {
            n = tar.read(manifest, read, manifest.length - read);
            if (n <= 0) {
                throw new TarReader.Corrupt("the list of folders ends early");
            }
        }
        List<String> labels = Folders.parseManifest(manifest);
        List<String> given = folders.labels();
        if (folders.single() || labels.size() != given.size() || !given.containsAll(labels)) {
            throw new OtherFolders(labels, folders);
        }
        folderOf = labels.stream().mapToInt(given::indexOf).toArray();
    }

    /** The number N of a name "N/…" of an entry of several folders, one of the folders its list gave. */
    private int folderNumber(String name, String number) throws HostileArchive {
        if (!number.matches("0|[1-9][0-9]{0,8}") || Integer.parseInt(number) >= folderOf.length) {
            throw new HostileArchive("entry " + name + " lies under none of the entry's " + folderOf.length + " folders");
        }
        return Integer.parseInt(number);
    }

    /** A hard link's target, relative to the link's folder: one in another folder (or none) is refused. */
    private String hardlinkTarget(TarReader.Entry entry, int folder) throws HostileArchive {
        String target = entry.link() == null ? "" : checkedName(entry.link());
        if (folderOf == null) {
            return target;
        }
        String own = folder + "/";
        if (!target.startsWith(own)) {
            throw new HostileArchive("entry " + entry.name() + " is a hardlink to " + entry.link()
                    + ", outside its own folder " + own);
        }
        return target.substring(own.length());
    }

    /** Refuses a name under the prefix kept for this tool's own staging and list of folders. */
    static void checkNotOwn(TarReader.Entry entry, String name) throws HostileArchive {
        if (name.startsWith(Archive.OWN_PREFIX)) {
            throw new HostileArchive("entry " + entry.name() + " has a name starting with " + Archive.OWN_PREFIX
                    + ", which this tool keeps for its own staging and list of folders");
        }
    }

    /** A file system step that may find its name taken. */
    interface Step {
        void run() throws IOException;
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
    static String checkedName(String raw) throws HostileArchive {
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

    static Set<PosixFilePermission> permissions(int mode) {
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

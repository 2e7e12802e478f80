package lib.store.file;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import lib.archive.Compression;
import lib.common.UsageError;
import lib.store.FramedObject;
import lib.store.Store;
import lib.store.Stores;
import lib.store.TemporaryName;

/**
 * Archives as files in a local folder (a PVC, a host path, the user's cache directory). An archive
 * is written to a temporary name and hard-linked into place, so a reader never sees half of one,
 * and a name once taken is never replaced: of two uploads committing at once, the link of exactly
 * one succeeds and the other discards its file. Where the file system refuses hard links, a check
 * and a rename stand in for it, with a small window (see publish). Its sha256 travels with it in
 * the extended attribute user.tekton-caches.sha256, set before the link; where the file system has
 * no user attributes, a sidecar NAME.sha256 in sha256sum's format, written by the winner after the
 * link, records it instead.
 */
public final class FileStore implements Store {

    /** A folder's old entries are pruned after an upload, when asked. */
    public static final Expiry EXPIRY = new Expiry(true, false, "--max-age");
    public static final String DIGEST_SUFFIX = ".sha256";
    public static final String DIGEST_ATTRIBUTE = "tekton-caches.sha256";
    private static final Pattern SHA256_LINE = Pattern.compile("^([0-9a-f]{64})\\b.*", Pattern.DOTALL);
    /** A sidecar is read up to this: its digest, two spaces and the entry's name, which a file name bounds. */
    private static final int SIDECAR_MAX = 64 + 2 + 256 + 1;

    private final Path root;

    public FileStore(Path root) {
        if (!root.isAbsolute()) {
            throw new UsageError("file store folder " + root + " is not an absolute path");
        }
        this.root = root;
    }

    /** file:///dir/NAME: the store is dir, the object NAME. */
    public static Stores.Target target(URI uri) {
        if (uri.getAuthority() != null || uri.getPath() == null || !uri.getPath().startsWith("/")) {
            throw new UsageError("'" + uri + "' is not a local file URI; write file:///absolute/path");
        }
        Path file = Path.of(uri.getPath());
        if (uri.getPath().endsWith("/") || file.getFileName() == null) {
            throw new UsageError("'" + uri + "' names a folder; end it with a file name such as {{hash}}");
        }
        return new Stores.Target(new FileStore(file.getParent()), file.getFileName().toString());
    }

    /**
     * The entry at path: a regular file, never a link followed. A symbolic link there is refused, not
     * taken for a miss: it could name a file outside the store (another project's archive, a file of
     * the system's), and a fetch that quietly restored nothing would hide that someone put it there.
     */
    @Override
    public Optional<StoredObject> find(String path) throws IOException {
        Path file = root.resolve(path);
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return Optional.empty();
        }
        if (attributes.isSymbolicLink()) {
            throw new IOException(file + " is a symbolic link; an entry is a regular file, and no link in the store is followed");
        }
        if (!attributes.isRegularFile()) {
            throw new IOException(file + " is not a file");
        }
        return Optional.of(new StoredObject(path, attributes.size(), recordedDigest(file),
                attributes.lastModifiedTime().toInstant(), version(file, attributes)));
    }

    /**
     * Which file a name holds: its inode, its modification time and the digest in its attribute. A
     * name is only given a new file once the old one is gone (pruned, or deleted by hand), and the new
     * one may get the old inode number back within the clock's tick, but not the same digest too. The
     * sidecar is no part of it: the winner writes it after the link, so it may appear in between.
     */
    private static String version(Path file, BasicFileAttributes attributes) throws IOException {
        return attributes.fileKey() + "@" + attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS) + "/"
                + readAttribute(file).orElse("");
    }

    /** Records the digest on the file itself; false when the file system keeps no user attributes. */
    static boolean writeAttribute(Path file, String sha256) throws IOException {
        var view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        if (view == null) {
            return false;
        }
        try {
            view.write(DIGEST_ATTRIBUTE, StandardCharsets.US_ASCII.encode(sha256));
            return true;
        } catch (UnsupportedOperationException | FileSystemException e) {
            return false;
        }
    }

    private static Optional<String> readAttribute(Path file) throws IOException {
        var view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        try {
            if (view == null || !view.list().contains(DIGEST_ATTRIBUTE)) {
                return Optional.empty();
            }
            ByteBuffer value = ByteBuffer.allocate(view.size(DIGEST_ATTRIBUTE));
            view.read(DIGEST_ATTRIBUTE, value);
            return Optional.of(new String(value.array(), 0, value.position(), StandardCharsets.US_ASCII));
        } catch (UnsupportedOperationException | FileSystemException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> recordedDigest(Path file) throws IOException {
        Optional<String> attribute = readAttribute(file);
        if (attribute.isPresent()) {
            if (!attribute.get().matches("[0-9a-f]{64}")) {
                throw new IOException(file + " has a malformed " + DIGEST_ATTRIBUTE + " attribute");
            }
            return attribute;
        }
        Path sidecar = file.resolveSibling(file.getFileName() + DIGEST_SUFFIX);
        String line;
        try (var in = Files.newInputStream(sidecar, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            line = new String(in.readNBytes(SIDECAR_MAX), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        var matcher = SHA256_LINE.matcher(line);
        if (!matcher.matches()) {
            throw new IOException(sidecar + " does not hold a sha256 digest");
        }
        return Optional.of(matcher.group(1));
    }

    /**
     * Groups as FramedObject lays them out, a base's group reused only once its bytes, read here,
     * are seen to make the tar its index names: a local read costs less than a group every
     * restore of the new entry would refuse.
     */
    @Override
    public EntryWrite createEntry(String path, Compression compression) throws IOException {
        return FramedObject.write(path, create(path), compression, (base, group) -> FramedObject.holdsItsTar(this, base, group));
    }

    /**
     * The archive's bytes; its access time becomes now, which is what --max-age counts from. The file
     * is opened, then the name is checked to hold still the file found: so what is read is that file,
     * or nothing, an error saying the entry was replaced. Neither the open nor the times follow a link
     * put there since (O_NOFOLLOW): a file outside the store is neither read nor touched.
     */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        return open(object, 0);
    }

    @Override
    public InputStream open(StoredObject object, long offset) throws IOException {
        Path file = root.resolve(object.path());
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new EntryGone(object.path(), e);
        }
        InputStream in = Channels.newInputStream(channel.position(offset));
        try {
            var attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!version(file, attributes).equals(object.version())) {
                throw new IOException(file + " was replaced since it was found; fetch again");
            }
        } catch (NoSuchFileException e) {
            in.close();
            throw new EntryGone(object.path(), e);
        } catch (IOException e) {
            in.close();
            throw e;
        }
        try {
            // Set explicitly: a noatime or relatime mount would not record this read by itself.
            Files.getFileAttributeView(file, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(null, FileTime.from(Instant.now()), null);
        } catch (IOException e) {
            // A read-only store, or one owned by another user: the entry ages from its upload.
        }
        return in;
    }

    /**
     * Deletes the archives in the folder neither written nor read for longer than maxAge, with their
     * digest sidecars, and uploads left behind that long. Only files that start as our archives
     * do are touched: the folder may be shared, ~/.cache/tekton-caches holds other things too.
     */
    @Override
    public Pruned prune(Duration maxAge, Instant now) throws IOException {
        Instant cutoff = now.minus(maxAge);
        int entries = 0;
        long bytes = 0;
        if (!Files.isDirectory(root)) {
            return new Pruned(0, 0);
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(root, f -> !f.getFileName().toString().endsWith(DIGEST_SUFFIX))) {
            for (Path file : files) {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                Instant used = max(attributes.lastModifiedTime().toInstant(), attributes.lastAccessTime().toInstant());
                if (!attributes.isRegularFile() || !used.isBefore(cutoff) || !startsAnArchive(file)) {
                    continue;
                }
                if (Files.deleteIfExists(file)) {
                    Files.deleteIfExists(file.resolveSibling(file.getFileName() + DIGEST_SUFFIX));
                    entries++;
                    bytes += attributes.size();
                }
            }
        }
        return new Pruned(entries, bytes);
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    private static boolean startsAnArchive(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return Compression.startsAnArchive(in);
        }
    }

    @Override
    public PendingWrite create(String path) throws IOException {
        Path file = root.resolve(path);
        Files.createDirectories(file.getParent());
        Path temp = file.resolveSibling(TemporaryName.MARKER + file.getFileName() + "-" + randomSuffix());
        FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        OutputStream stream = new BufferedOutputStream(Channels.newOutputStream(channel), Compression.BUFFER);
        return new PendingWrite() {
            private boolean committed;

            @Override
            public OutputStream stream() {
                return stream;
            }

            @Override
            public boolean commit(Contents contents, Description description) throws IOException {
                stream.flush();
                channel.force(true);
                channel.close();
                // On the temporary file, so the link below publishes archive and digest together.
                boolean attribute = writeAttribute(temp, contents.sha256());
                if (!publish(temp, file)) {
                    return false; // close() deletes the temporary file; theirs, and its sidecar, stay as they are
                }
                committed = true;
                Files.deleteIfExists(temp);
                if (!attribute) {
                    writeSidecar(file, contents.sha256());
                }
                return true;
            }

            /** Copies the range in the kernel (copy_file_range or sendfile), from the file as it was found. */
            @Override
            public boolean append(StoredObject from, long offset, long length) throws IOException {
                stream.flush();
                Path source = root.resolve(from.path());
                try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                    if (!version(source, Files.readAttributes(source, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS))
                            .equals(from.version())) {
                        return false; // replaced since it was found: its groups are not the ones the index said
                    }
                    for (long done = 0; done < length; ) {
                        long n = in.transferTo(offset + done, length - done, channel);
                        if (n <= 0) {
                            throw new IOException(source + " ended at byte " + (offset + done) + ", inside a group of its index");
                        }
                        done += n;
                    }
                    return true;
                } catch (NoSuchFileException e) {
                    return false; // pruned or deleted since it was found
                }
            }

            @Override
            public void close() throws IOException {
                if (!committed) {
                    channel.close();
                    Files.deleteIfExists(temp);
                }
            }
        };
    }

    /**
     * Makes temp visible as file unless file exists: link(2) refuses an existing name atomically,
     * where a rename would replace it. False when another upload's file was there first.
     */
    private static boolean publish(Path temp, Path file) throws IOException {
        try {
            Files.createLink(file, temp);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (UnsupportedOperationException | FileSystemException e) {
            // Some FUSE and SMB mounts refuse hard links (EPERM). A rename cannot be told not to
            // replace, so this checks first, and has a small window: two uploads passing the check
            // together both rename, and the last one's file stays, whole.
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
            return true;
        }
    }

    /**
     * Only the upload that published the file writes its sidecar, by rename, so a reader sees no
     * digest or the whole one. A sidecar left by an archive deleted by hand is replaced; until
     * then a reader would take the new archive for a corrupt one and refuse it.
     */
    private static void writeSidecar(Path file, String sha256) throws IOException {
        Path sidecar = file.resolveSibling(file.getFileName() + DIGEST_SUFFIX);
        Path temp = file.resolveSibling(TemporaryName.MARKER + file.getFileName() + DIGEST_SUFFIX + "-" + randomSuffix());
        Files.writeString(temp, sha256 + "  " + file.getFileName() + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        Files.move(temp, sidecar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * The archive and its digest sidecar, if the name still holds the file found; a file that does
     * not start as our archives do is left, as prune leaves it (the folder may be shared). A restore
     * that has it open reads on. A file put at the name between the check and the unlink would go
     * instead: a name gets a new file only once the old one is gone, so that needs a third run
     * deleting and storing this key within those microseconds.
     */
    @Override
    public void delete(StoredObject object) throws IOException {
        Path file = root.resolve(object.path());
        try {
            if (!startsAnArchive(file) || object.version() != null
                    && !version(file, Files.readAttributes(file, BasicFileAttributes.class)).equals(object.version())) {
                return;
            }
        } catch (NoSuchFileException e) {
            return;
        }
        Files.deleteIfExists(file);
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + DIGEST_SUFFIX));
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var objects = new ArrayList<StoredObject>();
        if (!Files.isDirectory(root)) {
            return objects;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(root, f -> {
            String name = f.getFileName().toString();
            return name.startsWith(prefix) && !name.startsWith(TemporaryName.MARKER) && !name.endsWith(DIGEST_SUFFIX);
        })) {
            for (Path file : files) {
                // The folder may hold more than archives (~/.cache/tekton-caches holds JBang's home).
                if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                    find(file.getFileName().toString()).ifPresent(objects::add);
                }
            }
        }
        return objects;
    }

    private static String randomSuffix() {
        return Long.toHexString(ThreadLocalRandom.current().nextLong());
    }
}

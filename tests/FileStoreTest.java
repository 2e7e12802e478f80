import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Optional;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.ExitStatus;
import lib.common.UsageError;
import lib.store.Store;
import lib.store.file.FileStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local store on its own: what it makes visible, when, and with which digest. */
class FileStoreTest {

    @TempDir
    Path tmp;

    private static void put(Store store, String path, String content) throws Exception {
        try (Store.PendingWrite upload = store.create(path)) {
            byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
            upload.stream().write(bytes);
            upload.commit(new Store.Contents(Digests.hex(Digests.sha256().digest(bytes)), bytes.length, Compression.NONE),
                    new Store.Description(path, java.time.Instant.now(), bytes.length, null, 0, null));
        }
    }

    @Test
    void committedObjectIsFoundWithItsSizeAndDigest() throws Exception {
        var store = new FileStore(tmp.resolve("store"));
        put(store, "maven-abc", "archive");

        var found = store.find("maven-abc").orElseThrow();

        assertEquals(7, found.size());
        assertEquals(Optional.of(Digests.hex(Digests.sha256().digest("archive".getBytes()))), found.sha256());
        try (var in = store.open(found)) {
            assertEquals("archive", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    @Test
    void uploadClosedWithoutCommitLeavesNothing() throws Exception {
        var store = new FileStore(tmp.resolve("store"));
        put(store, "key", "earlier");
        try (Store.PendingWrite upload = store.create("key")) {
            upload.stream().write("half of a new archive".getBytes());
        }
        try (var in = store.open(store.find("key").orElseThrow())) {
            assertEquals("earlier", new String(in.readAllBytes()));
        }
        try (var files = Files.list(tmp.resolve("store"))) {
            assertEquals(1, files.count(), "a temporary file was left behind");
        }
    }

    @Test
    void missingObjectOrFolderIsEmptyNotAnError() throws Exception {
        assertTrue(new FileStore(tmp.resolve("never-made")).find("key").isEmpty());
        assertTrue(new FileStore(tmp.resolve("never-made")).list("").isEmpty());
    }

    @Test
    void listFindsObjectsByPrefixWithoutTemporariesSidecarsOrFolders() throws Exception {
        var store = new FileStore(tmp.resolve("store"));
        put(store, "maven-linux-1", "a");
        put(store, "maven-linux-2", "b");
        put(store, "npm-linux-1", "c");
        Fixtures.write(tmp.resolve("store/maven-linux-3.sha256"), "0".repeat(64) + "  maven-linux-3\n");
        Fixtures.write(tmp.resolve("store/maven-folder/not-an-entry"), "the store's folder holds other things\n");
        Store.PendingWrite unfinished = store.create("maven-linux-4");

        var listed = store.list("maven-").stream().map(Store.StoredObject::path).sorted().toList();

        assertEquals(java.util.List.of("maven-linux-1", "maven-linux-2"), listed);
        unfinished.close();
    }

    @Test
    void sidecarDigestIsReadWhereNoAttributeIsSet() throws Exception {
        Fixtures.write(tmp.resolve("store/key"), "archive");
        Fixtures.write(tmp.resolve("store/key.sha256"), "a".repeat(64) + "  key\n");

        assertEquals(Optional.of("a".repeat(64)), new FileStore(tmp.resolve("store")).find("key").orElseThrow().sha256());
    }

    /**
     * A symlink where the key's entry would be, say to an archive of another project's or to a
     * file of the system's, is refused in one line, exit 3, without being followed: nothing is read
     * through it, and the file it names keeps its access time (set long ago, which a read would
     * move on relatime mounts too, and which the store sets itself on every entry it opens).
     */
    @Test
    void anEntryThatIsASymlinkIsRefusedWithoutBeingFollowed() throws Exception {
        Path project = tmp.resolve("project");
        Path folder = project.resolve("cache");
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(folder.resolve("earlier.txt"), "restored last week\n");
        Path elsewhere = tmp.resolve("elsewhere/archive");
        Files.createDirectories(elsewhere.getParent());
        Files.move(CraftedTar.store(new CraftedTar().file("through-the-link.txt", "followed\n").end(), project, folder,
                tmp.resolve("xdg")), elsewhere);
        FileTime longAgo = FileTime.from(Instant.parse("2001-01-01T00:00:00Z"));
        Files.setAttribute(elsewhere, "lastAccessTime", longAgo);
        Files.createSymbolicLink(CraftedTar.entryPath(project, folder, tmp.resolve("xdg")), elsewhere);
        var before = Fixtures.snapshot(folder, true);

        var run = Fixtures.fetch(project, Fixtures.env(tmp.resolve("xdg")), "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "is a symbolic link");
        assertEquals(before, Fixtures.snapshot(folder, true));
        assertEquals(longAgo, Files.readAttributes(elsewhere, BasicFileAttributes.class).lastAccessTime());
    }

    @Test
    void relativeRootIsRefusedAtOnce() {
        assertThrows(UsageError.class, () -> new FileStore(Path.of("relative/store")));
    }

    @Test
    void writeStreamIsNotVisibleBeforeCommit() throws Exception {
        var store = new FileStore(tmp.resolve("store"));
        try (Store.PendingWrite upload = store.create("key")) {
            OutputStream out = upload.stream();
            out.write(new byte[1 << 20]);
            out.flush();
            assertFalse(store.find("key").isPresent());
        }
    }
}

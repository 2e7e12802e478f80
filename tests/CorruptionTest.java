import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import lib.archive.Archive;
import lib.archive.Compression;
import lib.common.ExitStatus;
import lib.store.file.FileStore;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Damaged objects in the store: the restore fails with exit 3 and the folder keeps what it had. */
class CorruptionTest {

    @TempDir
    Path tmp;

    private Path project;
    private Path folder;
    private Map<String, String> env;
    private Path object;

    @BeforeEach
    void uploadAnArchive() throws Exception {
        project = tmp.resolve("project");
        folder = project.resolve("cache");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.writeRandom(project.resolve("source/data.bin"), 4 * Fixtures.MiB, 7);
        Fixtures.write(project.resolve("source/small.txt"), "small\n");
        var uploaded = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "source", "--results-dir", tmp.resolve("up").toString());
        assertEquals(0, uploaded.status(), uploaded.toString());
        object = tmp.resolve("xdg/tekton-caches/" + Files.readString(tmp.resolve("up/cache-key")));
        Fixtures.write(folder.resolve("earlier.txt"), "from an earlier restore\n");
    }

    private void assertFetchFailsAndFolderIsIntact(String expectedWords) throws Exception {
        var before = Fixtures.snapshot(folder, true);
        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");
        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertTrue(run.err().contains(expectedWords), run.err());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @ParameterizedTest(name = "cut to {0}% of its size")
    @ValueSource(ints = {0, 1, 50, 99})
    void truncatedArchiveExitsThreeAndLeavesTheFolderIntact(int percent) throws Exception {
        try (var file = new RandomAccessFile(object.toFile(), "rw")) {
            file.setLength(file.length() * percent / 100);
        }
        assertFetchFailsAndFolderIsIntact("cache-fetch: restoring");
    }

    @Test
    void flippedByteIsCaughtByTheDigest() throws Exception {
        // Uncompressed: zstd's and gzip's own checksums would catch the flip whether the digest is
        // checked or not. In a plain tar, a byte of data.bin's content is only caught by the digest.
        Files.delete(object);
        Files.deleteIfExists(object.resolveSibling(object.getFileName() + FileStore.DIGEST_SUFFIX));
        var uploaded = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "source", "--compression", "none");
        assertEquals(0, uploaded.status(), uploaded.toString());
        try (var file = new RandomAccessFile(object.toFile(), "rw")) {
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01);
        }
        assertFetchFailsAndFolderIsIntact("archive digest mismatch");
    }

    @Test
    void replacedArchiveWithAnotherDigestIsRefused() throws Exception {
        // A whole, valid archive that is not the one the store recorded.
        Path other = tmp.resolve("other.tar.zst");
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(other))) {
            Archive.create(project.resolve("source"), out);
            out.write(new byte[512]); // a trailing block changes the digest, not the content
        }
        Files.write(object, Files.readAllBytes(other));
        assertFetchFailsAndFolderIsIntact("digest mismatch");
    }

    @Test
    void tarGzWithoutDigestRestoresLikeTheGoTool() throws Exception {
        writeGoStyleTarGz(object, List.of(".", "pkg", "pkg/mod.txt"));
        FileStoreAttributes.remove(object);

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(0, run.status(), run.toString());
        assertEquals("content of pkg/mod.txt", Files.readString(folder.resolve("pkg/mod.txt")));
        assertTrue(run.err().contains("records no sha256"), run.err());
    }

    @Test
    void truncatedTarGzWithoutDigestStillFails() throws Exception {
        writeGoStyleTarGz(object, List.of(".", "pkg", "pkg/mod.txt"));
        FileStoreAttributes.remove(object);
        try (var file = new RandomAccessFile(object.toFile(), "rw")) {
            file.setLength(file.length() - 10);
        }
        assertFetchFailsAndFolderIsIntact("gzip archive is corrupt or truncated");
    }

    /** Entries as the Go tekton-caches writes them: a "." root, names without "./", gzip. */
    private static void writeGoStyleTarGz(Path target, List<String> names) throws Exception {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(target));
                var tar = new TarArchiveOutputStream(out)) {
            for (String name : names) {
                boolean dir = !name.endsWith(".txt");
                var entry = new TarArchiveEntry(dir ? name + "/" : name);
                entry.setMode(dir ? 040775 : 0100775);
                byte[] content = ("content of " + name).getBytes();
                if (!dir) {
                    entry.setSize(content.length);
                }
                tar.putArchiveEntry(entry);
                if (!dir) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
        }
    }

    /** The local store's digest attribute, removed to make an object like the Go tool's. */
    static final class FileStoreAttributes {
        static void remove(Path object) throws Exception {
            var view = Files.getFileAttributeView(object, java.nio.file.attribute.UserDefinedFileAttributeView.class);
            if (view.list().contains(FileStore.DIGEST_ATTRIBUTE)) {
                view.delete(FileStore.DIGEST_ATTRIBUTE);
            }
        }
    }
}

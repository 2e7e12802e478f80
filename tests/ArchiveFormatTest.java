import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import lib.archive.Archive;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tar stream Archive writes by hand is a standard PAX archive: GNU tar and commons-compress
 * (our restore's reader) read back every kind of entry, name and time exactly.
 */
class ArchiveFormatTest {

    @TempDir
    Path tmp;

    private Path tree() throws IOException {
        Path root = tmp.resolve("tree");
        Fixtures.richTree(root, 0);
        Fixtures.write(root.resolve("empty.txt"), "");
        Fixtures.write(root.resolve("sub-second.txt"), "x\n");
        Files.setLastModifiedTime(root.resolve("sub-second.txt"), FileTime.from(Instant.parse("2024-02-29T12:00:00.123456789Z")));
        Fixtures.write(root.resolve("before-1970.txt"), "old\n");
        Files.setLastModifiedTime(root.resolve("before-1970.txt"), FileTime.from(Instant.parse("1969-12-31T23:59:58.75Z")));
        Files.createSymbolicLink(root.resolve("links/long-target"), Path.of("../" + "t".repeat(140) + "/target"));
        Fixtures.write(root.resolve("exactly-100/" + "n".repeat(100 - "exactly-100/".length())), "a name of 100 bytes\n");
        Fixtures.writeRandom(root.resolve("two-blocks-and-a-bit.bin"), 1025, 3);
        return root;
    }

    private static byte[] archive(Path root) throws IOException {
        var out = new ByteArrayOutputStream();
        Archive.create(root, out);
        return out.toByteArray();
    }

    @Test
    void gnuTarExtractsTheSameTree() throws Exception {
        Path root = tree();
        Path tarFile = tmp.resolve("tree.tar");
        Files.write(tarFile, archive(root));
        Path extracted = Files.createDirectories(tmp.resolve("extracted"));

        // A UTF-8 locale, or GNU tar cannot turn the PAX names (always UTF-8) into file names.
        var run = Fixtures.run(List.of("tar", "-xf", tarFile.toString(), "-C", extracted.toString()), tmp,
                Map.of("PATH", System.getenv("PATH"), "LANG", "C.UTF-8"));

        assertEquals(0, run.status(), run.toString());
        assertEquals(Fixtures.snapshot(root, false), Fixtures.snapshot(extracted, false));
        for (String name : List.of("sub-second.txt", "before-1970.txt")) {
            assertEquals(Files.getLastModifiedTime(root.resolve(name)), Files.getLastModifiedTime(extracted.resolve(name)), name);
        }
    }

    @Test
    void commonsCompressReadsEveryEntryAsWritten() throws Exception {
        Path root = tree();
        Files.setLastModifiedTime(root.resolve("before-1970.txt"), FileTime.from(Instant.parse("1969-12-31T23:59:58Z")));
        var entries = new TreeMap<String, TarArchiveEntry>();
        try (var tar = new TarArchiveInputStream(new ByteArrayInputStream(archive(root)), StandardCharsets.UTF_8.name())) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                entries.put(entry.getName(), entry);
            }
        }

        String longName = "long/" + "x".repeat(120) + "/" + "y".repeat(150) + ".txt";
        assertEquals(10, entries.get(longName).getSize());
        assertNotNull(entries.get("ünïcödé/日本語 ファイル.txt"), entries.keySet().toString());
        assertEquals("../" + "t".repeat(140) + "/target", entries.get("links/long-target").getLinkName());
        assertTrue(entries.get("hard/two.txt").isLink());
        assertEquals("hard/one.txt", entries.get("hard/two.txt").getLinkName());
        assertTrue(entries.get("empty/").isDirectory());
        assertEquals(0600, entries.get("secret/key.pem").getMode());
        assertEquals(1025, entries.get("two-blocks-and-a-bit.bin").getSize());
        assertEquals(Instant.parse("2024-02-29T12:00:00.123456789Z"), entries.get("sub-second.txt").getLastModifiedTime().toInstant());
        // Before 1970 to the second: commons-compress 1.28 reads a negative time with a fraction as 0 (GNU tar does not).
        assertEquals(Instant.parse("1969-12-31T23:59:58Z"), entries.get("before-1970.txt").getLastModifiedTime().toInstant());
    }

    @Test
    void theSameTreeGivesTheSameBytesEndingOnAWholeRecord() throws Exception {
        Path root = tree();
        byte[] first = archive(root);

        assertArrayEquals(first, archive(root));
        assertEquals(0, first.length % 10240);
    }

    /**
     * A thread writes its groups through one buffer, reused from group to group: what an earlier
     * group left there (here, random bytes) must not show through, in the padding of a PAX header or
     * anywhere else, or a group would not have the same bytes, and the same diff_id, from one save
     * to the next.
     */
    @Test
    void aGroupsBytesDoNotDependOnTheGroupWrittenBefore() throws Exception {
        Path root = tree();
        Path noise = tmp.resolve("noise");
        Fixtures.writeRandom(noise.resolve("random.bin"), 3 << 20, 11);
        var alone = new ByteArrayOutputStream();
        var afterNoise = new ByteArrayOutputStream();
        var firstOnItsThread = new Thread(() -> {
            try {
                Archive.create(root, lib.archive.GroupPlan.single(), group -> group.write(alone));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        firstOnItsThread.start();
        firstOnItsThread.join();
        Archive.create(noise, lib.archive.GroupPlan.single(), group -> group.write(OutputStream.nullOutputStream()));
        Archive.create(root, lib.archive.GroupPlan.single(), group -> group.write(afterNoise));
        assertTrue(alone.size() > 0);
        assertArrayEquals(alone.toByteArray(), afterNoise.toByteArray());
    }

    /** A sparse file costs no disk, and the archive is stopped once its headers are out. */
    @Test
    void aFileOf8GiBOrMoreHasItsSizeInAPaxRecord() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("sparse"));
        long size = 8L << 30;
        try (var file = new RandomAccessFile(root.resolve("huge.bin").toFile(), "rw")) {
            file.setLength(size);
        }
        var head = new ByteArrayOutputStream();
        var enough = new IOException("enough: the headers are in");
        var stopped = assertThrows(IOException.class, () -> Archive.create(root, new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                head.write(b, off, Math.min(len, 4096));
                throw enough;
            }
        }));
        assertSame(enough, stopped);

        String header = new String(head.toByteArray(), StandardCharsets.ISO_8859_1);
        assertTrue(header.contains(" size=8589934592\n"), header.substring(512, 1024));
        try (var tar = new TarArchiveInputStream(new ByteArrayInputStream(head.toByteArray()))) {
            assertEquals(size, tar.getNextEntry().getSize());
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import lib.archive.Archive;
import lib.archive.Compression;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tar headers that no honest writer makes, crafted block by block: each archive is refused whole
 * in one line naming what is wrong, with exit 3, its results written, the folder as it was and no
 * staging folder left.
 */
class CraftedHeaderTest {

    private static final long MiB = Fixtures.MiB;

    @TempDir
    Path tmp;

    private Path project;
    private Path folder;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        folder = project.resolve("cache");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(folder.resolve("earlier/content.txt"), "restored last week\n");
    }

    /** What a case stores: the tar's bytes, made knowing where the test's temp folder is. */
    interface Archive {
        byte[] tar(Path tmp);
    }

    static Stream<Arguments> craftedArchives() {
        return Stream.of(
                refused("an absolute name in a PAX path record", "absolute",
                        tmp -> new CraftedTar().pax("path=" + tmp.resolve("outside/pax.txt"))
                                .file("harmless.txt", "escaped").end()),
                refused("an absolute GNU long name", "absolute",
                        tmp -> new CraftedTar().gnuLong('L', bytes(tmp.resolve("outside/long.txt").toString()))
                                .file("harmless.txt", "escaped").end()),
                refused("a hardlink to an absolute GNU long link target", "absolute",
                        tmp -> new CraftedTar().file("a.txt", "a").gnuLong('K', bytes(tmp.resolve("outside/secret.txt").toString()))
                                .header(bytes("h"), '1', 0, 0644, bytes("a.txt")).end()),
                refused("a header whose checksum is wrong", "checksum",
                        tmp -> new CraftedTar().file("good.txt", "good").headerWithWrongChecksum("bad.txt", '0', 4)
                                .data(bytes("evil")).end()),
                refused("a PAX size shorter than the data that follows", "checksum",
                        tmp -> new CraftedTar().pax("size=1").header("short.txt", '0', 600)
                                .data(bytes("x".repeat(600))).end()),
                refused("an old GNU sparse file", "is a sparse file",
                        tmp -> new CraftedTar().gnuSparse("holes.bin", 64 * MiB).end()),
                refused("a PAX 1.0 sparse file", "is a sparse file",
                        tmp -> new CraftedTar().pax("GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=holes.bin",
                                "GNU.sparse.realsize=" + 64 * MiB).header("GNUSparseFile.0/holes.bin", '0', 512)
                                .data(bytes("1\n" + 64 * MiB + "\n0\n")).end()),
                refused("a name that is not UTF-8", "not UTF-8",
                        tmp -> new CraftedTar().header(new byte[] {'c', 'a', 'f', (byte) 0xE9}, '0', 1, 0644, new byte[0])
                                .data(bytes("x")).end()),
                refused("a name like the restore's own staging folder", "staging",
                        tmp -> new CraftedTar().file(".tekton-caches-restore-1-0/kept-forever.txt", "x").end()),
                refused("a name longer than PATH_MAX in a PAX record", "at most 4096",
                        tmp -> new CraftedTar().pax("path=" + "d/".repeat(3000) + "f").file("f", "x").end()),
                refused("an archive cut between two entries", "end-of-archive",
                        tmp -> new CraftedTar().file("first.txt", "1").file("second.txt", "2").bytes()),
                // GNU tar takes these for folders, Python's tarfile and Go's archive/tar for files; GNU
                // tar -x, as the others with a NUL type, then reads the data as headers, and restores what hides there.
                refused("a regular file whose name ends in '/', an entry hidden in its data", "ending in '/'",
                        tmp -> new CraftedTar().header("d/", '0', HIDDEN.length).data(HIDDEN).end()),
                refused("a contiguous file whose name ends in '/', an entry hidden in its data", "ending in '/'",
                        tmp -> new CraftedTar().header("d/", '7', HIDDEN.length).data(HIDDEN).end()),
                refused("an empty regular file whose name ends in '/'", "ending in '/'",
                        tmp -> new CraftedTar().header("d/", '0', 0).file("after.txt", "after").end()),
                refused("an old folder (type NUL, its name ending in '/') with an entry hidden in its data", "ending in '/'",
                        tmp -> new CraftedTar().header("d/", '\0', HIDDEN.length).data(HIDDEN).end()),
                refused("a PAX record of length 0", "malformed record",
                        tmp -> new CraftedTar().paxRecords("0 path=x\n").file("f", "x").end()),
                refused("a PAX header of a negative size, in base-256", "negative size",
                        tmp -> new CraftedTar().header("PaxHeaders/entry", 'x', -1, 1_700_000_000L).file("f", "x").end()),
                refused("a GNU long name of a negative size, in base-256", "negative size",
                        tmp -> new CraftedTar().header("././@LongLink", 'L', -1, 1_700_000_000L).file("f", "x").end()));
    }

    /** A whole entry, header and data, as a crafted entry's data may hide it. */
    private static final byte[] HIDDEN = new CraftedTar().file("hidden.txt", "hidden in the data\n").bytes();

    private static Arguments refused(String name, String reason, Archive archive) {
        return Arguments.of(Named.of(name, archive), reason);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("craftedArchives")
    void craftedHeaderIsRefusedWholeInOneLine(Archive archive, String reason) throws Exception {
        CraftedTar.store(archive.tar(tmp), project, folder, tmp.resolve("xdg"));

        assertRefused(reason);
    }

    /** Where every reader agrees (GNU tar, Python's tarfile, Go's archive/tar): V7's folder, no data. */
    @Test
    void anOldFolderOfTypeNulWithoutDataIsRestoredAsAFolder() throws Exception {
        CraftedTar.store(new CraftedTar().header("old/", '\0', 0).file("old/inside.txt", "in\n").end(), project, folder,
                tmp.resolve("xdg"));

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.OK, run.status(), run.toString());
        assertTrue(Files.isDirectory(folder.resolve("old"), LinkOption.NOFOLLOW_LINKS), run.toString());
        assertEquals("in\n", Files.readString(folder.resolve("old/inside.txt")));
    }

    /**
     * GNU's base-256 and PAX's decimals hold times Java's Instant does not: such a file is restored
     * with its time as far as the file system takes it, as GNU tar restores it.
     */
    @Test
    void anMtimeBeyondJavasInstantIsRestoredAsFarAsTheFileSystemGoes() throws Exception {
        CraftedTar.store(new CraftedTar().header("far/", '5', 0, Long.MAX_VALUE)
                .header("far/base-256.txt", '0', 1, Long.MAX_VALUE).data(bytes("b"))
                .pax("mtime=99999999999999999.5").file("far/pax.txt", "p")
                .pax("mtime=-99999999999999999.5").file("far/pax-past.txt", "p").end(), project, folder, tmp.resolve("xdg"));

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.OK, run.status(), run.toString());
        Instant future = Instant.parse("2200-01-01T00:00:00Z");
        for (String name : List.of("far", "far/base-256.txt", "far/pax.txt")) {
            Instant mtime = Files.getLastModifiedTime(folder.resolve(name), LinkOption.NOFOLLOW_LINKS).toInstant();
            assertTrue(mtime.isAfter(future), name + " has its mtime at " + mtime);
        }
        Instant past = Files.getLastModifiedTime(folder.resolve("far/pax-past.txt")).toInstant();
        assertTrue(past.isBefore(Instant.EPOCH), "far/pax-past.txt has its mtime at " + past);
    }

    /**
     * Names are printed with their control characters as '?', and so are those that break or turn
     * a line where a terminal or a log viewer shows UTF-8: NEL, the line and paragraph separators,
     * and the bidi controls that show a name's end first.
     */
    @Test
    void aNameWithLineSeparatorsOrBidiControlsIsPrintedWithoutThem() throws Exception {
        env.put("LANG", "C.UTF-8");
        String forged = "\u2028cache-fetch: restored 9 files\u2029\u0085\u202Ehs.txt\u202C\u2066\u202A\u202B\u202D\u2067\u2068\u2069";
        CraftedTar.store(new CraftedTar().file("a" + forged + "/../../x", "x").end(), project, folder, tmp.resolve("xdg"));

        var run = assertRefused("climbs out with ..");

        assertTrue(run.err().contains("a?cache-fetch: restored 9 files???hs.txt????????/../../x"), run.err());
    }

    @Test
    void aHalfGibGnuLongNameIsRefusedBeforeItIsRead() throws Exception {
        storeWithHugeHeader('L');

        assertRefused("GNU long name of 536870912 bytes");
    }

    @Test
    void aHalfGibPaxHeaderIsRefusedBeforeItIsRead() throws Exception {
        storeWithHugeHeader('x');

        assertRefused("PAX header of 536870912 bytes");
    }

    /** A header announcing 512 MiB of name or records, and the 512 MiB: 16 kB once compressed. */
    private void storeWithHugeHeader(char type) throws Exception {
        Path object = CraftedTar.entryPath(project, folder, tmp.resolve("xdg"));
        Files.createDirectories(object.getParent());
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(object))) {
            out.write(new CraftedTar().header(bytes("././@LongLink"), type, 512 * MiB, 0644, new byte[0]).bytes());
            byte[] chunk = new byte[(int) MiB];
            Arrays.fill(chunk, (byte) '7'); // "7777…": digits, as a PAX record's length would start
            for (int i = 0; i < 512; i++) {
                out.write(chunk);
            }
            out.write(new CraftedTar().file("after.txt", "x").end());
        }
    }

    @Test
    void anErrorSuchAsOutOfMemoryEndsAsExit3WithItsResultsAndNoStaging() throws Exception {
        byte[] content = new byte[(int) (2 * MiB)];
        CraftedTar.store(new CraftedTar().header("big.bin", '0', content.length).data(content).end(), project, folder,
                tmp.resolve("xdg"));
        var folderBefore = Fixtures.snapshot(folder, true);

        // Reading the stored file takes a direct buffer as large as each read: 64 kB of direct memory
        // makes the JVM throw OutOfMemoryError inside the restore, wherever the heap stands.
        var run = Fixtures.script(List.of("-XX:MaxDirectMemorySize=64k"), "CacheFetch", project, env, "--pattern",
                "go.sum", "--folder", "cache", "--results-dir", tmp.resolve("results").toString());

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(List.of("cache-fetch:"), run.err().lines().filter(l -> l.startsWith("cache-fetch:"))
                .map(l -> l.substring(0, 12)).toList(), run.err());
        assertTrue(run.err().contains("out of memory"), run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals(folderBefore, Fixtures.snapshot(folder, true));
    }

    /** The names of everything in the temp folder but the folder and the results. */
    private List<String> outsideTheFolder() throws Exception {
        return Fixtures.snapshot(tmp, false).keySet().stream()
                .filter(p -> !p.startsWith("project/cache") && !p.startsWith("results")).toList();
    }

    private Fixtures.Run assertRefused(String reason) throws Exception {
        var folderBefore = Fixtures.snapshot(folder, true);
        // The refused entry goes, deleted by the fetch that refused it; nothing else outside changes.
        String entry = tmp.relativize(CraftedTar.entryPath(project, folder, tmp.resolve("xdg"))).toString();
        var outsideBefore = outsideTheFolder().stream().filter(p -> !p.equals(entry)).toList();

        long started = System.nanoTime();
        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache", "--results-dir",
                tmp.resolve("results").toString());
        double seconds = (System.nanoTime() - started) / 1e9;

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        List<String> lines = run.err().lines().filter(l -> l.startsWith("cache-fetch:")).toList();
        assertEquals(1, lines.size(), run.err());
        assertTrue(lines.get(0).contains(reason), "the line names '" + reason + "': " + run.err());
        assertFalse(lines.get(0).contains("\0"), run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals(folderBefore, Fixtures.snapshot(folder, true), "the folder as it was, no staging left");
        assertEquals(outsideBefore, outsideTheFolder(), "nothing written outside the folder, the refused entry deleted");
        assertTrue(lines.get(0).contains("; the entry was deleted, so that the next upload of its key stores it anew;"), run.err());
        assertTrue(seconds < 60, "refused in " + seconds + " s");
        return run;
    }
}

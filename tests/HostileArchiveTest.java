import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.archive.SafeRestore;
import lib.common.ExitStatus;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Archives made to escape the folder, placed in the local store where the key leads: each is
 * rejected whole, nothing is written outside, and the folder keeps its earlier content.
 */
class HostileArchiveTest {

    @TempDir
    Path tmp;

    private Path project;
    private Path folder;
    private Path outside;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        folder = project.resolve("cache");
        outside = tmp.resolve("outside");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(folder.resolve("earlier/content.txt"), "restored last week\n");
        Fixtures.write(outside.resolve("secret.txt"), "must stay as it is\n");
    }

    /** One tar entry to write: a name, a type, a link target or content. */
    record Entry(String name, byte type, String linkOrContent) {
        static Entry file(String name, String content) {
            return new Entry(name, TarConstants.LF_NORMAL, content);
        }

        static Entry symlink(String name, String target) {
            return new Entry(name, TarConstants.LF_SYMLINK, target);
        }

        static Entry hardlink(String name, String target) {
            return new Entry(name, TarConstants.LF_LINK, target);
        }

        static Entry device(String name) {
            return new Entry(name, TarConstants.LF_CHR, "");
        }

        /** A folder with a mode; its mtime is 1980's, so that a test can tell it was set. */
        static Entry directory(String name, int mode) {
            return new Entry(name + "/", TarConstants.LF_DIR, Integer.toOctalString(mode));
        }
    }

    private static final java.util.Date IN_1980 = java.util.Date.from(java.time.Instant.parse("1980-01-01T00:00:00Z"));

    /** Writes the entries as a zstd tar at the store path for this project's key, with no digest. */
    private void storeArchive(List<Entry> entries) throws IOException {
        Path object = CraftedTar.entryPath(project, folder, tmp.resolve("xdg"));
        Files.createDirectories(object.getParent());
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(object));
                var tar = new TarArchiveOutputStream(out, "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Entry e : entries) {
                var entry = new TarArchiveEntry(e.name(), e.type(), true);
                byte[] content = e.linkOrContent().getBytes(StandardCharsets.UTF_8);
                if (e.type() == TarConstants.LF_NORMAL) {
                    entry.setSize(content.length);
                    entry.setMode(0644);
                } else if (e.type() == TarConstants.LF_DIR) {
                    entry.setMode(Integer.parseInt(e.linkOrContent(), 8));
                    entry.setModTime(IN_1980);
                } else {
                    entry.setLinkName(e.linkOrContent());
                    entry.setMode(e.type() == TarConstants.LF_SYMLINK ? 0777 : 0644);
                }
                tar.putArchiveEntry(entry);
                if (e.type() == TarConstants.LF_NORMAL) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
        }
    }

    /** A hostile archive, named: its entries, made knowing where "outside" is. */
    private static Arguments hostile(String name, Function<Path, List<Entry>> entries) {
        return Arguments.of(Named.of(name, entries));
    }

    static Stream<Arguments> hostileArchives() {
        return Stream.of(
                hostile("an entry with ..", outside -> List.of(Entry.file("ok.txt", "fine"), Entry.file("../outside/dotdot.txt", "escaped"))),
                hostile("an entry whose .. climbs out from inside",
                        outside -> List.of(Entry.file("a/../../outside/dotdot-inside.txt", "escaped"))),
                hostile("an absolute entry", outside -> List.of(Entry.file(outside.resolve("absolute.txt").toString(), "escaped"))),
                hostile("an absolute entry longer than ustar holds, in a PAX path",
                        outside -> List.of(Entry.file(outside.resolve("x".repeat(120)).toString(), "escaped"))),
                hostile("a symlink to outside then a write through it",
                        outside -> List.of(Entry.symlink("evil", outside.toString()), Entry.file("evil/through-link.txt", "escaped"))),
                hostile("a symlink climbing with .. then a write through it",
                        outside -> List.of(Entry.symlink("a/up", "../../outside"), Entry.file("a/up/climbed.txt", "escaped"))),
                hostile("a symlink to .. then a write two levels up",
                        outside -> List.of(Entry.symlink("up", ".."), Entry.file("up/outside/climbed-twice.txt", "escaped"))),
                hostile("a symlink, then a folder below it", outside -> List.of(Entry.symlink("evil", outside.toString()),
                        Entry.directory("evil/made-outside", 0777))),
                hostile("a folder, then a link of its name", outside -> List.of(Entry.directory("x", 0755),
                        Entry.file("x/inside.txt", "inside"), Entry.symlink("x", outside.toString()))),
                hostile("an absolute hardlink to a file outside",
                        outside -> List.of(Entry.hardlink("hl", outside.resolve("secret.txt").toString()))),
                hostile("a hardlink climbing to a file outside", outside -> List.of(Entry.hardlink("hl", "../outside/secret.txt"))),
                hostile("a hardlink to a symlink that leaves the tree",
                        outside -> List.of(Entry.symlink("s", outside.resolve("secret.txt").toString()), Entry.hardlink("h", "s"))),
                hostile("a hardlink to a file through a symlink that leaves the tree",
                        outside -> List.of(Entry.symlink("s", outside.toString()), Entry.hardlink("h", "s/secret.txt"))),
                hostile("a character device", outside -> List.of(Entry.device("null"))),
                hostile("good entries first, the hostile one last", outside -> List.of(Entry.file("late/1.txt", "good"),
                        Entry.file("late/2.txt", "good"), Entry.file("../outside/late.txt", "escaped"))));
    }

    @ParameterizedTest(name = "{0}: rejected whole, nothing outside, folder intact")
    @MethodSource("hostileArchives")
    void hostileArchiveIsRejectedWholeAndLeavesTheFolderIntact(Function<Path, List<Entry>> entries) throws Exception {
        storeArchive(entries.apply(outside));
        var folderBefore = Fixtures.snapshot(folder, true);
        var outsideBefore = Fixtures.snapshot(tmp.resolve("outside"), true);

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache", "--results-dir",
                tmp.resolve("results").toString());

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().filter(l -> l.startsWith("cache-fetch:")).count(), run.err());
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals(outsideBefore, Fixtures.snapshot(tmp.resolve("outside"), true));
        assertEquals(folderBefore, Fixtures.snapshot(folder, true));
        assertFalse(Files.exists(project.resolve("outside")));
    }

    @Test
    void aFoldersModeAndTimeNeverReachWhatALaterLinkOfItsParentPointsTo() throws Exception {
        // x/ and x/victim/ (0777, 1980), then x -> outside: set by path once in place, the victim's
        // metadata went to outside/victim; as root with x -> / it would chmod /etc.
        Path victim = Files.createDirectories(outside.resolve("victim"));
        Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rwxr-x---"));
        var outsideBefore = Fixtures.snapshot(outside, true);
        storeArchive(List.of(Entry.directory("x", 0755), Entry.directory("x/victim", 0777), Entry.symlink("x", outside.toString())));

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertTrue(run.err().contains("a folder stays a folder"), run.err());
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
        assertFalse(Files.exists(folder.resolve("x"), LinkOption.NOFOLLOW_LINKS));
    }

    static Stream<Arguments> caseInsensitiveEscapes() {
        return Stream.of(
                hostile("a link X, then a write to x/pwned",
                        outside -> List.of(Entry.symlink("X", outside.toString()), Entry.file("x/pwned.txt", "escaped"))),
                hostile("a link X, then a folder x/made",
                        outside -> List.of(Entry.symlink("X", outside.toString()), Entry.directory("x/made", 0777))),
                hostile("a folder x, then a link X",
                        outside -> List.of(Entry.directory("x", 0755), Entry.symlink("X", outside.toString()),
                                Entry.file("x/pwned.txt", "escaped"))));
    }

    @ParameterizedTest(name = "on a case-insensitive volume, {0}: rejected, nothing outside, folder intact")
    @MethodSource("caseInsensitiveEscapes")
    void onACaseInsensitiveVolumeNoLinkIsFollowedByAnotherSpellingOfItsName(Function<Path, List<Entry>> entries)
            throws Exception {
        CaseInsensitiveVolume.unavailable().ifPresent(Assumptions::abort);
        try (var volume = CaseInsensitiveVolume.mount(tmp.resolve("volume"))) {
            folder = volume.root().resolve("cache");
            Fixtures.write(folder.resolve("earlier/content.txt"), "restored last week\n");
            storeArchive(entries.apply(outside));
            var folderBefore = Fixtures.snapshot(folder, true);
            var outsideBefore = Fixtures.snapshot(outside, true);

            var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", folder.toString());

            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
            assertEquals(folderBefore, Fixtures.snapshot(folder, true));
        }
    }

    @Test
    void hostileArchiveIntoAMissingFolderLeavesNoFolder() throws Exception {
        storeArchive(List.of(Entry.file("x.txt", "x"), Entry.file("../escape.txt", "escaped")));
        SafeRestore.deleteTree(folder);

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache/m2/repository");

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertFalse(Files.exists(folder), "the folder and its parents were created and left behind");
        assertFalse(Files.exists(project.resolve("escape.txt")));
    }

    @Test
    void restoreReplacesASymlinkAlreadyInTheFolderInsteadOfWritingThroughIt() throws Exception {
        Files.createSymbolicLink(folder.resolve("evil"), outside);
        storeArchive(List.of(Entry.file("evil/pwned.txt", "written inside")));
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(0, run.status(), run.toString());
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
        assertFalse(Files.isSymbolicLink(folder.resolve("evil")));
        assertEquals("written inside", Files.readString(folder.resolve("evil/pwned.txt")));
        assertTrue(Files.exists(folder.resolve("earlier/content.txt")));
    }

    @Test
    void linksThatPointOutsideAreRestoredAsLinksNotFollowed() throws Exception {
        storeArchive(List.of(Entry.symlink("abs", outside.resolve("secret.txt").toString()),
                Entry.symlink("rel", "../../outside/secret.txt"), Entry.file("after.txt", "fine")));

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(0, run.status(), run.toString());
        assertEquals(outside.resolve("secret.txt"), Files.readSymbolicLink(folder.resolve("abs")));
        assertEquals(Path.of("../../outside/secret.txt"), Files.readSymbolicLink(folder.resolve("rel")));
        assertEquals("must stay as it is\n", Files.readString(outside.resolve("secret.txt")));
    }

    @Test
    void noStagingFolderIsLeftAfterARejection() throws Exception {
        storeArchive(List.of(Entry.file("a.txt", "a"), Entry.device("dev")));

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        try (var children = Files.list(folder)) {
            assertEquals(List.of("earlier"), children.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void laterEntryOfTheSameNameReplacesTheEarlierOneAsTarDoes() throws Exception {
        storeArchive(List.of(Entry.file("twice.txt", "first"), Entry.file("twice.txt", "second"),
                Entry.symlink("was-link", outside.toString()), Entry.file("was-link", "now a file"),
                Entry.file("was-file", "a file"), Entry.file("was-file/inside.txt", "now a folder"),
                Entry.file("target.txt", "linked"), Entry.file("hard.txt", "replaced by a link"),
                Entry.hardlink("hard.txt", "target.txt")));
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(ExitStatus.STORE, run.status(), "a file cannot become a folder's parent: " + run);
        storeArchive(List.of(Entry.file("twice.txt", "first"), Entry.file("twice.txt", "second"),
                Entry.symlink("was-link", outside.toString()), Entry.file("was-link", "now a file"),
                Entry.file("target.txt", "linked"), Entry.file("hard.txt", "replaced by a link"),
                Entry.hardlink("hard.txt", "target.txt")));
        run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

        assertEquals(0, run.status(), run.toString());
        assertEquals("second", Files.readString(folder.resolve("twice.txt")));
        assertFalse(Files.isSymbolicLink(folder.resolve("was-link")));
        assertEquals("now a file", Files.readString(folder.resolve("was-link")));
        assertEquals("linked", Files.readString(folder.resolve("hard.txt")));
        assertEquals(Files.readAttributes(folder.resolve("target.txt"), "unix:ino").get("ino"),
                Files.readAttributes(folder.resolve("hard.txt"), "unix:ino").get("ino"));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
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
    }

    /** Writes the entries as a zstd tar at the store path for this project's key, with no digest. */
    private void storeArchive(List<Entry> entries) throws IOException {
        String key = CacheKey.compute(project, Patterns.parse(List.of("go.sum")), Set.of(folder)).hash();
        Path object = tmp.resolve("xdg/tekton-caches/" + key);
        Files.createDirectories(object.getParent());
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(object));
                var tar = new TarArchiveOutputStream(out, "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Entry e : entries) {
                var entry = new TarArchiveEntry(e.name(), e.type(), true);
                byte[] content = e.linkOrContent().getBytes(StandardCharsets.UTF_8);
                if (e.type() == TarConstants.LF_NORMAL) {
                    entry.setSize(content.length);
                } else {
                    entry.setLinkName(e.linkOrContent());
                }
                entry.setMode(e.type() == TarConstants.LF_SYMLINK ? 0777 : 0644);
                tar.putArchiveEntry(entry);
                if (e.type() == TarConstants.LF_NORMAL) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
        }
    }

    static Stream<Arguments> hostileArchives() {
        List<Function<Path, List<Entry>>> cases = List.of(
                outside -> List.of(Entry.file("ok.txt", "fine"), Entry.file("../outside/dotdot.txt", "escaped")),
                outside -> List.of(Entry.file("a/../../outside/dotdot-inside.txt", "escaped")),
                outside -> List.of(Entry.file(outside.resolve("absolute.txt").toString(), "escaped")),
                outside -> List.of(Entry.symlink("evil", outside.toString()), Entry.file("evil/through-link.txt", "escaped")),
                outside -> List.of(Entry.symlink("a/up", "../../outside"), Entry.file("a/up/climbed.txt", "escaped")),
                outside -> List.of(Entry.symlink("up", ".."), Entry.file("up/outside/climbed-twice.txt", "escaped")),
                outside -> List.of(Entry.hardlink("hl", outside.resolve("secret.txt").toString())),
                outside -> List.of(Entry.hardlink("hl", "../outside/secret.txt")),
                outside -> List.of(Entry.symlink("s", outside.resolve("secret.txt").toString()), Entry.hardlink("h", "s")),
                outside -> List.of(Entry.device("null")),
                outside -> List.of(Entry.file("late/1.txt", "good"), Entry.file("late/2.txt", "good"),
                        Entry.file("../outside/late.txt", "escaped")));
        List<String> names = List.of(
                "an entry with ..", "an entry whose .. climbs out from inside", "an absolute entry",
                "a symlink to outside then a write through it", "a symlink climbing with .. then a write through it",
                "a symlink to .. then a write two levels up", "an absolute hardlink to a file outside",
                "a hardlink climbing to a file outside", "a hardlink to a symlink that leaves the tree",
                "a character device", "good entries first, the hostile one last");
        return java.util.stream.IntStream.range(0, cases.size()).mapToObj(i -> Arguments.of(names.get(i), cases.get(i)));
    }

    @ParameterizedTest(name = "{0}: rejected whole, nothing outside, folder intact")
    @MethodSource("hostileArchives")
    void hostileArchiveIsRejectedWholeAndLeavesTheFolderIntact(String name, Function<Path, List<Entry>> entries)
            throws Exception {
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

        Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

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

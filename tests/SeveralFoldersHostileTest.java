import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.archive.SafeRestore;
import lib.common.Digests;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.key.CacheKey;
import lib.store.Store;
import lib.store.file.FileStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Entries of several folders (--folder a --folder b) crafted by whoever can write to the store, run
 * through the real cache-fetch: a hostile or corrupt one exits 3, one of other folders exits 2,
 * each in one line; either way every folder, the project around them and a folder outside are
 * exactly as they were, with no staging left; and when the second folder cannot be placed, the
 * first is taken back.
 */
class SeveralFoldersHostileTest {

    private static final String MANIFEST = ".tekton-caches-folders";
    private static final String MANIFEST_AB = "0 a\n1 b\n";
    private static final FileTime LONG_AGO = FileTime.from(Instant.parse("2020-02-02T00:00:00Z"));

    @TempDir
    Path tmp;

    private Path project;
    private Path a;
    private Path b;
    private Path outside;
    private Path xdg;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        a = project.resolve("a");
        b = project.resolve("b");
        outside = tmp.resolve("outside");
        xdg = tmp.resolve("xdg");
        env = Fixtures.env(xdg);
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(a.resolve("keep/old.txt"), "a's from last week\n");
        Fixtures.write(a.resolve("x"), "a's x\n");
        Fixtures.write(a.resolve("ro/inside.txt"), "in a read-only folder\n");
        Fixtures.write(b.resolve("keep/old.txt"), "b's from last week\n");
        Fixtures.write(b.resolve("x"), "b's x\n");
        Files.createSymbolicLink(a.resolve("to-b"), Path.of("../b"));
        Fixtures.write(outside.resolve("secret.txt"), "must stay as it is\n");
        Fixtures.chmod(a.resolve("ro"), "r-xr-xr-x");
        // Old times everywhere: a change made within the test's second still shows in the snapshots.
        for (Path p : List.of(a.resolve("keep/old.txt"), a.resolve("x"), a.resolve("ro/inside.txt"), a.resolve("keep"),
                a.resolve("ro"), a, b.resolve("keep/old.txt"), b.resolve("x"), b.resolve("keep"), b,
                outside.resolve("secret.txt"), outside, project.resolve("go.sum"), project)) {
            Files.setLastModifiedTime(p, LONG_AGO);
        }
    }

    // -- Helpers.

    private static Log quiet() {
        return new Log(new PrintStream(OutputStream.nullOutputStream()), false);
    }

    /** The key cache-fetch --pattern go.sum --folder a --folder b (run in project) looks for. */
    private String severalKey(List<String> labels) {
        var paths = labels.stream().map(project::resolve).toList();
        return CacheKey.forFolders(List.of("go.sum"), project, paths, labels, quiet()).hash();
    }

    private Path storeSeveral(byte[] tar, List<String> labels) throws IOException {
        Path object = xdg.resolve("tekton-caches/" + severalKey(labels));
        Files.createDirectories(object.getParent());
        try (OutputStream out = Compression.ZSTD.compress(Files.newOutputStream(object))) {
            out.write(tar);
        }
        return object;
    }

    private Path storeSeveral(byte[] tar) throws IOException {
        return storeSeveral(tar, List.of("a", "b"));
    }

    /** An entry of groups, each a tar of its own, where the key of folders a and b leads, as Upload writes one. */
    private void storeSeveralGroups(List<byte[]> tars) throws IOException {
        var store = new FileStore(Files.createDirectories(xdg.resolve("tekton-caches")));
        String name = severalKey(List.of("a", "b"));
        try (Store.EntryWrite write = store.createEntry(name, Compression.ZSTD)) {
            long tarBytes = 0;
            for (byte[] tar : tars) {
                var compressed = new ByteArrayOutputStream();
                try (OutputStream zstd = Compression.ZSTD.compress(compressed)) {
                    zstd.write(tar);
                }
                byte[] bytes = compressed.toByteArray();
                OutputStream out = write.beginGroup();
                out.write(bytes);
                out.flush();
                write.endGroup(new Store.Group(sha256(tar), tar.length, sha256(bytes), bytes.length));
                tarBytes += tar.length;
            }
            assertTrue(write.commit(new Store.Description(name, Instant.now(), tarBytes, null, tars.size(), null), 0));
        }
    }

    private static String sha256(byte[] bytes) {
        return Digests.hex(Digests.sha256().digest(bytes));
    }

    private static CraftedTar manifest(String content) {
        return new CraftedTar().file(MANIFEST, content);
    }

    private static CraftedTar manifest() {
        return manifest(MANIFEST_AB);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static CraftedTar symlink(CraftedTar tar, String name, String target) {
        return tar.header(bytes(name), '2', 0, 0777, bytes(target));
    }

    private static CraftedTar hardlink(CraftedTar tar, String name, String target) {
        return tar.header(bytes(name), '1', 0, 0644, bytes(target));
    }

    private static CraftedTar dir(CraftedTar tar, String name) {
        return tar.header(bytes(name), '5', 0, 0755, new byte[0]);
    }

    /** A folder by V7's convention: a regular file's type NUL, no data, its name ending in '/'. */
    private static CraftedTar oldFolder(CraftedTar tar, String name) {
        return tar.header(bytes(name), '\0', 0, 0755, new byte[0]);
    }

    /** Everything the restore could touch: the project (both folders in it) and the folder outside. */
    private SortedMap<String, String> world() throws IOException {
        var all = new TreeMap<String, String>();
        Fixtures.snapshot(project, true).forEach((k, v) -> all.put("project/" + k, v));
        Fixtures.snapshot(outside, true).forEach((k, v) -> all.put("outside/" + k, v));
        return all;
    }

    private static SortedMap<String, String> withoutProjectRoot(SortedMap<String, String> world) {
        var all = new TreeMap<>(world);
        all.remove("project/");
        return all;
    }

    private Fixtures.Run fetchSeveral(String... more) throws Exception {
        var args = new ArrayList<>(List.of("--pattern", "go.sum", "--folder", "a", "--folder", "b"));
        args.addAll(List.of(more));
        return Fixtures.fetch(project, env, args.toArray(String[]::new));
    }

    /** The fetch failed with status in one line naming words, and nothing anywhere changed. */
    private void assertRefused(SortedMap<String, String> before, Fixtures.Run run, int status, String words) throws IOException {
        assertEquals(status, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", words);
        assertEquals(before, world(), "every folder, the project and outside as they were, no staging left: " + run);
    }

    // -- Crafted entries of several folders: each refused, nothing changed.

    private static Arguments attack(String name, int status, String words, Function<Path, byte[]> tar) {
        return Arguments.of(Named.of(name, tar), status, words);
    }

    static Stream<Arguments> hostileEntries() {
        int hostile = ExitStatus.STORE;
        return Stream.of(
                // The list of folders itself.
                attack("two lists of folders", hostile, "none of the entry's 2 folders",
                        o -> manifest().file(MANIFEST, MANIFEST_AB).file("0/new.txt", "n\n").end()),
                attack("a list whose labels repeat", hostile, "list of folders",
                        o -> manifest("0 a\n1 a\n").file("0/new.txt", "n\n").end()),
                attack("a list whose numbers are out of order", hostile, "list of folders",
                        o -> manifest("1 b\n0 a\n").file("0/new.txt", "n\n").end()),
                attack("a list whose numbers skip one", hostile, "list of folders",
                        o -> manifest("0 a\n2 b\n").file("0/new.txt", "n\n").end()),
                attack("a list with a zero-padded number", hostile, "list of folders",
                        o -> manifest("00 a\n1 b\n").file("0/new.txt", "n\n").end()),
                attack("a list without its last line break", hostile, "line break",
                        o -> manifest("0 a\n1 b").file("0/new.txt", "n\n").end()),
                attack("a list with an empty line after the last", hostile, "list of folders",
                        o -> manifest("0 a\n1 b\n\n").file("0/new.txt", "n\n").end()),
                attack("a list with an empty label", hostile, "list of folders",
                        o -> manifest("0 a\n1 \n").file("0/new.txt", "n\n").end()),
                attack("a list with a NUL in a label", hostile, "list of folders",
                        o -> manifest("0 a\n1 b\0\n").file("0/new.txt", "n\n").end()),
                attack("a list of one folder", hostile, "not several",
                        o -> manifest("0 a\n").file("0/new.txt", "n\n").end()),
                attack("an empty list", hostile, "line break",
                        o -> manifest("").file("0/new.txt", "n\n").end()),
                attack("a list larger than 64 KiB", hostile, "at most 65536 bytes",
                        o -> manifest(MANIFEST_AB + "#".repeat(70_000) + "\n").file("0/new.txt", "n\n").end()),
                attack("a list whose PAX size claims 1 GiB", hostile, "at most 65536 bytes",
                        o -> new CraftedTar().pax("size=1073741824").file(MANIFEST, MANIFEST_AB).file("0/new.txt", "n\n").end()),
                attack("a list whose PAX size hides the second line", hostile, "not several",
                        o -> new CraftedTar().pax("size=4").file(MANIFEST, MANIFEST_AB).file("0/new.txt", "n\n").end()),
                attack("a list cut by the stream's end", hostile, "cache-fetch",
                        o -> new CraftedTar().header(MANIFEST, '0', 1000).data(bytes(MANIFEST_AB)).bytes()),
                attack("a list that is a symlink", hostile, "not a list of folders",
                        o -> symlink(new CraftedTar(), MANIFEST, o.resolve("secret.txt").toString()).file("0/new.txt", "n\n").end()),
                attack("a list that is a hardlink", hostile, "not a list of folders",
                        o -> hardlink(new CraftedTar(), MANIFEST, "0/x").file("0/new.txt", "n\n").end()),
                attack("a list that is a folder", hostile, "not a list of folders",
                        o -> dir(new CraftedTar(), MANIFEST + "/").file("0/new.txt", "n\n").end()),
                attack("a list named ./.tekton-caches-folders/ (a folder by the old convention)", hostile,
                        "not a list of folders", o -> oldFolder(new CraftedTar(), "./" + MANIFEST + "/")
                                .file("0/new.txt", "n\n").end()),
                attack("a list named ./.tekton-caches-folders/ after the list", hostile, "none of the entry's 2 folders",
                        o -> oldFolder(manifest(), "./" + MANIFEST + "/").end()),
                attack("a list inside folder 0", hostile, ".tekton-caches-",
                        o -> manifest().file("0/" + MANIFEST, MANIFEST_AB).end()),
                attack("a staging name inside folder 1", hostile, ".tekton-caches-",
                        o -> manifest().file("1/.tekton-caches-restore-0000000000000001/tree/x", "n\n").end()),
                // Names under no folder, or climbing.
                attack("5/x, beyond the two folders", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("5/x", "n\n").end()),
                attack("2/x, just beyond", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("2/x", "n\n").end()),
                attack("-1/x", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("-1/x", "n\n").end()),
                attack("01/x", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("01/x", "n\n").end()),
                attack("+1/x", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("+1/x", "n\n").end()),
                attack("4294967296/x, a number that wraps to 0 in 32 bits", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("4294967296/x", "n\n").end()),
                attack("a bare top-level name", hostile, "none of the entry's 2 folders",
                        o -> manifest().file("0/new.txt", "n\n").file("x", "n\n").end()),
                attack("../x", hostile, "climbs out",
                        o -> manifest().file("0/new.txt", "n\n").file("../x", "n\n").end()),
                attack("0/../1/x", hostile, "climbs out",
                        o -> manifest().file("0/new.txt", "n\n").file("0/../1/x", "n\n").end()),
                attack("0/../../outside/pwned.txt", hostile, "climbs out",
                        o -> manifest().file("0/new.txt", "n\n").file("0/../../outside/pwned.txt", "n\n").end()),
                attack("an absolute name", hostile, "absolute",
                        o -> manifest().file("0/new.txt", "n\n").file(o.resolve("pwned.txt").toString(), "n\n").end()),
                // Links between the folders.
                attack("a hardlink from 1/a to 0/x", hostile, "outside its own folder",
                        o -> hardlink(manifest().file("0/x", "a's new x\n").file("1/y", "y\n"), "1/a", "0/x").end()),
                attack("a hardlink from 0/a to 1/y", hostile, "outside its own folder",
                        o -> hardlink(manifest().file("1/y", "y\n").file("0/x", "x\n"), "0/a", "1/y").end()),
                attack("a hardlink from 1/a to 0/../1/y", hostile, "climbs out",
                        o -> hardlink(manifest().file("1/y", "y\n"), "1/a", "0/../1/y").end()),
                attack("a hardlink from 1/a to 1/../0/x", hostile, "climbs out",
                        o -> hardlink(manifest().file("0/x", "x\n"), "1/a", "1/../0/x").end()),
                attack("a hardlink from 1/a to 1, the folder itself", hostile, "outside its own folder",
                        o -> hardlink(manifest().file("1/y", "y\n"), "1/a", "1").end()),
                attack("a hardlink from 1/a to 1/ (the folder, with a slash)", hostile, "outside its own folder",
                        o -> hardlink(manifest().file("1/y", "y\n"), "1/a", "1/").end()),
                attack("a hardlink from 1/a to a file outside", hostile, "absolute",
                        o -> hardlink(manifest().file("1/y", "y\n"), "1/a", o.resolve("secret.txt").toString()).end()),
                attack("a hardlink from 1/a to 1/keep/old.txt, a file of the folder the archive did not make", hostile,
                        "not a file earlier in the archive",
                        o -> hardlink(manifest().file("1/y", "y\n"), "1/a", "1/keep/old.txt").end()),
                attack("a symlink 0/d -> ../b, then 0/d/x", hostile, "through the symlink",
                        o -> symlink(manifest(), "0/d", "../b").file("0/d/x", "through the link\n").end()),
                attack("a symlink 0/d -> ../1, then 0/d/x", hostile, "through the symlink",
                        o -> symlink(manifest(), "0/d", "../1").file("0/d/x", "through the link\n").end()),
                attack("a symlink 1/keep -> the outside, then 1/keep/pwned.txt", hostile, "through the symlink",
                        o -> symlink(manifest(), "1/keep", o.toString()).file("1/keep/pwned.txt", "escaped\n").end()),
                attack("a symlink 0/to-b (as the folder has it), then 0/to-b/x", hostile, "through the symlink",
                        o -> symlink(manifest(), "0/to-b", "../b").file("0/to-b/x", "through the link\n").end()),
                attack("a hardlink 0/l to 0/d/x where 0/d links to ../1", hostile, "not a file earlier in the archive",
                        o -> hardlink(symlink(manifest().file("1/x", "x\n"), "0/d", "../1"), "0/l", "0/d/x").end()),
                attack("a device in folder 1", hostile, "device",
                        o -> manifest().file("0/new.txt", "n\n").header("1/dev", '3', 0).end()),
                attack("a folder of 1 replaced by a link", hostile, "a folder stays a folder",
                        o -> symlink(dir(manifest(), "1/d/"), "1/d", o.toString()).end()));
    }


    /** The same entries refused where the folders do not exist yet: both are gone again, as is any parent made for them. */
    @Test
    void aHostileEntryLeavesNoFolderItMade() throws Exception {
        SafeRestore.deleteTree(a);
        SafeRestore.deleteTree(b);
        Files.setLastModifiedTime(project, LONG_AGO);
        storeSeveral(manifest().file("0/new.txt", "n\n").file("1/new.txt", "n\n").file("2/x", "n\n").end());
        var before = world();

        var run = fetchSeveral();

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "none of the entry's 2 folders");
        // The project's own mtime moves as a folder is made in it and removed again: all else is as it was.
        assertEquals(withoutProjectRoot(before), withoutProjectRoot(world()), run.toString());
        assertFalse(Files.exists(a));
        assertFalse(Files.exists(b));
    }

    // -- Entries of other folders: a usage error, nothing changed.

    static Stream<Arguments> otherFolders() {
        int usage = ExitStatus.USAGE;
        return Stream.of(
                attack("an entry of one folder (a file first)", usage, "was saved from one folder",
                        o -> new CraftedTar().file("x", "one folder's\n").end()),
                attack("an entry of one folder whose first entry is ./", usage, "was saved from one folder",
                        o -> dir(new CraftedTar(), "./").file("x", "one folder's\n").end()),
                attack("an entry of one folder that holds folders named 0 and 1", usage, "was saved from one folder",
                        o -> new CraftedTar().file("0/x", "0\n").file("1/x", "1\n").end()),
                attack("a list of folders that comes second", usage, "was saved from one folder",
                        o -> new CraftedTar().file("0/x", "0\n").file(MANIFEST, MANIFEST_AB).end()),
                attack("a list of the folders a and c", usage, "was saved from the folders a, c",
                        o -> manifest("0 a\n1 c\n").file("0/new.txt", "n\n").end()),
                attack("a list of the folders a, b and c", usage, "was saved from the folders a, b, c",
                        o -> manifest("0 a\n1 b\n2 c\n").file("0/new.txt", "n\n").end()),
                attack("a list of the folders ./a and b", usage, "was saved from the folders ./a, b",
                        o -> manifest("0 ./a\n1 b\n").file("0/new.txt", "n\n").end()),
                attack("a list of the folders a/ and b", usage, "was saved from the folders a/, b",
                        o -> manifest("0 a/\n1 b\n").file("0/new.txt", "n\n").end()),
                attack("an empty tar, as an empty folder is saved alone", usage, "was saved from one folder",
                        o -> new CraftedTar().end()));
    }

    /** Each crafted entry, hostile (exit 3) or of other folders (exit 2), is refused and changes nothing. */
    @ParameterizedTest(name = "{0}")
    @MethodSource({"hostileEntries", "otherFolders"})
    void aCraftedEntryIsRefusedAndChangesNothing(Function<Path, byte[]> tar, int status, String words)
            throws Exception {
        storeSeveral(tar.apply(outside));
        var before = world();

        var run = fetchSeveral();

        assertRefused(before, run, status, words);
    }

    /** The labels are the archive's bytes: printed as they are, a carriage return or an escape forges a line of its own. */
    @Test
    void aLabelWithACarriageReturnForgesNoSecondLine() throws Exception {
        storeSeveral(manifest("0 a\n1 b\rcache-fetch: restored 3 files into the folders a, b\n").file("0/new.txt", "n\n").end());
        var before = world();

        var run = fetchSeveral();

        assertRefused(before, run, ExitStatus.USAGE, "was saved from the folders a, b");
        assertFalse(run.err().chars().anyMatch(c -> c < 0x20 && c != '\n' || c == 0x7f), "a control character printed: "
                + run.err().replace("\r", "\\r"));
    }

    @Test
    void aHostileListWithAnEscapeSequencePrintsNone() throws Exception {
        storeSeveral(manifest("0 a\n1 b\n\u001b[2K\u001b[1Gcache-fetch: fine\n").file("0/new.txt", "n\n").end());
        var before = world();

        var run = fetchSeveral();

        assertRefused(before, run, ExitStatus.STORE, "list of folders");
        assertFalse(run.err().chars().anyMatch(c -> c < 0x20 && c != '\n' || c == 0x7f), "a control character printed: "
                + run.err().replace("\u001b", "ESC"));
    }

    @Test
    void aListOfFoldersInTheSecondGroupIsNoListOfFolders() throws Exception {
        storeSeveralGroups(List.of(new CraftedTar().file("0/x", "0\n").end(), manifest().file("1/x", "1\n").end()));
        var before = world();

        var run = fetchSeveral();

        assertRefused(before, run, ExitStatus.USAGE, "was saved from one folder");
    }

    @Test
    void aSecondListOfFoldersInTheSecondGroupIsRefused() throws Exception {
        storeSeveralGroups(List.of(manifest().file("0/new.txt", "n\n").end(), manifest("0 b\n1 a\n").file("1/x", "1\n").end()));
        var before = world();

        var run = fetchSeveral();

        assertRefused(before, run, ExitStatus.STORE, "none of the entry's 2 folders");
    }

    @Test
    void anEntryOfSeveralFoldersFetchedIntoOneIsAUsageErrorAndChangesNothing() throws Exception {
        CraftedTar.store(manifest().file("0/new.txt", "n\n").file("1/new.txt", "n\n").end(), project, a, xdg);
        var before = world();

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "a");

        assertRefused(before, run, ExitStatus.USAGE, "was saved from the folders a, b, not one folder");
    }

    @Test
    void anEntryOfSeveralFoldersFetchedIntoOneThatDoesNotExistLeavesNoFolder() throws Exception {
        Path missing = project.resolve("new/deeper");
        CraftedTar.store(manifest().file("0/new.txt", "n\n").file("1/new.txt", "n\n").end(), project, missing, xdg);
        var before = world();

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "new/deeper");

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "was saved from the folders a, b");
        assertEquals(withoutProjectRoot(before), withoutProjectRoot(world()), run.toString());
        assertFalse(Files.exists(project.resolve("new")));
    }

    @Test
    void aHostileListFetchedIntoOneFolderIsRefused() throws Exception {
        CraftedTar.store(symlink(new CraftedTar(), MANIFEST, outside.resolve("secret.txt").toString())
                .file("0/new.txt", "n\n").end(), project, a, xdg);
        var before = world();

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "a");

        assertRefused(before, run, ExitStatus.STORE, "not a list of folders");
    }

    @Test
    void aListOfFoldersLaterInAnEntryOfOneIsRefused() throws Exception {
        CraftedTar.store(new CraftedTar().file("x", "x\n").file(MANIFEST, MANIFEST_AB).file("0/new.txt", "n\n").end(), project,
                a, xdg);
        var before = world();

        var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "a");

        assertRefused(before, run, ExitStatus.STORE, ".tekton-caches-");
    }

    @Test
    void anEntryOfTwoFoldersFetchedIntoThreeIsAUsageError() throws Exception {
        Files.createDirectories(project.resolve("c"));
        Files.setLastModifiedTime(project.resolve("c"), LONG_AGO);
        Files.setLastModifiedTime(project, LONG_AGO);
        storeSeveral(manifest().file("0/new.txt", "n\n").end(), List.of("a", "b", "c"));
        var before = world();

        var run = fetchSeveral("--folder", "c");

        assertRefused(before, run, ExitStatus.USAGE, "was saved from the folders a, b, not the folders a, b, c");
    }

    // -- What an entry of several folders may do, and only that.

    @Test
    void theListMapsEachNumberToTheFolderOfItsLabelWhateverTheOrder() throws Exception {
        storeSeveral(manifest("0 b\n1 a\n").file("0/from-0.txt", "for b\n").file("1/from-1.txt", "for a\n").end());
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = fetchSeveral();

        assertEquals(0, run.status(), run.toString());
        assertEquals("for b\n", Files.readString(b.resolve("from-0.txt")));
        assertEquals("for a\n", Files.readString(a.resolve("from-1.txt")));
        assertFalse(Files.exists(a.resolve("from-0.txt")));
        assertFalse(Files.exists(b.resolve("from-1.txt")));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
        assertNoStaging(a);
        assertNoStaging(b);
    }

    @Test
    void theFoldersOwnNamesChangeNeitherFolderItself() throws Exception {
        // "0" and "1/" name the folders themselves: their type, mode and time are the user's.
        storeSeveral(symlink(manifest(), "0", outside.toString()).header(bytes("1/"), '5', 0, 0777, new byte[0])
                .header(bytes("1"), '0', 0, 0777, new byte[0]).file("0/new.txt", "n\n").end());
        String aBefore = Fixtures.snapshot(a, true).get("");
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = fetchSeveral();

        assertEquals(0, run.status(), run.toString());
        assertTrue(Files.isDirectory(a, LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isDirectory(b, LinkOption.NOFOLLOW_LINKS));
        assertEquals("755", Integer.toOctalString((Integer) Files.getAttribute(b, "unix:mode") & 0777));
        assertEquals(aBefore.replaceAll("mtime=\\d+", ""), Fixtures.snapshot(a, true).get("").replaceAll("mtime=\\d+", ""));
        assertEquals("n\n", Files.readString(a.resolve("new.txt")));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
    }

    @Test
    void aLinkInOneFolderToTheOtherIsRestoredAndNeverFollowed() throws Exception {
        storeSeveral(symlink(symlink(manifest(), "0/to-other", "../b"), "1/to-outside", outside.toString())
                .file("1/fresh.txt", "fresh\n").end());
        var outsideBefore = Fixtures.snapshot(outside, true);
        var bKeep = Fixtures.snapshot(b.resolve("keep"), true);

        var run = fetchSeveral();

        assertEquals(0, run.status(), run.toString());
        assertEquals(Path.of("../b"), Files.readSymbolicLink(a.resolve("to-other")));
        assertEquals(outside, Files.readSymbolicLink(b.resolve("to-outside")));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
        assertEquals(bKeep, Fixtures.snapshot(b.resolve("keep"), true));
    }

    @Test
    void aNameUnderTheFoldersOwnLinkToTheOtherReplacesTheLinkAndNeverWritesThroughIt() throws Exception {
        // a/to-b is the user's link to ../b: the archive's a/to-b/x makes a/to-b a folder of a, as a
        // restore never writes through a link it finds.
        storeSeveral(manifest().file("0/to-b/x", "through a's link?\n").end());
        var bBefore = Fixtures.snapshot(b, false);
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = fetchSeveral();

        assertEquals(0, run.status(), run.toString());
        assertTrue(Files.isDirectory(a.resolve("to-b"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("through a's link?\n", Files.readString(a.resolve("to-b/x")));
        assertEquals(bBefore, Fixtures.snapshot(b, false), "what b holds is as it was");
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
    }

    @Test
    void aListOf64KiBOfLinesIsReadQuickly() throws Exception {
        var lines = new StringBuilder();
        for (int i = 0; lines.length() < Folders_MAX - 32; i++) {
            lines.append(i).append(" l").append(i).append('\n');
        }
        storeSeveral(manifest(lines.toString()).file("0/new.txt", "n\n").end());
        var before = world();

        long started = System.nanoTime();
        var run = fetchSeveral();
        double seconds = (System.nanoTime() - started) / 1e9;

        assertRefused(before, run, ExitStatus.USAGE, "was saved from the folders l0, l1, l2, ");
        assertTrue(seconds < 20, seconds + " s");
    }

    private static final int Folders_MAX = 1 << 16;

    @Test
    void anExcludeLeavesItsNamesAloneInEveryFolder() throws Exception {
        storeSeveral(hardlink(symlink(manifest().file("0/keep/old.txt", "overwritten\n").file("0/keep/new.txt", "n\n")
                .file("1/keep/old.txt", "overwritten\n"), "1/keep/link", outside.toString())
                .file("0/fresh.txt", "fresh a\n").file("1/fresh.txt", "fresh b\n"), "1/joined.txt", "1/keep/old.txt").end());
        var aKeep = Fixtures.snapshot(a.resolve("keep"), true);
        var bKeep = Fixtures.snapshot(b.resolve("keep"), true);
        var outsideBefore = Fixtures.snapshot(outside, true);

        var run = fetchSeveral("--exclude", "keep");

        assertEquals(0, run.status(), run.toString());
        assertTrue(run.err().contains("leaving out 5 entries"), run.err());
        assertEquals(aKeep, Fixtures.snapshot(a.resolve("keep"), true), "a/keep as it was");
        assertEquals(bKeep, Fixtures.snapshot(b.resolve("keep"), true), "b/keep as it was");
        assertFalse(Files.exists(b.resolve("joined.txt"), LinkOption.NOFOLLOW_LINKS), "a link to a file left out is left out");
        assertEquals("fresh a\n", Files.readString(a.resolve("fresh.txt")));
        assertEquals("fresh b\n", Files.readString(b.resolve("fresh.txt")));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
    }

    @Test
    void anExcludeDoesNotExcuseAHostileEntryUnderIt() throws Exception {
        storeSeveral(hardlink(manifest().file("0/fresh.txt", "fresh\n"), "1/keep/l", "0/fresh.txt").end());
        var before = world();

        var run = fetchSeveral("--exclude", "keep");

        assertRefused(before, run, ExitStatus.STORE, "outside its own folder");
    }

    @Test
    void severalFoldersUploadedRestoreEachIntoItsOwn() throws Exception {
        // The key this test computes is the one the scripts use: the crafted entries above are found.
        var upload = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b");
        assertEquals(0, upload.status(), upload.toString());
        assertTrue(Files.exists(xdg.resolve("tekton-caches/" + severalKey(List.of("a", "b")))), upload.toString());
        var aBefore = Fixtures.snapshot(a, false);
        var bBefore = Fixtures.snapshot(b, false);
        Fixtures.chmod(a.resolve("ro"), "rwxr-xr-x");
        SafeRestore.deleteTree(a);
        SafeRestore.deleteTree(b);

        var run = fetchSeveral();

        assertEquals(0, run.status(), run.toString());
        assertEquals(aBefore, Fixtures.snapshot(a, false));
        assertEquals(bBefore, Fixtures.snapshot(b, false));
    }

    // -- A folder that cannot be placed: all or nothing across the folders.


    /** A folder of someone else's in folder: its mode cannot be set, the last step of placing a folder. */
    private static void foreignFolder(Path folder) throws IOException {
        Path foreign = Files.createDirectories(folder.resolve("foreign"));
        Files.setPosixFilePermissions(foreign, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setAttribute(foreign, "unix:uid", 65534);
        Files.setLastModifiedTime(foreign, LONG_AGO);
        Files.setLastModifiedTime(folder, LONG_AGO);
    }

    /** An entry that changes much in both folders: replaces files, a folder by a file, merges into read-only folders. */
    private static CraftedTar changingBoth() {
        return symlink(dir(manifest(), "0/keep/").file("0/keep/old.txt", "a's replaced\n").file("0/keep/new.txt", "new in a\n")
                .header(bytes("0/x/"), '\0', 0, 0644, new byte[0]).file("0/fresh/deep/new.txt", "new\n"), "0/to-b", "elsewhere")
                .header(bytes("0/ro/"), '5', 0, 0700, new byte[0]).file("0/ro/added.txt", "added\n")
                .file("1/x", "b's replaced\n").file("1/keep/new.txt", "new in b\n").file("1/fresh.txt", "fresh\n");
    }

    @Test
    void whenTheSecondFolderCannotBePlacedTheFirstIsTakenBack() throws Exception {
        foreignFolder(b);
        // a: its x (a file) becomes a folder, to-b (a link) another link, keep/old.txt replaced, ro merged into
        // and its mode changed; all this placed before b fails on foreign.
        storeSeveral(changingBoth().header(bytes("1/foreign/"), '5', 0, 0755, new byte[0]).end());
        var before = world();

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b"), project, env);

        assertRefused(before, run, ExitStatus.STORE, "writing the restored entries into " + b);
    }

    @Test
    void whenTheSecondFolderCannotBePlacedTheFirstIsTakenBackFromFoldersTheArchiveLockedUp() throws Exception {
        foreignFolder(b);
        // a's new folders, and ro and keep merged into, get mode r-------- from the archive before b fails:
        // the undo must open them to take back what it placed in them.
        storeSeveral(changingBoth().header(bytes("0/fresh/deep/"), '5', 0, 0400, new byte[0])
                .header(bytes("0/fresh/"), '5', 0, 0400, new byte[0]).header(bytes("0/ro/"), '5', 0, 0400, new byte[0])
                .header(bytes("0/keep/"), '5', 0, 0400, new byte[0])
                .header(bytes("1/foreign/"), '5', 0, 0755, new byte[0]).end());
        var before = world();

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b"), project, env);

        assertRefused(before, run, ExitStatus.STORE, "writing the restored entries into " + b);
    }

    @Test
    void aFolderOfMode0InTheFirstFolderFailsTheRestoreWholeForAUser() throws Exception {
        // Its time cannot be set by a user (the JVM opens it to set it): the failure comes in a's own
        // placement, after its moves, and must take them back.
        storeSeveral(changingBoth().header(bytes("0/fresh/"), '5', 0, 0, new byte[0]).end());
        var before = world();

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b"), project, env);

        assertRefused(before, run, ExitStatus.STORE, "writing the restored entries into " + a);
    }

    @Test
    void whenTheSecondFolderCannotBePlacedTheFirstIsTakenBackWhicheverNumberEachHas() throws Exception {
        foreignFolder(b);
        // The list gives b number 0: still a, the first given, is placed first and taken back.
        storeSeveral(manifest("0 b\n1 a\n").file("1/keep/old.txt", "a's replaced\n").file("1/fresh/new.txt", "new\n")
                .file("0/x", "b's replaced\n").header(bytes("0/foreign/"), '5', 0, 0755, new byte[0]).end());
        var before = world();

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b"), project, env);

        assertRefused(before, run, ExitStatus.STORE, "writing the restored entries into " + b);
    }

    @Test
    void whenTheFirstFolderCannotBePlacedTheSecondIsNeverTouched() throws Exception {
        foreignFolder(a);
        storeSeveral(changingBoth().header(bytes("0/foreign/"), '5', 0, 0755, new byte[0]).end());
        var before = world();

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "a", "--folder", "b"), project, env);

        assertRefused(before, run, ExitStatus.STORE, "writing the restored entries into " + a);
    }

    @Test
    void whenTheSecondFolderCannotBeMadeTheFirstIsAsItWas() throws Exception {
        SafeRestore.deleteTree(b);
        Files.writeString(b, "a file where folder b should be\n");
        Files.setLastModifiedTime(b, LONG_AGO);
        Files.setLastModifiedTime(project, LONG_AGO);
        storeSeveral(changingBoth().end());
        var before = world();

        var run = fetchSeveral();

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().filter(l -> l.startsWith("cache-fetch:")).count(), run.err());
        assertEquals(before, world(), run.toString());
    }

    @Test
    void whenTheSecondFolderFillsItsDiskTheFirstIsAsItWas() throws Exception {
        assumeTrue((Integer) Files.getAttribute(tmp, "unix:uid") == 0, "mounting a small file system takes root");
        assumeTrue(Fixtures.run(List.of("unshare", "-m", "true"), tmp, env).status() == 0, "unshare -m is not allowed here");
        byte[] big = new byte[4 * (int) Fixtures.MiB];
        new java.util.SplittableRandom(7).nextBytes(big);
        storeSeveral(changingBoth().header("1/big.bin", '0', big.length).data(big).end());
        var before = world();

        // A 1 MiB tmpfs over b, in a mount namespace of the fetch's own: gone when it ends.
        var command = new ArrayList<>(List.of("unshare", "-m", "sh", "-c",
                "mount -t tmpfs -o size=1m tmpfs \"$0\" && echo 'restored last week' > \"$0/earlier.txt\" && \"$@\";"
                        + " status=$?; echo '--- after:'; ls -A \"$0\"; cat \"$0/earlier.txt\"; exit $status",
                b.toString()));
        command.addAll(Fixtures.scriptCommand(List.of(), "CacheFetch", "--pattern", "go.sum", "--folder", "a", "--folder", "b"));
        var run = Fixtures.run(command, project, env);

        assertRefused(before, run, ExitStatus.STORE, "No space left on device");
        assertEquals(List.of("--- after:", "earlier.txt", "restored last week"), run.out().lines().toList(), run.toString());
    }

    private static void assertNoStaging(Path folder) throws IOException {
        try (var children = Files.list(folder)) {
            assertEquals(List.of(), children.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".tekton-caches-"))
                    .toList());
        }
    }
}

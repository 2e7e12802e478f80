import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.stream.Stream;
import lib.archive.SafeRestore;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Several folders in one entry, through the scripts and the local store: a Gradle home's caches and
 * wrapper beside a folder of the checkout, restored each into its own place on another machine
 * (another home, another checkout), all or none of them; an entry of other folders refused.
 */
class SeveralFoldersTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @TempDir
    Path tmp;

    /** Where the entries go: a local store, unless a test says otherwise. */
    private String location;

    @BeforeEach
    void store() {
        location = "file://" + tmp.resolve("store") + "/gradle-{{hash}}";
    }

    /** A machine: a home with a Gradle user home, and a checkout with a build cache of its own. */
    private record Machine(Path home, Path project, Map<String, String> env) {

        Path caches() {
            return home.resolve(".gradle/caches");
        }

        Path wrapper() {
            return home.resolve(".gradle/wrapper");
        }

        Path buildCache() {
            return project.resolve("build-cache");
        }

        List<String> folders(Path... folders) {
            var args = new ArrayList<String>();
            for (Path folder : folders) {
                args.addAll(List.of("--folder", folder.toString()));
            }
            return args;
        }

        List<SortedMap<String, String>> snapshots(boolean withRoots) throws Exception {
            var snapshots = new ArrayList<SortedMap<String, String>>();
            for (Path folder : List.of(caches(), wrapper(), buildCache())) {
                snapshots.add(Files.exists(folder) ? Fixtures.snapshot(folder, withRoots) : new java.util.TreeMap<>());
            }
            return snapshots;
        }
    }

    private Machine machine(String name) throws Exception {
        Path root = tmp.resolve(name);
        Path project = root.resolve("checkout");
        Fixtures.write(project.resolve("build.gradle"), "plugins { id 'java' }\n");
        var env = Fixtures.env(root.resolve("xdg"));
        env.put("HOME", root.resolve("home").toString());
        return new Machine(root.resolve("home"), project, env);
    }

    private Fixtures.Run upload(Machine machine, List<String> folders, String... options) throws Exception {
        return Fixtures.upload(machine.project(), machine.env(), args("--target", folders, options));
    }

    private Fixtures.Run fetch(Machine machine, List<String> folders, String... options) throws Exception {
        return Fixtures.fetch(machine.project(), machine.env(), args("--source", folders, options));
    }

    private String[] args(String storeOption, List<String> folders, String... options) {
        var args = new ArrayList<>(List.of(storeOption, location));
        args.addAll(folders);
        args.addAll(List.of(options));
        return args.toArray(String[]::new);
    }

    /** What a Gradle build leaves: jars, a wrapper with its script, a build cache. */
    private static void build(Machine machine) throws Exception {
        Fixtures.richTree(machine.caches().resolve("modules-2"), 0);
        Fixtures.write(machine.caches().resolve("jars-9/lib.jar"), "a jar\n");
        Fixtures.write(machine.wrapper().resolve("dists/gradle-8.5-bin/gradle-8.5/bin/gradle"), "#!/bin/sh\n");
        Fixtures.chmod(machine.wrapper().resolve("dists/gradle-8.5-bin/gradle-8.5/bin/gradle"), "rwxr-x---");
        Fixtures.write(machine.buildCache().resolve("entries/1f2e"), "compiled\n");
    }

    @ParameterizedTest(name = "{0}, --compression {1}")
    @CsvSource({"file, zstd", "file, none", "oci, zstd"})
    void eachFolderIsRestoredIntoItsOwnPlaceOnAnotherMachine(String store, String compression) throws Exception {
        if (store.equals("oci")) { // an image whose first layer starts with the list of folders
            location = "oci://" + registry.host() + "/several/" + compression + ":gradle-{{hash}}";
        }
        Machine first = machine("first");
        build(first);
        var saved = first.snapshots(false);
        // A jar hard-linked into the build cache: the restore may put the folders on two file systems.
        Files.createLink(first.buildCache().resolve("entries/lib.jar"), first.caches().resolve("jars-9/lib.jar"));
        saved.get(2).put("entries/lib.jar", saved.get(0).get("jars-9/lib.jar"));
        var uploaded = upload(first, first.folders(first.caches(), first.wrapper(), first.buildCache()),
                "--compression", compression);
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains(" from the folders ~/.gradle/caches, ~/.gradle/wrapper, build-cache to "),
                uploaded.toString());

        // Another home and another checkout; the folders named in another order; a file of its own kept.
        Machine second = machine("second");
        Fixtures.write(second.wrapper().resolve("mine.txt"), "kept\n");
        var fetched = fetch(second, second.folders(second.buildCache(), second.caches(), second.wrapper()));

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains(" into the folders build-cache, ~/.gradle/caches, ~/.gradle/wrapper from "),
                fetched.toString());
        Files.delete(second.wrapper().resolve("mine.txt"));
        assertEquals(saved, second.snapshots(false), "the link between two folders comes back as two files");
        assertFalse(hasStaging(second), "no staging left");
    }

    private static boolean hasStaging(Machine machine) throws Exception {
        for (Path folder : List.of(machine.caches(), machine.wrapper(), machine.buildCache())) {
            if (Files.exists(folder)) {
                try (Stream<Path> children = Files.list(folder)) {
                    if (children.anyMatch(child -> child.getFileName().toString().startsWith(".tekton-caches-"))) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** --exclude works inside each folder, on the save and the restore; --max-size weighs them together. */
    @Test
    void excludeAppliesInsideEachFolderAndMaxSizeToThemAll() throws Exception {
        Machine machine = machine("one");
        build(machine);
        Fixtures.write(machine.caches().resolve("journal-1/file-access.bin"), "x".repeat(600));
        Fixtures.write(machine.wrapper().resolve("dists/gradle-8.5-bin/file-access.bin"), "y".repeat(600));
        long bytes = 0;
        for (Path folder : List.of(machine.caches(), machine.wrapper())) {
            try (Stream<Path> files = Files.walk(folder)) {
                bytes += files.filter(file -> Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
                        .mapToLong(file -> file.toFile().length()).sum();
            }
        }
        var both = machine.folders(machine.caches(), machine.wrapper());

        var tooBig = upload(machine, both, "--max-size", Long.toString(bytes - 1));
        assertEquals(0, tooBig.status(), tooBig.toString());
        assertTrue(tooBig.err().contains("not saved: the files of the folders ~/.gradle/caches, ~/.gradle/wrapper hold "),
                tooBig.toString());
        var saved = upload(machine, both, "--max-size", Long.toString(bytes), "--exclude", "**/file-access.bin");
        assertEquals(0, saved.status(), saved.toString());

        Machine other = machine("other");
        Fixtures.write(other.caches().resolve("modules-2/bin/run.sh"), "mine\n");
        var fetched = fetch(other, other.folders(other.caches(), other.wrapper()), "--exclude", "modules-2/bin");

        assertEquals(0, fetched.status(), fetched.toString());
        assertFalse(Files.exists(other.caches().resolve("journal-1/file-access.bin")), "left out of the save");
        assertFalse(Files.exists(other.wrapper().resolve("dists/gradle-8.5-bin/file-access.bin")), "left out of the save");
        assertEquals("mine\n", Files.readString(other.caches().resolve("modules-2/bin/run.sh")), "left alone by the restore");
        assertTrue(Files.exists(other.wrapper().resolve("dists/gradle-8.5-bin/gradle-8.5/bin/gradle")), fetched.toString());
    }

    /** A build that used no wrapper made no wrapper/: the folder is saved empty, and restored so. */
    @Test
    void aFolderTheBuildDidNotMakeIsSavedEmpty() throws Exception {
        Machine machine = machine("one");
        build(machine);
        SafeRestore.deleteTree(machine.wrapper());
        var both = machine.folders(machine.caches(), machine.wrapper());

        var uploaded = upload(machine, both);

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("note: --folder " + machine.wrapper() + " does not exist: it is saved as an empty"
                + " folder"), uploaded.toString());
        Machine other = machine("other");
        var fetched = fetch(other, other.folders(other.caches(), other.wrapper()));
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(machine.caches(), false), Fixtures.snapshot(other.caches(), false));
        assertEquals(Map.of(), Fixtures.snapshot(other.wrapper(), false));
    }

    @Test
    void theFoldersNamesMakePartOfTheKeyWhateverTheirOrder() throws Exception {
        Machine machine = machine("one");
        build(machine);

        String one = key(upload(machine, machine.folders(machine.caches())));
        String both = key(upload(machine, machine.folders(machine.caches(), machine.wrapper())));
        String reversed = key(upload(machine, machine.folders(machine.wrapper(), machine.caches(), machine.wrapper())));
        String other = key(upload(machine, machine.folders(machine.caches(), machine.buildCache())));
        String twice = key(upload(machine, machine.folders(machine.caches(), machine.caches())));

        assertNotEquals(one, both);
        assertEquals(both, reversed, "the same folders in another order, one named twice");
        assertNotEquals(both, other);
        assertEquals(one, twice, "a folder named twice is one folder, keyed as ever");
    }

    private static String key(Fixtures.Run run) {
        assertEquals(0, run.status(), run.toString());
        var matcher = java.util.regex.Pattern.compile("; key ([0-9a-f]{64}) ").matcher(run.err());
        assertTrue(matcher.find(), run.toString());
        return matcher.group(1);
    }

    /** An entry found by a restore key for other folders: exit 2, one line, and no folder touched. */
    @Test
    void anEntryOfOtherFoldersIsAUsageErrorAndChangesNothing() throws Exception {
        Machine machine = machine("one");
        build(machine);
        assertEquals(0, upload(machine, machine.folders(machine.caches(), machine.wrapper())).status());
        Fixtures.write(machine.project().resolve("build.gradle"), "plugins { id 'java-library' }\n"); // another key
        Fixtures.write(machine.buildCache().resolve("mine.txt"), "mine\n");
        var before = machine.snapshots(true);

        var asked = Map.of(
                "one folder", machine.folders(machine.caches()),
                "the folders ~/.gradle/caches, build-cache", machine.folders(machine.caches(), machine.buildCache()),
                "the folders ~/.gradle/caches, ~/.gradle/wrapper, build-cache",
                machine.folders(machine.caches(), machine.wrapper(), machine.buildCache()));
        for (var fetch : asked.entrySet()) {
            var run = fetch(machine, fetch.getValue(), "--restore-key", "gradle-");

            assertEquals(ExitStatus.USAGE, run.status(), run.toString());
            Fixtures.assertOneLine(run, "cache-fetch", "was saved from the folders ~/.gradle/caches, ~/.gradle/wrapper, not "
                    + fetch.getKey() + ", so nothing was restored");
            assertEquals(before, machine.snapshots(true), fetch.getKey());
            assertFalse(hasStaging(machine));
        }

        // And the other way: an entry of one folder, fetched into two.
        assertEquals(0, upload(machine, machine.folders(machine.buildCache())).status());
        Fixtures.write(machine.project().resolve("build.gradle"), "plugins { id 'application' }\n");
        before = machine.snapshots(true);
        var run = fetch(machine, machine.folders(machine.caches(), machine.wrapper()), "--restore-key", "gradle-",
                "--results-dir", tmp.resolve("results").toString());

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "was saved from one folder, not the folders ~/.gradle/caches, ~/.gradle/wrapper");
        assertEquals(before, machine.snapshots(true));
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals("", Files.readString(tmp.resolve("results/matched-key")), "nothing was restored, nothing matched");
    }

    /**
     * The second folder's placement fails after the first was placed (a folder of another user's
     * whose mode the restore cannot set): the first is taken back, both left exactly as they were.
     */
    @Test
    void aFolderThatCannotBePlacedTakesTheOthersBack() throws Exception {
        Machine machine = machine("one");
        build(machine);
        Files.createDirectories(machine.wrapper().resolve("foreign"));
        assertEquals(0, upload(machine, machine.folders(machine.caches(), machine.wrapper())).status());
        Fixtures.write(machine.caches().resolve("jars-9/lib.jar"), "another jar\n");
        Fixtures.write(machine.caches().resolve("mine.txt"), "mine\n");
        Files.delete(machine.caches().resolve("modules-2/hard/one.txt"));
        Path foreign = machine.wrapper().resolve("foreign");
        Files.setPosixFilePermissions(foreign, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setAttribute(foreign, "unix:uid", 65534);
        for (Path dir : List.of(foreign, machine.caches().resolve("jars-9"), machine.caches(), machine.wrapper())) {
            Files.setLastModifiedTime(dir, FileTime.from(Instant.parse("2021-01-01T00:00:00Z")));
        }
        var before = machine.snapshots(true);

        var command = Fixtures.fetchAsAUser(tmp, machine.env(), args("--source", machine.folders(machine.caches(),
                machine.wrapper())));
        var run = Fixtures.run(command, machine.project(), machine.env());

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "writing the restored entries into " + machine.wrapper()
                + ": Operation not permitted");
        assertEquals(before, machine.snapshots(true), "the caches placed first are taken back, modes and times too");
        assertFalse(hasStaging(machine));
    }
}

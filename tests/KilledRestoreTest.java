import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A restore stopped while it places its entries, as a cancelled or timed-out TaskRun's pod is:
 * SIGTERM first, SIGKILL 30 s later. Either way the folder ends exactly as it was before the
 * restore: after SIGTERM as the script exits, after SIGKILL once the next run of either script
 * has taken the killed restore's journal back. The script is stopped by a breakpoint at the nth
 * move into the folder (every one but the entry's new folder moves a file of the folder aside),
 * in the folders' modes and times set last, or while the archive is still read.
 */
class KilledRestoreTest {

    private static final FileTime LONG_AGO = FileTime.from(Instant.parse("2001-09-09T01:46:40Z"));

    @TempDir
    Path tmp;

    private Path project;
    private Path folder;
    private Map<String, String> env;
    private SortedMap<String, String> before;

    @BeforeEach
    void saveAnEntryAndFillTheFolderWithOlderVersionsOfItsFiles() throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        fill(project.resolve("saved"), "the entry's");
        Fixtures.write(project.resolve("saved/new/only-in-the-entry.txt"), "new\n");
        var saved = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "saved");
        assertEquals(0, saved.status(), saved.toString());
        folder = tmp.resolve("folder");
        fill(folder, "the folder's");
        before = Fixtures.snapshot(folder, true);
    }

    /** Files the entry and the folder both hold, with other contents; folders of the folder's own; all written long ago. */
    private static void fill(Path root, String whose) throws Exception {
        Fixtures.write(root.resolve("version.txt"), whose + " version\n");
        for (int i = 0; i < 8; i++) {
            Fixtures.write(root.resolve("lib/f" + i + ".jar"), whose + " jar " + i + "\n");
        }
        Fixtures.write(root.resolve("ro/x.txt"), whose + " x\n");
        Fixtures.write(root.resolve("mine/kept-" + whose.replace(' ', '-').replace("'", "") + ".txt"), "of " + whose + " own\n");
        Fixtures.chmod(root.resolve("ro"), "r-xr-xr-x"); // as Go's module cache has them
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) { // children before their folder
                Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setTimes(LONG_AGO, LONG_AGO, null);
            }
        }
    }

    private Fixtures.Run fetchStopped(StoppedScript.Stop... stops) throws Exception {
        return StoppedScript.run(List.of(stops), "CacheFetch", project, env, "--pattern", "go.sum", "--folder",
                folder.toString());
    }

    private static StoppedScript.Stop killedAt(String className, String method, int hit) {
        return new StoppedScript.Stop("lib.archive." + className, method, hit, script -> script.destroyForcibly().waitFor());
    }

    @ParameterizedTest(name = "killed at {0}.{1} #{2}")
    @CsvSource({"Placement, moveIn, 1", "Placement, moveIn, 6", "Placement, applyDirectoryMetadata, 2"})
    void aRestoreKilledWhilePlacingIsTakenBackByTheNextFetchAndTheFetchAfterRestoresWhole(String className, String method,
            int hit) throws Exception {
        var killed = fetchStopped(killedAt(className, method, hit));
        assertEquals(137, killed.status(), killed.toString());
        assertNotEquals(before, Fixtures.snapshot(folder, true), "the kill left nothing to take back");

        var lookup = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", folder.toString(), "--lookup-only");

        assertEquals(0, lookup.status(), lookup.toString());
        assertTrue(lookup.err().contains("took back a restore into " + folder + " killed part way"), lookup.toString());
        assertEquals(before, Fixtures.snapshot(folder, true), "the folder is as it was before the killed restore");

        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", folder.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertFalse(fetched.err().contains("took back"), fetched.toString());
        Path control = tmp.resolve("control");
        fill(control, "the folder's");
        assertEquals(0, Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", control.toString()).status());
        assertEquals(Fixtures.snapshot(control, false), Fixtures.snapshot(folder, false), "restored as into an untouched folder");
    }

    @ParameterizedTest(name = "killed at {0}.{1} #{2}")
    @CsvSource({"Placement, moveIn, 4", "Placement, applyDirectoryMetadata, 1"})
    void anUploadAfterAKilledRestoreTakesItBackFirstAndSavesTheFolderAsItWas(String className, String method, int hit)
            throws Exception {
        var killed = fetchStopped(killedAt(className, method, hit));
        assertEquals(137, killed.status(), killed.toString());
        Fixtures.write(project.resolve("go.sum"), "lock, next version\n"); // a key of its own, so the upload writes

        var uploaded = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", folder.toString());

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.err().contains("took back a restore into " + folder + " killed part way"), uploaded.toString());
        assertEquals(before, Fixtures.snapshot(folder, true), "the folder is as it was before the killed restore");
        Path check = tmp.resolve("check");
        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", check.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(folder, false), Fixtures.snapshot(check, false), "the upload saved the folder as it was");
    }

    /**
     * SIGTERM, with the restore held at a stop until the shutdown hook the signal starts has asked
     * it to stop: the script undoes what it placed, removes its staging, then exits (143).
     */
    @ParameterizedTest(name = "SIGTERM at {0}.{1} #{2}")
    @CsvSource({"Placement, moveIn, 6", "Placement, applyDirectoryMetadata, 2", "StagedFolder, extract, 3"})
    void aRestoreSentSigtermLeavesTheFolderAsItWasBeforeItExits(String className, String method, int hit) throws Exception {
        var terminated = fetchStopped(new StoppedScript.Stop("lib.archive." + className, method, hit, Process::destroy),
                new StoppedScript.Stop("lib.archive.StopRequest", "awaitRestore", 1, script -> {}));

        assertEquals(143, terminated.status(), terminated.toString());
        assertTrue(terminated.lastLine().startsWith("cache-fetch: restoring ")
                && terminated.lastLine().endsWith(": stopped by a signal (SIGTERM) before it was in place, and taken back"),
                "the step still gets its line: " + terminated);
        assertEquals(before, Fixtures.snapshot(folder, true), "the folder is as it was before the restore");
        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", folder.toString(), "--lookup-only");
        assertEquals(0, fetched.status(), fetched.toString());
        assertFalse(fetched.err().contains("took back"), "nothing was left to take back: " + fetched);
    }
}

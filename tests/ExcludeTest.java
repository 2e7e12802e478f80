import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * --exclude through the scripts and the local store: a save leaves the paths out (with a survey of
 * groups, and with --compression none's single walk), "!" takes a file back, and a restore leaves
 * them alone in the folder even when the entry holds them.
 */
class ExcludeTest {

    @TempDir
    Path tmp;

    private Path project;
    private Path repository;
    private Map<String, String> env;

    /** A Maven repository holding the project's own snapshots beside third-party artifacts. */
    @BeforeEach
    void project() throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        repository = project.resolve("repository");
        Fixtures.write(project.resolve("pom.xml"), "<project/>\n");
        Fixtures.richTree(repository, 0);
        Fixtures.write(repository.resolve("com/mycompany/app/1.0-SNAPSHOT/app-1.0-SNAPSHOT.jar"), "ours\n");
        Fixtures.write(repository.resolve("com/mycompany/lib/2.0/lib-2.0.pom"), "<project/>\n");
        Fixtures.write(repository.resolve("org/thirdparty/dep/1.0/dep-1.0.jar"), "theirs\n");
        Fixtures.write(repository.resolve("org/thirdparty/dep/1.0/resolver-status.properties"), "status\n");
        Fixtures.write(repository.resolve("org/thirdparty/dep/1.0/_remote.repositories"), "remote\n");
    }

    private Fixtures.Run upload(String... options) throws Exception {
        var args = new ArrayList<>(List.of("--folder", "repository"));
        args.addAll(List.of(options));
        return Fixtures.upload(project, env, args.toArray(String[]::new));
    }

    private Fixtures.Run fetch(Path folder, String... options) throws Exception {
        var args = new ArrayList<>(List.of("--folder", folder.toString()));
        args.addAll(List.of(options));
        return Fixtures.fetch(project, env, args.toArray(String[]::new));
    }

    @ParameterizedTest(name = "--compression {0}")
    @ValueSource(strings = {"zstd", "none"})
    void aSaveLeavesOutWhatIsExcludedAndBangTakesAFileBack(String compression) throws Exception {
        var uploaded = upload("--compression", compression, "--exclude", "com/mycompany/**", "--exclude", "**/*.properties",
                "--exclude", "**/_remote.repositories", "--exclude", "!org/thirdparty/dep/1.0/_remote.repositories");
        assertEquals(0, uploaded.status(), uploaded.toString());

        Path restored = tmp.resolve("restored");
        var fetched = fetch(restored);

        assertEquals(0, fetched.status(), fetched.toString());
        var expected = Fixtures.snapshot(repository, false);
        expected.keySet().removeIf(name -> name.startsWith("com/mycompany/") || name.endsWith(".properties"));
        assertEquals(expected, Fixtures.snapshot(restored, false)); // com/mycompany itself is not excluded: saved empty
        assertTrue(Files.exists(restored.resolve("org/thirdparty/dep/1.0/_remote.repositories")), "taken back by !");
    }

    @Test
    void aRestoreLeavesExcludedPathsInTheFolderAloneEvenWhenTheEntryHoldsThem() throws Exception {
        assertEquals(0, upload().status());
        Path restored = tmp.resolve("restored");
        Fixtures.write(restored.resolve("com/mycompany/app/1.0-SNAPSHOT/app-1.0-SNAPSHOT.jar"), "built here\n");
        Fixtures.write(restored.resolve("hard/one.txt"), "mine\n");

        // "!" takes nothing back inside an excluded folder, on a restore as on a save.
        var fetched = fetch(restored, "--exclude", "com/mycompany/**", "--exclude", "hard/one.txt", "--exclude", "com/mycompany",
                "--exclude", "!com/mycompany/lib/**");

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("built here\n", Files.readString(restored.resolve("com/mycompany/app/1.0-SNAPSHOT/app-1.0-SNAPSHOT.jar")));
        assertFalse(Files.exists(restored.resolve("com/mycompany/lib")), "the entry's com/mycompany/lib is left out too");
        assertEquals("mine\n", Files.readString(restored.resolve("hard/one.txt")));
        // hard/two.txt is a link to hard/one.txt in the archive: with nothing to join, it is left out as well.
        assertFalse(Files.exists(restored.resolve("hard/two.txt")));
        assertEquals("theirs\n", Files.readString(restored.resolve("org/thirdparty/dep/1.0/dep-1.0.jar")));
        long ours = Fixtures.snapshot(repository, false).keySet().stream().filter(name -> name.startsWith("com/mycompany")).count();
        assertTrue(fetched.err().contains(", leaving out " + (ours + 2) + " entries --exclude names"), fetched.toString());
    }

    /**
     * An entry holding as a file or a link the name of a folder that holds excluded paths: that
     * folder is left as it is, the entry's item with it (replacing it would take what --exclude
     * names along), and the rest of the entry is restored.
     */
    @ParameterizedTest(name = "{0} with --exclude {2}")
    @CsvSource(delimiter = '|', value = {
            ".cache as a file    | .cache | .cache/**   | .cache/sub/keep-me",
            ".cache as a symlink | .cache | .cache/**   | .cache/sub/keep-me",
            "a/b as a file       | a/b    | a/b/c/**    | a/b/c/keep-me",
            "a as a symlink      | a      | a/b/c/**    | a/b/c/keep-me",
            "x as a file         | x      | **/keep-me  | x/y/keep-me"})
    void aRestoreLeavesAFolderHoldingExcludedPathsAloneWhenTheEntryHoldsItsNameAsAFileOrLink(String label, String name,
            String pattern, String keep) throws Exception {
        Path saved = project.resolve("saved");
        if (label.contains("symlink")) {
            Files.createDirectories(saved.resolve(name).getParent());
            Files.createSymbolicLink(saved.resolve(name), Path.of("elsewhere"));
        } else {
            Fixtures.write(saved.resolve(name), "a file in the entry\n");
        }
        Fixtures.write(saved.resolve("other.txt"), "restored\n");
        assertEquals(0, Fixtures.upload(project, env, "--folder", "saved").status());
        Path restored = tmp.resolve("restored");
        Fixtures.write(restored.resolve(keep), "mine\n");
        Fixtures.write(restored.resolve(name + "/beside.txt"), "mine too\n");
        Fixtures.write(restored.resolve("other.txt"), "before\n");

        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString(), "--exclude", pattern);

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("mine\n", Files.readString(restored.resolve(keep)));
        assertEquals("mine too\n", Files.readString(restored.resolve(name + "/beside.txt")), "the folder is left whole");
        assertEquals("restored\n", Files.readString(restored.resolve("other.txt")));
        assertTrue(fetched.err().contains(", leaving out 1 entries --exclude names"), fetched.toString());
    }

    /** With nothing excluded in the folder it stands for, a file of the entry replaces a folder as always. */
    @Test
    void aFileOfTheEntryReplacesAFolderHoldingNothingExcluded() throws Exception {
        Fixtures.write(project.resolve("saved/.cache"), "a file in the entry\n");
        assertEquals(0, Fixtures.upload(project, env, "--folder", "saved").status());
        Path restored = tmp.resolve("restored");
        Fixtures.write(restored.resolve(".cache/other/file"), "not excluded\n");

        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString(), "--exclude", ".cache/sub/**");

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("a file in the entry\n", Files.readString(restored.resolve(".cache")));
    }

    /** Of several folders, each is placed on its own: the rule holds in the second as in the first. */
    @Test
    void aRestoreIntoSeveralFoldersLeavesEachFolderHoldingExcludedPathsAlone() throws Exception {
        Fixtures.write(project.resolve("one/.cache"), "a file in the entry\n");
        Files.createDirectories(project.resolve("two"));
        Files.createSymbolicLink(project.resolve("two/.cache"), Path.of("elsewhere"));
        Fixtures.write(project.resolve("two/other.txt"), "restored\n");
        assertEquals(0, Fixtures.upload(project, env, "--folder", "one", "--folder", "two").status());
        Files.delete(project.resolve("one/.cache"));
        Fixtures.write(project.resolve("one/.cache/sub/keep-me"), "mine\n");
        Files.delete(project.resolve("two/.cache"));
        Fixtures.write(project.resolve("two/.cache/sub/keep-me"), "mine too\n");
        Fixtures.write(project.resolve("two/other.txt"), "before\n");

        var fetched = Fixtures.fetch(project, env, "--folder", "one", "--folder", "two", "--exclude", ".cache/**");

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("mine\n", Files.readString(project.resolve("one/.cache/sub/keep-me")));
        assertEquals("mine too\n", Files.readString(project.resolve("two/.cache/sub/keep-me")));
        assertEquals("restored\n", Files.readString(project.resolve("two/other.txt")));
        assertTrue(fetched.err().contains(", leaving out 2 entries --exclude names"), fetched.toString());
    }
}

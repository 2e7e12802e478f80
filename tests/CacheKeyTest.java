import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import lib.common.Digests;
import lib.common.ExitStatus;
import lib.common.UsageError;
import lib.key.CacheKey;
import lib.key.Patterns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The key: what goes into it, and what does not change it. */
class CacheKeyTest {

    @TempDir
    Path tmp;

    private static String key(Path workingDir, String... patterns) {
        return CacheKey.compute(workingDir, Patterns.parse(List.of(patterns)), Set.of()).hash();
    }

    @Test
    void keyIsTheDigestOfSortedPathsAndContentDigests() throws Exception {
        Path dir = tmp.resolve("w");
        Fixtures.write(dir.resolve("z/go.sum"), "z\n");
        Fixtures.write(dir.resolve("a/go.sum"), "a\n");
        Fixtures.write(dir.resolve("go.sum"), "root\n");

        var expected = Digests.sha256();
        for (String name : List.of("a/go.sum", "go.sum", "z/go.sum")) {
            expected.update(name.getBytes(StandardCharsets.UTF_8));
            expected.update((byte) 0);
            expected.update(Digests.sha256().digest(Files.readAllBytes(dir.resolve(name))));
        }

        assertEquals(Digests.hex(expected.digest()), key(dir, "**/go.sum"));
    }

    @Test
    void keyIsTheSameWhateverTheOrderFilesWereCreatedIn() throws Exception {
        Path first = tmp.resolve("first");
        Path second = tmp.resolve("second");
        var names = List.of("b/go.sum", "a/go.sum", "c/d/go.sum", "go.sum", "aa/go.sum");
        for (String name : names) {
            Fixtures.write(first.resolve(name), name);
        }
        for (String name : new java.util.ArrayList<>(names) {{ java.util.Collections.reverse(this); }}) {
            Fixtures.write(second.resolve(name), name);
        }
        assertEquals(key(first, "**/go.sum"), key(second, "**/go.sum"));
    }

    @Test
    void keyChangesWhenAMatchedFileChanges() throws Exception {
        Fixtures.write(tmp.resolve("go.sum"), "v1\n");
        String before = key(tmp, "go.sum");
        Fixtures.write(tmp.resolve("go.sum"), "v2\n");
        assertNotEquals(before, key(tmp, "go.sum"));
    }

    @Test
    void keyChangesWhenAMatchedFileMovesWithTheSameContent() throws Exception {
        Fixtures.write(tmp.resolve("a/go.sum"), "same\n");
        String before = key(tmp, "**/go.sum");
        Files.createDirectories(tmp.resolve("b"));
        Files.move(tmp.resolve("a/go.sum"), tmp.resolve("b/go.sum"));
        assertNotEquals(before, key(tmp, "**/go.sum"));
    }

    @Test
    void keyIgnoresFilesThePatternsDoNotSelect() throws Exception {
        Fixtures.write(tmp.resolve("go.sum"), "v1\n");
        String before = key(tmp, "go.sum");
        Fixtures.write(tmp.resolve("README.md"), "not a lock file\n");
        Fixtures.write(tmp.resolve("sub/go.sum"), "not at the top\n");
        assertEquals(before, key(tmp, "go.sum"));
    }

    @Test
    void bangExcludesFromTheKey() throws Exception {
        Fixtures.write(tmp.resolve("pom.xml"), "root\n");
        Fixtures.write(tmp.resolve("examples/pom.xml"), "example v1\n");
        String before = key(tmp, "**/pom.xml", "!examples");
        Fixtures.write(tmp.resolve("examples/pom.xml"), "example v2\n");
        assertEquals(before, key(tmp, "**/pom.xml", "!examples"));
        assertNotEquals(before, key(tmp, "**/pom.xml"));
    }

    @Test
    void skippedCacheFolderIsNotHashed() throws Exception {
        Fixtures.write(tmp.resolve("package-lock.json"), "{}\n");
        String before = CacheKey.compute(tmp, Patterns.parse(List.of("**/*.json")), Set.of(tmp.resolve("node_modules"))).hash();
        Fixtures.write(tmp.resolve("node_modules/left-pad/package.json"), "{}\n");
        assertEquals(before,
                CacheKey.compute(tmp, Patterns.parse(List.of("**/*.json")), Set.of(tmp.resolve("node_modules"))).hash());
    }

    @Test
    void patternsThatMatchNothingAreAUsageErrorNamingPattern() throws Exception {
        Fixtures.write(tmp.resolve("pom.xml"), "x\n");
        var error = assertThrows(UsageError.class, () -> key(tmp, "**/go.sum"));
        assertTrue(error.getMessage().contains("--pattern"), error.getMessage());
        assertEquals(ExitStatus.USAGE, error.exitStatus());
    }

    @Test
    void symlinkedLockFileCountsByItsContent() throws Exception {
        Fixtures.write(tmp.resolve("real/go.sum"), "content\n");
        Files.createSymbolicLink(tmp.resolve("go.sum"), Path.of("real/go.sum"));
        String before = key(tmp, "go.sum");
        Fixtures.write(tmp.resolve("real/go.sum"), "changed\n");
        assertNotEquals(before, key(tmp, "go.sum"));
    }
}

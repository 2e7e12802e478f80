import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import lib.common.Log;
import lib.common.UsageError;
import lib.key.CacheKey;
import lib.key.Patterns;
import lib.key.ProjectDetection;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** With no --pattern, the project's ecosystem is found from its files and its lock files make the key. */
class DetectionTest {

    @TempDir
    Path tmp;

    private static final Log QUIET = new Log(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), false);

    private String key() {
        Patterns patterns = CacheKey.patternsFor(List.of(), tmp, QUIET);
        return CacheKey.compute(tmp, patterns, Set.of()).hash();
    }

    @ParameterizedTest(name = "{0} project: {1} is detected and {2} makes the key")
    @CsvSource(delimiter = '|', textBlock = """
            Maven    | pom.xml            | modules/core/pom.xml
            Gradle   | build.gradle       | gradle/wrapper/gradle-wrapper.properties
            Gradle   | settings.gradle.kts | app/build.gradle.kts
            npm      | package-lock.json  | package-lock.json
            Yarn     | yarn.lock          | packages/web/yarn.lock
            pnpm     | pnpm-lock.yaml     | pnpm-lock.yaml
            Go       | go.mod             | tools/go.sum
            pip      | requirements.txt   | requirements-dev.txt
            Pipenv   | Pipfile.lock       | Pipfile.lock
            Poetry   | poetry.lock        | poetry.lock
            Bundler  | Gemfile.lock       | Gemfile.lock
            Composer | composer.lock      | composer.lock
            Cargo    | Cargo.lock         | crates/x/Cargo.toml
            """)
    void ecosystemIsDetectedAndItsLockFilesMakeTheKey(String ecosystem, String marker, String lockFile) throws Exception {
        Fixtures.write(tmp.resolve(marker), "marker\n");
        Fixtures.write(tmp.resolve(lockFile), "v1\n");
        Fixtures.write(tmp.resolve("README.md"), "not part of the key\n");

        var detected = ProjectDetection.detect(tmp);
        assertTrue(detected.stream().anyMatch(d -> d.name().equals(ecosystem)), detected.toString());
        String before = key();
        Fixtures.write(tmp.resolve("README.md"), "edited\n");
        assertEquals(before, key(), "a file that is no lock file changed the key");
        Fixtures.write(tmp.resolve(lockFile), "v2\n");
        assertNotEquals(before, key(), lockFile + " did not change the key");
    }

    @ParameterizedTest(name = "lock files under {0} are not the project's")
    @CsvSource({"node_modules/left-pad", ".git/modules", "packages/web/node_modules/x"})
    void dependencyFoldersStayOutOfTheKey(String folder) throws Exception {
        Fixtures.write(tmp.resolve("package-lock.json"), "{}\n");
        String before = key();
        Fixtures.write(tmp.resolve(folder + "/package-lock.json"), "{\"theirs\":1}\n");
        assertEquals(before, key());
    }

    @ParameterizedTest(name = "nothing detected in a folder holding {0}")
    @CsvSource({"README.md", "package.json", "setup.cfg"})
    void nothingDetectedIsAUsageErrorNamingPattern(String file) throws Exception {
        Fixtures.write(tmp.resolve(file), "x\n");
        var error = org.junit.jupiter.api.Assertions.assertThrows(UsageError.class, this::key);
        assertTrue(error.getMessage().contains("--pattern"), error.getMessage());
    }
}

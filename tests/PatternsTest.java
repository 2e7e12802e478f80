import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import lib.common.UsageError;
import lib.key.Patterns;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** .dockerignore rules, as moby's patternmatcher applies them, on paths relative to the working dir. */
class PatternsTest {

    @ParameterizedTest(name = "{0} on {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            go.sum                 | go.sum                   | true
            go.sum                 | sub/go.sum               | false
            /go.sum                | go.sum                   | true
            ./go.sum               | go.sum                   | true
            **/go.sum              | go.sum                   | true
            **/go.sum              | a/b/c/go.sum             | true
            *.lock                 | yarn.lock                | true
            *.lock                 | sub/yarn.lock            | false
            */*.lock               | sub/yarn.lock            | true
            requirements*.txt      | requirements-dev.txt     | true
            go.?um                 | go.sum                   | true
            go.?um                 | go.sssum                 | false
            [abc].txt              | b.txt                    | true
            [abc].txt              | d.txt                    | false
            [!abc].txt             | d.txt                    | true
            src                    | src/main/App.java        | true
            src/**/*.gradle        | src/a/b/x.gradle         | true
            src/**/*.gradle        | other/x.gradle           | false
            **                     | anything/at/all          | true
            a\\*b                  | a*b                      | true
            a\\*b                  | axb                      | false
            """)
    void patternSelects(String pattern, String path, boolean selected) {
        assertEquals(selected, Patterns.parse(List.of(pattern)).selects(path));
    }

    @ParameterizedTest(name = "{0} then {1} on {2}: {3}")
    @CsvSource(delimiter = '|', textBlock = """
            **/pom.xml | !examples/**      | examples/a/pom.xml  | false
            **/pom.xml | !examples         | examples/a/pom.xml  | false
            **/pom.xml | !examples         | pom.xml             | true
            !**/pom.xml | **/pom.xml       | a/pom.xml           | true
            **/*.json  | !**/node_modules  | node_modules/x/a.json | false
            """)
    void lastMatchingPatternWins(String first, String second, String path, boolean selected) {
        assertEquals(selected, Patterns.parse(List.of(first, second)).selects(path));
    }

    @ParameterizedTest(name = "{0} {1} enters {2}: {3}")
    @CsvSource(delimiter = '|', textBlock = """
            **/pom.xml       | !**/node_modules | node_modules   | false
            **/pom.xml       | !**/node_modules | a/node_modules | false
            **/pom.xml       | !**/node_modules | src            | true
            src/main/*.xml   | !nothing         | src            | true
            src/main/*.xml   | !nothing         | src/main       | true
            src/main/*.xml   | !nothing         | docs           | false
            src/main/*.xml   | !nothing         | src/main/deep  | false
            lock.txt         | !nothing         | cache          | false
            lock.txt         | !nothing         | lock.txt       | true
            */go.sum         | !nothing         | a              | true
            */go.sum         | !nothing         | a/b            | false
            src/**/x.gradle  | !nothing         | src/a/b/c      | true
            src/**/x.gradle  | !nothing         | test/a         | false
            **               | !nothing         | any/where      | true
            """)
    void walkEntersOnlyFoldersThatMayHoldMatches(String first, String second, String dir, boolean enters) {
        assertEquals(enters, Patterns.parse(List.of(first, second)).maySelectBelow(dir));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            ../outside.lock
            a/../../outside.lock
            '   '
            [unclosed
            """)
    void badPatternsAreUsageErrors(String pattern) {
        assertThrows(UsageError.class, () -> Patterns.parse(List.of(pattern)));
    }
}

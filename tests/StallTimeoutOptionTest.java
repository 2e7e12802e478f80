import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** --stall-timeout and PARAM_STALL_TIMEOUT, both scripts: read as the other durations are, a bad value a usage error. */
class StallTimeoutOptionTest {

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(project.resolve("cache/earlier.txt"), "earlier\n");
    }

    @ParameterizedTest(name = "{0} {1}={2}: exit 2 saying {3}")
    @CsvSource(delimiter = '|', textBlock = """
            CacheFetch  | --stall-timeout     | 0s   | --stall-timeout '0s'
            CacheFetch  | --stall-timeout     | 30   | --stall-timeout '30'
            CacheUpload | --stall-timeout     | soon | --stall-timeout 'soon'
            CacheFetch  | PARAM_STALL_TIMEOUT | 1.5s | --stall-timeout '1.5s'
            CacheUpload | PARAM_STALL_TIMEOUT | -2s  | --stall-timeout '-2s'
            """)
    void aBadStallTimeoutExitsTwoWithOneLine(String script, String option, String value, String words) throws Exception {
        var stepEnv = new HashMap<>(env);
        var args = new java.util.ArrayList<>(List.of("--pattern", "go.sum", "--folder", "cache"));
        if (option.startsWith("--")) {
            args.add(option + "=" + value);
        } else {
            stepEnv.put(option, value);
        }
        var run = Fixtures.script(List.of(), script, project, stepEnv, args.toArray(String[]::new));
        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, script.equals("CacheFetch") ? "cache-fetch" : "cache-upload", words);
    }

    @Test
    void aStallTimeoutFromTheFlagOrTheEnvironmentIsAccepted() throws Exception {
        var uploaded = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "cache", "--stall-timeout", "90s");
        assertEquals(ExitStatus.OK, uploaded.status(), uploaded.toString());
        var stepEnv = new HashMap<>(env);
        stepEnv.put("PARAM_STALL_TIMEOUT", "2m");
        var fetched = Fixtures.fetch(project, stepEnv, "--pattern", "go.sum", "--folder", tmp.resolve("restored").toString());
        assertEquals(ExitStatus.OK, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("restored "), fetched.err());
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line contract: exit statuses, one-line messages, results, the StepAction's environment. */
class CliTest {

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.mod"), "module x\n");
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(project.resolve("cache/earlier.txt"), "earlier\n");
    }

    @Test
    void missExitsZeroLeavesTheFolderUntouchedAndSaysFetchedFalse() throws Exception {
        var before = Fixtures.snapshot(project.resolve("cache"), true);

        var run = Fixtures.fetch(project, env, "--folder", "cache", "--results-dir", tmp.resolve("results").toString());

        assertEquals(ExitStatus.OK, run.status(), "a miss is not a failure unless asked: " + run);
        assertEquals(1, run.err().lines().count(), "one line says what happened: " + run.err());
        assertTrue(run.err().startsWith("cache miss: nothing at file://"), run.err());
        assertTrue(run.err().contains("from 2 files (go.mod, go.sum)"), run.err());
        assertEquals(before, Fixtures.snapshot(project.resolve("cache"), true));
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals("false", Files.readString(tmp.resolve("results/cache-hit")));
        assertEquals("", Files.readString(tmp.resolve("results/matched-key")));
        assertEquals(64, Files.readString(tmp.resolve("results/cache-key")).length());
        assertEquals("", run.out(), "stdout is for machines, and there is nothing to say");
    }

    @Test
    void failOnMissExitsOneByFlagOrByParameter() throws Exception {
        var before = Fixtures.snapshot(project.resolve("cache"), true);

        var flagged = Fixtures.fetch(project, env, "--folder", "cache", "--fail-on-miss");
        var parameterEnv = new java.util.HashMap<>(env);
        parameterEnv.put("PARAM_FAIL_ON_MISS", "true");
        var parameter = Fixtures.fetch(project, parameterEnv, "--folder", "cache");
        var overridden = Fixtures.fetch(project, parameterEnv, "--folder", "cache", "--fail-on-miss=false");

        assertEquals(ExitStatus.MISS, flagged.status(), flagged.toString());
        assertEquals(1, flagged.err().lines().count(), "one line says what happened: " + flagged.err());
        assertTrue(flagged.err().startsWith("cache miss: ") && flagged.err().contains("--fail-on-miss"), flagged.err());
        assertEquals(ExitStatus.MISS, parameter.status(), parameter.toString());
        assertEquals(ExitStatus.OK, overridden.status(), "a flag wins over the environment: " + overridden);
        assertEquals(before, Fixtures.snapshot(project.resolve("cache"), true));
    }

    @Test
    void missIntoAMissingFolderCreatesNothing() throws Exception {
        var run = Fixtures.fetch(project, env, "--folder", "not-yet");
        assertEquals(ExitStatus.OK, run.status(), run.toString());
        assertTrue(run.err().startsWith("cache miss: "), run.err());
        assertFalse(Files.exists(project.resolve("not-yet")));
    }

    @Test
    void hitWritesEveryResultWithoutTrailingNewline() throws Exception {
        assertEquals(0, Fixtures.upload(project, env, "--folder", "cache").status());
        var run = Fixtures.fetch(project, env, "--folder", tmp.resolve("out").toString(), "--results-dir",
                tmp.resolve("results").toString());
        assertEquals(0, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), "one line says what happened: " + run.err());
        String key = Files.readString(tmp.resolve("results/cache-key"));
        assertTrue(run.err().startsWith("restored 1 file, 0 folders, 0 links"), run.err());
        assertTrue(run.err().contains("key " + key + " from 2 files"), run.err());
        assertTrue(key.matches("[0-9a-f]{64}"), key);
        assertEquals(key, Files.readString(tmp.resolve("results/matched-key")));
        assertEquals("true", Files.readString(tmp.resolve("results/fetched")));
        assertEquals(Long.toString(Files.size(tmp.resolve("xdg/tekton-caches/" + key))),
                Files.readString(tmp.resolve("results/size")));
    }

    /**
     * A restore that fails on an Error (zstd's native library that cannot be unpacked, as under a
     * read-only root with no writable /tmp) claims no hit, so that the pipeline saves again.
     */
    @Test
    void failedRestoreClaimsNoHit() throws Exception {
        assertEquals(0, Fixtures.upload(project, env, "--folder", "cache", "--compression", "zstd").status());

        var run = Fixtures.script(List.of("-Djava.io.tmpdir=" + tmp.resolve("no-such-folder")), "CacheFetch", project, env,
                "--folder", tmp.resolve("out").toString(), "--results-dir", tmp.resolve("results").toString());

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertTrue(run.err().contains("Cannot unpack"), run.err());
        assertEquals("false", Files.readString(tmp.resolve("results/fetched")));
        assertEquals("false", Files.readString(tmp.resolve("results/cache-hit")));
        assertEquals("", Files.readString(tmp.resolve("results/matched-key")));
    }

    @Test
    void stepActionEnvironmentIsReadAndFlagsWinOverIt() throws Exception {
        var stepEnv = new java.util.HashMap<>(env);
        stepEnv.put("PARAM_TARGET", tmp.resolve("store").toUri() + "/{{hash}}");
        stepEnv.put("PARAM_SOURCE", tmp.resolve("store").toUri() + "/{{hash}}");
        stepEnv.put("PARAM_CACHE_PATH", project.resolve("cache").toString());
        stepEnv.put("PARAM_WORKING_DIR", project.toString());
        stepEnv.put("PARAM_INSECURE", "false");
        assertEquals(0, Fixtures.upload(tmp, stepEnv, "--results-dir", tmp.resolve("up").toString()).status());
        assertTrue(Files.exists(tmp.resolve("store/" + Files.readString(tmp.resolve("up/cache-key")))));

        stepEnv.put("PARAM_CACHE_PATH", tmp.resolve("elsewhere").toString());
        var run = Fixtures.fetch(tmp, stepEnv, "--folder", tmp.resolve("restored").toString());

        assertEquals(0, run.status(), run.toString());
        assertEquals("earlier\n", Files.readString(tmp.resolve("restored/earlier.txt")));
        assertFalse(Files.exists(tmp.resolve("elsewhere")), "--folder did not win over PARAM_CACHE_PATH");
    }

    @ParameterizedTest(name = "{0} {1}: exit 2 saying {2}")
    @CsvSource(delimiter = '|', textBlock = """
            CacheFetch  | --folder cache --bogus                      | Unknown option
            CacheFetch  | --pattern go.sum                            | --folder
            CacheFetch  | --folder cache --pattern nothing.lock       | --pattern
            CacheFetch  | --folder cache --source ftp://x/{{hash}}    | unknown scheme ftp
            CacheFetch  | --folder cache --source /no/scheme/{{hash}} | no scheme
            CacheFetch  | --folder cache --insecure maybe             | --insecure
            CacheFetch  | --folder cache --source file://host/{{hash}} | file:///absolute/path
            CacheUpload | --folder missing-folder                     | not a directory
            CacheUpload | --folder cache --compression brotli         | --compression
            CacheUpload | --folder cache --compression zstd:20        | the zstd level is a number from 1 to 19
            CacheUpload | --folder cache --compression gzip:0         | the gzip level is a number from 1 to 9
            CacheUpload | --folder cache --compression none:1         | none has no level
            CacheUpload | --folder cache --max-size lots              | --max-size lots is not a size
            CacheUpload | --folder cache --keep 0 --restore-key x     | --keep 0 is not a number of entries from 1 up
            CacheUpload | --folder cache --exclude ../elsewhere       | --exclude '../elsewhere' leaves the folder
            CacheFetch  | --folder cache --exclude [a-z                | --exclude '[a-z' has an unclosed '['
            CacheUpload | --folder cache --target file:///tmp/dir/     | names a folder
            CacheUpload | --folder cache --folder cache/sub            | lies inside --folder
            CacheFetch  | --folder cache/sub --folder ./cache          | lies inside --folder
            CacheUpload | --folder missing-a --folder missing-b        | none of the --folder options names a directory
            CacheUpload | --folder cache --folder go.sum               | go.sum is not a directory
            CacheUpload | -u HOME -u XDG_CACHE_HOME --folder cache     | no --target given and neither XDG_CACHE_HOME nor HOME is set
            CacheFetch  | -u HOME -u XDG_CACHE_HOME --folder cache     | no --source given and neither XDG_CACHE_HOME nor HOME is set
            CacheFetch  | --folder cache --verify-key missing.pub     | verify key missing.pub: no such file
            CacheUpload | --folder cache --verify-key go.sum          | verify key go.sum: is not a PEM file
            CacheUpload | --folder cache --sign-key cache             | signing key cache: is a directory
            CacheUpload | --folder cache --sign-key missing.pem       | signing key missing.pem: no such file
            """)
    void usageErrorsExitTwoWithOneLine(String script, String args, String words) throws Exception {
        // Leading "-u NAME" pairs unset NAME, as env -u does.
        var argv = new java.util.ArrayList<>(List.of(args.split(" ")));
        var runEnv = new java.util.HashMap<>(env);
        while (argv.size() > 1 && argv.get(0).equals("-u")) {
            runEnv.remove(argv.get(1));
            argv.subList(0, 2).clear();
        }
        var run = Fixtures.script(java.util.List.of(), script, project, runEnv, argv.toArray(String[]::new));
        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, script.equals("CacheFetch") ? "cache-fetch" : "cache-upload", words);
    }

    @Test
    void noPatternAndNothingDetectedExitsTwoNamingPattern() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty-project"));
        var run = Fixtures.fetch(empty, env, "--folder", "cache");
        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-fetch", "--pattern");
    }

    /**
     * Each spelling against a registry whose certificate nobody trusts: --insecure true reaches it
     * (a miss), false refuses it (exit 3). Plain HTTP would not tell them apart: like the Go tool, a
     * fetch speaks it to a loopback address without --insecure.
     */
    @Test
    void insecureAcceptsTheGoToolsForms() throws Exception {
        env.remove("SSL_CERT_FILE");
        env.remove("SSL_CERT_DIR");
        try (var registry = RegistryServer.start(tmp.resolve("registry"), RegistryServer.Auth.NONE, true)) {
            String source = "oci://" + registry.host() + "/cli/insecure:{{hash}}";
            var forms = new java.util.LinkedHashMap<List<String>, Boolean>();
            forms.put(List.of("--insecure", "true"), true);
            forms.put(List.of("--insecure=true"), true);
            forms.put(List.of("--insecure"), true);
            forms.put(List.of("--insecure", "false"), false);
            forms.put(List.of("--insecure=false"), false);
            forms.put(List.of(), false);
            for (var form : forms.entrySet()) {
                var args = new java.util.ArrayList<>(List.of("--folder", "cache", "--source", source));
                args.addAll(form.getKey());
                var run = Fixtures.fetch(project, env, args.toArray(String[]::new));
                String what = String.join(" ", form.getKey()) + ": " + run;
                if (form.getValue()) {
                    assertEquals(ExitStatus.OK, run.status(), what);
                    assertTrue(run.err().startsWith("cache miss: nothing at oci://" + registry.host()), what);
                } else {
                    assertEquals(ExitStatus.STORE, run.status(), what);
                    Fixtures.assertOneLine(run, "cache-fetch", "TLS with " + registry.host() + " failed");
                }
            }
        }
    }

    @Test
    void storeErrorsExitThreeWithOneLineAndAStackTraceOnlyWhenVerbose() throws Exception {
        Fixtures.write(tmp.resolve("not-a-folder"), "a file where the store wants a folder\n");
        String target = tmp.resolve("not-a-folder").toUri() + "/{{hash}}";

        var quiet = Fixtures.upload(project, env, "--folder", "cache", "--target", target);
        var verbose = Fixtures.upload(project, env, "--folder", "cache", "--target", target, "--verbose");

        assertEquals(ExitStatus.STORE, quiet.status(), quiet.toString());
        Fixtures.assertOneLine(quiet, "cache-upload", "not-a-folder");
        assertEquals(ExitStatus.STORE, verbose.status(), verbose.toString());
        assertTrue(verbose.err().contains("\tat "), verbose.err());
    }
}

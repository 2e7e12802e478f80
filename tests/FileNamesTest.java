import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Names as users' folders hold them, under the locales their shells have: non-ASCII names with no
 * LANG at all (JDK 17 then compiles and decodes in US-ASCII), and names that are not UTF-8.
 */
class FileNamesTest {

    @TempDir
    Path tmp;

    private Path project;
    private String store;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        store = "file://" + tmp.resolve("store") + "/{{hash}}";
    }

    /** Only PATH and HOME, as `env -i PATH=$PATH HOME=$HOME` leaves: no LANG, no LC_*, so the POSIX locale. */
    private static Map<String, String> noLocale() {
        return Map.of("PATH", System.getenv("PATH"), "HOME", System.getProperty("user.home"));
    }

    /** A script through ./jbang, as a developer's shell runs it, with env and nothing else. */
    private Fixtures.Run jbang(Map<String, String> env, String script, String... args) throws Exception {
        var command = new java.util.ArrayList<>(List.of(Fixtures.REPO.resolve("jbang").toString(),
                Fixtures.REPO.resolve(script).toString(), "--pattern", "go.sum"));
        command.addAll(List.of(args));
        return Fixtures.run(command, project, env);
    }

    /** Makes a file or folder whose name holds these bytes, by sh: no Java string names it. */
    private void makeRaw(String printfName, boolean folder) throws Exception {
        String make = folder ? "mkdir \"$n\" && echo inside >\"$n/inner.txt\"" : "echo raw >\"$n\"";
        var run = Fixtures.run(List.of("sh", "-c", "n=$(printf '" + printfName + "') && " + make), project.resolve("cache"),
                Map.of("PATH", System.getenv("PATH")));
        assertEquals(0, run.status(), run.toString());
    }

    @Test
    void nonAsciiNamesRoundTripWithNoLocaleSet() throws Exception {
        Path cache = project.resolve("cache");
        Fixtures.write(cache.resolve("café/é.txt"), "é\n");
        Fixtures.write(cache.resolve("日本/語.txt"), "日本語\n");
        Fixtures.write(cache.resolve("emoji/\uD83D\uDE00.txt"), "\uD83D\uDE00\n");
        Path restored = tmp.resolve("restored-é");

        var uploaded = jbang(noLocale(), "cache-upload.java", "--folder", "cache", "--target", store,
                "--results-dir", tmp.resolve("up").toString());
        var fetched = jbang(noLocale(), "cache-fetch.java", "--folder", restored.toString(), "--source", store,
                "--results-dir", tmp.resolve("down").toString());

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
        assertEquals("true", Files.readString(tmp.resolve("down/cache-hit")));
    }

    /**
     * Run again under C.UTF-8, a fetch sent SIGTERM (a cancelled step signals the process it started,
     * the first JVM) still takes its restore back: the signal is passed on and waited for.
     */
    @Test
    void aFetchRunAgainUnderUtf8AndSentSigtermTakesItsRestoreBack() throws Exception {
        for (int i = 0; i < 2000; i++) {
            Fixtures.writeRandom(project.resolve("cache/d" + (i % 20) + "/f" + i + ".bin"), 40_000, i);
        }
        assertEquals(0, Fixtures.upload(project, Fixtures.env(tmp.resolve("xdg")), "--pattern", "go.sum", "--folder", "cache",
                "--target", store).status());
        Path folder = tmp.resolve("restored");
        Fixtures.write(folder.resolve("mine.txt"), "before\n");
        var before = Fixtures.snapshot(folder, true);
        var reruns = new java.util.concurrent.CopyOnWriteArrayList<ProcessHandle>();

        var run = Fixtures.run(Fixtures.scriptCommand(List.of(), "CacheFetch", "--pattern", "go.sum", "--folder", folder.toString(),
                "--source", store, "--results-dir", tmp.resolve("down").toString()), project, noLocale(),
                java.time.Duration.ofMinutes(2), first -> new Thread(() -> {
                    try {
                        // Signalled once the restore has begun staging: not before it, nor after it ended.
                        while (first.isAlive() && !staging(folder)) {
                            Thread.sleep(5);
                        }
                        first.descendants().forEach(reruns::add);
                        first.destroy();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }).start());

        assertEquals(128 + 15, run.status(), run.toString());
        assertTrue(run.err().contains("stopped by a signal (SIGTERM)") && run.err().contains("taken back"), run.toString());
        assertEquals(1, reruns.size(), "the command ran again in a child: " + reruns);
        assertFalse(reruns.get(0).isAlive(), "the child ended before the first JVM");
        assertEquals(before, Fixtures.snapshot(folder, true));
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
    }

    private static boolean staging(Path folder) throws java.io.IOException {
        try (var names = Files.list(folder)) {
            return names.anyMatch(name -> name.getFileName().toString().startsWith(".tekton-caches-"));
        }
    }

    /** Where even LC_ALL=C.UTF-8 gives no UTF-8 (the marker says it was tried): exit 2, one line, nothing touched. */
    @Test
    void noUtf8LocaleToBeHadIsRefusedBeforeAnythingIsRead() throws Exception {
        Fixtures.write(project.resolve("cache/é.txt"), "é\n");
        var env = new HashMap<>(noLocale());
        env.put("TEKTON_CACHES_UTF8_RERUN", "1");

        var run = Fixtures.script(List.of(), "CacheUpload", project, env, "--pattern", "go.sum", "--folder", "cache",
                "--target", store, "--results-dir", tmp.resolve("up").toString());

        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
        Fixtures.assertOneLine(run, "cache-upload", "set LC_ALL or LANG to a UTF-8 locale");
        assertEquals(1, run.err().lines().count(), run.toString());
        assertFalse(Files.exists(tmp.resolve("store")), "nothing written to the store");
        assertFalse(Files.exists(tmp.resolve("up")), "not even results");
    }

    /** caf\xe9.txt and a folder d\xe9r: left out, each in one line with its bytes escaped; the rest saved. */
    @Test
    void namesThatAreNotUtf8AreLeftOutSayingSoAndTheRestIsSaved() throws Exception {
        Path cache = project.resolve("cache");
        Fixtures.write(cache.resolve("kept.txt"), "kept\n");
        Fixtures.write(cache.resolve("sub/é.txt"), "é\n");
        makeRaw("caf\\351.txt", false);
        makeRaw("d\\351r", true);
        var env = Fixtures.env(tmp.resolve("xdg"));

        var uploaded = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "cache", "--target", store);
        Path restored = tmp.resolve("restored");
        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", restored.toString(), "--source", store);

        assertEquals(0, uploaded.status(), uploaded.toString());
        var leftOut = uploaded.err().lines().filter(line -> line.startsWith("left out ")).toList();
        assertEquals(List.of(
                "left out " + cache + "/caf\\xe9.txt: its name is not UTF-8 (each byte that is not shown as \\xNN), and a"
                        + " restore refuses such names",
                "left out " + cache + "/d\\xe9r/ and all it holds: its name is not UTF-8 (each byte that is not shown as"
                        + " \\xNN), and a restore refuses such names"), leftOut);
        assertTrue(uploaded.err().contains("uploaded 2 files, 1 folder"), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        var removed = Fixtures.run(List.of("sh", "-c", "rm -r \"$(printf 'caf\\351.txt')\" \"$(printf 'd\\351r')\""), cache,
                Map.of("PATH", System.getenv("PATH")));
        assertEquals(0, removed.status(), removed.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import lib.common.ExitStatus;
import lib.common.Version;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image as a step runs it: no network, an arbitrary UID, nothing writable in the image. JBang's
 * own jars are hidden too, so anything that would need JBang (a launch command not cached for these
 * paths and variables, a dependency missing from the image, a script not compiled) fails here
 * instead of quietly resolving or building.
 */
class ImageOfflineTest {

    @TempDir
    Path tmp;

    private String image;
    private Path project;

    @BeforeEach
    void setUp() throws Exception {
        image = ContainerImage.ensureBuilt();
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("lock.txt"), "locked\n");
        Fixtures.richTree(project.resolve("cache"), 0);
        Files.createDirectories(tmp.resolve("restored"));
        // The step's user owns its workspace, as a volume given to the pod's UID.
        var chown = Fixtures.run(List.of("chown", "-R", ContainerImage.ANY_USER, tmp.toString()), tmp, System.getenv());
        assertEquals(0, chown.status(), chown.toString());
    }

    /** In the step's conditions: only loopback, any UID, the image read-only, JBang's jars gone. */
    private Fixtures.Run step(List<String> podmanOptions, String... argv) throws Exception {
        String jbangJars = "/opt/tekton-caches/jbang-home/" + jbangJarsFolder();
        var options = new ArrayList<>(List.of("--user", ContainerImage.ANY_USER, "--read-only",
                "--mount", "type=tmpfs,destination=" + jbangJars + ",notmpcopyup"));
        options.addAll(ContainerImage.mount(tmp));
        options.addAll(podmanOptions);
        return ContainerImage.run(image, options, List.of(argv));
    }

    private Fixtures.Run script(String script, String... args) throws Exception {
        var argv = new ArrayList<>(List.of("jbang", "/opt/tekton-caches/" + script, "--pattern", "lock.txt",
                "--workingdir", project.toString()));
        argv.addAll(List.of(args));
        return step(List.of(), argv.toArray(String[]::new));
    }

    /** The folder ./jbang installs JBang's jars into: jbang-cli-JBANG_VERSION-gson-GSON_VERSION. */
    private static String jbangJarsFolder() throws Exception {
        var lines = Files.readAllLines(Fixtures.REPO.resolve("jbang"));
        return "jbang-cli-" + variable(lines, "JBANG_VERSION") + "-gson-" + variable(lines, "GSON_VERSION");
    }

    private static String variable(List<String> lines, String name) {
        return lines.stream().filter(line -> line.startsWith(name + "=")).findFirst().orElseThrow()
                .substring(name.length() + 1);
    }

    private String result(String run, String name) throws Exception {
        return Files.readString(tmp.resolve(run).resolve(name));
    }

    @Test
    void uploadThenFetchRestoreTheTreeWithNoNetworkAsAnyUser() throws Exception {
        String store = "file://" + tmp.resolve("store") + "/{{hash}}";

        var uploaded = script("cache-upload.java", "--folder", project.resolve("cache").toString(),
                "--target", store, "--results-dir", tmp.resolve("up").toString());
        var fetched = script("cache-fetch.java", "--folder", tmp.resolve("restored").toString(),
                "--source", store, "--results-dir", tmp.resolve("down").toString());

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
        String key = result("up", "cache-key");
        assertEquals(64, key.length(), key);
        assertEquals("true", result("down", "fetched"));
        assertEquals(key, result("down", "cache-key"));
        assertEquals(key, result("down", "matched-key"));
        long size = Files.size(tmp.resolve("store").resolve(key));
        assertEquals(Long.toString(size), result("up", "size"));
        assertEquals(Long.toString(size), result("down", "size"));
    }

    /**
     * readOnlyRootFilesystem with no writable /tmp (podman's --read-only mounts a tmpfs there unless
     * told not to), a UID from OpenShift's range, no HOME: only the cache folders, the results
     * folders and the file store are writable, and a zstd entry still goes up and comes back.
     */
    @Test
    void zstdRoundTripWritesNothingButTheFoldersTheResultsAndTheStore() throws Exception {
        String user = "1000670000:0";
        Path cache = project.resolve("cache");
        Fixtures.write(cache.resolve("big/compressible.txt"), "zstd ".repeat(200_000));
        Path store = Files.createDirectories(tmp.resolve("store"));
        for (String results : List.of("up", "down")) {
            Files.createDirectories(tmp.resolve(results));
        }
        var chown = Fixtures.run(List.of("chown", "-R", user, tmp.toString()), tmp, System.getenv());
        assertEquals(0, chown.status(), chown.toString());
        String target = "file://" + store + "/{{hash}}";

        var uploaded = readOnly(user, List.of(cache, store, tmp.resolve("up")), "cache-upload.java", "--folder", cache.toString(),
                "--target", target, "--compression", "zstd", "--results-dir", tmp.resolve("up").toString());
        var fetched = readOnly(user, List.of(tmp.resolve("restored"), store, tmp.resolve("down")), "cache-fetch.java",
                "--folder", tmp.resolve("restored").toString(), "--source", target, "--results-dir", tmp.resolve("down").toString());

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(tmp.resolve("restored"), false));
        String key = result("up", "cache-key");
        try (var in = Files.newInputStream(store.resolve(key))) {
            assertEquals("28b52ffd", lib.common.Digests.hex(in.readNBytes(4)), "a zstd frame first");
        }
        assertEquals("true", result("down", "fetched"));
        assertEquals("true", result("down", "cache-hit"));
        assertEquals(key, result("down", "matched-key"));
        assertEquals(result("up", "size"), result("down", "size"));
    }

    /** A script run as user with the root read-only, no tmpfs on /tmp, no HOME; of tmp, only writable is writable. */
    private Fixtures.Run readOnly(String user, List<Path> writable, String script, String... args) throws Exception {
        var options = new ArrayList<>(List.of("--user", user, "--read-only", "--read-only-tmpfs=false", "--unsetenv", "HOME"));
        options.addAll(List.of("--volume", tmp + ":" + tmp + ":ro"));
        for (Path folder : writable) {
            options.addAll(ContainerImage.mount(folder));
        }
        var argv = new ArrayList<>(List.of("jbang", "/opt/tekton-caches/" + script, "--pattern", "lock.txt",
                "--workingdir", project.toString()));
        argv.addAll(List.of(args));
        return ContainerImage.run(image, options, argv);
    }

    @Test
    void missExitsZeroWithFetchedFalseAndTheFolderUntouched() throws Exception {
        Fixtures.write(tmp.resolve("restored/earlier.txt"), "earlier\n");
        var before = Fixtures.snapshot(tmp.resolve("restored"), true);

        var run = script("cache-fetch.java", "--folder", tmp.resolve("restored").toString(),
                "--source", "file://" + tmp.resolve("empty-store") + "/{{hash}}",
                "--results-dir", tmp.resolve("down").toString());

        assertEquals(ExitStatus.OK, run.status(), run.toString());
        assertTrue(run.err().contains("cache miss: "), run.toString());
        assertTrue(run.err().startsWith("cache miss: nothing at file://"), run.err());
        assertEquals("false", result("down", "fetched"));
        assertEquals(before, Fixtures.snapshot(tmp.resolve("restored"), true));
    }

    @Test
    void scriptsRunWhereJBangCannotStart() throws Exception {
        var conditions = step(List.of(), "sh", "-c", "ls /sys/class/net; id -u; touch /opt/tekton-caches/x || echo read-only");
        assertEquals("lo\n12345\nread-only\n", conditions.out(), conditions.toString());

        for (String script : List.of("cache-fetch.java", "cache-upload.java")) {
            var version = step(List.of(), "jbang", "/opt/tekton-caches/" + script, "--version");
            assertEquals(0, version.status(), version.toString());
            assertEquals("tekton-caches-java " + Version.NUMBER + "\n", version.out());
        }

        // The controls: what would need JBang fails in these conditions, a cache miss included.
        var jbang = step(List.of(), "jbang", "version");
        assertTrue(jbang.status() != 0 && jbang.err().contains("dev.jbang.Main"), jbang.toString());
        var miss = step(ContainerImage.env("JBANG_OTHER", "changes the launch key"),
                "jbang", "/opt/tekton-caches/cache-fetch.java", "--version");
        assertTrue(miss.status() != 0 && miss.err().contains("dev.jbang.Main"), miss.toString());
    }

    /** The StepActions of tekton/ as Tekton runs them in this image: its /bin/sh, its jbang, no network. */
    @Test
    void stepActionsRunInTheImageWithNoNetwork() throws Exception {
        var params = new HashMap<String, Object>(Map.of("PATTERNS", List.of("lock.txt"),
                "WORKING_DIR", project.toString(), "CACHE_PATH", project.resolve("cache").toString(),
                "TARGET", "file://" + tmp.resolve("store") + "/{{hash}}"));
        var uploaded = StepRunner.load(Fixtures.REPO.resolve("tekton/cache-upload.yaml")).run(inImage(), params, scratch("up"));

        params.remove("TARGET");
        params.put("CACHE_PATH", tmp.resolve("restored").toString());
        params.put("SOURCE", "file://" + tmp.resolve("store") + "/{{hash}}");
        var fetch = StepRunner.load(Fixtures.REPO.resolve("tekton/cache-fetch.yaml"));
        var fetched = fetch.run(inImage(), params, scratch("down"));
        params.put("SOURCE", "file://" + tmp.resolve("empty-store") + "/{{hash}}");
        var missed = fetch.run(inImage(), params, scratch("miss"));

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Map.of("fetched", "true", "cache-hit", "true", "cache-key", uploaded.results().get("cache-key"),
                "matched-key", uploaded.results().get("cache-key"), "size", uploaded.results().get("size")), fetched.results());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
        assertEquals(0, missed.status(), missed.toString());
        assertEquals("false", missed.results().get("fetched"), missed.toString());
    }

    /** Runs a step's script with the image's sh, in the workspace, with the step's env and no other. */
    private StepRunner.Executor inImage() {
        return (scriptAndArgs, stepEnv) -> {
            var options = new ArrayList<>(List.of("--workdir", tmp.toString()));
            stepEnv.forEach((name, value) -> options.addAll(ContainerImage.env(name, value)));
            var argv = new ArrayList<>(List.of("sh"));
            argv.addAll(scriptAndArgs);
            return step(options, argv.toArray(String[]::new));
        };
    }

    /** A folder for a step's script and its results/ (where StepRunner puts them), which the step's user can write. */
    private Path scratch(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("steps").resolve(name));
        Files.createDirectories(dir.resolve("results"));
        var chown = Fixtures.run(List.of("chown", "-R", ContainerImage.ANY_USER, tmp.resolve("steps").toString()), tmp, System.getenv());
        assertEquals(0, chown.status(), chown.toString());
        return dir;
    }
}

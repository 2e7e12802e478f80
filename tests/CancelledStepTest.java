import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A cancelled or timed-out TaskRun's step, its StepAction's script run by dash and by busybox sh
 * as StepActionTest runs it, in a process group of its own as Tekton's entrypoint starts it. The
 * step gets SIGTERM (the entrypoint sends it to the whole group; another runner, or `kill`, to the
 * shell alone) and its container ends with the shell, killing whatever still runs. So a fetch held
 * mid-restore must have taken its restore back, and the shell waited for that, when the step ends;
 * an upload held mid-transfer ends at once, the store as it was.
 */
class CancelledStepTest {

    /** Whom the SIGTERM is sent to. */
    enum Target {
        THE_SHELL, ITS_PROCESS_GROUP;

        void signal(Process shell) throws Exception {
            if (this == THE_SHELL) {
                shell.destroy();
            } else {
                var kill = new ProcessBuilder("dash", "-c", "kill -s TERM -- \"-$1\"", "kill", String.valueOf(shell.pid()))
                        .inheritIO().start();
                assertEquals(0, kill.waitFor(), "kill -s TERM -- -" + shell.pid());
            }
        }
    }

    private static final Duration LIMIT = Duration.ofMinutes(3);
    private static final StepRunner FETCH = load("cache-fetch.yaml"), UPLOAD = load("cache-upload.yaml");

    static final FlakyProxy registryProxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false).behind(registryProxy);

    @TempDir
    Path tmp;

    private Path workspace, project, folder;

    /** A Go project; a folder that holds older versions of the files of the entry a fetch restores. */
    @BeforeEach
    void project() throws Exception {
        workspace = tmp.resolve("work space");
        project = workspace.resolve("my repo");
        folder = workspace.resolve("go cache");
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.0.0 h1:abc=\n");
        fill(project.resolve("saved"), "the entry's");
        fill(folder, "the folder's");
    }

    private static void fill(Path root, String whose) throws Exception {
        Fixtures.write(root.resolve("version.txt"), whose + " version\n");
        for (int i = 0; i < 8; i++) {
            Fixtures.write(root.resolve("lib/f" + i + ".jar"), whose + " jar " + i + "\n");
        }
    }

    /**
     * The fetch's JVM is stopped at its sixth move into the folder, and held there until the
     * SIGTERM has reached it (its shutdown hook waits for the restore): a moment where it has
     * placed part of the entry, certain on two busy cores.
     */
    @ParameterizedTest(name = "{0}, SIGTERM to {1}")
    @CsvSource({"DASH, THE_SHELL", "DASH, ITS_PROCESS_GROUP", "BUSYBOX, THE_SHELL", "BUSYBOX, ITS_PROCESS_GROUP"})
    void aFetchSentSigtermTakesItsRestoreBackBeforeTheStepEnds(StepActionTest.Shell shell, Target target) throws Exception {
        String source = "file://" + tmp.resolve("store") + "/{{hash}}";
        var saved = Fixtures.upload(project, Fixtures.env(tmp.resolve("xdg")), "--pattern", "go.sum", "--target", source,
                "--folder", "saved");
        assertEquals(0, saved.status(), saved.toString());
        var params = Map.<String, Object>of("PATTERNS", List.of("go.sum"), "SOURCE", source, "CACHE_PATH", folder.toString(),
                "WORKING_DIR", project.toString());
        // JAVA_TOOL_OPTIONS, which gives the stopped run its debugger, reaches every JVM the step
        // starts: this run has ./jbang store the script's launch command, so that JBang's own JVM
        // is not started then.
        var lookup = run(FETCH, shell, with(params, "LOOKUP_ONLY", "true"));
        assertEquals("true", lookup.results().get("cache-hit"), lookup.toString());
        var before = Fixtures.snapshot(folder, true);

        var tool = new AtomicReference<ProcessHandle>();
        var signalled = new AtomicLong();
        var atSixthMove = new StoppedScript.Stop("lib.archive.Placement", "moveIn", 6, step -> {
            var children = step.children().toList();
            assertEquals(1, children.size(), "the step's shell runs the tool: " + children);
            tool.set(children.get(0));
            assertTrue(tool.get().info().command().orElse("").endsWith("/java"),
                    "./jbang ends in the tool's JVM: " + tool.get().info());
            signalled.set(System.nanoTime());
            target.signal(step);
            assertFalse(step.waitFor(1, TimeUnit.SECONDS), "the step ended while its tool was still restoring");
        });
        var hookWaits = new StoppedScript.Stop("lib.archive.StopRequest", "awaitRestore", 1, step -> {});
        var stopped = FETCH.run((scriptAndArgs, stepEnv) -> StoppedScript.run(List.of(atSixthMove, hookWaits),
                "cache-fetch's step", (agent, started) -> Fixtures.run(command(shell, scriptAndArgs),
                        workspace, environment(stepEnv, Map.of("JAVA_TOOL_OPTIONS", agent)), LIMIT, started)),
                params, tmp.resolve("stopped"));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - signalled.get());

        assertEquals(143, stopped.status(), stopped.toString());
        assertTrue(stopped.err().contains(": stopped by a signal (SIGTERM) before it was in place, and taken back"),
                "the step still gets the tool's line: " + stopped);
        assertTrue(seconds < 10, "the step ended " + seconds + " s after SIGTERM: " + stopped);
        assertFalse(tool.get().isAlive(), "the tool's JVM outlived its step");
        assertEquals(before, Fixtures.snapshot(folder, true), "the folder is as it was before the restore");
        assertEquals("false", stopped.results().get("fetched"), stopped.toString());
        var next = Fixtures.fetch(project, Fixtures.env(tmp.resolve("xdg")), "--pattern", "go.sum", "--source", source,
                "--folder", folder.toString(), "--lookup-only");
        assertEquals(0, next.status(), next.toString());
        assertFalse(next.err().contains("took back"), "nothing was left to take back: " + next);
    }

    /**
     * The upload's request for the new entry's blob is held by a proxy that answers nothing; the
     * step's process, which the shell exec'd into the tool's JVM, ends at SIGTERM, and the key's
     * entry before it is whole, the new one never made.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(StepActionTest.Shell.class)
    void anUploadSentSigtermEndsAtOnceTheStoreAsItWas(StepActionTest.Shell shell) throws Exception {
        String target = "oci://" + registryProxy.host() + "/cancelled/" + shell.name().toLowerCase(Locale.ROOT) + ":{{hash}}";
        var params = Map.<String, Object>of("PATTERNS", List.of("go.sum"), "TARGET", target, "CACHE_PATH", folder.toString(),
                "WORKING_DIR", project.toString(), "COMPRESSION", "none");
        var first = run(UPLOAD, shell, params);
        assertEquals(0, first.status(), first.toString());
        var saved = Fixtures.snapshot(folder, false);
        // Another key, and a file changed: a blob the registry does not hold yet.
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.1.0 h1:def=\n");
        Fixtures.write(folder.resolve("version.txt"), "the next version\n");
        registryProxy.hangNext("(PATCH|PUT) .*/blobs/uploads/", 1);
        int requestsBefore = registryProxy.requests().size();

        var step = new CompletableFuture<Process>();
        var upload = CompletableFuture.supplyAsync(() -> {
            try {
                return UPLOAD.run((scriptAndArgs, stepEnv) -> Fixtures.run(command(shell, scriptAndArgs), workspace,
                        environment(stepEnv, Map.of()), LIMIT, step::complete), params, tmp.resolve("stopped"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Process process = step.get(1, TimeUnit.MINUTES);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (registryProxy.requests().stream().skip(requestsBefore)
                .noneMatch(request -> request.matches("(PATCH|PUT) .*/blobs/uploads/.*"))) {
            assertTrue(System.nanoTime() < deadline && !upload.isDone(),
                    "no blob upload reached the registry: " + registryProxy.requests());
            Thread.sleep(50);
        }
        var tools = new ArrayList<>(process.descendants().toList());
        tools.add(process.toHandle());
        long signalled = System.nanoTime();
        Target.THE_SHELL.signal(process);
        var stopped = upload.get(1, TimeUnit.MINUTES);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - signalled);

        assertEquals(143, stopped.status(), stopped.toString());
        assertTrue(seconds < 10, "the step ended " + seconds + " s after SIGTERM: " + stopped);
        assertTrue(tools.stream().noneMatch(ProcessHandle::isAlive), "the tool's JVM outlived its step: " + tools);
        var env = Fixtures.env(tmp.resolve("xdg"));
        var newEntry = Fixtures.fetch(project, env, "--pattern", "go.sum", "--source", target, "--folder",
                tmp.resolve("new").toString(), "--lookup-only", "--fail-on-miss");
        assertEquals(1, newEntry.status(), "the stopped upload made no entry: " + newEntry);
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.0.0 h1:abc=\n");
        Path restored = tmp.resolve("restored");
        var firstEntry = Fixtures.fetch(project, env, "--pattern", "go.sum", "--source", target, "--folder", restored.toString());
        assertEquals(0, firstEntry.status(), firstEntry.toString());
        assertEquals(saved, Fixtures.snapshot(restored, false), "the entry before it is whole");
    }

    /** The shell runs the script leading a process group of its own, as under Tekton's entrypoint. */
    private static List<String> command(StepActionTest.Shell shell, List<String> scriptAndArgs) {
        var command = new ArrayList<>(List.of("setsid"));
        command.addAll(shell.command);
        command.addAll(scriptAndArgs);
        return command;
    }

    /** The container's environment, as StepActionTest gives it: PATH finds this checkout's jbang. */
    private static Map<String, String> environment(Map<String, String> stepEnv, Map<String, String> more) {
        var env = new HashMap<>(System.getenv());
        env.remove("JAVA_TOOL_OPTIONS");
        env.put("PATH", Fixtures.REPO + ":" + System.getenv("PATH"));
        env.put("TEKTON_CACHES_HOME", Fixtures.REPO.toString());
        env.putAll(stepEnv);
        env.putAll(more);
        return env;
    }

    private StepRunner.Outcome run(StepRunner step, StepActionTest.Shell shell, Map<String, Object> params) throws Exception {
        return step.run((scriptAndArgs, stepEnv) -> Fixtures.run(command(shell, scriptAndArgs), workspace,
                environment(stepEnv, Map.of()), LIMIT, process -> {}), params, Files.createTempDirectory(tmp, "step-"));
    }

    private static Map<String, Object> with(Map<String, Object> params, String name, Object value) {
        var all = new HashMap<>(params);
        all.put(name, value);
        return all;
    }

    private static StepRunner load(String name) {
        try {
            return StepRunner.load(Fixtures.REPO.resolve("tekton").resolve(name));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}

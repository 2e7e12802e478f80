import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scripts as a developer runs them: through ./jbang, from another directory, exit statuses passed on. */
class JBangTest {

    @TempDir
    Path tmp;

    /** One JBang install for the class, made from scratch by ./jbang like a first run on a new machine. */
    @TempDir
    static Path jbangHome;

    private Fixtures.Run jbang(Path cwd, Map<String, String> env, String script, String... args) throws Exception {
        env = new java.util.HashMap<>(env);
        env.put("TEKTON_CACHES_JBANG_HOME", jbangHome.toString());
        // A script of the checkout by its path, anything else (an alias@catalog) as it is.
        String target = script.endsWith(".java") ? Fixtures.REPO.resolve(script).toString() : script;
        var command = new java.util.ArrayList<>(List.of(Fixtures.REPO.resolve("jbang").toString(), target));
        command.addAll(List.of(args));
        return Fixtures.run(command, cwd, env);
    }

    @Test
    void uploadThenFetchThroughJbangFromAnotherDirectory() throws Exception {
        Path project = tmp.resolve("my project");
        var env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("package-lock.json"), "{\"lockfileVersion\": 3}\n");
        Fixtures.richTree(project.resolve("node_modules"), 0);

        var miss = jbang(project, env, "cache-fetch.java", "--folder", "node_modules");
        assertEquals(ExitStatus.OK, miss.status(), miss.toString());
        assertTrue(miss.err().contains("cache miss: "), miss.toString());
        var uploaded = jbang(project, env, "cache-upload.java", "--folder", "node_modules");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = jbang(tmp, env, "cache-fetch.java", "--workingdir", project.toString(), "--folder",
                tmp.resolve("restored").toString());

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("from 1 file (package-lock.json)"), fetched.err());
        assertEquals(Fixtures.snapshot(project.resolve("node_modules"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
        try (var launches = Files.list(jbangHome.resolve("launch"))) {
            assertEquals(2, launches.count(), "one cached launch command per script");
        }
    }

    /** jbang-catalog.json's aliases, as `jbang cache-fetch@openshift-pipelines/...` resolves them, from a checkout. */
    @Test
    void catalogAliasesRunTheScriptsFromACheckout() throws Exception {
        Path project = tmp.resolve("project");
        var env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.mod"), "module example.com/hello\n");
        Fixtures.write(project.resolve("go.sum"), "example.com/dep v1.0.0 h1:abc=\n");
        Fixtures.richTree(project.resolve("gomodcache"), 0);
        String catalog = Fixtures.REPO.toString();

        var uploaded = jbang(project, env, "cache-upload@" + catalog, "--folder", "gomodcache");
        var fetched = jbang(project, env, "cache-fetch@" + catalog, "--folder", "restored");

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("gomodcache"), false), Fixtures.snapshot(project.resolve("restored"), false));
    }

    @Test
    void usageErrorExitStatusPassesThroughJbang() throws Exception {
        var run = jbang(tmp, Fixtures.env(tmp.resolve("xdg")), "cache-upload.java", "--compression", "lz4");
        assertEquals(ExitStatus.USAGE, run.status(), run.toString());
    }
}

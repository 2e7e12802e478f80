import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A save to a registry sends only what its repository lacks, and asks only what it does not know:
 * a first save under a new key (no base, no restore key) does not send again the layers another
 * entry of the repository pushed, and says so in its line; a first save into an empty repository
 * asks for no layer at all (no HEAD per group), whether its emptiness came from a restore key's
 * listing or from a question of its own. What the registry received is read from its access log.
 */
class OciRepositoryReuseTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    private static final AtomicInteger NAMES = new AtomicInteger();
    /** The line of a save that sent only part of its groups: total, already there, the bytes not sent, sent. */
    private static final Pattern ALREADY = Pattern.compile(
            " in (\\d+) groups\\) from .*: (\\d+) already in the repository \\(([0-9.]+ [kMG]?B) not sent\\), (\\d+) sent \\(");
    /** An access log line of distribution: "METHOD URI HTTP/1.1" STATUS. */
    private static final Pattern REQUEST = Pattern.compile("\"([A-Z]+) (/v2/\\S*) HTTP/1\\.1\" (\\d+) ");

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    /** A Maven repository of 20 artifacts, each a 300 KiB jar (incompressible) and a pom: several small groups. */
    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("pom.xml"), "<project><!-- version 1; " + tmp + " --></project>\n");
        for (int i = 0; i < 20; i++) {
            Fixtures.mavenArtifact(project.resolve("m2"), i, "1.0", 300 << 10, i);
        }
    }

    /** One request the registry answered: its method, path and query, and status. */
    private record Request(String method, String uri, int status) {
        boolean isBlobHead(String repository) {
            return method.equals("HEAD") && uri.startsWith("/v2/" + repository + "/blobs/sha256:");
        }

        /** A blob's bytes: a PATCH of an upload, or its PUT, which names the blob's digest. */
        boolean sends(String repository) {
            return (method.equals("PATCH") || method.equals("PUT")) && uri.startsWith("/v2/" + repository + "/blobs/uploads/");
        }
    }

    /** What the registry answered from the log's line `from` on. */
    private static List<Request> requests(int from) throws Exception {
        List<String> lines = Files.readAllLines(registry.dir().resolve("registry.log"));
        return lines.subList(from, lines.size()).stream().map(REQUEST::matcher).filter(Matcher::find)
                .map(m -> new Request(m.group(1), m.group(2), Integer.parseInt(m.group(3)))).toList();
    }

    private static int logLines() throws Exception {
        return Files.readAllLines(registry.dir().resolve("registry.log")).size();
    }

    private Fixtures.Run upload(String repository, String... more) throws Exception {
        var arguments = new java.util.ArrayList<>(List.of("--target", "oci://" + registry.host() + "/" + repository + ":m2-{{hash}}",
                "--folder", "m2", "--pattern", "pom.xml", "--results-dir", tmp.resolve("up").toString()));
        arguments.addAll(List.of(more));
        var run = Fixtures.upload(project, env, arguments.toArray(String[]::new));
        assertEquals(0, run.status(), run.toString());
        return run;
    }

    /** The entry of the key last uploaded, fetched by its full name into a new folder, as it was saved. */
    private void assertRestores(String repository, String folder) throws Exception {
        String key = Files.readString(tmp.resolve("up/cache-key"));
        var run = Fixtures.fetch(project, env, "--source", "oci://" + registry.host() + "/" + repository + ":m2-" + key,
                "--folder", tmp.resolve(folder).toString(), "--pattern", "pom.xml", "--results-dir", tmp.resolve("down-" + folder).toString());
        assertEquals(0, run.status(), run.toString());
        assertEquals(Fixtures.snapshot(project.resolve("m2"), false), Fixtures.snapshot(tmp.resolve(folder), false));
    }

    private static String repository() {
        return "reuse/run-" + NAMES.incrementAndGet();
    }

    @Test
    void aBlobTheRepositoryAlreadyHoldsIsNotSentAgain() throws Exception {
        String repository = repository();
        upload(repository);
        // The same folder under a new key (the lock file changed), no restore key: no base to take from.
        Fixtures.write(project.resolve("pom.xml"), "<project><!-- version 2; " + tmp + " --></project>\n");
        int from = logLines();
        var run = upload(repository);

        Matcher line = ALREADY.matcher(run.lastLine());
        assertTrue(line.find(), run.lastLine());
        int groups = Integer.parseInt(line.group(1));
        assertTrue(groups >= 3, "the test needs several groups: " + run.lastLine());
        assertEquals(groups, Integer.parseInt(line.group(2)), "every group was in the repository already: " + run.lastLine());
        assertEquals("0", line.group(4), run.lastLine());
        List<Request> requests = requests(from);
        // Only the image's config goes up: its POST and one PUT; no layer's bytes.
        List<Request> sent = requests.stream().filter(r -> r.sends(repository)).toList();
        assertEquals(1, sent.size(), "only the config's PUT: " + sent);
        assertTrue(requests.stream().filter(r -> r.isBlobHead(repository)).count() >= groups,
                "each layer asked for in a repository that holds entries: " + requests);
        assertRestores(repository, "second");
    }

    @Test
    void aFirstSaveIntoAnEmptyRepositoryAsksForNoLayer() throws Exception {
        String repository = repository();
        int from = logLines();
        var run = upload(repository);

        List<Request> requests = requests(from);
        assertEquals(List.of(), requests.stream().filter(r -> r.isBlobHead(repository)).toList(), "no HEAD of a blob");
        Set<String> asked = requests.stream().filter(r -> r.uri().startsWith("/v2/" + repository + "/tags/list"))
                .map(Request::uri).collect(Collectors.toSet());
        assertEquals(1, asked.size(), "its tags asked for once: " + requests);
        assertTrue(run.lastLine().contains(" groups) from ") && !run.lastLine().contains("already in the repository"), run.lastLine());
        assertRestores(repository, "first");
    }

    /** A restore key's listing already said the repository holds no tag: the upload asks nothing more before it pushes. */
    @Test
    void aRestoreKeysListingOfAnEmptyRepositoryIsNotAskedAgain() throws Exception {
        String repository = repository();
        int from = logLines();
        var run = upload(repository, "--restore-key", "m2-");

        List<Request> requests = requests(from);
        assertEquals(List.of(), requests.stream().filter(r -> r.isBlobHead(repository)).toList(), "no HEAD of a blob");
        assertEquals(1, requests.stream().filter(r -> r.uri().startsWith("/v2/" + repository + "/tags/list")).count(),
                "one listing, the restore key's: " + requests);
        assertTrue(run.err().contains("no entry starts with m2-: every group is sent"), run.err());
        assertRestores(repository, "listed");
    }
}

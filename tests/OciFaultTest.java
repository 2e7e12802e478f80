import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import lib.common.ExitStatus;
import lib.store.Backoff;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A flaky path to the registry (a proxy that answers 503, resets connections, cuts downloads short):
 * what can be retried is, what cannot fails in one line with the folder intact and nothing half-pushed at the tag.
 */
class OciFaultTest {

    static final FlakyProxy proxy = FlakyProxy.unstarted();
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false).behind(proxy);

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("Gemfile.lock"), "GEM " + tmp + "\n");
        // 40 MiB stored uncompressed: three chunks of upload, and a download long enough to cut.
        Fixtures.richTree(project.resolve("bundle"), 40 * Fixtures.MiB);
    }

    private String uri(String repository) {
        return "oci://" + proxy.host() + "/" + repository + ":{{hash}}";
    }

    private Fixtures.Run upload(String repository) throws Exception {
        return Fixtures.upload(project, env, "--target", uri(repository), "--folder", "bundle", "--compression", "none");
    }

    private Fixtures.Run fetch(String repository, Path folder) throws Exception {
        return Fixtures.fetch(project, env, "--source", uri(repository), "--folder", folder.toString());
    }

    @Test
    void a503AndAResetDuringTheUploadAreRetried() throws Exception {
        proxy.failNext("PATCH .*/blobs/uploads/.*", 1, 503);
        proxy.resetNext("PATCH .*/blobs/uploads/.*", 1);
        proxy.failNext("PUT .*/manifests/.*", 1, 502);

        var uploaded = upload("flaky/upload");

        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.lastLine().startsWith("uploaded "), uploaded.err());
        assertTrue(uploaded.err().contains("retry 1 of "), uploaded.err());
        Path restored = tmp.resolve("restored");
        var fetched = fetch("flaky/upload", restored);
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("bundle"), false), Fixtures.snapshot(restored, false));
    }

    /**
     * On a registry far away, hundreds of layers one request after the other would cost a round
     * trip each: the small ones are pushed and pulled several at a time.
     */
    @Test
    void smallLayersArePushedAndPulledSeveralAtOnce() throws Exception {
        Path many = project.resolve("many");
        for (int i = 0; i < 400; i++) {
            Fixtures.writeRandom(many.resolve("d" + i % 20).resolve("f" + i), 64 * 1024, i);
        }
        proxy.slow("PUT .*/blobs/uploads/.*", 100);
        var uploaded = Fixtures.upload(project, env, "--target", uri("flaky/many"), "--folder", "many");
        assertEquals(0, uploaded.status(), uploaded.toString());
        assertTrue(uploaded.lastLine().matches(".* in [0-9]+ groups\\).*"), uploaded.lastLine());
        int pushedAtOnce = proxy.mostAtOnce();

        proxy.slow("GET .*/blobs/sha256:.*", 100);
        Path restored = tmp.resolve("restored");
        var fetched = fetch("flaky/many", restored);
        int pulledAtOnce = proxy.mostAtOnce();
        proxy.clearFaults();

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(many, false), Fixtures.snapshot(restored, false));
        assertTrue(pushedAtOnce >= 2, "layers pushed at once: " + pushedAtOnce);
        assertTrue(pulledAtOnce >= 2, "layers pulled at once: " + pulledAtOnce);
    }

    @Test
    void aDownloadCutShortGoesOnFromWhereItStopped() throws Exception {
        assertEquals(0, upload("flaky/download").status());
        proxy.failNext("GET .*/manifests/.*", 1, 503);
        proxy.truncateNext("GET .*/blobs/sha256:.*", 2, 5 * Fixtures.MiB);
        int before = proxy.requests().size();

        Path restored = tmp.resolve("restored");
        var fetched = fetch("flaky/download", restored);

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("bundle"), false), Fixtures.snapshot(restored, false));
        long blobGets = proxy.requests().subList(before, proxy.requests().size()).stream()
                .filter(r -> r.matches("GET .*/blobs/sha256:.*")).count();
        assertEquals(3, blobGets, proxy.requests().toString());
    }

    @Test
    void aDownloadCutShortEveryTimeFailsAndLeavesTheFolderAsItWas() throws Exception {
        assertEquals(0, upload("flaky/always-cut").status());
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);
        proxy.truncateNext("GET .*/blobs/sha256:.*", Backoff.ATTEMPTS, Fixtures.MiB);

        var fetched = fetch("flaky/always-cut", folder);

        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        assertTrue(fetched.lastLine().startsWith("cache-fetch: restoring oci://" + proxy.host() + "/flaky/always-cut:"), fetched.err());
        assertEquals(before, Fixtures.snapshot(folder, true));
    }

    @Test
    void anUploadWhoseManifestKeepsFailingLeavesTheTagAMiss() throws Exception {
        proxy.failNext("PUT .*/manifests/.*", Backoff.ATTEMPTS, 503);

        var failed = upload("flaky/never-tagged");

        assertEquals(ExitStatus.STORE, failed.status(), failed.toString());
        assertTrue(failed.lastLine().startsWith("cache-upload: uploading "), failed.err());
        assertTrue(failed.lastLine().contains("registry " + proxy.host() + " answered PUT /v2/flaky/never-tagged/manifests/"), failed.err());
        assertTrue(failed.lastLine().contains("HTTP 503"), failed.err());
        var fetched = fetch("flaky/never-tagged", tmp.resolve("restored"));
        assertEquals(ExitStatus.OK, fetched.status(), fetched.toString());
        assertTrue(fetched.err().startsWith("cache miss: "), fetched.toString());
    }

    /**
     * A registry of the test's own making: the JDK's HTTP server on loopback, answering GET /v2/
     * and handing every other request to answer, behind a FlakyProxy, as a plain HTTP server must
     * be (the JDK's waits for the end of a line when our TLS hello comes). A restore key's fetch
     * from it: with no entry at the key, the lookup reads its tag list.
     */
    private record MadeUpRegistry(HttpServer server, FlakyProxy front) implements AutoCloseable {

        static MadeUpRegistry answering(HttpHandler answer) throws IOException {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                try (exchange) {
                    if (exchange.getRequestURI().getPath().equals("/v2/")) {
                        exchange.sendResponseHeaders(200, -1);
                    } else {
                        answer.handle(exchange);
                    }
                } catch (IOException e) {
                    // The client stopped reading and closed the connection.
                }
            });
            server.start();
            var front = FlakyProxy.start();
            front.target("http://127.0.0.1:" + server.getAddress().getPort());
            return new MadeUpRegistry(server, front);
        }

        String host() {
            return front.host();
        }

        Fixtures.Run fetch(OciFaultTest test, String repository, List<String> jvmOptions) throws Exception {
            return Fixtures.script(Duration.ofMinutes(2), jvmOptions, "CacheFetch", test.project, test.env,
                    "--source", "oci://" + host() + "/" + repository + ":{{hash}}", "--folder",
                    test.tmp.resolve("restored").toString(), "--restore-key", "a");
        }

        @Override
        public void close() {
            front.close();
            server.stop(0);
        }
    }

    /**
     * A registry that answers without end, in a tag list or a manifest, fails the fetch in one line
     * naming what was too big, having read only a few MiB of it, with the heap capped at 64 MiB.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tag list", "manifest"})
    void anEndlessAnswerIsRefusedInOneLineAfterAFewMib(String what) throws Exception {
        var sent = new AtomicLong();
        try (var registry = MadeUpRegistry.answering(exchange -> {
            String path = exchange.getRequestURI().getPath();
            if (!(what.equals("tag list") ? path.endsWith("/tags/list") : path.contains("/manifests/"))) {
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            exchange.sendResponseHeaders(200, 0); // chunked, and no end to it
            byte[] block = new byte[64 << 10];
            Arrays.fill(block, (byte) 'a');
            OutputStream out = exchange.getResponseBody();
            out.write((what.equals("tag list") ? "{\"tags\":[\"" : "{\"layers\":[{\"digest\":\"").getBytes(StandardCharsets.UTF_8));
            for (long n = 0; n < 1L << 30; n += block.length) {
                out.write(block);
                sent.addAndGet(block.length);
            }
        })) {
            var fetched = registry.fetch(this, "endless/answer", List.of("-Xmx64m"));

            assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
            Fixtures.assertOneLine(fetched, "cache-fetch", "the " + what + " of " + registry.host() + "/endless/answer");
            assertTrue(fetched.err().contains("is larger than 4 MiB; refused"), fetched.toString());
            assertTrue(sent.get() < 32 * Fixtures.MiB, sent.get() + " bytes sent before the client stopped reading");
        }
    }

    /**
     * A registry whose tag list pages without end, in small pages or in pages full of matching
     * names, fails a restore key's lookup in one line, after a bounded number of pages.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"small pages", "pages of matching names"})
    void aTagListThatPagesWithoutEndIsRefusedInOneLine(String kind) throws Exception {
        var pages = new AtomicLong();
        try (var registry = MadeUpRegistry.answering(exchange -> {
            if (!exchange.getRequestURI().getPath().endsWith("/tags/list")) {
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            long n = pages.incrementAndGet();
            var names = new StringBuilder("{\"tags\":[\"a" + n + "\"");
            // Just under the 4 MiB a page may hold: 60,000 names of 64 characters.
            for (int i = 0; kind.startsWith("pages of") && i < 60_000; i++) {
                names.append(",\"a").append(String.format("%063d", n * 100_000 + i)).append('"');
            }
            byte[] body = names.append("]}").toString().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Link", "</v2/paging/tags/tags/list?n=1000&last=a" + n + ">; rel=\"next\"");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        })) {
            var fetched = registry.fetch(this, "paging/tags", List.of());

            assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
            if (kind.equals("small pages")) {
                Fixtures.assertOneLine(fetched, "cache-fetch", "the tag list of " + registry.host() + "/paging/tags runs past 1000 pages; refused");
                assertEquals(1000, pages.get());
            } else {
                Fixtures.assertOneLine(fetched, "cache-fetch", "the tags of " + registry.host() + "/paging/tags starting with 'a' take more than 64 MiB; refused");
                assertEquals(18, pages.get()); // 3.84 MB of names a page: the 18th takes them past 64 MiB
            }
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A registry that keeps its answer to a manifest moving, a few bytes now and then, and never ends
 * it: no stall timeout ever fires, yet cache-fetch gives up in one line, the folder as it was,
 * within seconds with --stall-timeout 1s. A head that takes too long is abandoned and retried as a
 * stall is, which stderr says; a trickle is no headway, so the store is given up once 3 stall
 * timeouts passed (--fail-on-miss: exit 3 whether the store failed or was given up). Each run is
 * capped at 60 s: without the bounds, every case here runs for hours.
 */
class SlowRegistryTest {

    private static final Duration LIMIT = Duration.ofSeconds(60);
    private static final long PAUSE = 200;

    @TempDir
    Path tmp;

    private Path project;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.sum"), "lock " + tmp + "\n");
    }

    /** What the registry does with a request for a manifest. */
    interface Answer {
        void write(OutputStream out) throws IOException, InterruptedException;
    }

    static Stream<Arguments> neverEndingAnswers() {
        String manifest = "{\"schemaVersion\":2,\"layers\":[]," + "\"x\":\"" + "a".repeat(1000) + "\"}";
        return Stream.of(
                Arguments.of("endless 100 Continue heads", "more than 5 informational answers (100) before the answer; refused",
                        (Answer) out -> {
                            while (true) {
                                HostileRegistry.send(out, "HTTP/1.1 100 Continue\r\n\r\n");
                                Thread.sleep(PAUSE);
                            }
                        }),
                Arguments.of("a head dripped a byte at a time", "an answer's head did not arrive whole within 1s of its first byte",
                        (Answer) out -> HostileRegistry.drip(out, HostileRegistry.answer(200, manifest), PAUSE)),
                Arguments.of("a manifest dripped a byte at a time", "an answer's body did not arrive whole within 1s of its first byte",
                        (Answer) out -> {
                            String answer = HostileRegistry.answer(200, manifest);
                            int body = answer.indexOf("\r\n\r\n") + 4;
                            HostileRegistry.send(out, answer.substring(0, body));
                            HostileRegistry.drip(out, answer.substring(body), PAUSE);
                        }),
                Arguments.of("a chunked manifest whose trailers never end",
                        "an answer's body did not arrive whole within 1s of its first byte",
                        (Answer) out -> {
                            HostileRegistry.send(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + Integer.toHexString(manifest.length()) + "\r\n" + manifest + "\r\n0\r\n");
                            for (int i = 0; ; i++) {
                                Thread.sleep(PAUSE);
                                HostileRegistry.send(out, "X-Trailer-" + i + ": more\r\n");
                            }
                        }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("neverEndingAnswers")
    void anAnswerThatNeverEndsFailsTheFetchInSeconds(String name, String reason, Answer hostile) throws Exception {
        try (var registry = HostileRegistry.start((request, out) -> {
            if (request.line().equals("GET /v2/")) {
                HostileRegistry.send(out, HostileRegistry.answer(200, "{}"));
            } else if (request.line().contains("/manifests/")) {
                hostile.write(out);
            } else {
                HostileRegistry.send(out, HostileRegistry.answer(404, ""));
            }
        })) {
            Path folder = tmp.resolve("folder");
            Fixtures.write(folder.resolve("mine.txt"), "kept\n");
            var before = Fixtures.snapshot(folder, true);

            var fetched = Fixtures.script(LIMIT, List.of(), "CacheFetch", project, Fixtures.env(tmp.resolve("xdg")),
                    "--pattern", "go.sum", "--source", "oci://" + registry.host() + "/slow/answer:{{hash}}",
                    "--folder", folder.toString(), "--stall-timeout", "1s", "--fail-on-miss");

            assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
            Fixtures.assertOneLine(fetched, "cache-fetch", "");
            assertTrue(fetched.err().contains(reason), fetched.toString());
            assertEquals(before, Fixtures.snapshot(folder, true));
        }
    }
}

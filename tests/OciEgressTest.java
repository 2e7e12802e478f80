import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * oci:// from inside a company's cluster, through the scripts: an egress proxy (EgressProxy, logging
 * what it carries) between the scripts and a real registry (docker-registry, over https with a
 * certificate of a CA of the test's own, and over plain http), reached by names that are not
 * loopback (registry.corp.test, registry.cache.svc, through the scripts' own hosts file: Go's rules
 * never proxy a loopback address).
 */
class OciEgressTest {

    private static final String NAME = "registry.corp.test";
    private static final String IN_CLUSTER = "registry.cache.svc";
    /** The proxy's password of the tests: it must appear in no output. */
    private static final String PASSWORD = "pr0xy-pw-5e1b";

    @TempDir
    static Path shared;

    private static TestCa ca;
    /** The registry over https, its certificate for NAME and IN_CLUSTER signed by ca. */
    private static RegistryServer tls;
    /** The registry over plain http, asking for Basic credentials. */
    private static RegistryServer plain;

    @TempDir
    Path tmp;

    private Path project;
    private List<String> hosts;
    private EgressProxy proxy;

    @BeforeAll
    static void registries() throws Exception {
        ca = TestCa.make(shared.resolve("ca"), NAME, IN_CLUSTER);
        tls = RegistryServer.start(shared.resolve("tls"), RegistryServer.Auth.NONE, ca);
        plain = RegistryServer.start(shared.resolve("plain"), RegistryServer.Auth.BASIC, false);
    }

    @AfterAll
    static void stopRegistries() {
        tls.close();
        plain.close();
    }

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("poetry.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("venv"), 0);
        hosts = TestHosts.jvmOptions(tmp.resolve("etc"), NAME, IN_CLUSTER);
        proxy = EgressProxy.start(Map.of(NAME, "127.0.0.1", IN_CLUSTER, "127.0.0.1"));
    }

    @AfterEach
    void stopProxy() {
        proxy.close();
    }

    /** oci://HOST:PORT/REPOSITORY:{{hash}} on a registry's port. */
    private static String uri(String host, RegistryServer registry, String repository) {
        return "oci://" + host + ":" + port(registry) + "/" + repository + ":{{hash}}";
    }

    private static String port(RegistryServer registry) {
        return registry.host().substring(registry.host().indexOf(':') + 1);
    }

    /** The step's environment with none of this machine's proxy or CA variables, plus these. */
    private Map<String, String> env(String... pairs) {
        var env = new HashMap<>(Fixtures.env(tmp.resolve("xdg")));
        env.keySet().removeIf(name -> name.matches("(?i)https?_proxy|no_proxy|ssl_cert_(file|dir)|request_method|docker_config"));
        env.put("DOCKER_CONFIG", tmp.resolve("no-docker-config").toString());
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
    }

    /** A DOCKER_CONFIG folder with the plain registry's user and password for NAME:PORT. */
    private String dockerConfig() throws Exception {
        String auth = java.util.Base64.getEncoder().encodeToString((RegistryServer.USER + ":" + RegistryServer.PASSWORD)
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Path dir = Files.createDirectories(tmp.resolve("docker"));
        Files.writeString(dir.resolve("config.json"), "{\"auths\":{\"" + NAME + ":" + port(plain) + "\":{\"auth\":\"" + auth + "\"}}}\n");
        return dir.toString();
    }

    private Fixtures.Run upload(Map<String, String> env, String uri, String... more) throws Exception {
        var args = Stream.concat(Stream.of("--target", uri, "--folder", "venv", "--results-dir", tmp.resolve("up").toString()),
                Stream.of(more)).toArray(String[]::new);
        return Fixtures.script(Duration.ofMinutes(2), hosts, "CacheUpload", project, env, args);
    }

    private Fixtures.Run fetch(Map<String, String> env, String uri, Path folder, String... more) throws Exception {
        var args = Stream.concat(Stream.of("--source", uri, "--folder", folder.toString(), "--results-dir",
                tmp.resolve("down").toString()), Stream.of(more)).toArray(String[]::new);
        return Fixtures.script(Duration.ofMinutes(2), hosts, "CacheFetch", project, env, args);
    }

    /** An upload then a fetch through env, the tree restored whole; the runs, for what they printed. */
    private List<Fixtures.Run> roundTrip(Map<String, String> env, String uri, String... more) throws Exception {
        var uploaded = upload(env, uri, more);
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored");
        var fetched = fetch(env, uri, restored, more);
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", Files.readString(tmp.resolve("down/fetched")));
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));
        return List.of(uploaded, fetched);
    }

    private static void assertAllMatch(List<String> log, String regex) {
        assertFalse(log.isEmpty(), "the proxy carried nothing");
        for (String line : log) {
            assertTrue(line.matches(regex), "unexpected in the proxy's log: " + line + " in " + log);
        }
    }

    @Test
    void httpsGoesThroughHttpsProxysConnectTrustingSslCertFile() throws Exception {
        roundTrip(env("HTTPS_PROXY", proxy.url(), "SSL_CERT_FILE", ca.ca().toString()), uri(NAME, tls, "egress/https"));
        assertAllMatch(proxy.log(), "CONNECT " + NAME.replace(".", "\\.") + ":" + port(tls));
    }

    @Test
    void plainHttpGoesThroughHttpProxyInAbsoluteForm() throws Exception {
        roundTrip(env("HTTP_PROXY", proxy.url(), "DOCKER_CONFIG", dockerConfig()), uri(NAME, plain, "egress/http"),
                "--insecure", "true");
        var log = proxy.log();
        assertAllMatch(log, "(GET|HEAD|POST|PATCH|PUT) http://" + NAME.replace(".", "\\.") + ":" + port(plain) + "/v2/.*");
        assertTrue(log.stream().anyMatch(l -> l.matches("PUT .*/manifests/.*")), log.toString());
        assertTrue(log.stream().anyMatch(l -> l.matches("GET .*/blobs/sha256:.*")), log.toString());
    }

    @Test
    void noProxysSvcSuffixKeepsTheInClusterRegistryOffTheProxy() throws Exception {
        roundTrip(env("HTTP_PROXY", proxy.url(), "HTTPS_PROXY", proxy.url(), "NO_PROXY", ".cluster.local,.svc,10.0.0.0/16,localhost",
                "SSL_CERT_FILE", ca.ca().toString()), uri(IN_CLUSTER, tls, "egress/svc"));
        assertEquals(List.of(), proxy.log());
    }

    @Test
    void aProxyDemandingBasicGetsTheUrlsCredentialsNeverPrinted() throws Exception {
        proxy.requireBasic("builder", PASSWORD);
        var runs = roundTrip(env("HTTPS_PROXY", proxy.url("builder", PASSWORD), "SSL_CERT_FILE", ca.ca().toString()),
                uri(NAME, tls, "egress/basic"), "--verbose");
        assertTrue(proxy.log().contains("CONNECT " + NAME + ":" + port(tls)), proxy.log().toString());
        assertFalse(proxy.log().stream().anyMatch(l -> l.startsWith("407 ")), "not sent at once: " + proxy.log());
        for (var run : runs) {
            assertFalse(run.out().contains(PASSWORD) || run.err().contains(PASSWORD), run.toString());
        }

        Files.writeString(project.resolve("poetry.lock"), "# another key\n");
        String wrong = "wr0ng-pw-3d8f";
        var refused = upload(env("HTTPS_PROXY", proxy.url("builder", wrong), "SSL_CERT_FILE", ca.ca().toString()),
                uri(NAME, tls, "egress/basic"));
        assertEquals(3, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(refused.err().contains(wrong) || refused.err().contains("builder") || refused.err().contains("TLS"),
                refused.err());

        var refusedHttp = upload(env("HTTP_PROXY", proxy.url("builder", wrong), "DOCKER_CONFIG", dockerConfig()),
                uri(NAME, plain, "egress/basic"), "--insecure", "true");
        assertEquals(3, refusedHttp.status(), refusedHttp.toString());
        Fixtures.assertOneLine(refusedHttp, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(refusedHttp.err().contains(wrong) || refusedHttp.err().contains("TLS"), refusedHttp.err());
    }

    @Test
    void sslCertDirsHashedFolderIsTrustedAndWithoutItThePkixFailureNamesTheVariables() throws Exception {
        roundTrip(env("SSL_CERT_DIR", tmp.resolve("not-there") + ":" + ca.hashedDir()), uri(NAME, tls, "egress/certdir"));

        Files.writeString(project.resolve("poetry.lock"), "# another key\n");
        var refused = upload(env(), uri(NAME, tls, "egress/certdir"));
        assertEquals(3, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-upload", "TLS with " + NAME + ":" + port(tls) + " failed");
        assertTrue(refused.err().contains("SSL_CERT_FILE unset") && refused.err().contains("SSL_CERT_DIR unset"), refused.err());
    }

    @Test
    void aRegistryThatAlwaysStallsIsGivenUpWithinThreeStallTimeouts() throws Exception {
        proxy.stalling();
        var env = env("HTTPS_PROXY", proxy.url(), "SSL_CERT_FILE", ca.ca().toString());
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("kept.txt"), "as it was\n");
        var before = Fixtures.snapshot(folder, true);

        long start = System.nanoTime();
        var fetched = fetch(env, uri(NAME, tls, "egress/stall"), folder, "--stall-timeout", "2s");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
        assertTrue(seconds < 20, "the fetch took " + seconds + " s: " + fetched);
        assertEquals(before, Fixtures.snapshot(folder, true));
        assertAllMatch(proxy.log(), "STALL CONNECT " + NAME.replace(".", "\\.") + ":" + port(tls));

        start = System.nanoTime();
        var uploaded = upload(env, uri(NAME, tls, "egress/stall"), "--stall-timeout", "2s");
        seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(3, uploaded.status(), uploaded.toString());
        assertTrue(seconds < 20, "the upload took " + seconds + " s: " + uploaded);
        Fixtures.assertOneLine(uploaded, "cache-upload", "given up");
    }

    @Test
    void aRegistryThatNeverAnswersTheTlsHandshakeIsGivenUpAsAStallNotAConnectTimeout() throws Exception {
        // Takes every connection and says nothing: HttpClient calls the handshake's timeout a
        // connect timeout, which would end the fetch at once in words that blame the network.
        try (var silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            var held = new CopyOnWriteArrayList<Socket>();
            var accepting = new Thread(() -> {
                try {
                    while (true) {
                        held.add(silent.accept());
                    }
                } catch (IOException e) {
                    // closed: the test is over
                }
            });
            accepting.setDaemon(true);
            accepting.start();
            Path folder = tmp.resolve("folder");
            Fixtures.write(folder.resolve("kept.txt"), "as it was\n");
            var before = Fixtures.snapshot(folder, true);

            var fetched = fetch(env("SSL_CERT_FILE", ca.ca().toString()),
                    "oci://" + NAME + ":" + silent.getLocalPort() + "/egress/silent:{{hash}}", folder, "--stall-timeout", "2s");

            assertEquals(0, fetched.status(), fetched.toString());
            assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
            assertTrue(fetched.err().contains("so it was given up (--stall-timeout)"), fetched.err());
            assertEquals(before, Fixtures.snapshot(folder, true));
            assertTrue(held.size() >= 2, "the stalled handshake was not tried again: " + held.size() + " connection(s)");
            for (var socket : held) {
                socket.close();
            }
        }
    }
}

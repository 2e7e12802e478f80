import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gs:// through an egress proxy, as far as a test can go without a GCS server: no real one runs
 * here, and google-cloud-nio's fake lives inside the SDK, below its HTTP. So the scripts' client is
 * pointed (STORAGE_EMULATOR_HOST) at a name only the proxy and the scripts' hosts file resolve, where
 * a tiny FAKE endpoint of this test answers the two requests of a miss: "no such object" for the
 * object and an empty listing for the bucket. What is shown is the route and the TLS of the Google
 * client's requests (by the proxy's log and the endpoint's), and the give-up of a store that stalls;
 * not how GCS itself answers. The credentials' token requests take the same transport, but the
 * emulator's path asks for no token, so they are not shown here.
 */
class GcsEgressTest {

    private static final String NAME = "gcs.corp.test";
    private static final String IN_CLUSTER = "gcs.gcs.svc";

    @TempDir
    Path tmp;

    private Path project;
    private List<String> hosts;
    private EgressProxy proxy;
    private TestCa ca;
    private HttpServer plain;
    private HttpsServer secure;
    private final List<String> served = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void start() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("poetry.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("venv"), 0);
        hosts = TestHosts.jvmOptions(tmp.resolve("etc"), NAME, IN_CLUSTER);
        proxy = EgressProxy.start(Map.of(NAME, "127.0.0.1", IN_CLUSTER, "127.0.0.1"));
        ca = TestCa.make(tmp.resolve("ca"), NAME);
        plain = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        plain.createContext("/", this::answer);
        plain.start();
        secure = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        secure.setHttpsConfigurator(new HttpsConfigurator(serverTls(ca)));
        secure.createContext("/", this::answer);
        secure.start();
    }

    @AfterEach
    void stop() {
        proxy.close();
        plain.stop(0);
        secure.stop(0);
    }

    private static SSLContext serverTls(TestCa ca) throws Exception {
        var keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(ca.keystore())) {
            keys.load(in, TestCa.KEYSTORE_PASSWORD.toCharArray());
        }
        var managers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        managers.init(keys, TestCa.KEYSTORE_PASSWORD.toCharArray());
        var context = SSLContext.getInstance("TLS");
        context.init(managers.getKeyManagers(), null, null);
        return context;
    }

    /** The fake's whole API: an object is never there (404), a bucket's listing is empty. */
    private void answer(HttpExchange exchange) throws java.io.IOException {
        served.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath());
        exchange.getRequestBody().readAllBytes();
        boolean listing = exchange.getRequestURI().getPath().matches("/storage/v1/b/[^/]+/o/?");
        String body = listing ? "{\"kind\":\"storage#objects\"}"
                : "{\"error\":{\"code\":404,\"message\":\"No such object\",\"errors\":[{\"reason\":\"notFound\"}]}}";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
        exchange.sendResponseHeaders(listing ? 200 : 404, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    private Map<String, String> env(String emulator, String... pairs) {
        var env = new HashMap<>(Fixtures.env(tmp.resolve("xdg")));
        env.keySet().removeIf(name -> name.matches("(?i)https?_proxy|no_proxy|ssl_cert_(file|dir)|request_method|google_.*"));
        env.put("STORAGE_EMULATOR_HOST", emulator);
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
    }

    private Fixtures.Run fetch(Map<String, String> env, Path folder, String... more) throws Exception {
        var args = new ArrayList<>(List.of("--source", "gs://cache/python/{{hash}}", "--folder", folder.toString(),
                "--results-dir", tmp.resolve("down").toString()));
        args.addAll(List.of(more));
        return Fixtures.script(Duration.ofMinutes(2), hosts, "CacheFetch", project, env, args.toArray(String[]::new));
    }

    /** A clean miss: the fake answered, so the route and TLS held. */
    private void assertMiss(Fixtures.Run run) throws Exception {
        assertEquals(0, run.status(), run.toString());
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
        assertTrue(served.stream().anyMatch(s -> s.startsWith("GET /storage/v1/b/cache/o")), served.toString());
    }

    @Test
    void httpGoesThroughHttpProxy() throws Exception {
        String endpoint = "http://" + NAME + ":" + plain.getAddress().getPort();
        assertMiss(fetch(env(endpoint, "HTTP_PROXY", proxy.url()), tmp.resolve("restored")));
        assertFalse(proxy.log().isEmpty());
        for (String line : proxy.log()) {
            assertTrue(line.startsWith("GET " + endpoint + "/storage/v1/b/cache/o"), proxy.log().toString());
        }
    }

    @Test
    void httpsGoesThroughHttpsProxysConnectTrustingSslCertFile() throws Exception {
        String endpoint = "https://" + NAME + ":" + secure.getAddress().getPort();
        assertMiss(fetch(env(endpoint, "HTTPS_PROXY", proxy.url(), "SSL_CERT_FILE", ca.ca().toString()), tmp.resolve("restored")));
        assertFalse(proxy.log().isEmpty());
        for (String line : proxy.log()) {
            assertEquals("CONNECT " + NAME + ":" + secure.getAddress().getPort(), line);
        }
    }

    @Test
    void sslCertDirsHashedFolderIsTrustedAndWithoutItThePkixFailureNamesTheVariables() throws Exception {
        String endpoint = "https://" + NAME + ":" + secure.getAddress().getPort();
        assertMiss(fetch(env(endpoint, "SSL_CERT_DIR", tmp.resolve("not-there") + ":" + ca.hashedDir()), tmp.resolve("restored")));

        var refused = fetch(env(endpoint), tmp.resolve("restored"));
        assertEquals(3, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-fetch", "SSL_CERT_FILE unset");
    }

    @Test
    void noProxysSvcSuffixKeepsTheInClusterStoreOffTheProxy() throws Exception {
        String endpoint = "http://" + IN_CLUSTER + ":" + plain.getAddress().getPort();
        assertMiss(fetch(env(endpoint, "HTTP_PROXY", proxy.url(), "HTTPS_PROXY", proxy.url(), "NO_PROXY", ".cluster.local,.svc"),
                tmp.resolve("restored")));
        assertEquals(List.of(), proxy.log());
    }

    @Test
    void aStoreThatAlwaysStallsIsGivenUpWithinThreeStallTimeouts() throws Exception {
        proxy.stalling();
        String endpoint = "http://" + NAME + ":" + plain.getAddress().getPort();
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("kept.txt"), "as it was\n");
        var before = Fixtures.snapshot(folder, true);
        long start = System.nanoTime();
        var fetched = fetch(env(endpoint, "HTTP_PROXY", proxy.url()), folder, "--stall-timeout", "2s");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
        assertTrue(fetched.err().contains("given up"), fetched.err());
        assertTrue(seconds < 20, "the fetch took " + seconds + " s: " + fetched);
        assertEquals(before, Fixtures.snapshot(folder, true));
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * s3:// from inside a company's cluster, through the scripts: an egress proxy (EgressProxy, logging
 * what it carries) between the scripts and a real S3 server (s3proxy, over http and over https with
 * a certificate of a CA of the test's own), reached by names that are not loopback (s3.corp.test,
 * minio.minio.svc, through the scripts' own hosts file: Go's rules never proxy a loopback address).
 */
class S3EgressTest {

    private static final String NAME = "s3.corp.test";
    private static final String IN_CLUSTER = "minio.minio.svc";
    /** The proxy's password of the tests: it must appear in no output. */
    private static final String PASSWORD = "pr0xy-pw-7f3a";

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("cache").withTls(NAME, IN_CLUSTER);

    @TempDir
    Path tmp;

    private Path project;
    private List<String> hosts;
    private EgressProxy proxy;

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

    private String https() {
        return "https://" + NAME + ":" + s3.securePort();
    }

    private String http(String host) {
        return "http://" + host + ":" + s3.port();
    }

    /** The step's environment for this endpoint, with none of this machine's proxy or CA variables, plus these. */
    private Map<String, String> env(String endpoint, String... pairs) {
        var env = new HashMap<>(s3.env(Fixtures.env(tmp.resolve("xdg")), endpoint));
        env.keySet().removeIf(name -> name.matches("(?i)https?_proxy|no_proxy|ssl_cert_(file|dir)|request_method"));
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
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

    /** An upload then a fetch through env, the tree restored whole. */
    private void roundTrip(Map<String, String> env, String prefix) throws Exception {
        var uploaded = upload(env, "s3://cache/" + prefix + "/{{hash}}");
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored");
        var fetched = fetch(env, "s3://cache/" + prefix + "/{{hash}}", restored);
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", Files.readString(tmp.resolve("down/fetched")));
        assertEquals(Fixtures.snapshot(project.resolve("venv"), false), Fixtures.snapshot(restored, false));
    }

    private void assertAllMatch(List<String> log, String regex) {
        assertFalse(log.isEmpty(), "the proxy carried nothing");
        for (String line : log) {
            assertTrue(line.matches(regex), "unexpected in the proxy's log: " + line + " in " + log);
        }
    }

    @Test
    void httpsGoesThroughHttpsProxysConnectTrustingSslCertFile() throws Exception {
        roundTrip(env(https(), "HTTPS_PROXY", proxy.url(), "SSL_CERT_FILE", s3.ca().ca().toString()), "https");
        assertAllMatch(proxy.log(), "CONNECT " + NAME.replace(".", "\\.") + ":" + s3.securePort());
    }

    @Test
    void httpGoesThroughHttpProxyWhichHttpsDoesNotTake() throws Exception {
        roundTrip(env(http(NAME), "HTTP_PROXY", proxy.url()), "http");
        var log = proxy.log();
        assertAllMatch(log, "(GET|HEAD|PUT|POST|DELETE) http://" + NAME.replace(".", "\\.") + ":" + s3.port() + "/cache.*");
        assertTrue(log.stream().anyMatch(l -> l.startsWith("PUT ")), log.toString());
        assertTrue(log.stream().anyMatch(l -> l.startsWith("GET ")), log.toString());

        int carried = log.size();
        Files.writeString(project.resolve("poetry.lock"), "# another key\n");
        roundTrip(env(https(), "HTTP_PROXY", proxy.url(), "SSL_CERT_FILE", s3.ca().ca().toString()), "direct");
        assertEquals(carried, proxy.log().size(), "HTTP_PROXY was taken for https: " + proxy.log());
    }

    @Test
    void noProxysSvcSuffixKeepsTheInClusterStoreOffTheProxy() throws Exception {
        roundTrip(env(http(IN_CLUSTER), "HTTP_PROXY", proxy.url(), "HTTPS_PROXY", proxy.url(),
                "NO_PROXY", ".cluster.local,.svc,10.0.0.0/16,localhost"), "svc");
        assertEquals(List.of(), proxy.log());
    }

    @Test
    void aProxyDemandingBasicGetsTheUrlsCredentialsNeverPrinted() throws Exception {
        proxy.requireBasic("builder", PASSWORD);
        var env = env(https(), "HTTPS_PROXY", proxy.url("builder", PASSWORD), "SSL_CERT_FILE", s3.ca().ca().toString());
        var uploaded = upload(env, "s3://cache/basic/{{hash}}", "--verbose");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = fetch(env, "s3://cache/basic/{{hash}}", tmp.resolve("restored"), "--verbose");
        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(proxy.log().contains("CONNECT " + NAME + ":" + s3.securePort()), proxy.log().toString());
        for (var run : List.of(uploaded, fetched)) {
            assertFalse(run.out().contains(PASSWORD) || run.err().contains(PASSWORD), run.toString());
        }

        Files.writeString(project.resolve("poetry.lock"), "# another key\n");
        String wrong = "wr0ng-pw-91c2";
        var refused = upload(env(https(), "HTTPS_PROXY", proxy.url("builder", wrong), "SSL_CERT_FILE", s3.ca().ca().toString()),
                "s3://cache/basic/{{hash}}");
        assertEquals(3, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(refused.err().contains(wrong) || refused.err().contains("builder"), refused.err());

        var refusedHttp = upload(env(http(NAME), "HTTP_PROXY", proxy.url("builder", wrong)), "s3://cache/basic/{{hash}}");
        assertEquals(3, refusedHttp.status(), refusedHttp.toString());
        Fixtures.assertOneLine(refusedHttp, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(refusedHttp.err().contains(wrong), refusedHttp.err());
    }

    @Test
    void sslCertDirsHashedFolderIsTrustedAndWithoutItThePkixFailureNamesTheVariables() throws Exception {
        roundTrip(env(https(), "SSL_CERT_DIR", tmp.resolve("not-there") + ":" + s3.ca().hashedDir()), "certdir");

        Files.writeString(project.resolve("poetry.lock"), "# another key\n");
        var refused = upload(env(https()), "s3://cache/certdir/{{hash}}");
        assertEquals(3, refused.status(), refused.toString());
        Fixtures.assertOneLine(refused, "cache-upload", "SSL_CERT_FILE unset");
        assertTrue(refused.err().contains("SSL_CERT_DIR unset"), refused.err());
    }

    @Test
    void aStoreThatAlwaysStallsIsGivenUpWithinThreeStallTimeouts() throws Exception {
        proxy.stalling();
        var env = env(http(NAME), "HTTP_PROXY", proxy.url());
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("kept.txt"), "as it was\n");
        var before = Fixtures.snapshot(folder, true);

        long start = System.nanoTime();
        var fetched = fetch(env, "s3://cache/stall/{{hash}}", folder, "--stall-timeout", "2s");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("false", Files.readString(tmp.resolve("down/fetched")));
        assertTrue(seconds < 20, "the fetch took " + seconds + " s: " + fetched);
        assertEquals(before, Fixtures.snapshot(folder, true));
        assertTrue(proxy.log().stream().allMatch(l -> l.startsWith("STALL ")), proxy.log().toString());

        start = System.nanoTime();
        var uploaded = upload(env, "s3://cache/stall/{{hash}}", "--stall-timeout", "2s");
        seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(3, uploaded.status(), uploaded.toString());
        assertTrue(seconds < 20, "the upload took " + seconds + " s: " + uploaded);
        Fixtures.assertOneLine(uploaded, "cache-upload", "given up");
        try (var client = s3.client()) {
            assertEquals(List.of(), client.listObjectsV2(b -> b.bucket("cache").prefix("stall/")).contents());
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * azblob:// from inside a company's cluster (issue 29): through an egress proxy named by
 * HTTPS_PROXY (a CONNECT tunnel) or HTTP_PROXY (absolute-form requests), kept off it by a .svc
 * suffix in NO_PROXY, through a proxy that demands Basic credentials, over TLS signed by an
 * internal CA named by SSL_CERT_FILE or SSL_CERT_DIR, and given up when it stalls on every attempt.
 * The scripts reach azurite under names that are not loopback (TestHosts), which Go's rules proxy;
 * the proxy resolves them to 127.0.0.1 by its own map, so nothing leaves this machine.
 */
class AzureEgressTest {

    /** In a company's domain: proxied unless NO_PROXY says otherwise. */
    private static final String CORP = "acct.blob.corp.test";
    /** In-cluster, as NO_PROXY's .svc keeps it direct. */
    private static final String SVC = "azurite.storage.svc";
    /** Resolves here, but is in no certificate. */
    private static final String OTHER = "other.corp.test";
    private static final String PASSWORD = "pr0xy-s3cret";
    private static final Duration LIMIT = Duration.ofSeconds(120);

    @RegisterExtension
    static final AzuriteServer secure = AzuriteServer.perClass().withTls(CORP, SVC).withContainer("caches");
    @RegisterExtension
    static final AzuriteServer plain = AzuriteServer.perClass().withContainer("caches");

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;
    private List<String> jvm;
    private EgressProxy proxy;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        env.keySet().removeIf(name -> name.toUpperCase().matches("HTTPS?_PROXY|NO_PROXY|SSL_CERT_(FILE|DIR)|AZURE_.*"));
        Fixtures.write(project.resolve("go.sum"), "lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("cache"), 3 * Fixtures.MiB);
        jvm = TestHosts.jvmOptions(tmp.resolve("etc"), CORP, SVC, OTHER);
        proxy = EgressProxy.start(Map.of(CORP, "127.0.0.1", SVC, "127.0.0.1", OTHER, "127.0.0.1"));
    }

    @AfterEach
    void stopProxy() {
        proxy.close();
    }

    /** The account on the https azurite, reached as host, trusting the test CA by SSL_CERT_FILE. */
    private Map<String, String> secureStore(String host) {
        var store = store(host + ":" + secure.port(), "https");
        store.put("SSL_CERT_FILE", secure.ca().ca().toString());
        return store;
    }

    private Map<String, String> store(String domain, String protocol) {
        var store = new HashMap<>(env);
        store.put("AZURE_STORAGE_ACCOUNT", AzuriteServer.ACCOUNT);
        store.put("AZURE_STORAGE_KEY", AzuriteServer.KEY);
        store.put("BLOB_QUERY_PARAMS", "?domain=" + domain + "&protocol=" + protocol + "&localemu=true");
        return store;
    }

    private Fixtures.Run upload(Map<String, String> env, String... more) throws Exception {
        return script("CacheUpload", env, List.of("--target", "azblob://caches/egress/{{hash}}", "--folder", "cache"), more);
    }

    private Fixtures.Run fetch(Map<String, String> env, Path folder, String... more) throws Exception {
        return script("CacheFetch", env, List.of("--source", "azblob://caches/egress/{{hash}}", "--folder", folder.toString(),
                "--results-dir", tmp.resolve("results").toString()), more);
    }

    private Fixtures.Run script(String main, Map<String, String> env, List<String> args, String... more) throws Exception {
        var all = new java.util.ArrayList<>(List.of("--pattern", "go.sum"));
        all.addAll(args);
        all.addAll(List.of(more));
        return Fixtures.script(LIMIT, jvm, main, project, env, all.toArray(String[]::new));
    }

    /** Upload then fetch into a new folder: both exit 0 and the tree comes back whole. */
    private void roundTrip(Map<String, String> env) throws Exception {
        var uploaded = upload(env);
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored-" + System.nanoTime());
        var fetched = fetch(env, restored);
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("true", Files.readString(tmp.resolve("results").resolve("fetched")));
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false));
    }

    @Test
    void anHttpsEndpointIsReachedThroughHttpsProxyByConnect() throws Exception {
        var through = secureStore(CORP);
        through.put("HTTPS_PROXY", proxy.url());
        roundTrip(through);
        String tunnel = "CONNECT " + CORP + ":" + secure.port();
        assertFalse(proxy.log().isEmpty(), "nothing went through the proxy");
        assertTrue(proxy.log().stream().allMatch(tunnel::equals), proxy.log().toString());
    }

    @Test
    void anHttpEndpointIsReachedThroughHttpProxyInAbsoluteForm() throws Exception {
        var through = store(CORP + ":" + plain.port(), "http");
        through.put("HTTP_PROXY", proxy.url());
        // HTTPS_PROXY alone would not be used for an http endpoint: Go's rules take the scheme's variable.
        through.put("HTTPS_PROXY", "http://127.0.0.1:9");
        roundTrip(through);
        String prefix = "http://" + CORP + ":" + plain.port() + "/" + AzuriteServer.ACCOUNT + "/caches";
        assertTrue(proxy.log().stream().anyMatch(line -> line.startsWith("PUT " + prefix + "/egress%2F")), proxy.log().toString());
        assertTrue(proxy.log().stream().anyMatch(line -> line.startsWith("GET " + prefix + "/egress%2F")), proxy.log().toString());
        assertTrue(proxy.log().stream().allMatch(line -> line.matches("(GET|HEAD|PUT) " + java.util.regex.Pattern.quote(prefix) + "[/?].*")),
                proxy.log().toString());
    }

    @Test
    void aSvcSuffixInNoProxyKeepsTheStoreOffTheProxy() throws Exception {
        var direct = store(SVC + ":" + plain.port(), "http");
        direct.put("HTTPS_PROXY", proxy.url());
        direct.put("HTTP_PROXY", proxy.url());
        direct.put("NO_PROXY", ".cluster.local,.svc,10.0.0.0/16,localhost");
        // With this the SDK would pick a proxy of its own from the variables, by rules of its own.
        jvm = new java.util.ArrayList<>(jvm);
        jvm.add("-Djava.net.useSystemProxies=true");
        roundTrip(direct);
        assertEquals(List.of(), proxy.log());
    }

    @Test
    void aProxyDemandingBasicCredentialsTakesThemFromTheUrlAndNeverShowsThem() throws Exception {
        proxy.requireBasic("builder", PASSWORD);
        var through = secureStore(CORP);
        through.put("HTTPS_PROXY", proxy.url("builder", PASSWORD));
        var uploaded = upload(through, "--verbose");
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored");
        var fetched = fetch(through, restored, "--verbose");
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false));
        assertTrue(proxy.log().contains("CONNECT " + CORP + ":" + secure.port()), proxy.log().toString());
        for (var run : List.of(uploaded, fetched)) {
            assertFalse(run.err().contains(PASSWORD) || run.out().contains(PASSWORD), "the proxy's password was printed");
        }
    }

    @Test
    void aWrongProxyPasswordFailsInOneLineNamingTheProxyAnd407() throws Exception {
        proxy.requireBasic("builder", PASSWORD);
        var through = secureStore(CORP);
        through.put("HTTPS_PROXY", proxy.url("builder", "wrong-" + PASSWORD));
        var uploaded = upload(through);
        assertEquals(3, uploaded.status(), uploaded.toString());
        Fixtures.assertOneLine(uploaded, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(uploaded.err().contains(PASSWORD), "the proxy's password was printed");
    }

    @Test
    void aWrongProxyPasswordForAnHttpEndpointSaysTheSame() throws Exception {
        proxy.requireBasic("builder", PASSWORD);
        var through = store(CORP + ":" + plain.port(), "http");
        through.put("HTTP_PROXY", proxy.url("builder", "wrong-" + PASSWORD));
        var uploaded = upload(through);
        assertEquals(3, uploaded.status(), uploaded.toString());
        Fixtures.assertOneLine(uploaded, "cache-upload", "through the proxy " + proxy.url() + ": 407 Proxy Authentication Required");
        assertFalse(uploaded.err().contains(PASSWORD), "the proxy's password was printed");
    }

    @Test
    void theInternalCaIsTrustedThroughSslCertFile() throws Exception {
        roundTrip(secureStore(SVC));
    }

    @Test
    void theInternalCaIsTrustedThroughSslCertDirAsOpenShiftSetsIt() throws Exception {
        var direct = secureStore(SVC);
        direct.remove("SSL_CERT_FILE");
        direct.put("SSL_CERT_DIR", tmp.resolve("no-such-folder") + ":" + secure.ca().hashedDir());
        roundTrip(direct);
    }

    @Test
    void withoutTheCaACertificateFailureSaysWhichCaVariablesWereRead() throws Exception {
        var direct = secureStore(SVC);
        direct.remove("SSL_CERT_FILE");
        direct.put("SSL_CERT_DIR", tmp.resolve("no-such-folder").toString());
        var uploaded = upload(direct);
        assertEquals(3, uploaded.status(), uploaded.toString());
        Fixtures.assertOneLine(uploaded, "cache-upload", "SSL_CERT_DIR=" + tmp.resolve("no-such-folder"));
        assertTrue(uploaded.lastLine().contains("TLS: PKIX path building failed"), uploaded.toString());
    }

    @Test
    void aCertificateForAnotherNameIsRefused() throws Exception {
        var uploaded = upload(secureStore(OTHER));
        assertEquals(3, uploaded.status(), uploaded.toString());
        Fixtures.assertOneLine(uploaded, "cache-upload", "TLS: No subject alternative DNS name matching " + OTHER);
    }

    @Test
    void anEndpointThatStallsEveryAttemptIsGivenUp() throws Exception {
        proxy.stalling();
        var through = secureStore(CORP);
        through.put("HTTPS_PROXY", proxy.url());
        Path folder = tmp.resolve("folder");
        Fixtures.write(folder.resolve("mine.txt"), "kept\n");
        var before = Fixtures.snapshot(folder, true);

        long start = System.nanoTime();
        var fetched = fetch(through, folder, "--stall-timeout", "2s");
        long fetchSeconds = (System.nanoTime() - start) / 1_000_000_000;
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("false", Files.readString(tmp.resolve("results").resolve("fetched")));
        assertTrue(fetched.err().contains("given up"), fetched.toString());
        assertEquals(before, Fixtures.snapshot(folder, true));
        assertTrue(fetchSeconds <= 20, "the fetch took " + fetchSeconds + " s");

        start = System.nanoTime();
        var uploaded = upload(through, "--stall-timeout", "2s");
        long uploadSeconds = (System.nanoTime() - start) / 1_000_000_000;
        assertEquals(3, uploaded.status(), uploaded.toString());
        Fixtures.assertOneLine(uploaded, "cache-upload", "given up");
        // Seen at 19 s here, more than the fetch's 15 s for reasons not yet known: bounded, not tight.
        assertTrue(uploadSeconds <= 30, "the upload took " + uploadSeconds + " s");
    }
}

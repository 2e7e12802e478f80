import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A registry reached over HTTPS never makes us speak plain HTTP: not to a token service whose
 * realm is http:// (it would receive the docker-config password in clear), not at the end of a
 * redirect. Only --insecure, which allows plain HTTP anyway, lets it happen.
 */
class OciDowngradeTest {

    /** HTTPS, with its token service in plain HTTP: distribution serves whatever realm it is configured with. */
    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.TOKEN, true);

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("Cargo.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("mod"), 0);
        env = Fixtures.env(tmp.resolve("xdg"));
        env.put("SSL_CERT_FILE", registry.caCertificate().toString());
        env.put("DOCKER_CONFIG", registry.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, RegistryServer.PASSWORD).toString());
    }

    private Fixtures.Run[] uploadAndFetch(String uri, String... extra) throws Exception {
        var upload = new java.util.ArrayList<>(java.util.List.of("--target", uri, "--folder", "mod"));
        upload.addAll(java.util.List.of(extra));
        var fetch = new java.util.ArrayList<>(java.util.List.of("--source", uri, "--folder", tmp.resolve("restored").toString()));
        fetch.addAll(java.util.List.of(extra));
        return new Fixtures.Run[] {
            Fixtures.upload(project, env, upload.toArray(String[]::new)),
            Fixtures.fetch(project, env, fetch.toArray(String[]::new))};
    }

    @Test
    void anHttpsRegistryWhoseTokenServiceIsPlainHttpIsRefusedBeforeAnyCredentialIsSent() throws Exception {
        String realm = registry.tokenServer().realm();
        assertTrue(realm.startsWith("http://"), realm);
        int asked = registry.tokenServer().requestsReceived();
        for (var run : uploadAndFetch("oci://" + registry.host() + "/downgrade/realm:{{hash}}")) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains(registry.host()), run.err());
            assertTrue(run.err().contains(realm), run.err());
        }
        assertEquals(asked, registry.tokenServer().requestsReceived(), "the plain-HTTP token service was never asked");
        assertTrue(Files.notExists(tmp.resolve("restored")));
    }

    @Test
    void withInsecureThePlainHttpTokenServiceOfAnHttpsRegistryIsUsed() throws Exception {
        int before = registry.tokenServer().tokensIssued();
        var runs = uploadAndFetch("oci://" + registry.host() + "/downgrade/insecure:{{hash}}", "--insecure", "true");
        for (var run : runs) {
            assertEquals(0, run.status(), run.toString());
        }
        assertEquals(Fixtures.snapshot(project.resolve("mod"), false), Fixtures.snapshot(tmp.resolve("restored"), false));
        assertTrue(registry.tokenServer().tokensIssued() > before, "the token service issued the tokens");
    }

    @Test
    void aRedirectFromHttpsToPlainHttpIsNotFollowed() throws Exception {
        var plainHits = new AtomicInteger();
        HttpServer plain = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        plain.createContext("/", exchange -> {
            plainHits.incrementAndGet();
            // Answers as an empty registry would, so that a client that came here would carry on.
            respond(exchange, exchange.getRequestURI().getPath().equals("/v2/") ? 200 : 404, Map.of());
        });
        plain.start();
        String plainUrl = "http://127.0.0.1:" + plain.getAddress().getPort();
        HttpsServer redirector = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        redirector.setHttpsConfigurator(new HttpsConfigurator(serverTls(tmp.resolve("tls"))));
        redirector.createContext("/", exchange -> respond(exchange, 307,
                Map.of("Location", plainUrl + exchange.getRequestURI())));
        redirector.start();
        try {
            String host = "127.0.0.1:" + redirector.getAddress().getPort();
            env.put("SSL_CERT_FILE", tmp.resolve("tls/cert.pem").toString());
            for (var run : uploadAndFetch("oci://" + host + "/downgrade/redirect:{{hash}}")) {
                assertEquals(ExitStatus.STORE, run.status(), run.toString());
                assertEquals(1, run.err().lines().count(), run.err());
                assertTrue(run.err().contains(host), run.err());
                assertTrue(run.err().contains(plainUrl + "/v2/"), run.err());
            }
            assertEquals(0, plainHits.get(), "the plain-HTTP server was never asked");
        } finally {
            redirector.stop(0);
            plain.stop(0);
        }
    }

    private static void respond(HttpExchange exchange, int status, Map<String, String> headers) throws java.io.IOException {
        try (exchange) {
            exchange.getRequestBody().readAllBytes();
            headers.forEach(exchange.getResponseHeaders()::set);
            exchange.sendResponseHeaders(status, -1);
        }
    }

    /** A server-side TLS context with a fresh self-signed certificate for 127.0.0.1, written to dir/cert.pem. */
    private static SSLContext serverTls(Path dir) throws Exception {
        Files.createDirectories(dir);
        RegistryServer.exec(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString());
        String pem = Files.readString(dir.resolve("key.pem")).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        var key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        Certificate certificate;
        try (InputStream in = Files.newInputStream(dir.resolve("cert.pem"))) {
            certificate = CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        char[] password = "unused".toCharArray();
        var keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("server", key, password, new Certificate[] {certificate});
        var managers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        managers.init(keys, password);
        var context = SSLContext.getInstance("TLS");
        context.init(managers.getKeyManagers(), null, null);
        return context;
    }
}

import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.common.StorageSharedKeyCredential;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * A real Azure Blob endpoint for the azblob tests: azurite-blob, Microsoft's storage emulator, as a
 * child process on a free loopback port, with its data and log in a temporary folder. A test class
 * shares one: hold it in a static {@code @RegisterExtension} field. tests/run installs it from the
 * npm registry and names it in AZURITE_BLOB. It knows one account, the emulator's well-known
 * devstoreaccount1 and its published key.
 */
final class AzuriteServer extends Fixtures.ClassServer<AzuriteServer> {

    static final String ACCOUNT = "devstoreaccount1";
    static final String KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private final List<String> containers = new ArrayList<>();
    private Path dir;
    private int port;
    private String[] tlsNames;
    private TestCa ca;
    private Process process;

    private AzuriteServer() {
        super("azurite");
    }

    /** An azurite-blob started before a class's tests and stopped after them, with no container but those of withContainer. */
    static AzuriteServer perClass() {
        return new AzuriteServer();
    }

    /** The container is made as the server starts. */
    AzuriteServer withContainer(String name) {
        containers.add(name);
        return this;
    }

    /**
     * Serves https instead, with a certificate for these names and 127.0.0.1 signed by a CA made for
     * it (ca()): the internal CA a user names in SSL_CERT_FILE or SSL_CERT_DIR.
     */
    AzuriteServer withTls(String... names) {
        tlsNames = names;
        return this;
    }

    /** Starts azurite-blob on a free 127.0.0.1 port, storing under dir/data; waits until it answers HTTP. */
    @Override
    void launch(Path dir) throws Exception {
        this.dir = Files.createDirectories(dir.toAbsolutePath());
        port = Fixtures.freePort();
        if (tlsNames != null) {
            ca = TestCa.make(this.dir.resolve("ca"), tlsNames);
        }
        restart();
        for (String container : containers) {
            createContainer(container);
        }
    }

    /** Starts it again on the same port and data after stop(). */
    void restart() throws Exception {
        String executable = System.getenv().getOrDefault("AZURITE_BLOB", "azurite-blob");
        // --skipApiVersionCheck: the SDK may speak a newer API version than the emulator knows.
        // --loose: ignore headers the emulator does not implement rather than refuse the request.
        // --disableProductStyleUrl: the account is the path's first segment even when the host is a
        // name (acct.blob.corp.test), whose first label azurite would take for it otherwise.
        var command = new ArrayList<>(List.of(executable, "--blobHost", "127.0.0.1", "--blobPort", Integer.toString(port),
                "--location", dir.resolve("data").toString(), "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl"));
        if (ca != null) {
            command.addAll(List.of("--cert", ca.cert().toString(), "--key", ca.key().toString()));
        }
        var builder = new ProcessBuilder(command)
                .directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("azurite.log").toFile()));
        builder.environment().keySet().removeIf(name -> name.startsWith("AZURITE_"));
        process = builder.start();
        try {
            awaitReady();
        } catch (Exception | Error e) {
            stop();
            throw e;
        }
    }

    private void awaitReady() throws Exception {
        var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1));
        if (ca != null) {
            http.sslContext(trusting(ca));
        }
        // Any answer, a 403 to this anonymous listing included, means it is serving.
        Fixtures.awaitAnswer("azurite-blob", process, http.build(), Fixtures.probe(endpoint() + "?comp=list"), 30,
                dir.resolve("azurite.log"));
    }

    /** An SSLContext that trusts the test CA alone, for this JVM's own clients. */
    private static SSLContext trusting(TestCa ca) throws Exception {
        var cas = KeyStore.getInstance(KeyStore.getDefaultType());
        cas.load(null, null);
        try (var in = Files.newInputStream(ca.ca())) {
            cas.setCertificateEntry("test-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        var trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(cas);
        var context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }

    /** The CA that signed the https certificate (withTls). */
    TestCa ca() {
        return ca;
    }

    /** The port on 127.0.0.1, for an endpoint under another name (https://acct.blob.corp.test:PORT). */
    int port() {
        return port;
    }

    /** "127.0.0.1:PORT", the domain parameter of a path-style (localemu) URI. */
    String host() {
        return "127.0.0.1:" + port;
    }

    /** "http://127.0.0.1:PORT/devstoreaccount1", the account's service URL. */
    String endpoint() {
        return (ca == null ? "http://" : "https://") + host() + "/" + ACCOUNT;
    }

    /** The gocloud parameters that point an azblob:// URI here, as BLOB_QUERY_PARAMS holds them. */
    String queryParams() {
        return "?domain=" + host() + "&protocol=" + (ca == null ? "http" : "https") + "&localemu=true";
    }

    String connectionString() {
        return "DefaultEndpointsProtocol=http;AccountName=" + ACCOUNT + ";AccountKey=" + KEY + ";BlobEndpoint="
                + endpoint() + ";";
    }

    /** base plus the shared-key credentials and BLOB_QUERY_PARAMS that reach this emulator. */
    Map<String, String> env(Map<String, String> base) {
        var env = new HashMap<>(base);
        env.keySet().removeIf(name -> name.startsWith("AZURE_"));
        env.put("AZURE_STORAGE_ACCOUNT", ACCOUNT);
        env.put("AZURE_STORAGE_KEY", KEY);
        env.put("BLOB_QUERY_PARAMS", queryParams());
        return env;
    }

    /** An SDK client with the account key, for a test to set up and check what the scripts see. */
    BlobServiceClient client() {
        var builder = new BlobServiceClientBuilder().endpoint(endpoint()).credential(new StorageSharedKeyCredential(ACCOUNT, KEY));
        if (ca != null) {
            try {
                var tls = SslContextBuilder.forClient().trustManager(ca.ca().toFile()).build();
                builder.httpClient(new NettyAsyncHttpClientBuilder(reactor.netty.http.client.HttpClient.create()
                        .secure(spec -> spec.sslContext(tls))).build());
            } catch (SSLException e) {
                throw new IllegalStateException("the test CA: " + e.getMessage(), e);
            }
        }
        return builder.buildClient();
    }

    /** A new, empty container. */
    BlobContainerClient createContainer(String name) {
        return client().createBlobContainer(name);
    }

    @Override
    String proxyTarget() {
        return "http://" + host();
    }

    /** Stops the emulator by its PID and waits for it to exit. */
    void stop() {
        if (process != null) {
            Fixtures.stop(process);
        }
    }

    @Override
    public void close() {
        stop();
    }
}

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * s3proxy, a real S3 server (signature v4 auth, multipart uploads, user metadata), run from the
 * jar tests/run fetched (S3PROXY_JAR) as a child process on a free loopback port, keeping its
 * buckets as folders under data/ in a temporary folder. A test class shares one: hold it in a
 * static {@code @RegisterExtension} field.
 */
final class S3ProxyServer extends Fixtures.ClassServer<S3ProxyServer> {

    static final String ACCESS_KEY = "tekton-caches-test";
    static final String SECRET_KEY = "tekton-caches-secret";

    private final List<String> buckets = new ArrayList<>();
    private Path data;
    private int port;
    private int securePort;
    private String[] tlsNames;
    private TestCa ca;
    private Process process;

    private S3ProxyServer() {
        super("s3proxy");
    }

    /** An s3proxy started before a class's tests and stopped after them, with no bucket but those of withBucket. */
    static S3ProxyServer perClass() {
        return new S3ProxyServer();
    }

    /** The bucket is made as the server starts. */
    S3ProxyServer withBucket(String name) {
        buckets.add(name);
        return this;
    }

    /**
     * Also serves https on a port of its own, with a certificate for these names and 127.0.0.1
     * signed by a CA made for it (ca()): the internal CA a user names in SSL_CERT_FILE or SSL_CERT_DIR.
     */
    S3ProxyServer withTls(String... names) {
        tlsNames = names;
        return this;
    }

    @Override
    void launch(Path dir) throws Exception {
        String jar = System.getenv("S3PROXY_JAR");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("S3PROXY_JAR does not name the s3proxy jar; run the tests with tests/run");
        }
        data = Files.createDirectories(dir.resolve("data"));
        port = Fixtures.freePort();
        var tls = new ArrayList<String>();
        if (tlsNames != null) {
            ca = TestCa.make(dir.resolve("ca"), tlsNames);
            securePort = Fixtures.freePort();
            tls.add("s3proxy.secure-endpoint=https://127.0.0.1:" + securePort);
            tls.add("s3proxy.keystore-path=" + ca.keystore());
            tls.add("s3proxy.keystore-password=" + TestCa.KEYSTORE_PASSWORD);
        }
        Path properties = dir.resolve("s3proxy.properties");
        Files.writeString(properties, String.join("\n", tls) + "\n" + String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                // The SDK sends headers s3proxy does not know (checksum modes, SDK metadata).
                "s3proxy.ignore-unknown-headers=true",
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + data,
                ""));
        Path log = dir.resolve("s3proxy.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(List.of(java, "-Xmx256m", "-jar", jar, "--properties", properties.toString()))
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        awaitReady(log);
        for (String bucket : buckets) {
            createBucket(bucket);
        }
    }

    private void awaitReady(Path log) throws Exception {
        var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        Fixtures.awaitAnswer("s3proxy", process, http, Fixtures.probe(endpoint() + "/"), 30, log);
    }

    String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The plain HTTP port on 127.0.0.1, for an endpoint under another name (http://s3.corp.test:PORT). */
    int port() {
        return port;
    }

    /** The https port on 127.0.0.1 (withTls), for an endpoint such as https://s3.corp.test:PORT. */
    int securePort() {
        return securePort;
    }

    /** The CA that signed the https certificate (withTls). */
    TestCa ca() {
        return ca;
    }

    /** A bucket is a folder of the filesystem backend. */
    void createBucket(String name) throws IOException {
        Files.createDirectories(data.resolve(name));
    }

    /** Where the backend keeps an object's bytes (its metadata lives in the file's extended attributes). */
    Path objectFile(String bucket, String key) {
        return data.resolve(bucket).resolve(key);
    }

    /**
     * The environment of a StepAction using this server: keys in the AWS variables, the endpoint in
     * BLOB_QUERY_PARAMS as the Go tool's users write it, no instance-metadata lookups.
     */
    Map<String, String> env(Map<String, String> base, String endpoint) {
        var env = new java.util.HashMap<>(base);
        env.keySet().removeIf(name -> name.startsWith("AWS_"));
        env.put("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        env.put("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        env.put("AWS_EC2_METADATA_DISABLED", "true");
        env.put("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
        env.put("AWS_CONFIG_FILE", "/nonexistent/config");
        env.put("BLOB_QUERY_PARAMS", "?endpoint=" + endpoint + "&s3ForcePathStyle=true&region=us-east-1");
        return env;
    }

    /** An SDK client with the test keys, for a test to see the bucket as it is, temporary objects and uploads included. */
    S3Client client() {
        return S3Client.builder().endpointOverride(URI.create(endpoint())).forcePathStyle(true).region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    @Override
    String proxyTarget() {
        return endpoint();
    }

    @Override
    public void close() {
        if (process != null) {
            Fixtures.stop(process);
        }
    }
}

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A real registry for the OCI tests: Debian's docker-registry (CNCF distribution 2.8) as a child
 * process, so that what we push and pull meets the server that most registries are built on,
 * with its quirks, rather than our idea of the API.
 *
 * <p>Everything lives under the folder given to start (a temporary one for perClass): config.yml,
 * storage/, registry.log, the TLS certificate, the htpasswd file and the token server's key and log.
 */
final class RegistryServer extends Fixtures.ClassServer<RegistryServer> {

    enum Auth { NONE, BASIC, TOKEN }

    static final String USER = "tester", PASSWORD = "s3cret-pass";

    /** The registry's auth.token.service, which is also the JWT's audience. */
    static final String TOKEN_SERVICE = "fixture-registry";

    private final Auth auth;
    private final boolean tls;
    private final String externalUrl;
    /** The CA whose certificate the registry serves, for names too; null for a self-signed one for 127.0.0.1. */
    private TestCa ca;
    private Path dir;
    private int port;
    private Process process;
    private TokenServer tokenServer;
    /** Whether the registry deletes manifests (storage.delete.enabled; distribution's own default is off). */
    private boolean deletes = true;

    private RegistryServer(Auth auth, boolean tls, String externalUrl) {
        super("registry");
        this.auth = auth;
        this.tls = tls;
        this.externalUrl = externalUrl;
    }

    /**
     * A registry a test class shares, started before its tests and stopped after them: hold it in a
     * static {@code @RegisterExtension} field. behind(proxy) puts a FlakyProxy in front, whose url()
     * the registry then writes into its Location headers (see start with externalUrl).
     */
    static RegistryServer perClass(Auth auth, boolean tls) {
        return new RegistryServer(auth, tls, null);
    }

    /** Starts docker-registry on a free 127.0.0.1 port with its storage under dir; waits until GET /v2/ answers (any HTTP status). */
    static RegistryServer start(Path dir, Auth auth, boolean tls) throws Exception {
        return start(dir, auth, tls, null);
    }

    /**
     * Same, but the registry writes externalUrl (e.g. "http://127.0.0.1:PROXYPORT") into the
     * Location headers it returns (distribution's http.host setting), so that a proxy in front of
     * it stays in the path. Without it, distribution builds Location from the request's Host
     * header (or X-Forwarded-Host/-Proto), always as an absolute URL.
     */
    static RegistryServer start(Path dir, Auth auth, boolean tls, String externalUrl) throws Exception {
        var server = new RegistryServer(auth, tls, externalUrl);
        server.startIn(dir);
        return server;
    }

    /** Starts it over TLS with ca's server certificate (for its names and 127.0.0.1), as a company's internal CA signs it. */
    static RegistryServer start(Path dir, Auth auth, TestCa ca) throws Exception {
        var server = new RegistryServer(auth, true, null);
        server.ca = ca;
        server.startIn(dir);
        return server;
    }

    @Override
    void launch(Path dir) throws Exception {
        String location = proxy() == null ? externalUrl : proxy().url();
        dir = Files.createDirectories(dir.toAbsolutePath());
        this.dir = dir;
        port = Fixtures.freePort();
        var config = new StringBuilder();
        config.append("version: 0.1\n");
        config.append("log:\n  level: info\n  formatter: text\n");
        config.append("storage:\n");
        config.append("  filesystem:\n    rootdirectory: ").append(dir.resolve("storage")).append('\n');
        config.append("  delete:\n    enabled: ").append(deletes).append('\n');
        // The purge of old uploads would otherwise start at a random time during a test.
        config.append("  maintenance:\n    uploadpurging:\n      enabled: false\n");
        config.append("http:\n");
        config.append("  addr: 127.0.0.1:").append(port).append('\n');
        config.append("  secret: ").append(randomHex()).append('\n');
        if (location != null) {
            config.append("  host: ").append(location).append('\n');
        }
        if (ca != null) {
            config.append("  tls:\n");
            config.append("    certificate: ").append(ca.cert()).append('\n');
            config.append("    key: ").append(ca.key()).append('\n');
        } else if (tls) {
            Path tlsDir = Files.createDirectories(dir.resolve("tls"));
            exec(tlsDir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", tlsDir.resolve("key.pem").toString(), "-out", tlsDir.resolve("cert.pem").toString());
            // containers/image's --cert-dir takes *.crt files as CAs (and *.cert/*.key as client pairs).
            Files.createDirectories(tlsDir.resolve("certs.d"));
            Files.copy(tlsDir.resolve("cert.pem"), tlsDir.resolve("certs.d/ca.crt"));
            config.append("  tls:\n");
            config.append("    certificate: ").append(tlsDir.resolve("cert.pem")).append('\n');
            config.append("    key: ").append(tlsDir.resolve("key.pem")).append('\n');
        }
        switch (auth) {
            case NONE -> { }
            case BASIC -> {
                // distribution only accepts bcrypt entries (-B); -n prints instead of writing a file.
                String line = exec(dir, "htpasswd", "-nbB", USER, PASSWORD).strip();
                Files.writeString(dir.resolve("htpasswd"), line + "\n");
                config.append("auth:\n  htpasswd:\n    realm: basic-realm\n    path: ")
                        .append(dir.resolve("htpasswd")).append('\n');
            }
            case TOKEN -> {
                tokenServer = TokenServer.start(dir.resolve("token"), TOKEN_SERVICE, "fixture-token-issuer", USER, PASSWORD);
                config.append("auth:\n  token:\n");
                config.append("    realm: ").append(tokenServer.realm()).append('\n');
                config.append("    service: ").append(tokenServer.service()).append('\n');
                config.append("    issuer: ").append(tokenServer.issuer()).append('\n');
                config.append("    rootcertbundle: ").append(tokenServer.rootCertBundle()).append('\n');
            }
        }
        Path configFile = dir.resolve("config.yml");
        Files.writeString(configFile, config);
        Path log = dir.resolve("registry.log");
        var builder = new ProcessBuilder("docker-registry", "serve", configFile.toString()).directory(dir.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        // REGISTRY_HTTP_ADDR and friends would override the config file.
        builder.environment().keySet().removeIf(name -> name.startsWith("REGISTRY_"));
        process = builder.start();
        awaitReady(log);
    }

    private void awaitReady(Path log) throws Exception {
        var client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1));
        if (tls) {
            client.sslContext(sslContext());
        }
        Fixtures.awaitAnswer("docker-registry", process, client.build(), Fixtures.probe(url() + "/v2/"), 15, log);
    }

    /** "127.0.0.1:PORT", as image references name the registry. */
    String host() {
        return "127.0.0.1:" + port;
    }

    /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
    String url() {
        return (tls ? "https://" : "http://") + host();
    }

    @Override
    String proxyTarget() {
        return url();
    }

    /** The registry refuses to delete anything, as distribution does by default (storage.delete.enabled false). */
    RegistryServer withoutDeletion() {
        deletes = false;
        return this;
    }

    Auth auth() {
        return auth;
    }

    /** The folder holding config.yml, storage/ and registry.log. */
    Path dir() {
        return dir;
    }

    /**
     * PEM of the self-signed certificate (tls only), with subjectAltName IP:127.0.0.1, or of the CA
     * that signed the registry's: usable as SSL_CERT_FILE.
     */
    Path caCertificate() {
        if (!tls) {
            throw new IllegalStateException("this registry serves plain HTTP");
        }
        return ca != null ? ca.ca() : dir.resolve("tls/cert.pem");
    }

    /** An SSLContext trusting only caCertificate(), for checks from Java with java.net.http. */
    SSLContext sslContext() throws Exception {
        var trusted = KeyStore.getInstance(KeyStore.getDefaultType());
        trusted.load(null, null);
        try (InputStream in = Files.newInputStream(caCertificate())) {
            trusted.setCertificateEntry("registry", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        var trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(trusted);
        var context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }

    /** TOKEN mode: a refresh token the token server accepts (as docker's "identitytoken" in config.json). */
    String identityToken() {
        return tokenServer().identityToken();
    }

    /** TOKEN mode: the token server, e.g. for tokensIssued() or realm(). */
    TokenServer tokenServer() {
        if (tokenServer == null) {
            throw new IllegalStateException("this registry runs with auth " + auth + ", not TOKEN");
        }
        return tokenServer;
    }

    /** Writes DIR/config.json with an "auths" entry for host() holding "auth": base64(user:pass); returns DIR (to be used as DOCKER_CONFIG). */
    Path dockerConfig(Path dir, String user, String password) throws IOException {
        String auth = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return writeDockerConfig(dir, "{\"auth\":" + TokenServer.json(auth) + "}");
    }

    /** Same with {"auths": {host: {"identitytoken": token}}}. */
    Path dockerConfigWithIdentityToken(Path dir, String token) throws IOException {
        return writeDockerConfig(dir, "{\"identitytoken\":" + TokenServer.json(token) + "}");
    }

    private Path writeDockerConfig(Path dir, String entry) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"),
                "{\"auths\":{" + TokenServer.json(host()) + ":" + entry + "}}\n");
        return dir;
    }

    /**
     * skopeo with the options this registry needs, given for every docker:// reference (so a
     * FlakyProxy in front of it works too): --tls-verify=false on plain HTTP or --cert-dir with
     * the certificate on TLS, and --creds USER:PASSWORD unless auth is NONE. For copy, the last two
     * arguments are taken as source and destination and the options get --src-/--dest- prefixes.
     * Our options come right after the subcommand, so the same option in args wins (pflag keeps
     * the last value), e.g. skopeo("copy", "--dest-creds", "tester:wrong", from, to).
     * The policy check is off (--insecure-policy) and the user's auth files are not read.
     */
    Fixtures.Run skopeo(String... args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException("a skopeo subcommand is needed");
        }
        var command = new ArrayList<>(List.of("skopeo", "--insecure-policy", args[0]));
        if (args[0].equals("copy") && args.length >= 3) {
            if (args[args.length - 2].startsWith("docker://")) {
                command.addAll(registryOptions("--src-"));
            }
            if (args[args.length - 1].startsWith("docker://")) {
                command.addAll(registryOptions("--dest-"));
            }
        } else if (List.of(args).stream().anyMatch(a -> a.startsWith("docker://"))) {
            command.addAll(registryOptions("--"));
        }
        command.addAll(List.of(args).subList(1, args.length));
        var env = new HashMap<>(System.getenv());
        env.put("REGISTRY_AUTH_FILE", dir.resolve("skopeo-auth-none.json").toString());
        return Fixtures.run(command, dir, env);
    }

    private List<String> registryOptions(String prefix) {
        var options = new ArrayList<String>();
        if (tls) {
            options.add(prefix + "cert-dir=" + dir.resolve("tls/certs.d"));
        } else {
            options.add(prefix + "tls-verify=false");
        }
        if (auth != Auth.NONE) {
            options.add(prefix + "creds=" + USER + ":" + PASSWORD);
        }
        return options;
    }

    /** Stops the registry (and token server) by PID and waits for them to exit. */
    @Override
    public void close() {
        if (process != null) {
            Fixtures.stop(process);
        }
        if (tokenServer != null) {
            tokenServer.close();
            tokenServer = null; // a registry that failed to start is closed twice: by startIn, then by afterAll
        }
    }

    /** Runs a short setup command (openssl, htpasswd) and returns its stdout; fails with its output. */
    static String exec(Path cwd, String... command) throws Exception {
        var run = Fixtures.run(List.of(command), cwd, System.getenv());
        if (run.status() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + run);
        }
        return run.out();
    }

    private static String randomHex() {
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}

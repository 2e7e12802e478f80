import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import lib.common.DaemonThreads;

/**
 * The token server of a registry in distribution's "auth: token" mode, as Docker Hub or Harbor run
 * one: clients that get a 401 with "WWW-Authenticate: Bearer realm=..." come here for a JWT.
 *
 * <p>GET /token (Basic credentials) is the classic docker flow; POST /token with a form is the
 * OAuth2 flow that clients use when config.json holds an "identitytoken" (grant_type=refresh_token)
 * or when they log in (grant_type=password). Tokens grant exactly the scopes asked for, so a test
 * can see a client ask for the wrong ones fail at the registry rather than here.
 *
 * <p>The JWT is RS256-signed; its header carries the signing certificate in x5c, which
 * distribution 2.8 verifies against the registry's rootcertbundle, i.e. {@link #rootCertBundle()}.
 */
final class TokenServer implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService executor;
    private final String service;
    private final String issuer;
    private final String user;
    private final String password;
    private final String identityToken;
    private final PrivateKey key;
    private final String x5c;
    private final Path certificate;
    private final Path log;
    private final AtomicInteger issued = new AtomicInteger();
    private final AtomicInteger received = new AtomicInteger();
    private final AtomicInteger ids = new AtomicInteger();

    private TokenServer(Path dir, String service, String issuer, String user, String password) throws Exception {
        this.service = service;
        this.issuer = issuer;
        this.user = user;
        this.password = password;
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        this.identityToken = "refresh-" + HexFormat.of().formatHex(random);
        Files.createDirectories(dir);
        this.log = dir.resolve("token-server.log");
        this.certificate = dir.resolve("token-signing.crt");
        Path keyFile = dir.resolve("token-signing.key");
        // openssl 3 writes the key as PKCS#8 ("BEGIN PRIVATE KEY"), which Java reads directly.
        RegistryServer.exec(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=fixture-token-issuer", "-keyout", keyFile.toString(), "-out", certificate.toString());
        this.key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pem(keyFile)));
        try (InputStream in = Files.newInputStream(certificate)) {
            byte[] der = CertificateFactory.getInstance("X.509").generateCertificate(in).getEncoded();
            this.x5c = Base64.getEncoder().encodeToString(der); // x5c is plain base64, not base64url
        }
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newCachedThreadPool(DaemonThreads.named("token-server"));
        server.setExecutor(executor);
        server.createContext("/token", this::handle);
        server.start();
    }

    /** A token server on a free 127.0.0.1 port, its key, certificate and log under dir. */
    static TokenServer start(Path dir, String service, String issuer, String user, String password) throws Exception {
        return new TokenServer(dir, service, issuer, user, password);
    }

    /** The registry's auth.token.realm. */
    String realm() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    String service() {
        return service;
    }

    String issuer() {
        return issuer;
    }

    /** The registry's auth.token.rootcertbundle: the certificate of the signing key. */
    Path rootCertBundle() {
        return certificate;
    }

    /** A refresh token POST /token accepts, as docker stores it in config.json's "identitytoken". */
    String identityToken() {
        return identityToken;
    }

    /** How many tokens were handed out (refusals not counted). */
    int tokensIssued() {
        return issued.get();
    }

    /** How many requests arrived, answered or not: none means no credential was ever sent here. */
    int requestsReceived() {
        return received.get();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        received.incrementAndGet();
        try (exchange) {
            var params = new LinkedHashMap<String, List<String>>();
            parseForm(exchange.getRequestURI().getRawQuery(), params);
            boolean granted;
            String how;
            if (exchange.getRequestMethod().equals("POST")) {
                parseForm(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8), params);
                String grant = first(params, "grant_type");
                how = "POST grant_type=" + grant;
                granted = switch (grant) {
                    case "refresh_token" -> identityToken.equals(first(params, "refresh_token"));
                    case "password" -> user.equals(first(params, "username")) && password.equals(first(params, "password"));
                    default -> false;
                };
            } else if (exchange.getRequestMethod().equals("GET")) {
                String authorization = exchange.getRequestHeaders().getFirst("Authorization");
                String expected = "Basic " + Base64.getEncoder().encodeToString(
                        (user + ":" + password).getBytes(StandardCharsets.UTF_8));
                how = "GET " + (authorization == null ? "without credentials" : "with Basic credentials");
                granted = expected.equals(authorization);
            } else {
                respond(exchange, 405, "{\"error\":\"method not allowed\"}");
                return;
            }
            var scopes = new ArrayList<String>();
            for (String scope : params.getOrDefault("scope", List.of())) {
                for (String one : scope.trim().split(" +")) {
                    if (!one.isEmpty()) {
                        scopes.add(one);
                    }
                }
            }
            String requestedService = first(params, "service");
            note(how + " service=" + requestedService + " scopes=" + scopes + " -> " + (granted ? "granted" : "refused"));
            if (!granted) {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"fixture-token-server\"");
                respond(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}");
                return;
            }
            long now = Instant.now().getEpochSecond();
            String jwt = jwt(requestedService.isEmpty() ? service : requestedService, scopes, now);
            issued.incrementAndGet();
            var body = new StringBuilder("{\"token\":").append(json(jwt))
                    .append(",\"access_token\":").append(json(jwt))
                    .append(",\"expires_in\":300,\"issued_at\":").append(json(Instant.ofEpochSecond(now).toString()));
            if (exchange.getRequestMethod().equals("POST")) {
                // What docker keeps as its identitytoken after a login with access_type=offline.
                body.append(",\"refresh_token\":").append(json(identityToken))
                        .append(",\"scope\":").append(json(String.join(" ", scopes)));
            }
            respond(exchange, 200, body.append('}').toString());
        } catch (Exception e) {
            note("failed: " + e);
            throw e instanceof IOException io ? io : new IOException(e);
        }
    }

    /** Claims as distribution 2.8 checks them: iss, aud = service, exp/nbf, and access per scope. */
    private String jwt(String audience, List<String> scopes, long now) throws Exception {
        String access = scopes.stream().map(TokenServer::accessEntry).collect(Collectors.joining(",", "[", "]"));
        String header = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[" + json(x5c) + "]}";
        String claims = "{\"iss\":" + json(issuer) + ",\"sub\":" + json(user) + ",\"aud\":" + json(audience)
                + ",\"exp\":" + (now + 300) + ",\"nbf\":" + (now - 10) + ",\"iat\":" + now
                + ",\"jti\":" + json("fixture-" + ids.incrementAndGet() + "-" + now) + ",\"access\":" + access + "}";
        var url = Base64.getUrlEncoder().withoutPadding();
        String signed = url.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "."
                + url.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
        var signature = Signature.getInstance("SHA256withRSA");
        signature.initSign(key);
        signature.update(signed.getBytes(StandardCharsets.US_ASCII));
        return signed + "." + url.encodeToString(signature.sign());
    }

    /** "repository:team/app:pull,push" as {"type","name","actions"}; the name may hold colons (host:port/...). */
    private static String accessEntry(String scope) {
        int first = scope.indexOf(':');
        int last = scope.lastIndexOf(':');
        if (first < 0 || first == last) {
            return "{\"type\":" + json(scope) + ",\"name\":\"\",\"actions\":[]}";
        }
        String actions = List.of(scope.substring(last + 1).split(",")).stream()
                .filter(a -> !a.isEmpty()).map(TokenServer::json).collect(Collectors.joining(",", "[", "]"));
        return "{\"type\":" + json(scope.substring(0, first)) + ",\"name\":" + json(scope.substring(first + 1, last))
                + ",\"actions\":" + actions + "}";
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static void parseForm(String form, Map<String, List<String>> into) {
        if (form == null || form.isEmpty()) {
            return;
        }
        for (String pair : form.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            into.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
        }
    }

    private static String first(Map<String, List<String>> params, String name) {
        List<String> values = params.get(name);
        return values == null || values.isEmpty() ? "" : values.get(0);
    }

    static String json(String s) {
        var out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    private static byte[] pem(Path file) throws IOException {
        String text = Files.readString(file);
        String base64 = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(base64);
    }

    private synchronized void note(String line) {
        try {
            Files.writeString(log, Instant.now() + " " + line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // the log only helps debugging
        }
    }
}

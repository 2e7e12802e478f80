//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.store.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.store.Backoff;
import lib.store.StallWatchdog;

/**
 * HTTP to one repository of an OCI distribution registry: finds how to reach it (HTTPS, or plain
 * HTTP where allowed), authenticates as its challenge asks (Basic, or a Bearer token from its token
 * service, with a password or an identity token), follows redirects without carrying credentials
 * to another host, and retries what a flaky network or a busy registry makes fail.
 */
final class RegistryClient {

    /** The registry said no to these credentials, or asked for some and none were found. */
    static final class AuthenticationFailed extends IOException {
        AuthenticationFailed(String message) {
            super(message);
        }
    }

    /** The registry answered with a status the caller did not expect; the message holds its reason. */
    static final class RegistryRefused extends IOException {
        final int status;

        RegistryRefused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** A request of an HTTPS registry would go out in plain HTTP; refused, and never retried. */
    static final class PlainHttpRefused extends IOException {
        PlainHttpRefused(String message) {
            super(message);
        }
    }

    private static final int MAX_REDIRECTS = 5;
    private static final Pattern CHALLENGE_PARAM = Pattern.compile("([A-Za-z_]+)=(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([^,\\s]*))");

    private final OciReference reference;
    private final boolean push;
    private final boolean insecure;
    private final DockerConfig credentials;
    private final Log log;
    private final HttpClient http;
    private final StallWatchdog stall;
    private String base;
    // Volatile: a restore key reads manifests from several threads, and any of them may renew it.
    private volatile String authorization;

    RegistryClient(OciReference reference, boolean push, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        this.reference = reference;
        this.push = push;
        this.insecure = insecure;
        this.credentials = DockerConfig.load(environment);
        this.log = log;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(15))
                .sslContext(RegistryTls.context(insecure, environment))
                .build();
        this.stall = new StallWatchdog(stallTimeout);
    }

    /** scheme://host[:port]/v2/REPOSITORY/ + path. */
    URI repositoryUri(String path) {
        return URI.create(base() + "/v2/" + reference.repository() + "/" + path);
    }

    /** The registry's URL, found on first use: HTTPS, then plain HTTP if TLS is refused and that is allowed. */
    private String base() {
        if (base == null) {
            throw new IllegalStateException("connect() first");
        }
        return base;
    }

    /** Reaches the registry's /v2/ endpoint and authenticates as it asks, before any real request. */
    void connect() throws IOException {
        try {
            base = "https://" + reference.registry();
            ping();
            return;
        } catch (SSLException e) {
            if (!insecure && !reference.plainHttpAllowedByAddress()) {
                throw tlsFailed(e);
            }
            base = "http://" + reference.registry();
            try {
                ping();
            } catch (IOException plain) {
                // An answer in plain HTTP other than "400: this is an HTTPS server" proves the registry speaks it.
                boolean speaksHttp = plain instanceof AuthenticationFailed
                        || (plain instanceof RegistryRefused refused && refused.status != 400);
                throw speaksHttp ? plain : tlsFailed(e);
            }
            log.debug("TLS with " + reference.registry() + " failed (" + Reason.of(e) + "); using plain HTTP");
        }
    }

    private IOException tlsFailed(SSLException e) {
        return new IOException("TLS with " + reference.registry() + " failed: " + Reason.of(e) + " (give its CA in"
                + " SSL_CERT_FILE, or --insecure true for plain HTTP or an unverified certificate)", e);
    }

    private void ping() throws IOException {
        try (var response = new Closing(send("GET", URI.create(base + "/v2/"), Map.of(), null, Backoff.ATTEMPTS))) {
            if (response.status() >= 300 && response.status() != 404) {
                throw refused(response.get(), "reaching the registry");
            }
        }
    }

    /**
     * Sends a request with retries: connection failures, 408, 429 and 5xx are retried with backoff;
     * a 401 once more after authenticating again (an expired token). The caller reads and closes the body.
     */
    HttpResponse<InputStream> send(String method, URI uri, Map<String, String> headers,
            Supplier<HttpRequest.BodyPublisher> body) throws IOException {
        return send(method, uri, headers, body, Backoff.ATTEMPTS);
    }

    /** One attempt, for a request that must not be repeated blindly (a chunk the registry may have half taken). */
    HttpResponse<InputStream> sendOnce(String method, URI uri, Map<String, String> headers,
            Supplier<HttpRequest.BodyPublisher> body) throws IOException {
        return send(method, uri, headers, body, 1);
    }

    private HttpResponse<InputStream> send(String method, URI uri, Map<String, String> headers,
            Supplier<HttpRequest.BodyPublisher> body, int attempts) throws IOException {
        IOException last = null;
        boolean reauthenticate = true;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            if (attempt > 1) {
                backoff(attempt, method + " " + uri.getPath(), last);
            }
            HttpResponse<InputStream> response;
            try {
                response = sendFollowingRedirects(method, uri, headers, body);
            } catch (SSLException | ConnectException | HttpConnectTimeoutException | PlainHttpRefused e) {
                throw e; // retrying does not change a certificate, open a closed port, route a lost host or a redirect
            } catch (IOException e) {
                last = e;
                continue;
            }
            int status = response.statusCode();
            if (status == 401 && reauthenticate) {
                reauthenticate = false;
                authenticate(response);
                attempt--;
                continue;
            }
            if (isTransient(status) && attempts > 1) {
                last = refused(response, method + " " + uri.getPath());
                continue;
            }
            return response;
        }
        throw last;
    }

    private HttpResponse<InputStream> sendFollowingRedirects(String method, URI uri, Map<String, String> headers,
            Supplier<HttpRequest.BodyPublisher> body) throws IOException {
        URI target = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            requireTls(target, hop == 0 ? "points " + method + " at" : "redirects " + method + " " + uri.getPath() + " to");
            var request = HttpRequest.newBuilder(target);
            headers.forEach(request::header);
            boolean sameOrigin = target.getScheme().equals(uri.getScheme()) && target.getAuthority().equals(uri.getAuthority());
            if (authorization != null && sameOrigin) {
                request.header("Authorization", authorization);
            }
            request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : body.get());
            HttpResponse<InputStream> response = exchange(request.build());
            int status = response.statusCode();
            Optional<String> location = response.headers().firstValue("Location");
            boolean redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
            if (!redirect || location.isEmpty() || !(method.equals("GET") || method.equals("HEAD"))) {
                return response;
            }
            response.body().close();
            target = target.resolve(location.get());
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + uri);
    }

    private HttpResponse<InputStream> exchange(HttpRequest request) throws IOException {
        try {
            return stall.send(http, request);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    /**
     * Refuses plain HTTP once the registry is reached over HTTPS, as go-containerregistry refuses
     * an http:// realm for an https registry: a token service, a redirect's target or an upload's
     * Location there would see the password, the token or a signed URL in clear. --insecure,
     * which allows plain HTTP anyway, allows it.
     */
    private void requireTls(URI target, String what) throws PlainHttpRefused {
        if (!insecure && base().startsWith("https:") && "http".equalsIgnoreCase(target.getScheme())) {
            throw new PlainHttpRefused("registry " + reference.registry() + " is reached over HTTPS but " + what + " "
                    + target + ", which is plain HTTP; refused (--insecure true allows it)");
        }
    }

    static boolean isTransient(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    /** Waits before attempt number `attempt` (2 and up), saying what failed. */
    void backoff(int attempt, String what, IOException last) throws IOException {
        Backoff.pause(attempt, last instanceof RegistryRefused ? last.getMessage()
                : what + " at " + reference.registry() + " failed: " + Reason.of(last), log);
    }

    /** Answers the registry's WWW-Authenticate challenge; afterwards requests carry the Authorization it asked for. */
    private void authenticate(HttpResponse<InputStream> challenged) throws IOException {
        String header = challenged.headers().firstValue("WWW-Authenticate").orElse("");
        String reason = errorMessage(challenged);
        String scheme = header.split("\\s", 2)[0].toLowerCase();
        var credential = credentials.credentialFor(reference.registry());
        if (authorization != null && !scheme.equals("bearer")) {
            throw new AuthenticationFailed("authentication failed for registry " + reference.registry() + ": " + reason
                    + " (credentials from " + credentials.searched() + ")");
        }
        switch (scheme) {
            case "basic" -> {
                var basic = credential.filter(c -> c.username() != null)
                        .orElseThrow(() -> new AuthenticationFailed("registry " + reference.registry()
                                + " requires a user name and password and none was found in " + credentials.searched()));
                authorization = basicAuthorization(basic);
            }
            case "bearer" -> authorization = "Bearer " + token(parameters(header), credential);
            default -> throw new AuthenticationFailed("registry " + reference.registry() + " asks for the unsupported"
                    + " authentication '" + header + "': " + reason);
        }
    }

    private static String basicAuthorization(DockerConfig.Credential credential) {
        String pair = credential.username() + ":" + credential.password();
        return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }

    private static Map<String, String> parameters(String header) {
        var parameters = new LinkedHashMap<String, String>();
        Matcher m = CHALLENGE_PARAM.matcher(header.substring(Math.min(header.length(), header.indexOf(' ') + 1)));
        while (m.find()) {
            parameters.put(m.group(1).toLowerCase(), m.group(2) != null ? m.group(2).replaceAll("\\\\(.)", "$1") : m.group(3));
        }
        return parameters;
    }

    /** A token from the registry's token service (the docker token and OAuth2 flows), for this repository. */
    private String token(Map<String, String> challenge, Optional<DockerConfig.Credential> credential) throws IOException {
        if (credential.isPresent() && credential.get().registryToken() != null) {
            return credential.get().registryToken();
        }
        String realm = challenge.get("realm");
        if (realm == null || realm.isBlank()) {
            throw new AuthenticationFailed("registry " + reference.registry() + " asks for a bearer token but names no token service");
        }
        requireTls(URI.create(realm), "names the token service");
        String scope = "repository:" + reference.repository() + ":" + (push ? "pull,push" : "pull");
        String service = challenge.getOrDefault("service", "");
        var form = new LinkedHashMap<String, String>();
        HttpRequest.Builder request;
        if (credential.isPresent() && credential.get().identityToken() != null) {
            form.put("grant_type", "refresh_token");
            form.put("refresh_token", credential.get().identityToken());
            form.put("service", service);
            form.put("scope", scope);
            form.put("client_id", "tekton-caches");
            request = HttpRequest.newBuilder(URI.create(realm))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(query(form)));
        } else {
            if (!service.isEmpty()) {
                form.put("service", service);
            }
            form.put("scope", scope);
            request = HttpRequest.newBuilder(URI.create(realm + (realm.contains("?") ? "&" : "?") + query(form))).GET();
            credential.filter(c -> c.username() != null).ifPresent(c -> request.header("Authorization", basicAuthorization(c)));
        }
        HttpResponse<InputStream> response = exchange(request.build());
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            throw new AuthenticationFailed("authentication failed for registry " + reference.registry() + ": its token service "
                    + realm + " refused " + (credential.isPresent() ? "the credentials from " + credentials.searched()
                            : "anonymous access (no credentials for it in " + credentials.searched() + ")")
                    + ": " + errorMessage(response));
        }
        if (response.statusCode() != 200) {
            throw refused(response, "getting a token from " + realm);
        }
        Map<String, Object> answer;
        try (InputStream in = response.body()) {
            answer = JSON.std.mapFrom(in);
        }
        Object token = answer.get("token") != null ? answer.get("token") : answer.get("access_token");
        if (!(token instanceof String text) || text.isEmpty()) {
            throw new IOException("the token service " + realm + " answered without a token");
        }
        return text;
    }

    private static String query(Map<String, String> form) {
        var joined = new StringBuilder();
        form.forEach((k, v) -> joined.append(joined.length() == 0 ? "" : "&").append(k).append('=')
                .append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        return joined.toString();
    }

    /** The error a response carries, as one line: the distribution spec's errors[].message, or the status. */
    static String errorMessage(HttpResponse<InputStream> response) {
        String text;
        try (InputStream in = response.body()) {
            text = new String(in.readNBytes(8192), StandardCharsets.UTF_8);
        } catch (IOException e) {
            text = "";
        }
        String detail = "";
        try {
            if (JSON.std.mapFrom(text).get("errors") instanceof List<?> errors && !errors.isEmpty()
                    && errors.get(0) instanceof Map<?, ?> first) {
                detail = first.get("code") + " " + first.get("message");
            }
        } catch (IOException | RuntimeException e) {
            detail = text.lines().findFirst().orElse("").strip();
        }
        String status = "HTTP " + response.statusCode();
        return detail.isBlank() ? status : status + " " + (detail.length() > 200 ? detail.substring(0, 200) + "…" : detail);
    }

    /** An unexpected answer as an exception whose message names the registry, what was tried and why it failed. */
    RegistryRefused refused(HttpResponse<InputStream> response, String what) {
        int status = response.statusCode();
        String message = errorMessage(response);
        if (status == 401) {
            return new RegistryRefused(status, "authentication failed for registry " + reference.registry() + ": " + message
                    + " (credentials from " + credentials.searched() + ")");
        }
        if (status == 403) {
            return new RegistryRefused(status, "registry " + reference.registry() + " denied " + (push ? "push to " : "pull from ")
                    + reference.repository() + ": " + message);
        }
        return new RegistryRefused(status, "registry " + reference.registry() + " answered " + what + " with " + message);
    }

    /** A response whose body is closed when the try block ends. */
    record Closing(HttpResponse<InputStream> get) implements AutoCloseable {
        int status() {
            return get.statusCode();
        }

        @Override
        public void close() throws IOException {
            get.body().close();
        }
    }
}

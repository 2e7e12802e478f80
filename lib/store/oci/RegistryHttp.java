package lib.store.oci;

import java.io.Closeable;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.apache.http.HttpClientConnection;
import org.apache.http.HttpStatus;
import org.apache.http.MessageConstraintException;
import org.apache.http.NoHttpResponseException;
import org.apache.http.StatusLine;
import org.apache.http.auth.AuthScheme;
import org.apache.http.auth.AuthSchemeProvider;
import org.apache.http.auth.AuthState;
import org.apache.http.auth.UsernamePasswordCredentials;
import org.apache.http.client.ClientProtocolException;
import org.apache.http.client.config.AuthSchemes;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpDelete;
import org.apache.http.client.methods.HttpEntityEnclosingRequestBase;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpHead;
import org.apache.http.client.methods.HttpPatch;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.client.methods.HttpPut;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.client.protocol.HttpClientContext;
import org.apache.http.config.ConnectionConfig;
import org.apache.http.config.MessageConstraints;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.config.SocketConfig;
import org.apache.http.conn.ConnectTimeoutException;
import org.apache.http.conn.HttpHostConnectException;
import org.apache.http.conn.routing.HttpRoute;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.socket.PlainConnectionSocketFactory;
import org.apache.http.impl.EnglishReasonPhraseCatalog;
import org.apache.http.impl.auth.BasicScheme;
import org.apache.http.impl.auth.BasicSchemeFactory;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.impl.client.TargetAuthenticationStrategy;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.protocol.HttpContext;
import lib.common.Version;
import lib.net.ApacheEgress;
import lib.net.Proxy;
import lib.store.Headway;
import lib.store.StallWatchdog;

/**
 * The registry's HTTP, on Apache HttpClient 4.5 (classic, blocking streams): connections pooled
 * and kept alive, routed through the proxy Go's rules give for each host (a CONNECT tunnel for
 * https, its user and password from the proxy's URL), TLS on our trust. What is ours on top of it:
 * no request waits for ever (connecting gives up after the connect timeout, each read of an answer
 * after the stall timeout without a byte, a body the peer stops taking after the stall timeout,
 * and the small parts of an answer have a {@link Deadline}); every wait is the store's
 * ({@link Headway}), abandoned when it is given up; failures say what happened in our words, a
 * proxy's refusal as the proxy's ({@link ProxyRefused}).
 *
 * <p>HttpClient itself only carries requests: no redirect followed, no retry, no authentication to
 * the registry (RegistryClient does all three, with its rules on where credentials may go), and no
 * JVM proxy setting read. The one request it sends again is one that failed on a connection kept
 * from before, before any byte of an answer: the peer may have closed it while it was idle,
 * without seeing the request. The pool checks a connection idle for 2 s before lending it, which
 * catches most such closes; the rest are sent once more here, on a new connection.
 */
final class RegistryHttp implements Closeable {

    /** A request's body: a range of an array, sent as it is. */
    record Body(byte[] bytes, int offset, int length) {
        static Body of(byte[] bytes) {
            return new Body(bytes, 0, bytes.length);
        }
    }

    /**
     * A proxy refused the request, or the tunnel for it: its status says why (407: its user and
     * password), and no registry saw the request.
     */
    static final class ProxyRefused extends IOException {
        final int status;

        ProxyRefused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private static final int CONNECT_TIMEOUT_MS = 15_000;
    /** What a head may hold: a peer cannot fill the heap with endless headers. */
    static final int HEADER_LINES_MAX = 128;
    static final int HEADER_LINE_MAX = 8192;
    /** Context attribute: this request's connection was opened for it, not kept from before. */
    private static final String OPENED = "tekton-caches.opened";

    private final ApacheEgress egress;
    private final Duration stallTimeout;
    private final StallWatchdog stall;
    private final Headway headway;
    private final CloseableHttpClient client;

    RegistryHttp(ApacheEgress egress, Duration stallTimeout, Headway headway) {
        this.egress = egress;
        this.stallTimeout = stallTimeout;
        this.stall = new StallWatchdog(stallTimeout);
        this.headway = headway;
        this.client = client();
    }

    private CloseableHttpClient client() {
        int stallMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, stallTimeout.toMillis()));
        var sockets = RegistryBuilder.<ConnectionSocketFactory>create()
                .register("http", PlainConnectionSocketFactory.getSocketFactory())
                .register("https", new WatchedHandshakes(egress.tls(), stall))
                .build();
        var pool = new PoolingHttpClientConnectionManager(sockets) {
            @Override
            public void connect(HttpClientConnection connection, HttpRoute route, int timeout, HttpContext context)
                    throws IOException {
                context.setAttribute(OPENED, Boolean.TRUE);
                super.connect(connection, route, timeout, context);
            }
        };
        pool.setMaxTotal(64);
        pool.setDefaultMaxPerRoute(64); // the pullers, the listing's readers and the pushers, never waiting for one another
        pool.setValidateAfterInactivity(2000);
        pool.setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(stallMillis).setTcpNoDelay(true).build());
        pool.setDefaultConnectionConfig(ConnectionConfig.custom()
                .setBufferSize(64 << 10)
                .setMessageConstraints(MessageConstraints.custom()
                        .setMaxHeaderCount(HEADER_LINES_MAX).setMaxLineLength(HEADER_LINE_MAX).build())
                .build());
        return HttpClients.custom()
                .setConnectionManager(pool)
                .setRoutePlanner(egress.routes())
                .setDefaultCredentialsProvider(egress.proxyCredentials())
                // Basic only, as Go's client, in UTF-8; and never to the registry, which RegistryClient answers itself.
                .setDefaultAuthSchemeRegistry(RegistryBuilder.<AuthSchemeProvider>create()
                        .register(AuthSchemes.BASIC, new BasicSchemeFactory(StandardCharsets.UTF_8)).build())
                .setTargetAuthenticationStrategy(new TargetAuthenticationStrategy() {
                    @Override
                    public boolean isAuthenticationRequested(org.apache.http.HttpHost host, org.apache.http.HttpResponse response,
                            HttpContext context) {
                        return false;
                    }
                })
                .setRequestExecutor(new AnswerHeads(stallTimeout, stall))
                .setDefaultRequestConfig(RequestConfig.custom()
                        .setConnectTimeout(CONNECT_TIMEOUT_MS)
                        .setSocketTimeout(stallMillis)
                        .setRedirectsEnabled(false)
                        .setNormalizeUri(false) // the path as the registry wrote it, in a Location above all
                        .setExpectContinueEnabled(false)
                        .build())
                .setUserAgent("tekton-caches/" + Version.NUMBER)
                .disableRedirectHandling()
                .disableAutomaticRetries()
                .disableContentCompression() // a blob's bytes as stored: their digest is checked
                .disableCookieManagement()
                .disableConnectionState()
                .build();
    }

    Headway headway() {
        return headway;
    }

    /** Sends the request and reads the answer's head; body is null for none. */
    Answer send(String method, URI uri, Map<String, String> headers, Body body) throws IOException {
        Optional<Proxy> proxy = egress.proxies().forUri(uri); // as egress.routes() decides, for the words and the credentials
        while (true) {
            HttpRequestBase request = request(method, uri);
            headers.forEach(request::setHeader);
            SlicedBody entity = null;
            if (body != null) {
                entity = new SlicedBody(body, stall, headway, request::abort);
                ((HttpEntityEnclosingRequestBase) request).setEntity(entity);
            }
            HttpClientContext context = HttpClientContext.create();
            proxy.filter(p -> p.user() != null).ifPresent(p -> context.setAttribute(HttpClientContext.PROXY_AUTH_STATE, preemptive(p)));
            CloseableHttpResponse response;
            try (var wait = headway.waiting(request::abort)) {
                response = client.execute(request, context);
            } catch (IOException e) {
                if (!request.isAborted() && resendable(context, e)) {
                    continue; // the peer closed it while it was idle: once more, on a new connection
                }
                throw failed(e, uri, proxy, entity);
            }
            refusedByProxy(response, context, uri, proxy);
            Long firstByte = (Long) context.getAttribute(AnswerHeads.FIRST_BYTE);
            return new Answer(response, request, proxy, firstByte == null ? System.nanoTime() : firstByte, stallTimeout, stall,
                    headway);
        }
    }

    private static HttpRequestBase request(String method, URI uri) {
        return switch (method) {
            case "GET" -> new HttpGet(uri);
            case "HEAD" -> new HttpHead(uri);
            case "DELETE" -> new HttpDelete(uri);
            case "POST" -> new HttpPost(uri); // with no body, Content-Length: 0, which registries want
            case "PUT" -> new HttpPut(uri);
            case "PATCH" -> new HttpPatch(uri);
            default -> throw new IllegalArgumentException("no HTTP method " + method + " here");
        };
    }

    /**
     * Proxy-Authorization: Basic from the start, as Go's client sends it, rather than after a 407:
     * a chunk is not sent twice, a tunnel not opened twice. Only for a request whose route goes
     * through this proxy: HttpClient adds the header to every request not tunnelled.
     */
    private static AuthState preemptive(Proxy proxy) {
        AuthScheme basic = new BasicScheme(StandardCharsets.UTF_8) {
            @Override
            public boolean isProxy() {
                return true; // Proxy-Authorization, never Authorization
            }
        };
        var state = new AuthState();
        state.update(basic, new UsernamePasswordCredentials(proxy.user(), proxy.password() == null ? "" : proxy.password()));
        return state;
    }

    /**
     * A request that failed on a connection kept from before, with no byte of answer, for the
     * connection's end (not a timeout, nor our abandoning it): the peer closed it while it was idle.
     */
    private boolean resendable(HttpClientContext context, IOException e) {
        boolean closed = e instanceof NoHttpResponseException || e instanceof SocketException
                || e instanceof SSLException && e.getCause() instanceof SocketException;
        return closed && context.getAttribute(OPENED) == null && context.getAttribute(AnswerHeads.ANSWERED) == null
                && !headway.gaveUp();
    }

    /**
     * A proxy's refusal, as HttpClient returns it (as if it were the answer): a CONNECT refused (407
     * and the like, or a 502 when the proxy cannot reach the registry), or a 407 to a request sent
     * through it in plain HTTP.
     */
    private static void refusedByProxy(CloseableHttpResponse response, HttpClientContext context, URI uri,
            Optional<Proxy> proxy) throws ProxyRefused {
        var tunnel = (StatusLine) context.getAttribute(AnswerHeads.TUNNEL_REFUSED);
        StatusLine line = tunnel != null ? tunnel
                : proxy.isPresent() && response.getStatusLine().getStatusCode() == HttpStatus.SC_PROXY_AUTHENTICATION_REQUIRED
                        ? response.getStatusLine() : null;
        if (line == null || proxy.isEmpty()) {
            return;
        }
        try {
            response.close();
        } catch (IOException e) {
            // refused all the same
        }
        int status = line.getStatusCode();
        String reason = line.getReasonPhrase() == null || line.getReasonPhrase().isBlank()
                ? EnglishReasonPhraseCatalog.INSTANCE.getReason(status, null) : line.getReasonPhrase();
        String variable = "https".equalsIgnoreCase(uri.getScheme()) ? "HTTPS_PROXY" : "HTTP_PROXY";
        String hint = status != HttpStatus.SC_PROXY_AUTHENTICATION_REQUIRED ? ""
                : proxy.get().user() == null ? " (" + variable + " names no user and password for it)"
                        : " (it refused the user and password of " + variable + ")";
        throw new ProxyRefused(status, "reaching " + authority(uri) + " through the proxy " + proxy.get() + ": " + status + " "
                + reason + hint);
    }

    /** The words for a request that failed: why it was abandoned, or what the network said, the proxy named. */
    private IOException failed(IOException e, URI uri, Optional<Proxy> proxy, SlicedBody entity) {
        if (headway.gaveUp()) {
            return headway.given();
        }
        if (entity != null && entity.stalled() || e instanceof SocketTimeoutException) {
            return stall.stalled();
        }
        String through = proxy.map(p -> "the proxy " + p + " (for " + authority(uri) + ")").orElse(authority(uri));
        if (e instanceof ConnectTimeoutException) {
            return new ConnectException("connecting to " + through + " timed out after " + CONNECT_TIMEOUT_MS / 1000 + " s");
        }
        if (e instanceof HttpHostConnectException connect) {
            var refused = new ConnectException("connecting to " + through + " failed: "
                    + (connect.getCause() != null ? connect.getCause().getMessage() : connect.getMessage()));
            refused.initCause(e);
            return refused;
        }
        if (e instanceof UnknownHostException && proxy.isPresent()) {
            var unknown = new UnknownHostException("the proxy " + proxy.get() + " (for " + authority(uri) + ") is unknown: "
                    + e.getMessage());
            unknown.initCause(e);
            return unknown;
        }
        if (e instanceof MessageConstraintException) {
            return new IOException(String.valueOf(e.getMessage()).contains("count")
                    ? "an answer's head has more than " + HEADER_LINES_MAX + " header lines; refused"
                    : "an answer's head has a line longer than " + (HEADER_LINE_MAX >> 10) + " KiB; refused", e);
        }
        if (e instanceof ClientProtocolException && e.getCause() != null) {
            return new IOException("the answer of " + authority(uri) + " is not HTTP as expected: " + e.getCause().getMessage(), e);
        }
        return e;
    }

    private static String authority(URI uri) {
        return uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "");
    }

    /** Shuts every connection. */
    @Override
    public void close() throws IOException {
        client.close();
    }
}

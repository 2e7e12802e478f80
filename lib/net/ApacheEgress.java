//DEPS org.apache.httpcomponents:httpclient:4.5.14

package lib.net;

import java.net.URI;
import java.util.Optional;
import javax.net.ssl.HostnameVerifier;
import org.apache.http.HttpException;
import org.apache.http.HttpHost;
import org.apache.http.HttpRequest;
import org.apache.http.auth.AuthScope;
import org.apache.http.auth.Credentials;
import org.apache.http.auth.UsernamePasswordCredentials;
import org.apache.http.client.CredentialsProvider;
import org.apache.http.conn.routing.HttpRoute;
import org.apache.http.conn.routing.HttpRoutePlanner;
import org.apache.http.conn.ssl.DefaultHostnameVerifier;
import org.apache.http.conn.ssl.NoopHostnameVerifier;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.protocol.HttpContext;

/**
 * The network environment ({@link Proxies}, {@link Trust}) in the terms of Apache HttpClient 4.5,
 * which the registry's client, the S3 SDK's and Google's all use: a route through the proxy Go's
 * rules give for each request's host (a CONNECT tunnel for https), the proxy's user and password
 * answering its 407, and TLS on our trust. Given to every client built on it, nothing is left to
 * the JVM's defaults.
 */
public final class ApacheEgress {

    private final Proxies proxies;
    private final Trust trust;

    public ApacheEgress(Proxies proxies, Trust trust) {
        this.proxies = proxies;
        this.trust = trust;
    }

    public Proxies proxies() {
        return proxies;
    }

    public Trust trust() {
        return trust;
    }

    /** The route of each request: through the proxy for its host, or direct. */
    public HttpRoutePlanner routes() {
        return new HttpRoutePlanner() {
            @Override
            public HttpRoute determineRoute(HttpHost target, HttpRequest request, HttpContext context) throws HttpException {
                String scheme = target.getSchemeName();
                boolean secure = "https".equalsIgnoreCase(scheme);
                int port = target.getPort() >= 0 ? target.getPort() : secure ? 443 : 80;
                var host = new HttpHost(target.getHostName(), port, scheme);
                Optional<Proxy> proxy;
                try {
                    proxy = proxies.forUri(new URI(scheme, null, target.getHostName(), port, "/", null, null));
                } catch (java.net.URISyntaxException | RuntimeException e) {
                    throw new HttpException("cannot choose a route to " + target + ": " + e.getMessage(), e);
                }
                return proxy.isEmpty() ? new HttpRoute(host, null, secure)
                        : new HttpRoute(host, null, new HttpHost(proxy.get().host(), proxy.get().port(), "http"), secure);
            }
        };
    }

    /** The proxies' users and passwords, each given only to its proxy when it asks (a 407). */
    public CredentialsProvider proxyCredentials() {
        return new CredentialsProvider() {
            @Override
            public void setCredentials(AuthScope scope, Credentials credentials) {
                throw new UnsupportedOperationException("the proxies' credentials come from their URLs");
            }

            @Override
            public Credentials getCredentials(AuthScope scope) {
                for (String scheme : new String[] {"https", "http"}) {
                    Optional<Proxy> proxy = proxyAt(scheme, scope);
                    if (proxy.isPresent() && proxy.get().user() != null) {
                        return new UsernamePasswordCredentials(proxy.get().user(),
                                proxy.get().password() == null ? "" : proxy.get().password());
                    }
                }
                return null;
            }

            @Override
            public void clear() {}
        };
    }

    /** The proxy of HTTPS_PROXY or HTTP_PROXY, if it is the one at the scope's host and port. */
    private Optional<Proxy> proxyAt(String scheme, AuthScope scope) {
        Optional<Proxy> proxy = proxies.configured(scheme);
        return proxy.filter(p -> p.host().equalsIgnoreCase(scope.getHost()) && p.port() == scope.getPort());
    }

    /** TLS sockets on our trust, the host name checked unless insecure. */
    public SSLConnectionSocketFactory tls() {
        HostnameVerifier names = trust.insecure() ? NoopHostnameVerifier.INSTANCE : new DefaultHostnameVerifier();
        return new SSLConnectionSocketFactory(trust.context(), new String[] {"TLSv1.3", "TLSv1.2"}, null, names);
    }
}

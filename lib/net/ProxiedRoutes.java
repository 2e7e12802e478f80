package lib.net;

import java.util.Optional;
import org.apache.http.HttpException;
import org.apache.http.HttpHost;
import org.apache.http.HttpRequest;
import org.apache.http.conn.routing.HttpRoute;
import org.apache.http.conn.routing.HttpRoutePlanner;
import org.apache.http.protocol.HttpContext;

/**
 * The routes of ApacheEgress, remembering the last proxy taken, so that a failure's message can say
 * it came through that proxy (a 407, a refused CONNECT): the SDK's exceptions do not name it. The
 * proxy is named as http://host:port, never with its user info, which a route does not hold.
 */
public final class ProxiedRoutes implements HttpRoutePlanner {

    private final HttpRoutePlanner routes;
    private volatile String lastProxy;

    public ProxiedRoutes(HttpRoutePlanner routes) {
        this.routes = routes;
    }

    @Override
    public HttpRoute determineRoute(HttpHost target, HttpRequest request, HttpContext context) throws HttpException {
        HttpRoute route = routes.determineRoute(target, request, context);
        HttpHost proxy = route.getProxyHost();
        lastProxy = proxy == null ? null : "http://" + proxy.getHostName() + ":" + proxy.getPort();
        return route;
    }

    /** The proxy of the last request, if it went through one. */
    public Optional<String> lastProxy() {
        return Optional.ofNullable(lastProxy);
    }
}

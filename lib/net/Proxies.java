package lib.net;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import lib.common.Environment;
import lib.common.UsageError;

/**
 * Which proxy a request goes through, by Go's rules (golang.org/x/net/http/httpproxy, what the Go
 * tool and every Go program in a pod follows): HTTPS_PROXY for an https URL and HTTP_PROXY for an
 * http one, each read in upper case, else in lower case; a value without a scheme is an http://
 * proxy; NO_PROXY ({@link NoProxy}) names the hosts reached directly. HTTP_PROXY is not used when
 * REQUEST_METHOD is set (a CGI environment, where a client's Proxy header would set it), as in Go.
 * The JVM's own proxy settings (http.proxyHost, the system ProxySelector) are not read: they ignore
 * these variables, and a pod has only these.
 */
public final class Proxies {

    private final String https;
    private final String http;
    private final NoProxy direct;

    private Proxies(String https, String http, NoProxy direct) {
        this.https = https;
        this.http = http;
        this.direct = direct;
    }

    public static Proxies from(Environment environment) {
        boolean cgi = present(environment.get("REQUEST_METHOD"));
        return new Proxies(either(environment, "HTTPS_PROXY"), cgi ? null : either(environment, "HTTP_PROXY"),
                NoProxy.parse(either(environment, "NO_PROXY")));
    }

    private static String either(Environment environment, String name) {
        String upper = environment.get(name);
        return present(upper) ? upper : environment.get(name.toLowerCase(Locale.ROOT));
    }

    private static boolean present(String value) {
        return value != null && !value.isEmpty();
    }

    /** The proxy for a request to this URL, or none (no variable for its scheme, or NO_PROXY names its host). */
    public Optional<Proxy> forUri(URI target) {
        String scheme = target.getScheme() == null ? "" : target.getScheme().toLowerCase(Locale.ROOT);
        String setting = scheme.equals("https") ? https : scheme.equals("http") ? http : null;
        if (!present(setting) || target.getHost() == null) {
            return Optional.empty();
        }
        int port = target.getPort() >= 0 ? target.getPort() : scheme.equals("https") ? 443 : 80;
        if (!direct.proxied(target.getHost(), port)) {
            return Optional.empty();
        }
        return Optional.of(parse(setting, scheme.equals("https") ? "HTTPS_PROXY" : "HTTP_PROXY"));
    }

    /** The proxy named for this scheme's requests (https or http), whatever NO_PROXY says. */
    Optional<Proxy> configured(String scheme) {
        String setting = scheme.equals("https") ? https : scheme.equals("http") ? http : null;
        return present(setting) ? Optional.of(parse(setting, scheme.equals("https") ? "HTTPS_PROXY" : "HTTP_PROXY"))
                : Optional.empty();
    }

    /** A proxy's URL as the variable holds it: http://[user[:password]@]host[:port], or host[:port]. */
    static Proxy parse(String setting, String variable) {
        String text = setting.trim();
        URI uri;
        try {
            uri = new URI(text.contains("://") ? text : "http://" + text);
        } catch (URISyntaxException e) {
            throw new UsageError(variable + " is not a proxy's URL: " + e.getReason());
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http")) {
            throw new UsageError(variable + " names a " + scheme + ":// proxy; only http:// proxies are supported (a CONNECT"
                    + " tunnel carries https)");
        }
        if (uri.getHost() == null) {
            throw new UsageError(variable + " names no proxy host");
        }
        String user = null;
        String password = null;
        if (uri.getRawUserInfo() != null) {
            String info = uri.getRawUserInfo();
            int colon = info.indexOf(':');
            user = decode(colon < 0 ? info : info.substring(0, colon));
            password = colon < 0 ? null : decode(info.substring(colon + 1));
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new Proxy(host, uri.getPort() >= 0 ? uri.getPort() : 80, user, password);
    }

    private static String decode(String text) {
        return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}

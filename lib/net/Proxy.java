package lib.net;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * An HTTP proxy a request goes through: its host and port, and the user and password of its URL,
 * if any, which only {@link #authorization} gives out and toString never shows.
 */
public record Proxy(String host, int port, String user, String password) {

    /** The Proxy-Authorization header's value for the proxy's user, Basic as Go's client sends it. */
    public Optional<String> authorization() {
        if (user == null) {
            return Optional.empty();
        }
        String pair = user + ":" + (password == null ? "" : password);
        return Optional.of("Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
    }

    /** How a message names it: http://host:port, never its user info. */
    @Override
    public String toString() {
        return "http://" + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import lib.common.Environment;
import lib.common.UsageError;
import lib.net.Proxies;
import lib.net.Proxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which proxy a request takes, against Go's documented rules (golang.org/x/net/http/httpproxy,
 * Config and ProxyFromEnvironment), which the Go tool follows in the same pod. Where issue 29's text
 * differs (it says a leading dot matches the domain itself too), Go's rule is the one tested: a
 * drop-in must reach the same hosts directly as the Go tool.
 */
class ProxiesTest {

    private static final String PROXY = "http://proxy.corp:3128";

    private static Proxies proxies(String... pairs) {
        var env = new HashMap<String, String>();
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return Proxies.from(new Environment(env));
    }

    /** Whether a request to url goes through the proxy, given NO_PROXY (HTTPS_PROXY and HTTP_PROXY both set). */
    private static boolean proxied(String noProxy, String url) {
        return proxies("HTTPS_PROXY", PROXY, "HTTP_PROXY", PROXY, "NO_PROXY", noProxy).forUri(URI.create(url)).isPresent();
    }

    @ParameterizedTest(name = "NO_PROXY={0}, {1}: proxied {2}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            ""                               | https://s3.corp.test           | true
            *                                | https://s3.corp.test           | false
            *                                | http://10.1.2.3:9000           | false
            foo.com                          | https://foo.com                | false
            foo.com                          | https://bar.foo.com            | false
            foo.com                          | https://a.bar.foo.com          | false
            foo.com                          | https://barfoo.com             | true
            foo.com                          | https://foo.com.evil.test      | true
            .y.com                           | https://x.y.com                | false
            .y.com                           | https://y.com                  | true
            *.y.com                          | https://x.y.com                | false
            *.y.com                          | https://y.com                  | true
            .svc                             | http://minio.minio.svc:9000    | false
            .svc                             | http://minio.minio.svc.corp    | true
            "  FOO.com , .Svc "              | https://foo.com                | false
            "  FOO.com , .Svc "              | http://minio.minio.svc:9000    | false
            "a.test,,b.test"                 | https://b.test                 | false
            10.0.0.0/16                      | http://10.0.1.2:9000           | false
            10.0.0.0/16                      | http://10.1.0.1:9000           | true
            10.0.0.0/16                      | http://ten.corp.test           | true
            192.168.1.1                      | https://192.168.1.1            | false
            192.168.1.1                      | https://192.168.1.2            | true
            192.168.1.1:8080                 | http://192.168.1.1:8080        | false
            192.168.1.1:8080                 | http://192.168.1.1             | true
            foo.com:8443                     | https://foo.com:8443           | false
            foo.com:8443                     | https://foo.com                | true
            foo.com:443                      | https://foo.com                | false
            foo.com:80                       | http://bar.foo.com             | false
            2001:db8::1                      | https://[2001:db8::1]          | false
            [2001:db8::1]:8443               | https://[2001:db8::1]:8443     | false
            [2001:db8::1]:8443               | https://[2001:db8::1]          | true
            2001:db8::/32                    | https://[2001:db8:0:1::5]      | false
            2001:db8::/32                    | https://[2001:db9::5]          | true
            ""                               | https://localhost:9000         | false
            ""                               | https://127.0.0.1:9000         | false
            ""                               | https://127.1.2.3              | false
            ""                               | https://[::1]:9000             | false
            .corp.test                       | https://localhost              | false
            """)
    void noProxyFollowsGo(String noProxy, String url, boolean proxied) {
        assertEquals(proxied, proxied(noProxy, url));
    }

    @Test
    void httpsTakesHttpsProxyAndHttpTakesHttpProxy() {
        var both = proxies("HTTPS_PROXY", "http://secure.proxy:3128", "HTTP_PROXY", "http://plain.proxy:8080");
        assertEquals("http://secure.proxy:3128", both.forUri(URI.create("https://s3.corp.test")).orElseThrow().toString());
        assertEquals("http://plain.proxy:8080", both.forUri(URI.create("http://s3.corp.test")).orElseThrow().toString());
        assertFalse(proxies("HTTP_PROXY", PROXY).forUri(URI.create("https://s3.corp.test")).isPresent(),
                "HTTP_PROXY alone is not used for https");
        assertFalse(proxies("HTTPS_PROXY", PROXY).forUri(URI.create("http://s3.corp.test")).isPresent(),
                "HTTPS_PROXY alone is not used for http");
    }

    @Test
    void upperCaseIsReadBeforeLowerCase() {
        var upper = proxies("HTTPS_PROXY", "http://upper:1", "https_proxy", "http://lower:2", "NO_PROXY", "a.test",
                "no_proxy", "b.test");
        assertEquals("http://upper:1", upper.forUri(URI.create("https://c.test")).orElseThrow().toString());
        assertFalse(upper.forUri(URI.create("https://a.test")).isPresent());
        assertTrue(upper.forUri(URI.create("https://b.test")).isPresent(), "no_proxy is not read when NO_PROXY is set");
        var lower = proxies("https_proxy", "http://lower:2", "http_proxy", "http://lower:3", "no_proxy", "b.test");
        assertEquals("http://lower:2", lower.forUri(URI.create("https://c.test")).orElseThrow().toString());
        assertEquals("http://lower:3", lower.forUri(URI.create("http://c.test")).orElseThrow().toString());
        assertFalse(lower.forUri(URI.create("https://b.test")).isPresent());
        var emptyUpper = proxies("HTTPS_PROXY", "", "https_proxy", "http://lower:2");
        assertEquals("http://lower:2", emptyUpper.forUri(URI.create("https://c.test")).orElseThrow().toString(),
                "an empty variable counts as unset, as in Go");
    }

    @Test
    void aValueWithoutSchemeIsAnHttpProxy() {
        Proxy proxy = proxies("HTTPS_PROXY", "proxy.corp:3128").forUri(URI.create("https://s3.corp.test")).orElseThrow();
        assertEquals("proxy.corp", proxy.host());
        assertEquals(3128, proxy.port());
        assertEquals(80, proxies("HTTPS_PROXY", "proxy.corp").forUri(URI.create("https://s3.corp.test")).orElseThrow().port());
    }

    @Test
    void requestMethodSetDisablesHttpProxyOnly() {
        var cgi = proxies("REQUEST_METHOD", "GET", "HTTP_PROXY", PROXY, "HTTPS_PROXY", PROXY);
        assertFalse(cgi.forUri(URI.create("http://s3.corp.test")).isPresent());
        assertTrue(cgi.forUri(URI.create("https://s3.corp.test")).isPresent());
    }

    @Test
    void userInfoBecomesBasicAndIsNeverShown() {
        Proxy proxy = proxies("HTTPS_PROXY", "http://alice:s%40cret@proxy.corp:3128").forUri(URI.create("https://x.test"))
                .orElseThrow();
        assertEquals("http://proxy.corp:3128", proxy.toString());
        assertEquals("Basic YWxpY2U6c0BjcmV0", proxy.authorization().orElseThrow()); // alice:s@cret
        assertFalse(proxy.toString().contains("cret"));
    }

    @Test
    void anUnsupportedProxySchemeIsAUsageError() {
        var socks = proxies("HTTPS_PROXY", "socks5://proxy.corp:1080");
        var error = assertThrows(UsageError.class, () -> socks.forUri(URI.create("https://x.test")));
        assertTrue(error.getMessage().contains("HTTPS_PROXY"), error.getMessage());
    }

    @Test
    void noVariableNoProxy() {
        assertFalse(proxies().forUri(URI.create("https://s3.corp.test")).isPresent());
        assertFalse(Proxies.from(new Environment(Map.of())).forUri(URI.create("http://s3.corp.test")).isPresent());
    }
}

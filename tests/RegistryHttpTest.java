import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import lib.common.Environment;
import lib.common.Log;
import lib.store.StoreUri;
import lib.store.oci.RegistryClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The registry client's HTTP/1.1 against a registry that answers byte for byte what each case
 * says: the framings a registry or a proxy in front of it may use, a connection it closes while
 * idle, and answers crafted to exhaust the client. The protocol above it is tested against the
 * real registry (OciStoreTest, OciFaultTest, StallTest); this is what one does not send.
 */
class RegistryHttpTest {

    private static final String PING = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

    private ScriptedRegistry registry;
    private final ByteArrayOutputStream said = new ByteArrayOutputStream();

    @AfterEach
    void stop() throws IOException {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void aChunkedManifestIsReadWholeWithItsExtensionsAndTrailers() throws Exception {
        String json = "{\"schemaVersion\":2,\"layers\":[]}";
        registry = new ScriptedRegistry(request -> request.startsWith("GET /v2/ ") ? PING
                : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5;name=value\r\n" + json.substring(0, 5) + "\r\n"
                        + Integer.toHexString(json.length() - 5) + "\r\n" + json.substring(5) + "\r\n"
                        + "0\r\nX-Trailer: ignored\r\n\r\n");
        var manifest = client().getManifest("t").orElseThrow();
        assertEquals(2, manifest.get("schemaVersion"));
        assertEquals(List.of(), manifest.get("layers"));
    }

    @Test
    void aConnectionTheRegistryClosedWhileIdleIsReplacedWithoutARetry() throws Exception {
        registry = new ScriptedRegistry(request -> request.startsWith("GET /v2/ ") ? PING
                : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        registry.closeAfterEachAnswer = true; // without saying Connection: close, as an idle timeout does
        RegistryClient client = client();
        assertTrue(client.headBlob("sha256:" + "0".repeat(64)));
        assertTrue(client.headBlob("sha256:" + "1".repeat(64)));
        assertEquals(3, registry.connections.get(), "a new connection for each request, the old one being closed");
        assertFalse(said.toString(StandardCharsets.UTF_8).contains("retry"), said.toString(StandardCharsets.UTF_8));
    }

    @Test
    void keptAliveConnectionsServeTheNextRequests() throws Exception {
        registry = new ScriptedRegistry(request -> request.startsWith("GET /v2/ ") ? PING
                : "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n"); // a HEAD: the length, no body
        RegistryClient client = client();
        for (int i = 0; i < 5; i++) {
            assertFalse(client.headBlob("sha256:" + "2".repeat(64)));
        }
        assertEquals(1, registry.connections.get(), "one connection for the ping and five HEADs");
        assertEquals(6, registry.requests.size());
    }

    @Test
    void anEndlessHeadIsRefusedInOneLine() throws Exception {
        registry = new ScriptedRegistry(request -> request.startsWith("GET /v2/ ") ? PING
                : "HTTP/1.1 200 OK\r\n" + "X-Padding: abcdefgh\r\n".repeat(10_000) + "Content-Length: 2\r\n\r\n{}");
        RegistryClient client = client();
        var e = assertThrows(IOException.class, () -> client.getManifest("t"));
        assertTrue(e.getMessage().contains("head has more than 128 header lines; refused"), e.getMessage());
    }

    @Test
    void aBodyShorterThanItsLengthIsAnErrorNotAShortManifest() throws Exception {
        registry = new ScriptedRegistry(request -> request.startsWith("GET /v2/ ") ? PING
                : "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"schemaVersion\":2}");
        registry.closeAfterEachAnswer = true;
        RegistryClient client = client();
        var e = assertThrows(IOException.class, () -> client.getManifest("t"));
        assertTrue(e.getMessage().contains("bytes before the end of the answer's body"), e.getMessage());
    }

    private RegistryClient client() throws Exception {
        var log = new Log(new PrintStream(said, true, StandardCharsets.UTF_8), false);
        var location = StoreUri.parse("--source", "oci://127.0.0.1:" + registry.port() + "/r/c:{{hash}}").resolve("k");
        return RegistryClient.open(location, false, true, Duration.ofSeconds(5), new Environment(Map.of()), log);
    }

    /** A plain HTTP server that answers each request with what the script returns for its request line. */
    private static final class ScriptedRegistry implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final Function<String, String> script;
        final AtomicInteger connections = new AtomicInteger();
        final List<String> requests = new CopyOnWriteArrayList<>();
        volatile boolean closeAfterEachAnswer;

        ScriptedRegistry(Function<String, String> script) throws IOException {
            this.script = script;
            var acceptor = new Thread(this::accept, "scripted-registry");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    connections.incrementAndGet();
                    var serving = new Thread(() -> serve(socket), "scripted-connection");
                    serving.setDaemon(true);
                    serving.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket socket) {
            try (socket) {
                InputStream in = new java.io.BufferedInputStream(socket.getInputStream());
                in.mark(1);
                if (in.read() == 0x16) { // a TLS handshake: refused as an HTTP server refuses it, and the client tries plain HTTP
                    socket.getOutputStream().write("HTTP/1.0 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    connections.decrementAndGet();
                    return;
                }
                in.reset();
                while (true) {
                    String head = readHead(in);
                    if (head == null) {
                        return;
                    }
                    requests.add(head.lines().findFirst().orElse(""));
                    socket.getOutputStream().write(script.apply(head).getBytes(StandardCharsets.ISO_8859_1));
                    socket.getOutputStream().flush();
                    if (closeAfterEachAnswer) {
                        return;
                    }
                }
            } catch (IOException e) {
                // the client went away
            }
        }

        /** A request's head (the client's requests here carry no body), or null at the end of the connection. */
        private static String readHead(InputStream in) throws IOException {
            var head = new StringBuilder();
            for (int b; (b = in.read()) >= 0; ) {
                head.append((char) b);
                if (head.toString().endsWith("\r\n\r\n")) {
                    return head.toString();
                }
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}

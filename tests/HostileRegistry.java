import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A registry of the test's own making that speaks raw HTTP/1.1 on a loopback socket: each request
 * is handed to a script, which writes whatever bytes it likes at whatever pace (an answer dripped
 * a byte at a time, heads without end, a Location naming another host). What no honest registry
 * sends, and the real one (RegistryServer) cannot be made to.
 *
 * <p>A TLS ClientHello is answered 400 as Go's HTTP server answers it, so the client falls back
 * to plain HTTP at once. Requests are read with their Content-Length body (the registry client
 * sends no other framing) and kept, in order, with their headers.
 */
final class HostileRegistry implements AutoCloseable {

    /** A request as it arrived: method, target (path and query), headers by lower-case name. */
    record Request(String method, String target, Map<String, String> headers) {
        Optional<String> header(String name) {
            return Optional.ofNullable(headers.get(name.toLowerCase(Locale.ROOT)));
        }

        /** "METHOD /path", the query left out. */
        String line() {
            int query = target.indexOf('?');
            return method + " " + (query < 0 ? target : target.substring(0, query));
        }
    }

    /** Writes the answer to a request; may sleep, and may write without end (a closed connection ends it). */
    interface Script {
        void answer(Request request, OutputStream out) throws IOException, InterruptedException;
    }

    private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final Script script;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();

    private HostileRegistry(Script script) throws IOException {
        this.script = script;
        daemon(this::accept, "hostile-registry");
    }

    /** A registry on a free 127.0.0.1 port answering as script says. */
    static HostileRegistry start(Script script) throws IOException {
        return new HostileRegistry(script);
    }

    /** "127.0.0.1:PORT", as an image reference names the registry. */
    String host() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** "http://127.0.0.1:PORT". */
    String url() {
        return "http://" + host();
    }

    /** Every request received, in order. */
    List<Request> requests() {
        return List.copyOf(requests);
    }

    /** An answer with a JSON body (or none, for ""), its Content-Length, and the extra header lines given. */
    static String answer(int status, String json, String... headers) {
        var text = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(status < 300 ? "OK" : "Refused").append("\r\n");
        for (String header : headers) {
            text.append(header).append("\r\n");
        }
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        if (!json.isEmpty()) {
            text.append("Content-Type: application/json\r\n");
        }
        return text.append("Content-Length: ").append(body.length).append("\r\n\r\n").append(json).toString();
    }

    /** Writes text (ISO-8859-1) and flushes it. */
    static void send(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** Writes text a byte at a time, each after a pause of millis: never a stall, never an end in sight. */
    static void drip(OutputStream out, String text, long millis) throws IOException, InterruptedException {
        for (byte b : text.getBytes(StandardCharsets.ISO_8859_1)) {
            Thread.sleep(millis);
            out.write(b);
            out.flush();
        }
    }

    private static void daemon(Runnable task, String name) {
        var thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                open.add(socket);
                daemon(() -> serve(socket), "hostile-registry-connection");
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            in.mark(1);
            if (in.read() == 0x16) {
                send(out, "HTTP/1.0 400 Bad Request\r\n\r\n");
                return;
            }
            in.reset();
            for (Request request; (request = read(in)) != null; ) {
                requests.add(request);
                script.answer(request, out);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the client went away, or the registry was closed
        } finally {
            open.remove(socket);
        }
    }

    /** A request's head, its body read and dropped; null at the end of the connection. */
    private static Request read(InputStream in) throws IOException {
        var head = new StringBuilder();
        while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.append((char) b);
        }
        String[] lines = head.toString().split("\r\n");
        String[] start = lines[0].split(" ", 3);
        var headers = new LinkedHashMap<String, String>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
        }
        long length = Long.parseLong(headers.getOrDefault("content-length", "0"));
        in.skipNBytes(length);
        return new Request(start[0], start.length > 1 ? start[1] : "", headers);
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : new ArrayList<>(open)) {
            socket.close();
        }
    }
}

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A company's egress proxy, test-only, on a free 127.0.0.1 port in this JVM: it carries absolute-form
 * requests (GET http://host:port/path) for http and CONNECT tunnels for https, and logs each
 * ("GET http://s3.corp.test:9000/bucket/key", "CONNECT s3.corp.test:9443"), so that a test proves by
 * {@link #log} that a store's traffic went through it, or that it did not.
 *
 * <p>It resolves target names itself, only through the map the test gives (name to address, such as
 * s3.corp.test to 127.0.0.1): what it cannot resolve it refuses with 502, so no traffic ever leaves
 * this machine. With {@link #requireBasic} it answers 407 (Proxy-Authenticate: Basic) to a request
 * without the right Proxy-Authorization, and logs the refusal ("407 CONNECT host:port"). With
 * {@link #stalling} it reads each request and never answers, the connection left open: a store that
 * stalls on every attempt.
 *
 * <p>Each forwarded http request gets its own upstream connection and the answer is sent with
 * Connection: close, which keeps the framing simple: only the request body's is parsed.
 */
final class EgressProxy implements AutoCloseable {

    private final Map<String, String> names;
    private final List<String> log = Collections.synchronizedList(new ArrayList<>());
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final ServerSocket listener;
    private volatile String expectedAuthorization;
    private volatile boolean stalling;

    private EgressProxy(Map<String, String> names) throws IOException {
        this.names = new LinkedHashMap<>();
        names.forEach((name, address) -> this.names.put(name.toLowerCase(Locale.ROOT), address));
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon("egress-proxy-accept", this::acceptLoop);
    }

    /** A proxy listening now, resolving the targets' names only through names (name to address). */
    static EgressProxy start(Map<String, String> names) throws IOException {
        return new EgressProxy(names);
    }

    /** From now on, demands Proxy-Authorization: Basic for this user and password (407 otherwise). */
    EgressProxy requireBasic(String user, String password) {
        String pair = user + ":" + password;
        expectedAuthorization = "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** From now on, reads every request and never answers it: the connection stays open, silent. */
    EgressProxy stalling() {
        stalling = true;
        return this;
    }

    int port() {
        return listener.getLocalPort();
    }

    /** The proxy's URL as HTTPS_PROXY/HTTP_PROXY hold it: http://127.0.0.1:PORT. */
    String url() {
        return "http://127.0.0.1:" + port();
    }

    /** The proxy's URL with user info: http://user:password@127.0.0.1:PORT (both taken as they are: URL-safe words). */
    String url(String user, String password) {
        return "http://" + user + ":" + password + "@127.0.0.1:" + port();
    }

    /** What the proxy carried or refused so far, in order: "CONNECT host:port", "PUT http://host:port/path", "407 ...". */
    List<String> log() {
        synchronized (log) {
            return List.copyOf(log);
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException e) {
            // closing anyway
        }
        for (Socket socket : open) {
            closeQuietly(socket);
        }
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            open.add(client);
            daemon("egress-proxy-client", () -> {
                try {
                    serve(client);
                } catch (IOException e) {
                    // the client or the target went away: nothing to answer
                } finally {
                    closeQuietly(client);
                    open.remove(client);
                }
            });
        }
    }

    /** The requests of one client connection: a refused one may be followed by its retry with credentials. */
    private void serve(Socket client) throws IOException {
        InputStream in = new BufferedInputStream(client.getInputStream());
        OutputStream out = client.getOutputStream();
        while (true) {
            Head head = Head.read(in);
            if (head == null) {
                return;
            }
            String[] line = head.line.split(" ");
            if (line.length != 3) {
                answer(out, 400, "Bad Request", true);
                return;
            }
            String method = line[0];
            String target = line[1];
            if (stalling) {
                log.add("STALL " + method + " " + target);
                holdOpen(client);
                return;
            }
            String given = head.header("proxy-authorization");
            if (expectedAuthorization != null && !expectedAuthorization.equals(given)) {
                log.add("407 " + method + " " + target);
                if (method.equals("CONNECT") || (head.header("content-length") == null && head.header("transfer-encoding") == null)) {
                    answer(out, 407, "Proxy Authentication Required", false); // the client may retry on this connection
                    continue;
                }
                answer(out, 407, "Proxy Authentication Required", true);
                return;
            }
            log.add(method + " " + target);
            if (method.equals("CONNECT")) {
                tunnel(client, in, out, target);
            } else {
                forward(in, out, head, method, target);
            }
            return;
        }
    }

    /** CONNECT host:port: a tunnel to the target's address, bytes copied both ways until either side closes. */
    private void tunnel(Socket client, InputStream in, OutputStream out, String target) throws IOException {
        int colon = target.lastIndexOf(':');
        String host = target.substring(0, colon);
        int port = Integer.parseInt(target.substring(colon + 1));
        String address = resolve(host);
        if (address == null) {
            answer(out, 502, "Bad Gateway", true);
            return;
        }
        try (var upstream = new Socket()) {
            open.add(upstream);
            upstream.connect(new InetSocketAddress(address, port), 5000);
            out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            var upload = daemon("egress-proxy-tunnel", () -> {
                try {
                    in.transferTo(upstream.getOutputStream());
                } catch (IOException e) {
                    // one side closed
                } finally {
                    closeQuietly(upstream);
                }
            });
            try {
                upstream.getInputStream().transferTo(out);
            } catch (IOException e) {
                // one side closed
            } finally {
                closeQuietly(client);
                open.remove(upstream);
            }
            try {
                upload.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** An absolute-form request: sent to the target in origin form, its answer copied back, the connection then closed. */
    private void forward(InputStream in, OutputStream out, Head head, String method, String target) throws IOException {
        URI uri = URI.create(target);
        String address = uri.getHost() == null ? null : resolve(uri.getHost());
        if (!"http".equalsIgnoreCase(uri.getScheme()) || address == null) {
            answer(out, 502, "Bad Gateway", true);
            return;
        }
        int port = uri.getPort() >= 0 ? uri.getPort() : 80;
        boolean expectContinue = "100-continue".equalsIgnoreCase(head.header("expect"));
        try (var upstream = new Socket()) {
            open.add(upstream);
            upstream.connect(new InetSocketAddress(address, port), 5000);
            var request = new StringBuilder();
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            request.append(method).append(' ').append(path).append(uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery())
                    .append(" HTTP/1.1\r\n");
            for (String[] field : head.fields) {
                String name = field[0].toLowerCase(Locale.ROOT);
                if (!name.startsWith("proxy-") && !name.equals("connection") && !name.equals("expect")) {
                    request.append(field[0]).append(": ").append(field[1]).append("\r\n");
                }
            }
            request.append("Connection: close\r\n\r\n");
            OutputStream up = upstream.getOutputStream();
            up.write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (expectContinue) {
                // Answered here, and Expect not passed on: the target's answer then has a single head to rewrite.
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
            copyBody(in, up, head);
            up.flush();
            InputStream down = new BufferedInputStream(upstream.getInputStream());
            Head response = Head.read(down);
            if (response == null) {
                answer(out, 502, "Bad Gateway", true);
                return;
            }
            var answer = new StringBuilder(response.line).append("\r\n");
            for (String[] field : response.fields) {
                if (!field[0].equalsIgnoreCase("connection")) {
                    answer.append(field[0]).append(": ").append(field[1]).append("\r\n");
                }
            }
            answer.append("Connection: close\r\n\r\n");
            out.write(answer.toString().getBytes(StandardCharsets.ISO_8859_1));
            down.transferTo(out); // the target closes after its answer (Connection: close)
            out.flush();
        } finally {
            open.removeIf(Socket::isClosed);
        }
    }

    /** The request's body, by its framing: Content-Length, chunked (copied as it is), or none. */
    private static void copyBody(InputStream in, OutputStream up, Head head) throws IOException {
        String chunked = head.header("transfer-encoding");
        if (chunked != null && chunked.toLowerCase(Locale.ROOT).contains("chunked")) {
            while (true) {
                String size = copyLine(in, up);
                int semicolon = size.indexOf(';');
                long length = Long.parseLong((semicolon < 0 ? size : size.substring(0, semicolon)).trim(), 16);
                if (length == 0) {
                    while (!copyLine(in, up).isEmpty()) {
                        // trailers, up to the empty line
                    }
                    return;
                }
                copyExactly(in, up, length);
                copyLine(in, up);
            }
        }
        String length = head.header("content-length");
        if (length != null) {
            copyExactly(in, up, Long.parseLong(length.trim()));
        }
    }

    private static void copyExactly(InputStream in, OutputStream out, long length) throws IOException {
        byte[] buffer = new byte[64 << 10];
        while (length > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, length));
            if (n < 0) {
                throw new EOFException("the body ended early");
            }
            out.write(buffer, 0, n);
            length -= n;
        }
    }

    /** One CRLF-ended line copied through, returned without its end. */
    private static String copyLine(InputStream in, OutputStream out) throws IOException {
        var line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            out.write(b);
            if (b == '\n') {
                String text = line.toString(StandardCharsets.ISO_8859_1);
                return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
            }
            line.write(b);
        }
        throw new EOFException("the body ended early");
    }

    /** The address of a target: by the test's map, or the host itself when it is an IPv4 literal; null otherwise. */
    private String resolve(String host) {
        String address = names.get(host.toLowerCase(Locale.ROOT));
        if (address == null && host.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            address = host;
        }
        if (address == null) {
            log.add("502 unknown host " + host);
        }
        return address;
    }

    /** A stall: nothing is ever answered; the socket stays open until the client or close() ends it. */
    private static void holdOpen(Socket client) throws IOException {
        InputStream in = client.getInputStream();
        byte[] sink = new byte[8192];
        while (in.read(sink) >= 0) {
            // read and dropped, so that the client's sending never blocks, and no answer comes
        }
    }

    private static void answer(OutputStream out, int status, String reason, boolean close) throws IOException {
        String head = "HTTP/1.1 " + status + " " + reason + "\r\n"
                + (status == 407 ? "Proxy-Authenticate: Basic realm=\"egress\"\r\n" : "")
                + "Content-Length: 0\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static Thread daemon(String name, Runnable task) {
        var thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    /** A request's or a response's head: its first line and its fields in order. */
    private static final class Head {
        final String line;
        final List<String[]> fields;

        private Head(String line, List<String[]> fields) {
            this.line = line;
            this.fields = fields;
        }

        String header(String name) {
            for (String[] field : fields) {
                if (field[0].equalsIgnoreCase(name)) {
                    return field[1];
                }
            }
            return null;
        }

        /** The head up to its empty line, or null at the end of the stream before any byte of it. */
        static Head read(InputStream in) throws IOException {
            String line = readLine(in);
            if (line == null) {
                return null;
            }
            var fields = new ArrayList<String[]>();
            String field;
            while ((field = readLine(in)) != null && !field.isEmpty()) {
                int colon = field.indexOf(':');
                if (colon > 0) {
                    fields.add(new String[] {field.substring(0, colon).trim(), field.substring(colon + 1).trim()});
                }
            }
            return new Head(line, fields);
        }

        private static String readLine(InputStream in) throws IOException {
            var line = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                line.write(b);
            }
            if (b < 0 && line.size() == 0) {
                return null;
            }
            String text = line.toString(StandardCharsets.ISO_8859_1);
            return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
        }
    }
}

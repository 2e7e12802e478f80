import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import lib.common.DaemonThreads;

/**
 * A plain HTTP/1.1 reverse proxy that breaks chosen requests, for testing retries against a real
 * registry: it answers with an error status, resets the connection, cuts a response body short,
 * or goes silent with the connection open (a stall, which no error ever ends).
 *
 * <p>It works on the socket: request and response heads are forwarded byte for byte (Host,
 * Authorization, Content-Range, Location, Docker-Content-Digest... all unchanged, 3xx not
 * followed), and bodies are streamed in both directions with their own framing (Content-Length,
 * chunked, or up to EOF), so blobs of any size pass through in constant memory. Each request gets
 * its own upstream connection, closed after the response; the client's connection is kept alive.
 *
 * <p>Since Host passes through, distribution already writes the proxy's address into Location;
 * starting the registry with externalUrl = url() makes sure of it.
 */
final class FlakyProxy implements AutoCloseable {

    private enum Fault { FAIL, RESET, TRUNCATE, STALL, HANG }

    private static final class Rule {
        final Pattern request;
        final Fault fault;
        final int status;
        final long bytes;
        int remaining;

        Rule(String regex, Fault fault, int times, int status, long bytes) {
            this.request = Pattern.compile(regex);
            this.fault = fault;
            this.remaining = times;
            this.status = status;
            this.bytes = bytes;
        }
    }

    private ServerSocket listener;
    private ExecutorService threads;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    private final List<Rule> rules = new ArrayList<>();
    private volatile Pattern slow;
    private volatile long slowMillis;
    private final AtomicInteger slowAtOnce = new AtomicInteger();
    private final AtomicInteger slowMost = new AtomicInteger();
    private volatile URI target;

    private FlakyProxy() {}

    /** A proxy on a free 127.0.0.1 port; set its target before sending requests (502 until then, and while the target is down). */
    static FlakyProxy start() throws IOException {
        var proxy = new FlakyProxy();
        proxy.listen();
        return proxy;
    }

    /** A proxy to put in front of a server a test class shares (Fixtures.ClassServer.behind), which starts it. */
    static FlakyProxy unstarted() {
        return new FlakyProxy();
    }

    /** Starts listening on a free 127.0.0.1 port. */
    void listen() throws IOException {
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads = Executors.newCachedThreadPool(DaemonThreads.named("flaky-proxy"));
        threads.submit(this::acceptLoop);
    }

    /** "http://127.0.0.1:PORT". */
    String url() {
        return "http://" + host();
    }

    /** "127.0.0.1:PORT". */
    String host() {
        return "127.0.0.1:" + listener.getLocalPort();
    }

    /** Where requests go, e.g. a RegistryServer's url() (plain HTTP). */
    void target(String targetUrl) {
        URI uri = URI.create(targetUrl);
        if (!"http".equals(uri.getScheme())) {
            throw new IllegalArgumentException("FlakyProxy forwards to plain HTTP only: " + targetUrl);
        }
        target = uri;
    }

    /**
     * The next `times` requests whose "METHOD /path" (query left out) matches the regex (find, not
     * whole match) get this status with an empty body instead of being forwarded; the request body
     * is read first, and the connection closed after the answer.
     */
    void failNext(String requestRegex, int times, int status) {
        addRule(new Rule(requestRegex, Fault.FAIL, times, status, 0));
    }

    /** The next `times` matching requests: the connection is reset (RST) without any response, the request body unread. */
    void resetNext(String requestRegex, int times) {
        addRule(new Rule(requestRegex, Fault.RESET, times, 0, 0));
    }

    /**
     * The next `times` matching requests are forwarded, but the response body is cut after `bytes`
     * bytes and the connection closed (a truncated download). Content-Length stays the original one.
     */
    void truncateNext(String requestRegex, int times, long bytes) {
        addRule(new Rule(requestRegex, Fault.TRUNCATE, times, 0, bytes));
    }

    /**
     * The next `times` matching requests are forwarded, but after `bytes` bytes of the response
     * body the proxy sends nothing more and keeps the connection open, until the client gives up.
     */
    void stallNext(String requestRegex, int times, long bytes) {
        addRule(new Rule(requestRegex, Fault.STALL, times, 0, bytes));
    }

    /**
     * The next `times` matching requests are neither forwarded nor answered: the proxy reads their
     * head and nothing more, the connection left open, so a request body stops moving once the
     * socket buffers are full. The registry never sees them.
     */
    void hangNext(String requestRegex, int times) {
        addRule(new Rule(requestRegex, Fault.HANG, times, 0, 0));
    }

    /** Forgets the faults not yet used up, so that one test's leftovers do not reach the next. */
    synchronized void clearFaults() {
        rules.clear();
        slow = null;
    }

    /**
     * From now on, every request whose "METHOD /path" matches the regex waits this long before it
     * is forwarded, as on a registry far away; mostAtOnce() then tells how many were under way at
     * the same time.
     */
    void slow(String requestRegex, long millis) {
        slowMillis = millis;
        slow = Pattern.compile(requestRegex);
        slowAtOnce.set(0);
        slowMost.set(0);
    }

    /** The most requests matching slow()'s regex that were under way at the same time. */
    int mostAtOnce() {
        return slowMost.get();
    }

    /** Every "METHOD /path?query" it received, in order, faulted ones included. */
    List<String> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    @Override
    public void close() {
        if (listener == null) {
            return;
        }
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket socket : open) {
            closeQuietly(socket);
        }
        threads.shutdownNow();
    }

    private synchronized void addRule(Rule rule) {
        rules.add(rule);
    }

    private synchronized Rule take(String request) {
        for (Rule rule : rules) {
            if (rule.remaining > 0 && rule.request.matcher(request).find()) {
                rule.remaining--;
                return rule;
            }
        }
        return null;
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                open.add(client);
                threads.submit(() -> serve(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket client) {
        try (client) {
            client.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(client.getInputStream(), 1 << 16);
            OutputStream out = new BufferedOutputStream(client.getOutputStream(), 1 << 16);
            boolean keepAlive = true;
            while (keepAlive) {
                int first;
                do { // an empty line before a request line is to be ignored (RFC 9112 section 2.2)
                    in.mark(1);
                    first = in.read();
                } while (first == '\r' || first == '\n');
                if (first < 0) {
                    return;
                }
                in.reset();
                if (first < 'A' || first > 'Z') {
                    // Not a request line: most often a TLS ClientHello (0x16), as containers/image
                    // tries https first even with --tls-verify=false. Answer as Go's server does,
                    // so that the client falls back to http at once instead of timing out.
                    out.write("HTTP/1.0 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                    client.shutdownOutput();
                    client.setSoTimeout(1000); // read what the client still sends, so close() sends FIN, not RST
                    in.transferTo(OutputStream.nullOutputStream());
                    return;
                }
                Head request = Head.read(in);
                if (request == null) {
                    return;
                }
                String[] line = request.start.split(" ", 3);
                if (line.length < 3) {
                    return;
                }
                String method = line[0];
                String requestTarget = line[1];
                requests.add(method + " " + requestTarget);
                int query = requestTarget.indexOf('?');
                Rule rule = take(method + " " + (query < 0 ? requestTarget : requestTarget.substring(0, query)));
                Framing body = Framing.ofRequest(request);
                if (rule != null && rule.fault == Fault.RESET) {
                    client.setSoLinger(true, 0); // close() now sends RST
                    return;
                }
                if (rule != null && rule.fault == Fault.HANG) {
                    silence();
                    return;
                }
                if (rule != null && rule.fault == Fault.FAIL) {
                    if (!request.has("Expect", "100-continue")) {
                        body.copy(in, OutputStream.nullOutputStream());
                    }
                    out.write(("HTTP/1.1 " + rule.status + " " + reason(rule.status)
                            + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                    client.shutdownOutput();
                    return;
                }
                Pattern slowed = slow;
                boolean slowly = slowed != null && slowed.matcher(method + " " + (query < 0 ? requestTarget
                        : requestTarget.substring(0, query))).find();
                if (slowly) {
                    slowMost.accumulateAndGet(slowAtOnce.incrementAndGet(), Math::max);
                    try {
                        Thread.sleep(slowMillis);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                try {
                    keepAlive = forward(client, in, out, request, method, body, rule == null ? -1 : rule.bytes,
                            rule != null && rule.fault == Fault.STALL);
                } finally {
                    if (slowly) {
                        slowAtOnce.decrementAndGet();
                    }
                }
            }
        } catch (IOException e) {
            // the client or the registry went away: nothing to do but close
        } finally {
            open.remove(client);
        }
    }

    /** Sends one request upstream and its response back; false when the client connection must close. */
    private boolean forward(Socket client, InputStream in, OutputStream out, Head request, String method,
            Framing body, long truncateAfter, boolean stall) throws IOException {
        URI to = target;
        Socket connected = null;
        if (to != null) {
            try {
                connected = new Socket(to.getHost(), to.getPort() < 0 ? 80 : to.getPort());
            } catch (IOException e) {
                // the registry is down: answered below as a proxy would
            }
        }
        if (connected == null) {
            if (!request.has("Expect", "100-continue")) {
                body.copy(in, OutputStream.nullOutputStream());
            }
            out.write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return false;
        }
        try (Socket upstream = connected) {
            open.add(upstream);
            upstream.setTcpNoDelay(true);
            OutputStream upOut = new BufferedOutputStream(upstream.getOutputStream(), 1 << 16);
            InputStream upIn = new BufferedInputStream(upstream.getInputStream(), 1 << 16);
            upOut.write(request.raw);
            upOut.flush();
            // The body goes up while the answer is awaited: with "Expect: 100-continue" the
            // registry's 100 must reach the client before the client sends the body.
            Future<?> pump = threads.submit(() -> {
                body.copy(in, upOut);
                upOut.flush();
                return null;
            });
            Head response;
            int status;
            do {
                response = Head.read(upIn);
                if (response == null) {
                    return false; // the registry closed without answering: so does the proxy
                }
                status = Head.status(response);
                if (status >= 100 && status < 200) {
                    out.write(response.raw);
                    out.flush();
                }
            } while (status >= 100 && status < 200);
            Framing responseBody = Framing.ofResponse(response, method, status);
            out.write(response.raw);
            if (truncateAfter >= 0) {
                try {
                    responseBody.copy(upIn, new Cut(out, truncateAfter));
                } catch (Cut.Reached reached) {
                    // stop here
                }
                out.flush();
                if (stall) {
                    in.transferTo(OutputStream.nullOutputStream()); // until the client closes: no request body follows a GET
                    return false;
                }
                client.shutdownOutput();
                return false;
            }
            try {
                responseBody.copy(upIn, out);
            } finally {
                // Even when the registry breaks off (distribution answers 416 with the blob's
                // Content-Length and no body), the client gets what came, then EOF, as it would
                // without the proxy.
                out.flush();
            }
            try {
                pump.get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                // The body did not arrive whole (or the client kept it after an early answer):
                // the connection's framing is lost.
                pump.cancel(true);
                return false;
            }
            return responseBody != Framing.UNTIL_EOF && !response.has("Connection", "close")
                    && !request.has("Connection", "close") && !response.start.startsWith("HTTP/1.0");
        } finally {
            open.removeIf(Socket::isClosed);
        }
    }

    /** Waits, saying nothing, until the proxy is closed (and closes the connection). */
    private static void silence() {
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String reason(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 408 -> "Request Timeout";
            case 429 -> "Too Many Requests";
            case 500 -> "Internal Server Error";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            default -> "Injected Fault";
        };
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** A request or response head: start line and headers, and the exact bytes that carried them. */
    private static final class Head {
        final byte[] raw;
        final String start;
        final List<String[]> headers = new ArrayList<>();

        private Head(byte[] raw) {
            this.raw = raw;
            String[] lines = new String(raw, StandardCharsets.ISO_8859_1).split("\r?\n");
            this.start = lines[0];
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0) {
                    headers.add(new String[] {lines[i].substring(0, colon).trim(), lines[i].substring(colon + 1).trim()});
                }
            }
        }

        /** Up to and including the empty line; null on EOF before the first byte. */
        static Head read(InputStream in) throws IOException {
            var bytes = new ByteArrayOutputStream(1024);
            int newlines = 0;
            while (true) {
                int b = in.read();
                if (b < 0) {
                    if (bytes.size() == 0) {
                        return null;
                    }
                    throw new EOFException("connection closed inside an HTTP head");
                }
                bytes.write(b);
                if (b == '\n') {
                    newlines++;
                    if (newlines == 2) {
                        return new Head(bytes.toByteArray());
                    }
                } else if (b != '\r') {
                    newlines = 0;
                }
                if (bytes.size() > 1 << 20) {
                    throw new IOException("HTTP head over 1 MiB");
                }
            }
        }

        static int status(Head response) throws IOException {
            String[] parts = response.start.split(" ", 3);
            try {
                return Integer.parseInt(parts[1]);
            } catch (RuntimeException e) {
                throw new IOException("not an HTTP status line: " + response.start);
            }
        }

        String get(String name) {
            for (String[] header : headers) {
                if (header[0].equalsIgnoreCase(name)) {
                    return header[1];
                }
            }
            return null;
        }

        boolean has(String name, String token) {
            for (String[] header : headers) {
                if (header[0].equalsIgnoreCase(name)
                        && header[1].toLowerCase(Locale.ROOT).contains(token.toLowerCase(Locale.ROOT))) {
                    return true;
                }
            }
            return false;
        }
    }

    /** How a message's body ends (RFC 9112 section 6.3), and copying exactly that body, framing included. */
    private abstract static class Framing {
        static final Framing NONE = new Framing() {
            @Override
            void copy(InputStream in, OutputStream out) {}
        };
        static final Framing UNTIL_EOF = new Framing() {
            @Override
            void copy(InputStream in, OutputStream out) throws IOException {
                in.transferTo(out);
            }
        };
        static final Framing CHUNKED = new Framing() {
            @Override
            void copy(InputStream in, OutputStream out) throws IOException {
                while (true) {
                    String sizeLine = copyLine(in, out);
                    int semicolon = sizeLine.indexOf(';');
                    long size = Long.parseLong((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
                    if (size == 0) {
                        while (!copyLine(in, out).isEmpty()) {
                            // trailer fields, up to the empty line
                        }
                        return;
                    }
                    copyExactly(in, out, size);
                    copyLine(in, out); // the CRLF after the data
                }
            }
        };

        abstract void copy(InputStream in, OutputStream out) throws IOException;

        static Framing fixed(long length) {
            return length == 0 ? NONE : new Framing() {
                @Override
                void copy(InputStream in, OutputStream out) throws IOException {
                    copyExactly(in, out, length);
                }
            };
        }

        static Framing ofRequest(Head request) throws IOException {
            if (request.has("Transfer-Encoding", "chunked")) {
                return CHUNKED;
            }
            String length = request.get("Content-Length");
            return length == null ? NONE : fixed(parseLength(length));
        }

        static Framing ofResponse(Head response, String method, int status) throws IOException {
            if (method.equals("HEAD") || status == 204 || status == 304) {
                return NONE;
            }
            if (response.has("Transfer-Encoding", "chunked")) {
                return CHUNKED;
            }
            String length = response.get("Content-Length");
            return length == null ? UNTIL_EOF : fixed(parseLength(length));
        }

        private static long parseLength(String value) throws IOException {
            try {
                return Long.parseLong(value.trim());
            } catch (NumberFormatException e) {
                throw new IOException("bad Content-Length: " + value);
            }
        }

        static void copyExactly(InputStream in, OutputStream out, long length) throws IOException {
            byte[] buffer = new byte[1 << 16];
            for (long left = length; left > 0; ) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new EOFException((length - left) + " of " + length + " body bytes, then EOF");
                }
                out.write(buffer, 0, n);
                left -= n;
            }
        }

        /** Copies one line with its line end; returns it without. */
        static String copyLine(InputStream in, OutputStream out) throws IOException {
            var line = new StringBuilder();
            while (true) {
                int b = in.read();
                if (b < 0) {
                    throw new EOFException("EOF inside chunked framing");
                }
                out.write(b);
                if (b == '\n') {
                    int end = line.length() > 0 && line.charAt(line.length() - 1) == '\r' ? line.length() - 1 : line.length();
                    return line.substring(0, end);
                }
                line.append((char) b);
                if (line.length() > 8192) {
                    throw new IOException("chunk line over 8 KiB");
                }
            }
        }
    }

    /** Passes on the first `limit` bytes, then throws Reached. */
    private static final class Cut extends OutputStream {
        static final class Reached extends IOException {
            Reached() {
                super("truncated on purpose");
            }
        }

        private final OutputStream out;
        private long left;

        Cut(OutputStream out, long limit) {
            this.out = out;
            this.left = limit;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            int n = (int) Math.min(length, left);
            out.write(bytes, offset, n);
            left -= n;
            if (n < length) {
                throw new Reached();
            }
        }
    }
}

package lib.store.oci;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import lib.common.BulkInputStream;
import lib.common.Durations;
import lib.common.NextBytes;
import lib.common.Version;
import lib.store.StallWatchdog;

/**
 * HTTP/1.1 over sockets, as much as a registry needs: a request with its body in memory, a response
 * whose body is read as a stream (Content-Length, chunked, or up to the end of the connection), and
 * connections kept alive, a pool per origin, for the next request on any thread.
 *
 * <p>Not java.net.http: moving the 248 blobs (397 MB) of the maven set's image from a registry on
 * loopback took it 2.3 CPU-seconds and 1.9 s, where HttpURLConnection took 0.9 and 0.9 (its
 * asynchronous pipeline costs a compilation and a copy per buffer). Not HttpURLConnection either:
 * it refuses PATCH, which a chunked blob upload is made of.
 *
 * <p>No request waits for ever: connecting gives up after the connect timeout, each read of an
 * answer after the stall timeout without a byte, and a request body that the peer stops taking
 * for the stall timeout has its connection closed; all three say {@link StallWatchdog.Stalled},
 * retried like a dropped connection, except the connect timeout, a ConnectException. A request
 * that fails on a connection kept from before, before any byte of an answer, is sent once more on
 * a new connection: the peer may have closed it while it was idle, without seeing the request.
 *
 * <p>Nor does an answer that keeps moving, a byte now and then, take for ever: every part of an
 * answer that is small by nature (a head, a size line, the trailers, and a body read into memory:
 * a manifest, a token, a page of tags, an error) must arrive whole within the stall timeout of its
 * first byte, else {@link TooSlow}, which callers take as a dropped connection; at most 5
 * informational answers (100 Continue) come before the answer, as Go's client allows. The stall
 * timeout is the bound because these answers are kilobytes (4 MiB at most): a link that cannot
 * bring them in that time is broken, and users who shorten it have fast links. A blob's body has
 * no such bound (a big blob on a slow but moving link takes what it takes): {@link
 * Response#streamedBody} lifts it, and the stall timeout alone watches it. Each read waits at most
 * the stall timeout, so a part that is too slow is caught at most one stall timeout past its bound.
 */
final class Http11 {

    /** A request's body: a range of an array, sent as it is. */
    record Body(byte[] bytes, int offset, int length) {
        static Body of(byte[] bytes) {
            return new Body(bytes, 0, bytes.length);
        }
    }

    /** An answer: its status, its headers, and its body, which the caller reads and closes. */
    static final class Response implements Closeable {
        private final int status;
        private final Map<String, List<String>> headers;
        private final AnswerBody body;

        private Response(int status, Map<String, List<String>> headers, AnswerBody body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        int status() {
            return status;
        }

        /** The first value of a header, by its name in any case. */
        Optional<String> header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
        }

        /** The body of a small answer: it must arrive whole within the stall timeout of the answer's first byte. */
        InputStream body() {
            return body;
        }

        /** The body of a blob: as long as it moves, it may take any time (the stall timeout still applies to each read). */
        InputStream streamedBody() {
            body.deadline = Long.MAX_VALUE;
            return body;
        }

        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /** The most of a response's head read: a peer cannot fill the heap with endless headers. */
    private static final int HEAD_MAX = 64 << 10;
    /** What is left of a body at close, at most this, is read out so that its connection serves again. */
    private static final int DRAIN_MAX = 64 << 10;
    /** A request body goes out in slices of this much, each one a byte moving for the stall watch. */
    private static final int SLICE = 256 << 10;
    private static final int CONNECT_TIMEOUT_MS = 15_000;
    /** Informational answers (1xx) taken before the answer: Go's client stops after 5 too. */
    private static final int INFORMATIONAL_MAX = 5;

    private final SSLContext tls;
    private final StallWatchdog stall;
    private final int stallMillis;
    private final Duration stallTimeout;
    private final Map<String, ArrayDeque<Connection>> idle = new HashMap<>();

    Http11(SSLContext tls, Duration stallTimeout) {
        this.tls = tls;
        this.stall = new StallWatchdog(stallTimeout);
        this.stallMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, stallTimeout.toMillis()));
        this.stallTimeout = stallTimeout;
    }

    /** A small part of an answer kept arriving, a byte now and then, past the stall timeout of its first byte. */
    static final class TooSlow extends IOException {
        TooSlow(String what, Duration timeout) {
            super(what + " did not arrive whole within " + Durations.text(timeout) + " of its first byte, abandoned (--stall-timeout)");
        }
    }

    /** When a small part of an answer whose first byte arrives now must have arrived whole. */
    private long deadline() {
        return System.nanoTime() + stallTimeout.toNanos();
    }

    /** Throws TooSlow once the deadline of a part of an answer has passed. */
    private void check(long deadline, String what) throws TooSlow {
        if (System.nanoTime() - deadline > 0) {
            throw new TooSlow(what, stallTimeout);
        }
    }

    /** Sends the request and reads the answer's head; body is null for none. */
    Response send(String method, URI uri, Map<String, String> headers, Body body) throws IOException {
        String origin = origin(uri);
        while (true) {
            Connection connection = pooled(origin);
            boolean reused = connection != null;
            if (connection == null) {
                connection = connect(uri);
            }
            try {
                writeRequest(connection, method, uri, headers, body);
                return readResponse(connection, origin, method);
            } catch (NoAnswer e) {
                connection.close();
                if (!reused) {
                    throw e.getCause() instanceof IOException cause ? cause : e;
                }
                // the peer closed it while it was idle: once more, on a new connection
            } catch (IOException | RuntimeException e) {
                connection.close();
                throw e;
            }
        }
    }

    /** Nothing of an answer arrived: the request may not have reached the peer at all. */
    private static final class NoAnswer extends IOException {
        NoAnswer(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private static String origin(URI uri) {
        return uri.getScheme().toLowerCase(Locale.ROOT) + "://" + uri.getHost() + ":" + port(uri);
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    private Connection pooled(String origin) {
        synchronized (idle) {
            ArrayDeque<Connection> connections = idle.get(origin);
            return connections == null ? null : connections.pollLast();
        }
    }

    private void release(String origin, Connection connection) {
        synchronized (idle) {
            idle.computeIfAbsent(origin, o -> new ArrayDeque<>()).add(connection);
        }
    }

    /** A new connection to the URI's origin, in TLS for https with its host name checked against the certificate. */
    private Connection connect(URI uri) throws IOException {
        String host = uri.getHost();
        if (host == null) {
            throw new IOException("no host in " + uri);
        }
        var socket = new Socket();
        try {
            try {
                socket.connect(new InetSocketAddress(host, port(uri)), CONNECT_TIMEOUT_MS);
            } catch (SocketTimeoutException e) {
                throw new ConnectException("connecting to " + host + ":" + port(uri) + " timed out after "
                        + CONNECT_TIMEOUT_MS / 1000 + " s");
            }
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(stallMillis);
            Socket open = socket;
            if ("https".equalsIgnoreCase(uri.getScheme())) {
                var secure = (SSLSocket) tls.getSocketFactory().createSocket(socket, host, port(uri), true);
                var parameters = secure.getSSLParameters();
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                secure.setSSLParameters(parameters);
                try {
                    secure.startHandshake();
                } catch (SocketTimeoutException e) {
                    throw stall.stalled();
                }
                open = secure;
            }
            return new Connection(open);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private void writeRequest(Connection connection, String method, URI uri, Map<String, String> headers, Body body)
            throws IOException {
        var head = new StringBuilder(256);
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        head.append(method).append(' ').append(path);
        if (uri.getRawQuery() != null) {
            head.append('?').append(uri.getRawQuery());
        }
        head.append(" HTTP/1.1\r\nHost: ").append(uri.getHost());
        if (uri.getPort() >= 0) {
            head.append(':').append(uri.getPort());
        }
        head.append("\r\nUser-Agent: tekton-caches/").append(Version.NUMBER).append("\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        if (body != null || !(method.equals("GET") || method.equals("HEAD") || method.equals("DELETE"))) {
            head.append("Content-Length: ").append(body == null ? 0 : body.length()).append("\r\n");
        }
        head.append("\r\n");
        StallWatchdog.Watch watch = stall.watch();
        watch.start(connection::close);
        try {
            connection.out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) {
                for (int at = 0; at < body.length(); at += SLICE) {
                    watch.moved();
                    connection.out.write(body.bytes(), body.offset() + at, Math.min(SLICE, body.length() - at));
                }
            }
            connection.out.flush();
        } catch (IOException e) {
            throw watch.fired() ? stall.stalled() : new NoAnswer(e);
        } finally {
            watch.stop();
        }
    }

    private Response readResponse(Connection connection, String origin, String method) throws IOException {
        for (int informational = 0; ; informational++) {
            int first;
            try {
                first = connection.in.read();
            } catch (SocketTimeoutException e) {
                throw stall.stalled();
            } catch (IOException e) {
                throw new NoAnswer(e);
            }
            if (first < 0) {
                throw new NoAnswer(new EOFException("the connection closed without an answer"));
            }
            long deadline = deadline();
            List<String> lines = readHead(connection.in, first, deadline);
            String statusLine = lines.get(0);
            if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
                throw new IOException("not an HTTP/1.1 answer: '" + abbreviated(statusLine) + "'");
            }
            int status;
            try {
                status = Integer.parseInt(statusLine.substring(9, 12));
            } catch (NumberFormatException e) {
                throw new IOException("not an HTTP status: '" + abbreviated(statusLine) + "'");
            }
            var headers = new HashMap<String, List<String>>();
            for (String line : lines.subList(1, lines.size())) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.computeIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), n -> new ArrayList<>())
                            .add(line.substring(colon + 1).trim());
                }
            }
            if (status >= 100 && status < 200) {
                if (informational == INFORMATIONAL_MAX) {
                    throw new IOException("more than " + INFORMATIONAL_MAX + " informational answers (" + status
                            + ") before the answer; refused");
                }
                continue; // 100 Continue and the like: the answer follows
            }
            boolean keepAlive = statusLine.startsWith("HTTP/1.1")
                    && !String.join(",", headers.getOrDefault("connection", List.of())).toLowerCase(Locale.ROOT).contains("close");
            List<String> encoding = headers.getOrDefault("transfer-encoding", List.of());
            List<String> length = headers.getOrDefault("content-length", List.of());
            InputStream framed;
            if (method.equals("HEAD") || status == 204 || status == 304) {
                framed = InputStream.nullInputStream();
            } else if (!encoding.isEmpty()) {
                if (!String.join(",", encoding).toLowerCase(Locale.ROOT).trim().endsWith("chunked")) {
                    throw new IOException("the answer's Transfer-Encoding '" + String.join(",", encoding) + "' is not chunked");
                }
                framed = new Chunked(connection.in);
            } else if (!length.isEmpty()) {
                long size;
                try {
                    size = Long.parseLong(length.get(0));
                } catch (NumberFormatException e) {
                    throw new IOException("the answer's Content-Length '" + abbreviated(length.get(0)) + "' is not a number");
                }
                if (size < 0 || length.stream().anyMatch(l -> !l.equals(length.get(0)))) {
                    throw new IOException("the answer's Content-Length is not one length");
                }
                // Fewer bytes before the connection ends is an error, not a short body.
                framed = new NextBytes(connection.in, size, left -> "the connection closed " + left
                        + " bytes before the end of the answer's body");
            } else {
                keepAlive = false;
                framed = connection.in; // up to the end of the connection
            }
            return new Response(status, headers, new AnswerBody(connection, origin, framed, keepAlive, deadline));
        }
    }

    private static String abbreviated(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "…" : text;
    }

    /** The head's lines up to the empty one, the first byte already read; at most HEAD_MAX bytes, by the deadline. */
    private List<String> readHead(InputStream in, int first, long deadline) throws IOException {
        var lines = new ArrayList<String>();
        var line = new ByteArrayOutputStream(128);
        int total = 0;
        int b = first;
        try {
            while (true) {
                if (b < 0) {
                    throw new EOFException("the connection closed in the middle of an answer's head");
                }
                if (++total > HEAD_MAX) {
                    throw new IOException("an answer's head is longer than " + (HEAD_MAX >> 10) + " KiB; refused");
                }
                if (b == '\n') {
                    String text = line.toString(StandardCharsets.ISO_8859_1);
                    text = text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
                    if (text.isEmpty()) {
                        return lines;
                    }
                    lines.add(text);
                    line.reset();
                } else {
                    line.write(b);
                }
                check(deadline, "an answer's head");
                b = in.read();
            }
        } catch (SocketTimeoutException e) {
            throw stall.stalled();
        }
    }

    /** One socket, its buffered streams; closing it is abandoning it, from any thread. */
    private static final class Connection {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 64 << 10);
            this.out = new BufferedOutputStream(socket.getOutputStream(), 64 << 10);
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closed as far as it goes
            }
        }
    }

    /**
     * A response body: its reads say Stalled after the stall timeout without a byte; its close gives
     * the connection back to the pool when the body was read to its end (or the little left is read
     * out), and closes it otherwise.
     */
    private final class AnswerBody extends BulkInputStream {
        private final Connection connection;
        private final String origin;
        private final InputStream framed;
        private final boolean keepAlive;
        /** When the body must have arrived whole: Long.MAX_VALUE for a blob's. */
        private long deadline;
        private boolean ended;
        private boolean closed;

        AnswerBody(Connection connection, String origin, InputStream framed, boolean keepAlive, long deadline) {
            this.connection = connection;
            this.origin = origin;
            this.framed = framed;
            this.keepAlive = keepAlive;
            this.deadline = deadline;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("the answer's body is closed");
            }
            if (ended) {
                return -1;
            }
            try {
                if (deadline != Long.MAX_VALUE) {
                    check(deadline, "an answer's body");
                }
                int n = framed.read(b, off, len);
                ended = n < 0;
                return n;
            } catch (SocketTimeoutException e) {
                throw stall.stalled();
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (keepAlive && !ended) {
                try {
                    ended = drained();
                } catch (IOException e) {
                    ended = false;
                }
            }
            if (keepAlive && ended) {
                release(origin, connection);
            } else {
                connection.close();
            }
        }

        /** Reads out what is left, if that is at most DRAIN_MAX and comes within a stall timeout: whether the body ended. */
        private boolean drained() throws IOException {
            byte[] sink = new byte[8192];
            long left = DRAIN_MAX;
            long by = deadline();
            for (int n; (n = framed.read(sink, 0, (int) Math.min(sink.length, left + 1))) >= 0; ) {
                left -= n;
                if (left < 0 || System.nanoTime() - by > 0) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * A chunked body: size lines in hexadecimal, each chunk, and a last chunk of 0 with its trailers.
     * A size line, and the trailers all together, must arrive within the stall timeout, and the
     * trailers hold at most HEAD_MAX bytes: a peer cannot keep a body from ending with endless ones.
     */
    private final class Chunked extends BulkInputStream {
        private final InputStream in;
        private long left;
        private boolean ended;

        Chunked(InputStream in) {
            this.in = in;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (ended) {
                return -1;
            }
            if (left == 0) {
                left = nextSize();
                if (left == 0) {
                    long deadline = deadline();
                    int trailers = 0;
                    for (String trailer; !(trailer = line(deadline, "the trailers of a chunked answer")).isEmpty(); ) {
                        trailers += trailer.length() + 2;
                        if (trailers > HEAD_MAX) {
                            throw new IOException("the trailers of a chunked answer are longer than " + (HEAD_MAX >> 10)
                                    + " KiB; refused");
                        }
                    }
                    ended = true;
                    return -1;
                }
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
                throw new EOFException("the connection closed in the middle of a chunk of the answer");
            }
            left -= n;
            if (left == 0 && !line(deadline(), "the end of a chunk of the answer").isEmpty()) {
                throw new IOException("a chunk of the answer does not end where its size says");
            }
            return n;
        }

        private long nextSize() throws IOException {
            String line = line(deadline(), "a chunk's size line of the answer");
            int end = line.indexOf(';');
            String hex = (end < 0 ? line : line.substring(0, end)).trim();
            if (hex.isEmpty() || hex.length() > 15 || !hex.matches("[0-9a-fA-F]+")) {
                throw new IOException("a chunk of the answer has the size '" + abbreviated(line) + "'");
            }
            return Long.parseLong(hex, 16);
        }

        private String line(long deadline, String what) throws IOException {
            var line = new StringBuilder();
            for (int b; (b = in.read()) != '\n'; check(deadline, what)) {
                if (b < 0) {
                    throw new EOFException("the connection closed in the middle of a chunked answer");
                }
                if (line.length() >= 4096) {
                    throw new IOException("a chunk's size line of the answer is longer than 4 KiB; refused");
                }
                if (b != '\r') {
                    line.append((char) b);
                }
            }
            return line.toString();
        }
    }
}

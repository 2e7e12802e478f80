package lib.store.oci;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Optional;
import org.apache.http.ConnectionClosedException;
import org.apache.http.HttpEntity;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpRequestBase;
import lib.common.BulkInputStream;
import lib.net.Proxy;
import lib.store.Headway;
import lib.store.StallWatchdog;

/**
 * An answer of the registry (or of its token service, or of a host a redirect names): its status,
 * its headers, and its body, which the caller reads and closes. Every read of the body waits on the
 * store ({@link Headway}) and says {@link StallWatchdog.Stalled} after the stall timeout without a
 * byte. A body small by nature ({@link #body}) must arrive whole within the stall timeout of the
 * answer's first byte; a blob's ({@link #streamedBody}) may take what it takes while it moves.
 * Closing a body read to its end, or with little left, gives its connection back to the pool; any
 * other is shut (HttpClient would read the rest of a blob first).
 */
final class Answer implements Closeable {

    /** What is left of a body at close, at most this, is read out so that its connection serves again. */
    private static final int DRAIN_MAX = 64 << 10;

    private final CloseableHttpResponse response;
    private final HttpRequestBase request;
    private final Optional<Proxy> proxy;
    /** The System.nanoTime() of the answer's first byte. */
    private final long firstByte;
    private final Duration stallTimeout;
    private final StallWatchdog stall;
    private final Headway headway;
    private final Body body;

    Answer(CloseableHttpResponse response, HttpRequestBase request, Optional<Proxy> proxy, long firstByte,
            Duration stallTimeout, StallWatchdog stall, Headway headway) throws IOException {
        this.response = response;
        this.request = request;
        this.proxy = proxy;
        this.firstByte = firstByte;
        this.stallTimeout = stallTimeout;
        this.stall = stall;
        this.headway = headway;
        HttpEntity entity = response.getEntity();
        this.body = entity == null ? new Body(InputStream.nullInputStream(), 0) : new Body(entity.getContent(), entity.getContentLength());
    }

    int status() {
        return response.getStatusLine().getStatusCode();
    }

    /** The first value of a header, by its name in any case. */
    Optional<String> header(String name) {
        var header = response.getFirstHeader(name);
        return header == null ? Optional.empty() : Optional.ofNullable(header.getValue());
    }

    /** The proxy the answer came through, if any. */
    Optional<Proxy> proxy() {
        return proxy;
    }

    /** The body of a small answer: it must arrive whole within the stall timeout of the answer's first byte. */
    InputStream body() {
        body.bound();
        return body;
    }

    /** The body of a blob: as long as it moves, it may take any time (the stall timeout still applies to each read). */
    InputStream streamedBody() {
        return body;
    }

    @Override
    public void close() {
        body.close();
    }

    /** The body as read by the caller, with our bounds, headway and words for its failures. */
    private final class Body extends BulkInputStream {
        private final InputStream in;
        /** Content-Length, or -1 for a chunked body. */
        private final long length;
        private Deadline deadline;
        private long read;
        private boolean ended;
        private boolean closed;

        Body(InputStream in, long length) {
            this.in = in;
            this.length = length;
        }

        /** From now on the body must have arrived by the stall timeout after the answer's first byte. */
        void bound() {
            if (deadline == null && !ended && !closed) {
                deadline = Deadline.at(firstByte + stallTimeout.toNanos(), request::abort);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("the answer's body is closed");
            }
            if (ended || len == 0) {
                return ended ? -1 : 0;
            }
            int n;
            try (var wait = headway.waiting(request::abort)) {
                n = in.read(b, off, len);
            } catch (IOException e) {
                throw failed(e);
            }
            if (n < 0) {
                ended();
            } else {
                read += n;
                headway.moved(n);
            }
            return n;
        }

        private void ended() {
            ended = true;
            if (deadline != null) {
                deadline.cancel();
            }
        }

        /** The words for a failed read: why the request was abandoned, or what the peer did. */
        private IOException failed(IOException e) {
            if (headway.gaveUp()) {
                return headway.given();
            }
            if (deadline != null && deadline.passed()) {
                return new Deadline.TooSlow("an answer's body", stallTimeout);
            }
            if (e instanceof SocketTimeoutException) {
                return stall.stalled();
            }
            if (e instanceof ConnectionClosedException && length >= 0) {
                // Fewer bytes before the connection ends is an error, not a short body.
                return new IOException("the connection closed " + (length - read) + " bytes before the end of the answer's body", e);
            }
            if (e instanceof ConnectionClosedException) {
                return new IOException("the connection closed in the middle of a chunked answer", e);
            }
            if (e instanceof org.apache.http.MessageConstraintException) {
                return new IOException("the trailers of a chunked answer are too long; refused", e);
            }
            return e;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            if (!ended && length >= 0 && length - read <= DRAIN_MAX) {
                drain();
            }
            closed = true;
            if (deadline != null) {
                deadline.cancel();
            }
            if (ended) {
                try {
                    response.close(); // the connection went back to the pool at the end of the body
                } catch (IOException e) {
                    // nothing of ours is left in it
                }
            } else {
                request.abort(); // shut, not read to its end: it may be a blob's
            }
        }

        /** Reads out the little that is left, within a stall timeout, so that the connection serves again. */
        private void drain() {
            byte[] sink = new byte[8192];
            long by = System.nanoTime() + stallTimeout.toNanos();
            try {
                while (!ended && System.nanoTime() - by < 0) {
                    if (read(sink, 0, sink.length) < 0) {
                        return;
                    }
                }
            } catch (IOException e) {
                // shut instead
            }
        }
    }
}

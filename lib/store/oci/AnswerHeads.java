package lib.store.oci;

import java.io.IOException;
import java.time.Duration;
import org.apache.http.HttpClientConnection;
import org.apache.http.HttpException;
import org.apache.http.HttpRequest;
import org.apache.http.HttpResponse;
import org.apache.http.NoHttpResponseException;
import org.apache.http.ProtocolException;
import org.apache.http.entity.ByteArrayEntity;
import org.apache.http.protocol.HttpContext;
import org.apache.http.protocol.HttpRequestExecutor;
import lib.store.StallWatchdog;

/**
 * How HttpClient reads the head of each answer (and of a proxy's answer to CONNECT), with our
 * bounds: the first byte within the stall timeout (else {@link StallWatchdog.Stalled}); the whole
 * head within the stall timeout of that first byte (else {@link Deadline.TooSlow}); at most 5
 * informational answers (100 Continue) before the answer, as Go's client allows. It notes in the
 * request's context what the client needs to know after: whether a byte of answer came (a request
 * that failed before may be sent again), when the head began (a small body's deadline counts from
 * it), and a proxy's refusal of CONNECT (HttpClient returns that as if it were the registry's answer).
 */
final class AnswerHeads extends HttpRequestExecutor {

    /** Context attribute: a byte of the answer arrived. */
    static final String ANSWERED = "tekton-caches.answered";
    /** Context attribute: the System.nanoTime() of the first byte of the answer's head (a Long). */
    static final String FIRST_BYTE = "tekton-caches.first-byte";
    /** Context attribute: the status line of the proxy's refusal of CONNECT. */
    static final String TUNNEL_REFUSED = "tekton-caches.tunnel-refused";
    /** Informational answers taken before the answer: Go's client stops after 5 too. */
    static final int INFORMATIONAL_MAX = 5;

    private final Duration stallTimeout;
    private final int stallMillis;
    private final StallWatchdog stall;

    AnswerHeads(Duration stallTimeout, StallWatchdog stall) {
        this.stallTimeout = stallTimeout;
        this.stallMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, stallTimeout.toMillis()));
        this.stall = stall;
    }

    @Override
    protected HttpResponse doReceiveResponse(HttpRequest request, HttpClientConnection connection, HttpContext context)
            throws HttpException, IOException {
        boolean connect = request.getRequestLine().getMethod().equals("CONNECT");
        for (int informational = 0; ; informational++) {
            long firstByte = awaitFirstByte(connection);
            if (!connect) {
                context.setAttribute(ANSWERED, Boolean.TRUE);
            }
            HttpResponse response = head(connection, firstByte);
            int status = response.getStatusLine().getStatusCode();
            if (status < 100) {
                throw new ProtocolException("not an HTTP status: " + response.getStatusLine());
            }
            if (status < 200) {
                if (informational == INFORMATIONAL_MAX) {
                    throw new IOException("more than " + INFORMATIONAL_MAX + " informational answers (" + status
                            + ") before the answer; refused");
                }
                continue; // 100 Continue and the like: the answer follows
            }
            if (connect) {
                return tunnelAnswer(response, context);
            }
            if (canResponseHaveBody(request, response)) {
                connection.receiveResponseEntity(response);
            }
            context.setAttribute(FIRST_BYTE, firstByte);
            return response;
        }
    }

    /** Waits for the answer's first byte, at most the stall timeout; its time. */
    private long awaitFirstByte(HttpClientConnection connection) throws IOException {
        if (connection.isResponseAvailable(stallMillis)) {
            return System.nanoTime();
        }
        // Not there: either the time ran out or the connection ended; only the second says isStale.
        if (connection.isStale()) {
            throw new NoHttpResponseException("the connection closed without an answer");
        }
        throw stall.stalled();
    }

    /** The head whose first byte is in, whole within the stall timeout of it. */
    private HttpResponse head(HttpClientConnection connection, long firstByte) throws HttpException, IOException {
        var deadline = Deadline.at(firstByte + stallTimeout.toNanos(), () -> shut(connection));
        try {
            return connection.receiveResponseHeader();
        } catch (IOException e) {
            throw deadline.passed() ? new Deadline.TooSlow("an answer's head", stallTimeout) : e;
        } finally {
            deadline.cancel();
        }
    }

    /**
     * A proxy's answer to CONNECT. A refusal's body is not read (a proxy's page of HTML says no more
     * than its status, and could be endless): the connection is closed instead, and the refusal
     * noted for the message.
     */
    private static HttpResponse tunnelAnswer(HttpResponse response, HttpContext context) {
        int status = response.getStatusLine().getStatusCode();
        if (status < 300) {
            context.removeAttribute(TUNNEL_REFUSED);
            return response;
        }
        context.setAttribute(TUNNEL_REFUSED, response.getStatusLine());
        response.setEntity(new ByteArrayEntity(new byte[0]));
        response.setHeader("Connection", "close");
        return response;
    }

    private static void shut(HttpClientConnection connection) {
        try {
            connection.shutdown();
        } catch (IOException e) {
            // shut as far as it goes: the read waiting on it fails all the same
        }
    }
}

package lib.store.gcs;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import lib.store.Headway;
import org.apache.http.HttpEntity;
import org.apache.http.HttpEntityEnclosingRequest;
import org.apache.http.HttpHost;
import org.apache.http.HttpRequest;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpUriRequest;
import org.apache.http.conn.ClientConnectionManager;
import org.apache.http.entity.HttpEntityWrapper;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.params.HttpParams;
import org.apache.http.protocol.HttpContext;

/**
 * The Google client's Apache HttpClient, each request watched for headway ({@link Headway}): a
 * request waits on the store until its answer, and so does each read of the answer's body; bytes sent
 * and received count as progress. Once the store is given up, the request waiting is aborted (its
 * connection closed) and its body closed, and every later request fails at once, so that none of
 * the SDK's retries goes on.
 */
final class WatchedApacheClient extends CloseableHttpClient {

    private final CloseableHttpClient http;
    private final Headway headway;

    WatchedApacheClient(CloseableHttpClient http, Headway headway) {
        this.http = http;
        this.headway = headway;
    }

    @Override
    protected CloseableHttpResponse doExecute(HttpHost target, HttpRequest request, HttpContext context) throws IOException {
        if (request instanceof HttpEntityEnclosingRequest enclosing && enclosing.getEntity() != null) {
            enclosing.setEntity(new HttpEntityWrapper(enclosing.getEntity()) {
                @Override
                public void writeTo(OutputStream out) throws IOException {
                    super.writeTo(counted(out));
                }
            });
        }
        Runnable abort = request instanceof HttpUriRequest uri ? uri::abort : () -> {};
        CloseableHttpResponse response;
        try (var wait = headway.waiting(abort)) {
            response = http.execute(target, request, context);
        } catch (IOException e) {
            throw headway.gaveUp() ? headway.given() : e;
        }
        HttpEntity entity = response.getEntity();
        if (entity != null) {
            response.setEntity(new HttpEntityWrapper(entity) {
                @Override
                public InputStream getContent() throws IOException {
                    return headway.watched(super.getContent(), abort);
                }
            });
        }
        return response;
    }

    /** The request's body as it is sent: each write is progress. */
    private OutputStream counted(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] bytes, int off, int len) throws IOException {
                out.write(bytes, off, len);
                headway.moved(len);
            }
        };
    }

    @Override
    public void close() throws IOException {
        headway.stop();
        http.close();
    }

    @Override
    @SuppressWarnings("deprecation")
    public HttpParams getParams() {
        return http.getParams();
    }

    @Override
    @SuppressWarnings("deprecation")
    public ClientConnectionManager getConnectionManager() {
        return http.getConnectionManager();
    }
}

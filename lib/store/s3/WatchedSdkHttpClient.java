package lib.store.s3;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import lib.store.Headway;
import lib.store.StallWatchdog;
import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;

/**
 * The S3 client's HTTP client, each request watched twice. For a stall: the Apache client's socket
 * timeout bounds every read, the wait for a response included, but not a write: a server that stops
 * taking a part's bytes, the connection left open, would block the upload for ever. Here a request
 * whose body nothing was read from for the stall timeout is aborted, which closes its connection,
 * and fails with {@link StallWatchdog.Stalled}, which the SDK retries as it does a dropped
 * connection. For headway ({@link Headway}): every wait on the store (a request until its answer, each
 * read of the answer's body) counts towards the give-up, every byte sent or received counts as
 * progress, and a store given up has its requests aborted and its bodies closed, so that no retry of
 * the SDK's goes on.
 */
final class WatchedSdkHttpClient implements SdkHttpClient {

    private final SdkHttpClient http;
    private final StallWatchdog stall;
    private final Headway headway;

    WatchedSdkHttpClient(SdkHttpClient http, StallWatchdog stall, Headway headway) {
        this.http = http;
        this.stall = stall;
        this.headway = headway;
    }

    @Override
    public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
        var watch = stall.watch();
        ExecutableHttpRequest executable;
        if (request.contentStreamProvider().isEmpty()) {
            executable = http.prepareRequest(request);
        } else {
            var body = request.contentStreamProvider().get();
            executable = http.prepareRequest(HttpExecuteRequest.builder()
                    .request(request.httpRequest())
                    .contentStreamProvider(() -> watched(body.newStream(), watch))
                    .metricCollector(request.metricCollector().orElse(null))
                    .build());
        }
        boolean watchBody = request.contentStreamProvider().isPresent();
        return new ExecutableHttpRequest() {
            @Override
            public HttpExecuteResponse call() throws IOException {
                if (watchBody) {
                    watch.start(executable::abort);
                }
                HttpExecuteResponse response;
                try (var wait = headway.waiting(executable::abort)) {
                    response = executable.call();
                } catch (IOException e) {
                    throw headway.gaveUp() ? headway.given() : watch.fired() ? stall.stalled() : e;
                } finally {
                    watch.stop();
                }
                return HttpExecuteResponse.builder().response(response.httpResponse())
                        .responseBody(response.responseBody().map(WatchedSdkHttpClient.this::headed).orElse(null))
                        .build();
            }

            @Override
            public void abort() {
                watch.stop();
                executable.abort();
            }
        };
    }

    /** The body as the HTTP client reads it to send: each read is progress; once it is all read, the socket timeout takes over. */
    private InputStream watched(InputStream in, StallWatchdog.Watch watch) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                moved(b < 0 ? -1 : 1);
                return b;
            }

            @Override
            public int read(byte[] bytes, int off, int len) throws IOException {
                int n = super.read(bytes, off, len);
                moved(n);
                return n;
            }

            private void moved(int n) {
                if (n < 0) {
                    watch.pause();
                } else {
                    watch.moved();
                    headway.moved(n);
                }
            }
        };
    }

    /** An answer's body whose every read is a wait on the store: given up, the body is aborted (its connection closed). */
    private AbortableInputStream headed(AbortableInputStream body) {
        return AbortableInputStream.create(headway.watched(body, body::abort), body::abort);
    }

    @Override
    public String clientName() {
        return http.clientName();
    }

    @Override
    public void close() {
        headway.stop();
        http.close();
    }
}

package lib.store.s3;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import lib.store.StallWatchdog;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;

/**
 * The S3 client's HTTP client, with each request body watched for a stall. The Apache client's
 * socket timeout bounds every read, the wait for a response included, but not a write: a server
 * that stops taking a part's bytes, the connection left open, would block the upload for ever.
 * Here a request whose body nothing was read from for the stall timeout is aborted, which closes
 * its connection, and fails with {@link StallWatchdog.Stalled}, which the SDK retries as it does
 * a dropped connection.
 */
final class WatchedSdkHttpClient implements SdkHttpClient {

    private final SdkHttpClient http;
    private final StallWatchdog stall;

    WatchedSdkHttpClient(SdkHttpClient http, StallWatchdog stall) {
        this.http = http;
        this.stall = stall;
    }

    @Override
    public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
        if (request.contentStreamProvider().isEmpty()) {
            return http.prepareRequest(request);
        }
        var body = request.contentStreamProvider().get();
        var watch = stall.watch();
        ExecutableHttpRequest executable = http.prepareRequest(HttpExecuteRequest.builder()
                .request(request.httpRequest())
                .contentStreamProvider(() -> watched(body.newStream(), watch))
                .metricCollector(request.metricCollector().orElse(null))
                .build());
        return new ExecutableHttpRequest() {
            @Override
            public HttpExecuteResponse call() throws IOException {
                watch.start(executable::abort);
                try {
                    return executable.call();
                } catch (IOException e) {
                    throw watch.fired() ? stall.stalled() : e;
                } finally {
                    watch.stop();
                }
            }

            @Override
            public void abort() {
                watch.stop();
                executable.abort();
            }
        };
    }

    /** The body as the HTTP client reads it to send: each read is progress; once it is all read, the socket timeout takes over. */
    private static InputStream watched(InputStream in, StallWatchdog.Watch watch) {
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
                }
            }
        };
    }

    @Override
    public String clientName() {
        return http.clientName();
    }

    @Override
    public void close() {
        http.close();
    }
}

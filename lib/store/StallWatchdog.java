package lib.store;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import lib.common.BulkInputStream;
import lib.common.Durations;

/**
 * Abandons an HTTP exchange that moves no byte for the stall timeout. java.net.http gives up
 * connecting after its connect timeout, but once a request is sent it waits for ever: for the peer
 * to take the rest of the body, for the response's head, for the next byte of the response. A
 * proxy or a registry that keeps the connection open and says nothing would hang the step. So an
 * exchange is watched while it waits on the peer: as the client takes the request body, until the
 * response's head, and during each read of the response body (the time between reads is the
 * reader's own). When nothing moved for the timeout, the exchange is cancelled or the body closed,
 * and the caller gets {@link Stalled}, an IOException retried like a dropped connection.
 */
public final class StallWatchdog {

    /** Nothing moved for the stall timeout, so the request was abandoned. */
    static final class Stalled extends IOException {
        Stalled(Duration timeout) {
            super("no byte for " + Durations.text(timeout) + ", abandoned (--stall-timeout)");
        }
    }

    private final Duration timeout;
    private final long timeoutNanos;

    public StallWatchdog(Duration timeout) {
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
    }

    /**
     * As http.send with a body handler of ofInputStream: the request body and the wait for the
     * response's head are watched, and the response body is as it is read.
     */
    public HttpResponse<InputStream> send(HttpClient http, HttpRequest request) throws IOException, InterruptedException {
        var watch = new Watch();
        HttpRequest watched = request.bodyPublisher()
                .map(body -> HttpRequest.newBuilder(request, (name, value) -> true)
                        .method(request.method(), new WatchedBody(body, watch)).build())
                .orElse(request);
        CompletableFuture<HttpResponse<InputStream>> response = http.sendAsync(watched,
                info -> HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofInputStream(), this::watch));
        // Since JDK 16, cancelling sendAsync's future aborts the exchange and closes its connection.
        watch.start(() -> response.cancel(true));
        try {
            return response.get();
        } catch (CancellationException e) {
            throw new Stalled(timeout);
        } catch (ExecutionException e) {
            if (watch.fired()) {
                throw new Stalled(timeout);
            }
            if (e.getCause() instanceof IOException io) {
                throw io; // its own type, which callers tell apart (a refused connection, a TLS failure)
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            response.cancel(true);
            throw e;
        } finally {
            watch.stop();
        }
    }

    /** A watch on a transfer of another client: moved() as its bytes go, start with what abandons it, stop when done. */
    public Watch watch() {
        return new Watch();
    }

    public Stalled stalled() {
        return new Stalled(timeout);
    }

    /** The stream, closed when a read waits the timeout without a byte; that read then throws Stalled. */
    public InputStream watch(InputStream in) {
        var watch = new Watch();
        watch.pause(); // until the first read: a body nobody reads yet is not stalled
        watch.start(() -> {
            try {
                in.close();
            } catch (IOException e) {
                // closed, as far as it goes: the read it unblocks says Stalled all the same
            }
        });
        return new BulkInputStream() {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                watch.moved();
                try {
                    int n = in.read(b, off, len);
                    if (watch.fired()) {
                        throw new Stalled(timeout);
                    }
                    return n;
                } catch (IOException e) {
                    if (watch.fired() && !(e instanceof Stalled)) {
                        throw new Stalled(timeout);
                    }
                    throw e;
                } finally {
                    watch.pause();
                }
            }

            @Override
            public void close() throws IOException {
                watch.stop();
                in.close();
            }
        };
    }

    /**
     * One transfer's watch. A check runs a timeout after the last byte moved; if something moved
     * since, it is put off to a timeout after that; if not, and the transfer was waiting on the
     * peer, the abandon action runs, once.
     */
    public final class Watch {
        private volatile long lastMoved = System.nanoTime();
        private volatile boolean waiting = true;
        private volatile boolean stopped;
        private volatile boolean fired;
        private Runnable abandon;

        public void start(Runnable abandon) {
            this.abandon = abandon;
            lastMoved = System.nanoTime();
            checkIn(timeoutNanos);
        }

        public boolean fired() {
            return fired;
        }

        /** Bytes moved, or a read began: the peer has a timeout from now. */
        public void moved() {
            lastMoved = System.nanoTime();
            waiting = true;
        }

        /** Nothing is asked of the peer until the next moved(). */
        public void pause() {
            waiting = false;
        }

        public void stop() {
            stopped = true;
        }

        /** On the JDK's timer thread itself: a check is a few reads, and abandoning only cancels or closes. */
        private void checkIn(long nanos) {
            CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS, Runnable::run).execute(this::check);
        }

        private void check() {
            if (stopped) {
                return;
            }
            long quiet = System.nanoTime() - lastMoved;
            if (waiting && quiet >= timeoutNanos) {
                fired = true;
                abandon.run();
                return;
            }
            checkIn(waiting ? timeoutNanos - quiet : timeoutNanos);
        }
    }

    /**
     * A request body whose buffers, as the client takes them to send, count as bytes moving. So
     * progress is seen a buffer at a time: ArrayBody's 256 KiB slices must each go within the
     * timeout, about 9 kB/s at 30 s.
     */
    private record WatchedBody(HttpRequest.BodyPublisher body, Watch watch) implements HttpRequest.BodyPublisher {
        @Override
        public long contentLength() {
            return body.contentLength();
        }

        @Override
        public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
            body.subscribe(new Flow.Subscriber<ByteBuffer>() {
                @Override
                public void onSubscribe(Flow.Subscription subscription) {
                    subscriber.onSubscribe(subscription);
                }

                @Override
                public void onNext(ByteBuffer item) {
                    watch.moved();
                    subscriber.onNext(item);
                }

                @Override
                public void onError(Throwable failure) {
                    subscriber.onError(failure);
                }

                @Override
                public void onComplete() {
                    watch.moved(); // the whole body went: the response's head has a timeout from now
                    subscriber.onComplete();
                }
            });
        }
    }
}

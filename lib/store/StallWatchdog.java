package lib.store;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import lib.common.Durations;

/**
 * Abandons a transfer that moves no byte for the stall timeout. A socket's read can time out, but
 * its write waits for ever for a peer that stops taking bytes, and an SDK's client may wait for
 * ever for an answer: a proxy or a server that keeps the connection open and says nothing would
 * hang the step. So a transfer is watched while it waits on the peer; when nothing moved for the
 * timeout, its abandon action runs (a connection closed, a request aborted), and the caller gets
 * {@link Stalled}, an IOException retried like a dropped connection.
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

    /** A watch on a transfer of another client: moved() as its bytes go, start with what abandons it, stop when done. */
    public Watch watch() {
        return new Watch();
    }

    public Stalled stalled() {
        return new Stalled(timeout);
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
        /** Let go at stop: the check stays scheduled until its time, and what abandon holds (a request and its body) must not. */
        private volatile Runnable abandon;

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
            abandon = null;
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
            Runnable abandonIt = abandon;
            if (waiting && quiet >= timeoutNanos && abandonIt != null) {
                fired = true;
                abandonIt.run();
                return;
            }
            checkIn(waiting ? timeoutNanos - quiet : timeoutNanos);
        }
    }
}

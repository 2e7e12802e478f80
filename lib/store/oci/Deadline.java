package lib.store.oci;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import lib.common.DaemonThreads;
import lib.common.Durations;

/**
 * The time a part of an answer that is small by nature (a head, a manifest, a token, a page of
 * tags, an error) has to arrive whole once its first byte is in: past it, the request is abandoned
 * (its connection shut), so that a registry that keeps an answer moving, a byte now and then, cannot
 * hold a request for ever where no stall timeout ever fires. A timer, not a check between reads:
 * HttpClient reads a head, or a chunked body's trailers, line after line in one call of ours.
 */
final class Deadline {

    /** One timer thread for every deadline: a deadline only shuts a connection. */
    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private static ScheduledThreadPoolExecutor timer() {
        var timer = new ScheduledThreadPoolExecutor(1, DaemonThreads.named("answer-deadline"));
        timer.setRemoveOnCancelPolicy(true); // most deadlines are met: their tasks go at once
        return timer;
    }

    /** A small part of an answer kept arriving, a byte now and then, past the stall timeout of its first byte. */
    static final class TooSlow extends IOException {
        TooSlow(String what, Duration timeout) {
            super(what + " did not arrive whole within " + Durations.text(timeout) + " of its first byte, abandoned (--stall-timeout)");
        }
    }

    private final ScheduledFuture<?> task;
    private volatile boolean passed;

    private Deadline(long nanos, Runnable abandon) {
        this.task = TIMER.schedule(() -> {
            passed = true;
            abandon.run();
        }, Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    /** A deadline at the given System.nanoTime(), which abandons the request when it passes first. */
    static Deadline at(long nanoTime, Runnable abandon) {
        return new Deadline(nanoTime - System.nanoTime(), abandon);
    }

    /** Whether it passed, the request abandoned: what failed since failed for that. */
    boolean passed() {
        return passed;
    }

    /** The part arrived, or no longer matters. */
    void cancel() {
        task.cancel(false);
    }
}

package lib.store;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import lib.common.Durations;

/**
 * Gives up on a store that makes no headway: a cache only saves time, so a store that moves no byte
 * for 3 stall timeouts in a row, its clients' retries included, is abandoned rather than let cost
 * the build minutes (with the 30 s default, within 100 s; a store that stalls on every attempt held
 * a fetch 155 s to 306 s before).
 *
 * <p>Time counts while something waits on the store (a request sent and not yet answered, a read of
 * an answer's body, a body the store is taking), and for a stall timeout after a wait ends (a
 * client's pause between its retries is the store's too); beyond that, our own work (compressing,
 * placing files) is not the store's. It is counted in ticks of a thirtieth
 * of the stall timeout: a tick in which nothing moved, or in which the last stall timeout moved less
 * than 64 KiB (a trickle), adds to the quiet time; a tick that moved bytes with 64 KiB or more over
 * the last stall timeout sets it back to nothing. Once the quiet time reaches 3 stall timeouts, every
 * wait in progress is abandoned (its request aborted, its connection closed) and every later one
 * fails at once with {@link GaveUp}, so that no client's retry goes on.
 */
public final class Headway {

    /** Less than this over a stall timeout is a trickle, no progress. */
    public static final long PROGRESS_BYTES = 64 << 10;
    /** Stall timeouts of no progress in a row after which the store is given up. */
    public static final int STALLS = 3;
    /** Ticks a stall timeout: a second each at the 30 s default, so the give-up comes within a second of its time. */
    private static final int TICKS = 30;

    private static final ScheduledExecutorService TICKER = Executors.newSingleThreadScheduledExecutor(task -> {
        var thread = new Thread(task, "headway");
        thread.setDaemon(true);
        return thread;
    });

    private final Duration stallTimeout;
    private final long tickNanos;
    private final long[] window = new long[TICKS];
    private int tick;
    private long movedThisTick;
    private long quietNanos;
    private final Set<Wait> waits = new LinkedHashSet<>();
    /** When the last wait ended, if one has. */
    private long lastEnded;
    private boolean ended;
    private ScheduledFuture<?> ticking;
    private volatile boolean gaveUp;

    public Headway(Duration stallTimeout) {
        this.stallTimeout = stallTimeout;
        this.tickNanos = Math.max(1, stallTimeout.toNanos() / TICKS);
    }

    /** The store was given up: what fails after it says this. */
    public static final class GaveUp extends IOException {
        GaveUp(Duration stallTimeout) {
            super(says(stallTimeout));
        }
    }

    /** What a run says of a store given up, whatever its clients made of the abandon. */
    public static String says(Duration stallTimeout) {
        return "the store moved no byte for " + Durations.text(stallTimeout.multipliedBy(STALLS)) + " (" + STALLS
                + " stall timeouts, retries included), so it was given up (--stall-timeout)";
    }

    /** Whether the store was given up. */
    public boolean gaveUp() {
        return gaveUp;
    }

    /** The exception of a store given up. */
    public GaveUp given() {
        return new GaveUp(stallTimeout);
    }

    /** Throws GaveUp once the store was given up: before each attempt of a request. */
    public void check() throws GaveUp {
        if (gaveUp) {
            throw given();
        }
    }

    /**
     * A wait on the store begins; abandon ends it from another thread (aborts its request, closes
     * its connection) if the store is given up meanwhile. Close the wait when the store has answered.
     */
    public Wait waiting(Runnable abandon) throws GaveUp {
        var wait = new Wait(abandon);
        synchronized (this) {
            check();
            waits.add(wait);
            if (ticking == null) {
                ticking = TICKER.scheduleAtFixedRate(this::tick, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
            }
        }
        return wait;
    }

    /**
     * An answer's body whose every read is a wait on the store and counts what it brings: given
     * up, abandon ends it (aborts its request); a read that fails after the give-up says so.
     */
    public InputStream watched(InputStream in, Runnable abandon) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] bytes, int off, int len) throws IOException {
                try (var wait = waiting(abandon)) {
                    int n = super.read(bytes, off, len);
                    if (n > 0) {
                        moved(n);
                    }
                    return n;
                } catch (IOException e) {
                    throw gaveUp ? given() : e;
                }
            }
        };
    }

    /** Bytes moved to or from the store. */
    public synchronized void moved(long bytes) {
        movedThisTick += bytes;
    }

    /** One wait on the store. */
    public final class Wait implements AutoCloseable {
        private final Runnable abandon;

        private Wait(Runnable abandon) {
            this.abandon = abandon;
        }

        @Override
        public void close() {
            synchronized (Headway.this) {
                waits.remove(this);
                lastEnded = System.nanoTime();
                ended = true;
            }
        }
    }

    /** Stops counting: the store is closed. */
    public synchronized void stop() {
        if (ticking != null) {
            ticking.cancel(false);
            ticking = null;
        }
    }

    private void tick() {
        var abandon = new ArrayList<Runnable>();
        synchronized (this) {
            long moved = movedThisTick;
            movedThisTick = 0;
            window[tick++ % TICKS] = moved;
            if (waits.isEmpty() && !(ended && System.nanoTime() - lastEnded < stallTimeout.toNanos())) {
                return; // nothing waits on the store, nor did a stall timeout ago: its time is not running
            }
            long recent = 0;
            for (long bytes : window) {
                recent += bytes;
            }
            quietNanos = moved > 0 && recent >= PROGRESS_BYTES ? 0 : quietNanos + tickNanos;
            if (quietNanos < stallTimeout.toNanos() * STALLS || gaveUp) {
                return;
            }
            gaveUp = true;
            for (Wait wait : waits) {
                abandon.add(wait.abandon);
            }
            waits.clear();
        }
        for (Runnable action : abandon) {
            try {
                action.run();
            } catch (RuntimeException e) {
                // abandoned as far as it goes: its own stall watch still ends it
            }
        }
    }
}

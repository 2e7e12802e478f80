package lib.store;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.ThreadLocalRandom;
import lib.common.Log;

/** The wait between attempts of a request that may succeed when tried again: longer each time, said on stderr. */
public final class Backoff {

    /** Attempts in all, the first included. */
    public static final int ATTEMPTS = 5;
    private static final long FIRST_MILLIS = 200;

    private Backoff() {}

    /** Waits before attempt number `attempt` (2 and up): 0.2 s, then twice as long each time, with jitter. */
    public static void pause(int attempt, String why, Log log) throws IOException {
        long millis = FIRST_MILLIS << (attempt - 2);
        millis += ThreadLocalRandom.current().nextLong(millis / 2 + 1);
        log.info("retry " + (attempt - 1) + " of " + (ATTEMPTS - 1) + " in " + millis + " ms: " + why);
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }
}

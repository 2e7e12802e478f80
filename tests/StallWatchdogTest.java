import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.time.Duration;
import lib.store.StallWatchdog;
import org.junit.jupiter.api.Test;

/**
 * A watch's check stays scheduled until the stall timeout has passed, stopped or not: what it
 * abandons (a request and its body, a layer of megabytes) must not stay reachable through it. An
 * upload of 600 MB to a registry sends its layers faster than 30 s go by, and ran out of heap
 * holding every body of the last 30 s.
 */
class StallWatchdogTest {

    @Test
    void aStoppedWatchHoldsNothingItWouldHaveAbandoned() throws Exception {
        var watchdog = new StallWatchdog(Duration.ofMinutes(10));
        byte[][] body = {new byte[8 << 20]};
        var reference = new WeakReference<>(body[0]);
        StallWatchdog.Watch watch = watchdog.watch();
        watch.start(new Runnable() {
            private final byte[] held = body[0];

            @Override
            public void run() {
                throw new AssertionError("a stopped watch abandoned its request, of " + held.length + " bytes");
            }
        });
        watch.stop();
        body[0] = null;
        for (int i = 0; i < 20 && reference.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertNull(reference.get(), "the body is still reachable through the stopped watch's scheduled check");
    }

    @Test
    void aWatchOnAPeerThatTakesNothingIsAbandoned() throws Exception {
        var watchdog = new StallWatchdog(Duration.ofMillis(100));
        boolean[] abandoned = {false};
        StallWatchdog.Watch watch = watchdog.watch();
        watch.start(() -> abandoned[0] = true);
        for (int i = 0; i < 100 && !watch.fired(); i++) {
            Thread.sleep(20);
        }
        assertTrue(watch.fired() && abandoned[0], "no byte for 100 ms, and the watch was not abandoned");
    }
}

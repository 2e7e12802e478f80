import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.Selector;
import java.util.concurrent.CountDownLatch;
import lib.common.QuickExit;
import org.junit.jupiter.api.Test;

/**
 * What the scripts do just before they exit: daemon threads inside a select of the JDK's NIO (the
 * HTTP client's selector) are woken, so that the JVM's exit does not wait 300 ms for them; threads
 * doing anything else are left alone.
 */
class QuickExitTest {

    @Test
    void aDaemonThreadInASelectIsWokenAndOthersAreLeftAlone() throws Exception {
        try (Selector selector = Selector.open()) {
            var selecting = new Thread(() -> {
                try {
                    selector.select(); // no channel, no timeout: only a wakeup or an interrupt ends it
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, "test-selector");
            selecting.setDaemon(true);
            var release = new CountDownLatch(1);
            var waiting = new Thread(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException("interrupted, and should not have been", e);
                }
            }, "test-waiting");
            waiting.setDaemon(true);
            selecting.start();
            waiting.start();
            while (selecting.getState() != Thread.State.RUNNABLE || selecting.getStackTrace().length == 0
                    || !selecting.getStackTrace()[0].isNativeMethod()) {
                Thread.sleep(10); // until it is in the select's native call
            }

            // Only these two: other tests' HTTP clients share this JVM.
            assertEquals(1, QuickExit.wakeSelecting(java.util.List.of(selecting, waiting)));
            selecting.join(10_000);
            assertFalse(selecting.isAlive(), "the selecting thread was woken");
            assertTrue(waiting.isAlive(), "the waiting thread was left alone");
            release.countDown();
            waiting.join(10_000);
        }
    }
}

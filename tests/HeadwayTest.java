import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import lib.store.Headway;
import org.junit.jupiter.api.Test;

/**
 * Headway's rule on its own clock: a store waited on that moves nothing, or only a trickle, is
 * given up after 3 stall timeouts and its waits abandoned; one that moves 64 KiB a stall timeout,
 * or that nothing waits on, is not. The stores' own tests show each client abandoned for real.
 */
class HeadwayTest {

    private static final Duration STALL = Duration.ofMillis(300);

    @Test
    void aWaitOnAStoreThatMovesNothingIsAbandonedAfterThreeStallTimeoutsAndNoLaterOneBegins() throws Exception {
        var headway = new Headway(STALL);
        var abandoned = new CountDownLatch(1);
        long start = System.nanoTime();
        try (var wait = headway.waiting(abandoned::countDown)) {
            assertTrue(abandoned.await(10, TimeUnit.SECONDS), "the wait was never abandoned");
        }
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited >= 3 * STALL.toMillis(), "given up after " + waited + " ms, before 3 stall timeouts");
        assertTrue(headway.gaveUp());
        assertThrows(Headway.GaveUp.class, headway::check);
        assertThrows(Headway.GaveUp.class, () -> headway.waiting(() -> {}));
        headway.stop();
    }

    @Test
    void aTrickleUnder64KiBAStallTimeoutIsNoProgress() throws Exception {
        var headway = new Headway(STALL);
        var abandoned = new CountDownLatch(1);
        try (var wait = headway.waiting(abandoned::countDown)) {
            for (int i = 0; i < 100 && abandoned.getCount() > 0; i++) {
                headway.moved(1024); // about 10 KiB a stall timeout
                Thread.sleep(STALL.toMillis() / 10);
            }
        }
        assertTrue(headway.gaveUp(), "a trickle kept the store from being given up");
        headway.stop();
    }

    @Test
    void aStoreMovingBytesOrNotWaitedOnIsNeverGivenUp() throws Exception {
        var headway = new Headway(STALL);
        try (var wait = headway.waiting(() -> {})) {
            for (int i = 0; i < 60; i++) { // 6 stall timeouts
                headway.moved(16 << 10); // 160 KiB a stall timeout
                Thread.sleep(STALL.toMillis() / 10);
            }
        }
        assertFalse(headway.gaveUp(), "a store moving 160 KiB a stall timeout was given up");
        Thread.sleep(STALL.toMillis() * 5); // our own work: nothing waits on the store
        try (var wait = headway.waiting(() -> {})) {
            Thread.sleep(STALL.toMillis());
        }
        assertFalse(headway.gaveUp(), "time nothing waited on the store was counted");
        headway.stop();
    }
}

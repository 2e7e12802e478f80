package lib.archive;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A restore's answer to SIGTERM, which a cancelled or timed-out TaskRun's pod gets 30 s before
 * SIGKILL (and to SIGINT and SIGHUP): a shutdown hook asks the restore to stop at its next step,
 * where it undoes the moves it made and removes its staging, and holds the JVM's exit until it has.
 * Undoing rather than finishing: the moves made are known, each a rename, where the ones left could
 * wait on the store's bytes. Past GRACE the JVM exits anyway, and the next run takes the journal back.
 */
public final class StopRequest implements AutoCloseable {

    /** How long the hook holds the exit: well within the 30 s Kubernetes gives before SIGKILL. */
    private static final long GRACE_SECONDS = 20;

    /**
     * The restore was told to stop before it was in place: what it moved is put back. The exit
     * waits on until whoever reports it says so (reported), so that the step still gets its line
     * and its results.
     */
    public static final class Stopped extends IOException {
        private final transient StopRequest stop;

        Stopped(StopRequest stop) {
            super("stopped by a signal (SIGTERM) before it was in place, and taken back");
            this.stop = stop;
        }

        /** The line and the results are out: the exit may go on. */
        public void reported() {
            if (stop != null) {
                stop.finished.countDown();
            }
        }

        /** Says that the failure, or one of its causes, is a stopped restore's, once it has been reported. */
        public static void reported(Throwable failure) {
            for (Throwable t = failure; t != null; t = t.getCause()) {
                if (t instanceof Stopped stopped) {
                    stopped.reported();
                }
            }
        }
    }

    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook = new Thread(this::stopAndWait, "restore-stop");
    private volatile boolean requested;
    /** check threw: the exit waits for the Stopped to be reported, not for close. */
    private volatile boolean thrown;

    private StopRequest() {}

    /** Hooked to the JVM's shutdown until closed; a JVM already shutting down starts no restore. */
    static StopRequest register() throws Stopped {
        var stop = new StopRequest();
        try {
            Runtime.getRuntime().addShutdownHook(stop.hook);
        } catch (IllegalStateException e) {
            throw new Stopped(null);
        }
        return stop;
    }

    /** Throws Stopped once a signal asked the restore to stop: called between its steps. */
    void check() throws Stopped {
        if (requested) {
            thrown = true;
            throw new Stopped(this);
        }
    }

    private void stopAndWait() {
        requested = true;
        awaitRestore();
    }

    private void awaitRestore() {
        try {
            finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The restore is over, placed or taken back, its staging gone: the exit may go on, or, for a
     * restore that stopped, once its Stopped is reported (bounded by GRACE all the same).
     */
    @Override
    public void close() {
        if (!thrown) {
            finished.countDown();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down: the hook runs, and was waiting for this
        }
    }
}

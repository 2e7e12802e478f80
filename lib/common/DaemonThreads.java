package lib.common;

import java.util.concurrent.ThreadFactory;

/**
 * Threads that help a transfer along (part senders, readers ahead) and never keep the JVM alive:
 * when the script's main returns or fails, its exit status is final, whatever they were doing.
 */
public final class DaemonThreads {

    private DaemonThreads() {}

    /** Makes daemon threads that all bear this name, as thread dumps show it. */
    public static ThreadFactory named(String name) {
        return runnable -> {
            var thread = new Thread(runnable, name);
            thread.setDaemon(true);
            return thread;
        };
    }
}

package lib.common;

import java.util.Collection;

/**
 * Ends the JVM without waiting on threads parked in a select. On JDK 17 the JVM's exit waits up to
 * 300 ms (30 times 10 ms) for every thread still inside a native call to leave it, and the JDK's
 * HTTP client keeps its selector thread in epoll_wait for as long as the client lives. So every run
 * that spoke HTTP ended 0.3 s after its last line: a cache-upload to a registry that found its key
 * kept took 0.87 s, 0.33 s of it after the line (strace: the VM thread's 10 ms waits, then
 * exit_group). An interrupt wakes such a thread from its select; back in Java, it stops at the
 * exit's safepoint, and the exit goes on at once.
 */
public final class QuickExit {

    private QuickExit() {}

    /** Exits with this status, once the threads selecting in the JDK's NIO are woken. */
    public static void exit(int status) {
        wakeSelecting(Thread.getAllStackTraces().keySet());
        System.exit(status);
    }

    /**
     * Interrupts those of these threads that are daemons inside a native call of the JDK's NIO (a
     * select or a poll), and returns how many. Only at the very end: an interrupted channel is closed.
     */
    public static int wakeSelecting(Collection<Thread> threads) {
        int woken = 0;
        for (Thread t : threads) {
            StackTraceElement[] stack = t.getStackTrace();
            if (t != Thread.currentThread() && t.isDaemon() && t.getState() == Thread.State.RUNNABLE && stack.length > 0
                    && stack[0].isNativeMethod() && stack[0].getClassName().startsWith("sun.nio.ch.")) {
                t.interrupt();
                woken++;
            }
        }
        return woken;
    }
}

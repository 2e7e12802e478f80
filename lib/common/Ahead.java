package lib.common;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Supplier;

/**
 * Work begun on a daemon thread at once and taken where it is needed, such as the keys of
 * --verify-key and --sign-key, read (and the JDK's signature code loaded) while the JVM goes on
 * with the key and the store. get() returns what the work returned, or throws what it threw, a
 * UsageError as it is: the caller decides where a bad key file is told, before any store request.
 */
public final class Ahead<T> implements Supplier<T> {

    private final FutureTask<T> task;

    private Ahead(FutureTask<T> task) {
        this.task = task;
    }

    /** Starts work on a daemon thread of that name. */
    public static <T> Ahead<T> start(String name, Callable<T> work) {
        var task = new FutureTask<>(work);
        DaemonThreads.named(name).newThread(task).start();
        return new Ahead<>(task);
    }

    /** Work already done: its result. */
    public static <T> Ahead<T> done(T result) {
        var task = new FutureTask<>(() -> result);
        task.run();
        return new Ahead<>(task);
    }

    @Override
    public T get() {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();
                } catch (InterruptedException e) {
                    interrupted = true; // a stop request is answered where the work is, not by losing its result
                }
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

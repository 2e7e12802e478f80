package lib.common;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for work handed to another thread, with its failure as the IOException a transfer throws. */
public final class Futures {

    private Futures() {}

    /**
     * The result of future once it is done. What the work threw is thrown here: an IOException as
     * it is, anything else inside one; an interrupt keeps the thread's interrupted status and says
     * what was being waited for ("interrupted while " + doing).
     */
    public static <T> T await(Future<T> future, String doing) throws IOException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while " + doing);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
    }
}

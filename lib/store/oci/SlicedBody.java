package lib.store.oci;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.apache.http.entity.AbstractHttpEntity;
import lib.store.Headway;
import lib.store.StallWatchdog;

/**
 * A request's body held in memory (a chunk, a manifest, a small layer), sent in slices under a
 * stall watch: a socket's write waits for ever for a peer that stops taking bytes, so when no
 * slice went out for the stall timeout the request is abandoned, and {@link #stalled} says so.
 * Each slice sent is headway. Repeatable: a request that found its kept connection closed goes
 * again on a new one.
 */
final class SlicedBody extends AbstractHttpEntity {

    /** Each slice is a byte moving for the stall watch. */
    private static final int SLICE = 256 << 10;

    private final RegistryHttp.Body body;
    private final StallWatchdog stall;
    private final Headway headway;
    private final Runnable abandon;
    private volatile boolean stalled;

    SlicedBody(RegistryHttp.Body body, StallWatchdog stall, Headway headway, Runnable abandon) {
        this.body = body;
        this.stall = stall;
        this.headway = headway;
        this.abandon = abandon;
    }

    /** Whether the peer stopped taking the body and the request was abandoned for it. */
    boolean stalled() {
        return stalled;
    }

    @Override
    public void writeTo(OutputStream out) throws IOException {
        StallWatchdog.Watch watch = stall.watch();
        watch.start(abandon);
        try {
            for (int at = 0; at < body.length(); at += SLICE) {
                watch.moved();
                int length = Math.min(SLICE, body.length() - at);
                out.write(body.bytes(), body.offset() + at, length);
                headway.moved(length);
            }
            out.flush(); // the last slice may wait in HttpClient's buffer: it is the peer's to take, watched too
        } finally {
            watch.stop();
            stalled = watch.fired();
        }
    }

    @Override
    public boolean isRepeatable() {
        return true;
    }

    @Override
    public long getContentLength() {
        return body.length();
    }

    @Override
    public InputStream getContent() {
        return new ByteArrayInputStream(body.bytes(), body.offset(), body.length());
    }

    @Override
    public boolean isStreaming() {
        return false;
    }
}

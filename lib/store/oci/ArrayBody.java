package lib.store.oci;

import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;

/**
 * A request body of bytes already in memory, handed to the HTTP client as slices of the array.
 * The JDK's BodyPublishers.ofByteArray copies the whole range into 16 KiB buffers when the request
 * starts: for a 16 MiB chunk that is another 16 MiB on the heap per request, which old-generation
 * garbage turned into a full 256 MiB heap on a 1 GiB upload.
 */
final class ArrayBody implements Flow.Subscription {

    private static final int SLICE = 256 << 10;

    private final Flow.Subscriber<? super ByteBuffer> subscriber;
    private final byte[] bytes;
    private final int end;
    private int at;
    private long demand;
    /** A thread is in the emitting loop: a request from inside onNext only adds demand. */
    private boolean emitting;
    private boolean done;

    private ArrayBody(Flow.Subscriber<? super ByteBuffer> subscriber, byte[] bytes, int offset, int length) {
        this.subscriber = subscriber;
        this.bytes = bytes;
        this.at = offset;
        this.end = offset + length;
    }

    /** bytes[offset, offset + length) as a body; the array must not change until the response arrives. */
    static HttpRequest.BodyPublisher of(byte[] bytes, int offset, int length) {
        if (length == 0) {
            return HttpRequest.BodyPublishers.noBody();
        }
        return HttpRequest.BodyPublishers.fromPublisher(
                subscriber -> subscriber.onSubscribe(new ArrayBody(subscriber, bytes, offset, length)), length);
    }

    @Override
    public void request(long n) {
        synchronized (this) {
            if (n <= 0) {
                done = true;
                subscriber.onError(new IllegalArgumentException("request(" + n + "): demand must be positive"));
                return;
            }
            demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
            if (emitting) {
                return;
            }
            emitting = true;
        }
        for (;;) {
            ByteBuffer slice;
            synchronized (this) {
                if (done || at < end && demand == 0) {
                    emitting = false;
                    return;
                }
                if (at == end) {
                    done = true;
                    slice = null;
                } else {
                    int size = Math.min(SLICE, end - at);
                    slice = ByteBuffer.wrap(bytes, at, size).slice();
                    at += size;
                    demand--;
                }
            }
            if (slice == null) {
                subscriber.onComplete();
                return;
            }
            subscriber.onNext(slice);
        }
    }

    @Override
    public synchronized void cancel() {
        done = true;
    }
}

package lib.store.azure;

import com.azure.core.http.HttpPipelineCallContext;
import com.azure.core.http.HttpPipelineNextPolicy;
import com.azure.core.http.HttpPipelinePosition;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.policy.HttpPipelinePolicy;
import java.io.UncheckedIOException;
import lib.store.Headway;
import reactor.core.publisher.Mono;

/**
 * Each attempt of a request, the SDK's retries included (so after its retry policy), waits on the
 * store under {@link Headway} until its answer's headers come; once the store is given up an
 * attempt fails at once. It fails with an UncheckedIOException around {@link Headway.GaveUp}: the
 * storage retry policy retries an IOException, and must not retry this one.
 */
final class HeadwayPolicy implements HttpPipelinePolicy {

    private final Headway headway;
    private final Runnable abandon;

    HeadwayPolicy(Headway headway, Runnable abandon) {
        this.headway = headway;
        this.abandon = abandon;
    }

    @Override
    public Mono<HttpResponse> process(HttpPipelineCallContext context, HttpPipelineNextPolicy next) {
        return Mono.defer(() -> {
            Headway.Wait wait;
            try {
                wait = headway.waiting(abandon);
            } catch (Headway.GaveUp e) {
                return Mono.error(new UncheckedIOException(e));
            }
            return next.process().doFinally(signal -> wait.close());
        });
    }

    @Override
    public HttpPipelinePosition getPipelinePosition() {
        return HttpPipelinePosition.PER_RETRY;
    }
}

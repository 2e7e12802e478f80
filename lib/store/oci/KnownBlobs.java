package lib.store.oci;

import java.io.Closeable;
import java.io.IOException;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.common.DaemonThreads;
import lib.common.Futures;

/**
 * Whether an upload's repository holds a blob already, asked (HEAD /v2/<name>/blobs/<digest>) only
 * where the answer is not known yet. A repository that holds no tag holds no entry's layer, so a
 * first save there asks nothing per layer: whether it has a tag is known from a listing made
 * before the upload (a restore key's, --keep's), or asked once, beside the walk, when this is made.
 * The base's layers are asked for all at once before the walk (ask), and each answer serves twice:
 * for the reuse of the group and, when the repository lacks it, for the push that follows.
 */
final class KnownBlobs implements Closeable {

    private final RegistryClient registry;
    private final ExecutorService heads;
    private final Future<Boolean> tagged;
    private final Map<String, Future<OptionalLong>> asked = new ConcurrentHashMap<>();

    /** tagged: whether the repository held a tag when it was last listed; null when it was not listed. */
    KnownBlobs(RegistryClient registry, Boolean tagged, int threads) {
        this.registry = registry;
        this.heads = Executors.newFixedThreadPool(threads, DaemonThreads.named("oci-head"));
        this.tagged = tagged != null ? CompletableFuture.completedFuture(tagged) : heads.submit(() -> {
            try {
                return registry.anyTag();
            } catch (IOException e) {
                return true; // not known: each layer is asked for, as if it were
            }
        });
    }

    /** Asks for each of these blobs now, on the threads beside the walk; size then waits for the answer. */
    void ask(Iterable<String> digests) {
        for (String digest : digests) {
            asked.computeIfAbsent(digest, d -> heads.submit(() -> registry.blobSize(d)));
        }
    }

    /**
     * The blob's size in the repository (-1 when the registry says none), or empty when the
     * repository does not have it: an answer asked for already, none in a repository without tags,
     * or else a HEAD now.
     */
    OptionalLong size(String digest) throws IOException {
        Future<OptionalLong> answer = asked.get(digest);
        if (answer != null) {
            return Futures.await(answer, "asking for a layer");
        }
        if (!Futures.await(tagged, "listing the repository's tags")) {
            return OptionalLong.empty();
        }
        return registry.blobSize(digest);
    }

    @Override
    public void close() {
        heads.shutdownNow();
    }
}

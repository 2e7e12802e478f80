import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/** cache-fetch: computes the key, finds its archive in the store and restores it safely into the folder. */
final class Fetch {

    record Request(StoreUri source, Path folder, Path workingDir, List<String> patterns, boolean insecure,
            Environment environment) {}

    static final Map<String, String> RESULTS_BEFORE = Map.of(
            "fetched", "false", "cache-key", "", "matched-key", "", "size", "0");

    private Fetch() {}

    static void run(Request request, Results results, Log log, LongSupplier nanoTime) {
        CacheKey key = CacheKey.forFolder(request.patterns(), request.workingDir(), request.folder(), log);
        results.put("cache-key", key.hash());
        StoreUri.Location location = request.source().resolve(key.hash());
        Stores.Target target = Stores.open(location, request.insecure(), request.environment(), log);
        try (Store store = target.store()) {
            var object = store.find(target.path())
                    .orElseThrow(() -> new CacheMiss("cache miss: nothing at " + location.text() + "; " + key.describe()));
            var meter = new Meter("restoring from " + location.text(), log, nanoTime);
            SafeRestore.Stats restored = restore(store, object, request.folder(), meter);
            if (object.sha256().isEmpty()) {
                log.info("note: " + location.text() + " records no sha256 (written by the Go tool?);"
                        + " only the compressor's own checksum guarded it");
            }
            results.put("fetched", "true");
            results.put("matched-key", key.hash());
            results.put("size", Long.toString(object.size()));
            log.info("restored " + Log.entries(restored.files(), restored.directories(), restored.links())
                    + " (" + Log.bytes(restored.bytes()) + ") into " + request.folder() + " from " + location.text() + " " + Log.timing(meter.bytes(), meter.elapsedNanos()) + "; "
                    + key.describe());
        } catch (IOException e) {
            throw new StoreError("restoring " + location.text() + " into " + request.folder() + ": " + Cli.reason(e), e);
        }
    }

    /** Restores the object into the folder, the digest the store recorded checked as the bytes stream by. */
    static SafeRestore.Stats restore(Store store, Store.StoredObject object, Path folder, Meter meter) throws IOException {
        try (InputStream in = meter.watch(store.open(object), object.sha256().orElse(null))) {
            return SafeRestore.restore(in, folder);
        }
    }
}

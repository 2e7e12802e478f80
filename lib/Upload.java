import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/** cache-upload: computes the key and stores the folder's archive under it, streamed, committed only when whole. */
final class Upload {

    record Request(StoreUri target, Path folder, Path workingDir, List<String> patterns, Compression compression, boolean insecure) {}

    static final Map<String, String> RESULTS_BEFORE = Map.of("cache-key", "", "size", "0");

    private Upload() {}

    static void run(Request request, Results results, Log log, LongSupplier nanoTime) {
        if (!Files.isDirectory(request.folder())) {
            throw new UsageError("--folder " + request.folder() + " is not a directory: nothing to upload");
        }
        CacheKey key = CacheKey.forFolder(request.patterns(), request.workingDir(), request.folder(), log);
        results.put("cache-key", key.hash());
        StoreUri.Location location = request.target().resolve(key.hash());
        Stores.Target target = Stores.open(location, request.insecure());
        try (Store store = target.store(); Store.Upload upload = store.create(target.path())) {
            var meter = new Meter("uploading to " + location.text(), log, nanoTime);
            Archive.Stats archived;
            try (OutputStream compressed = request.compression().compress(keepOpen(meter.watch(upload.stream())))) {
                archived = Archive.create(request.folder(), compressed);
            }
            upload.commit(meter.sha256());
            results.put("size", Long.toString(meter.bytes()));
            if (archived.skipped() > 0) {
                log.info("skipped " + archived.skipped() + " sockets, fifos or devices: a cache holds files, links and folders");
            }
            log.info("uploaded " + Log.entries(archived.files(), archived.directories(), archived.links())
                    + " (" + Log.bytes(archived.bytes()) + ", " + Log.bytes(meter.bytes()) + " " + request.compression().label() + ") from " + request.folder() + " to " + location.text() + " "
                    + Log.timing(meter.bytes(), meter.elapsedNanos()) + "; " + key.describe());
        } catch (IOException e) {
            throw new StoreError("uploading " + request.folder() + " to " + location.text() + ": " + Cli.reason(e), e);
        }
    }

    /** The compressor's close ends its frame; the store's stream stays open until the upload commits. */
    private static OutputStream keepOpen(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                out.flush();
            }
        };
    }
}

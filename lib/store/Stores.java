package lib.store;

import java.time.Duration;
import lib.common.Environment;
import lib.common.Log;
import lib.common.UsageError;
import lib.store.azure.AzureStore;
import lib.store.file.FileStore;
import lib.store.gcs.GcsStore;
import lib.store.oci.OciStore;
import lib.store.s3.S3Store;

/** Picks the store for a URI's scheme: the one place where schemes are dispatched. */
public final class Stores {

    /** A store and the path of the object within it. */
    public record Target(Store store, String path) {}

    private Stores() {}

    /**
     * The store for the location; insecure allows plain HTTP and unverified TLS where a store speaks
     * HTTP, and a request that moves no byte for stallTimeout is abandoned (a file cannot stall).
     */
    public static Target open(StoreUri.Location location, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        return switch (location.scheme()) {
            case "file" -> FileStore.target(location);
            case "oci" -> OciStore.target(location, insecure, stallTimeout, environment, log);
            case "s3" -> S3Store.target(location, stallTimeout, environment, log);
            case "gs" -> GcsStore.target(location, stallTimeout, environment, log);
            case "azblob" -> AzureStore.target(location, stallTimeout, environment, log);
            default -> throw new UsageError("'" + location.text() + "' has the unknown scheme " + location.scheme()
                    + "; use file://, oci://, s3://, gs:// or azblob://");
        };
    }
}

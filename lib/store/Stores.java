package lib.store;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;
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

    /**
     * What is known of a scheme's store before one is opened: how its old entries go, whether an
     * entry's name is a tag (after the last ':' of the URI's last segment, as an image's) rather than
     * the whole last segment, and how one is opened.
     */
    public record Scheme(Store.Expiry expiry, boolean namedByTag, Opener opener) {

        public Target open(URI uri, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
            return opener.open(uri, insecure, stallTimeout, environment, log);
        }
    }

    /** How a scheme's store is opened on a URI; Stores.open says what the arguments mean. */
    public interface Opener {
        Target open(URI uri, boolean insecure, Duration stallTimeout, Environment environment, Log log);
    }

    private Stores() {}

    /**
     * The store for the URI; insecure allows plain HTTP and unverified TLS where a store speaks
     * HTTP, and a request that moves no byte for stallTimeout is abandoned (a file cannot stall).
     */
    public static Target open(URI uri, boolean insecure, Duration stallTimeout, Environment environment, Log log) {
        return scheme(uri).open(uri, insecure, stallTimeout, environment, log);
    }

    /** The URI's scheme; an unknown one is a usage error. */
    public static Scheme scheme(URI uri) {
        return known(uri.getScheme()).orElseThrow(() -> new UsageError("'" + uri + "' has the unknown scheme "
                + uri.getScheme() + "; use file://, oci://, s3://, gs:// or azblob://"));
    }

    static Optional<Scheme> known(String scheme) {
        return Optional.ofNullable(switch (scheme) {
            case "file" -> new Scheme(FileStore.EXPIRY, false, (uri, insecure, stallTimeout, environment, log) -> FileStore.target(uri));
            case "oci" -> new Scheme(OciStore.EXPIRY, true, OciStore::target);
            case "s3" -> new Scheme(S3Store.EXPIRY, false,
                    (uri, insecure, stallTimeout, environment, log) -> S3Store.target(uri, stallTimeout, environment, log));
            case "gs" -> new Scheme(GcsStore.EXPIRY, false,
                    (uri, insecure, stallTimeout, environment, log) -> GcsStore.target(uri, stallTimeout, environment, log));
            case "azblob" -> new Scheme(AzureStore.EXPIRY, false,
                    (uri, insecure, stallTimeout, environment, log) -> AzureStore.target(uri, stallTimeout, environment, log));
            default -> null;
        });
    }
}

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * A --source or --target: a URI whose {{hash}} is replaced by the cache key, for example
 * {@code oci://registry:5000/cache:{{hash}}} or {@code file:///var/cache/tekton/{{hash}}}.
 */
record StoreUri(String template) {

    static final String HASH = "{{hash}}";

    static StoreUri parse(String option, String text) {
        if (text == null || text.isBlank()) {
            throw new UsageError(option + " is empty");
        }
        var uri = new StoreUri(text.strip());
        uri.resolve("0"); // rejects a bad URI before any work is done
        return uri;
    }

    /** The store's default: a folder of archives in the user's cache directory. */
    static StoreUri localDefault(String xdgCacheHome, String home) {
        String base = xdgCacheHome != null && !xdgCacheHome.isBlank() ? xdgCacheHome : home + "/.cache";
        String folder = Path.of(base, "tekton-caches").toAbsolutePath().toUri().toString();
        return new StoreUri(folder + (folder.endsWith("/") ? "" : "/") + HASH);
    }

    /** The location of the object for this key. */
    Location resolve(String key) {
        String text = template.replace(HASH, key);
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new UsageError("'" + template + "' is not a URI: " + e.getReason());
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new UsageError("'" + template + "' has no scheme; use file://, oci://, s3://, gs:// or azblob://");
        }
        return new Location(scheme, text, uri);
    }

    /** A resolved object location: the text is what messages show. */
    record Location(String scheme, String text, URI uri) {}
}

package lib.store;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import lib.common.Environment;
import lib.common.UsageError;
import lib.key.KeyTemplate;

/**
 * A --source or --target: a URI whose placeholders ({@link KeyTemplate}) are replaced when the key
 * is known, for example {@code oci://registry:5000/cache:maven-{{os}}-{{hash}}} or
 * {@code file:///var/cache/tekton/{{hash}}}. Its last segment (after the last '/', or the tag after
 * ':' for oci://) names the entry within its folder, bucket path or repository: restore keys are
 * prefixes of that name.
 */
public record StoreUri(String template, Environment environment) {

    public static final String HASH = "{{hash}}";

    public StoreUri(String template) {
        this(template, Environment.system());
    }

    public static StoreUri parse(String option, String text) {
        return parse(option, text, Environment.system());
    }

    public static StoreUri parse(String option, String text, Environment environment) {
        if (text == null || text.isBlank()) {
            throw new UsageError(option + " is empty");
        }
        var uri = new StoreUri(text.strip(), environment);
        uri.resolve("0"); // rejects a bad URI or placeholder before any work is done
        return uri;
    }

    /** The store's default: a folder of archives in the user's cache directory. */
    public static StoreUri localDefault(Environment environment) {
        String xdgCacheHome = environment.get("XDG_CACHE_HOME");
        String base = xdgCacheHome != null && !xdgCacheHome.isBlank() ? xdgCacheHome : environment.get("HOME") + "/.cache";
        String folder = Path.of(base, "tekton-caches").toAbsolutePath().toUri().toString();
        return new StoreUri(folder + (folder.endsWith("/") ? "" : "/") + HASH, environment);
    }

    /** The URI of the object for this key: what Stores and the store read, and what messages show. */
    public URI resolve(String key) {
        String text = KeyTemplate.expand(template, key, environment);
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new UsageError("'" + template + "' is not a URI: " + e.getReason());
        }
        if (uri.getScheme() == null) {
            throw new UsageError("'" + template + "' has no scheme; use file://, oci://, s3://, gs:// or azblob://");
        }
        return uri;
    }

    /**
     * The template of the entry's name: the last segment, without a query, or the tag in it where
     * the scheme's store names entries by tag. An unknown scheme is left for Stores.open to refuse.
     */
    public String nameTemplate() {
        String path = template.contains("?") ? template.substring(0, template.indexOf('?')) : template;
        String name = path.substring(path.lastIndexOf('/') + 1);
        String scheme = template.substring(0, Math.max(template.indexOf(':'), 0));
        boolean namedByTag = Stores.known(scheme).map(Stores.Scheme::namedByTag).orElse(false);
        return namedByTag ? name.substring(name.lastIndexOf(':') + 1) : name;
    }
}

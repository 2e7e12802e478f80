package lib.store;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import lib.common.Environment;
import lib.common.UsageError;

/**
 * An s3://, gs:// or azblob:// location read the way the Go tool's gocloud reads it: the bucket
 * (or container) is the host, the object's key is the path without its leading slash, and options
 * come from the URI's query and from BLOB_QUERY_PARAMS, which the Go tool appends to the URL (so
 * it starts with '?'). An option the store does not know is a usage error, not silently ignored.
 */
public record BlobUri(String scheme, String bucket, String key, Map<String, String> parameters) {

    /** How every blob store's old objects go, in the words a user asking for --max-age or --expires-after is told. */
    public static final Store.Expiry LIFECYCLE_RULES = new Store.Expiry(false, false, "the bucket's lifecycle rules");

    /** The metadata name under which every blob store records the archive's sha256. */
    public static final String SHA256_METADATA = "sha256";

    public static BlobUri parse(URI uri, Environment environment, Set<String> known) {
        String bucket = uri.getRawAuthority();
        String path = uri.getRawPath();
        if (bucket == null || bucket.isEmpty()) {
            throw new UsageError("'" + uri + "' names no bucket; write " + uri.getScheme() + "://BUCKET/path/{{hash}}");
        }
        if (path == null || path.length() <= 1 || path.endsWith("/")) {
            throw new UsageError("'" + uri + "' names no object; end it with a name such as {{hash}}");
        }
        var parameters = new LinkedHashMap<String, String>();
        String fromEnvironment = environment.get("BLOB_QUERY_PARAMS");
        read(uri.getRawQuery(), "'" + uri + "'", known, uri.getScheme(), parameters);
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            read(fromEnvironment.strip().replaceFirst("^[?&]", ""), "BLOB_QUERY_PARAMS", known, uri.getScheme(), parameters);
        }
        return new BlobUri(uri.getScheme(), decode(bucket), decode(path.substring(1)), Map.copyOf(parameters));
    }

    private static void read(String query, String where, Set<String> known, String scheme, Map<String, String> into) {
        if (query == null || query.isEmpty()) {
            return;
        }
        for (String pair : query.split("[&?]")) {
            if (pair.isEmpty()) {
                continue;
            }
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals));
            String value = equals < 0 ? "" : decode(pair.substring(equals + 1));
            if (!known.contains(name)) {
                throw new UsageError(where + ": '" + name + "' is not a parameter of " + scheme + ":// stores; known: "
                        + String.join(", ", new TreeSet<>(known)));
            }
            into.put(name, value);
        }
    }

    private static String decode(String text) {
        return URLDecoder.decode(text, StandardCharsets.UTF_8);
    }

    /** The value of a parameter, or null. */
    public String get(String name) {
        return parameters.get(name);
    }

    /** A true/false parameter (also 1/0, yes/no); absent is false. */
    public boolean flag(String name) {
        String value = parameters.get(name);
        if (value == null) {
            return false;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes", "" -> true;
            case "false", "0", "no" -> false;
            default -> throw new UsageError("parameter " + name + "=" + value + " is not true or false");
        };
    }

    /** "s3://bucket/key", as messages name the object. */
    public String describe() {
        return scheme + "://" + bucket + "/" + key;
    }
}

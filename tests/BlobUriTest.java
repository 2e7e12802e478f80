import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import lib.common.Environment;
import lib.common.UsageError;
import lib.store.BlobUri;
import lib.store.StoreUri;
import org.junit.jupiter.api.Test;

/** Blob URIs and their options, read as the Go tool's gocloud reads them. */
class BlobUriTest {

    private static final Set<String> KNOWN = Set.of("region", "endpoint", "use_path_style", "s3ForcePathStyle");

    private static BlobUri parse(String text, String blobQueryParams) {
        var env = blobQueryParams == null ? Map.<String, String>of() : Map.of("BLOB_QUERY_PARAMS", blobQueryParams);
        return BlobUri.parse(new StoreUri(text).resolve("abc123"), new Environment(env), KNOWN);
    }

    @Test
    void theBucketIsTheHostAndTheKeyThePathWithoutItsSlash() {
        var uri = parse("s3://my-bucket/caches/maven/{{hash}}", null);
        assertEquals("my-bucket", uri.bucket());
        assertEquals("caches/maven/abc123", uri.key());
        assertEquals("s3://my-bucket/caches/maven/abc123", uri.describe());
    }

    @Test
    void optionsComeFromTheQueryAndFromBlobQueryParamsAppendedTheGoWay() {
        var uri = parse("s3://b/{{hash}}?region=eu-west-1", "?endpoint=http%3A%2F%2F127.0.0.1%3A9000&use_path_style=true");
        assertEquals("eu-west-1", uri.get("region"));
        assertEquals("http://127.0.0.1:9000", uri.get("endpoint"));
        assertTrue(uri.flag("use_path_style"));
        assertFalse(uri.flag("s3ForcePathStyle"));
    }

    @Test
    void anUnknownOptionIsAUsageErrorNamingItAndTheKnownOnes() {
        var e = assertThrows(UsageError.class, () -> parse("s3://b/{{hash}}", "?regoin=x"));
        assertTrue(e.getMessage().contains("'regoin' is not a parameter of s3:// stores"), e.getMessage());
        assertTrue(e.getMessage().contains("region"), e.getMessage());
    }

    @Test
    void aMissingBucketOrObjectNameIsAUsageError() {
        assertThrows(UsageError.class, () -> parse("s3:///{{hash}}", null));
        assertThrows(UsageError.class, () -> parse("s3://bucket/", null));
        assertThrows(UsageError.class, () -> parse("s3://b/{{hash}}?use_path_style=maybe", null).flag("use_path_style"));
    }
}

//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.trust;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.util.Map;

/**
 * A JSON object read as Go's encoding/json reads what it signed or encrypted, only stricter: a key
 * twice, or anything after the object, is refused (the bytes a signature covers must mean one
 * thing). Refusals never quote the text: Jackson's own messages quote the token they stopped at.
 */
final class StrictJson {

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final JSON READER = JSON.std.with(JSON.Feature.FAIL_ON_DUPLICATE_MAP_KEYS);

    /** The text is not one JSON object. */
    static final class NotJson extends Exception {
        NotJson() {
            super("not one JSON object");
        }
    }

    private StrictJson() {}

    static Map<String, Object> object(byte[] text) throws NotJson {
        try (JsonParser parser = FACTORY.createParser(text)) {
            Map<String, Object> object = READER.mapFrom(parser);
            if (object == null || parser.nextToken() != null) {
                throw new NotJson();
            }
            return object;
        } catch (IOException | RuntimeException e) {
            throw new NotJson();
        }
    }

    /** The member that must be an object. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> member(Map<String, Object> object, String name) {
        return object.get(name) instanceof Map<?, ?> member ? (Map<String, Object>) member : null;
    }
}

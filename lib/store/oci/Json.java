//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.store.oci;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.util.Map;

/**
 * A JSON object read from a config file, a credential helper or a registry, refused in words that
 * never quote the text: Jackson's own message quotes the token it stopped at ("Unrecognized token
 * 'Hunter2Secret'"), which in a config.json, a helper's answer or a token service's answer is a
 * password or a token. The refusal says where (line and column), and carries no Jackson exception
 * for --verbose to print.
 */
final class Json {

    /** The text is not a JSON object; the message says what and where, never the text. */
    static final class NotJson extends IOException {
        NotJson(String message) {
            super(message);
        }
    }

    private Json() {}

    /** The object the bytes hold; what names them in the refusal ("the answer of ..."). */
    static Map<String, Object> object(byte[] text, String what) throws NotJson {
        try {
            return JSON.std.mapFrom(text);
        } catch (JsonProcessingException e) {
            throw new NotJson(what + " is not a JSON object" + where(e.getLocation()));
        } catch (IOException e) {
            throw new NotJson(what + " is not a JSON object");
        }
    }

    private static String where(JsonLocation location) {
        return location == null || location.getLineNr() < 1 ? ""
                : " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
    }
}

package lib.key;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import lib.common.Environment;
import lib.common.Platform;
import lib.common.UsageError;

/**
 * The placeholders a URI or a restore key may hold: {@code {{hash}}} (the key computed from the
 * lock files), {@code {{os}}} and {@code {{arch}}} (Go's names, e.g. linux and amd64) and
 * {@code {{env:NAME}}} (a variable's value). So {@code maven-{{os}}-{{hash}}} keeps one OS's cache
 * from restoring on another, and the restore key {@code maven-{{os}}-} finds the newest of them.
 */
public final class KeyTemplate {

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{([^{}]*)\\}\\}");
    // What every store takes in a name: an OCI tag's alphabet.
    private static final Pattern SAFE_VALUE = Pattern.compile("[A-Za-z0-9_.-]*");

    private KeyTemplate() {}

    /** The text with its placeholders replaced; an unknown placeholder or an unset variable is a usage error. */
    public static String expand(String text, String hash, Environment environment) {
        Matcher placeholders = PLACEHOLDER.matcher(text);
        var expanded = new StringBuilder();
        while (placeholders.find()) {
            placeholders.appendReplacement(expanded, Matcher.quoteReplacement(value(placeholders.group(1), hash, environment, text)));
        }
        placeholders.appendTail(expanded);
        return expanded.toString();
    }

    private static String value(String placeholder, String hash, Environment environment, String text) {
        if (placeholder.startsWith("env:")) {
            String name = placeholder.substring("env:".length());
            String value = environment.get(name);
            if (value == null) {
                throw new UsageError("'" + text + "' names {{env:" + name + "}}, but " + name + " is not set");
            }
            if (!SAFE_VALUE.matcher(value).matches()) {
                throw new UsageError("{{env:" + name + "}} is '" + value + "'; a cache key takes only letters, digits, '_', '.' and '-'");
            }
            return value;
        }
        return switch (placeholder) {
            case "hash" -> hash;
            case "os" -> Platform.os();
            case "arch" -> Platform.arch();
            default -> throw new UsageError("'" + text + "' holds the unknown placeholder {{" + placeholder
                    + "}}; use {{hash}}, {{os}}, {{arch}} or {{env:NAME}}");
        };
    }
}

package lib.common;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/** Sizes as a user writes them, 500M or 5Gi: units as Kubernetes quantities have them, an optional B after. */
public final class Sizes {

    private static final Pattern SIZE = Pattern.compile("([0-9]{1,15}(?:\\.[0-9]{1,9})?) ?([kmgt]i?)?b?");
    private static final Map<String, Long> UNITS = Map.of("k", 1_000L, "m", 1_000_000L, "g", 1_000_000_000L,
            "t", 1_000_000_000_000L, "ki", 1L << 10, "mi", 1L << 20, "gi", 1L << 30, "ti", 1L << 40);

    private Sizes() {}

    /** The bytes text names, for option; a usage error naming it when text is no size. */
    public static long parse(String option, String text) {
        var matcher = SIZE.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!matcher.matches()) {
            throw new UsageError(option + " " + text + " is not a size such as 500M or 5G (K M G T: powers of 1000;"
                    + " Ki Mi Gi Ti: of 1024)");
        }
        long unit = matcher.group(2) == null ? 1 : UNITS.get(matcher.group(2));
        BigDecimal bytes = new BigDecimal(matcher.group(1)).multiply(BigDecimal.valueOf(unit));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new UsageError(option + " " + text + " is more bytes than can be counted");
        }
        return bytes.longValue();
    }
}

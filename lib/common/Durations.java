package lib.common;

import java.time.Duration;
import java.util.regex.Pattern;

/** Ages as Quay's quay.expires-after label writes them: a count and a unit, 30s, 90m, 12h, 7d or 2w. */
public final class Durations {

    private static final Pattern AGE = Pattern.compile("([1-9][0-9]{0,5})([smhdw])");

    private Durations() {}

    /** The duration the text gives; anything else is a usage error naming the option. */
    public static Duration parse(String option, String text) {
        var matcher = AGE.matcher(text.strip());
        if (!matcher.matches()) {
            throw new UsageError(option + " '" + text + "' is not an age such as 12h, 7d or 2w (units s, m, h, d, w)");
        }
        long count = Long.parseLong(matcher.group(1));
        return switch (matcher.group(2)) {
            case "s" -> Duration.ofSeconds(count);
            case "m" -> Duration.ofMinutes(count);
            case "h" -> Duration.ofHours(count);
            case "d" -> Duration.ofDays(count);
            default -> Duration.ofDays(7 * count);
        };
    }

    /** The duration the way parse reads it, in its largest whole unit: 14d, not 336h. */
    public static String text(Duration duration) {
        long seconds = duration.toSeconds();
        long[] units = {7 * 86400, 86400, 3600, 60, 1};
        String[] names = {"w", "d", "h", "m", "s"};
        for (int i = 0; i < units.length; i++) {
            if (seconds % units[i] == 0) {
                return seconds / units[i] + names[i];
            }
        }
        throw new AssertionError("every whole number of seconds is a multiple of 1");
    }
}

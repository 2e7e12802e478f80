package lib.common;

import java.io.PrintStream;
import java.util.Locale;

/** Messages for the person reading stderr; stdout stays free for what a machine reads. */
public final class Log {
    private final PrintStream err;
    private final boolean verbose;

    public Log(PrintStream err, boolean verbose) {
        this.err = err;
        this.verbose = verbose;
    }

    boolean verbose() {
        return verbose;
    }

    public void info(String message) {
        err.println(oneLine(message));
    }

    public void debug(String message) {
        if (verbose) {
            err.println(oneLine(message));
        }
    }

    /**
     * The message as one line: a control character in it (a line break, a carriage return, an
     * escape sequence's ESC, C1's NEL), which a name in a crafted archive may hold, is shown as '?',
     * so that no line is forged and no terminal is driven; so are the characters that end a line or
     * reorder one where UTF-8 is shown (the line and paragraph separators, and the bidi controls,
     * with which a name can show its end first).
     */
    public static String oneLine(String message) {
        StringBuilder line = null;
        for (int i = 0; i < message.length(); i++) {
            if (unprintable(message.charAt(i))) {
                if (line == null) {
                    line = new StringBuilder(message);
                }
                line.setCharAt(i, '?');
            }
        }
        return line == null ? message : line.toString();
    }

    /** C0, DEL and C1; U+2028 and U+2029; Unicode's Bidi_Control characters. */
    private static boolean unprintable(char c) {
        return Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || c == '\u061C' || c == '\u200E'
                || c == '\u200F' || c >= '\u202A' && c <= '\u202E' || c >= '\u2066' && c <= '\u2069';
    }

    /** "1 file", "2,887 files". */
    public static String count(long n, String noun) {
        return String.format(Locale.ROOT, "%,d %s%s", n, noun, n == 1 ? "" : "s");
    }

    /** "30,003 files, 11,107 folders, 4 links": what an archive or a restore held. */
    public static String entries(long files, long folders, long links) {
        return count(files, "file") + ", " + count(folders, "folder") + ", " + count(links, "link");
    }

    /** "426.3 MB", "12.0 kB", "512 B": decimal units, as transfer rates are quoted. */
    public static String bytes(long n) {
        if (n < 1000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double value = n;
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    /** Seconds with one decimal and the rate, "in 1.5 s (284.0 MB/s)". */
    public static String timing(long bytes, long nanos) {
        double seconds = nanos / 1e9;
        String rate = seconds > 0 ? bytes((long) (bytes / seconds)) + "/s" : "-";
        return String.format(Locale.ROOT, "in %.1f s (%s)", seconds, rate);
    }
}

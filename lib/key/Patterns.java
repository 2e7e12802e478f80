package lib.key;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import lib.common.UsageError;

/**
 * File patterns with .dockerignore rules, relative to the working dir: {@code *} and {@code ?}
 * stay within one path segment, {@code **} spans any number of segments, {@code [a-z]} is a
 * class, {@code \} escapes, a leading {@code !} excludes, the last matching pattern wins, and a
 * pattern that matches a directory matches everything below it.
 */
public record Patterns(List<Rule> rules) {

    /**
     * One pattern. The regex matches whole relative paths; segments holds one regex per path
     * segment (null for a segment with "**"), used to rule out directories no match can lie in.
     */
    record Rule(String text, boolean exclude, Pattern regex, List<Pattern> segments) {}

    public static Patterns parse(List<String> texts) {
        return parse("--pattern", texts);
    }

    /** The patterns of option (--pattern, --exclude), which its errors name. */
    public static Patterns parse(String option, List<String> texts) {
        var rules = new ArrayList<Rule>();
        for (String raw : texts) {
            String text = raw.strip();
            boolean exclude = text.startsWith("!");
            if (exclude) {
                text = text.substring(1).strip();
            }
            String cleaned = clean(option, text);
            if (cleaned.isEmpty()) {
                throw new UsageError(option + " '" + raw + "' matches nothing: it is empty");
            }
            rules.add(new Rule(raw, exclude, Pattern.compile(toRegex(option, cleaned, raw)), segments(option, cleaned, raw)));
        }
        return new Patterns(List.copyOf(rules));
    }

    /** The patterns as the user wrote them, for messages. */
    String describe() {
        return String.join(" ", rules.stream().map(r -> "'" + r.text() + "'").toList());
    }

    /** Whether the file at this relative path (segments joined by '/') is selected. */
    public boolean selects(String relativePath) {
        boolean selected = false;
        for (Rule rule : rules) {
            if (matchesOrParentMatches(rule.regex, relativePath)) {
                selected = !rule.exclude;
            }
        }
        return selected;
    }

    /**
     * Whether a walk must enter this directory: some inclusion pattern could select a file below
     * it, and no exclusion that covers it is followed by an inclusion that could undo it.
     */
    public boolean maySelectBelow(String relativeDir) {
        boolean reachable = false;
        for (Rule rule : rules) {
            if (rule.exclude) {
                if (matchesOrParentMatches(rule.regex, relativeDir)) {
                    reachable = false;
                }
            } else if (matchesOrParentMatches(rule.regex, relativeDir) || onTheWay(rule.segments, relativeDir)) {
                reachable = true;
            }
        }
        return reachable;
    }

    private static boolean matchesOrParentMatches(Pattern regex, String path) {
        if (regex.matcher(path).matches()) {
            return true;
        }
        for (int slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
            if (regex.matcher(path.substring(0, slash)).matches()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a file matching the pattern could lie below the directory: each of the directory's
     * segments matches the pattern's segment at its depth, and the pattern is deeper still (or a
     * "**" segment lets it be).
     */
    private static boolean onTheWay(List<Pattern> segments, String dir) {
        String[] names = dir.split("/");
        for (int i = 0; i < names.length; i++) {
            if (i >= segments.size() - 1) {
                return segments.get(segments.size() - 1) == null;
            }
            if (segments.get(i) == null) {
                return true;
            }
            if (!segments.get(i).matcher(names[i]).matches()) {
                return false;
            }
        }
        return true;
    }

    private static List<Pattern> segments(String option, String cleaned, String raw) {
        var segments = new ArrayList<Pattern>();
        for (String segment : cleaned.split("/")) {
            segments.add(segment.contains("**") ? null : Pattern.compile(toRegex(option, segment, raw)));
        }
        return segments;
    }

    /** Like Go's filepath.Clean on a relative pattern, with leading '/' and './' dropped. */
    private static String clean(String option, String text) {
        var segments = new ArrayList<String>();
        for (String segment : text.split("/+")) {
            if (segment.isEmpty() || segment.equals(".")) {
                continue;
            }
            if (segment.equals("..")) {
                if (segments.isEmpty() || segments.get(segments.size() - 1).equals("..")) {
                    throw new UsageError(option + " '" + text + "' leaves " + (option.equals("--pattern") ? "the working dir" : "the folder"));
                }
                segments.remove(segments.size() - 1);
            } else {
                segments.add(segment);
            }
        }
        return String.join("/", segments);
    }

    private static String toRegex(String option, String pattern, String raw) {
        var regex = new StringBuilder("^");
        int n = pattern.length();
        for (int i = 0; i < n; i++) {
            char c = pattern.charAt(i);
            switch (c) {
                case '*' -> {
                    if (i + 1 < n && pattern.charAt(i + 1) == '*') {
                        i++;
                        if (i + 1 == n) {
                            regex.append(".*");
                        } else if (pattern.charAt(i + 1) == '/') {
                            i++;
                            regex.append("(?:.*/)?");
                        } else {
                            regex.append(".*");
                        }
                    } else {
                        regex.append("[^/]*");
                    }
                }
                case '?' -> regex.append("[^/]");
                case '\\' -> {
                    if (i + 1 == n) {
                        throw new UsageError(option + " '" + raw + "' ends with a lone backslash");
                    }
                    regex.append(Pattern.quote(String.valueOf(pattern.charAt(++i))));
                }
                case '[' -> {
                    int close = pattern.indexOf(']', i + 2);
                    if (close < 0) {
                        throw new UsageError(option + " '" + raw + "' has an unclosed '['");
                    }
                    String body = pattern.substring(i + 1, close);
                    if (body.startsWith("^") || body.startsWith("!")) {
                        body = "^" + body.substring(1);
                    }
                    regex.append('[').append(body.replace("[", "\\[")).append(']');
                    i = close;
                }
                default -> regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return regex.append('$').toString();
    }
}

package lib.common;

import java.util.Map;

/** The process environment, passed in rather than read from a static, so that tests can give their own. */
public record Environment(Map<String, String> variables) {

    public static Environment system() {
        return new Environment(System.getenv());
    }

    public String get(String name) {
        return variables.get(name);
    }
}

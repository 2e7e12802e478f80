import java.util.Map;

/** The process environment, passed in rather than read from a static, so that tests can give their own. */
record Environment(Map<String, String> variables) {

    static Environment system() {
        return new Environment(System.getenv());
    }

    String get(String name) {
        return variables.get(name);
    }
}

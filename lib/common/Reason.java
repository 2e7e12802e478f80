package lib.common;

/** The words a failure is reported in, one line. */
public final class Reason {

    private Reason() {}

    /** The exception's own words, with the class only when it says nothing else. */
    public static String of(Throwable e) {
        String message = e.getMessage();
        String kind = e.getClass().getSimpleName();
        if (message == null || message.isBlank()) {
            return kind;
        }
        if (e instanceof java.nio.file.FileSystemException) {
            return kind.replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase() + ": " + message;
        }
        return message;
    }
}

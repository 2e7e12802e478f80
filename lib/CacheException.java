/** A failure the user can act on: it carries the exit status and a one-line message. */
abstract class CacheException extends RuntimeException {
    CacheException(String message, Throwable cause) {
        super(message, cause);
    }

    abstract int exitStatus();
}

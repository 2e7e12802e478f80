package lib.common;

/** A failure the user can act on: it carries the exit status and a one-line message. */
public abstract class CacheException extends RuntimeException {
    CacheException(String message, Throwable cause) {
        super(message, cause);
    }

    public abstract int exitStatus();
}

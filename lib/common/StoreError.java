package lib.common;

/** Reading or writing the store, the archive or the folder failed: exit 3, nothing lost. */
public final class StoreError extends CacheException {
    public StoreError(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public int exitStatus() {
        return ExitStatus.STORE;
    }
}

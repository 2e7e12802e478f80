/** Reading or writing the store, the archive or the folder failed: exit 3, nothing lost. */
final class StoreError extends CacheException {
    StoreError(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    int exitStatus() {
        return ExitStatus.STORE;
    }
}

/** No cache object exists for the key: exit 1, the folder untouched. */
final class CacheMiss extends CacheException {
    CacheMiss(String message) {
        super(message, null);
    }

    @Override
    int exitStatus() {
        return ExitStatus.MISS;
    }
}

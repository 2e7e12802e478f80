package lib.common;

/** No cache object exists for the key: exit 1, the folder untouched. */
public final class CacheMiss extends CacheException {
    public CacheMiss(String message) {
        super(message, null);
    }

    @Override
    public int exitStatus() {
        return ExitStatus.MISS;
    }
}

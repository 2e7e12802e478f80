package lib.common;

/** The command line or the environment asks for something impossible: exit 2. */
public final class UsageError extends CacheException {
    public UsageError(String message) {
        super(message, null);
    }

    @Override
    public int exitStatus() {
        return ExitStatus.USAGE;
    }
}

/** The command line or the environment asks for something impossible: exit 2. */
final class UsageError extends CacheException {
    UsageError(String message) {
        super(message, null);
    }

    @Override
    int exitStatus() {
        return ExitStatus.USAGE;
    }
}

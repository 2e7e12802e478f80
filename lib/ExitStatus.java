/** The documented exit statuses of cache-fetch and cache-upload. */
final class ExitStatus {
    static final int OK = 0;
    static final int MISS = 1;
    static final int USAGE = 2;
    static final int STORE = 3;

    private ExitStatus() {}
}

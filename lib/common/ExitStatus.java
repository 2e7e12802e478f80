package lib.common;

/** The documented exit statuses of cache-fetch and cache-upload. */
public final class ExitStatus {
    public static final int OK = 0;
    public static final int MISS = 1;
    public static final int USAGE = 2;
    public static final int STORE = 3;

    private ExitStatus() {}
}

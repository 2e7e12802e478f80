package lib.store;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import lib.common.BulkInputStream;
import lib.common.DaemonThreads;
import lib.common.Futures;
import lib.common.Log;

/**
 * A stored object read as a stream, its pieces fetched by several ranged requests at once. One
 * connection to a bucket carries a few tens of MB/s however fast the network (actions/toolkit
 * measured one 320 MB object at 54 MB/s as one stream and 143 MB/s with 8 ranged GETs), so a big
 * object comes down PARALLEL pieces at a time, each into memory, and is read in order. Each piece
 * is a ResumingDownload of its own range: a dropped connection goes on from where it stopped.
 * Memory: PARALLEL + 1 buffers of PIECE bytes, made once and filled again: the pieces under way,
 * and the one being read.
 */
public final class RangedDownload extends BulkInputStream {

    /** Opens the object's bytes from position, length of them (-1: to its end). */
    public interface RangeOpener {
        InputStream open(long position, long length) throws IOException;
    }

    /** An object shorter than this (from where it is read) is read as one stream. */
    public static final long WORTH_IT = 32 << 20;
    static final int PIECE = 8 << 20;
    public static final int PARALLEL = 4;

    private final RangeOpener opener;
    private final long end;
    private final String what;
    private final Log log;
    private final ExecutorService fetchers;
    /** The pieces asked for, in order: each its buffer, filled on a fetcher's thread. */
    private final ArrayDeque<Piece> pieces = new ArrayDeque<>();
    /** Buffers of PIECE bytes given back by the reader, for the next pieces: no piece allocates its own. */
    private final ArrayDeque<byte[]> free = new ArrayDeque<>();
    private long requested;
    private Piece piece;
    private int at;
    private int length;

    private record Piece(byte[] buffer, int size, Future<?> fetched) {}

    /** The object's bytes from start to its size, which must be known. */
    public RangedDownload(RangeOpener opener, long start, long size, String what, Log log) {
        this.opener = opener;
        this.end = size;
        this.what = what;
        this.log = log;
        this.requested = start;
        this.fetchers = Executors.newFixedThreadPool(PARALLEL, DaemonThreads.named("ranged-get"));
        fetchAhead();
    }

    /**
     * The object read from start, in pieces when what is left is long enough to be worth it; size
     * -1 when unknown, and then as one stream whose opener is asked for a length of -1.
     */
    public static InputStream of(RangeOpener opener, long start, long size, String what, Log log) throws IOException {
        if (size < 0 || size - start < WORTH_IT) {
            return new ResumingDownload(position -> opener.open(position, size < 0 ? -1 : size - position), start, size, what, log);
        }
        return new RangedDownload(opener, start, size, what, log);
    }

    private void fetchAhead() {
        while (pieces.size() < PARALLEL && requested < end) {
            long from = requested;
            int size = (int) Math.min(PIECE, end - from);
            byte[] buffer = free.isEmpty() ? new byte[PIECE] : free.pop();
            pieces.add(new Piece(buffer, size, fetchers.submit(() -> {
                try (var in = new ResumingDownload(position -> opener.open(position, from + size - position), from,
                        from + size, what, log)) {
                    in.readNBytes(buffer, 0, size); // all of them, or the ResumingDownload's failure
                }
                return null;
            })));
            requested += size;
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (piece == null || at == length) {
            if (piece != null) {
                free.push(piece.buffer());
                piece = null;
            }
            if (pieces.isEmpty()) {
                return -1;
            }
            Piece next = pieces.poll();
            Futures.await(next.fetched(), "reading " + what);
            piece = next;
            at = 0;
            length = next.size();
            fetchAhead();
        }
        int n = Math.min(len, length - at);
        System.arraycopy(piece.buffer(), at, b, off, n);
        at += n;
        return n;
    }

    @Override
    public void close() {
        fetchers.shutdownNow();
        pieces.clear();
    }
}

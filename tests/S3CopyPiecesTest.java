import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import lib.store.s3.S3MultipartUpload;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A run of reused groups is copied on S3's side in parts of at most 1 GiB, and S3 refuses a part
 * under 5 MiB that is not the last: a run of 1 GiB and 1 MiB must not be cut into 1 GiB and 1 MiB.
 */
class S3CopyPiecesTest {

    private static final long MiB = 1 << 20;
    private static final long GiB = 1L << 30;

    @ParameterizedTest
    @ValueSource(longs = {5 * MiB, GiB - 1, GiB, GiB + 1, GiB + MiB, GiB + 4 * MiB, 2 * GiB + 1, 10 * GiB + 7})
    void piecesTileTheRunAndNoneIsUnder5MiBNorOver1GiB(long length) {
        long offset = 12_345;
        List<long[]> pieces = S3MultipartUpload.copyPieces(offset, length, GiB);
        assertEquals((length + GiB - 1) / GiB, pieces.size(), "as few pieces as can be");
        long at = offset;
        for (long[] piece : pieces) {
            assertEquals(at, piece[0], "each piece starts where the one before ends");
            long size = piece[1] - piece[0];
            assertTrue(size >= 5 * MiB && size <= GiB, "a piece of " + size + " bytes");
            at = piece[1];
        }
        assertEquals(offset + length, at, "the pieces end where the run does");
    }
}

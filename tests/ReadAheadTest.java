import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import lib.archive.ReadAhead;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ReadAhead hands on exactly the source's bytes, then its failure, and stops when closed early. */
class ReadAheadTest {

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new SplittableRandom(size).nextBytes(bytes);
        return bytes;
    }

    @ParameterizedTest(name = "{0} bytes through 1 KiB buffers")
    @ValueSource(ints = {0, 1, 1023, 1024, 1025, 6 * 1024, 100_000})
    void everyByteArrivesInOrder(int size) throws Exception {
        byte[] bytes = random(size);
        try (var ahead = new ReadAhead(new ByteArrayInputStream(bytes), 1024)) {
            assertArrayEquals(bytes, ahead.readAllBytes());
            assertEquals(-1, ahead.read());
        }
    }

    @Test
    void theSourcesFailureArrivesAfterTheBytesBeforeIt() throws Exception {
        var failure = new IOException("the store hung up");
        InputStream failing = new InputStream() {
            private int left = 5000;

            @Override
            public int read() throws IOException {
                if (left == 0) {
                    throw failure;
                }
                left--;
                return 'x';
            }
        };
        try (var ahead = new ReadAhead(failing, 1024)) {
            byte[] got = new byte[5000];
            assertEquals(5000, ahead.readNBytes(got, 0, 5000));
            assertSame(failure, assertThrows(IOException.class, ahead::read));
        }
    }

    @Test
    void closingEarlyStopsTheThreadAndClosesTheSource() throws Exception {
        var closed = new AtomicBoolean();
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                return 'y';
            }

            @Override
            public void close() {
                closed.set(true);
            }
        };
        var ahead = new ReadAhead(endless, 1024);
        assertEquals('y', ahead.read());
        ahead.close();
        assertTrue(closed.get(), "the source is closed once the thread has stopped");
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("read-ahead") && t.isAlive()));
    }
}

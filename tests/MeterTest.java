import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;
import lib.archive.Meter;
import lib.common.Digests;
import lib.common.Log;
import org.junit.jupiter.api.Test;

/** Progress on long transfers, and the digest check at the end of a read. */
class MeterTest {

    private final ByteArrayOutputStream messages = new ByteArrayOutputStream();
    private final Log log = new Log(new PrintStream(messages, true), false);
    private final AtomicLong clock = new AtomicLong();

    @Test
    void longTransferReportsSizeAndRateEveryFewSeconds() throws Exception {
        var meter = new Meter("uploading to file:///x", log, clock::get);
        try (OutputStream out = meter.watch(OutputStream.nullOutputStream())) {
            for (int second = 1; second <= 12; second++) {
                clock.set(second * 1_000_000_000L);
                out.write(new byte[1_000_000]);
            }
        }
        var lines = messages.toString().lines().toList();
        assertEquals(2, lines.size(), messages.toString());
        assertEquals("uploading to file:///x: 5.0 MB so far in 5.0 s (1.0 MB/s)", lines.get(0));
        assertEquals("uploading to file:///x: 10.0 MB so far in 10.0 s (1.0 MB/s)", lines.get(1));
    }

    @Test
    void shortTransferSaysNothing() throws Exception {
        var meter = new Meter("restoring", log, clock::get);
        meter.watch(new ByteArrayInputStream(new byte[100_000]), null).transferTo(OutputStream.nullOutputStream());
        assertEquals("", messages.toString());
        assertEquals(100_000, meter.bytes());
    }

    @Test
    void readingToTheEndChecksTheRecordedDigest() throws Exception {
        byte[] data = "archive bytes".getBytes();
        String right = Digests.hex(Digests.sha256().digest(data));
        String wrong = right.replace(right.charAt(0), right.charAt(0) == 'a' ? 'b' : 'a');

        InputStream good = new Meter("r", log, clock::get).watch(new ByteArrayInputStream(data), right);
        assertEquals(data.length, good.readAllBytes().length);
        InputStream bad = new Meter("r", log, clock::get).watch(new ByteArrayInputStream(data), wrong);
        var error = assertThrows(Meter.DigestMismatch.class, bad::readAllBytes);
        assertTrue(error.getMessage().contains(wrong), error.getMessage());
    }
}

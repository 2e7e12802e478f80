import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import lib.common.Sizes;
import lib.common.UsageError;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** --max-size's sizes: Kubernetes' units (K M G T of 1000, Ki Mi Gi Ti of 1024), any case, a B after or not. */
class SizesTest {

    @ParameterizedTest(name = "{0} is {1} bytes")
    @CsvSource(textBlock = """
            0,        0
            500,      500
            500M,     500000000
            500MB,    500000000
            5g,       5000000000
            1.5Gi,    1610612736
            2KiB,     2048
            7 mb,     7000000
            3T,       3000000000000
            """)
    void aSizeIsItsBytes(String text, long bytes) {
        assertEquals(bytes, Sizes.parse("--max-size", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "lots", "5X", "-1", "1e3", "5 G B", "9999999999999T"})
    void anythingElseIsAUsageErrorNamingTheOption(String text) {
        var e = assertThrows(UsageError.class, () -> Sizes.parse("--max-size", text));
        assertTrue(e.getMessage().startsWith("--max-size " + text + " is "), e.getMessage());
    }
}

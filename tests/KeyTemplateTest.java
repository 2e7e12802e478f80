import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import lib.common.Durations;
import lib.common.Environment;
import lib.common.UsageError;
import lib.key.KeyTemplate;
import lib.store.StoreUri;
import org.junit.jupiter.api.Test;

/** The placeholders of URIs and restore keys, and the ages --expires-after and --max-age take. */
class KeyTemplateTest {

    private static final Environment ENV = new Environment(Map.of("BRANCH", "release-1.2", "SLASHED", "feature/x"));

    /**
     * Go's GOARCH for the machine names uname -m prints, written out here rather than taken from
     * Platform, so that a wrong name there cannot also be the expected one.
     */
    private static final Map<String, String> GOARCH_OF_MACHINE = Map.of("x86_64", "amd64", "aarch64", "arm64",
            "arm64", "arm64", "i686", "386", "i386", "386", "ppc64le", "ppc64le", "s390x", "s390x", "riscv64", "riscv64");

    @Test
    void everyPlaceholderIsReplacedWhereverItStands() throws Exception {
        String os = uname("-s").toLowerCase(Locale.ROOT); // Linux, Darwin: Go's linux, darwin
        String arch = GOARCH_OF_MACHINE.get(uname("-m"));
        assertNotNull(arch, "uname -m says " + uname("-m") + ": add Go's name for it to the table");

        assertEquals("oci://r/c:go-" + os + "-" + arch + "-release-1.2-abc",
                KeyTemplate.expand("oci://r/c:go-{{os}}-{{arch}}-{{env:BRANCH}}-{{hash}}", "abc", ENV),
                "Go's names, which image configs and Tekton use");
        assertEquals("no placeholder {at} all", KeyTemplate.expand("no placeholder {at} all", "abc", ENV));
    }

    private static String uname(String option) throws Exception {
        var run = Fixtures.run(List.of("uname", option), Path.of("."), System.getenv());
        assertEquals(0, run.status(), run.toString());
        return run.out().strip();
    }

    @Test
    void anUnknownPlaceholderAnUnsetVariableOrAValueNoStoreTakesIsAUsageError() {
        var unknown = assertThrows(UsageError.class, () -> KeyTemplate.expand("x-{{branch}}", "abc", ENV));
        var unset = assertThrows(UsageError.class, () -> KeyTemplate.expand("x-{{env:NOPE}}", "abc", ENV));
        var slashed = assertThrows(UsageError.class, () -> KeyTemplate.expand("x-{{env:SLASHED}}", "abc", ENV));

        assertTrue(unknown.getMessage().contains("unknown placeholder {{branch}}"), unknown.getMessage());
        assertTrue(unset.getMessage().contains("NOPE is not set"), unset.getMessage());
        assertTrue(slashed.getMessage().contains("'feature/x'"), slashed.getMessage());
    }

    @Test
    void theLastSegmentOfAUriNamesTheEntry() {
        assertEquals("maven-{{hash}}", new StoreUri("oci://host:5000/a/b:maven-{{hash}}").nameTemplate());
        assertEquals("{{hash}}", new StoreUri("s3://bucket/path/{{hash}}?region=x&endpoint=http://h:1/").nameTemplate());
        assertEquals("cache.tar", new StoreUri("file:///var/{{hash}}/cache.tar").nameTemplate());
    }

    @Test
    void agesAreQuaysAndReadBackInTheirLargestUnit() {
        assertEquals(Duration.ofDays(14), Durations.parse("--max-age", "2w"));
        assertEquals(Duration.ofHours(36), Durations.parse("--max-age", " 36h "));
        assertEquals("2w", Durations.text(Duration.ofDays(14)));
        assertEquals("36h", Durations.text(Duration.ofHours(36)));
        assertEquals("90s", Durations.text(Duration.ofSeconds(90)));
        for (String bad : new String[] {"", "0d", "2 weeks", "7", "-1d", "1y"}) {
            var refused = assertThrows(UsageError.class, () -> Durations.parse("--max-age", bad), bad);
            assertTrue(refused.getMessage().startsWith("--max-age '" + bad + "' is not an age"), refused.getMessage());
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Memory does not grow with the cache: 2 GiB go up and come back through JVMs capped at 256 MiB of heap. */
class MemoryTest {

    @TempDir
    Path tmp;

    @Test
    void twoGibCacheRoundTripsWithTheHeapCappedAt256m() throws Exception {
        Path project = tmp.resolve("project");
        Map<String, String> env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.writeRandom(project.resolve("cache/one.bin"), 1536 * Fixtures.MiB, 1);
        Fixtures.writeRandom(project.resolve("cache/two.bin"), 512 * Fixtures.MiB + 1, 2);
        var capped = List.of("-Xmx256m");

        var uploaded = Fixtures.script(capped, "CacheUpload", project, env, "--pattern", "go.sum", "--folder", "cache");
        assertEquals(0, uploaded.status(), uploaded.toString());
        var fetched = Fixtures.script(capped, "CacheFetch", project, env, "--pattern", "go.sum", "--folder",
                tmp.resolve("restored").toString());
        assertEquals(0, fetched.status(), fetched.toString());

        for (String name : List.of("one.bin", "two.bin")) {
            assertEquals(Files.size(project.resolve("cache/" + name)), Files.size(tmp.resolve("restored/" + name)));
            assertEquals(Fixtures.sha256(project.resolve("cache/" + name)), Fixtures.sha256(tmp.resolve("restored/" + name)));
        }
    }
}

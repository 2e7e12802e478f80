import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * cache-upload's --compression METHOD:LEVEL and --max-size, through the script and the local store:
 * a higher level stores fewer bytes and restores the same tree; a folder over the size is not
 * saved, the run succeeding with size 0 and nothing written to the store.
 */
class CompressionLevelAndMaxSizeTest {

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    /** Text that compresses, in small files (compressed a group at a time) and one over GroupWriter.SMALL (streamed). */
    @BeforeEach
    void project() throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("go.mod"), "module example.com/levels\n");
        var random = new Random(7);
        String[] words = {"module", "version", "checksum", "require", "replace", "golang.org/x/", "github.com/", "v0.", "h1:"};
        for (int file = 0; file < 41; file++) {
            Path path = project.resolve(file == 0 ? "cache/large.txt" : "cache/small/" + file + ".txt");
            Files.createDirectories(path.getParent());
            int lines = file == 0 ? 140_000 : 300;
            try (BufferedWriter out = Files.newBufferedWriter(path, StandardCharsets.UTF_8)) {
                for (int line = 0; line < lines; line++) {
                    for (int word = 0; word < 5; word++) {
                        out.write(words[random.nextInt(words.length)]);
                        out.write(Integer.toString(random.nextInt(100_000), 36));
                        out.write(' ');
                    }
                    out.write('\n');
                }
            }
        }
    }

    private String store(String name) {
        return tmp.resolve(name).toUri() + "/{{hash}}";
    }

    /** The bytes the upload stored under name, after checking that a fetch restores the tree. */
    private long uploadAndFetch(String name, String... compression) throws Exception {
        var args = new java.util.ArrayList<>(java.util.List.of("--folder", "cache", "--target", store(name), "--results-dir",
                tmp.resolve(name + "-results").toString()));
        args.addAll(java.util.List.of(compression));
        var uploaded = Fixtures.upload(project, env, args.toArray(String[]::new));
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve(name + "-restored");
        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString(), "--source", store(name));
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("cache"), false), Fixtures.snapshot(restored, false), name);
        return Long.parseLong(Files.readString(tmp.resolve(name + "-results/size")));
    }

    @Test
    void aHigherLevelStoresFewerBytesAndRestoresTheSame() throws Exception {
        long zstd1 = uploadAndFetch("zstd-1", "--compression", "zstd:1");
        long zstd = uploadAndFetch("zstd-default");
        long zstd19 = uploadAndFetch("zstd-19", "--compression", "ZSTD:19");
        long gzip1 = uploadAndFetch("gzip-1", "--compression", "gzip:1");
        long gzip9 = uploadAndFetch("gzip-9", "--compression", "gzip:9");

        assertTrue(zstd19 < zstd && zstd < zstd1, "zstd:19 " + zstd19 + ", zstd " + zstd + ", zstd:1 " + zstd1);
        assertTrue(gzip9 < gzip1, "gzip:9 " + gzip9 + ", gzip:1 " + gzip1);
    }

    @Test
    void theStepActionsEnvironmentPicksTheLevelAndAnEmptyOneTheDefault() throws Exception {
        long zstd = uploadAndFetch("zstd-default");
        env.put("PARAM_COMPRESSION", "zstd:19");
        long fromEnvironment = uploadAndFetch("zstd-19-env");
        env.put("PARAM_COMPRESSION", "");
        long empty = uploadAndFetch("zstd-empty-env");

        assertTrue(fromEnvironment < zstd, "PARAM_COMPRESSION zstd:19 " + fromEnvironment + ", zstd " + zstd);
        assertEquals(zstd, empty, "an empty PARAM_COMPRESSION is the default");
    }

    @ParameterizedTest(name = "--compression {0}")
    @ValueSource(strings = {"zstd", "none"})
    void aFolderOverMaxSizeIsNotSavedAndTheRunSucceeds(String compression) throws Exception {
        long bytes = 0;
        try (var files = Files.walk(project.resolve("cache"))) {
            for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                bytes += Files.size(file);
            }
        }
        var refused = Fixtures.upload(project, env, "--folder", "cache", "--target", store(compression), "--compression",
                compression, "--max-size", Long.toString(bytes - 1), "--results-dir", tmp.resolve("refused").toString());

        assertEquals(0, refused.status(), refused.toString());
        assertTrue(refused.err().startsWith("not saved: the files of " + project.resolve("cache") + " hold "), refused.toString());
        assertEquals(1, refused.err().lines().count(), refused.toString());
        assertEquals("0", Files.readString(tmp.resolve("refused/size")));
        assertTrue(Files.readString(tmp.resolve("refused/cache-key")).matches("[0-9a-f]{64}"));
        assertFalse(Files.exists(tmp.resolve(compression)) && Files.list(tmp.resolve(compression)).findAny().isPresent(),
                "nothing written to the store");

        var env = new HashMap<>(this.env);
        env.put("PARAM_MAX_SIZE", Long.toString(bytes));
        var saved = Fixtures.upload(project, env, "--folder", "cache", "--target", store(compression), "--compression",
                compression, "--results-dir", tmp.resolve("saved").toString());

        assertEquals(0, saved.status(), saved.toString());
        assertTrue(saved.err().startsWith("uploaded "), saved.toString());
        assertTrue(Files.exists(tmp.resolve(compression).resolve(Files.readString(tmp.resolve("saved/cache-key")))));
    }
}

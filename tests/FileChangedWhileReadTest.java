import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file a build is still writing while cache-upload archives it (GNU tar's "file changed as we
 * read it"): the upload fails in one line with exit 3 and the store keeps exactly what it held,
 * rather than storing a jar cut short or half rewritten.
 */
class FileChangedWhileReadTest {

    private static final FileTime WRITTEN_LONG_AGO = FileTime.from(Instant.parse("2001-09-09T01:46:40Z"));

    @TempDir
    Path tmp;

    private Path project;
    private Path jar;
    private Map<String, String> env;
    private String target;

    @BeforeEach
    void storeAnEarlierEntry() throws Exception {
        project = tmp.resolve("project");
        jar = project.resolve("cache/lib/app.jar");
        env = Fixtures.env(tmp.resolve("xdg"));
        target = tmp.resolve("store").toUri() + "/{{hash}}";
        Fixtures.write(project.resolve("go.sum"), "lock v1\n");
        Fixtures.writeRandom(jar, 3 * Fixtures.MiB, 11);
        // Long ago, so that any write now gives it another mtime whatever the clock's granularity.
        Files.setLastModifiedTime(jar, WRITTEN_LONG_AGO);
        var earlier = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "cache", "--target", target);
        assertEquals(ExitStatus.OK, earlier.status(), earlier.toString());
        Fixtures.write(project.resolve("go.sum"), "lock v2\n"); // a new key: the next upload writes a new entry
    }

    @Test
    void aFileThatGrowsWhileItIsReadFailsTheUploadAndTheStoreKeepsWhatItHeld() throws Exception {
        var before = Fixtures.snapshot(tmp.resolve("store"), false);

        var run = uploadChangingTheJarAsItIsRead(() -> {
            Files.write(jar, new byte[] {'m', 'o', 'r', 'e'}, StandardOpenOption.APPEND);
            // A writer that keeps the mtime (cp -p, an unzip), so that only the size tells.
            Files.setLastModifiedTime(jar, WRITTEN_LONG_AGO);
        });

        assertFailsInOneLine(run);
        assertEquals(before, Fixtures.snapshot(tmp.resolve("store"), false), "the store holds the earlier entry alone");
    }

    @Test
    void aFileRewrittenInPlaceWhileItIsReadFailsTheUpload() throws Exception {
        var before = Fixtures.snapshot(tmp.resolve("store"), false);

        var run = uploadChangingTheJarAsItIsRead(() -> {
            // Same size, other bytes: only the mtime tells.
            try (FileChannel out = FileChannel.open(jar, StandardOpenOption.WRITE)) {
                out.write(ByteBuffer.wrap("rewritten".getBytes()), 0);
            }
        });

        assertFailsInOneLine(run);
        assertEquals(3 * Fixtures.MiB, Files.size(jar));
        assertEquals(before, Fixtures.snapshot(tmp.resolve("store"), false), "the store holds the earlier entry alone");
    }

    private static void assertFailsInOneLine(Fixtures.Run run) {
        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().startsWith("cache-upload: uploading "), run.err());
        assertTrue(run.err().contains("lib/app.jar changed while it was read (3145728 bytes"), run.err());
    }

    /**
     * Runs cache-upload stopped where Archive starts reading the jar's content (the folder's only
     * file), after the walk's lstat and the jar's header; changes the jar; then lets it run on.
     */
    private Fixtures.Run uploadChangingTheJarAsItIsRead(StoppedScript.Action change) throws Exception {
        return StoppedScript.run("lib.archive.Archive$TarWriter", "copyContent", change, "CacheUpload", project, env,
                "--pattern", "go.sum", "--folder", "cache", "--target", target);
    }
}

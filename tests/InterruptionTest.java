import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import lib.common.ExitStatus;
import lib.store.TemporaryName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads and restores that stop half way, killed or out of disk: the earlier cache object stays
 * intact and restorable, and the folder keeps what it had.
 */
class InterruptionTest {

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;
    private final List<Path> mounts = new ArrayList<>();

    @BeforeEach
    void uploadAFirstVersion() throws Exception {
        project = tmp.resolve("project");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        Fixtures.write(project.resolve("cache/version.txt"), "first upload\n");
    }

    @AfterEach
    void unmount() throws Exception {
        for (Path mount : mounts) {
            Fixtures.run(List.of("umount", mount.toString()), tmp, env);
        }
    }

    private Fixtures.Run upload(String... extra) throws Exception {
        var args = new ArrayList<>(List.of("--pattern", "go.sum", "--folder", "cache", "--results-dir",
                tmp.resolve("results").toString()));
        args.addAll(List.of(extra));
        return Fixtures.upload(project, env, args.toArray(String[]::new));
    }

    private void assertFirstVersionStillRestores() throws Exception {
        Path checkout = tmp.resolve("checkout-" + System.nanoTime());
        Fixtures.write(checkout.resolve("go.sum"), "lock\n");
        var fetched = Fixtures.fetch(checkout, env, "--pattern", "go.sum", "--folder", "restored");
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("first upload\n", Files.readString(checkout.resolve("restored/version.txt")));
    }

    /** A small tmpfs, to run out of disk for real; skipped where this process may not mount. */
    private Path smallDisk(String name, String size) throws Exception {
        Path mount = Files.createDirectories(tmp.resolve(name));
        var run = Fixtures.run(List.of("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mount.toString()), tmp, env);
        assumeTrue(run.status() == 0, "cannot mount a tmpfs here: " + run.err());
        mounts.add(mount);
        return mount;
    }

    @Test
    void killedUploadLeavesNothingVisibleAndTheEarlierObjectIntact() throws Exception {
        assertEquals(0, upload().status());
        Path object = tmp.resolve("xdg/tekton-caches/" + Files.readString(tmp.resolve("results/cache-key")));
        String digestBefore = Fixtures.sha256(object);
        Fixtures.write(project.resolve("go.sum"), "lock, next version\n"); // a key of its own: a taken one is never written
        Fixtures.write(project.resolve("cache/version.txt"), "second upload, never finished\n");
        Fixtures.writeRandom(project.resolve("cache/big.bin"), 512 * Fixtures.MiB, 3);

        var command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "CacheUpload", "--pattern", "go.sum", "--folder", "cache",
                "--compression", "none"));
        var builder = new ProcessBuilder(command).directory(project.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("killed.log").toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process = builder.start();
        Path store = object.getParent();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && process.isAlive() && temporaryBytes(store) < 64 * Fixtures.MiB) {
            Thread.sleep(20);
        }
        assertTrue(process.isAlive(), "the upload ended before it could be killed: " + Files.readString(tmp.resolve("killed.log")));
        process.destroyForcibly().waitFor();

        assertEquals(digestBefore, Fixtures.sha256(object));
        try (var files = Files.list(store)) {
            assertEquals(List.of(object.getFileName().toString()), files.map(f -> f.getFileName().toString())
                    .filter(name -> !name.startsWith(TemporaryName.MARKER)).toList(), "the killed upload made an archive visible");
        }
        assertFirstVersionStillRestores();
    }

    private static long temporaryBytes(Path store) throws Exception {
        try (var files = Files.list(store)) {
            return files.filter(f -> f.getFileName().toString().startsWith(TemporaryName.MARKER)).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    @Test
    void uploadThatRunsOutOfDiskLeavesNothingBehindAndTheEarlierObjectIntact() throws Exception {
        Path disk = smallDisk("small-store", "6m");
        String target = disk.toUri() + "{{hash}}";
        var first = upload("--target", target);
        assertEquals(0, first.status(), first.toString());
        Path object = disk.resolve(Files.readString(tmp.resolve("results/cache-key")));
        String digestBefore = Fixtures.sha256(object);
        Fixtures.write(project.resolve("go.sum"), "lock, next version\n"); // a key of its own: a taken one is never written
        Fixtures.writeRandom(project.resolve("cache/big.bin"), 16 * Fixtures.MiB, 5);

        var second = upload("--target", target, "--compression", "none");

        assertEquals(ExitStatus.STORE, second.status(), second.toString());
        assertTrue(second.err().contains("No space left on device"), second.err());
        assertEquals(digestBefore, Fixtures.sha256(object));
        try (var files = Files.list(disk)) {
            assertEquals(List.of(object.getFileName().toString()), files.map(f -> f.getFileName().toString()).toList(),
                    "the failed upload left a temporary file");
        }
        Fixtures.write(project.resolve("go.sum"), "lock\n");
        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", tmp.resolve("r").toString(),
                "--source", target);
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("first upload\n", Files.readString(tmp.resolve("r/version.txt")));
    }

    @Test
    void restoreThatRunsOutOfDiskLeavesTheFolderIntact() throws Exception {
        Fixtures.writeRandom(project.resolve("cache/big.bin"), 16 * Fixtures.MiB, 9);
        assertEquals(0, upload().status());
        Path disk = smallDisk("small-folder", "8m");
        Fixtures.write(disk.resolve("version.txt"), "what the folder held\n");
        Fixtures.write(disk.resolve("other/kept.txt"), "kept\n");
        var before = Fixtures.snapshot(disk, true);

        var fetched = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", disk.toString());

        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        assertTrue(fetched.err().contains("No space left on device"), fetched.err());
        assertEquals(before, Fixtures.snapshot(disk, true));
    }
}

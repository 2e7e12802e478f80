import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import lib.archive.Compression;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores that fail, or could, for reasons of the folder's file system or the archive's sheer
 * size: a full disk, read-only folders, a million entries. Each ends as a whole restore or as
 * exit 3 in one line with the folder exactly as it was.
 */
class RestoreFailureTest {

    @TempDir
    Path tmp;

    private Path project;
    private Path folder;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        project = tmp.resolve("project");
        folder = project.resolve("cache");
        env = Fixtures.env(tmp.resolve("xdg"));
        Fixtures.write(project.resolve("go.sum"), "lock\n");
    }


    @Test
    void aHundredThousandFoldersRestoreInAHeapOf20MiB() throws Exception {
        // 100 folders of 1,000 folders each, 0.3 MB compressed. The restore's fixed memory is about
        // 13 MiB (the read-ahead's six 1 MiB buffers, the decompressor's, the copy's); each name it
        // held would add about 100 bytes, 10 MiB here, past the 20 MiB heap (and a million, 2.6 MB
        // compressed, past the scripts' 128 MiB): its memory must not grow with the entry count.
        // On a memory file system where there is one: 100,000 folders take minutes to create and
        // delete on a disk mounted with discard, and the disk is not what this test is about.
        Path memory = Files.isDirectory(Path.of("/dev/shm")) ? Files.createTempDirectory(Path.of("/dev/shm"), "restore-") : tmp;
        try {
            project = memory.resolve("project");
            folder = project.resolve("cache");
            Fixtures.write(project.resolve("go.sum"), "lock\n");
            Path object = CraftedTar.entryPath(project, folder, tmp.resolve("xdg"));
            Files.createDirectories(object.getParent());
            try (OutputStream out = new BufferedOutputStream(Compression.ZSTD.compress(Files.newOutputStream(object)), 1 << 20)) {
                for (int top = 0; top < 100; top++) {
                    String parent = String.format("d%03d/", top);
                    out.write(new CraftedTar().header(parent, '5', 0).bytes());
                    for (int below = 0; below < 1000; below++) {
                        out.write(new CraftedTar().header(parent + String.format("%03d/", below), '5', 0).bytes());
                    }
                }
                out.write(new CraftedTar().end());
            }

            long started = System.nanoTime();
            var run = Fixtures.script(List.of("-Xmx20m", "-XX:+UseSerialGC"), "CacheFetch", project, env, "--pattern",
                    "go.sum", "--folder", "cache");
            double seconds = (System.nanoTime() - started) / 1e9;

            assertEquals(0, run.status(), run.toString());
            assertTrue(run.err().contains("0 files, 100,100 folders"), run.err());
            assertTrue(Files.isDirectory(folder.resolve("d099/999")));
            try (var top = Files.list(folder)) {
                assertEquals(100, top.count(), "no staging folder left");
            }
            assertTrue(seconds < 120, "restored in " + seconds + " s");
        } finally {
            if (!memory.equals(tmp)) {
                Fixtures.run(List.of("rm", "-rf", memory.toString()), tmp, env);
            }
        }
    }

    @Test
    void aUserRestoresIntoReadOnlyFoldersItOwnsAndTheirModesStay() throws Exception {
        // Go's module cache leaves every folder r-x: a restore must still merge into them.
        Path module = folder.resolve("mod/example.com/lib@v1.0.0");
        Fixtures.write(module.resolve("old.go"), "package lib // from last week\n");
        Fixtures.write(module.resolve("replaced.go"), "package lib // stale\n");
        Files.setPosixFilePermissions(module, PosixFilePermissions.fromString("r-xr-xr-x"));
        Files.setPosixFilePermissions(module.getParent(), PosixFilePermissions.fromString("r-xr-xr-x"));
        CraftedTar.store(new CraftedTar().file("mod/example.com/lib@v1.0.0/new.go", "package lib // new\n")
                .file("mod/example.com/lib@v1.0.0/replaced.go", "package lib // fresh\n").end(), project, folder,
                tmp.resolve("xdg"));

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "cache"), project, env);

        assertEquals(0, run.status(), run.toString());
        assertEquals("package lib // new\n", Files.readString(module.resolve("new.go")));
        assertEquals("package lib // fresh\n", Files.readString(module.resolve("replaced.go")));
        assertEquals("package lib // from last week\n", Files.readString(module.resolve("old.go")));
        assertEquals("r-xr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(module)));
        assertEquals("r-xr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(module.getParent())));
    }

    @Test
    void aFailureAfterEntriesWereMovedIntoPlaceUndoesEveryMove() throws Exception {
        // "foreign" belongs to someone else: its mode cannot be set, and setting the folders' modes
        // is the last step of a restore, after every move.
        Fixtures.write(folder.resolve("existing.txt"), "the old content\n");
        Fixtures.write(folder.resolve("kept/untouched.txt"), "not in the archive\n");
        Fixtures.write(folder.resolve("kept/replaced.txt"), "the old one\n");
        Path foreign = Files.createDirectories(folder.resolve("foreign"));
        Files.setPosixFilePermissions(foreign, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setAttribute(foreign, "unix:uid", 65534);
        for (Path dir : List.of(foreign, folder.resolve("kept"), folder)) {
            Files.setLastModifiedTime(dir, FileTime.from(Instant.parse("2021-01-01T00:00:00Z")));
        }
        CraftedTar.store(new CraftedTar().file("existing.txt", "the new content\n").file("fresh/new.txt", "new\n")
                .header("kept/", '5', 0).file("kept/replaced.txt", "the new one\n").header("foreign/", '5', 0).end(),
                project, folder, tmp.resolve("xdg"));
        var before = Fixtures.snapshot(folder, true);

        var run = Fixtures.run(Fixtures.fetchAsAUser(tmp, env, "--pattern", "go.sum", "--folder", "cache"), project, env);

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().filter(l -> l.startsWith("cache-fetch:")).count(), run.err());
        assertEquals(before, Fixtures.snapshot(folder, true), "every move undone, modes and times put back");
    }

    @Test
    void aStagingFolderWhoseLockNobodyHoldsIsRemovedAndOneHeldStays() throws Exception {
        CraftedTar.store(new CraftedTar().file("new.txt", "new\n").end(), project, folder, tmp.resolve("xdg"));
        Path abandoned = folder.resolve(".tekton-caches-restore-00000000000000a1");
        Fixtures.write(abandoned.resolve("lock"), "");
        Fixtures.write(abandoned.resolve("tree/half.txt"), "from a restore that was killed\n");
        Path running = folder.resolve(".tekton-caches-restore-00000000000000b2");
        Fixtures.write(running.resolve("tree/half.txt"), "from a restore under way, pid 1 like ours\n");

        // This JVM holds the second one's lock, as the restore that made it would: another process sees it held.
        try (var lockFile = java.nio.channels.FileChannel.open(running.resolve("lock"), java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE); var lock = lockFile.lock()) {
            var run = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", "cache");

            assertEquals(0, run.status(), run.toString());
        }
        assertFalse(Files.exists(abandoned), "the abandoned staging folder is gone");
        assertTrue(Files.exists(running.resolve("tree/half.txt")), "the one in use stays");
        assertEquals("new\n", Files.readString(folder.resolve("new.txt")));
    }

    @Test
    void aFullDiskIsReportedAsSuchAndTheFolderStaysAsItWas() throws Exception {
        assumeTrue((Integer) Files.getAttribute(tmp, "unix:uid") == 0, "mounting a small file system takes root");
        assumeTrue(Fixtures.run(List.of("unshare", "-m", "true"), tmp, env).status() == 0, "unshare -m is not allowed here");
        Files.createDirectories(folder);
        byte[] big = new byte[4 * (int) Fixtures.MiB];
        new java.util.SplittableRandom(7).nextBytes(big);
        CraftedTar.store(new CraftedTar().file("small.txt", "fits\n").header("big.bin", '0', big.length).data(big).end(),
                project, folder, tmp.resolve("xdg"));

        // A 1 MiB tmpfs over the folder, in a mount namespace of the fetch's own: gone when it ends.
        var command = new ArrayList<>(List.of("unshare", "-m", "sh", "-c",
                "mount -t tmpfs -o size=1m tmpfs \"$0\" && echo 'restored last week' > \"$0/earlier.txt\" && \"$@\";"
                        + " status=$?; echo '--- after:'; ls -A \"$0\"; cat \"$0/earlier.txt\"; exit $status",
                folder.toString()));
        command.addAll(Fixtures.scriptCommand(List.of(), "CacheFetch", "--pattern", "go.sum", "--folder", "cache"));
        var run = Fixtures.run(command, project, env);

        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        String line = run.err().lines().filter(l -> l.startsWith("cache-fetch:")).findFirst().orElse("");
        assertTrue(line.contains("No space left on device") && line.contains(folder.toString()), run.err());
        assertFalse(line.contains("corrupt"), run.err());
        assertEquals(List.of("--- after:", "earlier.txt", "restored last week"), run.out().lines().toList(), run.toString());
    }
}

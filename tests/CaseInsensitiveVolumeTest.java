import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CaseInsensitiveVolume is what it claims: one volume where "X" and "x" are one name, as on
 * macOS, Azure Files or casefold ext4, that otherwise keeps what a restore writes.
 */
class CaseInsensitiveVolumeTest {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    @TempDir
    Path tmp;

    @BeforeEach
    void fuseRuns() throws Exception {
        CaseInsensitiveVolume.unavailable().ifPresent(Assumptions::abort);
    }

    @Test
    void aFileWrittenInOneCaseIsReadInAnother() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.writeString(volume.root().resolve("Name.TXT"), "hello");
            Files.writeString(volume.root().resolve("Ärger.txt"), "UTF-8 names fold too");

            assertEquals("hello", Files.readString(volume.root().resolve("name.txt")));
            assertEquals("hello", Files.readString(volume.root().resolve("NAME.txt")));
            assertEquals("UTF-8 names fold too", Files.readString(volume.root().resolve("ärger.TXT")));
            assertEquals(List.of("name.txt", "ärger.txt"), list(volume.root()));
            assertEquals(List.of("name.txt", "ärger.txt"), list(volume.backing()));
        }
    }

    @Test
    void aFolderInAnotherCaseAlreadyExists() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.createDirectory(volume.root().resolve("A"));

            assertThrows(FileAlreadyExistsException.class, () -> Files.createDirectory(volume.root().resolve("a")));
            Files.writeString(volume.root().resolve("a/inside"), "one folder");
            assertEquals("one folder", Files.readString(volume.root().resolve("A/INSIDE")));
        }
    }

    @Test
    void aSymlinkReadInAnotherCaseGivesItsTargetAsWritten() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.createSymbolicLink(volume.root().resolve("L"), Path.of("/Some/ABS/path"));

            assertTrue(Files.isSymbolicLink(volume.root().resolve("l")));
            assertEquals(Path.of("/Some/ABS/path"), Files.readSymbolicLink(volume.root().resolve("l")));
        }
    }

    /** What a restore that replaces an entry sees: no stale answer for the name in the other case. */
    @Test
    void anEntryReplacedInOneCaseIsSeenAtOnceInAnother() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.createDirectory(volume.root().resolve("A"));
            assertTrue(Files.isDirectory(volume.root().resolve("a"), NOFOLLOW));

            Files.delete(volume.root().resolve("A"));
            Files.createSymbolicLink(volume.root().resolve("A"), Path.of("/elsewhere"));

            assertTrue(Files.isSymbolicLink(volume.root().resolve("a")));
        }
    }

    /** The attack a restore must refuse here: a symlink "X", then a file "x/pwned" written through it. */
    @Test
    void aSymlinkInOneCaseLeadsOutOfTheVolumeUnderAnother() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.createSymbolicLink(volume.root().resolve("X"), outside);

            Files.writeString(volume.root().resolve("x/pwned"), "written outside");

            assertEquals("written outside", Files.readString(outside.resolve("pwned")));
        }
    }

    @Test
    void hardLinksShareAnInode() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Files.writeString(volume.root().resolve("one"), "linked twice");
            Files.createLink(volume.root().resolve("Two"), volume.root().resolve("ONE"));

            assertEquals(Files.getAttribute(volume.root().resolve("one"), "unix:ino"),
                    Files.getAttribute(volume.root().resolve("two"), "unix:ino"));
            assertEquals(2, Files.getAttribute(volume.root().resolve("TWO"), "unix:nlink"));
            Files.delete(volume.root().resolve("ONE"));
            assertEquals(1, Files.getAttribute(volume.root().resolve("two"), "unix:nlink"));
        }
    }

    @Test
    void modesOwnersAndTimesAreKept() throws Exception {
        var old = FileTime.from(Instant.parse("2001-09-09T01:46:40Z"));
        var older = FileTime.from(Instant.parse("1999-12-31T23:59:59Z"));
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Fixtures.write(volume.root().resolve("Bin/Run.sh"), "#!/bin/sh\n");
            Files.createSymbolicLink(volume.root().resolve("Link"), Path.of("bin/run.sh"));

            Fixtures.chmod(volume.root().resolve("BIN/RUN.SH"), "rwx------");
            Fixtures.chmod(volume.root().resolve("BIN"), "r-x------");
            Files.setAttribute(volume.root().resolve("bin/run.sh"), "unix:uid", 65534);
            Files.setAttribute(volume.root().resolve("LINK"), "unix:gid", 65534, NOFOLLOW);
            Files.setLastModifiedTime(volume.root().resolve("BIN/run.sh"), old);
            Files.getFileAttributeView(volume.root().resolve("LINK"), BasicFileAttributeView.class, NOFOLLOW)
                    .setTimes(older, older, null);

            Path file = volume.root().resolve("bin/run.sh");
            assertEquals(0100700, Files.getAttribute(file, "unix:mode"));
            assertEquals(040500, Files.getAttribute(volume.root().resolve("bin"), "unix:mode"));
            assertEquals(65534, Files.getAttribute(file, "unix:uid"));
            assertEquals(65534, Files.getAttribute(volume.root().resolve("link"), "unix:gid", NOFOLLOW));
            assertEquals(old, Files.getLastModifiedTime(file));
            assertEquals(older, Files.getLastModifiedTime(volume.root().resolve("link"), NOFOLLOW));

            // touch -m: UTIME_NOW for the mtime, UTIME_OMIT for the access time.
            Files.setAttribute(file, "lastAccessTime", old);
            var touched = Fixtures.run(List.of("touch", "-m", file.toString()), tmp, Map.of("PATH", "/usr/bin:/bin"));
            assertEquals(0, touched.status(), touched.toString());
            assertTrue(Files.getLastModifiedTime(file).toInstant().isAfter(Instant.now().minusSeconds(60)));
            assertEquals(old, Files.getAttribute(file, "lastAccessTime"));
        }
    }

    @Test
    void aTreeWithEveryKindOfEntryShowsAsTheBackingHoldsItAndDeletesToNothing() throws Exception {
        try (var volume = CaseInsensitiveVolume.mount(tmp)) {
            Fixtures.richTree(volume.root(), 3 * Fixtures.MiB);
            assertEquals(Fixtures.snapshot(volume.backing(), false), Fixtures.snapshot(volume.root(), false));

            // As rm -rf does it: children first.
            try (Stream<Path> walk = Files.walk(volume.root())) {
                for (Path path : walk.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(volume.root())).toList()) {
                    Files.delete(path);
                }
            }

            assertEquals(List.of(), list(volume.root()));
            assertEquals(List.of(), list(volume.backing()));
        }
    }

    @Test
    void closingUnmountsItAndKeepsTheBacking() throws Exception {
        var volume = CaseInsensitiveVolume.mount(tmp);
        Files.writeString(volume.root().resolve("Kept.txt"), "kept");
        assertTrue(CaseInsensitiveVolume.mounted(volume.root()));

        volume.close();

        assertFalse(CaseInsensitiveVolume.mounted(volume.root()));
        assertEquals(List.of(), list(volume.root()));
        assertEquals("kept", Files.readString(volume.backing().resolve("kept.txt")));
        volume.close();
    }

    @Test
    void twoRunsBuildingTheDaemonAtOnceBothGetAWholeOne() throws Exception {
        Path cacheHome = tmp.resolve("cache");
        var pool = Executors.newFixedThreadPool(2);
        try {
            var first = pool.submit(() -> CaseInsensitiveVolume.build(cacheHome));
            var second = pool.submit(() -> CaseInsensitiveVolume.build(cacheHome));

            Path binary = first.get(2, TimeUnit.MINUTES);
            assertEquals(binary, second.get(2, TimeUnit.MINUTES));
            assertTrue(Files.isExecutable(binary), binary.toString());
            assertEquals(List.of("casefold"), list(binary.getParent()), "no partial build is left");
            assertEquals(binary, CaseInsensitiveVolume.build(cacheHome));
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<String> list(Path folder) throws Exception {
        try (Stream<Path> children = Files.list(folder)) {
            return children.map(child -> child.getFileName().toString()).sorted().toList();
        }
    }
}

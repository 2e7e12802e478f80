import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import lib.archive.FileStat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** FileStat's two ways, the JDK's lstat result and the "unix:" attribute map, read the same. */
class FileStatTest {

    @TempDir
    Path tmp;

    @Test
    void theJdkLstatIsOpenHereAsInTheScripts() {
        assertTrue(FileStat.readsJdkStat(), "RunTests inherits cache-upload.java's --add-opens of sun.nio.fs through //SOURCES");
    }

    @Test
    void bothWaysAgreeOnEveryKindOfEntry() throws Exception {
        Fixtures.richTree(tmp, 0);
        Files.createDirectories(tmp.resolve("fifo"));
        var made = Fixtures.run(List.of("mkfifo", tmp.resolve("fifo/pipe").toString()), tmp, java.util.Map.of());
        assertEquals(0, made.status(), made.toString());
        for (String name : List.of("bin/run.sh", "secret/key.pem", "empty", "links/relative", "links/dangling",
                "hard/one.txt", "readonly", "old/2001.txt", "fifo/pipe")) {
            FileStat fast = FileStat.of(tmp.resolve(name));
            FileStat slow = FileStat.fromAttributeMap(tmp.resolve(name));
            assertEquals(List.of(slow.mode(), slow.nlink(), slow.uid(), slow.gid(), slow.size(), slow.mtime()),
                    List.of(fast.mode(), fast.nlink(), fast.uid(), fast.gid(), fast.size(), fast.mtime()), name);
        }
    }

    @Test
    void hardlinksShareAnInodeAndOtherFilesDoNot() throws Exception {
        Fixtures.richTree(tmp, 0);
        FileStat one = FileStat.of(tmp.resolve("hard/one.txt"));

        assertEquals(2, one.nlink());
        assertEquals(one.inode(), FileStat.of(tmp.resolve("hard/two.txt")).inode());
        assertNotEquals(one.inode(), FileStat.of(tmp.resolve("bin/run.sh")).inode());
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import lib.archive.DescriptorMetadata;
import lib.store.file.FileStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Upload then fetch through the real scripts and the local store: the tree comes back as it was. */
class RoundTripTest {

    @TempDir
    Path tmp;

    private Map<String, String> env;
    private Path project;

    private void project(long bigFileBytes) throws Exception {
        env = Fixtures.env(tmp.resolve("xdg"));
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("pom.xml"), "<project/>\n");
        Fixtures.richTree(project.resolve("repository"), bigFileBytes);
    }

    @Test
    void restoreKeepsEveryKindOfEntryAndAFileOver100MiB() throws Exception {
        project(100 * Fixtures.MiB + 12345);
        var uploaded = Fixtures.upload(project, env, "--folder", "repository");
        assertEquals(0, uploaded.status(), uploaded.toString());

        Path restored = tmp.resolve("restored");
        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString(), "--results-dir",
                tmp.resolve("results").toString());

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("repository"), false), Fixtures.snapshot(restored, false));
        assertEquals("true", Files.readString(tmp.resolve("results/fetched")));
        assertTrue(fetched.err().contains("restored "), fetched.err());
    }

    @ParameterizedTest(name = "compression {0}")
    @ValueSource(strings = {"zstd", "gzip", "none"})
    void everyCompressionRoundTrips(String compression) throws Exception {
        project(3 * Fixtures.MiB);
        var uploaded = Fixtures.upload(project, env, "--folder", "repository", "--compression", compression);
        assertEquals(0, uploaded.status(), uploaded.toString());

        Path restored = tmp.resolve("restored");
        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString());

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("repository"), false), Fixtures.snapshot(restored, false));
    }

    @Test
    void filesKeepTheirModifiedTimeToTheNanosecondAndEveryPermissionBit() throws Exception {
        assertTrue(DescriptorMetadata.available(), "RunTests inherits cache-fetch.java's --add-opens through //SOURCES");
        project(0);
        var times = Map.of("old/2001.txt", "2001-09-09T01:46:40.123456789Z", "shared/everyone-writes.txt",
                "2030-01-02T03:04:05.000000001Z", "bin/run.sh", "1969-07-20T20:17:40Z", "secret/key.pem",
                "1969-12-31T23:59:58.5Z");
        Path repository = project.resolve("repository");
        for (var time : times.entrySet()) {
            // touch, not Files.setLastModifiedTime: the JDK gives 1970 to a time before it with a fraction.
            var touched = Fixtures.run(List.of("touch", "-m", "-d", time.getValue(), time.getKey()), repository, Map.of());
            assertEquals(0, touched.status(), touched.toString());
        }
        Fixtures.chmod(repository.resolve("bin/run.sh"), "rwxrwxr-x"); // the group bit a umask of 022 takes
        assertEquals(0, Fixtures.upload(project, env, "--folder", "repository").status());

        Path restored = tmp.resolve("restored");
        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString());

        assertEquals(0, fetched.status(), fetched.toString());
        for (var time : times.entrySet()) {
            Path file = restored.resolve(time.getKey());
            // Before 1970, a fraction of a second cannot pass through the JDK's futimens: the whole second
            // is kept (the JDK's own setTimes would give 1970).
            Instant expected = Instant.parse(time.getValue().replace("58.5Z", "58Z"));
            assertEquals(expected, Files.getLastModifiedTime(file).toInstant(), time.getKey());
            assertEquals(Files.getPosixFilePermissions(repository.resolve(time.getKey())), Files.getPosixFilePermissions(file),
                    time.getKey());
        }
    }

    @Test
    void restoreMergesIntoAnExistingFolder() throws Exception {
        project(0);
        assertEquals(0, Fixtures.upload(project, env, "--folder", "repository").status());
        Path restored = tmp.resolve("restored");
        Fixtures.write(restored.resolve("kept-by-user.txt"), "mine\n");
        Fixtures.write(restored.resolve("nested/a/b/c/deep.txt"), "stale content\n");
        Fixtures.write(restored.resolve("links/relative/was-a-folder.txt"), "replaced by a link\n");

        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString());

        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals("mine\n", Files.readString(restored.resolve("kept-by-user.txt")));
        assertEquals("deep\n", Files.readString(restored.resolve("nested/a/b/c/deep.txt")));
        assertTrue(Files.isSymbolicLink(restored.resolve("links/relative")));
        var expected = Fixtures.snapshot(project.resolve("repository"), false);
        var actual = Fixtures.snapshot(restored, false);
        actual.remove("kept-by-user.txt");
        assertEquals(expected, actual);
    }

    @Test
    void cacheFolderInsideTheWorkingDirGivesTheSameKeyBeforeAndAfter() throws Exception {
        project(0);
        Fixtures.write(project.resolve("repository/pom.xml"), "<project>a pom inside the cache</project>\n");
        var uploaded = Fixtures.upload(project, env, "--pattern", "**/pom.xml", "--folder", "repository");
        assertEquals(0, uploaded.status(), uploaded.toString());

        Path emptyCheckout = tmp.resolve("checkout");
        Fixtures.write(emptyCheckout.resolve("pom.xml"), "<project/>\n");
        var fetched = Fixtures.fetch(emptyCheckout, env, "--pattern", "**/pom.xml", "--folder", "repository");

        assertEquals(0, fetched.status(), fetched.toString());
        assertTrue(Files.isRegularFile(emptyCheckout.resolve("repository/hard/two.txt")));
    }

    @Test
    void storedObjectRecordsTheArchiveDigest() throws Exception {
        project(0);
        var uploaded = Fixtures.upload(project, env, "--folder", "repository", "--results-dir",
                tmp.resolve("results").toString());
        assertEquals(0, uploaded.status(), uploaded.toString());
        String key = Files.readString(tmp.resolve("results/cache-key"));
        Path object = tmp.resolve("xdg/tekton-caches/" + key);

        assertEquals(Long.toString(Files.size(object)), Files.readString(tmp.resolve("results/size")));
        var view = Files.getFileAttributeView(object, java.nio.file.attribute.UserDefinedFileAttributeView.class);
        var value = java.nio.ByteBuffer.allocate(64);
        view.read(FileStore.DIGEST_ATTRIBUTE, value);
        // An entry of groups records its index's digest; the index lists each group's, checked as it is read.
        String recorded = new String(value.array(), StandardCharsets.US_ASCII);
        assertEquals(Fixtures.indexDigest(Files.readAllBytes(object)), recorded);
        var store = new FileStore(object.getParent());
        assertTrue(store.groups(store.find(key).orElseThrow()).isPresent(), "groups() reads the index, its digest checked");
        assertFalse(Files.exists(object.resolveSibling(key + ".sha256")), "no sidecar where attributes work");
    }

    @Test
    void stagingLeftByAKilledRestoreIsRemovedAndNeverUploaded() throws Exception {
        project(0);
        Path abandoned = project.resolve("repository/.tekton-caches-restore-999999999-abc");
        Fixtures.write(abandoned.resolve("half-extracted.txt"), "from a restore that was killed\n");
        assertEquals(0, Fixtures.upload(project, env, "--folder", "repository").status());
        Path restored = tmp.resolve("restored");
        Fixtures.write(restored.resolve(".tekton-caches-restore-999999999-abc/half.txt"), "killed\n");

        var fetched = Fixtures.fetch(project, env, "--folder", restored.toString());

        assertEquals(0, fetched.status(), fetched.toString());
        var expected = Fixtures.snapshot(project.resolve("repository"), false);
        expected.keySet().removeIf(name -> name.startsWith(".tekton-caches-"));
        assertEquals(expected, Fixtures.snapshot(restored, false));
    }
}

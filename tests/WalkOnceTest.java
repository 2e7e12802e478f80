import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import lib.archive.Archive;
import lib.archive.GroupPlan;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A save walks the folder once: the plan's survey keeps what it saw in an unlinked temporary file,
 * and the archive is made from that, the same bytes as from a walk of its own, hard links, long
 * names and skipped fifos included. Where no temporary file can be made, the folder is walked again.
 */
class WalkOnceTest {

    @TempDir
    Path tmp;

    private Path folder() throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.richTree(folder, 3 << 20);
        for (int i = 0; i < 200; i++) {
            Fixtures.writeRandom(folder.resolve(String.format("many/d%03d/f.bin", i)), 20_000, i);
        }
        var fifo = Fixtures.run(List.of("mkfifo", folder.resolve("many/pipe").toString()), tmp, java.util.Map.of());
        assertEquals(0, fifo.status(), fifo.err());
        return folder;
    }

    /** Each group's bytes, and the count of skipped entries last. */
    private static List<String> groups(ArchiveCall call) throws IOException {
        var groups = new ArrayList<String>();
        long skipped = call.create(group -> {
            var bytes = new ByteArrayOutputStream();
            group.write(bytes);
            groups.add(lib.common.Digests.hex(lib.common.Digests.sha256().digest(bytes.toByteArray())));
        });
        groups.add("skipped " + skipped);
        return groups;
    }

    private interface ArchiveCall {
        long create(Archive.GroupSink sink) throws IOException;
    }

    @Test
    void theArchiveFromTheSurveyHasTheBytesOfOneFromAWalk() throws Exception {
        Path folder = folder();
        try (var survey = GroupPlan.survey(folder)) {
            GroupPlan plan = survey.plan(-1);
            List<String> fromSurvey = groups(sink -> Archive.create(survey, plan, sink));
            List<String> fromWalk = groups(sink -> Archive.create(folder, plan, sink));
            assertTrue(fromWalk.size() > 3, "several groups: " + fromWalk.size());
            assertEquals(fromWalk, fromSurvey);
            assertEquals("skipped 1", fromSurvey.get(fromSurvey.size() - 1), "the fifo");
        }
    }

    /** What the archive holds is what the survey saw: a file made since is not in it (a walk of its own would add it). */
    @Test
    void theArchiveHoldsWhatTheSurveySawNotAWalkOfItsOwn() throws Exception {
        Path folder = folder();
        try (var survey = GroupPlan.survey(folder)) {
            GroupPlan plan = survey.plan(-1);
            List<String> before = groups(sink -> Archive.create(survey, plan, sink));
            Fixtures.write(folder.resolve("many/d100/added-since.txt"), "made after the survey\n");
            assertEquals(before, groups(sink -> Archive.create(survey, plan, sink)));
            assertNotEquals(before, groups(sink -> Archive.create(folder, plan, sink)));
        }
    }

    @Test
    void aFileRemovedSinceTheSurveyFailsTheArchiveSayingSo() throws Exception {
        Path folder = folder();
        try (var survey = GroupPlan.survey(folder)) {
            GroupPlan plan = survey.plan(-1);
            Files.delete(folder.resolve("many/d050/f.bin"));
            var e = assertThrows(IOException.class,
                    () -> Archive.create(survey, plan, group -> group.write(OutputStream.nullOutputStream())));
            assertEquals("many/d050/f.bin was removed after the walk saw it: nothing was stored rather than an archive without it",
                    e.getMessage());
        }
    }

    /**
     * Through the scripts: the temporary file is gone as soon as it is open, so none is left in
     * java.io.tmpdir; and where none can be made there, it is made in the folder itself, gone as
     * soon, and the entry restores all the same (with gzip: zstd-jni needs java.io.tmpdir to unpack
     * its library outside the image).
     */
    @Test
    void noTemporaryFileIsLeftAndNoneIsNeeded() throws Exception {
        Path project = tmp.resolve("project");
        Path folder = project.resolve("cache");
        Fixtures.richTree(folder, 0);
        Fixtures.write(project.resolve("go.sum"), "module v1\n");
        var env = Fixtures.env(tmp.resolve("xdg"));
        Path temporary = Files.createDirectories(tmp.resolve("java-tmp"));
        String[][] runs = {{"-Djava.io.tmpdir=" + temporary, "first", "zstd"}, {"-Djava.io.tmpdir=" + tmp.resolve("missing"), "second", "gzip"}};
        for (String[] run : runs) {
            Fixtures.write(project.resolve("go.sum"), "module " + run[1] + "\n");
            String target = "file://" + tmp.resolve("store") + "/{{hash}}";
            var upload = Fixtures.script(List.of(run[0]), "CacheUpload", project, env, "--pattern", "go.sum", "--folder", "cache",
                    "--target", target, "--compression", run[2]);
            assertEquals(0, upload.status(), upload.err());
            try (var left = Files.list(temporary)) {
                assertEquals(List.of(), left.toList(), "nothing left in java.io.tmpdir");
            }
            Path restored = tmp.resolve("restored-" + run[1]);
            var fetch = Fixtures.fetch(project, env, "--pattern", "go.sum", "--folder", restored.toString(), "--source", target);
            assertEquals(0, fetch.status(), fetch.err());
            assertEquals(Fixtures.snapshot(folder, false), Fixtures.snapshot(restored, false), run[1]);
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.DigestOutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import lib.archive.Archive;
import lib.archive.GroupPlan;
import lib.archive.SafeRestore;
import lib.common.Digests;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where an archive is cut into groups, on real folders: how many groups a folder makes, that a cut
 * stays where it was when names are added or removed elsewhere, that a file and its hard links
 * stay in one group, and that the groups together are the folder.
 */
class GroupPlanTest {

    @TempDir
    Path tmp;

    /** A tar's end, which a group's estimated bytes count beside its entries' (the cap counts the entries').  */
    private static final long RECORD = 10240;

    /** One group of a walk: its tar's sha256 and size, and its entries' names and hard-link targets. */
    private record Written(String sha256, long bytes, List<String> names, Map<String, String> hardlinks) {}

    /** The groups the plan cuts the folder into, each written once to learn what it holds. */
    private static List<Written> groups(Path folder, GroupPlan plan) throws IOException {
        var groups = new ArrayList<Written>();
        Archive.create(folder, plan, group -> {
            var digest = Digests.sha256();
            var bytes = new java.io.ByteArrayOutputStream();
            try (var out = new DigestOutputStream(bytes, digest)) {
                group.write(out);
            }
            var names = new ArrayList<String>();
            var hardlinks = new HashMap<String, String>();
            try (var tar = new TarArchiveInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
                for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                    names.add(entry.getName());
                    if (entry.isLink()) {
                        hardlinks.put(entry.getName(), entry.getLinkName());
                    }
                }
            }
            groups.add(new Written(Digests.hex(digest.digest()), bytes.size(), names, hardlinks));
        });
        return groups;
    }

    /** The groups of a folder the test needs to be cut into many. */
    private static List<Written> manyGroups(Path folder, GroupPlan plan) throws IOException {
        List<Written> groups = groups(folder, plan);
        assertTrue(groups.size() >= 10, "the test needs many groups, got " + groups.size());
        return groups;
    }

    /** How many groups of after are none of before's, by their tar's sha256. */
    private static long changed(List<Written> before, List<Written> after) {
        Set<String> old = new HashSet<>();
        before.forEach(g -> old.add(g.sha256()));
        return after.stream().filter(g -> !old.contains(g.sha256())).count();
    }

    /** How many groups the walk hands over, without writing them. */
    private static int count(Path folder, GroupPlan plan) throws IOException {
        int[] n = {0};
        Archive.create(folder, plan, group -> n[0]++);
        return n[0];
    }

    /** files files of size bytes each, spread over folders of ten, with fixed mtimes. */
    private static void tree(Path root, String prefix, int files, int size, long seed) throws IOException {
        for (int i = 0; i < files; i++) {
            Path file = root.resolve(String.format("%s%03d/file-%03d.bin", prefix, i / 10, i));
            Fixtures.writeRandom(file, size, seed + i);
            Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2024-01-01T00:00:00Z").plusSeconds(i)));
        }
    }

    @Test
    void aFolderOf40MiBIsCutIntoSeveralGroupsAndOneUnder2MiBIsOne() throws Exception {
        Path big = tmp.resolve("big");
        tree(big, "d", 400, 100 << 10, 1); // 400 files of 100 KiB: about 39 MiB
        GroupPlan plan = GroupPlan.of(big, -1);
        int groups = count(big, plan);
        assertTrue(groups > 1, "40 MiB made " + groups + " group(s)");
        assertTrue(groups <= GroupPlan.MAX_GROUPS, groups + " groups");
        // About one group per MiB, the least target: a file of 100 KiB ends its group with a chance of one in ten, one
        // in twenty in a group under half the target and one in five past it (groups of about 0.83 MiB).
        assertTrue(groups >= 10 && groups <= 70, "40 MiB made " + groups + " groups, not about one per MiB");

        Path tiny = tmp.resolve("tiny");
        tree(tiny, "d", 180, 10 << 10, 2); // 1.8 MiB, under twice the least target: one group
        GroupPlan tinyPlan = GroupPlan.of(tiny, -1);
        assertEquals(1, count(tiny, tinyPlan));

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertEquals(1, count(empty, GroupPlan.of(empty, -1)), "an empty folder is one empty tar");
    }

    /** Sparse files: gigabytes to the plan, which only stats them, nothing on disk. */
    @Test
    void aHugeFolderIsCutIntoAtMost256Groups() throws Exception {
        Path huge = tmp.resolve("huge");
        for (int i = 0; i < 3000; i++) {
            Path file = huge.resolve(String.format("p%02d/q%03d.bin", i / 100, i));
            Files.createDirectories(file.getParent());
            try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(1 << 20);
            }
        }
        GroupPlan plan = GroupPlan.of(huge, -1);
        int groups = count(huge, plan);
        assertTrue(groups <= GroupPlan.MAX_GROUPS, "3 GiB made " + groups + " groups");
        assertTrue(groups > GroupPlan.MAX_GROUPS / 2, "3 GiB made only " + groups + " groups: the level is too high");
        // A base's level that would make more than 256 groups is not kept, nor one of the plans by names (under 80).
        for (int baseLevel = 0; baseLevel <= 100; baseLevel += 4) {
            int withBase = count(huge, GroupPlan.of(huge, baseLevel));
            assertTrue(withBase <= GroupPlan.MAX_GROUPS, "with base level " + baseLevel + ": " + withBase + " groups");
        }
    }

    /** count files of size bytes each, sparse (nothing on disk), under root/prefix, a hundred a folder. */
    private static void sparse(Path root, String prefix, int count, long size) throws IOException {
        for (int i = 0; i < count; i++) {
            Path file = root.resolve(String.format("%s%03d/f%05d", prefix, i / 100, i));
            Files.createDirectories(file.getParent());
            try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(size);
            }
        }
    }

    /** The tar bytes of each group, from its entries' sizes: nothing is read. */
    private static List<Long> sizes(Path folder, GroupPlan plan) throws IOException {
        var sizes = new ArrayList<Long>();
        Archive.create(folder, plan, group -> sizes.add(group.estimatedTarBytes()));
        return sizes;
    }

    /**
     * Cuts by bytes: a run of 1 MiB files (jars) and a run of 4 KiB files (JavaScript) make groups
     * of about the same size. Cut one entry in N whatever its size, as before, the jars' groups
     * held hundreds of times the bytes of the small files' groups.
     */
    @Test
    void aRunOfBigFilesAndARunOfSmallOnesMakeGroupsOfTheSameSize() throws Exception {
        Path folder = tmp.resolve("mixed");
        sparse(folder, "jars/d", 400, 1 << 20);
        sparse(folder, "js/d", 12000, 4 << 10);
        GroupPlan plan = GroupPlan.of(folder, -1);
        long jars = 0;
        long js = 0;
        int jarGroups = 0;
        int jsGroups = 0;
        long start = 0;
        List<Long> groups = sizes(folder, plan);
        for (long bytes : groups.subList(0, groups.size() - 1)) { // the last is cut by the walk's end, not by the plan
            if (start + bytes < 400L << 20) { // the jars come first ("jars/" sorts before "js/")
                jars += bytes;
                jarGroups++;
            } else if (start > 401L << 20) {
                js += bytes;
                jsGroups++;
            }
            start += bytes;
        }
        assertTrue(jarGroups >= 20 && jsGroups >= 5, jarGroups + " groups of jars, " + jsGroups + " of small files");
        double jarMean = (double) jars / jarGroups;
        double jsMean = (double) js / jsGroups;
        assertTrue(jarMean < 3 * jsMean && jsMean < 3 * jarMean, String.format(
                "groups of jars hold %.2f MB on average, groups of small files %.2f MB", jarMean / 1e6, jsMean / 1e6));
    }

    /**
     * The cap: a group of several entries never holds more than CAP times the target. Among files
     * of random names, a run of 64 MiB whose names no plan cuts after (the first bit of each name's
     * sha256 is 1: u is at least 1/2, over twice any file's tar bytes over the least target), which
     * cuts by content alone would leave as one group (seen here with the cap switched off).
     */
    @Test
    void noGroupOfSeveralEntriesIsOverTheCap() throws Exception {
        Path folder = tmp.resolve("many");
        sparse(folder, "d", 20000, 64 << 10);
        for (int i = 0, made = 0; made < 1024; i++) {
            String name = String.format("z/f%05d", i);
            if ((Digests.sha256().digest(name.getBytes(StandardCharsets.UTF_8))[0] & 0x80) != 0) {
                Files.createDirectories(folder.resolve("z"));
                try (var raf = new RandomAccessFile(folder.resolve(name).toFile(), "rw")) {
                    raf.setLength(64 << 10);
                }
                made++;
            }
        }
        GroupPlan plan = GroupPlan.of(folder, -1);
        List<Long> groups = sizes(folder, plan);
        assertTrue(groups.size() > GroupPlan.MAX_GROUPS / 2 && groups.size() <= GroupPlan.MAX_GROUPS, groups.size() + " groups");
        long cap = plan.capBytes();
        assertTrue(cap < 64L << 20, "the cap, " + cap + " bytes, does not fall inside the run of 64 MiB");
        long largest = 0;
        for (long bytes : groups) { // each file is far under the cap: a group over it holds several
            assertTrue(bytes <= cap + RECORD, "a group of " + bytes + " bytes, over the cap of " + cap);
            largest = Math.max(largest, bytes);
        }
        // Cut at the cap at least once: the test shows something.
        assertTrue(largest > cap - (65 << 10), "the largest group, " + largest + " bytes, is not near the cap of " + cap);
    }

    /**
     * A changed file sends its whole group, and a byte falls in a long group more often than in a
     * short one: the group it falls in holds on average sum(size^2) / sum(size). Cut with one chance
     * per byte throughout, sizes spread as an exponential's and that is twice the mean group (seen
     * here with the spread switched off); a group under half the target cut half as often and one
     * past it twice as often, it is about 1.4 times.
     */
    @Test
    void theGroupAChangedByteFallsInIsNotMuchOverTheMean() throws Exception {
        Path folder = tmp.resolve("many");
        sparse(folder, "d", 20000, 64 << 10);
        List<Long> groups = sizes(folder, GroupPlan.of(folder, -1));
        groups = groups.subList(0, groups.size() - 1); // the last is cut by the walk's end
        double sum = 0;
        double squares = 0;
        for (long bytes : groups) {
            sum += bytes;
            squares += (double) bytes * bytes;
        }
        double mean = sum / groups.size();
        double met = squares / sum;
        assertTrue(met < 1.7 * mean, String.format("a changed byte falls in a group of %.2f MB on average, the mean group is %.2f MB",
                met / 1e6, mean / 1e6));
    }

    /** One file added among others moves no cut but its own: all but the groups around it keep their bytes. */
    @Test
    void aFileAddedElsewhereChangesOnlyTheGroupsAroundIt() throws Exception {
        Path folder = tmp.resolve("folder");
        tree(folder, "d", 400, 100 << 10, 11);
        GroupPlan first = GroupPlan.of(folder, -1);
        List<Written> before = manyGroups(folder, first);

        Fixtures.writeRandom(folder.resolve("d020/added.bin"), 5 << 20, 77); // bigger than the target: a group of its own
        Fixtures.writeRandom(folder.resolve("d030/added.txt"), 3000, 78);
        List<Written> after = groups(folder, GroupPlan.of(folder, first.level()));

        long changed = changed(before, after);
        assertTrue(changed <= 4, changed + " of " + after.size() + " groups changed for two files added");
        assertTrue(after.stream().anyMatch(g -> g.names().equals(List.of("d020/added.bin"))), "the big file is not a group of its own");
    }

    @Test
    void cutsStayWhereTheyWereWhenAFolderIsAddedAndAnotherRemoved() throws Exception {
        Path folder = tmp.resolve("folder");
        tree(folder, "d", 400, 100 << 10, 3);
        GroupPlan first = GroupPlan.of(folder, -1);
        List<Written> before = manyGroups(folder, first);

        // In the middle of the sorted order: d019x sorts between d019 and d020.
        tree(folder, "d019x", 10, 100 << 10, 1000);
        SafeRestore.deleteTree(folder.resolve("d031"));
        List<Written> after = groups(folder, GroupPlan.of(folder, first.level()));

        long changed = changed(before, after);
        assertTrue(changed <= 4, changed + " of " + after.size() + " groups changed for one folder added and one removed");
        assertTrue(after.size() - changed >= before.size() - 6, "groups kept: " + (after.size() - changed) + " of " + before.size());
        // The groups after the change are still whole groups of the first walk, in order, not shifted.
        assertTrue(after.get(after.size() - 1).sha256().equals(before.get(before.size() - 1).sha256()), "the last group moved");
        assertTrue(after.get(0).sha256().equals(before.get(0).sha256()), "the first group moved");
    }

    @Test
    void aFileAndItsHardLinksStayInOneGroupThatExtractsAlone() throws Exception {
        Path folder = tmp.resolve("folder");
        tree(folder, "d", 300, 100 << 10, 5);
        // A twin tree with copies where folder gets links: the same names, so the cuts the plan would
        // make without links. Each link spans three folders of 1 MiB, where such cuts are.
        Path twin = tmp.resolve("twin");
        tree(twin, "d", 300, 100 << 10, 5);
        var pairs = new ArrayList<String[]>();
        for (int i = 0; i < 30; i += 5) {
            String first = String.format("d%03d/link-%02d", i, i);
            String second = String.format("d%03d/link-%02d", i + 3, i);
            Fixtures.writeRandom(folder.resolve(first), 1000, 100 + i);
            Files.createLink(folder.resolve(second), folder.resolve(first));
            Fixtures.writeRandom(twin.resolve(first), 1000, 100 + i);
            Fixtures.writeRandom(twin.resolve(second), 1000, 100 + i);
            pairs.add(new String[] {first, second});
        }

        GroupPlan plan = GroupPlan.of(folder, -1);
        List<Written> groups = groups(folder, plan);
        assertTrue(groups.size() >= 8, "the test needs many groups, got " + groups.size());
        List<Written> unlinked = groups(twin, GroupPlan.of(twin, plan.level()));
        long straddling = pairs.stream().filter(p -> groupOf(unlinked, p[0]) != groupOf(unlinked, p[1])).count();
        assertTrue(straddling > 0, "no link pair spans a cut of the twin tree: the test shows nothing");

        int links = 0;
        for (Written group : groups) {
            for (var link : group.hardlinks().entrySet()) {
                assertTrue(group.names().contains(link.getValue()), link.getKey() + " links to " + link.getValue()
                        + ", which is in another group");
                links++;
            }
        }
        assertEquals(pairs.size(), links, "each pair is archived as a file and a hard link to it");
        for (String[] pair : pairs) {
            assertEquals(groupOf(groups, pair[0]), groupOf(groups, pair[1]), pair[0] + " and " + pair[1]);
        }

        // Each group extracts on its own with GNU tar, as an image's layers are applied one by one.
        var tars = new ArrayList<Path>();
        Archive.create(folder, plan, group -> {
            Path tar = tmp.resolve("group-" + tars.size() + ".tar");
            try (OutputStream out = Files.newOutputStream(tar)) {
                group.write(out);
            }
            tars.add(tar);
        });
        assertEquals(groups.size(), tars.size());
        for (Path tar : tars) {
            Path into = Files.createDirectories(tmp.resolve("alone-" + tar.getFileName()));
            var run = Fixtures.run(List.of("tar", "-xf", tar.toString(), "-C", into.toString()), tmp, System.getenv());
            assertEquals(0, run.status(), tar.getFileName() + " alone: " + run);
        }
    }

    private static int groupOf(List<Written> groups, String name) {
        for (int i = 0; i < groups.size(); i++) {
            if (groups.get(i).names().contains(name)) {
                return i;
            }
        }
        throw new AssertionError(name + " is in no group");
    }

    @Test
    void theGroupsOneAfterTheOtherAreTheFolder() throws Exception {
        Path folder = tmp.resolve("folder");
        Fixtures.richTree(folder, 0);
        tree(folder, "data/d", 60, 100 << 10, 7);
        GroupPlan plan = GroupPlan.of(folder, -1);
        Path all = tmp.resolve("all.tar");
        int[] n = {0};
        try (OutputStream out = Files.newOutputStream(all)) {
            Archive.create(folder, plan, group -> {
                group.write(out);
                n[0]++;
            });
        }
        assertTrue(n[0] > 1, "the test needs groups, got " + n[0]);

        Path restored = Files.createDirectories(tmp.resolve("restored"));
        // -i reads past each group's end-of-archive blocks to the next group.
        var run = Fixtures.run(List.of("tar", "-xif", all.toString(), "-C", restored.toString()), tmp, System.getenv());

        assertEquals(0, run.status(), run.toString());
        assertEquals(Fixtures.snapshot(folder, false), Fixtures.snapshot(restored, false));
        try (InputStream in = Files.newInputStream(all)) {
            assertTrue(in.readAllBytes().length % 10240 == 0, "each group ends on a whole tar record");
        }
    }
}

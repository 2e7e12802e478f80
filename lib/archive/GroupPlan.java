package lib.archive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import lib.common.Digests;

/**
 * Where an archive is cut into groups, each a tar of its own that a later save may reuse whole. The
 * cuts are chosen by content, not by position, so that they stay put when something is added or
 * removed elsewhere: an entry is a cut (its group ends after it) when the sha256 of its name is small
 * enough for the plan's level (see level). An entry's level is fixed by its name alone, so a dependency bump
 * moves only the cuts among the names it adds or removes, and the groups between keep their bytes.
 *
 * <p>The level is the lowest that gives at most MAX_GROUPS groups and groups of MIN_GROUP_BYTES on
 * average, so small caches make few groups (a group costs a request or two) and big ones at most
 * 256 (ECR takes 500 layers). A save that has a base keeps the base's level while that gives at
 * most MAX_GROUPS groups: a level chosen afresh could differ by one, which would move a fifth of the cuts.
 * A cut never separates a file from its hard links in the folder, so that every group is a tar that
 * extracts on its own (an image's layers are applied one by one).
 *
 * <p>The plan walks the folder, before the archive reads it, keeping only the entries of the
 * highest levels (MAX_CANDIDATES at most) and the hard-linked inodes in memory, and every entry in
 * a file for the archive (WalkLog): memory does not grow with the number of files beyond what is
 * kept for hard links.
 */
public final class GroupPlan {

    public static final int MAX_GROUPS = 256;
    static final long MIN_GROUP_BYTES = 1 << 20;
    private static final int MAX_CANDIDATES = 4 * MAX_GROUPS;
    /** A level no name reaches (a name's is at most 212): no cut at all. */
    private static final int NONE = 999;

    private final Set<String> cuts;
    /** Big files that start a group of their own (the group before them ends). */
    private final Set<String> cutsBefore;
    private final int level;

    private GroupPlan(Set<String> cuts, Set<String> cutsBefore, int level) {
        this.cuts = cuts;
        this.cutsBefore = cutsBefore;
        this.level = level;
    }

    /** One group: the archive as a single tar, as before groups (and for --compression none). */
    public static GroupPlan single() {
        return new GroupPlan(Set.of(), Set.of(), NONE);
    }

    /** The level of the plan: a later save with this entry as its base passes it back to of(). */
    public int level() {
        return level;
    }

    boolean cutsAfter(String name) {
        return cuts.contains(name);
    }

    boolean cutsBefore(String name) {
        return cutsBefore.contains(name);
    }

    /**
     * A name's level: its sha256's first 53 bits as a fraction u of 1, and the level -4 log2(u)
     * rounded down, so that one name in 2^(L/4) reaches level L. Quarter bits rather than whole
     * ones: each level up has a fifth fewer cuts, not half, so the plan lands near MAX_GROUPS.
     */
    static int level(String name) {
        return level(name, Digests.sha256());
    }

    private static int level(String name, MessageDigest sha256) {
        byte[] hash = sha256.digest(name.getBytes(StandardCharsets.UTF_8));
        long first = 0;
        for (int i = 0; i < 8; i++) {
            first = first << 8 | (hash[i] & 0xff);
        }
        double u = (first >>> 11) * 0x1.0p-53;
        return u == 0 ? NONE - 1 : (int) Math.floor(-4 * Math.log(u) / Math.log(2));
    }

    private record Candidate(long index, String name, int level) {}

    /** One of the largest files; before and after say whether a cut there keeps hard links together. */
    private record Big(long index, String name, long size, boolean before, boolean after) {}

    /** How many of the largest files may have a group of their own: at most half the groups. */
    private static final int BIG_FILES = MAX_GROUPS / 4;
    /** A file this big or more, and twice the average group, is a group of its own. */
    static final long MIN_BIG_FILE = 2 * MIN_GROUP_BYTES;

    /** The plan for the folder; baseLevel is the base entry's level, or -1 when there is none. */
    public static GroupPlan of(Path folder, int baseLevel) throws IOException {
        try (Survey survey = survey(Folders.single(folder), Exclusion.NONE)) {
            return survey.plan(baseLevel);
        }
    }

    /**
     * What a plan needs to know of the folder, from one walk: the entries of the highest levels,
     * where hard links lie, and how many bytes the files hold. Made before the base is known (on a
     * thread of its own while the key is computed and the store asked), planned once it is. It
     * keeps the walk's entries for the archive (WalkLog), so that a save walks the folder once.
     */
    public static final class Survey implements java.io.Closeable {
        private final Folders folders;
        private final Exclusion exclusion;
        /** The walk's entries; null when they could not be kept, and the archive walks again. */
        private final WalkLog log;
        private final List<Candidate> candidates;
        private final int floor;
        private final long bytes;
        /** The largest files (BIG_FILES at most), by size; a cut before or after one that would split hard links is marked so. */
        private final List<Big> largest;

        private Survey(Folders folders, Exclusion exclusion, WalkLog log, List<Candidate> candidates, int floor, long bytes,
                List<Big> largest) {
            this.folders = folders;
            this.exclusion = exclusion;
            this.log = log;
            this.candidates = candidates;
            this.floor = floor;
            this.bytes = bytes;
            this.largest = largest;
        }

        Folders folders() {
            return folders;
        }

        /** The bytes the folders' files hold, a hard-linked file's for each of its names. */
        public long bytes() {
            return bytes;
        }

        /** The plan, keeping baseLevel (-1 for none) while it gives at most MAX_GROUPS groups. */
        public GroupPlan plan(int baseLevel) {
            // Big files first: each a group of its own, so a change beside one does not send it again.
            long big = Math.max(MIN_BIG_FILE, 2 * bytes / MAX_GROUPS);
            var cuts = new HashSet<String>();
            var cutsBefore = new HashSet<String>();
            for (Big file : largest) {
                if (file.size() >= big && (bytes / MIN_GROUP_BYTES) > 2L * (cuts.size() + cutsBefore.size() + 2)) {
                    if (file.before()) {
                        cutsBefore.add(file.name());
                    }
                    if (file.after()) {
                        cuts.add(file.name());
                    }
                }
            }
            int budget = MAX_GROUPS - 1 - cuts.size() - cutsBefore.size();
            int maxCuts = (int) Math.min(budget, bytes / MIN_GROUP_BYTES - cuts.size() - cutsBefore.size());
            int level = baseLevel >= floor && count(candidates, baseLevel) <= budget ? baseLevel : NONE;
            if (level == NONE) {
                level = floor;
                while (level < NONE && count(candidates, level) > maxCuts) {
                    level++;
                }
            }
            for (Candidate c : candidates) {
                if (c.level() >= level) {
                    cuts.add(c.name());
                }
            }
            return new GroupPlan(cuts, cutsBefore, level);
        }

        /**
         * The folder's entries as the survey's walk saw them, in its order (for a hard-linked file,
         * the inode is the number of its first name's entry); walked again if they could not be kept.
         */
        void entries(Walk.Visitor visitor) throws IOException {
            if (log != null) {
                log.replay(folders, visitor);
            } else {
                Walk.walk(folders, exclusion, visitor);
            }
        }

        @Override
        public void close() throws IOException {
            if (log != null) {
                log.close();
            }
        }
    }

    /** What a survey's bytes() says, by a walk of its own: for an upload that plans no groups (--compression none). */
    public static long bytes(Folders folders, Exclusion exclusion) throws IOException {
        long[] bytes = {0};
        Walk.walk(folders, exclusion, (path, name, stat) -> {
            if ((stat.mode() & FileStat.TYPE) == FileStat.REGULAR) {
                bytes[0] += stat.size();
            }
        });
        return bytes[0];
    }

    /** Walks the folder for a plan. The survey holds a file open: close it. */
    public static Survey survey(Path folder) throws IOException {
        return survey(Folders.single(folder), Exclusion.NONE);
    }

    /** survey of the folders, leaving out what exclusion names. */
    public static Survey survey(Folders folders, Exclusion exclusion) throws IOException {
        WalkLog log = WalkLog.open(folders.path(0)).orElse(null);
        try {
            return survey(folders, exclusion, log);
        } catch (IOException | RuntimeException e) {
            if (log != null) {
                log.close();
            }
            throw e;
        }
    }

    private static Survey survey(Folders folders, Exclusion exclusion, WalkLog log) throws IOException {
        var candidates = new ArrayList<Candidate>();
        var linked = new HashMap<Object, long[]>(); // inode -> first and last index of its names
        long[] counts = {0, 0}; // entries, bytes
        int[] floor = {0};
        var largest = new java.util.PriorityQueue<Big>(java.util.Comparator.comparingLong(Big::size)); // the smallest on top
        MessageDigest sha256 = Digests.sha256();
        Walk.walk(folders, exclusion, (path, name, stat) -> {
            int type = stat.mode() & FileStat.TYPE;
            if (type != FileStat.DIRECTORY && type != FileStat.REGULAR && type != FileStat.SYMLINK) {
                if (log != null) {
                    log.append(name, stat, -1); // for the archive to count as skipped
                }
                return; // not archived, so no place to cut
            }
            long index = counts[0]++;
            long inode = index;
            if (type == FileStat.REGULAR) {
                counts[1] += stat.size();
                if (stat.nlink() > 1) {
                    long[] span = linked.computeIfAbsent(stat.inode(), key -> new long[] {index, index});
                    span[1] = index;
                    inode = span[0];
                }
                if (stat.size() >= MIN_BIG_FILE && (largest.size() < BIG_FILES || stat.size() > largest.peek().size())) {
                    largest.add(new Big(index, name, stat.size(), true, true));
                    if (largest.size() > BIG_FILES) {
                        largest.poll();
                    }
                }
            }
            if (log != null) {
                log.append(name, stat, inode);
            }
            int level = level(name, sha256);
            if (level >= floor[0]) {
                candidates.add(new Candidate(index, name, level));
                if (candidates.size() > MAX_CANDIDATES) {
                    floor[0]++;
                    candidates.removeIf(c -> c.level() < floor[0]);
                }
            }
        });
        List<long[]> spans = spans(linked.values());
        candidates.removeIf(c -> splitsLinks(spans, c.index()));
        var big = new ArrayList<Big>();
        for (Big file : largest) {
            big.add(new Big(file.index(), file.name(), file.size(), file.index() > 0 && !splitsLinks(spans, file.index() - 1),
                    !splitsLinks(spans, file.index())));
        }
        big.sort(java.util.Comparator.comparingLong(Big::size).reversed().thenComparing(Big::name));
        return new Survey(folders, exclusion, log, candidates, floor[0], counts[1], big);
    }

    private static int count(List<Candidate> candidates, int level) {
        int n = 0;
        for (Candidate c : candidates) {
            if (c.level() >= level) {
                n++;
            }
        }
        return n;
    }

    /** The stretches of the walk between an inode's first and last name, merged where they overlap, in order. */
    private static List<long[]> spans(Iterable<long[]> linked) {
        var sorted = new ArrayList<long[]>();
        linked.forEach(span -> {
            if (span[1] > span[0]) {
                sorted.add(span);
            }
        });
        sorted.sort((a, b) -> Long.compare(a[0], b[0]));
        var merged = new ArrayList<long[]>();
        for (long[] span : sorted) {
            long[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && span[0] < last[1]) {
                last[1] = Math.max(last[1], span[1]);
            } else {
                merged.add(span.clone());
            }
        }
        return merged;
    }

    /** Whether a cut after the entry at index would put two names of one inode in different groups. */
    private static boolean splitsLinks(List<long[]> spans, long index) {
        int low = 0;
        int high = spans.size() - 1;
        while (low <= high) { // the last span starting at or before index
            int mid = (low + high) >>> 1;
            if (spans.get(mid)[0] <= index) {
                low = mid + 1;
            } else {
                high = mid - 1;
            }
        }
        return high >= 0 && index < spans.get(high)[1];
    }
}

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
 * removed elsewhere, and by bytes, not by entries, so that a run of jars and a run of small
 * JavaScript files make groups of the same size: every byte of the tar has about the same chance
 * to end its group. An entry ends its group (is a cut) when the sha256 of its name, read as a
 * fraction u of 1, is under its tar bytes (weight) over twice the target while its group holds
 * less than half the target, and over half the target once it holds more (SPREAD). A change sends
 * the whole group it falls in, and a byte falls in a long group more often than in a short one:
 * with one bar throughout, groups' sizes spread as an exponential's and the group a changed byte
 * falls in holds twice the mean on average; with the bar moved, about 1.4 times. An entry at least
 * as big as the target always ends its group and starts one too, so that it is a group of its own
 * and a change beside it does not send it again. Whether an entry is a cut thus depends on the
 * entry and on the bytes before it since its group began: after a change, the cuts fall back in
 * step at the first cut both walks make, at the latest at an entry that is a cut whatever its
 * group holds (one every two targets on average), and the groups after keep their bytes.
 *
 * <p>The target is 2^(level/4) bytes, the level an integer: an entry's level is
 * floor(4 log2(weight / u)), and it is a cut in a plan of level L when it is L + SPREAD or more in
 * a group under half the target, L - SPREAD or more past it. A save chooses the lowest level from
 * MIN_LEVEL (1 MiB) on that gives at most CHOSEN_CUTS cuts, so a small cache makes few groups (a
 * group costs a request or more; under 2 MiB, one) and a big one about 224; a save that has a
 * base keeps the base's level while that gives at most KEPT_CUTS, since a level chosen afresh could
 * differ by one, which would move a sixth of the cuts. Levels under MIN_LEVEL are those of the
 * plans before cuts by bytes (by names alone): such a base's level is not kept.
 *
 * <p>A group is also cut before an entry that would take its tar past CAP times the target, where
 * that keeps hard links together: a cut by position, rare (past half the target a group is cut with
 * twice the chance per byte, so about one in a thousand would reach four times the target), and
 * one the cuts by content do not count from, so that they stay where they were. At most
 * CAPPED_CUTS of them, so that an entry has at most MAX_GROUPS groups (ECR takes 500 layers). A
 * cut never separates a file from its hard links in the folder, so that every group is a tar that
 * extracts on its own (an image's layers are applied one by one).
 *
 * <p>The plan walks the folder, before the archive reads it, keeping only the entries of the
 * highest levels (MAX_CANDIDATES at most) and the hard-linked inodes in memory, and every entry in
 * a file for the archive (WalkLog): memory does not grow with the number of files beyond what is
 * kept for hard links.
 */
public final class GroupPlan {

    public static final int MAX_GROUPS = 256;
    /** The least target, 2^(80/4) bytes = 1 MiB: smaller groups would cost more requests than their reuse saves. */
    static final int MIN_LEVEL = 80;
    /** How many times the target a group's tar may hold before it is cut by position. */
    static final int CAP = 4;
    /** At most this many cuts by position in an archive; the plan's budget leaves room for them. */
    static final int CAPPED_CUTS = MAX_GROUPS / 16;
    /** A base's level is kept while it gives at most this many cuts by content. */
    static final int KEPT_CUTS = MAX_GROUPS - 1 - CAPPED_CUTS;
    /** A level chosen afresh gives at most this many, leaving a base's level room for the cache to grow. */
    static final int CHOSEN_CUTS = MAX_GROUPS * 7 / 8;
    private static final int MAX_CANDIDATES = 4 * MAX_GROUPS;
    /**
     * How many levels a group's bar moves at half the target: a group under it is cut only by an
     * entry with half the chance, one past it by one with twice the chance (four levels are one bit).
     */
    static final int SPREAD = 4;
    /** A level no entry reaches: no cut at all. */
    private static final int NONE = 999;

    private final Set<String> cuts;
    /** Entries at least as big as the target, which start a group of their own (the group before them ends). */
    private final Set<String> cutsBefore;
    private final int level;
    /** A group's tar is cut before an entry that would take it past this. */
    private final long capBytes;
    /** Where hard links lie in the walk (see spans): no cut by position inside one. */
    private final List<long[]> linkSpans;

    private GroupPlan(Set<String> cuts, Set<String> cutsBefore, int level, List<long[]> linkSpans) {
        this.cuts = cuts;
        this.cutsBefore = cutsBefore;
        this.level = level;
        this.capBytes = level == NONE ? Long.MAX_VALUE : (long) (CAP * target(level));
        this.linkSpans = linkSpans;
    }

    /** One group: the archive as a single tar, as before groups (and for --compression none). */
    public static GroupPlan single() {
        return new GroupPlan(Set.of(), Set.of(), NONE, List.of());
    }

    /** The level of the plan: a later save with this entry as its base passes it back to of(). */
    public int level() {
        return level;
    }

    /** The bytes of tar a group holds on average at this level: 2^(level/4). */
    static double target(int level) {
        return Math.pow(2, level / 4.0);
    }

    /** The most bytes of tar a group holds unless it is one entry (or the cuts by position are used up). */
    public long capBytes() {
        return capBytes;
    }

    boolean cutsAfter(String name) {
        return cuts.contains(name);
    }

    boolean cutsBefore(String name) {
        return cutsBefore.contains(name);
    }

    /**
     * Whether the group holding groupBytes of tar is cut before the entry at index (its number
     * among the archived entries, as the survey counts them) of weight bytes: when it would pass
     * the cap, no hard links would be separated and the cappedSoFar cuts by position made have not
     * used up their room.
     */
    boolean capsBefore(long index, long groupBytes, long weight, int cappedSoFar) {
        return groupBytes > 0 && groupBytes + weight > capBytes && cappedSoFar < CAPPED_CUTS && index > 0
                && !splitsLinks(linkSpans, index - 1);
    }

    /**
     * About the bytes an entry takes in a group's tar: its header, room for a long name's PAX header,
     * and its content padded (none for a hard link's second name).
     */
    static long weight(FileStat stat, boolean secondName) {
        boolean content = (stat.mode() & FileStat.TYPE) == FileStat.REGULAR && !secondName;
        return 2 * TarHeader.BLOCK + (content ? TarHeader.padded(stat.size()) : 0);
    }

    /**
     * An entry's level: with u its name's sha256's first 53 bits as a fraction of 1, floor(4
     * log2(weight / u)), so that in a plan of level L it is a cut with the chance weight / 2^(L/4).
     * Quarter bits rather than whole ones: each level up has a sixth fewer cuts, not half, so the
     * plan lands near its budget.
     */
    static int level(String name, long weight) {
        return level(name, weight, Digests.sha256());
    }

    private static int level(String name, long weight, MessageDigest sha256) {
        byte[] hash = sha256.digest(name.getBytes(StandardCharsets.UTF_8));
        long first = 0;
        for (int i = 0; i < 8; i++) {
            first = first << 8 | (hash[i] & 0xff);
        }
        double u = (first >>> 11) * 0x1.0p-53;
        return u == 0 ? NONE - 1 : (int) Math.min(NONE - 1, Math.floor(4 * Math.log(weight / u) / Math.log(2)));
    }

    /** An entry that may be a cut: before and after say whether a cut there keeps hard links together. */
    private record Candidate(long index, long offset, String name, int level, long weight, boolean before, boolean after) {}

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
        /** The entries of level floor or more, MAX_CANDIDATES at most. */
        private final List<Candidate> candidates;
        private final int floor;
        private final long bytes;
        private final List<long[]> linkSpans;

        private Survey(Folders folders, Exclusion exclusion, WalkLog log, List<Candidate> candidates, int floor, long bytes,
                List<long[]> linkSpans) {
            this.folders = folders;
            this.exclusion = exclusion;
            this.log = log;
            this.candidates = candidates;
            this.floor = floor;
            this.bytes = bytes;
            this.linkSpans = linkSpans;
        }

        Folders folders() {
            return folders;
        }

        /** The bytes the folders' files hold, a hard-linked file's for each of its names. */
        public long bytes() {
            return bytes;
        }

        /** The plan, keeping baseLevel (-1 for none) while it gives at most KEPT_CUTS cuts; one group under 2 MiB. */
        public GroupPlan plan(int baseLevel) {
            if (bytes < 2 * target(MIN_LEVEL)) {
                return new GroupPlan(Set.of(), Set.of(), NONE, linkSpans); // a group or two: one is fewer requests
            }
            int lowest = Math.max(MIN_LEVEL, floor + SPREAD);
            boolean kept = baseLevel >= lowest && baseLevel < NONE && cuts(baseLevel, null, null) <= KEPT_CUTS;
            int level = kept ? baseLevel : lowest;
            while (!kept && level < NONE && cuts(level, null, null) > CHOSEN_CUTS) {
                level++;
            }
            var cuts = new HashSet<String>();
            var cutsBefore = new HashSet<String>();
            cuts(level, cuts, cutsBefore);
            return new GroupPlan(cuts, cutsBefore, level, linkSpans);
        }

        /**
         * How many cuts by content a plan of this level (floor + SPREAD or more) makes, after entries
         * and before the big ones, adding their names to after and before unless those are null. A
         * group under half the target is cut only by an entry SPREAD levels above the plan's, one
         * past it by one SPREAD levels below: from where its group began, as the survey counts bytes.
         */
        private int cuts(int level, Set<String> after, Set<String> before) {
            double target = target(level);
            long start = 0; // where the group began
            int n = 0;
            for (Candidate c : candidates) {
                if (c.weight() >= target && c.before()) {
                    n++;
                    start = c.offset();
                    if (before != null) {
                        before.add(c.name());
                    }
                }
                int needed = c.offset() + c.weight() - start < target / 2 ? level + SPREAD : level - SPREAD;
                if (c.level() >= needed && c.after()) {
                    n++;
                    start = c.offset() + c.weight();
                    if (after != null) {
                        after.add(c.name());
                    }
                }
            }
            return n;
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
        long[] counts = {0, 0, 0}; // entries, files' bytes, weights
        int[] floor = {0};
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
            }
            if (log != null) {
                log.append(name, stat, inode);
            }
            long weight = weight(stat, inode != index);
            long offset = counts[2];
            counts[2] += weight;
            int level = level(name, weight, sha256);
            if (level >= floor[0]) {
                candidates.add(new Candidate(index, offset, name, level, weight, true, true));
                if (candidates.size() > MAX_CANDIDATES) {
                    floor[0]++;
                    candidates.removeIf(c -> c.level() < floor[0]);
                }
            }
        });
        List<long[]> spans = spans(linked.values());
        candidates.replaceAll(c -> new Candidate(c.index(), c.offset(), c.name(), c.level(), c.weight(),
                c.index() > 0 && !splitsLinks(spans, c.index() - 1), !splitsLinks(spans, c.index())));
        return new Survey(folders, exclusion, log, candidates, floor[0], counts[1], spans);
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

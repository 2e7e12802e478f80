package lib.archive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
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
 * <p>The plan walks the folder once, before the archive does, keeping only the entries of the
 * highest levels (MAX_CANDIDATES at most) and the hard-linked inodes: memory does not grow with the
 * number of files beyond what the archive itself keeps for hard links.
 */
public final class GroupPlan {

    public static final int MAX_GROUPS = 256;
    static final long MIN_GROUP_BYTES = 1 << 20;
    private static final int MAX_CANDIDATES = 4 * MAX_GROUPS;
    /** A level no name reaches (a name's is at most 212): no cut at all. */
    private static final int NONE = 999;

    private final Set<String> cuts;
    private final int level;
    /** The walk's last entry: when it is a cut, no group follows it. */
    private final String last;

    private GroupPlan(Set<String> cuts, int level, String last) {
        this.cuts = cuts;
        this.level = level;
        this.last = last;
    }

    /** One group: the archive as a single tar, as before groups (and for --compression none). */
    public static GroupPlan single() {
        return new GroupPlan(Set.of(), NONE, null);
    }

    /** The level of the plan: a later save with this entry as its base passes it back to of(). */
    public int level() {
        return level;
    }

    /** How many groups the plan makes of the folder as it was walked. */
    public int groups() {
        return cuts.size() + (cuts.contains(last) ? 0 : 1);
    }

    boolean cutsAfter(String name) {
        return cuts.contains(name);
    }

    /**
     * A name's level: its sha256's first 53 bits as a fraction u of 1, and the level -4 log2(u)
     * rounded down, so that one name in 2^(L/4) reaches level L. Quarter bits rather than whole
     * ones: each level up has a fifth fewer cuts, not half, so the plan lands near MAX_GROUPS.
     */
    static int level(String name) {
        byte[] hash = Digests.sha256().digest(name.getBytes(StandardCharsets.UTF_8));
        long first = 0;
        for (int i = 0; i < 8; i++) {
            first = first << 8 | (hash[i] & 0xff);
        }
        double u = (first >>> 11) * 0x1.0p-53;
        return u == 0 ? NONE - 1 : (int) Math.floor(-4 * Math.log(u) / Math.log(2));
    }

    private record Candidate(long index, String name, int level) {}

    /** The plan for the folder; baseLevel is the base entry's level, or -1 when there is none. */
    public static GroupPlan of(Path folder, int baseLevel) throws IOException {
        var candidates = new ArrayList<Candidate>();
        var linked = new HashMap<Object, long[]>(); // inode -> first and last index of its names
        long[] counts = {0, 0}; // entries, bytes
        int[] floor = {0};
        String[] last = {null};
        Walk.walk(folder, (path, name, stat) -> {
            int type = stat.mode() & FileStat.TYPE;
            if (type != FileStat.DIRECTORY && type != FileStat.REGULAR && type != FileStat.SYMLINK) {
                return; // not archived, so no place to cut
            }
            long index = counts[0]++;
            last[0] = name;
            if (type == FileStat.REGULAR) {
                counts[1] += stat.size();
                if (stat.nlink() > 1) {
                    linked.computeIfAbsent(stat.inode(), inode -> new long[] {index, index})[1] = index;
                }
            }
            int level = level(name);
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
        int maxCuts = (int) Math.min(MAX_GROUPS - 1, counts[1] / MIN_GROUP_BYTES);
        int level = baseLevel >= floor[0] && count(candidates, baseLevel) <= MAX_GROUPS - 1 ? baseLevel : NONE;
        if (level == NONE) {
            level = floor[0];
            while (level < NONE && count(candidates, level) > maxCuts) {
                level++;
            }
        }
        var cuts = new HashSet<String>();
        for (Candidate c : candidates) {
            if (c.level() >= level) {
                cuts.add(c.name());
            }
        }
        return new GroupPlan(cuts, level, last[0]);
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

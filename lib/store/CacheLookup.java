package lib.store;

import java.io.IOException;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Which entry a fetch restores: the one at the key's own path, or else, as actions/cache does, the
 * newest entry whose name starts with the first restore key that matches anything. The newest is
 * the latest modified (for OCI, the image's created annotation); ties go to the greatest name so
 * that two readers pick the same entry.
 */
public final class CacheLookup {

    /** The entry found; exact when it is the key's own, else restoreKey is the prefix it was found by. */
    public record Match(Store.StoredObject object, boolean exact, String restoreKey) {

        /** The entry's name in its folder or repository: the matched-key result. */
        public String name() {
            return nameOf(object.path());
        }
    }

    /** Newest first: the latest modified, a tie going to the greatest name. */
    public static final Comparator<Store.StoredObject> NEWEST_FIRST =
            Comparator.comparing(Store.StoredObject::modified).thenComparing(Store.StoredObject::path).reversed();

    private CacheLookup() {}

    /** The match for path, with each restore key already expanded into a prefix of an entry's name. */
    public static Optional<Match> find(Store store, String path, List<String> restoreKeys) throws IOException {
        Optional<Store.StoredObject> exact = store.find(path);
        if (exact.isPresent()) {
            return Optional.of(new Match(exact.get(), true, null));
        }
        for (String restoreKey : restoreKeys) {
            Optional<Store.StoredObject> newest = entriesBeside(store, path, restoreKey).stream().min(NEWEST_FIRST);
            if (newest.isPresent()) {
                return Optional.of(new Match(newest.get(), false, restoreKey));
            }
        }
        return Optional.empty();
    }

    /** The entries in path's folder (not in a folder below it) whose names start with prefix: what a restore key matches. */
    public static List<Store.StoredObject> entriesBeside(Store store, String path, String prefix) throws IOException {
        String folder = path.substring(0, path.lastIndexOf('/') + 1);
        return store.list(folder + prefix).stream().filter(object -> object.path().lastIndexOf('/') == folder.length() - 1)
                .toList();
    }

    public static String nameOf(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }
}

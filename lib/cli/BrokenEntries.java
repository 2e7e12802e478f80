package lib.cli;

import java.io.IOException;
import lib.common.Reason;
import lib.store.Store;

/**
 * What becomes of an entry whose bytes were refused (corrupt, truncated, hostile, or another tar
 * than its entry names), found by a fetch that restores it or by an upload that would keep it.
 * Entries are immutable, so a bad one left in place would make every build of its key a cold one:
 * it is deleted where the store lets this run, and otherwise replaced by the key's next upload
 * where the store can replace it (a registry's tag); each line says which.
 */
final class BrokenEntries {

    private BrokenEntries() {}

    /**
     * What became of a refused entry: deleted, or, where it was not, why not in words (undeleted),
     * which the fetch's line and the upload's line each finish in their own terms.
     */
    record Removal(boolean deleted, String undeleted) {

        /** The fetch's words: what the next upload of the key will do. */
        String says() {
            return deleted ? "the entry was deleted, so that the next upload of its key stores it anew"
                    : undeleted + ", so the next upload of its key replaces it where the store allows (a registry's tag),"
                            + " else delete it by hand";
        }
    }

    /**
     * Deletes the entry, by the version found (Store.delete): one stored since at its name stays.
     * It is out of the way of the next upload of its key, and of a save taking it for its base.
     */
    static Removal remove(Store store, Store.StoredObject object) {
        try {
            store.delete(object);
            return new Removal(true, null);
        } catch (Store.DeletionRefused e) {
            return new Removal(false, "the store does not let it be deleted (" + Reason.of(e) + ")");
        } catch (IOException | RuntimeException e) {
            return new Removal(false, "deleting it failed too (" + Reason.of(e) + ")");
        }
    }
}

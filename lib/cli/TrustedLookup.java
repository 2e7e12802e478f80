package lib.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import lib.archive.BadArchive;
import lib.common.Log;
import lib.common.Reason;
import lib.store.CacheLookup;
import lib.store.EntryTrust;
import lib.store.Store;
import lib.trust.TrustedKeys;

/**
 * CacheLookup for a run given --verify-key: the key's own entry if one of the keys signed it, else,
 * for the first restore key that finds one, the newest of its entries one of them signed; the
 * untrusted are passed over, never restored, never deleted (another pipeline's, or a planted one).
 * Each is verified by its index or manifest and signature, before a byte of its groups is read,
 * and the groups returned are the ones verified, which the restore then checks every group against.
 */
public final class TrustedLookup {

    /** How many entries one lookup verifies at most: each costs a request or two. */
    static final int MOST_VERIFIED = 32;

    /**
     * The trusted entry found, its verified groups (empty for an entry of one stream, an image of one
     * layer, whose one digest the signed manifest names) and who signed it ("signed by <key id>"),
     * or none; passedOver says, for the line, what was not trusted.
     */
    public record Found(Optional<CacheLookup.Match> match, Optional<Store.Groups> groups, String signedBy, PassedOver passedOver) {

        static final Found NONE = unverified(Optional.empty());

        /** CacheLookup's match, given no key: nothing verified, its groups not read yet. */
        static Found unverified(Optional<CacheLookup.Match> match) {
            return new Found(match, Optional.empty(), null, PassedOver.NOTHING);
        }

        /** Whether the match was verified, and groups are the ones its signature covers. */
        public boolean verified() {
            return signedBy != null;
        }
    }

    /** The key's own entry when it was not trusted (why), and how many restore keys' entries were not. */
    public record PassedOver(Optional<String> exact, int others, Optional<String> firstOther) {

        static final PassedOver NOTHING = new PassedOver(Optional.empty(), 0, Optional.empty());

        public boolean none() {
            return exact.isEmpty() && others == 0;
        }

        /** "… is not signed by a trusted key (…)" of what was passed over, or "" when nothing was. */
        public String says(String location) {
            var parts = new ArrayList<String>();
            exact.ifPresent(why -> parts.add(location + " is not signed by a trusted key (" + why + ")"));
            if (others > 0) {
                parts.add(others + (others == 1 ? " entry" : " entries") + " a restore key matched "
                        + (others == 1 ? "is" : "are") + " not signed by a trusted key" + firstOther.map(why -> " (the newest: " + why + ")").orElse(""));
            }
            return String.join("; ", parts);
        }
    }

    private TrustedLookup() {}

    public static Found find(Store store, String path, List<String> restoreKeys, TrustedKeys keys, Log log) throws IOException {
        Optional<String> exactWhy = Optional.empty();
        int verified = 0;
        Optional<Store.StoredObject> exact = store.find(path);
        if (exact.isPresent()) {
            verified++;
            Verified own = verify(store, exact.get(), keys);
            if (own.verdict().trusted()) {
                return new Found(Optional.of(new CacheLookup.Match(exact.get(), true, null)), own.groups(),
                        own.verdict().says(), PassedOver.NOTHING);
            }
            exactWhy = Optional.of(own.verdict().says());
        }
        int others = 0;
        Optional<String> firstOther = Optional.empty();
        for (String restoreKey : restoreKeys) {
            List<Store.StoredObject> entries = CacheLookup.entriesBeside(store, path, restoreKey).stream()
                    .filter(object -> !object.path().equals(path)).sorted(CacheLookup.NEWEST_FIRST).toList();
            for (Store.StoredObject object : entries) {
                if (verified++ == MOST_VERIFIED) {
                    log.info("note: " + MOST_VERIFIED + " entries were verified and none is signed by a trusted key;"
                            + " the older ones are not looked at");
                    return new Found(Optional.empty(), Optional.empty(), null, new PassedOver(exactWhy, others, firstOther));
                }
                Verified candidate = verify(store, object, keys);
                if (candidate.verdict().trusted()) {
                    return new Found(Optional.of(new CacheLookup.Match(object, false, restoreKey)), candidate.groups(),
                            candidate.verdict().says(), new PassedOver(exactWhy, others, firstOther));
                }
                log.debug("passed over " + CacheLookup.nameOf(object.path()) + ": not signed by a trusted key ("
                        + candidate.verdict().says() + ")");
                if (others++ == 0) {
                    firstOther = Optional.of(CacheLookup.nameOf(object.path()) + ": " + candidate.verdict().says());
                }
            }
        }
        return new Found(Optional.empty(), Optional.empty(), null, new PassedOver(exactWhy, others, firstOther));
    }

    /** The verdict on an entry and the groups it was given on. */
    record Verified(EntryTrust.Verdict verdict, Optional<Store.Groups> groups) {}

    /** The entry's groups read as a restore reads them, and whether one of the keys signed them; an unreadable index is untrusted. */
    static Verified verify(Store store, Store.StoredObject object, TrustedKeys keys) throws IOException {
        Optional<Store.Groups> groups;
        try {
            groups = store.groups(object);
        } catch (BadArchive e) {
            return new Verified(new EntryTrust.Verdict(Optional.empty(), EntryTrust.Why.MALFORMED, "its index cannot be read: "
                    + Reason.of(e)), Optional.empty());
        }
        return new Verified(EntrySignatures.verify(store, object, groups, keys), groups);
    }
}

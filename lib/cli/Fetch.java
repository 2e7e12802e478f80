package lib.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import lib.archive.BadArchive;
import lib.archive.EntryCheck;
import lib.archive.Exclusion;
import lib.archive.Folders;
import lib.archive.Meter;
import lib.archive.SafeRestore;
import lib.common.CacheException;
import lib.common.CacheMiss;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.common.StoreError;
import lib.common.UsageError;
import lib.key.CacheKey;
import lib.store.CacheLookup;
import lib.store.Headway;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.trust.TrustedKeys;

/**
 * cache-fetch: computes the key, finds its archive in the store (or, failing that, the newest one a
 * restore key matches) and restores it safely into the folder.
 */
public final class Fetch {

    /**
     * What to fetch, into which folders; exclusion names what the restore leaves alone, lookupOnly says what would be
     * restored and restores nothing, failOnMiss makes a miss exit 1; keys, unless empty, are those an
     * entry must be signed by to be restored (--verify-key).
     */
    public record Request(StoreUri source, Folders folders, Exclusion exclusion, Path workingDir, List<String> patterns,
            List<String> restoreKeys, boolean lookupOnly, boolean failOnMiss, boolean insecure, Duration stallTimeout,
            Supplier<TrustedKeys> keys, Environment environment) {}

    public static final Map<String, String> RESULTS_BEFORE = Map.of(
            "fetched", "false", "cache-hit", "false", "cache-key", "", "matched-key", "", "size", "0");

    private Fetch() {}

    public static void run(Request request, Results results, Log log, LongSupplier nanoTime) {
        Folders folders = request.folders();
        // Before anything else, even a run that restores nothing: a miss leaves the folder as it was.
        KilledRestores.takeBack(folders, log);
        CacheKey key = CacheKey.forFolders(request.patterns(), request.workingDir(), folders.paths(), folders.labels(), log);
        results.put("cache-key", key.hash());
        List<String> restoreKeys = RestoreKeys.prefixes(request.restoreKeys(), request.source(), "--source", key.hash(),
                request.environment());
        URI location = request.source().resolve(key.hash());
        Stores.Target target = Stores.open(location, request.insecure(), request.stallTimeout(), request.environment(), log);
        Store store = target.store();
        try (store) {
            TrustedKeys keys = request.keys().get(); // read meanwhile; a bad key file is told before any request
            var found = lookup(store, target.path(), restoreKeys, keys, log);
            for (int refused = 1; ; refused++) {
                if (found.match().isEmpty()) {
                    String miss = "cache miss: " + (found.passedOver().none() ? "nothing at " + location
                            + (restoreKeys.isEmpty() ? "" : " nor starting with " + String.join(", ", restoreKeys))
                            : found.passedOver().says(location.toString())) + "; " + key.describe();
                    if (request.failOnMiss()) {
                        throw new CacheMiss(miss + " (--fail-on-miss)");
                    }
                    log.info(miss);
                    return;
                }
                CacheLookup.Match match = found.match().get();
                var object = match.object();
                String where = match.exact() ? location.toString() : location.toString().replace(CacheLookup.nameOf(target.path()), match.name());
                boolean nameHoldsKey = request.source().nameTemplate().contains(StoreUri.HASH);
                results.put("cache-hit", Boolean.toString(match.exact()));
                results.put("matched-key", match.exact() && !nameHoldsKey ? key.hash() : match.name());
                results.put("size", Long.toString(object.size()));
                String how = (match.exact() ? "" : " (restore key " + match.restoreKey() + ", the newest "
                        + (found.verified() ? "trusted " : "") + "of its entries)")
                        + (found.verified() ? ", " + found.signedBy() : "")
                        + (found.passedOver().none() ? "" : "; " + found.passedOver().says(location.toString()));
                if (request.lookupOnly()) {
                    log.info("found " + where + how + ", " + Log.bytes(object.size()) + ", made " + object.modified()
                            + "; not restored (--lookup-only); " + key.describe());
                    return;
                }
                var meter = new Meter("restoring from " + where, log, nanoTime);
                Optional<Store.Groups> groups;
                SafeRestore.Stats restored;
                try {
                    // Verified, the groups are those its signature covers, not read again.
                    groups = found.verified() ? found.groups() : store.groups(object);
                    restored = restore(store, object, groups, folders, request.exclusion(), meter);
                } catch (SafeRestore.OtherFolders e) {
                    unfound(results);
                    throw new UsageError(where + " was saved from " + e.getMessage() + ", so nothing was restored: fetch with"
                            + " the --folder options it was saved with, or from another entry; " + key.describe());
                } catch (BadArchive e) {
                    unfound(results);
                    if (store.gaveUp()) {
                        throw e; // cut short by the give-up, not refused for its bytes: nothing is deleted
                    }
                    BrokenEntries.Removal removal = BrokenEntries.remove(store, object);
                    var refusal = new StoreError("restoring " + where + " into " + folders.describe() + ": " + Reason.of(e) + "; "
                            + removal.says() + "; " + key.describe(), e);
                    // Deleted, it is out of the way: the next entry found (a restore key's) is tried, a few at most.
                    found = removal.deleted() && refused < MOST_REFUSED ? lookup(store, target.path(), restoreKeys, keys, log)
                            : TrustedLookup.Found.NONE;
                    if (found.match().isEmpty() || found.match().get().object().equals(object)) {
                        throw refusal;
                    }
                    log.info(refusal.getMessage() + "; trying the next entry found");
                    continue;
                } catch (Store.EntryGone e) {
                    // Deleted between the lookup and the read (--keep, a lifecycle rule): nothing to restore.
                    unfound(results);
                    String miss = "cache miss: " + where + " was deleted while it was read, and "
                            + (folders.single() ? "the folder is as it was; " : "the folders are as they were; ")
                            + key.describe();
                    if (request.failOnMiss()) {
                        throw new CacheMiss(miss + " (--fail-on-miss)");
                    }
                    log.info(miss);
                    return;
                } catch (IOException | RuntimeException e) {
                    unfound(results); // the store's transfer or the folder failed: nothing was restored
                    throw e;
                }
                if (groups.isEmpty() && object.sha256().isEmpty()) {
                    log.info("note: " + where + " records no sha256 (written by the Go tool?);"
                            + " only the compressor's own checksum guarded it");
                }
                results.put("fetched", "true");
                log.info("restored " + Log.entries(restored.files(), restored.directories(), restored.links())
                        + " (" + Log.bytes(restored.bytes()) + ") into " + folders.describe() + " from " + where + how
                        + (restored.excluded() == 0 ? "" : ", leaving out " + restored.excluded() + " entries --exclude names") + " "
                        + Log.timing(meter.bytes(), meter.elapsedNanos()) + "; " + key.describe());
                return;
            }
        } catch (IOException | RuntimeException e) {
            if (store.gaveUp() && !(e instanceof CacheException)) {
                // A cache only saves time: a store that makes no headway is a miss, not a failed build.
                unfound(results);
                String miss = "cache miss: " + location + " was not restored, " + Headway.says(request.stallTimeout()) + "; "
                        + (folders.single() ? "the folder is as it was; " : "the folders are as they were; ") + key.describe();
                if (request.failOnMiss()) {
                    throw new StoreError(miss + " (--fail-on-miss)", e);
                }
                log.info(miss);
                return;
            }
            if (e instanceof IOException) {
                throw new StoreError("restoring " + location + " into " + folders.describe() + ": " + Reason.of(e), e);
            }
            throw (RuntimeException) e;
        }
    }

    /** The entry to restore: CacheLookup's, or, given keys, the trusted one TrustedLookup finds. */
    private static TrustedLookup.Found lookup(Store store, String path, List<String> restoreKeys, TrustedKeys keys, Log log)
            throws IOException {
        if (keys.isEmpty()) {
            return TrustedLookup.Found.unverified(CacheLookup.find(store, path, restoreKeys));
        }
        return TrustedLookup.find(store, path, restoreKeys, keys, log);
    }

    /** How many refused entries one fetch deletes, trying the next entry found after each. */
    private static final int MOST_REFUSED = 3;

    /** The results of an entry found but not restored, as if none had been. */
    private static void unfound(Results results) {
        for (String result : List.of("cache-hit", "matched-key", "size")) {
            results.put(result, RESULTS_BEFORE.get(result));
        }
    }

    /** Restores the entry into the folder, as the store holds it. */
    public static SafeRestore.Stats restore(Store store, Store.StoredObject object, Path folder, Meter meter) throws IOException {
        return restore(store, object, store.groups(object), Folders.single(folder), Exclusion.NONE, meter);
    }

    /**
     * Restores the entry into the folder: group by group, each group's tar checked against the
     * diff_id its entry names (each byte hashed once: the stored bytes' digest is checked only for a
     * group whose tar has none named), or, for an entry of one stream, the digest the store recorded
     * checked as the bytes stream by.
     */
    public static SafeRestore.Stats restore(Store store, Store.StoredObject object, Optional<Store.Groups> groups,
            Folders folders, Exclusion exclusion, Meter meter) throws IOException {
        if (groups.isPresent()) {
            try (Store.GroupStreams streams = store.read(object, groups.get(), in -> meter.watch(in, null))) {
                return SafeRestore.restore(tars(streams), folders, exclusion);
            }
        }
        try (InputStream in = meter.watch(store.open(object), object.sha256().orElse(null))) {
            return SafeRestore.restore(in, folders, exclusion);
        }
    }

    /**
     * Reads the entry through with the checks of restore, placing nothing (EntryCheck): a
     * BadArchive says what is wrong with its bytes; a failure of the store's stays what it was.
     */
    public static void readThrough(Store store, Store.StoredObject object, Meter meter) throws IOException {
        Optional<Store.Groups> groups = store.groups(object);
        if (groups.isPresent()) {
            try (Store.GroupStreams streams = store.read(object, groups.get(), in -> meter.watch(in, null))) {
                EntryCheck.readThrough(tars(streams));
                return;
            }
        }
        try (InputStream in = meter.watch(store.open(object), object.sha256().orElse(null))) {
            EntryCheck.readThrough(in);
        }
    }

    /** The groups as a restore reads them: each tar checked against its diff_id, or, with none named, its stored bytes against their digest. */
    private static SafeRestore.Groups tars(Store.GroupStreams streams) {
        return () -> {
            Store.GroupStream next = streams.next();
            if (next == null) {
                return null;
            }
            Store.Group group = next.group();
            return group.diffId() != null ? new SafeRestore.Group(next.stored(), group.diffId())
                    : new SafeRestore.Group(Meter.verified(next.stored(), group.sha256()), null);
        };
    }
}

package lib.cli;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import lib.archive.Archive;
import lib.archive.BadArchive;
import lib.archive.Compression;
import lib.archive.Exclusion;
import lib.archive.Folders;
import lib.archive.GroupPlan;
import lib.archive.Meter;
import lib.common.DaemonThreads;
import lib.common.Durations;
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
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;

/** cache-upload: computes the key and stores the folder's archive under it, streamed, committed only when whole. */
public final class Upload {

    /**
     * What to upload. expiresAfter (oci:// only) labels the image for Quay to delete after that age;
     * maxAge (file:// only) prunes the folder's entries unused for longer. Either may be null. A
     * folder whose files hold more than maxSize bytes is not saved (-1: any size is); exclusion
     * names what is left out of the save. keep (0: all) is how many entries the first restore key
     * matches are kept after the save, its own among them. signingKey signs the entry written;
     * verifyKeys (and signingKey's own) are what the key's entry found, and a base, must be signed by.
     */
    public record Request(StoreUri target, Folders folders, Exclusion exclusion, Path workingDir, List<String> patterns,
            List<String> restoreKeys, Compression.Setting compression, long maxSize, int keep, String expiresAfter,
            Duration maxAge, boolean insecure, Duration stallTimeout, Supplier<Optional<SigningKey>> signingKey,
            Supplier<TrustedKeys> verifyKeys, Environment environment) {

        /**
         * The keys an entry this upload keeps or builds on must be signed by: --verify-key's, and the
         * signing key's own, for an upload that signs vouches for what it reuses; none: any entry.
         */
        TrustedKeys trusted() {
            var keys = new ArrayList<>(verifyKeys.get().keys());
            signingKey.get().ifPresent(key -> keys.add(key.publicKey()));
            return TrustedKeys.of(keys);
        }
    }

    public static final Map<String, String> RESULTS_BEFORE = Map.of("cache-key", "", "size", "0");
    /** The entries left out for a name that is not UTF-8 that get a line each; the rest are counted. */
    private static final int LEFT_OUT_NAMED = 100;

    private Upload() {}

    public static void run(Request request, Results results, Log log, LongSupplier nanoTime) {
        Folders folders = request.folders();
        checkFolders(folders, log);
        // Before the walk: a folder a killed restore left half placed is not saved so.
        KilledRestores.takeBack(folders, log);
        // The folder's walk for the group plan goes on beside the key, the store's answers and the JVM's warming up.
        FutureTask<GroupPlan.Survey> survey = request.compression().compression() == Compression.NONE ? null
                : new FutureTask<>(() -> GroupPlan.survey(folders, request.exclusion()));
        if (survey != null) {
            DaemonThreads.named("group-plan").newThread(survey).start();
        }
        CacheKey key = CacheKey.forFolders(request.patterns(), request.workingDir(), folders.paths(), folders.labels(), log);
        results.put("cache-key", key.hash());
        List<String> restoreKeys = RestoreKeys.prefixes(request.restoreKeys(), request.target(), "--target", key.hash(),
                request.environment());
        if (request.keep() > 0 && restoreKeys.isEmpty()) {
            throw new UsageError("--keep " + request.keep() + " keeps the newest entries the first --restore-key matches;"
                    + " give one, such as the key's name up to its hash");
        }
        URI location = request.target().resolve(key.hash());
        Stores.Scheme scheme = Stores.scheme(location);
        checkLifecycleOptions(request, location, scheme.expiry());
        Stores.Target target = scheme.open(location, request.insecure(), request.stallTimeout(), request.environment(), log);
        Store store = target.store();
        try (store) {
            // Read meanwhile; a bad key file is told before any request.
            TrustedKeys trusted = request.trusted();
            if (request.signingKey().get().isPresent() && request.compression().compression() == Compression.NONE
                    && !"oci".equals(location.getScheme())) {
                throw new UsageError("--sign-key cannot sign an entry of --compression none on " + location.getScheme()
                        + "://: its signature is kept in the index, which such an entry has none of; compress it (the default, zstd)");
            }
            var existing = store.find(target.path());
            boolean entryThere = existing.isPresent();
            Optional<Store.StoredObject> replacing = Optional.empty();
            if (existing.isPresent()) {
                // Entries are immutable, as actions/cache's are: a key names one archive for good, once
                // it reads through. A broken one is deleted, or else replaced, rather than kept for good.
                Store.StoredObject found = existing.get();
                Optional<String> untrusted = trusted.isEmpty() ? Optional.empty() : untrusted(store, found, trusted);
                // An upload that signs replaces an untrusted entry by a trusted one; one that does not
                // would only store another untrusted entry, every run: it keeps it, saying so.
                boolean replaceUntrusted = untrusted.isPresent() && request.signingKey().get().isPresent();
                Optional<BadArchive> fault = replaceUntrusted ? Optional.empty() : fault(store, found, location, log, nanoTime);
                if (replaceUntrusted) {
                    // Not kept silently: unsigned (saved before signing began) or planted, it is replaced by one signed.
                    BrokenEntries.Removal removal = BrokenEntries.remove(store, found);
                    log.info(location + " is not signed by a trusted key (" + untrusted.get() + "): "
                            + (removal.deleted() ? "it was deleted; saving it anew"
                                    : removal.undeleted() + ", so this upload replaces it where the store allows (a registry's tag)"));
                    replacing = removal.deleted() ? Optional.empty() : existing;
                    entryThere = false;
                } else if (fault.isEmpty()) {
                    log.info("kept: " + location + " already holds this key's entry (" + Log.bytes(found.size())
                            + ", made " + found.modified() + ", read through and sound"
                            + untrusted.map(why -> ", though not signed by a trusted key (" + why + "), which this upload,"
                                    + " signing nothing (--sign-key), cannot mend").orElse("")
                            + "), so nothing was uploaded; " + key.describe());
                } else {
                    BrokenEntries.Removal removal = BrokenEntries.remove(store, found);
                    log.info("the entry at " + location + " is broken (" + Reason.of(fault.get()) + "): "
                            + (removal.deleted() ? "it was deleted; saving it anew"
                                    : removal.undeleted() + ", so this upload replaces it where the store allows (a registry's tag)"));
                    replacing = removal.deleted() ? Optional.empty() : existing;
                    entryThere = false;
                }
            }
            if (!entryThere && !overMaxSize(request, survey, location, key, log)) {
                // The entry left in place (broken, or untrusted) is no base: its groups are what is wrong with it.
                Optional<Base> base = replacing.isPresent() ? Optional.empty()
                        : base(store, target.path(), restoreKeys, request.compression().compression(), trusted, log);
                upload(request, store, target.path(), location, key, survey, base, replacing, results, log, nanoTime);
                entryThere = true;
            }
            if (request.keep() > 0 && entryThere) {
                keepNewest(store, target.path(), restoreKeys.get(0), request.keep(), log);
            }
            if (request.maxAge() != null) {
                prune(store, request.maxAge(), log);
            }
        } catch (IOException | RuntimeException e) {
            String uploading = "uploading " + folders.describe() + " to " + location + ": ";
            if (store.gaveUp() && !(e instanceof UsageError)) {
                // What failed is the abandon's doing (an aborted request, a closed pool): say why.
                throw new StoreError(uploading + Headway.says(request.stallTimeout()), e);
            }
            if (e instanceof IOException) {
                throw new StoreError(uploading + Reason.of(e), e);
            }
            throw (RuntimeException) e;
        }
    }

    /**
     * Why the key's entry, found, is not to be kept: read through as a restore reads it (Fetch.readThrough),
     * writing nothing, its fault; empty when it is sound. An upload finds its key's entry when the
     * fetch before it restored none (the StepAction skips the upload on a hit): a broken entry, a
     * store the fetch could not reach, or another pipeline's save since. The check costs a
     * download, which is what kept a broken entry otherwise costs every build of its key.
     */
    private static Optional<BadArchive> fault(Store store, Store.StoredObject found, URI location, Log log,
            LongSupplier nanoTime) throws IOException {
        var meter = new Meter("reading through " + location, log, nanoTime);
        try {
            Fetch.readThrough(store, found, meter);
            return Optional.empty();
        } catch (BadArchive e) {
            if (store.gaveUp()) {
                throw e; // cut short by the give-up, not refused for its bytes
            }
            return Optional.of(e);
        }
    }

    /** Why the entry found is not signed by one of the keys; empty when it is. */
    private static Optional<String> untrusted(Store store, Store.StoredObject found, TrustedKeys keys) throws IOException {
        TrustedLookup.Verified verified = TrustedLookup.verify(store, found, keys);
        return verified.verdict().trusted() ? Optional.empty() : Optional.of(verified.verdict().says());
    }

    /**
     * Each folder must be one. Of several, one that does not exist (Gradle's wrapper/ when the build
     * used no wrapper) is saved empty, as actions/cache saves the paths that exist; not all of them.
     */
    private static void checkFolders(Folders folders, Log log) {
        var missing = new ArrayList<Path>();
        for (Path folder : folders.paths()) {
            if (folders.single() || !Files.notExists(folder, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(folder)) {
                    throw new UsageError("--folder " + folder + " is not a directory: nothing to upload");
                }
            } else {
                missing.add(folder);
            }
        }
        if (missing.size() == folders.size()) {
            throw new UsageError("none of the --folder options names a directory (" + folders.describe() + "): nothing to upload");
        }
        for (Path folder : missing) {
            log.info("note: --folder " + folder + " does not exist: it is saved as an empty folder");
        }
    }

    /**
     * Whether the folder's files hold more than --max-size; then one line says nothing was saved,
     * before a byte is sent. The survey counted them; --compression none makes none, so a walk does.
     */
    private static boolean overMaxSize(Request request, FutureTask<GroupPlan.Survey> survey, URI location, CacheKey key,
            Log log) throws IOException {
        if (request.maxSize() < 0) {
            return false;
        }
        GroupPlan.Survey surveyed = survey == null ? null : surveyed(survey);
        long bytes = surveyed == null ? GroupPlan.bytes(request.folders(), request.exclusion()) : surveyed.bytes();
        if (bytes <= request.maxSize()) {
            return false; // the survey goes on to plan the groups
        }
        if (surveyed != null) {
            surveyed.close();
        }
        log.info("not saved: the files of " + request.folders().describe() + " hold " + Log.bytes(bytes) + ", more than --max-size "
                + Log.bytes(request.maxSize()) + ", so nothing was uploaded to " + location + "; " + key.describe());
        return true;
    }

    /** The entry a save may take groups from: found by a restore key, as cache-fetch finds it, with its groups. */
    public record Base(String name, Store.StoredObject object, Optional<Store.Groups> groups) {

        int level() {
            return groups.map(Store.Groups::level).orElse(-1);
        }
    }

    /**
     * The newest entry the first matching restore key finds, when the key's own has none; given
     * keys, the newest one of them signed (TrustedLookup), its groups those verified, so that no
     * group an untrusted entry holds enters this one. A base that cannot be read is no reason to
     * fail the save: everything is sent instead.
     */
    private static Optional<Base> base(Store store, String path, List<String> restoreKeys, Compression compression,
            TrustedKeys keys, Log log) throws IOException {
        if (restoreKeys.isEmpty() || compression == Compression.NONE) {
            return Optional.empty();
        }
        if (!keys.isEmpty()) {
            TrustedLookup.Found trusted = TrustedLookup.find(store, path, restoreKeys, keys, log);
            if (trusted.match().isEmpty()) {
                log.info("no entry starting with " + String.join(", ", restoreKeys) + " is signed by a trusted key"
                        + (trusted.passedOver().none() ? "" : " (" + trusted.passedOver().says(path) + ")") + ": every group is sent");
                return Optional.empty();
            }
            return Optional.of(new Base(trusted.match().get().name(), trusted.match().get().object(), trusted.groups()));
        }
        var found = CacheLookup.find(store, path, restoreKeys);
        if (found.isEmpty()) {
            log.info("no entry starts with " + String.join(", ", restoreKeys) + ": every group is sent");
            return Optional.empty();
        }
        var object = found.get().object();
        try {
            return Optional.of(new Base(found.get().name(), object, store.groups(object)));
        } catch (IOException e) {
            log.info("the base " + found.get().name() + " cannot be read (" + Reason.of(e) + "): every group is sent");
            return Optional.empty();
        }
    }

    /**
     * Writes and commits the entry. A base that changes or goes away between the check of its groups
     * and the commit (Store.BaseGone) leaves nothing stored; the entry is then written again without
     * a base, every group sent, as if there had been none.
     */
    private static void upload(Request request, Store store, String path, URI location, CacheKey key,
            FutureTask<GroupPlan.Survey> survey, Optional<Base> base, Optional<Store.StoredObject> replacing,
            Results results, Log log, LongSupplier nanoTime) throws IOException {
        try {
            upload(request, store, path, location, key, survey == null ? null : surveyed(survey), base, replacing, results, log,
                    nanoTime);
        } catch (Store.BaseGone e) {
            log.info("the base " + base.map(Base::name).orElse("") + " changed while this upload ran (" + e.getMessage()
                    + "): uploading again without it");
            upload(request, store, path, location, key, survey == null ? null : GroupPlan.survey(request.folders(), request.exclusion()),
                    Optional.empty(), replacing, results, log, nanoTime);
        }
    }

    private static void upload(Request request, Store store, String path, URI location, CacheKey key,
            GroupPlan.Survey survey, Optional<Base> base, Optional<Store.StoredObject> replacing,
            Results results, Log log, LongSupplier nanoTime) throws IOException {
        try (Store.EntryWrite entry = store.createEntry(path, request.compression().compression())) {
            Optional<SigningKey> signingKey = request.signingKey().get();
            if (signingKey.isPresent() && !EntrySignatures.signWith(entry, signingKey.get())) {
                throw new UsageError("--sign-key: an entry of --compression " + request.compression().compression().label()
                        + " on " + location.getScheme() + ":// cannot carry a signature");
            }
            if (replacing.isPresent() && !entry.replaces(replacing.get())) {
                throw new StoreError("the entry at " + location + " can be neither deleted nor replaced here, so nothing"
                        + " was uploaded: delete it by hand; " + key.describe(), null);
            }
            var meter = new Meter("uploading to " + location, log, nanoTime);
            Written written = write(request.folders(), request.exclusion(), request.compression(), survey, base, entry, meter);
            Archive.Stats archived = written.archived();
            boolean stored = entry.commit(written.description(key.hash(), request.expiresAfter()), written.level());
            if (archived.skipped() > 0) {
                log.info("skipped " + archived.skipped() + " sockets, fifos or devices: a cache holds files, links and folders");
            }
            for (String unnamed : written.leftOut()) {
                log.info("left out " + unnamed + (unnamed.endsWith("/") ? " and all it holds" : "")
                        + ": its name is not UTF-8 (each byte that is not shown as \\xNN), and a restore refuses such names");
            }
            if (written.leftOutCount() > written.leftOut().size()) {
                log.info("left out " + (written.leftOutCount() - written.leftOut().size()) + " more files or folders whose"
                        + " names are not UTF-8");
            }
            if (!stored) {
                log.info("kept: another upload stored " + location + " while this one ran; its entry stays and this"
                        + " archive was discarded; " + key.describe());
                return;
            }
            Store.Sent sent = entry.sent();
            results.put("size", Long.toString(sent.bytesSent() + sent.bytesReused()));
            String label = request.compression().compression().label();
            log.info("uploaded " + Log.entries(archived.files(), archived.directories(), archived.links())
                    + " (" + Log.bytes(written.tarBytes()) + ", " + Log.bytes(sent.bytesSent() + sent.bytesReused()) + " " + label
                    + groups(sent.groupsSent() + sent.groupsReused()) + ") from " + request.folders().describe() + " to " + location
                    + reuse(base, sent, written.matched(), location.getScheme(), label)
                    + request.signingKey().get().map(signer -> ", signed by " + signer.publicKey().id()).orElse("")
                    + " " + Log.timing(meter.bytes(), meter.elapsedNanos()) + "; " + key.describe());
        }
    }

    /** The survey's result; its failure as the walk threw it. */
    private static GroupPlan.Survey surveyed(FutureTask<GroupPlan.Survey> survey) throws IOException {
        try {
            return survey.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the folder was walked");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        }
    }

    private static String groups(int count) {
        return count == 1 ? "" : " in " + count + " groups";
    }

    /** What the line says of the base: what was reused, or why nothing was. */
    private static String reuse(Optional<Base> base, Store.Sent sent, int matched, String scheme, String label) {
        if (base.isEmpty()) {
            // A registry reuses a layer any entry of the repository pushed: the line says so, not that it was sent.
            return sent.groupsReused() == 0 ? "" : ": " + sent.groupsReused() + " already in the repository ("
                    + Log.bytes(sent.bytesReused()) + " not sent), " + sent.groupsSent() + " sent (" + Log.bytes(sent.bytesSent())
                    + " " + label + ")";
        }
        String from = base.get().name();
        if (base.get().groups().isEmpty()) {
            return ": nothing reused, " + from + " is one stream (made before groups, or by the Go tool)";
        }
        if (sent.groupsReused() == 0 && matched == 0) {
            return ": no group of " + from + " was the same, all " + sent.groupsSent() + " sent";
        }
        if (sent.groupsReused() == 0) {
            return ": " + matched + " groups were as in " + from + ", but " + scheme + ":// cannot copy them on its side, so all "
                    + sent.groupsSent() + " were sent";
        }
        return ": " + sent.groupsReused() + " reused from " + from + " (" + Log.bytes(sent.bytesReused()) + " not sent), "
                + sent.groupsSent() + " sent (" + Log.bytes(sent.bytesSent()) + " " + label + ")"
                + (matched == 0 ? "" : ", " + matched + " of them as in " + from + " but no longer to be copied from it");
    }

    /**
     * Expiry is the store's own business: Quay reads a label, a folder is pruned by us, buckets have
     * lifecycle rules. Checked before the store is opened, so that no work is done for nothing.
     */
    private static void checkLifecycleOptions(Request request, URI location, Store.Expiry expiry) {
        if (request.expiresAfter() != null && !expiry.labels()) {
            throw new UsageError("--expires-after labels OCI images for Quay; for " + location.getScheme()
                    + ":// use " + expiry.instead());
        }
        if (request.maxAge() != null && !expiry.prunes()) {
            throw new UsageError("--max-age prunes a file:// store; for " + location.getScheme() + ":// use " + expiry.instead());
        }
    }

    /**
     * --keep: deletes all but the keep newest entries the first restore key matches (newest as a
     * fetch finds them), never the key's own entry, which is one of those kept. A store that allows
     * no deleting, or an entry that cannot be deleted, is said in one line: the save stands.
     */
    private static void keepNewest(Store store, String path, String prefix, int keep, Log log) {
        int deleted = 0;
        long bytes = 0;
        try {
            List<Store.StoredObject> older = CacheLookup.entriesBeside(store, path, prefix).stream()
                    .filter(object -> !object.path().equals(path)).sorted(CacheLookup.NEWEST_FIRST).skip(keep - 1).toList();
            for (Store.StoredObject object : older) {
                store.delete(object);
                deleted++;
                bytes += object.size();
            }
        } catch (IOException e) {
            log.info("--keep " + keep + ": " + (deleted == 0 ? "nothing" : deleted + " older entries") + " deleted, as "
                    + Reason.of(e) + "; the save stands");
            return;
        }
        if (deleted > 0) {
            log.info("deleted " + deleted + (deleted == 1 ? " older entry" : " older entries") + " starting with " + prefix
                    + " (" + Log.bytes(bytes) + "), keeping the " + keep + " newest (--keep)");
        }
    }

    private static void prune(Store store, Duration maxAge, Log log) throws IOException {
        Store.Pruned pruned = store.prune(maxAge, Instant.now());
        if (pruned.entries() > 0) {
            log.info("pruned " + pruned.entries() + (pruned.entries() == 1 ? " entry" : " entries") + " ("
                    + Log.bytes(pruned.bytes()) + ") unused for more than " + Durations.text(maxAge));
        }
    }

    /**
     * What an upload wrote: the archive's entries, its tar's size and its groups' diff_ids, the plan's
     * level, and how many groups were the same as one of the base's but sent all the same (the store
     * could not copy them), and the entries left out for a name that is not UTF-8: how many, and where
     * the first LEFT_OUT_NAMED lie (what a line each can say; memory does not grow with their number).
     */
    public record Written(Archive.Stats archived, long tarBytes, List<String> diffIds, int level, int matched,
            List<String> leftOut, long leftOutCount) {

        /** The description commit records; tarSha256 is the diff_id of an entry of one group, else null. */
        public Store.Description description(String key, String expiresAfter) {
            return new Store.Description(key, Instant.now(), tarBytes, diffIds.size() == 1 ? diffIds.get(0) : null,
                    archived.files(), expiresAfter);
        }
    }

    /**
     * The folder archived group by group into the entry, the one way from a folder to a store: cut
     * where the plan says (the base's level kept), each group reused from the base or sent
     * (GroupWriter).
     */
    public static Written write(Path folder, Compression compression, Optional<Base> base, Store.EntryWrite entry, Meter meter)
            throws IOException {
        var setting = new Compression.Setting(compression, compression.defaultLevel());
        return write(Folders.single(folder), Exclusion.NONE, setting, compression == Compression.NONE ? null
                : GroupPlan.survey(folder), base, entry, meter);
    }

    /**
     * write, with the folder's survey made already (null for --compression none: one group, walked
     * here leaving out what exclusion names), which it closes.
     */
    static Written write(Folders folders, Exclusion exclusion, Compression.Setting compression, GroupPlan.Survey survey,
            Optional<Base> base, Store.EntryWrite entry, Meter meter) throws IOException {
        try {
            return archive(folders, exclusion, compression, survey,
                    survey == null ? GroupPlan.single() : survey.plan(base.map(Base::level).orElse(-1)), base, entry, meter);
        } finally {
            if (survey != null) {
                survey.close();
            }
        }
    }

    private static Written archive(Folders folders, Exclusion exclusion, Compression.Setting compression, GroupPlan.Survey survey,
            GroupPlan plan, Optional<Base> base, Store.EntryWrite entry, Meter meter) throws IOException {
        var reusable = new HashMap<String, Store.StoredGroup>();
        // A group of the base is reused whatever level compressed it: it restores the same.
        base.flatMap(Base::groups).filter(groups -> groups.compression() == compression.compression())
                .ifPresent(groups -> groups.groups().forEach(g -> {
                    if (g.group().diffId() != null) {
                        reusable.putIfAbsent(g.group().diffId(), g);
                    }
                }));
        if (!reusable.isEmpty()) {
            entry.expect(base.get().object(), base.get().groups().get());
        }
        try (var writer = new GroupWriter(compression, entry, meter, base.map(Base::object).orElse(null), reusable)) {
            var leftOut = new ArrayList<String>();
            long[] leftOutCount = {0};
            var sink = new Archive.GroupSink() {
                @Override
                public void accept(Archive.Group group) throws IOException {
                    writer.accept(group);
                }

                @Override
                public void leftOut(String path) {
                    if (leftOutCount[0]++ < LEFT_OUT_NAMED) {
                        leftOut.add(path);
                    }
                }
            };
            long skipped = survey == null ? Archive.create(folders, exclusion, plan, sink) : Archive.create(survey, plan, sink);
            writer.finish();
            var a = writer.archived();
            return new Written(new Archive.Stats(a.files(), a.directories(), a.links(), a.bytes(), skipped), writer.tarBytes(),
                    writer.diffIds(), plan.level(), writer.matched(), leftOut, leftOutCount[0]);
        }
    }
}

//DEPS com.google.cloud:google-cloud-nio:0.135.0

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import lib.archive.BadArchive;
import lib.archive.Compression;
import lib.archive.Exclusion;
import lib.archive.Folders;
import lib.archive.Meter;
import lib.cli.Fetch;
import lib.cli.Upload;
import lib.common.Environment;
import lib.store.EntrySigner;
import lib.store.EntryTrust;
import lib.store.SignableEntry;
import lib.store.Store;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.gcs.GcsStore;
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;
import lib.trust.VerifyKey;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Entries signed inside their one object (FramedObject's index) on every store that keeps an entry
 * as one: the local folder, s3proxy, azurite, and GCS's in-process fake. Keys are openssl's; the
 * tampering is what whoever can write to the store can do: rewrite an object, with the digest the
 * store records made to match.
 */
class SignedBlobEntryTest {

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");
    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    @TempDir
    static Path keys;
    private static SigningKey signing;
    private static VerifyKey signers;
    private static VerifyKey another;

    @TempDir
    Path tmp;

    @BeforeAll
    static void keys() throws Exception {
        signing = SigningKey.load(TrustFixtures.ecdsaKey(keys, "signing.pem"), new Environment(Map.of()));
        signers = VerifyKey.load(TrustFixtures.publicKey(keys.resolve("signing.pem")));
        another = VerifyKey.load(TrustFixtures.publicKey(TrustFixtures.ecdsaKey(keys, "another.pem")));
        assertEquals(signing.publicKey(), signers, "openssl's public key is the signing key's");
    }

    /** A test run once on each store that keeps an entry as one object, given its kind for open. */
    @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
    @java.lang.annotation.Target(java.lang.annotation.ElementType.METHOD)
    @ParameterizedTest
    @ValueSource(strings = {"file", "s3", "azure", "gcs"})
    @interface OnEveryBlobStore {}

    /** A store, and the names of two entries in it that no other test uses. */
    private record Bench(Store store, String a, String b) {}

    private Bench open(String kind) throws IOException {
        String id = UUID.randomUUID().toString().substring(0, 8);
        if (kind.equals("gcs")) {
            var fake = LocalStorageHelper.customOptions(false).getService();
            return new Bench(new GcsStore(fake, "caches", "the fake", Fixtures.quiet()), "ci/" + id + "-a", "ci/" + id + "-b");
        }
        Path folder = Files.createDirectories(tmp.resolve("store"));
        Map<String, String> env = switch (kind) {
            case "s3" -> s3.env(Fixtures.env(tmp.resolve("xdg")), s3.endpoint());
            case "azure" -> azurite.env(Fixtures.env(tmp.resolve("xdg")));
            default -> Fixtures.env(tmp.resolve("xdg"));
        };
        String template = switch (kind) {
            case "s3" -> "s3://caches/ci/{{hash}}";
            case "azure" -> "azblob://caches/ci/{{hash}}";
            default -> "file://" + folder + "/{{hash}}";
        };
        var a = Stores.open(new StoreUri(template).resolve(id + "-a"), false, Duration.ofSeconds(30), new Environment(env),
                Fixtures.quiet());
        return new Bench(a.store(), a.path(), a.path().replace(id + "-a", id + "-b"));
    }

    /** A folder of a few groups' worth: every kind of entry, and files that do not compress. */
    private Path folder() throws IOException {
        Path cache = tmp.resolve("cache");
        Fixtures.richTree(cache, 0);
        for (int i = 0; i < 6; i++) {
            Fixtures.writeRandom(cache.resolve("jars/lib-" + i + ".jar"), 700 * 1024, 70 + i);
        }
        return cache;
    }

    /** The folder written as Upload.run writes it, signed by the test's key when signed. */
    private static Store.StoredObject write(Store store, String path, Path folder, boolean signed) throws IOException {
        save(store, path, folder, Compression.ZSTD, signed ? EntryTrust.signer(signing) : null, Optional.empty());
        return store.find(path).orElseThrow();
    }

    /** The folder saved as Upload.run saves it, signed by signer unless it is null, taking groups from base: what it sent. */
    private static Store.Sent save(Store store, String path, Path folder, Compression compression, EntrySigner signer,
            Optional<Upload.Base> base) throws IOException {
        try (Store.EntryWrite entry = store.createEntry(path, compression)) {
            if (signer != null) {
                ((SignableEntry) entry).signWith(signer);
            }
            var written = Upload.write(folder, compression, base, entry, meter());
            assertTrue(entry.commit(written.description("key", null), written.level()), "stored");
            return entry.sent();
        }
    }

    /** The entry restores through the groups as read (Fetch.restore) into a new folder, the same tree as cache. */
    private void assertRestores(Store store, Store.StoredObject object, Optional<Store.Groups> groups, Path cache) throws IOException {
        Path restored = tmp.resolve("restored");
        Fetch.restore(store, object, groups, Folders.single(restored), Exclusion.NONE, meter());
        assertEquals(Fixtures.snapshot(cache, false), Fixtures.snapshot(restored, false));
    }

    private static Meter meter() {
        return new Meter("restoring", Fixtures.quiet(), System::nanoTime);
    }

    private static EntryTrust.Verdict verdict(Store store, String path, VerifyKey... trusted) throws IOException {
        return EntryTrust.verify(TrustedKeys.of(List.of(trusted)), path, store.groups(store.find(path).orElseThrow()));
    }

    private static String signaturePart(String index) {
        return index.substring(index.indexOf("tekton-caches signed entry v1\n"));
    }

    @OnEveryBlobStore
    void aSignedEntryIsVerifiedByItsKeyAndRestores(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            Path cache = folder();
            var object = write(store, bench.a(), cache, true);
            var groups = store.groups(object);
            assertTrue(groups.orElseThrow().groups().size() > 1, "several groups: " + groups);

            var verdict = EntryTrust.verify(TrustedKeys.of(List.of(signers)), bench.a(), groups);
            assertTrue(verdict.trusted(), verdict.says());
            assertEquals(Optional.of(signers), verdict.key());
            var rotated = verdict(store, bench.a(), another, signers);
            assertEquals(Optional.of(signers), rotated.key(), "either of two trusted keys will do: " + rotated.says());

            var refused = verdict(store, bench.a(), another);
            assertEquals(EntryTrust.Why.UNTRUSTED_KEY, refused.why());
            assertTrue(refused.says().contains(signers.id()) && refused.says().contains(another.id()), refused.says());

            assertRestores(store, object, groups, cache);
        }
    }

    /**
     * A signed save that takes its base's unchanged groups without sending them (S3's server-side
     * copies of runs of 5 MiB or more, the file store's copies; GCS and Azure send them): its own
     * index, naming the reused groups where they now are, is what is signed.
     */
    @OnEveryBlobStore
    void aSignedSaveThatReusesItsBasesGroupsIsVerifiedAndRestores(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            Path cache = folder();
            for (int i = 0; i < 6; i++) {
                Fixtures.writeRandom(cache.resolve("big/blob-" + i + ".bin"), 2 * Fixtures.MiB, 80 + i);
            }
            var base = write(store, bench.a(), cache, false);
            Fixtures.write(cache.resolve("nested/a/b/c/deep.txt"), "changed\n");
            Store.Sent sent = save(store, bench.b(), cache, Compression.ZSTD, EntryTrust.signer(signing),
                    Optional.of(new Upload.Base("a", base, store.groups(base))));
            if (kind.equals("s3") || kind.equals("file")) {
                assertTrue(sent.groupsReused() > 0, "groups taken from the base: " + sent);
            }

            var object = store.find(bench.b()).orElseThrow();
            var groups = store.groups(object);
            var verdict = EntryTrust.verify(TrustedKeys.of(List.of(signers)), bench.b(), groups);
            assertTrue(verdict.trusted(), verdict.says());
            assertRestores(store, object, groups, cache);
        }
    }

    /** docs/stores.md's commands, as written there, on the object's bytes as the store gives them. */
    @OnEveryBlobStore
    void opensslVerifiesASignedEntryByTheCommandsOfTheDocs(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            write(store, bench.a(), folder(), true);
            Path dir = Files.createDirectories(tmp.resolve("by-hand"));
            Files.write(dir.resolve("entry.obj"), TrustFixtures.bytes(store, bench.a()));
            Files.copy(keys.resolve("signing.pem.pub"), dir.resolve("pub.pem"));

            var run = TrustFixtures.sh(dir, documentedCommands());

            assertEquals(0, run.status(), run.toString());
            assertEquals(List.of("Verified OK", "index digest OK", "entry " + bench.a()), run.out().lines().toList());
        }
    }

    /** The last 64 KiB are enough, as the docs say, and a gzip entry's index is found before gzip's last 11 bytes. */
    @Test
    void opensslVerifiesTheTailOfAGzipEntryByTheSameCommands() throws Exception {
        Bench bench = open("file");
        try (Store store = bench.store()) {
            save(store, bench.a(), folder(), Compression.GZIP, EntryTrust.signer(signing), Optional.empty());
            assertTrue(verdict(store, bench.a(), signers).trusted());
            byte[] object = TrustFixtures.bytes(store, bench.a());
            assertTrue(object.length > 65536, "the test needs an object larger than its tail");
            Path dir = Files.createDirectories(tmp.resolve("by-hand"));
            Files.write(dir.resolve("entry.obj"), Arrays.copyOfRange(object, object.length - 65536, object.length));
            Files.copy(keys.resolve("signing.pem.pub"), dir.resolve("pub.pem"));

            var run = TrustFixtures.sh(dir, documentedCommands());

            assertEquals(0, run.status(), run.toString());
            assertEquals(List.of("Verified OK", "index digest OK", "entry " + bench.a()), run.out().lines().toList());
        }
    }

    private static String documentedCommands() throws IOException {
        String page = Files.readString(Fixtures.REPO.resolve("docs/stores.md"));
        int section = page.indexOf("## Signed entries");
        int start = page.indexOf("```sh\n", section) + "```sh\n".length();
        return page.substring(start, page.indexOf("```\n", start));
    }

    @OnEveryBlobStore
    void anUnsignedEntryReadsAsUnsignedAndRestoresAsBefore(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            Path cache = folder();
            var object = write(store, bench.a(), cache, false);
            assertFalse(TrustFixtures.indexText(TrustFixtures.bytes(store, bench.a())).contains("signed"),
                    "an unsigned index is as it always was");

            var verdict = verdict(store, bench.a(), signers);
            assertEquals(EntryTrust.Why.UNSIGNED, verdict.why(), verdict.says());
            assertRestores(store, object, store.groups(object), cache);

            try (Store.EntryWrite oneStream = store.createEntry(bench.b(), Compression.NONE)) {
                assertFalse(oneStream instanceof SignableEntry, "an entry of one stream has no index to hold a signature");
            }
            save(store, bench.b(), cache, Compression.NONE, null, Optional.empty());
            assertEquals(EntryTrust.Why.UNSIGNED, verdict(store, bench.b(), signers).why());
        }
    }

    @OnEveryBlobStore
    void anIndexChangedAfterSigningFailsVerification(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            write(store, bench.a(), folder(), true);
            byte[] object = TrustFixtures.bytes(store, bench.a());
            String index = TrustFixtures.indexText(object);
            // the last group line's diff_id, its first hex digit changed: the line of a group that holds another tar
            int lineStart = index.lastIndexOf('\n', index.indexOf("tekton-caches signed entry v1") - 2) + 1;
            int diffId = index.lastIndexOf(' ', index.indexOf('\n', lineStart)) + 1;
            char was = index.charAt(diffId);
            String altered = index.substring(0, diffId) + (was == '0' ? '1' : '0') + index.substring(diffId + 1);
            TrustFixtures.rewrite(store, bench.a(), TrustFixtures.withIndex(object, altered));

            var groups = store.groups(store.find(bench.a()).orElseThrow());
            assertTrue(groups.isPresent(), "the altered index still reads");
            var verdict = EntryTrust.verify(TrustedKeys.of(List.of(signers)), bench.a(), groups);
            assertEquals(EntryTrust.Why.ANOTHER_ENTRY, verdict.why(), verdict.says());
            assertTrue(verdict.says().contains("another index"), verdict.says());
            assertFalse(verdict.trusted());
        }
    }

    @OnEveryBlobStore
    void aSignatureMovedToAnotherEntryFailsVerification(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            Path cache = folder();
            write(store, bench.a(), cache, true);
            byte[] signedA = TrustFixtures.bytes(store, bench.a());

            // the whole object copied to another key: its signature names a, not b
            TrustFixtures.rewrite(store, bench.b(), signedA);
            assertTrue(verdict(store, bench.a(), signers).trusted());
            var copied = verdict(store, bench.b(), signers);
            assertEquals(EntryTrust.Why.ANOTHER_ENTRY, copied.why(), copied.says());
            assertTrue(copied.says().contains("another entry's name"), copied.says());

            // b's own entry, unsigned, given a's signature part
            write(store, bench.b() + "-own", cache, false);
            byte[] own = TrustFixtures.bytes(store, bench.b() + "-own");
            String index = TrustFixtures.indexText(own).replace("tekton-caches groups 2\n", "tekton-caches groups 2 signed\n")
                    + signaturePart(TrustFixtures.indexText(signedA));
            TrustFixtures.rewrite(store, bench.b(), TrustFixtures.withIndex(own, index));
            var moved = verdict(store, bench.b(), signers);
            assertEquals(EntryTrust.Why.ANOTHER_ENTRY, moved.why(), moved.says());
            assertTrue(moved.says().contains("another entry's name"), moved.says());
        }
    }

    /**
     * A group of the signed entry replaced by a group of the same size that holds another tar: that
     * group of another entry, saved from the folder with one jar's bytes changed (stored raw, the
     * same size), spliced in at its offset.
     */
    @OnEveryBlobStore
    void aGroupReplacedAfterSigningIsRefusedByTheRestoreLeavingTheFolderAsItWas(String kind) throws Exception {
        Bench bench = open(kind);
        try (Store store = bench.store()) {
            Path cache = folder();
            write(store, bench.a(), cache, true);
            Path jar = cache.resolve("jars/lib-3.jar");
            var mtime = Files.getLastModifiedTime(jar);
            Fixtures.writeRandom(jar, 700 * 1024, 99);
            Files.setLastModifiedTime(jar, mtime);
            write(store, bench.b(), cache, false);
            var signed = store.groups(store.find(bench.a()).orElseThrow()).orElseThrow().groups();
            var other = store.groups(store.find(bench.b()).orElseThrow()).orElseThrow().groups();
            assertEquals(signed.size(), other.size(), "the same cuts");
            int changed = -1;
            for (int i = 0; i < signed.size(); i++) {
                if (!signed.get(i).group().diffId().equals(other.get(i).group().diffId())) {
                    changed = i;
                }
            }
            assertTrue(changed >= 0, "one group holds the changed jar");
            Store.StoredGroup mine = signed.get(changed);
            Store.StoredGroup theirs = other.get(changed);
            assertEquals(mine.group().size(), theirs.group().size(), "stored raw, the two groups are the same size");
            byte[] object = TrustFixtures.bytes(store, bench.a());
            System.arraycopy(TrustFixtures.bytes(store, bench.b()), (int) theirs.offset(), object, (int) mine.offset(), (int) mine.group().size());
            TrustFixtures.rewrite(store, bench.a(), object);

            var found = store.find(bench.a()).orElseThrow();
            var read = store.groups(found);
            assertTrue(EntryTrust.verify(TrustedKeys.of(List.of(signers)), bench.a(), read).trusted(),
                    "the signature covers the index, which is as signed");
            Path restored = tmp.resolve("restored");
            Fixtures.write(restored.resolve("before.txt"), "what was there\n");
            var before = Fixtures.snapshot(restored, true);
            var refusal = assertThrows(BadArchive.class,
                    () -> Fetch.restore(store, found, read, Folders.single(restored), Exclusion.NONE, meter()));
            assertTrue(refusal.getMessage().contains(mine.group().diffId()), refusal.getMessage());
            assertEquals(before, Fixtures.snapshot(restored, true), "the folder is as it was");
        }
    }

    /** The signature is part of the commit: a signer that fails, or whose text would not read back as it, stores nothing. */
    @ParameterizedTest
    @ValueSource(strings = {"fails", "starts with a digit", "has no last line feed", "holds a zero byte"})
    void aSignerThatFailsStoresNothing(String how) throws Exception {
        Bench bench = open("file");
        try (Store store = bench.store()) {
            Path cache = folder();
            EntrySigner signer = (name, digest) -> switch (how) {
                case "fails" -> throw new IOException("the signer is gone");
                case "starts with a digit" -> "1 not a signature\n".getBytes(StandardCharsets.US_ASCII);
                case "holds a zero byte" -> "a zero \0 would end a gzip comment\n".getBytes(StandardCharsets.US_ASCII);
                default -> "no line feed".getBytes(StandardCharsets.US_ASCII);
            };
            assertThrows(Exception.class, () -> save(store, bench.a(), cache, Compression.ZSTD, signer, Optional.empty()));
            assertEquals(Optional.empty(), store.find(bench.a()), "nothing at the entry's name");
            try (var left = Files.list(tmp.resolve("store"))) {
                assertEquals(List.of(), left.toList(), "no temporary file left behind");
            }
        }
    }

    /** What anyone can write where a signature goes is read as no signature, never as a failure. */
    @ParameterizedTest
    @ValueSource(strings = {"garbage", "bad base64", "too long", "no signature after the heading"})
    void aMalformedSignaturePartReadsAsUntrustedAndTheEntryStillRestores(String how) throws Exception {
        Bench bench = open("file");
        try (Store store = bench.store()) {
            Path cache = folder();
            write(store, bench.a(), cache, true);
            byte[] object = TrustFixtures.bytes(store, bench.a());
            String index = TrustFixtures.indexText(object);
            String signature = signaturePart(index);
            String text = index.substring(0, index.length() - signature.length());
            String bad = switch (how) {
                case "garbage" -> "not a signature\n";
                case "bad base64" -> signature.replaceFirst("signature .*\n", "signature !!!!\n");
                case "too long" -> signature + "x".repeat(4000) + "\n";
                default -> "";
            };
            TrustFixtures.rewrite(store, bench.a(), TrustFixtures.withIndex(object, text + bad));

            var found = store.find(bench.a()).orElseThrow();
            var groups = store.groups(found);
            var verdict = EntryTrust.verify(TrustedKeys.of(List.of(signers)), bench.a(), groups);
            assertEquals(how.equals("no signature after the heading") ? EntryTrust.Why.UNSIGNED : EntryTrust.Why.MALFORMED,
                    verdict.why(), verdict.says());
            assertRestores(store, found, groups, cache);
        }
    }
}

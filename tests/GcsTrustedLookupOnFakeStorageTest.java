import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.cli.TrustedLookup;
import lib.cli.Upload;
import lib.store.EntryTrust;
import lib.store.SignableEntry;
import lib.store.Store;
import lib.store.gcs.GcsStore;
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a fetch or an upload given --verify-key finds on gs://, on google-cloud-nio's in-process
 * fake (no GCS server runs here; the scripts cannot reach the fake, so TrustedLookup, which both
 * use, is called as they call it): restore keys pass over entries signed by no trusted key, or not
 * signed, to the newest trusted one; two keys are both trusted (a rotation); an untrusted entry at
 * the key's own name is passed over, never taken. The fake records no update time, so "newest" is
 * the greatest name here, as CacheLookup breaks ties.
 */
class GcsTrustedLookupOnFakeStorageTest {

    @TempDir
    static Path keys;

    @TempDir
    Path tmp;

    private static SigningKey k1;
    private static SigningKey k2;
    private GcsStore store;
    private Path folder;

    @BeforeAll
    static void keys() throws Exception {
        k1 = SigningKey.load(TrustFixtures.ecdsaKey(keys, "k1.pem"), TrustFixtures.password(null));
        k2 = SigningKey.load(TrustFixtures.ecdsaKey(keys, "k2.pem"), TrustFixtures.password(null));
    }

    @BeforeEach
    void fakeStorage() throws Exception {
        store = new GcsStore(LocalStorageHelper.customOptions(false).getService(), "caches", "the fake", Fixtures.quiet());
        folder = Files.createDirectories(tmp.resolve("cache"));
        Files.writeString(folder.resolve("settings.xml"), "<settings/>\n");
    }

    /** The folder saved at path as Upload.run saves it, signed by key unless it is null. */
    private void save(String path, SigningKey key) throws Exception {
        try (Store.EntryWrite entry = store.createEntry(path, Compression.ZSTD)) {
            if (key != null) {
                ((SignableEntry) entry).signWith(EntryTrust.signer(key));
            }
            var written = Upload.write(folder, Compression.ZSTD, Optional.empty(), entry,
                    new Meter("saving", Fixtures.quiet(), System::nanoTime));
            assertTrue(entry.commit(written.description("key", null), written.level()), "stored");
        }
    }

    private TrustedLookup.Found find(String path, SigningKey... trusted) throws Exception {
        var keys = TrustedKeys.of(java.util.Arrays.stream(trusted).map(SigningKey::publicKey).toList());
        return TrustedLookup.find(store, path, List.of("main-"), keys, Fixtures.quiet());
    }

    @Test
    void restoreKeysPassOverUntrustedEntriesToTheNewestTrustedOne() throws Exception {
        save("ci/main-a-k1", k1);
        save("ci/main-b-k2", k2);
        save("ci/main-c-unsigned", null);

        var byK1 = find("ci/main-missing", k1);

        assertEquals("main-a-k1", byK1.match().orElseThrow().name());
        assertFalse(byK1.match().get().exact());
        assertTrue(byK1.signedBy().contains(k1.publicKey().id()), byK1.signedBy());
        assertEquals(2, byK1.passedOver().others(), "the unsigned and the k2 entries, newer, were passed over");
        assertTrue(byK1.groups().isPresent(), "the verified index is what the restore reads");
    }

    @Test
    void twoKeysAreBothTrustedSoThatOneCanBeRotated() throws Exception {
        save("ci/main-a-k1", k1);
        save("ci/main-b-k2", k2);
        save("ci/main-c-unsigned", null);

        assertEquals("main-b-k2", find("ci/main-missing", k1, k2).match().orElseThrow().name());
        assertEquals("main-a-k1", find("ci/main-b-k2", k1).match().orElseThrow().name(), "k2's exact entry is passed over");
    }

    @Test
    void anUntrustedEntryAtTheKeyIsPassedOverAndNothingUntrustedIsFound() throws Exception {
        save("ci/main-own", null);
        save("ci/main-z-k2", k2);

        var found = find("ci/main-own", k1);

        assertTrue(found.match().isEmpty(), "no entry k1 signed");
        assertTrue(found.passedOver().exact().orElseThrow().contains("carries no signature"), found.passedOver().toString());
        assertEquals(1, found.passedOver().others());
        assertTrue(found.passedOver().says("gs://caches/ci/main-own").contains("is not signed by a trusted key"));
    }
}

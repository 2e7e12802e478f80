//DEPS com.google.cloud:google-cloud-nio:0.135.0

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import lib.archive.Compression;
import lib.common.Digests;
import lib.common.Log;
import lib.store.CacheLookup;
import lib.store.Store;
import lib.store.gcs.GcsStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Restore keys on gs:// through CacheLookup, against google-cloud-nio's in-process FAKE of the
 * storage service (no GCS server can run here; see GcsStoreOnFakeStorageTest): the listing by
 * prefix, with subfolders left out. The fake records no update time (every object reads as made at
 * the epoch), so here the newest is decided by the tie rule, the greatest name; the order by time
 * is tested on the real servers in CacheLifecycleTest.
 */
class GcsRestoreKeyOnFakeStorageTest {

    private GcsStore store;

    @BeforeEach
    void fakeStorage() {
        var fake = LocalStorageHelper.customOptions(false).getService();
        store = new GcsStore(fake, "caches", "the fake", new Log(new PrintStream(OutputStream.nullOutputStream()), false));
    }

    private void put(String name) throws Exception {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        try (Store.PendingWrite upload = store.create(name)) {
            upload.stream().write(bytes);
            assertTrue(upload.commit(new Store.Contents(Digests.hex(Digests.sha256().digest(bytes)), bytes.length,
                    Compression.NONE), new Store.Description(name, Instant.now(), bytes.length, null, 0, null)));
        }
    }

    @Test
    void theFirstMatchingRestoreKeyFindsAnEntryOfItsFolderAndAnExactOneWins() throws Exception {
        put("deps/maven-a-older");
        put("deps/maven-b-newer");
        put("deps/maven-sub/newest-but-in-a-subfolder");
        put("deps/other-newest-of-all");

        var fallback = CacheLookup.find(store, "deps/maven-missing", List.of("none-", "maven-")).orElseThrow();
        var exact = CacheLookup.find(store, "deps/maven-a-older", List.of("maven-")).orElseThrow();

        assertEquals("maven-b-newer", fallback.name());
        assertFalse(fallback.exact());
        assertEquals("maven-", fallback.restoreKey());
        assertEquals("maven-a-older", exact.name());
        assertTrue(exact.exact());
        assertTrue(CacheLookup.find(store, "deps/maven-missing", List.of("none-")).isEmpty());
    }
}

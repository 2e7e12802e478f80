import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Signed entries through the scripts (issue 31), on every store a script reaches: a folder,
 * distribution registries with and without deletion, s3proxy, azurite. cache-upload --sign-key
 * signs what it writes; cache-fetch --verify-key restores only what one of its keys signed, and
 * an entry it does not trust is a miss that leaves the folder as it was. Keys are openssl's.
 */
class SignedEntriesTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, false);

    @RegisterExtension
    static final RegistryServer undeleting = RegistryServer.perClass(RegistryServer.Auth.NONE, false).withoutDeletion();

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass().withBucket("caches");

    @RegisterExtension
    static final AzuriteServer azurite = AzuriteServer.perClass().withContainer("caches");

    private static final AtomicInteger NAMES = new AtomicInteger();

    @TempDir
    static Path keys;
    private static TrustFixtures.KeyPair k1;
    private static TrustFixtures.KeyPair k2;

    /** Where the entries the fetch tests share are saved from, a folder per store. */
    @TempDir
    static Path shared;
    private static final Map<String, TrustFixtures.Checkout> SAVED = new HashMap<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void keys() throws Exception {
        k1 = TrustFixtures.keyPair(keys, "k1", false);
        k2 = TrustFixtures.keyPair(keys, "k2", true);
    }

    /** The project, saved from under dir, on a store of that kind, in a folder, repository or prefix of its own. */
    private static TrustFixtures.Checkout at(String kind, Path dir) throws Exception {
        int n = NAMES.incrementAndGet();
        var env = Fixtures.env(dir.resolve("xdg"));
        String query = "";
        String base = switch (kind) {
            case "file" -> "file://" + dir.resolve("store").toAbsolutePath() + "/";
            case "oci" -> "oci://" + registry.host() + "/signed/run-" + n + ":";
            case "oci-undeleting" -> "oci://" + undeleting.host() + "/signed/run-" + n + ":";
            case "s3" -> {
                env = s3.env(env, s3.endpoint());
                yield "s3://caches/signed-" + n + "/";
            }
            case "azure" -> {
                env = azurite.env(env);
                query = azurite.queryParams();
                yield "azblob://caches/signed-" + n + "/";
            }
            default -> throw new IllegalArgumentException(kind);
        };
        return new TrustFixtures.Checkout(dir, env, base, query);
    }

    /**
     * The entries the tests that fetch share, saved once per store, each newer than the one before
     * (a bucket's times are in seconds): m2-a-k1- signed by k1, m2-b-k2- signed by k2 (given as the
     * StepAction gives it, PARAM_SIGN_KEY), m2-c-unsigned- signed by none. Returned for fetching into
     * a checkout of the test's own.
     */
    private TrustFixtures.Checkout saved(String kind) throws Exception {
        var at = SAVED.get(kind);
        if (at == null) {
            at = at(kind, Files.createDirectories(shared.resolve(kind)));
            at.upload("m2-a-k1-", "--sign-key", k1.sign());
            Thread.sleep(1100);
            at.env.put("PARAM_SIGN_KEY", k2.sign());
            at.upload("m2-b-k2-");
            at.env.remove("PARAM_SIGN_KEY");
            Thread.sleep(1100);
            at.upload("m2-c-unsigned-");
            SAVED.put(kind, at);
        }
        return at.fetchingIn(tmp);
    }

    /** A test run once on each store the scripts reach. */
    @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
    @java.lang.annotation.Target(java.lang.annotation.ElementType.METHOD)
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    @interface OnEveryStore {}

    /** Case 1: the signing key's public key restores the entry, whole, as the key's own (cache-hit true). */
    @OnEveryStore
    void anEntrySignedByTheKeyRestoresWithItsPublicKey(String kind) throws Exception {
        var at = saved(kind);
        at.assertHit(at.fetch("m2-a-k1-", "--verify-key", k1.verify()));
        if (kind.equals("oci")) {
            assertSignatureTaggedFirst(at, "m2-a-k1-" + at.key());
        }
    }

    /**
     * On a registry the signature is cosign's, tagged sha256-<hex>.sig, and pushed before the
     * entry's own tag: a fetch that finds the tag finds its signature (the registry's log of
     * requests shows their order).
     */
    private static void assertSignatureTaggedFirst(TrustFixtures.Checkout at, String tag) throws Exception {
        String repository = at.base.substring(("oci://" + registry.host() + "/").length(), at.base.length() - 1);
        var puts = Files.readAllLines(registry.dir().resolve("registry.log")).stream()
                .filter(line -> line.contains("response completed") && line.contains("http.request.method=PUT")
                        && line.contains("/v2/" + repository + "/manifests/"))
                .toList();
        int entry = -1;
        for (int i = 0; i < puts.size(); i++) {
            entry = puts.get(i).contains("/manifests/" + tag + " ") ? i : entry;
        }
        assertTrue(entry > 0, "the entry's manifest PUT after another: " + puts);
        assertTrue(puts.get(entry - 1).contains(".sig "), "the signature just before the entry's tag: " + puts);
    }

    /** Case 2: an entry signed by a key not given is a miss that leaves the folder as it was. */
    @OnEveryStore
    void anEntrySignedByAnotherKeyIsRefused(String kind) throws Exception {
        saved(kind).assertRefused("m2-a-k1-", "--verify-key", k2.verify());
    }

    /** The refusal is a miss as any other: exit 1 with --fail-on-miss; --lookup-only verifies too, and finds none. */
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci"})
    void anUntrustedEntryFailsOnMissAndIsNotFoundByALookup(String kind) throws Exception {
        var at = saved(kind);
        at.assertRefused("m2-a-k1-", "--verify-key", k2.verify(), "--fail-on-miss");
        var lookup = at.assertRefused("m2-a-k1-", "--verify-key", k2.verify(), "--lookup-only");
        assertFalse(lookup.err().contains("found "), lookup.toString());

        var found = at.fetch("m2-a-k1-", "--verify-key", k1.verify(), "--lookup-only");
        assertEquals(0, found.status(), found.toString());
        assertTrue(found.lastLine().startsWith("found ") && found.lastLine().contains("not restored"), found.toString());
        assertEquals("true", at.result("cache-hit"));
        assertEquals("false", at.result("fetched"));
    }

    /** Case 3: an entry saved with no key is refused by a fetch that verifies, restored by one that does not. */
    @OnEveryStore
    void anUnsignedEntryIsRefusedWithAVerifyKeyAndRestoredWithout(String kind) throws Exception {
        var at = saved(kind);
        at.assertRefused("m2-c-unsigned-", "--verify-key", k1.verify(), "--verify-key", k2.verify());
        at.assertHit(at.fetch("m2-c-unsigned-"));
    }

    /** Case 7: with two keys given, an entry signed by either restores (a key being rotated). */
    @OnEveryStore
    void eitherOfTwoVerifyKeysRestoresTheEntriesItSigned(String kind) throws Exception {
        var at = saved(kind);
        at.assertHit(at.fetch("m2-b-k2-", "--verify-key", k1.verify(), "--verify-key", k2.verify()));
        Fixtures.write(at.elsewhere.resolve("m2/settings.xml"), "changed since\n");
        at.assertHit(at.fetch("m2-a-k1-", "--verify-key", k2.verify(), "--verify-key", k1.verify()));
    }

    /**
     * Case 5: a restore key passes over the newer entries it matches that no key given signed
     * (unsigned, or signed by another key) and restores the newest one that a key given signed.
     */
    @OnEveryStore
    void aRestoreKeyPassesOverNewerUntrustedEntriesToTheNewestTrustedOne(String kind) throws Exception {
        var at = saved(kind);
        String older = "m2-a-k1-" + at.key();

        var fetch = at.fetch("m2-", "--restore-key", "m2-", "--verify-key", k1.verify());

        assertEquals(0, fetch.status(), fetch.toString());
        assertTrue(fetch.lastLine().startsWith("restored "), fetch.toString());
        assertTrue(fetch.lastLine().contains(older) && fetch.lastLine().contains("the newest trusted of its entries"),
                fetch.toString());
        assertEquals(older, at.result("matched-key"));
        assertEquals("false", at.result("cache-hit"));
        assertEquals("true", at.result("fetched"));
        assertEquals(at.saved, Fixtures.snapshot(at.elsewhere.resolve("m2"), false));

        // The key's own entry there but unsigned (planted, say) is no hit: passed over as well.
        var planted = at.fetch("m2-c-unsigned-", "--restore-key", "m2-", "--verify-key", k1.verify());
        assertEquals(0, planted.status(), planted.toString());
        assertTrue(planted.err().contains("is not signed by a trusted key"), planted.toString());
        assertEquals(older, at.result("matched-key"), planted.toString());
        assertEquals("false", at.result("cache-hit"));

        // The other key's entry is the newest it signed; without a key, the newest of all, as before.
        assertEquals(0, at.fetch("m2-", "--restore-key", "m2-", "--verify-key", k2.verify()).status());
        assertEquals("m2-b-k2-" + at.key(), at.result("matched-key"));
        assertEquals(0, at.fetch("m2-", "--restore-key", "m2-").status());
        assertEquals("m2-c-unsigned-" + at.key(), at.result("matched-key"));
    }

    /**
     * Case 6: an upload that signs and verifies takes no group from a base no key of its signed
     * (one of the same folder, whose every group an upload that does not verify takes): it names
     * no base, and what it stores is signed.
     */
    @OnEveryStore
    void anUntrustedBaseIsNotReusedByAnUploadThatSigns(String kind) throws Exception {
        var at = saved(kind);
        String base = "m2-c-unsigned-" + at.key();
        var unverified = at.upload("unverified-", "--restore-key", "m2-c-");
        assertTrue(unverified.lastLine().contains(base), "a base used names itself: " + unverified);

        var upload = at.upload("verified-", "--restore-key", "m2-c-", "--sign-key", k1.sign(), "--verify-key", k1.verify());

        assertTrue(upload.lastLine().startsWith("uploaded "), upload.toString());
        assertFalse(upload.lastLine().contains(base), "the untrusted base is not used: " + upload);
        at.assertHit(at.fetch("verified-", "--verify-key", k1.verify()));
    }

    /**
     * The --sign-key's own public key makes a base trusted without --verify-key: an upload signing
     * with k1 takes groups from the newest entry k1 signed, passing over newer ones.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci"})
    void aBaseSignedByTheSigningKeyIsReused(String kind) throws Exception {
        var at = saved(kind);
        var upload = at.upload("on-trusted-", "--restore-key", "m2-", "--sign-key", k1.sign());
        assertTrue(upload.lastLine().contains(" reused from m2-a-k1-" + at.key()), upload.toString());
        at.assertHit(at.fetch("on-trusted-", "--verify-key", k1.verify()));
    }

    /**
     * Case 8: the key's own entry, present but unsigned, is not kept by an upload that signs: it
     * says so, deletes it (or, on a registry that deletes nothing, tags over it) and saves it
     * anew, signed; the fetch that verifies then hits it, and the next upload keeps it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "oci-undeleting", "s3", "azure"})
    void anUntrustedEntryOfTheKeyIsReplacedByASignedOne(String kind) throws Exception {
        var at = at(kind, tmp);
        at.upload("m2-");

        var upload = at.upload("m2-", "--sign-key", k1.sign());

        assertFalse(upload.err().contains("kept:"), upload.toString());
        var said = upload.err().lines().filter(line -> line.contains("is not signed by a trusted key")).toList();
        assertEquals(1, said.size(), upload.toString());
        if (kind.equals("oci-undeleting")) {
            assertTrue(said.get(0).contains("does not let it be deleted"), upload.toString());
        } else {
            assertTrue(said.get(0).contains("deleted") && !said.get(0).contains("does not let"), upload.toString());
        }
        assertTrue(upload.lastLine().startsWith("uploaded "), upload.toString());
        at.assertHit(at.fetch("m2-", "--verify-key", k1.verify()));

        var again = at.upload("m2-", "--sign-key", k1.sign());
        assertTrue(again.lastLine().startsWith("kept: "), again.toString());
    }

    /** On a registry an image of one stream (--compression none) is signed as any image: cosign signs its manifest. */
    @Test
    void aSignedImageOfOneStreamRestoresWithItsKeyAlone() throws Exception {
        var at = at("oci", tmp);
        at.upload("one-", "--compression", "none", "--sign-key", k1.sign());

        at.assertRefused("one-", "--verify-key", k2.verify());
        at.assertHit(at.fetch("one-", "--verify-key", k1.verify()));
    }

    /**
     * An upload given --verify-key and no --sign-key (a pull request's, taking groups only from
     * entries the default branch signed) cannot make its own entry trusted: it keeps the entry it
     * finds for its key, as an upload always has, rather than deleting it and sending the same
     * unsigned entry again on every run.
     */
    @Test
    void anUploadThatDoesNotSignKeepsTheUnsignedEntryOfItsKey() throws Exception {
        var at = at("file", tmp);
        at.upload("pr-", "--restore-key", "main-", "--verify-key", k1.verify());

        var again = at.upload("pr-", "--restore-key", "main-", "--verify-key", k1.verify());

        assertTrue(again.lastLine().startsWith("kept: "), again.toString());
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    @TempDir
    Path tmp;

    @BeforeAll
    static void keys() throws Exception {
        k1 = TrustFixtures.keyPair(keys, "k1", false);
        k2 = TrustFixtures.keyPair(keys, "k2", true);
    }

    /** The project on a store of that kind, in a folder, repository or prefix of its own. */
    private TrustFixtures.Checkout at(String kind) throws Exception {
        int n = NAMES.incrementAndGet();
        var env = Fixtures.env(tmp.resolve("xdg"));
        String query = "";
        String base = switch (kind) {
            case "file" -> "file://" + tmp.resolve("store").toAbsolutePath() + "/";
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
        return new TrustFixtures.Checkout(tmp, env, base, query);
    }

    /** A test run once on each store the scripts reach. */
    @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
    @java.lang.annotation.Target(java.lang.annotation.ElementType.METHOD)
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "s3", "azure"})
    @interface OnEveryStore {}

    /** Cases 1 and 2: the signing key's public key restores the entry; another key's refuses it, --lookup-only too. */
    @OnEveryStore
    void anEntrySignedByTheKeyRestoresAndAnotherKeyRefusesIt(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-", "--sign-key", k1.sign());

        at.assertRefused("m2-", "--verify-key", k2.verify());
        at.assertRefused("m2-", "--verify-key", k2.verify(), "--fail-on-miss");
        var lookup = at.assertRefused("m2-", "--verify-key", k2.verify(), "--lookup-only");
        assertFalse(lookup.err().contains("found "), lookup.toString());

        var found = at.fetch("m2-", "--verify-key", k1.verify(), "--lookup-only");
        assertEquals(0, found.status(), found.toString());
        assertTrue(found.lastLine().startsWith("found "), found.toString());
        assertEquals("true", at.result("cache-hit"));

        at.assertHit(at.fetch("m2-", "--verify-key", k1.verify()));
        if (kind.equals("oci")) {
            assertSignatureTaggedFirst(at);
        }
    }

    /**
     * On a registry the signature is cosign's, tagged sha256-<hex>.sig, and pushed before the
     * entry's own tag: a fetch that finds the tag finds its signature (the registry's log of
     * requests shows their order).
     */
    private static void assertSignatureTaggedFirst(TrustFixtures.Checkout at) throws Exception {
        String repository = at.base.substring(("oci://" + registry.host() + "/").length(), at.base.length() - 1);
        var puts = Files.readAllLines(registry.dir().resolve("registry.log")).stream()
                .filter(line -> line.contains("http.request.method=PUT") && line.contains("/v2/" + repository + "/manifests/"))
                .filter(line -> line.contains("response completed"))
                .toList();
        int signature = indexOf(puts, ".sig");
        int entry = indexOf(puts, "/manifests/m2-" + at.key());
        assertTrue(signature >= 0 && entry >= 0, "both manifests PUT: " + puts);
        assertTrue(signature < entry, "the signature before the entry's tag: " + puts);
    }

    private static int indexOf(List<String> lines, String words) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(words)) {
                return i;
            }
        }
        return -1;
    }

    /** Case 3: an entry saved with no key is refused by a fetch that verifies, restored by one that does not. */
    @OnEveryStore
    void anUnsignedEntryIsRefusedWithAVerifyKeyAndRestoredWithout(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-");

        at.assertRefused("m2-", "--verify-key", k1.verify());
        at.assertRefused("m2-", "--verify-key", k1.verify(), "--verify-key", k2.verify(), "--fail-on-miss");

        at.assertHit(at.fetch("m2-"));
    }

    /** Case 7: with two keys given, an entry signed by either restores (a key being rotated). */
    @OnEveryStore
    void eitherOfTwoVerifyKeysRestoresTheEntriesItSigned(String kind) throws Exception {
        var at = at(kind);
        at.upload("by-k1-", "--sign-key", k1.sign());
        at.env.put("PARAM_SIGN_KEY", k2.sign()); // the StepAction's SIGN_KEY
        at.upload("by-k2-");
        at.env.remove("PARAM_SIGN_KEY");

        for (String name : List.of("by-k1-", "by-k2-")) {
            at.assertHit(at.fetch(name, "--verify-key", k1.verify(), "--verify-key", k2.verify()));
            Fixtures.write(at.elsewhere.resolve("m2/settings.xml"), "changed since\n");
        }
        at.assertRefused("by-k2-", "--verify-key", k1.verify());
    }

    /**
     * Case 5: a restore key passes over the newest entry it matches when no trusted key signed it
     * (unsigned, or signed by a key not given) and restores the newest trusted one.
     */
    @OnEveryStore
    void aRestoreKeyPassesOverNewerUntrustedEntriesToTheNewestTrustedOne(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-older-", "--sign-key", k1.sign());
        String older = "m2-older-" + at.key();
        Thread.sleep(1100); // a bucket's times are in seconds
        at.upload("m2-newer-", "--sign-key", k2.sign());
        Thread.sleep(1100);
        at.upload("m2-newest-");

        var fetch = at.fetch("m2-", "--restore-key", "m2-", "--verify-key", k1.verify());

        assertEquals(0, fetch.status(), fetch.toString());
        assertTrue(fetch.lastLine().startsWith("restored "), fetch.toString());
        assertTrue(fetch.lastLine().contains(older) && fetch.lastLine().contains("the newest trusted of its entries"),
                fetch.toString());
        assertEquals(older, at.result("matched-key"));
        assertEquals("false", at.result("cache-hit"));
        assertEquals("true", at.result("fetched"));
        assertEquals(at.saved, Fixtures.snapshot(at.elsewhere.resolve("m2"), false));

        // Without a key, the newest of all, as before.
        var any = at.fetch("m2-", "--restore-key", "m2-");
        assertEquals(0, any.status(), any.toString());
        assertEquals("m2-newest-" + at.key(), at.result("matched-key"), any.toString());
    }

    /**
     * Case 6: an upload that signs takes no group from a base no trusted key signed (here one of
     * the same folder, whose every group it could have taken): it names no base, and what it
     * stores is signed.
     */
    @OnEveryStore
    void anUntrustedBaseIsNotReusedBySaveThatSigns(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-base-");
        String base = "m2-base-" + at.key();
        // The base is one to take groups from: an upload that does not verify takes them.
        var trusting = at.upload("m2-trusting-", "--restore-key", "m2-base-");
        assertTrue(trusting.lastLine().contains(base), "a base used names itself: " + trusting);

        var upload = at.upload("m2-", "--restore-key", "m2-", "--sign-key", k1.sign(), "--verify-key", k1.verify());

        assertTrue(upload.lastLine().startsWith("uploaded "), upload.toString());
        assertFalse(upload.lastLine().contains("m2-base-") || upload.lastLine().contains("m2-trusting-"),
                "no untrusted base is used: " + upload);
        at.assertHit(at.fetch("m2-", "--verify-key", k1.verify()));
    }

    /**
     * The --sign-key's own public key makes a base trusted without --verify-key: an upload signed
     * by k1 takes groups from an older entry k1 signed.
     */
    @Test
    void aBaseSignedByTheSigningKeyIsReused() throws Exception {
        var at = at("oci");
        at.upload("m2-base-", "--sign-key", k1.sign());
        String base = "m2-base-" + at.key();

        var upload = at.upload("m2-", "--restore-key", "m2-", "--sign-key", k1.sign());

        assertTrue(upload.lastLine().contains(" reused from " + base), upload.toString());
        at.assertHit(at.fetch("m2-", "--verify-key", k1.verify()));
    }

    /**
     * Case 8: the key's own entry, present but unsigned, is not kept by an upload that signs: it
     * says so, deletes it (or, on a registry that deletes nothing, tags over it) and saves it
     * anew, signed; the fetch that verifies then hits it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "oci", "oci-undeleting", "s3", "azure"})
    void anUntrustedEntryOfTheKeyIsReplacedByASignedOne(String kind) throws Exception {
        var at = at(kind);
        at.upload("m2-");
        at.assertRefused("m2-", "--verify-key", k1.verify());

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

        // Trusted now, it is kept.
        var again = at.upload("m2-", "--sign-key", k1.sign());
        assertTrue(again.lastLine().startsWith("kept: "), again.toString());
    }
}

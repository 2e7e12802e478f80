import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * Keys and signatures made by tools that share no code with lib/trust: `openssl` for keys in every
 * form it writes and for signing and verifying, node with tweetnacl for cosign's encrypted keys.
 */
final class TrustFixtures {

    private TrustFixtures() {}

    /** openssl with those arguments in dir, which must succeed; its stdout. */
    static String openssl(Path dir, String... args) throws Exception {
        var command = new ArrayList<String>();
        command.add("openssl");
        command.addAll(List.of(args));
        var run = Fixtures.run(command, dir, new HashMap<>(System.getenv()));
        assertEquals(0, run.status(), "openssl " + String.join(" ", args) + ": " + run);
        return run.out();
    }

    /** A shell command in dir, with the environment's PATH; its outcome. */
    static Fixtures.Run sh(Path dir, String script) throws Exception {
        return Fixtures.run(List.of("sh", "-c", script), dir, new HashMap<>(System.getenv()));
    }

    /** `openssl genpkey` P-256: PEM "PRIVATE KEY" (PKCS#8). */
    static Path ecdsaKey(Path dir, String name) throws Exception {
        openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name);
        return dir.resolve(name);
    }

    /** `openssl ecparam -genkey` P-256: "EC PARAMETERS" then "EC PRIVATE KEY" (SEC1). */
    static Path sec1Key(Path dir, String name) throws Exception {
        openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", name);
        return dir.resolve(name);
    }

    /** `openssl genpkey` Ed25519: PEM "PRIVATE KEY". */
    static Path ed25519Key(Path dir, String name) throws Exception {
        openssl(dir, "genpkey", "-algorithm", "ed25519", "-out", name);
        return dir.resolve(name);
    }

    /** The private key's public key, `openssl pkey -pubout`: PEM "PUBLIC KEY". */
    static Path publicKey(Path privateKey) throws Exception {
        Path out = privateKey.resolveSibling(privateKey.getFileName() + ".pub");
        openssl(privateKey.getParent(), "pkey", "-in", privateKey.toString(), "-pubout", "-out", out.toString());
        return out;
    }

    /**
     * The private key encrypted as cosign does (tests/trust/cosign-encrypt.js) under that PEM label,
     * scrypt's N and password.
     */
    static Path cosignKey(Path privateKey, String label, int n, String password) throws Exception {
        Path der = privateKey.resolveSibling(privateKey.getFileName() + ".der");
        // PKCS#8, as cosign encrypts it: `openssl pkey -outform DER` writes an EC key as SEC1
        openssl(privateKey.getParent(), "pkcs8", "-topk8", "-nocrypt", "-in", privateKey.toString(), "-outform", "DER",
                "-out", der.toString());
        Path out = privateKey.resolveSibling(privateKey.getFileName() + ".cosign");
        String dir = System.getenv("TWEETNACL_DIR");
        org.junit.jupiter.api.Assertions.assertNotNull(dir, "TWEETNACL_DIR is unset: run the tests through tests/run");
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put("COSIGN_PASSWORD", password);
        var run = Fixtures.run(List.of("node", Fixtures.REPO.resolve("tests/trust/cosign-encrypt.js").toString(),
                der.toString(), out.toString(), label, Integer.toString(n)), privateKey.getParent(), env);
        assertEquals(0, run.status(), "cosign-encrypt.js: " + run);
        Files.delete(der);
        return out;
    }

    /** An environment holding only COSIGN_PASSWORD, or nothing when it is null. */
    static lib.common.Environment password(String password) {
        return new lib.common.Environment(password == null ? Map.of() : Map.of("COSIGN_PASSWORD", password));
    }

    /**
     * A project saved by cache-upload and fetched into a second checkout by cache-fetch, on one
     * store: each entry is named base + name + "{{hash}}" + query (the query: azurite's endpoint).
     * The checkout's m2/ starts out holding its own settings.xml, so that a fetch that restores
     * nothing is seen to leave it as it was.
     */
    static final class Checkout {
        final Path project;
        final SortedMap<String, String> saved;
        final Map<String, String> env;
        final String base;
        final String query;
        final Path elsewhere;
        private final Path results;
        private final Path up;

        Checkout(Path tmp, Map<String, String> env, String base, String query) throws Exception {
            var checkouts = Fixtures.mavenCheckouts(tmp, 2);
            this.project = checkouts.project();
            this.saved = checkouts.saved();
            this.env = env;
            this.base = base;
            this.query = query;
            this.elsewhere = checkouts.elsewhere();
            this.results = tmp.resolve("results");
            this.up = tmp.resolve("up");
            Fixtures.write(elsewhere.resolve("m2/settings.xml"), "<settings>the checkout's own</settings>\n");
        }

        private Checkout(Checkout of, Path dir) throws Exception {
            this.project = of.project;
            this.saved = of.saved;
            this.env = new HashMap<>(of.env);
            this.base = of.base;
            this.query = of.query;
            this.elsewhere = dir.resolve("elsewhere");
            this.results = dir.resolve("results");
            this.up = of.up;
            Fixtures.write(elsewhere.resolve("pom.xml"), Files.readString(project.resolve("pom.xml")));
            Fixtures.write(elsewhere.resolve("m2/settings.xml"), "<settings>the checkout's own</settings>\n");
        }

        /** The same project and store, fetched into a checkout of its own under dir: for a test of entries saved before it. */
        Checkout fetchingIn(Path dir) throws Exception {
            return new Checkout(this, dir);
        }

        String uri(String name) {
            return base + name + "{{hash}}" + query;
        }

        /** cache-upload of m2/ to the entry name + key, with more options; must succeed. */
        Fixtures.Run upload(String name, String... more) throws Exception {
            var run = uploadRun(name, more);
            assertEquals(0, run.status(), run.toString());
            return run;
        }

        /** cache-upload of m2/ to the entry name + key, with more options: what it did. */
        Fixtures.Run uploadRun(String name, String... more) throws Exception {
            var args = new ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--target", uri(name),
                    "--results-dir", up.toString()));
            args.addAll(List.of(more));
            return Fixtures.upload(project, env, args.toArray(String[]::new));
        }

        /** cache-fetch of the entry name + key into the second checkout's m2/, with more options. */
        Fixtures.Run fetch(String name, String... more) throws Exception {
            var args = new ArrayList<>(List.of("--pattern", "pom.xml", "--folder", "m2", "--source", uri(name),
                    "--results-dir", results.toString()));
            args.addAll(List.of(more));
            return Fixtures.fetch(elsewhere, env, args.toArray(String[]::new));
        }

        /** A result of the last fetch. */
        String result(String name) throws Exception {
            return Files.readString(results.resolve(name));
        }

        /** The key, as the last upload gave it. */
        String key() throws Exception {
            return Files.readString(up.resolve("cache-key"));
        }

        /** The fetch restored the project's m2/ whole from the key's own entry: exit 0, cache-hit true. */
        void assertHit(Fixtures.Run fetch) throws Exception {
            assertEquals(0, fetch.status(), fetch.toString());
            assertTrue(fetch.lastLine().startsWith("restored "), fetch.toString());
            assertEquals("true", result("fetched"), fetch.toString());
            assertEquals("true", result("cache-hit"), fetch.toString());
            assertEquals(saved, Fixtures.snapshot(elsewhere.resolve("m2"), false));
        }

        /**
         * The fetch with these options, whose entry is not trusted: a miss (exit 0, or 1 with
         * --fail-on-miss), nothing fetched or matched, the line saying so, and m2/ as it was.
         */
        Fixtures.Run assertRefused(String name, String... more) throws Exception {
            var before = Fixtures.snapshot(elsewhere.resolve("m2"), true);
            var fetch = fetch(name, more);
            assertEquals(List.of(more).contains("--fail-on-miss") ? 1 : 0, fetch.status(), fetch.toString());
            assertTrue(fetch.err().contains("is not signed by a trusted key"), fetch.toString());
            assertFalse(fetch.err().lines().anyMatch(line -> line.startsWith("restored ")), fetch.toString());
            assertEquals("false", result("fetched"), fetch.toString());
            assertEquals("false", result("cache-hit"), fetch.toString());
            assertEquals("", result("matched-key"), fetch.toString());
            assertEquals(before, Fixtures.snapshot(elsewhere.resolve("m2"), true), "the folder is as it was");
            assertFalse(fetch.err().contains("\tat "), "a stack trace: " + fetch.err());
            return fetch;
        }

        /** The store of the entry name + key, and its path there. */
        lib.store.Stores.Target target(String name) throws Exception {
            return lib.store.Stores.open(java.net.URI.create(base + name + key() + query), false, java.time.Duration.ofSeconds(30),
                    new lib.common.Environment(env), Fixtures.quiet());
        }
    }

    /** A key pair made by openssl: the private key's file and its public key's. */
    record KeyPair(Path privateKey, Path publicKey) {
        String sign() {
            return privateKey.toString();
        }

        String verify() {
            return publicKey.toString();
        }
    }

    /** A P-256 key pair, the private key in PKCS#8 (sec1 false) or SEC1. */
    static KeyPair keyPair(Path dir, String name, boolean sec1) throws Exception {
        Path key = sec1 ? sec1Key(dir, name + ".pem") : ecdsaKey(dir, name + ".pem");
        return new KeyPair(key, publicKey(key));
    }

    // --- an entry of groups on a blob store, rewritten as whoever can write to the store can ---

    /** The object's bytes as the store gives them. */
    static byte[] bytes(lib.store.Store store, String path) throws Exception {
        try (var in = store.open(store.find(path).orElseThrow())) {
            return in.readAllBytes();
        }
    }

    /** The object at path replaced by these bytes, the digest the store records being their index frame's. */
    static void rewrite(lib.store.Store store, String path, byte[] bytes) throws Exception {
        var found = store.find(path);
        if (found.isPresent()) {
            store.delete(found.get());
        }
        try (lib.store.Store.PendingWrite write = store.create(path)) {
            write.stream().write(bytes);
            assertTrue(write.commit(new lib.store.Store.Contents(Fixtures.indexDigest(bytes), bytes.length,
                    lib.archive.Compression.ZSTD), new lib.store.Store.Description("key", java.time.Instant.now(), 0, null, 0, null)));
        }
    }

    /** Where the zstd skippable frame holding the index starts. */
    static int indexFrame(byte[] object) {
        byte[] magic = {0x5E, 0x2A, 0x4D, 0x18};
        for (int i = object.length - magic.length; i >= 0; i--) {
            if (java.util.Arrays.equals(object, i, i + magic.length, magic, 0, magic.length)) {
                return i;
            }
        }
        throw new AssertionError("no index frame");
    }

    /** The index text of a zstd entry. */
    static String indexText(byte[] object) {
        int start = indexFrame(object) + 8;
        return new String(object, start, object.length - 18 - start, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** The object with its index text replaced, framed again as FramedObject frames it. */
    static byte[] withIndex(byte[] object, String text) {
        byte[] body = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int length = body.length + 18;
        var out = new java.io.ByteArrayOutputStream();
        out.write(object, 0, indexFrame(object));
        out.writeBytes(new byte[] {0x5E, 0x2A, 0x4D, 0x18, (byte) length, (byte) (length >> 8), (byte) (length >> 16),
            (byte) (length >> 24)});
        out.writeBytes(body);
        out.writeBytes(String.format("%010dTKCINDEX", body.length).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return out.toByteArray();
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
}

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A company's internal CA, test-only, made with the openssl command in a folder: ca.pem (the CA a
 * user puts in SSL_CERT_FILE), cert.pem and key.pem (a server certificate for the given DNS names
 * and 127.0.0.1, signed by the CA), keystore.p12 (the same key and chain in PKCS12, for s3proxy's
 * keystore-path) and hashed/ (the folder c_rehash makes: HASH.0, a link to the CA, for SSL_CERT_DIR).
 */
final class TestCa {

    /** The PKCS12 keystore's password: a test's, printed nowhere. */
    static final String KEYSTORE_PASSWORD = "test-keystore";

    private final Path dir;

    private TestCa(Path dir) {
        this.dir = dir;
    }

    /** A new CA in dir, and a server certificate for these DNS names and 127.0.0.1. */
    static TestCa make(Path dir, String... dnsNames) throws Exception {
        Files.createDirectories(dir);
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=tekton-caches test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "server.csr",
                "-subj", "/CN=" + (dnsNames.length > 0 ? dnsNames[0] : "127.0.0.1"));
        var names = new ArrayList<String>();
        for (String name : dnsNames) {
            names.add("DNS:" + name);
        }
        names.add("IP:127.0.0.1");
        Files.writeString(dir.resolve("server.ext"), String.join("\n",
                "subjectAltName=" + String.join(",", names),
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=serverAuth", ""));
        openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "cert.pem", "-days", "2", "-extfile", "server.ext");
        openssl(dir, "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-certfile", "ca.pem",
                "-name", "server", "-out", "keystore.p12", "-passout", "pass:" + KEYSTORE_PASSWORD);
        // As c_rehash lays a folder out: HASH.0 a link to the certificate, which lives elsewhere here,
        // so that only the link can make the CA trusted.
        String hash = openssl(dir, "x509", "-hash", "-noout", "-in", "ca.pem").trim();
        Path hashed = Files.createDirectories(dir.resolve("hashed"));
        Files.createSymbolicLink(hashed.resolve(hash + ".0"), dir.resolve("ca.pem"));
        return new TestCa(dir);
    }

    /** The CA's certificate, PEM. */
    Path ca() {
        return dir.resolve("ca.pem");
    }

    /** The server's certificate, PEM, signed by the CA. */
    Path cert() {
        return dir.resolve("cert.pem");
    }

    /** The server's private key, PEM, unencrypted. */
    Path key() {
        return dir.resolve("key.pem");
    }

    /** The server's key and chain in PKCS12, under KEYSTORE_PASSWORD. */
    Path keystore() {
        return dir.resolve("keystore.p12");
    }

    /** A folder as c_rehash makes it: only HASH.0, a link to ca.pem. */
    Path hashedDir() {
        return dir.resolve("hashed");
    }

    /** Runs openssl in dir, returning its stdout; fails with its stderr. */
    private static String openssl(Path dir, String... args) throws Exception {
        var command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Path err = Files.createTempFile(dir, "openssl-", ".err");
        try {
            Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectError(err.toFile()).start();
            process.getOutputStream().close();
            String out = new String(process.getInputStream().readAllBytes());
            if (process.waitFor() != 0) {
                throw new IOException(command.stream().limit(3).collect(Collectors.joining(" ")) + " failed: "
                        + Files.readString(err));
            }
            return out;
        } finally {
            Files.deleteIfExists(err);
        }
    }
}

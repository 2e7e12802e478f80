import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A registry serving TLS with a self-signed certificate for 127.0.0.1: verified unless --insecure. */
class OciTlsTest {

    @RegisterExtension
    static final RegistryServer registry = RegistryServer.perClass(RegistryServer.Auth.NONE, true);

    @TempDir
    Path tmp;

    private Path project;
    private Map<String, String> env;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("requirements.txt"), "requests==2.0 # " + tmp + "\n");
        Fixtures.richTree(project.resolve("pip"), 0);
        env = Fixtures.env(tmp.resolve("xdg"));
        env.remove("SSL_CERT_FILE");
        env.remove("SSL_CERT_DIR");
    }

    private String uri(String repository) {
        return "oci://" + registry.host() + "/" + repository + ":{{hash}}";
    }

    private void assertRoundTrip(String repository, String... insecure) throws Exception {
        var upload = new java.util.ArrayList<>(java.util.List.of("--target", uri(repository), "--folder", "pip"));
        upload.addAll(java.util.List.of(insecure));
        var uploaded = Fixtures.upload(project, env, upload.toArray(String[]::new));
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored");
        var fetch = new java.util.ArrayList<>(java.util.List.of("--source", uri(repository), "--folder", restored.toString()));
        fetch.addAll(java.util.List.of(insecure));
        var fetched = Fixtures.fetch(project, env, fetch.toArray(String[]::new));
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("pip"), false), Fixtures.snapshot(restored, false));
    }

    @Test
    void anUnknownCertificateIsRefusedInOneLineThatSaysWhatToDo() throws Exception {
        for (var run : new Fixtures.Run[] {
                Fixtures.upload(project, env, "--target", uri("tls/refused"), "--folder", "pip"),
                Fixtures.fetch(project, env, "--source", uri("tls/refused"), "--folder", tmp.resolve("none").toString())}) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains("TLS with " + registry.host() + " failed"), run.err());
            assertTrue(run.err().contains("SSL_CERT_FILE"), run.err());
        }
        assertTrue(Files.notExists(tmp.resolve("none")));
    }

    @Test
    void theCaInSslCertFileIsTrusted() throws Exception {
        env.put("SSL_CERT_FILE", registry.caCertificate().toString());
        assertRoundTrip("tls/ca-file");
    }

    @Test
    void theCaInSslCertDirIsTrusted() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("certs"));
        Files.copy(registry.caCertificate(), dir.resolve("registry.crt"));
        env.put("SSL_CERT_DIR", dir.toString());
        assertRoundTrip("tls/ca-dir");
    }

    @Test
    void insecureTrueAcceptsTheUnknownCertificate() throws Exception {
        assertRoundTrip("tls/insecure", "--insecure", "true");
    }

    @Test
    void insecureFromTheStepActionEnvironmentAcceptsItToo() throws Exception {
        env.put("PARAM_INSECURE", "true");
        assertRoundTrip("tls/insecure-env");
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import lib.common.ExitStatus;
import lib.common.Redaction;
import lib.store.oci.DockerConfig;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Secrets users write into URIs (an Azure SAS, user info in an S3 endpoint or an oci:// reference)
 * never reach stderr, in the one-line message or in --verbose's stack traces.
 */
class SecretRedactionTest {

    /** Stands for every secret below: what must never be printed. */
    static final String SECRET = "pa55-n0t-f0r-print1ng";

    @RegisterExtension
    static final S3ProxyServer s3 = S3ProxyServer.perClass();

    @TempDir
    Path tmp;

    private Path project;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("Cargo.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("target"), 0);
    }

    /** A URI and the environment a user gave, the secret somewhere in them. */
    record Case(String uri, Map<String, String> env) {}

    static Stream<Arguments> secretsInUris() {
        String s3Host = s3.endpoint().substring("http://".length());
        String sas = "sv=2022-11-02&ss=b&srt=co&sp=rwl&se=2030-01-01T00:00:00Z&sig=" + SECRET;
        return Stream.of(
                Arguments.of("user and password of an oci:// reference",
                        new Case("oci://tester:" + SECRET + "@127.0.0.1:5000/cache:{{hash}}", Map.of())),
                Arguments.of("an azblob SAS in the URI",
                        new Case("azblob://cache/{{hash}}?" + sas, Map.of())),
                Arguments.of("an azblob SAS in BLOB_QUERY_PARAMS",
                        new Case("azblob://cache/{{hash}}", Map.of("BLOB_QUERY_PARAMS", "?" + sas))),
                // A bucket the server does not have: its message names the endpoint, and --verbose
                // prints the exception that names it too.
                Arguments.of("user info of the S3 endpoint in the URI",
                        new Case("s3://no-such-bucket/{{hash}}?endpoint=http://id:" + SECRET + "@" + s3Host
                                + "&s3ForcePathStyle=true&region=us-east-1", Map.of("BLOB_QUERY_PARAMS", ""))),
                Arguments.of("user info of the S3 endpoint in BLOB_QUERY_PARAMS",
                        new Case("s3://no-such-bucket/{{hash}}", Map.of("BLOB_QUERY_PARAMS", "?endpoint=http://id:" + SECRET
                                + "@" + s3Host + "&s3ForcePathStyle=true&region=us-east-1"))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("secretsInUris")
    void aSecretInTheUriIsNeverPrintedPlainOrVerbose(String name, Case given) throws Exception {
        var env = s3.env(Fixtures.env(tmp.resolve("xdg")), s3.endpoint());
        env.putAll(given.env());
        for (var verbose : List.of(List.<String>of(), List.of("--verbose"))) {
            var upload = Fixtures.upload(project, env, Stream.concat(Stream.of("--target", given.uri(), "--folder", "target"),
                    verbose.stream()).toArray(String[]::new));
            var fetch = Fixtures.fetch(project, env, Stream.concat(Stream.of("--source", given.uri(), "--folder",
                    tmp.resolve("restored").toString()), verbose.stream()).toArray(String[]::new));
            for (var run : List.of(upload, fetch)) {
                assertTrue(run.status() == ExitStatus.USAGE || run.status() == ExitStatus.STORE, run.toString());
                assertFalse(run.err().isBlank(), run.toString());
                assertFalse(run.err().contains(SECRET), run.toString());
            }
        }
    }

    @Test
    void aMissingBucketStillSaysWhichEndpointWithoutItsUserInfo() throws Exception {
        var env = s3.env(Fixtures.env(tmp.resolve("xdg")), "http://id:" + SECRET + "@" + s3.endpoint().substring("http://".length()));
        var run = Fixtures.fetch(project, env, "--source", "s3://no-such-bucket/{{hash}}", "--folder", tmp.resolve("r").toString());
        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().contains("http://" + Redaction.HIDDEN + "@" + s3.endpoint().substring("http://".length())), run.err());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("secretsInText")
    void secretsInTextAreRedacted(String text) {
        String redacted = Redaction.redact(text);
        assertFalse(redacted.contains(SECRET), redacted);
        assertTrue(redacted.contains(Redaction.HIDDEN), redacted);
    }

    static Stream<String> secretsInText() {
        return Stream.of(
                "GET https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + SECRET
                        + "%2F20250101%2Fus-east-1%2Fs3%2Faws4_request",
                "GET https://bucket.s3.amazonaws.com/k?X-Amz-Date=20250101T000000Z&X-Amz-Signature=" + SECRET,
                "Invalid connection string DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + SECRET + "/+==;EndpointSuffix=x",
                "{token=" + SECRET + ", expires_in=300}",
                "https://host/path?PASSWORD=" + SECRET,
                "s3://b/k?endpoint=http%3A%2F%2Fid%3A" + SECRET + "%40host%3A9000",
                "oci://user:" + SECRET + "@reg.example/repo:tag");
    }

    @Test
    void whatIsNoSecretIsKept() {
        for (String text : List.of(
                "restored 3 files into /tmp/x from s3://bucket/maven-abc?region=us-east-1&endpoint=http://127.0.0.1:9000; key 3da4 from 1 file (pom.xml)",
                "oci://127.0.0.1:5000/cache:3da4 is not an OCI image reference: it names no tag",
                "credentials from DOCKER_CONFIG=/home/u/.docker (config.json or .dockerconfigjson)")) {
            assertEquals(text, Redaction.redact(text));
        }
    }

    @Test
    void aDockerConfigCredentialDoesNotShowItsSecrets() {
        var shown = new ArrayList<String>();
        shown.add(DockerConfig.Credential.basic("tester", SECRET).toString());
        shown.add(new DockerConfig.Credential(null, null, SECRET, null).toString());
        shown.add(new DockerConfig.Credential(null, null, null, SECRET).toString());
        for (String text : shown) {
            assertFalse(text.contains(SECRET), text);
        }
        assertTrue(shown.get(0).contains("tester"), shown.get(0));
    }
}

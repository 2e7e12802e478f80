import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Credentials from DOCKER_CONFIG against real registries: one with htpasswd Basic auth, one with
 * docker token auth (Bearer tokens from a token service, with a password or an identity token).
 */
class OciAuthTest {

    @RegisterExtension
    static final RegistryServer basic = RegistryServer.perClass(RegistryServer.Auth.BASIC, false);
    @RegisterExtension
    static final RegistryServer token = RegistryServer.perClass(RegistryServer.Auth.TOKEN, false);

    @TempDir
    Path tmp;

    private Path project;

    @BeforeEach
    void project() throws Exception {
        project = tmp.resolve("project");
        Fixtures.write(project.resolve("Cargo.lock"), "# lock " + tmp + "\n");
        Fixtures.richTree(project.resolve("target"), 0);
    }

    private Map<String, String> env(Path dockerConfig) {
        var env = Fixtures.env(tmp.resolve("xdg"));
        env.put("DOCKER_CONFIG", dockerConfig.toString());
        return env;
    }

    private void assertRoundTrip(RegistryServer registry, Map<String, String> env, String repository) throws Exception {
        String uri = "oci://" + registry.host() + "/" + repository + ":{{hash}}";
        var uploaded = Fixtures.upload(project, env, "--target", uri, "--folder", "target");
        assertEquals(0, uploaded.status(), uploaded.toString());
        Path restored = tmp.resolve("restored-" + repository.replace('/', '-'));
        var fetched = Fixtures.fetch(project, env, "--source", uri, "--folder", restored.toString());
        assertEquals(0, fetched.status(), fetched.toString());
        assertEquals(Fixtures.snapshot(project.resolve("target"), false), Fixtures.snapshot(restored, false));
    }

    private void assertAuthenticationFails(RegistryServer registry, Map<String, String> env, String expected) throws Exception {
        String uri = "oci://" + registry.host() + "/auth/denied:{{hash}}";
        var uploaded = Fixtures.upload(project, env, "--target", uri, "--folder", "target");
        var fetched = Fixtures.fetch(project, env, "--source", uri, "--folder", tmp.resolve("denied").toString());
        for (var run : new Fixtures.Run[] {uploaded, fetched}) {
            assertEquals(ExitStatus.STORE, run.status(), run.toString());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains(expected), run.err());
            assertTrue(run.err().contains(registry.host()), run.err());
        }
        assertTrue(Files.notExists(tmp.resolve("denied")));
    }

    @Test
    void basicAuthWithAnAuthEntry() throws Exception {
        assertRoundTrip(basic, env(basic.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, RegistryServer.PASSWORD)), "basic/auth");
    }

    @Test
    void basicAuthWithUsernameAndPasswordFieldsInADockerconfigjson() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("secret"));
        Files.writeString(dir.resolve(".dockerconfigjson"), "{\"auths\":{\"https://" + basic.host() + "/v1/\":{\"username\":\""
                + RegistryServer.USER + "\",\"password\":\"" + RegistryServer.PASSWORD + "\"}}}");
        assertRoundTrip(basic, env(dir), "basic/fields");
    }

    @Test
    void basicAuthWithAWrongPasswordFailsInOneLine() throws Exception {
        assertAuthenticationFails(basic, env(basic.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, "wrong")),
                "authentication failed for registry " + basic.host());
    }

    @Test
    void basicAuthWithNoCredentialsSaysWhereItLooked() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertAuthenticationFails(basic, env(empty), "requires a user name and password and none was found in DOCKER_CONFIG=" + empty);
    }

    @Test
    void bearerTokenWithAPassword() throws Exception {
        int before = token.tokenServer().tokensIssued();
        assertRoundTrip(token, env(token.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, RegistryServer.PASSWORD)), "token/password");
        assertTrue(token.tokenServer().tokensIssued() > before, "the token service issued the tokens");
    }

    @Test
    void bearerTokenWithAnIdentityToken() throws Exception {
        assertRoundTrip(token, env(token.dockerConfigWithIdentityToken(tmp.resolve("docker"), token.identityToken())), "token/identity");
    }

    @Test
    void bearerTokenWithAWrongPasswordFailsInOneLine() throws Exception {
        assertAuthenticationFails(token, env(token.dockerConfig(tmp.resolve("docker"), RegistryServer.USER, "wrong")),
                "authentication failed for registry " + token.host());
    }

    @Test
    void aCredentialHelperThatIsNotInstalledIsAClearError() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("helper"));
        Files.writeString(dir.resolve("config.json"), "{\"credHelpers\":{\"" + basic.host() + "\":\"no-such-helper\"}}");
        assertAuthenticationFails(basic, env(dir), "docker-credential-no-such-helper");
    }

    @Test
    void aCredentialHelperIsAsked() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path helper = bin.resolve("docker-credential-test");
        Files.writeString(helper, "#!/bin/sh\nread server\n[ \"$server\" = \"" + basic.host() + "\" ] || exit 1\n"
                + "printf '{\"ServerURL\":\"%s\",\"Username\":\"" + RegistryServer.USER + "\",\"Secret\":\"" + RegistryServer.PASSWORD
                + "\"}' \"$server\"\n");
        Fixtures.chmod(helper, "rwxr-xr-x");
        Path dir = Files.createDirectories(tmp.resolve("helper"));
        Files.writeString(dir.resolve("config.json"), "{\"credsStore\":\"test\"}");
        var env = env(dir);
        env.put("PATH", bin + ":" + env.get("PATH"));
        assertRoundTrip(basic, env, "basic/helper");
    }

    /** DIR/config.json holding Basic credentials for host; DIR is returned, as DOCKER_CONFIG. */
    private Path basicConfig(String host) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("docker-" + host.replace(':', '-')));
        Files.writeString(dir.resolve("config.json"), "{\"auths\":{\"" + host + "\":{\"auth\":\"" + BASIC_PAIR + "\"}}}");
        return dir;
    }

    private static final String BASIC_PAIR = Base64.getEncoder().encodeToString(
            (RegistryServer.USER + ":" + RegistryServer.PASSWORD).getBytes(StandardCharsets.UTF_8));

    /**
     * A registry asking for Basic credentials, answering what others does not (the ping, and every
     * request without the credentials, it answers itself).
     */
    private static HostileRegistry basicRegistry(HostileRegistry.Script others) throws Exception {
        return HostileRegistry.start((request, out) -> {
            if (!request.header("Authorization").equals(Optional.of("Basic " + BASIC_PAIR))) {
                HostileRegistry.send(out, HostileRegistry.answer(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
                        "WWW-Authenticate: Basic realm=\"registry\""));
            } else if (request.line().equals("GET /v2/")) {
                HostileRegistry.send(out, HostileRegistry.answer(200, "{}"));
            } else {
                others.answer(request, out);
            }
        });
    }

    /** Whether any request to the host carried an Authorization header. */
    private static boolean anyAuthorized(HostileRegistry host) {
        return host.requests().stream().anyMatch(r -> r.header("Authorization").isPresent());
    }

    /**
     * An upload whose session the registry opens on another host (a Location elsewhere, as
     * registries that hand blobs to a storage service do): the blob goes there without the
     * registry's credentials, and the upload succeeds.
     */
    @Test
    void anUploadSentToAnotherHostCarriesNoCredentials() throws Exception {
        try (var storage = HostileRegistry.start((request, out) -> HostileRegistry.send(out,
                     HostileRegistry.answer(request.method().equals("PUT") ? 201 : 202, "")));
             var registry = basicRegistry((request, out) -> {
                 if (request.line().endsWith("/blobs/uploads/")) {
                     HostileRegistry.send(out, HostileRegistry.answer(202, "", "Location: " + storage.url() + "/upload/session?signature=abc"));
                 } else if (request.method().equals("PUT") && request.line().contains("/manifests/")) {
                     HostileRegistry.send(out, HostileRegistry.answer(201, ""));
                 } else {
                     HostileRegistry.send(out, HostileRegistry.answer(404, ""));
                 }
             })) {
            var uploaded = Fixtures.upload(project, env(basicConfig(registry.host())), "--target",
                    "oci://" + registry.host() + "/elsewhere/upload:{{hash}}", "--folder", "target");

            assertEquals(0, uploaded.status(), uploaded.toString());
            assertTrue(storage.requests().stream().anyMatch(r -> r.method().equals("PUT")), storage.requests().toString());
            assertFalse(anyAuthorized(storage), "credentials sent to " + storage.host() + ": " + storage.requests());
            assertTrue(anyAuthorized(registry), registry.requests().toString());
        }
    }

    /** A restore key's lookup whose tag list goes on at another host (a Link elsewhere): read there without credentials. */
    @Test
    void aTagListPagedToAnotherHostIsReadWithoutCredentials() throws Exception {
        try (var other = HostileRegistry.start((request, out) -> HostileRegistry.send(out,
                     HostileRegistry.answer(200, "{\"name\":\"elsewhere/tags\",\"tags\":[\"b-1\"]}")));
             var registry = basicRegistry((request, out) -> {
                 if (request.line().endsWith("/tags/list")) {
                     HostileRegistry.send(out, HostileRegistry.answer(200, "{\"name\":\"elsewhere/tags\",\"tags\":[\"a-1\"]}",
                             "Link: <" + other.url() + "/v2/elsewhere/tags/tags/list?n=1000&last=a-1>; rel=\"next\""));
                 } else {
                     HostileRegistry.send(out, HostileRegistry.answer(404, ""));
                 }
             })) {
            var fetched = Fixtures.fetch(project, env(basicConfig(registry.host())), "--source",
                    "oci://" + registry.host() + "/elsewhere/tags:{{hash}}", "--folder", tmp.resolve("restored").toString(),
                    "--restore-key", "zz");

            assertEquals(0, fetched.status(), fetched.toString());
            assertTrue(fetched.err().startsWith("cache miss: "), fetched.toString());
            assertTrue(other.requests().stream().anyMatch(r -> r.line().endsWith("/tags/list")), other.requests().toString());
            assertFalse(anyAuthorized(other), "credentials sent to " + other.host() + ": " + other.requests());
        }
    }

    /** Stands for a password: what must never be printed. */
    private static final String SECRET = "Hunter2Secret";

    /** A run with and without --verbose: neither may print the secret, each says why in one line. */
    private void assertRefusedWithoutTheSecret(Map<String, String> env, int status, String words) throws Exception {
        String uri = "oci://" + basic.host() + "/secret/kept:{{hash}}";
        for (var verbose : new String[][] {{}, {"--verbose"}}) {
            var args = new java.util.ArrayList<>(List.of("--source", uri, "--folder", tmp.resolve("restored").toString()));
            args.addAll(List.of(verbose));
            var fetched = Fixtures.fetch(project, env, args.toArray(String[]::new));
            assertEquals(status, fetched.status(), fetched.toString());
            assertTrue(fetched.err().lines().anyMatch(l -> l.startsWith("cache-fetch: ") && l.contains(words)), fetched.toString());
            assertFalse(fetched.err().contains(SECRET), fetched.toString());
            if (verbose.length == 0) {
                Fixtures.assertOneLine(fetched, "cache-fetch", words);
            }
        }
    }

    @Test
    void aConfigJsonThatIsNotJsonIsRefusedByItsPositionNotItsContent() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("broken"));
        Files.writeString(dir.resolve("config.json"), "{\"auths\":{\"" + basic.host() + "\":{\"auth\": " + SECRET + "}}}");
        assertRefusedWithoutTheSecret(env(dir), ExitStatus.USAGE, dir.resolve("config.json") + " is not a JSON object (line 1, column ");
    }

    @Test
    void aCredentialHelperThatPrintsNoJsonIsRefusedByItsPositionNotItsContent() throws Exception {
        assertRefusedWithoutTheSecret(helperEnv("printf '" + SECRET + "'\n"), ExitStatus.STORE,
                "docker-credential-test get for " + basic.host() + ": its answer is not a JSON object (line 1, column ");
    }

    /**
     * A credential helper that never answers (waiting on a keyring, say), and a child of it holding
     * its output open: stopped, both, after --stall-timeout, and the fetch fails in one line.
     */
    @Test
    void aCredentialHelperThatNeverAnswersIsStoppedAfterTheStallTimeout() throws Exception {
        Path pids = tmp.resolve("helper.pids");
        var env = helperEnv("echo $$ > '" + pids + "'\nsleep 600 &\necho $! >> '" + pids + "'\nwait\n");
        long start = System.nanoTime();

        var fetched = Fixtures.script(java.time.Duration.ofSeconds(60), List.of(), "CacheFetch", project, env,
                "--source", "oci://" + basic.host() + "/helper/hangs:{{hash}}", "--folder", tmp.resolve("restored").toString(),
                "--stall-timeout", "2s");

        assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
        Fixtures.assertOneLine(fetched, "cache-fetch", "docker-credential-test get did not answer for " + basic.host()
                + " within 2s (--stall-timeout), and was stopped");
        assertTrue(System.nanoTime() - start < java.util.concurrent.TimeUnit.SECONDS.toNanos(30), "took too long");
        for (String pid : Files.readAllLines(pids)) {
            var process = ProcessHandle.of(Long.parseLong(pid.strip()));
            if (process.isPresent()) {
                process.get().onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }

    /** The environment naming the credsStore docker-credential-test, a shell script of body, put first on the PATH. */
    private Map<String, String> helperEnv(String body) throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path helper = bin.resolve("docker-credential-test");
        Files.writeString(helper, "#!/bin/sh\n" + body);
        Fixtures.chmod(helper, "rwxr-xr-x");
        Path dir = Files.createDirectories(tmp.resolve("helper"));
        Files.writeString(dir.resolve("config.json"), "{\"credsStore\":\"test\"}");
        var env = env(dir);
        env.put("PATH", bin + ":" + env.get("PATH"));
        return env;
    }

    /**
     * A plain-HTTP registry whose token service answers what is not a token (more than 4 MiB, or
     * no JSON, a password in it): the one line says so, not that TLS failed, which was only tried
     * first; --verbose neither.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"larger than 4 MiB", "not a JSON object"})
    void aTokenServiceAnswerThatIsNoTokenIsTheReasonGivenNotTls(String what) throws Exception {
        String tokenAnswer = what.startsWith("larger") ? "{\"token\":\"" + "a".repeat(5 << 20) + "\"}" : SECRET;
        try (var registry = HostileRegistry.start((request, out) -> {
            if (request.line().equals("GET /token")) {
                HostileRegistry.send(out, HostileRegistry.answer(200, tokenAnswer));
            } else {
                HostileRegistry.send(out, HostileRegistry.answer(401, "", "WWW-Authenticate: Bearer realm=\"http://"
                        + request.header("Host").orElseThrow() + "/token\",service=\"registry\""));
            }
        })) {
            for (var verbose : new String[][] {{}, {"--verbose"}}) {
                var args = new java.util.ArrayList<>(List.of("--source", "oci://" + registry.host() + "/token/answer:{{hash}}",
                        "--folder", tmp.resolve("restored").toString()));
                args.addAll(List.of(verbose));
                var fetched = Fixtures.fetch(project, Fixtures.env(tmp.resolve("xdg")), args.toArray(String[]::new));

                assertEquals(ExitStatus.STORE, fetched.status(), fetched.toString());
                assertTrue(fetched.err().lines().anyMatch(l -> l.startsWith("cache-fetch: ")
                        && l.contains("the answer of the token service http://" + registry.host() + "/token is " + what)), fetched.toString());
                assertFalse(fetched.err().contains("TLS"), fetched.toString());
                assertFalse(fetched.err().contains(SECRET), fetched.toString());
            }
        }
    }
}

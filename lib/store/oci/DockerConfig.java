package lib.store.oci;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import lib.common.DaemonThreads;
import lib.common.Durations;
import lib.common.Environment;
import lib.common.Reason;
import lib.common.Redaction;
import lib.common.StoreError;
import lib.common.UsageError;

/**
 * Registry credentials the way docker, podman and the Go tool find them: $DOCKER_CONFIG/config.json
 * (or the .dockerconfigjson a Kubernetes secret mounts), else ~/.docker/config.json; an entry of
 * "credHelpers" or the "credsStore" asks a docker-credential-NAME program, else "auths" holds
 * "auth" (base64 user:password), "username"/"password", "identitytoken" or "registrytoken".
 */
public final class DockerConfig {

    /** What a registry may be given; identityToken is an OAuth2 refresh token, registryToken a bearer token. */
    public record Credential(String username, String password, String identityToken, String registryToken) {
        public static Credential basic(String username, String password) {
            return new Credential(username, password, null, null);
        }

        /** The user and which secrets it holds, never their values: a record's own toString prints them. */
        @Override
        public String toString() {
            return "Credential[username=" + username + (password != null ? ", password=" + Redaction.HIDDEN : "")
                    + (identityToken != null ? ", identityToken=" + Redaction.HIDDEN : "")
                    + (registryToken != null ? ", registryToken=" + Redaction.HIDDEN : "") + "]";
        }
    }

    private static final List<String> FILE_NAMES = List.of("config.json", ".dockerconfigjson");
    private static final List<String> DOCKER_HUB_KEYS = List.of("https://index.docker.io/v1/", "index.docker.io",
            "docker.io", OciReference.DOCKER_HUB);

    /** The most a credential helper may print on stdout or on stderr: a credential is a few KiB. */
    private static final int HELPER_OUTPUT_MAX = 1 << 20;

    private final Path file;
    private final String searched;
    private final Map<String, Object> config;
    private final Duration helperTimeout;

    private DockerConfig(Path file, String searched, Map<String, Object> config, Duration helperTimeout) {
        this.file = file;
        this.searched = searched;
        this.config = config;
        this.helperTimeout = helperTimeout;
    }

    /**
     * The credentials the environment points at; a credential helper that has not answered within
     * helperTimeout (the stall timeout: it is a wait on which nothing arrives) is stopped.
     */
    static DockerConfig load(Environment environment, Duration helperTimeout) {
        String folder = environment.get("DOCKER_CONFIG");
        Path dir;
        String searched;
        if (folder != null && !folder.isBlank()) {
            dir = Path.of(folder);
            searched = "DOCKER_CONFIG=" + folder + " (config.json or .dockerconfigjson)";
        } else {
            String home = environment.get("HOME");
            dir = Path.of(home == null ? "/" : home, ".docker");
            searched = dir.resolve("config.json") + " (DOCKER_CONFIG is not set)";
        }
        for (String name : FILE_NAMES) {
            Path file = dir.resolve(name);
            if (Files.isRegularFile(file)) {
                byte[] text;
                try {
                    text = Files.readAllBytes(file);
                } catch (IOException e) {
                    throw new UsageError("cannot read the registry credentials in " + file + ": " + Reason.of(e).lines().findFirst().orElse(""));
                }
                try {
                    return new DockerConfig(file, searched, Json.object(text, file.toString()), helperTimeout);
                } catch (Json.NotJson e) {
                    throw new UsageError("cannot read the registry credentials: " + e.getMessage());
                }
            }
        }
        return new DockerConfig(null, searched, Map.of(), helperTimeout);
    }

    /** Where credentials were looked for, for messages. */
    String searched() {
        return searched;
    }

    /** The credential for the registry host[:port], or empty to go anonymous. */
    Optional<Credential> credentialFor(String registry) {
        List<String> keys = registry.equals(OciReference.DOCKER_HUB) ? DOCKER_HUB_KEYS : List.of(registry);
        String helper = null;
        for (String key : keys) {
            if (helper == null && section("credHelpers").get(key) instanceof String name) {
                helper = name;
            }
        }
        if (helper == null && config.get("credsStore") instanceof String store && !store.isBlank()) {
            helper = store;
        }
        if (helper != null) {
            return fromHelper(helper, keys.get(0), registry);
        }
        for (var entry : section("auths").entrySet()) {
            if (keys.contains(normalize(entry.getKey())) || keys.contains(entry.getKey())) {
                return fromEntry(entry.getKey(), entry.getValue());
            }
        }
        return Optional.empty();
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> section(String name) {
        return config.get(name) instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
    }

    /** "https://host:5000/v1/" → "host:5000", as docker matches its keys. */
    private static String normalize(String key) {
        String host = key.replaceFirst("^[a-z]+://", "");
        int slash = host.indexOf('/');
        return slash < 0 ? host : host.substring(0, slash);
    }

    private Optional<Credential> fromEntry(String key, Object value) {
        if (!(value instanceof Map<?, ?> entry)) {
            throw new UsageError(file + ": auths[\"" + key + "\"] is not an object");
        }
        if (entry.get("identitytoken") instanceof String token && !token.isEmpty()) {
            return Optional.of(new Credential(null, null, token, null));
        }
        if (entry.get("registrytoken") instanceof String token && !token.isEmpty()) {
            return Optional.of(new Credential(null, null, null, token));
        }
        if (entry.get("auth") instanceof String auth && !auth.isEmpty()) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(auth.strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new UsageError(file + ": auths[\"" + key + "\"].auth is not base64");
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                throw new UsageError(file + ": auths[\"" + key + "\"].auth is not base64 of user:password");
            }
            return Optional.of(Credential.basic(decoded.substring(0, colon), decoded.substring(colon + 1)));
        }
        if (entry.get("username") instanceof String user && entry.get("password") instanceof String password) {
            return Optional.of(Credential.basic(user, password));
        }
        return Optional.empty();
    }

    /**
     * docker-credential-NAME get: the server on stdin, {"Username", "Secret"} on stdout. Its output
     * is read on threads of its own, so that the wait for it is bounded whatever the helper does
     * (a helper waiting on a keyring or a login prompt, a child of it keeping the pipes open): past
     * helperTimeout, the helper and what it started are killed.
     */
    private Optional<Credential> fromHelper(String name, String server, String registry) {
        String program = "docker-credential-" + name;
        Process process;
        try {
            process = new ProcessBuilder(program, "get").redirectError(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new StoreError("the credentials for " + registry + " come from the credential helper " + program
                    + " (named in " + file + "), which is not installed: " + Reason.of(e), e);
        }
        var readers = Executors.newFixedThreadPool(2, DaemonThreads.named("credential-helper"));
        try {
            Future<byte[]> stdout = readers.submit(() -> process.getInputStream().readNBytes(HELPER_OUTPUT_MAX));
            Future<byte[]> stderr = readers.submit(() -> process.getErrorStream().readNBytes(HELPER_OUTPUT_MAX));
            try (OutputStream in = process.getOutputStream()) {
                in.write(server.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // A helper that does not read its input, and exited: what it printed says why.
            }
            long deadline = System.nanoTime() + helperTimeout.toNanos();
            byte[] out;
            byte[] err;
            try {
                if (!process.waitFor(helperTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
                    throw new TimeoutException();
                }
                out = stdout.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                err = stderr.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new StoreError(program + " get did not answer for " + registry + " within " + Durations.text(helperTimeout)
                        + " (--stall-timeout), and was stopped", null);
            } catch (ExecutionException e) {
                throw new IOException("reading its output failed: " + Reason.of(e.getCause()));
            }
            String said = (new String(out, StandardCharsets.UTF_8) + new String(err, StandardCharsets.UTF_8)).strip();
            if (process.exitValue() != 0) {
                if (said.toLowerCase().contains("credentials not found")) {
                    return Optional.empty();
                }
                throw new StoreError(program + " get failed for " + registry + ": " + firstLine(said), null);
            }
            Map<String, Object> answer;
            try {
                answer = Json.object(out, "its answer");
            } catch (Json.NotJson e) {
                throw new StoreError(program + " get for " + registry + ": " + e.getMessage(), null);
            }
            String user = answer.get("Username") instanceof String u ? u : "";
            String secret = answer.get("Secret") instanceof String s ? s : "";
            return Optional.of(user.equals("<token>") ? new Credential(null, null, secret, null) : Credential.basic(user, secret));
        } catch (IOException e) {
            throw new StoreError(program + " get for " + registry + ": " + Reason.of(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreError(program + " get for " + registry + " was interrupted", e);
        } finally {
            readers.shutdownNow();
        }
    }

    private static String firstLine(String text) {
        var lines = new ArrayList<>(text.lines().toList());
        return lines.isEmpty() ? "(no message)" : lines.get(0);
    }
}

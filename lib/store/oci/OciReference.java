package lib.store.oci;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.regex.Pattern;
import lib.common.UsageError;

/**
 * oci://host[:port]/repository:tag, read the way the Go tool's go-containerregistry reads an image
 * reference: docker.io names the Docker Hub registry, and a loopback or private (RFC 1918) address
 * may be spoken to in plain HTTP when it offers no TLS.
 */
record OciReference(String registry, String repository, String tag) {

    // The distribution spec's grammar for repository names and tags.
    private static final Pattern REPOSITORY = Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](?::[0-9]{1,5})?");

    static final String DOCKER_HUB = "registry-1.docker.io";

    /** registry/repository, and :tag unless tag is null, as messages name what they read. */
    String named(String tag) {
        return registry + "/" + repository + (tag == null ? "" : ":" + tag);
    }

    /**
     * The repository as go-containerregistry names it (name.Repository.Name()), which is what
     * cosign writes as a signature payload's docker-reference: "host[:port]/repository", Docker
     * Hub as index.docker.io.
     */
    String dockerReference() {
        return (registry.equals(DOCKER_HUB) ? "index.docker.io" : registry) + "/" + repository;
    }

    static OciReference parse(URI uri) {
        // Read as text: an image reference's grammar is not a hierarchical URI's.
        String text = uri.toString();
        String rest = text.substring("oci://".length());
        int slash = rest.indexOf('/');
        if (!text.startsWith("oci://") || slash <= 0) {
            throw usage(text, "write oci://host[:port]/repository:tag");
        }
        String registry = rest.substring(0, slash);
        String name = rest.substring(slash + 1);
        if (registry.contains("@")) {
            // Not quoted: what comes before the '@' is a user name and a password.
            throw usage(text, "the registry's user and password belong in DOCKER_CONFIG's config.json, not in the URI");
        }
        if (!HOST.matcher(registry).matches()) {
            throw usage(text, "'" + registry + "' is not a registry host[:port]");
        }
        if (name.contains("@")) {
            throw usage(text, "a cache is found by tag, not by digest; write repository:{{hash}}");
        }
        int colon = name.lastIndexOf(':');
        if (colon < 0 || colon < name.lastIndexOf('/')) {
            throw usage(text, "it names no tag; write repository:{{hash}}");
        }
        String repository = name.substring(0, colon);
        String tag = name.substring(colon + 1);
        if (!REPOSITORY.matcher(repository).matches()) {
            throw usage(text, "'" + repository + "' is not a repository name (lower-case letters, digits, and . _ - / between them)");
        }
        if (!TAG.matcher(tag).matches()) {
            throw usage(text, "'" + tag + "' is not a tag (up to 128 letters, digits, _ . -)");
        }
        if (registry.equals("docker.io") || registry.equals("index.docker.io")) {
            registry = DOCKER_HUB;
            if (!repository.contains("/")) {
                repository = "library/" + repository;
            }
        }
        return new OciReference(registry, repository, tag);
    }

    private static UsageError usage(String text, String why) {
        return new UsageError("'" + text + "' is not an OCI image reference: " + why);
    }

    /** The host without its port, brackets removed from an IPv6 address. */
    String hostName() {
        String host = registry.startsWith("[") ? registry.substring(1, registry.indexOf(']'))
                : registry.contains(":") ? registry.substring(0, registry.indexOf(':')) : registry;
        return host;
    }

    /**
     * Whether plain HTTP may be tried when TLS is refused, as go-containerregistry allows without
     * --insecure for localhost, loopback and private addresses (a registry inside the cluster).
     */
    boolean plainHttpAllowedByAddress() {
        String host = hostName();
        if (host.equals("localhost") || host.endsWith(".localhost")) {
            return true;
        }
        if (!host.matches("[0-9.]+|.*:.*")) {
            return false; // a name: never looked up here, so a DNS answer cannot lower security
        }
        try {
            InetAddress address = InetAddress.getByName(host);
            return address.isLoopbackAddress() || address.isSiteLocalAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}

//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.store.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import lib.common.Digests;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.net.ApacheEgress;
import lib.net.Proxies;
import lib.net.Trust;
import lib.store.Backoff;
import lib.store.Headway;
import lib.store.ResumingDownload;
import lib.store.Store;

/**
 * HTTP to one repository of an OCI distribution registry: finds how to reach it (HTTPS, or plain
 * HTTP where allowed), authenticates as its challenge asks (Basic, or a Bearer token from its token
 * service, with a password or an identity token), follows redirects, gives credentials to the
 * registry's own host only (never to another that a redirect, an upload's Location or a tag list's
 * Link names), and retries what a flaky network or a busy registry makes fail.
 *
 * <p>One method a request of the distribution spec, each named by its {@code VERB /v2/<name>/…} in
 * the first line of its javadoc, as go-containerregistry's pkg/v1/remote/write.go has them; what
 * is read of an answer into memory is capped ({@link #BODY_MAX}). Public for the tests, which
 * speak to a real registry through it.
 */
public final class RegistryClient implements Closeable {

    /** The registry said no to these credentials, or asked for some and none were found. */
    static final class AuthenticationFailed extends IOException {
        AuthenticationFailed(String message) {
            super(message);
        }
    }

    /** The registry answered with a status the caller did not expect; the message holds its reason. */
    static class RegistryRefused extends IOException {
        final int status;

        RegistryRefused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** The registry refused a chunk of an upload itself (its token service did not): resending may cure it. */
    static final class ChunkRefused extends RegistryRefused {
        ChunkRefused(RegistryRefused refused) {
            super(refused.status, refused.getMessage());
        }
    }

    /** A request of an HTTPS registry would go out in plain HTTP; refused, and never retried. */
    static final class PlainHttpRefused extends IOException {
        PlainHttpRefused(String message) {
            super(message);
        }
    }

    /**
     * The most of a manifest, a page of tags or a token answer read into memory (containerd's limit
     * for a manifest): a registry cannot fill the heap with an endless answer.
     */
    static final int BODY_MAX = 4 << 20;
    /**
     * The most pages of a tag list followed (a million tags at a thousand a page), and the most of
     * their matching names kept: a registry that pages without end cannot make a lookup last for
     * ever, nor fill the heap a page at a time.
     */
    static final int TAG_PAGES_MAX = 1000;
    static final long TAG_NAMES_MAX = 64L << 20;
    /** The most of an error answer read for its message; the rest is not needed to say what failed. */
    private static final int ERROR_BODY_MAX = 8192;
    private static final int MAX_REDIRECTS = 5;
    static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    private static final String ACCEPT = String.join(", ", MANIFEST, DOCKER_MANIFEST,
            "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json");
    private static final Pattern CHALLENGE_PARAM = Pattern.compile("([A-Za-z_]+)=(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([^,\\s]*))");

    private final OciReference reference;
    private final boolean push;
    private final boolean insecure;
    private final DockerConfig credentials;
    private final Log log;
    private final Trust trust;
    private final RegistryHttp http;
    private String base;
    /**
     * Whether the registry has answered in HTTP with anything but the 400 an HTTPS server gives a
     * plain request: once it has, plain HTTP reaches it, and what fails after (a token service's
     * answer, say) is the failure to report, not the TLS that was tried first.
     */
    private volatile boolean answeredInHttp;
    // Volatile: a restore key reads manifests from several threads, and any of them may renew it.
    private volatile String authorization;

    private RegistryClient(OciReference reference, boolean push, boolean insecure, Duration stallTimeout, Environment environment,
            Headway headway, Log log) {
        this.reference = reference;
        this.push = push;
        this.insecure = insecure;
        this.credentials = DockerConfig.load(environment, stallTimeout);
        this.log = log;
        this.trust = Trust.of(environment, insecure);
        this.http = new RegistryHttp(new ApacheEgress(Proxies.from(environment), trust), stallTimeout, headway);
    }

    /** A client of the repository an oci:// location names, connected; push asks for a token that may push too. */
    public static RegistryClient open(URI location, boolean push, boolean insecure, Duration stallTimeout,
            Environment environment, Log log) throws IOException {
        var headway = new Headway(stallTimeout);
        var client = open(OciReference.parse(location), push, insecure, stallTimeout, environment, headway, log);
        client.ownHeadway = headway;
        return client;
    }

    /** The headway of a client opened on its own, not a store's: stopped with it. */
    private Headway ownHeadway;

    /**
     * A client of the reference's repository, connected: the registry reached and authenticated with.
     * Its every wait on the registry counts on headway, which gives up for the store as a whole.
     */
    static RegistryClient open(OciReference reference, boolean push, boolean insecure, Duration stallTimeout,
            Environment environment, Headway headway, Log log) throws IOException {
        var client = new RegistryClient(reference, push, insecure, stallTimeout, environment, headway, log);
        try {
            client.connect();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /** The log its retries and choices are reported to. */
    Log log() {
        return log;
    }

    /** Shuts its connections. */
    @Override
    public void close() throws IOException {
        http.close();
        if (ownHeadway != null) {
            ownHeadway.stop();
        }
    }

    /** scheme://host[:port]/v2/REPOSITORY/ + path. */
    private URI repositoryUri(String path) {
        return URI.create(base() + "/v2/" + reference.repository() + "/" + path);
    }

    /** The registry's URL, found on first use: HTTPS, then plain HTTP if TLS is refused and that is allowed. */
    private String base() {
        if (base == null) {
            throw new IllegalStateException("connect() first");
        }
        return base;
    }

    /** Reaches the registry's /v2/ endpoint and authenticates as it asks, before any real request. */
    private void connect() throws IOException {
        try {
            base = "https://" + reference.registry();
            ping();
            return;
        } catch (SSLException e) {
            if (!insecure && !reference.plainHttpAllowedByAddress()) {
                throw tlsFailed(e);
            }
            base = "http://" + reference.registry();
            answeredInHttp = false;
            try {
                ping();
            } catch (IOException plain) {
                // A TLS server's 400 to plain HTTP says TLS was the way; anything else failed in plain HTTP for its own cause.
                throw answeredInHttp || !(plain instanceof RegistryRefused refused && refused.status == 400) ? plain : tlsFailed(e);
            }
            log.debug("TLS with " + reference.registry() + " failed (" + Reason.of(e) + "); using plain HTTP");
        }
    }

    /** A TLS failure with the registry, with what to do: for a certificate refused, which CAs were trusted. */
    private IOException tlsFailed(SSLException e) {
        String trusted = certificateRefused(e) ? "; " + trust.says() : "";
        return new IOException("TLS with " + reference.registry() + " failed: " + Reason.of(e) + trusted + " (give its CA in"
                + " SSL_CERT_FILE or SSL_CERT_DIR, or --insecure true for plain HTTP or an unverified certificate)", e);
    }

    /** Whether no CA trusted vouched for the certificate (PKIX), rather than another failure of TLS. */
    private static boolean certificateRefused(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.security.cert.CertPathBuilderException
                    || cause instanceof java.security.cert.CertPathValidatorException) {
                return true;
            }
        }
        return false;
    }

    /** GET /v2/: whether the registry answers, and how it wants to be authenticated. */
    private void ping() throws IOException {
        try (var response = send("GET", URI.create(base + "/v2/"), Map.of(), null, Backoff.ATTEMPTS)) {
            if (response.status() >= 300 && response.status() != 404) {
                throw refused(response, "reaching the registry");
            }
        }
    }

    /**
     * GET /v2/<name>/manifests/<reference>: the manifest JSON, or empty when the tag or the
     * repository does not exist. Accepts every manifest type, so that an index is seen as one.
     */
    public Optional<Map<String, Object>> getManifest(String reference) throws IOException {
        return fetchManifest(reference, BODY_MAX).map(Manifest::json);
    }

    /**
     * A manifest as the registry sent it: its bytes, their digest (the sha256 of exactly these
     * bytes, computed here: a Docker-Content-Digest header is the registry's word, not a proof) and
     * the JSON they hold. What a signature is checked against, and what a restore then reads.
     */
    record Manifest(byte[] bytes, String digest, Map<String, Object> json) {}

    /**
     * GET /v2/<name>/manifests/<reference>: the manifest as sent, or empty when the tag or the
     * repository does not exist; one of more than max bytes is refused with TooLarge, one that is
     * no JSON object with Json.NotJson.
     */
    Optional<Manifest> fetchManifest(String reference, int max) throws IOException {
        var response = send("GET", repositoryUri("manifests/" + reference), Map.of("Accept", ACCEPT), null);
        if (response.status() == 404) {
            response.body().close();
            return Optional.empty();
        }
        if (response.status() != 200) {
            throw refused(response, "GET manifest " + reference);
        }
        String what = "the manifest of " + this.reference.named(reference);
        byte[] bytes;
        try (InputStream in = response.body()) {
            bytes = capped(in, max, what);
        }
        return Optional.of(new Manifest(bytes, sha256Digest(bytes), Json.object(bytes, what)));
    }

    /** "sha256:<hex>" of the bytes, as a manifest or a blob is named. */
    static String sha256Digest(byte[] bytes) {
        return "sha256:" + Digests.hex(Digests.sha256().digest(bytes));
    }

    /** HEAD /v2/<name>/manifests/<tag>: the digest of the manifest the tag names; empty when there is none. */
    Optional<String> manifestDigest(String tag) throws IOException {
        try (var response = send("HEAD", repositoryUri("manifests/" + tag), Map.of("Accept", ACCEPT), null)) {
            if (response.status() == 404) {
                return Optional.empty();
            }
            if (response.status() != 200) {
                throw refused(response, "HEAD manifest " + tag);
            }
            return Optional.of(response.header("Docker-Content-Digest")
                    .orElseThrow(() -> new IOException("registry " + reference.registry() + " answered HEAD manifest " + tag
                            + " without a Docker-Content-Digest")));
        }
    }

    /**
     * DELETE /v2/<name>/manifests/<digest>: the manifest and every tag on it (the registry frees its
     * blobs when it collects garbage). A registry that does not allow it (405, distribution's
     * storage.delete off) throws DeletionRefused; one that has it no longer is content.
     */
    void deleteManifest(String digest) throws IOException {
        try (var response = send("DELETE", repositoryUri("manifests/" + digest), Map.of(), null)) {
            if (response.status() == 405) {
                throw new Store.DeletionRefused("registry " + reference.registry() + " does not allow deleting images ("
                        + errorMessage(response) + "; a distribution registry allows it with storage.delete.enabled)");
            }
            if (response.status() != 202 && response.status() != 200 && response.status() != 404) {
                throw refused(response, "DELETE manifest " + digest);
            }
        }
    }

    /**
     * PUT /v2/<name>/manifests/<reference>: tags the manifest, whose blobs the registry must have.
     * Returns its digest, the sha256 of the bytes sent (which a registry keeps as they are).
     */
    String putManifest(String reference, String mediaType, byte[] manifest) throws IOException {
        try (var response = send("PUT", repositoryUri("manifests/" + reference),
                Map.of("Content-Type", mediaType), RegistryHttp.Body.of(manifest))) {
            if (response.status() != 201 && response.status() != 200) {
                throw refused(response, "PUT manifest " + reference);
            }
        }
        return sha256Digest(manifest);
    }

    /** HEAD /v2/<name>/blobs/<digest>: whether the repository has the blob. */
    public boolean headBlob(String digest) throws IOException {
        return blobSize(digest).isPresent();
    }

    /**
     * HEAD /v2/<name>/blobs/<digest>: the blob's size, as the registry's Content-Length says (-1
     * when it says none), or empty when the repository does not have it.
     */
    OptionalLong blobSize(String digest) throws IOException {
        try (var response = send("HEAD", repositoryUri("blobs/" + digest), Map.of(), null)) {
            if (response.status() != 200) {
                return OptionalLong.empty();
            }
            String length = response.header("Content-Length").orElse("");
            return OptionalLong.of(length.matches("[0-9]{1,18}") ? Long.parseLong(length) : -1);
        }
    }

    /**
     * GET /v2/<name>/blobs/<digest> with Range: bytes=<position>-: the blob's bytes from a position
     * on, the range skipped here when the registry ignores it. The caller closes the stream.
     */
    InputStream getBlob(String digest, long position) throws IOException {
        Map<String, String> headers = position == 0 ? Map.of() : Map.of("Range", "bytes=" + position + "-");
        var response = send("GET", repositoryUri("blobs/" + digest), headers, null);
        int status = response.status();
        if (status == 404) {
            response.body().close();
            throw new BlobMissing("the registry has no blob " + digest + " although the manifest lists it");
        }
        if (status == 206) {
            String range = response.header("Content-Range").orElse("");
            if (!range.startsWith("bytes " + position + "-")) {
                response.body().close();
                throw new IOException("the registry resumed the download at '" + range + "', not at byte " + position);
            }
            return response.streamedBody();
        }
        if (status != 200) {
            throw refused(response, "GET blob");
        }
        return ResumingDownload.skipped(response.streamedBody(), position);
    }

    /** A blob a manifest lists is not in the registry: deleted with its manifest and collected, or lost. */
    static final class BlobMissing extends IOException {
        BlobMissing(String message) {
            super(message);
        }
    }

    /** POST /v2/<name>/blobs/uploads/: opens an upload session; its URL (Location) is where the blob's bytes go. */
    URI startUpload() throws IOException {
        URI uploads = repositoryUri("blobs/uploads/");
        try (var response = send("POST", uploads, Map.of(), null)) {
            if (response.status() != 202) {
                throw refused(response, "POST blobs/uploads/");
            }
            return uploadLocation(uploads, response);
        }
    }

    /** What a cross-repository mount did: mounted the blob, or else started an ordinary upload at upload. */
    public record Mount(Optional<URI> upload) {
        public boolean mounted() {
            return upload.isEmpty();
        }
    }

    /**
     * POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>: makes a blob of another
     * repository of the registry this one's too, without sending its bytes (201). A registry that
     * cannot (no such blob there, no right to pull it, no mount support) starts an ordinary upload
     * instead (202), which the caller must use or cancel.
     */
    public Mount mountBlob(String digest, String fromRepository) throws IOException {
        URI uploads = repositoryUri("blobs/uploads/?mount=" + URLEncoder.encode(digest, StandardCharsets.UTF_8)
                + "&from=" + URLEncoder.encode(fromRepository, StandardCharsets.UTF_8));
        try (var response = send("POST", uploads, Map.of(), null)) {
            return switch (response.status()) {
                case 201 -> new Mount(Optional.empty());
                case 202 -> new Mount(Optional.of(uploadLocation(uploads, response)));
                default -> throw refused(response, "POST blobs/uploads/ mounting " + digest + " from " + fromRepository);
            };
        }
    }

    private static URI uploadLocation(URI uploads, Answer response) throws IOException {
        return uploads.resolve(response.header("Location")
                .orElseThrow(() -> new IOException("the registry opened an upload without a Location")));
    }

    /**
     * PATCH <location> with Content-Range: <start>-<end>: one chunk of an upload, sent once (the
     * registry may have taken part of it, so only the caller, who can ask how much, may resend it).
     * Returns the location the upload goes on at.
     *
     * @throws ChunkRefused when the registry answers with another status than 202
     */
    URI patchUpload(URI location, long start, byte[] chunk, int offset, int length) throws IOException {
        var headers = Map.of("Content-Type", "application/octet-stream",
                "Content-Range", start + "-" + (start + length - 1));
        try (var response = send("PATCH", location, headers, new RegistryHttp.Body(chunk, offset, length), 1)) {
            if (response.status() != 202) {
                throw new ChunkRefused(refused(response, "PATCH blob upload"));
            }
            return nextLocation(location, response);
        }
    }

    /** Where an upload stands: its location for the next request, and the Range end the registry reported. */
    record UploadStatus(URI location, long rangeEnd) {}

    /**
     * GET <location>: how much of the upload the registry has, as Range: 0-<rangeEnd> (distribution
     * also says 0-0 when it has nothing).
     */
    UploadStatus uploadStatus(URI location) throws IOException {
        try (var response = send("GET", location, Map.of(), null)) {
            if (response.status() != 204 && response.status() != 202) {
                throw refused(response, "GET blob upload status");
            }
            String range = response.header("Range").orElse("0-0");
            return new UploadStatus(nextLocation(location, response), Long.parseLong(range.substring(range.indexOf('-') + 1)));
        }
    }

    private static URI nextLocation(URI location, Answer response) {
        return response.header("Location").map(location::resolve).orElse(location);
    }

    /** PUT <location>?digest=<digest>: completes an upload whose bytes were all sent; the registry checks their digest. */
    void commitUpload(URI location, String digest) throws IOException {
        commitUpload(location, digest, Map.of(), null);
    }

    /** PUT <location>?digest=<digest> with the whole blob as its body: an upload in one request. */
    void commitUpload(URI location, String digest, byte[] content) throws IOException {
        commitUpload(location, digest, Map.of("Content-Type", "application/octet-stream"),
                RegistryHttp.Body.of(content));
    }

    private void commitUpload(URI location, String digest, Map<String, String> headers,
            RegistryHttp.Body body) throws IOException {
        URI put = URI.create(location + (location.getRawQuery() == null ? "?" : "&") + "digest=" + digest);
        try (var response = send("PUT", put, headers, body)) {
            if (response.status() != 201) {
                throw refused(response, "PUT blob " + digest);
            }
        }
    }

    /** DELETE <location>: abandons an upload, so the registry drops what it had of it. Sent once. */
    public void cancelUpload(URI location) throws IOException {
        try (var response = send("DELETE", location, Map.of(), null, 1)) {
            // 204 or 404: either way nothing of this upload remains to be used.
        }
    }

    /** A repository's tags that start with a prefix, and whether it holds any tag at all (of any name). */
    record Tags(List<String> matching, boolean any) {}

    /**
     * GET /v2/<name>/tags/list?n=1000, then each page the Link header names: the repository's tags
     * that start with prefix; none when the repository does not exist.
     */
    Tags listTags(String prefix) throws IOException {
        var tags = new ArrayList<String>();
        boolean any = false;
        long kept = 0;
        URI page = repositoryUri("tags/list?n=1000");
        for (int pages = 1; page != null; pages++) {
            if (pages > TAG_PAGES_MAX) {
                throw new IOException("the tag list of " + reference.named(null) + " runs past " + TAG_PAGES_MAX + " pages; refused");
            }
            Answer response = send("GET", page, Map.of(), null);
            if (response.status() == 404) {
                response.body().close();
                break;
            }
            if (response.status() != 200) {
                throw refused(response, "GET tags/list");
            }
            if (json(response, "the tag list of " + reference.named(null)).get("tags") instanceof List<?> names) {
                any |= !names.isEmpty();
                for (Object tag : names) {
                    if (tag instanceof String name && name.startsWith(prefix)) {
                        tags.add(name);
                        kept += name.length();
                    }
                }
            }
            if (kept > TAG_NAMES_MAX) {
                throw new IOException("the tags of " + reference.named(null) + " starting with '" + prefix + "' take more than "
                        + (TAG_NAMES_MAX >> 20) + " MiB; refused");
            }
            page = nextPage(page, response.header("Link"));
        }
        return new Tags(tags, any);
    }

    /**
     * GET /v2/<name>/tags/list?n=1: whether the repository holds a tag at all; false when the
     * registry knows no such repository (404 NAME_UNKNOWN) or lists none.
     */
    boolean anyTag() throws IOException {
        Answer response = send("GET", repositoryUri("tags/list?n=1"), Map.of(), null);
        if (response.status() == 404) {
            response.body().close();
            return false;
        }
        if (response.status() != 200) {
            throw refused(response, "GET tags/list");
        }
        return json(response, "the tag list of " + reference.named(null)).get("tags") instanceof List<?> names && !names.isEmpty();
    }

    /** RFC 5988 Link: <url>; rel="next", as registries paginate tags. */
    private static URI nextPage(URI current, Optional<String> link) {
        if (link.isEmpty() || !link.get().contains("rel=\"next\"")) {
            return null;
        }
        String value = link.get();
        return current.resolve(value.substring(value.indexOf('<') + 1, value.indexOf('>')));
    }

    /**
     * Sends a request with retries: connection failures, 408, 429 and 5xx are retried with backoff;
     * a 401 once more after authenticating again (an expired token). The caller reads and closes the body.
     */
    private Answer send(String method, URI uri, Map<String, String> headers,
            RegistryHttp.Body body) throws IOException {
        return send(method, uri, headers, body, Backoff.ATTEMPTS);
    }

    /** As send, in at most `attempts` attempts: 1 for a request that must not be repeated blindly (a chunk the registry may have half taken). */
    private Answer send(String method, URI uri, Map<String, String> headers,
            RegistryHttp.Body body, int attempts) throws IOException {
        IOException last = null;
        boolean reauthenticate = true;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            http.headway().check();
            if (attempt > 1) {
                backoff(attempt, method + " " + uri.getPath(), last);
            }
            Answer response;
            try {
                response = sendFollowingRedirects(method, uri, headers, body);
            } catch (SSLException | ConnectException | UnknownHostException | PlainHttpRefused | Headway.GaveUp e) {
                throw e; // retrying does not change a certificate, open a closed port, route a lost host or a redirect
            } catch (RegistryHttp.ProxyRefused e) {
                if (!isTransient(e.status) || attempts == 1) {
                    throw e; // nor the proxy's mind on its user, or on where we may go
                }
                last = e;
                continue;
            } catch (IOException e) {
                last = e;
                continue;
            }
            int status = response.status();
            if (status == 401 && reauthenticate) {
                reauthenticate = false;
                authenticate(response);
                attempt--;
                continue;
            }
            if (isTransient(status) && attempts > 1) {
                last = refused(response, method + " " + uri.getPath());
                continue;
            }
            return response;
        }
        throw last;
    }

    private Answer sendFollowingRedirects(String method, URI uri, Map<String, String> headers,
            RegistryHttp.Body body) throws IOException {
        URI target = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            requireTls(target, hop == 0 ? "points " + method + " at" : "redirects " + method + " " + uri.getPath() + " to");
            var request = new LinkedHashMap<>(headers);
            if (authorization != null && isRegistry(target)) {
                request.put("Authorization", authorization);
            }
            Answer response = http.send(method, target, request, body);
            int status = response.status();
            if (status != 400 && isRegistry(target)) {
                answeredInHttp = true;
            }
            Optional<String> location = response.header("Location");
            boolean redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
            if (!redirect || location.isEmpty() || !(method.equals("GET") || method.equals("HEAD"))) {
                return response;
            }
            response.body().close();
            target = target.resolve(location.get());
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + uri);
    }

    /**
     * Whether target is the registry itself (scheme, host and port), the one place its credentials
     * go. An upload's Location, a tag list's Link and a redirect may name another host (a storage
     * service, a CDN), which takes a signed URL, not our password or token: go-containerregistry's
     * transport, too, authorizes only requests to the registry's own host.
     */
    private boolean isRegistry(URI target) {
        URI registry = URI.create(base());
        return registry.getScheme().equalsIgnoreCase(target.getScheme()) && registry.getHost().equalsIgnoreCase(target.getHost())
                && port(registry) == port(target);
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    /**
     * Refuses plain HTTP once the registry is reached over HTTPS, as go-containerregistry refuses
     * an http:// realm for an https registry: a token service, a redirect's target or an upload's
     * Location there would see the password, the token or a signed URL in clear. --insecure,
     * which allows plain HTTP anyway, allows it.
     */
    private void requireTls(URI target, String what) throws PlainHttpRefused {
        if (!insecure && base().startsWith("https:") && "http".equalsIgnoreCase(target.getScheme())) {
            throw new PlainHttpRefused("registry " + reference.registry() + " is reached over HTTPS but " + what + " "
                    + target + ", which is plain HTTP; refused (--insecure true allows it)");
        }
    }

    static boolean isTransient(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    /** Waits before attempt number `attempt` (2 and up), saying what failed. */
    void backoff(int attempt, String what, IOException last) throws IOException {
        http.headway().check();
        Backoff.pause(attempt, last instanceof RegistryRefused || last instanceof RegistryHttp.ProxyRefused ? last.getMessage()
                : what + " at " + reference.registry() + " failed: " + Reason.of(last), log);
        http.headway().check();
    }

    /** Answers the registry's WWW-Authenticate challenge; afterwards requests carry the Authorization it asked for. */
    private void authenticate(Answer challenged) throws IOException {
        String header = challenged.header("WWW-Authenticate").orElse("");
        String reason = errorMessage(challenged);
        String scheme = header.split("\\s", 2)[0].toLowerCase();
        var credential = credentials.credentialFor(reference.registry());
        if (authorization != null && !scheme.equals("bearer")) {
            throw new AuthenticationFailed("authentication failed for registry " + reference.registry() + ": " + reason
                    + " (credentials from " + credentials.searched() + ")");
        }
        switch (scheme) {
            case "basic" -> {
                var basic = credential.filter(c -> c.username() != null)
                        .orElseThrow(() -> new AuthenticationFailed("registry " + reference.registry()
                                + " requires a user name and password and none was found in " + credentials.searched()));
                authorization = basicAuthorization(basic);
            }
            case "bearer" -> authorization = "Bearer " + token(parameters(header), credential);
            default -> throw new AuthenticationFailed("registry " + reference.registry() + " asks for the unsupported"
                    + " authentication '" + header + "': " + reason);
        }
    }

    private static String basicAuthorization(DockerConfig.Credential credential) {
        String pair = credential.username() + ":" + credential.password();
        return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }

    private static Map<String, String> parameters(String header) {
        var parameters = new LinkedHashMap<String, String>();
        Matcher m = CHALLENGE_PARAM.matcher(header.substring(Math.min(header.length(), header.indexOf(' ') + 1)));
        while (m.find()) {
            parameters.put(m.group(1).toLowerCase(), m.group(2) != null ? m.group(2).replaceAll("\\\\(.)", "$1") : m.group(3));
        }
        return parameters;
    }

    /**
     * GET <realm>?service=<service>&scope=repository:<name>:pull[,push] (the docker token flow, with
     * Basic credentials or none), or POST <realm> with a refresh token (OAuth2, for an identity token):
     * a token for this repository from the registry's token service.
     */
    private String token(Map<String, String> challenge, Optional<DockerConfig.Credential> credential) throws IOException {
        if (credential.isPresent() && credential.get().registryToken() != null) {
            return credential.get().registryToken();
        }
        String realm = challenge.get("realm");
        if (realm == null || realm.isBlank()) {
            throw new AuthenticationFailed("registry " + reference.registry() + " asks for a bearer token but names no token service");
        }
        requireTls(URI.create(realm), "names the token service");
        String scope = "repository:" + reference.repository() + ":" + (push ? "pull,push" : "pull");
        String service = challenge.getOrDefault("service", "");
        var form = new LinkedHashMap<String, String>();
        var request = new LinkedHashMap<String, String>();
        URI tokenUri;
        RegistryHttp.Body body = null;
        if (credential.isPresent() && credential.get().identityToken() != null) {
            form.put("grant_type", "refresh_token");
            form.put("refresh_token", credential.get().identityToken());
            form.put("service", service);
            form.put("scope", scope);
            form.put("client_id", "tekton-caches");
            tokenUri = URI.create(realm);
            request.put("Content-Type", "application/x-www-form-urlencoded");
            body = RegistryHttp.Body.of(query(form).getBytes(StandardCharsets.UTF_8));
        } else {
            if (!service.isEmpty()) {
                form.put("service", service);
            }
            form.put("scope", scope);
            tokenUri = URI.create(realm + (realm.contains("?") ? "&" : "?") + query(form));
            credential.filter(c -> c.username() != null).ifPresent(c -> request.put("Authorization", basicAuthorization(c)));
        }
        Answer response = http.send(body == null ? "GET" : "POST", tokenUri, request, body);
        if (response.status() == 401 || response.status() == 403) {
            throw new AuthenticationFailed("authentication failed for registry " + reference.registry() + ": its token service "
                    + realm + " refused " + (credential.isPresent() ? "the credentials from " + credentials.searched()
                            : "anonymous access (no credentials for it in " + credentials.searched() + ")")
                    + ": " + errorMessage(response));
        }
        if (response.status() != 200) {
            throw refused(response, "getting a token from " + realm);
        }
        Map<String, Object> answer = json(response, "the answer of the token service " + realm);
        Object token = answer.get("token") != null ? answer.get("token") : answer.get("access_token");
        if (!(token instanceof String text) || text.isEmpty()) {
            throw new IOException("the token service " + realm + " answered without a token");
        }
        return text;
    }

    private static String query(Map<String, String> form) {
        var joined = new StringBuilder();
        form.forEach((k, v) -> joined.append(joined.length() == 0 ? "" : "&").append(k).append('=')
                .append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        return joined.toString();
    }

    /** A JSON object answered, read into memory up to BODY_MAX; what names the answer in the refusal of a larger one or of no JSON. */
    private static Map<String, Object> json(Answer response, String what) throws IOException {
        try (InputStream in = response.body()) {
            return Json.object(capped(in, BODY_MAX, what), what);
        }
    }

    /** An answer larger than what is read of it into memory. */
    static final class TooLarge extends IOException {
        TooLarge(String message) {
            super(message);
        }
    }

    /** At most max bytes of a body; more is refused in one line naming what was too big, after max + 1 bytes read. */
    static byte[] capped(InputStream in, int max, String what) throws IOException {
        byte[] bytes = in.readNBytes(max + 1);
        if (bytes.length > max) {
            throw new TooLarge(what + " is larger than " + (max >= 1 << 20 ? (max >> 20) + " MiB" : (max >> 10) + " KiB")
                    + "; refused");
        }
        return bytes;
    }

    /** The error a response carries, as one line: the distribution spec's errors[].message, or the status. */
    static String errorMessage(Answer response) {
        String text;
        try (InputStream in = response.body()) {
            // Cut, not refused: the status must be reported whatever the body, and its start says why.
            text = new String(in.readNBytes(ERROR_BODY_MAX), StandardCharsets.UTF_8);
        } catch (IOException e) {
            text = "";
        }
        String detail = "";
        try {
            if (JSON.std.mapFrom(text).get("errors") instanceof List<?> errors && !errors.isEmpty()
                    && errors.get(0) instanceof Map<?, ?> first) {
                detail = first.get("code") + " " + first.get("message");
            }
        } catch (IOException | RuntimeException e) {
            detail = text.lines().findFirst().orElse("").strip();
        }
        String status = "HTTP " + response.status();
        return detail.isBlank() ? status : status + " " + (detail.length() > 200 ? detail.substring(0, 200) + "…" : detail);
    }

    /** An unexpected answer as an exception whose message names the registry, what was tried and why it failed. */
    RegistryRefused refused(Answer response, String what) {
        int status = response.status();
        String message = errorMessage(response);
        if (status == 401) {
            return new RegistryRefused(status, "authentication failed for registry " + reference.registry() + ": " + message
                    + " (credentials from " + credentials.searched() + ")");
        }
        if (status == 403) {
            return new RegistryRefused(status, "registry " + reference.registry() + " denied " + (push ? "push to " : "pull from ")
                    + reference.repository() + ": " + message);
        }
        return new RegistryRefused(status, "registry " + reference.registry() + " answered " + what + " with " + message
                + response.proxy().map(proxy -> " (through the proxy " + proxy + ")").orElse(""));
    }
}

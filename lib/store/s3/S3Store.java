//DEPS software.amazon.awssdk:s3:2.31.50
//DEPS software.amazon.awssdk:apache-client:2.31.50
//DEPS org.slf4j:slf4j-nop:1.7.36
// Apache HttpClient's logging API, named here: google-cloud-storage's tree excludes it, and that would win.
//DEPS commons-logging:commons-logging:1.2

package lib.store.s3;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import lib.archive.Compression;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.net.ApacheEgress;
import lib.net.ProxiedRoutes;
import lib.net.Proxies;
import lib.net.Trust;
import lib.store.BlobUri;
import lib.store.Headway;
import lib.store.RangedDownload;
import lib.store.ResumingDownload;
import lib.store.StallWatchdog;
import lib.store.Store;
import lib.store.Stores;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.apache.ProxyConfiguration;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Archives as objects in an S3 bucket (AWS, or any S3-compatible store through endpoint=), at the
 * key the URI's path names, as the Go tool's gocloud s3blob writes them. The archive's sha256 is
 * the object's user metadata "sha256"; objects the Go tool wrote have none and restore all the same.
 * An upload never replaces an object at its key; {@link S3MultipartUpload} says how far each
 * server guarantees that.
 */
public final class S3Store implements Store {

    /** A bucket's old objects go by its lifecycle rules. */
    public static final Expiry EXPIRY = BlobUri.LIFECYCLE_RULES;
    /** gocloud's s3blob parameters, its legacy (SDK v1) spellings included. */
    static final Set<String> PARAMETERS = Set.of("region", "endpoint", "profile", "use_path_style", "s3ForcePathStyle",
            "disable_https", "disableSSL", "fips", "dualstack", "accelerate", "awssdk", "anonymous");

    private final S3Client s3;
    /** Given to the client built, which therefore leaves closing it to us. */
    private final SdkHttpClient http;
    private final Headway headway;
    private final ProxiedRoutes routes;
    private final Trust trust;
    private final String bucket;
    private final String endpoint;
    private final Log log;

    private S3Store(S3Client s3, SdkHttpClient http, Headway headway, ProxiedRoutes routes, Trust trust, String bucket,
            String endpoint, Log log) {
        this.s3 = s3;
        this.http = http;
        this.headway = headway;
        this.routes = routes;
        this.trust = trust;
        this.bucket = bucket;
        this.endpoint = endpoint;
        this.log = log;
    }

    /** s3://bucket/KEY: the store is the bucket, the object the key. */
    public static Stores.Target target(URI location, Duration stallTimeout, Environment environment, Log log) {
        var uri = BlobUri.parse(location, environment, PARAMETERS);
        boolean plainHttp = uri.flag("disable_https") || uri.flag("disableSSL");
        Region region = region(uri, environment, log);
        var egress = new ApacheEgress(Proxies.from(environment), Trust.of(environment, false));
        var routes = new ProxiedRoutes(egress.routes());
        var headway = new Headway(stallTimeout);
        var http = new WatchedSdkHttpClient(ApacheHttpClient.builder()
                .maxConnections(S3MultipartUpload.PARALLEL_PARTS + 4)
                .connectionTimeout(Duration.ofSeconds(10))
                // A read that waits this long for a byte fails, and the download resumes by range.
                .socketTimeout(stallTimeout)
                // The proxy Go's rules give for each endpoint, and our trust; the SDK's own reading of
                // the proxy variables (HTTP_PROXY even for https, NO_PROXY's suffixes ignored) and of the
                // JVM's properties is switched off, so that it cannot override the route.
                .proxyConfiguration(ProxyConfiguration.builder().useSystemPropertyValues(false)
                        .useEnvironmentVariableValues(false).build())
                .httpRoutePlanner(routes)
                .credentialsProvider(egress.proxyCredentials())
                .socketFactory(egress.tls())
                .build(), new StallWatchdog(stallTimeout), headway);
        var builder = S3Client.builder()
                .httpClient(http)
                // Our own sha256 guards the archive; the SDK's default CRC trailers trip S3-compatible stores.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .forcePathStyle(uri.flag("use_path_style") || uri.flag("s3ForcePathStyle"))
                .fipsEnabled(uri.flag("fips"))
                .dualstackEnabled(uri.flag("dualstack"))
                .accelerate(uri.flag("accelerate"))
                .region(region);
        String endpoint = uri.get("endpoint");
        if (endpoint != null && !endpoint.isBlank()) {
            if (!endpoint.contains("://")) {
                endpoint = (plainHttp ? "http://" : "https://") + endpoint;
            }
            builder.endpointOverride(URI.create(endpoint));
        }
        builder.credentialsProvider(credentials(uri, environment));
        String where = endpoint != null ? endpoint : "the S3 endpoint of " + region.id();
        return new Stores.Target(new S3Store(builder.build(), http, headway, routes, egress.trust(), uri.bucket(), where, log),
                uri.key());
    }

    /**
     * The SDK's own chain, but reading our Environment (the StepAction's variables) for what it
     * would read from the process: keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN),
     * else the profile (profile=, AWS_PROFILE) of AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE,
     * else the rest of the default chain (web identity, container, instance roles).
     */
    private static AwsCredentialsProvider credentials(BlobUri uri, Environment environment) {
        if (uri.flag("anonymous")) {
            return AnonymousCredentialsProvider.create();
        }
        String key = environment.get("AWS_ACCESS_KEY_ID");
        String secret = environment.get("AWS_SECRET_ACCESS_KEY");
        String token = environment.get("AWS_SESSION_TOKEN");
        if (uri.get("profile") == null && key != null && !key.isBlank() && secret != null) {
            return StaticCredentialsProvider.create(token == null || token.isBlank()
                    ? AwsBasicCredentials.create(key, secret) : AwsSessionCredentials.create(key, secret, token));
        }
        var profiles = profiles(environment);
        if (profiles.isPresent()) {
            return ProfileCredentialsProvider.builder().profileFile(profiles.get()).profileName(profileName(uri, environment)).build();
        }
        return DefaultCredentialsProvider.builder().build();
    }

    /** The files of AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, when either is set and exists. */
    private static Optional<ProfileFile> profiles(Environment environment) {
        var aggregator = ProfileFile.aggregator();
        boolean any = false;
        for (var file : List.of(Map.entry("AWS_SHARED_CREDENTIALS_FILE", ProfileFile.Type.CREDENTIALS),
                Map.entry("AWS_CONFIG_FILE", ProfileFile.Type.CONFIGURATION))) {
            String path = environment.get(file.getKey());
            if (path != null && !path.isBlank() && Files.isRegularFile(Path.of(path))) {
                aggregator.addFile(ProfileFile.builder().content(Path.of(path)).type(file.getValue()).build());
                any = true;
            }
        }
        return any ? Optional.of(aggregator.build()) : Optional.empty();
    }

    private static String profileName(BlobUri uri, Environment environment) {
        String name = uri.get("profile") != null ? uri.get("profile") : environment.get("AWS_PROFILE");
        return name == null || name.isBlank() ? "default" : name;
    }

    /** region=, else AWS_REGION or AWS_DEFAULT_REGION, else the profile's, else the SDK's chain, else us-east-1 (S3-compatible stores ignore it). */
    private static Region region(BlobUri uri, Environment environment, Log log) {
        for (String region : new String[] {uri.get("region"), environment.get("AWS_REGION"), environment.get("AWS_DEFAULT_REGION")}) {
            if (region != null && !region.isBlank()) {
                return Region.of(region);
            }
        }
        var fromProfile = profiles(environment).flatMap(p -> p.profile(profileName(uri, environment))).flatMap(p -> p.property("region"));
        if (fromProfile.isPresent()) {
            return Region.of(fromProfile.get());
        }
        try {
            return DefaultAwsRegionProviderChain.builder().build().getRegion();
        } catch (SdkClientException e) {
            log.debug("no AWS region configured; using us-east-1");
            return Region.US_EAST_1;
        }
    }

    @Override
    public Optional<StoredObject> find(String key) throws IOException {
        HeadObjectResponse head;
        try {
            head = s3.headObject(b -> b.bucket(bucket).key(key));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) { // NoSuchKey, or the bucket: a HEAD's 404 has no body to say which
                requireBucket();
                return Optional.empty();
            }
            throw failure(e, "HEAD " + key);
        } catch (SdkException e) {
            throw failure(e, "HEAD " + key);
        }
        return Optional.of(new StoredObject(key, head.contentLength(),
                Optional.ofNullable(head.metadata().get(BlobUri.SHA256_METADATA)), head.lastModified(), head.eTag()));
    }

    private void requireBucket() throws IOException {
        try {
            s3.headBucket(b -> b.bucket(bucket));
        } catch (SdkException e) {
            // A HEAD's 404 has no body to name NoSuchBucket: here it can only mean that.
            throw e instanceof S3Exception s3e && s3e.statusCode() == 404 ? missingBucket(e) : failure(e, "HEAD bucket");
        }
    }

    private IOException missingBucket(Exception cause) {
        return new IOException("s3 bucket '" + bucket + "' does not exist at " + endpoint, cause);
    }

    /** Every GET, the first and those resuming it, carries If-Match with the ETag found: a replaced object fails with 412. */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        return open(object, 0);
    }

    /** A big object by several ranged GETs at once (RangedDownload), a small one by one. */
    @Override
    public InputStream open(StoredObject object, long offset) throws IOException {
        return RangedDownload.of((position, length) -> openAt(object.path(), object.version(), position,
                position + length >= object.size() ? -1 : length), offset, object.size(), "s3://" + bucket + "/" + object.path(), log);
    }

    /**
     * The object's bytes from a position on, length of them (-1: to its end), by a ranged GET, if it
     * is still at that ETag (any, when null).
     */
    private InputStream openAt(String key, String etag, long position, long length) throws IOException {
        try {
            var response = s3.getObject(b -> b.bucket(bucket).key(key).ifMatch(etag)
                    .range(position == 0 && length < 0 ? null : "bytes=" + position + "-" + (length < 0 ? "" : position + length - 1)));
            String range = response.response().contentRange();
            if (position > 0 && (range == null || !range.startsWith("bytes " + position + "-"))) {
                return ResumingDownload.skipped(response, position);
            }
            return response;
        } catch (SdkException e) {
            if (e instanceof S3Exception answer && answer.statusCode() == 404) {
                throw new EntryGone(key, e);
            }
            throw failure(e, "GET " + key);
        }
    }

    @Override
    public PendingWrite create(String key) throws IOException {
        return new S3MultipartUpload(this, key, null);
    }

    /** An entry of groups whose base's groups are copied on the server (S3EntryWrite); uncompressed, one stream. */
    @Override
    public EntryWrite createEntry(String key, Compression compression) throws IOException {
        if (compression == Compression.NONE) {
            return Store.super.createEntry(key, compression);
        }
        return new S3EntryWrite(this, key, new S3MultipartUpload(this, key, compression.contentType()), compression);
    }

    /** length bytes of the object from offset, by one bounded ranged GET, if it is still at the ETag found. */
    InputStream openRange(StoredObject object, long offset, long length) throws IOException {
        return openAt(object.path(), object.version(), offset, length);
    }

    S3Client client() {
        return s3;
    }

    String bucket() {
        return bucket;
    }

    /**
     * DELETE /bucket/key, If-Match the ETag found: S3 answers 204 whether it was there or not, and
     * 412 for an object replaced since, which stays. A server that does not take the condition (501:
     * s3proxy, older MinIO) is asked for the ETag first, then to delete: an object stored at the key
     * between the two would go, which needs another run to delete and store this key in that moment.
     */
    @Override
    public void delete(StoredObject object) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(object.path()).ifMatch(object.version()));
        } catch (S3Exception e) {
            if (e.statusCode() == 412) {
                return;
            }
            if (e.statusCode() != 501) {
                throw failure(e, "DELETE " + object.path());
            }
            Optional<StoredObject> now = find(object.path());
            if (now.isPresent() && Objects.equals(now.get().version(), object.version())) {
                deleteNow(object.path());
            }
        } catch (SdkException e) {
            throw failure(e, "DELETE " + object.path());
        }
    }

    private void deleteNow(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(key));
        } catch (SdkException e) {
            throw failure(e, "DELETE " + key);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var objects = new ArrayList<StoredObject>();
        try {
            for (S3Object object : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents()) {
                if (!S3MultipartUpload.isTemporary(object.key())) {
                    find(object.key()).ifPresent(objects::add);
                }
            }
        } catch (SdkException e) {
            throw failure(e, "LIST " + prefix);
        }
        return objects;
    }

    /**
     * The SDK's exception as one line naming the bucket, the endpoint and the reason: the proxy when
     * it refused (its URL without user info), the CA variables read when a certificate was refused.
     */
    IOException failure(SdkException e, String what) {
        if (headway.gaveUp()) {
            return new IOException("s3 bucket '" + bucket + "' at " + endpoint + ": " + headway.given().getMessage(), e);
        }
        if (e instanceof NoSuchBucketException) {
            return missingBucket(e);
        }
        Optional<String> proxy = routes.lastProxy();
        // Apache's client hands a refused CONNECT's answer back as the request's: a 407 is the proxy's either way.
        if (e instanceof S3Exception s3e && s3e.statusCode() == 407 && proxy.isPresent()) {
            return new IOException("s3 bucket '" + bucket + "' at " + endpoint + ": refused through the proxy " + proxy.get()
                    + ": 407 Proxy Authentication Required", e);
        }
        if (e instanceof S3Exception s3e) {
            String code = s3e.awsErrorDetails() == null ? null : s3e.awsErrorDetails().errorCode();
            String message = s3e.awsErrorDetails() == null ? null : s3e.awsErrorDetails().errorMessage();
            String reason = "HTTP " + s3e.statusCode() + (code == null ? "" : " " + code) + (message == null ? "" : ": " + message);
            if (s3e.statusCode() == 412 && what.startsWith("GET ")) {
                return new IOException("s3 bucket '" + bucket + "': " + what.substring("GET ".length())
                        + " was replaced since it was found; fetch again", e);
            }
            if (s3e.statusCode() == 403 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)) {
                return new IOException("authentication failed for s3 bucket '" + bucket + "' at " + endpoint + ": " + reason, e);
            }
            return new IOException("s3 bucket '" + bucket + "' at " + endpoint + " answered " + what + " with " + reason, e);
        }
        if (e.getMessage() != null && e.getMessage().startsWith("Unable to load credentials")) {
            return new IOException("no AWS credentials for s3 bucket '" + bucket + "': set AWS_ACCESS_KEY_ID and"
                    + " AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (and AWS_PROFILE), or run with a role", e);
        }
        Throwable root = e;
        boolean tls = false;
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            tls |= cause instanceof javax.net.ssl.SSLException || cause instanceof java.security.cert.CertificateException;
            root = cause;
        }
        String through = proxy.map(p -> " through the proxy " + p).orElse("");
        if (tls && (root instanceof java.security.cert.CertificateException
                || root instanceof java.security.GeneralSecurityException)) {
            return new IOException("cannot reach " + endpoint + through + " for s3 bucket '" + bucket + "': " + Reason.of(root)
                    + " (" + trust.says() + ")", e);
        }
        return new IOException("cannot reach " + endpoint + through + " for s3 bucket '" + bucket + "': " + Reason.of(root), e);
    }

    /** Whether the store was given up for making no headway (Headway): a fetch then takes it as a miss. */
    @Override
    public boolean gaveUp() {
        return headway.gaveUp();
    }

    void debug(String message) {
        log.debug(message);
    }

    @Override
    public void close() {
        headway.stop();
        s3.close();
        http.close();
    }
}

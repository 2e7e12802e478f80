//DEPS com.google.cloud:google-cloud-storage:2.78.0
//DEPS com.google.http-client:google-http-client-apache-v2:2.2.0

package lib.store.gcs;

import com.google.api.client.http.apache.v2.ApacheHttpTransport;
import com.google.auth.http.HttpTransportFactory;
import com.google.auth.Credentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import com.google.cloud.NoCredentials;
import com.google.cloud.WriteChannel;
import com.google.cloud.http.HttpTransportOptions;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.StorageOptions;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.common.StoreError;
import lib.common.UsageError;
import lib.net.ApacheEgress;
import lib.net.ProxiedRoutes;
import lib.net.Proxies;
import lib.net.Trust;
import lib.store.BlobUri;
import lib.store.Headway;
import lib.store.RangedDownload;
import lib.store.Store;
import lib.store.Stores;
import lib.store.TemporaryName;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.socket.PlainConnectionSocketFactory;
import org.apache.http.impl.client.HttpClientBuilder;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;

/**
 * Archives as objects in a Google Cloud Storage bucket, where the Go tool's gocloud puts them:
 * gs://BUCKET/NAME. An upload streams into a temporary object NAME.upload-RANDOM through a
 * resumable upload; commit rewrites it to NAME with the archive's sha256 in the object's metadata
 * (known only after the last byte, and metadata can only be given when an object is made) and
 * deletes it. So NAME never holds a part of an object. The rewrite is conditional on
 * ifGenerationMatch=0, which GCS evaluates as it writes: an object at NAME is never replaced, and
 * of two uploads committing at once exactly one makes it; the other is refused with 412 and
 * deletes its temporary object.
 */
public final class GcsStore implements Store {

    /** A bucket's old objects go by its lifecycle rules. */
    public static final Expiry EXPIRY = BlobUri.LIFECYCLE_RULES;
    /** The resumable upload's chunk: what one request carries, and what the writer holds in memory. */
    public static final int CHUNK_BYTES = 16 << 20;
    static final Set<String> PARAMETERS = Set.of("access_id", "private_key_path", "anonymous");
    private static final Pattern TEMP_NAME = Pattern.compile(".*" + Pattern.quote(TemporaryName.MARKER) + "[0-9a-f]{16}");
    private static final String EMULATOR = "STORAGE_EMULATOR_HOST";

    private final Storage storage;
    private final String bucket;
    /** How messages name the endpoint when it cannot be reached. */
    private final String endpoint;
    private final Log log;
    /** Held so that their levels stay set: the SDK would otherwise log retries and warnings on stderr. */
    private final List<Logger> quietLoggers;
    /** The network of the scripts' client; a test's fake has none. */
    private final Network network;

    /** What the scripts' client goes through: its headway, the routes it took, its trust. */
    private record Network(Headway headway, ProxiedRoutes routes, Trust trust) {}

    /** The store over a given client: the scripts' one, or a test's fake. */
    public GcsStore(Storage storage, String bucket, String endpoint, Log log) {
        this(storage, bucket, endpoint, log, quietSdkLoggers(), null);
    }

    private GcsStore(Storage storage, String bucket, String endpoint, Log log, List<Logger> quietLoggers, Network network) {
        this.storage = storage;
        this.bucket = bucket;
        this.endpoint = endpoint;
        this.log = log;
        this.quietLoggers = quietLoggers;
        this.network = network;
    }

    /**
     * The SDK logs through java.util.logging, whose default handler prints on stderr: retries,
     * and a warning when it finds a user's gcloud credentials. Our one line says what failed.
     */
    private static List<Logger> quietSdkLoggers() {
        var loggers = List.of(Logger.getLogger("com.google"), Logger.getLogger("io.grpc"), Logger.getLogger("io.opentelemetry"));
        loggers.forEach(logger -> logger.setLevel(Level.OFF));
        return loggers;
    }

    /** gs://BUCKET/NAME: the store is the bucket, the object its full name. */
    public static Stores.Target target(URI location, Duration stallTimeout, Environment environment, Log log) {
        var uri = BlobUri.parse(location, environment, PARAMETERS);
        var quiet = quietSdkLoggers(); // before the SDK looks for credentials, which may warn
        boolean anonymous = uri.flag("anonymous");
        if (uri.get("access_id") != null || uri.get("private_key_path") != null) {
            // gocloud uses them only to sign URLs, which neither tool does; accepted so URIs carry over.
            log.debug("access_id and private_key_path only sign URLs in gocloud; they do not change how " + uri.describe() + " is reached");
        }
        String emulator = environment.get(EMULATOR);
        var egress = new ApacheEgress(Proxies.from(environment), Trust.of(environment, false));
        var network = new Network(new Headway(stallTimeout), new ProxiedRoutes(egress.routes()), egress.trust());
        HttpTransportFactory transport = transport(egress, network);
        var options = StorageOptions.http()
                .setRetrySettings(StorageOptions.getDefaultRetrySettings().toBuilder()
                        // The SDK's own default retries for 50 s; a step should fail within seconds.
                        .setMaxAttempts(3)
                        .setInitialRetryDelayDuration(Duration.ofMillis(500))
                        .setMaxRetryDelayDuration(Duration.ofSeconds(4))
                        .build())
                .setTransportOptions(HttpTransportOptions.newBuilder()
                        .setConnectTimeout(3_000)
                        // A read that waits this long for a byte fails, and the SDK's reader resumes it.
                        .setReadTimeout((int) Math.min(stallTimeout.toMillis(), Integer.MAX_VALUE))
                        .setHttpTransportFactory(transport)
                        .build());
        boolean emulated = emulator != null && !emulator.isBlank();
        if (emulated) {
            String host = emulator.contains("://") ? emulator.strip() : "http://" + emulator.strip();
            String project = environment.get("GOOGLE_CLOUD_PROJECT");
            options.setHost(host)
                    .setCredentials(NoCredentials.getInstance())
                    .setProjectId(project == null || project.isBlank() ? "test-project" : project);
        } else {
            Credentials credentials = anonymous ? NoCredentials.getInstance() : credentials(uri, environment, transport);
            if (credentials != null) {
                options.setCredentials(credentials);
            }
            // Objects need no project, but without one the SDK looks for it, asking the metadata server last.
            String project = environment.get("GOOGLE_CLOUD_PROJECT");
            if (project != null && !project.isBlank()) {
                options.setProjectId(project);
            } else if (credentials instanceof ServiceAccountCredentials account && account.getProjectId() != null) {
                options.setProjectId(account.getProjectId());
            }
        }
        var built = options.build();
        String endpoint = (emulated ? EMULATOR + " " : "") + built.getHost();
        return new Stores.Target(new GcsStore(built.getService(), uri.bucket(), endpoint, log, quiet, network), uri.key());
    }

    /**
     * One Apache HttpClient for the storage client and the credentials' token requests, on the
     * routes, proxy credentials and TLS of ApacheEgress, and watched for headway. (The default
     * transport would also install Conscrypt, unpacking a native library into /tmp on every run,
     * 0.6 s here; the JDK's TLS does the job.) No redirect is followed and no request retried by
     * Apache: the SDK decides both.
     */
    private static HttpTransportFactory transport(ApacheEgress egress, Network network) {
        var connections = new PoolingHttpClientConnectionManager(RegistryBuilder.<ConnectionSocketFactory>create()
                .register("http", PlainConnectionSocketFactory.getSocketFactory())
                .register("https", egress.tls())
                .build());
        connections.setMaxTotal(64);
        connections.setDefaultMaxPerRoute(32);
        var client = HttpClientBuilder.create()
                .setConnectionManager(connections)
                .setRoutePlanner(network.routes())
                .setDefaultCredentialsProvider(egress.proxyCredentials())
                .disableRedirectHandling()
                .disableAutomaticRetries()
                .build();
        var transport = new ApacheHttpTransport(new WatchedApacheClient(client, network.headway()));
        return () -> transport;
    }

    /** GOOGLE_APPLICATION_CREDENTIALS, else the default chain (gcloud's file, the metadata server), their tokens asked through transport. */
    private static Credentials credentials(BlobUri uri, Environment environment, HttpTransportFactory transport) {
        String file = environment.get("GOOGLE_APPLICATION_CREDENTIALS");
        if (file == null || file.isBlank()) {
            try {
                return GoogleCredentials.getApplicationDefault(transport);
            } catch (IOException e) {
                // The SDK would go on without credentials, and every request would be refused.
                throw new StoreError("no Google credentials for " + uri.describe() + ": set GOOGLE_APPLICATION_CREDENTIALS to a"
                        + " credentials JSON file, or add ?anonymous=true for a public bucket", e);
            }
        }
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            return GoogleCredentials.fromStream(in, transport);
        } catch (NoSuchFileException e) {
            throw new UsageError("GOOGLE_APPLICATION_CREDENTIALS " + file + " does not exist");
        } catch (IOException | RuntimeException e) {
            throw new UsageError("GOOGLE_APPLICATION_CREDENTIALS " + file + " is not a Google credentials JSON file: "
                    + oneLine(Reason.of(e)));
        }
    }

    @Override
    public Optional<StoredObject> find(String path) throws IOException {
        Blob blob;
        try {
            blob = storage.get(BlobId.of(bucket, path));
        } catch (RuntimeException e) {
            throw failure("reading", e);
        }
        if (blob == null) {
            requireBucket(path);
            return Optional.empty();
        }
        return Optional.of(stored(blob));
    }

    /**
     * A missing bucket answers a read like a missing object (404), so a miss is told apart by
     * listing: that needs only the object permissions a cache reader has anyway.
     */
    private void requireBucket(String path) throws IOException {
        try {
            storage.list(bucket, Storage.BlobListOption.prefix(path), Storage.BlobListOption.pageSize(1));
        } catch (StorageException e) {
            if (e.getCode() == 403) {
                log.debug("cannot list gs bucket '" + bucket + "' (" + oneLine(e.getMessage()) + "), so a miss there is taken as one");
                return;
            }
            throw failure("listing", e);
        } catch (RuntimeException e) {
            throw failure("listing", e);
        }
    }

    private StoredObject stored(Blob blob) throws IOException {
        Map<String, String> metadata = blob.getMetadata();
        String sha256 = metadata == null ? null : metadata.get(BlobUri.SHA256_METADATA);
        if (sha256 != null && !sha256.matches("[0-9a-f]{64}")) {
            throw new IOException("gs://" + bucket + "/" + blob.getName() + " has a malformed " + BlobUri.SHA256_METADATA
                    + " metadata value '" + sha256 + "'");
        }
        var updated = blob.getUpdateTimeOffsetDateTime();
        Long generation = blob.getGeneration();
        return new StoredObject(blob.getName(), blob.getSize() == null ? -1 : blob.getSize(), Optional.ofNullable(sha256),
                updated == null ? Instant.EPOCH : updated.toInstant(), generation == null ? null : generation.toString());
    }

    /**
     * Reads the generation found (?generation=, resumed ranges too): an object replaced since is
     * another generation, so the read gives the one found where the bucket keeps old versions, and
     * fails with 404 where it does not. (google-cloud-nio's fake ignores the generation of a read.)
     */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        return open(object, 0);
    }

    /**
     * A big object by several ranged reads at once (RangedDownload), a small one by one reader.
     * Each reader resumes itself where its connection breaks (the SDK's retries).
     */
    @Override
    public InputStream open(StoredObject object, long offset) throws IOException {
        if (object.size() < 0 || object.size() - offset < RangedDownload.WORTH_IT) {
            return openAt(object, offset, -1);
        }
        return RangedDownload.of((position, length) -> openAt(object, position, length), offset, object.size(),
                "gs://" + bucket + "/" + object.path(), log);
    }

    /** The object's bytes from position on, length of them (-1: to its end). */
    private InputStream openAt(StoredObject object, long position, long length) throws IOException {
        InputStream in;
        try {
            BlobId blob = object.version() == null ? BlobId.of(bucket, object.path())
                    : BlobId.of(bucket, object.path(), Long.parseLong(object.version()));
            var reader = storage.reader(blob);
            reader.seek(position);
            if (length >= 0) {
                reader.limit(position + length);
            }
            in = Channels.newInputStream(reader);
        } catch (RuntimeException e) {
            throw failure("reading", e);
        }
        return new FilterInputStream(in) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return in.read(b, off, len);
                } catch (RuntimeException e) {
                    throw gone(e) ? new EntryGone(object.path(), e) : failure("reading", e);
                } catch (IOException e) {
                    throw gone(e) ? new EntryGone(object.path(), e) : e; // the SDK's reader wraps what it got
                }
            }
        };
    }

    @Override
    public PendingWrite create(String path) throws IOException {
        BlobId temp = BlobId.of(bucket, path + TemporaryName.MARKER + String.format("%016x", ThreadLocalRandom.current().nextLong()));
        WriteChannel writer;
        try {
            writer = storage.writer(BlobInfo.newBuilder(temp).setContentType("application/octet-stream").build(),
                    Storage.BlobWriteOption.doesNotExist());
        } catch (RuntimeException e) {
            throw failure("writing", e);
        }
        writer.setChunkSize(CHUNK_BYTES);
        return new GcsUpload(path, temp, writer);
    }

    /** A resumable upload into the temporary object, turned into the real one by commit. */
    private final class GcsUpload implements PendingWrite {
        private final String path;
        private final BlobId temp;
        private final WriteChannel writer;
        private final OutputStream stream;
        private boolean committed;

        GcsUpload(String path, BlobId temp, WriteChannel writer) {
            this.path = path;
            this.temp = temp;
            this.writer = writer;
            this.stream = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    var buffer = ByteBuffer.wrap(b, off, len);
                    try {
                        while (buffer.hasRemaining()) {
                            writer.write(buffer);
                        }
                    } catch (RuntimeException e) {
                        throw failure("writing", e);
                    }
                }
                // close() is OutputStream's no-op: closing the writer would make the temporary
                // object, whole or not, so only commit does that.
            };
        }

        @Override
        public OutputStream stream() {
            return stream;
        }

        @Override
        public boolean commit(Contents contents, Description description) throws IOException {
            Blob written;
            try {
                writer.close(); // sends the last chunk: the temporary object now exists, whole
                written = storage.get(temp);
            } catch (RuntimeException e) {
                throw failure("writing", e);
            }
            if (written == null || written.getSize() == null || written.getSize() != contents.size()) {
                throw new IOException("gs://" + bucket + "/" + temp.getName() + " holds "
                        + (written == null ? "nothing" : written.getSize() + " bytes") + " after the upload of " + contents.size());
            }
            var target = BlobInfo.newBuilder(BlobId.of(bucket, path))
                    .setContentType(contents.compression().contentType())
                    .setMetadata(Map.of(BlobUri.SHA256_METADATA, contents.sha256()))
                    .build();
            try {
                // POST .../o/TEMP/rewriteTo/b/BUCKET/o/PATH?ifGenerationMatch=0: within one bucket and
                // storage class the server makes the new object from the temporary one's data in one
                // request, and only where no object is.
                storage.copy(Storage.CopyRequest.newBuilder()
                        .setSource(BlobId.of(bucket, temp.getName(), written.getGeneration()))
                        .setTarget(target, Storage.BlobTargetOption.doesNotExist())
                        .build()).getResult();
            } catch (StorageException e) {
                if (e.getCode() == 412) {
                    return false; // another upload made the object first; close() deletes the temporary one
                }
                throw failure("writing", e);
            } catch (RuntimeException e) {
                throw failure("writing", e);
            }
            committed = true;
            try {
                storage.delete(temp);
            } catch (RuntimeException e) {
                // The cache entry is whole and in place; what is left wastes space but misleads no reader.
                log.info("note: could not delete the temporary object gs://" + bucket + "/" + temp.getName() + ": "
                        + failure("deleting", e).getMessage());
            }
            return true;
        }

        @Override
        public void close() {
            if (committed) {
                return;
            }
            // After a commit that found the name taken, the temporary object is whole: delete it.
            // Otherwise the writer stays open: closing it would finish the upload. A resumable session
            // never finished makes no object and expires on its own, but the last chunk may have
            // reached the server even when its answer did not, so the temporary name is deleted
            // anyway. The error that ended the upload is the one to report, not this.
            try {
                storage.delete(temp);
            } catch (RuntimeException e) {
                log.debug("could not delete gs://" + bucket + "/" + temp.getName() + ": " + failure("deleting", e).getMessage());
            }
        }
    }

    /** The generation listed, only: one written since under the name is another entry, and stays. */
    @Override
    public void delete(StoredObject object) throws IOException {
        try {
            storage.delete(object.version() == null ? BlobId.of(bucket, object.path())
                    : BlobId.of(bucket, object.path(), Long.parseLong(object.version())));
        } catch (RuntimeException e) {
            throw failure("deleting", e);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var objects = new ArrayList<StoredObject>();
        try {
            for (Blob blob : storage.list(bucket, Storage.BlobListOption.prefix(prefix)).iterateAll()) {
                if (!TEMP_NAME.matcher(blob.getName()).matches() && !blob.getName().endsWith("/")) {
                    objects.add(stored(blob));
                }
            }
        } catch (RuntimeException e) {
            throw failure("listing", e);
        }
        return objects;
    }

    /** Whether the store was given up for making no headway (Headway): a fetch then takes it as a miss. */
    @Override
    public boolean gaveUp() {
        return network != null && network.headway().gaveUp();
    }

    @Override
    public void close() throws IOException {
        if (network != null) {
            network.headway().stop();
        }
        try {
            storage.close();
        } catch (Exception e) {
            log.debug("closing the gs client: " + Reason.of(e));
        }
    }

    /** Whether the SDK's failure says the object is not there (404), wherever in its causes. */
    private static boolean gone(Exception e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof StorageException storage && storage.getCode() == 404) {
                return true;
            }
        }
        return false;
    }

    /**
     * One line naming the store, the bucket and the reason, from whatever the SDK threw: the proxy
     * when it refused or could not be reached (its URL without user info), the CA variables read
     * when a certificate was refused.
     */
    private IOException failure(String doing, RuntimeException e) {
        if (gaveUp()) {
            return new IOException("gs bucket '" + bucket + "' at " + endpoint + ": " + network.headway().given().getMessage(), e);
        }
        Optional<String> proxy = network == null ? Optional.empty() : network.routes().lastProxy();
        String through = proxy.map(p -> " through the proxy " + p).orElse("");
        if (e instanceof StorageException refused && refused.getCode() == 407 && proxy.isPresent()) {
            // Apache's client hands a refused CONNECT's answer back as the request's: a 407 is the proxy's either way.
            return new IOException("gs bucket '" + bucket + "' at " + endpoint + ": refused through the proxy " + proxy.get()
                    + ": 407 Proxy Authentication Required", e);
        }
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof javax.net.ssl.SSLHandshakeException && network != null && certificateRefused(cause)) {
                return new IOException("cannot reach " + endpoint + through + ": " + lower(Reason.of(rootOf(cause))) + " ("
                        + network.trust().says() + ")", e);
            }
            if (cause instanceof ConnectException || cause instanceof NoRouteToHostException) {
                // Apache wraps the socket's own words ("Connection refused") in "Connect to HOST:PORT [/ADDRESS] failed: ..."
                Throwable words = cause instanceof org.apache.http.conn.HttpHostConnectException && cause.getCause() != null
                        ? cause.getCause() : cause;
                return new IOException("cannot reach " + endpoint + through + ": " + lower(words.getMessage()), e);
            }
            if (cause instanceof UnknownHostException) {
                return new IOException("cannot reach " + endpoint + through + ": unknown host " + cause.getMessage(), e);
            }
            if (cause instanceof SocketTimeoutException) {
                return new IOException("cannot reach " + endpoint + through + ": timed out", e);
            }
        }
        String where = "gs bucket '" + bucket + "'";
        if (!(e instanceof StorageException storageError)) {
            return new IOException(where + ": " + doing + " failed: " + oneLine(Reason.of(e)), e);
        }
        int code = storageError.getCode();
        String message = oneLine(storageError.getMessage());
        return new IOException(switch (code) {
            // Reading names an object that may have gone; every other request needs only the bucket.
            case 404 -> "reading".equals(doing) ? where + ": the object is gone (" + message + ")" : where + " does not exist";
            case 401 -> where + ": authentication failed " + doing + " (" + message + ")";
            case 403 -> where + ": permission denied " + doing + " (" + message + ")";
            default -> where + ": " + doing + " failed: " + (code > 0 ? code + " " : "") + message;
        }, e);
    }

    /** Whether a handshake failed on the certificate's chain (not on a protocol or a name). */
    private static boolean certificateRefused(Throwable handshake) {
        for (Throwable cause = handshake; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.security.cert.CertificateException || cause instanceof java.security.cert.CertPathBuilderException) {
                return true;
            }
        }
        return false;
    }

    private static Throwable rootOf(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    private static String lower(String message) {
        return message == null ? "failed" : message.toLowerCase(java.util.Locale.ROOT).replaceAll(" \\(.*\\)$", "");
    }

    private static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}

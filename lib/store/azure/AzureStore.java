// The SDK's netty 4.2.19 lacks its native jars on the Maven Central we reach; 4.2.18 has them all.
//DEPS io.netty:netty-bom:4.2.18.Final@pom
//DEPS com.azure:azure-storage-blob:12.37.2
// SLF4J with no binding prints a warning on stderr; with nop, the SDK stays quiet unless AZURE_LOG_LEVEL is set.
//DEPS org.slf4j:slf4j-nop:1.7.36

package lib.store.azure;

import com.azure.core.http.policy.HttpLogDetailLevel;
import com.azure.core.http.policy.HttpLogOptions;
import com.azure.storage.blob.BlobContainerAsyncClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobListDetails;
import com.azure.storage.blob.models.BlobProperties;
import com.azure.storage.blob.models.BlobRange;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.DownloadRetryOptions;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import io.netty.handler.proxy.ProxyConnectException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;
import lib.common.BulkInputStream;
import lib.common.Environment;
import lib.common.Log;
import lib.common.Reason;
import lib.common.UsageError;
import lib.net.Proxies;
import lib.net.Trust;
import lib.store.BlobUri;
import lib.store.Headway;
import lib.store.RangedDownload;
import lib.store.Store;
import lib.store.Stores;

/**
 * Caches as block blobs in an Azure storage container, where the Go tool's gocloud puts them: the
 * blob's name is the URI's path. Ours record the archive's sha256 in the blob's metadata (written
 * with the block list, so a blob never carries another one's digest); the Go tool's bare tar.gz
 * blobs restore too. Uploads stream through {@link AzureBlockUpload}, which never replaces a blob
 * that is there; a download is one GET read as it arrives, or for a big blob several ranged GETs at
 * once (RangedDownload).
 */
public final class AzureStore implements Store {

    /** A container's old blobs go by the account's lifecycle management rules. */
    public static final Expiry EXPIRY = BlobUri.LIFECYCLE_RULES;
    /** Connection failures are retried by the SDK, but an endpoint that is down fails in about ten seconds. */
    private static final RequestRetryOptions RETRIES = new RequestRetryOptions(RetryPolicyType.EXPONENTIAL, 4,
            (Duration) null, Duration.ofMillis(400), Duration.ofSeconds(3), null);
    /** How many times the SDK resumes a small blob's GET by range when its body breaks or stalls. */
    private static final int SDK_RESUMES = 3;
    /** Buffers of the body (a few kB each) queued between the network and the restore. */
    private static final int PREFETCH = 32;
    private static final Set<BlobErrorCode> BAD_CREDENTIALS = Set.of(BlobErrorCode.AUTHENTICATION_FAILED,
            BlobErrorCode.AUTHORIZATION_FAILURE, BlobErrorCode.INVALID_AUTHENTICATION_INFO);

    private final String containerName;
    private final String source;
    private final BlobContainerAsyncClient container;
    private final String endpoint;
    private final String account;
    private final Log log;
    private final Trust trust;
    private final Headway headway;
    private final AzureHttp http;

    private AzureStore(String containerName, AzureAccount credentials, Duration stallTimeout, Environment environment, Log log) {
        this.containerName = containerName;
        this.source = credentials.source();
        this.trust = Trust.of(environment, false);
        this.headway = new Headway(stallTimeout);
        this.http = new AzureHttp(credentials.endpoint(), Proxies.from(environment), trust, stallTimeout, headway);
        BlobServiceClientBuilder builder = credentials.builder()
                .httpClient(http.client())
                .retryOptions(RETRIES)
                .addPolicy(new HeadwayPolicy(headway, http::abandon))
                .httpLogOptions(new HttpLogOptions().setLogLevel(HttpLogDetailLevel.NONE));
        // One client: the async one streams a download as it arrives; other calls block on it.
        var service = builder.buildAsyncClient();
        this.container = service.getBlobContainerAsyncClient(containerName);
        this.endpoint = service.getAccountUrl();
        this.account = service.getAccountName();
        this.log = log;
        log.debug("azblob: container '" + containerName + "' of account '" + account + "' at " + endpoint
                + http.proxy().map(proxy -> " through the proxy " + proxy).orElse("") + ", credentials from " + source);
    }

    /** azblob://CONTAINER/NAME: the store is the container, the object the blob NAME. */
    public static Stores.Target target(URI location, Duration stallTimeout, Environment environment, Log log) {
        var uri = BlobUri.parse(location, environment, AzureAccount.PARAMETERS);
        if (!uri.bucket().matches("\\$root|\\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")) {
            throw new UsageError("'" + uri.bucket() + "' in '" + location + "' is not an Azure container name:"
                    + " 3 to 63 lowercase letters, digits and single hyphens");
        }
        var store = new AzureStore(uri.bucket(), AzureAccount.from(uri, environment), stallTimeout, environment, log);
        return new Stores.Target(store, uri.key());
    }

    @Override
    public Optional<StoredObject> find(String path) throws IOException {
        BlobProperties properties;
        try {
            // HEAD /container/path
            properties = container.getBlobAsyncClient(path).getProperties().block();
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 404 && !BlobErrorCode.CONTAINER_NOT_FOUND.equals(e.getErrorCode())) {
                return Optional.empty();
            }
            throw failure("reading the properties of '" + path + "'", e);
        } catch (RuntimeException e) {
            throw failure("reading the properties of '" + path + "'", e);
        }
        return Optional.of(new StoredObject(path, properties.getBlobSize(), sha256(path, properties.getMetadata()),
                properties.getLastModified().toInstant(), properties.getETag()));
    }

    private static Optional<String> sha256(String path, Map<String, String> metadata) throws IOException {
        if (metadata == null) {
            return Optional.empty();
        }
        for (var entry : metadata.entrySet()) {
            // Metadata names are case-insensitive in Azure.
            if (entry.getKey().equalsIgnoreCase(BlobUri.SHA256_METADATA)) {
                String value = entry.getValue().strip().toLowerCase(Locale.ROOT);
                if (!value.matches("[0-9a-f]{64}")) {
                    throw new IOException("blob '" + path + "' has a malformed sha256 metadata value '" + entry.getValue() + "'");
                }
                return Optional.of(value);
            }
        }
        return Optional.empty();
    }

    /** Reads with If-Match set to the ETag found, resumed ranges too: a blob replaced since fails with 412. */
    @Override
    public InputStream open(StoredObject object) throws IOException {
        return open(object, 0);
    }

    /**
     * A big blob by several ranged GETs at once (RangedDownload), a small one by one GET that the
     * SDK resumes itself (DownloadRetryOptions). A piece of a big one is resumed by RangedDownload's
     * ResumingDownload alone: the SDK's resumes inside each of its attempts would multiply them
     * against a blob that stalls every time, as they would around a small one.
     */
    @Override
    public InputStream open(StoredObject object, long offset) throws IOException {
        if (object.size() < 0 || object.size() - offset < RangedDownload.WORTH_IT) {
            return openRange(object, offset, null, SDK_RESUMES);
        }
        return RangedDownload.of((position, length) -> openRange(object, position, position + length >= object.size() ? null : length, 0),
                offset, object.size(), "azblob container '" + containerName + "' blob '" + object.path() + "'", log);
    }

    /** The blob's bytes from offset on, count of them (null: to its end), resumed by the SDK resumes times. */
    private InputStream openRange(StoredObject object, long offset, Long count, int resumes) throws IOException {
        var conditions = new BlobRequestConditions().setIfMatch(object.version());
        try {
            // GET /container/path, resumed with a Range request where the connection breaks
            var response = container.getBlobAsyncClient(object.path())
                    .downloadStreamWithResponse(offset == 0 && count == null ? null : new BlobRange(offset, count),
                            new DownloadRetryOptions().setMaxRetryRequests(resumes), conditions, false)
                    .block();
            return new Body(response.getValue().toStream(PREFETCH), object.path());
        } catch (RuntimeException e) {
            if (vanished(object, e)) {
                throw new EntryGone(object.path(), e);
            }
            throw failure("reading '" + object.path() + "'", e);
        }
    }

    /**
     * Whether a read failed because the blob was deleted since it was found: 404, or the 412 that
     * If-Match also gets from a blob replaced (azurite's answer to a deleted one), and then a look.
     */
    private boolean vanished(StoredObject object, RuntimeException e) {
        if (!(e instanceof BlobStorageException answer) || answer.getStatusCode() != 404 && answer.getStatusCode() != 412) {
            return false;
        }
        try {
            return answer.getStatusCode() == 404 || !Boolean.TRUE.equals(container.getBlobAsyncClient(object.path()).exists().block());
        } catch (RuntimeException lookFailed) {
            e.addSuppressed(lookFailed);
            return false;
        }
    }

    /** A response body's buffers as an InputStream; closing it cancels the download. */
    private final class Body extends BulkInputStream {
        private final Stream<ByteBuffer> stream;
        private final Iterator<ByteBuffer> buffers;
        private final String path;
        private ByteBuffer current = ByteBuffer.allocate(0);

        Body(Stream<ByteBuffer> stream, String path) {
            this.stream = stream;
            this.buffers = stream.iterator();
            this.path = path;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            // Waiting for the next buffer is waiting on the store; the bytes are counted as they arrive.
            try (var wait = headway.waiting(http::abandon)) {
                while (!current.hasRemaining()) {
                    if (!buffers.hasNext()) {
                        return -1;
                    }
                    current = buffers.next();
                }
            } catch (RuntimeException e) {
                throw failure("reading '" + path + "'", e);
            }
            int n = Math.min(len, current.remaining());
            current.get(b, off, n);
            return n;
        }

        @Override
        public void close() {
            stream.close();
        }
    }

    @Override
    public PendingWrite create(String path) throws IOException {
        // No check that the container exists first: a write-only SAS token may not read it.
        var blocks = new AzureBlockUpload(container.getBlobAsyncClient(path).getBlockBlobAsyncClient(),
                (action, e) -> failure(action + " of '" + path + "'", e));
        return new PendingWrite() {
            @Override
            public OutputStream stream() {
                return blocks;
            }

            @Override
            public boolean commit(Contents contents, Description description) throws IOException {
                return blocks.commit(Map.of(BlobUri.SHA256_METADATA, contents.sha256()),
                        new BlobHttpHeaders().setContentType(contents.compression().contentType()));
            }

            @Override
            public void close() {
                blocks.close();
            }
        };
    }

    /** DELETE /container/path, with its snapshots; a blob already gone is no error. */
    @Override
    public void delete(StoredObject object) throws IOException {
        try {
            // DELETE /container/blob, If-Match the ETag found: a blob replaced since stays (412).
            container.getBlobAsyncClient(object.path())
                    .deleteIfExistsWithResponse(null, new BlobRequestConditions().setIfMatch(object.version())).block();
        } catch (RuntimeException e) {
            if (!(e instanceof BlobStorageException answer && answer.getStatusCode() == 412)) {
                throw failure("deleting '" + object.path() + "'", e);
            }
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        var objects = new ArrayList<StoredObject>();
        var options = new ListBlobsOptions().setPrefix(prefix).setDetails(new BlobListDetails().setRetrieveMetadata(true));
        try {
            // GET /container?restype=container&comp=list&prefix=PREFIX, page after page
            for (BlobItem item : container.listBlobs(options).toIterable()) {
                if (Boolean.TRUE.equals(item.isPrefix())) {
                    continue;
                }
                var properties = item.getProperties();
                objects.add(new StoredObject(item.getName(), properties.getContentLength(),
                        sha256(item.getName(), item.getMetadata()), properties.getLastModified().toInstant(), properties.getETag()));
            }
        } catch (RuntimeException e) {
            throw failure("listing blobs starting with '" + prefix + "'", e);
        }
        return objects;
    }

    @Override
    public boolean gaveUp() {
        return headway.gaveUp();
    }

    @Override
    public void close() {
        headway.stop();
        http.close();
    }

    /** One line saying what failed, for a user to act on: never the SDK's own multi-line message. */
    IOException failure(String action, RuntimeException e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof Headway.GaveUp given) {
                return new IOException(action + " in azblob container '" + containerName + "': " + given.getMessage(), given);
            }
            if (cause instanceof ProxyConnectException refused) {
                return new IOException(action + ": cannot reach " + endpoint + throughProxy() + ": " + proxyAnswer(refused), e);
            }
        }
        if (e instanceof BlobStorageException refused) {
            int status = refused.getStatusCode();
            BlobErrorCode code = refused.getErrorCode();
            String answer = status + (code == null ? "" : " " + code);
            if (status == 407 && http.proxy().isPresent()) {
                return new IOException(action + ": refused" + throughProxy() + ": 407 Proxy Authentication Required", e);
            }
            if (BlobErrorCode.CONTAINER_NOT_FOUND.equals(code)) {
                return new IOException("azblob container '" + containerName + "' does not exist in account '" + account + "'", e);
            }
            if (status == 401 || status == 403 && (code == null || BAD_CREDENTIALS.contains(code))) {
                return new IOException("authentication failed for azblob account '" + account + "' (" + source + "): " + answer, e);
            }
            if (status == 403) {
                return new IOException("azblob account '" + account + "' refused " + action + " in container '"
                        + containerName + "' to the credentials of " + source + ": " + answer, e);
            }
            if (BlobErrorCode.CONDITION_NOT_MET.equals(code)) {
                return new IOException(action + ": the blob was replaced while it was read; fetch again", e);
            }
            return new IOException(action + " in azblob container '" + containerName + "' failed: " + answer, e);
        }
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof ConnectException || cause instanceof UnknownHostException
                    || cause instanceof NoRouteToHostException) {
                return new IOException("cannot reach " + endpoint + throughProxy() + ": " + networkReason(cause), e);
            }
            if (cause instanceof IOException || cause instanceof TimeoutException) {
                return new IOException(action + ": the connection to " + endpoint + throughProxy() + " failed: "
                        + networkReason(cause), e);
            }
        }
        return new IOException(action + " in azblob container '" + containerName + "' failed: " + Reason.of(e), e);
    }

    /** " through the proxy http://host:port" when requests go through one, for messages. */
    private String throughProxy() {
        return http.proxy().map(proxy -> " through the proxy " + proxy).orElse("");
    }

    /**
     * What the proxy answered a CONNECT: netty says "http, basic, /ADDRESS => HOST:PORT, status: 407
     * Proxy Authentication Required", of which the status is what a user acts on.
     */
    private static String proxyAnswer(ProxyConnectException refused) {
        String message = refused.getMessage() == null ? "" : refused.getMessage();
        int status = message.lastIndexOf("status: ");
        if (status >= 0) {
            return message.substring(status + "status: ".length()).strip();
        }
        int arrow = message.indexOf(" => ");
        return arrow >= 0 && message.indexOf(", ", arrow) >= 0 ? message.substring(message.indexOf(", ", arrow) + 2).strip()
                : Reason.of(refused);
    }

    private String networkReason(Throwable cause) {
        String message = cause.getMessage() == null ? "" : cause.getMessage();
        if (message.contains("Connection refused")) {
            return "connection refused";
        }
        if (cause instanceof UnknownHostException) {
            return "unknown host " + message;
        }
        if (cause instanceof TimeoutException || cause.getClass().getSimpleName().contains("Timeout")) {
            return "timed out";
        }
        if (cause instanceof SSLException) {
            // A connection that broke during the handshake is no TLS matter: say what broke it.
            if (cause.getCause() instanceof IOException broken && !(broken instanceof SSLException)) {
                return networkReason(broken);
            }
            // A certificate nobody we trust signed: say where the CAs were looked for.
            boolean untrusted = false;
            for (Throwable inner = cause; inner != null; inner = inner.getCause()) {
                untrusted |= inner instanceof CertPathBuilderException || inner instanceof CertPathValidatorException;
            }
            return "TLS: " + message + (untrusted ? "; " + trust.says() : "");
        }
        return Reason.of(cause);
    }
}

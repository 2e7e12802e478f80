import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.Map;

/**
 * A blob read from a registry as a stream. When the connection drops or ends early, the download
 * goes on from where it stopped (a Range request), a few times with backoff, so a flaky network
 * does not throw a large restore away; the digest check downstream sees every byte exactly once.
 */
final class ResumingDownload extends InputStream {

    private final RegistryClient registry;
    private final URI blob;
    private final long size;
    private InputStream in;
    private long position;
    private int failures;

    /** size is the blob's length from its descriptor, or -1 when unknown. */
    ResumingDownload(RegistryClient registry, URI blob, long size) throws IOException {
        this.registry = registry;
        this.blob = blob;
        this.size = size;
        this.in = open();
    }

    private InputStream open() throws IOException {
        Map<String, String> headers = position == 0 ? Map.of() : Map.of("Range", "bytes=" + position + "-");
        var response = registry.send("GET", blob, headers, null);
        int status = response.statusCode();
        if (status == 404) {
            response.body().close();
            throw new IOException("the registry has no blob " + blob.getPath().replaceFirst(".*/blobs/", "")
                    + " although the manifest lists it");
        }
        if (status == 206) {
            String range = response.headers().firstValue("Content-Range").orElse("");
            if (!range.startsWith("bytes " + position + "-")) {
                response.body().close();
                throw new IOException("the registry resumed the download at '" + range + "', not at byte " + position);
            }
            return response.body();
        }
        if (status != 200) {
            throw registry.refused(response, "GET blob");
        }
        InputStream body = response.body();
        if (position > 0) {
            body.skipNBytes(position); // the registry ignored Range: read again up to where we were
        }
        return body;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        while (true) {
            int n;
            try {
                n = in.read(b, off, len);
                if (n < 0 && size >= 0 && position < size) {
                    throw new EOFException("the connection ended after " + position + " of " + size + " bytes");
                }
            } catch (IOException e) {
                resume(e);
                continue;
            }
            if (n > 0) {
                position += n;
            }
            return n;
        }
    }

    private void resume(IOException failure) throws IOException {
        if (++failures >= RegistryClient.ATTEMPTS) {
            throw failure;
        }
        try {
            in.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
        registry.backoff(failures + 1, "download at byte " + position, failure);
        in = open();
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}

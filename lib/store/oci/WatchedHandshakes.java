package lib.store.oci;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import lib.store.StallWatchdog;
import org.apache.http.HttpHost;
import org.apache.http.conn.socket.LayeredConnectionSocketFactory;
import org.apache.http.protocol.HttpContext;

/**
 * TLS whose handshake, when the peer sends nothing for the stall timeout, is a stall: retried like
 * a dropped connection and counted against the store's headway. HttpClient would call it a connect
 * timeout (it wraps every SocketTimeoutException of connecting in one), which is not retried: a
 * registry, or a proxy's tunnel, that takes the connection and never answers the handshake would
 * end the run at once with words that blame the network.
 */
final class WatchedHandshakes implements LayeredConnectionSocketFactory {

    private final LayeredConnectionSocketFactory tls;
    private final StallWatchdog stall;

    WatchedHandshakes(LayeredConnectionSocketFactory tls, StallWatchdog stall) {
        this.tls = tls;
        this.stall = stall;
    }

    @Override
    public Socket createSocket(HttpContext context) throws IOException {
        return tls.createSocket(context);
    }

    /** The TCP connection (its timeout is the connect timeout), then the handshake, watched. */
    @Override
    public Socket connectSocket(int connectTimeout, Socket socket, HttpHost host, InetSocketAddress remote,
            InetSocketAddress local, HttpContext context) throws IOException {
        Socket plain = socket != null ? socket : createSocket(context);
        try {
            if (local != null) {
                plain.bind(local);
            }
            plain.connect(remote, connectTimeout);
        } catch (IOException e) {
            plain.close();
            throw e;
        }
        return createLayeredSocket(plain, host.getHostName(), remote.getPort(), context);
    }

    @Override
    public Socket createLayeredSocket(Socket socket, String target, int port, HttpContext context) throws IOException {
        try {
            return tls.createLayeredSocket(socket, target, port, context);
        } catch (SocketTimeoutException e) {
            socket.close();
            throw stall.stalled();
        }
    }
}

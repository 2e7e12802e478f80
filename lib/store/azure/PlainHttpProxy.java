package lib.store.azure;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import lib.net.Proxy;

/**
 * Plain http through an HTTP proxy as Go's client (and curl) sends it: to the proxy's address, each
 * request in absolute form (GET http://host:port/path) with the proxy's Basic credentials. Netty's
 * proxy support only tunnels (CONNECT), which many proxies refuse to any port but 443 (squid's
 * default SSL_ports rule), so an http endpoint would be unreachable through them.
 */
@ChannelHandler.Sharable
final class PlainHttpProxy extends ChannelDuplexHandler {

    private final Proxy proxy;

    PlainHttpProxy(Proxy proxy) {
        this.proxy = proxy;
    }

    /** Sits right after the HTTP codec, where requests are still objects and connects pass by. */
    void install(ChannelPipeline pipeline, String codec) {
        if (pipeline.get(codec) == null) {
            throw new IllegalStateException("no HTTP codec '" + codec + "' in the connection's pipeline: " + pipeline.names());
        }
        pipeline.addAfter(codec, "tekton-caches.plain-proxy", this);
    }

    @Override
    public void connect(ChannelHandlerContext context, SocketAddress target, SocketAddress local, ChannelPromise promise) {
        // The endpoint's name stays unresolved (no resolver): only the proxy needs to know it.
        context.connect(new InetSocketAddress(proxy.host(), proxy.port()), local, promise);
    }

    @Override
    public void write(ChannelHandlerContext context, Object message, ChannelPromise promise) {
        if (message instanceof HttpRequest request && request.uri().startsWith("/")) {
            String host = request.headers().get(HttpHeaderNames.HOST);
            request.setUri("http://" + host + request.uri());
            proxy.authorization().ifPresent(value -> request.headers().set(HttpHeaderNames.PROXY_AUTHORIZATION, value));
        }
        context.write(message, promise);
    }
}

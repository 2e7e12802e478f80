package lib.store.azure;

import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import com.azure.core.util.Configuration;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.resolver.DefaultAddressResolverGroup;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SSLException;
import lib.common.Reason;
import lib.common.StoreError;
import lib.net.Proxies;
import lib.net.Proxy;
import lib.net.Trust;
import lib.store.Headway;
import reactor.netty.NettyPipeline;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.transport.ProxyProvider;

/**
 * The connections of one Azure store: the SDK's reactor-netty client to the account's one endpoint,
 * through the proxy Go's rules give for it (a CONNECT tunnel for https, absolute-form requests for
 * http, {@link PlainHttpProxy}) or explicitly none, TLS on our {@link Trust}, and every byte that
 * crosses a connection counted for {@link Headway}. Nothing is left to the SDK's defaults, which
 * would take a proxy from HTTPS_PROXY without NO_PROXY, or from the JVM's properties, and trust
 * only the Java runtime's CAs.
 */
final class AzureHttp implements AutoCloseable {

    /** An endpoint that is down fails fast; one that answers slowly is the stall timeout's business. */
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** As the SDK's own default client: its pool, 500 connections dropped after 60 s idle. */
    private static final int MAX_CONNECTIONS = 500;
    private static final Duration IDLE = Duration.ofSeconds(60);

    private final Optional<Proxy> proxy;
    private final Headway headway;
    private final ConnectionProvider pool = ConnectionProvider.builder("azblob").maxConnections(MAX_CONNECTIONS)
            .maxIdleTime(IDLE).build();
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final com.azure.core.http.HttpClient client;

    AzureHttp(URI endpoint, Proxies proxies, Trust trust, Duration stallTimeout, Headway headway) {
        this.proxy = proxies.forUri(endpoint);
        this.headway = headway;
        boolean https = "https".equals(endpoint.getScheme().toLowerCase(Locale.ROOT));
        var counting = new Counting();
        // The JDK's resolver, as the SDK's own client uses: it reads /etc/hosts (and jdk.net.hosts.file);
        // through a proxy, none: the proxy resolves the endpoint's name, which we may not be able to.
        HttpClient netty = HttpClient.create(pool)
                .resolver(proxy.isPresent() ? NoopAddressResolverGroup.INSTANCE : DefaultAddressResolverGroup.INSTANCE);
        if (https) {
            SslContext tls = tls(trust);
            netty = netty.secure(spec -> spec.sslContext(tls));
        }
        Optional<PlainHttpProxy> plain = Optional.empty();
        if (proxy.isPresent() && https) {
            Proxy through = proxy.get();
            netty = netty.proxy(spec -> {
                var builder = spec.type(ProxyProvider.Proxy.HTTP).host(through.host()).port(through.port())
                        // The proxy answers a CONNECT once it has reached the endpoint: a stall beyond that.
                        .connectTimeoutMillis(Math.max(CONNECT_TIMEOUT.toMillis(), stallTimeout.toMillis()));
                if (through.user() != null) {
                    // Sent with the CONNECT at once (Basic), as Go's client does; never logged.
                    builder.username(through.user()).password(user -> through.password() == null ? "" : through.password());
                }
            });
        } else if (proxy.isPresent()) {
            plain = Optional.of(new PlainHttpProxy(proxy.get()));
        }
        Optional<PlainHttpProxy> absoluteForm = plain;
        netty = netty.doOnChannelInit((observer, channel, address) -> {
            channels.add(channel);
            channel.pipeline().addFirst("tekton-caches.headway", counting);
            absoluteForm.ifPresent(handler -> handler.install(channel.pipeline(), NettyPipeline.HttpCodec));
        });
        // Configuration.NONE and no ProxyOptions: the SDK adds no proxy of its own (it would read
        // HTTPS_PROXY/HTTP_PROXY and, with java.net.useSystemProxies, the JVM's), so only ours counts.
        this.client = new NettyAsyncHttpClientBuilder(netty).configuration(Configuration.NONE).proxy(null)
                .connectTimeout(CONNECT_TIMEOUT)
                // A request whose body or answer moves no byte for the stall timeout fails, and is
                // retried (a download by range, by the SDK's DownloadRetryOptions).
                .writeTimeout(stallTimeout).responseTimeout(stallTimeout).readTimeout(stallTimeout)
                .build();
    }

    /** The netty TLS of our trust; host names are checked (HTTPS identification, netty's default, said here). */
    private static SslContext tls(Trust trust) {
        try {
            // The JDK's engine, not OpenSSL's: its refusals say why ("PKIX path building failed", "No
            // subject alternative DNS name matching ..."), where OpenSSL's say "General OpenSslEngine problem".
            return SslContextBuilder.forClient().sslProvider(SslProvider.JDK).trustManager(trust.manager())
                    .endpointIdentificationAlgorithm("HTTPS").build();
        } catch (SSLException e) {
            throw new StoreError("setting up TLS for azblob: " + Reason.of(e), e);
        }
    }

    com.azure.core.http.HttpClient client() {
        return client;
    }

    /** The proxy requests go through, if any, as messages name it. */
    Optional<Proxy> proxy() {
        return proxy;
    }

    /** Closes every connection of the store: what a wait on a store given up is abandoned with. */
    void abandon() {
        channels.close();
    }

    @Override
    public void close() {
        channels.close();
        pool.dispose();
    }

    /** Counts the bytes read from and written to a connection, as the socket takes or gives them. */
    @ChannelHandler.Sharable
    private final class Counting extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext context, Object message) {
            headway.moved(size(message));
            context.fireChannelRead(message);
        }

        @Override
        public void write(ChannelHandlerContext context, Object message, ChannelPromise promise) {
            long size = size(message);
            if (size > 0) {
                promise = promise.unvoid();
                promise.addListener(written -> {
                    if (written.isSuccess()) {
                        headway.moved(size);
                    }
                });
            }
            context.write(message, promise);
        }

        private static long size(Object message) {
            if (message instanceof ByteBuf buffer) {
                return buffer.readableBytes();
            }
            return message instanceof ByteBufHolder holder ? holder.content().readableBytes() : 0;
        }
    }
}

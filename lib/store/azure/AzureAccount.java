package lib.store.azure;

import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.common.StorageSharedKeyCredential;
import java.net.URI;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import lib.common.Environment;
import lib.common.UsageError;
import lib.store.BlobUri;
import reactor.core.publisher.Mono;

/**
 * Which Azure storage account an azblob:// URI names and how we sign in to it, read as the Go tool's
 * gocloud azureblob reads them. Credentials, first match wins: AZURE_STORAGE_ACCOUNT with
 * AZURE_STORAGE_KEY (shared key), AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING (or
 * AZURE_STORAGEBLOB_CONNECTIONSTRING). The service URL is {@code protocol://ACCOUNT.domain}, or
 * {@code protocol://domain/ACCOUNT} for a local emulator such as azurite, from the parameters
 * domain, protocol, localemu, cdn and storage_account, each falling back to its AZURE_STORAGE_*
 * variable. A connection string names its own endpoint, so those parameters do not apply to it.
 * Secrets stay in private fields: no toString shows them.
 */
public final class AzureAccount {

    public static final Set<String> PARAMETERS = Set.of("domain", "protocol", "localemu", "cdn", "storage_account");

    private static final String DEFAULT_DOMAIN = "blob.core.windows.net";

    /** The service endpoint's parts, from the URI's parameters over the environment, as gocloud's ServiceURLOptions. */
    private record Endpoint(String account, String domain, String protocol, boolean localEmulator, boolean cdn) {

        static Endpoint of(Map<String, String> parameters, Environment environment) {
            return new Endpoint(
                    pick(parameters, "storage_account", environment, "AZURE_STORAGE_ACCOUNT"),
                    pick(parameters, "domain", environment, "AZURE_STORAGE_DOMAIN"),
                    pick(parameters, "protocol", environment, "AZURE_STORAGE_PROTOCOL"),
                    flag(parameters, "localemu", environment, "AZURE_STORAGE_IS_LOCAL_EMULATOR"),
                    flag(parameters, "cdn", environment, "AZURE_STORAGE_IS_CDN"));
        }

        /**
         * The service URL, as gocloud's NewServiceURL makes it. The Azure SDK takes any URL whose
         * host has an explicit port for a path-style emulator URL (and any other for the
         * ACCOUNT.domain style), so a path-style URL is given its port even when it is the
         * default, and a port in the other styles is refused rather than misread.
         */
        String url() {
            if (account == null || account.isBlank()) {
                throw new UsageError("azblob:// needs the storage account's name: set AZURE_STORAGE_ACCOUNT"
                        + " (or the storage_account parameter)");
            }
            String scheme = protocol == null || protocol.isEmpty() ? "https" : protocol;
            if (!scheme.equals("http") && !scheme.equals("https")) {
                throw new UsageError("azblob protocol '" + scheme + "' is not http or https");
            }
            String host = domain == null || domain.isEmpty() ? DEFAULT_DOMAIN : domain;
            boolean pathStyle = localEmulator || host.startsWith("127.0.0.1") || host.startsWith("localhost");
            int port = URI.create(scheme + "://" + host).getPort();
            if (pathStyle) {
                String authority = port < 0 ? host + (scheme.equals("http") ? ":80" : ":443") : host;
                return scheme + "://" + authority + "/" + account;
            }
            if (port >= 0) {
                throw new UsageError("azblob domain '" + host + "' has a port, which the Azure SDK reads as a local"
                        + " emulator's address: add localemu=true, or leave the port out");
            }
            return cdn ? scheme + "://" + host : scheme + "://" + account + "." + host;
        }
    }

    private final String url;
    private final String account;
    private final String source;
    private final String key;
    private final String sasToken;
    private final String connectionString;

    private AzureAccount(String url, String account, String source, String key, String sasToken, String connectionString) {
        this.url = url;
        this.account = account;
        this.source = source;
        this.key = key;
        this.sasToken = sasToken;
        this.connectionString = connectionString;
    }

    public static AzureAccount from(BlobUri uri, Environment environment) {
        var endpoint = Endpoint.of(uri.parameters(), environment);
        String key = environment.get("AZURE_STORAGE_KEY");
        String sasToken = environment.get("AZURE_STORAGE_SAS_TOKEN");
        String connectionString = environment.get("AZURE_STORAGE_CONNECTION_STRING");
        if (blank(connectionString)) {
            connectionString = environment.get("AZURE_STORAGEBLOB_CONNECTIONSTRING");
        }
        if (!blank(key) && !blank(endpoint.account())) {
            try {
                Base64.getDecoder().decode(key.strip());
            } catch (IllegalArgumentException e) {
                throw new UsageError("AZURE_STORAGE_KEY is not a base64 account key");
            }
            return new AzureAccount(endpoint.url(), endpoint.account(), "AZURE_STORAGE_KEY", key.strip(), null, null);
        }
        if (!blank(sasToken)) {
            // The token travels in every request's URL: a URI must not be able to send it elsewhere
            // than the environment says (gocloud refuses this too).
            String url = endpoint.url();
            String fromEnvironment = Endpoint.of(Map.of(), environment).url();
            if (!sameOrigin(url, fromEnvironment)) {
                throw new UsageError("with AZURE_STORAGE_SAS_TOKEN set, the URI's parameters may not move the service"
                        + " from " + fromEnvironment + " to " + url + "; set AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL"
                        + " or AZURE_STORAGE_IS_LOCAL_EMULATOR instead");
            }
            return new AzureAccount(url, endpoint.account(), "AZURE_STORAGE_SAS_TOKEN", null,
                    sasToken.strip().replaceFirst("^\\?", ""), null);
        }
        if (!blank(connectionString)) {
            return new AzureAccount(null, null, "AZURE_STORAGE_CONNECTION_STRING", null, null, connectionString.strip());
        }
        if (!blank(key)) {
            throw new UsageError("AZURE_STORAGE_KEY is set but not AZURE_STORAGE_ACCOUNT, the account it belongs to");
        }
        throw new UsageError("azblob:// needs credentials: AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or"
                + " AZURE_STORAGE_SAS_TOKEN, or AZURE_STORAGE_CONNECTION_STRING");
    }

    /** A builder pointed at the account and signed in; the caller adds transport and retries. */
    BlobServiceClientBuilder builder() {
        var builder = new BlobServiceClientBuilder();
        if (connectionString != null) {
            try {
                return builder.connectionString(connectionString);
            } catch (IllegalArgumentException e) {
                // The SDK's message quotes the string, and with it the key.
                throw new UsageError("AZURE_STORAGE_CONNECTION_STRING is not an Azure storage connection string");
            }
        }
        builder.endpoint(url);
        return key != null ? builder.credential(new StorageSharedKeyCredential(account, key)) : builder.sasToken(sasToken);
    }

    /**
     * The service URL requests go to: the parameters' and the environment's, or the one a
     * connection string names (read by the SDK, from a client that sends nothing).
     */
    URI endpoint() {
        if (url != null) {
            return URI.create(url);
        }
        return URI.create(builder().httpClient(request -> Mono.error(new IllegalStateException("not for sending")))
                .buildAsyncClient().getAccountUrl());
    }

    /** The service URL the parameters and the environment give; null with a connection string, which names its own. */
    public String serviceUrl() {
        return url;
    }

    /** The environment variable whose credentials are used, as messages name them. */
    public String source() {
        return source;
    }

    private static boolean sameOrigin(String a, String b) {
        URI x = URI.create(a), y = URI.create(b);
        return x.getScheme().equalsIgnoreCase(y.getScheme()) && x.getAuthority().equalsIgnoreCase(y.getAuthority());
    }

    private static boolean blank(String value) {
        return value == null || value.isBlank();
    }

    private static String pick(Map<String, String> parameters, String parameter, Environment environment, String variable) {
        String value = parameters.get(parameter);
        return value != null ? value : environment.get(variable);
    }

    /** A parameter's true/false, or its variable's, read with Go's strconv.ParseBool words (and yes/no). */
    private static boolean flag(Map<String, String> parameters, String parameter, Environment environment, String variable) {
        String value = pick(parameters, parameter, environment, variable);
        if (value == null || value.isEmpty()) {
            return false;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "1", "t", "true", "yes" -> true;
            case "0", "f", "false", "no" -> false;
            default -> throw new UsageError((parameters.containsKey(parameter) ? "azblob parameter " + parameter : variable)
                    + "=" + value + " is not true or false");
        };
    }
}

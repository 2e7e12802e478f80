import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import lib.common.Environment;
import lib.common.Log;
import lib.common.UsageError;
import lib.store.BlobUri;
import lib.store.StoreUri;
import lib.store.Stores;
import lib.store.azure.AzureAccount;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** azblob:// service URLs and credentials, found the way gocloud's azureblob finds them. */
class AzureAccountTest {

    private static final String KEY = AzuriteServer.KEY;

    private static AzureAccount account(String uri, Map<String, String> env) {
        var location = new StoreUri(uri).resolve("abc123");
        return AzureAccount.from(BlobUri.parse(location, new Environment(env), AzureAccount.PARAMETERS), new Environment(env));
    }

    private static Map<String, String> sharedKey(String... more) {
        var env = new HashMap<String, String>();
        env.put("AZURE_STORAGE_ACCOUNT", "acct");
        env.put("AZURE_STORAGE_KEY", KEY);
        for (int i = 0; i < more.length; i += 2) {
            env.put(more[i], more[i + 1]);
        }
        return env;
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
            azblob://c/k                                                     |                                   | https://acct.blob.core.windows.net
            azblob://c/k?domain=blob.core.chinacloudapi.cn                   |                                   | https://acct.blob.core.chinacloudapi.cn
            azblob://c/k?localemu=true&domain=azurite:10000&protocol=http    |                                   | http://azurite:10000/acct
            azblob://c/k?localemu=true&domain=azurite&protocol=http          |                                   | http://azurite:80/acct
            azblob://c/k?domain=127.0.0.1:10000&protocol=http                |                                   | http://127.0.0.1:10000/acct
            azblob://c/k?domain=localhost:10000                              |                                   | https://localhost:10000/acct
            azblob://c/k?cdn=true&domain=cdn.example.net                     |                                   | https://cdn.example.net
            azblob://c/k?storage_account=other                               |                                   | https://other.blob.core.windows.net
            azblob://c/k                                                     | AZURE_STORAGE_DOMAIN=azurite:10000 | https://azurite:10000/acct
            azblob://c/k?localemu=false&domain=example.org                   | AZURE_STORAGE_IS_LOCAL_EMULATOR=1  | https://acct.example.org
            azblob://c/k                                                     | AZURE_STORAGE_PROTOCOL=http        | http://acct.blob.core.windows.net
            """)
    void theServiceUrlFollowsGocloud(String uri, String variable, String expected) {
        var env = variable == null ? sharedKey() : sharedKey(variable.split("=")[0], variable.split("=")[1]);
        if (variable != null && variable.startsWith("AZURE_STORAGE_DOMAIN")) {
            env.put("AZURE_STORAGE_IS_LOCAL_EMULATOR", "true");
        }
        assertEquals(expected, account(uri, env).serviceUrl());
        assertEquals("AZURE_STORAGE_KEY", account(uri, env).source());
    }

    @Test
    void credentialsAreTakenInGocloudsOrder() {
        var all = sharedKey("AZURE_STORAGE_SAS_TOKEN", "sv=x&sig=y", "AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true");
        assertEquals("AZURE_STORAGE_KEY", account("azblob://c/k", all).source());
        all.remove("AZURE_STORAGE_KEY");
        assertEquals("AZURE_STORAGE_SAS_TOKEN", account("azblob://c/k", all).source());
        all.remove("AZURE_STORAGE_SAS_TOKEN");
        all.remove("AZURE_STORAGE_ACCOUNT");
        var fromConnectionString = account("azblob://c/k", all);
        assertEquals("AZURE_STORAGE_CONNECTION_STRING", fromConnectionString.source());
        assertNull(fromConnectionString.serviceUrl(), "a connection string names its own endpoint");
    }

    @Test
    void aSasTokenIsNotSentWhereOnlyTheUriPoints() {
        var env = Map.of("AZURE_STORAGE_ACCOUNT", "acct", "AZURE_STORAGE_SAS_TOKEN", "?sv=x&sig=y");
        assertEquals("https://acct.blob.core.windows.net", account("azblob://c/k?localemu=false", env).serviceUrl());
        var e = assertThrows(UsageError.class, () -> account("azblob://c/k?domain=evil.example", env));
        assertTrue(e.getMessage().contains("may not move the service"), e.getMessage());
        assertTrue(!e.getMessage().contains("sig=y"), "the token is in the message: " + e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            no credentials       | azblob://cache/k                         | NONE                   | needs credentials
            key without account  | azblob://cache/k                         | AZURE_STORAGE_KEY=a2V5 | set but not AZURE_STORAGE_ACCOUNT
            key not base64       | azblob://cache/k                         | AZURE_STORAGE_KEY=***  | not a base64 account key
            protocol ftp         | azblob://cache/k?protocol=ftp            | KEY                    | is not http or https
            port, not emulator   | azblob://cache/k?domain=example.org:8443 | KEY                    | add localemu=true
            localemu not boolean | azblob://cache/k?localemu=maybe          | KEY                    | localemu=maybe is not true or false
            unknown parameter    | azblob://cache/k?region=x                | KEY                    | 'region' is not a parameter of azblob:// stores
            container name       | azblob://Upper_Case/k                    | KEY                    | is not an Azure container name
            """)
    void badConfigurationIsAUsageError(String name, String uri, String variables, String message) {
        var env = new HashMap<String, String>();
        if (variables.equals("KEY")) {
            env.putAll(sharedKey());
        } else if (variables.contains("=")) {
            env.put(variables.substring(0, variables.indexOf('=')), variables.substring(variables.indexOf('=') + 1));
            if (variables.endsWith("***")) {
                env.put("AZURE_STORAGE_ACCOUNT", "acct");
            }
        }
        var location = new StoreUri(uri).resolve("abc123");
        var quiet = new Log(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), false);
        var e = assertThrows(UsageError.class, () -> Stores.open(location, false, java.time.Duration.ofSeconds(30),
                new Environment(env), quiet));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}

package lib.net;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import lib.common.Environment;
import lib.common.Reason;
import lib.common.StoreError;

/**
 * Whom a store's TLS certificate must come from, the same for every store: the Java runtime's CAs,
 * plus those a Go program reads (what the Go tool trusts, and what OpenShift sets up for it): every
 * certificate of SSL_CERT_FILE, else of the first system bundle found (Debian's, RHEL/UBI's
 * /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, where the operator injects a cluster's CAs, and
 * the others Go knows), and of every file in each folder of SSL_CERT_DIR (colon-separated), else of
 * /etc/ssl/certs and /etc/pki/tls/certs: PEM bundles of many certificates, and the HASH.0 links of
 * c_rehash. With --insecure, anyone.
 */
public final class Trust {

    /** The bundles Go reads, the first that exists, when SSL_CERT_FILE is unset (crypto/x509/root_linux.go). */
    static final List<String> SYSTEM_FILES = List.of(
            "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo
            "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL 6
            "/etc/ssl/ca-bundle.pem", // OpenSUSE
            "/etc/pki/tls/cacert.pem", // OpenELEC
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7 and later, UBI
            "/etc/ssl/cert.pem"); // Alpine
    /** The folders Go reads when SSL_CERT_DIR is unset. */
    static final List<String> SYSTEM_DIRS = List.of("/etc/ssl/certs", "/etc/pki/tls/certs");

    private final Environment environment;
    private final boolean insecure;
    private SSLContext context;
    private X509ExtendedTrustManager manager;

    private Trust(Environment environment, boolean insecure) {
        this.environment = environment;
        this.insecure = insecure;
    }

    /** The trust of this environment; insecure trusts any certificate and any host name. */
    public static Trust of(Environment environment, boolean insecure) {
        return new Trust(environment, insecure);
    }

    public boolean insecure() {
        return insecure;
    }

    /** The trust manager every store's TLS uses. */
    public synchronized X509ExtendedTrustManager manager() {
        if (manager == null) {
            try {
                manager = insecure ? TRUST_ALL : trusted(environment);
            } catch (GeneralSecurityException e) {
                throw new StoreError("setting up TLS: " + Reason.of(e), e);
            }
        }
        return manager;
    }

    /** An SSLContext on that trust manager, for a client that takes one. */
    public synchronized SSLContext context() {
        if (context == null) {
            try {
                context = SSLContext.getInstance("TLS");
                context.init(null, new TrustManager[] {manager()}, null);
            } catch (GeneralSecurityException e) {
                throw new StoreError("setting up TLS: " + Reason.of(e), e);
            }
        }
        return context;
    }

    /**
     * What a message says of the CAs trusted, when a certificate was refused: which variables were
     * read, so that a user behind an internal CA sees where to put it.
     */
    public String says() {
        if (insecure) {
            return "no certificate is checked (insecure)";
        }
        String file = environment.get("SSL_CERT_FILE");
        String dirs = environment.get("SSL_CERT_DIR");
        return "trusted: the Java runtime's CAs, "
                + (present(file) ? "SSL_CERT_FILE=" + file : "SSL_CERT_FILE unset (so the system bundle)") + ", "
                + (present(dirs) ? "SSL_CERT_DIR=" + dirs : "SSL_CERT_DIR unset (so " + String.join(":", SYSTEM_DIRS) + ")");
    }

    private static boolean present(String value) {
        return value != null && !value.isBlank();
    }

    /**
     * The runtime's CAs first; the others are read only when those refuse a chain, since parsing a
     * system bundle costs time and most stores never need it.
     */
    private static X509ExtendedTrustManager trusted(Environment environment) throws GeneralSecurityException {
        X509ExtendedTrustManager jdk = trustManager(null);
        String file = environment.get("SSL_CERT_FILE");
        String dirs = environment.get("SSL_CERT_DIR");
        return new X509ExtendedTrustManager() {
            private X509ExtendedTrustManager extra;

            private synchronized X509ExtendedTrustManager extra() throws CertificateException {
                if (extra == null) {
                    try {
                        extra = trustManager(extraCertificates(file, dirs));
                    } catch (GeneralSecurityException e) {
                        throw new CertificateException("reading the CAs of SSL_CERT_FILE / SSL_CERT_DIR: " + e.getMessage(), e);
                    }
                }
                return extra;
            }

            /** The runtime's verdict, or the extra CAs' when the runtime refuses. */
            private void either(Check check) throws CertificateException {
                try {
                    check.by(jdk);
                } catch (CertificateException e) {
                    try {
                        check.by(extra());
                    } catch (CertificateException again) {
                        again.addSuppressed(e);
                        throw again;
                    }
                }
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                either(manager -> manager.checkServerTrusted(chain, authType, engine));
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                either(manager -> manager.checkServerTrusted(chain, authType, socket));
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                either(manager -> manager.checkServerTrusted(chain, authType));
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                jdk.checkClientTrusted(chain, authType, engine);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                jdk.checkClientTrusted(chain, authType, socket);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                jdk.checkClientTrusted(chain, authType);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return jdk.getAcceptedIssuers();
            }
        };
    }

    /** One of a trust manager's checks of a server's chain. */
    private interface Check {
        void by(X509ExtendedTrustManager manager) throws CertificateException;
    }

    /** The PKIX trust manager for these CAs, or for the runtime's own when null. */
    private static X509ExtendedTrustManager trustManager(KeyStore cas) throws GeneralSecurityException {
        var factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(cas);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager x509) {
                return x509;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager in this Java runtime");
    }

    private static KeyStore extraCertificates(String file, String dirs) throws GeneralSecurityException {
        var certificates = new LinkedHashMap<String, Certificate>(); // by encoding: a bundle and its folder repeat each CA
        if (present(file)) {
            read(Path.of(file), certificates);
        } else {
            for (String system : SYSTEM_FILES) {
                if (Files.isRegularFile(Path.of(system))) {
                    read(Path.of(system), certificates);
                    break;
                }
            }
        }
        for (String dir : present(dirs) ? List.of(dirs.split(":")) : SYSTEM_DIRS) {
            if (!dir.isBlank()) {
                readDir(Path.of(dir), certificates);
            }
        }
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try {
            store.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
        int n = 0;
        for (Certificate ca : certificates.values()) {
            store.setCertificateEntry("ca-" + n++, ca);
        }
        return store;
    }

    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\\s]+?)-----END CERTIFICATE-----");

    /**
     * Every certificate of a PEM file, whatever else it holds (RHEL's bundle has a comment before
     * each; a private key or a TRUSTED CERTIFICATE block is passed over, as Go passes it), as Go's
     * AppendCertsFromPEM reads it.
     */
    private static void read(Path file, Map<String, Certificate> into) throws GeneralSecurityException {
        String text;
        try {
            text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot read " + file + ": " + Reason.of(e), e);
        }
        var factory = CertificateFactory.getInstance("X.509");
        Matcher block = PEM.matcher(text);
        while (block.find()) {
            byte[] der;
            try {
                der = Base64.getMimeDecoder().decode(block.group(1));
            } catch (IllegalArgumentException e) {
                continue;
            }
            try {
                into.putIfAbsent(Base64.getEncoder().encodeToString(der), factory.generateCertificate(new ByteArrayInputStream(der)));
            } catch (CertificateException e) {
                // not a certificate this runtime reads: Go skips it too
            }
        }
    }

    /** Every regular file of the folder, links followed (c_rehash's HASH.0 among them); a folder that is not there is passed over. */
    private static void readDir(Path dir, Map<String, Certificate> into) throws GeneralSecurityException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                if (Files.isRegularFile(file) && Files.isReadable(file)) {
                    read(file, into);
                }
            }
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot read " + dir + ": " + Reason.of(e), e);
        }
    }

    /**
     * Accepts every certificate and host name. It must be an X509ExtendedTrustManager: the runtime
     * wraps a plain X509TrustManager in one that checks the host name all the same.
     */
    private static final X509ExtendedTrustManager TRUST_ALL = new X509ExtendedTrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };
}

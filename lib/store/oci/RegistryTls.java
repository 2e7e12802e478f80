package lib.store.oci;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import lib.common.Environment;
import lib.common.Reason;
import lib.common.StoreError;

/**
 * Whom a registry's TLS certificate must come from: the Java runtime's CAs plus those of
 * SSL_CERT_FILE and SSL_CERT_DIR (the variables Go programs and OpenSSL read, so a cluster's CA
 * bundle mounted for the Go tool serves here too); or, with --insecure, anyone.
 */
final class RegistryTls {

    private RegistryTls() {}

    static SSLContext context(boolean insecure, Environment environment) {
        try {
            var context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {insecure ? TRUST_ALL : trusted(environment)}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new StoreError("setting up TLS: " + Reason.of(e), e);
        }
    }

    /**
     * The runtime's CAs first; the extra ones are read only when those fail, since parsing a
     * system bundle (SSL_CERT_FILE often names one) costs seconds and most registries never need it.
     */
    private static X509ExtendedTrustManager trusted(Environment environment) throws GeneralSecurityException {
        X509ExtendedTrustManager jdk = trustManager(null);
        String file = environment.get("SSL_CERT_FILE");
        String dirs = environment.get("SSL_CERT_DIR");
        if ((file == null || file.isBlank()) && (dirs == null || dirs.isBlank())) {
            return jdk;
        }
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
                    check.by(extra());
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
        var certificates = new ArrayList<Certificate>();
        if (file != null && !file.isBlank()) {
            certificates.addAll(read(Path.of(file)));
        }
        if (dirs != null && !dirs.isBlank()) {
            for (String dir : dirs.split(":")) {
                certificates.addAll(readDir(Path.of(dir)));
            }
        }
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try {
            store.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
        int n = 0;
        for (Certificate ca : certificates) {
            store.setCertificateEntry("ca-" + n++, ca);
        }
        return store;
    }

    private static List<Certificate> read(Path file) throws GeneralSecurityException {
        try (InputStream in = Files.newInputStream(file)) {
            return new ArrayList<>(CertificateFactory.getInstance("X.509").generateCertificates(in));
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot read " + file + ": " + Reason.of(e), e);
        }
    }

    private static List<Certificate> readDir(Path dir) throws GeneralSecurityException {
        var certificates = new ArrayList<Certificate>();
        if (!Files.isDirectory(dir)) {
            return certificates;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{pem,crt}")) {
            for (Path file : files) {
                certificates.addAll(read(file));
            }
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot read " + dir + ": " + Reason.of(e), e);
        }
        return certificates;
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

package lib.trust;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import lib.common.UsageError;

/**
 * A key file the user named (--sign-key, --verify-key), read into its PEM blocks. Every refusal is
 * a UsageError of one line that names the file and says what is wrong with it, never quoting the
 * file: a key's bytes must not reach a log, and a PEM label is quoted only when it is one we know.
 */
final class KeyFile {

    /** A key file is a few hundred bytes; anything much larger is something else. */
    static final int MAX_BYTES = 64 * 1024;

    /** The labels a message may name; any other label is "an unknown PEM block", unquoted. */
    private static final Set<String> KNOWN = Set.of("PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY",
            "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
            "RSA PRIVATE KEY", "RSA PUBLIC KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "CERTIFICATE",
            "CERTIFICATE REQUEST", "X509 CRL", "EC PARAMETERS", "PGP PRIVATE KEY BLOCK", "PGP PUBLIC KEY BLOCK");

    /** One PEM block: its label ("PRIVATE KEY") and its decoded body. */
    record Block(String label, byte[] der) {
        /** How a message names it: its label in quotes if it is one we know. */
        String named() {
            return KNOWN.contains(label) ? label : "an unknown PEM block";
        }

        @Override
        public String toString() {
            return "PEM block " + named();
        }
    }

    final Path path;
    /** "signing key" or "verify key", the start of every message. */
    private final String role;
    /** The one key block the file holds. */
    final Block block;

    private KeyFile(Path path, String role) {
        this.path = path;
        this.role = role;
        this.block = blocks(bytes());
    }

    /** The refusal of this file, in one line: "signing key /k.pem: is not a PEM file". */
    UsageError refuse(String what) {
        return new UsageError(role + " " + path + ": " + what);
    }

    /**
     * The file read, holding one PEM block (the EC PARAMETERS that `openssl ecparam -genkey` writes
     * before its key are passed over); role is "signing key" or "verify key".
     */
    static KeyFile read(Path path, String role) {
        return new KeyFile(path, role);
    }

    private byte[] bytes() {
        try {
            if (Files.isDirectory(path)) {
                throw refuse("is a directory, not a key file");
            }
            long size = Files.size(path);
            if (size > MAX_BYTES) {
                throw refuse("is " + size + " bytes, larger than any key file (" + MAX_BYTES + " at most)");
            }
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw refuse("no such file");
        } catch (AccessDeniedException e) {
            throw refuse("cannot be read (permission denied)");
        } catch (IOException e) {
            throw refuse("cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }

    private Block blocks(byte[] bytes) {
        var blocks = new ArrayList<Block>();
        String label = null;
        var body = new StringBuilder();
        for (String line : new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1).split("\r?\n", -1)) {
            String trimmed = line.strip();
            if (label == null) {
                if (trimmed.startsWith("-----BEGIN ") && trimmed.endsWith("-----") && trimmed.length() > 16) {
                    label = trimmed.substring(11, trimmed.length() - 5);
                    body.setLength(0);
                }
            } else if (trimmed.equals("-----END " + label + "-----")) {
                blocks.add(new Block(label, decode(label, body)));
                label = null;
            } else if (trimmed.contains(":")) {
                // RFC 1421 headers: "Proc-Type: 4,ENCRYPTED" and "DEK-Info", openssl's legacy encryption
                throw refuse("is encrypted the legacy OpenSSL way (Proc-Type header); "
                        + "write it unencrypted (openssl pkey) or as a cosign key");
            } else {
                body.append(trimmed);
            }
        }
        if (label != null) {
            throw refuse("a PEM block has no END line");
        }
        blocks.removeIf(block -> block.label.equals("EC PARAMETERS"));
        if (blocks.isEmpty()) {
            throw refuse("is not a PEM file (no -----BEGIN line)");
        }
        if (blocks.size() > 1) {
            throw refuse("holds " + blocks.size() + " PEM blocks; one key is expected");
        }
        return blocks.get(0);
    }

    private byte[] decode(String label, CharSequence body) {
        try {
            return Base64.getDecoder().decode(body.toString());
        } catch (IllegalArgumentException e) {
            throw refuse("the body of " + new Block(label, null).named() + " is not base64");
        }
    }
}

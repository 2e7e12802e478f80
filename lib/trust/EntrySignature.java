package lib.trust;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The signature of an entry on a blob store or a folder (s3://, gs://, azblob://, file://), stored
 * with the entry: five lines of UTF-8 text, each ending in LF, for example
 *
 * <pre>
 * tekton-caches signed entry v1
 * entry cache/go-3f2a9c0d81e4
 * index sha256:9b1c...(64 hex digits)
 * key ecdsa-p256 SHA256:1a2b3c4d5e6f
 * signature MEUCIQD...(base64)
 * </pre>
 *
 * The first three lines are the payload, the bytes signed: the format, the entry's name in its
 * store (so that a signature cannot be moved to another key's entry), and what names every byte of
 * the entry: "index" and the sha256 of its index, or "stream" and the sha256 of a one-stream entry.
 * The last two are not signed: the id of the key that signed ({@link VerifyKey#id}, a hint for
 * messages, never trusted) and the signature in standard base64 (ECDSA P-256: ASN.1 DER over the
 * payload's SHA-256; Ed25519: 64 bytes over the payload). A signature is verified against what the
 * fetch expects, never against what the lines say alone ({@link #verifiedBy}).
 *
 * <p>By hand, with the text in entry.sig and the public key in pub.pem:
 *
 * <pre>
 * head -n 3 entry.sig &gt; payload.bin
 * sed -n 's/^signature //p' entry.sig | base64 -d &gt; sig.bin
 * openssl dgst -sha256 -verify pub.pem -signature sig.bin payload.bin                   # ECDSA: Verified OK
 * openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in payload.bin -sigfile sig.bin # Ed25519: Signature Verified Successfully
 * sed -n 2,3p entry.sig      # then check that these name the entry and its digest (sha256sum of the index or the object)
 * </pre>
 */
public final class EntrySignature {

    /** The first line, naming the format and its version. */
    public static final String FORMAT = "tekton-caches signed entry v1";
    /** The whole text: five short lines; an entry name of 1,024 bytes at most leaves room. */
    public static final int MAX_BYTES = 4096;
    /** S3's and Azure's longest object name; GCS allows the same. */
    public static final int MAX_ENTRY_BYTES = 1024;
    private static final int MAX_SIGNATURE_BYTES = 256;

    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern KEY_ID = Pattern.compile("(ecdsa-p256|ed25519) SHA256:[0-9a-f]{12}");
    private static final Pattern BASE64 = Pattern.compile("[A-Za-z0-9+/]+={0,2}");

    /** What the digest names: the entry's index, or the one stream of a one-stream entry. */
    public enum Subject {
        INDEX("index"),
        STREAM("stream");

        final String word;

        Subject(String word) {
            this.word = word;
        }
    }

    private final String entry;
    private final Subject subject;
    private final String digest;
    private final String keyId;
    private final byte[] signature;

    private EntrySignature(String entry, Subject subject, String digest, String keyId, byte[] signature) {
        this.entry = entry;
        this.subject = subject;
        this.digest = digest;
        this.keyId = keyId;
        this.signature = signature.clone();
    }

    /** The bytes signed: the first three lines. IllegalArgumentException for a name or digest out of format. */
    public static byte[] payload(String entry, Subject subject, String digest) {
        if (!validEntry(entry)) {
            throw new IllegalArgumentException("an entry name of 1 to " + MAX_ENTRY_BYTES
                    + " bytes without a control character is needed");
        }
        if (!DIGEST.matcher(digest).matches()) {
            throw new IllegalArgumentException("not a sha256 digest: " + digest);
        }
        return (FORMAT + "\nentry " + entry + "\n" + subject.word + " " + digest + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** The entry's signature by that key. */
    public static EntrySignature sign(SigningKey key, String entry, Subject subject, String digest) {
        return new EntrySignature(entry, subject, digest, key.publicKey().id(), key.sign(payload(entry, subject, digest)));
    }

    /** The text stored with the entry. */
    public byte[] render() {
        byte[] payload = payload();
        byte[] rest = ("key " + keyId + "\nsignature " + Base64.getEncoder().encodeToString(signature) + "\n")
                .getBytes(StandardCharsets.UTF_8);
        byte[] text = java.util.Arrays.copyOf(payload, payload.length + rest.length);
        System.arraycopy(rest, 0, text, payload.length, rest.length);
        return text;
    }

    /** The text read back, refused unless it is exactly this format within its limits. */
    public static EntrySignature parse(byte[] text) throws BadSignature {
        if (text.length > MAX_BYTES) {
            throw new BadSignature("the entry's signature is " + text.length + " bytes, more than " + MAX_BYTES);
        }
        String whole;
        try {
            whole = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(text)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BadSignature("the entry's signature is not UTF-8 text");
        }
        if (!whole.endsWith("\n")) {
            throw new BadSignature("the entry's signature does not end with a line feed");
        }
        String[] lines = whole.substring(0, whole.length() - 1).split("\n", -1);
        if (lines.length != 5 || !lines[0].equals(FORMAT)) {
            throw new BadSignature("the entry's signature is not five lines starting \"" + FORMAT + "\"");
        }
        String entry = after(lines[1], "entry ");
        if (entry == null || !validEntry(entry)) {
            throw new BadSignature("the entry's signature has no valid entry line");
        }
        Subject subject = null;
        String digest = null;
        for (Subject candidate : Subject.values()) {
            String rest = after(lines[2], candidate.word + " ");
            if (rest != null) {
                subject = candidate;
                digest = rest;
            }
        }
        if (subject == null || !DIGEST.matcher(digest).matches()) {
            throw new BadSignature("the entry's signature has no valid index or stream line");
        }
        String keyId = after(lines[3], "key ");
        if (keyId == null || !KEY_ID.matcher(keyId).matches()) {
            throw new BadSignature("the entry's signature has no valid key line");
        }
        String base64 = after(lines[4], "signature ");
        if (base64 == null || base64.length() % 4 != 0 || !BASE64.matcher(base64).matches()) {
            throw new BadSignature("the entry's signature has no valid signature line");
        }
        byte[] signature = Base64.getDecoder().decode(base64);
        if (signature.length > MAX_SIGNATURE_BYTES) {
            throw new BadSignature("the entry's signature is longer than any ECDSA P-256 or Ed25519 signature");
        }
        return new EntrySignature(entry, subject, digest, keyId, signature);
    }

    /**
     * The trusted key that signed this entry, if this signature is for the entry the caller expects
     * (its name in the store, and the digest the restore then checks) and one of the keys made it.
     */
    public Optional<VerifyKey> verifiedBy(TrustedKeys keys, String entry, Subject subject, String digest) {
        return names(entry, subject, digest) ? keys.verifiedBy(payload(), signature) : Optional.empty();
    }

    /** Whether the signed lines name this entry and digest: a signature for another one does not count. */
    public boolean names(String entry, Subject subject, String digest) {
        return this.entry.equals(entry) && this.subject == subject && this.digest.equals(digest);
    }

    public byte[] payload() {
        return payload(entry, subject, digest);
    }

    public String entry() {
        return entry;
    }

    public Subject subject() {
        return subject;
    }

    public String digest() {
        return digest;
    }

    /** The id of the key the signer says it used: a hint for messages, not checked. */
    public String keyId() {
        return keyId;
    }

    public byte[] signature() {
        return signature.clone();
    }

    @Override
    public String toString() {
        return "signature of " + entry + " (" + subject.word + " " + digest + ") by " + keyId;
    }

    private static boolean validEntry(String entry) {
        int bytes = entry.getBytes(StandardCharsets.UTF_8).length;
        return bytes >= 1 && bytes <= MAX_ENTRY_BYTES && entry.codePoints().noneMatch(c -> c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0));
    }

    private static String after(String line, String prefix) {
        return line.startsWith(prefix) ? line.substring(prefix.length()) : null;
    }
}

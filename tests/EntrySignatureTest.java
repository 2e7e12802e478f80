import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import lib.trust.BadSignature;
import lib.trust.EntrySignature;
import lib.trust.EntrySignature.Subject;
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The signature stored with an entry on a blob store: its text, its checks, and its verification by hand. */
class EntrySignatureTest {

    private static final String ENTRY = "caches/go-3f2a9c0d81e4";
    private static final String DIGEST = "sha256:" + "0123456789abcdef".repeat(4);
    private static final String OTHER_DIGEST = "sha256:" + "fedcba9876543210".repeat(4);

    @TempDir
    Path tmp;

    private SigningKey key(String kind, String name) throws Exception {
        Path file = kind.equals("ed25519") ? TrustFixtures.ed25519Key(tmp, name) : TrustFixtures.ecdsaKey(tmp, name);
        return SigningKey.load(file, TrustFixtures.password(null));
    }

    @Test
    void theTextIsFiveLinesThePayloadTheFirstThree() throws Exception {
        SigningKey key = key("ecdsa-p256", "key.pem");

        EntrySignature signature = EntrySignature.sign(key, ENTRY, Subject.INDEX, DIGEST);
        String text = new String(signature.render(), StandardCharsets.UTF_8);

        String payload = "tekton-caches signed entry v1\nentry " + ENTRY + "\nindex " + DIGEST + "\n";
        assertEquals(payload, new String(signature.payload(), StandardCharsets.UTF_8));
        assertTrue(text.startsWith(payload + "key " + key.publicKey().id() + "\nsignature "), text);
        assertTrue(text.endsWith("\n") && text.split("\n").length == 5, text);
        EntrySignature back = EntrySignature.parse(signature.render());
        assertArrayEquals(signature.render(), back.render());
        assertEquals(Optional.of(key.publicKey()),
                back.verifiedBy(TrustedKeys.of(List.of(key.publicKey())), ENTRY, Subject.INDEX, DIGEST));
    }

    /** The commands of EntrySignature's javadoc, as written there, run by sh. */
    @ParameterizedTest
    @ValueSource(strings = {"ecdsa-p256", "ed25519"})
    void opensslVerifiesItByTheDocumentedCommands(String kind) throws Exception {
        SigningKey key = key(kind, "key.pem");
        Files.copy(TrustFixtures.publicKey(tmp.resolve("key.pem")), tmp.resolve("pub.pem"));
        Files.write(tmp.resolve("entry.sig"), EntrySignature.sign(key, ENTRY, Subject.STREAM, DIGEST).render());
        String verify = kind.equals("ed25519")
                ? "openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in payload.bin -sigfile sig.bin"
                : "openssl dgst -sha256 -verify pub.pem -signature sig.bin payload.bin";

        var run = TrustFixtures.sh(tmp, "head -n 3 entry.sig > payload.bin\n"
                + "sed -n 's/^signature //p' entry.sig | base64 -d > sig.bin\n"
                + verify + "\n"
                + "sed -n 2,3p entry.sig\n");

        assertEquals(0, run.status(), run.toString());
        assertEquals(List.of(kind.equals("ed25519") ? "Signature Verified Successfully" : "Verified OK",
                "entry " + ENTRY, "stream " + DIGEST), run.out().lines().toList());
    }

    @Test
    void aSignatureForAnotherEntryDigestOrSubjectIsNotTrusted() throws Exception {
        SigningKey key = key("ecdsa-p256", "key.pem");
        TrustedKeys trusted = TrustedKeys.of(List.of(key.publicKey()));
        EntrySignature signature = EntrySignature.parse(EntrySignature.sign(key, ENTRY, Subject.INDEX, DIGEST).render());

        assertEquals(Optional.empty(), signature.verifiedBy(trusted, ENTRY + "x", Subject.INDEX, DIGEST), "moved to another key");
        assertEquals(Optional.empty(), signature.verifiedBy(trusted, ENTRY, Subject.INDEX, OTHER_DIGEST), "another index");
        assertEquals(Optional.empty(), signature.verifiedBy(trusted, ENTRY, Subject.STREAM, DIGEST), "an index taken for a stream");
        assertFalse(signature.names(ENTRY + "x", Subject.INDEX, DIGEST));
    }

    @Test
    void aSignatureWhoseLinesWereEditedOrByAnUntrustedKeyIsNotTrusted() throws Exception {
        SigningKey key = key("ed25519", "key.pem");
        SigningKey stranger = key("ed25519", "stranger.pem");
        TrustedKeys trusted = TrustedKeys.of(List.of(key.publicKey()));
        String text = new String(EntrySignature.sign(key, ENTRY, Subject.INDEX, DIGEST).render(), StandardCharsets.UTF_8);
        // the lines say the new digest, but the signature was made over the old one
        EntrySignature edited = EntrySignature.parse(text.replace(DIGEST, OTHER_DIGEST).getBytes(StandardCharsets.UTF_8));

        assertEquals(Optional.empty(), edited.verifiedBy(trusted, ENTRY, Subject.INDEX, OTHER_DIGEST));
        assertEquals(Optional.empty(), EntrySignature.sign(stranger, ENTRY, Subject.INDEX, DIGEST)
                .verifiedBy(trusted, ENTRY, Subject.INDEX, DIGEST));
        // the key line is a hint: claiming the trusted key's id does not make a stranger's signature trusted
        String claimed = new String(EntrySignature.sign(stranger, ENTRY, Subject.INDEX, DIGEST).render(), StandardCharsets.UTF_8)
                .replace(stranger.publicKey().id(), key.publicKey().id());
        assertEquals(Optional.empty(), EntrySignature.parse(claimed.getBytes(StandardCharsets.UTF_8))
                .verifiedBy(trusted, ENTRY, Subject.INDEX, DIGEST));
    }

    @Test
    void rotatedKeysBothVerify() throws Exception {
        SigningKey old = key("ecdsa-p256", "old.pem");
        SigningKey current = key("ed25519", "new.pem");
        TrustedKeys trusted = TrustedKeys.of(List.of(old.publicKey(), current.publicKey()));

        for (SigningKey signer : List.of(old, current)) {
            EntrySignature signature = EntrySignature.parse(EntrySignature.sign(signer, ENTRY, Subject.INDEX, DIGEST).render());
            assertEquals(Optional.of(signer.publicKey()), signature.verifiedBy(trusted, ENTRY, Subject.INDEX, DIGEST));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
        another format line  | tekton-caches signed entry v2\\nentry E\\nindex D\\nkey K\\nsignature S\\n
        four lines           | tekton-caches signed entry v1\\nentry E\\nindex D\\nsignature S\\n
        six lines            | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey K\\nsignature S\\nmore\\n
        no final line feed   | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey K\\nsignature S
        CR LF lines          | tekton-caches signed entry v1\\r\\nentry E\\r\\nindex D\\r\\nkey K\\r\\nsignature S\\r\\n
        an empty entry       | tekton-caches signed entry v1\\nentry \\nindex D\\nkey K\\nsignature S\\n
        a tab in the entry   | tekton-caches signed entry v1\\nentry a\\tb\\nindex D\\nkey K\\nsignature S\\n
        neither index nor stream | tekton-caches signed entry v1\\nentry E\\nobject D\\nkey K\\nsignature S\\n
        a digest not sha256  | tekton-caches signed entry v1\\nentry E\\nindex md5:0123\\nkey K\\nsignature S\\n
        a key of no format   | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey rsa SHA256:0123456789ab\\nsignature S\\n
        no signature         | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey K\\nsignature \\n
        not base64           | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey K\\nsignature MEUC*IQ==\\n
        base64 cut           | tekton-caches signed entry v1\\nentry E\\nindex D\\nkey K\\nsignature MEUCIQ=\\n
        """)
    void aTextNotExactlyThisFormatIsRefused(String name, String text) {
        byte[] bytes = text.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t").replace(" E\n", " " + ENTRY + "\n")
                .replace(" D\n", " " + DIGEST + "\n").replace(" K\n", " ecdsa-p256 SHA256:0123456789ab\n")
                .replace(" S\n", " MEUCIQDx\n").getBytes(StandardCharsets.UTF_8);

        assertThrows(BadSignature.class, () -> EntrySignature.parse(bytes));
    }

    @Test
    void theTemplateOfTheRefusedTextsIsItselfAccepted() throws Exception {
        // the rows above differ from this one in the one thing each names
        String text = "tekton-caches signed entry v1\nentry " + ENTRY + "\nindex " + DIGEST
                + "\nkey ecdsa-p256 SHA256:0123456789ab\nsignature MEUCIQDx\n";

        assertEquals(ENTRY, EntrySignature.parse(text.getBytes(StandardCharsets.UTF_8)).entry());
    }

    @Test
    void limitsOfSizeEncodingAndNames() throws Exception {
        String line = "tekton-caches signed entry v1\nentry ";
        byte[] notUtf8 = (line + "\u00ff").getBytes(StandardCharsets.ISO_8859_1);
        byte[] tooLarge = new byte[EntrySignature.MAX_BYTES + 1];
        byte[] longSignature = ("tekton-caches signed entry v1\nentry " + ENTRY + "\nindex " + DIGEST
                + "\nkey ecdsa-p256 SHA256:0123456789ab\nsignature " + "A".repeat(400) + "\n").getBytes(StandardCharsets.UTF_8);

        assertTrue(assertThrows(BadSignature.class, () -> EntrySignature.parse(notUtf8)).getMessage().contains("UTF-8"));
        assertTrue(assertThrows(BadSignature.class, () -> EntrySignature.parse(tooLarge)).getMessage().contains("more than"));
        assertThrows(BadSignature.class, () -> EntrySignature.parse(longSignature));
        assertThrows(IllegalArgumentException.class, () -> EntrySignature.payload("a\nb", Subject.INDEX, DIGEST));
        assertThrows(IllegalArgumentException.class,
                () -> EntrySignature.payload("x".repeat(EntrySignature.MAX_ENTRY_BYTES + 1), Subject.INDEX, DIGEST));
        assertThrows(IllegalArgumentException.class, () -> EntrySignature.payload(ENTRY, Subject.INDEX, "sha256:00"));
        // a name of 1,024 bytes of UTF-8 still renders within the limit and reads back
        String longest = "\u00e9".repeat(EntrySignature.MAX_ENTRY_BYTES / 2);
        SigningKey key = key("ecdsa-p256", "key.pem");
        assertEquals(longest, EntrySignature.parse(EntrySignature.sign(key, longest, Subject.INDEX, DIGEST).render()).entry());
    }
}

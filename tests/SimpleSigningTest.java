import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import lib.trust.BadSignature;
import lib.trust.SigningKey;
import lib.trust.SimpleSigning;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Cosign's simple-signing payload: the bytes cosign signs, read back as strictly as skopeo reads them. */
class SimpleSigningTest {

    private static final String DIGEST = "sha256:" + "0123456789abcdef".repeat(4);
    private static final String REFERENCE = "registry.example:5000/team/cache";

    @TempDir
    Path tmp;

    @Test
    void thePayloadIsTheBytesCosignSigns() {
        // sigstore pkg/signature/payload: Go's encoding/json of SimpleContainerImage, fields in declaration
        // order, no space, and a nil Optional map as null
        assertEquals("{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example:5000/team/cache\"},"
                        + "\"image\":{\"docker-manifest-digest\":\"" + DIGEST + "\"},"
                        + "\"type\":\"cosign container image signature\"},\"optional\":null}",
                new String(SimpleSigning.payload(REFERENCE, DIGEST), StandardCharsets.UTF_8));
    }

    @Test
    void cosignsStorageNames() {
        assertEquals("sha256-" + DIGEST.substring(7) + ".sig", SimpleSigning.signatureTag(DIGEST));
        assertEquals("application/vnd.dev.cosign.simplesigning.v1+json", SimpleSigning.MEDIA_TYPE);
        assertEquals("dev.cosignproject.cosign/signature", SimpleSigning.SIGNATURE_ANNOTATION);
    }

    @Test
    void aPayloadReadsBackAndSoDoesOneWithAnnotations() throws Exception {
        assertEquals(new SimpleSigning.Claim(REFERENCE, DIGEST), SimpleSigning.parse(SimpleSigning.payload(REFERENCE, DIGEST)));
        // what `cosign sign -a creator=ci` and containers/image write: optional holds annotations
        byte[] annotated = ("{\"critical\":{\"identity\":{\"docker-reference\":\"" + REFERENCE + "\"},\"image\":"
                + "{\"docker-manifest-digest\":\"" + DIGEST + "\"},\"type\":\"cosign container image signature\"},"
                + "\"optional\":{\"creator\":\"ci\",\"timestamp\":1700000000}}").getBytes(StandardCharsets.UTF_8);
        assertEquals(DIGEST, SimpleSigning.manifestDigest(annotated));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
        another type          | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"atomic container signature"},"optional":null}
        no digest             | {"critical":{"identity":{"docker-reference":"r/x"},"image":{},"type":"cosign container image signature"},"optional":null}
        a digest not sha256   | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"md5:0123"},"type":"cosign container image signature"},"optional":null}
        a digest in capitals  | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"SHA256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},"type":"cosign container image signature"},"optional":null}
        no identity           | {"critical":{"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":null}
        a field more          | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature","extra":1},"optional":null}
        no optional           | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"}}
        optional a string     | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":"x"}
        a key twice           | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":null,"optional":null}
        text after the object | {"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":null} {}
        malformed JSON        | {"critical":{"identity":
        not an object         | ["critical"]
        """)
    void aPayloadThatIsNotExactlySimpleSigningIsRefused(String name, String payload) {
        byte[] bytes = payload.replace("DIGEST", DIGEST).getBytes(StandardCharsets.UTF_8);

        var refused = assertThrows(BadSignature.class, () -> SimpleSigning.parse(bytes));

        assertFalse(refused.getMessage().contains("r/x") || refused.getMessage().contains("atomic"),
                "the message quotes no payload: " + refused.getMessage());
    }

    @Test
    void anOversizedPayloadIsRefusedUnread() {
        byte[] big = new byte[SimpleSigning.MAX_PAYLOAD_BYTES + 1];

        assertTrue(assertThrows(BadSignature.class, () -> SimpleSigning.parse(big)).getMessage().contains("more than"));
    }

    @Test
    void ourSignatureOfThePayloadIsWhatOpensslVerifies() throws Exception {
        Path key = TrustFixtures.ecdsaKey(tmp, "key.pem");
        byte[] payload = SimpleSigning.payload(REFERENCE, DIGEST);
        Files.write(tmp.resolve("payload.json"), payload);
        Files.write(tmp.resolve("sig.der"), SigningKey.load(key, TrustFixtures.password(null)).sign(payload));

        assertEquals("Verified OK", TrustFixtures.openssl(tmp, "dgst", "-sha256", "-verify",
                TrustFixtures.publicKey(key).toString(), "-signature", "sig.der", "payload.json").strip());
    }
}

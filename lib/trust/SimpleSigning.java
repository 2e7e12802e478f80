package lib.trust;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Cosign's key-based signature of an image, as a registry stores it: the simple-signing payload
 * (containers-signature(5)'s JSON, of cosign's type) signed, and its storage. The payload is the
 * bytes cosign signs for `cosign sign --key` (sigstore's payload.Cosign marshalled by Go, fields in
 * that order, no space, no annotation):
 *
 * <pre>{"critical":{"identity":{"docker-reference":"registry.example:5000/team/cache"},
 * "image":{"docker-manifest-digest":"sha256:<hex>"},"type":"cosign container image signature"},"optional":null}</pre>
 *
 * (one line). It is pushed, as cosign does, as an image tagged {@link #signatureTag} in the same
 * repository, one layer of media type {@link #MEDIA_TYPE} holding the payload, the layer's
 * annotation {@link #SIGNATURE_ANNOTATION} holding the signature in base64. skopeo's sigstoreSigned
 * policy reads it strictly (containers/image signature/internal/sigstore_payload.go: exactly these
 * fields, the type exactly this string), and so does {@link #parse}.
 */
public final class SimpleSigning {

    /** critical.type, which containers/image and cosign both require exactly. */
    public static final String TYPE = "cosign container image signature";
    /** The signature layer's media type (cosign pkg/types SimpleSigningMediaType). */
    public static final String MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
    /** The layer annotation holding the base64 signature (cosign pkg/oci/static SignatureAnnotationKey). */
    public static final String SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
    /** A payload is a few hundred bytes; cosign's with annotations, a few KiB. */
    public static final int MAX_PAYLOAD_BYTES = 64 * 1024;

    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    /** A registry and repository, host[:port]/path: nothing Go's encoder would escape. */
    private static final Pattern REFERENCE = Pattern.compile("[A-Za-z0-9.\\-\\[\\]:]+(/[a-z0-9._\\-]+)+");

    /** What a payload says: which repository's image, by its manifest's digest. */
    public record Claim(String dockerReference, String manifestDigest) {}

    private SimpleSigning() {}

    /**
     * The payload cosign signs for the manifest of that digest ("sha256:<hex>") in that repository
     * ("host[:port]/path", no tag or digest: go-containerregistry's Repository.Name()).
     */
    public static byte[] payload(String dockerReference, String manifestDigest) {
        if (!REFERENCE.matcher(dockerReference).matches() || dockerReference.length() > 1024) {
            throw new IllegalArgumentException("not a registry/repository reference: " + dockerReference);
        }
        if (!DIGEST.matcher(manifestDigest).matches()) {
            throw new IllegalArgumentException("not a sha256 digest: " + manifestDigest);
        }
        return ("{\"critical\":{\"identity\":{\"docker-reference\":\"" + dockerReference + "\"},"
                + "\"image\":{\"docker-manifest-digest\":\"" + manifestDigest + "\"},"
                + "\"type\":\"" + TYPE + "\"},\"optional\":null}").getBytes(StandardCharsets.UTF_8);
    }

    /** The tag cosign stores the signatures of that manifest under: "sha256-<hex>.sig". */
    public static String signatureTag(String manifestDigest) {
        if (!DIGEST.matcher(manifestDigest).matches()) {
            throw new IllegalArgumentException("not a sha256 digest: " + manifestDigest);
        }
        return manifestDigest.replace(':', '-') + ".sig";
    }

    /**
     * What a payload read from a registry claims, refused unless it is exactly a simple-signing
     * payload of cosign's type naming a sha256 manifest digest. The payload's signature is checked
     * first, elsewhere: this only reads it.
     */
    public static Claim parse(byte[] payload) throws BadSignature {
        if (payload.length > MAX_PAYLOAD_BYTES) {
            throw new BadSignature("the signed payload is " + payload.length + " bytes, more than " + MAX_PAYLOAD_BYTES);
        }
        Map<String, Object> top;
        try {
            top = StrictJson.object(payload);
        } catch (StrictJson.NotJson e) {
            throw new BadSignature("the signed payload is not one JSON object");
        }
        exactly(top, "the payload", "critical", "optional");
        if (top.get("optional") != null && !(top.get("optional") instanceof Map)) {
            throw new BadSignature("the payload's optional is neither null nor an object");
        }
        Map<String, Object> critical = object(top, "critical");
        exactly(critical, "critical", "identity", "image", "type");
        if (!TYPE.equals(critical.get("type"))) {
            throw new BadSignature("the payload's type is not \"" + TYPE + "\"");
        }
        Map<String, Object> image = object(critical, "image");
        exactly(image, "critical.image", "docker-manifest-digest");
        Map<String, Object> identity = object(critical, "identity");
        exactly(identity, "critical.identity", "docker-reference");
        if (!(image.get("docker-manifest-digest") instanceof String digest) || !DIGEST.matcher(digest).matches()) {
            throw new BadSignature("the payload's docker-manifest-digest is not a sha256 digest");
        }
        if (!(identity.get("docker-reference") instanceof String reference)) {
            throw new BadSignature("the payload's docker-reference is not a string");
        }
        return new Claim(reference, digest);
    }

    /** The manifest digest ("sha256:<hex>") a payload names, refused as {@link #parse} refuses it. */
    public static String manifestDigest(byte[] payload) throws BadSignature {
        return parse(payload).manifestDigest();
    }

    private static Map<String, Object> object(Map<String, Object> in, String name) throws BadSignature {
        Map<String, Object> member = StrictJson.member(in, name);
        if (member == null) {
            throw new BadSignature("the payload's " + name + " is not an object");
        }
        return member;
    }

    /** As containers/image's ParanoidUnmarshalJSONObjectExactFields: these fields, all, no other. */
    private static void exactly(Map<String, Object> object, String where, String... fields) throws BadSignature {
        if (!object.keySet().equals(Set.of(fields))) {
            throw new BadSignature(where + " does not hold exactly the fields " + String.join(", ", fields));
        }
    }
}

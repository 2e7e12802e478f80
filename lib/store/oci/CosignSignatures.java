//DEPS com.fasterxml.jackson.jr:jackson-jr-objects:2.20.1

package lib.store.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import lib.common.Log;
import lib.common.Reason;

/**
 * Key-based signatures of an image, stored as cosign stores them (sigstore's tag scheme, cosign's
 * pkg/oci/remote, pkg/oci/mutate and pkg/oci/static), so that {@code cosign verify --key} and
 * skopeo or podman with a sigstoreSigned policy read them: an image in the same repository, tagged
 * {@code sha256-<hex of the signed manifest's digest>.sig}, one layer a signature, each layer's blob
 * the payload signed (cosign's simple-signing JSON, which names the manifest digest) and its
 * annotation the signature in base64. Byte arrays in, byte arrays out: what the payload says and
 * whether the signature holds is for the caller to check.
 *
 * <pre>{@code
 * {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 *  "config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:…"},
 *  "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":251,"digest":"sha256:…",
 *             "annotations":{"dev.cosignproject.cosign/signature":"MEUCIQ…"}}]}
 * }</pre>
 *
 * The config is the one go-containerregistry's mutate.Append makes over an empty image, as cosign
 * calls it: {@code {"architecture":"","created":"<first signing>","history":[{"created":
 * "0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:<payload>"]},"config":{}}},
 * a diff_id and a history entry a layer.
 *
 * <p>A second key signing the same manifest (a rotation) appends its layer, as cosign does. The
 * registry has no conditional manifest PUT: two signers at the same moment may lose one of the two
 * layers, as two cosign runs would.
 */
public final class CosignSignatures {

    static final String SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
    static final String SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
    /** The most of a payload read (cosign's simple-signing JSON takes some 250 bytes). */
    static final int PAYLOAD_MAX = 64 << 10;
    /** The most of a signature image's manifest or config read. */
    static final int MANIFEST_MAX = 1 << 20;
    /** The most signatures one manifest may have: more is no signature image of a cache's (a few keys, rotated). */
    static final int SIGNATURES_MAX = 64;
    /** go's zero time.Time as encoding/json writes it: the history entry of each layer mutate.Append adds. */
    private static final String ZERO_TIME = "0001-01-01T00:00:00Z";
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern TAG = Pattern.compile("sha256-[0-9a-f]{64}\\.sig");

    /** A signature as stored: the payload signed (the layer's blob) and the signature's bytes (decoded from the annotation). */
    public record Signature(byte[] payload, byte[] signature) {}

    private CosignSignatures() {}

    /** sha256:<hex> → sha256-<hex>.sig, cosign's tag for the manifest's signatures. */
    static String tag(String manifestDigest) {
        if (!DIGEST.matcher(manifestDigest).matches()) {
            throw new IllegalArgumentException("'" + manifestDigest + "' is not a sha256 manifest digest");
        }
        return "sha256-" + manifestDigest.substring("sha256:".length()) + ".sig";
    }

    /** Whether a tag is cosign's name for a manifest's signatures, rather than an entry's. */
    static boolean isSignatureTag(String tag) {
        return TAG.matcher(tag).matches();
    }

    /**
     * Stores the signature of the manifest of that digest: pushes the payload as a blob, then tags
     * the signature image with its layer appended to those already there (nothing is pushed when an
     * identical layer, same payload and same signature, is there). A signature image there that
     * cannot be read is not replaced (it may hold another key's signatures): IOException.
     */
    public static void push(RegistryClient registry, String manifestDigest, byte[] payload, byte[] signature) throws IOException {
        push(registry, manifestDigest, payload, signature, false);
    }

    /**
     * push, for the manifest of an image about to be tagged (OciStore's commit): no image was ever
     * tagged by that digest (its manifest holds its creation time), so there is no signature image
     * to read and add to, and neither the payload (which names the digest) nor the config (made
     * now) can be in the repository: three requests fewer, each a round trip to the registry.
     */
    static void pushForNewImage(RegistryClient registry, String manifestDigest, byte[] payload, byte[] signature)
            throws IOException {
        push(registry, manifestDigest, payload, signature, true);
    }

    private static void push(RegistryClient registry, String manifestDigest, byte[] payload, byte[] signature, boolean newImage)
            throws IOException {
        String tag = tag(manifestDigest);
        String payloadDigest = RegistryClient.sha256Digest(payload);
        String base64 = Base64.getEncoder().encodeToString(signature);
        var layers = new ArrayList<Object>();
        Map<String, Object> config = null;
        Optional<RegistryClient.Manifest> existing = newImage ? Optional.empty() : registry.fetchManifest(tag, MANIFEST_MAX);
        if (existing.isPresent()) {
            if (!(existing.get().json().get("layers") instanceof List<?> there)) {
                throw new IOException("the signatures at " + tag + " are no image of layers; not replaced");
            }
            for (Object layer : there) {
                if (layer instanceof Map<?, ?> descriptor && payloadDigest.equals(descriptor.get("digest"))
                        && descriptor.get("annotations") instanceof Map<?, ?> annotations
                        && base64.equals(annotations.get(SIGNATURE_ANNOTATION))) {
                    return;
                }
            }
            layers.addAll(there);
            config = existingConfig(registry, tag, existing.get().json());
        }
        if (config == null) {
            config = emptyConfig(layers);
        }
        pushBlob(registry, payload, payloadDigest, newImage);
        var layer = descriptor(SIMPLE_SIGNING, payload.length, payloadDigest);
        layer.put("annotations", Map.of(SIGNATURE_ANNOTATION, base64));
        layers.add(layer);
        append(config, payloadDigest);
        byte[] configBytes = JSON.std.asBytes(config);
        String configDigest = RegistryClient.sha256Digest(configBytes);
        pushBlob(registry, configBytes, configDigest, newImage);
        var manifest = new LinkedHashMap<String, Object>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", OciStore.MANIFEST);
        manifest.put("config", descriptor(OciStore.CONFIG, configBytes.length, configDigest));
        manifest.put("layers", layers);
        registry.putManifest(tag, OciStore.MANIFEST, JSON.std.asBytes(manifest));
    }

    /** A small blob pushed (a POST and a PUT), without a HEAD first asking whether the repository has it when it cannot. */
    private static void pushBlob(RegistryClient registry, byte[] content, String digest, boolean cannotBeThere) throws IOException {
        if (cannotBeThere) {
            registry.commitUpload(registry.startUpload(), digest, content);
        } else {
            OciStore.pushSmallBlob(registry, content, digest);
        }
    }

    /**
     * The config of the signature image there, to append to as mutate.Append does; null, for a
     * config made anew from the layers, when it cannot be read (gone, too big, not its digest, no
     * JSON object, no list of diff_ids).
     */
    private static Map<String, Object> existingConfig(RegistryClient registry, String tag, Map<String, Object> manifest)
            throws IOException {
        Log log = registry.log();
        if (!(manifest.get("config") instanceof Map<?, ?> descriptor && descriptor.get("digest") instanceof String digest
                && DIGEST.matcher(digest).matches())) {
            log.debug("the signatures at " + tag + " name no config; making one anew");
            return null;
        }
        try (InputStream in = registry.getBlob(digest, 0)) {
            byte[] bytes = RegistryClient.capped(in, MANIFEST_MAX, "the config of " + tag);
            if (!RegistryClient.sha256Digest(bytes).equals(digest)) {
                log.debug("the config of " + tag + " is not the blob its digest names; making one anew");
                return null;
            }
            Map<String, Object> config = Json.object(bytes, "the config of " + tag);
            if (!(config.get("rootfs") instanceof Map<?, ?> rootfs && rootfs.get("diff_ids") instanceof List<?>)) {
                log.debug("the config of " + tag + " has no rootfs.diff_ids; making one anew");
                return null;
            }
            return config;
        } catch (RegistryClient.BlobMissing | RegistryClient.TooLarge | Json.NotJson e) {
            log.debug("the config of " + tag + " cannot be read (" + Reason.of(e) + "); making one anew");
            return null;
        }
    }

    /**
     * go-containerregistry's empty image's config as mutate.Append leaves it once the layers there
     * are added to it (a diff_id, the payload's digest, and a history entry each), created now, as
     * cosign's AppendSignatures sets a zero creation time.
     */
    private static Map<String, Object> emptyConfig(List<Object> layers) {
        var config = new LinkedHashMap<String, Object>();
        config.put("architecture", "");
        config.put("created", Instant.now().toString());
        config.put("history", new ArrayList<>());
        config.put("os", "");
        var rootfs = new LinkedHashMap<String, Object>();
        rootfs.put("type", "layers");
        rootfs.put("diff_ids", new ArrayList<>());
        config.put("rootfs", rootfs);
        config.put("config", Map.of());
        for (Object layer : layers) {
            if (layer instanceof Map<?, ?> descriptor && descriptor.get("digest") instanceof String digest) {
                append(config, digest);
            }
        }
        return config;
    }

    /** Adds a layer's diff_id (a payload is stored uncompressed, so its digest) and a zero history entry, as mutate.Append does. */
    @SuppressWarnings("unchecked")
    private static void append(Map<String, Object> config, String diffId) {
        var rootfs = new LinkedHashMap<String, Object>((Map<String, Object>) config.get("rootfs"));
        var diffIds = new ArrayList<Object>((List<Object>) rootfs.get("diff_ids"));
        diffIds.add(diffId);
        rootfs.put("diff_ids", diffIds);
        config.put("rootfs", rootfs);
        var history = new ArrayList<Object>(config.get("history") instanceof List<?> there ? there : List.of());
        history.add(Map.of("created", ZERO_TIME));
        config.put("history", history);
    }

    private static Map<String, Object> descriptor(String mediaType, long size, String digest) {
        // go-containerregistry's v1.Descriptor field order: mediaType, size, digest, annotations.
        var descriptor = new LinkedHashMap<String, Object>();
        descriptor.put("mediaType", mediaType);
        descriptor.put("size", size);
        descriptor.put("digest", digest);
        return descriptor;
    }

    /**
     * The signatures stored for the manifest of that digest, in the order of their layers; none
     * when there is no signature image. What cannot be a signature is passed over, saying why in a
     * debug line, and never fails the caller: a signature image that is too big or no JSON object
     * of layers gives none; a layer of another media type, with no signature annotation or one not
     * in base64, whose payload is over PAYLOAD_MAX, missing, or not the bytes its digest names,
     * is left out. The registry's own failures (unreachable, refusing) are thrown.
     */
    public static List<Signature> read(RegistryClient registry, String manifestDigest) throws IOException {
        Log log = registry.log();
        String tag = tag(manifestDigest);
        Optional<RegistryClient.Manifest> manifest;
        try {
            manifest = registry.fetchManifest(tag, MANIFEST_MAX);
        } catch (RegistryClient.TooLarge | Json.NotJson e) {
            log.debug("no signatures read for " + manifestDigest + ": " + Reason.of(e));
            return List.of();
        }
        if (manifest.isEmpty()) {
            return List.of();
        }
        if (!(manifest.get().json().get("layers") instanceof List<?> layers)) {
            log.debug("no signatures read for " + manifestDigest + ": " + tag + " is no image of layers");
            return List.of();
        }
        if (layers.size() > SIGNATURES_MAX) {
            log.debug("no signatures read for " + manifestDigest + ": " + tag + " has " + layers.size()
                    + " layers, more than " + SIGNATURES_MAX);
            return List.of();
        }
        var signatures = new ArrayList<Signature>();
        for (int i = 0; i < layers.size(); i++) {
            String which = tag + " layer " + (i + 1);
            if (!(layers.get(i) instanceof Map<?, ?> layer)) {
                log.debug("passing over " + which + ": not a descriptor");
                continue;
            }
            if (!SIMPLE_SIGNING.equals(layer.get("mediaType"))) {
                log.debug("passing over " + which + ": its media type is " + layer.get("mediaType") + ", not " + SIMPLE_SIGNING);
                continue;
            }
            if (!(layer.get("digest") instanceof String digest && DIGEST.matcher(digest).matches())) {
                log.debug("passing over " + which + ": its digest is not a sha256 digest");
                continue;
            }
            if (!(layer.get("size") instanceof Number size && size.longValue() >= 0 && size.longValue() <= PAYLOAD_MAX)) {
                log.debug("passing over " + which + ": its size is not one of 0 to " + PAYLOAD_MAX + " bytes");
                continue;
            }
            byte[] signature;
            try {
                if (!(layer.get("annotations") instanceof Map<?, ?> annotations
                        && annotations.get(SIGNATURE_ANNOTATION) instanceof String base64)) {
                    log.debug("passing over " + which + ": it has no " + SIGNATURE_ANNOTATION + " annotation");
                    continue;
                }
                signature = Base64.getDecoder().decode(base64);
            } catch (IllegalArgumentException e) {
                log.debug("passing over " + which + ": its " + SIGNATURE_ANNOTATION + " annotation is not base64");
                continue;
            }
            byte[] payload;
            try (InputStream in = registry.getBlob(digest, 0)) {
                payload = RegistryClient.capped(in, PAYLOAD_MAX, "the payload of " + which);
            } catch (RegistryClient.BlobMissing | RegistryClient.TooLarge e) {
                log.debug("passing over " + which + ": " + Reason.of(e));
                continue;
            }
            if (!RegistryClient.sha256Digest(payload).equals(digest)) {
                log.debug("passing over " + which + ": its payload is not the blob its digest names");
                continue;
            }
            signatures.add(new Signature(payload, signature));
        }
        return signatures;
    }

    /**
     * Deletes the signature image of the manifest of that digest, as far as the registry allows: one
     * that does not (deletion switched off), or fails, leaves it, saying so in a debug line.
     */
    static void delete(RegistryClient registry, String manifestDigest) {
        String tag = tag(manifestDigest);
        try {
            Optional<String> digest = registry.manifestDigest(tag);
            if (digest.isPresent()) {
                registry.deleteManifest(digest.get());
            }
        } catch (IOException e) {
            registry.log().debug("left the signatures " + tag + " in place: " + Reason.of(e));
        }
    }
}

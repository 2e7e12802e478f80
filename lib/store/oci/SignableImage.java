package lib.store.oci;

/**
 * An image write that can be signed as cosign signs an image (cache-upload --sign-key on oci://):
 * commit has the manifest's digest signed and pushes the signature to cosign's tag for it before it
 * tags the manifest, so that the entry is never found unsigned; a commit that loses to another
 * upload's image deletes the signature again, where the registry lets it. The lib/store
 * counterpart for the blob stores, whose signature is inside the entry, is SignableEntry.
 */
public interface SignableImage {

    /** Signs a manifest: its repository ("host[:port]/path") and digest ("sha256:<hex>") in, a cosign signature out. */
    @FunctionalInterface
    interface ImageSigner {
        CosignSignatures.Signature sign(String dockerReference, String manifestDigest);
    }

    /** Has commit sign the manifest with signer before tagging it; a signer that fails fails the commit, nothing tagged. */
    void signWith(ImageSigner signer);
}

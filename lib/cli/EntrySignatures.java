package lib.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import lib.store.EntryTrust;
import lib.store.SignableEntry;
import lib.store.Store;
import lib.store.oci.CosignSignatures;
import lib.store.oci.OciStore;
import lib.store.oci.SignableImage;
import lib.trust.BadSignature;
import lib.trust.SigningKey;
import lib.trust.SimpleSigning;
import lib.trust.TrustedKeys;
import lib.trust.VerifyKey;

/**
 * --sign-key and --verify-key, on each store as it keeps signatures: on oci:// cosign's signature of
 * the image's manifest, beside it at cosign's tag; on file://, s3://, gs:// and azblob:// the
 * signature of the entry's index, inside the entry (EntryTrust).
 */
final class EntrySignatures {

    private EntrySignatures() {}

    /** Has the entry signed with key as its commit makes it visible; false when this entry cannot carry a signature. */
    static boolean signWith(Store.EntryWrite entry, SigningKey key) {
        if (entry instanceof SignableEntry blob) {
            blob.signWith(EntryTrust.signer(key));
            return true;
        }
        if (entry instanceof SignableImage image) {
            image.signWith((dockerReference, manifestDigest) -> {
                byte[] payload = SimpleSigning.payload(dockerReference, manifestDigest);
                return new CosignSignatures.Signature(payload, key.sign(payload));
            });
            return true;
        }
        return false;
    }

    /**
     * Whether one of the keys signed the entry found, groups being what store.groups read of it (the
     * index or manifest the restore then checks every group against).
     */
    static EntryTrust.Verdict verify(Store store, Store.StoredObject object, Optional<Store.Groups> groups, TrustedKeys keys)
            throws IOException {
        if (store instanceof OciStore oci) {
            return verifyImage(oci, object, keys);
        }
        return EntryTrust.verify(keys, object.path(), groups);
    }

    /**
     * An image is trusted when a cosign signature stored for the digest of the very manifest it was
     * found by (whose layers groups then read) is one of the keys', and its payload names that digest
     * in this repository: a signature copied from another image or repository names another.
     */
    private static EntryTrust.Verdict verifyImage(OciStore oci, Store.StoredObject object, TrustedKeys keys) throws IOException {
        Optional<String> digest = oci.manifestDigest(object);
        if (digest.isEmpty()) {
            // find and list record it; an entry that is neither is not one this run can vouch for
            return new EntryTrust.Verdict(Optional.empty(), EntryTrust.Why.UNSIGNED, "its manifest was not read by its digest");
        }
        List<CosignSignatures.Signature> signatures = oci.signatures(digest.get());
        if (signatures.isEmpty()) {
            return new EntryTrust.Verdict(Optional.empty(), EntryTrust.Why.UNSIGNED, "no cosign signature is stored for its manifest "
                    + digest.get());
        }
        var others = new ArrayList<String>();
        for (CosignSignatures.Signature signature : signatures) {
            Optional<VerifyKey> key = keys.verifiedBy(signature.payload(), signature.signature());
            if (key.isEmpty()) {
                continue;
            }
            SimpleSigning.Claim claim;
            try {
                claim = SimpleSigning.parse(signature.payload());
            } catch (BadSignature e) {
                others.add(e.getMessage());
                continue;
            }
            if (claim.manifestDigest().equals(digest.get()) && claim.dockerReference().equals(oci.dockerReference())) {
                Optional<String> taggedAs = oci.taggedAs(object);
                if (taggedAs.isPresent() && taggedAs.get().equals(object.path())) {
                    return new EntryTrust.Verdict(key, EntryTrust.Why.TRUSTED, "signed by " + key.get().id());
                }
                others.add("its signed manifest was made for " + taggedAs.map(tag -> "the tag " + tag).orElse("no tag it names")
                        + ", not for this one (moved or copied from there)");
                continue;
            }
            others.add("a signature by " + key.get().id() + " names another image than this one ("
                    + (claim.manifestDigest().equals(digest.get()) ? "another repository" : "another manifest") + ")");
        }
        if (!others.isEmpty()) {
            return new EntryTrust.Verdict(Optional.empty(), EntryTrust.Why.ANOTHER_ENTRY, String.join("; ", others));
        }
        return new EntryTrust.Verdict(Optional.empty(), EntryTrust.Why.UNTRUSTED_KEY, signatures.size()
                + (signatures.size() == 1 ? " cosign signature is" : " cosign signatures are") + " stored for its manifest, made by"
                + " none of " + keys);
    }
}

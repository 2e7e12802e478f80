package lib.store;

import java.util.Optional;
import lib.trust.BadSignature;
import lib.trust.EntrySignature;
import lib.trust.SigningKey;
import lib.trust.TrustedKeys;
import lib.trust.VerifyKey;

/**
 * The signatures that entries on file://, s3://, gs:// and azblob:// carry in their index
 * (FramedObject), in lib/trust's terms: the signer an upload gives its SignableEntry, and the
 * verdict a fetch asks for on the groups it is about to restore. The signature names the entry's
 * path in its store and the digest of the index those very groups were read from, so a restore that
 * goes on to check each group against that index restores only what the signer indexed.
 */
public final class EntryTrust {

    private EntryTrust() {}

    /** Why an entry is trusted or not. */
    public enum Why {
        /** A trusted key signed this entry's name and index. */
        TRUSTED,
        /** No signature: none in its index, or no index (an entry of one stream, the Go tool's). */
        UNSIGNED,
        /** A signature part that is not one (malformed, too long): as good as none. */
        MALFORMED,
        /** A signature, for another entry's name or another index than this one. */
        ANOTHER_ENTRY,
        /** A signature of this entry and index, made by none of the trusted keys. */
        UNTRUSTED_KEY
    }

    /**
     * The key that verified the entry (when why is TRUSTED), and why in words, for the line a fetch
     * prints ("… is not signed by a trusted key: " + says). says quotes nothing the store chose but
     * a signature's key id, which lib/trust has checked is one.
     */
    public record Verdict(Optional<VerifyKey> key, Why why, String says) {
        public boolean trusted() {
            return why == Why.TRUSTED;
        }
    }

    /** Signs an entry's index with the key, as a SignableEntry's commit asks. */
    public static EntrySigner signer(SigningKey key) {
        return (entry, indexDigest) -> EntrySignature.sign(key, entry, EntrySignature.Subject.INDEX, indexDigest).render();
    }

    /**
     * Whether one of the keys signed the entry named entry (its path in the store, as given to find)
     * whose groups these are, as Store.groups read them: the signature is checked against the
     * digest of the index the groups came from, never against what its own lines say alone.
     */
    public static Verdict verify(TrustedKeys keys, String entry, Optional<Store.Groups> groups) {
        if (groups.isEmpty()) {
            return new Verdict(Optional.empty(), Why.UNSIGNED, "it is one stream with no index (--compression none, or the"
                    + " Go tool's), which carries no signature");
        }
        Store.IndexSignature stored = groups.get().signature();
        if (!stored.signed()) {
            return new Verdict(Optional.empty(), Why.UNSIGNED, "its index carries no signature");
        }
        EntrySignature signature;
        try {
            signature = EntrySignature.parse(stored.text());
        } catch (BadSignature e) {
            return new Verdict(Optional.empty(), Why.MALFORMED, e.getMessage());
        }
        if (!signature.names(entry, EntrySignature.Subject.INDEX, stored.indexDigest())) {
            return new Verdict(Optional.empty(), Why.ANOTHER_ENTRY, signature.entry().equals(entry)
                    ? "its signature is for another index than its own (changed after it was signed)"
                    : "its signature is for another entry's name (moved or copied from there)");
        }
        Optional<VerifyKey> key = signature.verifiedBy(keys, entry, EntrySignature.Subject.INDEX, stored.indexDigest());
        if (key.isEmpty()) {
            return new Verdict(key, Why.UNTRUSTED_KEY, "it is signed by a key that says it is " + signature.keyId()
                    + ", and none of " + keys + " made its signature");
        }
        return new Verdict(key, Why.TRUSTED, "signed by " + key.get().id());
    }
}

package lib.store;

/**
 * An entry write that can carry a signature inside the one object it commits (FramedObject's
 * index, on file://, s3://, gs:// and azblob://), a capability asked for where it is used:
 * {@code if (entry instanceof SignableEntry signable) signable.signWith(signer)}. An entry of one
 * stream (--compression none) has no index to hold one, and its write is not a SignableEntry;
 * neither is an image's (a registry keeps cosign's signatures apart).
 */
public interface SignableEntry {
    /**
     * Has commit sign the entry's index with signer, for the path the entry was created at, and store
     * the signature in the index frame, so that the entry and its signature become visible together or
     * not at all. Called before commit; a signer that fails fails the commit, and nothing is stored.
     */
    void signWith(EntrySigner signer);
}

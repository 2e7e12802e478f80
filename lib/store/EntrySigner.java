package lib.store;

import java.io.IOException;

/**
 * What signs an entry's index as a blob store commits it (cache-upload --sign-key): given the
 * entry's name in its store (its path or key, without bucket or host) and the sha256 of its index
 * text ("sha256:<hex>"), the signature's text as stored after the index (lib/trust's
 * EntrySignature, rendered). lib/store knows nothing of keys: EntryTrust.signer makes one of a key.
 */
@FunctionalInterface
public interface EntrySigner {
    byte[] sign(String entry, String indexDigest) throws IOException;
}

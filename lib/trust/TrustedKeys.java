package lib.trust;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The public keys a fetch trusts (--verify-key, repeatable): an entry signed by any one of them is
 * trusted, so that a key can be rotated by trusting the old and the new one for a while.
 */
public final class TrustedKeys {

    private final List<VerifyKey> keys;

    private TrustedKeys(List<VerifyKey> keys) {
        this.keys = List.copyOf(keys);
    }

    /** The keys in those files, each refused as {@link VerifyKey#load} refuses it. */
    public static TrustedKeys load(List<Path> files) {
        return new TrustedKeys(files.stream().map(VerifyKey::load).distinct().toList());
    }

    public static TrustedKeys of(List<VerifyKey> keys) {
        return new TrustedKeys(keys.stream().distinct().toList());
    }

    /** The key whose signature over the payload this is, if one of them made it. */
    public Optional<VerifyKey> verifiedBy(byte[] payload, byte[] signature) {
        return keys.stream().filter(key -> key.verifies(payload, signature)).findFirst();
    }

    public List<VerifyKey> keys() {
        return keys;
    }

    /** No key: nothing is verified (the fetch restores as it always did). */
    public boolean isEmpty() {
        return keys.isEmpty();
    }

    @Override
    public String toString() {
        return keys.stream().map(VerifyKey::id).toList().toString();
    }
}

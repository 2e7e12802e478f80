package lib.archive;

import java.io.IOException;

/**
 * The stored bytes are at fault, not the store's transfer nor the folder's file system: an archive
 * that is corrupt, hostile, or not the one its entry names. A fetch that meets one removes the
 * entry where the store lets it, so that the key's next upload stores it anew.
 */
public class BadArchive extends IOException {
    public BadArchive(String message) {
        super(message);
    }

    public BadArchive(String message, Throwable cause) {
        super(message, cause);
    }
}

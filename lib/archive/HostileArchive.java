package lib.archive;

import java.io.IOException;

/** An archive that must not be restored, whole: the message names the entry and the rule it breaks. */
final class HostileArchive extends IOException {
    HostileArchive(String message) {
        super(message);
    }
}

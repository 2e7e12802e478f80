package lib.archive;

/** An archive that must not be restored, whole: the message names the entry and the rule it breaks. */
final class HostileArchive extends BadArchive {
    HostileArchive(String message) {
        super(message);
    }
}

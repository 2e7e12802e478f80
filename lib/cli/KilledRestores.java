package lib.cli;

import java.io.IOException;
import lib.archive.Folders;
import lib.archive.SafeRestore;
import lib.common.Log;
import lib.common.Reason;
import lib.common.StoreError;

/**
 * What both commands do first: take back the restores into their folders that were killed part
 * way, so that a fetch never restores into, nor an upload saves, a folder half old, half new.
 */
final class KilledRestores {

    private KilledRestores() {}

    static void takeBack(Folders folders, Log log) {
        try {
            int takenBack = SafeRestore.takeBackKilledRestores(folders);
            if (takenBack > 0) {
                log.info("took back " + (takenBack == 1 ? "a restore" : takenBack + " restores") + " into "
                        + folders.describe() + " killed part way: " + (folders.single() ? "the folder is" : "the folders are")
                        + " as before it");
            }
        } catch (IOException e) {
            throw new StoreError(Reason.of(e), e);
        }
    }
}

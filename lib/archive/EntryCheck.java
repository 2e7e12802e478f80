package lib.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Reads an entry through as a restore reads it, and places nothing: each group's tar checked
 * against the diff_id its entry names (an entry of one stream: the caller checks its digest), the
 * compressed and tar streams read to their ends, and each name held to the rules that need no
 * folder (relative, never climbing, not this tool's own). What cache-upload does before it keeps
 * the entry its key already has, so that a corrupt or truncated one is replaced, not kept for
 * good. What entries do to each other or to the folder (a name under a link, a hard link to a
 * file the entry lacks) needs the restore's logs: the restore refuses it, and its fetch deletes the
 * entry.
 */
public final class EntryCheck {

    private EntryCheck() {}

    /** Reads an entry's groups through; a BadArchive says what is wrong with them. */
    public static void readThrough(SafeRestore.Groups groups) throws IOException {
        SafeRestore.decompressed(groups, decompressed -> names(decompressed, true));
    }

    /** Reads an entry of one stream through; a digest check laid over stored is the caller's. */
    public static void readThrough(InputStream stored) throws IOException {
        SafeRestore.decompressed(SafeRestore.oneStream(stored), decompressed -> names(decompressed, false));
    }

    private static void names(InputStream decompressed, boolean concatenated) throws IOException {
        var tar = new TarReader(decompressed, concatenated);
        boolean first = true;
        for (TarReader.Entry entry; (entry = tar.next()) != null; first = false) {
            String name = SafeRestore.checkedName(entry.name());
            if (!(first && name.equals(Folders.MANIFEST))) { // an entry of several folders lists them first
                SafeRestore.checkNotOwn(entry, name);
            }
            if (entry.type() == TarHeader.HARDLINK) {
                SafeRestore.checkedName(entry.link() == null ? "" : entry.link());
            }
        }
        // Past the end-of-archive blocks to the stored stream's end, as a restore reads it.
        decompressed.transferTo(OutputStream.nullOutputStream());
    }
}

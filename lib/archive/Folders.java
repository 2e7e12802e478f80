package lib.archive;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import lib.common.UsageError;

/**
 * The folders one entry holds, each with the label it is known by across machines (its path
 * relative to the working dir, or to the home folder as ~/..., or else absolute).
 *
 * <p>One folder is archived at the tar's root, as the Go tool and every earlier entry have it.
 * Several are archived each under its number ("0/...", "1/..."), after a first entry, the manifest,
 * that gives each number's label: a restore maps each number to the folder of that label among
 * those it was given, so an entry saved with other folders is refused, never mixed in.
 */
public final class Folders {

    /** A folder to save or restore, and the label an entry records it by. */
    public record Folder(String label, Path path) {}

    /** The manifest's name: our own prefix, so no file of a folder can be taken for it. */
    static final String MANIFEST = Archive.OWN_PREFIX + "folders";
    /** A manifest longer than this is no manifest of ours: a crafted one is not read into memory whole. */
    static final int MAX_MANIFEST_BYTES = 1 << 16;

    private final List<Folder> folders;

    private Folders(List<Folder> folders) {
        this.folders = List.copyOf(folders);
    }

    /** One folder, archived at the root: its label is recorded nowhere. */
    public static Folders single(Path folder) {
        return new Folders(List.of(new Folder("", folder)));
    }

    /**
     * The folders given, in that order (one at least); one is single(). Of several, none may lie
     * inside another (nor be the same), and their labels must be distinct and of one line each.
     */
    public static Folders of(List<Folder> folders) {
        if (folders.size() <= 1) {
            return single(folders.get(0).path());
        }
        for (Folder folder : folders) {
            if (folder.label().isEmpty() || folder.label().indexOf('\n') >= 0) {
                throw new UsageError("--folder " + folder.path() + ": a folder whose name holds a line break cannot be"
                        + " one of several");
            }
        }
        for (Folder inner : folders) {
            for (Folder outer : folders) {
                if (inner != outer && inner.path().startsWith(outer.path())) {
                    // Its files would be saved twice, and a restore would stage one folder inside the other.
                    throw new UsageError("--folder " + inner.path() + " lies inside --folder " + outer.path()
                            + ": its files would be saved twice; give one of them");
                }
            }
        }
        for (int i = 0; i < folders.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (folders.get(i).label().equals(folders.get(j).label())) {
                    throw new UsageError("--folder " + folders.get(j).path() + " and " + folders.get(i).path()
                            + " would both be recorded as " + folders.get(i).label() + "; give other folders");
                }
            }
        }
        var several = new Folders(folders);
        if (several.manifest().length > MAX_MANIFEST_BYTES) {
            throw new UsageError("--folder: the names of " + folders.size() + " folders take more than " + MAX_MANIFEST_BYTES
                    + " bytes; give fewer");
        }
        return several;
    }

    public boolean single() {
        return folders.size() == 1;
    }

    public int size() {
        return folders.size();
    }

    public Path path(int index) {
        return folders.get(index).path();
    }

    public List<Path> paths() {
        return folders.stream().map(Folder::path).toList();
    }

    public List<String> labels() {
        return folders.stream().map(Folder::label).toList();
    }

    /** What the folder's names start with in the archive: nothing for one folder, "N/" for the Nth of several. */
    String prefix(int index) {
        return single() ? "" : index + "/";
    }

    /** Where a walked name ("N/a/b" of several, "a/b" of one) lies on disk. */
    Path resolve(String name) {
        if (single()) {
            return folders.get(0).path().resolve(name);
        }
        int slash = name.indexOf('/');
        return folders.get(Integer.parseInt(name.substring(0, slash))).path().resolve(name.substring(slash + 1));
    }

    /** The manifest's content: a line per folder, its number and its label ("0 ~/.gradle/caches"). */
    byte[] manifest() {
        var text = new StringBuilder();
        for (int i = 0; i < folders.size(); i++) {
            text.append(i).append(' ').append(folders.get(i).label()).append('\n');
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The labels a manifest gives, by number; an archive whose manifest is not as manifest() writes
     * them (numbers out of order, a label twice, fewer than two) is refused.
     */
    static List<String> parseManifest(byte[] manifest) throws HostileArchive {
        String text = new String(manifest, StandardCharsets.UTF_8);
        var labels = new ArrayList<String>();
        if (!text.endsWith("\n")) {
            throw new HostileArchive("the entry's list of folders does not end with a line break");
        }
        for (String line : text.substring(0, text.length() - 1).split("\n", -1)) {
            String number = labels.size() + " ";
            if (!line.startsWith(number) || line.length() == number.length() || line.indexOf('\0') >= 0
                    || labels.contains(line.substring(number.length()))) {
                String shown = line.length() > 200 ? line.substring(0, 200) + "…" : line;
                throw new HostileArchive("the entry's list of folders has the line '" + shown + "' where folder "
                        + labels.size() + " and a label of its own were due");
            }
            labels.add(line.substring(number.length()));
        }
        if (labels.size() < 2) {
            throw new HostileArchive("the entry's list of folders names " + labels.size() + ", not several");
        }
        return labels;
    }

    /** "/work/node_modules" or "the folders ~/.gradle/caches, ~/.gradle/wrapper", for messages. */
    public String describe() {
        return single() ? path(0).toString() : describe(labels());
    }

    /** "the folders a, b", at most the first few named, and each name cut short: labels may come from a crafted archive. */
    static String describe(List<String> labels) {
        var named = new ArrayList<String>();
        for (String label : labels.subList(0, Math.min(labels.size(), 8))) {
            named.add(label.length() > 200 ? label.substring(0, 200) + "…" : label);
        }
        return "the folders " + String.join(", ", named) + (labels.size() > named.size() ? " and "
                + (labels.size() - named.size()) + " more" : "");
    }
}

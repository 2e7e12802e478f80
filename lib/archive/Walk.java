package lib.archive;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;

/**
 * The folder's entries in archive order: children by name, a folder just before what it holds, our
 * own staging left out, and what --exclude names (a folder with all it holds, as .gitignore has
 * it: nothing inside an excluded folder is walked). Both the group plan and the archive walk this
 * way, so that a name the plan chose to cut after is met at the same place by the archive.
 */
final class Walk {

    /** Entries in archive order, from a walk or from a log of one. */
    interface Source {
        void walk(Visitor visitor) throws IOException;
    }

    interface Visitor {
        /** An entry; name is relative, a folder's ends with '/'. A folder's children follow it. */
        void visit(Path path, String name, FileStat stat) throws IOException;
    }

    private Walk() {}

    static void walk(Path folder, Exclusion exclusion, Visitor visitor) throws IOException {
        children(folder, "", exclusion, visitor);
    }

    private static void children(Path dir, String prefix, Exclusion exclusion, Visitor visitor) throws IOException {
        var children = new ArrayList<Path>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        children.sort(null);
        for (Path child : children) {
            String name = prefix + child.getFileName();
            if (prefix.isEmpty() && name.startsWith(Archive.OWN_PREFIX) || exclusion.excludes(name)) {
                continue;
            }
            FileStat stat = FileStat.of(child);
            boolean directory = (stat.mode() & FileStat.TYPE) == FileStat.DIRECTORY;
            visitor.visit(child, directory ? name + "/" : name, stat);
            if (directory) {
                children(child, name + "/", exclusion, visitor);
            }
        }
    }
}

package lib.archive;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The folder's entries in archive order: children by name, a folder just before what it holds, our
 * own staging left out, and what --exclude names (a folder with all it holds, as .gitignore has
 * it: nothing inside an excluded folder is walked). A name that is not UTF-8 is passed with its
 * bytes escaped and no type (FileStat.NON_UTF8_NAME), for the archive to leave out and say so.
 * Both the group plan and the archive walk this way, so that a name the plan chose to cut after is
 * met at the same place by the archive.
 *
 * <p>Several folders are walked one after the other, each's names under its number ("0/a/b"), with
 * --exclude and our own prefix applied within each. Their files' inodes are told apart by folder:
 * a hard link between two folders is archived as two files, since they may be restored onto two
 * file systems.
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

    static void walk(Folders folders, Exclusion exclusion, Visitor visitor) throws IOException {
        if (folders.single()) {
            children(folders.path(0), "", 0, exclusion, visitor);
            return;
        }
        for (int i = 0; i < folders.size(); i++) {
            if (Files.notExists(folders.path(i), LinkOption.NOFOLLOW_LINKS)) {
                continue; // one of several that the build did not make: saved empty (Upload says so)
            }
            int folder = i;
            String prefix = folders.prefix(i);
            children(folders.path(i), prefix, prefix.length(), exclusion, (path, name, stat) -> visitor.visit(path, name,
                    new FileStat(stat.mode(), stat.nlink(), List.of(folder, stat.inode()), stat.uid(), stat.gid(), stat.size(),
                            stat.mtime())));
        }
    }

    /** top: the length of the folder's own prefix, which our own names and exclusion's do not include. */
    private static void children(Path dir, String prefix, int top, Exclusion exclusion, Visitor visitor) throws IOException {
        var children = new ArrayList<Path>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        children.sort(null);
        for (Path child : children) {
            String name = prefix + child.getFileName();
            String relative = name.substring(top);
            if (prefix.length() == top && relative.startsWith(Archive.OWN_PREFIX) || exclusion.excludes(relative)) {
                continue;
            }
            FileStat stat = FileStat.of(child);
            boolean directory = (stat.mode() & FileStat.TYPE) == FileStat.DIRECTORY;
            if (NonUtf8Name.is(child, name)) {
                // Its name is passed escaped, for the archive to say so; nothing under it is walked.
                String escaped = prefix + NonUtf8Name.escaped(child);
                visitor.visit(child, directory ? escaped + "/" : escaped, new FileStat(FileStat.NON_UTF8_NAME, 0, null,
                        stat.uid(), stat.gid(), 0, stat.mtime()));
                continue;
            }
            visitor.visit(child, directory ? name + "/" : name, stat);
            if (directory) {
                children(child, name + "/", top, exclusion, visitor);
            }
        }
    }
}

package lib.archive;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
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

    /**
     * dir's entries, depth first, each folder's children sorted by name. top: the length of the
     * folder's own prefix, which our own names and exclusion's do not include. A loop over a stack
     * of folders rather than a call for each folder, and one call of the visitor: the JIT compiles
     * the walk with the visitor inlined once, where recursion and two calls made it compile four
     * copies (0.39 s of C2's time on the node set's upload).
     */
    private static void children(Path dir, String prefix, int top, Exclusion exclusion, Visitor visitor) throws IOException {
        var open = new ArrayDeque<Listing>();
        open.push(Listing.of(dir, prefix));
        while (!open.isEmpty()) {
            Listing listing = open.peek();
            if (listing.next == listing.children.size()) {
                open.pop();
                continue;
            }
            Path child = listing.children.get(listing.next++);
            String name = listing.prefix + child.getFileName();
            String relative = name.substring(top);
            if (listing.prefix.length() == top && relative.startsWith(Archive.OWN_PREFIX) || exclusion.excludes(relative)) {
                continue;
            }
            FileStat stat = FileStat.of(child);
            boolean directory = (stat.mode() & FileStat.TYPE) == FileStat.DIRECTORY;
            boolean utf8 = !NonUtf8Name.is(child, name);
            if (!utf8) {
                // Its name is passed escaped, for the archive to say so; nothing under it is walked.
                name = listing.prefix + NonUtf8Name.escaped(child);
                stat = new FileStat(FileStat.NON_UTF8_NAME, 0, null, stat.uid(), stat.gid(), 0, stat.mtime());
            }
            visitor.visit(child, directory ? name + "/" : name, stat);
            if (directory && utf8) {
                open.push(Listing.of(child, name + "/"));
            }
        }
    }

    /** A folder's children, sorted, and the next one to visit. */
    private static final class Listing {
        final List<Path> children;
        final String prefix;
        int next;

        private Listing(List<Path> children, String prefix) {
            this.children = children;
            this.prefix = prefix;
        }

        static Listing of(Path dir, String prefix) throws IOException {
            var children = new ArrayList<Path>();
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
                stream.forEach(children::add);
            }
            children.sort(null);
            return new Listing(children, prefix);
        }
    }
}

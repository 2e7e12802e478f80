package lib.archive;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.List;
import java.util.Map;

/**
 * One lstat of a path, with what an archive entry needs: the whole mode (type and permission
 * bits), link count, inode, owner ids, size and mtime.
 *
 * <p>Java's only public way to the mode, link count and ids is the "unix:" attribute map, which
 * parses its attribute list and boxes every value on each call; over 60,000 files that costs more
 * than the stat itself, and compiling it costs a second of CPU. The JDK's own lstat result holds
 * them all, so when the JVM opens sun.nio.fs to us (the scripts' --add-opens) we read them from
 * it, and otherwise fall back to the map.
 */
public record FileStat(int mode, int nlink, Object inode, int uid, int gid, long size, FileTime mtime) {

    static final int TYPE = 0170000;
    static final int DIRECTORY = 0040000;
    static final int REGULAR = 0100000;
    static final int SYMLINK = 0120000;
    /** No file's type: what the walk gives an entry it leaves out because its name is not UTF-8 (NonUtf8Name). */
    static final int NON_UTF8_NAME = 0;

    private static final String ATTRIBUTES = "unix:mode,nlink,ino,dev,size,lastModifiedTime,uid,gid";
    /** The lstat result's accessors, each as (Object) -> int, or null when the JDK keeps them closed. */
    private static final MethodHandle MODE;
    private static final MethodHandle NLINK;
    private static final MethodHandle UID;
    private static final MethodHandle GID;

    static {
        MethodHandle[] accessors = new MethodHandle[4];
        try {
            Class<?> attributes = Class.forName("sun.nio.fs.UnixFileAttributes");
            var lookup = MethodHandles.privateLookupIn(attributes, MethodHandles.lookup());
            String[] names = {"mode", "nlink", "uid", "gid"};
            for (int i = 0; i < names.length; i++) {
                accessors[i] = lookup.findVirtual(attributes, names[i], MethodType.methodType(int.class))
                        .asType(MethodType.methodType(int.class, Object.class));
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            accessors = new MethodHandle[4]; // not opened, or another JDK: the attribute map
        }
        MODE = accessors[0];
        NLINK = accessors[1];
        UID = accessors[2];
        GID = accessors[3];
    }

    public static FileStat of(Path path) throws IOException {
        if (MODE == null) {
            return fromAttributeMap(path);
        }
        PosixFileAttributes stat = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        try {
            return new FileStat((int) MODE.invokeExact((Object) stat), (int) NLINK.invokeExact((Object) stat),
                    stat.fileKey(), (int) UID.invokeExact((Object) stat), (int) GID.invokeExact((Object) stat),
                    stat.size(), stat.lastModifiedTime());
        } catch (ClassCastException e) {
            return fromAttributeMap(path); // a file system other than the JDK's own
        } catch (Throwable e) {
            throw new IllegalStateException("reading the lstat of " + path, e);
        }
    }

    public static FileStat fromAttributeMap(Path path) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        return new FileStat((Integer) a.get("mode"), (Integer) a.get("nlink"), List.of(a.get("dev"), a.get("ino")),
                (Integer) a.get("uid"), (Integer) a.get("gid"), (Long) a.get("size"), (FileTime) a.get("lastModifiedTime"));
    }

    /** Whether the fields come straight from the JDK's lstat, as they do in the scripts (for the tests). */
    public static boolean readsJdkStat() {
        return MODE != null;
    }
}

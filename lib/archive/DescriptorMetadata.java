package lib.archive;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.Channel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;

/**
 * Sets a restored file's mode and times through the descriptor that wrote it, before it is closed.
 *
 * <p>Java's public way, Files.setPosixFilePermissions and BasicFileAttributeView.setTimes on the
 * path, opens the file once more for the times (JDK 17: open, futimens, close): strace -c of a
 * node_modules restore counted 129,867 openat and 129,632 close, against tar's 68,210 openat, two
 * system calls more per file for 61,368 files. When the JVM opens sun.nio.ch and sun.nio.fs to us
 * (the scripts' --add-opens), the channel's descriptor and the JDK's own fchmod and futimens are
 * within reach; otherwise {@link #set} says no and the caller sets them by the path.
 */
public final class DescriptorMetadata {

    /** (Object channel) -> FileDescriptor, the JDK's FileChannelImpl.fd. */
    private static final MethodHandle DESCRIPTOR;
    /** (FileDescriptor) -> int. */
    private static final MethodHandle NUMBER;
    /** (int fd, long accessed, long modified) -> void, in nanoseconds. */
    private static final MethodHandle FUTIMENS;
    /** (int fd, int mode) -> void. */
    private static final MethodHandle FCHMOD;
    private static final Class<?> FILE_CHANNEL;

    static {
        MethodHandle[] handles = new MethodHandle[4];
        Class<?> fileChannel = null;
        try {
            fileChannel = Class.forName("sun.nio.ch.FileChannelImpl");
            Class<?> ioUtil = Class.forName("sun.nio.ch.IOUtil");
            Class<?> dispatcher = Class.forName("sun.nio.fs.UnixNativeDispatcher");
            var lookup = MethodHandles.lookup();
            var ch = MethodHandles.privateLookupIn(fileChannel, lookup);
            var fs = MethodHandles.privateLookupIn(dispatcher, lookup);
            if (!(boolean) fs.findStatic(dispatcher, "futimensSupported", MethodType.methodType(boolean.class)).invokeExact()) {
                throw new UnsupportedOperationException("no futimens");
            }
            handles[0] = ch.findGetter(fileChannel, "fd", FileDescriptor.class)
                    .asType(MethodType.methodType(FileDescriptor.class, Object.class));
            handles[1] = MethodHandles.privateLookupIn(ioUtil, lookup)
                    .findStatic(ioUtil, "fdVal", MethodType.methodType(int.class, FileDescriptor.class));
            handles[2] = fs.findStatic(dispatcher, "futimens", MethodType.methodType(void.class, int.class, long.class, long.class));
            handles[3] = fs.findStatic(dispatcher, "fchmod", MethodType.methodType(void.class, int.class, int.class));
        } catch (Throwable e) {
            handles = new MethodHandle[4]; // not opened to us, or another JDK or system: by the path
            fileChannel = null;
        }
        DESCRIPTOR = handles[0];
        NUMBER = handles[1];
        FUTIMENS = handles[2];
        FCHMOD = handles[3];
        FILE_CHANNEL = fileChannel;
    }

    private DescriptorMetadata() {}

    /** Whether {@link #set} works in this JVM, as it does in the scripts (for the tests). */
    public static boolean available() {
        return FILE_CHANNEL != null;
    }

    /**
     * Sets the mode (when not negative) and the times of the file open as channel, named path in
     * an error; false, having done nothing, when this JVM keeps the way closed.
     */
    static boolean set(Channel channel, Path path, int mode, FileTime mtime, FileTime accessed) throws IOException {
        if (FILE_CHANNEL == null || channel.getClass() != FILE_CHANNEL) {
            return false;
        }
        try {
            int fd = (int) NUMBER.invokeExact((FileDescriptor) DESCRIPTOR.invokeExact((Object) channel));
            if (mode >= 0) {
                FCHMOD.invokeExact(fd, mode);
            }
            FUTIMENS.invokeExact(fd, nanoseconds(accessed), nanoseconds(mtime));
            return true;
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            // The JDK's UnixException, whose message is the system's ("Operation not permitted").
            throw new FileSystemException(path.toString(), null, e.getMessage());
        }
    }

    /**
     * The time as the JDK's futimens takes it, one count of nanoseconds that it splits by C's
     * division: before 1970 a fraction would become a negative tv_nsec, which Linux refuses, so
     * such a time keeps its whole second (the JDK's own setTimes falls back to 1970 itself). A time
     * before 1677 is the earliest whole second the count holds: rounded down past it, it would
     * wrap around to 2262.
     */
    private static long nanoseconds(FileTime time) {
        long nanos = time.to(TimeUnit.NANOSECONDS);
        return nanos < 0 ? Math.max(Math.floorDiv(nanos, NANOS), Long.MIN_VALUE / NANOS) * NANOS : nanos;
    }

    private static final long NANOS = 1_000_000_000L;
}

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A case-insensitive volume, as macOS, SMB/CIFS (Azure Files volumes) and casefold ext4 give one,
 * for tests of what a restore does where "X" and "x" are one name: tests/casefold/casefold.c, a
 * FUSE file system that folds every name to lower case over a backing folder, built once into the
 * user's cache and mounted under a test's folder by {@link #mount}. Names are listed as folded
 * (case-insensitive, not case-preserving); symlink targets are kept as written.
 *
 * <pre>{@code
 * CaseInsensitiveVolume.unavailable().ifPresent(Assumptions::abort);
 * try (var volume = CaseInsensitiveVolume.mount(tmp)) {
 *     Files.writeString(volume.root().resolve("Name.TXT"), "hello");
 *     assertEquals("hello", Files.readString(volume.root().resolve("name.txt")));
 * }
 * }</pre>
 */
final class CaseInsensitiveVolume implements AutoCloseable {

    private static final Path SOURCE = Fixtures.REPO.resolve("tests/casefold/casefold.c");

    private final Path root;
    private final Path backing;
    private final Path log;
    private final Process process;
    private boolean closed;

    private CaseInsensitiveVolume(Path root, Path backing, Path log, Process process) {
        this.root = root;
        this.backing = backing;
        this.log = log;
        this.process = process;
    }

    /**
     * Why no volume can be mounted here, or empty when one can: /dev/fuse must open for reading
     * and writing (it does not for a user outside the fuse group, nor in a container not given the
     * device), and casefold.c needs gcc and libfuse3's headers, which tests/run installs.
     */
    static Optional<String> unavailable() throws Exception {
        try (var fuse = FileChannel.open(Path.of("/dev/fuse"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // Opened and closed unused: no mount is made.
        } catch (IOException e) {
            return Optional.of("cannot open /dev/fuse: " + e);
        }
        for (String tool : List.of("gcc", "pkg-config", "fusermount3")) {
            if (!onPath(tool)) {
                return Optional.of(tool + " is not installed (tests/run installs it)");
            }
        }
        var headers = Fixtures.run(List.of("pkg-config", "--exists", "fuse3"), Fixtures.REPO, System.getenv());
        if (headers.status() != 0) {
            return Optional.of("pkg-config knows no fuse3: libfuse3-dev is not installed (tests/run installs it)");
        }
        return Optional.empty();
    }

    /**
     * Mounts a new volume at dir/mount over the empty folder dir/backing, the daemon's messages
     * going to dir/casefold.log, and returns once the kernel lists the mount.
     */
    static CaseInsensitiveVolume mount(Path dir) throws Exception {
        String cacheHome = System.getenv("XDG_CACHE_HOME");
        Path binary = build(cacheHome != null && !cacheHome.isBlank()
                ? Path.of(cacheHome) : Path.of(System.getenv("HOME"), ".cache"));
        Path backing = Files.createDirectories(dir.resolve("backing")).toRealPath();
        // Real path: the kernel lists the mount under it in /proc/self/mounts.
        Path root = Files.createDirectories(dir.resolve("mount")).toRealPath();
        Path log = dir.resolve("casefold.log");
        // -f: in the foreground, so that the process Java holds is the daemon and can be stopped
        // by its PID; -s: one thread, answering requests one at a time in the order they came.
        Process process = new ProcessBuilder(binary.toString(), backing.toString(), root.toString(), "-f", "-s")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        var volume = new CaseInsensitiveVolume(root, backing, log, process);
        try {
            volume.awaitMount();
        } catch (Exception | Error e) {
            try {
                volume.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return volume;
    }

    /** The mount point: what a test writes to and reads from. */
    Path root() {
        return root;
    }

    /** The folder under the volume, where every name is as the volume folded it. */
    Path backing() {
        return backing;
    }

    /** Whether /proc/self/mounts lists a mount at path. */
    static boolean mounted(Path path) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"), StandardCharsets.UTF_8)) {
            String[] fields = line.split(" ");
            if (fields.length > 1 && unescape(fields[1]).equals(path.toString())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Unmounts the volume and stops its daemon by its PID. fusermount3 -u is how a FUSE mount is
     * undone; when it refuses (busy: a file still open, a process' working directory on it),
     * umount -l detaches the volume now and lets the kernel let go of it later.
     */
    @Override
    public void close() throws Exception {
        if (closed) {
            return;
        }
        closed = true;
        if (mounted(root) && !succeeds(List.of("fusermount3", "-u", root.toString()))) {
            succeeds(List.of("umount", "-l", root.toString()));
        }
        // Unmounted, the daemon's next read of /dev/fuse fails and it exits; asked, then killed, if not.
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            Fixtures.stop(process);
        }
        if (mounted(root)) {
            throw new IOException("cannot unmount the case-insensitive volume at " + root + ":\n" + Fixtures.tail(log));
        }
    }

    private void awaitMount() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!mounted(root)) {
            if (!process.isAlive()) {
                throw new IOException("casefold exited with " + process.exitValue() + " before mounting " + root + ":\n"
                        + Fixtures.tail(log));
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("casefold did not mount " + root + " in 10 s:\n" + Fixtures.tail(log));
            }
            Thread.sleep(20);
        }
    }

    /**
     * The daemon built from casefold.c, in cacheHome/tekton-caches/casefold-HASH/ (cacheHome is
     * ${XDG_CACHE_HOME:-~/.cache}), HASH of the source: built once a version. It only appears
     * through a rename of a whole binary, so two runs that build at once each rename a complete
     * one, from the same source.
     */
    static Path build(Path cacheHome) throws Exception {
        Path cache = cacheHome.resolve("tekton-caches/casefold-" + Fixtures.sha256(SOURCE).substring(0, 16));
        Path binary = cache.resolve("casefold");
        if (Files.isExecutable(binary)) {
            return binary;
        }
        Files.createDirectories(cache);
        Path partial = Files.createTempFile(cache, "casefold.", ".partial");
        try {
            var flags = Fixtures.run(List.of("pkg-config", "--cflags", "--libs", "fuse3"), cache, System.getenv());
            if (flags.status() != 0) {
                throw new IOException("pkg-config --cflags --libs fuse3: " + flags);
            }
            var command = new ArrayList<>(List.of("gcc", "-O2", "-Wall", "-Wextra", "-o", partial.toString(),
                    SOURCE.toString()));
            command.addAll(Arrays.asList(flags.out().trim().split("\\s+")));
            var compiled = Fixtures.run(command, cache, System.getenv());
            if (compiled.status() != 0) {
                throw new IOException("compiling " + SOURCE + ": " + compiled);
            }
            Files.move(partial, binary, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
        return binary;
    }

    private static boolean succeeds(List<String> command) throws Exception {
        try {
            return Fixtures.run(command, Path.of("/"), System.getenv()).status() == 0;
        } catch (IOException e) {
            return false; // not installed
        }
    }

    private static boolean onPath(String tool) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Arrays.stream(path.split(":")).anyMatch(dir -> !dir.isEmpty() && Files.isExecutable(Path.of(dir, tool)));
    }

    /** A path as /proc/self/mounts writes it, with space, tab, newline and backslash as octal escapes. */
    private static String unescape(String field) {
        var out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}

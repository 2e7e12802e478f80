import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import lib.archive.SafeRestore;
import lib.common.Digests;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** What the tests share: the repository, running the scripts as a user would, trees with every kind of entry. */
final class Fixtures {

    /** The checkout: tests/run starts the tests from there. */
    static final Path REPO = Path.of("").toAbsolutePath();

    static final long MiB = 1024 * 1024;

    private Fixtures() {}

    /** What a finished command left: its exit status and what it printed. */
    record Run(int status, String out, String err) {
        /** stderr's last line: what a command ends with, after any progress reports. */
        String lastLine() {
            List<String> lines = err.lines().toList();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }

        @Override
        public String toString() {
            return "exit " + status + "\nstdout: " + out + "\nstderr: " + err;
        }
    }

    /** A clean environment: no StepAction parameters inherited, the default store under xdg. */
    static Map<String, String> env(Path xdgCacheHome) {
        var env = new HashMap<>(System.getenv());
        env.keySet().removeIf(name -> name.startsWith("PARAM_") || name.equals("JAVA_TOOL_OPTIONS"));
        env.put("XDG_CACHE_HOME", xdgCacheHome.toString());
        return env;
    }

    static Run fetch(Path cwd, Map<String, String> env, String... args) throws Exception {
        return script(List.of(), "CacheFetch", cwd, env, args);
    }

    static Run upload(Path cwd, Map<String, String> env, String... args) throws Exception {
        return script(List.of(), "CacheUpload", cwd, env, args);
    }

    /** Runs a script's class in its own JVM, as JBang would, from the classes compiled with the tests. */
    static Run script(List<String> jvmOptions, String mainClass, Path cwd, Map<String, String> env, String... args)
            throws Exception {
        return script(Duration.ofMinutes(10), jvmOptions, mainClass, cwd, env, args);
    }

    /** As script, killed and failing the test after limit: where a bug would hang the run for ever. */
    static Run script(Duration limit, List<String> jvmOptions, String mainClass, Path cwd, Map<String, String> env,
            String... args) throws Exception {
        return run(scriptCommand(jvmOptions, mainClass, args), cwd, env, limit);
    }

    /**
     * cache-fetch's command as a user runs it: when the tests run as root, under setpriv without
     * the powers that let root ignore modes and owners (the test is skipped where setpriv is
     * missing). A folder of another user's then refuses the restore what it refuses a user.
     */
    static List<String> fetchAsAUser(Path tmp, Map<String, String> env, String... args) throws Exception {
        var command = new ArrayList<String>();
        if ((Integer) Files.getAttribute(tmp, "unix:uid") == 0) {
            org.junit.jupiter.api.Assumptions.assumeTrue(run(List.of("setpriv", "--version"), tmp, env).status() == 0,
                    "setpriv is not installed");
            command.addAll(List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"));
        }
        command.addAll(scriptCommand(List.of(), "CacheFetch", args));
        return command;
    }

    /** The command that runs a script's class in its own JVM, for a test that wraps it in another. */
    static List<String> scriptCommand(List<String> jvmOptions, String mainClass, String... args) {
        var command = new ArrayList<String>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // as the scripts' //JAVA_OPTIONS: FileStat's and DescriptorMetadata's way
        command.add("--add-opens=java.base/sun.nio.fs=ALL-UNNAMED");
        command.add("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED");
        command.add("-Dfile.encoding=UTF-8"); // Utf8Locale's way
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        return command;
    }

    /** The run said why it failed in one line of command's, naming words, with no stack trace. */
    static void assertOneLine(Run run, String command, String words) {
        var lines = run.err().lines().filter(l -> l.startsWith(command + ":")).toList();
        assertEquals(1, lines.size(), run.toString());
        assertTrue(lines.get(0).contains(words), run.toString());
        assertFalse(run.err().contains("\tat "), "a stack trace without --verbose: " + run.err());
    }

    static Run run(List<String> command, Path cwd, Map<String, String> env) throws Exception {
        return run(command, cwd, env, Duration.ofMinutes(10));
    }

    private static Run run(List<String> command, Path cwd, Map<String, String> env, Duration limit) throws Exception {
        return run(command, cwd, env, limit, process -> {});
    }

    /** As run, telling started of the process once it runs: a test that signals it needs it. */
    static Run run(List<String> command, Path cwd, Map<String, String> env, Duration limit, Consumer<Process> started)
            throws Exception {
        var builder = new ProcessBuilder(command).directory(cwd.toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Path out = Files.createTempFile("run-", ".out");
        Path err = Files.createTempFile("run-", ".err");
        try {
            Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            started.accept(process);
            if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
                throw new AssertionError("still running after " + limit.toSeconds() + " s: " + command + "\nstderr: "
                        + Files.readString(err));
            }
            return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** A port that was free a moment ago: bound on 127.0.0.1, read, closed. Nothing listens there until a server does. */
    static int freePort() throws IOException {
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /**
     * Waits until a server the tests started answers request (any HTTP answer counts: it is
     * serving), failing with the end of its log when it exits or stays silent for seconds.
     */
    static void awaitAnswer(String name, Process process, HttpClient http, HttpRequest request, int seconds, Path log)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        Exception last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with status " + process.exitValue() + ":\n" + tail(log));
            }
            try {
                http.send(request, HttpResponse.BodyHandlers.discarding());
                return;
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(50);
        }
        throw new IOException(name + " did not answer on " + request.uri() + " within " + seconds + " s (" + last + "):\n"
                + tail(log));
    }

    /** A GET of uri that gives up after 2 s, from a client that gives up connecting after 1 s. */
    static HttpRequest probe(String uri) {
        return HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(2)).build();
    }

    /** The last lines of a log, for the message of a failure. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops a server a test started, by its PID: asked first, then killed, and waited for either way. */
    static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A real server a test class shares, held in a static field as a JUnit extension: started in a
     * temporary folder of its own before the class's first test (waited for until it answers), stopped
     * by PID after its last, the folder then deleted. For example
     * {@code @RegisterExtension static final RegistryServer registry = RegistryServer.perClass(Auth.NONE, false);}
     * The class's own @BeforeAll (a client, say) runs after the server started; its @AfterAll
     * before the server stops.
     */
    abstract static class ClassServer<S extends ClassServer<S>>
            implements BeforeAllCallback, AfterEachCallback, AfterAllCallback, AutoCloseable {

        private final String name;
        private FlakyProxy proxy;
        private Path folder;

        ClassServer(String name) {
            this.name = name;
        }

        /** Starts the server with its files under dir, on a free loopback port, and waits until it answers. */
        abstract void launch(Path dir) throws Exception;

        /** The plain HTTP URL a proxy in front of the server forwards to. */
        abstract String proxyTarget();

        /** Stops the server by PID and waits for it to exit; nothing to do when it is not running. */
        @Override
        public abstract void close();

        /**
         * Puts proxy in front of the server: it listens before the server starts, forwards to it,
         * forgets the faults a test gave it when the test ends, and is closed after the server.
         */
        @SuppressWarnings("unchecked")
        final S behind(FlakyProxy proxy) {
            this.proxy = proxy;
            return (S) this;
        }

        /** Launches the server; if it fails to answer, stops what did start before throwing. */
        final void startIn(Path dir) throws Exception {
            try {
                launch(dir);
            } catch (Exception | Error e) {
                close();
                throw e;
            }
        }

        /** The proxy given to behind, or null. */
        final FlakyProxy proxy() {
            return proxy;
        }

        @Override
        public final void beforeAll(ExtensionContext context) throws Exception {
            folder = Files.createTempDirectory(name + "-");
            if (proxy != null) {
                proxy.listen();
            }
            startIn(folder);
            if (proxy != null) {
                proxy.target(proxyTarget());
            }
        }

        @Override
        public final void afterEach(ExtensionContext context) {
            if (proxy != null) {
                proxy.clearFaults();
            }
        }

        @Override
        public final void afterAll(ExtensionContext context) throws IOException {
            try {
                close();
            } finally {
                if (proxy != null) {
                    proxy.close();
                }
                if (folder != null) {
                    SafeRestore.deleteTree(folder);
                }
            }
        }
    }

    /**
     * A project with a lock file and a cache folder holding every kind of entry a cache must keep:
     * nested and empty directories, an executable, a 0600 file, a 0666 file (more than a umask lets
     * through), relative, absolute and dangling symlinks, a symlink to a directory, a hardlink
     * pair, UTF-8 and long names, old mtimes, a read-only directory, and a large file of bigFileBytes (none when 0).
     */
    static void richTree(Path root, long bigFileBytes) throws IOException {
        write(root.resolve("bin/run.sh"), "#!/bin/sh\necho run\n");
        chmod(root.resolve("bin/run.sh"), "rwxr-xr-x");
        write(root.resolve("secret/key.pem"), "-----BEGIN KEY-----\n");
        chmod(root.resolve("secret/key.pem"), "rw-------");
        write(root.resolve("shared/everyone-writes.txt"), "a mode the umask would strip: restored by a chmod\n");
        chmod(root.resolve("shared/everyone-writes.txt"), "rw-rw-rw-");
        write(root.resolve("nested/a/b/c/deep.txt"), "deep\n");
        Files.createDirectories(root.resolve("empty"));
        Files.createDirectories(root.resolve("nested/empty-inner"));
        Files.createDirectories(root.resolve("links"));
        Files.createSymbolicLink(root.resolve("links/relative"), Path.of("../nested/a/b/c/deep.txt"));
        Files.createSymbolicLink(root.resolve("links/absolute"), Path.of("/etc/hostname"));
        Files.createSymbolicLink(root.resolve("links/dangling"), Path.of("does-not-exist"));
        Files.createSymbolicLink(root.resolve("links/to-dir"), Path.of("../nested"));
        write(root.resolve("hard/one.txt"), "linked twice\n");
        Files.createLink(root.resolve("hard/two.txt"), root.resolve("hard/one.txt"));
        write(root.resolve("ünïcödé/日本語 ファイル.txt"), "utf-8\n");
        write(root.resolve("emoji-🎉.txt"), "party\n");
        write(root.resolve("long/" + "x".repeat(120) + "/" + "y".repeat(150) + ".txt"), "long name\n");
        write(root.resolve("old/2001.txt"), "old\n");
        Files.setLastModifiedTime(root.resolve("old/2001.txt"), FileTime.from(Instant.parse("2001-09-09T01:46:40Z")));
        Files.setLastModifiedTime(root.resolve("old"), FileTime.from(Instant.parse("2005-01-01T00:00:00Z")));
        write(root.resolve("readonly/inside.txt"), "in a read-only folder\n");
        chmod(root.resolve("readonly"), "r-xr-xr-x");
        if (bigFileBytes > 0) {
            writeRandom(root.resolve("big/blob.bin"), bigFileBytes, 42);
        }
    }

    static void write(Path file, String content) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, content, StandardCharsets.UTF_8);
    }

    static void chmod(Path path, String permissions) throws IOException {
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(permissions));
    }

    /**
     * Pseudo-random bytes of which every other MiB repeats, so zstd has both kinds of data to
     * work on; written in large blocks, with memory that does not grow with the size.
     */
    static void writeRandom(Path file, long size, long seed) throws IOException {
        Files.createDirectories(file.getParent());
        var random = new SplittableRandom(seed);
        ByteBuffer block = ByteBuffer.allocate((int) MiB);
        ByteBuffer repeated = ByteBuffer.allocate((int) MiB);
        while (repeated.hasRemaining()) {
            repeated.putLong(random.nextLong());
        }
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long written = 0, i = 0; written < size; i++) {
                ByteBuffer source;
                if (i % 2 == 0) {
                    block.clear();
                    while (block.hasRemaining()) {
                        block.putLong(random.nextLong());
                    }
                    source = block;
                } else {
                    source = repeated;
                }
                source.flip();
                source.limit((int) Math.min(MiB, size - written));
                while (source.hasRemaining()) {
                    written += out.write(source);
                }
                source.clear();
            }
        }
    }

    /**
     * The digest a store records for an entry of groups: its index frame's, the object's last frame
     * (a zstd skippable frame, or a gzip member with a comment, whose header is found from the end).
     */
    static String indexDigest(byte[] object) {
        byte[] zstd = {0x5E, 0x2A, 0x4D, 0x18};
        byte[] gzip = {0x1f, (byte) 0x8b, 8, 0x10};
        boolean gzipped = object.length > 0 && object[object.length - 11] == 0 && object[object.length - 10] == 3;
        byte[] header = gzipped ? gzip : zstd;
        for (int i = object.length - header.length; i >= 0; i--) {
            if (java.util.Arrays.equals(object, i, i + header.length, header, 0, header.length)) {
                return Digests.hex(Digests.sha256().digest(java.util.Arrays.copyOfRange(object, i, object.length)));
            }
        }
        throw new AssertionError("no index frame at the end of the object");
    }

    /** A Maven project whose m2/ holds what saved names, and a second checkout of it (elsewhere) with no m2/. */
    record Checkouts(Path project, Path elsewhere, SortedMap<String, String> saved) {}

    /** Checkouts under tmp: m2/ a settings file and jars of 200, 300… KiB of random bytes. */
    static Checkouts mavenCheckouts(Path tmp, int jars) throws IOException {
        Path project = tmp.resolve("project");
        Path elsewhere = tmp.resolve("elsewhere");
        write(project.resolve("pom.xml"), "<project>" + tmp + "</project>\n");
        write(project.resolve("m2/settings.xml"), "<settings>the team's own</settings>\n");
        for (int i = 0; i < jars; i++) {
            String name = Character.toString('a' + i);
            writeRandom(project.resolve("m2/g/" + name + "/1.0/" + name + "-1.0.jar"), (200L + 100 * i) << 10, 7 + i);
        }
        write(elsewhere.resolve("pom.xml"), Files.readString(project.resolve("pom.xml")));
        return new Checkouts(project, elsewhere, snapshot(project.resolve("m2"), false));
    }

    /** Artifact i of the Maven repository m2: g/aNN/VERSION/ with a jar of random bytes (incompressible) and mavenPom's pom. */
    static void mavenArtifact(Path m2, int i, String version, long jarBytes, long seed) throws IOException {
        Path dir = m2.resolve(String.format("g/a%02d/%s", i, version));
        writeRandom(dir.resolve(String.format("a%02d-%s.jar", i, version)), jarBytes, seed);
        write(dir.resolve(String.format("a%02d-%s.pom", i, version)), mavenPom(i, version, 'x'));
    }

    /** The pom of mavenArtifact, its comment 40 of the filler: another filler makes a pom of the same size. */
    static String mavenPom(int i, String version, char filler) {
        return String.format("<project><artifactId>a%02d</artifactId><version>%s</version><!-- %s --></project>%n", i, version,
                String.valueOf(filler).repeat(40));
    }

    static String sha256(byte[] bytes) {
        return Digests.hex(Digests.sha256().digest(bytes));
    }

    /** The bytes as one zstd frame, as a group of ours is stored. */
    static byte[] zstd(byte[] bytes) throws IOException {
        var out = new java.io.ByteArrayOutputStream();
        try (var zstd = new com.github.luben.zstd.ZstdOutputStream(out)) {
            zstd.write(bytes);
        }
        return out.toByteArray();
    }

    /** A log that prints nothing, for stores opened by a test itself. */
    static lib.common.Log quiet() {
        return new lib.common.Log(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), false);
    }

    static String sha256(Path file) throws IOException {
        var digest = Digests.sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return Digests.hex(digest.digest());
    }

    /**
     * Everything a restore must keep, per relative path: type, permission bits, mtime to the
     * second, content digest, link target, and which names share an inode. The root's own entry
     * ("") is included when asked, for tests that want the folder exactly as it was.
     */
    static SortedMap<String, String> snapshot(Path root, boolean includeRoot) throws IOException {
        var entries = new TreeMap<String, String>();
        var inodes = new HashMap<Object, String>();
        if (includeRoot) {
            entries.put("", describe(root, "", inodes));
        }
        walk(root, "", entries, inodes);
        return entries;
    }

    private static void walk(Path dir, String prefix, SortedMap<String, String> entries, Map<Object, String> inodes)
            throws IOException {
        var children = new ArrayList<Path>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        children.sort(null);
        for (Path child : children) {
            String name = prefix + child.getFileName();
            entries.put(name, describe(child, name, inodes));
            if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                walk(child, name + "/", entries, inodes);
            }
        }
    }

    private static String describe(Path path, String name, Map<Object, String> inodes) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:mode,nlink,ino,dev,size,lastModifiedTime",
                LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        long mtime = ((FileTime) a.get("lastModifiedTime")).toInstant().getEpochSecond();
        String perms = Integer.toOctalString(mode & 07777);
        return switch (mode & 0170000) {
            case 0040000 -> "dir " + perms + " mtime=" + mtime;
            case 0120000 -> "symlink -> " + Files.readSymbolicLink(path);
            case 0100000 -> {
                String group = "";
                if ((Integer) a.get("nlink") > 1) {
                    group = " inode-of=" + inodes.computeIfAbsent(List.of(a.get("dev"), a.get("ino")), k -> name);
                }
                yield "file " + perms + " mtime=" + mtime + " size=" + a.get("size") + " sha256=" + sha256(path) + group;
            }
            default -> "special " + Integer.toOctalString(mode);
        };
    }
}

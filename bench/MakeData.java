///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Random;

/**
 * The benchmark's synthetic cache: MakeData DIR [SCALE] writes DIR/lock.txt and DIR/cache/, the
 * same bytes, links and mtimes on every run (fixed seeds). At scale 1: 30,000 small text-like
 * files in a Maven-repository-shaped tree, three 100 MiB files (random, repetitive, mixed) and a
 * few relative symlinks, about 450 MB.
 */
class MakeData {
    static final int MIB = 1 << 20;
    static final long EPOCH = 1_700_000_000L; // whole seconds: every tool keeps them exactly

    public static void main(String... args) throws IOException {
        Path dir = Path.of(args[0]);
        double scale = args.length > 1 ? Double.parseDouble(args[1]) : 1.0;
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache);
        Files.writeString(dir.resolve("lock.txt"), "bench data, scale " + scale + "\n");
        String[] words = words(new Random(1), 3000);
        smallFiles(cache.resolve("repository"), words, new Random(2), (int) Math.round(30_000 * scale));
        bigFiles(cache.resolve("big"), words, new Random(3), (long) (100L * MIB * scale));
        symlinks(cache);
        fixMtimes(cache);
    }

    /** A limited vocabulary is what makes poms and package.json files compress 4-6x. */
    static String[] words(Random random, int count) {
        String[] words = new String[count];
        for (int i = 0; i < count; i++) {
            var word = new StringBuilder();
            for (int n = 3 + random.nextInt(8); n > 0; n--) {
                word.append((char) ('a' + random.nextInt(26)));
            }
            words[i] = word.toString();
        }
        return words;
    }

    /** Sizes log-uniform in 0.5-16 KiB, eight files a folder, four levels down. */
    static void smallFiles(Path root, String[] words, Random random, int count) throws IOException {
        String[] kinds = {".pom", ".json", ".js", ".xml"};
        for (int i = 0; i < count; i++) {
            int group = i / 8;
            Path folder = root.resolve(words[group % 17]).resolve(words[100 + group % 211])
                    .resolve("artifact-" + group).resolve("1." + group % 13 + "." + group % 7);
            int size = (int) (512 * Math.pow(32, random.nextDouble()));
            write(folder.resolve("file-" + i + kinds[i % kinds.length]), text(words, random, size));
        }
    }

    static byte[] text(String[] words, Random random, int size) {
        var text = new StringBuilder(size + 100);
        while (text.length() < size) {
            String tag = words[random.nextInt(40)];
            text.append("  <").append(tag).append('>').append(words[random.nextInt(words.length)]).append('.')
                    .append(words[random.nextInt(words.length)]).append('-').append(random.nextInt(1000))
                    .append("</").append(tag).append(">\n");
        }
        text.setLength(size);
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The three kinds of large files a cache holds: jars/binaries, logs/indexes, and in between. */
    static void bigFiles(Path folder, String[] words, Random random, long size) throws IOException {
        Files.createDirectories(folder);
        byte[] block = new byte[MIB];
        try (OutputStream random1 = Files.newOutputStream(folder.resolve("random.bin"));
                OutputStream repetitive = Files.newOutputStream(folder.resolve("repetitive.log"));
                OutputStream mixed = Files.newOutputStream(folder.resolve("mixed.bin"))) {
            for (long done = 0; done < size; done += MIB) {
                int n = (int) Math.min(MIB, size - done);
                random.nextBytes(block);
                random1.write(block, 0, n);
                repetitive.write(logLines(done, n));
                // Alternating 64 KiB of noise and of text: compresses about 2x.
                byte[] text = text(words, random, n);
                random.nextBytes(block);
                for (int off = 0; off < n; off += 65536) {
                    mixed.write((off / 65536) % 2 == 0 ? block : text, off, Math.min(65536, n - off));
                }
            }
        }
    }

    static byte[] logLines(long offset, int size) {
        var text = new StringBuilder(size + 100);
        for (long line = offset / 64; text.length() < size; line++) {
            text.append(String.format("%010d INFO  [main] o.a.m.Download - Downloaded artifact %d%n", line, line % 97));
        }
        text.setLength(size);
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Relative links, as node_modules/.bin and Maven's "latest" have: they must come back as links. */
    static void symlinks(Path cache) throws IOException {
        Files.createDirectories(cache.resolve("bin"));
        Files.createSymbolicLink(cache.resolve("bin/random"), Path.of("../big/random.bin"));
        Files.createSymbolicLink(cache.resolve("bin/log"), Path.of("../big/repetitive.log"));
        Files.createSymbolicLink(cache.resolve("latest"), Path.of("big"));
        Files.createSymbolicLink(cache.resolve("bin/mixed"), Path.of("../big/mixed.bin"));
    }

    /**
     * Files and folders (after their contents) get mtimes from their names, not from the walk's
     * order, which the file system decides; links keep theirs, as tar leaves them.
     */
    static void fixMtimes(Path cache) throws IOException {
        Files.walkFileTree(cache, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                if (attributes.isRegularFile()) {
                    Files.setLastModifiedTime(file, seconds(cache, file));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path folder, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.setLastModifiedTime(folder, seconds(cache, folder));
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static FileTime seconds(Path cache, Path path) {
        return FileTime.fromMillis(1000 * (EPOCH + Math.floorMod(cache.relativize(path).toString().hashCode(), 10_000_000)));
    }

    static void write(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, bytes);
    }
}

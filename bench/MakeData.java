///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES Content.java

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * The benchmark's synthetic caches: {@code MakeData DIR SET [SCALE]} writes DIR/lock.txt and
 * DIR/cache/, the same bytes, modes, links and mtimes on every run (fixed seeds). At scale 1:
 * <ul>
 * <li>{@code maven}: a ~/.m2/repository of about 3,000 files and 400 MB, nearly all of it in a
 * few large jars;
 * <li>{@code node}: a node_modules tree of about 60,000 files and 200 MB, packages nested up to
 * five levels deep, a few hundred node_modules/.bin links;
 * <li>{@code big}: one 1 GiB file that zstd -3 halves;
 * <li>{@code mixed}: what a user caching a whole build holds, the maven set under m2/ beside the
 * node set's node_modules, the same files as those two sets (the same seeds).
 * </ul>
 * SCALE multiplies the counts of artifacts and packages, and the big file's size.
 */
class MakeData {
    static final long EPOCH = 1_700_000_000L; // whole seconds: every tool keeps them exactly

    public static void main(String... args) throws IOException {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: MakeData DIR maven|node|big|mixed [SCALE]");
            System.exit(2);
        }
        long began = System.nanoTime();
        Path dir = Path.of(args[0]);
        String set = args[1];
        double scale = args.length > 2 ? Double.parseDouble(args[2]) : 1.0;
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache);
        Files.writeString(dir.resolve("lock.txt"), "bench data " + set + ", scale " + scale + "\n");
        switch (set) {
            // Layout and bytes from separate seeds: tuning what a file holds leaves the tree as it was.
            case "maven" -> mavenRepository(cache, new Random(1), new Content(11), scale);
            case "node" -> nodeModules(cache, new Random(2), new Content(12), scale);
            case "big" -> bigFile(cache, new Content(13), scale);
            case "mixed" -> {
                mavenRepository(cache.resolve("m2"), new Random(1), new Content(11), scale);
                nodeModules(cache, new Random(2), new Content(12), scale);
            }
            default -> {
                System.err.println("MakeData: no data set " + set + "; maven, node, big or mixed");
                System.exit(2);
            }
        }
        fixMtimes(cache);
        System.err.printf("MakeData: %s in %.1f s%n", summary(cache), (System.nanoTime() - began) / 1e9);
    }

    record Version(String group, String artifact, String version) {
        Path folder(Path repository) {
            return repository.resolve(group.replace('.', '/')).resolve(artifact).resolve(version);
        }
    }

    /**
     * groupId/artifactId/version folders, each with its pom, their .sha1 files and
     * _remote.repositories; one version in five has a jar too (the others are parents and BOMs, as
     * in a real repository), a third of the artifacts a maven-metadata-central.xml. Jar sizes are
     * log-uniform from 5 KB to 20 MB, one drawn from each of as many equal slices of that range as
     * there are jars, so the total lands near 400 MB at scale 1 however the draws fall.
     */
    static void mavenRepository(Path repository, Random random, Content content, double scale) throws IOException {
        String[] tops = {"org", "com", "io", "net", "dev"};
        int groups = Math.max(1, (int) Math.round(120 * scale));
        String[] groupIds = new String[groups];
        for (int g = 0; g < groups; g++) {
            groupIds[g] = tops[random.nextInt(tops.length)] + "." + content.name(g)
                    + (random.nextBoolean() ? "." + word(random, content) : "");
        }
        var versions = new ArrayList<Version>();
        var artifacts = new ArrayList<List<Version>>();
        for (int a = 0, count = Math.max(1, (int) Math.round(580 * scale)); a < count; a++) {
            double u = random.nextDouble();
            String group = groupIds[(int) (groups * u * u)]; // a few groups hold many artifacts, as org.apache.maven does
            String artifact = content.name(a) + (random.nextBoolean() ? "-" + word(random, content) : "");
            var ofArtifact = new ArrayList<Version>();
            for (int v = 0, n = 1 + (random.nextInt(10) < 3 ? 1 : 0) + (random.nextInt(10) < 1 ? 1 : 0); v < n; v++) {
                // the minor version rises with v, so an artifact's versions differ
                String version = (1 + random.nextInt(5)) + "." + (v * 3 + random.nextInt(3)) + "." + random.nextInt(10);
                ofArtifact.add(new Version(group, artifact, version));
            }
            versions.addAll(ofArtifact);
            artifacts.add(ofArtifact);
        }
        var withJar = new ArrayList<>(versions);
        Collections.shuffle(withJar, random);
        int jars = Math.min(versions.size(), Math.max(1, (int) Math.round(165 * scale)));
        for (int j = 0; j < jars; j++) {
            double slice = (j + random.nextDouble()) / jars;
            writeJar(withJar.get(j), repository, content, (long) (5_000 * Math.pow(4000, slice)));
        }
        for (var version : versions) {
            Path folder = version.folder(repository);
            String base = version.artifact() + "-" + version.version();
            byte[] pom = content.pom(version.group(), version.artifact(), version.version(), (int) logUniform(random, 1, 60));
            write(folder.resolve(base + ".pom"), pom);
            write(folder.resolve(base + ".pom.sha1"), sha1(pom));
            write(folder.resolve("_remote.repositories"),
                    content.remoteRepositories(version.artifact(), version.version(), Files.exists(folder.resolve(base + ".jar"))));
        }
        for (var ofArtifact : artifacts) {
            if (random.nextInt(3) == 0) {
                Version last = ofArtifact.get(ofArtifact.size() - 1);
                write(last.folder(repository).resolveSibling("maven-metadata-central.xml"), content.mavenMetadata(
                        last.group(), last.artifact(), ofArtifact.stream().map(Version::version).toArray(String[]::new)));
            }
        }
    }

    static void writeJar(Version version, Path repository, Content content, long size) throws IOException {
        Path folder = version.folder(repository);
        Path jar = folder.resolve(version.artifact() + "-" + version.version() + ".jar");
        Files.createDirectories(folder);
        MessageDigest sha1 = sha1();
        try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(jar), 1 << 16), sha1)) {
            content.jar(out, version.group().replace('.', '/') + "/" + version.artifact().replace('-', '/'), size);
        }
        write(jar.resolveSibling(jar.getFileName() + ".sha1"), HexFormat.of().formatHex(sha1.digest()).getBytes(StandardCharsets.US_ASCII));
    }

    record Package(Path folder, String name, int depth) {}

    /**
     * Packages in node_modules, nearly half of them nested in an earlier one's node_modules (down to
     * five levels), a tenth scoped. Each has package.json, README.md and LICENSE, and a log-uniform
     * 1-120 modules, each a .js (in lib/, or dist/ with a .js.map beside it), for half the packages
     * a .d.ts, for a fifth a src/ .ts; one in ten a minified bundle of up to 2 MB, one in fifty a
     * compiled .node or .wasm. Three in ten have a bin/ script, linked from node_modules/.bin.
     */
    static void nodeModules(Path cache, Random random, Content content, double scale) throws IOException {
        var packages = new ArrayList<Package>();
        for (int p = 0, count = Math.max(1, (int) Math.round(1100 * scale)); p < count; p++) {
            String name = (random.nextInt(10) == 0 ? "@" + content.name(random.nextInt(40)) + "/" : "") + content.name(p);
            Path modules = cache.resolve("node_modules");
            int depth = 1;
            if (!packages.isEmpty() && random.nextInt(100) < 45) {
                Package parent = packages.get(random.nextInt(packages.size()));
                if (parent.depth() < 5) {
                    modules = parent.folder().resolve("node_modules");
                    depth = parent.depth() + 1;
                }
            }
            var made = new Package(modules.resolve(name), name, depth);
            packages.add(made);
            writePackage(made, random, content);
        }
    }

    static void writePackage(Package made, Random random, Content content) throws IOException {
        Path folder = made.folder();
        boolean bin = random.nextInt(10) < 3;
        int dependencies = (int) logUniform(random, 1, 25);
        write(folder.resolve("package.json"), content.packageJson(made.name(), content.version(), bin, dependencies));
        write(folder.resolve("README.md"), content.markdown(made.name(), (int) logUniform(random, 300, 16_000)));
        write(folder.resolve("LICENSE"), content.license(content.identifier()));
        boolean maps = random.nextInt(10) < 3;
        boolean types = random.nextBoolean();
        boolean sources = random.nextInt(5) == 0;
        String code = maps ? "dist/" : "lib/";
        String[] subfolders = {"", "", "utils/", "internal/", word(random, content) + "/"};
        for (int m = 0, modules = (int) logUniform(random, 1, 121); m < modules; m++) {
            String module = m == 0 ? "index" : subfolders[random.nextInt(subfolders.length)] + word(random, content) + m;
            write(folder.resolve(code + module + ".js"), content.javaScript((int) logUniform(random, 60, 12_000)));
            if (maps) {
                write(folder.resolve(code + module + ".js.map"), content.sourceMap(module, (int) logUniform(random, 100, 30_000)));
            }
            if (types) {
                write(folder.resolve(code + module + ".d.ts"), content.declarations((int) logUniform(random, 40, 8_000)));
            }
            if (sources) {
                write(folder.resolve("src/" + module + ".ts"), content.typeScript((int) logUniform(random, 60, 16_000)));
            }
        }
        if (random.nextInt(10) == 0) {
            int size = (int) logUniform(random, 1_000, 2_000_000);
            write(folder.resolve("dist/" + word(random, content) + ".min.js"), content.bundle(size));
        }
        if (random.nextInt(50) == 0) {
            int size = (int) logUniform(random, 50_000, 4_000_000);
            if (random.nextBoolean()) {
                Path addon = folder.resolve("build/Release/" + word(random, content) + ".node");
                write(addon, content.nativeBinary(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1}, size));
                Files.setPosixFilePermissions(addon, PosixFilePermissions.fromString("rwxr-xr-x"));
            } else {
                Path module = folder.resolve("dist/" + word(random, content) + ".wasm");
                write(module, content.nativeBinary(new byte[] {0, 'a', 's', 'm', 1, 0, 0, 0}, size));
            }
        }
        if (bin) {
            String command = made.name().substring(made.name().lastIndexOf('/') + 1);
            Path script = folder.resolve("bin/" + command + ".js");
            write(script, "#!/usr/bin/env node\n'use strict';\nrequire('../lib/index.js').main(process.argv.slice(2));\n"
                    .getBytes(StandardCharsets.US_ASCII));
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
            // What npm makes: a relative link, so the tree still works when moved or restored elsewhere.
            Path link = folder.getParent().resolve(made.name().contains("/") ? "../.bin" : ".bin").normalize().resolve(command);
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, link.getParent().relativize(script));
        }
    }

    static void bigFile(Path cache, Content content, double scale) throws IOException {
        try (OutputStream out = Files.newOutputStream(cache.resolve("mixed.bin"))) {
            content.mixed(out, (long) ((1L << 30) * scale));
        }
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

    /** "N files, N symlinks, N MB": what bench/run reports of each set. */
    static String summary(Path cache) throws IOException {
        long[] counts = new long[3];
        Files.walkFileTree(cache, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                counts[attributes.isSymbolicLink() ? 1 : 0]++;
                counts[2] += attributes.isRegularFile() ? attributes.size() : 0;
                return FileVisitResult.CONTINUE;
            }
        });
        return String.format("%d files, %d symlinks, %.0f MB", counts[0], counts[1], counts[2] / 1e6);
    }

    /** Uniform in [min, max) on a log scale: many small sizes, a few large ones carrying most bytes. */
    static long logUniform(Random random, long min, long max) {
        return (long) (min * Math.pow((double) max / min, random.nextDouble()));
    }

    /** A word of the vocabulary for a name, drawn by the layout's Random. */
    static String word(Random random, Content content) {
        return content.name(random.nextInt(Content.WORDS));
    }

    static void write(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, bytes);
    }

    static byte[] sha1(byte[] bytes) {
        return HexFormat.of().formatHex(sha1().digest(bytes)).getBytes(StandardCharsets.US_ASCII);
    }

    static MessageDigest sha1() {
        try {
            return MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-1", e);
        }
    }
}

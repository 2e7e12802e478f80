package lib.key;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import lib.common.Digests;
import lib.common.Log;
import lib.common.StoreError;
import lib.common.UsageError;

/**
 * The cache key: sha256 over the matched files sorted by their path relative to the working dir,
 * each contributing that path, a NUL and the sha256 of its content. Renaming or moving a matched
 * file changes the key; the order in which the file system lists them does not. For an entry of
 * several folders (folders > 1), their labels are hashed in with it.
 */
public record CacheKey(String hash, List<String> files, int folders) {

    /**
     * Walks the working dir for the files the patterns select. The skipped folders (the cache
     * folder, when it lies inside the working dir) are never entered: the key must be the same
     * before the cache is restored into them and after the build has filled them.
     */
    public static CacheKey compute(Path workingDir, Patterns patterns, Set<Path> skipped) {
        if (!Files.isDirectory(workingDir)) {
            throw new UsageError("working dir " + workingDir + " is not a directory");
        }
        var matched = new TreeMap<String, Path>();
        Path root = workingDir.toAbsolutePath().normalize();
        var skippedAbsolute = skipped.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        try {
            walk(root, "", patterns, skippedAbsolute, matched);
        } catch (UncheckedIOException e) {
            throw new StoreError("reading the working dir " + workingDir + ": " + e.getCause().getMessage(), e);
        }
        if (matched.isEmpty()) {
            throw new UsageError("--pattern " + patterns.describe() + " matches no file in " + workingDir);
        }
        MessageDigest key = Digests.sha256();
        for (var entry : matched.entrySet()) {
            key.update(entry.getKey().getBytes(StandardCharsets.UTF_8));
            key.update((byte) 0);
            key.update(contentDigest(entry.getValue(), entry.getKey()));
        }
        return new CacheKey(Digests.hex(key.digest()), List.copyOf(matched.keySet()), 1);
    }

    private static void walk(Path dir, String relative, Patterns patterns, List<Path> skipped,
            TreeMap<String, Path> matched) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                String name = relative.isEmpty()
                        ? child.getFileName().toString()
                        : relative + "/" + child.getFileName();
                if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                    if (!skipped.contains(child) && patterns.maySelectBelow(name)) {
                        walk(child, name, patterns, skipped, matched);
                    }
                } else if (Files.isRegularFile(child) && patterns.selects(name)) {
                    matched.put(name, child);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] contentDigest(Path file, String name) {
        try (InputStream in = Files.newInputStream(file)) {
            return Digests.sha256(in);
        } catch (IOException e) {
            throw new StoreError("reading " + name + " for the cache key: " + e.getMessage(), e);
        }
    }

    /**
     * The key for caching these folders, from the user's patterns or the detected project's. For
     * several, labelled as the entry records them, the labels count too (whatever their order): an
     * entry is saved under another key when the folders change, rather than found with the old
     * ones, which a restore would refuse, for as long as the lock files stay the same.
     */
    public static CacheKey forFolders(List<String> userPatterns, Path workingDir, List<Path> folders, List<String> labels,
            Log log) {
        CacheKey key = compute(workingDir, patternsFor(userPatterns, workingDir, log), Set.copyOf(folders));
        if (labels.size() > 1) {
            MessageDigest withFolders = Digests.sha256();
            withFolders.update(key.hash().getBytes(StandardCharsets.UTF_8));
            for (String label : labels.stream().sorted().toList()) {
                withFolders.update((byte) 0);
                withFolders.update(label.getBytes(StandardCharsets.UTF_8));
            }
            key = new CacheKey(Digests.hex(withFolders.digest()), key.files(), labels.size());
        }
        log.debug(key.describe());
        return key;
    }

    /** "key 3da4… from 3 files (go.mod, go.sum, tools/go.sum)", the first few files named, and the folders' number if several. */
    public String describe() {
        int shown = Math.min(files.size(), 5);
        String names = String.join(", ", files.subList(0, shown)) + (files.size() > shown ? ", …" : "");
        return "key " + hash + " from " + Log.count(files.size(), "file") + " (" + names + ")"
                + (folders > 1 ? " and the names of " + folders + " folders" : "");
    }

    /** The patterns to use: the user's, or those of the detected ecosystems. */
    public static Patterns patternsFor(List<String> userPatterns, Path workingDir, Log log) {
        if (!userPatterns.isEmpty()) {
            return Patterns.parse(userPatterns);
        }
        var detected = ProjectDetection.detect(workingDir);
        if (detected.isEmpty()) {
            throw new UsageError("no --pattern given and no known lock file (go.mod, package-lock.json, pom.xml,"
                    + " build.gradle, requirements.txt, Cargo.lock…) in " + workingDir
                    + "; name the files that decide the cache with --pattern");
        }
        var names = new ArrayList<String>();
        for (var d : detected) {
            names.add(d.name() + " (" + d.marker() + ")");
        }
        log.debug("detected " + String.join(", ", names) + " in " + workingDir);
        return Patterns.parse(ProjectDetection.patterns(detected));
    }
}

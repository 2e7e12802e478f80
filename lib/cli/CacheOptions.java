//DEPS info.picocli:picocli:4.7.7

package lib.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Supplier;
import lib.archive.Exclusion;
import lib.archive.Folders;
import lib.common.Ahead;
import lib.common.Durations;
import lib.common.Environment;
import lib.common.UsageError;
import lib.key.Patterns;
import lib.store.StoreUri;
import lib.trust.TrustedKeys;
import picocli.CommandLine.Option;

/**
 * The options cache-fetch and cache-upload share, with the StepAction's environment as their
 * defaults: a flag wins over the environment.
 */
public final class CacheOptions {

    @Option(names = "--pattern", paramLabel = "PATTERN",
            description = "Files whose content makes the cache key, .dockerignore style (**, *, ?, ! to exclude),"
                    + " relative to the working dir. Repeatable. Default: the lock files of the detected project.")
    public List<String> patterns = new ArrayList<>();

    @Option(names = "--folder", paramLabel = "DIR",
            description = "The folder to restore into or to save (env PARAM_CACHE_PATH). Repeatable: an entry of several"
                    + " folders restores only into the same folders, each into its own.")
    List<String> folders = new ArrayList<>();

    @Option(names = "--exclude", paramLabel = "PATTERN",
            description = "Paths inside the folder that a save leaves out and a restore leaves alone, with --pattern's rules"
                    + " relative to the folder, such as com/mycompany/** or .cache/**. Repeatable; ! takes a path back,"
                    + " though not one inside an excluded folder.")
    public List<String> excludes = new ArrayList<>();

    @Option(names = "--workingdir", paramLabel = "DIR", defaultValue = "${PARAM_WORKING_DIR:-}",
            description = "Where the patterns are taken from (env PARAM_WORKING_DIR). Default: the current directory.")
    String workingDir;

    @Option(names = "--insecure", paramLabel = "true|false", arity = "0..1", fallbackValue = "true",
            defaultValue = "${PARAM_INSECURE:-false}",
            description = "Allow plain HTTP and unverified TLS to the store (env PARAM_INSECURE).")
    String insecure;

    @Option(names = "--stall-timeout", paramLabel = "DURATION", defaultValue = "${PARAM_STALL_TIMEOUT:-30s}",
            description = "Abandon and retry a request to the store that moves no byte for this long, such as 30s or 2m"
                    + " (env PARAM_STALL_TIMEOUT, default 30s); a download goes on from where it stopped.")
    String stallTimeout;

    @Option(names = "--results-dir", paramLabel = "DIR",
            description = "Write Tekton results there, one file each (fetch: fetched, cache-hit, cache-key, matched-key, size;"
                    + " upload: cache-key, size).")
    String resultsDir;

    @Option(names = "--verify-key", paramLabel = "FILE",
            description = "Restore (fetch), or build on and keep (upload), only entries signed by the key in FILE, a PEM"
                    + " public key (openssl pkey -pubout, or cosign.pub); an entry signed by none is passed over, as a miss."
                    + " Repeatable: any one of the keys will do, so that a key can be rotated.")
    List<String> verifyKeys = new ArrayList<>();

    @Option(names = "--verbose", description = "Say more, with stack traces on errors.")
    boolean verbose;

    /**
     * The folders given (--folder, else PARAM_CACHE_PATH), the same one named twice counted once.
     * Several are labelled as an entry records them (Folders): by their path relative to the
     * working dir, or to the home folder, or else absolute, so that an entry made in one checkout
     * or home restores into another's.
     */
    public Folders folders(Environment env) {
        var paths = new ArrayList<Path>();
        List<String> given = folders.isEmpty() ? List.of(Objects.requireNonNullElse(env.get("PARAM_CACHE_PATH"), "")) : folders;
        for (String folder : given) {
            Path path = folder.isBlank() ? null : Path.of(folder).toAbsolutePath().normalize();
            if (path != null && !paths.contains(path)) {
                paths.add(path);
            }
        }
        if (paths.isEmpty()) {
            throw new UsageError("--folder is required (or PARAM_CACHE_PATH): the folder to cache");
        }
        if (paths.size() == 1) {
            return Folders.single(paths.get(0));
        }
        Path workingDir = workingDir();
        String home = env.get("HOME");
        Path homeDir = home == null || home.isBlank() ? null : Path.of(home).toAbsolutePath().normalize();
        return Folders.of(paths.stream().map(path -> new Folders.Folder(label(path, workingDir, homeDir), path)).toList());
    }

    /** "node_modules" in the working dir, "~/.gradle/caches" in the home folder, else the absolute path. */
    static String label(Path folder, Path workingDir, Path home) {
        if (folder.startsWith(workingDir)) {
            String relative = workingDir.relativize(folder).toString();
            return relative.isEmpty() ? "." : relative;
        }
        if (home != null && folder.startsWith(home)) {
            String relative = home.relativize(folder).toString();
            return relative.isEmpty() ? "~" : "~/" + relative;
        }
        return folder.toString();
    }

    /** What --exclude names, as a save and a restore leave it out. */
    public Exclusion exclusion() {
        if (excludes.isEmpty()) {
            return Exclusion.NONE;
        }
        return Patterns.parse("--exclude", excludes)::selects;
    }

    public Path workingDir() {
        return Path.of(workingDir == null || workingDir.isBlank() ? "." : workingDir).toAbsolutePath().normalize();
    }

    /**
     * The keys --verify-key names, read on a thread of their own while the run goes on; a file that
     * holds none is a usage error naming it, which the action takes before any request to the store.
     */
    public Supplier<TrustedKeys> trustedKeys() {
        if (verifyKeys.isEmpty()) {
            return Ahead.done(TrustedKeys.of(List.of()));
        }
        List<Path> files = verifyKeys.stream().map(Path::of).toList();
        return Ahead.start("verify-keys", () -> TrustedKeys.load(files));
    }

    public boolean insecure() {
        return flag("--insecure", insecure);
    }

    public Duration stallTimeout() {
        return Durations.parse("--stall-timeout", stallTimeout);
    }

    /** A true|false option whose value may come from a StepAction parameter: empty is false. */
    public static boolean flag(String option, String value) {
        String text = value == null ? "" : value.strip().toLowerCase(Locale.ROOT);
        return switch (text) {
            case "true" -> true;
            case "false", "" -> false;
            default -> throw new UsageError(option + " takes true or false, not '" + value + "'");
        };
    }

    /** The --source/--target given, or the local store under the user's cache directory. */
    public static StoreUri storeUri(String option, String given, Environment env) {
        if (given == null || given.isBlank()) {
            // Without either, the default would be a folder named "null" under the working dir:
            // a cache no later step finds. A step's HOME may well be unset; it must say where.
            if (blank(env.get("XDG_CACHE_HOME")) && blank(env.get("HOME"))) {
                throw new UsageError("no " + option + " given and neither XDG_CACHE_HOME nor HOME is set: give " + option
                        + " (or PARAM_" + option.substring(2).toUpperCase(Locale.ROOT) + ")");
            }
            return StoreUri.localDefault(env);
        }
        return StoreUri.parse(option, given, env);
    }

    private static boolean blank(String value) {
        return value == null || value.isBlank();
    }
}

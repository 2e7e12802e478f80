///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
// lib/ folder by folder, in this order, because JBang puts the jars on the classpath in the order it
// meets their //DEPS, and the JVM opens every jar ahead of the one holding a class it loads: zstd-jni
// and jackson-jr, which most runs load, go before the hundred and seventy jars of the S3, GCS and
// Azure SDKs (behind them, a file:// restore took 25 MB more memory). A new folder needs a line here.
// lib/trust comes last: BouncyCastle's 9 MB jar is loaded only by a run that signs, so it stays behind
// every jar that a run without a key opens.
//SOURCES lib/common/*.java lib/cli/*.java lib/key/*.java lib/archive/*.java lib/store/*.java lib/store/file/*.java
//SOURCES lib/net/*.java lib/store/oci/*.java lib/store/s3/*.java lib/store/gcs/*.java lib/store/azure/*.java lib/trust/*.java
// Serial GC, a small young generation and a 128 MiB heap: the data streams through and little
// stays live (the stores' tests move 1 GiB under this cap), so the JVM's default sizing (a
// quarter of the machine's memory, G1) only inflates RSS and start-up.
//JAVA_OPTIONS -XX:+UseSerialGC -Xmx128m -Xmn32m
// FileStat reads the mode, link count and ids from the JDK's own lstat result.
//JAVA_OPTIONS --add-opens java.base/sun.nio.fs=ALL-UNNAMED
// String concatenation through StringBuilder: the default (invokedynamic) spins classes at run
// time, which costs a short run more than it saves.
// Arguments as UTF-8 when Utf8Locale runs the command again under a UTF-8 locale (the default
// charset encodes what ProcessBuilder is given; JDK 18 and later default to UTF-8 anyway).
//JAVA_OPTIONS -Dfile.encoding=UTF-8
//JAVAC_OPTIONS -XDstringConcat=inline
// Our sources hold UTF-8 (quotes, dashes, arrows): javac would read them in the locale's charset,
// US-ASCII when LANG is unset, and refuse them.
//JAVAC_OPTIONS -encoding UTF-8

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import lib.archive.Compression;
import lib.cli.CacheOptions;
import lib.cli.Cli;
import lib.cli.Upload;
import lib.cli.Utf8Locale;
import lib.common.Ahead;
import lib.common.Durations;
import lib.common.Environment;
import lib.common.QuickExit;
import lib.common.Sizes;
import lib.common.UsageError;
import lib.common.Version;
import lib.trust.SignatureWarmUp;
import lib.trust.SigningKey;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "cache-upload", mixinStandardHelpOptions = true, version = "tekton-caches-java " + Version.NUMBER,
        description = "Saves a folder as the cache entry keyed by the hash of the project's lock files.",
        footer = "Exit status: 0 uploaded, or kept because the key already has its entry (entries are immutable),"
                + " 2 usage error, 3 store or I/O error (an earlier entry stays intact).")
class CacheUpload implements Callable<Integer> {

    @Mixin
    CacheOptions options;

    @Option(names = "--target", paramLabel = "URI", defaultValue = "${PARAM_TARGET:-}",
            description = "Where the cache is written, {{hash}} standing for the key (env PARAM_TARGET)."
                    + " Default: file://$XDG_CACHE_HOME/tekton-caches/{{hash}}.")
    String target;

    @Option(names = "--restore-key", paramLabel = "PREFIX",
            description = "When the key has no entry yet, take the newest entry whose name starts with PREFIX (found as"
                    + " cache-fetch finds it) as the base: the groups of files it holds already are reused, not sent again."
                    + " Repeatable: the first that matches anything wins.")
    List<String> restoreKeys = new ArrayList<>();

    @Option(names = "--compression", paramLabel = "zstd[:N]|gzip[:N]|none", defaultValue = "${PARAM_COMPRESSION:-zstd}",
            description = "How the archive is compressed, at level N: zstd 1 to 19 (default 3), gzip 1 to 9 (default 6)"
                    + " (env PARAM_COMPRESSION, default zstd).")
    String compression;

    @Option(names = "--max-size", paramLabel = "SIZE", defaultValue = "${PARAM_MAX_SIZE:-}",
            description = "Save nothing when the folder's files hold more than SIZE, such as 500M or 5G (K M G T: powers"
                    + " of 1000; Ki Mi Gi Ti: of 1024), and say so; the step still succeeds (env PARAM_MAX_SIZE).")
    String maxSize;

    @Option(names = "--keep", paramLabel = "N", defaultValue = "${PARAM_KEEP:-}",
            description = "After the save, delete all but the N newest entries the first --restore-key matches, this key's"
                    + " own always among those kept, on every store (oci:// where the registry allows deleting) (env PARAM_KEEP).")
    String keep;

    @Option(names = "--expires-after", paramLabel = "AGE", defaultValue = "${PARAM_EXPIRES_AFTER:-}",
            description = "oci:// only: label the image quay.expires-after=AGE (such as 12h, 7d or 2w), for Quay to"
                    + " delete it that long after the push (env PARAM_EXPIRES_AFTER).")
    String expiresAfter;

    @Option(names = "--max-age", paramLabel = "AGE", defaultValue = "${PARAM_MAX_AGE:-}",
            description = "file:// only: after the upload, delete the folder's entries neither written nor read for"
                    + " longer than AGE (such as 12h, 7d or 2w) (env PARAM_MAX_AGE).")
    String maxAge;

    @Option(names = "--sign-key", paramLabel = "FILE", defaultValue = "${PARAM_SIGN_KEY:-}",
            description = "Sign the entry with the private key in FILE: ECDSA P-256 or Ed25519 PEM (openssl genpkey), or"
                    + " cosign's encrypted key with its password in COSIGN_PASSWORD (env PARAM_SIGN_KEY). On oci:// the"
                    + " signature is cosign's; elsewhere it is inside the entry, so --compression none cannot be signed there.")
    String signKey;

    @Override
    public Integer call() {
        return Cli.run("cache-upload", options, Upload.RESULTS_BEFORE, (results, log) -> Upload.run(
                new Upload.Request(CacheOptions.storeUri("--target", target, Environment.system()),
                        options.folders(Environment.system()), options.exclusion(), options.workingDir(), options.patterns,
                        restoreKeys, compression(), maxSize(), keep(), expiresAfter(), maxAge(), options.insecure(),
                        options.stallTimeout(), signingKey(), options.trustedKeys(), Environment.system()),
                results, log, System::nanoTime));
    }

    /** The key --sign-key names, read as CacheOptions.trustedKeys reads the others. */
    private Supplier<Optional<SigningKey>> signingKey() {
        if (signKey == null || signKey.isBlank()) {
            return Ahead.done(Optional.empty());
        }
        Path file = Path.of(signKey.strip());
        return Ahead.start("signing-key", () -> Optional.of(SigningKey.load(file, Environment.system())));
    }

    private String expiresAfter() {
        if (expiresAfter == null || expiresAfter.isBlank()) {
            return null;
        }
        Durations.parse("--expires-after", expiresAfter); // as Quay reads it, or a usage error now
        return expiresAfter.strip();
    }

    /** An empty COMPRESSION parameter means the default, as every empty parameter does. */
    private Compression.Setting compression() {
        return Compression.Setting.parse(compression == null || compression.isBlank() ? "zstd" : compression);
    }

    private long maxSize() {
        return maxSize == null || maxSize.isBlank() ? -1 : Sizes.parse("--max-size", maxSize);
    }

    private int keep() {
        if (keep == null || keep.isBlank()) {
            return 0;
        }
        if (!keep.strip().matches("[0-9]{1,6}") || Integer.parseInt(keep.strip()) < 1) {
            throw new UsageError("--keep " + keep + " is not a number of entries from 1 up");
        }
        return Integer.parseInt(keep.strip());
    }

    private Duration maxAge() {
        return maxAge == null || maxAge.isBlank() ? null : Durations.parse("--max-age", maxAge);
    }

    public static void main(String... args) {
        QuickExit.exit(Utf8Locale.rerunIfNeeded("cache-upload", Environment.system()).orElseGet(() -> {
            SignatureWarmUp.startIfKeyed(args, Environment.system());
            return Cli.commandLine(new CacheUpload()).execute(args);
        }));
    }
}

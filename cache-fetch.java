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
// A restored file's mode and times are set through the descriptor that wrote it (DescriptorMetadata).
//JAVA_OPTIONS --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/sun.nio.fs=ALL-UNNAMED
// String concatenation through StringBuilder: the default (invokedynamic) spins classes at run
// time, which costs a short run more than it saves.
// Arguments as UTF-8 when Utf8Locale runs the command again under a UTF-8 locale (the default
// charset encodes what ProcessBuilder is given; JDK 18 and later default to UTF-8 anyway).
//JAVA_OPTIONS -Dfile.encoding=UTF-8
//JAVAC_OPTIONS -XDstringConcat=inline
// Our sources hold UTF-8 (quotes, dashes, arrows): javac would read them in the locale's charset,
// US-ASCII when LANG is unset, and refuse them.
//JAVAC_OPTIONS -encoding UTF-8

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import lib.cli.CacheOptions;
import lib.cli.Cli;
import lib.cli.Fetch;
import lib.cli.Utf8Locale;
import lib.common.Environment;
import lib.common.QuickExit;
import lib.common.Version;
import lib.trust.SignatureWarmUp;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "cache-fetch", mixinStandardHelpOptions = true, version = "tekton-caches-java " + Version.NUMBER,
        description = "Restores a folder from the cache entry keyed by the hash of the project's lock files.",
        footer = "Exit status: 0 restored, found (--lookup-only) or missed, 1 cache miss with --fail-on-miss,"
                + " 2 usage error, 3 store or I/O error. The folder is untouched unless the whole entry restored.")
class CacheFetch implements Callable<Integer> {

    @Mixin
    CacheOptions options;

    @Option(names = "--source", paramLabel = "URI", defaultValue = "${PARAM_SOURCE:-}",
            description = "Where the cache is read, {{hash}} standing for the key, {{os}}, {{arch}} and {{env:NAME}}"
                    + " for what they say (env PARAM_SOURCE). Default: file://$XDG_CACHE_HOME/tekton-caches/{{hash}}.")
    String source;

    @Option(names = "--restore-key", paramLabel = "PREFIX",
            description = "When the key has no entry, restore the newest entry whose name starts with PREFIX"
                    + " (placeholders as in --source). Repeatable: the first that matches anything wins.")
    List<String> restoreKeys = new ArrayList<>();

    @Option(names = "--lookup-only", paramLabel = "true|false", arity = "0..1", fallbackValue = "true",
            defaultValue = "${PARAM_LOOKUP_ONLY:-false}",
            description = "Say which entry would be restored, and restore nothing (env PARAM_LOOKUP_ONLY).")
    String lookupOnly;

    @Option(names = "--fail-on-miss", paramLabel = "true|false", arity = "0..1", fallbackValue = "true",
            defaultValue = "${PARAM_FAIL_ON_MISS:-false}",
            description = "Exit 1 when no entry matches (env PARAM_FAIL_ON_MISS). Default: a miss exits 0.")
    String failOnMiss;

    @Override
    public Integer call() {
        return Cli.run("cache-fetch", options, Fetch.RESULTS_BEFORE, (results, log) -> Fetch.run(
                new Fetch.Request(CacheOptions.storeUri("--source", source, Environment.system()),
                        options.folders(Environment.system()), options.exclusion(), options.workingDir(), options.patterns,
                        restoreKeys,
                        CacheOptions.flag("--lookup-only", lookupOnly), CacheOptions.flag("--fail-on-miss", failOnMiss),
                        options.insecure(), options.stallTimeout(), options.trustedKeys(), Environment.system()),
                results, log, System::nanoTime));
    }

    public static void main(String... args) {
        QuickExit.exit(Utf8Locale.rerunIfNeeded("cache-fetch", Environment.system()).orElseGet(() -> {
            SignatureWarmUp.startIfKeyed(args, Environment.system());
            return Cli.commandLine(new CacheFetch()).execute(args);
        }));
    }
}

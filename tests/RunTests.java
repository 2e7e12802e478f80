///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.junit.jupiter:junit-jupiter-engine:6.1.3
//DEPS org.junit.jupiter:junit-jupiter-params:6.1.3
//DEPS org.junit.platform:junit-platform-launcher:6.1.3
// commons-compress writes the crafted and reference archives of the tests (lib reads tar itself), with its own
// dependencies pinned: the stores' SDKs bring older ones that win otherwise.
//DEPS org.apache.commons:commons-compress:1.28.0
//DEPS org.apache.commons:commons-lang3:3.18.0 commons-io:commons-io:2.20.0 commons-codec:commons-codec:1.19.0
//SOURCES ../cache-fetch.java ../cache-upload.java
//SOURCES Fixtures.java TrustFixtures.java CraftedTar.java StepRunner.java RegistryServer.java TokenServer.java FlakyProxy.java HostileRegistry.java S3ProxyServer.java AzuriteServer.java EgressProxy.java TestCa.java TestHosts.java TektonYaml.java TektonSchema.java ContainerImage.java CaseInsensitiveVolume.java StoppedScript.java *Test.java

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs every *Test class of tests/ (or those whose simple name matches the arguments), one line
 * per test, and ends with the line "N passed, N failed" (", N skipped" when some were).
 */
class RunTests {

    /** Held so that the logger keeps its level: JUnit's notes on deleting temp links are noise here. */
    private static final java.util.logging.Logger JUNIT_LOG = java.util.logging.Logger.getLogger("org.junit");

    public static void main(String... args) throws Exception {
        JUNIT_LOG.setLevel(java.util.logging.Level.SEVERE);
        Path jar = Path.of(RunTests.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String[] names = args.length == 0
                ? new String[] {".*Test"}
                : java.util.Arrays.stream(args).map(a -> "(.*\\.)?" + a).toArray(String[]::new);
        var request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClasspathRoots(Set.of(jar)))
                .filters(includeClassNamePatterns(names))
                .build();
        var passed = new AtomicLong();
        var failed = new AtomicLong();
        var skipped = new AtomicLong();
        var listener = new TestExecutionListener() {
            private final java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>();
            /** "PatternsTest.patternSelects [\"go.sum\" on \"go.sum\": \"true\"]": class, method, case. */
            private String name(TestIdentifier id) {
                var source = id.getSource().filter(MethodSource.class::isInstance).map(MethodSource.class::cast);
                if (source.isEmpty()) {
                    return id.getDisplayName();
                }
                String className = source.get().getClassName();
                String method = className.substring(className.lastIndexOf('.') + 1) + "." + source.get().getMethodName();
                String display = id.getDisplayName();
                return display.startsWith(source.get().getMethodName() + "(") ? method : method + " [" + display + "]";
            }

            @Override
            public void executionStarted(TestIdentifier id) {
                started.put(id.getUniqueId(), System.nanoTime());
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (id.isTest()) {
                    skipped.incrementAndGet();
                    System.out.println("SKIP " + name(id) + ": " + reason);
                }
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                var error = result.getThrowable();
                if (!id.isTest()) {
                    if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                        failed.incrementAndGet();
                        System.out.println("FAIL " + id.getDisplayName() + " (container): " + error.map(Throwable::toString).orElse(""));
                        error.ifPresent(Throwable::printStackTrace);
                    }
                    return;
                }
                double seconds = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1e9;
                String time = String.format(java.util.Locale.ROOT, " (%.1f s)", seconds);
                if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    passed.incrementAndGet();
                    System.out.println("PASS " + name(id) + time);
                } else {
                    failed.incrementAndGet();
                    System.out.println("FAIL " + name(id) + time + ": " + error.map(Throwable::toString).orElse(""));
                    error.ifPresent(Throwable::printStackTrace);
                }
            }
        };
        LauncherFactory.create().execute(request, listener);
        System.out.flush();
        System.err.flush();
        String summary = passed + " passed, " + failed + " failed" + (skipped.get() > 0 ? ", " + skipped + " skipped" : "");
        System.out.println(summary);
        System.exit(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }
}

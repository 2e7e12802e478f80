//DEPS info.picocli:picocli:4.7.7

package lib.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import lib.archive.StopRequest;
import lib.archive.ZstdLibrary;
import lib.common.CacheException;
import lib.common.CacheMiss;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;
import lib.common.Reason;
import lib.common.Redaction;
import picocli.CommandLine;

/**
 * The edge between a script and lib: runs one action, and turns its outcome into Tekton results,
 * one line on stderr and an exit status. This is the only place where that happens.
 */
public final class Cli {

    /** The work of one command, given where to put its results and messages. */
    public interface Action {
        void run(Results results, Log log);
    }

    private Cli() {}

    public static int run(String command, CacheOptions options, Map<String, String> resultsBefore, Action action) {
        // Everything this run prints goes through it, stack traces included: messages quote URIs.
        PrintStream err = Redaction.stream(System.err);
        var log = new Log(err, options.verbose);
        var results = new Results(resultsBefore);
        // Before zstd's first use: the image's copy of its native library, where no temp folder is writable.
        ZstdLibrary.preferInstalled(Environment.system());
        int status;
        Throwable failure = null;
        try {
            action.run(results, log);
            status = ExitStatus.OK;
        } catch (CacheMiss e) {
            log.info(e.getMessage());
            status = e.exitStatus();
        } catch (CacheException e) {
            failure = e;
            results.failed();
            err.println(Log.oneLine(command + ": " + e.getMessage()));
            if (options.verbose && e.getCause() != null) {
                e.getCause().printStackTrace(err);
            }
            status = e.exitStatus();
        } catch (RuntimeException | Error e) {
            failure = e;
            results.failed();
            // An Error too (out of memory, a stack overflow): what the action held is released by
            // now, and the step still gets one line, its results and a status that is no miss.
            err.println(Log.oneLine(command + ": " + (e instanceof Error ? "" : "unexpected error: ") + Reason.of(e)
                    + (e instanceof OutOfMemoryError ? " (out of memory)" : "")));
            if (options.verbose) {
                e.printStackTrace(err);
            }
            status = ExitStatus.STORE;
        }
        if (options.resultsDir != null && !options.resultsDir.isBlank()) {
            try {
                results.writeTo(Path.of(options.resultsDir));
            } catch (IOException e) {
                err.println(Log.oneLine(command + ": writing results to " + options.resultsDir + ": " + Reason.of(e)));
                status = status == ExitStatus.OK ? ExitStatus.STORE : status;
            }
        }
        // A restore stopped by SIGTERM held the JVM's exit for this line and these results.
        StopRequest.Stopped.reported(failure);
        return status;
    }

    /** A picocli CommandLine whose usage errors are one line and exit 2, like ours. */
    public static CommandLine commandLine(Object command) {
        // Otherwise picocli looks for Groovy's Closure class on every start, and a class that is
        // not there is searched for in each of the ~180 jars of the classpath: 0.08 s, for nothing.
        System.setProperty("picocli.disable.closures", "true");
        var commandLine = new CommandLine(command);
        commandLine.setParameterExceptionHandler((e, args) -> {
            var cmd = e.getCommandLine();
            cmd.getErr().println(Log.oneLine(cmd.getCommandName() + ": " + Redaction.redact(e.getMessage()) + " (see --help)"));
            return ExitStatus.USAGE;
        });
        return commandLine;
    }
}

package lib.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import lib.common.Environment;
import lib.common.ExitStatus;
import lib.common.Log;

/**
 * A command run under a locale whose charset is not UTF-8 (LANG unset: POSIX, as in many containers
 * and shells), run again under LC_ALL=C.UTF-8. Java decodes file names with the locale's charset
 * (sun.jnu.encoding, fixed at start-up: -Dsun.jnu.encoding is ignored on JDK 17), so under POSIX a
 * non-ASCII name cannot even be made into a Path and a save would die part way. Running the same
 * command line again costs one more JVM start (0.12 s here, docs/development.md) and only where the
 * locale is wrong; refusing instead would make every such shell set LANG first.
 */
public final class Utf8Locale {

    /** Set in the command run again: if its JVM is not UTF-8 either, C.UTF-8 is not on this system. */
    static final String MARKER = "TEKTON_CACHES_UTF8_RERUN";
    private static final String LOCALE = "C.UTF-8";

    private Utf8Locale() {}

    /**
     * Empty when this JVM reads file names as UTF-8, and the command goes on here. Otherwise the exit
     * status of the same command run under LC_ALL=C.UTF-8 (its input and output this one's, a SIGTERM
     * passed on and its end waited for, so that a restore it stops is still taken back), or 2 and one
     * line saying what to set, where no UTF-8 locale can be had: before anything is read or written.
     */
    public static OptionalInt rerunIfNeeded(String command, Environment env) {
        String charset = System.getProperty("sun.jnu.encoding", "UTF-8");
        if (isUtf8(charset)) {
            return OptionalInt.empty();
        }
        if (env.get(MARKER) != null) {
            return refuse(command, charset + " even under LC_ALL=" + LOCALE + ", which this system does not have");
        }
        List<String> commandLine = commandLine();
        if (commandLine.isEmpty()) {
            return refuse(command, charset + ", and this command line cannot be read to run it again under LC_ALL=" + LOCALE);
        }
        var builder = new ProcessBuilder(commandLine).inheritIO();
        builder.environment().put("LC_ALL", LOCALE);
        builder.environment().put(MARKER, "1");
        Process rerun;
        try {
            rerun = builder.start();
        } catch (IOException e) {
            return refuse(command, charset + ", and running it again under LC_ALL=" + LOCALE + " failed: " + e.getMessage());
        }
        // A SIGTERM (a cancelled step) runs the hooks: pass it on, and wait for the restore it stops to be taken back.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (rerun.isAlive()) {
                rerun.destroy();
                rerun.onExit().join();
            }
        }, "utf8-rerun-stop"));
        while (true) {
            try {
                return OptionalInt.of(rerun.waitFor());
            } catch (InterruptedException e) {
                // nothing interrupts this thread but the JVM's end, which the hook waits out
            }
        }
    }

    private static boolean isUtf8(String charset) {
        String name = charset.toUpperCase(Locale.ROOT).replace("-", "");
        return name.equals("UTF8");
    }

    private static OptionalInt refuse(String command, String why) {
        System.err.println(Log.oneLine(command + ": file names cannot be read as UTF-8 under this locale (" + why
                + "): set LC_ALL or LANG to a UTF-8 locale this system has, such as C.UTF-8 or en_US.UTF-8 (locale -a lists them)"));
        return OptionalInt.of(ExitStatus.USAGE);
    }

    /**
     * This JVM's command line, from /proc/self/cmdline as UTF-8: the arguments Java was given were
     * decoded in the locale's charset, and a non-ASCII one is lost there. The scripts' JVM runs with
     * -Dfile.encoding=UTF-8, which ProcessBuilder encodes arguments with, so the bytes go back as
     * they came. Where there is no /proc, what ProcessHandle says; empty when neither can tell.
     */
    private static List<String> commandLine() {
        try {
            byte[] bytes = Files.readAllBytes(Path.of("/proc/self/cmdline"));
            String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            var argv = new ArrayList<>(List.of(text.split("\0", -1)));
            if (!argv.isEmpty() && argv.get(argv.size() - 1).isEmpty()) {
                argv.remove(argv.size() - 1);
            }
            return argv;
        } catch (CharacterCodingException e) {
            return List.of(); // an argument that is not UTF-8 could not be passed on as it is
        } catch (IOException | RuntimeException e) {
            var info = ProcessHandle.current().info();
            if (info.command().isEmpty() || info.arguments().isEmpty()) {
                return List.of();
            }
            var argv = new ArrayList<>(List.of(info.command().get()));
            argv.addAll(List.of(info.arguments().get()));
            return argv;
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.connect.ListeningConnector;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.event.VMDisconnectEvent;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import lib.common.ExitStatus;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file a build is still writing while cache-upload archives it (GNU tar's "file changed as we
 * read it"): the upload fails in one line with exit 3 and the store keeps exactly what it held,
 * rather than storing a jar cut short or half rewritten.
 */
class FileChangedWhileReadTest {

    private static final FileTime WRITTEN_LONG_AGO = FileTime.from(Instant.parse("2001-09-09T01:46:40Z"));

    @TempDir
    Path tmp;

    private Path project;
    private Path jar;
    private Map<String, String> env;
    private String target;

    @BeforeEach
    void storeAnEarlierEntry() throws Exception {
        project = tmp.resolve("project");
        jar = project.resolve("cache/lib/app.jar");
        env = Fixtures.env(tmp.resolve("xdg"));
        target = tmp.resolve("store").toUri() + "/{{hash}}";
        Fixtures.write(project.resolve("go.sum"), "lock v1\n");
        Fixtures.writeRandom(jar, 3 * Fixtures.MiB, 11);
        // Long ago, so that any write now gives it another mtime whatever the clock's granularity.
        Files.setLastModifiedTime(jar, WRITTEN_LONG_AGO);
        var earlier = Fixtures.upload(project, env, "--pattern", "go.sum", "--folder", "cache", "--target", target);
        assertEquals(ExitStatus.OK, earlier.status(), earlier.toString());
        Fixtures.write(project.resolve("go.sum"), "lock v2\n"); // a new key: the next upload writes a new entry
    }

    @Test
    void aFileThatGrowsWhileItIsReadFailsTheUploadAndTheStoreKeepsWhatItHeld() throws Exception {
        var before = Fixtures.snapshot(tmp.resolve("store"), false);

        var run = uploadChangingTheJarAsItIsRead(() -> {
            Files.write(jar, new byte[] {'m', 'o', 'r', 'e'}, StandardOpenOption.APPEND);
            // A writer that keeps the mtime (cp -p, an unzip), so that only the size tells.
            Files.setLastModifiedTime(jar, WRITTEN_LONG_AGO);
        });

        assertFailsInOneLine(run);
        assertEquals(before, Fixtures.snapshot(tmp.resolve("store"), false), "the store holds the earlier entry alone");
    }

    @Test
    void aFileRewrittenInPlaceWhileItIsReadFailsTheUpload() throws Exception {
        var before = Fixtures.snapshot(tmp.resolve("store"), false);

        var run = uploadChangingTheJarAsItIsRead(() -> {
            // Same size, other bytes: only the mtime tells.
            try (FileChannel out = FileChannel.open(jar, StandardOpenOption.WRITE)) {
                out.write(ByteBuffer.wrap("rewritten".getBytes()), 0);
            }
        });

        assertFailsInOneLine(run);
        assertEquals(3 * Fixtures.MiB, Files.size(jar));
        assertEquals(before, Fixtures.snapshot(tmp.resolve("store"), false), "the store holds the earlier entry alone");
    }

    private static void assertFailsInOneLine(Fixtures.Run run) {
        assertEquals(ExitStatus.STORE, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().startsWith("cache-upload: uploading "), run.err());
        assertTrue(run.err().contains("lib/app.jar changed while it was read (3145728 bytes"), run.err());
    }

    /** What the test does to the jar while cache-upload is stopped. */
    interface Change {
        void apply() throws Exception;
    }

    /**
     * Runs cache-upload under a debugger that stops it where Archive starts reading the jar's
     * content (the folder's only file), after the walk's lstat and the jar's header; changes the
     * jar; then lets it run on to its exit. A breakpoint rather than a writer racing the read: on two
     * busy cores a race is won or lost by chance, a stop at the one moment that matters is certain.
     */
    private Fixtures.Run uploadChangingTheJarAsItIsRead(Change change) throws Exception {
        ListeningConnector connector = Bootstrap.virtualMachineManager().listeningConnectors().stream()
                .filter(c -> c.transport().name().equals("dt_socket")).findFirst().orElseThrow();
        Map<String, Connector.Argument> arguments = connector.defaultArguments();
        arguments.get("localAddress").setValue("127.0.0.1");
        arguments.get("port").setValue("0");
        arguments.get("timeout").setValue("60000");
        String address = connector.startListening(arguments);
        var upload = CompletableFuture.supplyAsync(() -> {
            try {
                return Fixtures.script(List.of("-agentlib:jdwp=transport=dt_socket,server=n,suspend=y,address=" + address),
                        "CacheUpload", project, env, "--pattern", "go.sum", "--folder", "cache", "--target", target);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        boolean changed = false;
        VirtualMachine vm;
        try {
            vm = connector.accept(arguments);
        } finally {
            connector.stopListening(arguments);
        }
        var requests = vm.eventRequestManager();
        var prepare = requests.createClassPrepareRequest();
        prepare.addClassFilter("lib.archive.Archive$TarWriter");
        prepare.enable();
        vm.resume();
        events:
        while (true) {
            EventSet events = vm.eventQueue().remove(TimeUnit.MINUTES.toMillis(2));
            assertNotNull(events, "cache-upload neither reached Archive.copyContent nor exited");
            for (Event event : events) {
                if (event instanceof ClassPrepareEvent prepared) {
                    var copyContent = prepared.referenceType().methodsByName("copyContent").get(0);
                    requests.createBreakpointRequest(copyContent.location()).enable();
                } else if (event instanceof BreakpointEvent) {
                    change.apply();
                    changed = true;
                    // Stay attached until the JVM exits: detaching while it runs on can make its
                    // debug agent print a transport error of its own on stderr.
                    requests.deleteAllBreakpoints();
                } else if (event instanceof VMDisconnectEvent) {
                    break events;
                }
            }
            try {
                events.resume();
            } catch (com.sun.jdi.VMDisconnectedException e) {
                break; // it exited as this event set was handled
            }
        }
        var run = upload.get(5, TimeUnit.MINUTES);
        assertTrue(changed, "cache-upload never read the jar: " + run);
        return run;
    }
}

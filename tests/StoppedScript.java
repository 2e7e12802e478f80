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
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs a script's class under a debugger that stops it the first time it enters a method, does
 * something there (changes a file, deletes an object), then lets it run on to its exit. A
 * breakpoint rather than a race: on two busy cores a race is won or lost by chance, a stop at the
 * one moment that matters is certain.
 */
final class StoppedScript {

    /** What the test does while the script is stopped. */
    interface Action {
        void apply() throws Exception;
    }

    private StoppedScript() {}

    /** The script's run; fails unless it stopped at className.method and the action ran. */
    static Fixtures.Run run(String className, String method, Action action, String mainClass, Path cwd, Map<String, String> env,
            String... args) throws Exception {
        ListeningConnector connector = Bootstrap.virtualMachineManager().listeningConnectors().stream()
                .filter(c -> c.transport().name().equals("dt_socket")).findFirst().orElseThrow();
        Map<String, Connector.Argument> arguments = connector.defaultArguments();
        arguments.get("localAddress").setValue("127.0.0.1");
        arguments.get("port").setValue("0");
        arguments.get("timeout").setValue("60000");
        String address = connector.startListening(arguments);
        var script = CompletableFuture.supplyAsync(() -> {
            try {
                return Fixtures.script(List.of("-agentlib:jdwp=transport=dt_socket,server=n,suspend=y,address=" + address),
                        mainClass, cwd, env, args);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        boolean stopped = false;
        VirtualMachine vm;
        try {
            vm = connector.accept(arguments);
        } finally {
            connector.stopListening(arguments);
        }
        var requests = vm.eventRequestManager();
        var prepare = requests.createClassPrepareRequest();
        prepare.addClassFilter(className);
        prepare.enable();
        vm.resume();
        events:
        while (true) {
            EventSet events = vm.eventQueue().remove(TimeUnit.MINUTES.toMillis(2));
            assertNotNull(events, mainClass + " neither reached " + className + "." + method + " nor exited");
            for (Event event : events) {
                if (event instanceof ClassPrepareEvent prepared) {
                    var entered = prepared.referenceType().methodsByName(method).get(0);
                    requests.createBreakpointRequest(entered.location()).enable();
                } else if (event instanceof BreakpointEvent) {
                    action.apply();
                    stopped = true;
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
        var run = script.get(5, TimeUnit.MINUTES);
        assertTrue(stopped, mainClass + " never reached " + className + "." + method + ": " + run);
        return run;
    }
}

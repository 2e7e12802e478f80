import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.connect.ListeningConnector;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.event.VMDisconnectEvent;
import com.sun.jdi.request.EventRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs a script's class under a debugger that stops it where a method is entered (the first time,
 * or the nth), does something there (changes a file, deletes an object, signals the script's
 * process), then lets it run on to its exit. A breakpoint rather than a race: on two busy cores a
 * race is won or lost by chance, a stop at the one moment that matters is certain.
 */
final class StoppedScript {

    /** What the test does while the script is stopped. */
    interface Action {
        void apply() throws Exception;
    }

    /** What the test does while the script is stopped, given the script's process (to signal it). */
    interface ProcessAction {
        void apply(Process script) throws Exception;
    }

    /** Where to stop: the hit-th entry (1 the first) into className.method, and what to do there. */
    record Stop(String className, String method, int hit, ProcessAction action) {}

    private StoppedScript() {}

    /** The script's run; fails unless it stopped at className.method and the action ran. */
    static Fixtures.Run run(String className, String method, Action action, String mainClass, Path cwd, Map<String, String> env,
            String... args) throws Exception {
        return run(List.of(new Stop(className, method, 1, script -> action.apply())), mainClass, cwd, env, args);
    }

    /**
     * The script's run, stopped at each of stops in turn; fails unless each was reached and its action
     * ran. With one stop the whole JVM is stopped there. With several, only the thread that reached a
     * stop is, and it stays stopped until the last stop's action has run: so a test can signal the
     * script at the first and hold it there until a thread the signal starts (a shutdown hook)
     * reaches the second.
     */
    static Fixtures.Run run(List<Stop> stops, String mainClass, Path cwd, Map<String, String> env, String... args)
            throws Exception {
        return run(stops, mainClass, (agent, started) -> Fixtures.run(Fixtures.scriptCommand(List.of(agent), mainClass, args),
                cwd, env, Duration.ofMinutes(10), started));
    }

    /** Starts a process whose JVM takes agent among its options (a script, or a shell that runs one), telling started of it. */
    interface Launch {
        Fixtures.Run run(String agent, Consumer<Process> started) throws Exception;
    }

    /**
     * As run, for a JVM that launch starts in a process of its own or under another (a step's shell):
     * the actions get that process. A run that fails ends the JVM, left stopped otherwise.
     */
    static Fixtures.Run run(List<Stop> stops, String what, Launch launch) throws Exception {
        ListeningConnector connector = Bootstrap.virtualMachineManager().listeningConnectors().stream()
                .filter(c -> c.transport().name().equals("dt_socket")).findFirst().orElseThrow();
        Map<String, Connector.Argument> arguments = connector.defaultArguments();
        arguments.get("localAddress").setValue("127.0.0.1");
        arguments.get("port").setValue("0");
        arguments.get("timeout").setValue("60000");
        String address = connector.startListening(arguments);
        var started = new CompletableFuture<Process>();
        var script = CompletableFuture.supplyAsync(() -> {
            try {
                return launch.run("-agentlib:jdwp=transport=dt_socket,server=n,suspend=y,address=" + address, started::complete);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        VirtualMachine vm;
        try {
            vm = connector.accept(arguments);
        } finally {
            connector.stopListening(arguments);
        }
        Process process = started.get(1, TimeUnit.MINUTES);
        var requests = vm.eventRequestManager();
        for (String className : stops.stream().map(Stop::className).distinct().toList()) {
            var prepare = requests.createClassPrepareRequest();
            prepare.addClassFilter(className);
            prepare.enable();
        }
        int suspendPolicy = stops.size() == 1 ? EventRequest.SUSPEND_ALL : EventRequest.SUSPEND_EVENT_THREAD;
        var breakpoints = new HashMap<EventRequest, Stop>();
        var held = new ArrayList<EventSet>();
        int reached = 0;
        try {
            vm.resume();
            events:
            while (true) {
                EventSet events = vm.eventQueue().remove(TimeUnit.MINUTES.toMillis(2));
                Stop next = stops.get(Math.min(reached, stops.size() - 1));
                assertNotNull(events, () -> what + " neither reached " + next + " nor exited");
                boolean hold = false;
                for (Event event : events) {
                    if (event instanceof ClassPrepareEvent prepared) {
                        for (Stop stop : stops) {
                            if (stop.className().equals(prepared.referenceType().name())) {
                                var entered = prepared.referenceType().methodsByName(stop.method()).get(0);
                                var breakpoint = requests.createBreakpointRequest(entered.location());
                                breakpoint.addCountFilter(stop.hit());
                                breakpoint.setSuspendPolicy(suspendPolicy);
                                breakpoint.enable();
                                breakpoints.put(breakpoint, stop);
                            }
                        }
                    } else if (event instanceof BreakpointEvent && breakpoints.containsKey(event.request())) {
                        Stop stop = breakpoints.remove(event.request());
                        assertEquals(stops.get(reached), stop, "stopped out of turn");
                        // Stay attached until the JVM exits: detaching while it runs on can make its
                        // debug agent print a transport error of its own on stderr.
                        requests.deleteEventRequest(event.request());
                        stop.action().apply(process);
                        reached++;
                        hold = reached < stops.size();
                    } else if (event instanceof VMDisconnectEvent) {
                        break events;
                    }
                }
                try {
                    if (hold) {
                        held.add(events);
                        continue;
                    }
                    for (EventSet stopped : held) {
                        stopped.resume();
                    }
                    held.clear();
                    events.resume();
                } catch (com.sun.jdi.VMDisconnectedException e) {
                    break; // it exited as this event set was handled
                }
            }
        } catch (Throwable failure) {
            try {
                vm.exit(1); // not left stopped, nor running on unwatched
            } catch (com.sun.jdi.VMDisconnectedException gone) {
                // it exited already
            }
            throw failure;
        }
        var run = script.get(5, TimeUnit.MINUTES);
        int stopsReached = reached;
        assertEquals(stops.size(), reached, () -> what + " never reached " + stops.get(stopsReached) + ": " + run);
        return run;
    }
}

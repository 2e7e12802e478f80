//DEPS org.yaml:snakeyaml:2.5

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Runs a Tekton StepAction's script the way Tekton's entrypoint does, without a cluster: the
 * parameters' defaults are applied, `$(params.NAME)` is replaced in env values, args and the
 * script, an argument that is exactly `$(params.NAME[*])` becomes one argument per element of the
 * array, `$(step.results.NAME.path)` becomes a file in a results folder, and the script is run by
 * the given shell with the args as its positional parameters. Any reference left unreplaced, a
 * missing parameter or an undeclared result fails the run, as Tekton's validation would.
 */
final class StepRunner {

    /** What a step left: its exit status, what it printed, and its results (declared name to value). */
    record Outcome(int status, String out, String err, Map<String, String> results) {
        @Override
        public String toString() {
            return "exit " + status + "\nresults: " + results + "\nstdout: " + out + "\nstderr: " + err;
        }
    }

    private static final Pattern PARAM = Pattern.compile("\\$\\(params\\.([A-Za-z0-9_-]+)\\)");
    private static final Pattern ARRAY_PARAM = Pattern.compile("\\$\\(params\\.([A-Za-z0-9_-]+)\\[\\*\\]\\)");
    private static final Pattern RESULT_PATH = Pattern.compile("\\$\\(step\\.results\\.([A-Za-z0-9_-]+)\\.path\\)");
    private static final Pattern ANY_REFERENCE = Pattern.compile("\\$\\((params|step|steps|results|workspaces)[.\\[][^)]*\\)");

    private final Path file;
    private final Map<String, Object> spec;

    private StepRunner(Path file, Map<String, Object> spec) {
        this.file = file;
        this.spec = spec;
    }

    /** Reads a StepAction file; anything else is refused. */
    static StepRunner load(Path file) throws IOException {
        Map<String, Object> document;
        try (Reader reader = Files.newBufferedReader(file)) {
            document = map(new Yaml(new SafeConstructor(new LoaderOptions())).load(reader), file + ": document");
        }
        if (!"StepAction".equals(document.get("kind"))) {
            throw new IllegalArgumentException(file + " is a " + document.get("kind") + ", not a StepAction");
        }
        return new StepRunner(file, map(document.get("spec"), file + ": spec"));
    }

    /** Where a step runs: here with a shell, or in a container; it adds the image's environment to the step's. */
    interface Executor {
        /** Runs the script file with the step's args, with the step's own env among the variables. */
        Fixtures.Run run(List<String> scriptAndArgs, Map<String, String> stepEnv) throws Exception;
    }

    /**
     * Runs the step's script. params holds a String for each string parameter and a List of
     * Strings for each array parameter. The script and the results folder go in scratch, which
     * the executor must make visible to the step at the same path.
     */
    Outcome run(Executor executor, Map<String, Object> params, Path scratch) throws Exception {
        Map<String, Object> values = parameterValues(params);
        Path resultsDir = Files.createDirectories(scratch.resolve("results"));
        Path script = scratch.resolve("script");
        Files.writeString(script, replaceResultPaths(replaceStrings((String) spec.get("script"), values), resultsDir));

        var stepEnv = new LinkedHashMap<String, String>();
        for (Object entry : list(spec.getOrDefault("env", List.of()), "env")) {
            var variable = map(entry, "env entry");
            stepEnv.put((String) variable.get("name"), replaceStrings(String.valueOf(variable.get("value")), values));
        }

        var command = new ArrayList<>(List.of(script.toString()));
        for (Object arg : list(spec.getOrDefault("args", List.of()), "args")) {
            command.addAll(expandArg(String.valueOf(arg), values));
        }
        Fixtures.Run run = executor.run(command, stepEnv);
        return new Outcome(run.status(), run.out(), run.err(), readResults(resultsDir));
    }

    private Map<String, Object> parameterValues(Map<String, Object> given) {
        var values = new LinkedHashMap<String, Object>();
        for (Object entry : list(spec.getOrDefault("params", List.of()), "params")) {
            var declared = map(entry, "param");
            String name = (String) declared.get("name");
            boolean array = "array".equals(declared.getOrDefault("type", "string"));
            Object value = given.containsKey(name) ? given.get(name) : declared.get("default");
            if (value == null) {
                throw new IllegalArgumentException(file + ": parameter " + name + " has no default and was not given");
            }
            if (array != value instanceof List) {
                throw new IllegalArgumentException(file + ": parameter " + name + " is of type "
                        + (array ? "array" : "string") + " but was given " + value);
            }
            values.put(name, value);
        }
        for (String name : given.keySet()) {
            if (!values.containsKey(name)) {
                throw new IllegalArgumentException(file + ": no parameter " + name + " is declared");
            }
        }
        return values;
    }

    /** `$(params.NAME)` for string parameters; an array parameter there is an error, as in Tekton. */
    private String replaceStrings(String text, Map<String, Object> values) {
        Matcher matcher = PARAM.matcher(text);
        var out = new StringBuilder();
        while (matcher.find()) {
            Object value = values.get(matcher.group(1));
            if (!(value instanceof String string)) {
                throw new IllegalArgumentException(file + ": " + matcher.group() + " names no string parameter");
            }
            matcher.appendReplacement(out, Matcher.quoteReplacement(string));
        }
        return unreplaced(matcher.appendTail(out).toString());
    }

    private List<String> expandArg(String arg, Map<String, Object> values) {
        Matcher whole = ARRAY_PARAM.matcher(arg);
        if (whole.matches()) {
            if (!(values.get(whole.group(1)) instanceof List<?> elements)) {
                throw new IllegalArgumentException(file + ": " + arg + " names no array parameter");
            }
            return elements.stream().map(String::valueOf).toList();
        }
        return List.of(replaceStrings(arg, values));
    }

    private String replaceResultPaths(String script, Path resultsDir) {
        var declared = resultNames();
        Matcher matcher = RESULT_PATH.matcher(script);
        var out = new StringBuilder();
        while (matcher.find()) {
            if (!declared.contains(matcher.group(1))) {
                throw new IllegalArgumentException(file + ": the script writes undeclared result " + matcher.group(1));
            }
            matcher.appendReplacement(out, Matcher.quoteReplacement(resultsDir.resolve(matcher.group(1)).toString()));
        }
        return matcher.appendTail(out).toString();
    }

    /** Fails on a reference the step would leave to Tekton but this runner cannot give a value for. */
    private String unreplaced(String text) {
        Matcher matcher = ANY_REFERENCE.matcher(text.replaceAll(RESULT_PATH.pattern(), ""));
        if (matcher.find()) {
            throw new IllegalArgumentException(file + ": " + matcher.group() + " is not replaced by this runner");
        }
        return text;
    }

    private List<String> resultNames() {
        var names = new ArrayList<String>();
        for (Object entry : list(spec.getOrDefault("results", List.of()), "results")) {
            names.add((String) map(entry, "result").get("name"));
        }
        return names;
    }

    private Map<String, String> readResults(Path resultsDir) throws IOException {
        var results = new TreeMap<String, String>();
        for (String name : resultNames()) {
            Path result = resultsDir.resolve(name);
            if (Files.exists(result)) {
                results.put(name, Files.readString(result));
            }
        }
        return results;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object node, String what) {
        if (!(node instanceof Map)) {
            throw new IllegalArgumentException(what + " is not a mapping: " + node);
        }
        return (Map<String, Object>) node;
    }

    private static List<?> list(Object node, String what) {
        if (!(node instanceof List<?> list)) {
            throw new IllegalArgumentException(what + " is not a list: " + node);
        }
        return list;
    }
}

//DEPS org.yaml:snakeyaml:2.5

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads the Tekton YAML of tekton/ and examples/ and finds what a cluster would only report once
 * a run is under way: a parameter nobody declares, a StepAction parameter misspelt or left out,
 * a step result that does not exist. Each check returns its problems as lines
 * "FILE (KIND NAME): what is wrong", empty when there are none.
 */
final class TektonYaml {

    /** The start of a parameter reference, enough to know the name: $(params.NAME, $(params["NAME"] or $(params['NAME']. */
    private static final Pattern PARAM = Pattern.compile("\\$\\(params(?:\\.([\\w-]+)|\\[([\"'])(.+?)\\2\\])");
    private static final Pattern STEP_RESULT = Pattern.compile("\\$\\(steps\\.([\\w-]+)\\.results\\.([\\w-]+)\\)");

    private TektonYaml() {
    }

    /** One YAML document and the file it comes from, relative to the checked folder. */
    record Document(Path file, Map<?, ?> content) {
        String kind() {
            return String.valueOf(content.get("kind"));
        }

        String name() {
            var metadata = map(content.get("metadata"));
            return String.valueOf(metadata.containsKey("name") ? metadata.get("name") : metadata.get("generateName"));
        }

        Map<?, ?> spec() {
            return map(content.get("spec"));
        }

        @Override
        public String toString() {
            return file + " (" + kind() + " " + name() + ")";
        }
    }

    /** What a StepAction or a Pipeline offers: its params, each with whether it has a default, and its results. */
    record Declared(String kind, String name, Map<String, Boolean> params, Set<String> results) {
        static Declared of(Document document) {
            var spec = document.spec();
            return new Declared(document.kind(), document.name(), declarations(spec), names(spec.get("results")));
        }
    }

    /**
     * Every document of every *.yaml and *.yml file below root/tekton and root/examples.
     *
     * @throws IllegalArgumentException naming the file, when one does not parse
     */
    static List<Document> load(Path root) throws IOException {
        var documents = new ArrayList<Document>();
        var options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        for (String folder : List.of("tekton", "examples")) {
            if (!Files.isDirectory(root.resolve(folder))) {
                continue;
            }
            List<Path> files;
            try (Stream<Path> walk = Files.walk(root.resolve(folder))) {
                files = walk.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml")).sorted().toList();
            }
            for (Path file : files) {
                Path relative = root.relativize(file);
                try (Reader in = Files.newBufferedReader(file)) {
                    for (Object content : new Yaml(new SafeConstructor(options)).loadAll(in)) {
                        if (content == null) {
                            continue; // an empty document, as after a trailing "---"
                        }
                        if (!(content instanceof Map<?, ?> map)) {
                            throw new IllegalArgumentException(relative + " holds a document that is not a mapping: " + content);
                        }
                        documents.add(new Document(relative, map));
                    }
                } catch (YAMLException e) {
                    throw new IllegalArgumentException(relative + " does not parse: " + e.getMessage().replace('\n', ' '), e);
                }
            }
        }
        return documents;
    }

    /**
     * Every $(params.NAME) names a param declared in scope: by the `params` list of the map it
     * stands in or of any map enclosing it, which is how Tekton propagates params into embedded
     * taskSpecs and pipelineSpecs. A `params` entry with a `value` binds and declares nothing.
     */
    static List<String> undeclaredParams(List<Document> documents) {
        var problems = new LinkedHashSet<String>();
        for (var document : documents) {
            walkParams(document.content(), Set.of(), name -> problems.add(document + ": param " + name + " is used but not declared"));
        }
        return List.copyOf(problems);
    }

    private static void walkParams(Object node, Set<String> declared, Consumer<String> undeclared) {
        if (node instanceof Map<?, ?> map) {
            var inScope = new HashSet<>(declared);
            inScope.addAll(declarations(map).keySet());
            map.values().forEach(value -> walkParams(value, inScope, undeclared));
        } else if (node instanceof List<?> list) {
            list.forEach(element -> walkParams(element, declared, undeclared));
        } else if (node instanceof String text) {
            Matcher reference = PARAM.matcher(text);
            while (reference.find()) {
                String name = reference.group(1) != null ? reference.group(1) : reference.group(3);
                if (!declared.contains(name)) {
                    undeclared.accept(name);
                }
            }
        }
    }

    /**
     * Every step that refers to a StepAction of tekton/ (by `ref.name` or a resolver's `name`)
     * binds only params that StepAction declares, and every one it declares without a default.
     */
    static List<String> stepActionBindings(List<Document> documents) {
        var actions = stepActions(documents);
        var problems = new ArrayList<String>();
        for (var document : documents) {
            for (var step : steps(document.content())) {
                var action = actions.get(referencedName(step));
                if (action != null) {
                    problems.addAll(bindingProblems(document + ": step " + step.get("name"), step, action));
                }
            }
        }
        return problems;
    }

    /** Every PipelineRun that refers to a Pipeline of the checked files binds only its params, and every required one. */
    static List<String> pipelineRunBindings(List<Document> documents) {
        var pipelines = declared(documents, d -> d.kind().equals("Pipeline"));
        var problems = new ArrayList<String>();
        for (var document : documents) {
            if (document.kind().equals("PipelineRun")) {
                var pipeline = pipelines.get(String.valueOf(map(document.spec().get("pipelineRef")).get("name")));
                if (pipeline != null) {
                    problems.addAll(bindingProblems(document.toString(), document.spec(), pipeline));
                }
            }
        }
        return problems;
    }

    private static List<String> bindingProblems(String who, Map<?, ?> binder, Declared target) {
        var problems = new ArrayList<String>();
        var bound = names(binder.get("params"));
        for (String name : bound) {
            if (!target.params().containsKey(name)) {
                problems.add(who + " binds " + name + ", which " + target.kind() + " " + target.name() + " does not declare");
            }
        }
        target.params().forEach((name, hasDefault) -> {
            if (!hasDefault && !bound.contains(name)) {
                problems.add(who + " does not bind " + name + ", which " + target.kind() + " " + target.name() + " requires");
            }
        });
        return problems;
    }

    /**
     * Every $(steps.STEP.results.RESULT) inside a steps list names an earlier step of that list
     * and a result that step declares (its own `results`, or its StepAction's when it refers to
     * one of tekton/; a StepAction from elsewhere is taken on trust). Outside the steps, in the
     * same taskSpec (a task result's value), any step of the list may be named.
     */
    static List<String> stepResultReferences(List<Document> documents) {
        var actions = stepActions(documents);
        var problems = new LinkedHashSet<String>();
        for (var document : documents) {
            walkStepResults(document.content(), null, actions, problem -> problems.add(document + ": " + problem));
        }
        return List.copyOf(problems);
    }

    private static void walkStepResults(Object node, List<Map<?, ?>> visibleSteps, Map<String, Declared> actions, Consumer<String> problems) {
        if (node instanceof Map<?, ?> map) {
            var steps = map.get("steps") instanceof List<?> ? maps(map.get("steps")) : null;
            map.forEach((key, value) -> {
                if (steps != null && key.equals("steps")) {
                    for (int i = 0; i < steps.size(); i++) {
                        walkStepResults(steps.get(i), steps.subList(0, i), actions, problems);
                    }
                } else {
                    walkStepResults(value, steps != null ? steps : visibleSteps, actions, problems);
                }
            });
        } else if (node instanceof List<?> list) {
            list.forEach(element -> walkStepResults(element, visibleSteps, actions, problems));
        } else if (node instanceof String text) {
            Matcher reference = STEP_RESULT.matcher(text);
            while (reference.find()) {
                String step = reference.group(1);
                String result = reference.group(2);
                if (visibleSteps == null) {
                    problems.accept(reference.group() + " stands outside any taskSpec with steps");
                    continue;
                }
                var named = visibleSteps.stream().filter(s -> step.equals(s.get("name"))).findFirst().orElse(null);
                if (named == null) {
                    problems.accept(reference.group() + " names no earlier step of its steps list");
                    continue;
                }
                var results = results(named, actions);
                if (results != null && !results.contains(result)) {
                    problems.accept(reference.group() + " names a result that step " + step + " does not declare");
                }
            }
        }
    }

    /** The results a step declares: its StepAction's when that is one of tekton/, null for another StepAction, else its own. */
    private static Set<String> results(Map<?, ?> step, Map<String, Declared> actions) {
        var action = actions.get(referencedName(step));
        if (action != null) {
            return action.results();
        }
        return step.containsKey("ref") ? null : names(step.get("results"));
    }

    /** A cache-upload that fails (a store outage) must not fail a green build: every step using ours goes on error. */
    static List<String> uploadsGoOnError(List<Document> documents) {
        var upload = stepActions(documents).values().stream().filter(a -> a.results().equals(Set.of("cache-key", "size")))
                .map(Declared::name).findFirst().orElse(null);
        var problems = new ArrayList<String>();
        for (var document : documents) {
            for (var step : steps(document.content())) {
                if (referencedName(step) != null && referencedName(step).equals(upload) && !"continue".equals(step.get("onError"))) {
                    problems.add(document + ": step " + step.get("name") + " uses " + upload + " without onError: continue");
                }
            }
        }
        return problems;
    }

    /** The annotation that names the first Tekton Pipelines release a document runs on. */
    static final String MIN_VERSION = "tekton.dev/pipelines.minVersion";

    /**
     * Every Tekton document that needs a recent Tekton says which in {@link #MIN_VERSION}, the
     * first release that runs it: 0.65.2 for the cluster resolver's `kind: stepaction`, 0.60.0 for
     * a v1beta1 StepAction or a step that refers to one; a PipelineRun as its Pipeline.
     */
    static List<String> minVersions(List<Document> documents) {
        var problems = new ArrayList<String>();
        for (var document : documents) {
            String needed = neededVersion(document, documents);
            Object said = map(map(document.content().get("metadata")).get("annotations")).get(MIN_VERSION);
            if (needed != null && !needed.equals(said)) {
                problems.add(document + ": " + MIN_VERSION + " is " + (said == null ? "missing" : said) + ", and the first Tekton that runs it is " + needed);
            }
        }
        return problems;
    }

    private static String neededVersion(Document document, List<Document> documents) {
        if (!String.valueOf(document.content().get("apiVersion")).startsWith("tekton.dev/")) {
            return null;
        }
        if (document.kind().equals("PipelineRun")) {
            String pipeline = String.valueOf(map(document.spec().get("pipelineRef")).get("name"));
            for (var other : documents) {
                if (other.kind().equals("Pipeline") && other.name().equals(pipeline)) {
                    return neededVersion(other, documents);
                }
            }
            return null;
        }
        var steps = steps(document.content());
        if (steps.stream().anyMatch(TektonYaml::resolvesAStepActionByCluster)) {
            return "0.65.2";
        }
        if (document.kind().equals("StepAction") || steps.stream().anyMatch(s -> s.containsKey("ref"))) {
            return "0.60.0";
        }
        return null;
    }

    private static boolean resolvesAStepActionByCluster(Map<?, ?> step) {
        var ref = map(step.get("ref"));
        return "cluster".equals(ref.get("resolver")) && maps(ref.get("params")).stream()
                .anyMatch(p -> "kind".equals(p.get("name")) && "stepaction".equals(p.get("value")));
    }

    /**
     * What OpenShift's restricted-v2 refuses, or a step that runs there cannot do: a fixed
     * runAsUser (the policy gives the UID), a StepAction from elsewhere (the catalog's git-clone
     * pins one), a script that writes git's global config (HOME is / and not writable).
     */
    static List<String> restrictedV2(List<Document> documents) {
        var actions = stepActions(documents);
        var problems = new LinkedHashSet<String>();
        for (var document : documents) {
            if (mentionsKey(document.content(), "runAsUser")) {
                problems.add(document + ": runAsUser is set, which restricted-v2 refuses unless it is in the namespace's range");
            }
            for (var step : steps(document.content())) {
                if (step.containsKey("ref") && !actions.containsKey(referencedName(step))) {
                    problems.add(document + ": step " + step.get("name") + " refers to a StepAction not of tekton/, which may pin a UID");
                }
                if (String.valueOf(step.get("script")).contains("--global")) {
                    problems.add(document + ": step " + step.get("name") + " writes a --global config, which needs a writable HOME");
                }
            }
        }
        return List.copyOf(problems);
    }

    private static boolean mentionsKey(Object node, String key) {
        if (node instanceof Map<?, ?> map) {
            return map.containsKey(key) || map.values().stream().anyMatch(v -> mentionsKey(v, key));
        }
        return node instanceof List<?> list && list.stream().anyMatch(e -> mentionsKey(e, key));
    }

    /** The StepActions of tekton/, by name. */
    static Map<String, Declared> stepActions(List<Document> documents) {
        return declared(documents, d -> d.file().startsWith("tekton") && d.kind().equals("StepAction"));
    }

    private static Map<String, Declared> declared(List<Document> documents, Predicate<Document> which) {
        var declared = new LinkedHashMap<String, Declared>();
        documents.stream().filter(which).forEach(d -> declared.put(d.name(), Declared.of(d)));
        return declared;
    }

    /** Every step of every steps list in a document. */
    static List<Map<?, ?>> steps(Object node) {
        var steps = new ArrayList<Map<?, ?>>();
        if (node instanceof Map<?, ?> map) {
            if (map.get("steps") instanceof List<?> list) {
                steps.addAll(maps(list));
            }
            map.values().forEach(value -> steps.addAll(steps(value)));
        } else if (node instanceof List<?> list) {
            list.forEach(element -> steps.addAll(steps(element)));
        }
        return steps;
    }

    /** The name of the StepAction a step refers to: `ref.name`, or the value of its resolver's param `name`; else null. */
    static String referencedName(Map<?, ?> step) {
        var ref = map(step.get("ref"));
        if (ref.get("name") != null) {
            return String.valueOf(ref.get("name"));
        }
        return maps(ref.get("params")).stream()
                .filter(p -> "name".equals(p.get("name")))
                .map(p -> String.valueOf(p.get("value")))
                .findFirst().orElse(null);
    }

    /** The params a map's `params` list declares (entries without a `value`), each with whether it has a default. */
    private static Map<String, Boolean> declarations(Map<?, ?> map) {
        var declared = new LinkedHashMap<String, Boolean>();
        maps(map.get("params")).stream()
                .filter(p -> !p.containsKey("value"))
                .forEach(p -> declared.put(String.valueOf(p.get("name")), p.containsKey("default")));
        return declared;
    }

    /** The `name` of every map in a list. */
    private static Set<String> names(Object list) {
        var names = new LinkedHashSet<String>();
        maps(list).forEach(entry -> names.add(String.valueOf(entry.get("name"))));
        return names;
    }

    /** The text of every ```yaml block of a Markdown file. */
    static List<String> yamlBlocks(Path markdown) throws IOException {
        return Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(markdown)).results()
                .map(m -> m.group(1)).toList();
    }

    /** The ```yaml blocks users read: those of README.md, then of the pages of docs/ and examples/. */
    static List<String> markdownYamlBlocks(Path root) throws IOException {
        var blocks = new ArrayList<>(yamlBlocks(root.resolve("README.md")));
        for (String folder : List.of("docs", "examples")) {
            try (var pages = Files.list(root.resolve(folder))) {
                for (Path page : pages.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                    blocks.addAll(yamlBlocks(page));
                }
            }
        }
        return blocks;
    }

    /** The value when it is a map, else an empty one. */
    static Map<?, ?> map(Object value) {
        return value instanceof Map<?, ?> map ? map : Map.of();
    }

    /** The maps of the value when it is a list, else none. */
    static List<Map<?, ?>> maps(Object value) {
        var maps = new ArrayList<Map<?, ?>>();
        if (value instanceof List<?> list) {
            list.stream().filter(Map.class::isInstance).forEach(e -> maps.add((Map<?, ?>) e));
        }
        return maps;
    }
}

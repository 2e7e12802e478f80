import java.io.IOException;
import java.io.Reader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Tekton's own CRD schemas (tests/tekton-crds/, see its README), and a document checked against
 * the one its apiVersion and kind name, as `kubectl apply --validate=strict` checks it: a field the
 * schema does not name is refused unless the schema keeps unknown fields
 * (x-kubernetes-preserve-unknown-fields), and so are a wrong type, a missing required field, a
 * value outside an enum or a pattern. Only the keywords the CRDs use are read: type, properties,
 * required, items, additionalProperties, enum, pattern, nullable, x-kubernetes-preserve-unknown-fields
 * and x-kubernetes-int-or-string.
 *
 * <p>Where Tekton's schemas keep an embedded `taskSpec` or `pipelineSpec` whole (the Pipeline and
 * PipelineRun CRDs do), it is checked against the `spec` of the Task or Pipeline schema of the same
 * version, with the `metadata` an embedded task may carry: Tekton's webhook reads it as one and
 * refuses fields it does not know.
 */
final class TektonSchema {

    private static final String GROUP = "tekton.dev";

    /** The metadata of an object, as the API server checks it (the CRDs say only `type: object`). */
    private static final Map<?, ?> OBJECT_META = parse("""
            type: object
            properties:
              name: {type: string}
              generateName: {type: string}
              namespace: {type: string}
              labels: {type: object, additionalProperties: {type: string}}
              annotations: {type: object, additionalProperties: {type: string}}
              finalizers: {type: array, items: {type: string}}
            """);

    /** What an embedded task or pipeline may carry beside its spec's fields (EmbeddedTask, EmbeddedPipeline). */
    private static final Map<?, ?> EMBEDDED_EXTRAS = parse("""
            apiVersion: {type: string}
            kind: {type: string}
            spec: {x-kubernetes-preserve-unknown-fields: true}
            metadata:
              type: object
              properties:
                labels: {type: object, additionalProperties: {type: string}}
                annotations: {type: object, additionalProperties: {type: string}}
            """);

    /** kind, then version (v1, v1beta1), then that version's openAPIV3Schema; served versions only. */
    private final Map<String, Map<String, Map<?, ?>>> schemas;

    private TektonSchema(Map<String, Map<String, Map<?, ?>>> schemas) {
        this.schemas = schemas;
    }

    /** The CRDs of every *.yaml file of folder. */
    static TektonSchema load(Path folder) throws IOException {
        var schemas = new LinkedHashMap<String, Map<String, Map<?, ?>>>();
        List<Path> files;
        try (Stream<Path> list = Files.list(folder)) {
            files = list.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
        }
        for (Path file : files) {
            try (Reader in = Files.newBufferedReader(file)) {
                var crd = (Map<?, ?>) new Yaml(new SafeConstructor(new LoaderOptions())).load(in);
                var spec = map(crd.get("spec"));
                if (!GROUP.equals(spec.get("group"))) {
                    continue;
                }
                var versions = schemas.computeIfAbsent(String.valueOf(map(spec.get("names")).get("kind")), k -> new LinkedHashMap<>());
                for (var version : list(spec.get("versions"))) {
                    var v = map(version);
                    if (Boolean.TRUE.equals(v.get("served"))) {
                        versions.put(String.valueOf(v.get("name")), map(map(v.get("schema")).get("openAPIV3Schema")));
                    }
                }
            }
        }
        return new TektonSchema(schemas);
    }

    /** Whether the document is a Tekton object (apiVersion tekton.dev/…): the others are not ours to check. */
    static boolean isTekton(Map<?, ?> document) {
        return String.valueOf(document.get("apiVersion")).startsWith(GROUP + "/");
    }

    /** The kinds and versions known, as "Task tekton.dev/v1". */
    List<String> known() {
        var known = new ArrayList<String>();
        schemas.forEach((kind, versions) -> versions.keySet().forEach(v -> known.add(kind + " " + GROUP + "/" + v)));
        return known;
    }

    /** What the API server would refuse in a Tekton document, each as "PATH: what is wrong"; empty when nothing. */
    List<String> problems(Map<?, ?> document) {
        var problems = new ArrayList<String>();
        String apiVersion = String.valueOf(document.get("apiVersion"));
        String kind = String.valueOf(document.get("kind"));
        var schema = schemas.getOrDefault(kind, Map.of()).get(apiVersion.substring(apiVersion.indexOf('/') + 1));
        if (schema == null) {
            return List.of("kind " + kind + " of " + apiVersion + ": no such served version in Tekton's CRDs");
        }
        String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
        var root = new LinkedHashMap<Object, Object>(schema);
        var properties = new LinkedHashMap<Object, Object>(map(schema.get("properties")));
        properties.put("metadata", OBJECT_META);
        root.put("properties", properties);
        root.put("required", List.of("apiVersion", "kind", "metadata"));
        check(document, root, "", version, problems);
        return problems;
    }

    private void check(Object value, Map<?, ?> schema, String path, String version, List<String> problems) {
        String at = path.isEmpty() ? "(root)" : path;
        if (value == null) {
            if (!Boolean.TRUE.equals(schema.get("nullable"))) {
                problems.add(at + ": null");
            }
            return;
        }
        if (Boolean.TRUE.equals(schema.get("x-kubernetes-int-or-string"))) {
            if (!(isInteger(value) || value instanceof String)) {
                problems.add(at + ": " + describe(value) + ", not an integer or a string");
            }
            return;
        }
        boolean preserve = Boolean.TRUE.equals(schema.get("x-kubernetes-preserve-unknown-fields"));
        String type = (String) schema.get("type");
        if (type == null && !preserve && !schema.containsKey("properties")) {
            return; // a schema that says nothing (none in Tekton's CRDs) accepts anything
        }
        if (type != null && !hasType(value, type)) {
            problems.add(at + ": " + describe(value) + ", not " + (type.equals("object") || type.equals("array") ? "an " : "a ") + type);
            return;
        }
        if (schema.get("enum") instanceof List<?> allowed && !allowed.contains(value)) {
            problems.add(at + ": " + value + " is not one of " + allowed);
        }
        if (schema.get("pattern") instanceof String pattern && value instanceof String text && !Pattern.compile(pattern).matcher(text).find()) {
            problems.add(at + ": \"" + text + "\" does not match " + pattern);
        }
        if (value instanceof List<?> items && schema.get("items") instanceof Map<?, ?> itemSchema) {
            for (int i = 0; i < items.size(); i++) {
                check(items.get(i), itemSchema, path + "[" + i + "]", version, problems);
            }
        }
        if (value instanceof Map<?, ?> object && (type != null || schema.containsKey("properties"))) {
            checkObject(object, schema, path, version, preserve, problems);
        }
    }

    private void checkObject(Map<?, ?> object, Map<?, ?> schema, String path, String version, boolean preserve, List<String> problems) {
        var properties = map(schema.get("properties"));
        for (Object name : list(schema.get("required"))) {
            if (!object.containsKey(name)) {
                problems.add((path.isEmpty() ? "" : path + ".") + name + ": required, missing");
            }
        }
        Object additional = schema.get("additionalProperties");
        object.forEach((key, value) -> {
            String at = (path.isEmpty() ? "" : path + ".") + key;
            if (properties.get(key) instanceof Map<?, ?> property) {
                check(value, embedded(String.valueOf(key), property, version), at, version, problems);
            } else if (additional instanceof Map<?, ?> valueSchema) {
                check(value, valueSchema, at, version, problems);
            } else if (!preserve && !Boolean.TRUE.equals(additional)) {
                problems.add(at + ": unknown field");
            }
        });
    }

    /**
     * The schema an embedded taskSpec or pipelineSpec is read with: the Task's or Pipeline's spec,
     * where the CRD itself keeps it whole (x-kubernetes-preserve-unknown-fields and nothing more).
     */
    private Map<?, ?> embedded(String name, Map<?, ?> property, String version) {
        String kind = switch (name) {
            case "taskSpec" -> "Task";
            case "pipelineSpec" -> "Pipeline";
            default -> null;
        };
        if (kind == null || !Boolean.TRUE.equals(property.get("x-kubernetes-preserve-unknown-fields"))
                || property.containsKey("properties") || !schemas.containsKey(kind)
                || !schemas.get(kind).containsKey(version)) {
            return property;
        }
        var spec = new LinkedHashMap<Object, Object>(map(map(schemas.get(kind).get(version).get("properties")).get("spec")));
        var properties = new LinkedHashMap<Object, Object>(map(spec.get("properties")));
        EMBEDDED_EXTRAS.forEach(properties::putIfAbsent);
        spec.put("properties", properties);
        return spec;
    }

    private static boolean hasType(Object value, String type) {
        return switch (type) {
            case "object" -> value instanceof Map;
            case "array" -> value instanceof List;
            case "string" -> value instanceof String;
            case "integer" -> isInteger(value);
            case "number" -> value instanceof Number;
            case "boolean" -> value instanceof Boolean;
            default -> throw new IllegalArgumentException("a schema type this validator does not know: " + type);
        };
    }

    private static boolean isInteger(Object value) {
        return value instanceof Integer || value instanceof Long || value instanceof BigInteger;
    }

    private static String describe(Object value) {
        if (value instanceof Map) {
            return "an object";
        }
        if (value instanceof List) {
            return "an array";
        }
        return (value instanceof String ? "the string \"" + value + "\"" : value.getClass().getSimpleName().toLowerCase() + " " + value);
    }

    private static Map<?, ?> parse(String yaml) {
        return (Map<?, ?>) new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
    }

    private static Map<?, ?> map(Object value) {
        return value instanceof Map<?, ?> map ? map : Map.of();
    }

    private static List<?> list(Object value) {
        return value instanceof List<?> list ? list : List.of();
    }
}

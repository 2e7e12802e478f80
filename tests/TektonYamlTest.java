import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The StepActions of tekton/ and the Pipelines and PipelineRuns of examples/ read as Tekton would
 * read them, and each mistake the checks look for shown to be caught in a file made for it.
 */
class TektonYamlTest {

    /** A Task with no mistake, both StepActions referred to in both ways; each test below adds one. */
    private static final String GOOD_TASK = """
            apiVersion: tekton.dev/v1
            kind: Task
            metadata:
              name: cached-build
              annotations:
                tekton.dev/pipelines.minVersion: "0.65.2"
            spec:
              params:
                - name: cache-uri
              workspaces:
                - name: source
              steps:
                - name: cache-fetch
                  ref:
                    name: cache-fetch-java
                  params:
                    - name: PATTERNS
                      value: ["**/pom.xml"]
                    - name: SOURCE
                      value: $(params.cache-uri)
                    - name: CACHE_PATH
                      value: $(workspaces.source.path)/cache
                    - name: WORKING_DIR
                      value: $(workspaces.source.path)/repo
                - name: cache-upload
                  onError: continue
                  ref:
                    resolver: cluster
                    params:
                      - name: kind
                        value: stepaction
                      - name: name
                        value: cache-upload-java
                      - name: namespace
                        value: tekton-caches-java
                  params:
                    - name: PATTERNS
                      value: ["**/pom.xml"]
                    - name: TARGET
                      value: $(params.cache-uri)
                    - name: CACHE_PATH
                      value: $(workspaces.source.path)/cache
                    - name: WORKING_DIR
                      value: $(workspaces.source.path)/repo
                    - name: FETCHED
                      value: $(steps.cache-fetch.results.fetched)
            """;

    @TempDir
    Path tmp;

    @Test
    void everyYamlFileParses() throws IOException {
        var documents = TektonYaml.load(Fixtures.REPO);
        assertEquals(Set.of("cache-fetch-java", "cache-upload-java"), TektonYaml.stepActions(documents).keySet());
        assertTrue(documents.stream().anyMatch(d -> d.file().startsWith("examples")), "examples/ holds YAML");
    }

    @Test
    void everyParamUsedIsDeclared() throws IOException {
        assertNoProblems(TektonYaml::undeclaredParams);
    }

    @Test
    void everyCacheStepBindsWhatItsStepActionDeclares() throws IOException {
        assertNoProblems(TektonYaml::stepActionBindings);
    }

    @Test
    void everyPipelineRunBindsWhatItsPipelineDeclares() throws IOException {
        assertNoProblems(TektonYaml::pipelineRunBindings);
    }

    @Test
    void everyStepResultUsedIsDeclaredByAnEarlierStep() throws IOException {
        assertNoProblems(TektonYaml::stepResultReferences);
    }

    @Test
    void everyCacheUploadGoesOnError() throws IOException {
        assertNoProblems(TektonYaml::uploadsGoOnError);
    }

    @Test
    void everyDocumentNamesTheFirstTektonThatRunsIt() throws IOException {
        assertNoProblems(TektonYaml::minVersions);
    }

    @Test
    void nothingRestrictedV2Refuses() throws IOException {
        assertNoProblems(TektonYaml::restrictedV2);
    }

    private static void assertNoProblems(Function<List<TektonYaml.Document>, List<String>> check) throws IOException {
        assertEquals(List.of(), check.apply(TektonYaml.load(Fixtures.REPO)));
    }

    /**
     * Upload must compute the key fetch computed, for the same store and with the same credentials,
     * and know what fetch found. A pull request's pipeline (examples/trust/) is the one exception:
     * it reads the trusted tier's signed entries, verifying, and saves its own unsigned ones
     * elsewhere, so its upload has another TARGET and no VERIFY_KEYS.
     */
    @Test
    void everyExamplePipelineUploadsWhereItFetches() throws IOException {
        var pipelines = TektonYaml.load(Fixtures.REPO).stream().filter(d -> d.kind().equals("Pipeline")).toList();
        assertTrue(pipelines.size() >= 6, "a Pipeline per language and one on a PVC: " + pipelines);
        for (var pipeline : pipelines) {
            var steps = TektonYaml.steps(pipeline.content());
            var fetch = bindings(steps, "cache-fetch-java");
            var upload = bindings(steps, "cache-upload-java");
            boolean untrustedTier = fetch.containsKey("VERIFY_KEYS") && !upload.containsKey("VERIFY_KEYS");
            if (untrustedTier) {
                assertTrue(!upload.containsKey("SIGN_KEY") && !fetch.get("SOURCE").equals(upload.get("TARGET")),
                        pipeline + ": an upload that does not verify neither signs nor writes where the verified entries are");
            } else {
                assertEquals(fetch.get("SOURCE"), upload.get("TARGET"), pipeline + ": the store");
            }
            fetch.forEach((name, value) -> {
                if (!Set.of("SOURCE", "RESTORE_KEYS", "LOOKUP_ONLY", "FAIL_ON_MISS").contains(name) // fetch's own
                        && !(untrustedTier && name.equals("VERIFY_KEYS"))) {
                    assertEquals(value, upload.get(name), pipeline + ": " + name);
                }
            });
            // cache-hit, not fetched: what a restore key brought back is saved under the new key.
            assertEquals("$(steps.cache-fetch.results.cache-hit)", upload.get("FETCHED"), pipeline.toString());
        }
    }

    /** The params the one step referring to a StepAction binds, by name. */
    private static Map<Object, Object> bindings(List<Map<?, ?>> steps, String stepAction) {
        var referring = steps.stream().filter(s -> stepAction.equals(TektonYaml.referencedName(s))).toList();
        assertEquals(1, referring.size(), "steps referring to " + stepAction);
        var bindings = new HashMap<Object, Object>();
        TektonYaml.maps(referring.get(0).get("params")).forEach(p -> bindings.put(p.get("name"), p.get("value")));
        return bindings;
    }

    /**
     * The YAML README.md and the pages of docs/ and examples/ show is held to the same checks as
     * examples/, and README.md shows a step pair: one block with a step referring to each StepAction.
     */
    @Test
    void yamlShownInMarkdownHasNoProblems() throws IOException {
        var readme = TektonYaml.yamlBlocks(Fixtures.REPO.resolve("README.md"));
        boolean stepPair = false;
        for (String block : readme) {
            stepPair |= referredStepActions(block).containsAll(Set.of("cache-fetch-java", "cache-upload-java"));
        }
        assertTrue(stepPair, "README.md shows a block with a cache-fetch step and a cache-upload step");
        for (String block : TektonYaml.markdownYamlBlocks(Fixtures.REPO)) {
            assertEquals(List.of(), problemsIn(block), block);
        }
    }

    /** The StepActions the steps of the given YAML refer to, read as examples/bad.yaml. */
    private Set<String> referredStepActions(String yaml) throws IOException {
        Fixtures.write(tmp.resolve("examples/bad.yaml"), yaml);
        var referred = new java.util.HashSet<String>();
        for (var document : TektonYaml.load(tmp)) {
            TektonYaml.steps(document.content()).forEach(step -> referred.add(TektonYaml.referencedName(step)));
        }
        return referred;
    }

    /** Every parameter of the StepActions has its row in README.md's table of parameters, named in its first cell. */
    @Test
    void everyStepActionParamHasItsReadmeRow() throws IOException {
        var firstCells = Files.readString(Fixtures.REPO.resolve("README.md")).lines().filter(l -> l.startsWith("| `"))
                .map(l -> l.substring(1, l.indexOf(" |", 1))).toList();
        var missing = new java.util.TreeSet<String>();
        TektonYaml.stepActions(TektonYaml.load(Fixtures.REPO)).values().forEach(action -> action.params().keySet().stream()
                .filter(name -> firstCells.stream().noneMatch(cell -> cell.contains("`" + name + "`"))).forEach(missing::add));
        assertEquals(Set.of(), missing, "StepAction parameters without a row in README.md");
    }

    /**
     * docs/from-the-go-tool.md's diff takes a step pair from OpenShift Pipelines' StepActions to
     * ours, under the names and in the namespace the examples use, FETCHED fed from cache-hit.
     */
    @Test
    void theLinesAGoToolPipelineChangesNameWhatTheExamplesUse() throws IOException {
        var diffs = java.util.regex.Pattern.compile("```diff\n(.*?)```", java.util.regex.Pattern.DOTALL)
                .matcher(Files.readString(Fixtures.REPO.resolve("docs/from-the-go-tool.md"))).results().map(m -> m.group(1)).toList();
        assertEquals(1, diffs.size(), "one diff");
        var removed = diffs.get(0).lines().filter(l -> l.startsWith("-")).map(l -> l.substring(1).strip()).toList();
        var added = diffs.get(0).lines().filter(l -> l.startsWith("+")).map(l -> l.substring(1).strip()).toList();
        assertEquals(List.of("- {name: name, value: cache-fetch}", "- {name: namespace, value: openshift-pipelines}",
                "- {name: name, value: cache-upload}", "- {name: namespace, value: openshift-pipelines}",
                "value: $(steps.cache-fetch.results.fetched)"), removed);
        var examples = TektonYaml.load(Fixtures.REPO).stream().filter(d -> d.kind().equals("Pipeline")).toList();
        var refs = new java.util.TreeSet<String>();
        for (var pipeline : examples) {
            for (var step : TektonYaml.steps(pipeline.content())) {
                TektonYaml.maps(TektonYaml.map(step.get("ref")).get("params")).stream()
                        .filter(p -> !"kind".equals(p.get("name")))
                        .forEach(p -> refs.add("- {name: " + p.get("name") + ", value: " + p.get("value") + "}"));
            }
        }
        assertEquals(refs, new java.util.TreeSet<>(added.stream().filter(l -> l.startsWith("- {")).toList()));
        assertTrue(added.containsAll(List.of("onError: continue", "value: $(steps.cache-fetch.results.cache-hit)")), added.toString());
    }

    @Test
    void aTaskWithoutMistakesHasNoProblems() throws IOException {
        assertEquals(List.of(), problemsIn(GOOD_TASK));
    }

    @Test
    void undeclaredParamIsCaught() throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("$(params.cache-uri)", "$(params[\"cache-url\"])"));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): param cache-url is used but not declared"), problems);
    }

    @Test
    void stepActionParamThatDoesNotExistIsCaught() throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("- name: FETCHED", """
                - name: VERBOSE
                          value: "true"
                        - name: FETCHED"""));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): step cache-upload binds VERBOSE, which StepAction cache-upload-java does not declare"),
                problems);
    }

    @Test
    void requiredStepActionParamLeftOutIsCaught() throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("""
                        - name: SOURCE
                          value: $(params.cache-uri)
                """, ""));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): step cache-fetch does not bind SOURCE, which StepAction cache-fetch-java requires"),
                problems);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            $(steps.fetch.results.fetched)             | names no earlier step of its steps list
            $(steps.cache-upload.results.cache-key)    | names no earlier step of its steps list
            $(steps.cache-fetch.results.hit)           | names a result that step cache-fetch does not declare
            """)
    void badStepResultReferenceIsCaught(String reference, String problem) throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("$(steps.cache-fetch.results.fetched)", reference));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): " + reference + " " + problem), problems);
    }

    @Test
    void cacheUploadThatFailsTheBuildIsCaught() throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("      onError: continue\n", ""));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): step cache-upload uses cache-upload-java without onError: continue"),
                problems);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            "0.60.0"          | is 0.60.0, and the first Tekton that runs it is 0.65.2
            "0.65"            | is 0.65, and the first Tekton that runs it is 0.65.2
            """)
    void minVersionThatIsNotTheFirstTektonThatRunsItIsCaught(String version, String problem) throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("\"0.65.2\"", version));
        assertEquals(List.of("examples/bad.yaml (Task cached-build): tekton.dev/pipelines.minVersion " + problem), problems);
    }

    @Test
    void whatRestrictedV2RefusesIsCaught() throws IOException {
        var problems = problemsIn(GOOD_TASK.replace("""
                  steps:
                """, """
                  stepTemplate:
                    securityContext:
                      runAsUser: 65532
                  steps:
                    - name: clone
                      ref:
                        resolver: http
                        params:
                          - name: url
                            value: https://raw.githubusercontent.com/tektoncd/catalog/main/stepaction/git-clone/0.2/git-clone.yaml
                    - name: configure
                      image: alpine/git
                      script: git config --global --add safe.directory /workspace
                """));
        assertEquals(List.of(
                "examples/bad.yaml (Task cached-build): runAsUser is set, which restricted-v2 refuses unless it is in the namespace's range",
                "examples/bad.yaml (Task cached-build): step clone refers to a StepAction not of tekton/, which may pin a UID",
                "examples/bad.yaml (Task cached-build): step configure writes a --global config, which needs a writable HOME"), problems);
    }

    @Test
    void pipelineRunParamTheirPipelineDoesNotDeclareIsCaught() throws IOException {
        var problems = problemsIn("""
                apiVersion: tekton.dev/v1
                kind: Pipeline
                metadata:
                  name: build
                spec:
                  params:
                    - name: cache-uri
                  tasks: []
                ---
                apiVersion: tekton.dev/v1
                kind: PipelineRun
                metadata:
                  generateName: build-
                spec:
                  pipelineRef:
                    name: build
                  params:
                    - name: cache-url
                      value: "oci://registry.example.com/cache:{{hash}}"
                """);
        assertEquals(List.of(
                "examples/bad.yaml (PipelineRun build-) binds cache-url, which Pipeline build does not declare",
                "examples/bad.yaml (PipelineRun build-) does not bind cache-uri, which Pipeline build requires"), problems);
    }

    @Test
    void fileThatDoesNotParseIsNamed() throws IOException {
        var error = assertThrows(IllegalArgumentException.class, () -> problemsIn(GOOD_TASK.replace("[\"**/pom.xml\"]", "[\"**/pom.xml\"")));
        assertTrue(error.getMessage().startsWith("examples/bad.yaml does not parse: "), error.getMessage());
    }

    /** What every check finds in examples/bad.yaml holding the given YAML, beside a copy of the real tekton/. */
    private List<String> problemsIn(String yaml) throws IOException {
        try (var stepActions = Files.list(Fixtures.REPO.resolve("tekton"))) {
            for (Path file : stepActions.toList()) {
                Fixtures.write(tmp.resolve("tekton").resolve(file.getFileName()), Files.readString(file));
            }
        }
        Fixtures.write(tmp.resolve("examples/bad.yaml"), yaml);
        var documents = TektonYaml.load(tmp);
        var problems = new ArrayList<String>();
        problems.addAll(TektonYaml.undeclaredParams(documents));
        problems.addAll(TektonYaml.stepActionBindings(documents));
        problems.addAll(TektonYaml.pipelineRunBindings(documents));
        problems.addAll(TektonYaml.stepResultReferences(documents));
        problems.addAll(TektonYaml.uploadsGoOnError(documents));
        problems.addAll(TektonYaml.minVersions(documents));
        problems.addAll(TektonYaml.restrictedV2(documents));
        return problems;
    }
}

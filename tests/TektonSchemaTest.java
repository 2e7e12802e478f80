import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Every Tekton document of tekton/, examples/ and the YAML blocks of README.md, docs/ and
 * examples/ matches Tekton's own CRD schemas (tests/tekton-crds/, Tekton Pipelines v1.15.0), unknown
 * fields refused as `kubectl apply --validate=strict` refuses them; and each kind of mistake shown
 * to be caught in a document made for it.
 */
class TektonSchemaTest {

    private static final TektonSchema SCHEMA = load();

    /** A Pipeline whose embedded task uses both StepActions; each test below spoils it once. */
    private static final String GOOD_PIPELINE = """
            apiVersion: tekton.dev/v1
            kind: Pipeline
            metadata:
              name: cached-build
              annotations:
                tekton.dev/pipelines.minVersion: "0.65.2"
            spec:
              params:
                - name: cache-uri
                  type: string
              workspaces:
                - name: source
              tasks:
                - name: build
                  workspaces:
                    - name: source
                      workspace: source
                  taskSpec:
                    workspaces:
                      - name: source
                    steps:
                      - name: cache-fetch
                        ref:
                          name: cache-fetch-java
                        params:
                          - name: SOURCE
                            value: $(params.cache-uri)
                      - name: build
                        image: maven:3-eclipse-temurin-17
                        timeout: 1h
                        script: mvn verify
                      - name: cache-upload
                        onError: continue
                        ref:
                          resolver: cluster
                          params:
                            - name: kind
                              value: stepaction
                            - name: name
                              value: cache-upload-java
                        params:
                          - name: FETCHED
                            value: $(steps.cache-fetch.results.cache-hit)
            """;

    @Test
    void everyKindWeWriteHasItsSchema() {
        assertTrue(SCHEMA.known().containsAll(List.of("StepAction tekton.dev/v1beta1", "Task tekton.dev/v1",
                "Pipeline tekton.dev/v1", "PipelineRun tekton.dev/v1")), SCHEMA.known().toString());
    }

    @Test
    void everyFileOfTektonAndExamplesMatchesTektonsSchemas() throws IOException {
        var kinds = new TreeSet<String>();
        var problems = new ArrayList<String>();
        for (var document : TektonYaml.load(Fixtures.REPO)) {
            if (TektonSchema.isTekton(document.content())) {
                kinds.add(document.kind());
                SCHEMA.problems(document.content()).forEach(p -> problems.add(document + ": " + p));
            }
        }
        assertEquals(List.of(), problems);
        assertEquals(List.of("Pipeline", "PipelineRun", "StepAction"), List.copyOf(kinds));
    }

    @Test
    void everyYamlBlockOfTheReadmeAndTheDocsMatchesTektonsSchemas() throws IOException {
        var problems = new ArrayList<String>();
        int checked = 0;
        for (String block : TektonYaml.markdownYamlBlocks(Fixtures.REPO)) {
            for (Object document : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(block)) {
                if (document instanceof Map<?, ?> map && TektonSchema.isTekton(map)) {
                    checked++;
                    SCHEMA.problems(map).forEach(p -> problems.add(map.get("kind") + " " + p + " in\n" + block));
                }
            }
        }
        assertEquals(List.of(), problems);
        assertTrue(checked >= 3, "the README's step pair and the Pipelines of examples/when-the-build-fails.md: " + checked);
    }

    @Test
    void aPipelineWithoutMistakesMatches() {
        assertEquals(List.of(), problemsIn(GOOD_PIPELINE));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            a misspelt field of a step          | 'onError: continue'            | 'onErorr: continue'         | spec.tasks[0].taskSpec.steps[2].onErorr: unknown field
            a misspelt field of a step's ref    | 'resolver: cluster'            | 'resolvr: cluster'          | spec.tasks[0].taskSpec.steps[2].ref.resolvr: unknown field
            a misspelt field of the Pipeline    | '  workspaces:\\n    - name: source\\n  tasks:' | '  workspace:\\n    - name: source\\n  tasks:' | spec.workspace: unknown field
            a misspelt field of the metadata    | '  annotations:'               | '  anotations:'             | metadata.anotations: unknown field
            an annotation that is no string     | '"0.65.2"'                     | '0.65'                      | metadata.annotations.tekton.dev/pipelines.minVersion: double 0.65, not a string
            a type that is not the schema's     | 'type: string'                 | 'type: [string]'            | spec.params[0].type: an array, not a string
            a required field left out           | '- name: build\\n            image:' | '- image:'         | spec.tasks[0].taskSpec.steps[1].name: required, missing
            """)
    void mistakeIsCaught(String mistake, String good, String bad, String problem) {
        String spoilt = GOOD_PIPELINE.replace(good.replace("\\n", "\n"), bad.replace("\\n", "\n"));
        assertTrue(!spoilt.equals(GOOD_PIPELINE), mistake + ": the replacement applies");
        assertEquals(List.of(problem), problemsIn(spoilt), mistake);
    }

    @Test
    void aMisspeltFieldOfAStepActionIsCaught() {
        var problems = problemsIn("""
                apiVersion: tekton.dev/v1beta1
                kind: StepAction
                metadata:
                  name: cache-fetch-java
                spec:
                  image: localhost/tekton-caches-java:0.1.0
                  scirpt: echo
                """);
        assertEquals(List.of("spec.scirpt: unknown field"), problems);
    }

    @Test
    void aVersionTektonDoesNotServeIsNamed() {
        assertEquals(List.of("kind Task of tekton.dev/v2: no such served version in Tekton's CRDs"),
                problemsIn("apiVersion: tekton.dev/v2\nkind: Task\nmetadata:\n  name: x\n"));
    }

    private static List<String> problemsIn(String yaml) {
        return SCHEMA.problems((Map<?, ?>) new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml));
    }

    private static TektonSchema load() {
        try {
            return TektonSchema.load(Fixtures.REPO.resolve("tests/tekton-crds"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * An overlay of tekton/ sets the StepActions' image with kustomize's own `images:`, as the README's
 * install does: rendered by `kubectl kustomize`, the kustomize users have.
 */
class KustomizeImageTest {

    @TempDir
    Path tmp;

    @Test
    void overlayImagesSetBothStepActionsImage() throws Exception {
        assumeKubectl();
        Path overlay = Files.createDirectories(tmp.resolve("overlay"));
        // kustomize takes a base only by a relative path.
        String base = overlay.relativize(Fixtures.REPO.resolve("tekton")).toString();
        Fixtures.write(overlay.resolve("kustomization.yaml"), """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                namespace: tekton-caches-java
                resources:
                  - %s
                images:
                  - name: localhost/tekton-caches-java
                    newName: registry.example.com/ci/tekton-caches-java
                    newTag: 1.2.3
                """.formatted(base));

        assertEquals(Map.of("cache-fetch-java", "registry.example.com/ci/tekton-caches-java:1.2.3 in tekton-caches-java",
                "cache-upload-java", "registry.example.com/ci/tekton-caches-java:1.2.3 in tekton-caches-java"), render(overlay));
    }

    /**
     * The overlay of the README's install, written as it says (overlay/ beside tekton/), puts the
     * StepActions in the namespace the examples' refs name, with the image it names.
     */
    @Test
    void theReadmesOverlayInstallsWhereTheExamplesLook() throws Exception {
        assumeKubectl();
        var blocks = TektonYaml.yamlBlocks(Fixtures.REPO.resolve("README.md")).stream()
                .filter(b -> b.contains("kind: Kustomization")).toList();
        assertEquals(1, blocks.size(), "the README shows one overlay");
        var kustomization = (Map<?, ?>) new Yaml().load(blocks.get(0));
        var image = (Map<?, ?>) ((List<?>) kustomization.get("images")).get(0);
        try (var files = Files.list(Fixtures.REPO.resolve("tekton"))) {
            for (Path file : files.toList()) {
                Files.copy(file, Files.createDirectories(tmp.resolve("tekton")).resolve(file.getFileName()));
            }
        }
        Path overlay = Files.createDirectories(tmp.resolve("overlay"));
        Fixtures.write(overlay.resolve("kustomization.yaml"), blocks.get(0));

        var namespaces = new java.util.TreeSet<Object>();
        for (var document : TektonYaml.load(Fixtures.REPO)) {
            for (var step : TektonYaml.steps(document.content())) {
                TektonYaml.maps(TektonYaml.map(step.get("ref")).get("params")).stream()
                        .filter(p -> "namespace".equals(p.get("name"))).forEach(p -> namespaces.add(p.get("value")));
            }
        }
        assertEquals(List.of("tekton-caches-java"), List.copyOf(namespaces), "the namespace of the examples' refs");
        String expected = image.get("newName") + ":" + image.get("newTag") + " in tekton-caches-java";
        assertEquals(Map.of("cache-fetch-java", expected, "cache-upload-java", expected), render(overlay));
    }

    private void assumeKubectl() throws Exception {
        var version = Fixtures.run(List.of("kubectl", "version", "--client"), tmp, System.getenv());
        Assumptions.assumeTrue(version.status() == 0,
                "kubectl is not installed (tests/run installs the Debian package kubectl where a repository has it)");
    }

    /** Each StepAction `kubectl kustomize` renders, by name: "IMAGE in NAMESPACE". */
    private Map<String, String> render(Path overlay) throws Exception {
        var rendered = Fixtures.run(List.of("kubectl", "kustomize", overlay.toString()), tmp, System.getenv());
        assertEquals(0, rendered.status(), rendered.toString());
        var images = new java.util.TreeMap<String, String>();
        for (Object document : new Yaml().loadAll(rendered.out())) {
            var map = (Map<?, ?>) document;
            assertEquals("StepAction", map.get("kind"), rendered.out());
            var metadata = (Map<?, ?>) map.get("metadata");
            images.put(String.valueOf(metadata.get("name")), ((Map<?, ?>) map.get("spec")).get("image") + " in " + metadata.get("namespace"));
        }
        return images;
    }
}

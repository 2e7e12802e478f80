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
        var version = Fixtures.run(List.of("kubectl", "version", "--client"), tmp, System.getenv());
        Assumptions.assumeTrue(version.status() == 0, "kubectl is not installed (tests/run installs the Debian package kubectl where a repository has it)");
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

        var rendered = Fixtures.run(List.of("kubectl", "kustomize", overlay.toString()), tmp, System.getenv());

        assertEquals(0, rendered.status(), rendered.toString());
        var images = new java.util.TreeMap<String, Object>();
        for (Object document : new Yaml().loadAll(rendered.out())) {
            var map = (Map<?, ?>) document;
            assertEquals("StepAction", map.get("kind"), rendered.out());
            images.put(String.valueOf(((Map<?, ?>) map.get("metadata")).get("name")), ((Map<?, ?>) map.get("spec")).get("image"));
        }
        assertEquals(Map.of("cache-fetch-java", "registry.example.com/ci/tekton-caches-java:1.2.3",
                "cache-upload-java", "registry.example.com/ci/tekton-caches-java:1.2.3"), images);
    }
}

package lib.key;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Picks key patterns from the files at the top of the working dir when the user gives none: the
 * lock files of each ecosystem found, anywhere below, with dependency folders left out.
 */
public final class ProjectDetection {

    /** One ecosystem: the marker files at the top that reveal it, and what to hash. */
    record Ecosystem(String name, List<String> markers, List<String> patterns) {}

    /** An ecosystem seen in the working dir, with the marker that revealed it. */
    public record Detected(String name, String marker, List<String> patterns) {}

    // Lock files first: they change exactly when the dependencies do. The manifests come only
    // where an ecosystem has no lock file (Maven, Gradle) or as a fallback.
    private static final List<Ecosystem> ECOSYSTEMS = List.of(
            new Ecosystem("Go", List.of("go.mod"), List.of("**/go.mod", "**/go.sum")),
            new Ecosystem("npm", List.of("package-lock.json", "npm-shrinkwrap.json"),
                    List.of("**/package-lock.json", "**/npm-shrinkwrap.json")),
            new Ecosystem("Yarn", List.of("yarn.lock"), List.of("**/yarn.lock")),
            new Ecosystem("pnpm", List.of("pnpm-lock.yaml"), List.of("**/pnpm-lock.yaml")),
            new Ecosystem("Maven", List.of("pom.xml"), List.of("**/pom.xml")),
            new Ecosystem("Gradle",
                    List.of("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
                    List.of("**/*.gradle", "**/*.gradle.kts", "**/gradle-wrapper.properties",
                            "**/gradle.lockfile", "**/*.versions.toml")),
            new Ecosystem("pip", List.of("requirements.txt"), List.of("**/requirements*.txt")),
            new Ecosystem("Pipenv", List.of("Pipfile.lock", "Pipfile"), List.of("**/Pipfile.lock", "**/Pipfile")),
            new Ecosystem("Poetry", List.of("poetry.lock"), List.of("**/poetry.lock")),
            new Ecosystem("uv", List.of("uv.lock"), List.of("**/uv.lock")),
            new Ecosystem("Bundler", List.of("Gemfile.lock"), List.of("**/Gemfile.lock")),
            new Ecosystem("Composer", List.of("composer.lock"), List.of("**/composer.lock")),
            new Ecosystem("Cargo", List.of("Cargo.lock", "Cargo.toml"), List.of("**/Cargo.lock", "**/Cargo.toml")));

    /** Folders that hold downloaded dependencies or history, never the project's own lock files. */
    static final List<String> EXCLUDED = List.of("!**/node_modules", "!**/.git", "!**/vendor/bundle");

    private ProjectDetection() {}

    public static List<Detected> detect(Path workingDir) {
        var found = new ArrayList<Detected>();
        for (Ecosystem ecosystem : ECOSYSTEMS) {
            for (String marker : ecosystem.markers()) {
                if (Files.isRegularFile(workingDir.resolve(marker))) {
                    found.add(new Detected(ecosystem.name(), marker, ecosystem.patterns()));
                    break;
                }
            }
        }
        if (found.stream().noneMatch(d -> d.name().equals("pip")) && hasRequirementsVariant(workingDir)) {
            found.add(new Detected("pip", "requirements*.txt", List.of("**/requirements*.txt")));
        }
        return found;
    }

    /** All patterns for what was detected, followed by the exclusions. */
    static List<String> patterns(List<Detected> detected) {
        var patterns = new ArrayList<String>();
        for (Detected d : detected) {
            patterns.addAll(d.patterns());
        }
        patterns.addAll(EXCLUDED);
        return patterns;
    }

    private static boolean hasRequirementsVariant(Path workingDir) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(workingDir, "requirements*.txt")) {
            return files.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }
}

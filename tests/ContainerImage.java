import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * The image of image/Containerfile for tests: built once per test run by image/build, and run with
 * podman with no network, as a step would run it.
 */
final class ContainerImage {

    /** An arbitrary UID in group 0, as OpenShift runs a step. */
    static final String ANY_USER = "12345:0";

    /** Runs image/build at most once, however many tests and threads ask; its outcome is kept. */
    private static final FutureTask<String> BUILD = new FutureTask<>(ContainerImage::build);

    private ContainerImage() {}

    /** The image's name, after building it (layers already built are reused) the first time. */
    static String ensureBuilt() throws Exception {
        BUILD.run();
        try {
            return BUILD.get();
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    private static String build() throws Exception {
        var run = Fixtures.run(List.of(Fixtures.REPO.resolve("image/build").toString()), Fixtures.REPO, System.getenv());
        if (run.status() != 0) {
            throw new AssertionError("image/build failed: " + run);
        }
        // The image's ID, not its name: another checkout building the same name while these tests run
        // would otherwise have them run its image.
        String name = run.out().strip();
        var id = Fixtures.run(List.of("podman", "image", "inspect", "--format", "{{.Id}}", name), Fixtures.REPO, System.getenv());
        if (id.status() != 0) {
            throw new AssertionError("podman image inspect failed: " + id);
        }
        return id.out().strip();
    }

    /** `podman run --rm --network=none OPTIONS IMAGE ARGV`: the container sees only its loopback. */
    static List<String> command(String image, List<String> podmanOptions, List<String> argv) {
        var command = new ArrayList<>(List.of("podman", "run", "--rm", "--network=none"));
        command.addAll(podmanOptions);
        command.add(image);
        command.addAll(argv);
        return command;
    }

    /** Runs argv in a new container and waits for it; podman gets this JVM's environment (CONTAINERS_CONF). */
    static Fixtures.Run run(String image, List<String> podmanOptions, List<String> argv) throws Exception {
        return Fixtures.run(command(image, podmanOptions, argv), Fixtures.REPO, System.getenv());
    }

    /** Options mounting a host folder at the same path inside, so paths need no translating. */
    static List<String> mount(Path hostFolder) {
        return List.of("--volume", hostFolder + ":" + hostFolder);
    }

    /** Options setting a variable inside the container. */
    static List<String> env(String name, String value) {
        return List.of("--env", name + "=" + value);
    }
}

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Names that are not loopback for the scripts' JVM: Go's rules (and ours) never proxy localhost or a
 * loopback address, but do proxy a name, so a store reached as s3.corp.test or minio.minio.svc shows
 * whether the proxy variables are honoured. The script runs in its own JVM (Fixtures.script), given
 * a hosts file of its own by -Djdk.net.hosts.file, which maps each name to 127.0.0.1 where the
 * servers listen; the JVM then resolves every name through that file alone, so localhost is in it too.
 */
final class TestHosts {

    private TestHosts() {}

    /** The JVM options that make the names resolve to 127.0.0.1, by a hosts file written in dir. */
    static List<String> jvmOptions(Path dir, String... names) throws IOException {
        var lines = new ArrayList<String>();
        lines.add("127.0.0.1 localhost");
        for (String name : names) {
            lines.add("127.0.0.1 " + name);
        }
        Path file = dir.resolve("hosts");
        Files.createDirectories(dir);
        Files.write(file, lines);
        return List.of("-Djdk.net.hosts.file=" + file);
    }
}

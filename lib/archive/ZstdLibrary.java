package lib.archive;

import com.github.luben.zstd.Zstd;
import java.nio.file.Files;
import java.nio.file.Path;
import lib.common.Environment;

/**
 * Where zstd-jni's native library is loaded from. By default zstd-jni unpacks it from its jar into
 * java.io.tmpdir on first use, which fails where the root file system is read-only and /tmp is not
 * writable (restricted pod security), and leaves a copy per run where it is. The image unpacks it
 * once, at build time, into $TEKTON_CACHES_HOME/native/ (image/Containerfile); zstd-jni's
 * Native.load() takes a file named by the ZstdNativePath property instead of unpacking.
 */
public final class ZstdLibrary {

    /** zstd-jni's own property (com.github.luben.zstd.util.Native): System.load of this path, no unpacking. */
    static final String PATH_PROPERTY = "ZstdNativePath";

    private ZstdLibrary() {}

    /**
     * Points zstd-jni at the image's copy of its library, when there is one for this very version
     * of zstd-jni (a library of another version would not match the Java side); outside the image
     * nothing changes. Must run before zstd is first used: the library is loaded once per JVM.
     */
    public static void preferInstalled(Environment env) {
        String home = env.get("TEKTON_CACHES_HOME");
        // Reading the class's package does not initialise Zstd, so nothing is loaded yet.
        String version = Zstd.class.getPackage().getImplementationVersion();
        if (home == null || home.isBlank() || version == null || System.getProperty(PATH_PROPERTY) != null) {
            return;
        }
        Path installed = Path.of(home, "native", "libzstd-jni-" + version + ".so");
        if (Files.isRegularFile(installed)) {
            System.setProperty(PATH_PROPERTY, installed.toString());
        }
    }
}

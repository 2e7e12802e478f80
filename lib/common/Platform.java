package lib.common;

import java.util.Locale;

/** The machine's OS and architecture in Go's GOOS/GOARCH words, as image configs and Tekton's platforms name them. */
public final class Platform {

    private Platform() {}

    public static String os() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        if (os.startsWith("mac") || os.startsWith("darwin")) {
            return "darwin";
        }
        if (os.startsWith("windows")) {
            return "windows";
        }
        return os.replaceAll("[^a-z0-9]", "");
    }

    public static String arch() {
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        return switch (arch) {
            case "x86_64", "amd64" -> "amd64";
            case "aarch64", "arm64" -> "arm64";
            case "x86", "i386", "i486", "i586", "i686" -> "386";
            default -> arch; // ppc64le, s390x, riscv64 are already Go's names
        };
    }
}

package lib.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Tekton results: one file per result in the results folder, holding the bare value with no
 * trailing newline. Values are collected as they become known and written once at the end, so
 * a failed run still reports what it learnt (the key) and what did not happen (fetched=false).
 */
public final class Results {
    private final Map<String, String> values = new LinkedHashMap<>();

    Results(Map<String, String> initial) {
        values.putAll(initial);
    }

    void put(String name, String value) {
        values.put(name, value);
    }

    void writeTo(Path folder) throws IOException {
        Files.createDirectories(folder);
        for (var result : values.entrySet()) {
            Files.writeString(folder.resolve(result.getKey()), result.getValue(), StandardCharsets.UTF_8);
        }
    }
}

package lib.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tekton results: one file per result in the results folder, holding the bare value with no
 * trailing newline. Values are collected as they become known and written once at the end, so
 * a failed run still reports what it learnt (the key) and what did not happen (fetched=false).
 */
public final class Results {
    /** What claims that the key's entry, or another, was found: a pipeline skips its save on cache-hit=true. */
    private static final List<String> CLAIMS = List.of("cache-hit", "matched-key");

    private final Map<String, String> initial;
    private final Map<String, String> values = new LinkedHashMap<>();

    Results(Map<String, String> initial) {
        this.initial = Map.copyOf(initial);
        values.putAll(initial);
    }

    /**
     * A run that failed, however (an Error while restoring included), claims no hit: else the
     * pipeline would skip the save that replaces what could not be restored.
     */
    void failed() {
        for (String name : CLAIMS) {
            if (initial.containsKey(name)) {
                values.put(name, initial.get(name));
            }
        }
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

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Random;

/**
 * What MakeData's files hold: text of each kind built from a small vocabulary, jar-like and
 * native-binary bytes, and the mixed segments of the big file, all drawn from one seeded Random
 * so that the same calls give the same bytes on every run.
 */
final class Content {
    static final int MIB = 1 << 20;
    static final int WORDS = 3000;

    private final Random random;
    /** A limited vocabulary, skewed towards its first words: what makes source text compress 3-5x. */
    private final String[] words;
    private final byte[][] wordBytes;
    /** Source maps repeat a few hundred VLQ segments; random base64 would not compress at all. */
    private final String[] mapSegments;
    private long logLine;

    Content(long seed) {
        random = new Random(seed);
        var distinct = new LinkedHashSet<String>(); // distinct, so words can name packages and artifacts
        while (distinct.size() < WORDS) {
            var word = new StringBuilder();
            for (int n = 3 + random.nextInt(8); n > 0; n--) {
                word.append((char) ('a' + random.nextInt(26)));
            }
            distinct.add(word.toString());
        }
        words = distinct.toArray(String[]::new);
        wordBytes = Arrays.stream(words).map(w -> w.getBytes(StandardCharsets.US_ASCII)).toArray(byte[][]::new);
        String base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        mapSegments = new String[300];
        for (int i = 0; i < mapSegments.length; i++) {
            var segment = new StringBuilder("ACEGIKMOQSUWY".charAt(random.nextInt(13)) + "A");
            for (int n = 2 + random.nextInt(4); n > 0; n--) {
                segment.append(base64.charAt(random.nextInt(i < 100 ? 16 : 64)));
            }
            mapSegments[i] = segment.toString();
        }
    }

    /** The i-th word: distinct for distinct i below WORDS, for names that must not collide. */
    String name(int i) {
        return words[i % words.length] + (i < words.length ? "" : "-" + i / words.length);
    }

    String word() {
        return words[skewed(words.length)];
    }

    /** Uniform in [min, max) on a log scale. */
    private long logUniform(long min, long max) {
        return (long) (min * Math.pow((double) max / min, random.nextDouble()));
    }

    /** An index below n, the low ones much more often, as word frequencies are. */
    private int skewed(int n) {
        double u = random.nextDouble();
        return (int) (n * u * u);
    }

    String identifier() {
        String second = word();
        return word() + Character.toUpperCase(second.charAt(0)) + second.substring(1);
    }

    String version() {
        return random.nextInt(8) + "." + random.nextInt(30) + "." + random.nextInt(12);
    }

    // ----- Maven

    byte[] pom(String group, String artifact, String version, int dependencies) {
        var text = new Text(1024 + dependencies * 200);
        text.add("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\""
                + " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://maven.apache.org/POM/4.0.0"
                + " https://maven.apache.org/xsd/maven-4.0.0.xsd\">\n  <modelVersion>4.0.0</modelVersion>\n");
        text.add("  <groupId>").add(group).add("</groupId>\n  <artifactId>").add(artifact).add("</artifactId>\n  <version>")
                .add(version).add("</version>\n  <name>").add(artifact).add("</name>\n  <description>");
        prose(text, text.length() + 60 + random.nextInt(400));
        text.add("</description>\n  <licenses>\n    <license>\n      <name>Apache-2.0</name>\n"
                + "      <url>https://www.apache.org/licenses/LICENSE-2.0.txt</url>\n    </license>\n  </licenses>\n"
                + "  <dependencies>\n");
        for (int i = 0; i < dependencies; i++) {
            text.add("    <dependency>\n      <groupId>org.").add(word()).add('.').add(word())
                    .add("</groupId>\n      <artifactId>").add(word()).add('-').add(word())
                    .add("</artifactId>\n      <version>").add(version()).add("</version>\n");
            if (random.nextInt(3) == 0) {
                text.add("      <scope>").add(random.nextBoolean() ? "test" : "provided").add("</scope>\n");
            }
            text.add("    </dependency>\n");
        }
        return text.add("  </dependencies>\n</project>\n").bytes();
    }

    byte[] remoteRepositories(String artifact, String version, boolean jar) {
        var text = new Text(300).add("#NOTE: This is a Maven Resolver internal implementation file, its format can be"
                + " changed without prior notice.\n#Fri Nov 14 09:12:").add(random.nextInt(50) + 10).add(" UTC 2025\n");
        if (jar) {
            text.add(artifact).add('-').add(version).add(".jar>central=\n");
        }
        return text.add(artifact).add('-').add(version).add(".pom>central=\n").bytes();
    }

    byte[] mavenMetadata(String group, String artifact, String[] versions) {
        var text = new Text(600).add("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>").add(group)
                .add("</groupId>\n  <artifactId>").add(artifact).add("</artifactId>\n  <versioning>\n    <latest>")
                .add(versions[versions.length - 1]).add("</latest>\n    <release>").add(versions[versions.length - 1])
                .add("</release>\n    <versions>\n");
        for (String version : versions) {
            text.add("      <version>").add(version).add("</version>\n");
        }
        return text.add("    </versions>\n    <lastUpdated>2025111409").add(random.nextInt(10_000) + 10_000)
                .add("</lastUpdated>\n  </versioning>\n</metadata>\n").bytes();
    }

    /**
     * A zip's layout (local headers with class names, then the central directory naming them
     * again) around random bytes standing for deflated classes: zstd gains a few percent on it, as
     * on real jars. The CRCs are random and the data is not deflate; nothing opens it.
     */
    void jar(OutputStream out, String packagePath, long size) throws IOException {
        var names = new ArrayList<String>();
        var sizes = new ArrayList<Integer>();
        long written = 0;
        long directory = 22;
        byte[] data = new byte[16 * 1024];
        while (written + directory + 128 < size) {
            String name = names.isEmpty() ? "META-INF/MANIFEST.MF" : packagePath + "/" + identifier() + ".class";
            int length = (int) Math.min(logUniform(200, data.length), size - written - directory - 128);
            out.write(zipRecord(0x04034b50, 30, 26, name, length, 0));
            random.nextBytes(data);
            out.write(data, 0, length);
            names.add(name);
            sizes.add(length);
            written += 30 + name.length() + length;
            directory += 46 + name.length();
        }
        for (int i = 0; i < names.size(); i++) {
            out.write(zipRecord(0x02014b50, 46, 28, names.get(i), sizes.get(i), 0));
        }
        out.write(zipRecord(0x06054b50, 22, 20, "", directory - 22, names.size()));
    }

    /**
     * A zip record of FIXED bytes plus NAME (its length at NAME_AT): the signature, deflate, a
     * CRC, SIZE where local and central headers keep the compressed size, ENTRIES where the end
     * record counts them.
     */
    private byte[] zipRecord(int signature, int fixed, int nameAt, String name, long size, int entries) {
        var record = ByteBuffer.allocate(fixed + name.length()).order(ByteOrder.LITTLE_ENDIAN).putInt(0, signature);
        if (signature == 0x06054b50) {
            record.putShort(8, (short) entries).putShort(10, (short) entries).putInt(12, (int) size);
        } else {
            int at = fixed == 30 ? 0 : 2; // a central header has "version made by" first
            record.putShort(4 + at, (short) 20).putShort(8 + at, (short) 8).putInt(14 + at, random.nextInt())
                    .putInt(18 + at, (int) size).putInt(22 + at, (int) size * 3);
        }
        record.putShort(nameAt, (short) name.length()).position(fixed).put(name.getBytes(StandardCharsets.US_ASCII));
        return record.array();
    }

    // ----- npm

    byte[] packageJson(String name, String version, boolean bin, int dependencies) {
        var text = new Text(600 + dependencies * 40).add("{\n  \"name\": \"").add(name).add("\",\n  \"version\": \"")
                .add(version).add("\",\n  \"description\": \"");
        prose(text, text.length() + 30 + random.nextInt(120));
        text.add("\",\n  \"main\": \"lib/index.js\",\n  \"types\": \"lib/index.d.ts\",\n  \"license\": \"MIT\",\n"
                + "  \"repository\": {\n    \"type\": \"git\",\n    \"url\": \"git+https://github.com/").add(word())
                .add('/').add(name).add(".git\"\n  },\n  \"scripts\": {\n    \"build\": \"tsc -p .\",\n    \"test\": \"jest\"\n  },\n");
        if (bin) {
            String command = name.substring(name.lastIndexOf('/') + 1);
            text.add("  \"bin\": {\n    \"").add(command).add("\": \"bin/").add(command).add(".js\"\n  },\n");
        }
        text.add("  \"dependencies\": {");
        for (int i = 0; i < dependencies; i++) {
            text.add(i == 0 ? "\n" : ",\n").add("    \"").add(word()).add("\": \"^").add(version()).add('"');
        }
        return text.add("\n  }\n}\n").bytes();
    }

    byte[] license(String holder) {
        return new Text(1100).add("MIT License\n\nCopyright (c) 2019 ").add(holder).add("\n\n"
                + "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and"
                + " associated documentation files (the \"Software\"), to deal in the Software without restriction,"
                + " including without limitation the rights to use, copy, modify, merge, publish, distribute,"
                + " sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is"
                + " furnished to do so, subject to the following conditions:\n\nThe above copyright notice and this"
                + " permission notice shall be included in all copies or substantial portions of the Software.\n\n"
                + "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.\n").bytes();
    }

    byte[] markdown(String title, int size) {
        var text = new Text(size + 200).add("# ").add(title).add("\n\n");
        while (text.length() < size) {
            switch (random.nextInt(4)) {
                case 0 -> text.add("## ").add(word()).add(' ').add(word()).add("\n\n");
                case 1 -> {
                    text.add("```js\nconst ").add(identifier()).add(" = require('").add(title).add("');\n");
                    statement(text);
                    text.add("```\n\n");
                }
                default -> {
                    prose(text, text.length() + 80 + random.nextInt(400));
                    text.add(".\n\n");
                }
            }
        }
        return text.bytes(size);
    }

    /** CommonJS as tsc and babel emit it: requires, functions, exports. */
    byte[] javaScript(int size) {
        var text = new Text(size + 200).add("\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\n");
        while (text.length() < size) {
            statement(text);
        }
        return text.bytes(size);
    }

    /** A minified bundle: the same statements without the newlines and indentation. */
    byte[] bundle(int size) {
        var text = new Text(size + 200).add("!function(e,t){\"object\"==typeof exports?module.exports=t():e.lib=t()}(this,function(){");
        while (text.length() < size) {
            text.add("var ").add(identifier()).add("=function(").add(word()).add(',').add(word()).add("){return ")
                    .add(word()).add('.').add(identifier()).add('(').add(word()).add(")||").add(random.nextInt(1000)).add("};");
        }
        return text.bytes(size);
    }

    private void statement(Text text) {
        String name = identifier();
        switch (random.nextInt(4)) {
            case 0 -> text.add("const ").add(word()).add("_1 = require(\"./").add(word()).add("\");\n");
            case 1 -> text.add("function ").add(name).add('(').add(word()).add(", ").add(word()).add(") {\n    if (")
                    .add(word()).add(" === undefined) {\n        return ").add(word()).add("_1.").add(identifier())
                    .add('(').add(random.nextInt(100)).add(");\n    }\n    return ").add(word()).add('.').add(word())
                    .add(" + ").add(word()).add(";\n}\nexports.").add(name).add(" = ").add(name).add(";\n");
            case 2 -> text.add("class ").add(name).add(" {\n    constructor(").add(word()).add(") {\n        this.")
                    .add(word()).add(" = ").add(word()).add(";\n    }\n    ").add(identifier()).add("() {\n        return this.")
                    .add(word()).add(".map((").add(word()).add(") => ").add(word()).add(" * ").add(random.nextInt(10))
                    .add(");\n    }\n}\nexports.").add(name).add(" = ").add(name).add(";\n");
            default -> text.add("// ").add(word()).add(' ').add(word()).add(' ').add(word()).add('\n');
        }
    }

    byte[] typeScript(int size) {
        var text = new Text(size + 200).add("import { ").add(identifier()).add(" } from './").add(word()).add("';\n\n");
        while (text.length() < size) {
            text.add("export function ").add(identifier()).add('(').add(word()).add(": string, ").add(word())
                    .add("?: number): ").add(identifier()).add(" {\n  const ").add(word()).add(" = ").add(word()).add('.')
                    .add(identifier()).add('(').add(word()).add(");\n  return { ").add(word()).add(", ").add(word())
                    .add(" };\n}\n\n");
        }
        return text.bytes(size);
    }

    byte[] declarations(int size) {
        var text = new Text(size + 200);
        while (text.length() < size) {
            if (random.nextBoolean()) {
                text.add("export declare function ").add(identifier()).add('(').add(word()).add(": string, ")
                        .add(word()).add("?: number): Promise<").add(identifier()).add(">;\n");
            } else {
                text.add("export interface ").add(identifier()).add(" {\n    ").add(word()).add(": string;\n    ")
                        .add(word()).add("?: ").add(identifier()).add(";\n}\n");
            }
        }
        return text.bytes(size);
    }

    byte[] sourceMap(String file, int size) {
        var text = new Text(size + 200).add("{\"version\":3,\"file\":\"").add(file).add(".js\",\"sourceRoot\":\"\","
                + "\"sources\":[\"../src/").add(file).add(".ts\"],\"names\":[");
        for (int i = 0; i < 20; i++) {
            text.add(i == 0 ? "\"" : ",\"").add(word()).add('"');
        }
        text.add("],\"mappings\":\"");
        while (text.length() < size - 2) {
            text.add(mapSegments[skewed(mapSegments.length)]).add(random.nextInt(6) == 0 ? ';' : ',');
        }
        return text.add("\"}").bytes(size);
    }

    /**
     * A compiled addon or wasm module: machine code (random bytes), zero padding and symbol names
     * in 4 KiB pages, after the format's magic. zstd gets about 1.6x, as on real ones.
     */
    byte[] nativeBinary(byte[] magic, int size) {
        byte[] binary = new byte[size];
        System.arraycopy(magic, 0, binary, 0, Math.min(magic.length, size));
        byte[] page = new byte[4096];
        for (int off = 64; off < size; off += page.length) {
            int length = Math.min(page.length, size - off);
            int kind = random.nextInt(20);
            if (kind < 11) {
                random.nextBytes(page);
                System.arraycopy(page, 0, binary, off, length);
            } else if (kind < 15) {
                var symbols = new Text(length + 64);
                while (symbols.length() < length) {
                    symbols.add("_ZN4node").add(word().length()).add(word()).add(identifier()).add('\0');
                }
                System.arraycopy(symbols.bytes(length), 0, binary, off, length);
            } // else zeros
        }
        return binary;
    }

    // ----- the big file

    /**
     * SIZE bytes of alternating segments of random bytes, text and log lines, written a MiB at a
     * time: zstd -3 makes about half of it. A segment is 1/4096 to 1/128 of SIZE (256 KiB to 8 MiB
     * of a GiB), so that a small SIZE holds as many and compresses alike.
     */
    void mixed(OutputStream out, long size) throws IOException {
        byte[] noise = new byte[MIB];
        for (long done = 0, segment = 0; done < size; segment++) {
            long end = Math.min(size, done + logUniform(Math.max(1, size / 4096), Math.max(2, size / 128)));
            while (done < end) {
                int n = (int) Math.min(MIB, end - done);
                switch ((int) (segment % 3)) {
                    case 0 -> {
                        random.nextBytes(noise);
                        out.write(noise, 0, n);
                    }
                    case 1 -> {
                        var text = new Text(n + 512);
                        while (text.length() < n) {
                            prose(text, text.length() + 60 + random.nextInt(100));
                            text.add(".\n");
                        }
                        out.write(text.bytes(n));
                    }
                    default -> out.write(logLines(n), 0, n);
                }
                done += n;
            }
        }
    }

    /** Build-log lines that differ only in their counters: zstd makes them 10-20x smaller. */
    private byte[] logLines(int size) {
        var text = new Text(size + 200);
        while (text.length() < size) {
            text.add("[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/example/artifact-")
                    .add(logLine % 97).add(".jar (").add(logLine % 1000).add(" kB at ").add(logLine % 13).add(".2 MB/s) #")
                    .add(logLine++).add('\n');
        }
        return text.bytes();
    }

    private void prose(Text text, int until) {
        text.add(words[skewed(40)]);
        while (text.length() < until) {
            text.add(' ').add(wordBytes[skewed(wordBytes.length)]);
        }
    }

    /** An ASCII buffer that grows: what StringBuilder is, without the copy through UTF-16. */
    static final class Text {
        private byte[] bytes;
        private int length;

        Text(int capacity) {
            bytes = new byte[Math.max(capacity, 16)];
        }

        int length() {
            return length;
        }

        Text add(byte[] more) {
            room(more.length);
            System.arraycopy(more, 0, bytes, length, more.length);
            length += more.length;
            return this;
        }

        Text add(String more) {
            room(more.length());
            for (int i = 0; i < more.length(); i++) {
                bytes[length++] = (byte) more.charAt(i);
            }
            return this;
        }

        Text add(char c) {
            room(1);
            bytes[length++] = (byte) c;
            return this;
        }

        Text add(long number) {
            return add(Long.toString(number));
        }

        /** All the text, length() bytes. */
        byte[] bytes() {
            return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
        }

        /** The first SIZE bytes, SIZE at most length(): generators overshoot and cut. */
        byte[] bytes(int size) {
            return Arrays.copyOf(bytes, Math.min(size, length));
        }

        private void room(int more) {
            if (length + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
            }
        }
    }
}

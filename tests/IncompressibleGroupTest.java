import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import lib.archive.Compression;
import lib.store.Store;
import lib.store.file.FileStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Groups that do not compress (jars, zips, images) are stored in raw zstd blocks rather than
 * compressed for nothing, and what compresses still is: both kinds are read back by zstd itself and
 * by our restore, one after the other in one entry.
 */
class IncompressibleGroupTest {

    /** A raw frame's descriptor and window bytes, after zstd's magic: no size, no checksum, a 128 KiB window. */
    private static final byte[] RAW = {0x28, (byte) 0xB5, 0x2F, (byte) 0xFD, 0x00, 7 << 3};

    @TempDir
    Path tmp;

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    private static byte[] text(int size) {
        var out = new StringBuilder();
        for (int i = 0; out.length() < size; i++) {
            out.append("<dependency><groupId>org.example</groupId><artifactId>a").append(i).append("</artifactId></dependency>\n");
        }
        return out.substring(0, size).getBytes(StandardCharsets.UTF_8);
    }

    private static boolean raw(byte[] frame) {
        return frame.length >= RAW.length && java.util.Arrays.equals(frame, 0, RAW.length, RAW, 0, RAW.length);
    }

    /** What the zstd command makes of these bytes. */
    private byte[] zstdCommand(byte[] compressed) throws Exception {
        Path in = Files.write(tmp.resolve("in.zst"), compressed);
        Path out = tmp.resolve("out");
        Process zstd = new ProcessBuilder("zstd", "-d", "-q", "-f", "-o", out.toString(), in.toString())
                .redirectErrorStream(true).start();
        String said = new String(zstd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, zstd.waitFor(), "zstd -d: " + said);
        return Files.readAllBytes(out);
    }

    private static byte[] zstdJni(byte[] compressed) throws Exception {
        try (var in = new ZstdInputStream(new ByteArrayInputStream(compressed))) {
            return in.readAllBytes();
        }
    }

    /** Sizes around the 128 KiB block and the 256 KiB sample, and none at all. */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 131_071, 131_072, 131_073, 262_144, 1_000_000})
    void randomBytesAreOneRawFrameThatZstdReads(int size) throws Exception {
        byte[] data = random(size, size);
        byte[] frame = Compression.ZSTD.compressWhole(data, data.length, Compression.ZSTD.defaultLevel());
        assertTrue(raw(frame), "random bytes are stored, not compressed");
        assertArrayEquals(data, zstdCommand(frame));
        assertArrayEquals(data, zstdJni(frame));
    }

    @Test
    void textIsStillCompressed() throws Exception {
        byte[] data = text(1_000_000);
        byte[] frame = Compression.ZSTD.compressWhole(data, data.length, Compression.ZSTD.defaultLevel());
        assertTrue(!raw(frame) && frame.length < data.length / 5, "text compresses: " + frame.length + " bytes");
        assertArrayEquals(data, zstdCommand(frame));
    }

    /**
     * The streamed frames of big groups: raw when the caller found the group not compressible (from
     * slices of its files), zstd's own otherwise, one compressor serving them all; zstd reads each,
     * and all of them one after the other.
     */
    @Test
    void streamedFramesAreRawOrCompressedAsTheCallerSays() throws Exception {
        var noiseThenText = new ByteArrayOutputStream();
        noiseThenText.writeBytes(random(512 << 10, 1));
        noiseThenText.writeBytes(text(3_000_000));
        List<byte[]> contents = List.of(noiseThenText.toByteArray(), random(2_000_000, 2), text(500), random(131_072 * 4, 3));
        boolean[] compressible = {true, false, true, false};
        var frames = new ArrayList<byte[]>();
        var all = new ByteArrayOutputStream();
        try (Compression.Frames zstd = Compression.ZSTD.frames(Compression.ZSTD.defaultLevel())) {
            for (int i = 0; i < contents.size(); i++) {
                var frame = new ByteArrayOutputStream();
                OutputStream in = zstd.begin(frame, compressible[i]);
                byte[] content = contents.get(i);
                for (int at = 0; at < content.length; at += 70_000) { // writes across the blocks' ends
                    in.write(content, at, Math.min(70_000, content.length - at));
                }
                zstd.end();
                frames.add(frame.toByteArray());
                all.writeBytes(content);
            }
        }
        assertTrue(frames.get(0).length < contents.get(0).length / 2, "noise then text: " + frames.get(0).length + " bytes");
        var concatenated = new ByteArrayOutputStream();
        for (int i = 0; i < contents.size(); i++) {
            assertEquals(!compressible[i], raw(frames.get(i)), "frame " + i);
            assertArrayEquals(contents.get(i), zstdJni(frames.get(i)), "frame " + i);
            concatenated.writeBytes(frames.get(i));
        }
        assertArrayEquals(all.toByteArray(), zstdCommand(concatenated.toByteArray()), "the frames one after the other");
    }

    /**
     * Through the scripts: a folder of random "jars" (in groups made in memory, and one big enough
     * to be streamed), text, and a big file that begins with noise and goes on with text. In the
     * entry, groups of jars only are raw and those with text compressed, the big jar's and the big
     * mixed file's included; zstd and tar extract the whole object, and cache-fetch restores the
     * folder exactly.
     */
    @Test
    void anEntryMixesRawAndCompressedGroupsAndRestoresExactly() throws Exception {
        Path project = tmp.resolve("project");
        Path folder = project.resolve("m2");
        Files.createDirectories(folder.resolve("text"));
        Fixtures.write(project.resolve("pom.xml"), "<project/>\n");
        Fixtures.writeRandom(folder.resolve("big/big-1.0.jar"), 6 << 20, 7); // its own group, streamed
        var mixed = new ByteArrayOutputStream();
        mixed.writeBytes(random(1 << 20, 8));
        mixed.writeBytes(text(5 << 20));
        Files.write(folder.resolve("big/mixed.bin"), mixed.toByteArray()); // its own group too
        for (int i = 0; i < 6; i++) {
            Fixtures.writeRandom(folder.resolve("jars/a" + i + ".jar"), 1 << 20, i); // groups made in memory
            Files.write(folder.resolve("text/t" + i + ".xml"), text(1 << 20));
        }
        Path store = tmp.resolve("store");
        var env = Fixtures.env(tmp.resolve("xdg"));
        var upload = Fixtures.upload(project, env, "--folder", folder.toString(), "--target", "file://" + store + "/{{hash}}");
        assertEquals(0, upload.status(), upload.err());

        var files = new FileStore(store);
        String name;
        try (var listing = Files.list(store)) {
            name = listing.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).findFirst().orElseThrow();
        }
        Store.StoredObject object = files.find(name).orElseThrow();
        Store.Groups groups = files.groups(object).orElseThrow();
        byte[] bytes = Files.readAllBytes(store.resolve(name));
        int raw = 0;
        int compressed = 0;
        boolean rawBig = false;
        boolean compressedMixed = false;
        for (Store.StoredGroup g : groups.groups()) {
            byte[] frame = java.util.Arrays.copyOfRange(bytes, (int) g.offset(), (int) (g.offset() + g.group().size()));
            byte[] tar = zstdJni(frame);
            boolean holdsJars = new String(tar, StandardCharsets.ISO_8859_1).contains(".jar");
            boolean holdsText = new String(tar, StandardCharsets.ISO_8859_1).contains(".xml");
            String names = new String(tar, StandardCharsets.ISO_8859_1);
            rawBig |= raw(frame) && names.contains("big/big-1.0.jar");
            compressedMixed |= !raw(frame) && names.contains("big/mixed.bin") && frame.length < tar.length / 2;
            if (raw(frame)) {
                raw++;
                assertTrue(holdsJars && !holdsText, "a raw group holds jars only");
            } else if (holdsText) {
                compressed++;
                assertTrue(frame.length < tar.length * 0.9, "a group with text is compressed");
            }
        }
        assertTrue(raw >= 2 && compressed >= 1, raw + " raw groups and " + compressed + " compressed ones in " + groups.groups().size());
        assertTrue(rawBig && compressedMixed, "the big jar's group raw, the mixed file's compressed");

        Path extracted = Files.createDirectories(tmp.resolve("extracted"));
        var tar = Fixtures.run(List.of("sh", "-c", "zstd -dc '" + store.resolve(name) + "' | tar -xif - -C '" + extracted + "'"), tmp, env);
        assertEquals(0, tar.status(), tar.err());
        assertEquals(Fixtures.snapshot(folder, false), Fixtures.snapshot(extracted, false), "zstd -dc | tar -xi");

        Path restored = tmp.resolve("restored");
        var fetch = Fixtures.fetch(project, env, "--folder", restored.toString(), "--source", "file://" + store + "/{{hash}}");
        assertEquals(0, fetch.status(), fetch.err());
        assertEquals(Fixtures.snapshot(folder, false), Fixtures.snapshot(restored, false));
    }
}

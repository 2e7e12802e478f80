import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Stream;
import lib.archive.Compression;
import lib.archive.Meter;
import lib.cli.Fetch;
import lib.common.Digests;
import lib.common.Log;
import lib.store.Store;
import lib.store.file.FileStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Entries of groups made by hand in a real FileStore, each group a crafted tar: what one group makes
 * must not let a later group out of the folder, a group changed in the store is refused by its
 * digest, and an index that does not cover its frames exactly is refused. Each time the folder is
 * left exactly as it was and nothing appears outside it.
 */
class GroupedHostileRestoreTest {

    @TempDir
    Path tmp;

    private Path folder;
    private Path outside;
    private FileStore store;

    @BeforeEach
    void setUp() throws Exception {
        folder = tmp.resolve("folder");
        outside = tmp.resolve("outside");
        store = new FileStore(Files.createDirectories(tmp.resolve("store")));
        Fixtures.write(folder.resolve("earlier/content.txt"), "restored last week\n");
        Fixtures.write(outside.resolve("secret.txt"), "must stay as it is\n");
    }

    private static Meter meter() {
        return new Meter("restoring", new Log(new PrintStream(OutputStream.nullOutputStream()), false), System::nanoTime);
    }

    private static String sha256(byte[] bytes) {
        return Digests.hex(Digests.sha256().digest(bytes));
    }

    /** The tar as Upload compresses a group: zstd with its content checksum. */
    private static byte[] zstd(byte[] tar) throws IOException {
        var out = new ByteArrayOutputStream();
        try (OutputStream zstd = Compression.ZSTD.compress(out)) {
            zstd.write(tar);
        }
        return out.toByteArray();
    }

    /** A zstd frame without a content checksum: only our digest can tell a changed byte of a stored block. */
    private static byte[] zstdWithoutChecksum(byte[] tar) throws IOException {
        var out = new ByteArrayOutputStream();
        try (var zstd = new ZstdOutputStream(out, 3)) {
            zstd.setChecksum(false);
            zstd.write(tar);
        }
        return out.toByteArray();
    }

    /** One group as stored: its tar and its compressed bytes. */
    private record Frame(byte[] tar, byte[] compressed) {
        Store.Group group() {
            return new Store.Group(sha256(tar), tar.length, sha256(compressed), compressed.length);
        }
    }

    private static Frame frame(byte[] tar) throws IOException {
        return new Frame(tar, zstd(tar));
    }

    /** An entry of these groups, written as Upload writes one (beginGroup, endGroup, commit), in the store. */
    private Store.StoredObject entry(String name, List<Frame> frames) throws IOException {
        try (Store.EntryWrite write = store.createEntry(name, Compression.ZSTD)) {
            long tarBytes = 0;
            for (Frame frame : frames) {
                OutputStream out = write.beginGroup(); // the store's own stream: never closed by the caller
                out.write(frame.compressed());
                out.flush();
                write.endGroup(frame.group());
                tarBytes += frame.tar().length;
            }
            assertTrue(write.commit(new Store.Description(name, Instant.now(), tarBytes, null, frames.size(), null), 0));
        }
        return store.find(name).orElseThrow();
    }

    /** Restores the entry as cache-fetch does, expecting a refusal that leaves the folder and outside as they were. */
    private IOException refused(Store.StoredObject object) throws IOException {
        var folderBefore = Fixtures.snapshot(folder, true);
        var outsideBefore = Fixtures.snapshot(outside, true);
        IOException refusal = assertThrows(IOException.class, () -> Fetch.restore(store, object, folder, meter()));
        assertEquals(folderBefore, Fixtures.snapshot(folder, true), "the folder is as it was");
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true), "nothing appeared outside: " + refusal);
        try (var left = Files.list(folder)) {
            assertEquals(List.of("earlier"), left.map(p -> p.getFileName().toString()).toList(), "no staging is left");
        }
        return refusal;
    }

    private static boolean isHostileArchive(IOException e) {
        return e.getClass().getSimpleName().equals("HostileArchive");
    }

    // -- A group made to let a later group out of the folder.

    private static Arguments hostile(String name, Function<Path, List<byte[]>> tars) {
        return Arguments.of(Named.of(name, tars));
    }

    private static byte[] symlink(CraftedTar tar, String name, String target) {
        return tar.header(name.getBytes(StandardCharsets.UTF_8), '2', 0, 0777, target.getBytes(StandardCharsets.UTF_8)).end();
    }

    static Stream<Arguments> groupsThatEscapeTogether() {
        return Stream.of(
                hostile("group 1 links escape to a folder outside, group 2 writes escape/pwned.txt", outside -> List.of(
                        symlink(new CraftedTar().file("a/fine.txt", "fine\n"), "escape", outside.toString()),
                        new CraftedTar().file("escape/pwned.txt", "escaped\n").end())),
                hostile("the same through a relative link that climbs", outside -> List.of(
                        symlink(new CraftedTar(), "escape", "../outside"),
                        new CraftedTar().file("b/fine.txt", "fine\n").file("escape/pwned.txt", "escaped\n").end())),
                hostile("group 2 hard-links a file through group 1's link", outside -> List.of(
                        symlink(new CraftedTar(), "escape", outside.toString()),
                        new CraftedTar().header("pwned-link".getBytes(StandardCharsets.UTF_8), '1', 0, 0644,
                                "escape/secret.txt".getBytes(StandardCharsets.UTF_8)).end())),
                hostile("group 1 makes a folder, group 2 a link in its place, group 3 writes through it", outside -> List.of(
                        new CraftedTar().header("escape/".getBytes(StandardCharsets.UTF_8), '5', 0, 0755, new byte[0]).end(),
                        symlink(new CraftedTar(), "escape", outside.toString()),
                        new CraftedTar().file("escape/pwned.txt", "escaped\n").end())));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("groupsThatEscapeTogether")
    void aLinkOneGroupMakesLetsNoLaterGroupOut(Function<Path, List<byte[]>> tars) throws Exception {
        var frames = new ArrayList<Frame>();
        for (byte[] tar : tars.apply(outside)) {
            frames.add(frame(tar));
        }
        var object = entry("hostile", frames);
        assertTrue(store.groups(object).orElseThrow().groups().size() > 1, "an entry of groups");

        IOException refusal = refused(object);

        assertTrue(isHostileArchive(refusal), refusal.toString());
        assertFalse(Files.exists(outside.resolve("pwned.txt")));
        assertFalse(Files.exists(folder.resolve("escape")));
    }

    /**
     * A folder entry in place of an earlier group's link replaces the link, as tar does: what is
     * written below it then stays inside.
     */
    @Test
    void aFolderInPlaceOfAnEarlierGroupsLinkIsMadeInside() throws Exception {
        var object = entry("replaced", List.of(frame(symlink(new CraftedTar(), "escape", outside.toString())),
                frame(new CraftedTar().header("escape/".getBytes(StandardCharsets.UTF_8), '5', 0, 0755, new byte[0])
                        .file("escape/inside.txt", "inside\n").end())));
        var outsideBefore = Fixtures.snapshot(outside, true);

        Fetch.restore(store, object, folder, meter());

        assertTrue(Files.isDirectory(folder.resolve("escape"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertEquals("inside\n", Files.readString(folder.resolve("escape/inside.txt")));
        assertEquals(outsideBefore, Fixtures.snapshot(outside, true));
    }

    /** Each group of the first case is harmless alone: it is their sum the restore must see. */
    @Test
    void eachGroupOfTheEscapeRestoresAlone() throws Exception {
        var object = entry("first", List.of(frame(symlink(new CraftedTar(), "escape", outside.toString()))));
        Fetch.restore(store, object, tmp.resolve("alone-1"), meter());
        assertTrue(Files.isSymbolicLink(tmp.resolve("alone-1/escape")));
        var second = entry("second", List.of(frame(new CraftedTar().file("escape/pwned.txt", "escaped\n").end())));
        Fetch.restore(store, second, tmp.resolve("alone-2"), meter());
        assertTrue(Files.isRegularFile(tmp.resolve("alone-2/escape/pwned.txt")));
        assertFalse(Files.exists(outside.resolve("pwned.txt")));
    }

    // -- A group changed in the store after its entry was committed.

    private static byte[] randomBytes(int size, long seed) {
        var random = new SplittableRandom(seed);
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) random.nextInt(256);
        }
        return bytes;
    }

    /** Three groups of incompressible files (zstd keeps them as raw blocks), the second's middle byte flipped in the file. */
    private Store.StoredObject entryWithAFlippedByte(Function<byte[], byte[]> compress) throws IOException {
        var frames = new ArrayList<Frame>();
        for (int i = 0; i < 3; i++) {
            byte[] tar = new CraftedTar().header("g" + i + "/data.bin", '0', 60_000).data(randomBytes(60_000, i)).end();
            frames.add(new Frame(tar, compress.apply(tar)));
        }
        var object = entry("changed", frames);
        var groups = store.groups(object).orElseThrow();
        assertEquals(3, groups.groups().size());
        Store.StoredGroup second = groups.groups().get(1);
        try (var file = new RandomAccessFile(tmp.resolve("store/changed").toFile(), "rw")) {
            long at = second.offset() + second.group().size() / 2;
            file.seek(at);
            int b = file.read();
            file.seek(at);
            file.write(b ^ 0x20);
        }
        // The index, and the digest recorded for it, are untouched: the entry is found and its groups read.
        var found = store.find("changed").orElseThrow();
        assertEquals(groups, store.groups(found).orElseThrow());
        return found;
    }

    /** A frame whose decompressor cannot tell: the group's digest in the index is all that refuses it. */
    @Test
    void aGroupChangedInTheStoreIsRefusedByItsDigest() throws Exception {
        var object = entryWithAFlippedByte(tar -> {
            try {
                return zstdWithoutChecksum(tar);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });

        IOException refusal = refused(object);

        assertTrue(refusal instanceof Meter.DigestMismatch, refusal.toString());
        assertFalse(Files.exists(folder.resolve("g0")), "the group before the changed one is not placed either");
    }

    /** The frames Upload writes carry zstd's checksum as well: the changed group is refused, by one check or the other. */
    @Test
    void aGroupOfUploadsFramingChangedInTheStoreIsRefused() throws Exception {
        var object = entryWithAFlippedByte(tar -> {
            try {
                return zstd(tar);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });

        IOException refusal = refused(object);

        assertTrue(refusal instanceof Meter.DigestMismatch || String.valueOf(refusal.getMessage()).contains("corrupt"),
                refusal.toString());
    }

    /** The control of the test above: the same entry, its bytes unchanged, restores. */
    @Test
    void theSameEntryUnchangedRestores() throws Exception {
        var frames = new ArrayList<Frame>();
        for (int i = 0; i < 3; i++) {
            byte[] tar = new CraftedTar().header("g" + i + "/data.bin", '0', 60_000).data(randomBytes(60_000, i)).end();
            frames.add(new Frame(tar, zstdWithoutChecksum(tar)));
        }
        Fetch.restore(store, entry("unchanged", frames), folder, meter());
        for (int i = 0; i < 3; i++) {
            assertEquals(60_000, Files.size(folder.resolve("g" + i + "/data.bin")));
        }
    }

    // -- An index that does not cover its frames exactly, each once.

    /** An index frame as FramedObject writes one: a zstd skippable frame of the lines, then the footer. */
    private static byte[] index(List<Store.StoredGroup> groups) {
        var text = new StringBuilder("tekton-caches groups 1\nlevel 0\n");
        for (Store.StoredGroup stored : groups) {
            Store.Group g = stored.group();
            text.append(stored.offset()).append(' ').append(g.size()).append(' ').append(g.sha256()).append(' ')
                    .append(g.tarBytes()).append(' ').append(g.diffId()).append('\n');
        }
        byte[] body = text.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] footer = (String.format("%010d", body.length) + "TKCINDEX").getBytes(StandardCharsets.US_ASCII);
        int length = body.length + footer.length;
        var frame = new ByteArrayOutputStream();
        frame.writeBytes(new byte[] {0x5E, 0x2A, 0x4D, 0x18, (byte) length, (byte) (length >> 8), (byte) (length >> 16),
            (byte) (length >> 24)});
        frame.writeBytes(body);
        frame.writeBytes(footer);
        return frame.toByteArray();
    }

    /**
     * Writes the bytes, then the index of these groups, as an object of the store whose recorded
     * digest is the index's: everything checks out but the offsets.
     */
    private Store.StoredObject craftedEntry(String name, byte[] frames, List<Store.StoredGroup> groups) throws IOException {
        byte[] index = index(groups);
        try (Store.PendingWrite write = store.create(name)) {
            write.stream().write(frames);
            write.stream().write(index);
            assertTrue(write.commit(new Store.Contents(sha256(index), frames.length + index.length, Compression.ZSTD),
                    new Store.Description(name, Instant.now(), 0, null, 2, null)));
        }
        return store.find(name).orElseThrow();
    }

    private static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private Frame one;
    private Frame two;

    private void twoFrames() throws IOException {
        one = frame(new CraftedTar().file("one.txt", "first group\n").end());
        two = frame(new CraftedTar().file("two.txt", "second group\n").end());
    }

    /**
     * The control: the two frames, their index in order, restore. The offsets are what the cases
     * below get wrong; read in order from the start, their frames would restore as well as these.
     */
    @Test
    void anIndexThatCoversItsFramesExactlyRestores() throws Exception {
        twoFrames();
        var object = craftedEntry("exact", concat(one.compressed(), two.compressed()), List.of(
                new Store.StoredGroup(one.group(), 0), new Store.StoredGroup(two.group(), one.compressed().length)));
        Fetch.restore(store, object, folder, meter());
        assertEquals("second group\n", Files.readString(folder.resolve("two.txt")));
    }

    @Test
    void anIndexThatLeavesAGapBetweenFramesIsRefused() throws Exception {
        twoFrames();
        // Ten stray bytes after the frames; the index puts them between the two.
        var object = craftedEntry("gap", concat(one.compressed(), two.compressed(), new byte[10]), List.of(
                new Store.StoredGroup(one.group(), 0), new Store.StoredGroup(two.group(), one.compressed().length + 10)));

        IOException refusal = refused(object);

        assertTrue(refusal.getMessage().contains("index"), refusal.toString());
        assertFalse(refusal instanceof Meter.DigestMismatch, "refused for its offsets, before any group is read: " + refusal);
    }

    @Test
    void anIndexWhoseGroupsOverlapIsRefused() throws Exception {
        twoFrames();
        var object = craftedEntry("overlap", concat(one.compressed(), two.compressed()), List.of(
                new Store.StoredGroup(one.group(), 0), new Store.StoredGroup(two.group(), one.compressed().length - 5)));

        IOException refusal = refused(object);

        assertTrue(refusal.getMessage().contains("index"), refusal.toString());
        assertFalse(refusal instanceof Meter.DigestMismatch, "refused for its offsets, before any group is read: " + refusal);
    }

    @Test
    void anIndexThatListsAGroupTwiceIsRefused() throws Exception {
        twoFrames();
        var object = craftedEntry("twice", concat(one.compressed(), two.compressed()), List.of(
                new Store.StoredGroup(one.group(), 0), new Store.StoredGroup(one.group(), 0),
                new Store.StoredGroup(two.group(), one.compressed().length)));

        IOException refusal = refused(object);

        assertTrue(refusal.getMessage().contains("index"), refusal.toString());
    }

    @Test
    void anIndexThatLeavesBytesBeforeItToNoGroupIsRefused() throws Exception {
        twoFrames();
        var object = craftedEntry("trailing", concat(one.compressed(), two.compressed(), new byte[10]), List.of(
                new Store.StoredGroup(one.group(), 0), new Store.StoredGroup(two.group(), one.compressed().length)));

        IOException refusal = refused(object);

        assertTrue(refusal.getMessage().contains("index"), refusal.toString());
    }
}

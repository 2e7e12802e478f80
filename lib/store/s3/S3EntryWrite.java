package lib.store.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import lib.archive.Compression;
import lib.common.Digests;
import lib.store.EntrySigner;
import lib.store.FramedObject;
import lib.store.SignableEntry;
import lib.store.Store;

/**
 * An entry of groups in S3 (the FramedObject layout) that takes its base's unchanged groups by
 * copying their byte ranges on the server (UploadPartCopy, pinned to the base's ETag), so that only
 * the changed groups travel. S3 wants every part but the last to be 5 MiB at least, so the object
 * is assembled as: the runs of reused groups that lie one after the other in the base, each a copied
 * part of 5 MiB or more; then the parts that the changed groups were streamed into, with the index
 * (S3MultipartUpload in place). The index, not the order of frames, says where each group is.
 * A run shorter than 5 MiB cannot be a part of its own: its bytes are read from the base and
 * streamed with the changed groups (they travel, and count as sent).
 *
 * <p>The base is checked with a HEAD when its first group is reused; one deleted or replaced later,
 * before the commit, makes the copy fail (412 or 404), and the commit with Store.BaseGone, leaving
 * the key as it was: the groups it would have given are no longer at hand to send instead, so
 * cache-upload writes the entry again without a base. A signature (signWith) goes into the index, the
 * last part's end, as FramedObject writes it.
 */
final class S3EntryWrite implements Store.EntryWrite, SignableEntry {

    /** S3's least part, but for the last. */
    static final long LEAST_PART = 5L << 20;

    private final S3Store store;
    private final String key;
    private final S3MultipartUpload upload;
    private final Compression compression;
    /** The groups in walk order, each where it is for now: in a run of the base, or in the streamed bytes. */
    private final List<Placed> groups = new ArrayList<>();
    private final List<Run> runs = new ArrayList<>();
    private Run open;
    private long streamed;
    private String checkedBase;
    private int groupsSent;
    private long bytesSent;
    private int groupsReused;
    private long bytesReused;
    private EntrySigner signer;

    private static final class Placed {
        final Store.Group group;
        Run run; // null: in the streamed bytes
        long offset; // in its run, or in the streamed bytes

        Placed(Store.Group group, Run run, long offset) {
            this.group = group;
            this.run = run;
            this.offset = offset;
        }
    }

    /** Groups that lie one after the other in the base, copied as one range. */
    private static final class Run {
        final Store.StoredObject base;
        final long start;
        long length;
        final List<Placed> members = new ArrayList<>();
        long offset; // in the entry, once placed

        Run(Store.StoredObject base, long start) {
            this.base = base;
            this.start = start;
        }
    }

    S3EntryWrite(S3Store store, String key, S3MultipartUpload upload, Compression compression) {
        this.store = store;
        this.key = key;
        this.upload = upload;
        this.compression = compression;
    }

    @Override
    public OutputStream beginGroup() throws IOException {
        closeRun();
        return upload.stream();
    }

    @Override
    public void endGroup(Store.Group group) {
        groups.add(new Placed(group, null, streamed));
        streamed += group.size();
        groupsSent++;
        bytesSent += group.size();
    }

    @Override
    public boolean reuse(Store.StoredObject base, Store.StoredGroup group) throws IOException {
        if (!baseIsThere(base)) {
            return false;
        }
        if (open == null || open.base != base || open.start + open.length != group.offset()) {
            closeRun();
            open = new Run(base, group.offset());
        }
        var placed = new Placed(group.group(), open, open.length);
        open.members.add(placed);
        open.length += group.group().size();
        groups.add(placed);
        return true;
    }

    /** Whether the base is still at its path as it was found: one HEAD, at its first reused group. */
    private boolean baseIsThere(Store.StoredObject base) throws IOException {
        String seen = base.path() + "@" + base.version();
        if (!seen.equals(checkedBase)) {
            var now = store.find(base.path());
            if (now.isEmpty() || !now.get().version().equals(base.version())) {
                return false;
            }
            checkedBase = seen;
        }
        return true;
    }

    /** Ends the run being extended: a copied part when it is big enough, else its bytes are streamed. */
    private void closeRun() throws IOException {
        Run run = open;
        open = null;
        if (run == null) {
            return;
        }
        if (run.length >= LEAST_PART) {
            runs.add(run);
            groupsReused += run.members.size();
            bytesReused += run.length;
            return;
        }
        try (InputStream in = store.openRange(run.base, run.start, run.length)) {
            long copied = in.transferTo(upload.stream());
            if (copied != run.length) {
                throw new IOException(run.base.path() + " gave " + copied + " bytes of a " + run.length + "-byte range of its groups");
            }
        }
        for (Placed placed : run.members) {
            placed.run = null;
            placed.offset += streamed;
        }
        streamed += run.length;
        groupsSent += run.members.size();
        bytesSent += run.length;
    }

    @Override
    public boolean commit(Store.Description description, int level) throws IOException {
        closeRun();
        long copied = 0;
        var sources = new ArrayList<S3MultipartUpload.Source>();
        for (Run run : runs) {
            run.offset = copied;
            copied += run.length;
            sources.add(new S3MultipartUpload.Source(run.base.path(), run.base.version(), run.start, run.length));
        }
        var index = new ArrayList<Store.StoredGroup>();
        for (Placed placed : groups) {
            index.add(new Store.StoredGroup(placed.group, placed.run == null ? copied + placed.offset : placed.run.offset + placed.offset));
        }
        byte[] frame = FramedObject.frame(compression, level, index, key, signer);
        upload.stream().write(frame);
        bytesSent += frame.length;
        var contents = new Store.Contents(Digests.hex(Digests.sha256().digest(frame)), copied + streamed + frame.length, compression);
        return upload.commitAfter(sources, contents);
    }

    @Override
    public void signWith(EntrySigner signer) {
        this.signer = signer;
    }

    @Override
    public Store.Sent sent() {
        return new Store.Sent(groupsSent, bytesSent, groupsReused, bytesReused);
    }

    @Override
    public void close() {
        upload.close();
    }
}

package lib.store;

/**
 * The mark in the name of an upload's temporary file or object, which commit turns into the entry:
 * .upload-NAME-RANDOM beside a file, NAME.upload-RANDOM in a bucket. Lookups and lists pass such
 * names over; tests look for them to see that nothing temporary stays.
 */
public final class TemporaryName {

    public static final String MARKER = ".upload-";

    private TemporaryName() {}
}

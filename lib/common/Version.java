package lib.common;

/** The tools' version, shown by --version and recorded with what they upload. */
public final class Version {

    public static final String NUMBER = "0.1.0";

    private Version() {}
}

package lib.common;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Takes the secrets users write into URIs out of what we print: the user info of a URI
 * (oci://user:pw@host, an S3 endpoint=http://id:secret@host) and the values of parameters named
 * like a secret (an Azure SAS's sig=, X-Amz-Signature=, X-Amz-Credential=, a connection string's
 * AccountKey=, token=, password=). Messages quote --source, --target and BLOB_QUERY_PARAMS, and the
 * SDKs' exceptions quote their URLs, so every line bound for stderr passes through {@link #stream}.
 */
public final class Redaction {

    public static final String HIDDEN = "REDACTED";

    // Up to the last '@' before the path: a password may hold an '@' its writer forgot to escape.
    private static final Pattern USER_INFO = Pattern.compile("(?i)([a-z][a-z0-9+.-]*://)[^/\\s?#]*@");
    // The same inside a parameter's value, escaped: endpoint=http%3A%2F%2Fid%3Asecret%40host.
    private static final Pattern ESCAPED_USER_INFO = Pattern.compile("(?i)([a-z][a-z0-9+.-]*%3A%2F%2F)(?:(?!%2F)[^/\\s?#&])*%40");
    // A name holding one of these words, then '=' and a value that runs to the next separator;
    // base64 values keep their '/', '+' and '=' (AccountKey=abc/d+e==;).
    private static final Pattern SECRET_PARAMETER = Pattern.compile(
            "(?i)(?<![a-z0-9_.-])([a-z0-9_.-]*(?:sig|signature|token|key|secret|password|passwd|pwd|credential)[a-z0-9_.-]*=)"
                    + "[^&;\\s'\"#,)}\\]]+");

    private Redaction() {}

    /** The text with user info and secret parameter values replaced by REDACTED. */
    public static String redact(String text) {
        if (text == null) {
            return null;
        }
        String redacted = USER_INFO.matcher(text).replaceAll("$1" + HIDDEN + "@");
        redacted = ESCAPED_USER_INFO.matcher(redacted).replaceAll("$1" + HIDDEN + "%40");
        return SECRET_PARAMETER.matcher(redacted).replaceAll("$1" + HIDDEN);
    }

    /**
     * A stream that prints each line redacted to out: whatever reaches it, a message, a log line
     * or the frames and causes of a stack trace, is redacted before out sees it. A line is held
     * until its end, so a secret written in two pieces is still seen whole.
     */
    public static PrintStream stream(PrintStream out) {
        return new PrintStream(new Lines(out), true, StandardCharsets.UTF_8);
    }

    /** Bytes (UTF-8, from the PrintStream around it) gathered into lines, each printed redacted. */
    private static final class Lines extends OutputStream {
        private final PrintStream out;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Lines(PrintStream out) {
            this.out = out;
        }

        @Override
        public synchronized void write(int b) {
            line.write(b);
            if (b == '\n' || b == '\r') {
                emit();
            }
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                write(bytes[i]);
            }
        }

        /** Passes on what is complete; a partial line waits for its end (or close). */
        @Override
        public synchronized void flush() {
            out.flush();
        }

        @Override
        public synchronized void close() {
            emit();
            out.flush();
        }

        private void emit() {
            if (line.size() > 0) {
                // Printed as text, so that out encodes it as it always has.
                out.print(redact(line.toString(StandardCharsets.UTF_8)));
                line.reset();
            }
        }
    }
}

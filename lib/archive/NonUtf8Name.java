package lib.archive;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A file name whose bytes are not UTF-8 ("caf\xe9.txt", as Latin-1 names of old archives are). Java
 * shows such a name with U+FFFD in place of each bad byte, so the string names another file (or
 * none); a tar entry holds the name as UTF-8, and a restore refuses what is not (docs/restore.md).
 * A save therefore leaves such a name out, and says so with its bytes escaped.
 */
final class NonUtf8Name {

    private NonUtf8Name() {}

    /** Whether the file's own name (the last part of path) is not UTF-8: its string does not give back its bytes. */
    static boolean is(Path path, String name) {
        Path own = path.getFileName();
        return name.indexOf('\uFFFD') >= 0 && !own.equals(own.getFileSystem().getPath(own.toString()));
    }

    /** The name of the file, its UTF-8 as it is, a byte that is not as \xNN (controls too, so it stays one line). */
    static String escaped(Path path) {
        // toUri percent-escapes the path's raw bytes: the only public way to them.
        String raw = path.toAbsolutePath().toUri().getRawPath();
        raw = raw.endsWith("/") ? raw.substring(0, raw.length() - 1) : raw;
        raw = raw.substring(raw.lastIndexOf('/') + 1);
        var bytes = new ByteArrayOutputStream();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                bytes.write(Integer.parseInt(raw.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        return escape(ByteBuffer.wrap(bytes.toByteArray()));
    }

    private static String escape(ByteBuffer in) {
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer chars = CharBuffer.allocate(in.remaining());
        var text = new StringBuilder();
        while (true) {
            CoderResult result = utf8.decode(in, chars, true);
            for (char c : chars.flip().toString().toCharArray()) {
                if (c < 0x20 || c == 0x7f) {
                    text.append(String.format("\\x%02x", (int) c));
                } else {
                    text.append(c == '\\' ? "\\\\" : String.valueOf(c));
                }
            }
            chars.clear();
            if (!result.isError()) {
                return text.toString();
            }
            for (int i = 0; i < result.length(); i++) {
                text.append(String.format("\\x%02x", in.get() & 0xff));
            }
        }
    }
}

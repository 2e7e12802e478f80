package lib.trust;

/**
 * What a store holds as a signature or a signed payload is not one: malformed, another format, too
 * large. The entry it comes with is untrusted, as if unsigned. The message says what is wrong and
 * never quotes the bytes, which anyone who can write to the store chose.
 */
public final class BadSignature extends Exception {
    public BadSignature(String message) {
        super(message);
    }
}

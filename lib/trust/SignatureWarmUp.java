package lib.trust;

import java.util.Base64;
import java.util.List;
import lib.common.DaemonThreads;
import lib.common.Environment;

/**
 * The JDK's ECDSA code loaded on a daemon thread from the command's first instant, when its line
 * names a key: the provider list, SunEC and its field arithmetic take some 50 ms of a first use,
 * which the option parsing (about as long) and the key computation then hide. The keys themselves
 * are read later, as their options say (VerifyKey, SigningKey); only the JDK is warmed here.
 */
public final class SignatureWarmUp {

    /** A P-256 public key of no one's, made once with openssl: what the verification that fails runs on. */
    private static final String P256 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVoDJWFyZcNPrBzuZQ42UzSawyt5x0yAn0DPb04HgHghV0VZe"
            + "/W2MVkVD5ZMbYlncWtQGfNESgiN8li302L3Byg==";

    private SignatureWarmUp() {}

    /** Starts the warm-up when args name --sign-key or --verify-key, or the StepAction gave PARAM_SIGN_KEY. */
    public static void startIfKeyed(String[] args, Environment env) {
        String signKey = env.get("PARAM_SIGN_KEY");
        boolean keyed = signKey != null && !signKey.isBlank() || List.of(args).stream()
                .anyMatch(arg -> arg.startsWith("--sign-key") || arg.startsWith("--verify-key"));
        if (keyed) {
            DaemonThreads.named("signature-warm-up").newThread(SignatureWarmUp::run).start();
        }
    }

    private static void run() {
        try {
            VerifyKey.of(Base64.getDecoder().decode(P256)).warmUp();
        } catch (Exception | LinkageError e) {
            // Only time is at stake: the key's own reading says what is wrong, if anything.
        }
    }
}

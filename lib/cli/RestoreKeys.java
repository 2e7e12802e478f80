package lib.cli;

import java.util.ArrayList;
import java.util.List;
import lib.common.Environment;
import lib.common.UsageError;
import lib.key.KeyTemplate;
import lib.store.StoreUri;

/** --restore-key, as cache-fetch and cache-upload read it: prefixes of an entry's name in the store's folder. */
final class RestoreKeys {

    private RestoreKeys() {}

    /** The restore keys as prefixes of an entry's name, placeholders expanded; checked before any store is touched. */
    static List<String> prefixes(List<String> restoreKeys, StoreUri uri, String option, String hash, Environment environment) {
        var prefixes = new ArrayList<String>();
        for (String restoreKey : restoreKeys) {
            String prefix = KeyTemplate.expand(restoreKey.strip(), hash, environment);
            if (prefix.isEmpty()) {
                throw new UsageError("--restore-key is empty; give the start of a key, such as maven-{{os}}-");
            }
            if (prefix.contains("/") || prefix.contains("?")) {
                throw new UsageError("--restore-key '" + restoreKey + "' holds '/' or '?'; it is the start of an entry's name"
                        + " within the folder " + option + " names");
            }
            prefixes.add(prefix);
        }
        if (!prefixes.isEmpty() && !uri.nameTemplate().contains(StoreUri.HASH)) {
            throw new UsageError("--restore-key needs {{hash}} in the last segment of " + option + " (e.g. .../maven-{{hash}}),"
                    + " not in '" + uri.template() + "'");
        }
        return prefixes;
    }
}

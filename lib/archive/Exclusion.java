package lib.archive;

/**
 * What --exclude leaves out of a save and a restore: names relative to the folder, a folder's
 * without its '/'. A folder left out takes everything below it, even a name a later "!" would
 * take back (as .gitignore has it).
 */
public interface Exclusion {

    Exclusion NONE = name -> false;

    /** Whether this name is left out: all a walk asks, as it does not enter a folder left out. */
    boolean excludes(String name);

    /** Whether this name or a folder above it is left out: what a restore asks, reading names one by one. */
    default boolean excludesOrIsInside(String name) {
        if (this == NONE) {
            return false;
        }
        for (int slash = name.indexOf('/'); slash > 0; slash = name.indexOf('/', slash + 1)) {
            if (excludes(name.substring(0, slash))) {
                return true;
            }
        }
        return excludes(name);
    }
}

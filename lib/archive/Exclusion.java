package lib.archive;

/**
 * What --exclude leaves out of a save and a restore: names relative to the folder, a folder's
 * without its '/'. A folder left out takes everything below it.
 */
public interface Exclusion {

    Exclusion NONE = name -> false;

    boolean excludes(String name);
}

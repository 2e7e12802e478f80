/*
 * casefold: a case-insensitive FUSE file system over a backing folder, for tests that must see
 * what a restore does on macOS, on SMB/CIFS (Azure Files volumes) or on casefold ext4, none of
 * which a Linux test machine may have.
 *
 *     casefold BACKING MOUNTPOINT [FUSE OPTIONS]      e.g. casefold /tmp/b /tmp/m -f -s
 *
 * Like ciopfs, every path is folded to lower case (UTF-8 with towlower, ASCII when a name is no
 * valid UTF-8) before it reaches the backing folder, so "X" and "x" name one entry and a listing
 * shows names as folded: case-insensitive, not case-preserving. Symlink targets are stored as
 * written; the kernel resolves them in the caller's namespace, as it would on a real volume.
 * The backing folder should be empty or written only through the mount: a name with capitals
 * put there directly cannot be reached. A file unlinked while open can still be read and written
 * through its descriptor, but not stat'ed: libfuse's high-level API answers a stat by name.
 *
 * It is libfuse's example/passthrough.c with paths made relative to a descriptor of the backing
 * folder (so that no operation depends on the daemon's working directory) and only the
 * operations that a restore, `rm -rf` and their tests use.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

/* The backing folder, opened once: every path below is relative to it. */
static int backing = -1;

/* Whether the C.UTF-8 locale loaded, so that mbstowcs and towlower know UTF-8. */
static int utf8;

/*
 * The backing path of a FUSE path ("/Dir/Name" -> "dir/name", "/" -> "."), which the caller
 * frees; NULL with errno set on failure. libfuse passes no path to calls on an open handle
 * (nullpath_ok), and those use the handle: a NULL here is a path libfuse no longer has.
 */
static char *fold(const char *path)
{
    if (path == NULL) {
        errno = ENOENT;
        return NULL;
    }
    while (*path == '/')
        path++;
    if (*path == '\0')
        return strdup(".");

    size_t length = utf8 ? mbstowcs(NULL, path, 0) : (size_t)-1;
    if (length != (size_t)-1) {
        wchar_t *wide = calloc(length + 1, sizeof *wide);
        if (wide == NULL)
            return NULL;
        mbstowcs(wide, path, length + 1);
        for (size_t i = 0; i < length; i++)
            wide[i] = towlower(wide[i]);
        /* A lower-case letter may take more UTF-8 bytes than its capital (U+023A -> U+2C65). */
        size_t size = wcstombs(NULL, wide, 0);
        char *folded = size == (size_t)-1 ? NULL : malloc(size + 1);
        if (folded != NULL)
            wcstombs(folded, wide, size + 1);
        free(wide);
        if (size == (size_t)-1)
            errno = EILSEQ;
        return folded;
    }

    char *folded = strdup(path);
    if (folded == NULL)
        return NULL;
    for (char *c = folded; *c != '\0'; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c += 'a' - 'A';
    return folded;
}

/* The FUSE answer to a system call's result (0 or -errno), freeing the folded path it used. */
static int answer(int result, char *folded)
{
    int error = result == -1 ? -errno : 0;
    free(folded);
    return error;
}

/*
 * The daemon runs as root so that it may mount, and so creates every entry as root; with
 * allow_other a caller may be someone else, whose entry it should be, as on any volume.
 */
static int own(char *folded, int fd)
{
    if (geteuid() != 0)
        return 0;
    struct fuse_context *caller = fuse_get_context();
    return fd >= 0 ? fchown(fd, caller->uid, caller->gid)
                   : fchownat(backing, folded, caller->uid, caller->gid, AT_SYMLINK_NOFOLLOW);
}

static void *cf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    /* st_ino from the backing folder: hard links share an inode and Java's fileKey sees it. */
    cfg->use_ino = 1;
    /*
     * No caching in the kernel: "X" and "x" are two dentries there but one entry here, so a
     * cached answer for one goes stale when the other changes; and after an unlink the kernel
     * cannot know which inode lost a link, so a cached st_nlink of its other names would be wrong.
     */
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    /*
     * Unlink at once even while a file is open, as a real volume does: libfuse would otherwise
     * rename it to .fuse_hiddenNNN, which shows in listings and makes `rm -rf` fail on a folder
     * that looks empty. Calls on an open file or folder then come with no path, and use its handle.
     */
    cfg->hard_remove = 1;
    cfg->nullpath_ok = 1;
    return NULL;
}

static int cf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    if (fi != NULL)
        return fstat(fi->fh, st) == -1 ? -errno : 0;
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(fstatat(backing, folded, st, AT_SYMLINK_NOFOLLOW), folded);
}

/*
 * Never follows a symlink here, where an absolute target would name a path of the daemon's host:
 * the kernel resolves symlinks before it calls, in the caller's namespace. (With
 * default_permissions the kernel checks modes itself and does not call this at all.)
 */
static int cf_access(const char *path, int mask)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(faccessat(backing, folded, mask, AT_SYMLINK_NOFOLLOW), folded);
}

static int cf_readlink(const char *path, char *buf, size_t size)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    ssize_t length = readlinkat(backing, folded, buf, size - 1);
    if (length == -1)
        return answer(-1, folded);
    buf[length] = '\0';
    return answer(0, folded);
}

/* A listing is read from a handle that opendir keeps: with nullpath_ok, readdir gets no path. */
static int cf_opendir(const char *path, struct fuse_file_info *fi)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    int fd = openat(backing, folded, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return answer(-1, folded);
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return answer(-1, folded);
    }
    fi->fh = (uintptr_t)dir;
    return answer(0, folded);
}

static int cf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)path;
    (void)offset;
    (void)flags;
    DIR *dir = (DIR *)(uintptr_t)fi->fh;
    /*
     * Offset 0 for every entry: libfuse collects the whole listing in one call and pages it to
     * the kernel, calling again only when the caller starts over.
     */
    rewinddir(dir);
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        struct stat st = {.st_ino = entry->d_ino, .st_mode = DTTOIF(entry->d_type)};
        if (filler(buf, entry->d_name, &st, 0, 0))
            break;
    }
    return 0;
}

static int cf_releasedir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    closedir((DIR *)(uintptr_t)fi->fh);
    return 0;
}

static int cf_mknod(const char *path, mode_t mode, dev_t rdev)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    if (mknodat(backing, folded, mode, rdev) == -1)
        return answer(-1, folded);
    return answer(own(folded, -1), folded);
}

static int cf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    int fd = openat(backing, folded, fi->flags | O_CLOEXEC, mode);
    if (fd == -1)
        return answer(-1, folded);
    if (own(folded, fd) == -1) {
        int error = -errno;
        close(fd);
        free(folded);
        return error;
    }
    fi->fh = fd;
    return answer(0, folded);
}

static int cf_open(const char *path, struct fuse_file_info *fi)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    int fd = openat(backing, folded, fi->flags | O_CLOEXEC);
    if (fd == -1)
        return answer(-1, folded);
    fi->fh = fd;
    return answer(0, folded);
}

static int cf_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
    (void)path;
    ssize_t count = pread(fi->fh, buf, size, offset);
    return count == -1 ? -errno : (int)count;
}

static int cf_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
    (void)path;
    ssize_t count = pwrite(fi->fh, buf, size, offset);
    return count == -1 ? -errno : (int)count;
}

static int cf_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    close(fi->fh);
    return 0;
}

static int cf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    int result = datasync ? fdatasync(fi->fh) : fsync(fi->fh);
    return result == -1 ? -errno : 0;
}

static int cf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (fi != NULL)
        return ftruncate(fi->fh, size) == -1 ? -errno : 0;
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    /* There is no truncateat. */
    int fd = openat(backing, folded, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
        return answer(-1, folded);
    int result = ftruncate(fd, size);
    int error = result == -1 ? -errno : 0;
    close(fd);
    free(folded);
    return error;
}

static int cf_mkdir(const char *path, mode_t mode)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    if (mkdirat(backing, folded, mode) == -1)
        return answer(-1, folded);
    return answer(own(folded, -1), folded);
}

static int cf_unlink(const char *path)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(unlinkat(backing, folded, 0), folded);
}

static int cf_rmdir(const char *path)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(unlinkat(backing, folded, AT_REMOVEDIR), folded);
}

/* target is the link's content, kept as written; only the link's own name is folded. */
static int cf_symlink(const char *target, const char *path)
{
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    if (symlinkat(target, backing, folded) == -1)
        return answer(-1, folded);
    return answer(own(folded, -1), folded);
}

/*
 * Plain rename only: RENAME_NOREPLACE and RENAME_EXCHANGE are refused, as some volumes do,
 * rather than emulated with a check that could race.
 */
static int cf_rename(const char *from, const char *to, unsigned int flags)
{
    if (flags != 0)
        return -EINVAL;
    char *folded_from = fold(from);
    if (folded_from == NULL)
        return -errno;
    char *folded_to = fold(to);
    if (folded_to == NULL)
        return answer(-1, folded_from);
    int result = renameat(backing, folded_from, backing, folded_to);
    free(folded_from);
    return answer(result, folded_to);
}

static int cf_link(const char *from, const char *to)
{
    char *folded_from = fold(from);
    if (folded_from == NULL)
        return -errno;
    char *folded_to = fold(to);
    if (folded_to == NULL)
        return answer(-1, folded_from);
    int result = linkat(backing, folded_from, backing, folded_to, 0);
    free(folded_from);
    return answer(result, folded_to);
}

/* Linux cannot chmod a symlink, and the kernel never asks to: it resolves one first. */
static int cf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (fi != NULL)
        return fchmod(fi->fh, mode) == -1 ? -errno : 0;
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(fchmodat(backing, folded, mode, 0), folded);
}

static int cf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    if (fi != NULL)
        return fchown(fi->fh, uid, gid) == -1 ? -errno : 0;
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(fchownat(backing, folded, uid, gid, AT_SYMLINK_NOFOLLOW), folded);
}

/*
 * The times of the entry itself, a symlink's included (a restore sets them with NOFOLLOW);
 * UTIME_NOW and UTIME_OMIT pass through to utimensat.
 */
static int cf_utimens(const char *path, const struct timespec times[2], struct fuse_file_info *fi)
{
    if (fi != NULL)
        return futimens(fi->fh, times) == -1 ? -errno : 0;
    char *folded = fold(path);
    if (folded == NULL)
        return -errno;
    return answer(utimensat(backing, folded, times, AT_SYMLINK_NOFOLLOW), folded);
}

static int cf_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return fstatvfs(backing, st) == -1 ? -errno : 0;
}

static const struct fuse_operations operations = {
    .init = cf_init,
    .getattr = cf_getattr,
    .access = cf_access,
    .readlink = cf_readlink,
    .opendir = cf_opendir,
    .readdir = cf_readdir,
    .releasedir = cf_releasedir,
    .mknod = cf_mknod,
    .create = cf_create,
    .open = cf_open,
    .read = cf_read,
    .write = cf_write,
    .release = cf_release,
    .fsync = cf_fsync,
    .truncate = cf_truncate,
    .mkdir = cf_mkdir,
    .unlink = cf_unlink,
    .rmdir = cf_rmdir,
    .symlink = cf_symlink,
    .rename = cf_rename,
    .link = cf_link,
    .chmod = cf_chmod,
    .chown = cf_chown,
    .utimens = cf_utimens,
    .statfs = cf_statfs,
};

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BACKING MOUNTPOINT [FUSE OPTIONS]\n", argv[0]);
        return 2;
    }
    backing = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (backing == -1) {
        perror(argv[1]);
        return 1;
    }
    utf8 = setlocale(LC_CTYPE, "C.UTF-8") != NULL;
    /* The kernel has applied the caller's umask to the modes it sends; the daemon's must not cut more. */
    umask(0);

    /*
     * default_permissions: the kernel checks modes and owners as on any volume, since this
     * daemon, running as root, checks nothing. allow_other (root only: anyone else needs
     * user_allow_other in /etc/fuse.conf): a test may drop its privileges and be refused by modes.
     */
    char **args = calloc(argc + 2, sizeof *args);
    if (args == NULL)
        return 1;
    int count = 0;
    args[count++] = argv[0];
    for (int i = 2; i < argc; i++)
        args[count++] = argv[i];
    args[count++] = "-o";
    args[count++] = geteuid() == 0 ? "default_permissions,allow_other,fsname=casefold,subtype=casefold"
                                   : "default_permissions,fsname=casefold,subtype=casefold";
    int status = fuse_main(count, args, &operations, NULL);
    free(args);
    return status;
}

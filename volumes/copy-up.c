/* Copy-up: a new, empty volume mounted over a path that has content in the
 * image receives that content once, with owners, modes, timestamps, xattrs,
 * symlinks, hardlinks and device nodes.
 *
 * The image side is resolved with openat2(RESOLVE_IN_ROOT) and then walked
 * by names from readdir with O_NOFOLLOW, so nothing in the image (a symlink
 * to /etc, a '..' chain) can make berth read outside the image's root. The
 * volume side is opened without following symlinks and filled with
 * O_EXCL/O_NOFOLLOW creations relative to directory fds. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "volumes/volumes-internal.h"

struct link_seen {
    dev_t dev;
    ino_t ino;
    char *rel; /* path of the first copy, relative to the volume's root */
};

struct copy_ctx {
    int dst_root; /* the volume's _data */
    struct link_seen *links;
    size_t n_links;
};

static void
copy_ctx_done(struct copy_ctx *c)
{
    for (size_t i = 0; i < c->n_links; i++)
        free(c->links[i].rel);
    free(c->links);
}

static const char *
fd_path(int fd, char buf[static 32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
    return buf;
}

/* Copies extended attributes. The fds may be O_PATH: they are then reached
 * through /proc/self/fd, which names the inode itself. */
static int
copy_xattrs(int sfd, int dfd, const char *rel, struct bt_err **err)
{
    char sp[32], dp[32];
    fd_path(sfd, sp);
    fd_path(dfd, dp);
    ssize_t n = listxattr(sp, NULL, 0);
    if (n < 0) {
        if (errno == ENOTSUP || errno == EOPNOTSUPP)
            return 0;
        return bt_err_errno(err, errno, "list xattrs of '%s'", rel);
    }
    if (n == 0)
        return 0;
    _cleanup_free_ char *names = xmalloc((size_t)n);
    n = listxattr(sp, names, (size_t)n);
    if (n < 0)
        return bt_err_errno(err, errno, "list xattrs of '%s'", rel);
    for (char *k = names; k < names + n; k += strlen(k) + 1) {
        /* overlayfs' own bookkeeping belongs to the image's layers. */
        if (bt_str_startswith(k, "trusted.overlay."))
            continue;
        ssize_t vn = getxattr(sp, k, NULL, 0);
        if (vn < 0)
            return bt_err_errno(err, errno, "read xattr %s of '%s'", k, rel);
        _cleanup_free_ char *val = xmalloc(vn ? (size_t)vn : 1);
        vn = getxattr(sp, k, val, (size_t)vn);
        if (vn < 0)
            return bt_err_errno(err, errno, "read xattr %s of '%s'", k, rel);
        if (setxattr(dp, k, val, (size_t)vn, 0) < 0) {
            if (errno == ENOTSUP || errno == EOPNOTSUPP) {
                bt_debug("copy-up: '%s': the volume's filesystem does not take xattr %s", rel, k);
                continue;
            }
            return bt_err_errno(err, errno, "write xattr %s of '%s'", k, rel);
        }
    }
    return 0;
}

/* Owner, mode, xattrs and times of sb onto dfd (any kind of fd). */
static int
copy_attrs(int sfd, int dfd, const struct stat *sb, const char *rel, struct bt_err **err)
{
    char dp[32];
    fd_path(dfd, dp);
    /* chown first: it clears set-id bits, which chmod then restores. */
    if (fchownat(dfd, "", sb->st_uid, sb->st_gid, AT_EMPTY_PATH) < 0)
        return bt_err_errno(err, errno, "chown '%s'", rel);
    if (chmod(dp, sb->st_mode & 07777) < 0)
        return bt_err_errno(err, errno, "chmod '%s'", rel);
    int r = copy_xattrs(sfd, dfd, rel, err);
    if (r < 0)
        return r;
    struct timespec times[2] = {sb->st_atim, sb->st_mtim};
    if (utimensat(AT_FDCWD, dp, times, 0) < 0)
        return bt_err_errno(err, errno, "set times of '%s'", rel);
    return 0;
}

static int
copy_data(int sfd, int dfd, const char *rel, struct bt_err **err)
{
    bool use_cfr = true;
    char buf[65536];
    for (;;) {
        ssize_t n;
        if (use_cfr) {
            n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);
            if (n < 0 &&
                (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                use_cfr = false;
                continue;
            }
        } else {
            n = read(sfd, buf, sizeof(buf));
            for (ssize_t off = 0; n > 0 && off < n;) {
                ssize_t w = write(dfd, buf + off, (size_t)(n - off));
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    return bt_err_errno(err, errno, "write '%s'", rel);
                }
                off += w;
            }
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bt_err_errno(err, errno, "copy '%s'", rel);
        }
        if (n == 0)
            return 0;
    }
}

static const struct link_seen *
link_find(const struct copy_ctx *c, const struct stat *sb)
{
    for (size_t i = 0; i < c->n_links; i++)
        if (c->links[i].dev == sb->st_dev && c->links[i].ino == sb->st_ino)
            return &c->links[i];
    return NULL;
}

static void
link_add(struct copy_ctx *c, const struct stat *sb, const char *rel)
{
    c->links = xreallocarray(c->links, c->n_links + 1, sizeof(*c->links));
    c->links[c->n_links++] = (struct link_seen){sb->st_dev, sb->st_ino, xstrdup(rel)};
}

static int copy_dir(struct copy_ctx *c, int sdir, int ddir, const char *rel, struct bt_err **err);

static int
copy_entry(struct copy_ctx *c, int sdir, int ddir, const char *name, const char *rel,
           struct bt_err **err)
{
    struct stat sb;
    if (fstatat(sdir, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return bt_err_errno(err, errno, "stat '%s' in the image", rel);

    if (!S_ISDIR(sb.st_mode) && sb.st_nlink > 1) {
        const struct link_seen *l = link_find(c, &sb);
        if (l) {
            _cleanup_close_ int first =
                bt_openat_in_root(c->dst_root, l->rel, O_PATH | O_NOFOLLOW, 0, err);
            if (first < 0)
                return first;
            /* AT_EMPTY_PATH on linkat needs CAP_DAC_READ_SEARCH, which
             * copy-up, run as root, has. */
            if (linkat(first, "", ddir, name, AT_EMPTY_PATH) < 0)
                return bt_err_errno(err, errno, "link '%s' to '%s'", rel, l->rel);
            return 0;
        }
    }

    switch (sb.st_mode & S_IFMT) {
    case S_IFDIR: {
        if (mkdirat(ddir, name, 0700) < 0)
            return bt_err_errno(err, errno, "mkdir '%s'", rel);
        _cleanup_close_ int s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0)
            return bt_err_errno(err, errno, "open '%s' in the image", rel);
        _cleanup_close_ int d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
            return bt_err_errno(err, errno, "open '%s'", rel);
        int r = copy_dir(c, s, d, rel, err);
        if (r < 0)
            return r;
        /* Last, so that the directory's times are not touched again. */
        return copy_attrs(s, d, &sb, rel, err);
    }
    case S_IFREG: {
        _cleanup_close_ int s = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0)
            return bt_err_errno(err, errno, "open '%s' in the image", rel);
        _cleanup_close_ int d =
            openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (d < 0)
            return bt_err_errno(err, errno, "create '%s'", rel);
        int r = copy_data(s, d, rel, err);
        if (r == 0)
            r = copy_attrs(s, d, &sb, rel, err);
        if (r == 0 && sb.st_nlink > 1)
            link_add(c, &sb, rel);
        return r;
    }
    case S_IFLNK: {
        char target[PATH_MAX];
        ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
        if (n < 0)
            return bt_err_errno(err, errno, "read link '%s' in the image", rel);
        target[n] = '\0';
        /* The link is copied as a link, never followed: where it points is
         * the container's business, inside the container. */
        if (symlinkat(target, ddir, name) < 0)
            return bt_err_errno(err, errno, "symlink '%s'", rel);
        if (fchownat(ddir, name, sb.st_uid, sb.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return bt_err_errno(err, errno, "chown '%s'", rel);
        struct timespec times[2] = {sb.st_atim, sb.st_mtim};
        if (utimensat(ddir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
            return bt_err_errno(err, errno, "set times of '%s'", rel);
        if (sb.st_nlink > 1)
            link_add(c, &sb, rel);
        return 0;
    }
    case S_IFCHR:
        /* A 0/0 character device is an overlayfs whiteout: nothing. */
        if (major(sb.st_rdev) == 0 && minor(sb.st_rdev) == 0)
            return 0;
        __attribute__((fallthrough));
    case S_IFBLK:
    case S_IFIFO: {
        if (mknodat(ddir, name, (sb.st_mode & S_IFMT) | 0600, sb.st_rdev) < 0)
            return bt_err_errno(err, errno, "mknod '%s'", rel);
        /* O_PATH: opening a device or fifo for real could block or act. */
        _cleanup_close_ int s = openat(sdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0)
            return bt_err_errno(err, errno, "open '%s' in the image", rel);
        _cleanup_close_ int d = openat(ddir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
            return bt_err_errno(err, errno, "open '%s'", rel);
        int r = copy_attrs(s, d, &sb, rel, err);
        if (r == 0 && sb.st_nlink > 1)
            link_add(c, &sb, rel);
        return r;
    }
    default:
        /* Sockets belong to a process that is not there: skipped, as cp does. */
        return 0;
    }
}

static int
copy_dir(struct copy_ctx *c, int sdir, int ddir, const char *rel, struct bt_err **err)
{
    int fd = openat(sdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s' in the image", rel);
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bt_err_errno(err, errno, "open '%s' in the image", rel);
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = *rel ? bt_path_join(rel, de->d_name) : xstrdup(de->d_name);
        int r = copy_entry(c, sdir, ddir, de->d_name, sub, err);
        if (r < 0)
            return r;
    }
    if (errno)
        return bt_err_errno(err, errno, "read '%s' in the image", rel);
    return 0;
}

static int
dir_is_empty(int dfd, struct bt_err **err)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open volume");
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bt_err_errno(err, errno, "open volume");
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            return 0;
    return 1;
}

/* Empties the volume again after a failed copy, so the next try starts clean. */
static void
empty_volume(const struct vol_volume *v, int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *p = bt_path_join(v->mountpoint, de->d_name);
        struct bt_err *e = NULL;
        if (bt_rm_rf(p, &e) < 0) {
            /* The copy error is reported; this leftover only makes the
             * volume look non-empty, which skips a later copy-up. */
            bt_debug("copy-up: clean '%s': %s", p, e->msg);
            bt_err_free(e);
        }
    }
}

int
vol_volume_copy_up(struct vol_store *st, const char *name, int image_rootfd, const char *path,
                   struct bt_err **err)
{
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r < 0)
        return r;
    if (r == 0)
        return bt_err_set(err, ENOENT, "no such volume: %s", name);
    if (v->copied_up)
        return 0;

    if (bt_strv_length(v->options) > 0) {
        /* Content written beneath a driver-options mount would be hidden
         * by it: the volume's mount has to be there first. */
        r = vol_data_is_mounted(st, name, err);
        if (r < 0)
            return r;
        if (r == 0)
            return bt_err_set(err, EINVAL,
                              "copy-up into volume '%s': it is not mounted (acquire it first)",
                              name);
    }
    _cleanup_close_ int dst = vol_data_open(st, name, O_RDONLY, err);
    if (dst < 0)
        return dst;
    r = dir_is_empty(dst, err);
    if (r < 0)
        return r;
    if (r == 0) {
        /* Content is there already (written by a container): the volume is
         * not new, so it never gets the image's content. */
        v->copied_up = true;
        return vol_meta_save(st, v, err);
    }

    struct bt_err *open_err = NULL;
    _cleanup_close_ int src =
        bt_openat_in_root(image_rootfd, path, O_RDONLY | O_DIRECTORY, 0, &open_err);
    if (src < 0) {
        int code = open_err->code;
        if (code == ENOENT || code == ENOTDIR) {
            /* Nothing in the image at that path: nothing to copy, and the
             * volume stays new for an image that has something. */
            bt_err_free(open_err);
            return 0;
        }
        bt_err_move(err, &open_err);
        bt_err_prefix(err, "copy-up into volume '%s'", name);
        return -code;
    }
    struct stat sb;
    if (fstat(src, &sb) < 0)
        return bt_err_errno(err, errno, "stat '%s' in the image", path);

    struct copy_ctx c = {.dst_root = dst};
    r = copy_dir(&c, src, dst, "", err);
    if (r == 0)
        r = copy_attrs(src, dst, &sb, ".", err);
    copy_ctx_done(&c);
    if (r == 0) {
        v->copied_up = true;
        r = vol_meta_save(st, v, err);
    }
    if (r < 0) {
        empty_volume(v, dst);
        bt_err_prefix(err, "copy-up of '%s' into volume '%s'", path, name);
        return r;
    }
    return 1;
}

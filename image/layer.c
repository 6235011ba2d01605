/* image: unpacking layer tarballs with libarchive.
 *
 * The compressed stream is decoded by one archive reader (format "raw",
 * every filter) whose output is hashed on its way into a second reader that
 * parses the tar, so the diff id is computed in the same pass that unpacks.
 *
 * Confinement: parents are resolved with openat2(RESOLVE_IN_ROOT) from the
 * layer root, the last component is always created with *at() calls that
 * do not follow it, names and hard link targets containing ".." are
 * refused, absolute names are taken relative to the root. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "image/image-internal.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct pipe_src {
    struct archive *outer;
    EVP_MD_CTX *md;
    int64_t size;
    char buf[128 * 1024];
    bool eof;
};

static la_ssize_t
pipe_read(struct archive *inner, void *data, const void **buf)
{
    struct pipe_src *p = data;
    if (p->eof)
        return 0;
    la_ssize_t n = archive_read_data(p->outer, p->buf, sizeof(p->buf));
    if (n < 0) {
        archive_set_error(inner, archive_errno(p->outer) ? archive_errno(p->outer) : EIO, "%s",
                          archive_error_string(p->outer) ? archive_error_string(p->outer)
                                                         : "decompression failed");
        return -1;
    }
    if (n == 0)
        p->eof = true;
    EVP_DigestUpdate(p->md, p->buf, (size_t)n);
    p->size += n;
    *buf = p->buf;
    return n;
}

struct dir_time {
    char *path;
    struct timespec ts[2];
};

struct unpack {
    int rootfd;
    int cached_fd; /* parent directory of the last regular file */
    char *cached_dir;
    struct dir_time *dirs;
    size_t ndirs;
    bool root_user;
};

static void
unpack_uncache(struct unpack *u)
{
    if (u->cached_fd >= 0)
        close(u->cached_fd);
    u->cached_fd = -1;
    free(u->cached_dir);
    u->cached_dir = NULL;
}

/* Cleans an entry name: leading '/' and "./" dropped (absolute names are
 * taken relative to the layer root), ".." refused. Returns NULL with *err
 * set when refused; "" is the root itself. */
static char *
clean_name(const char *name, const char *what, struct bt_err **err)
{
    if (!name)
        return bt_err_set(err, EINVAL, "%s without a name", what), NULL;
    _cleanup_strv_ char **parts = bt_strv_split(name, "/");
    char **keep = NULL;
    bt_strv_foreach (p, parts) {
        if (!*p || strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            bt_strv_free(keep);
            bt_err_set(err, EPERM, "%s '%s' leaves the layer root", what, name);
            return NULL;
        }
        keep = bt_strv_push(keep, p);
    }
    char *r = keep ? bt_strv_join(keep, "/") : xstrdup("");
    bt_strv_free(keep);
    return r;
}

/* Removes whatever is at parent/name (a tree for a directory). */
static int
remove_at(int parent, const char *name, struct bt_err **err)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR)
        return bt_err_errno(err, errno, "remove '%s'", name);
    _cleanup_free_ char *p = xasprintf("/proc/self/fd/%d/%s", parent, name);
    return bt_rm_rf(p, err);
}

static int
apply_xattrs(int fd, struct archive_entry *e, const char *path, struct bt_err **err)
{
    const char *key;
    const void *val;
    size_t len;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &val, &len) == ARCHIVE_OK) {
        /* overlayfs's own attributes would let a layer fake opaque dirs
         * or redirects; only whiteout conversion sets them. */
        if (bt_str_startswith(key, "trusted.overlay."))
            continue;
        if (fsetxattr(fd, key, val, len, 0) < 0) {
            if (errno == EOPNOTSUPP)
                continue;
            return bt_err_errno(err, errno, "'%s': set xattr '%s'", path, key);
        }
    }
    return 0;
}

static void
entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
}

static int
chown_checked(struct unpack *u, int dirfd, const char *name, uid_t uid, gid_t gid, int flags,
              const char *path, struct bt_err **err)
{
    if (fchownat(dirfd, name, uid, gid, flags) == 0)
        return 0;
    /* Without root the files keep the unpacking user's owner, as in
     * rootless unpacking; as root it is an error. */
    if (errno == EPERM && !u->root_user)
        return 0;
    return bt_err_errno(err, errno, "'%s': chown %u:%u", path, uid, gid);
}

/* Applies owner, mode, xattrs (and mtime unless a directory) to an open fd. */
static int
apply_meta_fd(struct unpack *u, int fd, struct archive_entry *e, const char *path, bool is_dir,
              struct bt_err **err)
{
    int r = chown_checked(u, fd, "", (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                          AT_EMPTY_PATH, path, err);
    if (r < 0)
        return r;
    /* chmod after chown: chown clears set-uid bits. */
    if (fchmod(fd, archive_entry_perm(e)) < 0)
        return bt_err_errno(err, errno, "'%s': chmod", path);
    r = apply_xattrs(fd, e, path, err);
    if (r < 0)
        return r;
    struct timespec ts[2];
    entry_times(e, ts);
    if (is_dir) {
        u->dirs = xreallocarray(u->dirs, u->ndirs + 1, sizeof(*u->dirs));
        u->dirs[u->ndirs].path = xstrdup(path);
        memcpy(u->dirs[u->ndirs].ts, ts, sizeof(ts));
        u->ndirs++;
        return 0;
    }
    if (futimens(fd, ts) < 0)
        return bt_err_errno(err, errno, "'%s': set times", path);
    return 0;
}

static int
write_data(struct archive *a, int fd, struct archive_entry *e, const char *path,
           struct bt_err **err)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    for (;;) {
        int r = archive_read_data_block(a, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return bt_err_set(err, EIO, "'%s': %s", path, archive_error_string(a));
        const char *p = buf;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return bt_err_errno(err, errno, "'%s': write", path);
            }
            p += n;
            size -= (size_t)n;
            off += n;
        }
    }
    /* A sparse file may end in a hole. */
    if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
        return bt_err_errno(err, errno, "'%s': truncate", path);
    return 0;
}

static int
unpack_whiteout(struct unpack *u, int parent, const char *dir, const char *base, const char *path,
                struct bt_err **err)
{
    if (strcmp(base, WH_OPAQUE) == 0) {
        _cleanup_close_ int dfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return bt_err_errno(err, errno, "'%s': open", dir);
        if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return bt_err_errno(err, errno, "'%s': mark opaque", *dir ? dir : "/");
        return 0;
    }
    const char *name = base + strlen(WH_PREFIX);
    /* Other .wh..wh. names are AUFS bookkeeping with no meaning here. */
    if (bt_str_startswith(name, WH_PREFIX))
        return 0;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return bt_err_set(err, EPERM, "whiteout '%s' names no file", path);
    int r = remove_at(parent, name, err);
    if (r < 0)
        return r;
    if (mknodat(parent, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return bt_err_errno(err, errno, "'%s': create whiteout", path);
    return 0;
}

static int
unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e, struct bt_err **err)
{
    _cleanup_free_ char *path = clean_name(archive_entry_pathname(e), "entry", err);
    if (!path)
        return bt_err_ret(err);
    if (!*path)
        return 0; /* the root directory itself keeps the store's metadata */
    _cleanup_free_ char *dir = bt_path_dirname(path);
    const char *base = bt_path_basename(path);
    if (strcmp(dir, ".") == 0) {
        free(dir);
        dir = xstrdup("");
    }
    /* Regular files following each other in one directory (the common
     * case: tar writers sort) reuse its fd; any entry that could change
     * a directory path drops it, so resolution stays confined. */
    mode_t etype = archive_entry_filetype(e);
    bool plain =
        etype == AE_IFREG && !archive_entry_hardlink(e) && !bt_str_startswith(base, WH_PREFIX);
    if (!plain || !u->cached_dir || strcmp(u->cached_dir, dir) != 0)
        unpack_uncache(u);
    int parent = u->cached_fd;
    _cleanup_close_ int parent_owned = -1;
    if (parent < 0) {
        parent_owned = bt_mkdirat_p_in_root(u->rootfd, *dir ? dir : "/", 0755, err);
        if (parent_owned < 0)
            return parent_owned;
        parent = parent_owned;
        if (plain) {
            u->cached_fd = TAKE_FD(parent_owned);
            u->cached_dir = xstrdup(dir);
        }
    }

    if (bt_str_startswith(base, WH_PREFIX))
        return unpack_whiteout(u, parent, dir, base, path, err);

    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    const char *hardlink = archive_entry_hardlink(e);
    if (hardlink) {
        _cleanup_free_ char *target = clean_name(hardlink, "hard link target", err);
        if (!target)
            return bt_err_ret(err);
        if (!*target)
            return bt_err_set(err, EPERM, "hard link '%s' points at the layer root", path);
        _cleanup_close_ int tfd = bt_openat_in_root(u->rootfd, target, O_PATH | O_NOFOLLOW, 0, err);
        if (tfd < 0) {
            bt_err_prefix(err, "hard link '%s'", path);
            return tfd;
        }
        struct stat st;
        if (fstat(tfd, &st) == 0 && S_ISDIR(st.st_mode))
            return bt_err_set(err, EPERM, "hard link '%s' points at directory '%s'", path, target);
        int r = remove_at(parent, base, err);
        if (r < 0)
            return r;
        if (linkat(tfd, "", parent, base, AT_EMPTY_PATH) < 0)
            return bt_err_errno(err, errno, "'%s': hard link to '%s'", path, target);
        return 0;
    }

    mode_t type = archive_entry_filetype(e);
    struct timespec ts[2];
    entry_times(e, ts);
    switch (type) {
    case AE_IFDIR: {
        if (mkdirat(parent, base, 0700) < 0) {
            if (errno != EEXIST)
                return bt_err_errno(err, errno, "'%s': mkdir", path);
            struct stat st;
            if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return bt_err_errno(err, errno, "'%s': stat", path);
            if (!S_ISDIR(st.st_mode)) {
                int r = remove_at(parent, base, err);
                if (r < 0)
                    return r;
                if (mkdirat(parent, base, 0700) < 0)
                    return bt_err_errno(err, errno, "'%s': mkdir", path);
            }
        }
        _cleanup_close_ int fd =
            openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return bt_err_errno(err, errno, "'%s': open", path);
        return apply_meta_fd(u, fd, e, path, true, err);
    }
    case AE_IFREG: {
        int r = remove_at(parent, base, err);
        if (r < 0)
            return r;
        _cleanup_close_ int fd =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return bt_err_errno(err, errno, "'%s': create", path);
        r = write_data(a, fd, e, path, err);
        if (r < 0)
            return r;
        return apply_meta_fd(u, fd, e, path, false, err);
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target)
            return bt_err_set(err, EINVAL, "symlink '%s' has no target", path);
        int r = remove_at(parent, base, err);
        if (r < 0)
            return r;
        /* The link is stored as written; whoever follows it later resolves
         * it inside the container's root. */
        if (symlinkat(target, parent, base) < 0)
            return bt_err_errno(err, errno, "'%s': symlink", path);
        r = chown_checked(u, parent, base, uid, gid, AT_SYMLINK_NOFOLLOW, path, err);
        if (r < 0)
            return r;
        if (utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return bt_err_errno(err, errno, "'%s': set times", path);
        return 0;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        int r = remove_at(parent, base, err);
        if (r < 0)
            return r;
        dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
        if (mknodat(parent, base, type | archive_entry_perm(e), dev) < 0)
            return bt_err_errno(err, errno, "'%s': mknod", path);
        r = chown_checked(u, parent, base, uid, gid, AT_SYMLINK_NOFOLLOW, path, err);
        if (r < 0)
            return r;
        if (fchmodat(parent, base, archive_entry_perm(e), 0) < 0)
            return bt_err_errno(err, errno, "'%s': chmod", path);
        if (utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return bt_err_errno(err, errno, "'%s': set times", path);
        return 0;
    }
    case AE_IFSOCK:
        return 0; /* sockets are not content; tar writers skip them too */
    default:
        return bt_err_set(err, EINVAL, "'%s': unknown file type 0%o", path, (unsigned)type);
    }
}

static int
set_dir_times(struct unpack *u, struct bt_err **err)
{
    /* Deepest first would not matter: only the directory's own times are
     * set, and nothing is written below it any more. */
    for (size_t i = 0; i < u->ndirs; i++) {
        _cleanup_close_ int fd = bt_openat_in_root(u->rootfd, u->dirs[i].path,
                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, NULL);
        if (fd < 0)
            continue; /* removed again by a later entry */
        if (futimens(fd, u->dirs[i].ts) < 0)
            return bt_err_errno(err, errno, "'%s': set times", u->dirs[i].path);
    }
    return 0;
}

char *
image_hex_digest(EVP_MD_CTX *md)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, sum, &n);
    char *s = xmalloc(7 + 2 * n + 1);
    memcpy(s, "sha256:", 7);
    for (unsigned int i = 0; i < n; i++)
        sprintf(s + 7 + 2 * i, "%02x", sum[i]);
    return s;
}

static void
archive_freep(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}

static void
md_freep(EVP_MD_CTX **m)
{
    if (*m)
        EVP_MD_CTX_free(*m);
}

static void
unpack_done(struct unpack *u)
{
    unpack_uncache(u);
    for (size_t i = 0; i < u->ndirs; i++)
        free(u->dirs[i].path);
    free(u->dirs);
}

int
image_layer_unpack(int fd, int rootfd, char **diff_id, int64_t *size, struct bt_err **err)
{
    _cleanup_(archive_freep) struct archive *outer = archive_read_new();
    _cleanup_(archive_freep) struct archive *inner = archive_read_new();
    _cleanup_(md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
    _cleanup_free_ struct pipe_src *src = xcalloc(1, sizeof(*src));
    if (!outer || !inner || !md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    archive_read_support_filter_all(outer);
    archive_read_support_format_raw(outer);
    if (archive_read_open_fd(outer, fd, 128 * 1024) != ARCHIVE_OK)
        return bt_err_set(err, EINVAL, "read layer: %s", archive_error_string(outer));
    struct archive_entry *e;
    if (archive_read_next_header(outer, &e) != ARCHIVE_OK)
        return bt_err_set(err, EINVAL, "read layer: %s", archive_error_string(outer));
    int filter = archive_filter_code(outer, 0);
    if (filter != ARCHIVE_FILTER_NONE && filter != ARCHIVE_FILTER_GZIP &&
        filter != ARCHIVE_FILTER_ZSTD)
        return bt_err_set(err, EINVAL, "read layer: unsupported compression '%s'",
                          archive_filter_name(outer, 0));

    src->outer = outer;
    src->md = md;
    archive_read_support_format_tar(inner);
    if (archive_read_open(inner, src, NULL, pipe_read, NULL) != ARCHIVE_OK)
        return bt_err_set(err, EINVAL, "read layer: %s", archive_error_string(inner));

    struct unpack u = {.rootfd = rootfd, .cached_fd = -1, .root_user = geteuid() == 0};
    int r = 0;
    for (;;) {
        int ar = archive_read_next_header(inner, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = bt_err_set(err, EINVAL, "read layer: %s", archive_error_string(inner));
            break;
        }
        r = unpack_entry(&u, inner, e, err);
        if (r < 0)
            break;
    }
    if (r == 0)
        r = set_dir_times(&u, err);
    unpack_done(&u);
    if (r < 0)
        return r;
    /* Hash what follows the end-of-archive marker too: the diff id covers
     * the whole uncompressed stream. */
    const void *buf;
    while (!src->eof) {
        if (pipe_read(inner, src, &buf) < 0)
            return bt_err_set(err, EIO, "read layer: %s", archive_error_string(inner));
    }
    if (size)
        *size = src->size;
    if (diff_id)
        *diff_id = image_hex_digest(md);
    return 0;
}

char *
image_chain_id(const char *parent_chain, const char *diff_id)
{
    if (!parent_chain)
        return xstrdup(diff_id);
    _cleanup_free_ char *s = xasprintf("%s %s", parent_chain, diff_id);
    return image_sha256_digest(s, strlen(s));
}

int
image_layer_digest(int fd, char **diff_id, int64_t *size, int *filter, struct bt_err **err)
{
    _cleanup_(archive_freep) struct archive *outer = archive_read_new();
    _cleanup_(md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!outer || !md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    archive_read_support_filter_all(outer);
    archive_read_support_format_raw(outer);
    struct archive_entry *e;
    if (archive_read_open_fd(outer, fd, 128 * 1024) != ARCHIVE_OK ||
        archive_read_next_header(outer, &e) != ARCHIVE_OK)
        return bt_err_set(err, EINVAL, "read layer: %s", archive_error_string(outer));
    if (filter)
        *filter = archive_filter_code(outer, 0);
    char buf[64 * 1024];
    int64_t total = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(outer, buf, sizeof(buf));
        if (n < 0)
            return bt_err_set(err, EIO, "read layer: %s", archive_error_string(outer));
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += n;
    }
    if (size)
        *size = total;
    if (diff_id)
        *diff_id = image_hex_digest(md);
    return 0;
}

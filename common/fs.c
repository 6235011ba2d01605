/* Filesystem helpers: whole-file reads, atomic writes, directory trees,
 * lexical path handling and resolution confined to a root directory. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/common.h"

char *
bt_file_read_all(const char *path, size_t *len, struct bt_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bt_err_errno(err, errno, "open '%s'", path);
        return NULL;
    }
    struct bt_buf b = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            bt_err_errno(err, errno, "read '%s'", path);
            bt_buf_done(&b);
            return NULL;
        }
        if (n == 0)
            break;
        bt_buf_append(&b, chunk, (size_t)n);
    }
    if (len)
        *len = b.len;
    return bt_buf_steal(&b);
}

static int
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
bt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                     struct bt_err **err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return bt_err_errno(err, errno, "create '%s'", tmp);
    int r = write_all(fd, data, len);
    if (r == 0 && fchmod(fd, mode) < 0)
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return bt_err_errno(err, -r, "write '%s'", path);
    }
    return 0;
}

int
bt_mkdir_p(const char *path, mode_t mode, struct bt_err **err)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bt_err_errno(err, errno, "mkdir '%s'", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return bt_err_errno(err, errno, "mkdir '%s'", p);
    return 0;
}

static int
rm_rf_at(int atfd, const char *name, const char *shown, struct bt_err **err)
{
    if (unlinkat(atfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return bt_err_errno(err, errno, "remove '%s'", shown);
    int fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s'", shown);
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bt_err_errno(err, errno, "open '%s'", shown);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = bt_path_join(shown, de->d_name);
        int r = rm_rf_at(dirfd(d), de->d_name, sub, err);
        if (r < 0)
            return r;
    }
    if (unlinkat(atfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return bt_err_errno(err, errno, "remove '%s'", shown);
    return 0;
}

int
bt_rm_rf(const char *path, struct bt_err **err)
{
    return rm_rf_at(AT_FDCWD, path, path, err);
}

bool
bt_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

bool
bt_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *
bt_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (!*b)
        return xstrndup(a, la);
    if (la == 1 && a[0] == '/')
        return xasprintf("/%s", b);
    return xasprintf("%.*s/%s", (int)la, a, b);
}

char *
bt_path_clean(const char *path)
{
    /* One pass over the segments into a buffer no longer than the input
     * (plus "." for an empty result). */
    bool abs = path[0] == '/';
    char *out = xmalloc(strlen(path) + 2);
    size_t start = abs ? 1 : 0; /* where the segments begin, after any root '/' */
    size_t fixed = start;       /* end of the leading '..' segments of a relative path */
    size_t n = start;
    if (abs)
        out[0] = '/';
    for (const char *p = path; *p;) {
        if (*p == '/') {
            p++;
            continue;
        }
        size_t len = strcspn(p, "/");
        const char *seg = p;
        p += len;
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            if (n > fixed) {
                /* Drop the last segment and the '/' before it. */
                while (n > fixed && out[n - 1] != '/')
                    n--;
                if (n > fixed)
                    n--;
                continue;
            }
            if (abs)
                continue;
            if (n > start)
                out[n++] = '/';
            out[n++] = '.';
            out[n++] = '.';
            fixed = n;
            continue;
        }
        if (n > start)
            out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return out;
}

char *
bt_path_absolute(const char *base, const char *path)
{
    if (path[0] == '/')
        return bt_path_clean(path);
    _cleanup_free_ char *j = bt_path_join(base, path);
    return bt_path_clean(j);
}

char *
bt_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

const char *
bt_path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int
bt_openat_in_root(int rootfd, const char *path, int flags, mode_t mode, struct bt_err **err)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == EINTR || errno == EAGAIN)
            continue;
        return bt_err_errno(err, errno, "open '%s' inside root", path);
    }
}

/* One pass of mkdir -p inside the root. When a component is a symlink whose
 * target does not exist yet, *restart receives the path with that link
 * replaced by its target (resolved lexically inside the root). */
static int
mkdirat_p_pass(int rootfd, const char *path, mode_t mode, char **restart, struct bt_err **err)
{
    _cleanup_strv_ char **parts = bt_strv_split(path, "/");
    struct bt_buf prefix = {0};
    bt_buf_puts(&prefix, "/");
    int r = 0;
    for (char **p = parts; *p && r == 0; p++) {
        if (!**p || strcmp(*p, ".") == 0)
            continue;
        if (strcmp(*p, "..") == 0) {
            r = bt_err_set(err, EINVAL, "'%s' must not contain '..'", path);
            break;
        }
        /* Each step is resolved again from the root, so a symlink planted
         * where a directory was expected is followed only inside it. */
        _cleanup_close_ int parent =
            bt_openat_in_root(rootfd, prefix.data, O_PATH | O_DIRECTORY, 0, err);
        if (parent < 0) {
            r = parent;
            break;
        }
        if (mkdirat(parent, *p, mode) < 0 && errno != EEXIST) {
            r = bt_err_errno(err, errno, "mkdir '%s' inside root", path);
            break;
        }
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, *p, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            _cleanup_free_ char *rest = bt_strv_join(p + 1, "/");
            _cleanup_free_ char *base =
                target[0] == '/' ? xstrdup(target) : bt_path_join(prefix.data, target);
            _cleanup_free_ char *joined = bt_path_join(base, rest);
            *restart = bt_path_clean(joined); /* '..' cannot climb above '/' */
            bt_buf_done(&prefix);
            return 0;
        }
        if (prefix.len > 1)
            bt_buf_putc(&prefix, '/');
        bt_buf_puts(&prefix, *p);
    }
    if (r == 0)
        r = bt_openat_in_root(rootfd, prefix.data, O_PATH | O_DIRECTORY, 0, err);
    bt_buf_done(&prefix);
    return r;
}

int
bt_mkdirat_p_in_root(int rootfd, const char *path, mode_t mode, struct bt_err **err)
{
    _cleanup_free_ char *cur = bt_path_clean(path[0] == '/' ? path : path);
    if (strcmp(cur, "..") == 0 || bt_str_startswith(cur, "../"))
        return bt_err_set(err, EINVAL, "'%s' leaves its root", path);
    for (int hops = 0; hops < 40; hops++) {
        char *restart = NULL;
        int r = mkdirat_p_pass(rootfd, cur, mode, &restart, err);
        if (!restart)
            return r;
        free(cur);
        cur = restart;
    }
    return bt_err_set(err, ELOOP, "mkdir '%s' inside root: too many symlinks", path);
}

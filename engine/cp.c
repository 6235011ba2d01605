/* engine: `berth cp` — files between a container and the host.
 *
 * The container side is a forked child that enters the container (see
 * cp.h) and speaks to berth over two sockets: a SOCK_SEQPACKET control
 * socket (engine/sync.h messages: READY with a code, or ERROR) and a stream
 * socket that carries the tar archive. Both sides archive with
 * libarchive's disk reader and extract with its disk writer; the format is
 * GNU tar, which libarchive writes and reads without character-set
 * conversions, so the child never loads a conversion module from the
 * container's files. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/cp.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "engine/runtime-internal.h"
#include "engine/sync.h"

/* ---- the path rules ---- */

void
engine_cp_split_arg(const char *arg, char **container, char **path)
{
    const char *colon = strchr(arg, ':');
    if (arg[0] == '/' || !colon || arg[0] == '.') {
        *container = NULL;
        *path = xstrdup(arg);
        return;
    }
    *container = xstrndup(arg, (size_t)(colon - arg));
    *path = xstrdup(colon + 1);
}

bool
engine_cp_path_asserts_dir(const char *path)
{
    size_t n = strlen(path);
    return (n >= 1 && path[n - 1] == '/') || strcmp(path, ".") == 0 ||
           (n >= 2 && path[n - 1] == '.' && path[n - 2] == '/');
}

static bool
specifies_current_dir(const char *path)
{
    size_t n = strlen(path);
    return strcmp(path, ".") == 0 || (n >= 2 && path[n - 1] == '.' && path[n - 2] == '/');
}

char *
engine_cp_path_normalize(const char *base, const char *path)
{
    _cleanup_free_ char *abs = bt_path_absolute(base, path);
    if (strcmp(abs, "/") == 0)
        return xstrdup("/");
    if (specifies_current_dir(path))
        return xasprintf("%s/.", abs);
    if (path[0] && path[strlen(path) - 1] == '/')
        return xasprintf("%s/", abs);
    return TAKE_PTR(abs);
}

void
engine_cp_split_path(const char *path, char **dir, char **base)
{
    _cleanup_free_ char *clean = bt_path_clean(path);
    if (strcmp(clean, "/") == 0) {
        /* the root: its contents, as "/." */
        *dir = xstrdup("/");
        *base = xstrdup(".");
        return;
    }
    if (specifies_current_dir(path)) {
        *dir = TAKE_PTR(clean);
        *base = xstrdup(".");
        return;
    }
    *dir = bt_path_dirname(clean);
    *base = xstrdup(bt_path_basename(clean));
}

char *
engine_cp_rebase(const char *name, const char *old_base, const char *new_base)
{
    /* "./x" names the same entry as "x" */
    const char *n = name;
    if (strcmp(old_base, ".") != 0)
        while (n[0] == '.' && n[1] == '/')
            n += 2;
    size_t len = strlen(old_base);
    if (strncmp(n, old_base, len) != 0 || (n[len] != '\0' && n[len] != '/'))
        return xstrdup(name);
    return xasprintf("%s%s", new_base, n + len);
}

int
engine_cp_plan_make(bool src_is_dir, const char *src_base, const char *dst, bool dst_exists,
                    bool dst_is_dir, struct engine_cp_plan *out, struct bt_err **err)
{
    *out = (struct engine_cp_plan){0};
    if (dst_exists && dst_is_dir) {
        /* into the directory, as the entries are named */
        out->dir = bt_path_clean(dst);
        return 0;
    }
    if (dst_exists && src_is_dir)
        return bt_err_set(err, ENOTDIR, "cannot copy a directory to a file: %s", dst);
    if (!dst_exists && !src_is_dir && engine_cp_path_asserts_dir(dst))
        return bt_err_set(err, ENOENT, "no such directory: %s", dst);
    /* the entry takes the destination's name, in its parent */
    _cleanup_free_ char *dir = NULL, *base = NULL;
    engine_cp_split_path(dst, &dir, &base);
    if (strcmp(base, ".") == 0) {
        /* "new/." for a directory that does not exist yet: "new" */
        _cleanup_free_ char *clean = bt_path_clean(dst);
        free(dir);
        free(base);
        dir = bt_path_dirname(clean);
        base = xstrdup(bt_path_basename(clean));
    }
    out->dir = TAKE_PTR(dir);
    out->old_base = xstrdup(src_base);
    out->new_base = TAKE_PTR(base);
    return 0;
}

void
engine_cp_plan_done(struct engine_cp_plan *p)
{
    free(p->dir);
    free(p->old_base);
    free(p->new_base);
    *p = (struct engine_cp_plan){0};
}

/* ---- libarchive glue ---- */

static int
archive_fail(struct archive *a, struct bt_err **err, const char *what)
{
    int code = archive_errno(a) > 0 ? archive_errno(a) : EIO;
    const char *msg = archive_error_string(a);
    return bt_err_set(err, code, "%s: %s", what, msg ? msg : strerror(code));
}

struct fdio {
    int fd;
    uint64_t bytes;
    char buf[65536];
};

static la_ssize_t
fdio_write(struct archive *a, void *data, const void *buf, size_t n)
{
    struct fdio *io = data;
    size_t off = 0;
    while (off < n) {
        /* MSG_NOSIGNAL: a peer that gave up is an error, not SIGPIPE */
        ssize_t w = send(io->fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(io->fd, (const char *)buf + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            archive_set_error(a, errno, "write: %s", strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    io->bytes += n;
    return (la_ssize_t)n;
}

static la_ssize_t
fdio_read(struct archive *a, void *data, const void **buf)
{
    struct fdio *io = data;
    for (;;) {
        ssize_t n = read(io->fd, io->buf, sizeof(io->buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            archive_set_error(a, errno, "read: %s", strerror(errno));
            return -1;
        }
        io->bytes += (uint64_t)n;
        *buf = io->buf;
        return n;
    }
}

static struct archive *
tar_writer(struct fdio *io, struct bt_err **err)
{
    struct archive *w = archive_write_new();
    archive_write_set_format_gnutar(w);
    archive_write_add_filter_none(w);
    archive_write_set_bytes_in_last_block(w, 1);
    if (archive_write_open(w, io, NULL, fdio_write, NULL) != ARCHIVE_OK) {
        archive_fail(w, err, "start the archive");
        archive_write_free(w);
        return NULL;
    }
    return w;
}

/* A reader of a tar stream; any_filter also takes compressed ones (only on
 * the host side: some filters run external programs). */
static struct archive *
tar_reader(struct fdio *io, bool any_filter, struct bt_err **err)
{
    struct archive *r = archive_read_new();
    archive_read_support_format_tar(r);
    archive_read_support_format_gnutar(r);
    if (any_filter)
        archive_read_support_filter_all(r);
    else
        archive_read_support_filter_none(r);
    if (archive_read_open(r, io, NULL, fdio_read, NULL) != ARCHIVE_OK) {
        archive_fail(r, err, "read the archive");
        archive_read_free(r);
        return NULL;
    }
    return r;
}

/* Copies the data of the current entry of r to w. */
static int
copy_data(struct archive *r, struct archive *w, struct bt_err **err)
{
    char buf[65536];
    for (;;) {
        la_ssize_t n = archive_read_data(r, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0)
            return archive_fail(r, err, "read");
        if (archive_write_data(w, buf, (size_t)n) != n)
            return archive_fail(w, err, "write");
    }
}

/* The id maps of a stopped container with a user namespace of its own:
 * what it writes is stored under host ids; n == 0 maps nothing. */
struct cp_ids {
    const struct rt_idmap *uid, *gid;
    size_t n_uid, n_gid;
};

/* A container id to the host's (to_host) or back; ids outside the map are
 * the overflow id, as the kernel shows them. */
static int64_t
map_id(const struct rt_idmap *m, size_t n, int64_t id, bool to_host)
{
    if (n == 0)
        return id;
    for (size_t i = 0; i < n; i++) {
        int64_t from = to_host ? m[i].container_id : m[i].host_id;
        int64_t to = to_host ? m[i].host_id : m[i].container_id;
        if (id >= from && id < from + (int64_t)m[i].size)
            return to + (id - from);
    }
    return 65534;
}

static void
entry_map_ids(struct archive_entry *e, const struct cp_ids *ids, bool to_host)
{
    if (!ids)
        return;
    archive_entry_set_uid(e, map_id(ids->uid, ids->n_uid, archive_entry_uid(e), to_host));
    archive_entry_set_gid(e, map_id(ids->gid, ids->n_gid, archive_entry_gid(e), to_host));
}

/* Writes path and everything below it to w, named base[/...]. follow_top:
 * a symlink at path itself is followed; symlinks below are kept as such. */
static int
archive_tree(struct archive *w, const char *path, const char *base, bool follow_top,
             const struct cp_ids *ids, struct bt_err **err)
{
    struct archive *rd = archive_read_disk_new();
    archive_read_disk_set_behavior(rd, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                           ARCHIVE_READDISK_NO_FFLAGS);
    if (follow_top)
        archive_read_disk_set_symlink_hybrid(rd);
    else
        archive_read_disk_set_symlink_physical(rd);
    int ret = 0;
    if (archive_read_disk_open(rd, path) != ARCHIVE_OK)
        ret = archive_fail(rd, err, path);
    size_t plen = strlen(path);
    /* a file's second name becomes a hard link entry, as tar makes it */
    struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
    archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_GNUTAR);
    struct archive_entry *e = archive_entry_new();
    while (ret == 0) {
        archive_entry_clear(e);
        int r = archive_read_next_header2(rd, e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_OK) {
            ret =
                archive_fail(rd, err, archive_entry_pathname(e) ? archive_entry_pathname(e) : path);
            break;
        }
        if (archive_read_disk_can_descend(rd))
            archive_read_disk_descend(rd);
        const char *name = archive_entry_pathname(e);
        const char *rest = name + (strncmp(name, path, plen) == 0 ? plen : strlen(name));
        while (*rest == '/')
            rest++;
        _cleanup_free_ char *renamed = *rest ? xasprintf("%s/%s", base, rest) : xstrdup(base);
        archive_entry_set_pathname(e, renamed);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        entry_map_ids(e, ids, false);
        struct archive_entry *first = e, *spare = NULL;
        archive_entry_linkify(links, &first, &spare);
        r = archive_write_header(w, e);
        if (r == ARCHIVE_FAILED)
            continue; /* a socket: tar cannot hold it, as docker skips it */
        if (r < ARCHIVE_WARN) {
            ret = archive_fail(w, err, renamed);
            break;
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
            copy_data(rd, w, err) < 0) {
            bt_err_prefix(err, "%s", renamed);
            ret = bt_err_ret(err);
        }
    }
    archive_entry_free(e);
    archive_entry_linkresolver_free(links);
    archive_read_free(rd);
    return ret;
}

/* The next entry of r: 1, 0 at the end, or -errno. */
static int
next_entry(struct archive *r, struct archive_entry **e, struct bt_err **err)
{
    int s = archive_read_next_header(r, e);
    if (s == ARCHIVE_EOF)
        return 0;
    if (s < ARCHIVE_WARN)
        return archive_fail(r, err, "read the archive");
    return 1;
}

/* Re-writes a tar stream read from in (compressed or not) to w, so that
 * only a plain archive reaches the container side. */
static int
archive_repack(int in, struct archive *w, struct bt_err **err)
{
    struct fdio *io = xcalloc(1, sizeof(*io));
    io->fd = in;
    struct archive *r = tar_reader(io, true, err);
    if (!r) {
        free(io);
        return bt_err_ret(err);
    }
    int ret = 0;
    for (;;) {
        struct archive_entry *e;
        int s = next_entry(r, &e, err);
        if (s <= 0) {
            ret = s;
            break;
        }
        if (archive_write_header(w, e) < ARCHIVE_WARN) {
            ret = archive_fail(w, err, "write the archive");
            break;
        }
        if (archive_entry_size(e) > 0 && copy_data(r, w, err) < 0) {
            ret = bt_err_ret(err);
            break;
        }
    }
    archive_read_free(r);
    free(io);
    return ret;
}

enum owner_mode { OWNER_CALLER, OWNER_KEEP, OWNER_ROOT };

/* A failure to write an entry, named by its full path and, when known, the
 * system's reason ("/srv/x: Read-only file system"). */
static int
disk_fail(struct archive *w, const struct engine_cp_plan *plan, const char *name,
          struct bt_err **err)
{
    _cleanup_free_ char *full = bt_path_join(plan->dir, name);
    if (archive_errno(w) > 0)
        return bt_err_errno(err, archive_errno(w), "%s", full);
    return archive_fail(w, err, full);
}

/* Extracts r into the working directory, renamed by plan; refuses to put
 * a directory over a non-directory or the other way round, as docker. */
static int
extract_stream(struct archive *r, const struct engine_cp_plan *plan, int flags,
               enum owner_mode owner, const struct cp_ids *ids, struct bt_err **err)
{
    struct archive *w = archive_write_disk_new();
    archive_write_disk_set_options(w, flags | (owner != OWNER_CALLER ? ARCHIVE_EXTRACT_OWNER : 0));
    int ret = 0;
    for (;;) {
        struct archive_entry *e;
        int s = next_entry(r, &e, err);
        if (s <= 0) {
            ret = s;
            break;
        }
        const char *orig = archive_entry_pathname(e);
        if (!orig)
            continue;
        _cleanup_free_ char *name =
            plan->old_base ? engine_cp_rebase(orig, plan->old_base, plan->new_base) : xstrdup(orig);
        archive_entry_set_pathname(e, name);
        const char *hl = archive_entry_hardlink(e);
        if (hl && plan->old_base) {
            _cleanup_free_ char *h = engine_cp_rebase(hl, plan->old_base, plan->new_base);
            archive_entry_set_hardlink(e, h);
        }
        _cleanup_free_ char *clean = bt_path_clean(name);
        if (strcmp(clean, ".") == 0)
            continue; /* the destination directory itself stays as it is */
        struct stat st;
        bool entry_dir = archive_entry_filetype(e) == AE_IFDIR;
        if (lstat(name, &st) == 0 && S_ISDIR(st.st_mode) != entry_dir) {
            ret = bt_err_set(err, EEXIST, "cannot overwrite %s \"%s/%s\" with %s",
                             entry_dir ? "non-directory" : "directory", plan->dir, clean,
                             entry_dir ? "a directory" : "a non-directory");
            break;
        }
        if (owner == OWNER_ROOT) {
            archive_entry_set_uid(e, 0);
            archive_entry_set_gid(e, 0);
        }
        entry_map_ids(e, ids, true);
        s = archive_write_header(w, e);
        if (s < ARCHIVE_WARN) {
            ret = disk_fail(w, plan, clean, err);
            break;
        }
        if (archive_entry_size(e) > 0 && archive_entry_filetype(e) == AE_IFREG &&
            copy_data(r, w, err) < 0) {
            bt_err_prefix(err, "%s", clean);
            ret = bt_err_ret(err);
            break;
        }
        if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
            ret = disk_fail(w, plan, clean, err);
            break;
        }
    }
    if (archive_write_close(w) < ARCHIVE_WARN && ret == 0)
        ret = archive_fail(w, err, "finish extracting");
    archive_write_free(w);
    return ret;
}

/* What a destination path is: a symlink is followed (inside the root the
 * caller runs in), as docker does for DEST. *resolved is owned. */
static int
dest_info(const char *dst, char **resolved, bool *exists, bool *is_dir, struct bt_err **err)
{
    _cleanup_free_ char *path = xstrdup(dst);
    for (int hops = 0; hops < 40; hops++) {
        _cleanup_free_ char *clean = bt_path_clean(path);
        struct stat st;
        if (lstat(clean, &st) < 0) {
            if (errno != ENOENT && errno != ENOTDIR)
                return bt_err_errno(err, errno, "%s", dst);
            *exists = *is_dir = false;
            *resolved = TAKE_PTR(path);
            return 0;
        }
        if (!S_ISLNK(st.st_mode)) {
            if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return bt_err_set(err, EINVAL, "%s must be a directory or a regular file", dst);
            *exists = true;
            *is_dir = S_ISDIR(st.st_mode);
            *resolved = TAKE_PTR(path);
            return 0;
        }
        char target[4096];
        ssize_t n = readlink(clean, target, sizeof(target) - 1);
        if (n < 0)
            return bt_err_errno(err, errno, "readlink %s", clean);
        target[n] = '\0';
        _cleanup_free_ char *parent = bt_path_dirname(clean);
        free(path);
        path = target[0] == '/' ? bt_path_clean(target) : bt_path_absolute(parent, target);
    }
    return bt_err_set(err, ELOOP, "%s: too many levels of symbolic links", dst);
}

/* ---- the container side ---- */

struct cp_target {
    pid_t pid; /* running: its init */
    uint64_t pid_start;
    struct rt_spec *spec; /* stopped: root, mounts */
    char *overlay;        /* stopped: overlay options, or NULL */
};

static void
target_done(struct cp_target *t)
{
    rt_spec_free(t->spec);
    free(t->overlay);
}

static bool
is_active(const char *status)
{
    return status && (!strcmp(status, "running") || !strcmp(status, "paused") ||
                      !strcmp(status, "restarting"));
}

static int
target_load(const char *id, struct cp_target *t, struct bt_err **err)
{
    *t = (struct cp_target){0};
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, err);
    if (!cfg)
        return bt_err_ret(err);
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(st, "PidStart"));
    if (is_active(bt_json_str(st, "Status")) && engine_pid_alive(pid, start)) {
        t->pid = pid;
        t->pid_start = start;
        return 0;
    }
    /* stopped: the rootfs as the monitor would mount it */
    _cleanup_free_ char *dir = engine_container_dir(id);
    json_t *spec = json_object_get(cfg, "spec");
    json_t *rootfs = json_object_get(cfg, "rootfs");
    if (!json_is_object(json_object_get(spec, "root")))
        json_object_set_new(spec, "root", json_object());
    if (json_is_object(rootfs)) {
        struct bt_buf b = {0};
        bt_buf_puts(&b, "lowerdir=");
        size_t i;
        json_t *l;
        json_array_foreach (json_object_get(rootfs, "lower"), i, l)
            bt_buf_printf(&b, "%s%s", i ? ":" : "",
                          json_string_value(l) ? json_string_value(l) : "");
        const char *up = bt_json_str(rootfs, "upper"), *work = bt_json_str(rootfs, "work");
        if (up && work)
            bt_buf_printf(&b, ",upperdir=%s,workdir=%s", up, work);
        t->overlay = bt_buf_steal(&b);
        bt_buf_done(&b);
        _cleanup_free_ char *merged = bt_path_join(dir, "rootfs");
        if (bt_mkdir_p(merged, 0755, err) < 0)
            return bt_err_ret(err);
        json_object_set_new(json_object_get(spec, "root"), "path", json_string(merged));
    } else if (json_is_string(rootfs)) {
        json_object_set(json_object_get(spec, "root"), "path", rootfs);
    }
    t->spec = rt_spec_parse(spec, dir, err);
    if (!t->spec) {
        free(t->overlay);
        t->overlay = NULL;
        return bt_err_ret(err);
    }
    return 0;
}

/* The id maps to apply by hand: a stopped container's own user namespace
 * (a running one's is joined, and the kernel maps). */
static const struct cp_ids *
target_ids(const struct cp_target *t, struct cp_ids *ids)
{
    if (!t->spec || !t->spec->n_uid_mappings)
        return NULL;
    const struct rt_namespace *user = rt_spec_namespace(t->spec, CLONE_NEWUSER);
    if (!user || user->path)
        return NULL;
    *ids = (struct cp_ids){t->spec->uid_mappings, t->spec->gid_mappings, t->spec->n_uid_mappings,
                           t->spec->n_gid_mappings};
    return ids;
}

static int
chroot_fd(int rootfd, struct bt_err **err)
{
    if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return bt_err_errno(err, errno, "enter the container's root");
    return 0;
}

/* Joins the running container's mount namespace (and user namespace when
 * it has its own) through a pidfd, then chroots to its init's root. */
static int
enter_running(const struct cp_target *t, struct bt_err **err)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
    if (pidfd < 0)
        return bt_err_errno(err, errno, "the container's init");
    /* checked after pidfd_open: the pidfd is then surely the init's */
    if (!engine_pid_alive(t->pid, t->pid_start))
        return bt_err_set(err, ESRCH, "the container stopped");
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/root", (int)t->pid);
    _cleanup_close_ int rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return bt_err_errno(err, errno, "open %s", p);
    struct stat self, their;
    snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)t->pid);
    if (stat("/proc/self/ns/user", &self) < 0 || stat(p, &their) < 0)
        return bt_err_errno(err, errno, "user namespaces");
    bool userns = self.st_ino != their.st_ino || self.st_dev != their.st_dev;
    if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
        return bt_err_set(err, ESRCH, "the container stopped");
    if (setns(pidfd, CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0)) < 0)
        return bt_err_errno(err, errno, "join the container's namespaces");
    if (userns) {
        /* root of the container, so that what is written belongs to it */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            return bt_err_errno(err, errno, "become root in the container's user namespace");
    }
    return chroot_fd(rootfd, err);
}

/* A bind mount of a stopped container, cloned before the chroot. */
static int
clone_bind(const struct rt_mount *m, struct bt_err **err)
{
    _cleanup_close_ int src = -1;
    if (m->source_root) {
        _cleanup_close_ int root = open(m->source_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
            return errno == ENOENT ? -ENOENT : bt_err_errno(err, errno, "%s", m->source_root);
        const char *rel = m->source + strlen(m->source_root);
        while (*rel == '/')
            rel++;
        struct bt_err *e = NULL;
        src = bt_openat_in_root(root, *rel ? rel : ".", O_PATH, 0, &e);
        if (src < 0) {
            if (e->code == ENOENT) {
                bt_err_free(e);
                return -ENOENT;
            }
            bt_err_move(err, &e);
            return src;
        }
    } else {
        src = open(m->source, O_PATH | O_CLOEXEC);
        if (src < 0)
            return errno == ENOENT ? -ENOENT : bt_err_errno(err, errno, "%s", m->source);
    }
    unsigned rec = m->recursive ? AT_RECURSIVE : 0;
    int tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
    if (tree < 0)
        return bt_err_errno(err, errno, "clone the mount of %s", m->source);
    if (m->flags & MS_RDONLY) {
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a, sizeof(a)) < 0) {
            int e = errno;
            close(tree);
            return bt_err_errno(err, e, "make %s read-only", m->destination);
        }
    }
    return tree;
}

/* Mounts a stopped container's root (its overlay) and its bind mounts
 * (volumes among them) in a private mount namespace, and chroots there. */
static int
enter_stopped(const struct cp_target *t, struct bt_err **err)
{
    const struct rt_spec *s = t->spec;
    if (unshare(CLONE_NEWNS) < 0)
        return bt_err_errno(err, errno, "a private mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return bt_err_errno(err, errno, "make / private");
    if (t->overlay && mount("overlay", s->root_path, "overlay", 0, t->overlay) < 0)
        return bt_err_errno(err, errno, "mount the container's root");
    if (s->root_readonly &&
        (mount(s->root_path, s->root_path, NULL, MS_BIND, NULL) < 0 ||
         mount(NULL, s->root_path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0))
        return bt_err_errno(err, errno, "mount the container's root read-only");
    int *trees = xcalloc(s->n_mounts + 1, sizeof(int));
    for (size_t i = 0; i < s->n_mounts; i++)
        trees[i] = -1;
    int ret = 0;
    for (size_t i = 0; i < s->n_mounts && ret == 0; i++) {
        if (!s->mounts[i].bind)
            continue;
        int fd = clone_bind(&s->mounts[i], err);
        if (fd == -ENOENT)
            continue; /* its source is gone: the rootfs shows through */
        if (fd < 0)
            ret = fd;
        else
            trees[i] = fd;
    }
    _cleanup_close_ int rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ret == 0 && rootfd < 0)
        ret = bt_err_errno(err, errno, "open %s", s->root_path);
    if (ret == 0)
        ret = chroot_fd(rootfd, err);
    /* inside the root now: a destination cannot resolve out of it */
    for (size_t i = 0; i < s->n_mounts && ret == 0; i++) {
        struct stat st;
        if (trees[i] >= 0 && stat(s->mounts[i].destination, &st) == 0 &&
            move_mount(trees[i], "", AT_FDCWD, s->mounts[i].destination, MOVE_MOUNT_F_EMPTY_PATH) <
                0)
            ret = bt_err_errno(err, errno, "mount %s", s->mounts[i].destination);
    }
    for (size_t i = 0; i < s->n_mounts; i++)
        if (trees[i] >= 0)
            close(trees[i]);
    free(trees);
    return ret;
}

struct cp_child {
    pid_t pid;
    int ctl;  /* our end of the control socket */
    int data; /* our end of the data socket */
};

typedef int (*cp_child_fn)(int ctl, int data, void *arg, struct bt_err **err);

/* Forks the child that enters the container and runs fn there. */
static int
child_spawn(const struct cp_target *t, cp_child_fn fn, void *arg, struct cp_child *c,
            struct bt_err **err)
{
    int ctl[2], data[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
        return bt_err_errno(err, errno, "socketpair");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) < 0) {
        int e = errno;
        close(ctl[0]);
        close(ctl[1]);
        return bt_err_errno(err, e, "socketpair");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ctl[0]);
        close(ctl[1]);
        close(data[0]);
        close(data[1]);
        return bt_err_errno(err, e, "fork");
    }
    if (pid == 0) {
        close(ctl[0]);
        close(data[0]);
        struct bt_err *e = NULL;
        int r = t->pid ? enter_running(t, &e) : enter_stopped(t, &e);
        if (r == 0)
            r = fn(ctl[1], data[1], arg, &e);
        if (r < 0)
            rt_sync_fail(ctl[1], e);
        _exit(0);
    }
    close(ctl[1]);
    close(data[1]);
    *c = (struct cp_child){.pid = pid, .ctl = ctl[0], .data = data[0]};
    return 0;
}

/* The next message: READY (its code returned, >= 0) or the child's error. */
static int
child_expect(struct cp_child *c, struct bt_err **err)
{
    struct rt_sync_msg m;
    int r = rt_sync_recv(c->ctl, &m, NULL);
    if (r == -EPIPE)
        return bt_err_set(err, EPIPE, "the copy ended unexpectedly");
    if (r < 0)
        return bt_err_errno(err, -r, "the copy's control socket");
    if (m.type == RT_SYNC_ERROR)
        return bt_err_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
    if (m.type != RT_SYNC_READY)
        return bt_err_set(err, EPROTO, "unexpected message %d from the copy", m.type);
    return m.code;
}

/* Ends the child: closes our sockets and reaps it. With failed set the
 * child's own error, when it sent one, is kept out of the way. */
static int
child_finish(struct cp_child *c, bool failed, struct bt_err **err)
{
    int ret = 0;
    if (c->data >= 0)
        close(c->data);
    c->data = -1;
    if (!failed)
        ret = child_expect(c, err);
    close(c->ctl);
    c->ctl = -1;
    int status;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (ret == 0 && !failed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        ret = bt_err_set(err, EIO, "the copy failed (status %d)", status);
    return ret;
}

/* ---- from the container ---- */

struct from_req {
    const char *src;     /* normalized, absolute in the container */
    const char *display; /* as the user wrote it */
    const char *name;
    bool follow;
    const struct cp_ids *ids;
};

static int
child_from(int ctl, int data, void *arg, struct bt_err **err)
{
    const struct from_req *q = arg;
    bool follow = q->follow || engine_cp_path_asserts_dir(q->src);
    _cleanup_free_ char *clean = bt_path_clean(q->src);
    _cleanup_free_ char *dir = NULL, *base = NULL;
    engine_cp_split_path(q->src, &dir, &base);
    struct stat st;
    if ((follow ? stat(clean, &st) : lstat(clean, &st)) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return bt_err_set(err, ENOENT, "No such container:path: %s:%s", q->name, q->display);
        return bt_err_errno(err, errno, "%s:%s", q->name, q->display);
    }
    if (engine_cp_path_asserts_dir(q->src) && !S_ISDIR(st.st_mode))
        return bt_err_set(err, ENOTDIR, "%s:%s: not a directory", q->name, q->display);
    if (rt_sync_send(ctl, RT_SYNC_READY, S_ISDIR(st.st_mode) ? 1 : 0, NULL, -1) < 0)
        return bt_err_errno(err, errno, "report to berth");
    struct fdio *io = xcalloc(1, sizeof(*io));
    io->fd = data;
    struct archive *w = tar_writer(io, err);
    int r = w ? archive_tree(w, clean, base, follow, q->ids, err) : bt_err_ret(err);
    if (w && archive_write_close(w) != ARCHIVE_OK && r == 0)
        r = archive_fail(w, err, "finish the archive");
    if (w)
        archive_write_free(w);
    free(io);
    close(data);
    if (r < 0)
        return r;
    if (rt_sync_send(ctl, RT_SYNC_READY, 0, NULL, -1) < 0)
        return bt_err_errno(err, errno, "report to berth");
    return 0;
}

/* Copies what the child sends to out until it closes. */
static int
copy_raw(int in, int out, uint64_t *bytes, struct bt_err **err)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bt_err_errno(err, errno, "read the archive");
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bt_err_errno(err, errno, "write the archive");
            off += w;
        }
        *bytes += (uint64_t)n;
    }
}

/* Extracts the stream on fd in the host directory plan->dir. */
static int
extract_on_host(int fd, const struct engine_cp_plan *plan, bool keep_owner, uint64_t *bytes,
                struct bt_err **err)
{
    _cleanup_close_ int dirfd = open(plan->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return bt_err_errno(err, errno, "%s", plan->dir);
    _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return bt_err_errno(err, errno, "the working directory");
    if (fchdir(dirfd) < 0)
        return bt_err_errno(err, errno, "%s", plan->dir);
    struct fdio *io = xcalloc(1, sizeof(*io));
    io->fd = fd;
    struct archive *r = tar_reader(io, false, err);
    int ret = r ? 0 : bt_err_ret(err);
    if (r) {
        ret = extract_stream(r, plan,
                             ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                 ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS,
                             keep_owner ? OWNER_KEEP : OWNER_CALLER, NULL, err);
        archive_read_free(r);
    }
    *bytes = io->bytes;
    free(io);
    if (fchdir(cwd) < 0 && ret == 0)
        ret = bt_err_errno(err, errno, "back to the working directory");
    return ret;
}

int
engine_cp_from_container(const char *id, const char *src, const char *dst, int out_fd,
                         struct engine_cp_opts *o, struct bt_err **err)
{
    o->copied = 0;
    if (!src[0] || !dst[0])
        return bt_err_set(err, EINVAL, "the source and destination paths must not be empty");
    struct cp_target t;
    if (target_load(id, &t, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *csrc = engine_cp_path_normalize("/", src);
    struct cp_ids ids;
    struct from_req q = {csrc, src, o->name ? o->name : id, o->follow_link, target_ids(&t, &ids)};
    struct cp_child c;
    int r = child_spawn(&t, child_from, &q, &c, err);
    target_done(&t);
    if (r < 0)
        return r;
    r = child_expect(&c, err);
    if (r < 0) {
        child_finish(&c, true, err);
        return r;
    }
    bool src_is_dir = r == 1;
    if (strcmp(dst, "-") == 0) {
        r = copy_raw(c.data, out_fd, &o->copied, err);
        return child_finish(&c, r < 0, err) < 0 ? bt_err_ret(err) : 0;
    }
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    _cleanup_free_ char *hdst = engine_cp_path_normalize(cwd ? cwd : "/", dst);
    _cleanup_free_ char *resolved = NULL, *sdir = NULL, *sbase = NULL;
    bool exists = false, is_dir = false;
    struct engine_cp_plan plan = {0};
    engine_cp_split_path(csrc, &sdir, &sbase);
    r = dest_info(hdst, &resolved, &exists, &is_dir, err);
    if (r == 0)
        r = engine_cp_plan_make(src_is_dir, sbase, resolved, exists, is_dir, &plan, err);
    if (r == 0)
        r = extract_on_host(c.data, &plan, o->archive, &o->copied, err);
    engine_cp_plan_done(&plan);
    if (r < 0) {
        child_finish(&c, true, err);
        return r;
    }
    return child_finish(&c, false, err);
}

/* ---- into the container ---- */

struct to_req {
    const char *dst; /* normalized, absolute in the container */
    const char *display;
    const char *name;
    bool from_stdin;
    bool src_is_dir;
    const char *src_base;
    bool keep_owner;
    const struct cp_ids *ids;
};

static int
child_to(int ctl, int data, void *arg, struct bt_err **err)
{
    const struct to_req *q = arg;
    _cleanup_free_ char *resolved = NULL;
    bool exists = false, is_dir = false;
    if (dest_info(q->dst, &resolved, &exists, &is_dir, err) < 0)
        return bt_err_ret(err);
    struct engine_cp_plan plan = {0};
    if (q->from_stdin) {
        if (!exists || !is_dir)
            return bt_err_set(err, ENOTDIR, "destination \"%s:%s\" must be a directory", q->name,
                              q->display);
        plan.dir = bt_path_clean(resolved);
    } else if (engine_cp_plan_make(q->src_is_dir, q->src_base, resolved, exists, is_dir, &plan,
                                   err) < 0) {
        return bt_err_ret(err);
    }
    if (chdir(plan.dir) < 0) {
        int e = errno;
        engine_cp_plan_done(&plan);
        if (e == ENOENT)
            return bt_err_set(err, ENOENT, "No such container:path: %s:%s", q->name, q->display);
        return bt_err_errno(err, e, "%s:%s", q->name, q->display);
    }
    int r = rt_sync_send(ctl, RT_SYNC_READY, 0, NULL, -1) < 0
                ? bt_err_errno(err, errno, "report to berth")
                : 0;
    struct fdio *io = xcalloc(1, sizeof(*io));
    io->fd = data;
    struct archive *rd = r == 0 ? tar_reader(io, false, err) : NULL;
    if (r == 0 && !rd)
        r = bt_err_ret(err);
    if (rd) {
        /* inside the chroot a symlink cannot lead out, so symlinked
         * directories of the container are followed, as docker does */
        r = extract_stream(rd, &plan,
                           ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                               ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                               ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS,
                           q->keep_owner ? OWNER_KEEP : OWNER_ROOT, q->ids, err);
        archive_read_free(rd);
    }
    free(io);
    engine_cp_plan_done(&plan);
    if (r < 0)
        return r;
    if (rt_sync_send(ctl, RT_SYNC_READY, 0, NULL, -1) < 0)
        return bt_err_errno(err, errno, "report to berth");
    return 0;
}

int
engine_cp_to_container(const char *id, const char *src, int in_fd, const char *dst,
                       struct engine_cp_opts *o, struct bt_err **err)
{
    o->copied = 0;
    if (!src[0] || !dst[0])
        return bt_err_set(err, EINVAL, "the source and destination paths must not be empty");
    bool from_stdin = strcmp(src, "-") == 0;
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    _cleanup_free_ char *hsrc = from_stdin ? NULL : engine_cp_path_normalize(cwd ? cwd : "/", src);
    _cleanup_free_ char *hclean = hsrc ? bt_path_clean(hsrc) : NULL;
    _cleanup_free_ char *sdir = NULL, *sbase = NULL;
    bool follow = false, src_is_dir = false;
    if (hsrc) {
        follow = o->follow_link || engine_cp_path_asserts_dir(hsrc);
        struct stat st;
        if ((follow ? stat(hclean, &st) : lstat(hclean, &st)) < 0)
            return bt_err_errno(err, errno, "%s %s", follow ? "stat" : "lstat", hclean);
        if (engine_cp_path_asserts_dir(hsrc) && !S_ISDIR(st.st_mode))
            return bt_err_set(err, ENOTDIR, "%s: not a directory", src);
        src_is_dir = S_ISDIR(st.st_mode);
        engine_cp_split_path(hsrc, &sdir, &sbase);
    }
    struct cp_target t;
    if (target_load(id, &t, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *cdst = engine_cp_path_normalize("/", dst);
    struct cp_ids ids;
    struct to_req q = {cdst,  dst,        o->name ? o->name : id, from_stdin, src_is_dir,
                       sbase, o->archive, target_ids(&t, &ids)};
    struct cp_child c;
    int r = child_spawn(&t, child_to, &q, &c, err);
    target_done(&t);
    if (r < 0)
        return r;
    r = child_expect(&c, err);
    if (r < 0) {
        child_finish(&c, true, err);
        return r;
    }
    struct fdio *io = xcalloc(1, sizeof(*io));
    io->fd = c.data;
    struct bt_err *werr = NULL;
    struct archive *w = tar_writer(io, &werr);
    r = w ? (from_stdin ? archive_repack(in_fd, w, &werr)
                        : archive_tree(w, hclean, sbase, follow, NULL, &werr))
          : -EIO;
    if (w && archive_write_close(w) != ARCHIVE_OK && r == 0)
        r = archive_fail(w, &werr, "finish the archive");
    if (w)
        archive_write_free(w);
    o->copied = io->bytes;
    free(io);
    /* end of the stream: the child finishes and reports */
    shutdown(c.data, SHUT_WR);
    if (r < 0) {
        /* the child's error explains a broken stream better than EPIPE */
        struct bt_err *cerr = NULL;
        if (werr && werr->code == EPIPE && child_expect(&c, &cerr) < 0) {
            bt_err_move(err, &cerr);
            bt_err_free(werr);
        } else {
            bt_err_free(cerr);
            bt_err_move(err, &werr);
        }
        child_finish(&c, true, NULL);
        return bt_err_ret(err);
    }
    return child_finish(&c, false, err);
}

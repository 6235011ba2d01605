/* engine: the container's init — clone, then apply the plan in the child.
 *
 * Parent: creates the cgroup, clones with the new namespaces, writes the
 * user namespace's id maps, puts the child in its cgroup and says GO. Child:
 * joins namespaces given by path, unshares its cgroup namespace (now rooted
 * at its own cgroup), builds the root filesystem, pivots into it, applies
 * hostname, sysctls, rlimits, stdio or a pty, reports READY and waits for
 * START (or the exec fifo); then it drops to the process's user,
 * capabilities and seccomp filter and execs. */
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine/cgroup-internal.h"
#include "engine/engine.h"
#include "engine/runtime-internal.h"
#include "engine/sync.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT           47
#define PR_CAP_AMBIENT_RAISE     2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* ---- small helpers ---- */

static int
write_proc(const char *path, const char *value, struct bt_err **err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open %s", path);
    size_t len = strlen(value);
    if (write(fd, value, len) != (ssize_t)len)
        return bt_err_errno(err, errno, "write %s", path);
    return 0;
}

static char *
fd_path(int fd)
{
    return xasprintf("/proc/self/fd/%d", fd);
}

/* ---- mounts ---- */

struct mctx {
    const struct rt_spec *spec;
    const struct rt_cgroup *cg;
    int rootfd;
    bool userns;
};

/* Opens (creating as needed) the mount target inside the root. */
static int
target_open(int rootfd, const char *dest, bool is_dir, struct bt_err **err)
{
    if (is_dir)
        return bt_mkdirat_p_in_root(rootfd, dest, 0755, err);
    _cleanup_free_ char *parent = bt_path_dirname(dest);
    _cleanup_close_ int pfd = bt_mkdirat_p_in_root(rootfd, parent, 0755, err);
    if (pfd < 0)
        return pfd;
    int fd =
        bt_openat_in_root(rootfd, dest, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644, err);
    return fd;
}

static int
do_propagation(const char *target, unsigned long prop, struct bt_err **err)
{
    if (prop && mount(NULL, target, NULL, prop, NULL) < 0)
        return bt_err_errno(err, errno, "set propagation");
    return 0;
}

static int
remount_bind(const char *target, unsigned long flags, struct bt_err **err)
{
    unsigned long keep = 0;
    struct statvfs sv;
    /* Flags locked by a less privileged mount namespace must be kept. */
    if (statvfs(target, &sv) == 0) {
        if (sv.f_flag & ST_NOSUID)
            keep |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
            keep |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
            keep |= MS_NOEXEC;
    }
    unsigned long f = MS_BIND | MS_REMOUNT |
                      (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME));
    if (mount(NULL, target, NULL, f | keep, NULL) < 0)
        return bt_err_errno(err, errno, "remount");
    return 0;
}

static int
mount_cgroup_v1(struct mctx *c, const struct rt_mount *m, int dirfd, struct bt_err **err)
{
    _cleanup_free_ char *target = fd_path(dirfd);
    unsigned long base = m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
    if (mount("tmpfs", target, "tmpfs", base, "mode=755") < 0)
        return bt_err_errno(err, errno, "mount tmpfs");
    _cleanup_close_ int tfd =
        bt_openat_in_root(c->rootfd, m->destination, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, err);
    if (tfd < 0)
        return tfd;
    bool cgns = rt_spec_namespace(c->spec, CLONE_NEWCGROUP) != NULL;
    for (size_t i = 0; c->cg && i < c->cg->n_dirs; i++) {
        const struct rt_cgroup_dir *d = &c->cg->dirs[i];
        bool named = bt_str_startswith(d->controllers, "name=");
        const char *dname = named ? d->controllers + strlen("name=") : d->controllers;
        if (mkdirat(tfd, dname, 0755) < 0 && errno != EEXIST)
            return bt_err_errno(err, errno, "mkdir %s", dname);
        _cleanup_close_ int sub = openat(tfd, dname, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0)
            return bt_err_errno(err, errno, "open %s", dname);
        _cleanup_free_ char *st = fd_path(sub);
        _cleanup_free_ char *data =
            named ? xasprintf("none,%s", d->controllers) : xstrdup(d->controllers);
        int r;
        if (cgns)
            r = mount("cgroup", st, "cgroup", m->flags & ~MS_RDONLY, data);
        else
            r = mount(d->dir, st, NULL, MS_BIND, NULL);
        if (r < 0)
            return bt_err_errno(err, errno, "mount cgroup %s", d->controllers);
        if ((m->flags & MS_RDONLY)) {
            _cleanup_close_ int again = openat(tfd, dname, O_PATH | O_CLOEXEC);
            _cleanup_free_ char *ap = fd_path(again);
            if (remount_bind(ap, m->flags, err) < 0)
                return bt_err_ret(err);
        }
        /* cpu,cpuacct is reachable as cpu and as cpuacct too */
        if (!named && strchr(d->controllers, ',')) {
            _cleanup_strv_ char **names = bt_strv_split(d->controllers, ",");
            bt_strv_foreach (n, names) {
                if (symlinkat(d->controllers, tfd, n) < 0 && errno != EEXIST)
                    return bt_err_errno(err, errno, "symlink %s", n);
            }
        }
    }
    if (m->flags & MS_RDONLY) {
        _cleanup_free_ char *tp = fd_path(tfd);
        if (remount_bind(tp, m->flags | MS_RDONLY, err) < 0)
            return bt_err_ret(err);
    }
    return 0;
}

/* A bind source confined to a root (a volume's subpath): opened again
 * below the root with RESOLVE_IN_ROOT, so that what the container changed
 * in the volume since (a directory swapped for a symlink) cannot lead out;
 * the bind then goes through /proc/self/fd/N. */
static int
confined_source(const struct rt_mount *m, char **path, struct bt_err **err)
{
    _cleanup_close_ int root = open(m->source_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return bt_err_errno(err, errno, "source root '%s'", m->source_root);
    const char *rel = m->source + strlen(m->source_root);
    while (*rel == '/')
        rel++;
    int fd = bt_openat_in_root(root, *rel ? rel : ".", O_PATH, 0, err);
    if (fd < 0)
        return fd;
    *path = xasprintf("/proc/self/fd/%d", fd);
    return fd;
}

static int
do_mount(struct mctx *c, const struct rt_mount *m, struct bt_err **err)
{
    bool is_dir = true;
    _cleanup_close_ int srcfd = -1;
    _cleanup_free_ char *srcpath = NULL;
    const char *source = m->source;
    if (m->bind && m->source_root) {
        srcfd = confined_source(m, &srcpath, err);
        if (srcfd < 0)
            return srcfd;
        source = srcpath;
    }
    if (m->bind) {
        struct stat st;
        if (stat(source, &st) < 0)
            return bt_err_errno(err, errno, "source '%s'", m->source);
        is_dir = S_ISDIR(st.st_mode);
    }
    _cleanup_close_ int fd = target_open(c->rootfd, m->destination, is_dir, err);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *target = fd_path(fd);
    if (m->bind) {
        unsigned long f = MS_BIND | (m->recursive ? MS_REC : 0);
        if (mount(source, target, NULL, f, NULL) < 0)
            return bt_err_errno(err, errno, "bind '%s'", m->source);
        unsigned long extra = m->flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
        if (extra || m->propagation) {
            _cleanup_close_ int fd2 =
                bt_openat_in_root(c->rootfd, m->destination, O_PATH | O_CLOEXEC, 0, err);
            if (fd2 < 0)
                return fd2;
            _cleanup_free_ char *t2 = fd_path(fd2);
            if (extra && remount_bind(t2, extra, err) < 0)
                return bt_err_ret(err);
            if (do_propagation(t2, m->propagation, err) < 0)
                return bt_err_ret(err);
        }
        return 0;
    }
    const char *type = m->type;
    if (strcmp(type, "cgroup") == 0 && c->cg && !rt_cgroup_is_v2(c->cg))
        return mount_cgroup_v1(c, m, fd, err);
    if (strcmp(type, "cgroup") == 0)
        type = "cgroup2";
    if (mount(m->source ? m->source : type, target, type, m->flags & ~MS_REMOUNT, m->data) < 0) {
        int e = errno;
        /* sysfs cannot be mounted from a user namespace that does not own
         * the network namespace: bind the host's instead, as runc does. */
        if (strcmp(type, "sysfs") == 0 && (e == EPERM || e == EACCES) && c->userns) {
            if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0)
                return 0;
        }
        return bt_err_errno(err, e, "mount %s", type);
    }
    if (m->propagation) {
        _cleanup_close_ int fd2 =
            bt_openat_in_root(c->rootfd, m->destination, O_PATH | O_CLOEXEC, 0, err);
        if (fd2 < 0)
            return fd2;
        _cleanup_free_ char *t2 = fd_path(fd2);
        if (do_propagation(t2, m->propagation, err) < 0)
            return bt_err_ret(err);
    }
    return 0;
}

struct std_dev {
    const char *name;
    int major, minor;
    mode_t mode;
};

static const struct std_dev std_devs[] = {
    {"null", 1, 3, 0666},   {"zero", 1, 5, 0666},    {"full", 1, 7, 0666},
    {"random", 1, 8, 0666}, {"urandom", 1, 9, 0666}, {"tty", 5, 0, 0666},
};

static int
make_device(struct mctx *c, const char *path, char type, int64_t major, int64_t minor, mode_t mode,
            uid_t uid, gid_t gid, struct bt_err **err)
{
    _cleanup_free_ char *parent = bt_path_dirname(path);
    _cleanup_close_ int pfd = bt_mkdirat_p_in_root(c->rootfd, parent, 0755, err);
    if (pfd < 0)
        return pfd;
    _cleanup_close_ int dfd =
        bt_openat_in_root(c->rootfd, parent, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0, err);
    if (dfd < 0)
        return dfd;
    const char *base = bt_path_basename(path);
    unlinkat(dfd, base, 0);
    if (c->userns) {
        /* mknod is not allowed in a user namespace: bind the host's node. */
        int f = openat(dfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0)
            return bt_err_errno(err, errno, "create %s", path);
        _cleanup_free_ char *t = fd_path(f);
        int r = mount(path, t, NULL, MS_BIND, NULL);
        int e = errno;
        close(f);
        if (r < 0)
            return bt_err_errno(err, e, "bind device %s", path);
        return 0;
    }
    mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
    if (mknodat(dfd, base, kind | (mode & 07777), makedev(major, minor)) < 0)
        return bt_err_errno(err, errno, "mknod %s", path);
    if (fchmodat(dfd, base, mode & 07777, 0) < 0 ||
        fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return bt_err_errno(err, errno, "chmod/chown %s", path);
    return 0;
}

static int
setup_dev(struct mctx *c, bool dev_is_tmpfs, struct bt_err **err)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(std_devs); i++) {
        _cleanup_free_ char *p = xasprintf("/dev/%s", std_devs[i].name);
        if (make_device(c, p, 'c', std_devs[i].major, std_devs[i].minor, std_devs[i].mode, 0, 0,
                        err) < 0)
            return bt_err_ret(err);
    }
    for (size_t i = 0; i < c->spec->n_devices; i++) {
        const struct rt_device *d = &c->spec->devices[i];
        if (make_device(c, d->path, d->type, d->major, d->minor, d->mode, d->uid, d->gid, err) < 0)
            return bt_err_ret(err);
    }
    if (!dev_is_tmpfs)
        return 0;
    _cleanup_close_ int dfd =
        bt_openat_in_root(c->rootfd, "/dev", O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0, err);
    if (dfd < 0)
        return dfd;
    static const char *const links[][2] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},         {"/proc/kcore", "core"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(links); i++) {
        if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST)
            return bt_err_errno(err, errno, "symlink /dev/%s", links[i][1]);
    }
    return 0;
}

static int
setup_rootfs(const struct rt_spec *s, const struct rt_cgroup *cg, const char *overlay,
             struct bt_err **err)
{
    /* Nothing we mount may propagate back to the host. */
    unsigned long prop = s->rootfs_propagation;
    if (mount(NULL, "/", NULL, (prop & MS_SHARED) ? (MS_SLAVE | MS_REC) : prop, NULL) < 0)
        return bt_err_errno(err, errno, "make / %s", (prop & MS_SHARED) ? "rslave" : "private");
    /* The overlay exists only in the container's mount namespace: nothing
     * is left on the host when the container goes. */
    if (overlay && mount("overlay", s->root_path, "overlay", 0, overlay) < 0)
        return bt_err_errno(err, errno, "mount the overlay root on '%s'", s->root_path);
    if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return bt_err_errno(err, errno, "bind the root '%s'", s->root_path);
    _cleanup_close_ int rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return bt_err_errno(err, errno, "open the root '%s'", s->root_path);
    struct mctx c = {s, cg, rootfd, rt_spec_namespace(s, CLONE_NEWUSER) != NULL};
    bool dev_tmpfs = false;
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct rt_mount *m = &s->mounts[i];
        if (do_mount(&c, m, err) < 0) {
            bt_err_prefix(err, "mount '%s'", m->destination);
            return bt_err_ret(err);
        }
        if (strcmp(m->destination, "/dev") == 0)
            dev_tmpfs = true;
    }
    if (setup_dev(&c, dev_tmpfs, err) < 0) {
        bt_err_prefix(err, "devices");
        return bt_err_ret(err);
    }
    if (chdir(s->root_path) < 0)
        return bt_err_errno(err, errno, "chdir to the root");
    /* pivot_root(".", ".") stacks the old root on top of the new one;
     * detaching it leaves only the container's root. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return bt_err_errno(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return bt_err_errno(err, errno, "detach the old root");
    if (chdir("/") < 0)
        return bt_err_errno(err, errno, "chdir /");
    if ((prop & MS_SHARED) && mount(NULL, "/", NULL, prop, NULL) < 0)
        return bt_err_errno(err, errno, "set the root's propagation");
    return 0;
}

static int
finish_rootfs(const struct rt_spec *s, struct bt_err **err)
{
    /* setup_dev() made /dev/null itself; make sure masked files get exactly
     * that node and nothing the image put there. */
    struct stat ns;
    if (s->masked_paths && s->masked_paths[0] &&
        (lstat("/dev/null", &ns) < 0 || !S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3)))
        return bt_err_set(err, EINVAL, "/dev/null is not the null device");
    const char *null_path = "/dev/null";
    bt_strv_foreach (p, s->masked_paths) {
        struct stat st;
        if (lstat(p, &st) < 0) {
            if (errno == ENOENT)
                continue;
            return bt_err_errno(err, errno, "masked path '%s'", p);
        }
        int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")
                                    : mount(null_path, p, NULL, MS_BIND, NULL);
        if (r < 0)
            return bt_err_errno(err, errno, "mask '%s'", p);
        if (!S_ISDIR(st.st_mode) && remount_bind(p, MS_RDONLY, err) < 0) {
            bt_err_prefix(err, "mask '%s'", p);
            return bt_err_ret(err);
        }
    }
    bt_strv_foreach (p, s->readonly_paths) {
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT)
                continue;
            return bt_err_errno(err, errno, "read-only path '%s'", p);
        }
        if (remount_bind(p, MS_RDONLY, err) < 0) {
            bt_err_prefix(err, "read-only path '%s'", p);
            return bt_err_ret(err);
        }
    }
    if (s->root_readonly && remount_bind("/", MS_RDONLY, err) < 0) {
        bt_err_prefix(err, "read-only root");
        return bt_err_ret(err);
    }
    return 0;
}

static int
apply_sysctls(const struct rt_spec *s, struct bt_err **err)
{
    for (size_t i = 0; i < s->n_sysctls; i++) {
        _cleanup_free_ char *p = xasprintf("/proc/sys/%s", s->sysctls[i].key);
        for (char *q = p + strlen("/proc/sys/"); *q; q++)
            if (*q == '.')
                *q = '/';
        if (write_proc(p, s->sysctls[i].value, err) < 0) {
            bt_err_prefix(err, "sysctl %s", s->sysctls[i].key);
            return bt_err_ret(err);
        }
    }
    return 0;
}

static int
apply_rlimits(const struct rt_process *p, struct bt_err **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            return bt_err_errno(err, errno, "set %s", rt_rlimit_name(p->rlimits[i].resource));
    }
    return 0;
}

/* Opens a pty in the container's own devpts, sends the master to the
 * parent and makes the slave the controlling terminal and stdio. */
static int
setup_pty(int sync_fd, unsigned w, unsigned h, struct bt_err **err)
{
    _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return bt_err_errno(err, errno, "open /dev/ptmx");
    if (unlockpt(master) < 0)
        return bt_err_errno(err, errno, "unlockpt");
    char name[64];
    if (ptsname_r(master, name, sizeof(name)) != 0)
        return bt_err_errno(err, errno, "ptsname");
    _cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return bt_err_errno(err, errno, "open %s", name);
    if (w && h) {
        struct winsize ws = {.ws_row = (unsigned short)h, .ws_col = (unsigned short)w};
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    /* /dev/console is the pty too, as in Docker. */
    struct stat st;
    if (stat("/dev", &st) == 0) {
        int cfd = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (cfd >= 0) {
            close(cfd);
            if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
                return bt_err_errno(err, errno, "bind /dev/console");
        }
    }
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return bt_err_errno(err, errno, "make the pty the controlling terminal");
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            return bt_err_errno(err, errno, "dup2");
    int r = rt_sync_send(sync_fd, RT_SYNC_PTY, 0, name, master);
    if (r < 0)
        return bt_err_errno(err, -r, "send the pty");
    return 0;
}

static int
setup_stdio(const int stdio[3], struct bt_err **err)
{
    for (int i = 0; i < 3; i++) {
        if (stdio[i] < 0 || stdio[i] == i)
            continue;
        if (dup2(stdio[i], i) < 0)
            return bt_err_errno(err, errno, "dup2 stdio");
    }
    return 0;
}

/* ---- identity and privileges ---- */

static int
capset_all(const struct rt_caps *c, struct bt_err **err)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable},
        {(uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32),
         (uint32_t)(c->inheritable >> 32)},
    };
    if (syscall(SYS_capset, &hdr, d) < 0)
        return bt_err_errno(err, errno, "capset");
    return 0;
}

static int
drop_bounding(uint64_t bounding, struct bt_err **err)
{
    for (int cap = 0; cap <= 63; cap++) {
        if (bounding & (UINT64_C(1) << cap))
            continue;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0)
            continue; /* unknown to this kernel, or already dropped */
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return bt_err_errno(err, errno, "drop %s from the bounding set",
                                rt_cap_name(cap) ? rt_cap_name(cap) : "capability");
    }
    return 0;
}

struct identity {
    uid_t uid;
    gid_t gid;
    const gid_t *gids;
    size_t n_gids;
    bool userns_setgroups_denied;
};

static int
become(const struct identity *id, const struct rt_caps *caps, bool no_new_privs,
       const struct rt_seccomp *seccomp, struct bt_err **err)
{
    if (drop_bounding(caps->bounding, err) < 0)
        return bt_err_ret(err);
    /* Without no_new_privs loading a filter needs CAP_SYS_ADMIN, which the
     * switch of user below may take away: load it first. */
    if (seccomp && !no_new_privs && rt_seccomp_load(seccomp, err) < 0)
        return bt_err_ret(err);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return bt_err_errno(err, errno, "keep capabilities");
    if (setgroups(id->n_gids, id->gids) < 0 && !(errno == EPERM && id->userns_setgroups_denied))
        return bt_err_errno(err, errno, "setgroups");
    if (setresgid(id->gid, id->gid, id->gid) < 0)
        return bt_err_errno(err, errno, "setgid %u", (unsigned)id->gid);
    if (setresuid(id->uid, id->uid, id->uid) < 0)
        return bt_err_errno(err, errno, "setuid %u", (unsigned)id->uid);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return bt_err_errno(err, errno, "reset keep-capabilities");
    if (capset_all(caps, err) < 0)
        return bt_err_ret(err);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return bt_err_errno(err, errno, "clear ambient capabilities");
    for (int cap = 0; cap <= 63; cap++) {
        if (!(caps->ambient & (UINT64_C(1) << cap)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return bt_err_errno(err, errno, "raise ambient %s", rt_cap_name(cap));
    }
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return bt_err_errno(err, errno, "set no_new_privs");
    if (seccomp && no_new_privs && rt_seccomp_load(seccomp, err) < 0)
        return bt_err_ret(err);
    return 0;
}

static const char *
env_get(char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

/* execve with a PATH search over the container's own PATH; returns the
 * error only when nothing could be executed. */
static int
exec_in_path(char *const *args, char *const *env, struct bt_err **err)
{
    const char *prog = args[0];
    if (strchr(prog, '/')) {
        execve(prog, args, env);
        return bt_err_errno(err, errno, "exec '%s'", prog);
    }
    const char *path = env_get(env, "PATH");
    if (!path)
        path = default_path;
    _cleanup_strv_ char **dirs = bt_strv_split(path, ":");
    int saved = ENOENT;
    bt_strv_foreach (d, dirs) {
        _cleanup_free_ char *full = bt_path_join(d[0] ? d : ".", prog);
        execve(full, args, env);
        if (errno == EACCES)
            saved = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR)
            return bt_err_errno(err, errno, "exec '%s'", full);
    }
    return bt_err_errno(err, saved, "exec '%s'", prog);
}

/* HOME from the container's /etc/passwd when the spec does not set it,
 * "/" when the user has no entry (as runc and crun do). */
static char **
add_home(char **env, uid_t uid)
{
    if (env_get(env, "HOME"))
        return env;
    _cleanup_free_ char *home = NULL;
    _cleanup_free_ char *db = bt_file_read_all("/etc/passwd", NULL, NULL);
    _cleanup_strv_ char **lines = bt_strv_split(db ? db : "", "\n");
    bt_strv_foreach (l, lines) {
        _cleanup_strv_ char **f = bt_strv_split(l, ":");
        int64_t v;
        if (bt_strv_length(f) >= 6 && bt_parse_int64(f[2], &v) && v == (int64_t)uid) {
            home = xstrdup(f[5]);
            break;
        }
    }
    return bt_strv_push_take(env, xasprintf("HOME=%s", home && home[0] ? home : "/"));
}

static char **
merge_env(char *const *base, char *const *extra)
{
    char **out = bt_strv_copy(base);
    for (size_t i = 0; extra && extra[i]; i++) {
        const char *eq = strchr(extra[i], '=');
        size_t klen = eq ? (size_t)(eq - extra[i]) : strlen(extra[i]);
        bool replaced = false;
        for (size_t k = 0; out && out[k]; k++) {
            if (strncmp(out[k], extra[i], klen) == 0 && out[k][klen] == '=') {
                free(out[k]);
                out[k] = xstrdup(extra[i]);
                replaced = true;
                break;
            }
        }
        if (!replaced)
            out = bt_strv_push(out, extra[i]);
    }
    if (!out)
        out = xcalloc(1, sizeof(char *));
    return out;
}

/* ---- namespaces ---- */

static const char *
ns_file(int type)
{
    switch (type) {
    case CLONE_NEWPID:
        return "pid";
    case CLONE_NEWNET:
        return "net";
    case CLONE_NEWNS:
        return "mnt";
    case CLONE_NEWIPC:
        return "ipc";
    case CLONE_NEWUTS:
        return "uts";
    case CLONE_NEWUSER:
        return "user";
    case CLONE_NEWCGROUP:
        return "cgroup";
    default:
        return "?";
    }
}

static int
join_ns(const char *path, int type, struct bt_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open %s namespace '%s'", ns_file(type), path);
    if (setns(fd, type) < 0)
        return bt_err_errno(err, errno, "join %s namespace '%s'", ns_file(type), path);
    return 0;
}

static int
write_idmap(pid_t pid, const char *file, const struct rt_idmap *m, size_t n, struct bt_err **err)
{
    struct bt_buf b = {0};
    for (size_t i = 0; i < n; i++)
        bt_buf_printf(&b, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    _cleanup_free_ char *s = bt_buf_steal(&b);
    bt_buf_done(&b);
    _cleanup_free_ char *p = xasprintf("/proc/%d/%s", (int)pid, file);
    return write_proc(p, s, err);
}

/* ---- the child ---- */

struct child_args {
    const struct rt_spec *spec;
    const struct engine_init_opts *opts;
    const struct rt_cgroup *cg;
    int sync_fd;
    int fifo_fd;
};

static int
wait_fifo(int fd, struct bt_err **err)
{
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return bt_err_errno(err, errno, "wait on exec.fifo");
        }
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return bt_err_errno(err, errno, "read exec.fifo");
        if (n == 0) {
            /* A writer came and went without a byte: wait for the next. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static int
child_setup(struct child_args *a, struct bt_err **err)
{
    const struct rt_spec *s = a->spec;
    if (rt_sync_expect(a->sync_fd, RT_SYNC_GO, NULL, err) < 0)
        return bt_err_ret(err);
    const struct rt_namespace *user = rt_spec_namespace(s, CLONE_NEWUSER);
    if (user && user->path && join_ns(user->path, CLONE_NEWUSER, err) < 0)
        return bt_err_ret(err);
    if (user) {
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            return bt_err_errno(err, errno, "become root in the user namespace");
    }
    for (size_t i = 0; i < s->n_namespaces; i++) {
        const struct rt_namespace *ns = &s->namespaces[i];
        if (!ns->path || ns->type == CLONE_NEWUSER || ns->type == CLONE_NEWPID)
            continue;
        if (join_ns(ns->path, ns->type, err) < 0)
            return bt_err_ret(err);
    }
    const struct rt_namespace *cgns = rt_spec_namespace(s, CLONE_NEWCGROUP);
    if (cgns && !cgns->path && unshare(CLONE_NEWCGROUP) < 0)
        return bt_err_errno(err, errno, "create the cgroup namespace");
    if (setsid() < 0)
        return bt_err_errno(err, errno, "setsid");
    if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
        return bt_err_errno(err, errno, "prctl");
    const struct rt_namespace *mnt = rt_spec_namespace(s, CLONE_NEWNS);
    if (mnt && !mnt->path && setup_rootfs(s, a->cg, a->opts->overlay, err) < 0) {
        bt_err_prefix(err, "root filesystem");
        return bt_err_ret(err);
    }
    const struct rt_namespace *uts = rt_spec_namespace(s, CLONE_NEWUTS);
    if (uts && !uts->path) {
        if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
            return bt_err_errno(err, errno, "set hostname '%s'", s->hostname);
        if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
            return bt_err_errno(err, errno, "set domainname '%s'", s->domainname);
    }
    if (apply_sysctls(s, err) < 0)
        return bt_err_ret(err);
    if (s->process.terminal) {
        if (setup_pty(a->sync_fd, s->process.console_width, s->process.console_height, err) < 0) {
            bt_err_prefix(err, "terminal");
            return bt_err_ret(err);
        }
    } else if (setup_stdio(a->opts->stdio, err) < 0) {
        return bt_err_ret(err);
    }
    if (mnt && !mnt->path && finish_rootfs(s, err) < 0)
        return bt_err_ret(err);
    if (s->process.oom_score_adj_set) {
        char v[16];
        snprintf(v, sizeof(v), "%d", s->process.oom_score_adj);
        if (write_proc("/proc/self/oom_score_adj", v, err) < 0)
            return bt_err_ret(err);
    }
    if (apply_rlimits(&s->process, err) < 0)
        return bt_err_ret(err);
    if (chdir(s->process.cwd) < 0)
        return bt_err_errno(err, errno, "cwd '%s'", s->process.cwd);
    if (s->process.umask >= 0)
        umask((mode_t)s->process.umask);
    return 0;
}

/* init: true — PID 1 stays ours: it forwards signals to the process and
 * reaps every zombie, exiting with the process's status. Returns in the
 * child, which goes on to exec. */
static void
init_fork(int sync_fd)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t child = fork();
    if (child < 0) {
        struct bt_err *err = NULL;
        bt_err_errno(&err, errno, "fork the process under init");
        rt_sync_fail(sync_fd, err);
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    /* the child's execve closes the last copy: the runtime sees EOF */
    close(sync_fd);
    /* Nor may PID 1 keep what it inherited from the monitor (the host ports
     * it holds, its log and control sockets): the process's exec closed
     * them, this copy of the monitor's code did not. */
    close_range(3, ~0U, 0);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            if (p == child)
                _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
    }
}

static _Noreturn void
child_main(struct child_args *a)
{
    struct bt_err *err = NULL;
    if (child_setup(a, &err) < 0)
        rt_sync_fail(a->sync_fd, err);
    if (rt_sync_send(a->sync_fd, RT_SYNC_READY, 0, NULL, -1) < 0)
        _exit(1);
    if (a->fifo_fd >= 0) {
        if (wait_fifo(a->fifo_fd, &err) < 0)
            rt_sync_fail(a->sync_fd, err);
        close(a->fifo_fd);
    } else if (rt_sync_expect(a->sync_fd, RT_SYNC_START, NULL, &err) < 0) {
        _exit(1); /* the parent went away or gave up: nothing to run */
    }
    const struct rt_spec *s = a->spec;
    struct identity id = {s->process.uid, s->process.gid, s->process.additional_gids,
                          s->process.n_additional_gids, rt_spec_namespace(s, CLONE_NEWUSER)};
    _cleanup_strv_ char **env = add_home(merge_env(s->process.env, a->opts->extra_env), id.uid);
    if (become(&id, &s->process.caps, s->process.no_new_privs, s->seccomp, &err) < 0)
        rt_sync_fail(a->sync_fd, err);
    if (a->opts->init)
        init_fork(a->sync_fd);
    exec_in_path(s->process.args, env, &err);
    if (a->fifo_fd >= 0 && err) /* nobody listens on the sync socket after create */
        dprintf(STDERR_FILENO, "berth: %s\n", err->msg);
    rt_sync_fail(a->sync_fd, err);
}

static pid_t
clone_fork(unsigned long flags)
{
    /* A raw clone with no new stack behaves like fork() and takes namespace
     * flags; the child only makes system calls until it execs. */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int
engine_wait_exit(pid_t pid, struct bt_err **err)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return bt_err_errno(err, errno, "wait for %d", (int)pid);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static void
reap_quietly(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int
engine_init_create(const struct rt_spec *s, const struct engine_init_opts *o,
                   struct engine_init *out, struct bt_err **err)
{
    *out = (struct engine_init){.pid = -1, .sync_fd = -1, .pty_master = -1};
    /* compiled here, in the parent: the child only loads it */
    if (s->seccomp && rt_seccomp_prepare(s->seccomp, err) < 0)
        return bt_err_ret(err);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
        rt_cgroup_resolve(NULL, s->cgroups_path, o->id, err);
    if (!cg)
        return bt_err_ret(err);
    if (rt_cgroup_create(cg, &s->resources, err) < 0) {
        struct bt_err *ignored = NULL; /* the create error is the one to report */
        rt_cgroup_destroy(cg, &ignored);
        bt_err_free(ignored);
        return bt_err_ret(err);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return bt_err_errno(err, errno, "socketpair");
    _cleanup_close_ int parent_fd = sv[0];
    _cleanup_close_ int child_fd = sv[1];
    _cleanup_close_ int fifo_fd = -1;
    if (o->wait_fifo) {
        _cleanup_free_ char *fifo = bt_path_join(o->state_dir, "exec.fifo");
        if (mkfifo(fifo, 0600) < 0)
            return bt_err_errno(err, errno, "create %s", fifo);
        fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo_fd < 0)
            return bt_err_errno(err, errno, "open %s", fifo);
    }

    unsigned long flags = 0;
    for (size_t i = 0; i < s->n_namespaces; i++)
        if (!s->namespaces[i].path && s->namespaces[i].type != CLONE_NEWCGROUP)
            flags |= (unsigned long)s->namespaces[i].type;
    /* Joining a pid namespace affects the children of the caller only: enter
     * it for the clone, then come back. */
    const struct rt_namespace *pidns = rt_spec_namespace(s, CLONE_NEWPID);
    _cleanup_close_ int own_pidns = -1;
    if (pidns && pidns->path) {
        own_pidns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0)
            return bt_err_errno(err, errno, "open own pid namespace");
        if (join_ns(pidns->path, CLONE_NEWPID, err) < 0)
            return bt_err_ret(err);
    }
    pid_t pid = clone_fork(flags);
    if (pid == 0) {
        close(parent_fd);
        struct child_args a = {s, o, cg, child_fd, fifo_fd};
        child_main(&a);
    }
    int clone_errno = errno;
    if (own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0)
        bt_warn("could not return to the own pid namespace (not fatal): %s", strerror(errno));
    if (pid < 0) {
        struct bt_err *ignored = NULL; /* the clone error is the one to report */
        rt_cgroup_destroy(cg, &ignored);
        bt_err_free(ignored);
        return bt_err_errno(err, clone_errno, "clone the container process");
    }
    close(TAKE_FD(child_fd));

    int r = 0;
    const struct rt_namespace *user = rt_spec_namespace(s, CLONE_NEWUSER);
    if (user && !user->path) {
        if (write_idmap(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0 ||
            write_idmap(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0)
            r = bt_err_ret(err);
    }
    if (r == 0 && rt_cgroup_attach(cg, pid, err) < 0)
        r = bt_err_ret(err);
    if (r == 0) {
        int e = rt_sync_send(parent_fd, RT_SYNC_GO, 0, NULL, -1);
        if (e < 0)
            r = bt_err_errno(err, -e, "start the container process");
    }
    if (r == 0 && s->process.terminal)
        r = rt_sync_expect(parent_fd, RT_SYNC_PTY, &out->pty_master, err);
    if (r == 0)
        r = rt_sync_expect(parent_fd, RT_SYNC_READY, NULL, err);
    if (r < 0) {
        reap_quietly(pid);
        if (out->pty_master >= 0)
            close(out->pty_master);
        out->pty_master = -1;
        struct bt_err *ignored = NULL; /* the set-up error is the one to report */
        rt_cgroup_destroy(cg, &ignored);
        bt_err_free(ignored);
        if (o->wait_fifo) {
            _cleanup_free_ char *fifo = bt_path_join(o->state_dir, "exec.fifo");
            unlink(fifo);
        }
        return r;
    }
    out->pid = pid;
    out->sync_fd = TAKE_FD(parent_fd);
    out->cgroup = TAKE_PTR(cg);
    return 0;
}

int
engine_init_start(struct engine_init *init, struct bt_err **err)
{
    int e = rt_sync_send(init->sync_fd, RT_SYNC_START, 0, NULL, -1);
    if (e < 0)
        return bt_err_errno(err, -e, "start the container process");
    /* The sync socket is close-on-exec: end of file means execve worked. */
    struct rt_sync_msg m;
    int r = rt_sync_recv(init->sync_fd, &m, NULL);
    close(init->sync_fd);
    init->sync_fd = -1;
    if (r == -EPIPE)
        return 0;
    if (r < 0)
        return bt_err_errno(err, -r, "read the sync socket");
    if (m.type == RT_SYNC_ERROR)
        return bt_err_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
    return bt_err_set(err, EPROTO, "unexpected sync message %d", m.type);
}

void
engine_init_done(struct engine_init *init)
{
    if (init->sync_fd >= 0)
        close(init->sync_fd);
    if (init->pty_master >= 0)
        close(init->pty_master);
    init->sync_fd = init->pty_master = -1;
    init->cgroup = rt_cgroup_free(init->cgroup);
}

/* ---- exec ---- */

static int
exec_child(const struct engine_exec_opts *o, int sync_fd, struct bt_err **err)
{
    const struct rt_spec *s = o->spec;
    static const int order[] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS, CLONE_NEWNET,
                                CLONE_NEWPID,  CLONE_NEWCGROUP, CLONE_NEWNS};
    if (o->cgroup && rt_cgroup_attach((struct rt_cgroup *)o->cgroup, getpid(), err) < 0) {
        bt_err_prefix(err, "join the container's cgroup");
        return bt_err_ret(err);
    }
    /* Open every namespace first: after joining the mount namespace the
     * host's /proc is gone. */
    int fds[BT_ARRAY_SIZE(order)];
    for (size_t i = 0; i < BT_ARRAY_SIZE(order); i++) {
        fds[i] = -1;
        if (!rt_spec_namespace(s, order[i]))
            continue;
        _cleanup_free_ char *p = xasprintf("/proc/%d/ns/%s", (int)o->target, ns_file(order[i]));
        fds[i] = open(p, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            return bt_err_errno(err, errno, "open %s", p);
    }
    for (size_t i = 0; i < BT_ARRAY_SIZE(order); i++) {
        if (fds[i] < 0)
            continue;
        if (setns(fds[i], order[i]) < 0 && !(order[i] == CLONE_NEWUSER && errno == EINVAL))
            return bt_err_errno(err, errno, "join the container's %s namespace", ns_file(order[i]));
        close(fds[i]);
    }
    return 0;
}

static _Noreturn void
exec_grandchild(const struct engine_exec_opts *o, int sync_fd)
{
    struct bt_err *err = NULL;
    const struct rt_spec *s = o->spec;
    if (setsid() < 0)
        rt_sync_fail(sync_fd, err);
    if (o->tty) {
        if (setup_pty(sync_fd, o->tty_width, o->tty_height, &err) < 0)
            rt_sync_fail(sync_fd, err);
    } else if (setup_stdio(o->stdio, &err) < 0) {
        rt_sync_fail(sync_fd, err);
    }
    const char *cwd = o->cwd ? o->cwd : s->process.cwd;
    if (chdir(cwd) < 0) {
        bt_err_errno(&err, errno, "cwd '%s'", cwd);
        rt_sync_fail(sync_fd, err);
    }
    if (apply_rlimits(&s->process, &err) < 0)
        rt_sync_fail(sync_fd, err);
    struct identity id = {s->process.uid, s->process.gid, s->process.additional_gids,
                          s->process.n_additional_gids, rt_spec_namespace(s, CLONE_NEWUSER)};
    if (o->user_set) {
        id.uid = o->uid;
        id.gid = o->gid;
        id.gids = o->additional_gids;
        id.n_gids = o->n_additional_gids;
    }
    _cleanup_strv_ char **env = add_home(merge_env(s->process.env, o->env), id.uid);
    pid_t middle = getppid();
    if (become(&id, &s->process.caps, s->process.no_new_privs, s->seccomp, &err) < 0)
        rt_sync_fail(sync_fd, err);
    /* Dies with the middle process, so that killing the pid the caller
     * knows ends the command too (set after the user switch, which clears
     * it). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != middle)
        _exit(137);
    exec_in_path(o->args ? o->args : s->process.args, env, &err);
    rt_sync_fail(sync_fd, err);
}

static volatile pid_t forward_to;

static void
forward_signal(int sig)
{
    if (forward_to > 0)
        kill(forward_to, sig);
}

int
engine_process_exec(const struct engine_exec_opts *o, struct engine_exec *out, struct bt_err **err)
{
    *out = (struct engine_exec){.pid = -1, .pty_master = -1};
    if (o->spec->seccomp && rt_seccomp_prepare(o->spec->seccomp, err) < 0)
        return bt_err_ret(err);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return bt_err_errno(err, errno, "socketpair");
    _cleanup_close_ int parent_fd = sv[0];
    _cleanup_close_ int child_fd = sv[1];
    pid_t pid = fork();
    if (pid < 0)
        return bt_err_errno(err, errno, "fork");
    if (pid == 0) {
        /* The middle process joins the namespaces and forks once more, so
         * the process lands inside the pid namespace; it then waits and
         * passes the exit status on. */
        close(parent_fd);
        struct bt_err *e = NULL;
        if (exec_child(o, child_fd, &e) < 0)
            rt_sync_fail(child_fd, e);
        pid_t gc = fork();
        if (gc < 0) {
            bt_err_errno(&e, errno, "fork");
            rt_sync_fail(child_fd, e);
        }
        if (gc == 0)
            exec_grandchild(o, child_fd);
        close(child_fd);
        forward_to = gc;
        static const int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
        struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
        for (size_t i = 0; i < BT_ARRAY_SIZE(fwd); i++)
            sigaction(fwd[i], &sa, NULL);
        /* Signals for the exec'd process reach it through the middle one. */
        int r = engine_wait_exit(gc, &e);
        _exit(r < 0 ? 127 : r);
    }
    close(TAKE_FD(child_fd));
    /* Joining and exec'ing takes milliseconds; a process stuck on the way
     * (a container frozen meanwhile) must not hold the caller for ever. */
    struct timeval tv = {30, 0};
    setsockopt(parent_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct rt_sync_msg m;
    int master = -1;
    for (;;) {
        int fdp = -1;
        int r = rt_sync_recv(parent_fd, &m, &fdp);
        if (r == -EPIPE)
            break; /* exec succeeded: every copy of the socket is closed */
        if (r < 0) {
            if (master >= 0)
                close(master);
            if (r == -EAGAIN) {
                /* it may be frozen and unable to die yet: not waited for
                 * here, the caller's reaping collects it later */
                kill(pid, SIGKILL);
                waitpid(pid, NULL, WNOHANG);
                return bt_err_set(err, ETIMEDOUT, "the process did not start within 30 s");
            }
            reap_quietly(pid);
            return bt_err_errno(err, -r, "read the sync socket");
        }
        if (m.type == RT_SYNC_PTY) {
            master = fdp;
            continue;
        }
        if (fdp >= 0)
            close(fdp);
        if (master >= 0)
            close(master);
        reap_quietly(pid);
        if (m.type == RT_SYNC_ERROR)
            return bt_err_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
        return bt_err_set(err, EPROTO, "unexpected sync message %d", m.type);
    }
    out->pid = pid;
    out->pty_master = master;
    return 0;
}

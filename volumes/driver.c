/* The local driver's options: `type`, `o` and `device`, as `docker volume
 * create --opt` takes them. A volume with options gets that mount made on
 * its _data when its first user acquires it and undone when the last one
 * releases it. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "volumes/volumes-internal.h"

struct mount_flag {
    const char *name;
    bool clear;
    unsigned long flag;
};

static const struct mount_flag mount_flags[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

/* Words that would change other mounts than the volume's own. */
static bool
is_forbidden(const char *w)
{
    static const char *const words[] = {"remount",  "move",  "shared", "rshared",    "private",
                                        "rprivate", "slave", "rslave", "unbindable", "runbindable"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(words); i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return false;
}

/* Splits `o` into mount flags and the filesystem's data string (owned). */
static int
parse_o(const char *o, unsigned long *flags, char **data, struct bt_err **err)
{
    *flags = 0;
    *data = NULL;
    if (!o || !*o)
        return 0;
    _cleanup_strv_ char **parts = bt_strv_split(o, ",");
    struct bt_buf b = {0};
    bt_strv_foreach (p, parts) {
        if (!*p)
            continue;
        const struct mount_flag *mf = NULL;
        for (size_t i = 0; i < BT_ARRAY_SIZE(mount_flags); i++)
            if (strcmp(p, mount_flags[i].name) == 0)
                mf = &mount_flags[i];
        if (mf) {
            if (mf->clear)
                *flags &= ~mf->flag;
            else
                *flags |= mf->flag;
            continue;
        }
        if (is_forbidden(p)) {
            bt_buf_done(&b);
            return bt_err_set(err, EINVAL, "option o: '%s' is not allowed", p);
        }
        if (b.len)
            bt_buf_putc(&b, ',');
        bt_buf_puts(&b, p);
    }
    *data = b.len ? bt_buf_steal(&b) : NULL;
    bt_buf_done(&b);
    return 0;
}

int
vol_driver_opts_validate(char *const *opts, struct bt_err **err)
{
    if (vol_kv_validate(opts, "option", err) < 0)
        return bt_err_ret(err);
    for (size_t i = 0; opts && opts[i]; i++) {
        const char *eq = strchr(opts[i], '=');
        size_t n = eq ? (size_t)(eq - opts[i]) : strlen(opts[i]);
        if (!((n == 4 && strncmp(opts[i], "type", 4) == 0) ||
              (n == 1 && strncmp(opts[i], "o", 1) == 0) ||
              (n == 6 && strncmp(opts[i], "device", 6) == 0)))
            return bt_err_set(err, EINVAL,
                              "invalid option '%.*s' for the local driver (type, o, device)",
                              (int)n, opts[i]);
    }
    const char *type = vol_kv_get(opts, "type");
    const char *device = vol_kv_get(opts, "device");
    const char *o = vol_kv_get(opts, "o");
    if (!type && !device && !o)
        return 0;
    /* The pairs Docker's local driver insists on. */
    if (!type || !*type)
        return bt_err_set(err, EINVAL, "missing required option 'type'");
    if (!device || !*device)
        return bt_err_set(err, EINVAL, "missing required option 'device'");
    unsigned long flags;
    _cleanup_free_ char *data = NULL;
    if (parse_o(o, &flags, &data, err) < 0)
        return bt_err_ret(err);
    if (flags & MS_BIND) {
        if (device[0] != '/')
            return bt_err_set(err, EINVAL, "option device: bind source '%s' is not absolute",
                              device);
        if (data)
            return bt_err_set(err, EINVAL, "option o: '%s' does not apply to a bind mount", data);
    } else if (strcmp(type, "none") == 0) {
        return bt_err_set(err, EINVAL, "option type 'none' needs o=bind");
    }
    return 0;
}

int
vol_data_is_mounted(struct vol_store *st, const char *name, struct bt_err **err)
{
    _cleanup_free_ char *rel = xasprintf("%s/_data", name);
    struct statx stx;
    if (statx(st->dirfd, rel, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0) {
        if (errno == ENOENT)
            return 0;
        return bt_err_errno(err, errno, "stat '%s/%s'", st->path, rel);
    }
    /* STATX_ATTR_MOUNT_ROOT: Linux 5.8. It also sees a bind mount of a
     * directory of the same filesystem, which st_dev would not. */
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return bt_err_set(err, ENOTSUP, "stat '%s/%s': the kernel does not report mount roots",
                          st->path, rel);
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

int
vol_driver_mount(struct vol_store *st, const struct vol_volume *v, struct bt_err **err)
{
    const char *type = vol_kv_get(v->options, "type");
    const char *device = vol_kv_get(v->options, "device");
    if (!type || !device)
        return 0;
    unsigned long flags;
    _cleanup_free_ char *data = NULL;
    if (parse_o(vol_kv_get(v->options, "o"), &flags, &data, err) < 0)
        return bt_err_ret(err);
    /* Mount on the fd, not the path, so that no symlink swapped in for
     * _data can redirect the mount. */
    _cleanup_close_ int fd = vol_data_open(st, v->name, O_PATH, err);
    if (fd < 0)
        return fd;
    char target[64];
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (!(flags & MS_BIND)) {
        if (mount(device, target, type, flags, data) < 0)
            return bt_err_errno(err, errno, "mount %s '%s' on '%s'", type, device, v->mountpoint);
        return 0;
    }
    if (mount(device, target, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
        return bt_err_errno(err, errno, "bind '%s' on '%s'", device, v->mountpoint);
    unsigned long rest = flags & ~(MS_BIND | MS_REC);
    if (!rest)
        return 0;
    /* Flags of a bind mount take a remount of the new mount (reopened, so
     * the fd names its root and not the directory beneath it). */
    _cleanup_close_ int mfd = vol_data_open(st, v->name, O_PATH, err);
    int r = mfd < 0 ? mfd : 0;
    if (r == 0) {
        snprintf(target, sizeof(target), "/proc/self/fd/%d", mfd);
        if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | rest, NULL) < 0)
            r = bt_err_errno(err, errno, "remount '%s'", v->mountpoint);
    }
    if (r < 0) {
        struct bt_err *e = NULL;
        vol_driver_unmount(st, v, &e);
        bt_err_free(e); /* the remount error is the one to report */
    }
    return r;
}

int
vol_driver_unmount(struct vol_store *st, const struct vol_volume *v, struct bt_err **err)
{
    int r = vol_data_is_mounted(st, v->name, err);
    if (r <= 0)
        return r;
    _cleanup_free_ char *path = xasprintf("%s/%s/_data", st->path, v->name);
    /* Detach: a container that still has it in its own namespace keeps its
     * copy; the host's view goes now. */
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
        return bt_err_errno(err, errno, "unmount '%s'", path);
    return 0;
}

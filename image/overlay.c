/* image: mounting an image's layers with overlayfs.
 *
 * mount(2) takes all options in one page, so a long lowerdir list does not
 * fit (about 60 layers of /var/lib/berth/image/layers/<64 hex>/diff). The
 * new mount API's "lowerdir+" (Linux 6.8) adds one layer per fsconfig
 * call with no such limit. Older kernels get Docker's overlay2 answer:
 * short symlinks (l/<12 hex>) named relative to the store directory, with
 * the mount made from inside it. */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "image/image-internal.h"

static int
fsconfig_str(int fd, const char *key, const char *val, struct bt_err **err)
{
    if (fsconfig(fd, FSCONFIG_SET_STRING, key, val, 0) < 0)
        return bt_err_errno(err, errno, "overlay option %s=%s", key, val);
    return 0;
}

static int
mount_new_api(char *const *lowerdirs, const char *upper, const char *work, const char *target,
              struct bt_err **err)
{
    _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fsfd < 0)
        return bt_err_errno(err, errno, "fsopen overlay");
    /* Probe with the first layer: a kernel without "lowerdir+" says
     * EINVAL, and the caller falls back. */
    bt_strv_foreach (l, (char **)lowerdirs) {
        int r = fsconfig_str(fsfd, "lowerdir+", l, err);
        if (r < 0)
            return r;
    }
    if (upper) {
        int r = fsconfig_str(fsfd, "upperdir", upper, err);
        if (r == 0)
            r = fsconfig_str(fsfd, "workdir", work, err);
        if (r < 0)
            return r;
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return bt_err_errno(err, errno, "create overlay");
    _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY);
    if (mfd < 0)
        return bt_err_errno(err, errno, "fsmount overlay");
    if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return bt_err_errno(err, errno, "mount overlay on '%s'", target);
    return 0;
}

/* The short name of a store layer directory, or the path itself. */
static char *
short_lower(struct image_store *s, const char *dir)
{
    _cleanup_free_ char *prefix = xasprintf("%s/layers/", image_store_dir(s));
    if (!bt_str_startswith(dir, prefix) || !bt_str_endswith(dir, "/diff"))
        return xstrdup(dir);
    _cleanup_free_ char *layer = bt_path_dirname(dir);
    _cleanup_free_ char *mp = bt_path_join(layer, "layer.json");
    _cleanup_json_ json_t *meta = json_load_file(mp, 0, NULL);
    const char *link = bt_json_str(meta, "link");
    if (!link)
        return xstrdup(dir);
    return xasprintf("l/%s", link);
}

int
image_overlay_mount_legacy(struct image_store *s, char *const *lowerdirs, const char *upper,
                           const char *work, const char *target, struct bt_err **err)
{
    struct bt_buf opts = {0};
    bt_buf_puts(&opts, "lowerdir=");
    bt_strv_foreach (l, (char **)lowerdirs) {
        _cleanup_free_ char *sl = short_lower(s, l);
        if (opts.len > 9)
            bt_buf_putc(&opts, ':');
        bt_buf_puts(&opts, sl);
    }
    if (upper)
        bt_buf_printf(&opts, ",upperdir=%s,workdir=%s", upper, work);
    _cleanup_free_ char *o = bt_buf_steal(&opts);
    long page = sysconf(_SC_PAGESIZE);
    if ((long)strlen(o) >= page)
        return bt_err_set(err, E2BIG, "overlay options for %zu layers exceed %ld bytes",
                          bt_strv_length((char **)lowerdirs), page);
    _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return bt_err_errno(err, errno, "open current directory");
    if (chdir(image_store_dir(s)) < 0)
        return bt_err_errno(err, errno, "chdir '%s'", image_store_dir(s));
    int r = 0;
    if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, o) < 0)
        r = bt_err_errno(err, errno, "mount overlay on '%s'", target);
    if (fchdir(cwd) < 0 && r == 0)
        r = bt_err_errno(err, errno, "return to the previous directory");
    return r;
}

int
image_overlay_mount(struct image_store *s, char *const *lowerdirs, const char *upper,
                    const char *work, const char *target, struct bt_err **err)
{
    if (!lowerdirs || !*lowerdirs)
        return bt_err_set(err, EINVAL, "overlay needs at least one lower directory");
    if (!upper != !work)
        return bt_err_set(err, EINVAL, "overlay needs both an upper and a work directory");
    /* target must be absolute for the fallback, which changes directory */
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    _cleanup_free_ char *abs = bt_path_absolute(cwd ? cwd : "/", target);
    struct bt_err *first = NULL;
    int r = mount_new_api(lowerdirs, upper, work, abs, &first);
    if (r == 0)
        return 0;
    if (r != -EINVAL && r != -ENOSYS) {
        bt_err_move(err, &first);
        return r;
    }
    bt_debug("overlay: new mount API failed (%s), using short layer names", first->msg);
    bt_err_free(first);
    return image_overlay_mount_legacy(s, lowerdirs, upper, work, abs, err);
}

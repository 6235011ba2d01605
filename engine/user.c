/* engine: user and group resolution inside a rootfs; Docker's memswap. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

/* Reads a colon-separated database file of the rootfs, confined to it. */
static char *
read_db(const char *rootfs, const char *path, struct bt_err **err)
{
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        bt_err_errno(err, errno, "open rootfs '%s'", rootfs);
        return NULL;
    }
    struct bt_err *e = NULL;
    _cleanup_close_ int fd = bt_openat_in_root(rootfd, path, O_RDONLY | O_CLOEXEC, 0, &e);
    if (fd < 0) {
        bool missing = e && e->code == ENOENT;
        bt_err_free(e);
        if (missing)
            return xstrdup("");
        bt_err_errno(err, -fd, "read %s", path);
        return NULL;
    }
    struct bt_buf b = {0};
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        bt_buf_append(&b, buf, (size_t)n);
    if (n < 0) {
        bt_buf_done(&b);
        bt_err_errno(err, errno, "read %s", path);
        return NULL;
    }
    return bt_buf_steal(&b);
}

/* Finds the line whose field 0 (name) or field 2 (id) matches. */
static char **
db_find(const char *db, const char *name, int64_t id)
{
    _cleanup_strv_ char **lines = bt_strv_split(db, "\n");
    bt_strv_foreach (l, lines) {
        if (!l[0] || l[0] == '#')
            continue;
        char **f = bt_strv_split(l, ":");
        if (bt_strv_length(f) >= 3) {
            int64_t v;
            if ((name && strcmp(f[0], name) == 0) || (!name && bt_parse_int64(f[2], &v) && v == id))
                return f;
        }
        bt_strv_free(f);
    }
    return NULL;
}

int
engine_user_resolve(const char *rootfs, const char *user, uid_t *uid, gid_t *gid, gid_t **gids,
                    size_t *n_gids, struct bt_err **err)
{
    _cleanup_free_ char *u = xstrdup(user && user[0] ? user : "0");
    char *g = strchr(u, ':');
    if (g)
        *g++ = '\0';
    _cleanup_free_ char *passwd = read_db(rootfs, "/etc/passwd", err);
    if (!passwd)
        return bt_err_ret(err);
    _cleanup_free_ char *group = read_db(rootfs, "/etc/group", err);
    if (!group)
        return bt_err_ret(err);
    int64_t num;
    bool numeric = bt_parse_int64(u, &num) && num >= 0 && num < UINT32_MAX;
    _cleanup_strv_ char **pw = db_find(passwd, numeric ? NULL : u, numeric ? num : 0);
    const char *uname = NULL;
    if (numeric) {
        *uid = (uid_t)num;
        *gid = 0;
        if (pw) {
            int64_t pg;
            if (bt_strv_length(pw) >= 4 && bt_parse_int64(pw[3], &pg))
                *gid = (gid_t)pg;
            uname = pw[0];
        }
    } else {
        int64_t pu, pg;
        if (!pw || bt_strv_length(pw) < 4 || !bt_parse_int64(pw[2], &pu) ||
            !bt_parse_int64(pw[3], &pg))
            return bt_err_set(err, ENOENT,
                              "unable to find user %s: no matching entries in passwd file", u);
        *uid = (uid_t)pu;
        *gid = (gid_t)pg;
        uname = pw[0];
    }
    if (g && g[0]) {
        bool gnum = bt_parse_int64(g, &num) && num >= 0 && num < UINT32_MAX;
        if (gnum) {
            *gid = (gid_t)num;
        } else {
            _cleanup_strv_ char **gr = db_find(group, g, 0);
            int64_t v;
            if (!gr || !bt_parse_int64(gr[2], &v))
                return bt_err_set(err, ENOENT,
                                  "unable to find group %s: no matching entries in group file", g);
            *gid = (gid_t)v;
        }
    }
    /* Supplementary groups: every group listing the user as a member. */
    if (uname && gids && n_gids) {
        _cleanup_strv_ char **lines = bt_strv_split(group, "\n");
        bt_strv_foreach (l, lines) {
            _cleanup_strv_ char **f = bt_strv_split(l, ":");
            if (bt_strv_length(f) < 4)
                continue;
            _cleanup_strv_ char **members = bt_strv_split(f[3], ",");
            int64_t v;
            if (!bt_strv_contains(members, uname) || !bt_parse_int64(f[2], &v))
                continue;
            bool dup = (gid_t)v == *gid;
            for (size_t i = 0; i < *n_gids; i++)
                dup |= (*gids)[i] == (gid_t)v;
            if (dup)
                continue;
            *gids = xreallocarray(*gids, *n_gids + 1, sizeof(gid_t));
            (*gids)[(*n_gids)++] = (gid_t)v;
        }
    }
    return 0;
}

int
engine_memswap_resolve(int64_t memory, int64_t memswap, bool host_has_swap, int64_t *out,
                       struct bt_err **err)
{
    *out = 0;
    if (memswap == -1) {
        *out = -1;
        return 0;
    }
    if (memswap == 0) {
        if (memory > 0 && host_has_swap)
            *out = memory * 2;
        return 0;
    }
    if (memswap < -1)
        return bt_err_set(err, EINVAL, "memswap_limit must be -1 or positive");
    if (memory <= 0)
        return bt_err_set(err, EINVAL, "memswap_limit needs mem_limit to be set too");
    if (memswap < memory)
        return bt_err_set(err, EINVAL,
                          "memswap_limit (%lld) must not be smaller than mem_limit (%lld)",
                          (long long)memswap, (long long)memory);
    *out = memswap;
    return 0;
}

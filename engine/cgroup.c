/* engine: cgroup path resolution, state round trip, and the v1/v2 backends. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/cgroup-internal.h"
#include "engine/runtime-internal.h"

static const struct rt_cgroup_ops v1_ops;
static const struct rt_cgroup_ops v2_ops;

struct rt_cgroup *
rt_cgroup_free(struct rt_cgroup *cg)
{
    if (!cg)
        return NULL;
    for (size_t i = 0; i < cg->n_dirs; i++) {
        free(cg->dirs[i].controllers);
        free(cg->dirs[i].dir);
    }
    free(cg->dirs);
    free(cg);
    return NULL;
}

bool
rt_cgroup_is_v2(const struct rt_cgroup *cg)
{
    return cg->ops == &v2_ops;
}

static bool
controllers_have(const char *list, const char *controller)
{
    size_t n = strlen(controller);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, controller, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

const char *
rt_cgroup_dir(const struct rt_cgroup *cg, const char *controller)
{
    if (rt_cgroup_is_v2(cg))
        return cg->n_dirs ? cg->dirs[0].dir : NULL;
    for (size_t i = 0; i < cg->n_dirs; i++)
        if (controllers_have(cg->dirs[i].controllers, controller))
            return cg->dirs[i].dir;
    return NULL;
}

static void
add_dir(struct rt_cgroup *cg, const char *controllers, char *dir_take)
{
    cg->dirs = xreallocarray(cg->dirs, cg->n_dirs + 1, sizeof(*cg->dirs));
    cg->dirs[cg->n_dirs].controllers = xstrdup(controllers);
    cg->dirs[cg->n_dirs].dir = dir_take;
    cg->n_dirs++;
}

/* The caller's own path in the hierarchy whose /proc/self/cgroup line names
 * these controllers ("" for v2's "0::" line). */
static char *
self_path(const char *self_cgroup, const char *controllers, struct bt_err **err)
{
    _cleanup_fclose_ FILE *f = fopen(self_cgroup, "re");
    if (!f) {
        bt_err_errno(err, errno, "open %s", self_cgroup);
        return NULL;
    }
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        if (strcmp(ctl, controllers) == 0)
            return xstrdup(c2 + 1);
    }
    bt_err_set(err, ENOENT, "%s has no line for the '%s' hierarchy", self_cgroup,
               controllers[0] ? controllers : "unified");
    return NULL;
}

static bool
v2_has_controllers(const char *mnt)
{
    _cleanup_free_ char *p = bt_path_join(mnt, "cgroup.controllers");
    size_t len = 0;
    _cleanup_free_ char *s = bt_file_read_all(p, &len, NULL);
    return s && strspn(s, " \n") != len;
}

/* Unescapes mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static char *
place(const char *mnt, const char *mnt_root, const char *own, const char *path)
{
    /* mnt_root: what the mount shows of the hierarchy (in a cgroup namespace
     * or a bind mount it is not "/"); own paths are relative to the
     * hierarchy's root, so strip that prefix. */
    _cleanup_free_ char *base = NULL;
    if (path[0] == '/')
        base = bt_path_clean(path);
    else
        base = bt_path_join(own, path);
    const char *rel = base;
    if (strcmp(mnt_root, "/") != 0 && bt_str_startswith(base, mnt_root))
        rel = base + strlen(mnt_root);
    _cleanup_free_ char *joined = bt_path_join(mnt, rel);
    return bt_path_clean(joined);
}

struct rt_cgroup *
rt_cgroup_resolve(const struct rt_cgroup_env *env, const char *path, const char *id,
                  struct bt_err **err)
{
    static const struct rt_cgroup_env real = {"/proc/self/mountinfo", "/proc/self/cgroup"};
    if (!env)
        env = &real;
    _cleanup_free_ char *target = NULL;
    if (path && path[0]) {
        if (strstr(path, ":")) {
            bt_err_set(err, EINVAL, "cgroupsPath '%s': systemd slices are not supported", path);
            return NULL;
        }
        target = xstrdup(path);
    } else {
        const char *parent = getenv("BERTH_CGROUP_PARENT");
        _cleanup_json_ json_t *conf = NULL;
        if (!parent || !parent[0]) {
            /* daemon.json's cgroup-parent, from berth's configuration file */
            const char *cfile = getenv("BERTH_CONFIG");
            if (!cfile || !cfile[0])
                cfile = "/etc/berth/berth.json";
            if (bt_path_exists(cfile))
                conf = bt_json_load_file(cfile, NULL);
            parent = conf ? bt_json_str(conf, "cgroup-parent") : NULL;
        }
        if (!parent || !parent[0])
            parent = "berth";
        target = bt_path_join(parent, id);
    }
    {
        _cleanup_free_ char *clean = bt_path_clean(target);
        if (strcmp(clean, "..") == 0 || bt_str_startswith(clean, "../")) {
            bt_err_set(err, EINVAL, "cgroup path '%s' leaves its parent", target);
            return NULL;
        }
    }

    _cleanup_fclose_ FILE *f = fopen(env->mountinfo, "re");
    if (!f) {
        bt_err_errno(err, errno, "open %s", env->mountinfo);
        return NULL;
    }
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *v1 = xcalloc(1, sizeof(*v1));
    v1->ops = &v1_ops;
    _cleanup_free_ char *v2_mnt = NULL, *v2_root = NULL;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        /* id parent maj:min root mountpoint options [optional...] - fstype source super */
        char *fields[6] = {0};
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        for (int i = 0; i < 6 && tok; i++, tok = strtok_r(NULL, " ", &save))
            fields[i] = tok;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " ", &save);
        char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
        char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
        char *super = source ? strtok_r(NULL, " ", &save) : NULL;
        if (!fields[4] || !fstype)
            continue;
        unescape(fields[3]);
        unescape(fields[4]);
        if (strcmp(fstype, "cgroup2") == 0) {
            if (!v2_mnt) {
                v2_mnt = xstrdup(fields[4]);
                v2_root = xstrdup(fields[3]);
            }
            continue;
        }
        if (strcmp(fstype, "cgroup") != 0 || !super)
            continue;
        /* Controllers are the super options that are not mount options. */
        struct bt_buf ctl = {0};
        _cleanup_strv_ char **opts = bt_strv_split(super, ",");
        _cleanup_free_ char *named = NULL;
        bt_strv_foreach (o, opts) {
            if (bt_str_startswith(o, "name=") && !named)
                named = xstrdup(o);
            if (!strcmp(o, "rw") || !strcmp(o, "ro") || bt_str_startswith(o, "release_agent=") ||
                !strcmp(o, "clone_children") || !strcmp(o, "noprefix") || !strcmp(o, "xattr") ||
                !strcmp(o, "cpuset_v2_mode") || bt_str_startswith(o, "name="))
                continue;
            if (ctl.len)
                bt_buf_putc(&ctl, ',');
            bt_buf_puts(&ctl, o);
        }
        _cleanup_free_ char *controllers = bt_buf_steal(&ctl);
        bt_buf_done(&ctl);
        /* A named hierarchy (name=systemd) carries no resources but is
         * joined too, so the container's processes stay together in it. */
        if (!controllers[0] && named) {
            free(controllers);
            controllers = TAKE_PTR(named);
        }
        if (!controllers[0])
            continue;
        bool seen = false;
        for (size_t i = 0; i < v1->n_dirs; i++)
            seen |= strcmp(v1->dirs[i].controllers, controllers) == 0;
        if (seen)
            continue;
        /* /proc/self/cgroup lists the hierarchy by the same controller list */
        _cleanup_free_ char *own = self_path(env->self_cgroup, controllers, err);
        if (!own)
            return NULL;
        add_dir(v1, controllers, place(fields[4], fields[3], own, target));
    }
    if (v1->n_dirs)
        return TAKE_PTR(v1);
    if (v2_mnt && v2_has_controllers(v2_mnt)) {
        _cleanup_free_ char *own = self_path(env->self_cgroup, "", err);
        if (!own)
            return NULL;
        struct rt_cgroup *v2 = xcalloc(1, sizeof(*v2));
        v2->ops = &v2_ops;
        add_dir(v2, "", place(v2_mnt, v2_root, own, target));
        return v2;
    }
    bt_err_set(err, ENOTSUP, "no usable cgroup hierarchy is mounted");
    return NULL;
}

json_t *
rt_cgroup_to_json(const struct rt_cgroup *cg)
{
    json_t *dirs = json_object();
    for (size_t i = 0; i < cg->n_dirs; i++)
        json_object_set_new(dirs, cg->dirs[i].controllers, json_string(cg->dirs[i].dir));
    return json_pack("{s:i,s:o}", "version", rt_cgroup_is_v2(cg) ? 2 : 1, "dirs", dirs);
}

struct rt_cgroup *
rt_cgroup_from_json(json_t *j, struct bt_err **err)
{
    json_t *dirs = json_object_get(j, "dirs");
    json_int_t ver = json_integer_value(json_object_get(j, "version"));
    if (!json_is_object(dirs) || (ver != 1 && ver != 2)) {
        bt_err_set(err, EINVAL, "bad cgroup record in state");
        return NULL;
    }
    struct rt_cgroup *cg = xcalloc(1, sizeof(*cg));
    cg->ops = ver == 2 ? &v2_ops : &v1_ops;
    const char *k;
    json_t *v;
    json_object_foreach (dirs, k, v) {
        if (json_is_string(v))
            add_dir(cg, k, xstrdup(json_string_value(v)));
    }
    return cg;
}

/* ---- file helpers ---- */

static int
write_file(const char *dir, const char *file, const char *value, struct bt_err **err)
{
    _cleanup_free_ char *p = bt_path_join(dir, file);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC | O_TRUNC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open %s", p);
    size_t len = strlen(value);
    ssize_t w = write(fd, value, len);
    if (w < 0)
        return bt_err_errno(err, errno, "write '%s' to %s", value, p);
    if ((size_t)w != len)
        return bt_err_set(err, EIO, "short write to %s", p);
    return 0;
}

static int write_fmt(const char *dir, const char *file, struct bt_err **err, const char *fmt, ...)
    BT_PRINTF(4, 5);

static int
write_fmt(const char *dir, const char *file, struct bt_err **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *v = xvasprintf(fmt, ap);
    va_end(ap);
    return write_file(dir, file, v, err);
}

static char *
read_file(const char *dir, const char *file, struct bt_err **err)
{
    _cleanup_free_ char *p = bt_path_join(dir, file);
    size_t len = 0;
    char *s = bt_file_read_all(p, &len, err);
    if (!s)
        return NULL;
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = '\0';
    return s;
}

static bool
file_exists(const char *dir, const char *file)
{
    _cleanup_free_ char *p = bt_path_join(dir, file);
    return access(p, F_OK) == 0;
}

/* Reads "key value" lines (memory.events, cpu.stat, memory.oom_control). */
static bool
read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
    _cleanup_free_ char *s = read_file(dir, file, NULL);
    if (!s)
        return false;
    size_t klen = strlen(key);
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return bt_parse_uint64(line + klen + 1, out);
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Sums block I/O bytes: v1's blkio "MAJ:MIN Read N" / "MAJ:MIN Write N"
 * lines, v2's io.stat "MAJ:MIN rbytes=N wbytes=N ..." lines. */
static void
read_blkio(const char *dir, const char *file, uint64_t *rd, uint64_t *wr)
{
    _cleanup_free_ char *s = read_file(dir, file, NULL);
    for (char *save = NULL, *line = s ? strtok_r(s, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[8] = {0};
        size_t n = 0;
        for (char *s2 = NULL, *w = strtok_r(line, " ", &s2); w && n < BT_ARRAY_SIZE(f);
             w = strtok_r(NULL, " ", &s2))
            f[n++] = w;
        uint64_t v;
        if (n == 3 && bt_parse_uint64(f[2], &v)) {
            if (strcasecmp(f[1], "read") == 0)
                *rd += v;
            else if (strcasecmp(f[1], "write") == 0)
                *wr += v;
            continue;
        }
        for (size_t i = 1; i < n; i++) {
            if (bt_str_startswith(f[i], "rbytes=") && bt_parse_uint64(f[i] + 7, &v))
                *rd += v;
            else if (bt_str_startswith(f[i], "wbytes=") && bt_parse_uint64(f[i] + 7, &v))
                *wr += v;
        }
    }
}

static pid_t *
read_pids(const char *dir, const char *file, struct bt_err **err)
{
    _cleanup_free_ char *s = read_file(dir, file, err);
    if (!s) {
        if (bt_err_ret(err) == -ENOENT) {
            *err = bt_err_free(*err);
            return xcalloc(1, sizeof(pid_t));
        }
        return NULL;
    }
    size_t n = 0;
    pid_t *out = xcalloc(1, sizeof(pid_t));
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        int64_t v;
        if (bt_parse_int64(line, &v) && v > 0) {
            out = xreallocarray(out, n + 2, sizeof(pid_t));
            out[n++] = (pid_t)v;
            out[n] = 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return out;
}

static int
mkdir_one(const char *dir, struct bt_err **err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return bt_err_errno(err, errno, "create cgroup %s", dir);
    return 0;
}

static int
rmdir_retry(const char *dir, struct bt_err **err)
{
    /* A killed task leaves the cgroup a moment after it is reaped. */
    for (int i = 0; i < 200; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return bt_err_errno(err, errno, "remove cgroup %s", dir);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return bt_err_errno(err, EBUSY, "remove cgroup %s", dir);
}

/* ---- v1 ---- */

/* cpuset groups start with empty cpus/mems, which makes attaching fail: copy
 * them down from the nearest parent that has them. */
static int
cpuset_fill(const char *dir, struct bt_err **err)
{
    _cleanup_free_ char *parent = bt_path_dirname(dir);
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_free_ char *cur = read_file(dir, files[i], NULL);
        if (cur && cur[0])
            continue;
        _cleanup_free_ char *pv = read_file(parent, files[i], NULL);
        if (!pv || !pv[0]) {
            if (cpuset_fill(parent, err) < 0)
                return bt_err_ret(err);
            free(pv);
            pv = read_file(parent, files[i], err);
            if (!pv)
                return bt_err_ret(err);
        }
        if (write_file(dir, files[i], pv, err) < 0)
            return bt_err_ret(err);
    }
    return 0;
}

static int
mkdir_v1(const char *dir, bool cpuset, struct bt_err **err)
{
    if (access(dir, F_OK) == 0)
        return 0;
    _cleanup_free_ char *parent = bt_path_dirname(dir);
    if (strcmp(parent, dir) != 0 && mkdir_v1(parent, cpuset, err) < 0)
        return bt_err_ret(err);
    if (mkdir_one(dir, err) < 0)
        return bt_err_ret(err);
    if (cpuset)
        return cpuset_fill(dir, err);
    return 0;
}

static int
v1_memory(const char *d, const struct rt_resources *r, struct bt_err **err)
{
    if (r->memory_limit > 0) {
        bool swap = r->memory_swap_set && r->memory_swap != 0 &&
                    file_exists(d, "memory.memsw.limit_in_bytes");
        /* memory <= memsw at every step: when raising, memsw goes first. */
        if (swap) {
            _cleanup_err_ struct bt_err *e1 = NULL;
            int64_t sw = r->memory_swap < 0 ? -1 : r->memory_swap;
            if (write_fmt(d, "memory.memsw.limit_in_bytes", &e1, "%lld", (long long)sw) < 0) {
                if (write_fmt(d, "memory.limit_in_bytes", err, "%lld", (long long)r->memory_limit) <
                        0 ||
                    write_fmt(d, "memory.memsw.limit_in_bytes", err, "%lld", (long long)sw) < 0)
                    return bt_err_ret(err);
            } else if (write_fmt(d, "memory.limit_in_bytes", err, "%lld",
                                 (long long)r->memory_limit) < 0) {
                return bt_err_ret(err);
            }
        } else if (write_fmt(d, "memory.limit_in_bytes", err, "%lld", (long long)r->memory_limit) <
                   0) {
            return bt_err_ret(err);
        }
    }
    if (r->memory_reservation >= 0 && write_fmt(d, "memory.soft_limit_in_bytes", err, "%lld",
                                                (long long)r->memory_reservation) < 0)
        return bt_err_ret(err);
    if (r->memory_swappiness >= 0 &&
        write_fmt(d, "memory.swappiness", err, "%lld", (long long)r->memory_swappiness) < 0)
        return bt_err_ret(err);
    if (r->oom_kill_disable && write_file(d, "memory.oom_control", "1", err) < 0)
        return bt_err_ret(err);
    return 0;
}

static int
v1_create(struct rt_cgroup *cg, const struct rt_resources *r, struct bt_err **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++) {
        const char *ctl = cg->dirs[i].controllers;
        if (mkdir_v1(cg->dirs[i].dir, controllers_have(ctl, "cpuset"), err) < 0)
            return bt_err_ret(err);
    }
    if (!r)
        return 0;
    const char *d;
    if ((d = rt_cgroup_dir(cg, "memory")) && v1_memory(d, r, err) < 0)
        return bt_err_ret(err);
    if ((d = rt_cgroup_dir(cg, "cpu"))) {
        if (r->cpu_shares &&
            write_fmt(d, "cpu.shares", err, "%llu", (unsigned long long)r->cpu_shares) < 0)
            return bt_err_ret(err);
        if (r->cpu_period &&
            write_fmt(d, "cpu.cfs_period_us", err, "%llu", (unsigned long long)r->cpu_period) < 0)
            return bt_err_ret(err);
        if (r->cpu_quota &&
            write_fmt(d, "cpu.cfs_quota_us", err, "%lld", (long long)r->cpu_quota) < 0)
            return bt_err_ret(err);
    } else if (r->cpu_shares || r->cpu_quota || r->cpu_period) {
        return bt_err_set(err, ENOTSUP, "the cpu controller is not mounted");
    }
    if ((d = rt_cgroup_dir(cg, "cpuset"))) {
        if (r->cpuset_cpus && r->cpuset_cpus[0] &&
            write_file(d, "cpuset.cpus", r->cpuset_cpus, err) < 0)
            return bt_err_ret(err);
        if (r->cpuset_mems && r->cpuset_mems[0] &&
            write_file(d, "cpuset.mems", r->cpuset_mems, err) < 0)
            return bt_err_ret(err);
    }
    if (r->pids_limit) {
        if (!(d = rt_cgroup_dir(cg, "pids")))
            return bt_err_set(err, ENOTSUP, "the pids controller is not mounted");
        if (r->pids_limit < 0 ? write_file(d, "pids.max", "max", err)
                              : write_fmt(d, "pids.max", err, "%lld", (long long)r->pids_limit))
            return bt_err_ret(err);
    }
    if (r->blkio_weight && (d = rt_cgroup_dir(cg, "blkio"))) {
        const char *f = file_exists(d, "blkio.weight")       ? "blkio.weight"
                        : file_exists(d, "blkio.bfq.weight") ? "blkio.bfq.weight"
                                                             : NULL;
        /* Without CFQ or BFQ the kernel has no weights: Docker discards the
         * value too. */
        if (!f)
            bt_debug("blkio weight %u discarded: no I/O scheduler with weights", r->blkio_weight);
        else if (write_fmt(d, f, err, "%u", r->blkio_weight) < 0)
            return bt_err_ret(err);
    }
    if (r->n_device_rules && (d = rt_cgroup_dir(cg, "devices"))) {
        for (size_t i = 0; i < r->n_device_rules; i++) {
            const struct rt_device_rule *dr = &r->device_rules[i];
            char maj[24] = "*", min[24] = "*";
            if (dr->major >= 0)
                snprintf(maj, sizeof(maj), "%lld", (long long)dr->major);
            if (dr->minor >= 0)
                snprintf(min, sizeof(min), "%lld", (long long)dr->minor);
            _cleanup_free_ char *rule =
                dr->type == 'a' ? xstrdup("a")
                                : xasprintf("%c %s:%s %s", dr->type, maj, min, dr->access);
            if (write_file(d, dr->allow ? "devices.allow" : "devices.deny", rule, err) < 0)
                return bt_err_ret(err);
        }
    }
    return 0;
}

static int
v1_attach(struct rt_cgroup *cg, pid_t pid, struct bt_err **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++)
        if (write_fmt(cg->dirs[i].dir, "cgroup.procs", err, "%d", (int)pid) < 0)
            return bt_err_ret(err);
    return 0;
}

static int
v1_stats(struct rt_cgroup *cg, struct engine_cgroup_stats *st, struct bt_err **err)
{
    const char *d;
    _cleanup_free_ char *s = NULL;
    st->memory_limit = -1;
    if ((d = rt_cgroup_dir(cg, "memory"))) {
        if ((s = read_file(d, "memory.usage_in_bytes", err)) == NULL)
            return bt_err_ret(err);
        bt_parse_uint64(s, &st->memory_usage);
        free(s);
        s = read_file(d, "memory.limit_in_bytes", NULL);
        uint64_t lim;
        if (s && bt_parse_uint64(s, &lim) && lim < (UINT64_C(1) << 62))
            st->memory_limit = (int64_t)lim;
        read_keyed(d, "memory.oom_control", "oom_kill", &st->oom_kills);
        read_keyed(d, "memory.stat", "total_inactive_file", &st->memory_inactive_file);
    }
    if ((d = rt_cgroup_dir(cg, "blkio"))) {
        /* The CFQ counters when the kernel has them, else the throttle
         * layer's, which sees every request (Docker's order). */
        if (file_exists(d, "blkio.io_service_bytes_recursive"))
            read_blkio(d, "blkio.io_service_bytes_recursive", &st->blkio_read, &st->blkio_write);
        else
            read_blkio(d, "blkio.throttle.io_service_bytes_recursive", &st->blkio_read,
                       &st->blkio_write);
    }
    if ((d = rt_cgroup_dir(cg, "cpuacct"))) {
        free(s);
        if ((s = read_file(d, "cpuacct.usage", NULL)))
            bt_parse_uint64(s, &st->cpu_usage_ns);
    }
    if ((d = rt_cgroup_dir(cg, "pids"))) {
        free(s);
        if ((s = read_file(d, "pids.current", NULL)))
            bt_parse_uint64(s, &st->pids_current);
    }
    return 0;
}

static int
v1_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err)
{
    const char *d = rt_cgroup_dir(cg, "freezer");
    if (!d)
        return bt_err_set(err, ENOTSUP, "the freezer controller is not mounted");
    if (write_file(d, "freezer.state", frozen ? "FROZEN" : "THAWED", err) < 0)
        return bt_err_ret(err);
    /* Freezing is asynchronous: wait until the state settles. */
    for (int i = 0; i < 1000; i++) {
        _cleanup_free_ char *s = read_file(d, "freezer.state", err);
        if (!s)
            return bt_err_ret(err);
        if (strcmp(s, frozen ? "FROZEN" : "THAWED") == 0)
            return 0;
        if (frozen && i % 50 == 49 && write_file(d, "freezer.state", "FROZEN", err) < 0)
            return bt_err_ret(err);
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return bt_err_set(err, ETIMEDOUT, "the cgroup did not %s", frozen ? "freeze" : "thaw");
}

static pid_t *
v1_pids(struct rt_cgroup *cg, struct bt_err **err)
{
    /* Every process is in every hierarchy: any one lists them all. */
    const char *d = rt_cgroup_dir(cg, "pids");
    if (!d)
        d = rt_cgroup_dir(cg, "memory");
    if (!d && cg->n_dirs)
        d = cg->dirs[0].dir;
    if (!d)
        return xcalloc(1, sizeof(pid_t));
    return read_pids(d, "cgroup.procs", err);
}

static int
v1_destroy(struct rt_cgroup *cg, struct bt_err **err)
{
    for (size_t i = 0; i < cg->n_dirs; i++)
        if (rmdir_retry(cg->dirs[i].dir, err) < 0)
            return bt_err_ret(err);
    return 0;
}

static const struct rt_cgroup_ops v1_ops = {
    "v1", v1_create, v1_attach, v1_stats, v1_freeze, v1_pids, v1_destroy,
};

/* ---- v2 ---- */

uint64_t
rt_cgroup_shares_to_weight(uint64_t shares)
{
    /* The conversion runc and crun use: [2, 262144] -> [1, 10000]. */
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t
rt_cgroup_blkio_to_io_weight(uint64_t weight)
{
    /* [10, 1000] -> [1, 10000] */
    if (weight < 10)
        weight = 10;
    if (weight > 1000)
        weight = 1000;
    return 1 + (weight - 10) * 9999 / 990;
}

/* Enables the controllers the container uses on every level above it, from
 * the caller's level down. */
static int
v2_enable(const char *dir, struct bt_err **err)
{
    _cleanup_free_ char *parent = bt_path_dirname(dir);
    if (strcmp(parent, dir) == 0 || !file_exists(parent, "cgroup.subtree_control"))
        return 0;
    if (access(dir, F_OK) != 0) {
        if (v2_enable(parent, err) < 0)
            return bt_err_ret(err);
        if (mkdir_one(dir, err) < 0)
            return bt_err_ret(err);
    }
    _cleanup_free_ char *avail = read_file(parent, "cgroup.controllers", NULL);
    _cleanup_free_ char *on = read_file(parent, "cgroup.subtree_control", NULL);
    _cleanup_strv_ char **have = bt_strv_split(avail ? avail : "", " ");
    _cleanup_strv_ char **enabled = bt_strv_split(on ? on : "", " ");
    static const char *const wanted[] = {"cpu", "cpuset", "io", "memory", "pids"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(wanted); i++) {
        if (!bt_strv_contains(have, wanted[i]) || bt_strv_contains(enabled, wanted[i]))
            continue;
        if (write_fmt(parent, "cgroup.subtree_control", err, "+%s", wanted[i]) < 0)
            return bt_err_ret(err);
    }
    return 0;
}

static int
v2_create(struct rt_cgroup *cg, const struct rt_resources *r, struct bt_err **err)
{
    const char *d = cg->dirs[0].dir;
    if (v2_enable(d, err) < 0)
        return bt_err_ret(err);
    if (mkdir_one(d, err) < 0)
        return bt_err_ret(err);
    if (!r)
        return 0;
    /* No devices.allow on v2: the rules become a BPF program. */
    if (r->n_device_rules && rt_devices_bpf_attach(d, r->device_rules, r->n_device_rules, err) < 0)
        return bt_err_ret(err);
    if (r->memory_limit > 0 &&
        write_fmt(d, "memory.max", err, "%lld", (long long)r->memory_limit) < 0)
        return bt_err_ret(err);
    if (r->memory_swap_set && r->memory_swap != 0 && file_exists(d, "memory.swap.max")) {
        /* OCI's swap is memory+swap; v2 limits swap alone. */
        int rc;
        if (r->memory_swap < 0)
            rc = write_file(d, "memory.swap.max", "max", err);
        else
            rc = write_fmt(
                d, "memory.swap.max", err, "%lld",
                (long long)(r->memory_swap - (r->memory_limit > 0 ? r->memory_limit : 0)));
        if (rc < 0)
            return rc;
    }
    if (r->memory_reservation >= 0 &&
        write_fmt(d, "memory.low", err, "%lld", (long long)r->memory_reservation) < 0)
        return bt_err_ret(err);
    if (r->cpu_shares &&
        write_fmt(d, "cpu.weight", err, "%llu",
                  (unsigned long long)rt_cgroup_shares_to_weight(r->cpu_shares)) < 0)
        return bt_err_ret(err);
    if (r->cpu_quota || r->cpu_period) {
        unsigned long long period = r->cpu_period ? r->cpu_period : 100000;
        int rc = r->cpu_quota > 0
                     ? write_fmt(d, "cpu.max", err, "%lld %llu", (long long)r->cpu_quota, period)
                     : write_fmt(d, "cpu.max", err, "max %llu", period);
        if (rc < 0)
            return rc;
    }
    if (r->cpuset_cpus && r->cpuset_cpus[0] &&
        write_file(d, "cpuset.cpus", r->cpuset_cpus, err) < 0)
        return bt_err_ret(err);
    if (r->cpuset_mems && r->cpuset_mems[0] &&
        write_file(d, "cpuset.mems", r->cpuset_mems, err) < 0)
        return bt_err_ret(err);
    if (r->pids_limit &&
        (r->pids_limit < 0 ? write_file(d, "pids.max", "max", err)
                           : write_fmt(d, "pids.max", err, "%lld", (long long)r->pids_limit)) < 0)
        return bt_err_ret(err);
    if (r->blkio_weight) {
        uint64_t w = rt_cgroup_blkio_to_io_weight(r->blkio_weight);
        int rc = 0;
        if (file_exists(d, "io.bfq.weight"))
            rc = write_fmt(d, "io.bfq.weight", err, "%u", r->blkio_weight);
        else if (file_exists(d, "io.weight"))
            rc = write_fmt(d, "io.weight", err, "default %llu", (unsigned long long)w);
        else
            bt_debug("io weight discarded: no I/O scheduler with weights");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
v2_attach(struct rt_cgroup *cg, pid_t pid, struct bt_err **err)
{
    return write_fmt(cg->dirs[0].dir, "cgroup.procs", err, "%d", (int)pid);
}

static int
v2_stats(struct rt_cgroup *cg, struct engine_cgroup_stats *st, struct bt_err **err)
{
    const char *d = cg->dirs[0].dir;
    st->memory_limit = -1;
    _cleanup_free_ char *cur = read_file(d, "memory.current", NULL);
    if (cur)
        bt_parse_uint64(cur, &st->memory_usage);
    _cleanup_free_ char *max = read_file(d, "memory.max", NULL);
    uint64_t v;
    if (max && bt_parse_uint64(max, &v))
        st->memory_limit = (int64_t)v;
    if (read_keyed(d, "cpu.stat", "usage_usec", &v))
        st->cpu_usage_ns = v * 1000;
    _cleanup_free_ char *pc = read_file(d, "pids.current", NULL);
    if (pc)
        bt_parse_uint64(pc, &st->pids_current);
    read_keyed(d, "memory.events", "oom_kill", &st->oom_kills);
    read_keyed(d, "memory.stat", "inactive_file", &st->memory_inactive_file);
    read_blkio(d, "io.stat", &st->blkio_read, &st->blkio_write);
    if (!access(d, F_OK))
        return 0;
    return bt_err_errno(err, errno, "cgroup %s", d);
}

static int
v2_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err)
{
    const char *d = cg->dirs[0].dir;
    if (write_file(d, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
        return bt_err_ret(err);
    for (int i = 0; i < 1000; i++) {
        uint64_t v = 0;
        if (!read_keyed(d, "cgroup.events", "frozen", &v) || v == (frozen ? 1u : 0u))
            return 0;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return bt_err_set(err, ETIMEDOUT, "the cgroup did not %s", frozen ? "freeze" : "thaw");
}

static pid_t *
v2_pids(struct rt_cgroup *cg, struct bt_err **err)
{
    return read_pids(cg->dirs[0].dir, "cgroup.procs", err);
}

static int
v2_destroy(struct rt_cgroup *cg, struct bt_err **err)
{
    return rmdir_retry(cg->dirs[0].dir, err);
}

static const struct rt_cgroup_ops v2_ops = {
    "v2", v2_create, v2_attach, v2_stats, v2_freeze, v2_pids, v2_destroy,
};

/* ---- dispatch ---- */

int
rt_cgroup_create(struct rt_cgroup *cg, const struct rt_resources *res, struct bt_err **err)
{
    int r = cg->ops->create(cg, res, err);
    if (r < 0)
        bt_err_prefix(err, "cgroup");
    return r;
}

int
rt_cgroup_attach(struct rt_cgroup *cg, pid_t pid, struct bt_err **err)
{
    return cg->ops->attach(cg, pid, err);
}

int
rt_cgroup_stats(struct rt_cgroup *cg, struct engine_cgroup_stats *st, struct bt_err **err)
{
    *st = (struct engine_cgroup_stats){0};
    return cg->ops->stats(cg, st, err);
}

int
rt_cgroup_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err)
{
    return cg->ops->freeze(cg, frozen, err);
}

pid_t *
rt_cgroup_pids(struct rt_cgroup *cg, struct bt_err **err)
{
    return cg->ops->pids(cg, err);
}

int
rt_cgroup_kill(struct rt_cgroup *cg, int sig, struct bt_err **err)
{
    _cleanup_free_ pid_t *pids = rt_cgroup_pids(cg, err);
    if (!pids)
        return bt_err_ret(err);
    int n = 0;
    for (size_t i = 0; pids[i]; i++)
        if (kill(pids[i], sig) == 0)
            n++;
    return n;
}

int
rt_cgroup_destroy(struct rt_cgroup *cg, struct bt_err **err)
{
    /* A frozen group cannot die: thaw it first (best effort, it may be
     * gone already), then kill what is left. */
    if (rt_cgroup_dir(cg, "freezer") || rt_cgroup_is_v2(cg)) {
        _cleanup_err_ struct bt_err *ignored = NULL; /* missing group: nothing to thaw */
        const char *d = rt_cgroup_is_v2(cg) ? cg->dirs[0].dir : rt_cgroup_dir(cg, "freezer");
        if (d && access(d, F_OK) == 0)
            cg->ops->freeze(cg, false, &ignored);
    }
    for (int round = 0; round < 20; round++) {
        _cleanup_err_ struct bt_err *ignored = NULL; /* a vanished group holds nobody */
        if (rt_cgroup_kill(cg, SIGKILL, &ignored) <= 0)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cg->ops->destroy(cg, err);
}

/* engine: OCI runtime-spec config.json -> struct rt_spec (pure). */
#include <linux/capability.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "engine/engine.h"
#include "engine/runtime-internal.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int
rt_cap_last(void)
{
    return (int)BT_ARRAY_SIZE(cap_names) - 1;
}

int
rt_cap_from_name(const char *name)
{
    const char *n = name;
    for (int i = 0; i < (int)BT_ARRAY_SIZE(cap_names); i++) {
        if (strcasecmp(cap_names[i], n) == 0 || strcasecmp(cap_names[i] + 4, n) == 0)
            return i;
    }
    return -1;
}

const char *
rt_cap_name(int cap)
{
    if (cap < 0 || cap >= (int)BT_ARRAY_SIZE(cap_names))
        return NULL;
    return cap_names[cap];
}

uint64_t
rt_caps_docker_default(void)
{
    static const int caps[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                               CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                               CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                               CAP_KILL,    CAP_AUDIT_WRITE};
    uint64_t m = 0;
    for (size_t i = 0; i < BT_ARRAY_SIZE(caps); i++)
        m |= UINT64_C(1) << caps[i];
    return m;
}

static bool
strv_has_all(char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcasecmp(v[i], "ALL") == 0)
            return true;
    return false;
}

json_t *
engine_caps_resolve(bool privileged, char *const *add, char *const *drop, struct bt_err **err)
{
    uint64_t all = (UINT64_C(1) << (rt_cap_last() + 1)) - 1;
    uint64_t caps = rt_caps_docker_default();
    if (privileged)
        caps = all;
    else if (strv_has_all(add))
        caps = all;
    else if (strv_has_all(drop))
        caps = 0;
    for (int pass = 0; pass < 2 && !privileged; pass++) {
        char *const *names = pass == 0 ? add : drop;
        for (size_t i = 0; names && names[i]; i++) {
            if (strcasecmp(names[i], "ALL") == 0)
                continue;
            int k = rt_cap_from_name(names[i]);
            if (k < 0) {
                bt_err_set(err, EINVAL, "%s: unknown capability '%s'",
                           pass == 0 ? "cap_add" : "cap_drop", names[i]);
                return NULL;
            }
            if (pass == 0)
                caps |= UINT64_C(1) << k;
            else
                caps &= ~(UINT64_C(1) << k);
        }
    }
    json_t *a = json_array();
    for (int c = 0; c <= rt_cap_last(); c++)
        if (caps & (UINT64_C(1) << c))
            json_array_append_new(a, json_string(rt_cap_name(c)));
    return a;
}

int
rt_caps_parse(json_t *arr, uint64_t *mask, struct bt_err **err)
{
    *mask = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bt_err_set(err, EINVAL, "must be an array of capability names");
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (!json_is_string(v))
            return bt_err_set(err, EINVAL, "[%zu]: must be a string", i);
        int c = rt_cap_from_name(json_string_value(v));
        if (c < 0)
            return bt_err_set(err, EINVAL, "unknown capability '%s'", json_string_value(v));
        *mask |= UINT64_C(1) << c;
    }
    return 0;
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int
rt_rlimit_from_name(const char *name)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(rlimit_names); i++)
        if (strcmp(rlimit_names[i].name, name) == 0)
            return rlimit_names[i].resource;
    return -1;
}

const char *
rt_rlimit_name(int resource)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(rlimit_names); i++)
        if (rlimit_names[i].resource == resource)
            return rlimit_names[i].name;
    return NULL;
}

static const struct {
    const char *name;
    bool clear;
    unsigned long flag;
    bool propagation;
} mount_opts[] = {
    {"defaults", false, 0, false},
    {"ro", false, MS_RDONLY, false},
    {"rdonly", false, MS_RDONLY, false},
    {"rw", true, MS_RDONLY, false},
    {"suid", true, MS_NOSUID, false},
    {"nosuid", false, MS_NOSUID, false},
    {"dev", true, MS_NODEV, false},
    {"nodev", false, MS_NODEV, false},
    {"exec", true, MS_NOEXEC, false},
    {"noexec", false, MS_NOEXEC, false},
    {"sync", false, MS_SYNCHRONOUS, false},
    {"async", true, MS_SYNCHRONOUS, false},
    {"dirsync", false, MS_DIRSYNC, false},
    {"remount", false, MS_REMOUNT, false},
    {"mand", false, MS_MANDLOCK, false},
    {"nomand", true, MS_MANDLOCK, false},
    {"atime", true, MS_NOATIME, false},
    {"noatime", false, MS_NOATIME, false},
    {"diratime", true, MS_NODIRATIME, false},
    {"nodiratime", false, MS_NODIRATIME, false},
    {"relatime", false, MS_RELATIME, false},
    {"norelatime", true, MS_RELATIME, false},
    {"strictatime", false, MS_STRICTATIME, false},
    {"nostrictatime", true, MS_STRICTATIME, false},
    {"lazytime", false, MS_LAZYTIME, false},
    {"nolazytime", true, MS_LAZYTIME, false},
    {"silent", false, MS_SILENT, false},
    {"loud", true, MS_SILENT, false},
    {"iversion", false, MS_I_VERSION, false},
    {"noiversion", true, MS_I_VERSION, false},
    {"private", false, MS_PRIVATE, true},
    {"rprivate", false, MS_PRIVATE | MS_REC, true},
    {"shared", false, MS_SHARED, true},
    {"rshared", false, MS_SHARED | MS_REC, true},
    {"slave", false, MS_SLAVE, true},
    {"rslave", false, MS_SLAVE | MS_REC, true},
    {"unbindable", false, MS_UNBINDABLE, true},
    {"runbindable", false, MS_UNBINDABLE | MS_REC, true},
};

int
rt_mount_options_parse(json_t *options, struct rt_mount *m, struct bt_err **err)
{
    struct bt_buf data = {0};
    if (options && !json_is_array(options))
        return bt_err_set(err, EINVAL, "options must be an array of strings");
    size_t i;
    json_t *v;
    json_array_foreach (options, i, v) {
        const char *o = json_string_value(v);
        if (!o) {
            bt_buf_done(&data);
            return bt_err_set(err, EINVAL, "options[%zu] must be a string", i);
        }
        if (strcmp(o, "bind") == 0) {
            m->bind = true;
            continue;
        }
        if (strcmp(o, "rbind") == 0) {
            m->bind = m->recursive = true;
            continue;
        }
        if (strcmp(o, "tmpcopyup") == 0)
            continue; /* only meaningful for image volumes; nothing to copy here */
        if (strcmp(o, "idmap") == 0 || strcmp(o, "ridmap") == 0) {
            bt_buf_done(&data);
            return bt_err_set(err, ENOTSUP, "option '%s' is not supported", o);
        }
        bool known = false;
        for (size_t k = 0; k < BT_ARRAY_SIZE(mount_opts); k++) {
            if (strcmp(mount_opts[k].name, o) != 0)
                continue;
            known = true;
            if (mount_opts[k].propagation)
                m->propagation = mount_opts[k].flag;
            else if (mount_opts[k].clear)
                m->flags &= ~mount_opts[k].flag;
            else
                m->flags |= mount_opts[k].flag;
            break;
        }
        if (known)
            continue;
        if (data.len)
            bt_buf_putc(&data, ',');
        bt_buf_puts(&data, o);
    }
    free(m->data);
    m->data = data.len ? bt_buf_steal(&data) : NULL;
    bt_buf_done(&data);
    return 0;
}

static const struct {
    const char *name;
    int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP},
};

const struct rt_namespace *
rt_spec_namespace(const struct rt_spec *s, int type)
{
    for (size_t i = 0; i < s->n_namespaces; i++)
        if (s->namespaces[i].type == type)
            return &s->namespaces[i];
    return NULL;
}

/* IPC sysctls Docker accepts; the net.* and fs.mqueue.* prefixes are
 * handled below. */
static const char *const ipc_sysctls[] = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
};

int
rt_sysctl_check(const struct rt_spec *s, const char *key, struct bt_err **err)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(ipc_sysctls); i++) {
        if (strcmp(key, ipc_sysctls[i]) == 0) {
            if (!rt_spec_namespace(s, CLONE_NEWIPC))
                return bt_err_set(err, EINVAL,
                                  "sysctl '%s' needs an ipc namespace, and the container "
                                  "shares the host's",
                                  key);
            return 0;
        }
    }
    if (bt_str_startswith(key, "fs.mqueue.")) {
        if (!rt_spec_namespace(s, CLONE_NEWIPC))
            return bt_err_set(err, EINVAL,
                              "sysctl '%s' needs an ipc namespace, and the container shares "
                              "the host's",
                              key);
        return 0;
    }
    if (bt_str_startswith(key, "net.")) {
        if (!rt_spec_namespace(s, CLONE_NEWNET))
            return bt_err_set(err, EINVAL,
                              "sysctl '%s' needs a network namespace, and the container shares "
                              "the host's",
                              key);
        return 0;
    }
    if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0) {
        if (!rt_spec_namespace(s, CLONE_NEWUTS))
            return bt_err_set(err, EINVAL,
                              "sysctl '%s' needs a uts namespace, and the container shares the "
                              "host's",
                              key);
        return 0;
    }
    return bt_err_set(err, EINVAL,
                      "sysctl '%s' is not namespaced: it would change the whole host, so it "
                      "is refused",
                      key);
}

static void
mount_done(struct rt_mount *m)
{
    free(m->destination);
    free(m->type);
    free(m->source);
    free(m->data);
    free(m->source_root);
}

struct rt_spec *
rt_spec_free(struct rt_spec *s)
{
    if (!s)
        return NULL;
    free(s->bundle);
    free(s->root_path);
    free(s->hostname);
    free(s->domainname);
    bt_strv_free(s->process.args);
    bt_strv_free(s->process.env);
    free(s->process.cwd);
    free(s->process.additional_gids);
    free(s->process.rlimits);
    for (size_t i = 0; i < s->n_mounts; i++)
        mount_done(&s->mounts[i]);
    free(s->mounts);
    for (size_t i = 0; i < s->n_namespaces; i++)
        free(s->namespaces[i].path);
    free(s->namespaces);
    free(s->uid_mappings);
    free(s->gid_mappings);
    bt_strv_free(s->masked_paths);
    bt_strv_free(s->readonly_paths);
    for (size_t i = 0; i < s->n_sysctls; i++) {
        free(s->sysctls[i].key);
        free(s->sysctls[i].value);
    }
    free(s->sysctls);
    for (size_t i = 0; i < s->n_devices; i++)
        free(s->devices[i].path);
    free(s->devices);
    free(s->cgroups_path);
    free(s->resources.cpuset_cpus);
    free(s->resources.cpuset_mems);
    free(s->resources.device_rules);
    rt_seccomp_free(s->seccomp);
    if (s->annotations)
        json_decref(s->annotations);
    free(s);
    return NULL;
}

/* ---- small typed getters: each returns -EINVAL with the key named ---- */

static int
get_str(json_t *obj, const char *key, bool required, char **out, struct bt_err **err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return bt_err_set(err, EINVAL, "'%s' is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return bt_err_set(err, EINVAL, "'%s' must be a string", key);
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int
get_int(json_t *obj, const char *key, int64_t min, int64_t max, bool *present, int64_t *out,
        struct bt_err **err)
{
    json_t *v = json_object_get(obj, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return bt_err_set(err, EINVAL, "'%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return bt_err_set(err, ERANGE, "'%s' is out of range (%lld)", key, (long long)x);
    *out = x;
    if (present)
        *present = true;
    return 0;
}

/* Unsigned 64-bit values (rlimits, seccomp args) may exceed json_int_t. */
static int
get_u64(json_t *obj, const char *key, bool required, uint64_t *out, struct bt_err **err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return bt_err_set(err, EINVAL, "'%s' is required", key);
        return 0;
    }
    if (json_is_integer(v)) {
        /* -1 is commonly written for "unlimited": it wraps to UINT64_MAX */
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 &&
        json_real_value(v) <= 18446744073709551615.0) {
        double d = json_real_value(v);
        *out = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
        return 0;
    }
    return bt_err_set(err, EINVAL, "'%s' must be an unsigned integer", key);
}

static char **
get_strv(json_t *obj, const char *key, struct bt_err **err, int *r)
{
    json_t *v = json_object_get(obj, key);
    char **out = NULL;
    *r = 0;
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        *r = bt_err_set(err, EINVAL, "'%s' must be an array of strings", key);
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach (v, i, e) {
        if (!json_is_string(e)) {
            *r = bt_err_set(err, EINVAL, "'%s[%zu]' must be a string", key, i);
            return bt_strv_free(out);
        }
        out = bt_strv_push(out, json_string_value(e));
    }
    if (!out)
        out = xcalloc(1, sizeof(char *));
    return out;
}

static int
parse_idmaps(json_t *arr, const char *key, struct rt_idmap **out, size_t *n, struct bt_err **err)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bt_err_set(err, EINVAL, "'%s' must be an array", key);
    *out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e) {
        int64_t c = -1, h = -1, s = -1;
        int r = 0;
        if ((r = get_int(e, "containerID", 0, UINT32_MAX, NULL, &c, err)) < 0 ||
            (r = get_int(e, "hostID", 0, UINT32_MAX, NULL, &h, err)) < 0 ||
            (r = get_int(e, "size", 1, UINT32_MAX, NULL, &s, err)) < 0) {
            bt_err_prefix(err, "%s[%zu]", key, i);
            return r;
        }
        if (c < 0 || h < 0 || s < 0)
            return bt_err_set(err, EINVAL, "%s[%zu]: containerID, hostID and size are required",
                              key, i);
        (*out)[i] = (struct rt_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)s};
        (*n)++;
    }
    return 0;
}

static int
parse_process(struct rt_spec *s, json_t *p, struct bt_err **err)
{
    struct rt_process *pr = &s->process;
    int r = 0;
    if (!json_is_object(p))
        return bt_err_set(err, EINVAL, "'process' is required and must be an object");
    pr->terminal = json_is_true(json_object_get(p, "terminal"));
    json_t *cs = json_object_get(p, "consoleSize");
    if (cs) {
        int64_t w = 0, h = 0;
        if ((r = get_int(cs, "width", 0, UINT16_MAX, NULL, &w, err)) < 0 ||
            (r = get_int(cs, "height", 0, UINT16_MAX, NULL, &h, err)) < 0)
            return r;
        pr->console_width = (unsigned)w;
        pr->console_height = (unsigned)h;
    }
    pr->args = get_strv(p, "args", err, &r);
    if (r < 0)
        return r;
    if (!pr->args || !pr->args[0])
        return bt_err_set(err, EINVAL, "'args' must name the program to run");
    pr->env = get_strv(p, "env", err, &r);
    if (r < 0)
        return r;
    if (!pr->env)
        pr->env = xcalloc(1, sizeof(char *));
    if ((r = get_str(p, "cwd", false, &pr->cwd, err)) < 0)
        return r;
    if (!pr->cwd)
        pr->cwd = xstrdup("/");
    if (pr->cwd[0] != '/')
        return bt_err_set(err, EINVAL, "'cwd' must be an absolute path, not '%s'", pr->cwd);

    json_t *user = json_object_get(p, "user");
    int64_t uid = 0, gid = 0, um = -1;
    bool um_set = false;
    if ((r = get_int(user, "uid", 0, UINT32_MAX - 1, NULL, &uid, err)) < 0 ||
        (r = get_int(user, "gid", 0, UINT32_MAX - 1, NULL, &gid, err)) < 0 ||
        (r = get_int(user, "umask", 0, 0777, &um_set, &um, err)) < 0) {
        bt_err_prefix(err, "user");
        return r;
    }
    pr->uid = (uid_t)uid;
    pr->gid = (gid_t)gid;
    pr->umask = um_set ? (int)um : -1;
    json_t *ag = json_object_get(user, "additionalGids");
    if (ag) {
        if (!json_is_array(ag))
            return bt_err_set(err, EINVAL, "user: 'additionalGids' must be an array");
        pr->additional_gids = xcalloc(json_array_size(ag) + 1, sizeof(gid_t));
        size_t i;
        json_t *e;
        json_array_foreach (ag, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) >= UINT32_MAX)
                return bt_err_set(err, EINVAL, "user: additionalGids[%zu] is not a group id", i);
            pr->additional_gids[pr->n_additional_gids++] = (gid_t)json_integer_value(e);
        }
    }

    json_t *caps = json_object_get(p, "capabilities");
    struct {
        const char *key;
        uint64_t *mask;
    } sets[] = {
        {"bounding", &pr->caps.bounding},   {"effective", &pr->caps.effective},
        {"permitted", &pr->caps.permitted}, {"inheritable", &pr->caps.inheritable},
        {"ambient", &pr->caps.ambient},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(sets); i++) {
        if ((r = rt_caps_parse(json_object_get(caps, sets[i].key), sets[i].mask, err)) < 0) {
            bt_err_prefix(err, "capabilities.%s", sets[i].key);
            return r;
        }
    }
    pr->no_new_privs = json_is_true(json_object_get(p, "noNewPrivileges"));
    int64_t oom = 0;
    if ((r = get_int(p, "oomScoreAdj", -1000, 1000, &pr->oom_score_adj_set, &oom, err)) < 0)
        return r;
    pr->oom_score_adj = (int)oom;

    json_t *rl = json_object_get(p, "rlimits");
    if (rl) {
        if (!json_is_array(rl))
            return bt_err_set(err, EINVAL, "'rlimits' must be an array");
        pr->rlimits = xcalloc(json_array_size(rl) + 1, sizeof(*pr->rlimits));
        size_t i;
        json_t *e;
        json_array_foreach (rl, i, e) {
            const char *type = bt_json_str(e, "type");
            int res = type ? rt_rlimit_from_name(type) : -1;
            if (res < 0)
                return bt_err_set(err, EINVAL, "rlimits[%zu]: unknown type '%s'", i,
                                  type ? type : "");
            struct rt_rlimit *l = &pr->rlimits[pr->n_rlimits++];
            l->resource = res;
            if ((r = get_u64(e, "soft", true, &l->soft, err)) < 0 ||
                (r = get_u64(e, "hard", true, &l->hard, err)) < 0) {
                bt_err_prefix(err, "rlimits[%zu]", i);
                return r;
            }
            if (l->soft > l->hard)
                return bt_err_set(err, EINVAL, "rlimits[%zu]: %s soft limit above the hard limit",
                                  i, type);
        }
    }
    return 0;
}

static int
parse_mounts(struct rt_spec *s, json_t *arr, struct bt_err **err)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bt_err_set(err, EINVAL, "'mounts' must be an array");
    s->mounts = xcalloc(json_array_size(arr) + 1, sizeof(*s->mounts));
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e) {
        struct rt_mount *m = &s->mounts[s->n_mounts++];
        int r = 0;
        _cleanup_free_ char *dest = NULL;
        if ((r = get_str(e, "destination", true, &dest, err)) < 0 ||
            (r = get_str(e, "type", false, &m->type, err)) < 0 ||
            (r = get_str(e, "source", false, &m->source, err)) < 0 ||
            (r = get_str(e, "x-berth-source-root", false, &m->source_root, err)) < 0 ||
            (r = rt_mount_options_parse(json_object_get(e, "options"), m, err)) < 0) {
            bt_err_prefix(err, "mounts[%zu]", i);
            return r;
        }
        if (dest[0] != '/')
            return bt_err_set(err, EINVAL, "mounts[%zu]: destination '%s' must be absolute", i,
                              dest);
        m->destination = bt_path_clean(dest);
        if (m->type && strcmp(m->type, "bind") == 0) {
            m->bind = true;
            free(m->type);
            m->type = NULL;
        }
        if (m->bind) {
            if (!m->source)
                return bt_err_set(err, EINVAL, "mounts[%zu]: a bind mount needs a source", i);
            char *abs = bt_path_absolute(s->bundle, m->source);
            free(m->source);
            m->source = abs;
            if (m->source_root) {
                size_t n = strlen(m->source_root);
                if (m->source_root[0] != '/' || strncmp(m->source, m->source_root, n) != 0 ||
                    (m->source[n] != '/' && m->source[n] != '\0'))
                    return bt_err_set(err, EINVAL,
                                      "mounts[%zu]: source '%s' is not below its root '%s'", i,
                                      m->source, m->source_root);
            }
        } else if (!m->type) {
            return bt_err_set(err, EINVAL, "mounts[%zu] ('%s'): 'type' is required", i,
                              m->destination);
        }
    }
    return 0;
}

static int
parse_devices(struct rt_spec *s, json_t *arr, struct bt_err **err)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return bt_err_set(err, EINVAL, "'linux.devices' must be an array");
    s->devices = xcalloc(json_array_size(arr) + 1, sizeof(*s->devices));
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e) {
        struct rt_device *d = &s->devices[s->n_devices++];
        _cleanup_free_ char *type = NULL;
        int64_t mode = 0666, uid = 0, gid = 0;
        bool mode_set = false;
        int r = 0;
        if ((r = get_str(e, "path", true, &d->path, err)) < 0 ||
            (r = get_str(e, "type", true, &type, err)) < 0 ||
            (r = get_int(e, "major", 0, UINT32_MAX, NULL, &d->major, err)) < 0 ||
            (r = get_int(e, "minor", 0, UINT32_MAX, NULL, &d->minor, err)) < 0 ||
            (r = get_int(e, "fileMode", 0, 07777, &mode_set, &mode, err)) < 0 ||
            (r = get_int(e, "uid", 0, UINT32_MAX - 1, NULL, &uid, err)) < 0 ||
            (r = get_int(e, "gid", 0, UINT32_MAX - 1, NULL, &gid, err)) < 0) {
            bt_err_prefix(err, "linux.devices[%zu]", i);
            return r;
        }
        if (strlen(type) != 1 || !strchr("cbup", type[0]))
            return bt_err_set(err, EINVAL, "linux.devices[%zu]: type must be c, b, u or p", i);
        if (d->path[0] != '/' || !bt_str_startswith(d->path, "/dev/"))
            return bt_err_set(err, EINVAL, "linux.devices[%zu]: path '%s' must be under /dev", i,
                              d->path);
        d->type = type[0] == 'u' ? 'c' : type[0];
        d->mode = (mode_t)mode;
        d->uid = (uid_t)uid;
        d->gid = (gid_t)gid;
    }
    return 0;
}

static int
parse_resources(struct rt_spec *s, json_t *res, struct bt_err **err)
{
    struct rt_resources *r = &s->resources;
    r->memory_limit = r->memory_reservation = r->memory_swappiness = -1;
    if (!res)
        return 0;
    int rc = 0;
    json_t *mem = json_object_get(res, "memory");
    bool set = false;
    int64_t v = 0;
    if (mem) {
        if ((rc = get_int(mem, "limit", -1, INT64_MAX, &set, &v, err)) < 0)
            return rc;
        if (set)
            r->memory_limit = v;
        if ((rc = get_int(mem, "swap", -1, INT64_MAX, &r->memory_swap_set, &r->memory_swap, err)) <
            0)
            return rc;
        if ((rc = get_int(mem, "reservation", -1, INT64_MAX, &set, &v, err)) < 0)
            return rc;
        if (set)
            r->memory_reservation = v;
        uint64_t sw = UINT64_MAX;
        if ((rc = get_u64(mem, "swappiness", false, &sw, err)) < 0)
            return rc;
        if (sw != UINT64_MAX) {
            if (sw > 100)
                return bt_err_set(err, ERANGE, "memory swappiness must be 0..100, not %llu",
                                  (unsigned long long)sw);
            r->memory_swappiness = (int64_t)sw;
        }
        r->oom_kill_disable = json_is_true(json_object_get(mem, "disableOOMKiller"));
        if (r->memory_limit > 0 && r->memory_swap_set && r->memory_swap > 0 &&
            r->memory_swap < r->memory_limit)
            return bt_err_set(err, EINVAL,
                              "memory swap limit (%lld) must not be below the memory limit (%lld)",
                              (long long)r->memory_swap, (long long)r->memory_limit);
    }
    json_t *cpu = json_object_get(res, "cpu");
    if (cpu) {
        if ((rc = get_u64(cpu, "shares", false, &r->cpu_shares, err)) < 0 ||
            (rc = get_int(cpu, "quota", -1, INT64_MAX, NULL, &r->cpu_quota, err)) < 0 ||
            (rc = get_u64(cpu, "period", false, &r->cpu_period, err)) < 0 ||
            (rc = get_str(cpu, "cpus", false, &r->cpuset_cpus, err)) < 0 ||
            (rc = get_str(cpu, "mems", false, &r->cpuset_mems, err)) < 0) {
            bt_err_prefix(err, "cpu");
            return rc;
        }
    }
    json_t *pids = json_object_get(res, "pids");
    if (pids && (rc = get_int(pids, "limit", -1, INT64_MAX, NULL, &r->pids_limit, err)) < 0)
        return rc;
    json_t *blkio = json_object_get(res, "blockIO");
    if (blkio) {
        if ((rc = get_int(blkio, "weight", 0, 1000, &set, &v, err)) < 0)
            return rc;
        if (set && v != 0 && v < 10)
            return bt_err_set(err, ERANGE, "blockIO weight must be 10..1000");
        r->blkio_weight = (uint16_t)v;
    }
    json_t *devs = json_object_get(res, "devices");
    if (devs) {
        if (!json_is_array(devs))
            return bt_err_set(err, EINVAL, "'resources.devices' must be an array");
        r->device_rules = xcalloc(json_array_size(devs) + 1, sizeof(*r->device_rules));
        size_t i;
        json_t *e;
        json_array_foreach (devs, i, e) {
            struct rt_device_rule *d = &r->device_rules[r->n_device_rules++];
            d->allow = json_is_true(json_object_get(e, "allow"));
            const char *t = bt_json_str(e, "type");
            d->type = t && t[0] ? t[0] : 'a';
            if (!strchr("acb", d->type) || (t && strlen(t) != 1))
                return bt_err_set(err, EINVAL, "resources.devices[%zu]: bad type '%s'", i, t);
            d->major = d->minor = -1;
            if ((rc = get_int(e, "major", -1, UINT32_MAX, NULL, &d->major, err)) < 0 ||
                (rc = get_int(e, "minor", -1, UINT32_MAX, NULL, &d->minor, err)) < 0)
                return rc;
            const char *a = bt_json_str(e, "access");
            if (!a)
                a = "rwm";
            if (strlen(a) > 3 || strspn(a, "rwm") != strlen(a))
                return bt_err_set(err, EINVAL, "resources.devices[%zu]: bad access '%s'", i, a);
            snprintf(d->access, sizeof(d->access), "%s", a);
        }
    }
    return 0;
}

static int
parse_linux(struct rt_spec *s, json_t *lx, struct bt_err **err)
{
    int r = 0;
    if (!lx)
        return 0;
    if (!json_is_object(lx))
        return bt_err_set(err, EINVAL, "'linux' must be an object");
    json_t *nss = json_object_get(lx, "namespaces");
    if (nss) {
        if (!json_is_array(nss))
            return bt_err_set(err, EINVAL, "'namespaces' must be an array");
        s->namespaces = xcalloc(json_array_size(nss) + 1, sizeof(*s->namespaces));
        size_t i;
        json_t *e;
        json_array_foreach (nss, i, e) {
            const char *type = bt_json_str(e, "type");
            int flag = 0;
            for (size_t k = 0; type && k < BT_ARRAY_SIZE(ns_names); k++)
                if (strcmp(ns_names[k].name, type) == 0)
                    flag = ns_names[k].flag;
            if (!flag)
                return bt_err_set(err, EINVAL, "namespaces[%zu]: unknown type '%s'", i,
                                  type ? type : "");
            for (size_t k = 0; k < s->n_namespaces; k++)
                if (s->namespaces[k].type == flag)
                    return bt_err_set(err, EINVAL, "namespaces[%zu]: '%s' is listed twice", i,
                                      type);
            struct rt_namespace *ns = &s->namespaces[s->n_namespaces++];
            ns->type = flag;
            if ((r = get_str(e, "path", false, &ns->path, err)) < 0)
                return r;
            if (ns->path && ns->path[0] == '\0') {
                free(ns->path);
                ns->path = NULL;
            }
        }
    }
    if ((r = parse_idmaps(json_object_get(lx, "uidMappings"), "uidMappings", &s->uid_mappings,
                          &s->n_uid_mappings, err)) < 0 ||
        (r = parse_idmaps(json_object_get(lx, "gidMappings"), "gidMappings", &s->gid_mappings,
                          &s->n_gid_mappings, err)) < 0)
        return r;
    const struct rt_namespace *user = rt_spec_namespace(s, CLONE_NEWUSER);
    if (user && !user->path && (!s->n_uid_mappings || !s->n_gid_mappings))
        return bt_err_set(err, EINVAL, "a new user namespace needs uidMappings and gidMappings");
    s->masked_paths = get_strv(lx, "maskedPaths", err, &r);
    if (r < 0)
        return r;
    s->readonly_paths = get_strv(lx, "readonlyPaths", err, &r);
    if (r < 0)
        return r;
    json_t *sysctl = json_object_get(lx, "sysctl");
    if (sysctl) {
        if (!json_is_object(sysctl))
            return bt_err_set(err, EINVAL, "'sysctl' must be an object");
        s->sysctls = xcalloc(json_object_size(sysctl) + 1, sizeof(*s->sysctls));
        const char *key;
        json_t *v;
        json_object_foreach (sysctl, key, v) {
            if (!json_is_string(v))
                return bt_err_set(err, EINVAL, "sysctl '%s': value must be a string", key);
            if ((r = rt_sysctl_check(s, key, err)) < 0)
                return r;
            if (strstr(key, "..") || strchr(key, '/'))
                return bt_err_set(err, EINVAL, "sysctl '%s': bad name", key);
            s->sysctls[s->n_sysctls].key = xstrdup(key);
            s->sysctls[s->n_sysctls++].value = xstrdup(json_string_value(v));
        }
    }
    if ((r = parse_devices(s, json_object_get(lx, "devices"), err)) < 0)
        return r;
    if ((r = get_str(lx, "cgroupsPath", false, &s->cgroups_path, err)) < 0)
        return r;
    if ((r = parse_resources(s, json_object_get(lx, "resources"), err)) < 0) {
        bt_err_prefix(err, "resources");
        return r;
    }
    const char *prop = bt_json_str(lx, "rootfsPropagation");
    s->rootfs_propagation = MS_PRIVATE | MS_REC;
    if (prop && prop[0]) {
        struct rt_mount tmp = {0};
        json_t *a = json_pack("[s]", prop);
        r = rt_mount_options_parse(a, &tmp, err);
        json_decref(a);
        free(tmp.data);
        if (r < 0)
            return r;
        if (!tmp.propagation)
            return bt_err_set(err, EINVAL, "rootfsPropagation '%s' is not a propagation", prop);
        s->rootfs_propagation = tmp.propagation;
    }
    json_t *sc = json_object_get(lx, "seccomp");
    if (sc && !json_is_null(sc)) {
        s->seccomp = rt_seccomp_parse(sc, err);
        if (!s->seccomp) {
            bt_err_prefix(err, "seccomp");
            return bt_err_ret(err);
        }
    }
    return 0;
}

struct rt_spec *
rt_spec_parse(json_t *config, const char *bundle, struct bt_err **err)
{
    _cleanup_(rt_spec_freep) struct rt_spec *s = xcalloc(1, sizeof(*s));
    s->bundle = xstrdup(bundle);
    if (!json_is_object(config)) {
        bt_err_set(err, EINVAL, "config.json must hold an object");
        return NULL;
    }
    const char *ver = bt_json_str(config, "ociVersion");
    if (!ver || !bt_str_startswith(ver, "1.")) {
        bt_err_set(err, EINVAL, "unsupported ociVersion '%s' (1.x is supported)", ver ? ver : "");
        return NULL;
    }
    json_t *root = json_object_get(config, "root");
    const char *rp = bt_json_str(root, "path");
    if (!rp || !rp[0]) {
        bt_err_set(err, EINVAL, "'root.path' is required");
        return NULL;
    }
    s->root_path = bt_path_absolute(bundle, rp);
    s->root_readonly = json_is_true(json_object_get(root, "readonly"));
    if (get_str(config, "hostname", false, &s->hostname, err) < 0 ||
        get_str(config, "domainname", false, &s->domainname, err) < 0)
        return NULL;
    if (parse_process(s, json_object_get(config, "process"), err) < 0) {
        bt_err_prefix(err, "process");
        return NULL;
    }
    if (parse_mounts(s, json_object_get(config, "mounts"), err) < 0)
        return NULL;
    if (parse_linux(s, json_object_get(config, "linux"), err) < 0) {
        bt_err_prefix(err, "linux");
        return NULL;
    }
    /* The root filesystem is built by mounting and pivoting: never in the
     * caller's own mount namespace. */
    const struct rt_namespace *mnt = rt_spec_namespace(s, CLONE_NEWNS);
    if (!mnt || mnt->path) {
        bt_err_set(err, EINVAL, "linux: a container needs a new mount namespace");
        return NULL;
    }
    if ((s->hostname || s->domainname) && !rt_spec_namespace(s, CLONE_NEWUTS)) {
        bt_err_set(err, EINVAL, "a hostname needs a uts namespace");
        return NULL;
    }
    json_t *ann = json_object_get(config, "annotations");
    if (ann)
        s->annotations = json_incref(ann);
    return TAKE_PTR(s);
}

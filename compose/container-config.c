/* compose: one container of a service -> the engine's container config. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "compose/compose.h"
#include "compose/build.h"
#include "compose/orchestrate.h"
#include "compose/secrets-internal.h"
#include "engine/engine.h"
#include "image/image.h"
#include "volumes/volumes.h"

static json_t *
strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Sets or replaces NAME=... in an env array. */
static void
env_set(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    size_t i;
    json_t *v;
    json_array_foreach (env, i, v) {
        const char *e = json_string_value(v);
        if (e && strncmp(e, kv, klen) == 0 && (e[klen] == '=' || e[klen] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

static double
ns_to_s(int64_t ns)
{
    return (double)ns / 1e9;
}

/* The first lowerdir (topmost first) that has an /etc/passwd, for resolving
 * user names before the overlay exists. */
static const char *
passwd_root(const struct image_config *img)
{
    for (size_t i = 0; img && img->lowerdirs && img->lowerdirs[i]; i++) {
        _cleanup_free_ char *p = bt_path_join(img->lowerdirs[i], "etc/passwd");
        if (bt_path_exists(p))
            return img->lowerdirs[i];
    }
    return img && img->lowerdirs ? img->lowerdirs[0] : "/nonexistent";
}

static int
set_user(json_t *proc, const char *user, const struct compose_service *s,
         const struct image_config *img, struct bt_err **err)
{
    uid_t uid = 0;
    gid_t gid = 0;
    _cleanup_free_ gid_t *gids = NULL;
    size_t n = 0;
    if (user && user[0] &&
        engine_user_resolve(passwd_root(img), user, &uid, &gid, &gids, &n, err) < 0) {
        bt_err_prefix(err, "user '%s'", user);
        return bt_err_ret(err);
    }
    json_t *ag = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ag, json_integer(gids[i]));
    bt_strv_foreach (g, s->group_add) {
        int64_t num;
        if (!bt_parse_int64(g, &num) || num < 0) {
            /* a group name: resolve it like a user's group */
            uid_t u2;
            gid_t g2;
            _cleanup_free_ gid_t *gg = NULL;
            size_t nn = 0;
            _cleanup_free_ char *spec = xasprintf("0:%s", g);
            if (engine_user_resolve(passwd_root(img), spec, &u2, &g2, &gg, &nn, err) < 0) {
                json_decref(ag);
                bt_err_prefix(err, "group_add '%s'", g);
                return bt_err_ret(err);
            }
            num = g2;
        }
        json_array_append_new(ag, json_integer(num));
    }
    json_object_set_new(
        proc, "user",
        json_pack("{s:i,s:i,s:o}", "uid", (int)uid, "gid", (int)gid, "additionalGids", ag));
    return 0;
}

static json_t *
mount_bind(const char *dest, const char *src, bool ro)
{
    return json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", dest, "type", "bind", "source", src,
                     "options", "rbind", "rprivate", ro ? "ro" : "rw");
}

/* Removes the mount at dest from the array, if any. */
static void
mounts_drop(json_t *mounts, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach (mounts, i, m) {
        if (bt_streq_null(bt_json_str(m, "destination"), dest)) {
            json_array_remove(mounts, i);
            return;
        }
    }
}

static int
set_resources(json_t *lx, json_t *proc, const struct compose_service *s, struct bt_err **err)
{
    json_t *res = json_object_get(lx, "resources");
    if (!res) {
        res = json_object();
        json_object_set_new(lx, "resources", res);
    }
    int64_t mem = s->mem_limit;
    double cpus = s->cpus;
    int64_t pids = s->pids_limit;
    if (s->deploy) {
        if (mem == COMPOSE_NO_INT && s->deploy->limits.memory != COMPOSE_NO_INT)
            mem = s->deploy->limits.memory;
        if (cpus <= 0 && s->deploy->limits.cpus > 0)
            cpus = s->deploy->limits.cpus;
        if (pids == COMPOSE_NO_INT && s->deploy->limits.pids != COMPOSE_NO_INT)
            pids = s->deploy->limits.pids;
    }
    json_t *memj = json_object();
    if (mem != COMPOSE_NO_INT && mem > 0) {
        json_object_set_new(memj, "limit", json_integer(mem));
        int64_t memswap = s->memswap_limit == COMPOSE_NO_INT ? 0 : s->memswap_limit;
        _cleanup_free_ char *swaps = bt_file_read_all("/proc/swaps", NULL, NULL);
        const char *nl = swaps ? strchr(swaps, '\n') : NULL;
        bool has_swap = nl && strchr(nl + 1, '/');
        int64_t swap = 0;
        if (engine_memswap_resolve(mem, memswap, has_swap, &swap, err) < 0) {
            json_decref(memj);
            bt_err_prefix(err, "memswap_limit");
            return bt_err_ret(err);
        }
        if (swap)
            json_object_set_new(memj, "swap", json_integer(swap));
    } else if (s->memswap_limit != COMPOSE_NO_INT && s->memswap_limit > 0) {
        json_decref(memj);
        return bt_err_set(err, EINVAL, "memswap_limit needs mem_limit");
    }
    if (s->mem_reservation != COMPOSE_NO_INT && s->mem_reservation > 0)
        json_object_set_new(memj, "reservation", json_integer(s->mem_reservation));
    if (s->mem_swappiness != COMPOSE_NO_INT && s->mem_swappiness >= 0)
        json_object_set_new(memj, "swappiness", json_integer(s->mem_swappiness));
    if (s->oom_kill_disable)
        json_object_set_new(memj, "disableOOMKiller", json_true());
    if (json_object_size(memj))
        json_object_set_new(res, "memory", memj);
    else
        json_decref(memj);

    json_t *cpu = json_object();
    if (cpus > 0) {
        json_object_set_new(cpu, "quota", json_integer((json_int_t)(cpus * 100000 + 0.5)));
        json_object_set_new(cpu, "period", json_integer(100000));
    }
    if (s->cpu_quota != COMPOSE_NO_INT && s->cpu_quota > 0)
        json_object_set_new(cpu, "quota", json_integer(s->cpu_quota));
    if (s->cpu_period != COMPOSE_NO_INT && s->cpu_period > 0)
        json_object_set_new(cpu, "period", json_integer(s->cpu_period));
    if (s->cpu_shares != COMPOSE_NO_INT && s->cpu_shares > 0)
        json_object_set_new(cpu, "shares", json_integer(s->cpu_shares));
    if (s->cpu_rt_runtime != COMPOSE_NO_INT && s->cpu_rt_runtime > 0)
        json_object_set_new(cpu, "realtimeRuntime", json_integer(s->cpu_rt_runtime));
    if (s->cpu_rt_period != COMPOSE_NO_INT && s->cpu_rt_period > 0)
        json_object_set_new(cpu, "realtimePeriod", json_integer(s->cpu_rt_period));
    if (s->cpuset)
        json_object_set_new(cpu, "cpus", json_string(s->cpuset));
    if (json_object_size(cpu))
        json_object_set_new(res, "cpu", cpu);
    else
        json_decref(cpu);
    if (pids != COMPOSE_NO_INT && pids != 0)
        json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)pids));
    if (s->oom_score_adj != COMPOSE_NO_INT)
        json_object_set_new(proc, "oomScoreAdj", json_integer(s->oom_score_adj));
    return 0;
}

static int
set_devices(json_t *lx, const struct compose_service *s, struct bt_err **err)
{
    if (!s->n_devices)
        return 0;
    json_t *devs = json_object_get(lx, "devices");
    if (!devs) {
        devs = json_array();
        json_object_set_new(lx, "devices", devs);
    }
    json_t *res = json_object_get(lx, "resources");
    json_t *allow = json_object_get(res, "devices");
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct compose_device *d = &s->devices[i];
        struct stat st;
        if (stat(d->source, &st) < 0)
            return bt_err_errno(err, errno, "devices: %s", d->source);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            return bt_err_set(err, EINVAL, "devices: %s is not a device", d->source);
        const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
        const char *perm = d->permissions ? d->permissions : "rwm";
        json_array_append_new(devs, json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:i}", "path",
                                              d->target ? d->target : d->source, "type", type,
                                              "major", (json_int_t)major(st.st_rdev), "minor",
                                              (json_int_t)minor(st.st_rdev), "fileMode",
                                              (int)(st.st_mode & 07777), "uid", 0, "gid", 0));
        if (allow)
            json_array_append_new(allow,
                                  json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type", type,
                                            "major", (json_int_t)major(st.st_rdev), "minor",
                                            (json_int_t)minor(st.st_rdev), "access", perm));
    }
    return 0;
}

static int
set_security(json_t *spec, json_t *proc, json_t *lx, const struct compose_service *s, json_t *cset,
             struct bt_err **err)
{
    json_t *seccomp = s->privileged ? NULL : engine_seccomp_docker_default(cset);
    if (s->privileged) {
        json_object_set_new(lx, "maskedPaths", json_array());
        json_object_set_new(lx, "readonlyPaths", json_array());
        json_t *res = json_object_get(lx, "resources");
        if (res)
            json_object_set_new(res, "devices",
                                json_pack("[{s:b,s:s}]", "allow", 1, "access", "rwm"));
    }
    bt_strv_foreach (o, s->security_opt) {
        const char *v = NULL;
        if (bt_str_startswith(o, "seccomp=") || bt_str_startswith(o, "seccomp:"))
            v = o + 8;
        if (strcmp(o, "no-new-privileges") == 0 || strcmp(o, "no-new-privileges:true") == 0 ||
            strcmp(o, "no-new-privileges=true") == 0) {
            json_object_set_new(proc, "noNewPrivileges", json_true());
        } else if (strcmp(o, "no-new-privileges:false") == 0 ||
                   strcmp(o, "no-new-privileges=false") == 0) {
            json_object_set_new(proc, "noNewPrivileges", json_false());
        } else if (v && strcmp(v, "unconfined") == 0) {
            json_decref(seccomp);
            seccomp = NULL;
        } else if (v) {
            json_t *prof = bt_json_load_file(v, err);
            json_decref(seccomp);
            if (!prof) {
                bt_err_prefix(err, "security_opt seccomp");
                return bt_err_ret(err);
            }
            seccomp = prof;
        } else if (bt_str_startswith(o, "label") || bt_str_startswith(o, "apparmor")) {
            /* no SELinux or AppArmor on berth's hosts: accepted, as Docker
             * does where they are disabled */
        } else {
            json_decref(seccomp);
            return bt_err_set(err, EINVAL, "security_opt: unsupported option '%s'", o);
        }
    }
    if (seccomp)
        json_object_set_new(lx, "seccomp", seccomp);
    else
        json_object_del(lx, "seccomp");
    (void)spec;
    return 0;
}

static json_t *
healthcheck_json(const struct compose_service *s, const struct image_config *img)
{
    const struct compose_healthcheck *hc = s->healthcheck;
    if (hc && hc->disable)
        return json_pack("{s:[s]}", "test", "NONE");
    char **test = hc && hc->test ? hc->test : img ? img->healthcheck.test : NULL;
    if (!test || !test[0])
        return NULL;
    json_t *j = json_pack("{s:o}", "test", strv_json(test));
    int64_t interval = img ? img->healthcheck.interval_ns : 0;
    int64_t timeout = img ? img->healthcheck.timeout_ns : 0;
    int64_t start_period = img ? img->healthcheck.start_period_ns : 0;
    int64_t start_interval = img ? img->healthcheck.start_interval_ns : 0;
    int64_t retries = img ? img->healthcheck.retries : 0;
    if (hc) {
        if (hc->interval != COMPOSE_NO_INT)
            interval = hc->interval;
        if (hc->timeout != COMPOSE_NO_INT)
            timeout = hc->timeout;
        if (hc->start_period != COMPOSE_NO_INT)
            start_period = hc->start_period;
        if (hc->start_interval != COMPOSE_NO_INT)
            start_interval = hc->start_interval;
        if (hc->retries != COMPOSE_NO_INT)
            retries = hc->retries;
    }
    if (interval > 0)
        json_object_set_new(j, "interval", json_real(ns_to_s(interval)));
    if (timeout > 0)
        json_object_set_new(j, "timeout", json_real(ns_to_s(timeout)));
    if (start_period > 0)
        json_object_set_new(j, "start_period", json_real(ns_to_s(start_period)));
    if (start_interval > 0)
        json_object_set_new(j, "start_interval", json_real(ns_to_s(start_interval)));
    if (retries > 0)
        json_object_set_new(j, "retries", json_integer(retries));
    return j;
}

static int
log_json(const struct compose_service *s, json_t **out, struct bt_err **err)
{
    const char *drv = s->logging.driver;
    if (drv && strcmp(drv, "json-file") && strcmp(drv, "local"))
        return bt_err_set(err, ENOTSUP,
                          "logging.driver '%s' is not supported (json-file and local are)", drv);
    json_t *log = json_object();
    for (size_t i = 0; i < s->logging.options.n; i++) {
        const struct compose_kv *kv = &s->logging.options.v[i];
        int64_t n;
        if (strcmp(kv->key, "max-size") == 0 && kv->value &&
            compose_bytes_parse(kv->value, &n, NULL) == 0 && n > 0) {
            json_object_set_new(log, "max_size", json_integer(n));
        } else if (strcmp(kv->key, "max-file") == 0 && kv->value && bt_parse_int64(kv->value, &n) &&
                   n > 0) {
            json_object_set_new(log, "max_file", json_integer(n));
        } else if (strcmp(kv->key, "compress") == 0 || strcmp(kv->key, "mode") == 0 ||
                   strcmp(kv->key, "labels") == 0 || strcmp(kv->key, "env") == 0 ||
                   strcmp(kv->key, "tag") == 0) {
            /* accepted: they change nothing in a json-file berth writes */
        } else {
            json_decref(log);
            return bt_err_set(err, EINVAL, "logging.options: unsupported '%s=%s'", kv->key,
                              kv->value ? kv->value : "");
        }
    }
    *out = log;
    return 0;
}

char *
compose_depends_on_label(const struct compose_service *s)
{
    /* every edge of the graph: depends_on as written, and the implicit
     * ones (network_mode/ipc/pid service:x, volumes_from, links) as
     * service_started, so that down orders them from labels alone */
    _cleanup_strv_ char **deps = compose_service_dependencies(s);
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    size_t k = 0;
    bt_strv_foreach (name, deps) {
        const struct compose_dependency *d = NULL;
        for (size_t i = 0; i < s->n_depends_on; i++)
            if (strcmp(s->depends_on[i].service, name) == 0)
                d = &s->depends_on[i];
        bt_buf_printf(&b, "%s%s:%s:%s", k++ ? "," : "", name,
                      d && d->condition ? d->condition : "service_started",
                      d && d->restart ? "true" : "false");
    }
    char *out = bt_buf_steal(&b);
    bt_buf_done(&b);
    return out;
}

static const char *
restart_policy(const struct compose_service *s, char **owned)
{
    if (s->restart)
        return s->restart;
    if (s->deploy && s->deploy->restart_policy.present) {
        const char *c = s->deploy->restart_policy.condition;
        if (!c || strcmp(c, "any") == 0)
            return "always";
        if (strcmp(c, "on-failure") == 0) {
            if (s->deploy->restart_policy.max_attempts != COMPOSE_NO_INT &&
                s->deploy->restart_policy.max_attempts > 0) {
                *owned =
                    xasprintf("on-failure:%lld", (long long)s->deploy->restart_policy.max_attempts);
                return *owned;
            }
            return "on-failure";
        }
        return "no";
    }
    return "no";
}

static json_t *
labels_json(const struct compose_container_input *in)
{
    const struct compose_service *s = in->service;
    const struct compose_project *p = in->project;
    json_t *l = json_object();
    if (in->image && in->image->labels)
        bt_strv_foreach (kv, in->image->labels) {
            const char *eq = strchr(kv, '=');
            _cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
            json_object_set_new(l, k, json_string(eq ? eq + 1 : ""));
        }
    for (size_t i = 0; i < s->labels.n; i++)
        json_object_set_new(l, s->labels.v[i].key,
                            json_string(s->labels.v[i].value ? s->labels.v[i].value : ""));
    _cleanup_free_ char *hash = compose_service_hash(s);
    _cleanup_free_ char *num = xasprintf("%d", in->number);
    _cleanup_free_ char *deps = compose_depends_on_label(s);
    _cleanup_free_ char *files = bt_strv_join(p->config_files, ",");
    json_object_set_new(l, COMPOSE_LABEL_PROJECT, json_string(p->name));
    json_object_set_new(l, COMPOSE_LABEL_SERVICE, json_string(s->name));
    json_object_set_new(l, COMPOSE_LABEL_NUMBER, json_string(num));
    json_object_set_new(l, COMPOSE_LABEL_HASH, json_string(hash));
    compose_secrets_label(l, p, s);
    json_object_set_new(l, COMPOSE_LABEL_ONEOFF, json_string(in->oneoff ? "True" : "False"));
    json_object_set_new(l, COMPOSE_LABEL_DEPENDS_ON, json_string(deps));
    json_object_set_new(l, COMPOSE_LABEL_VERSION, json_string(COMPOSE_VERSION));
    json_object_set_new(l, COMPOSE_LABEL_WORKING_DIR,
                        json_string(p->working_dir ? p->working_dir : ""));
    json_object_set_new(l, COMPOSE_LABEL_CONFIG_FILES, json_string(files ? files : ""));
    if (in->image && in->image->id)
        json_object_set_new(l, COMPOSE_LABEL_IMAGE, json_string(in->image->id));
    return l;
}

json_t *
compose_container_config(const struct compose_container_input *in, struct bt_err **err)
{
    const struct compose_service *s = in->service;
    const struct image_config *img = in->image;
    _cleanup_json_ json_t *spec = engine_spec_default(false);
    json_t *proc = json_object_get(spec, "process");
    json_t *lx = json_object_get(spec, "linux");
    json_t *mounts = json_object_get(spec, "mounts");

    /* process args: entrypoint + command, each from the service or the
     * image; a service entrypoint drops the image's command (Docker). */
    char **entry = s->entrypoint ? s->entrypoint : img ? img->entrypoint : NULL;
    char **cmd = s->command ? s->command : (s->entrypoint ? NULL : img ? img->cmd : NULL);
    json_t *args = json_array();
    for (size_t i = 0; entry && entry[i]; i++)
        json_array_append_new(args, json_string(entry[i]));
    for (size_t i = 0; cmd && cmd[i]; i++)
        json_array_append_new(args, json_string(cmd[i]));
    json_object_set_new(proc, "args", args);
    if (!json_array_size(args))
        return bt_err_set(err, EINVAL, "no command: neither the service nor its image has one"),
               NULL;
    json_object_set_new(proc, "terminal", json_boolean(s->tty));
    if (s->tty && s->tty_width && s->tty_height)
        json_object_set_new(proc, "consoleSize",
                            json_pack("{s:i,s:i}", "height", s->tty_height, "width", s->tty_width));

    json_t *env = json_array();
    json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                           "/sbin:/bin"));
    for (size_t i = 0; img && img->env && img->env[i]; i++)
        env_set(env, img->env[i]);
    for (size_t i = 0; i < s->environment.n; i++) {
        const struct compose_kv *kv = &s->environment.v[i];
        if (!kv->value)
            continue; /* unset in the environment: left out, as Compose does */
        _cleanup_free_ char *e = xasprintf("%s=%s", kv->key, kv->value);
        env_set(env, e);
    }
    if (s->tty)
        env_set(env, "TERM=xterm");
    _cleanup_free_ char *host_env =
        s->hostname ? xasprintf("HOSTNAME=%s", s->hostname) : xasprintf("HOSTNAME=%.12s", in->id);
    env_set(env, host_env);
    for (size_t i = 0; in->extra_env && in->extra_env[i]; i++)
        env_set(env, in->extra_env[i]);
    json_object_set_new(proc, "env", env);

    const char *wd = s->working_dir ? s->working_dir : img ? img->working_dir : NULL;
    json_object_set_new(proc, "cwd", json_string(wd && wd[0] ? wd : "/"));
    const char *user = s->user ? s->user : img ? img->user : NULL;
    if (set_user(proc, user, s, img, err) < 0)
        return NULL;

    json_object_set_new(spec, "hostname",
                        s->hostname ? json_string(s->hostname) : json_stringn(in->id, 12));
    if (s->domainname)
        json_object_set_new(spec, "domainname", json_string(s->domainname));

    json_t *cset = engine_caps_resolve(s->privileged, s->cap_add, s->cap_drop, err);
    if (!cset)
        return NULL;
    json_object_set_new(
        proc, "capabilities",
        json_pack("{s:O,s:O,s:O}", "bounding", cset, "effective", cset, "permitted", cset));
    int rc = set_security(spec, proc, lx, s, cset, err);
    json_decref(cset);
    if (rc < 0)
        return NULL;

    /* rlimits: Docker's default nofile, then the service's ulimits */
    json_t *rl = json_array();
    bool nofile = false;
    for (size_t i = 0; i < s->n_ulimits; i++) {
        const struct compose_ulimit *u = &s->ulimits[i];
        _cleanup_free_ char *type = xasprintf("RLIMIT_%s", u->name);
        for (char *c = type; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        if (strcmp(type, "RLIMIT_NOFILE") == 0)
            nofile = true;
        json_array_append_new(rl, json_pack("{s:s,s:I,s:I}", "type", type, "soft",
                                            (json_int_t)u->soft, "hard", (json_int_t)u->hard));
    }
    if (!nofile)
        json_array_append_new(
            rl, json_pack("{s:s,s:i,s:i}", "type", "RLIMIT_NOFILE", "soft", 1024, "hard", 1024));
    json_object_set_new(proc, "rlimits", rl);

    if (set_resources(lx, proc, s, err) < 0 || set_devices(lx, s, err) < 0)
        return NULL;
    if (s->read_only)
        json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());
    if (s->sysctls.n) {
        json_t *sc = json_object();
        for (size_t i = 0; i < s->sysctls.n; i++)
            json_object_set_new(sc, s->sysctls.v[i].key,
                                json_string(s->sysctls.v[i].value ? s->sysctls.v[i].value : ""));
        json_object_set_new(lx, "sysctl", sc);
    }
    if (s->cgroup_parent) {
        _cleanup_free_ char *cg = xasprintf("%s/%s", s->cgroup_parent, in->id);
        json_object_set_new(lx, "cgroupsPath", json_string(cg));
    }

    /* namespaces: network joined by path, or the host's */
    json_t *nss = json_object_get(lx, "namespaces");
    size_t k;
    json_t *ns;
    json_array_foreach (nss, k, ns) {
        if (bt_streq_null(bt_json_str(ns, "type"), "network")) {
            if (in->netns)
                json_object_set_new(ns, "path", json_string(in->netns));
            else
                json_array_remove(nss, k);
            break;
        }
    }
    if (s->pid && strcmp(s->pid, "host") == 0) {
        json_array_foreach (nss, k, ns)
            if (bt_streq_null(bt_json_str(ns, "type"), "pid")) {
                json_array_remove(nss, k);
                break;
            }
    }
    if (s->ipc && strcmp(s->ipc, "host") == 0) {
        json_array_foreach (nss, k, ns)
            if (bt_streq_null(bt_json_str(ns, "type"), "ipc")) {
                json_array_remove(nss, k);
                break;
            }
    }

    /* mounts: shm size, resolution files, volumes, tmpfs */
    if (s->shm_size != COMPOSE_NO_INT && s->shm_size > 0) {
        mounts_drop(mounts, "/dev/shm");
        _cleanup_free_ char *sz = xasprintf("size=%lld", (long long)s->shm_size);
        json_array_append_new(mounts,
                              json_pack("{s:s,s:s,s:s,s:[s,s,s,s,s]}", "destination", "/dev/shm",
                                        "type", "tmpfs", "source", "shm", "options", "nosuid",
                                        "noexec", "nodev", "mode=1777", sz));
    }
    if (in->hosts_path)
        json_array_append_new(mounts, mount_bind("/etc/hosts", in->hosts_path, false));
    if (in->resolv_path)
        json_array_append_new(mounts, mount_bind("/etc/resolv.conf", in->resolv_path, false));
    if (in->hostname_path)
        json_array_append_new(mounts, mount_bind("/etc/hostname", in->hostname_path, false));
    json_array_foreach (in->mounts, k, ns) {
        mounts_drop(mounts, bt_json_str(ns, "destination"));
        json_array_append(mounts, ns);
    }
    bt_strv_foreach (t, s->tmpfs) {
        struct vol_mount_request req;
        struct vol_oci_mount om;
        if (vol_tmpfs_parse(t, &req, err) < 0) {
            bt_err_prefix(err, "tmpfs '%s'", t);
            return NULL;
        }
        rc = vol_mount_build(&req, NULL, &om, err);
        vol_mount_request_done(&req);
        if (rc < 0) {
            bt_err_prefix(err, "tmpfs '%s'", t);
            return NULL;
        }
        mounts_drop(mounts, om.destination);
        json_array_append_new(mounts, vol_oci_mount_to_json(&om));
        vol_oci_mount_done(&om);
    }

    json_t *cfg = json_pack("{s:s,s:s,s:O}", "id", in->id, "name", in->name, "spec", spec);
    if (img && img->lowerdirs) {
        json_t *rootfs = json_pack("{s:o}", "lower", strv_json(img->lowerdirs));
        if (in->upper && in->work) {
            json_object_set_new(rootfs, "upper", json_string(in->upper));
            json_object_set_new(rootfs, "work", json_string(in->work));
        }
        json_object_set_new(cfg, "rootfs", rootfs);
    }
    if (!s->image && s->build && in->project) {
        _cleanup_free_ char *built = compose_service_image_name(in->project, s);
        json_object_set_new(cfg, "image", json_string(built));
    } else {
        json_object_set_new(cfg, "image", json_string(s->image ? s->image : ""));
    }
    json_object_set_new(cfg, "labels", labels_json(in));
    _cleanup_free_ char *rp_owned = NULL;
    json_object_set_new(cfg, "restart",
                        json_string(in->oneoff ? "no" : restart_policy(s, &rp_owned)));
    const char *sig = s->stop_signal ? s->stop_signal : img ? img->stop_signal : NULL;
    if (sig)
        json_object_set_new(cfg, "stop_signal", json_string(sig));
    int64_t grace =
        s->stop_grace_period == COMPOSE_NO_INT ? 10 * (int64_t)1000000000 : s->stop_grace_period;
    json_object_set_new(cfg, "stop_timeout",
                        json_integer((json_int_t)((grace + 999999999) / 1000000000)));
    json_t *hc = healthcheck_json(s, img);
    if (hc)
        json_object_set_new(cfg, "healthcheck", hc);
    json_t *log = NULL;
    if (log_json(s, &log, err) < 0) {
        json_decref(cfg);
        return NULL;
    }
    json_object_set_new(cfg, "log", log);
    if (s->init == COMPOSE_TRUE)
        json_object_set_new(cfg, "init", json_true());
    if (s->stdin_open)
        json_object_set_new(cfg, "stdin_open", json_true());
    /* a service's stdin outlives each `attach`, as Compose's containers'
     * (StdinOnce false); run's ends with the input of run itself */
    if (s->stdin_open && !in->oneoff)
        json_object_set_new(cfg, "stdin_once", json_false());
    return cfg;
}

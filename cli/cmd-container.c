/* berth container: a compose-free way to run and debug single containers
 * (run, create, start, stop, kill, rm, ls, inspect, logs, exec, pause,
 * unpause, wait). */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"

static char *
monitor_path(void)
{
    const char *env = getenv("BERTH_MONITOR");
    if (env && env[0])
        return xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return xstrdup("berth-monitor");
    self[n] = '\0';
    return xasprintf("%s/berth-monitor", dirname(self));
}

/* "64m", "1g", "512k", "100" -> bytes */
static bool
parse_size(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return false;
    double mul = 1;
    switch (*end) {
    case 'b':
    case 'B':
        mul = 1;
        end++;
        break;
    case 'k':
    case 'K':
        mul = 1024;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024.0 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024.0 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return false;
    *out = (int64_t)(v * mul);
    return true;
}

/* "1m30s", "500ms", "2s", "2" (seconds) -> seconds */
static bool
parse_duration(const char *s, double *out)
{
    double total = 0;
    const char *p = s;
    if (!*p)
        return false;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0)
            return false;
        p = end;
        if (!*p) {
            total += v;
            break;
        }
        if (bt_str_startswith(p, "ms")) {
            total += v / 1000;
            p += 2;
        } else if (*p == 's') {
            total += v;
            p++;
        } else if (*p == 'm') {
            total += v * 60;
            p++;
        } else if (*p == 'h') {
            total += v * 3600;
            p++;
        } else {
            return false;
        }
    }
    *out = total;
    return true;
}

/* ---- run / create ---- */

struct run_opts {
    bool detach, rm, tty, interactive, read_only, privileged, init;
    const char *config_file;
    const char *name, *rootfs, *user, *workdir, *hostname, *restart, *network;
    const char *stop_signal;
    int stop_timeout;
    int64_t memory, memswap, pids;
    double cpus;
    int64_t cpu_shares;
    char **env, **labels, **cap_add, **cap_drop, **security, **volumes, **tmpfs, **sysctls,
        **ulimits, **log_opts;
    const char *health_cmd;
    double health_interval, health_timeout, health_start_period, health_start_interval;
    int health_retries;
    bool no_healthcheck;
};

static void
run_opts_done(struct run_opts *o)
{
    char **lists[] = {o->env,     o->labels, o->cap_add, o->cap_drop, o->security,
                      o->volumes, o->tmpfs,  o->sysctls, o->ulimits,  o->log_opts};
    for (size_t i = 0; i < BT_ARRAY_SIZE(lists); i++)
        bt_strv_free(lists[i]);
}

static json_t *
build_config(struct run_opts *o, char **cmd, struct bt_err **err)
{
    _cleanup_json_ json_t *spec = engine_spec_default(false);
    json_t *proc = json_object_get(spec, "process");
    json_t *lx = json_object_get(spec, "linux");
    json_object_set_new(proc, "terminal", json_boolean(o->tty));
    struct winsize ws;
    if (o->tty && !o->detach && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row)
        json_object_set_new(proc, "consoleSize",
                            json_pack("{s:i,s:i}", "height", ws.ws_row, "width", ws.ws_col));
    json_t *args = json_array();
    for (size_t i = 0; cmd[i]; i++)
        json_array_append_new(args, json_string(cmd[i]));
    json_object_set_new(proc, "args", args);
    json_t *env = json_object_get(proc, "env");
    if (!o->tty) {
        /* TERM=xterm only with a terminal, as in Docker */
        json_array_remove(env, 1);
    }
    bt_strv_foreach (e, o->env) {
        if (!strchr(e, '=')) {
            const char *v = getenv(e);
            if (!v)
                continue;
            _cleanup_free_ char *kv = xasprintf("%s=%s", e, v);
            json_array_append_new(env, json_string(kv));
        } else {
            json_array_append_new(env, json_string(e));
        }
    }
    if (o->workdir)
        json_object_set_new(proc, "cwd", json_string(o->workdir));
    if (o->user) {
        uid_t uid;
        gid_t gid;
        gid_t *gids = NULL;
        size_t n = 0;
        if (engine_user_resolve(o->rootfs, o->user, &uid, &gid, &gids, &n, err) < 0)
            return NULL;
        json_t *ag = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(ag, json_integer(gids[i]));
        free(gids);
        json_object_set_new(
            proc, "user",
            json_pack("{s:i,s:i,s:o}", "uid", (int)uid, "gid", (int)gid, "additionalGids", ag));
    }
    if (o->hostname)
        json_object_set_new(spec, "hostname", json_string(o->hostname));
    else
        json_object_del(spec, "hostname");
    if (o->read_only)
        json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());

    /* capabilities and the seccomp profile that goes with them */
    json_t *cset = engine_caps_resolve(o->privileged, o->cap_add, o->cap_drop, err);
    if (!cset)
        return NULL;
    json_object_set_new(
        proc, "capabilities",
        json_pack("{s:O,s:O,s:o}", "bounding", cset, "effective", cset, "permitted", cset));
    json_t *seccomp = engine_seccomp_docker_default(cset);
    if (o->privileged) {
        json_decref(seccomp);
        seccomp = NULL;
        json_object_set_new(lx, "maskedPaths", json_array());
        json_object_set_new(lx, "readonlyPaths", json_array());
        json_object_set_new(json_object_get(lx, "resources"), "devices",
                            json_pack("[{s:b,s:s}]", "allow", 1, "access", "rwm"));
    }
    bt_strv_foreach (s, o->security) {
        if (strcmp(s, "no-new-privileges") == 0 || strcmp(s, "no-new-privileges:true") == 0) {
            json_object_set_new(proc, "noNewPrivileges", json_true());
        } else if (strcmp(s, "seccomp=unconfined") == 0 || strcmp(s, "seccomp:unconfined") == 0) {
            if (seccomp)
                json_decref(seccomp);
            seccomp = NULL;
        } else if (bt_str_startswith(s, "seccomp=") || bt_str_startswith(s, "seccomp:")) {
            json_t *prof = bt_json_load_file(s + 8, err);
            if (!prof) {
                if (seccomp)
                    json_decref(seccomp);
                return NULL;
            }
            if (seccomp)
                json_decref(seccomp);
            seccomp = prof;
        } else {
            if (seccomp)
                json_decref(seccomp);
            bt_err_set(err, EINVAL, "unsupported security option '%s'", s);
            return NULL;
        }
    }
    if (seccomp)
        json_object_set_new(lx, "seccomp", seccomp);
    else
        json_object_del(lx, "seccomp");

    json_t *res = json_object_get(lx, "resources");
    if (o->memory > 0 || o->memswap) {
        json_t *mem = json_object();
        if (o->memory > 0)
            json_object_set_new(mem, "limit", json_integer(o->memory));
        _cleanup_free_ char *swaps = bt_file_read_all("/proc/swaps", NULL, NULL);
        bool has_swap = swaps && strchr(swaps, '\n') && strchr(strchr(swaps, '\n') + 1, '/');
        int64_t swap = 0;
        if (engine_memswap_resolve(o->memory, o->memswap, has_swap, &swap, err) < 0) {
            json_decref(mem);
            return NULL;
        }
        if (swap)
            json_object_set_new(mem, "swap", json_integer(swap));
        json_object_set_new(res, "memory", mem);
    }
    if (o->pids)
        json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids));
    if (o->cpus > 0 || o->cpu_shares) {
        json_t *cpu = json_object();
        if (o->cpus > 0) {
            json_object_set_new(cpu, "quota", json_integer((json_int_t)(o->cpus * 100000)));
            json_object_set_new(cpu, "period", json_integer(100000));
        }
        if (o->cpu_shares)
            json_object_set_new(cpu, "shares", json_integer(o->cpu_shares));
        json_object_set_new(res, "cpu", cpu);
    }
    json_t *mounts = json_object_get(spec, "mounts");
    bt_strv_foreach (vol, o->volumes) {
        _cleanup_strv_ char **parts = bt_strv_split(vol, ":");
        size_t n = bt_strv_length(parts);
        if (n < 2 || n > 3 || parts[0][0] != '/' || parts[1][0] != '/') {
            bt_err_set(err, EINVAL, "volume '%s': want /host/path:/container/path[:ro]", vol);
            return NULL;
        }
        bool ro = n == 3 && strcmp(parts[2], "ro") == 0;
        json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", parts[1],
                                                "type", "bind", "source", parts[0], "options",
                                                "rbind", ro ? "ro" : "rw"));
    }
    bt_strv_foreach (t, o->tmpfs) {
        _cleanup_strv_ char **parts = bt_strv_split(t, ":");
        json_t *opts = json_pack("[s,s]", "nosuid", "nodev");
        if (parts[1]) {
            _cleanup_strv_ char **more = bt_strv_split(parts[1], ",");
            bt_strv_foreach (m, more)
                json_array_append_new(opts, json_string(m));
        }
        json_array_append_new(mounts,
                              json_pack("{s:s,s:s,s:s,s:o}", "destination", parts[0], "type",
                                        "tmpfs", "source", "tmpfs", "options", opts));
    }
    if (o->sysctls) {
        json_t *sc = json_object();
        bt_strv_foreach (kv, o->sysctls) {
            char *eq = strchr(kv, '=');
            if (!eq) {
                json_decref(sc);
                bt_err_set(err, EINVAL, "sysctl '%s': want KEY=VALUE", kv);
                return NULL;
            }
            *eq = '\0';
            json_object_set_new(sc, kv, json_string(eq + 1));
            *eq = '=';
        }
        json_object_set_new(lx, "sysctl", sc);
    }
    bt_strv_foreach (u, o->ulimits) {
        /* nofile=1024:2048 */
        char *eq = strchr(u, '=');
        int64_t soft, hard;
        if (!eq) {
            bt_err_set(err, EINVAL, "ulimit '%s': want NAME=SOFT[:HARD]", u);
            return NULL;
        }
        _cleanup_free_ char *name = xstrndup(u, (size_t)(eq - u));
        char *colon = strchr(eq + 1, ':');
        _cleanup_free_ char *sv =
            colon ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup(eq + 1);
        if (!bt_parse_int64(sv, &soft) || !bt_parse_int64(colon ? colon + 1 : sv, &hard)) {
            bt_err_set(err, EINVAL, "ulimit '%s': bad number", u);
            return NULL;
        }
        _cleanup_free_ char *type = xasprintf("RLIMIT_%s", name);
        for (char *p = type; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        json_t *rl = json_object_get(proc, "rlimits");
        size_t k;
        json_t *e;
        json_array_foreach (rl, k, e)
            if (bt_streq_null(bt_json_str(e, "type"), type)) {
                json_array_remove(rl, k);
                break;
            }
        json_array_append_new(rl, json_pack("{s:s,s:I,s:I}", "type", type, "soft", (json_int_t)soft,
                                            "hard", (json_int_t)hard));
    }
    if (o->network) {
        json_t *nss = json_object_get(lx, "namespaces");
        size_t k;
        json_t *e;
        json_array_foreach (nss, k, e)
            if (bt_streq_null(bt_json_str(e, "type"), "network")) {
                if (strcmp(o->network, "host") == 0)
                    json_array_remove(nss, k);
                else if (strcmp(o->network, "none") != 0)
                    json_object_set_new(e, "path", json_string(o->network));
                break;
            }
    }

    json_t *cfg = json_pack("{s:O,s:s}", "spec", spec, "rootfs", o->rootfs);
    if (o->name)
        json_object_set_new(cfg, "name", json_string(o->name));
    if (o->restart)
        json_object_set_new(cfg, "restart", json_string(o->restart));
    if (o->stop_signal)
        json_object_set_new(cfg, "stop_signal", json_string(o->stop_signal));
    if (o->stop_timeout >= 0)
        json_object_set_new(cfg, "stop_timeout", json_integer(o->stop_timeout));
    if (o->rm && o->detach)
        json_object_set_new(cfg, "auto_remove", json_true());
    if (o->labels) {
        json_t *l = json_object();
        bt_strv_foreach (kv, o->labels) {
            char *eq = strchr(kv, '=');
            _cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
            json_object_set_new(l, k, json_string(eq ? eq + 1 : ""));
        }
        json_object_set_new(cfg, "labels", l);
    }
    json_t *log = json_object();
    bt_strv_foreach (lo, o->log_opts) {
        int64_t n;
        if (bt_str_startswith(lo, "max-size=") && parse_size(lo + 9, &n)) {
            json_object_set_new(log, "max_size", json_integer(n));
        } else if (bt_str_startswith(lo, "max-file=") && bt_parse_int64(lo + 9, &n) && n > 0) {
            json_object_set_new(log, "max_file", json_integer(n));
        } else {
            json_decref(log);
            json_decref(cfg);
            bt_err_set(err, EINVAL, "unsupported log option '%s'", lo);
            return NULL;
        }
    }
    json_object_set_new(cfg, "log", log);
    if (o->health_cmd || o->no_healthcheck) {
        json_t *hc = o->no_healthcheck ? json_pack("{s:[s]}", "test", "NONE")
                                       : json_pack("{s:[s,s]}", "test", "CMD-SHELL", o->health_cmd);
        if (o->health_interval > 0)
            json_object_set_new(hc, "interval", json_real(o->health_interval));
        if (o->health_timeout > 0)
            json_object_set_new(hc, "timeout", json_real(o->health_timeout));
        if (o->health_start_period > 0)
            json_object_set_new(hc, "start_period", json_real(o->health_start_period));
        if (o->health_start_interval > 0)
            json_object_set_new(hc, "start_interval", json_real(o->health_start_interval));
        if (o->health_retries > 0)
            json_object_set_new(hc, "retries", json_integer(o->health_retries));
        json_object_set_new(cfg, "healthcheck", hc);
    }
    return cfg;
}

/* ---- logs ---- */

struct log_reader {
    char *path;
    FILE *f;
    ino_t ino;
    bool timestamps;
};

static void
print_entry(const char *line, bool timestamps)
{
    json_error_t je;
    _cleanup_json_ json_t *j = json_loads(line, 0, &je);
    if (!j)
        return;
    const char *log = bt_json_str(j, "log");
    const char *stream = bt_json_str(j, "stream");
    FILE *out = stream && strcmp(stream, "stderr") == 0 ? stderr : stdout;
    if (timestamps)
        fprintf(out, "%s ", bt_json_str(j, "time") ? bt_json_str(j, "time") : "");
    size_t len = json_string_length(json_object_get(j, "log"));
    if (log)
        fwrite(log, 1, len, out);
    fflush(out);
}

/* Prints every whole line available; returns how many were printed. */
static int
drain(struct log_reader *r)
{
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        long pos = ftell(r->f);
        ssize_t len = getline(&line, &cap, r->f);
        if (len <= 0)
            break;
        if (line[len - 1] != '\n') {
            /* a line being written: come back for it */
            fseek(r->f, pos, SEEK_SET);
            break;
        }
        print_entry(line, r->timestamps);
        n++;
    }
    clearerr(r->f);
    free(line);
    return n;
}

static int
logs_print(const char *id, bool follow, long tail, bool timestamps, bool stop_when_exited)
{
    _cleanup_free_ char *path = engine_container_log_path(id);
    /* rotated files first, oldest first */
    _cleanup_strv_ char **files = NULL;
    for (int k = 20; k >= 1; k--) {
        _cleanup_free_ char *p = xasprintf("%s.%d", path, k);
        if (bt_path_exists(p))
            files = bt_strv_push(files, p);
    }
    if (tail >= 0) {
        /* only the last N lines over all files */
        long total = 0;
        bt_strv_foreach (p, files) {
            _cleanup_free_ char *s = bt_file_read_all(p, NULL, NULL);
            for (char *c = s; c && *c; c++)
                total += *c == '\n';
        }
        _cleanup_free_ char *cur = bt_file_read_all(path, NULL, NULL);
        for (char *c = cur; c && *c; c++)
            total += *c == '\n';
        long skip = total > tail ? total - tail : 0;
        bt_strv_foreach (p, files) {
            _cleanup_fclose_ FILE *f = fopen(p, "re");
            char *line = NULL;
            size_t cap = 0;
            while (f && getline(&line, &cap, f) > 0)
                if (skip-- <= 0)
                    print_entry(line, timestamps);
            free(line);
        }
        struct log_reader r = {.path = path, .timestamps = timestamps};
        r.f = fopen(path, "re");
        if (r.f) {
            char *line = NULL;
            size_t cap = 0;
            while (skip > 0) {
                long pos = ftell(r.f);
                if (getline(&line, &cap, r.f) <= 0) {
                    fseek(r.f, pos, SEEK_SET);
                    break;
                }
                skip--;
            }
            free(line);
            fclose(r.f);
        }
        if (!follow && skip <= 0) {
            /* printed above only for rotated files; print current tail */
        }
    }
    bt_strv_foreach (p, files) {
        if (tail >= 0)
            break;
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        struct log_reader r = {.f = f, .timestamps = timestamps};
        if (f)
            drain(&r);
    }
    struct log_reader r = {.path = path, .timestamps = timestamps};
    r.f = fopen(path, "re");
    struct stat st;
    if (r.f && fstat(fileno(r.f), &st) == 0)
        r.ino = st.st_ino;
    if (r.f && tail >= 0) {
        /* skip to the last `tail` lines of the current file */
        long lines = 0;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, r.f) > 0)
            lines++;
        rewind(r.f);
        long skip = lines > tail ? lines - tail : 0;
        while (skip-- > 0 && getline(&line, &cap, r.f) > 0)
            ;
        free(line);
    }
    if (r.f)
        drain(&r);
    while (follow) {
        struct bt_err *err = NULL;
        _cleanup_json_ json_t *state = engine_container_state(id, &err);
        bt_err_free(err);
        const char *s = state ? bt_json_str(state, "Status") : "exited";
        bool active =
            s && (!strcmp(s, "running") || !strcmp(s, "paused") || !strcmp(s, "restarting") ||
                  (!strcmp(s, "created") && !stop_when_exited));
        if (!state)
            active = false;
        if (!r.f)
            r.f = fopen(path, "re");
        if (r.f) {
            drain(&r);
            /* rotated under us: finish the old file, continue with the new */
            if (stat(path, &st) == 0 && st.st_ino != r.ino) {
                drain(&r);
                fclose(r.f);
                r.f = fopen(path, "re");
                if (r.f && fstat(fileno(r.f), &st) == 0)
                    r.ino = st.st_ino;
                continue;
            }
        }
        if (!active) {
            if (r.f)
                drain(&r);
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r.f)
        fclose(r.f);
    return 0;
}

/* ---- commands ---- */

static int
resolve_or_fail(const char *cmd, const char *ref, char **id)
{
    struct bt_err *err = NULL;
    *id = engine_container_resolve(ref, &err);
    if (!*id)
        return cli_fail(&err, cmd);
    return 0;
}

static int
cmd_run(bool start, int argc, char **argv)
{
    const char *cmd = start ? "container run" : "container create";
    enum {
        O_RM = 256,
        O_NAME,
        O_ROOTFS,
        O_RESTART,
        O_MEMORY,
        O_MEMSWAP,
        O_PIDS,
        O_CPUS,
        O_SHARES,
        O_CAPADD,
        O_CAPDROP,
        O_SECOPT,
        O_READONLY,
        O_PRIV,
        O_HCMD,
        O_HINT,
        O_HTO,
        O_HRET,
        O_HSP,
        O_HSI,
        O_NOHC,
        O_STOPSIG,
        O_STOPTO,
        O_LOGOPT,
        O_TMPFS,
        O_SYSCTL,
        O_ULIMIT,
        O_NET,
        O_LABEL,
        O_INIT,
        O_CONFIG,
    };
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"hostname", required_argument, NULL, 'h'},
        {"volume", required_argument, NULL, 'v'},
        {"label", required_argument, NULL, 'l'},
        {"rm", no_argument, NULL, O_RM},
        {"name", required_argument, NULL, O_NAME},
        {"rootfs", required_argument, NULL, O_ROOTFS},
        {"restart", required_argument, NULL, O_RESTART},
        {"memory", required_argument, NULL, 'm'},
        {"memory-swap", required_argument, NULL, O_MEMSWAP},
        {"pids-limit", required_argument, NULL, O_PIDS},
        {"cpus", required_argument, NULL, O_CPUS},
        {"cpu-shares", required_argument, NULL, O_SHARES},
        {"cap-add", required_argument, NULL, O_CAPADD},
        {"cap-drop", required_argument, NULL, O_CAPDROP},
        {"security-opt", required_argument, NULL, O_SECOPT},
        {"read-only", no_argument, NULL, O_READONLY},
        {"privileged", no_argument, NULL, O_PRIV},
        {"health-cmd", required_argument, NULL, O_HCMD},
        {"health-interval", required_argument, NULL, O_HINT},
        {"health-timeout", required_argument, NULL, O_HTO},
        {"health-retries", required_argument, NULL, O_HRET},
        {"health-start-period", required_argument, NULL, O_HSP},
        {"health-start-interval", required_argument, NULL, O_HSI},
        {"no-healthcheck", no_argument, NULL, O_NOHC},
        {"stop-signal", required_argument, NULL, O_STOPSIG},
        {"stop-timeout", required_argument, NULL, O_STOPTO},
        {"log-opt", required_argument, NULL, O_LOGOPT},
        {"tmpfs", required_argument, NULL, O_TMPFS},
        {"sysctl", required_argument, NULL, O_SYSCTL},
        {"ulimit", required_argument, NULL, O_ULIMIT},
        {"network", required_argument, NULL, O_NET},
        {"init", no_argument, NULL, O_INIT},
        {"config", required_argument, NULL, O_CONFIG},
        {"help", no_argument, NULL, 'H'},
        {0},
    };
    struct run_opts o = {.stop_timeout = -1};
    int c;
    optind = 0;
    int rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "+dite:u:w:h:v:l:m:", opts, NULL)) != -1) {
        int64_t n;
        switch (c) {
        case 'd':
            o.detach = true;
            break;
        case 'i':
            o.interactive = true;
            break;
        case 't':
            o.tty = true;
            break;
        case 'e':
            o.env = bt_strv_push(o.env, optarg);
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'w':
            o.workdir = optarg;
            break;
        case 'h':
            o.hostname = optarg;
            break;
        case 'v':
            o.volumes = bt_strv_push(o.volumes, optarg);
            break;
        case 'l':
        case O_LABEL:
            o.labels = bt_strv_push(o.labels, optarg);
            break;
        case O_RM:
            o.rm = true;
            break;
        case O_NAME:
            o.name = optarg;
            break;
        case O_ROOTFS:
            o.rootfs = optarg;
            break;
        case O_RESTART:
            o.restart = optarg;
            break;
        case 'm':
            if (!parse_size(optarg, &o.memory))
                rc = cli_usage_error(cmd, "invalid memory size '%s'", optarg);
            break;
        case O_MEMSWAP:
            if (strcmp(optarg, "-1") == 0)
                o.memswap = -1;
            else if (!parse_size(optarg, &o.memswap))
                rc = cli_usage_error(cmd, "invalid memory-swap '%s'", optarg);
            break;
        case O_PIDS:
            if (!bt_parse_int64(optarg, &o.pids))
                rc = cli_usage_error(cmd, "invalid pids-limit '%s'", optarg);
            break;
        case O_CPUS:
            o.cpus = strtod(optarg, NULL);
            if (o.cpus <= 0)
                rc = cli_usage_error(cmd, "invalid cpus '%s'", optarg);
            break;
        case O_SHARES:
            if (!bt_parse_int64(optarg, &o.cpu_shares))
                rc = cli_usage_error(cmd, "invalid cpu-shares '%s'", optarg);
            break;
        case O_CAPADD:
            o.cap_add = bt_strv_push(o.cap_add, optarg);
            break;
        case O_CAPDROP:
            o.cap_drop = bt_strv_push(o.cap_drop, optarg);
            break;
        case O_SECOPT:
            o.security = bt_strv_push(o.security, optarg);
            break;
        case O_READONLY:
            o.read_only = true;
            break;
        case O_PRIV:
            o.privileged = true;
            break;
        case O_HCMD:
            o.health_cmd = optarg;
            break;
        case O_NOHC:
            o.no_healthcheck = true;
            break;
        case O_HINT:
        case O_HTO:
        case O_HSP:
        case O_HSI: {
            double d;
            if (!parse_duration(optarg, &d)) {
                rc = cli_usage_error(cmd, "invalid duration '%s'", optarg);
                break;
            }
            *(c == O_HINT  ? &o.health_interval
              : c == O_HTO ? &o.health_timeout
              : c == O_HSP ? &o.health_start_period
                           : &o.health_start_interval) = d;
            break;
        }
        case O_HRET:
            if (!bt_parse_int64(optarg, &n) || n < 0)
                rc = cli_usage_error(cmd, "invalid health-retries '%s'", optarg);
            o.health_retries = (int)n;
            break;
        case O_STOPSIG:
            o.stop_signal = optarg;
            break;
        case O_STOPTO:
            if (!bt_parse_int64(optarg, &n))
                rc = cli_usage_error(cmd, "invalid stop-timeout '%s'", optarg);
            o.stop_timeout = (int)n;
            break;
        case O_LOGOPT:
            o.log_opts = bt_strv_push(o.log_opts, optarg);
            break;
        case O_TMPFS:
            o.tmpfs = bt_strv_push(o.tmpfs, optarg);
            break;
        case O_SYSCTL:
            o.sysctls = bt_strv_push(o.sysctls, optarg);
            break;
        case O_ULIMIT:
            o.ulimits = bt_strv_push(o.ulimits, optarg);
            break;
        case O_NET:
            o.network = optarg;
            break;
        case O_INIT:
            o.init = true;
            break;
        case O_CONFIG:
            o.config_file = optarg;
            break;
        case 'H':
            printf("Usage:  berth %s [OPTIONS] --rootfs DIR COMMAND [ARG...]\n", cmd);
            run_opts_done(&o);
            return CLI_EXIT_OK;
        default:
            rc = cli_usage_error(cmd, "unknown option");
        }
    }
    if (rc == 0 && !o.rootfs && !o.config_file)
        rc = cli_usage_error(cmd, "--rootfs DIR is required (images are not used here)");
    if (rc == 0 && optind >= argc && !o.config_file)
        rc = cli_usage_error(cmd, "requires a command to run");
    if (rc) {
        run_opts_done(&o);
        return rc;
    }
    struct bt_err *err = NULL;
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    _cleanup_free_ char *rootfs = o.rootfs ? bt_path_absolute(cwd ? cwd : "/", o.rootfs) : NULL;
    o.rootfs = rootfs;
    /* --config FILE: a whole container config as engine.h documents it */
    _cleanup_json_ json_t *cfg = o.config_file ? bt_json_load_file(o.config_file, &err)
                                               : build_config(&o, argv + optind, &err);
    bool detach = o.detach, rm = o.rm, interactive = o.interactive, tty = o.tty;
    if (cfg && o.init)
        json_object_set_new(cfg, "init", json_true());
    if (cfg && o.interactive)
        json_object_set_new(cfg, "stdin_open", json_true());
    run_opts_done(&o);
    if (!cfg)
        return cli_fail(&err, cmd);
    _cleanup_free_ char *id = engine_container_create(cfg, &err);
    if (!id)
        return cli_fail(&err, cmd);
    if (!start) {
        printf("%s\n", id);
        return CLI_EXIT_OK;
    }
    _cleanup_free_ char *mon = monitor_path();
    if (engine_container_start(id, mon, &err) < 0) {
        int code = err->code == ENOENT ? 127 : err->code == EACCES ? 126 : 125;
        struct bt_err *e2 = NULL; /* the start error is the one to report */
        if (engine_container_remove(id, true, &e2) < 0)
            bt_err_free(e2);
        cli_fail(&err, cmd);
        return code;
    }
    if (detach) {
        printf("%s\n", id);
        return CLI_EXIT_OK;
    }
    struct cli_attach *in = NULL;
    if (interactive && cli_attach_start(id, tty, &in, &err) < 0)
        cli_fail(&err, cmd);
    logs_print(id, true, -1, false, true);
    int code = engine_container_wait(id, &err);
    in = cli_attach_stop(in);
    if (code < 0)
        return cli_fail(&err, cmd);
    if (rm && engine_container_remove(id, true, &err) < 0)
        cli_fail(&err, cmd);
    return code;
}

static int
cmd_simple(const char *sub, int argc, char **argv)
{
    _cleanup_free_ char *cmd = xasprintf("container %s", sub);
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"time", required_argument, NULL, 't'},
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool force = false;
    int timeout = -1;
    int sig = SIGKILL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+ft:s:h", opts, NULL)) != -1) {
        int64_t n;
        switch (c) {
        case 'f':
            force = true;
            break;
        case 't':
            if (!bt_parse_int64(optarg, &n))
                return cli_usage_error(cmd, "invalid time '%s'", optarg);
            timeout = (int)n;
            break;
        case 's':
            if (engine_signal_parse(optarg, &sig) < 0)
                return cli_usage_error(cmd, "invalid signal '%s'", optarg);
            break;
        case 'h':
            printf("Usage:  berth %s [OPTIONS] CONTAINER [CONTAINER...]\n", cmd);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "requires at least one container");
    int rc = CLI_EXIT_OK;
    _cleanup_free_ char *mon = monitor_path();
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *id = NULL;
        if (resolve_or_fail(cmd, argv[i], &id)) {
            rc = CLI_EXIT_FAILURE;
            continue;
        }
        struct bt_err *err = NULL;
        int r = 0;
        if (!strcmp(sub, "start"))
            r = compose_container_start(id, mon, &err);
        else if (!strcmp(sub, "stop"))
            r = engine_container_stop(id, timeout, &err);
        else if (!strcmp(sub, "kill"))
            r = engine_container_kill(id, sig, &err);
        else if (!strcmp(sub, "rm")) {
            /* Everything the container holds goes with it, as with a
             * compose rm: network plumbing, secrets, volume and image use. */
            r = force ? 0 : engine_container_check_removable(id, &err);
            if (r >= 0)
                r = compose_container_remove(id, false, &err);
        } else if (!strcmp(sub, "pause") || !strcmp(sub, "unpause"))
            r = engine_container_pause(id, !strcmp(sub, "pause"), &err);
        else if (!strcmp(sub, "wait")) {
            r = engine_container_wait(id, &err);
            if (r >= 0) {
                printf("%d\n", r);
                continue;
            }
        }
        if (r < 0) {
            rc = cli_fail(&err, cmd);
            continue;
        }
        printf("%s\n", argv[i]);
    }
    return rc;
}

static int
cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, 'f'},
        {"no-trunc", no_argument, NULL, 'n'},
        {0},
    };
    bool all = false, quiet = false, notrunc = false;
    const char *format = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+aq", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'f':
            format = optarg;
            break;
        case 'n':
            notrunc = true;
            break;
        default:
            return cli_usage_error("container ls", "unknown option");
        }
    }
    struct bt_err *err = NULL;
    _cleanup_json_ json_t *list = engine_container_list(all, &err);
    if (!list)
        return cli_fail(&err, "container ls");
    if (format && strcmp(format, "json") == 0) {
        size_t i;
        json_t *v;
        json_array_foreach (list, i, v) {
            _cleanup_free_ char *s = json_dumps(v, JSON_COMPACT);
            printf("%s\n", s);
        }
        return CLI_EXIT_OK;
    }
    if (!quiet)
        printf("%-14s %-30s %-12s %-10s %s\n", "CONTAINER ID", "COMMAND", "STATUS", "EXIT",
               "NAMES");
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
        const char *id = bt_json_str(v, "Id");
        if (quiet) {
            printf("%.*s\n", notrunc ? 64 : 12, id);
            continue;
        }
        json_t *st = json_object_get(v, "State");
        _cleanup_free_ char *args = NULL;
        json_t *a = json_object_get(v, "Args");
        struct bt_buf b = {0};
        size_t k;
        json_t *e;
        json_array_foreach (a, k, e) {
            if (k)
                bt_buf_putc(&b, ' ');
            bt_buf_puts(&b, json_string_value(e) ? json_string_value(e) : "");
        }
        args = bt_buf_steal(&b);
        bt_buf_done(&b);
        if (strlen(args) > 28)
            strcpy(args + 25, "...");
        printf("%-14.12s \"%-28s\" %-12s %-10lld %s\n", id, args, bt_json_str(st, "Status"),
               (long long)json_integer_value(json_object_get(st, "ExitCode")),
               bt_json_str(v, "Name") + 1);
    }
    return CLI_EXIT_OK;
}

static int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
    const char *format = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else
            return cli_usage_error("container inspect", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("container inspect", "requires at least one container");
    json_t *arr = json_array();
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *id = NULL;
        if (resolve_or_fail("container inspect", argv[i], &id)) {
            rc = CLI_EXIT_FAILURE;
            continue;
        }
        struct bt_err *err = NULL;
        json_t *j = cli_container_inspect_json(id, &err);
        if (!j) {
            rc = cli_fail(&err, "container inspect");
            continue;
        }
        if (format) {
            struct bt_buf b = {0};
            if (cli_template_render(format, j, &b, &err) < 0) {
                bt_buf_done(&b);
                json_decref(j);
                json_decref(arr);
                return cli_fail(&err, "container inspect");
            }
            _cleanup_free_ char *s = bt_buf_steal(&b);
            bt_buf_done(&b);
            printf("%s\n", s);
            json_decref(j);
        } else {
            json_array_append_new(arr, j);
        }
    }
    if (!format) {
        _cleanup_free_ char *s = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
    }
    json_decref(arr);
    return rc;
}

static int
cmd_logs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 'n'},
        {"timestamps", no_argument, NULL, 't'},
        {0},
    };
    bool follow = false, ts = false;
    long tail = -1;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+fn:t", opts, NULL)) != -1) {
        int64_t n;
        switch (c) {
        case 'f':
            follow = true;
            break;
        case 't':
            ts = true;
            break;
        case 'n':
            if (strcmp(optarg, "all") == 0)
                tail = -1;
            else if (bt_parse_int64(optarg, &n) && n >= 0)
                tail = (long)n;
            else
                return cli_usage_error("container logs", "invalid tail '%s'", optarg);
            break;
        default:
            return cli_usage_error("container logs", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("container logs", "requires exactly one container");
    _cleanup_free_ char *id = NULL;
    if (resolve_or_fail("container logs", argv[optind], &id))
        return CLI_EXIT_FAILURE;
    return logs_print(id, follow, tail, ts, false);
}

static int
cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"detach", no_argument, NULL, 'd'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"env", required_argument, NULL, 'e'},
        {0},
    };
    bool interactive = false, tty = false, detach = false;
    const char *user = NULL, *workdir = NULL;
    _cleanup_strv_ char **env = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+itdu:w:e:", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            interactive = true;
            break;
        case 't':
            tty = true;
            break;
        case 'd':
            detach = true;
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            workdir = optarg;
            break;
        case 'e':
            env = bt_strv_push(env, optarg);
            break;
        default:
            return cli_usage_error("container exec", "unknown option");
        }
    }
    if (argc - optind < 2)
        return cli_usage_error("container exec", "requires a container and a command");
    _cleanup_free_ char *id = NULL;
    if (resolve_or_fail("container exec", argv[optind], &id))
        return CLI_EXIT_FAILURE;
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    struct engine_container_exec_opts eo = {
        .args = argv + optind + 1,
        .env = env,
        .cwd = workdir,
        .user = user,
        .tty = tty,
        .stdio = {interactive ? -1 : null, detach ? null : -1, detach ? null : -1},
    };
    struct winsize ws;
    if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        eo.tty_width = ws.ws_col;
        eo.tty_height = ws.ws_row;
    }
    struct engine_exec ex;
    struct bt_err *err = NULL;
    if (engine_container_exec(id, &eo, &ex, &err) < 0) {
        int code = err->code == ENOENT ? 127 : err->code == EACCES ? 126 : 125;
        if (strstr(err->msg, "is not running"))
            code = 1;
        cli_fail(&err, "container exec");
        return code;
    }
    if (detach) {
        if (ex.pty_master >= 0)
            close(ex.pty_master);
        return CLI_EXIT_OK;
    }
    int r = engine_foreground_wait(ex.pid, ex.pty_master, &err);
    if (ex.pty_master >= 0)
        close(ex.pty_master);
    if (r < 0)
        return cli_fail(&err, "container exec");
    return r;
}

static bool
print_event(json_t *ev, void *data)
{
    bool *as_json = data;
    if (*as_json) {
        _cleanup_free_ char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
    } else {
        _cleanup_free_ char *attrs = json_dumps(json_object_get(ev, "attributes"), JSON_COMPACT);
        printf("%s container %s %s %s\n", bt_json_str(ev, "time"), bt_json_str(ev, "action"),
               bt_json_str(ev, "id"), attrs ? attrs : "");
    }
    fflush(stdout);
    return true;
}

static int
cmd_events(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
    bool as_json = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'f' && strcmp(optarg, "json") == 0)
            as_json = true;
        else
            return cli_usage_error("container events", "unknown option");
    }
    if (optind + 1 != argc)
        return cli_usage_error("container events", "requires exactly one container");
    _cleanup_free_ char *id = NULL;
    if (resolve_or_fail("container events", argv[optind], &id))
        return CLI_EXIT_FAILURE;
    struct bt_err *err = NULL;
    if (engine_monitor_events(id, print_event, &as_json, &err) < 0)
        return cli_fail(&err, "container events");
    return CLI_EXIT_OK;
}

static int
cmd_stats_top(bool top, int argc, char **argv)
{
    const char *cmd = top ? "container top" : "container stats";
    if (argc != 2)
        return cli_usage_error(cmd, "requires exactly one container");
    _cleanup_free_ char *id = NULL;
    if (resolve_or_fail(cmd, argv[1], &id))
        return CLI_EXIT_FAILURE;
    struct bt_err *err = NULL;
    if (!top) {
        struct engine_cgroup_stats st;
        if (engine_container_stats(id, &st, &err) < 0)
            return cli_fail(&err, cmd);
        _cleanup_json_ json_t *j =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "id", id, "memory_usage",
                      (json_int_t)st.memory_usage, "memory_limit", (json_int_t)st.memory_limit,
                      "cpu_usage_ns", (json_int_t)st.cpu_usage_ns, "pids",
                      (json_int_t)st.pids_current, "oom_kills", (json_int_t)st.oom_kills);
        _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        return CLI_EXIT_OK;
    }
    _cleanup_free_ pid_t *pids = engine_container_pids(id, &err);
    if (!pids)
        return cli_fail(&err, cmd);
    printf("%-8s %s\n", "PID", "CMD");
    for (size_t i = 0; pids[i]; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pids[i]);
        size_t len = 0;
        _cleanup_free_ char *c = bt_file_read_all(path, &len, NULL);
        for (size_t k = 0; c && k + 1 < len; k++)
            if (c[k] == '\0')
                c[k] = ' ';
        printf("%-8d %s\n", (int)pids[i], c ? c : "");
    }
    return CLI_EXIT_OK;
}

static void
container_usage(FILE *out)
{
    fprintf(out, "Usage:  berth container COMMAND\n\n"
                 "Manage single containers without a compose file.\n\n"
                 "Commands:\n"
                 "  run      Create and start a container (--rootfs DIR COMMAND...)\n"
                 "  create   Create a container\n"
                 "  start    Start containers\n"
                 "  stop     Stop containers (signal, grace period, then SIGKILL)\n"
                 "  kill     Send a signal to containers\n"
                 "  pause    Freeze all processes of containers\n"
                 "  unpause  Thaw them\n"
                 "  rm       Remove containers\n"
                 "  ls       List containers\n"
                 "  inspect  Show container details (-f '{{.State.Pid}}')\n"
                 "  logs     Show a container's output\n"
                 "  exec     Run a command in a running container\n"
                 "  cp       Copy files between a container and the host\n"
                 "  wait     Wait for containers to stop and print their exit codes\n"
                 "  events   Stream a running container's events\n"
                 "  stats    Show a running container's resource usage (JSON)\n"
                 "  top      List a running container's processes\n");
}

int
cli_cmd_container(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        container_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (!strcmp(sub, "run"))
        return cmd_run(true, argc, argv);
    if (!strcmp(sub, "create"))
        return cmd_run(false, argc, argv);
    if (!strcmp(sub, "ls") || !strcmp(sub, "ps") || !strcmp(sub, "list"))
        return cmd_ls(argc, argv);
    if (!strcmp(sub, "inspect"))
        return cmd_inspect(argc, argv);
    if (!strcmp(sub, "logs"))
        return cmd_logs(argc, argv);
    if (!strcmp(sub, "exec"))
        return cmd_exec(argc, argv);
    if (!strcmp(sub, "events"))
        return cmd_events(argc, argv);
    if (!strcmp(sub, "cp"))
        return cli_cmd_container_cp(argc, argv);
    if (!strcmp(sub, "stats") || !strcmp(sub, "top"))
        return cmd_stats_top(!strcmp(sub, "top"), argc, argv);
    if (!strcmp(sub, "start") || !strcmp(sub, "stop") || !strcmp(sub, "kill") ||
        !strcmp(sub, "rm") || !strcmp(sub, "pause") || !strcmp(sub, "unpause") ||
        !strcmp(sub, "wait"))
        return cmd_simple(sub, argc, argv);
    return cli_usage_error("container", "unknown command '%s'", sub);
}

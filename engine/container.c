/* engine: the container lifecycle — create, start (spawn berth-monitor),
 * stop, kill, pause, remove, list, inspect, exec — over the store in
 * ROOT/containers/ID. Works when a container's monitor has died: the state
 * then says what is known and stop/remove act on the cgroup directly. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/cgroup-internal.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "engine/runtime-internal.h"

static char *
new_id(void)
{
    unsigned char b[32];
    if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (getpid() >> (i % 4)) ^ i);
    }
    char *s = xmalloc(65);
    for (size_t i = 0; i < 32; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    return s;
}

static bool
valid_name(const char *n)
{
    /* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
    if (!n || !n[0] || strlen(n) > 128)
        return false;
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n[0]))
        return false;
    return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
           strlen(n);
}

static char **
list_ids(struct bt_err **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/containers", engine_root());
    _cleanup_dir_ DIR *d = opendir(dir);
    char **ids = xcalloc(1, sizeof(char *));
    if (!d) {
        if (errno == ENOENT)
            return ids;
        bt_err_errno(err, errno, "open %s", dir);
        return bt_strv_free(ids);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *cfg = xasprintf("%s/%s/config.json", dir, e->d_name);
        if (bt_path_exists(cfg))
            ids = bt_strv_push(ids, e->d_name);
    }
    bt_strv_sort(ids);
    return ids;
}

char *
engine_container_resolve(const char *ref, struct bt_err **err)
{
    _cleanup_strv_ char **ids = list_ids(err);
    if (!ids)
        return NULL;
    const char *r = ref && ref[0] == '/' ? ref + 1 : ref;
    /* exact id, then name, then a unique id prefix */
    bt_strv_foreach (id, ids)
        if (strcmp(id, r) == 0)
            return xstrdup(id);
    bt_strv_foreach (id, ids) {
        _cleanup_json_ json_t *c = engine_container_config_load(id, NULL);
        const char *name = bt_json_str(c, "name");
        if (name && strcmp(name, r) == 0)
            return xstrdup(id);
    }
    char *found = NULL;
    if (strlen(r) >= 1) {
        bt_strv_foreach (id, ids) {
            if (!bt_str_startswith(id, r))
                continue;
            if (found) {
                free(found);
                bt_err_set(err, EINVAL, "container id prefix '%s' is ambiguous", r);
                return NULL;
            }
            found = xstrdup(id);
        }
    }
    if (!found)
        bt_err_set(err, ENOENT, "no such container: %s", r);
    return found;
}

char *
engine_container_create(json_t *config, struct bt_err **err)
{
    if (!json_is_object(config) || !json_is_object(json_object_get(config, "spec"))) {
        bt_err_set(err, EINVAL, "a container config needs an OCI 'spec' object");
        return NULL;
    }
    _cleanup_free_ char *id =
        bt_json_str(config, "id") ? xstrdup(bt_json_str(config, "id")) : new_id();
    if (!valid_name(id)) {
        bt_err_set(err, EINVAL, "invalid container id '%s'", id);
        return NULL;
    }
    const char *name = bt_json_str(config, "name");
    _cleanup_free_ char *defname = NULL;
    if (!name) {
        defname = xstrndup(id, 12);
        name = defname;
    }
    if (!valid_name(name)) {
        bt_err_set(err, EINVAL,
                   "invalid container name '%s': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
        return NULL;
    }
    enum engine_restart pol;
    int retries;
    if (engine_restart_parse(bt_json_str(config, "restart"), &pol, &retries, err) < 0)
        return NULL;
    _cleanup_strv_ char **ids = list_ids(err);
    if (!ids)
        return NULL;
    bt_strv_foreach (other, ids) {
        _cleanup_json_ json_t *c = engine_container_config_load(other, NULL);
        if (strcmp(other, id) == 0 || bt_streq_null(bt_json_str(c, "name"), name)) {
            bt_err_set(err, EEXIST,
                       "the container name \"/%s\" is already in use by container \"%s\"", name,
                       other);
            return NULL;
        }
    }
    /* The spec must make sense before anything is written. */
    _cleanup_json_ json_t *cfg = json_deep_copy(config);
    json_t *spec = json_object_get(cfg, "spec");
    if (!json_object_get(spec, "hostname")) {
        /* Docker's default hostname: the short id, when there is a uts
         * namespace to hold it */
        size_t k;
        json_t *ns;
        json_array_foreach (json_object_get(json_object_get(spec, "linux"), "namespaces"), k, ns) {
            if (bt_streq_null(bt_json_str(ns, "type"), "uts") && !json_object_get(ns, "path")) {
                _cleanup_free_ char *h = xstrndup(id, 12);
                json_object_set_new(spec, "hostname", json_string(h));
                break;
            }
        }
    }
    json_t *rootfs = json_object_get(cfg, "rootfs");
    _cleanup_free_ char *dir = engine_container_dir(id);
    if (json_is_string(rootfs)) {
        if (!json_object_get(spec, "root"))
            json_object_set_new(spec, "root", json_object());
        json_object_set(json_object_get(spec, "root"), "path", rootfs);
    } else if (json_is_object(rootfs)) {
        if (!json_is_array(json_object_get(rootfs, "lower")) ||
            !json_array_size(json_object_get(rootfs, "lower"))) {
            bt_err_set(err, EINVAL, "an overlay rootfs needs 'lower' directories");
            return NULL;
        }
        if (!json_object_get(spec, "root"))
            json_object_set_new(spec, "root", json_object());
        _cleanup_free_ char *merged = bt_path_join(dir, "rootfs");
        json_object_set_new(json_object_get(spec, "root"), "path", json_string(merged));
    }
    _cleanup_(rt_spec_freep) struct rt_spec *check = rt_spec_parse(spec, dir, err);
    if (!check)
        return NULL;
    if (!json_is_object(rootfs) && !bt_path_is_dir(check->root_path)) {
        bt_err_set(err, ENOENT, "root filesystem '%s' is not a directory", check->root_path);
        return NULL;
    }
    json_object_set_new(cfg, "id", json_string(id));
    json_object_set_new(cfg, "name", json_string(name));
    _cleanup_free_ char *now = engine_time_now_rfc3339();
    json_object_set_new(cfg, "created", json_string(now));
    if (bt_mkdir_p(dir, 0700, err) < 0)
        return NULL;
    _cleanup_free_ char *path = bt_path_join(dir, "config.json");
    _cleanup_json_ json_t *state =
        json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s,s:i}", "Status", "created",
                  "Running", 0, "Paused", 0, "Restarting", 0, "OOMKilled", 0, "Dead", 0, "Pid", 0,
                  "ExitCode", 0, "Error", "", "StartedAt", "0001-01-01T00:00:00Z", "FinishedAt",
                  "0001-01-01T00:00:00Z", "RestartCount", 0);
    if (bt_json_write_atomic(path, cfg, err) < 0 ||
        engine_container_state_write(id, state, err) < 0) {
        bt_rm_rf(dir, NULL);
        return NULL;
    }
    return TAKE_PTR(id);
}

static bool
monitor_alive(json_t *st)
{
    pid_t mp = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
    uint64_t ms = (uint64_t)json_integer_value(json_object_get(st, "MonitorStart"));
    return mp > 0 && engine_pid_alive(mp, ms);
}

static bool
init_alive(json_t *st)
{
    pid_t p = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    uint64_t s = (uint64_t)json_integer_value(json_object_get(st, "PidStart"));
    return p > 0 && engine_pid_alive(p, s);
}

static bool
is_active(const char *status)
{
    return status && (!strcmp(status, "running") || !strcmp(status, "paused") ||
                      !strcmp(status, "restarting"));
}

/* The state with what can be known when the monitor is gone. */
json_t *
engine_container_state(const char *id, struct bt_err **err)
{
    struct bt_err *e = NULL;
    json_t *st = engine_container_state_load(id, &e);
    if (!st) {
        if (e) {
            bt_err_move(err, &e);
            return NULL;
        }
        return json_pack("{s:s}", "Status", "created");
    }
    if (is_active(bt_json_str(st, "Status")) && !monitor_alive(st)) {
        /* The monitor may have written its last state and exited between
         * the read above and that check: what it left is the truth. */
        json_t *again = engine_container_state_load(id, NULL);
        if (again) {
            json_decref(st);
            st = again;
        }
    }
    if (is_active(bt_json_str(st, "Status")) && !monitor_alive(st)) {
        bool alive = init_alive(st);
        if (!alive) {
            json_object_set_new(st, "Status", json_string("exited"));
            json_object_set_new(st, "Running", json_false());
            json_object_set_new(st, "Paused", json_false());
            json_object_set_new(st, "Restarting", json_false());
            json_object_set_new(st, "Pid", json_integer(0));
            /* unknown, never 0: a one-shot must not pass for successful */
            json_object_set_new(st, "ExitCode", json_integer(255));
        }
        json_object_set_new(st, "Error",
                            json_string(alive ? "the monitor is gone; the container still runs "
                                                "unsupervised"
                                              : "the monitor is gone; the exit status is unknown"));
    }
    return st;
}

static int
spawn_monitor(const char *id, const char *monitor, struct bt_err **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return bt_err_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return bt_err_errno(err, errno, "fork");
    }
    if (pid == 0) {
        /* Detach twice: the monitor belongs to no CLI process. */
        close(p[0]);
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        char fdarg[32];
        snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
        fcntl(p[1], F_SETFD, 0);
        char *argv[] = {(char *)monitor, "--ready-fd", fdarg, (char *)id, NULL};
        execv(monitor, argv);
        dprintf(p[1], "cannot run %s: %s\n", monitor, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    char buf[2048];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(p[0], buf + n, sizeof(buf) - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n >= sizeof(buf) - 1 || memchr(buf, '\n', n))
            break;
    }
    close(p[0]);
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    if (strcmp(buf, "ok") == 0)
        return 0;
    int code = strstr(buf, "No such file") ? ENOENT : strstr(buf, "ermission") ? EACCES : EIO;
    return bt_err_set(err, code, "%s", n ? buf : "the monitor exited during start-up");
}

int
engine_container_start(const char *id, const char *monitor, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (is_active(bt_json_str(st, "Status")))
        return 0; /* already started: nothing to do, as in Docker */
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    if (bt_mkdir_p(rundir, 0700, err) < 0)
        return bt_err_ret(err);
    return spawn_monitor(id, monitor, err);
}

/* Stop without a monitor: signal, wait, kill the cgroup, remove it. */
static int
stop_orphan(const char *id, json_t *st, int timeout, struct bt_err **err)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, err);
    if (!cfg)
        return bt_err_ret(err);
    int sig = SIGTERM;
    const char *ss = bt_json_str(cfg, "stop_signal");
    if (ss)
        engine_signal_parse(ss, &sig);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
        json_object_get(st, "Cgroup") ? rt_cgroup_from_json(json_object_get(st, "Cgroup"), NULL)
                                      : NULL;
    if (init_alive(st)) {
        kill(pid, sig);
        for (int i = 0; i < timeout * 20 && init_alive(st); i++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (cg) {
        struct bt_err *e = NULL; /* already gone is fine */
        if (rt_cgroup_destroy(cg, &e) < 0 && e->code != ENOENT) {
            bt_err_move(err, &e);
            return bt_err_ret(err);
        }
        bt_err_free(e);
    } else if (init_alive(st)) {
        kill(pid, SIGKILL);
    }
    _cleanup_free_ char *t = engine_time_now_rfc3339();
    json_object_set_new(st, "Status", json_string("exited"));
    json_object_set_new(st, "Running", json_false());
    json_object_set_new(st, "Paused", json_false());
    json_object_set_new(st, "Restarting", json_false());
    json_object_set_new(st, "Pid", json_integer(0));
    json_object_set_new(st, "FinishedAt", json_string(t));
    return engine_container_state_write(id, st, err);
}

int
engine_container_stop(const char *id, int timeout, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (!is_active(bt_json_str(st, "Status")))
        return 0;
    if (!monitor_alive(st))
        return stop_orphan(id, st, timeout < 0 ? 10 : timeout, err);
    _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "stop");
    if (timeout >= 0)
        json_object_set_new(req, "timeout", json_integer(timeout));
    int wait_ms = timeout < 0 ? -1 : (timeout + 30) * 1000;
    _cleanup_json_ json_t *r = engine_monitor_request(id, req, wait_ms, err);
    if (!r)
        return bt_err_ret(err);
    /* The monitor exits right after answering; wait for it so that the
     * state on disk is final when we return. */
    for (int i = 0; i < 200 && monitor_alive(st); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int
engine_container_kill(const char *id, int sig, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (!is_active(bt_json_str(st, "Status")) || !init_alive(st))
        return bt_err_set(err, EINVAL, "container %s is not running", id);
    if (!monitor_alive(st)) {
        if (kill((pid_t)json_integer_value(json_object_get(st, "Pid")), sig) < 0)
            return bt_err_errno(err, errno, "kill");
        return 0;
    }
    _cleanup_free_ char *name = xasprintf("%d", sig);
    _cleanup_json_ json_t *req = json_pack("{s:s,s:s}", "cmd", "kill", "signal", name);
    _cleanup_json_ json_t *r = engine_monitor_request(id, req, 10000, err);
    return r ? 0 : bt_err_ret(err);
}

int
engine_container_pause(const char *id, bool pause, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (!monitor_alive(st))
        return bt_err_set(err, EINVAL, "container %s is not running", id);
    _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", pause ? "pause" : "unpause");
    _cleanup_json_ json_t *r = engine_monitor_request(id, req, 30000, err);
    return r ? 0 : bt_err_ret(err);
}

static int
busy_error(const char *id, json_t *st, struct bt_err **err)
{
    const char *status = bt_json_str(st, "Status");
    if (!is_active(status) && !init_alive(st))
        return 0;
    return bt_err_set(err, EBUSY,
                      "cannot remove container %s: container is %s: stop the container "
                      "before removing or force remove",
                      id, status);
}

int
engine_container_check_removable(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    return busy_error(id, st, err);
}

int
engine_container_remove(const char *id, bool force, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (is_active(bt_json_str(st, "Status")) || init_alive(st)) {
        if (!force)
            return busy_error(id, st, err);
        if (engine_container_stop(id, 0, err) < 0)
            return bt_err_ret(err);
    }
    /* A monitor that died may have left the cgroup: it goes too. */
    _cleanup_json_ json_t *last = engine_container_state(id, NULL);
    json_t *cgj = last ? json_object_get(last, "Cgroup") : NULL;
    if (cgj) {
        _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = rt_cgroup_from_json(cgj, NULL);
        struct bt_err *e = NULL;
        if (cg && rt_cgroup_destroy(cg, &e) < 0) {
            bt_err_move(err, &e);
            return bt_err_ret(err);
        }
    }
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    if (bt_rm_rf(rundir, err) < 0 || bt_rm_rf(dir, err) < 0)
        return bt_err_ret(err);
    return 0;
}

/* Docker-like inspect document. */
json_t *
engine_container_inspect(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, err);
    if (!cfg)
        return NULL;
    json_t *st = engine_container_state(id, err);
    if (!st)
        return NULL;
    json_t *spec = json_object_get(cfg, "spec");
    json_t *proc = json_object_get(spec, "process");
    _cleanup_free_ char *logp = engine_container_log_path(id);
    _cleanup_free_ char *name = xasprintf("/%s", bt_json_str(cfg, "name"));
    json_t *labels = json_object_get(cfg, "labels");
    json_t *out = json_pack(
        "{s:s,s:s,s:s,s:O,s:O,s:s,s:s,s:o,s:{s:O,s:O,s:O,s:O,s:O,s:o},s:{s:O,s:O,s:O},s:O}", "Id",
        id, "Created", bt_json_str(cfg, "created") ? bt_json_str(cfg, "created") : "", "Name", name,
        "Path", json_array_get(json_object_get(proc, "args"), 0) ?: json_null(), "Args",
        json_object_get(proc, "args") ?: json_null(), "LogPath", logp, "Image",
        bt_json_str(cfg, "image") ? bt_json_str(cfg, "image") : "", "State", st, "Config",
        "Hostname", json_object_get(spec, "hostname") ?: json_null(), "Env",
        json_object_get(proc, "env") ?: json_null(), "Cmd",
        json_object_get(proc, "args") ?: json_null(), "WorkingDir",
        json_object_get(proc, "cwd") ?: json_null(), "Labels", labels ?: json_null(), "Tty",
        json_boolean(json_is_true(json_object_get(proc, "terminal"))), "HostConfig",
        "RestartPolicy", json_object_get(cfg, "restart") ?: json_null(), "AutoRemove",
        json_object_get(cfg, "auto_remove") ?: json_false(), "LogConfig",
        json_object_get(cfg, "log") ?: json_null(), "RestartCount",
        json_object_get(st, "RestartCount") ?: json_integer(0));
    json_t *hc = json_object_get(out, "HostConfig");
    json_object_set_new(hc, "Init", json_boolean(json_is_true(json_object_get(cfg, "init"))));
    json_object_set_new(json_object_get(out, "Config"), "OpenStdin",
                        json_boolean(json_is_true(json_object_get(cfg, "stdin_open"))));
    return out;
}

json_t *
engine_container_list(bool all, struct bt_err **err)
{
    _cleanup_strv_ char **ids = list_ids(err);
    if (!ids)
        return NULL;
    json_t *arr = json_array();
    bt_strv_foreach (id, ids) {
        struct bt_err *e = NULL; /* a container removed meanwhile is skipped */
        json_t *c = engine_container_inspect(id, &e);
        if (!c) {
            bt_err_free(e);
            continue;
        }
        const char *status = bt_json_str(json_object_get(c, "State"), "Status");
        if (!all && !is_active(status)) {
            json_decref(c);
            continue;
        }
        json_array_append_new(arr, c);
    }
    return arr;
}

int
engine_container_wait(const char *id, struct bt_err **err)
{
    for (;;) {
        _cleanup_json_ json_t *st = engine_container_state(id, err);
        if (!st)
            return bt_err_ret(err);
        const char *s = bt_json_str(st, "Status");
        if (s &&
            (!strcmp(s, "exited") || !strcmp(s, "dead") ||
             (!strcmp(s, "created") && !monitor_alive(st))) &&
            !monitor_alive(st))
            return (int)json_integer_value(json_object_get(st, "ExitCode"));
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int
engine_container_exec(const char *id, const struct engine_container_exec_opts *o,
                      struct engine_exec *out, struct bt_err **err)
{
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, err);
    if (!cfg)
        return bt_err_ret(err);
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    const char *status = bt_json_str(st, "Status");
    if (!status || strcmp(status, "running") != 0 || !init_alive(st))
        return bt_err_set(err, EINVAL, "container %s is not running", id);
    _cleanup_free_ char *dir = engine_container_dir(id);
    json_t *spec = json_object_get(cfg, "spec");
    json_t *rootfs = json_object_get(cfg, "rootfs");
    if (json_is_string(rootfs)) {
        json_object_set(json_object_get(spec, "root"), "path", rootfs);
    }
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(spec, dir, err);
    if (!s)
        return bt_err_ret(err);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
        rt_cgroup_from_json(json_object_get(st, "Cgroup"), err);
    if (!cg)
        return bt_err_ret(err);
    struct engine_exec_opts eo = {
        .target = (pid_t)json_integer_value(json_object_get(st, "Pid")),
        .cgroup = cg,
        .spec = s,
        .args = o->args,
        .env = o->env,
        .cwd = o->cwd,
        .tty = o->tty,
        .tty_width = o->tty_width,
        .tty_height = o->tty_height,
        .stdio = {o->stdio[0], o->stdio[1], o->stdio[2]},
    };
    _cleanup_free_ gid_t *gids = NULL;
    if (o->user) {
        /* resolved inside the container: /proc/PID/root is its root */
        _cleanup_free_ char *root = xasprintf("/proc/%d/root", (int)eo.target);
        size_t n = 0;
        if (engine_user_resolve(root, o->user, &eo.uid, &eo.gid, &gids, &n, err) < 0)
            return bt_err_ret(err);
        eo.user_set = true;
        eo.additional_gids = gids;
        eo.n_additional_gids = n;
    }
    return engine_process_exec(&eo, out, err);
}

static struct rt_cgroup *
running_cgroup(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return NULL;
    if (!is_active(bt_json_str(st, "Status")) || !init_alive(st) ||
        !json_object_get(st, "Cgroup")) {
        bt_err_set(err, EINVAL, "container %s is not running", id);
        return NULL;
    }
    return rt_cgroup_from_json(json_object_get(st, "Cgroup"), err);
}

int
engine_container_stats(const char *id, struct engine_cgroup_stats *stats, struct bt_err **err)
{
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = running_cgroup(id, err);
    if (!cg)
        return bt_err_ret(err);
    return rt_cgroup_stats(cg, stats, err);
}

pid_t *
engine_container_pids(const char *id, struct bt_err **err)
{
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = running_cgroup(id, err);
    if (!cg)
        return NULL;
    return rt_cgroup_pids(cg, err);
}

/* engine: the container lifecycle — create, start (spawn berth-monitor),
 * stop, kill, pause, remove, list, inspect, exec — over the store in
 * ROOT/containers/ID. Works when a container's monitor has died: the state
 * then says what is known and stop/remove act on the cgroup directly. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
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

/* ---- the names of containers ----
 * ROOT/containers/.names/NAME is a symlink to the id of the container that
 * holds NAME. Claiming a name is one symlinkat, which fails when the name
 * is taken, so two concurrent creates cannot both get it, and neither a
 * create nor a lookup by name reads the configs of other containers.
 *
 * A container's config is written before its name is claimed, and its
 * directory removed before its name is released: a link whose container
 * has no config is left over from a crash and may be taken over. Taking
 * over and releasing happen under the directory's flock, so that neither
 * removes a link someone else has just made. */

static char *
names_dir(void)
{
    return xasprintf("%s/containers/.names", engine_root());
}

static bool
has_config(const char *id)
{
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *cfg = bt_path_join(dir, "config.json");
    return bt_path_exists(cfg);
}

/* The id the link `name` points to, or NULL. */
static char *
name_owner(int dfd, const char *name)
{
    char buf[256];
    ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

static int
names_lock(int dfd, struct bt_err **err)
{
    while (flock(dfd, LOCK_EX) < 0)
        if (errno != EINTR)
            return bt_err_errno(err, errno, "lock the container names");
    return 0;
}

/* Opens the names directory. A store made before the directory existed
 * gets one built from the containers' configs, renamed into place whole so
 * that it never holds only some of them. */
static int
names_open(struct bt_err **err)
{
    _cleanup_free_ char *dir = names_dir();
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0 || errno != ENOENT)
        return dfd >= 0 ? dfd : bt_err_errno(err, errno, "open %s", dir);
    _cleanup_free_ char *parent = bt_path_dirname(dir);
    if (bt_mkdir_p(parent, 0700, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", dir, (int)getpid());
    bt_rm_rf(tmp, NULL);
    if (mkdir(tmp, 0700) < 0)
        return bt_err_errno(err, errno, "mkdir %s", tmp);
    _cleanup_strv_ char **ids = list_ids(err);
    if (!ids) {
        bt_rm_rf(tmp, NULL);
        return bt_err_ret(err);
    }
    bt_strv_foreach (id, ids) {
        _cleanup_json_ json_t *c = engine_container_config_load(id, NULL);
        const char *name = bt_json_str(c, "name");
        if (!name || !valid_name(name))
            continue;
        _cleanup_free_ char *link = bt_path_join(tmp, name);
        if (symlink(id, link) < 0 && errno != EEXIST) {
            int e = errno;
            bt_rm_rf(tmp, NULL);
            return bt_err_errno(err, e, "create %s", link);
        }
    }
    if (rename(tmp, dir) < 0) {
        int e = errno;
        bt_rm_rf(tmp, NULL);
        /* another command built it meanwhile: that one is used */
        if (e != EEXIST && e != ENOTEMPTY)
            return bt_err_errno(err, e, "rename %s", tmp);
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return dfd >= 0 ? dfd : bt_err_errno(err, errno, "open %s", dir);
}

/* Gives name to id; EEXIST when another container holds it. */
static int
name_claim(const char *name, const char *id, struct bt_err **err)
{
    _cleanup_close_ int dfd = names_open(err);
    if (dfd < 0)
        return bt_err_ret(err);
    if (symlinkat(id, dfd, name) == 0)
        return 0;
    if (errno != EEXIST)
        return bt_err_errno(err, errno, "claim the container name \"%s\"", name);
    if (names_lock(dfd, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *owner = name_owner(dfd, name);
    if (owner && strcmp(owner, id) == 0)
        return 0; /* put there by a rebuild of the directory meanwhile */
    if (owner && has_config(owner))
        return bt_err_set(err, EEXIST,
                          "the container name \"/%s\" is already in use by container \"%s\"", name,
                          owner);
    /* left over: its container is gone */
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return bt_err_errno(err, errno, "remove the stale container name \"%s\"", name);
    if (symlinkat(id, dfd, name) < 0) {
        int e = errno;
        _cleanup_free_ char *now = e == EEXIST ? name_owner(dfd, name) : NULL;
        if (now)
            return bt_err_set(err, EEXIST,
                              "the container name \"/%s\" is already in use by container \"%s\"",
                              name, now);
        return bt_err_errno(err, e, "claim the container name \"%s\"", name);
    }
    return 0;
}

/* Releases name if id holds it. */
static void
name_release(const char *name, const char *id)
{
    _cleanup_free_ char *dir = names_dir();
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || names_lock(dfd, NULL) < 0)
        return;
    _cleanup_free_ char *owner = name_owner(dfd, name);
    if (owner && strcmp(owner, id) == 0)
        unlinkat(dfd, name, 0);
}

/* The id of the container named name, or NULL. */
static char *
name_lookup(const char *name, struct bt_err **err)
{
    if (!valid_name(name))
        return NULL;
    _cleanup_close_ int dfd = names_open(err);
    if (dfd < 0)
        return NULL;
    _cleanup_free_ char *owner = name_owner(dfd, name);
    if (!owner || !valid_name(owner) || !has_config(owner))
        return NULL;
    return TAKE_PTR(owner);
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
    struct bt_err *e = NULL;
    char *by_name = name_lookup(r, &e);
    if (e) {
        bt_err_move(err, &e);
        return NULL;
    }
    if (by_name)
        return by_name;
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
    /* the name is claimed once the config is written, below; this only
     * spares a doomed container's creation */
    _cleanup_free_ char *holder = name_lookup(name, NULL);
    if (holder || has_config(id)) {
        bt_err_set(err, EEXIST, "the container name \"/%s\" is already in use by container \"%s\"",
                   name, holder ? holder : id);
        return NULL;
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
        engine_container_state_write(id, state, err) < 0 || name_claim(name, id, err) < 0) {
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

/* Waits for a monitor that has answered "stop" to exit: it only writes the
 * final state and closes its sockets, so on a very busy machine this can
 * still take seconds. One that has not exited after MONITOR_EXIT_MS is
 * killed: its container is already stopped, and `down` must not leave a
 * monitor behind. A pidfd wakes us at the exit itself; where there is none
 * (old kernels), the state is polled. */
#define MONITOR_EXIT_MS 10000
static void
monitor_wait_exit(json_t *st)
{
    pid_t mp = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
    int pfd = mp > 0 ? (int)syscall(SYS_pidfd_open, mp, 0) : -1;
    /* checked after pidfd_open: the pidfd is then surely the monitor's */
    for (int round = 0; round < 2 && monitor_alive(st); round++) {
        int budget = round == 0 ? MONITOR_EXIT_MS : 2000;
        if (round == 1) {
            bt_warn("monitor %d did not exit %d s after stopping its container; killing it",
                    (int)mp, MONITOR_EXIT_MS / 1000);
            if (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0)
                kill(mp, SIGKILL);
        }
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            while (poll(&p, 1, budget) < 0 && errno == EINTR)
                ;
            continue;
        }
        for (int waited = 0; waited < budget && monitor_alive(st); waited += 5) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0)
        close(pfd);
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
        /* The monitor may have written the final state and exited between
         * the read above and the check: read again before calling it gone,
         * or a container that exited 1 would look like one that exited 0. */
        json_t *again = engine_container_state_load(id, NULL);
        if (again && !is_active(bt_json_str(again, "Status"))) {
            json_decref(st);
            return again;
        }
        if (again)
            json_decref(again);
        bool alive = init_alive(st);
        if (!alive) {
            /* as Docker reports a container whose exit it did not see */
            json_object_set_new(st, "ExitCode", json_integer(255));
            json_object_set_new(st, "Status", json_string("exited"));
            json_object_set_new(st, "Running", json_false());
            json_object_set_new(st, "Paused", json_false());
            json_object_set_new(st, "Restarting", json_false());
            json_object_set_new(st, "Pid", json_integer(0));
        }
        json_object_set_new(st, "Error",
                            json_string(alive ? "the monitor is gone; the container still runs "
                                                "unsupervised"
                                              : "the monitor is gone; the exit status is unknown"));
    }
    return st;
}

/* The monitor's command line; the held ports follow --ready-fd. Built
 * before fork: the child of a threaded CLI may not allocate. */
static char **
monitor_argv(const char *monitor, const char *id, int ready_fd,
             const struct engine_held_port *ports, size_t n)
{
    char **argv = NULL;
    argv = bt_strv_push(argv, monitor);
    argv = bt_strv_push(argv, "--detach");
    argv = bt_strv_push(argv, "--ready-fd");
    argv = bt_strv_push_take(argv, xasprintf("%d", ready_fd));
    for (size_t i = 0; i < n; i++) {
        const struct engine_held_port *hp = &ports[i];
        argv = bt_strv_push(argv, hp->proxy ? "--proxy" : "--hold");
        argv = bt_strv_push_take(argv, hp->proxy ? xasprintf("%d,%s,%s,%u", hp->fd,
                                                             hp->udp ? "udp" : "tcp", hp->target,
                                                             hp->target_port)
                                                 : xasprintf("%d", hp->fd));
    }
    return bt_strv_push(argv, id);
}

static int
spawn_monitor(const char *id, const char *monitor, const struct engine_held_port *ports,
              size_t nports, struct bt_err **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return bt_err_errno(err, errno, "pipe");
    _cleanup_strv_ char **argv = monitor_argv(monitor, id, p[1], ports, nports);
    /* posix_spawn, not fork: the CLI's address space is large and its
     * threads many, and copying its page tables for each container cost
     * more than the monitor's own start-up. The monitor starts a session
     * of its own and, with --detach, forks once more and lets this child
     * exit, so that it belongs to no CLI process. */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    posix_spawn_file_actions_adddup2(&fa, 0, 2);
    /* dup2 of a descriptor onto itself clears its close-on-exec flag: the
     * ready pipe and the held ports are inherited under their own numbers */
    posix_spawn_file_actions_adddup2(&fa, p[1], p[1]);
    for (size_t i = 0; i < nports; i++)
        posix_spawn_file_actions_adddup2(&fa, ports[i].fd, ports[i].fd);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int sr = posix_spawn(&pid, monitor, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (sr != 0) {
        close(p[0]);
        close(p[1]);
        return bt_err_errno(err, sr, "cannot run %s", monitor);
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
    return engine_container_start_held(id, monitor, NULL, 0, err);
}

int
engine_container_start_held(const char *id, const char *monitor,
                            const struct engine_held_port *ports, size_t nports,
                            struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    if (is_active(bt_json_str(st, "Status")))
        return 0; /* already started: nothing to do, as in Docker */
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    if (bt_mkdir_p(rundir, 0700, err) < 0)
        return bt_err_ret(err);
    return spawn_monitor(id, monitor, ports, nports, err);
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
    monitor_wait_exit(st);
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
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, NULL);
    _cleanup_free_ char *name = xstrdup(bt_json_str(cfg, "name") ? bt_json_str(cfg, "name") : "");
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    if (bt_rm_rf(rundir, err) < 0 || bt_rm_rf(dir, err) < 0)
        return bt_err_ret(err);
    if (valid_name(name))
        name_release(name, id);
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

/* The cgroup of a running container; *state_out (optional) gets its state. */
static struct rt_cgroup *
running_cgroup(const char *id, json_t **state_out, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return NULL;
    if (!is_active(bt_json_str(st, "Status")) || !init_alive(st) ||
        !json_object_get(st, "Cgroup")) {
        bt_err_set(err, EINVAL, "container %s is not running", id);
        return NULL;
    }
    struct rt_cgroup *cg = rt_cgroup_from_json(json_object_get(st, "Cgroup"), err);
    if (cg && state_out)
        *state_out = TAKE_PTR(st);
    return cg;
}

/* Bytes through the interfaces of pid's network namespace, loopback left
 * out, from /proc/PID/net/dev (which shows that namespace). A container on
 * the host's network has no interfaces of its own: 0, as Docker shows. */
static void
net_io_read(pid_t pid, uint64_t *rx, uint64_t *tx)
{
    char path[64];
    struct stat own, theirs;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    if (stat(path, &theirs) < 0 || stat("/proc/self/ns/net", &own) < 0 ||
        (own.st_dev == theirs.st_dev && own.st_ino == theirs.st_ino))
        return;
    snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue; /* the two header lines */
        *colon = '\0';
        char *name = line + strspn(line, " ");
        if (strcmp(name, "lo") == 0)
            continue;
        unsigned long long v[9];
        /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ... */
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
            *rx += v[0];
            *tx += v[8];
        }
    }
}

int
engine_container_stats(const char *id, struct engine_cgroup_stats *stats, struct bt_err **err)
{
    _cleanup_json_ json_t *st = NULL;
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = running_cgroup(id, &st, err);
    if (!cg)
        return bt_err_ret(err);
    if (rt_cgroup_stats(cg, stats, err) < 0)
        return bt_err_ret(err);
    net_io_read((pid_t)json_integer_value(json_object_get(st, "Pid")), &stats->net_rx,
                &stats->net_tx);
    return 0;
}

pid_t *
engine_container_pids(const char *id, struct bt_err **err)
{
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = running_cgroup(id, NULL, err);
    if (!cg)
        return NULL;
    return rt_cgroup_pids(cg, err);
}

/* engine: the OCI runtime commands over the runtime core (create, start,
 * state, kill, delete, run, exec) with their state in RUNROOT/runtime/ID. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine/cgroup-internal.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "engine/runtime-internal.h"

/* ---- bundles and specs ---- */

struct rt_spec *
engine_spec_parse(json_t *config, const char *bundle, struct bt_err **err)
{
    return rt_spec_parse(config, bundle, err);
}

void
engine_spec_free(struct rt_spec *spec)
{
    rt_spec_free(spec);
}

struct rt_spec *
engine_bundle_load(const char *bundle, struct bt_err **err)
{
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        bt_err_errno(err, errno, "getcwd");
        return NULL;
    }
    _cleanup_free_ char *abs = bt_path_absolute(cwd, bundle ? bundle : ".");
    _cleanup_free_ char *cfg = bt_path_join(abs, "config.json");
    _cleanup_json_ json_t *j = bt_json_load_file(cfg, err);
    if (!j)
        return NULL;
    struct rt_spec *s = rt_spec_parse(j, abs, err);
    if (!s)
        bt_err_prefix(err, "%s", cfg);
    return s;
}

json_t *
engine_caps_docker_default(void)
{
    json_t *a = json_array();
    uint64_t m = rt_caps_docker_default();
    for (int c = 0; c <= rt_cap_last(); c++)
        if (m & (UINT64_C(1) << c))
            json_array_append_new(a, json_string(rt_cap_name(c)));
    return a;
}

json_t *
engine_seccomp_docker_default(json_t *cap_names)
{
    uint64_t m = rt_caps_docker_default();
    if (cap_names && rt_caps_parse(cap_names, &m, NULL) < 0)
        m = rt_caps_docker_default();
    return rt_seccomp_docker_default(m);
}

json_t *
engine_spec_default(bool rootless)
{
    json_t *caps = engine_caps_docker_default();
    json_t *process = json_pack(
        "{s:b,s:{s:i,s:i},s:[s],s:[s,s],s:s,s:{s:O,s:O,s:O},s:[{s:s,s:i,s:i}],s:b}", "terminal", 1,
        "user", "uid", 0, "gid", 0, "args", "sh", "env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "cwd",
        "/", "capabilities", "bounding", caps, "effective", caps, "permitted", caps, "rlimits",
        "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 0);
    json_t *mounts =
        json_pack("[{s:s,s:s,s:s},"
                  "{s:s,s:s,s:s,s:[s,s,s,s]},"
                  "{s:s,s:s,s:s,s:[s,s,s,s,s,s]},"
                  "{s:s,s:s,s:s,s:[s,s,s,s,s]},"
                  "{s:s,s:s,s:s,s:[s,s,s]},"
                  "{s:s,s:s,s:s,s:[s,s,s,s]},"
                  "{s:s,s:s,s:s,s:[s,s,s,s,s]}]",
                  "destination", "/proc", "type", "proc", "source", "proc", /* */
                  "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
                  "strictatime", "mode=755", "size=65536k", /* */
                  "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
                  "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", /* */
                  "destination", "/dev/shm", "type", "tmpfs", "source", "shm", "options", "nosuid",
                  "noexec", "nodev", "mode=1777", "size=65536k", /* */
                  "destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options",
                  "nosuid", "noexec", "nodev", /* */
                  "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid",
                  "noexec", "nodev", "ro", /* */
                  "destination", "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup", "options",
                  "nosuid", "noexec", "nodev", "relatime", "ro");
    json_t *namespaces =
        json_pack("[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}]", "type", "pid", "type", "network", "type",
                  "ipc", "type", "uts", "type", "mount", "type", "cgroup");
    json_t *masked = json_pack("[s,s,s,s,s,s,s,s,s,s,s]", "/proc/asound", "/proc/acpi",
                               "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                               "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap");
    json_t *ro = json_pack("[s,s,s,s,s]", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                           "/proc/sysrq-trigger");
    /* The device cgroup rules Docker gives every container. */
    json_t *devices = json_array();
    json_array_append_new(devices, json_pack("{s:b,s:s}", "allow", 0, "access", "rwm"));
    static const struct {
        const char *type;
        int major, minor;
        const char *access;
    } allowed[] = {
        {"c", -1, -1, "m"}, {"b", -1, -1, "m"}, {"c", 1, 3, "rwm"},    {"c", 1, 5, "rwm"},
        {"c", 1, 7, "rwm"}, {"c", 1, 8, "rwm"}, {"c", 1, 9, "rwm"},    {"c", 5, 0, "rwm"},
        {"c", 5, 1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 136, -1, "rwm"}, {"c", 10, 200, "rwm"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(allowed); i++) {
        json_t *d = json_pack("{s:b,s:s,s:s}", "allow", 1, "type", allowed[i].type, "access",
                              allowed[i].access);
        if (allowed[i].major >= 0)
            json_object_set_new(d, "major", json_integer(allowed[i].major));
        if (allowed[i].minor >= 0)
            json_object_set_new(d, "minor", json_integer(allowed[i].minor));
        json_array_append_new(devices, d);
    }
    json_t *linux_ = json_pack("{s:{s:o},s:o,s:o,s:o,s:o}", "resources", "devices", devices,
                               "namespaces", namespaces, "maskedPaths", masked, "readonlyPaths", ro,
                               "seccomp", rt_seccomp_docker_default(rt_caps_docker_default()));
    if (rootless) {
        json_array_append_new(namespaces, json_pack("{s:s}", "type", "user"));
        json_object_set_new(
            linux_, "uidMappings",
            json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)getuid(), "size", 1));
        json_object_set_new(
            linux_, "gidMappings",
            json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)getgid(), "size", 1));
        json_object_del(linux_, "resources");
    }
    json_t *spec = json_pack("{s:s,s:o,s:{s:s,s:b},s:s,s:o,s:o}", "ociVersion", "1.0.2", "process",
                             process, "root", "path", "rootfs", "readonly", 0, "hostname", "berth",
                             "mounts", mounts, "linux", linux_);
    json_decref(caps);
    return spec;
}

/* ---- cgroup wrappers ---- */

json_t *
engine_cgroup_to_json(const struct rt_cgroup *cg)
{
    return rt_cgroup_to_json(cg);
}

struct rt_cgroup *
engine_cgroup_from_json(json_t *j, struct bt_err **err)
{
    return rt_cgroup_from_json(j, err);
}

void
engine_cgroup_free(struct rt_cgroup *cg)
{
    rt_cgroup_free(cg);
}

int
engine_cgroup_destroy(struct rt_cgroup *cg, struct bt_err **err)
{
    return rt_cgroup_destroy(cg, err);
}

int
engine_cgroup_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err)
{
    return rt_cgroup_freeze(cg, frozen, err);
}

int
engine_cgroup_kill(struct rt_cgroup *cg, int sig, struct bt_err **err)
{
    return rt_cgroup_kill(cg, sig, err);
}

uint64_t
engine_cgroup_oom_kills(struct rt_cgroup *cg)
{
    struct engine_cgroup_stats st;
    struct bt_err *ignored = NULL; /* no stats: no OOM kill known */
    if (rt_cgroup_stats(cg, &st, &ignored) < 0) {
        bt_err_free(ignored);
        return 0;
    }
    return st.oom_kills;
}

/* ---- state ---- */

const char *
engine_runroot(void)
{
    const char *r = getenv("BERTH_RUNROOT");
    return r && r[0] ? r : "/run/berth";
}

const char *
engine_root(void)
{
    const char *r = getenv("BERTH_ROOT");
    return r && r[0] ? r : "/var/lib/berth";
}

static int
check_id(const char *id, struct bt_err **err)
{
    if (!id || !id[0] || strlen(id) > 128 || id[0] == '.' ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            strlen(id))
        return bt_err_set(err, EINVAL, "invalid container id '%s'", id ? id : "");
    return 0;
}

static char *
state_dir(const char *id)
{
    return xasprintf("%s/runtime/%s", engine_runroot(), id);
}

/* Start time of a process in clock ticks since boot (field 22 of stat);
 * 0 when it is gone. Guards against pid reuse. */
uint64_t
engine_pid_starttime(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *s = bt_file_read_all(path, NULL, NULL);
    if (!s)
        return 0;
    char *p = strrchr(s, ')');
    if (!p)
        return 0;
    /* after ") " come fields 3.. : state is field 3, starttime field 22 */
    if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
        return 0;
    int field = 2;
    for (char *q = p + 1; *q; q++) {
        if (*q == ' ') {
            field++;
            if (field == 22) {
                uint64_t v = strtoull(q + 1, NULL, 10);
                return v;
            }
        }
    }
    return 0;
}

bool
engine_pid_alive(pid_t pid, uint64_t starttime)
{
    if (pid <= 0)
        return false;
    uint64_t st = engine_pid_starttime(pid);
    return st != 0 && (starttime == 0 || st == starttime);
}

char *
engine_time_now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

static json_t *
state_load(const char *id, struct bt_err **err)
{
    if (check_id(id, err) < 0)
        return NULL;
    _cleanup_free_ char *dir = state_dir(id);
    _cleanup_free_ char *file = bt_path_join(dir, "state.json");
    if (!bt_path_exists(file)) {
        bt_err_set(err, ENOENT, "container '%s' does not exist", id);
        return NULL;
    }
    return bt_json_load_file(file, err);
}

static const char *
status_of(json_t *st, const char *id)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(st, "pid_start"));
    if (!engine_pid_alive(pid, start))
        return "stopped";
    _cleanup_free_ char *dir = state_dir(id);
    _cleanup_free_ char *fifo = bt_path_join(dir, "exec.fifo");
    if (bt_path_exists(fifo))
        return "created";
    json_t *cgj = json_object_get(st, "cgroup");
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = cgj ? rt_cgroup_from_json(cgj, NULL) : NULL;
    if (cg) {
        const char *d = rt_cgroup_dir(cg, "freezer");
        _cleanup_free_ char *p = rt_cgroup_is_v2(cg)
                                     ? bt_path_join(cg->dirs[0].dir, "cgroup.freeze")
                                     : (d ? bt_path_join(d, "freezer.state") : NULL);
        _cleanup_free_ char *v = p ? bt_file_read_all(p, NULL, NULL) : NULL;
        if (v && (bt_str_startswith(v, "FROZEN") || bt_str_startswith(v, "1")))
            return "paused";
    }
    return "running";
}

json_t *
engine_runtime_state(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *st = state_load(id, err);
    if (!st)
        return NULL;
    const char *status = status_of(st, id);
    json_t *out = json_pack(
        "{s:s,s:s,s:I,s:s,s:O,s:O,s:O,s:s}", "ociVersion", "1.0.0", "id", id, "pid",
        (json_int_t)(strcmp(status, "stopped") == 0
                         ? 0
                         : json_integer_value(json_object_get(st, "pid"))),
        "status", status, "bundle", json_object_get(st, "bundle"), "rootfs",
        json_object_get(st, "rootfs"), "created", json_object_get(st, "created"), "owner", "");
    json_t *ann = json_object_get(st, "annotations");
    if (ann && json_object_size(ann))
        json_object_set(out, "annotations", ann);
    return out;
}

static int
state_write(const char *id, const struct rt_spec *spec, const struct engine_init *init,
            struct bt_err **err)
{
    _cleanup_free_ char *dir = state_dir(id);
    _cleanup_free_ char *file = bt_path_join(dir, "state.json");
    _cleanup_free_ char *created = engine_time_now_rfc3339();
    _cleanup_json_ json_t *st =
        json_pack("{s:s,s:i,s:I,s:s,s:s,s:s,s:o}", "id", id, "pid", (int)init->pid, "pid_start",
                  (json_int_t)engine_pid_starttime(init->pid), "bundle", spec->bundle, "rootfs",
                  spec->root_path, "created", created, "cgroup", rt_cgroup_to_json(init->cgroup));
    if (spec->annotations)
        json_object_set(st, "annotations", spec->annotations);
    return bt_json_write_atomic(file, st, err);
}

static int
send_console(const char *socket_path, int master, struct bt_err **err)
{
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return bt_err_errno(err, errno, "socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path))
        return bt_err_set(err, ENAMETOOLONG, "console socket path too long");
    strcpy(sa.sun_path, socket_path);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return bt_err_errno(err, errno, "connect to console socket '%s'", socket_path);
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u = {0};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof(int));
    if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
        return bt_err_errno(err, errno, "send the console to '%s'", socket_path);
    return 0;
}

static int
prepare(const char *id, const char *bundle, struct rt_spec **spec, char **dir, struct bt_err **err)
{
    if (check_id(id, err) < 0)
        return bt_err_ret(err);
    *dir = state_dir(id);
    _cleanup_free_ char *file = bt_path_join(*dir, "state.json");
    if (bt_path_exists(file))
        return bt_err_set(err, EEXIST, "container '%s' already exists", id);
    *spec = engine_bundle_load(bundle, err);
    if (!*spec)
        return bt_err_ret(err);
    if (bt_mkdir_p(*dir, 0700, err) < 0)
        return bt_err_ret(err);
    return 0;
}

int
engine_runtime_create(const char *id, const struct engine_runtime_opts *o, struct bt_err **err)
{
    _cleanup_(rt_spec_freep) struct rt_spec *spec = NULL;
    _cleanup_free_ char *dir = NULL;
    if (prepare(id, o->bundle, &spec, &dir, err) < 0)
        return bt_err_ret(err);
    if (spec->process.terminal && !o->console_socket) {
        bt_rm_rf(dir, NULL);
        return bt_err_set(err, EINVAL, "process.terminal needs --console-socket with create");
    }
    struct engine_init_opts io = {
        .id = id, .state_dir = dir, .wait_fifo = true, .stdio = {-1, -1, -1}};
    struct engine_init init;
    if (engine_init_create(spec, &io, &init, err) < 0) {
        bt_rm_rf(dir, NULL);
        return bt_err_ret(err);
    }
    int r = 0;
    if (init.pty_master >= 0)
        r = send_console(o->console_socket, init.pty_master, err);
    if (r == 0)
        r = state_write(id, spec, &init, err);
    if (r == 0 && o->pid_file) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int)init.pid);
        r = bt_file_write_atomic(o->pid_file, buf, (size_t)n, 0644, err);
    }
    if (r < 0) {
        struct bt_err *ignored = NULL; /* the first error is the one to report */
        rt_cgroup_destroy(init.cgroup, &ignored);
        bt_err_free(ignored);
        bt_rm_rf(dir, NULL);
    }
    engine_init_done(&init);
    return r;
}

int
engine_runtime_start(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *st = state_load(id, err);
    if (!st)
        return bt_err_ret(err);
    _cleanup_free_ char *dir = state_dir(id);
    _cleanup_free_ char *fifo = bt_path_join(dir, "exec.fifo");
    if (!bt_path_exists(fifo))
        return bt_err_set(err, EINVAL, "container '%s' is not in the created state", id);
    _cleanup_close_ int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENXIO)
            return bt_err_set(err, ESRCH, "container '%s': its process is gone", id);
        return bt_err_errno(err, errno, "open %s", fifo);
    }
    if (write(fd, "0", 1) != 1)
        return bt_err_errno(err, errno, "write %s", fifo);
    unlink(fifo);
    return 0;
}

int
engine_signal_parse(const char *s, int *sig)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
        {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
        {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
        {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
        {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
    };
    int64_t n;
    if (bt_parse_int64(s, &n)) {
        if (n <= 0 || n > SIGRTMAX)
            return -EINVAL;
        *sig = (int)n;
        return 0;
    }
    const char *name = s;
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < BT_ARRAY_SIZE(names); i++) {
        if (strcasecmp(names[i].name, name) == 0) {
            *sig = names[i].sig;
            return 0;
        }
    }
    return -EINVAL;
}

int
engine_runtime_kill(const char *id, int sig, bool all, struct bt_err **err)
{
    _cleanup_json_ json_t *st = state_load(id, err);
    if (!st)
        return bt_err_ret(err);
    if (all) {
        _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
            rt_cgroup_from_json(json_object_get(st, "cgroup"), err);
        if (!cg)
            return bt_err_ret(err);
        int r = rt_cgroup_kill(cg, sig, err);
        return r < 0 ? r : 0;
    }
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(st, "pid_start"));
    if (!engine_pid_alive(pid, start))
        return bt_err_set(err, ESRCH, "container '%s' is not running", id);
    if (kill(pid, sig) < 0)
        return bt_err_errno(err, errno, "kill container '%s'", id);
    return 0;
}

int
engine_runtime_delete(const char *id, bool force, struct bt_err **err)
{
    _cleanup_json_ json_t *st = state_load(id, err);
    if (!st)
        return bt_err_ret(err);
    const char *status = status_of(st, id);
    if (!force && strcmp(status, "stopped") != 0 && strcmp(status, "created") != 0)
        return bt_err_set(err, EBUSY, "container '%s' is %s: stop it first or use --force", id,
                          status);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
        rt_cgroup_from_json(json_object_get(st, "cgroup"), err);
    if (!cg)
        return bt_err_ret(err);
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(st, "pid_start"));
    if (engine_pid_alive(pid, start))
        kill(pid, SIGKILL);
    if (rt_cgroup_destroy(cg, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *dir = state_dir(id);
    return bt_rm_rf(dir, err);
}

/* ---- foreground: run and exec with stdio or a pty proxied ---- */

struct tty_saved {
    bool saved;
    struct termios t;
};

static void
tty_raw(struct tty_saved *s)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s->t) < 0)
        return;
    struct termios raw = s->t;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR;
    s->saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

static void
tty_restore(struct tty_saved *s)
{
    if (s->saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &s->t);
}

static bool
copy_once(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && (errno == EINTR || errno == EAGAIN);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return true; /* a closed reader does not stop the container */
        }
        off += w;
    }
    return true;
}

int
engine_foreground_wait(pid_t pid, int pty_master, struct bt_err **err)
{
    sigset_t mask, old;
    sigemptyset(&mask);
    static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < BT_ARRAY_SIZE(fwd); i++)
        sigaddset(&mask, fwd[i]);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &old);
    _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return bt_err_errno(err, errno, "signalfd");
    }
    struct tty_saved saved = {0};
    bool in_open = pty_master >= 0;
    bool out_open = pty_master >= 0;
    if (pty_master >= 0) {
        tty_raw(&saved);
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
            ioctl(pty_master, TIOCSWINSZ, &ws);
    }
    int code = -1;
    /* A process that exited before SIGCHLD was blocked above sent its
     * signal to nobody: look once, after blocking, so the loop below cannot
     * wait for it forever. */
    int st0;
    if (waitpid(pid, &st0, WNOHANG) == pid)
        code = WIFEXITED(st0) ? WEXITSTATUS(st0) : 128 + WTERMSIG(st0);
    while (code < 0) {
        struct pollfd p[3] = {{sfd, POLLIN, 0},
                              {in_open ? STDIN_FILENO : -1, POLLIN, 0},
                              {out_open ? pty_master : -1, POLLIN, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
            in_open = copy_once(STDIN_FILENO, pty_master);
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
            out_open = copy_once(pty_master, STDOUT_FILENO);
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
            if ((int)si.ssi_signo == SIGCHLD)
                continue;
            if ((int)si.ssi_signo == SIGWINCH) {
                struct winsize ws;
                if (pty_master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                    ioctl(pty_master, TIOCSWINSZ, &ws);
                continue;
            }
            kill(pid, (int)si.ssi_signo);
        }
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    /* Drain what the container wrote before it exited. */
    if (out_open) {
        struct pollfd p = {pty_master, POLLIN, 0};
        while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && copy_once(pty_master, STDOUT_FILENO))
            ;
    }
    tty_restore(&saved);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (code < 0)
        return bt_err_errno(err, errno, "wait for the container");
    return code;
}

int
engine_runtime_run(const char *id, const struct engine_runtime_opts *o, struct bt_err **err)
{
    _cleanup_(rt_spec_freep) struct rt_spec *spec = NULL;
    _cleanup_free_ char *dir = NULL;
    if (prepare(id, o->bundle, &spec, &dir, err) < 0)
        return bt_err_ret(err);
    if (o->detach && spec->process.terminal && !o->console_socket) {
        bt_rm_rf(dir, NULL);
        return bt_err_set(err, EINVAL, "process.terminal with --detach needs --console-socket");
    }
    struct engine_init_opts io = {.id = id, .state_dir = dir, .stdio = {-1, -1, -1}};
    struct engine_init init;
    if (engine_init_create(spec, &io, &init, err) < 0) {
        bt_rm_rf(dir, NULL);
        return bt_err_ret(err);
    }
    int r = state_write(id, spec, &init, err);
    if (r == 0 && o->pid_file) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int)init.pid);
        r = bt_file_write_atomic(o->pid_file, buf, (size_t)n, 0644, err);
    }
    if (r == 0 && o->detach && init.pty_master >= 0)
        r = send_console(o->console_socket, init.pty_master, err);
    if (r == 0)
        r = engine_init_start(&init, err);
    if (r == 0 && !o->detach)
        r = engine_foreground_wait(init.pid, init.pty_master, err);
    if (r < 0 || !o->detach) {
        if (r < 0 && init.pid > 0) {
            kill(init.pid, SIGKILL);
            waitpid(init.pid, NULL, 0);
        }
        struct bt_err *e2 = NULL;
        if (rt_cgroup_destroy(init.cgroup, &e2) < 0 && r >= 0) {
            bt_err_move(err, &e2);
            r = bt_err_ret(err);
        }
        bt_err_free(e2);
        bt_rm_rf(dir, NULL);
    }
    engine_init_done(&init);
    return r;
}

int
engine_runtime_exec(const char *id, const struct engine_runtime_exec_opts *o, struct bt_err **err)
{
    _cleanup_json_ json_t *st = state_load(id, err);
    if (!st)
        return bt_err_ret(err);
    if (strcmp(status_of(st, id), "running") != 0)
        return bt_err_set(err, EINVAL, "container '%s' is not running", id);
    _cleanup_(rt_spec_freep) struct rt_spec *spec =
        engine_bundle_load(json_string_value(json_object_get(st, "bundle")), err);
    if (!spec)
        return bt_err_ret(err);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg =
        rt_cgroup_from_json(json_object_get(st, "cgroup"), err);
    if (!cg)
        return bt_err_ret(err);
    struct engine_exec_opts eo = {
        .target = (pid_t)json_integer_value(json_object_get(st, "pid")),
        .cgroup = cg,
        .spec = spec,
        .args = o->args,
        .env = o->env,
        .cwd = o->cwd,
        .tty = o->tty,
        .stdio = {-1, -1, -1},
    };
    _cleanup_free_ gid_t *gids = NULL;
    if (o->user) {
        size_t n = 0;
        if (engine_user_resolve(spec->root_path, o->user, &eo.uid, &eo.gid, &gids, &n, err) < 0)
            return bt_err_ret(err);
        eo.user_set = true;
        eo.additional_gids = gids;
        eo.n_additional_gids = n;
    }
    if (o->tty) {
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
            eo.tty_width = ws.ws_col;
            eo.tty_height = ws.ws_row;
        }
    }
    struct engine_exec ex;
    if (engine_process_exec(&eo, &ex, err) < 0)
        return bt_err_ret(err);
    if (o->pid_file) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int)ex.pid);
        bt_file_write_atomic(o->pid_file, buf, (size_t)n, 0644, err);
    }
    if (o->detach) {
        if (ex.pty_master >= 0)
            close(ex.pty_master);
        return 0;
    }
    int r = engine_foreground_wait(ex.pid, ex.pty_master, err);
    if (ex.pty_master >= 0)
        close(ex.pty_master);
    return r;
}

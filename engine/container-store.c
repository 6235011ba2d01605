/* engine: container store paths, state files, the monitor client, and the
 * pure policy pieces (restart backoff, health bookkeeping). */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"

char *
engine_container_dir(const char *id)
{
    return xasprintf("%s/containers/%s", engine_root(), id);
}

char *
engine_container_rundir(const char *id)
{
    return xasprintf("%s/containers/%s", engine_runroot(), id);
}

char *
engine_container_log_path(const char *id)
{
    return xasprintf("%s/containers/%s/%s-json.log", engine_root(), id, id);
}

char *
engine_container_socket_path(const char *id)
{
    return xasprintf("%s/containers/%s/monitor.sock", engine_runroot(), id);
}

/* A container's files are read whole, then parsed: jansson's file reader
 * takes one locked getc per byte, which made up most of the cost of
 * loading a config of a few ten kilobytes. NULL with *err unset: the file
 * does not exist. */
static json_t *
load_json(const char *path, struct bt_err **err)
{
    size_t len = 0;
    struct bt_err *e = NULL;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, &e);
    if (!data) {
        if (e && e->code == ENOENT) {
            bt_err_free(e);
            return NULL;
        }
        bt_err_move(err, &e);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (!j)
        bt_err_set(err, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return j;
}

json_t *
engine_container_config_load(const char *id, struct bt_err **err)
{
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *p = bt_path_join(dir, "config.json");
    struct bt_err *e = NULL;
    json_t *j = load_json(p, &e);
    if (!j && !e)
        bt_err_set(err, ENOENT, "no such container: %s", id);
    else if (!j)
        bt_err_move(err, &e);
    return j;
}

json_t *
engine_container_state_load(const char *id, struct bt_err **err)
{
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *p = bt_path_join(dir, "state.json");
    return load_json(p, err);
}

int
engine_container_state_write(const char *id, json_t *state, struct bt_err **err)
{
    _cleanup_free_ char *dir = engine_container_dir(id);
    _cleanup_free_ char *p = bt_path_join(dir, "state.json");
    return bt_json_write_atomic(p, state, err);
}

/* A monitor that is just exiting closes the socket under us: that is
 * EPIPE for the caller, never SIGPIPE for the whole CLI. */
static int
send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
monitor_connect(const char *id, json_t *req, struct bt_err **err)
{
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    /* Socket paths are limited to 108 bytes; the run directory may be
     * deeper than that, so go through a directory fd. */
    _cleanup_close_ int dfd = open(rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return bt_err_errno(err, errno, "connect to the monitor of %s", id);
    }
    _cleanup_free_ char *path = xasprintf("/proc/self/fd/%d/monitor.sock", dfd);
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return bt_err_errno(err, errno, "socket");
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return bt_err_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
    }
    strcpy(sa.sun_path, path);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return bt_err_errno(err, errno, "connect to the monitor of %s", id);
    }
    _cleanup_free_ char *line = json_dumps(req, JSON_COMPACT);
    _cleanup_free_ char *msg = xasprintf("%s\n", line);
    int r = send_all(s, msg, strlen(msg));
    if (r < 0)
        return bt_err_errno(err, -r, "send to the monitor of %s", id);
    return TAKE_FD(s);
}

json_t *
engine_monitor_request(const char *id, json_t *req, int timeout_ms, struct bt_err **err)
{
    _cleanup_close_ int s = monitor_connect(id, req, err);
    if (s < 0)
        return NULL;
    struct bt_buf b = {0};
    for (;;) {
        struct pollfd p = {s, POLLIN, 0};
        int pr = poll(&p, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            bt_buf_done(&b);
            bt_err_set(err, ETIMEDOUT, "the monitor of %s did not answer", id);
            return NULL;
        }
        char buf[4096];
        ssize_t n = read(s, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        bt_buf_append(&b, buf, (size_t)n);
        if (memchr(buf, '\n', (size_t)n))
            break;
    }
    _cleanup_free_ char *reply = bt_buf_steal(&b);
    bt_buf_done(&b);
    json_error_t je;
    json_t *j = json_loads(reply, JSON_DISABLE_EOF_CHECK, &je);
    if (!j) {
        bt_err_set(err, EPROTO, "bad answer from the monitor of %s", id);
        return NULL;
    }
    if (!json_is_true(json_object_get(j, "ok"))) {
        const char *e = bt_json_str(j, "error");
        bt_err_set(err, EINVAL, "%s", e ? e : "the monitor refused");
        json_decref(j);
        return NULL;
    }
    return j;
}

int
engine_container_attach(const char *id, struct bt_err **err)
{
    _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "attach");
    _cleanup_close_ int s = monitor_connect(id, req, err);
    if (s < 0)
        return bt_err_ret(err);
    struct pollfd p = {s, POLLIN, 0};
    int pr;
    while ((pr = poll(&p, 1, 10000)) < 0 && errno == EINTR)
        ;
    if (pr <= 0)
        return bt_err_set(err, ETIMEDOUT, "the monitor of %s did not answer", id);
    char buf[4096];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    while ((n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return bt_err_errno(err, errno, "attach to %s", id);
    int fd = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    _cleanup_close_ int got = fd;
    buf[n] = '\0';
    json_error_t je;
    _cleanup_json_ json_t *j = json_loads(buf, JSON_DISABLE_EOF_CHECK, &je);
    if (!j)
        return bt_err_set(err, EPROTO, "bad answer from the monitor of %s", id);
    if (!json_is_true(json_object_get(j, "ok"))) {
        const char *e = bt_json_str(j, "error");
        return bt_err_set(err, EINVAL, "attach to %s: %s", id, e ? e : "the monitor refused");
    }
    if (got < 0)
        return bt_err_set(err, EPROTO, "attach to %s: the monitor sent no stdin", id);
    return TAKE_FD(got);
}

int
engine_restart_parse(const char *s, enum engine_restart *policy, int *max_retries,
                     struct bt_err **err)
{
    *max_retries = 0;
    if (!s || !s[0] || strcmp(s, "no") == 0) {
        *policy = ENGINE_RESTART_NO;
        return 0;
    }
    if (strcmp(s, "always") == 0) {
        *policy = ENGINE_RESTART_ALWAYS;
        return 0;
    }
    if (strcmp(s, "unless-stopped") == 0) {
        *policy = ENGINE_RESTART_UNLESS_STOPPED;
        return 0;
    }
    if (strcmp(s, "on-failure") == 0 || bt_str_startswith(s, "on-failure:")) {
        *policy = ENGINE_RESTART_ON_FAILURE;
        if (s[10] == ':') {
            int64_t n;
            if (!bt_parse_int64(s + 11, &n) || n < 0 || n > INT32_MAX)
                return bt_err_set(err, EINVAL, "invalid restart policy '%s': bad retry count", s);
            *max_retries = (int)n;
        }
        return 0;
    }
    return bt_err_set(
        err, EINVAL, "invalid restart policy '%s' (no, always, unless-stopped, on-failure[:N])", s);
}

uint64_t
engine_restart_backoff_ms(uint64_t prev_ms, uint64_t ran_ms)
{
    /* 100 ms doubling, at most a minute, back to 100 ms after 10 s up */
    if (ran_ms >= 10000 || prev_ms == 0)
        return 100;
    uint64_t next = prev_ms * 2;
    return next > 60000 ? 60000 : next;
}

bool
engine_restart_wanted(enum engine_restart policy, int max_retries, int restart_count, int exit_code,
                      bool user_stopped)
{
    if (user_stopped)
        return false;
    switch (policy) {
    case ENGINE_RESTART_ALWAYS:
    case ENGINE_RESTART_UNLESS_STOPPED:
        return true;
    case ENGINE_RESTART_ON_FAILURE:
        return exit_code != 0 && (max_retries == 0 || restart_count < max_retries);
    case ENGINE_RESTART_NO:
    default:
        return false;
    }
}

void
engine_health_record(json_t *health, const char *start, const char *end, int exit_code,
                     const char *output, size_t output_len, int retries, bool in_start_period)
{
    json_t *log = json_object_get(health, "Log");
    if (!json_is_array(log)) {
        log = json_array();
        json_object_set_new(health, "Log", log);
    }
    size_t n = output_len > 4096 ? 4096 : output_len;
    json_t *out = json_stringn(output ? output : "", output ? n : 0);
    if (!out) {
        /* not UTF-8 (or cut inside a character): keep the ASCII */
        _cleanup_free_ char *copy = xmemdup(output, n + 1);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)copy[i] >= 0x80 || copy[i] == '\0')
                copy[i] = '?';
        out = json_stringn(copy, n);
    }
    json_array_append_new(log, json_pack("{s:s,s:s,s:i,s:o}", "Start", start, "End", end,
                                         "ExitCode", exit_code, "Output", out));
    while (json_array_size(log) > 5)
        json_array_remove(log, 0);
    json_int_t streak = json_integer_value(json_object_get(health, "FailingStreak"));
    const char *status = bt_json_str(health, "Status");
    if (exit_code == 0) {
        json_object_set_new(health, "Status", json_string("healthy"));
        json_object_set_new(health, "FailingStreak", json_integer(0));
        return;
    }
    /* Failures while starting up do not count, as in Docker. */
    if (in_start_period && status && strcmp(status, "starting") == 0)
        return;
    streak++;
    json_object_set_new(health, "FailingStreak", json_integer(streak));
    if (streak >= retries)
        json_object_set_new(health, "Status", json_string("unhealthy"));
}

int
engine_monitor_events(const char *id, bool (*cb)(json_t *event, void *data), void *data,
                      struct bt_err **err)
{
    _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "events");
    _cleanup_close_ int s = monitor_connect(id, req, err);
    if (s < 0)
        return s;
    _cleanup_fclose_ FILE *f = fdopen(TAKE_FD(s), "r");
    if (!f)
        return bt_err_errno(err, errno, "fdopen");
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    bool first = true;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        _cleanup_json_ json_t *j = json_loads(line, 0, &je);
        if (!j)
            return bt_err_set(err, EPROTO, "bad event from the monitor of %s", id);
        if (first) {
            first = false;
            if (!json_is_true(json_object_get(j, "ok")))
                return bt_err_set(err, EPROTO, "the monitor of %s refused events", id);
            continue;
        }
        if (json_object_get(j, "ok"))
            continue; /* an answer to someone else's request is not an event */
        if (!cb(j, data))
            break;
    }
    return 0;
}

/* berth-monitor: supervises one container.
 *
 *   berth-monitor [--detach] [--ready-fd N] [--hold FD]... [--proxy FD,PROTO,ADDR,PORT]... ID
 *
 * --detach: fork once and let the starting process exit, so that the
 * monitor belongs to no CLI process.
 * --hold and --proxy are the container's published host ports, bound by the
 * CLI and inherited here: the monitor keeps them open while it lives (so no
 * other process can take them, across restarts too) and serves the --proxy
 * ones itself (monitor-proxy.c). They close when the monitor exits.
 *
 * Becomes a subreaper, clones the container's init (engine_init_create)
 * before libuv runs, keeps its output in the json-file log, records exit
 * code, OOM kill and times in state.json, runs health checks, applies the
 * restart policy with Docker's backoff and answers on monitor.sock. It
 * never queues work on libuv's thread pool, so it stays single-threaded and
 * may clone again for a restart. Exits when the container stopped for good. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "engine/cgroup-internal.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "engine/proxy-internal.h"
#include "engine/runtime-internal.h"

struct client;

struct stream {
    struct monitor *m;
    uv_pipe_t pipe;
    const char *name; /* "stdout" / "stderr" */
    struct bt_buf partial;
    bool open;
};

struct monitor {
    uv_loop_t *loop;
    char *id;
    char *dir;
    json_t *config;
    struct rt_spec *spec;
    char *overlay;
    struct rt_cgroup *cg;
    json_t *state;

    pid_t pid;
    uint64_t started_ms;
    uint64_t oom_before;
    int out_w, err_w, null_fd;
    /* stdin_open without a tty: the container reads stdin_r; the monitor
     * holds stdin_w until a client attaches and takes it, or, without
     * stdin_once, keeps it and gives each client a copy. */
    bool stdin_open, stdin_once;
    int stdin_r, stdin_w;
    struct stream out, err;
    bool tty;
    int pty_fd;

    int log_fd;
    char *log_path;
    uint64_t log_size, log_max_size;
    int log_max_file;

    uv_pipe_t server;
    struct client *clients;
    int *held; /* --hold sockets, kept open, never read */
    size_t nheld;
    struct engine_proxy_spec *proxy_specs;
    size_t nproxy;
    struct engine_proxy *proxy;
    uv_signal_t sigchld, sigterm;
    uv_timer_t stop_timer, restart_timer, health_timer, health_timeout;

    enum engine_restart policy;
    int max_retries;
    int restart_count;
    uint64_t backoff_ms;
    bool user_stopped;
    bool finishing;
    bool running;
    int stop_signal;

    /* health */
    json_t *hc_test;
    uint64_t hc_interval, hc_timeout, hc_start_period, hc_start_interval;
    int hc_retries;
    pid_t hc_pid;
    uv_pipe_t hc_pipe;
    bool hc_pipe_open;
    struct bt_buf hc_out;
    char *hc_start;
    bool hc_timed_out;
    bool hc_exited;
    int hc_code;

    int handles;
    int exit_code;
};

struct client {
    struct monitor *m;
    uv_pipe_t pipe;
    struct bt_buf in;
    bool events;
    bool waits_stop;
    bool closing;
    struct client *next;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct monitor *m = h->data;
    m->handles--;
}

static void
close_handle(struct monitor *m, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        h->data = m;
        uv_close(h, on_handle_closed);
    }
}

/* ---- state and events ---- */

static void
save_state(struct monitor *m)
{
    struct bt_err *err = NULL;
    if (engine_container_state_write(m->id, m->state, &err) < 0)
        bt_err_log(&err, "write state.json");
}

struct write_req {
    uv_write_t req;
    char *data;
};

static void
on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    free(w->data);
    free(w);
}

static void
client_send(struct client *c, json_t *j)
{
    if (c->closing)
        return;
    char *s = json_dumps(j, JSON_COMPACT);
    struct write_req *w = xcalloc(1, sizeof(*w));
    w->data = xasprintf("%s\n", s);
    free(s);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)strlen(w->data));
    int r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written);
    if (r < 0) {
        free(w->data);
        free(w);
    }
}

static void
emit(struct monitor *m, const char *action, json_t *attrs_take)
{
    _cleanup_free_ char *t = engine_time_now_rfc3339();
    json_t *ev =
        json_pack("{s:s,s:s,s:s,s:s,s:o}", "time", t, "type", "container", "action", action, "id",
                  m->id, "attributes", attrs_take ? attrs_take : json_object());
    bt_info("event %s", action);
    for (struct client *c = m->clients; c; c = c->next)
        if (c->events)
            client_send(c, ev);
    json_decref(ev);
}

static void
set_status(struct monitor *m, const char *status)
{
    json_object_set_new(m->state, "Status", json_string(status));
    json_object_set_new(m->state, "Running",
                        json_boolean(!strcmp(status, "running") || !strcmp(status, "paused")));
    json_object_set_new(m->state, "Paused", json_boolean(!strcmp(status, "paused")));
    json_object_set_new(m->state, "Restarting", json_boolean(!strcmp(status, "restarting")));
}

/* ---- logs: Docker's json-file ---- */

static int
log_open(struct monitor *m, struct bt_err **err)
{
    m->log_fd = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (m->log_fd < 0)
        return bt_err_errno(err, errno, "open %s", m->log_path);
    struct stat st;
    m->log_size = fstat(m->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

static void
log_rotate(struct monitor *m)
{
    close(m->log_fd);
    if (m->log_max_file <= 1) {
        if (truncate(m->log_path, 0) < 0)
            bt_warn("truncate %s: %s (not fatal)", m->log_path, strerror(errno));
    } else {
        for (int k = m->log_max_file - 1; k >= 1; k--) {
            _cleanup_free_ char *from =
                k == 1 ? xstrdup(m->log_path) : xasprintf("%s.%d", m->log_path, k - 1);
            _cleanup_free_ char *to = xasprintf("%s.%d", m->log_path, k);
            if (rename(from, to) < 0 && errno != ENOENT)
                bt_warn("rotate %s: %s (not fatal)", from, strerror(errno));
        }
    }
    struct bt_err *err = NULL;
    if (log_open(m, &err) < 0)
        bt_err_log(&err, "reopen the log");
}

static void
log_line(struct monitor *m, const char *stream, const char *line, size_t len)
{
    if (m->log_fd < 0)
        return;
    _cleanup_free_ char *t = engine_time_now_rfc3339();
    json_t *l = json_stringn(line, len);
    if (!l) {
        _cleanup_free_ char *copy = xmemdup(line, len + 1);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)copy[i] >= 0x80 || copy[i] == '\0')
                copy[i] = '?';
        l = json_stringn(copy, len);
    }
    json_t *j = json_pack("{s:o,s:s,s:s}", "log", l, "stream", stream, "time", t);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    size_t n = strlen(s);
    s[n] = '\n';
    if (m->log_max_size && m->log_size > 0 && m->log_size + n + 1 > m->log_max_size)
        log_rotate(m);
    ssize_t w = write(m->log_fd, s, n + 1);
    if (w > 0)
        m->log_size += (uint64_t)w;
    free(s);
}

static void
stream_flush(struct stream *s, bool all)
{
    for (;;) {
        char *nl = memchr(s->partial.data, '\n', s->partial.len);
        size_t take;
        if (nl)
            take = (size_t)(nl - s->partial.data) + 1;
        else if (all && s->partial.len)
            take = s->partial.len;
        else if (s->partial.len >= 16384) /* Docker splits long lines at 16 KiB */
            take = 16384;
        else
            return;
        log_line(s->m, s->name, s->partial.data, take);
        memmove(s->partial.data, s->partial.data + take, s->partial.len - take);
        s->partial.len -= take;
        s->partial.data[s->partial.len] = '\0';
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void maybe_finish(struct monitor *m);

static void
on_stream_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct stream *s = st->data;
    if (n > 0) {
        bt_buf_append(&s->partial, buf->base, (size_t)n);
        /* A terminal's output is logged as it comes, so that a prompt or
         * the echo of a key reaches an attached client at once. */
        stream_flush(s, s->m->tty);
        return;
    }
    if (n < 0) {
        /* EOF, or EIO from a pty whose other side is gone */
        stream_flush(s, true);
        uv_read_stop(st);
        s->open = false;
        close_handle(s->m, (uv_handle_t *)&s->pipe);
        maybe_finish(s->m);
    }
}

static int
stream_start(struct monitor *m, struct stream *s, int fd, const char *name, struct bt_err **err)
{
    s->m = m;
    s->name = name;
    int r = uv_pipe_init(m->loop, &s->pipe, 0);
    if (r < 0)
        return bt_err_set(err, EIO, "uv_pipe_init: %s", uv_strerror(r));
    m->handles++;
    s->pipe.data = s;
    if ((r = uv_pipe_open(&s->pipe, fd)) < 0 ||
        (r = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_stream_read)) < 0) {
        close_handle(m, (uv_handle_t *)&s->pipe);
        return bt_err_set(err, EIO, "read the container's %s: %s", name, uv_strerror(r));
    }
    s->pipe.data = s;
    s->open = true;
    return 0;
}

/* ---- the container ---- */

static int
launch(struct monitor *m, struct bt_err **err)
{
    struct engine_init_opts io = {
        .id = m->id,
        .state_dir = m->dir,
        .stdio = {m->stdin_r >= 0 ? m->stdin_r : m->null_fd, m->out_w, m->err_w},
        .overlay = m->overlay,
        .init = json_is_true(json_object_get(m->config, "init")),
    };
    struct engine_init init;
    if (engine_init_create(m->spec, &io, &init, err) < 0)
        return bt_err_ret(err);
    m->oom_before = engine_cgroup_oom_kills(init.cgroup);
    if (engine_init_start(&init, err) < 0) {
        kill(init.pid, SIGKILL);
        waitpid(init.pid, NULL, 0);
        struct bt_err *ignored = NULL; /* the start error is the one to report */
        rt_cgroup_destroy(init.cgroup, &ignored);
        bt_err_free(ignored);
        engine_init_done(&init);
        return bt_err_ret(err);
    }
    m->pid = init.pid;
    rt_cgroup_free(m->cg);
    m->cg = TAKE_PTR(init.cgroup);
    if (init.pty_master >= 0)
        m->pty_fd = TAKE_FD(init.pty_master);
    engine_init_done(&init);
    m->started_ms = now_ms();
    m->running = true;
    _cleanup_free_ char *t = engine_time_now_rfc3339();
    set_status(m, "running");
    json_object_set_new(m->state, "Pid", json_integer(m->pid));
    json_object_set_new(m->state, "PidStart",
                        json_integer((json_int_t)engine_pid_starttime(m->pid)));
    json_object_set_new(m->state, "StartedAt", json_string(t));
    json_object_set_new(m->state, "ExitCode", json_integer(0));
    json_object_set_new(m->state, "OOMKilled", json_false());
    json_object_set_new(m->state, "Error", json_string(""));
    json_object_set_new(m->state, "Cgroup", rt_cgroup_to_json(m->cg));
    json_object_set_new(m->state, "RestartCount", json_integer(m->restart_count));
    if (m->hc_test) {
        json_object_set_new(
            m->state, "Health",
            json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log"));
    }
    save_state(m);
    emit(m, "start", NULL);
    return 0;
}

static void health_arm(struct monitor *m);

/* With a tty the container's output comes from its pty master, one per
 * run of the container. */
static int
attach_pty(struct monitor *m, struct bt_err **err)
{
    if (m->pty_fd < 0)
        return 0;
    int fd = TAKE_FD(m->pty_fd);
    if (m->out.open) {
        close(fd);
        return bt_err_set(err, EBUSY, "the previous terminal is still open");
    }
    return stream_start(m, &m->out, fd, "stdout", err);
}

static void
finish_for_good(struct monitor *m)
{
    m->finishing = true;
    uv_timer_stop(&m->health_timer);
    uv_timer_stop(&m->restart_timer);
    /* Our copies of the write ends go: the readers see EOF after the
     * last byte the container wrote. */
    if (m->out_w >= 0)
        close(m->out_w);
    if (m->err_w >= 0)
        close(m->err_w);
    m->out_w = m->err_w = -1;
    maybe_finish(m);
}

static void
on_restart_timer(uv_timer_t *t)
{
    struct monitor *m = t->data;
    if (m->user_stopped) {
        set_status(m, "exited");
        save_state(m);
        finish_for_good(m);
        return;
    }
    m->restart_count++;
    struct bt_err *err = NULL;
    if (launch(m, &err) < 0) {
        json_object_set_new(m->state, "Error", json_string(err->msg));
        bt_err_log(&err, "restart");
        set_status(m, "exited");
        json_object_set_new(m->state, "ExitCode", json_integer(128));
        save_state(m);
        finish_for_good(m);
        return;
    }
    if (attach_pty(m, &err) < 0)
        bt_err_log(&err, "terminal");
    emit(m, "restart", NULL);
    health_arm(m);
}

static void
reply_stopped(struct monitor *m)
{
    for (struct client *c = m->clients; c; c = c->next) {
        if (!c->waits_stop)
            continue;
        c->waits_stop = false;
        json_t *r = json_pack("{s:b,s:O}", "ok", 1, "state", m->state);
        client_send(c, r);
        json_decref(r);
    }
}

static void
container_exited(struct monitor *m, int code)
{
    m->running = false;
    uv_timer_stop(&m->stop_timer);
    uv_timer_stop(&m->health_timer);
    uv_timer_stop(&m->health_timeout);
    if (m->hc_pid > 0)
        kill(m->hc_pid, SIGKILL);
    uint64_t ran = now_ms() - m->started_ms;
    bool oom = engine_cgroup_oom_kills(m->cg) > m->oom_before;
    /* Whatever the init left behind goes with it. */
    struct bt_err *err = NULL;
    if (rt_cgroup_destroy(m->cg, &err) < 0)
        bt_err_log(&err, "remove the cgroup");
    _cleanup_free_ char *t = engine_time_now_rfc3339();
    json_object_set_new(m->state, "ExitCode", json_integer(code));
    json_object_set_new(m->state, "OOMKilled", json_boolean(oom));
    json_object_set_new(m->state, "FinishedAt", json_string(t));
    json_object_set_new(m->state, "Pid", json_integer(0));
    m->exit_code = code;
    if (oom)
        emit(m, "oom", NULL);
    emit(m, "die", json_pack("{s:i}", "exitCode", code));
    if (engine_restart_wanted(m->policy, m->max_retries, m->restart_count, code, m->user_stopped)) {
        m->backoff_ms = engine_restart_backoff_ms(m->backoff_ms, ran);
        set_status(m, "restarting");
        save_state(m);
        bt_info("exited with %d after %llu ms; restarting in %llu ms", code,
                (unsigned long long)ran, (unsigned long long)m->backoff_ms);
        uv_timer_start(&m->restart_timer, on_restart_timer, m->backoff_ms, 0);
        return;
    }
    set_status(m, "exited");
    save_state(m);
    bt_info("exited with %d", code);
    if (m->user_stopped)
        emit(m, "stop", NULL);
    reply_stopped(m);
    finish_for_good(m);
}

/* ---- health checks ---- */

static void
health_done(struct monitor *m)
{
    if (!m->hc_exited || m->hc_pipe_open)
        return;
    uv_timer_stop(&m->health_timeout);
    json_t *health = json_object_get(m->state, "Health");
    if (health && m->running) {
        _cleanup_free_ char *end = engine_time_now_rfc3339();
        const char *before = bt_json_str(health, "Status");
        _cleanup_free_ char *prev = xstrdup(before ? before : "");
        bool in_start = now_ms() - m->started_ms < m->hc_start_period;
        int code = m->hc_code;
        _cleanup_free_ char *out = bt_buf_steal(&m->hc_out);
        if (m->hc_timed_out) {
            code = -1;
            free(out);
            out = xasprintf("Health check exceeded timeout (%llums)",
                            (unsigned long long)m->hc_timeout);
        }
        engine_health_record(health, m->hc_start, end, code, out, strlen(out), m->hc_retries,
                             in_start);
        const char *now = bt_json_str(health, "Status");
        if (now && strcmp(prev, now) != 0) {
            _cleanup_free_ char *action = xasprintf("health_status: %s", now);
            emit(m, action, NULL);
        }
        save_state(m);
    }
    bt_buf_done(&m->hc_out);
    free(m->hc_start);
    m->hc_start = NULL;
    m->hc_pid = 0;
    health_arm(m);
}

static void
on_hc_closed(uv_handle_t *h)
{
    struct monitor *m = h->data;
    m->handles--;
    m->hc_pipe_open = false;
    health_done(m);
}

static void
on_hc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct monitor *m = st->data;
    if (n > 0) {
        if (m->hc_out.len < 4096)
            bt_buf_append(&m->hc_out, buf->base,
                          (size_t)n > 4096 - m->hc_out.len ? 4096 - m->hc_out.len : (size_t)n);
        return;
    }
    if (n < 0) {
        uv_read_stop(st);
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, on_hc_closed);
    }
}

static void
on_hc_timeout(uv_timer_t *t)
{
    struct monitor *m = t->data;
    if (m->hc_pid > 0) {
        m->hc_timed_out = true;
        kill(m->hc_pid, SIGKILL);
    }
}

static void
on_health_timer(uv_timer_t *t)
{
    struct monitor *m = t->data;
    if (!m->running || m->hc_pid > 0)
        return;
    /* A probe would freeze with the container (and us waiting for it):
     * none runs while paused, as in Docker. */
    if (bt_streq_null(bt_json_str(m->state, "Status"), "paused")) {
        health_arm(m);
        return;
    }
    json_t *test = m->hc_test;
    const char *kind = json_string_value(json_array_get(test, 0));
    _cleanup_strv_ char **args = NULL;
    if (kind && strcmp(kind, "CMD-SHELL") == 0) {
        args = bt_strv_push(args, "/bin/sh");
        args = bt_strv_push(args, "-c");
        args = bt_strv_push(args, json_string_value(json_array_get(test, 1)));
    } else {
        for (size_t i = 1; i < json_array_size(test); i++)
            args = bt_strv_push(args, json_string_value(json_array_get(test, i)));
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        bt_warn("health check: pipe: %s (not fatal)", strerror(errno));
        health_arm(m);
        return;
    }
    struct engine_exec_opts eo = {.target = m->pid,
                                  .cgroup = m->cg,
                                  .spec = m->spec,
                                  .args = args,
                                  .stdio = {m->null_fd, p[1], p[1]}};
    struct engine_exec ex;
    struct bt_err *err = NULL;
    m->hc_start = engine_time_now_rfc3339();
    int r = engine_process_exec(&eo, &ex, &err);
    close(p[1]);
    m->hc_timed_out = false;
    m->hc_exited = false;
    m->hc_out = (struct bt_buf){0};
    if (r < 0) {
        /* the probe could not run: a failed probe, as in Docker */
        close(p[0]);
        m->hc_exited = true;
        m->hc_code = err && err->code == ENOENT ? 127 : 126;
        bt_buf_puts(&m->hc_out, err ? err->msg : "exec failed");
        bt_err_free(err);
        m->hc_pid = 0;
        health_done(m);
        return;
    }
    m->hc_pid = ex.pid;
    uv_pipe_init(m->loop, &m->hc_pipe, 0);
    m->handles++;
    m->hc_pipe.data = m;
    m->hc_pipe_open = true;
    uv_pipe_open(&m->hc_pipe, p[0]);
    uv_read_start((uv_stream_t *)&m->hc_pipe, on_alloc, on_hc_read);
    uv_timer_start(&m->health_timeout, on_hc_timeout, m->hc_timeout, 0);
}

static void
health_arm(struct monitor *m)
{
    if (!m->hc_test || !m->running || m->finishing)
        return;
    /* During the start period probes come every start_interval. */
    json_t *health = json_object_get(m->state, "Health");
    const char *st = bt_json_str(health, "Status");
    bool starting =
        st && strcmp(st, "starting") == 0 && now_ms() - m->started_ms < m->hc_start_period;
    uint64_t next = starting && m->hc_start_interval ? m->hc_start_interval : m->hc_interval;
    uv_timer_start(&m->health_timer, on_health_timer, next, 0);
}

/* ---- signals ---- */

static void on_stop_timer(uv_timer_t *t);

static void
on_sigchld(uv_signal_t *h, int sig)
{
    struct monitor *m = h->data;
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p <= 0)
            break;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (p == m->pid && m->running) {
            m->pid = 0;
            container_exited(m, code);
        } else if (p == m->hc_pid) {
            m->hc_exited = true;
            m->hc_code = code;
            health_done(m);
        }
    }
}

static void
on_sigterm(uv_signal_t *h, int sig)
{
    /* The monitor itself was asked to go: stop the container like a user
     * stop with the configured grace period. */
    struct monitor *m = h->data;
    m->user_stopped = true;
    if (m->running) {
        kill(m->pid, m->stop_signal);
        json_t *t = json_object_get(m->config, "stop_timeout");
        uint64_t timeout =
            json_is_integer(t) && json_integer_value(t) >= 0 ? (uint64_t)json_integer_value(t) : 10;
        uv_timer_start(&m->stop_timer, on_stop_timer, timeout * 1000, 0);
    } else {
        uv_timer_stop(&m->restart_timer);
        set_status(m, "exited");
        save_state(m);
        finish_for_good(m);
    }
}

/* ---- control socket ---- */

static void
on_stop_timer(uv_timer_t *t)
{
    struct monitor *m = t->data;
    if (!m->running)
        return;
    bt_info("grace period over: killing everything in the cgroup");
    struct bt_err *err = NULL;
    if (rt_cgroup_kill(m->cg, SIGKILL, &err) < 0)
        bt_err_log(&err, "kill");
    if (m->pid > 0)
        kill(m->pid, SIGKILL);
}

static void
on_client_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    struct monitor *m = c->m;
    for (struct client **pp = &m->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    bt_buf_done(&c->in);
    free(c);
    m->handles--;
    maybe_finish(m);
}

static void
client_close(struct client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void
reply(struct client *c, bool ok, const char *error)
{
    json_t *r = ok ? json_pack("{s:b}", "ok", 1) : json_pack("{s:b,s:s}", "ok", 0, "error", error);
    client_send(c, r);
    json_decref(r);
}

/* Hands the container's stdin to the client: the reply line carries the
 * write end of the stdin pipe (given away once with stdin_once, so that the
 * client's end of file is the container's; a copy otherwise) or a copy of
 * the pty master (input and window size) as SCM_RIGHTS. */
static void
attach_stdin(struct client *c)
{
    struct monitor *m = c->m;
    int fd = -1;
    uv_os_fd_t pty = -1;
    if (m->tty && m->out.open && uv_fileno((uv_handle_t *)&m->out.pipe, &pty) == 0)
        fd = pty;
    else if (!m->tty && m->stdin_w >= 0)
        fd = m->stdin_w;
    if (fd < 0) {
        reply(c, false,
              m->tty          ? "the container's terminal is closed"
              : m->stdin_open ? "the container's stdin was already attached"
                              : "the container's stdin is not open");
        return;
    }
    uv_os_fd_t sock = -1;
    if (uv_fileno((uv_handle_t *)&c->pipe, &sock) < 0) {
        reply(c, false, "no socket");
        return;
    }
    char line[] = "{\"ok\":true}\n";
    struct iovec iov = {line, sizeof(line) - 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    /* A short reply on a fresh connection: the socket buffer takes it. */
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)iov.iov_len) {
        bt_warn("attach: send the stdin: %s", n < 0 ? strerror(errno) : "short write");
        return;
    }
    if (!m->tty && m->stdin_once) {
        close(m->stdin_w);
        m->stdin_w = -1;
    }
    bt_info("stdin attached");
}

static void
handle_request(struct client *c, json_t *req)
{
    struct monitor *m = c->m;
    const char *cmd = bt_json_str(req, "cmd");
    struct bt_err *err = NULL;
    if (!cmd) {
        reply(c, false, "no command");
    } else if (strcmp(cmd, "state") == 0) {
        json_t *r = json_pack("{s:b,s:O}", "ok", 1, "state", m->state);
        client_send(c, r);
        json_decref(r);
    } else if (strcmp(cmd, "attach") == 0) {
        attach_stdin(c);
    } else if (strcmp(cmd, "events") == 0) {
        c->events = true;
        reply(c, true, NULL);
    } else if (strcmp(cmd, "stop") == 0) {
        m->user_stopped = true;
        if (!m->running) {
            if (uv_is_active((uv_handle_t *)&m->restart_timer)) {
                uv_timer_stop(&m->restart_timer);
                set_status(m, "exited");
                save_state(m);
                finish_for_good(m);
            }
            json_t *r = json_pack("{s:b,s:O}", "ok", 1, "state", m->state);
            client_send(c, r);
            json_decref(r);
            return;
        }
        json_t *t = json_object_get(req, "timeout");
        int64_t timeout = json_is_integer(t)
                              ? json_integer_value(t)
                              : json_integer_value(json_object_get(m->config, "stop_timeout"));
        if (!json_is_integer(t) && !json_object_get(m->config, "stop_timeout"))
            timeout = 10;
        int sig = m->stop_signal;
        const char *s = bt_json_str(req, "signal");
        if (s && engine_signal_parse(s, &sig) < 0) {
            reply(c, false, "unknown signal");
            return;
        }
        c->waits_stop = true;
        emit(m, "kill", json_pack("{s:i}", "signal", sig));
        if (strcmp(bt_json_str(m->state, "Status"), "paused") == 0 &&
            rt_cgroup_freeze(m->cg, false, &err) < 0)
            bt_err_log(&err, "thaw before stop");
        kill(m->pid, sig);
        if (timeout < 0)
            return; /* wait for ever */
        uv_timer_start(&m->stop_timer, on_stop_timer, (uint64_t)timeout * 1000, 0);
    } else if (strcmp(cmd, "kill") == 0) {
        int sig = SIGKILL;
        const char *s = bt_json_str(req, "signal");
        if (s && engine_signal_parse(s, &sig) < 0) {
            reply(c, false, "unknown signal");
            return;
        }
        if (!m->running) {
            reply(c, false, "container is not running");
            return;
        }
        if (sig == SIGKILL || sig == m->stop_signal)
            m->user_stopped = true;
        emit(m, "kill", json_pack("{s:i}", "signal", sig));
        if (kill(m->pid, sig) < 0)
            reply(c, false, strerror(errno));
        else
            reply(c, true, NULL);
    } else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "unpause") == 0) {
        bool pause = strcmp(cmd, "pause") == 0;
        if (!m->running) {
            reply(c, false, "container is not running");
            return;
        }
        if (rt_cgroup_freeze(m->cg, pause, &err) < 0) {
            reply(c, false, err->msg);
            bt_err_free(err);
            return;
        }
        set_status(m, pause ? "paused" : "running");
        save_state(m);
        emit(m, cmd, NULL);
        reply(c, true, NULL);
    } else {
        reply(c, false, "unknown command");
    }
}

static void
on_client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = st->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    bt_buf_append(&c->in, buf->base, (size_t)n);
    char *nl;
    while (c->in.data && (nl = memchr(c->in.data, '\n', c->in.len))) {
        *nl = '\0';
        json_error_t je;
        json_t *req = json_loads(c->in.data, 0, &je);
        size_t used = (size_t)(nl - c->in.data) + 1;
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
        c->in.data[c->in.len] = '\0';
        if (!req) {
            reply(c, false, "bad request");
            continue;
        }
        handle_request(c, req);
        json_decref(req);
    }
    if (c->in.len > 65536)
        client_close(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct monitor *m = server->data;
    if (status < 0)
        return;
    struct client *c = xcalloc(1, sizeof(*c));
    c->m = m;
    uv_pipe_init(m->loop, &c->pipe, 0);
    m->handles++;
    c->pipe.data = c;
    c->next = m->clients;
    m->clients = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_client_read) < 0)
        client_close(c);
}

/* ---- the end ---- */

static void
maybe_finish(struct monitor *m)
{
    if (!m->finishing || m->out.open || m->err.open || m->hc_pipe_open)
        return;
    /* Event listeners and stop waiters get their last word, then go. */
    reply_stopped(m);
    for (struct client *c = m->clients; c; c = c->next)
        client_close(c);
    close_handle(m, (uv_handle_t *)&m->server);
    close_handle(m, (uv_handle_t *)&m->sigchld);
    close_handle(m, (uv_handle_t *)&m->sigterm);
    close_handle(m, (uv_handle_t *)&m->stop_timer);
    close_handle(m, (uv_handle_t *)&m->restart_timer);
    close_handle(m, (uv_handle_t *)&m->health_timer);
    close_handle(m, (uv_handle_t *)&m->health_timeout);
    engine_proxy_close(m->proxy);
    m->proxy = NULL;
}

static int
parse_config(struct monitor *m, struct bt_err **err)
{
    m->config = engine_container_config_load(m->id, err);
    if (!m->config)
        return bt_err_ret(err);
    json_t *spec = json_object_get(m->config, "spec");
    json_t *rootfs = json_object_get(m->config, "rootfs");
    _cleanup_free_ char *merged = bt_path_join(m->dir, "rootfs");
    if (json_is_object(rootfs)) {
        /* overlay: lowerdirs, upper and work dirs given by the image store */
        struct bt_buf b = {0};
        bt_buf_puts(&b, "lowerdir=");
        size_t i;
        json_t *l;
        json_array_foreach (json_object_get(rootfs, "lower"), i, l) {
            if (i)
                bt_buf_putc(&b, ':');
            bt_buf_puts(&b, json_string_value(l) ? json_string_value(l) : "");
        }
        const char *up = bt_json_str(rootfs, "upper"), *work = bt_json_str(rootfs, "work");
        if (up && work)
            bt_buf_printf(&b, ",upperdir=%s,workdir=%s", up, work);
        m->overlay = bt_buf_steal(&b);
        bt_buf_done(&b);
        if (bt_mkdir_p(merged, 0755, err) < 0)
            return bt_err_ret(err);
        if (!json_object_get(spec, "root"))
            json_object_set_new(spec, "root", json_object());
        json_object_set_new(json_object_get(spec, "root"), "path", json_string(merged));
    } else if (json_is_string(rootfs)) {
        if (!json_object_get(spec, "root"))
            json_object_set_new(spec, "root", json_object());
        json_object_set(json_object_get(spec, "root"), "path", rootfs);
    }
    m->spec = rt_spec_parse(spec, m->dir, err);
    if (!m->spec)
        return bt_err_ret(err);
    m->tty = m->spec->process.terminal;
    m->stdin_open = json_is_true(json_object_get(m->config, "stdin_open"));
    m->stdin_once = !json_is_false(json_object_get(m->config, "stdin_once"));
    if (engine_restart_parse(bt_json_str(m->config, "restart"), &m->policy, &m->max_retries, err) <
        0)
        return bt_err_ret(err);
    m->stop_signal = SIGTERM;
    const char *ss = bt_json_str(m->config, "stop_signal");
    if (ss && engine_signal_parse(ss, &m->stop_signal) < 0)
        return bt_err_set(err, EINVAL, "unknown stop_signal '%s'", ss);
    json_t *log = json_object_get(m->config, "log");
    m->log_max_size = (uint64_t)json_integer_value(json_object_get(log, "max_size"));
    m->log_max_file = (int)json_integer_value(json_object_get(log, "max_file"));
    json_t *hc = json_object_get(m->config, "healthcheck");
    json_t *test = json_object_get(hc, "test");
    const char *kind = json_string_value(json_array_get(test, 0));
    if (kind && (strcmp(kind, "CMD") == 0 || strcmp(kind, "CMD-SHELL") == 0) &&
        json_array_size(test) >= 2) {
        m->hc_test = json_incref(test);
        struct {
            const char *key;
            uint64_t *out;
            uint64_t def;
        } durs[] = {{"interval", &m->hc_interval, 30000},
                    {"timeout", &m->hc_timeout, 30000},
                    {"start_period", &m->hc_start_period, 0},
                    {"start_interval", &m->hc_start_interval, 5000}};
        for (size_t i = 0; i < BT_ARRAY_SIZE(durs); i++) {
            json_t *v = json_object_get(hc, durs[i].key);
            double s = json_number_value(v);
            *durs[i].out = v && s > 0 ? (uint64_t)(s * 1000.0 + 0.5) : durs[i].def;
        }
        json_t *rt = json_object_get(hc, "retries");
        m->hc_retries =
            json_is_integer(rt) && json_integer_value(rt) > 0 ? (int)json_integer_value(rt) : 3;
    } else if (kind && strcmp(kind, "NONE") != 0) {
        return bt_err_set(err, EINVAL, "healthcheck test must start with CMD, CMD-SHELL or NONE");
    }
    return 0;
}

static int
monitor_setup(struct monitor *m, struct bt_err **err)
{
    if (parse_config(m, err) < 0)
        return bt_err_ret(err);
    m->log_path = engine_container_log_path(m->id);
    if (log_open(m, err) < 0)
        return bt_err_ret(err);
    m->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (m->null_fd < 0)
        return bt_err_errno(err, errno, "open /dev/null");
    m->state = engine_container_state_load(m->id, NULL);
    if (!m->state)
        m->state = json_object();
    m->restart_count = (int)json_integer_value(json_object_get(m->state, "RestartCount"));
    json_object_set_new(m->state, "MonitorPid", json_integer(getpid()));
    json_object_set_new(m->state, "MonitorStart",
                        json_integer((json_int_t)engine_pid_starttime(getpid())));
    json_object_del(m->state, "FinishedAt");

    int op[2] = {-1, -1}, ep[2] = {-1, -1}, ip[2] = {-1, -1};
    if (m->stdin_open && !m->tty) {
        if (pipe2(ip, O_CLOEXEC) < 0)
            return bt_err_errno(err, errno, "pipe");
        m->stdin_r = ip[0];
        m->stdin_w = ip[1];
    }
    if (!m->tty && (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0))
        return bt_err_errno(err, errno, "pipe");
    m->out_w = op[1];
    m->err_w = ep[1];

    /* Clone before the loop exists: nothing but this thread runs. */
    if (launch(m, err) < 0)
        return bt_err_ret(err);

    m->loop = xmalloc(sizeof(*m->loop));
    int r = uv_loop_init(m->loop);
    if (r < 0)
        return bt_err_set(err, EIO, "uv_loop_init: %s", uv_strerror(r));
    if (!m->tty) {
        if (stream_start(m, &m->out, op[0], "stdout", err) < 0 ||
            stream_start(m, &m->err, ep[0], "stderr", err) < 0)
            return bt_err_ret(err);
    } else if (attach_pty(m, err) < 0) {
        return bt_err_ret(err);
    }
    uv_timer_t *timers[] = {&m->stop_timer, &m->restart_timer, &m->health_timer,
                            &m->health_timeout};
    for (size_t i = 0; i < BT_ARRAY_SIZE(timers); i++) {
        uv_timer_init(m->loop, timers[i]);
        timers[i]->data = m;
        m->handles++;
    }
    uv_signal_init(m->loop, &m->sigchld);
    m->sigchld.data = m;
    uv_signal_init(m->loop, &m->sigterm);
    m->sigterm.data = m;
    m->handles += 2;
    uv_signal_start(&m->sigchld, on_sigchld, SIGCHLD);
    uv_signal_start(&m->sigterm, on_sigterm, SIGTERM);

    _cleanup_free_ char *sock = engine_container_socket_path(m->id);
    unlink(sock);
    uv_pipe_init(m->loop, &m->server, 0);
    m->server.data = m;
    m->handles++;
    /* Bound by a relative name from the run directory: the full path may be
     * longer than a socket address can hold. */
    _cleanup_free_ char *rundir = engine_container_rundir(m->id);
    if (chdir(rundir) < 0)
        return bt_err_errno(err, errno, "chdir %s", rundir);
    if ((r = uv_pipe_bind(&m->server, "monitor.sock")) < 0 ||
        (r = uv_listen((uv_stream_t *)&m->server, 16, on_connection)) < 0)
        return bt_err_set(err, EIO, "listen on %s: %s", sock, uv_strerror(r));
    if (m->nproxy > 0) {
        r = engine_proxy_start(m->loop, m->proxy_specs, m->nproxy, &m->proxy, err);
        m->nproxy = 0; /* the proxy owns the fds now */
        if (r < 0)
            return r;
    }
    return 0;
}

static void
launch_pending_after_loop(struct monitor *m)
{
    /* launch() ran before the loop: arm what needs the loop now. */
    if (m->hc_test)
        health_arm(m);
    /* The init may have exited before SIGCHLD was watched. */
    on_sigchld(&m->sigchld, SIGCHLD);
}

int
main(int argc, char **argv)
{
    int ready_fd = -1;
    bool detach = false;
    static const struct option opts[] = {{"ready-fd", required_argument, NULL, 'r'},
                                         {"detach", no_argument, NULL, 'd'},
                                         {"hold", required_argument, NULL, 'H'},
                                         {"proxy", required_argument, NULL, 'P'},
                                         {0}};
    int c;
    struct monitor mon = {.out_w = -1,
                          .err_w = -1,
                          .log_fd = -1,
                          .null_fd = -1,
                          .pty_fd = -1,
                          .stdin_r = -1,
                          .stdin_w = -1};
    struct monitor *m = &mon;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        struct bt_err *perr = NULL;
        int64_t fd;
        switch (c) {
        case 'r':
            ready_fd = atoi(optarg);
            break;
        case 'd':
            detach = true;
            break;
        case 'H':
            if (!bt_parse_int64(optarg, &fd) || fd < 0 || fd > INT32_MAX) {
                fprintf(stderr, "berth-monitor: --hold %s: not a file descriptor\n", optarg);
                return 2;
            }
            m->held = xreallocarray(m->held, m->nheld + 1, sizeof(*m->held));
            m->held[m->nheld++] = (int)fd;
            /* the container must not inherit the host's sockets */
            fcntl((int)fd, F_SETFD, FD_CLOEXEC);
            break;
        case 'P':
            m->proxy_specs = xreallocarray(m->proxy_specs, m->nproxy + 1, sizeof(*m->proxy_specs));
            if (engine_proxy_spec_parse(optarg, &m->proxy_specs[m->nproxy], &perr) < 0) {
                fprintf(stderr, "berth-monitor: %s\n", perr->msg);
                bt_err_free(perr);
                return 2;
            }
            fcntl(m->proxy_specs[m->nproxy++].fd, F_SETFD, FD_CLOEXEC);
            break;
        default:
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: berth-monitor [--detach] [--ready-fd N] [--hold FD]... "
                        "[--proxy FD,PROTO,ADDR,PORT]... CONTAINER-ID\n");
        return 2;
    }
    /* --detach: the process that started us waits for this one to exit and
     * the monitor goes on in a child, which belongs to no CLI process. */
    if (detach) {
        pid_t g = fork();
        if (g < 0) {
            if (ready_fd >= 0)
                dprintf(ready_fd, "fork the monitor: %s\n", strerror(errno));
            return 1;
        }
        if (g > 0)
            _exit(0);
    }
    /* The ready pipe is ours alone: the container must not inherit it, or
     * the CLI would wait for its end of file as long as the container runs. */
    if (ready_fd >= 0)
        fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    /* The monitor works from its run directory: make the roots absolute. */
    static const char *const roots[] = {"BERTH_ROOT", "BERTH_RUNROOT"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(roots); i++) {
        const char *v = getenv(roots[i]);
        if (v && v[0] && v[0] != '/') {
            _cleanup_free_ char *cwd = getcwd(NULL, 0);
            _cleanup_free_ char *abs = bt_path_absolute(cwd ? cwd : "/", v);
            setenv(roots[i], abs, 1);
        }
    }
    bt_json_init();
    m->id = argv[optind];
    m->dir = engine_container_dir(m->id);
    _cleanup_free_ char *rundir = engine_container_rundir(m->id);
    struct bt_err *err = NULL;
    if (bt_mkdir_p(rundir, 0700, &err) < 0) {
        bt_err_log(&err, "monitor");
        return 1;
    }
    _cleanup_free_ char *logp = bt_path_join(rundir, "monitor.log");
    int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (lfd >= 0)
        bt_log_set_fd(lfd);
    bt_log_set_prefix(m->id);
    bt_log_set_timestamps(true);
    if (bt_log_get_level() < BT_LOG_INFO)
        bt_log_set_level(BT_LOG_INFO);
    /* Orphans of the container are ours to reap. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    int rc = monitor_setup(m, &err);
    if (ready_fd >= 0) {
        const char *msg = rc < 0 ? err->msg : "ok";
        dprintf(ready_fd, "%s\n", msg);
        close(ready_fd);
    }
    if (rc < 0) {
        _cleanup_free_ char *t = engine_time_now_rfc3339();
        if (m->state) {
            set_status(m, "exited");
            json_object_set_new(m->state, "Error", json_string(err->msg));
            json_object_set_new(m->state, "ExitCode", json_integer(rc == -ENOENT ? 127 : 126));
            json_object_set_new(m->state, "FinishedAt", json_string(t));
            save_state(m);
        }
        bt_err_log(&err, "start");
        if (m->pid > 0) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, NULL, 0);
        }
        if (m->cg) {
            struct bt_err *e2 = NULL;
            if (rt_cgroup_destroy(m->cg, &e2) < 0)
                bt_err_log(&e2, "remove the cgroup");
        }
        return 1;
    }
    launch_pending_after_loop(m);
    uv_run(m->loop, UV_RUN_DEFAULT);
    _cleanup_free_ char *sock = engine_container_socket_path(m->id);
    unlink(sock);
    if (uv_loop_close(m->loop) != 0)
        bt_warn("the loop still had handles at exit (not fatal)");
    free(m->loop);
    bool auto_remove = json_is_true(json_object_get(m->config, "auto_remove"));
    if (auto_remove) {
        struct bt_err *e2 = NULL;
        if (bt_rm_rf(m->dir, &e2) < 0)
            bt_err_log(&e2, "auto-remove");
        bt_rm_rf(rundir, NULL);
    }
    if (m->log_fd >= 0)
        close(m->log_fd);
    rt_spec_free(m->spec);
    rt_cgroup_free(m->cg);
    json_decref(m->config);
    json_decref(m->state);
    if (m->hc_test)
        json_decref(m->hc_test);
    for (size_t i = 0; i < m->nheld; i++)
        close(m->held[i]);
    free(m->held);
    free(m->proxy_specs);
    free(m->overlay);
    free(m->log_path);
    free(m->dir);
    return 0;
}

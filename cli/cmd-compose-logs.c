/* berth logs: the output of a project's containers, read from the engine's
 * json-file logs (rotated files included), several containers merged in
 * time order behind colored `web-1  | ` prefixes; -f follows them on a
 * libuv timer until no container of the project is running any more. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"

/* Compose's rotation of prefix colors. */
static const char *const colors[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};

#define MAX_ROTATED 100

struct log_entry {
    int64_t sec;
    int64_t nsec;
    char *time; /* as written, RFC 3339 with nanoseconds */
    char *text; /* the line, newline included when it had one */
    size_t len;
    bool is_stderr;
    size_t src;
    uint64_t seq;
};

struct log_src {
    char *id;
    char *label; /* web-1 */
    const char *color;
    char *path;
    FILE *f; /* the current file while following */
    ino_t ino;
    bool active;
};

struct logs {
    struct log_src *srcs;
    size_t n_srcs;
    size_t width;
    bool color, prefix, timestamps;
    bool raw; /* the output of one attached container, byte for byte */
    bool has_since, has_until;
    int64_t since_sec, since_nsec, until_sec, until_nsec;
    long tail; /* -1: all */
    uint64_t seq;
    /* following */
    char *project;
    char **services;
    int index;
    uv_timer_t timer;
    unsigned ticks;
    /* attached to one container (run): signals go to it */
    const char *attached_id;
    uv_signal_t sig[3];
    struct cli_logs_attach_opts *attach; /* NULL: run's defaults */
};

/* "2026-01-02T03:04:05.123456789Z", or with an offset "+01:00"; a time
 * without zone is local time, as docker reads --since. */
static bool
parse_time(const char *s, int64_t *sec, int64_t *nsec)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p)
        return false;
    bool has_clock = false;
    if (*p == 'T' || *p == ' ') {
        const char *q = strptime(p + 1, "%H:%M", &tm);
        if (!q)
            return false;
        p = q;
        if (*p == ':') {
            q = strptime(p + 1, "%S", &tm);
            if (!q)
                return false;
            p = q;
        }
        has_clock = true;
    }
    int64_t frac = 0;
    if (has_clock && *p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        if (digits == 0)
            return false;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    int64_t t;
    if (*p == 'Z' && p[1] == '\0') {
        t = (int64_t)timegm(&tm);
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int hh = (p[1] - '0') * 10 + (p[2] - '0');
        int mm = (p[4] - '0') * 10 + (p[5] - '0');
        t = (int64_t)timegm(&tm) - (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    } else if (*p == '\0') {
        tm.tm_isdst = -1;
        t = (int64_t)mktime(&tm);
    } else {
        return false;
    }
    *sec = t;
    *nsec = frac;
    return true;
}

/* --since/--until: a timestamp, a Unix time ("1700000000.5"), or a
 * duration before now ("10m", "1h30m"). */
static bool
parse_when(const char *s, int64_t *sec, int64_t *nsec)
{
    if (parse_time(s, sec, nsec))
        return true;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno == 0 && end != s && *end == '\0' && d >= 0 && s[0] >= '0' && s[0] <= '9') {
        *sec = (int64_t)d;
        *nsec = (int64_t)((d - (double)*sec) * 1e9);
        return true;
    }
    int64_t ns;
    struct bt_err *e = NULL;
    if (compose_duration_parse(s, &ns, &e) == 0 && ns >= 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t t = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - ns;
        *sec = t / 1000000000;
        *nsec = t % 1000000000;
        return true;
    }
    bt_err_free(e);
    return false;
}

static int
time_cmp(int64_t as, int64_t an, int64_t bs, int64_t bn)
{
    if (as != bs)
        return as < bs ? -1 : 1;
    if (an != bn)
        return an < bn ? -1 : 1;
    return 0;
}

static void
entry_done(struct log_entry *e)
{
    free(e->time);
    free(e->text);
}

static void
entries_free(struct log_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        entry_done(&v[i]);
    free(v);
}

/* Parses one json-file line; false for a line that is not a log entry. */
static bool
entry_parse(struct logs *L, const char *line, size_t src, struct log_entry *out)
{
    json_error_t je;
    _cleanup_json_ json_t *j = json_loads(line, JSON_ALLOW_NUL, &je);
    json_t *log = json_object_get(j, "log");
    const char *t = bt_json_str(j, "time");
    if (!json_is_string(log) || !t)
        return false;
    int64_t sec, nsec;
    if (!parse_time(t, &sec, &nsec))
        return false;
    if (L->has_since && time_cmp(sec, nsec, L->since_sec, L->since_nsec) < 0)
        return false;
    if (L->has_until && time_cmp(sec, nsec, L->until_sec, L->until_nsec) > 0)
        return false;
    const char *stream = bt_json_str(j, "stream");
    *out = (struct log_entry){
        .sec = sec,
        .nsec = nsec,
        .time = xstrdup(t),
        .len = json_string_length(log),
        .is_stderr = stream && !strcmp(stream, "stderr"),
        .src = src,
        .seq = L->seq++,
    };
    out->text = xmemdup(json_string_value(log), out->len + 1);
    return true;
}

/* Reads the complete lines of f from where it stands; a line still being
 * written is left for the next read. */
static void
read_lines(struct logs *L, FILE *f, size_t src, struct log_entry **v, size_t *n)
{
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        long pos = ftell(f);
        ssize_t len = getline(&line, &cap, f);
        if (len <= 0)
            break;
        if (line[len - 1] != '\n') {
            fseek(f, pos, SEEK_SET);
            break;
        }
        struct log_entry e;
        if (!entry_parse(L, line, src, &e))
            continue;
        *v = xreallocarray(*v, *n + 1, sizeof(**v));
        (*v)[(*n)++] = e;
    }
    clearerr(f);
    free(line);
}

static int
entry_cmp(const void *a, const void *b)
{
    const struct log_entry *x = a, *y = b;
    int r = time_cmp(x->sec, x->nsec, y->sec, y->nsec);
    if (r)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
entry_print(struct logs *L, const struct log_entry *e)
{
    FILE *out = e->is_stderr ? stderr : stdout;
    /* both streams may be one pipe: keep their lines in order */
    fflush(e->is_stderr ? stdout : stderr);
    const struct log_src *s = &L->srcs[e->src];
    if (L->prefix) {
        if (L->color)
            fprintf(out, "\033[%sm%-*s |\033[0m ", s->color, (int)L->width, s->label);
        else
            fprintf(out, "%-*s | ", (int)L->width, s->label);
    }
    if (L->timestamps)
        fprintf(out, "%s ", e->time);
    fwrite(e->text, 1, e->len, out);
    if (!L->raw && (e->len == 0 || e->text[e->len - 1] != '\n'))
        fputc('\n', out);
}

static void
entries_print(struct logs *L, struct log_entry *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), entry_cmp);
    for (size_t i = 0; i < n; i++)
        entry_print(L, &v[i]);
    fflush(stdout);
    fflush(stderr);
}

static bool
status_active(const char *s)
{
    return s && (!strcmp(s, "running") || !strcmp(s, "paused") || !strcmp(s, "restarting"));
}

static bool
src_active(const char *id)
{
    struct bt_err *err = NULL; /* a container removed meanwhile is simply gone */
    _cleanup_json_ json_t *st = engine_container_state(id, &err);
    bt_err_free(err);
    return st && status_active(bt_json_str(st, "Status"));
}

/* Everything a container has logged so far (rotated files oldest first),
 * the last `tail` entries of it; with follow, the current file stays open
 * at its end. */
static void
src_read_all(struct logs *L, size_t src, bool follow, struct log_entry **v, size_t *n)
{
    struct log_src *s = &L->srcs[src];
    struct log_entry *mine = NULL;
    size_t nm = 0;
    for (int k = MAX_ROTATED; k >= 1; k--) {
        _cleanup_free_ char *p = xasprintf("%s.%d", s->path, k);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        if (f)
            read_lines(L, f, src, &mine, &nm);
    }
    FILE *f = fopen(s->path, "re");
    if (f) {
        struct stat st;
        if (fstat(fileno(f), &st) == 0)
            s->ino = st.st_ino;
        read_lines(L, f, src, &mine, &nm);
        if (follow)
            s->f = f;
        else
            fclose(f);
    }
    size_t skip = L->tail >= 0 && nm > (size_t)L->tail ? nm - (size_t)L->tail : 0;
    for (size_t i = 0; i < nm; i++) {
        if (i < skip) {
            entry_done(&mine[i]);
            continue;
        }
        *v = xreallocarray(*v, *n + 1, sizeof(**v));
        (*v)[(*n)++] = mine[i];
    }
    free(mine);
}

static void
src_add(struct logs *L, const struct compose_container *c)
{
    L->srcs = xreallocarray(L->srcs, L->n_srcs + 1, sizeof(*L->srcs));
    struct log_src *s = &L->srcs[L->n_srcs];
    *s = (struct log_src){
        .id = xstrdup(c->id),
        .label = c->oneoff ? xstrdup(c->name) : xasprintf("%s-%d", c->service, c->number),
        .color = colors[L->n_srcs % BT_ARRAY_SIZE(colors)],
        .path = engine_container_log_path(c->id),
        .active = status_active(c->state),
    };
    if (strlen(s->label) > L->width)
        L->width = strlen(s->label);
    L->n_srcs++;
}

static void
logs_done(struct logs *L)
{
    for (size_t i = 0; i < L->n_srcs; i++) {
        free(L->srcs[i].id);
        free(L->srcs[i].label);
        free(L->srcs[i].path);
        if (L->srcs[i].f)
            fclose(L->srcs[i].f);
    }
    free(L->srcs);
    free(L->project);
    bt_strv_free(L->services);
}

/* New lines of a followed container; a rotation is noticed by the inode of
 * the path changing: the old file is finished, then the new one read. */
static void
src_poll(struct logs *L, size_t src, struct log_entry **v, size_t *n)
{
    struct log_src *s = &L->srcs[src];
    if (!s->f) {
        s->f = fopen(s->path, "re");
        struct stat st;
        if (s->f && fstat(fileno(s->f), &st) == 0)
            s->ino = st.st_ino;
    }
    if (!s->f)
        return;
    read_lines(L, s->f, src, v, n);
    struct stat st;
    if (stat(s->path, &st) == 0 && st.st_ino != s->ino) {
        fclose(s->f);
        s->f = fopen(s->path, "re");
        if (s->f && fstat(fileno(s->f), &st) == 0)
            s->ino = st.st_ino;
        if (s->f)
            read_lines(L, s->f, src, v, n);
    }
}

static void
on_tick(uv_timer_t *t)
{
    struct logs *L = t->data;
    L->ticks++;
    struct log_entry *v = NULL;
    size_t n = 0;
    /* Containers of the project that appeared since (a scale-up, an `up`
     * running next to us) are followed from their first line. */
    if (L->project && L->ticks % 5 == 0) {
        struct compose_actual a;
        struct bt_err *err = NULL;
        if (compose_actual_load(L->project, false, &a, &err) == 0) {
            for (size_t i = 0; i < a.n_containers; i++) {
                const struct compose_container *c = &a.containers[i];
                if (!cli_container_selected(c, L->services, L->index))
                    continue;
                bool known = false;
                for (size_t k = 0; k < L->n_srcs && !known; k++)
                    known = !strcmp(L->srcs[k].id, c->id);
                if (!known && status_active(c->state))
                    src_add(L, c);
            }
            compose_actual_done(&a);
        } else {
            bt_err_free(err); /* listing again at the next tick is all we can do */
        }
    }
    bool any = false;
    for (size_t i = 0; i < L->n_srcs; i++) {
        bool was = L->srcs[i].active;
        if (was)
            L->srcs[i].active = src_active(L->srcs[i].id);
        /* read after the state, so the last lines of a container that just
         * stopped are not lost */
        if (was)
            src_poll(L, i, &v, &n);
        any |= L->srcs[i].active;
    }
    entries_print(L, v, n);
    entries_free(v, n);
    if (!any)
        uv_timer_stop(t);
}

static void
logs_usage(FILE *out)
{
    fprintf(out, "Usage:  berth logs [OPTIONS] [SERVICE...]\n\n"
                 "View output from containers.\n\n"
                 "Options:\n"
                 "  -f, --follow          Follow log output\n"
                 "      --index N         Index of the container if the service has several\n"
                 "      --no-color        Produce monochrome output\n"
                 "      --no-log-prefix   Don't print a prefix in logs\n"
                 "      --since TIME      Show logs since a timestamp (2013-01-02T13:23:37Z)\n"
                 "                        or a relative time (42m for 42 minutes)\n"
                 "  -n, --tail N          Number of lines to show from the end of the logs\n"
                 "                        of each container (default \"all\")\n"
                 "  -t, --timestamps      Show timestamps\n"
                 "      --until TIME      Show logs before a timestamp or relative time\n"
                 "  -h, --help            Show this help\n");
}

int
cli_cmd_compose_logs(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_INDEX = 256, O_NOCOLOR, O_NOPREFIX, O_SINCE, O_UNTIL };
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 'n'},
        {"timestamps", no_argument, NULL, 't'},
        {"index", required_argument, NULL, O_INDEX},
        {"no-color", no_argument, NULL, O_NOCOLOR},
        {"no-log-prefix", no_argument, NULL, O_NOPREFIX},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct logs L = {.color = ctx->color, .prefix = true, .tail = -1};
    bool follow = false;
    int c;
    int64_t v;
    while ((c = getopt_long(argc, argv, "+fn:th", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            follow = true;
            break;
        case 'n':
            if (!strcmp(optarg, "all") || !strcmp(optarg, "-1"))
                L.tail = -1;
            else if (bt_parse_int64(optarg, &v) && v >= 0)
                L.tail = (long)v;
            else
                return cli_usage_error("logs", "invalid --tail '%s': a number or \"all\"", optarg);
            break;
        case 't':
            L.timestamps = true;
            break;
        case O_INDEX:
            if (!bt_parse_int64(optarg, &v) || v < 1 || v > INT32_MAX)
                return cli_usage_error("logs", "invalid --index '%s'", optarg);
            L.index = (int)v;
            break;
        case O_NOCOLOR:
            L.color = false;
            break;
        case O_NOPREFIX:
            L.prefix = false;
            break;
        case O_SINCE:
            if (!parse_when(optarg, &L.since_sec, &L.since_nsec))
                return cli_usage_error("logs", "invalid --since '%s'", optarg);
            L.has_since = true;
            break;
        case O_UNTIL:
            if (!parse_when(optarg, &L.until_sec, &L.until_nsec))
                return cli_usage_error("logs", "invalid --until '%s'", optarg);
            L.has_until = true;
            break;
        case 'h':
            logs_usage(stdout);
            return CLI_EXIT_OK;
        default:
            logs_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    if (cli_compose_open(ctx, services, NULL, &L.project, &err) < 0)
        return cli_fail(&err, "logs");
    struct compose_actual a;
    if (compose_actual_load(L.project, false, &a, &err) < 0) {
        free(L.project);
        return cli_fail(&err, "logs");
    }
    L.services = bt_strv_copy(services);
    for (size_t i = 0; i < a.n_containers; i++)
        if (cli_container_selected(&a.containers[i], services, L.index))
            src_add(&L, &a.containers[i]);
    compose_actual_done(&a);
    if (L.index > 0 && L.n_srcs == 0) {
        fprintf(stderr, "berth: logs: no container with index %d\n", L.index);
        logs_done(&L);
        return CLI_EXIT_FAILURE;
    }

    struct log_entry *entries = NULL;
    size_t n = 0;
    for (size_t i = 0; i < L.n_srcs; i++)
        src_read_all(&L, i, follow, &entries, &n);
    entries_print(&L, entries, n);
    entries_free(entries, n);

    int rc = CLI_EXIT_OK;
    if (follow) {
        uv_loop_t loop;
        int r = uv_loop_init(&loop);
        if (r < 0) {
            fprintf(stderr, "berth: logs: event loop: %s\n", uv_strerror(r));
            logs_done(&L);
            return CLI_EXIT_FAILURE;
        }
        uv_timer_init(&loop, &L.timer);
        L.timer.data = &L;
        uv_timer_start(&L.timer, on_tick, 0, 100);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&L.timer, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) < 0)
            rc = CLI_EXIT_FAILURE;
    }
    logs_done(&L);
    return rc;
}

/* Ctrl-C, SIGTERM, SIGHUP while attached: the container gets them, as
 * with docker run; the output is followed until it stops. */
static void
attach_end(struct logs *L)
{
    uv_timer_stop(&L->timer);
    for (size_t i = 0; i < BT_ARRAY_SIZE(L->sig); i++)
        uv_signal_stop(&L->sig[i]);
}

static void
on_attach_signal(uv_signal_t *h, int signum)
{
    struct logs *L = h->data;
    if (L->attach && L->attach->no_sig_proxy) {
        L->attach->interrupted = true;
        attach_end(L);
        return;
    }
    struct bt_err *err = NULL;
    if (engine_container_kill(L->attached_id, signum, &err) < 0)
        bt_err_free(err); /* it has stopped already: nothing to forward to */
}

static void
on_attach_tick(uv_timer_t *t)
{
    struct logs *L = t->data;
    on_tick(t);
    if (!uv_is_active((uv_handle_t *)t) ||
        (L->attach && L->attach->stop && L->attach->stop(L->attach->stop_data)))
        attach_end(L);
}

int
cli_logs_attach(const char *id, const char *name, struct bt_err **err)
{
    struct cli_logs_attach_opts o = {0};
    return cli_logs_attach_opts(id, name, &o, err);
}

int
cli_logs_attach_opts(const char *id, const char *name, struct cli_logs_attach_opts *o,
                     struct bt_err **err)
{
    struct logs L = {.prefix = false, .tail = o->new_only ? 0 : -1, .raw = true, .attach = o};
    struct compose_container c = {
        .id = (char *)id, .name = (char *)name, .service = "", .oneoff = true, .state = "running"};
    src_add(&L, &c);
    /* not re-listed: only this container is followed */
    L.project = NULL;
    struct log_entry *entries = NULL;
    size_t n = 0;
    src_read_all(&L, 0, true, &entries, &n);
    entries_print(&L, entries, n);
    entries_free(entries, n);
    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r < 0) {
        logs_done(&L);
        return bt_err_set(err, -r, "event loop: %s", uv_strerror(r));
    }
    uv_timer_init(&loop, &L.timer);
    L.timer.data = &L;
    L.attached_id = id;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < BT_ARRAY_SIZE(L.sig); i++) {
        uv_signal_init(&loop, &L.sig[i]);
        L.sig[i].data = &L;
        uv_signal_start(&L.sig[i], on_attach_signal, sigs[i]);
    }
    uv_timer_start(&L.timer, on_attach_tick, 0, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&L.timer, NULL);
    for (size_t i = 0; i < BT_ARRAY_SIZE(L.sig); i++)
        uv_close((uv_handle_t *)&L.sig[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    r = uv_loop_close(&loop);
    logs_done(&L);
    return r < 0 ? bt_err_set(err, EBUSY, "event loop: %s", uv_strerror(r)) : 0;
}

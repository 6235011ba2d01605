/* berth stats: a live table of the resource usage of a project's
 * containers, as `docker compose stats` prints it.
 *
 * Each container's cgroup is sampled once a second. CPU % is Docker's
 * formula: the growth of the cgroup's CPU time over the growth of the
 * host's CPU time (the wall time elapsed times the online CPUs), times the
 * online CPUs. Memory is the usage without the inactive file cache, its
 * limit the cgroup's or the host's RAM; NET I/O what went through the
 * container's own interfaces; BLOCK I/O what its cgroup read and wrote. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/size.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/engine.h"

/* Docker's default table. */
static const char default_template[] =
    "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
    "\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/* One container followed across samples. */
struct sample {
    char *id;
    char *name;
    bool running;
    bool have_prev;
    uint64_t prev_cpu_ns;
    uint64_t prev_at_ns; /* CLOCK_MONOTONIC */
    bool seen;           /* in the latest listing */
    struct engine_cgroup_stats st;
    double cpu_percent;
};

struct stats {
    char *project;
    char **services;
    bool all, no_stream, no_trunc, json, table, tty;
    char *tmpl; /* the row template, escapes resolved; NULL with json */
    struct sample *s;
    size_t n;
    unsigned ticks;
    int rc;
    uv_timer_t timer;
    uv_signal_t sigint, sigterm;
};

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Docker's units.BytesSize: binary units, four significant digits. */
static char *
bytes_size(double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (v >= 1024 && u + 1 < BT_ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    return xasprintf("%.4g%s", v, units[u]);
}

static char *
size_pair(uint64_t a, uint64_t b)
{
    _cleanup_free_ char *x = bt_size_human((int64_t)a);
    _cleanup_free_ char *y = bt_size_human((int64_t)b);
    return xasprintf("%s / %s", x, y);
}

static uint64_t
host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static unsigned
online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* The row's fields under the names Docker's templates use. New reference. */
static json_t *
row_json(const struct stats *S, const struct sample *s)
{
    uint64_t used = s->st.memory_usage;
    /* the cache the kernel can drop at once is not counted, as Docker */
    if (s->st.memory_inactive_file < used)
        used -= s->st.memory_inactive_file;
    uint64_t limit = 0;
    if (s->running) {
        uint64_t host = host_memory();
        limit = s->st.memory_limit > 0 ? (uint64_t)s->st.memory_limit : host;
        if (host && limit > host)
            limit = host;
    }
    double mem_percent = limit ? (double)used * 100.0 / (double)limit : 0.0;
    _cleanup_free_ char *u = bytes_size((double)used);
    _cleanup_free_ char *l = bytes_size((double)limit);
    _cleanup_free_ char *mem = xasprintf("%s / %s", u, l);
    _cleanup_free_ char *cpu = xasprintf("%.2f%%", s->cpu_percent);
    _cleanup_free_ char *memp = xasprintf("%.2f%%", mem_percent);
    _cleanup_free_ char *net = size_pair(s->st.net_rx, s->st.net_tx);
    _cleanup_free_ char *blk = size_pair(s->st.blkio_read, s->st.blkio_write);
    _cleanup_free_ char *pids = xasprintf("%llu", (unsigned long long)s->st.pids_current);
    _cleanup_free_ char *id = S->no_trunc ? xstrdup(s->id) : xstrndup(s->id, 12);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "BlockIO", blk, "CPUPerc", cpu,
                     "Container", s->id, "ID", id, "MemPerc", memp, "MemUsage", mem, "Name",
                     s->name, "NetIO", net, "PIDs", pids);
}

/* Docker's column titles for the table header. New reference. */
static json_t *
header_json(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "BlockIO", "BLOCK I/O", "CPUPerc",
                     "CPU %", "Container", "CONTAINER", "ID", "CONTAINER ID", "MemPerc", "MEM %",
                     "MemUsage", "MEM USAGE / LIMIT", "Name", "NAME", "NetIO", "NET I/O", "PIDs",
                     "PIDS");
}

/* Lays out tab-separated lines as Docker's tabwriter does (minimum width
 * 10, padding 3); the last cell of a line is not padded. */
static void
tab_print(struct bt_buf *out, char **lines)
{
    size_t widths[32] = {0};
    bt_strv_foreach (line, lines) {
        _cleanup_strv_ char **cells = bt_strv_split(line, "\t");
        for (size_t k = 0; cells && cells[k] && cells[k + 1] && k < BT_ARRAY_SIZE(widths); k++) {
            size_t w = strlen(cells[k]) + 3;
            if (w < 10)
                w = 10;
            if (w > widths[k])
                widths[k] = w;
        }
    }
    bt_strv_foreach (line, lines) {
        _cleanup_strv_ char **cells = bt_strv_split(line, "\t");
        for (size_t k = 0; cells && cells[k]; k++) {
            if (cells[k + 1] && k < BT_ARRAY_SIZE(widths))
                bt_buf_printf(out, "%-*s", (int)widths[k], cells[k]);
            else
                bt_buf_puts(out, cells[k]);
        }
        bt_buf_putc(out, '\n');
    }
}

static struct sample *
sample_find(struct stats *S, const char *id)
{
    for (size_t i = 0; i < S->n; i++)
        if (strcmp(S->s[i].id, id) == 0)
            return &S->s[i];
    return NULL;
}

/* Lists the project's containers again and samples each one. */
static int
stats_sample(struct stats *S, struct bt_err **err)
{
    struct compose_actual a;
    if (compose_actual_load(S->project, true, &a, err) < 0)
        return bt_err_ret(err);
    for (size_t i = 0; i < S->n; i++)
        S->s[i].seen = false;
    unsigned cpus = online_cpus();
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *c = &a.containers[i];
        if (!cli_container_selected(c, S->services, 0))
            continue;
        bool running = strcmp(c->state, "running") == 0 || strcmp(c->state, "paused") == 0;
        if (!running && !S->all)
            continue;
        struct sample *s = sample_find(S, c->id);
        if (!s) {
            S->s = xreallocarray(S->s, S->n + 1, sizeof(*S->s));
            s = &S->s[S->n++];
            *s = (struct sample){.id = xstrdup(c->id), .name = xstrdup(c->name)};
        }
        s->seen = true;
        s->running = false;
        s->cpu_percent = 0;
        s->st = (struct engine_cgroup_stats){0};
        if (running) {
            struct bt_err *e = NULL; /* stopped since it was listed: a row of zeros */
            s->running = engine_container_stats(c->id, &s->st, &e) == 0;
            bt_err_free(e);
        }
        if (!s->running) {
            s->have_prev = false;
            continue;
        }
        uint64_t now = mono_ns();
        if (s->have_prev && s->st.cpu_usage_ns > s->prev_cpu_ns && now > s->prev_at_ns) {
            double cpu_delta = (double)(s->st.cpu_usage_ns - s->prev_cpu_ns);
            double system_delta = (double)(now - s->prev_at_ns) * cpus;
            s->cpu_percent = cpu_delta / system_delta * cpus * 100.0;
        }
        s->have_prev = true;
        s->prev_cpu_ns = s->st.cpu_usage_ns;
        s->prev_at_ns = now;
    }
    compose_actual_done(&a);
    /* containers that went away leave the table */
    size_t w = 0;
    for (size_t i = 0; i < S->n; i++) {
        if (S->s[i].seen) {
            S->s[w++] = S->s[i];
        } else {
            free(S->s[i].id);
            free(S->s[i].name);
        }
    }
    S->n = w;
    return 0;
}

static int
stats_print(struct stats *S, struct bt_err **err)
{
    struct bt_buf out = {0};
    char **lines = NULL;
    int rc = 0;
    if (S->table) {
        _cleanup_json_ json_t *h = header_json();
        struct bt_buf b = {0};
        rc = cli_template_render(S->tmpl, h, &b, err);
        _cleanup_free_ char *line = bt_buf_steal(&b);
        bt_buf_done(&b);
        lines = bt_strv_push(lines, line);
    }
    for (size_t i = 0; rc == 0 && i < S->n; i++) {
        _cleanup_json_ json_t *r = row_json(S, &S->s[i]);
        if (S->json) {
            _cleanup_free_ char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
            lines = bt_strv_push(lines, s);
            continue;
        }
        struct bt_buf b = {0};
        rc = cli_template_render(S->tmpl, r, &b, err);
        _cleanup_free_ char *line = bt_buf_steal(&b);
        bt_buf_done(&b);
        lines = bt_strv_push(lines, line);
    }
    if (rc == 0) {
        /* a terminal shows one table in place, as docker stats does */
        if (S->tty && !S->no_stream)
            bt_buf_puts(&out, "\033[H\033[2J");
        if (S->table) {
            tab_print(&out, lines);
        } else {
            bt_strv_foreach (l, lines) {
                bt_buf_puts(&out, l);
                bt_buf_putc(&out, '\n');
            }
        }
        fwrite(out.data, 1, out.len, stdout);
        fflush(stdout);
    }
    bt_strv_free(lines);
    bt_buf_done(&out);
    return rc;
}

static void
stats_stop(struct stats *S)
{
    uv_timer_stop(&S->timer);
    uv_signal_stop(&S->sigint);
    uv_signal_stop(&S->sigterm);
}

static void
on_stats_tick(uv_timer_t *t)
{
    struct stats *S = t->data;
    struct bt_err *err = NULL;
    if (stats_sample(S, &err) < 0 || stats_print(S, &err) < 0) {
        S->rc = cli_fail(&err, "stats");
        stats_stop(S);
        return;
    }
    if (S->no_stream)
        stats_stop(S);
}

/* Ctrl-C ends the stream; that is how it is meant to end: exit 0. */
static void
on_stats_signal(uv_signal_t *h, int sig)
{
    (void)sig;
    stats_stop(h->data);
}

static void
stats_usage(FILE *out)
{
    fprintf(out, "Usage:  berth stats [OPTIONS] [SERVICE...]\n\n"
                 "Display a live stream of container(s) resource usage statistics.\n\n"
                 "Options:\n"
                 "  -a, --all             Show all containers (default shows just running)\n"
                 "      --format FORMAT   'table' (default), 'table TEMPLATE', 'json' or a\n"
                 "                        TEMPLATE: {{.ID}} {{.Name}} {{.Container}} {{.CPUPerc}}\n"
                 "                        {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}}\n"
                 "                        {{.PIDs}}\n"
                 "      --no-stream       Disable streaming stats and only pull the first result\n"
                 "      --no-trunc        Do not truncate output\n");
}

/* "\t" and "\n" typed in a template mean a tab and a newline, as with
 * Docker's --format. */
static char *
unescape_template(const char *s)
{
    struct bt_buf b = {0};
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 't') {
            bt_buf_putc(&b, '\t');
            s++;
        } else if (s[0] == '\\' && s[1] == 'n') {
            bt_buf_putc(&b, '\n');
            s++;
        } else {
            bt_buf_putc(&b, *s);
        }
    }
    char *r = bt_buf_steal(&b);
    bt_buf_done(&b);
    return r;
}

int
cli_cmd_compose_stats(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_FORMAT = 256, O_NO_STREAM, O_NO_TRUNC };
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"format", required_argument, NULL, O_FORMAT},
        {"no-stream", no_argument, NULL, O_NO_STREAM},
        {"no-trunc", no_argument, NULL, O_NO_TRUNC},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct stats S = {.table = true};
    const char *format = "table";
    int c;
    while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            S.all = true;
            break;
        case O_FORMAT:
            format = optarg;
            break;
        case O_NO_STREAM:
            S.no_stream = true;
            break;
        case O_NO_TRUNC:
            S.no_trunc = true;
            break;
        case 'h':
            stats_usage(stdout);
            return CLI_EXIT_OK;
        default:
            stats_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    /* the format is checked before anything is sampled */
    char *tmpl = NULL;
    if (strcmp(format, "json") == 0) {
        S.json = true;
        S.table = false;
    } else if (strcmp(format, "table") == 0 || format[0] == '\0') {
        tmpl = xstrdup(default_template);
    } else if (bt_str_startswith(format, "table ")) {
        tmpl = unescape_template(format + 6);
    } else {
        S.table = false;
        tmpl = unescape_template(format);
    }
    S.tmpl = tmpl;
    if (tmpl) {
        struct bt_buf b = {0};
        struct bt_err *err = NULL;
        _cleanup_json_ json_t *h = header_json();
        int r = cli_template_render(tmpl, h, &b, &err);
        if (r == 0 && b.data && strstr(b.data, "<no value>"))
            r = bt_err_set(&err, EINVAL, "a field it names is not one of stats' fields");
        bt_buf_done(&b);
        if (r < 0) {
            free(tmpl);
            int rc = cli_usage_error("stats", "invalid --format: %s", err->msg);
            bt_err_free(err);
            return rc;
        }
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    if (cli_compose_open(ctx, services, NULL, &S.project, &err) < 0) {
        free(tmpl);
        return cli_fail(&err, "stats");
    }
    S.services = services;
    S.tty = isatty(STDOUT_FILENO);

    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r < 0) {
        free(tmpl);
        free(S.project);
        fprintf(stderr, "berth: stats: event loop: %s\n", uv_strerror(r));
        return CLI_EXIT_FAILURE;
    }
    uv_timer_init(&loop, &S.timer);
    S.timer.data = &S;
    uv_signal_init(&loop, &S.sigint);
    uv_signal_init(&loop, &S.sigterm);
    S.sigint.data = S.sigterm.data = &S;
    uv_signal_start(&S.sigint, on_stats_signal, SIGINT);
    uv_signal_start(&S.sigterm, on_stats_signal, SIGTERM);
    /* a first sample now, the first table a second later: CPU % needs two */
    if (stats_sample(&S, &err) < 0) {
        S.rc = cli_fail(&err, "stats");
        stats_stop(&S);
    } else {
        uv_timer_start(&S.timer, on_stats_tick, 1000, 1000);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&S.timer, NULL);
    uv_close((uv_handle_t *)&S.sigint, NULL);
    uv_close((uv_handle_t *)&S.sigterm, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) < 0 && S.rc == 0)
        S.rc = CLI_EXIT_FAILURE;
    for (size_t i = 0; i < S.n; i++) {
        free(S.s[i].id);
        free(S.s[i].name);
    }
    free(S.s);
    free(tmpl);
    free(S.project);
    return S.rc;
}

/* The compose commands that change a project: up, down, create, start,
 * stop, restart, kill, rm, pause, unpause, wait. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"

static void
on_event(void *data, const char *kind, const char *name, enum compose_event_status st,
         const char *text)
{
    struct cli_progress *p = data;
    if (st == COMPOSE_EVENT_WARNING && strcmp(kind, "Project") == 0) {
        cli_progress_message(p, "WARN[0000] %s", text);
        return;
    }
    cli_progress_event(p, kind, name, (enum cli_progress_status)st, text);
}

static bool
parse_timeout(const char *s, int *out)
{
    int64_t v;
    if (!bt_parse_int64(s, &v) || v < -1 || v > 86400 * 365)
        return false;
    *out = (int)v;
    return true;
}

/* ---- attached up: follow the containers' logs ---- */

struct follow_src {
    char *id, *name, *service, *label;
    FILE *f;
    const char *color;
    bool exited, reported;
    int code;
};

struct follower {
    uv_loop_t loop;
    uv_timer_t timer;
    uv_signal_t sigint, sigterm;
    uv_work_t stop_req;
    struct follow_src *srcs;
    size_t n;
    size_t width;
    bool color, prefix, timestamps;
    bool abort_on_exit, abort_on_failure;
    const char *exit_code_from;
    int exit_code;
    int interrupts;
    bool stopping, stop_done;
    char *project;
    int timeout;
    struct cli_progress *progress;
    struct bt_err *stop_err;
};

static const char *const palette[] = {"\033[36m", "\033[33m", "\033[32m", "\033[35m", "\033[34m",
                                      "\033[96m", "\033[93m", "\033[92m", "\033[95m", "\033[94m"};

static void
print_line(struct follower *F, struct follow_src *s, const char *line)
{
    json_error_t je;
    _cleanup_json_ json_t *j = json_loads(line, 0, &je);
    if (!j)
        return;
    const char *log = bt_json_str(j, "log");
    if (!log)
        return;
    size_t l = strlen(log);
    while (l && (log[l - 1] == '\n' || log[l - 1] == '\r'))
        l--;
    if (F->prefix) {
        if (F->color)
            printf("%s%-*s |\033[0m ", s->color, (int)F->width, s->label);
        else
            printf("%-*s | ", (int)F->width, s->label);
    }
    if (F->timestamps)
        printf("%s ", bt_json_str(j, "time") ? bt_json_str(j, "time") : "");
    printf("%.*s\n", (int)l, log);
}

/* Lines read in one tick, printed in the order they were written (the
 * monitors' timestamps are fixed-width RFC 3339, so they sort as text). */
struct pending {
    char *time;
    char *line;
    size_t src;
    size_t seq;
};

struct batch {
    struct pending *v;
    size_t n;
};

static void
src_poll(struct follower *F, size_t idx, struct batch *bt)
{
    struct follow_src *s = &F->srcs[idx];
    if (!s->f) {
        _cleanup_free_ char *path = engine_container_log_path(s->id);
        s->f = fopen(path, "re");
        if (!s->f)
            return;
    }
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    for (;;) {
        long pos = ftell(s->f);
        ssize_t n = getline(&line, &cap, s->f);
        if (n <= 0) {
            clearerr(s->f);
            break;
        }
        if (line[n - 1] != '\n') {
            /* a line still being written: read it whole next time */
            fseek(s->f, pos, SEEK_SET);
            clearerr(s->f);
            break;
        }
        json_error_t je;
        _cleanup_json_ json_t *j = json_loads(line, 0, &je);
        const char *t = j ? bt_json_str(j, "time") : NULL;
        bt->v = xreallocarray(bt->v, bt->n + 1, sizeof(*bt->v));
        bt->v[bt->n] = (struct pending){
            .time = xstrdup(t ? t : ""), .line = xstrdup(line), .src = idx, .seq = bt->n};
        bt->n++;
    }
}

static int
pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    int c = strcmp(x->time, y->time);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
batch_flush(struct follower *F, struct batch *bt)
{
    if (bt->n > 1)
        qsort(bt->v, bt->n, sizeof(*bt->v), pending_cmp);
    for (size_t i = 0; i < bt->n; i++) {
        print_line(F, &F->srcs[bt->v[i].src], bt->v[i].line);
        free(bt->v[i].time);
        free(bt->v[i].line);
    }
    free(bt->v);
    bt->v = NULL;
    bt->n = 0;
    fflush(stdout);
}

static void
on_stop_work(uv_work_t *req)
{
    struct follower *F = req->data;
    struct compose_op_opts o = {
        .timeout = F->timeout, .event = on_event, .event_data = F->progress};
    compose_project_op(F->project, COMPOSE_OP_STOP, &o, &F->stop_err);
}

static void
on_stop_done(uv_work_t *req, int status)
{
    struct follower *F = req->data;
    F->stop_done = true;
}

static void
begin_stop(struct follower *F)
{
    if (F->stopping)
        return;
    F->stopping = true;
    F->stop_req.data = F;
    if (uv_queue_work(&F->loop, &F->stop_req, on_stop_work, on_stop_done) < 0)
        F->stop_done = true;
}

static void
on_signal(uv_signal_t *h, int sig)
{
    struct follower *F = h->data;
    F->interrupts++;
    if (F->interrupts == 1) {
        fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
        begin_stop(F);
    } else if (F->interrupts == 2) {
        struct compose_op_opts o = {
            .signal = "SIGKILL", .event = on_event, .event_data = F->progress};
        struct bt_err *err = NULL;
        if (compose_project_op(F->project, COMPOSE_OP_KILL, &o, &err) < 0)
            cli_fail(&err, "kill");
    }
}

static void
on_follow_tick(uv_timer_t *t)
{
    struct follower *F = t->data;
    bool all_exited = true;
    struct batch bt = {0};
    for (size_t i = 0; i < F->n; i++)
        src_poll(F, i, &bt);
    batch_flush(F, &bt);
    for (size_t i = 0; i < F->n; i++) {
        struct follow_src *s = &F->srcs[i];
        if (!s->exited) {
            _cleanup_json_ json_t *st = engine_container_state(s->id, NULL);
            const char *status = st ? bt_json_str(st, "Status") : "exited";
            if (status &&
                (strcmp(status, "exited") == 0 || strcmp(status, "dead") == 0 ||
                 strcmp(status, "created") == 0) &&
                !json_is_true(json_object_get(st, "Restarting"))) {
                src_poll(F, i, &bt); /* what it wrote last */
                batch_flush(F, &bt);
                s->exited = true;
                s->code = st ? (int)json_integer_value(json_object_get(st, "ExitCode")) : 0;
            }
        }
        if (s->exited && !s->reported) {
            s->reported = true;
            printf("%s exited with code %d\n", s->name, s->code);
            fflush(stdout);
            if (F->exit_code_from && strcmp(F->exit_code_from, s->service) == 0)
                F->exit_code = s->code;
            if ((F->abort_on_exit || (F->abort_on_failure && s->code != 0)) && !F->stopping) {
                if (!F->exit_code_from)
                    F->exit_code = s->code;
                fprintf(stderr, "Aborting on container exit...\n");
                begin_stop(F);
            }
        }
        if (!s->exited)
            all_exited = false;
    }
    if ((all_exited && !F->stopping) || (F->stopping && F->stop_done)) {
        for (size_t i = 0; i < F->n; i++)
            src_poll(F, i, &bt);
        batch_flush(F, &bt);
        uv_timer_stop(&F->timer);
        uv_close((uv_handle_t *)&F->sigint, NULL);
        uv_close((uv_handle_t *)&F->sigterm, NULL);
    }
}

static int
follow_project(struct follower *F, char *const *attach, char *const *no_attach)
{
    struct bt_err *err = NULL;
    struct compose_actual a;
    if (compose_actual_load(F->project, false, &a, &err) < 0)
        return cli_fail(&err, "up");
    char **services = NULL;
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *c = &a.containers[i];
        if (attach && attach[0] && !bt_strv_contains(attach, c->service))
            continue;
        if (no_attach && bt_strv_contains(no_attach, c->service))
            continue;
        if (!bt_strv_contains(services, c->service))
            services = bt_strv_push(services, c->service);
        F->srcs = xreallocarray(F->srcs, F->n + 1, sizeof(*F->srcs));
        struct follow_src *s = &F->srcs[F->n++];
        memset(s, 0, sizeof(*s));
        s->id = xstrdup(c->id);
        s->name = xstrdup(c->name);
        s->service = xstrdup(c->service);
        s->label = xasprintf("%s-%d", c->service, c->number);
        size_t k = 0;
        while (services[k] && strcmp(services[k], c->service) != 0)
            k++;
        s->color = palette[k % BT_ARRAY_SIZE(palette)];
        if (strlen(s->label) > F->width)
            F->width = strlen(s->label);
    }
    bt_strv_free(services);
    compose_actual_done(&a);
    if (F->n)
        printf("Attaching to %s", "");
    for (size_t i = 0; i < F->n; i++)
        printf("%s%s", i ? ", " : "", F->srcs[i].name);
    if (F->n)
        printf("\n");
    fflush(stdout);

    int rc = uv_loop_init(&F->loop);
    if (rc < 0) {
        fprintf(stderr, "berth: up: event loop: %s\n", uv_strerror(rc));
        return CLI_EXIT_FAILURE;
    }
    uv_timer_init(&F->loop, &F->timer);
    F->timer.data = F;
    uv_signal_init(&F->loop, &F->sigint);
    uv_signal_init(&F->loop, &F->sigterm);
    F->sigint.data = F->sigterm.data = F;
    uv_signal_start(&F->sigint, on_signal, SIGINT);
    uv_signal_start(&F->sigterm, on_signal, SIGTERM);
    uv_timer_start(&F->timer, on_follow_tick, 0, 100);
    uv_run(&F->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&F->timer, NULL);
    uv_run(&F->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&F->loop) < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    for (size_t i = 0; i < F->n; i++) {
        struct follow_src *s = &F->srcs[i];
        if (s->f)
            fclose(s->f);
        free(s->id);
        free(s->name);
        free(s->service);
        free(s->label);
    }
    free(F->srcs);
    if (F->stop_err)
        return cli_fail(&F->stop_err, "up: stop");
    if (F->interrupts)
        return 130;
    return rc;
}

/* ---- up / create ---- */

/* Ctrl-C while up is still creating and starting: nothing more is
 * started, the work in flight finishes, so nothing is left half-made. */
static volatile int up_interrupted;

static void
on_up_signal(int sig)
{
    up_interrupted = 1;
}

static void
up_usage(FILE *out, bool create)
{
    if (create) {
        fprintf(out, "Usage:  berth create [OPTIONS] [SERVICE...]\n\n"
                     "Creates containers for a service.\n\n"
                     "Options:\n"
                     "      --force-recreate     Recreate containers even if unchanged\n"
                     "      --no-recreate        Do not recreate existing containers\n"
                     "      --remove-orphans     Remove containers of services not in the file\n"
                     "      --pull POLICY        always|missing|never\n"
                     "      --scale SERVICE=N    Scale SERVICE to N containers\n");
        return;
    }
    fprintf(out,
            "Usage:  berth up [OPTIONS] [SERVICE...]\n\n"
            "Create and start containers.\n\n"
            "Options:\n"
            "      --abort-on-container-exit     Stop all containers if any container stops\n"
            "      --abort-on-container-failure  Stop all containers if any container fails\n"
            "      --attach SERVICE              Restrict attaching to these services\n"
            "  -d, --detach                      Run containers in the background\n"
            "      --exit-code-from SERVICE      Return the exit code of SERVICE's container\n"
            "      --force-recreate              Recreate containers even if unchanged\n"
            "      --no-attach SERVICE           Do not attach to SERVICE\n"
            "      --no-deps                     Do not start linked services\n"
            "      --no-log-prefix               Do not prefix log lines\n"
            "      --no-recreate                 Do not recreate existing containers\n"
            "      --no-start                    Do not start the services after creating\n"
            "      --pull POLICY                 always|missing|never\n"
            "      --quiet-pull                  Pull without printing progress\n"
            "      --remove-orphans              Remove containers of services not in the file\n"
            "  -V, --renew-anon-volumes          Recreate anonymous volumes\n"
            "      --scale SERVICE=N             Scale SERVICE to N containers\n"
            "  -t, --timeout SECONDS             Shutdown timeout\n"
            "      --timestamps                  Show timestamps\n"
            "      --wait                        Wait for services to be running|healthy\n"
            "      --wait-timeout SECONDS        Maximum duration to wait\n");
}

static int
cmd_up(struct cli_ctx *ctx, int argc, char **argv, bool create)
{
    enum {
        O_ABORT_EXIT = 256,
        O_ABORT_FAIL,
        O_ATTACH,
        O_EXIT_FROM,
        O_FORCE,
        O_NO_ATTACH,
        O_NO_DEPS,
        O_NO_PREFIX,
        O_NO_RECREATE,
        O_NO_START,
        O_PULL,
        O_QUIET_PULL,
        O_REMOVE_ORPHANS,
        O_SCALE,
        O_TIMESTAMPS,
        O_WAIT,
        O_WAIT_TIMEOUT,
        O_NO_BUILD,
        O_BUILD,
        O_NO_COLOR,
    };
    static const struct option opts[] = {
        {"abort-on-container-exit", no_argument, NULL, O_ABORT_EXIT},
        {"abort-on-container-failure", no_argument, NULL, O_ABORT_FAIL},
        {"attach", required_argument, NULL, O_ATTACH},
        {"detach", no_argument, NULL, 'd'},
        {"exit-code-from", required_argument, NULL, O_EXIT_FROM},
        {"force-recreate", no_argument, NULL, O_FORCE},
        {"no-attach", required_argument, NULL, O_NO_ATTACH},
        {"no-deps", no_argument, NULL, O_NO_DEPS},
        {"no-log-prefix", no_argument, NULL, O_NO_PREFIX},
        {"no-recreate", no_argument, NULL, O_NO_RECREATE},
        {"no-start", no_argument, NULL, O_NO_START},
        {"pull", required_argument, NULL, O_PULL},
        {"quiet-pull", no_argument, NULL, O_QUIET_PULL},
        {"remove-orphans", no_argument, NULL, O_REMOVE_ORPHANS},
        {"renew-anon-volumes", no_argument, NULL, 'V'},
        {"scale", required_argument, NULL, O_SCALE},
        {"timeout", required_argument, NULL, 't'},
        {"timestamps", no_argument, NULL, O_TIMESTAMPS},
        {"wait", no_argument, NULL, O_WAIT},
        {"wait-timeout", required_argument, NULL, O_WAIT_TIMEOUT},
        {"no-build", no_argument, NULL, O_NO_BUILD},
        {"build", no_argument, NULL, O_BUILD},
        {"no-color", no_argument, NULL, O_NO_COLOR},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *cmd = create ? "create" : "up";
    struct compose_up_opts o = {.timeout = -1};
    struct compose_kvs scale = {0};
    _cleanup_strv_ char **attach = NULL, **no_attach = NULL;
    bool detach = create, abort_exit = false, abort_fail = false, prefix = true;
    bool timestamps = false, color = ctx->color;
    const char *exit_from = NULL;
    int c;
    int64_t v;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (c = getopt_long(argc, argv, "+dVt:h", opts, NULL)) != -1) {
        switch (c) {
        case O_ABORT_EXIT:
            abort_exit = true;
            break;
        case O_ABORT_FAIL:
            abort_fail = true;
            break;
        case O_ATTACH:
            attach = bt_strv_push(attach, optarg);
            break;
        case 'd':
            detach = true;
            break;
        case O_EXIT_FROM:
            exit_from = optarg;
            abort_exit = true;
            break;
        case O_FORCE:
            o.force_recreate = true;
            break;
        case O_NO_ATTACH:
            no_attach = bt_strv_push(no_attach, optarg);
            break;
        case O_NO_DEPS:
            o.no_deps = true;
            break;
        case O_NO_PREFIX:
            prefix = false;
            break;
        case O_NO_RECREATE:
            o.no_recreate = true;
            break;
        case O_NO_START:
            o.no_start = true;
            break;
        case O_PULL:
            if (strcmp(optarg, "always") && strcmp(optarg, "missing") && strcmp(optarg, "never"))
                rc = cli_usage_error(cmd, "--pull takes always, missing or never");
            o.pull = optarg;
            break;
        case O_QUIET_PULL:
            o.quiet_pull = true;
            break;
        case O_REMOVE_ORPHANS:
            o.remove_orphans = true;
            break;
        case 'V':
            o.renew_anon_volumes = true;
            break;
        case O_SCALE: {
            char *eq = strchr(optarg, '=');
            if (!eq || !bt_parse_int64(eq + 1, &v) || v < 0 || v > 10000) {
                rc = cli_usage_error(cmd, "--scale takes SERVICE=N, not '%s'", optarg);
                break;
            }
            _cleanup_free_ char *svc = xstrndup(optarg, (size_t)(eq - optarg));
            compose_kvs_set(&scale, svc, eq + 1);
            break;
        }
        case 't':
            if (!parse_timeout(optarg, &o.timeout))
                rc = cli_usage_error(cmd, "invalid --timeout '%s'", optarg);
            break;
        case O_TIMESTAMPS:
            timestamps = true;
            break;
        case O_WAIT:
            o.wait = true;
            detach = true;
            break;
        case O_WAIT_TIMEOUT:
            if (!bt_parse_int64(optarg, &v) || v < 0)
                rc = cli_usage_error(cmd, "invalid --wait-timeout '%s'", optarg);
            o.wait_timeout_ms = v * 1000;
            break;
        case O_NO_BUILD:
            o.no_build = true;
            break;
        case O_BUILD:
            o.build = true;
            break;
        case O_NO_COLOR:
            color = false;
            break;
        case 'h':
            up_usage(stdout, create);
            compose_kvs_done(&scale);
            return CLI_EXIT_OK;
        default:
            rc = CLI_EXIT_USAGE;
            up_usage(stderr, create);
        }
    }
    if (rc == CLI_EXIT_OK && detach && !create && (abort_exit || abort_fail || attach || no_attach))
        rc = cli_usage_error(cmd, "--detach cannot be combined with --abort-on-container-exit, "
                                  "--exit-code-from or --attach");
    if (rc == CLI_EXIT_OK && o.build && o.no_build)
        rc = cli_usage_error(cmd, "--build and --no-build are incompatible");
    if (rc == CLI_EXIT_OK && o.force_recreate && o.no_recreate)
        rc = cli_usage_error(cmd, "--force-recreate and --no-recreate are incompatible");
    if (rc != CLI_EXIT_OK) {
        compose_kvs_done(&scale);
        return rc;
    }
    if (create)
        o.no_start = true;
    char **services = argv + optind;
    struct bt_err *err = NULL;
    struct compose_project *p = NULL;
    _cleanup_free_ char *name = NULL;
    if (cli_compose_open(ctx, services, &p, &name, &err) < 0) {
        compose_kvs_done(&scale);
        return cli_fail(&err, cmd);
    }
    if (!p) {
        compose_kvs_done(&scale);
        fprintf(stderr, "berth: %s: no compose file found\n", cmd);
        return CLI_EXIT_FAILURE;
    }
    if (exit_from && !compose_project_service(p, exit_from)) {
        compose_project_free(p);
        compose_kvs_done(&scale);
        return cli_usage_error(cmd, "--exit-code-from: no such service: %s", exit_from);
    }
    _cleanup_progress_ struct cli_progress *progress = cli_progress_new_default(ctx->ansi);
    o.services = services[0] ? services : NULL;
    o.scale = scale.n ? &scale : NULL;
    o.event = on_event;
    o.layer_event = cli_progress_layer;
    o.event_data = progress;
    struct sigaction sa = {.sa_handler = on_up_signal, .sa_flags = SA_RESTART}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    up_interrupted = 0;
    o.cancel = &up_interrupted;
    int r = compose_project_up(p, &o, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cli_progress_flush(progress);
    if (up_interrupted) {
        err = bt_err_free(err);
        compose_kvs_done(&scale);
        compose_project_free(p);
        if (!detach) {
            fprintf(stderr, "Interrupted; stopping what was started...\n");
            struct compose_op_opts so = {
                .timeout = o.timeout, .event = on_event, .event_data = progress};
            if (compose_project_op(name, COMPOSE_OP_STOP, &so, &err) < 0)
                cli_fail(&err, cmd);
        } else {
            fprintf(stderr, "Interrupted\n");
        }
        return 130;
    }
    compose_kvs_done(&scale);
    compose_project_free(p);
    if (r < 0)
        return cli_fail(&err, cmd);
    if (detach || o.no_start)
        return CLI_EXIT_OK;
    struct follower F = {.color = color,
                         .prefix = prefix,
                         .timestamps = timestamps,
                         .abort_on_exit = abort_exit,
                         .abort_on_failure = abort_fail,
                         .exit_code_from = exit_from,
                         .project = name,
                         .timeout = o.timeout,
                         .progress = progress};
    /* as Compose: `up SERVICE...` attaches to the services named, not to
     * the dependencies started for them */
    if (!attach && services[0])
        attach = bt_strv_copy(services);
    rc = follow_project(&F, attach, no_attach);
    if (rc == CLI_EXIT_OK && (abort_exit || abort_fail))
        return F.exit_code;
    return rc;
}

/* ---- down ---- */

static int
cmd_down(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_REMOVE_ORPHANS = 256, O_RMI };
    static const struct option opts[] = {
        {"remove-orphans", no_argument, NULL, O_REMOVE_ORPHANS},
        {"rmi", required_argument, NULL, O_RMI},
        {"timeout", required_argument, NULL, 't'},
        {"volumes", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct compose_down_opts o = {.timeout = -1};
    int c;
    while ((c = getopt_long(argc, argv, "+t:vh", opts, NULL)) != -1) {
        switch (c) {
        case O_REMOVE_ORPHANS:
            o.remove_orphans = true;
            break;
        case O_RMI:
            if (strcmp(optarg, "local") && strcmp(optarg, "all"))
                return cli_usage_error("down", "--rmi takes local or all");
            o.rmi = optarg;
            break;
        case 't':
            if (!parse_timeout(optarg, &o.timeout))
                return cli_usage_error("down", "invalid --timeout '%s'", optarg);
            break;
        case 'v':
            o.volumes = true;
            break;
        case 'h':
            printf("Usage:  berth down [OPTIONS]\n\n"
                   "Stop and remove containers, networks.\n\n"
                   "Options:\n"
                   "      --remove-orphans    Remove containers of services not in the file\n"
                   "      --rmi TYPE          Remove images used by services: local|all\n"
                   "  -t, --timeout SECONDS   Shutdown timeout\n"
                   "  -v, --volumes           Remove named volumes of the project and\n"
                   "                          anonymous volumes of its containers\n");
            return CLI_EXIT_OK;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("down", "takes no service names");
    struct bt_err *err = NULL;
    struct compose_project *p = NULL;
    _cleanup_free_ char *name = NULL;
    if (cli_compose_open(ctx, NULL, &p, &name, &err) < 0)
        return cli_fail(&err, "down");
    _cleanup_progress_ struct cli_progress *progress = cli_progress_new_default(ctx->ansi);
    o.event = on_event;
    o.event_data = progress;
    int r = compose_project_down(name, p, &o, &err);
    compose_project_free(p);
    if (r < 0)
        return cli_fail(&err, "down");
    return CLI_EXIT_OK;
}

/* ---- start, stop, restart, kill, rm, pause, unpause ---- */

static int
cmd_op(struct cli_ctx *ctx, int argc, char **argv, enum compose_op op)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"signal", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},
        {"stop", no_argument, NULL, 'S'},
        {"volumes", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *cmd = argv[0];
    struct compose_op_opts o = {.timeout = -1, .stopped_only = true};
    bool stop_first = false;
    const char *shortopts = op == COMPOSE_OP_KILL                               ? "+s:h"
                            : op == COMPOSE_OP_REMOVE                           ? "+fsvh"
                            : op == COMPOSE_OP_STOP || op == COMPOSE_OP_RESTART ? "+t:h"
                                                                                : "+h";
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (op != COMPOSE_OP_STOP && op != COMPOSE_OP_RESTART)
                return cli_usage_error(cmd, "unknown option --timeout");
            if (!parse_timeout(optarg, &o.timeout))
                return cli_usage_error(cmd, "invalid --timeout '%s'", optarg);
            break;
        case 's':
            if (op == COMPOSE_OP_REMOVE)
                stop_first = true;
            else if (op == COMPOSE_OP_KILL)
                o.signal = optarg;
            else
                return cli_usage_error(cmd, "unknown option -s");
            break;
        case 'S':
            if (op != COMPOSE_OP_REMOVE)
                return cli_usage_error(cmd, "unknown option --stop");
            stop_first = true;
            break;
        case 'f':
            if (op != COMPOSE_OP_REMOVE)
                return cli_usage_error(cmd, "unknown option --force");
            o.force = true;
            break;
        case 'v':
            if (op != COMPOSE_OP_REMOVE)
                return cli_usage_error(cmd, "unknown option --volumes");
            o.volumes = true;
            break;
        case 'h':
            printf("Usage:  berth %s [OPTIONS] [SERVICE...]\n\n", cmd);
            if (op == COMPOSE_OP_KILL)
                printf("  -s, --signal SIGNAL     Signal to send (default SIGKILL)\n");
            if (op == COMPOSE_OP_STOP || op == COMPOSE_OP_RESTART)
                printf("  -t, --timeout SECONDS   Shutdown timeout\n");
            if (op == COMPOSE_OP_REMOVE)
                printf("  -f, --force    Don't ask to confirm removal\n"
                       "  -s, --stop     Stop the containers, if required, before removing\n"
                       "  -v, --volumes  Remove anonymous volumes attached to containers\n");
            return CLI_EXIT_OK;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    _cleanup_free_ char *name = NULL;
    if (cli_compose_open(ctx, services, NULL, &name, &err) < 0)
        return cli_fail(&err, cmd);
    _cleanup_progress_ struct cli_progress *progress = cli_progress_new_default(ctx->ansi);
    o.services = services[0] ? services : NULL;
    o.event = on_event;
    o.event_data = progress;
    if (op == COMPOSE_OP_REMOVE && stop_first) {
        struct compose_op_opts so = o;
        if (compose_project_op(name, COMPOSE_OP_STOP, &so, &err) < 0)
            return cli_fail(&err, cmd);
    }
    if (op == COMPOSE_OP_REMOVE && !stop_first) {
        /* rm touches only stopped containers (-s stops them first) */
        struct compose_actual a;
        if (compose_actual_load(name, true, &a, &err) < 0)
            return cli_fail(&err, cmd);
        size_t n = 0;
        for (size_t i = 0; i < a.n_containers; i++)
            if (cli_container_selected(&a.containers[i], services, 0) &&
                strcmp(a.containers[i].state, "running") != 0 &&
                strcmp(a.containers[i].state, "paused") != 0)
                n++;
        compose_actual_done(&a);
        if (!n) {
            fprintf(stderr, "No stopped containers\n");
            return CLI_EXIT_OK;
        }
    }
    if (compose_project_op(name, op, &o, &err) < 0)
        return cli_fail(&err, cmd);
    return CLI_EXIT_OK;
}

int
cli_cmd_compose_up(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_up(ctx, argc, argv, false);
}

int
cli_cmd_compose_create(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_up(ctx, argc, argv, true);
}

int
cli_cmd_compose_down(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_down(ctx, argc, argv);
}

int
cli_cmd_compose_start(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_START);
}

int
cli_cmd_compose_stop(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_STOP);
}

int
cli_cmd_compose_restart(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_RESTART);
}

int
cli_cmd_compose_kill(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_KILL);
}

int
cli_cmd_compose_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_REMOVE);
}

int
cli_cmd_compose_pause(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_PAUSE);
}

int
cli_cmd_compose_unpause(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_op(ctx, argc, argv, COMPOSE_OP_UNPAUSE);
}

/* ---- wait ---- */

int
cli_cmd_compose_wait(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"down-project", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool down = false;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            down = true;
            break;
        case 'h':
            printf("Usage:  berth wait SERVICE [SERVICE...]\n\n"
                   "Block until the containers of the services stop; print their exit codes.\n\n"
                   "      --down-project  Drop the project once the first container stops\n");
            return CLI_EXIT_OK;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    char **services = argv + optind;
    if (!services[0])
        return cli_usage_error("wait", "requires at least one service");
    struct bt_err *err = NULL;
    _cleanup_free_ char *name = NULL;
    struct compose_project *p = NULL;
    if (cli_compose_open(ctx, services, &p, &name, &err) < 0)
        return cli_fail(&err, "wait");
    struct compose_actual a;
    if (compose_actual_load(name, false, &a, &err) < 0) {
        compose_project_free(p);
        return cli_fail(&err, "wait");
    }
    int last = 0;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < a.n_containers && rc == CLI_EXIT_OK; i++) {
        if (!cli_container_selected(&a.containers[i], services, 0))
            continue;
        int code = engine_container_wait(a.containers[i].id, &err);
        if (code < 0) {
            rc = cli_fail(&err, "wait");
            break;
        }
        printf("%d\n", code);
        fflush(stdout);
        last = code;
        if (down)
            break;
    }
    compose_actual_done(&a);
    if (rc == CLI_EXIT_OK && down) {
        _cleanup_progress_ struct cli_progress *progress = cli_progress_new_default(ctx->ansi);
        struct compose_down_opts o = {.timeout = -1, .event = on_event, .event_data = progress};
        if (compose_project_down(name, p, &o, &err) < 0)
            rc = cli_fail(&err, "wait");
    }
    compose_project_free(p);
    return rc == CLI_EXIT_OK ? last : rc;
}

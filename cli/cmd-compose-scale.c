/* berth scale SERVICE=N...: `up -d --no-recreate --scale` on the services
 * named (and, unless --no-deps, what they depend on), as `docker compose
 * scale` does it. Scaling down removes the highest-numbered containers. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"

static void
on_scale_event(void *data, const char *kind, const char *name, enum compose_event_status st,
               const char *text)
{
    cli_progress_event(data, kind, name, (enum cli_progress_status)st, text);
}

static volatile int scale_interrupted;

static void
on_scale_signal(int sig)
{
    scale_interrupted = 1;
}

static void
scale_usage(FILE *out)
{
    fprintf(out, "Usage:  berth scale [OPTIONS] SERVICE=REPLICAS...\n\n"
                 "Scale services.\n\n"
                 "Options:\n"
                 "      --no-deps   Don't start linked services\n");
}

int
cli_cmd_compose_scale(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_NO_DEPS = 256 };
    static const struct option opts[] = {
        {"no-deps", no_argument, NULL, O_NO_DEPS},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct compose_up_opts o = {.timeout = -1, .no_recreate = true};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case O_NO_DEPS:
            o.no_deps = true;
            break;
        case 'h':
            scale_usage(stdout);
            return CLI_EXIT_OK;
        default:
            scale_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage_error("scale", "requires at least one SERVICE=REPLICAS");
    struct compose_kvs scale = {0};
    _cleanup_strv_ char **services = NULL;
    for (int i = optind; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        int64_t n;
        if (!eq || eq == argv[i] || !bt_parse_int64(eq + 1, &n) || n < 0 || n > 10000) {
            compose_kvs_done(&scale);
            return cli_usage_error("scale", "invalid scale specifier '%s': SERVICE=REPLICAS",
                                   argv[i]);
        }
        _cleanup_free_ char *svc = xstrndup(argv[i], (size_t)(eq - argv[i]));
        compose_kvs_set(&scale, svc, eq + 1);
        if (!bt_strv_contains(services, svc))
            services = bt_strv_push(services, svc);
    }
    struct bt_err *err = NULL;
    struct compose_project *p = NULL;
    _cleanup_free_ char *name = NULL;
    if (cli_compose_open(ctx, services, &p, &name, &err) < 0) {
        compose_kvs_done(&scale);
        return cli_fail(&err, "scale");
    }
    if (!p) {
        compose_kvs_done(&scale);
        fprintf(stderr, "berth: scale: no compose file found\n");
        return CLI_EXIT_FAILURE;
    }
    _cleanup_progress_ struct cli_progress *progress = cli_progress_new_default(ctx->ansi);
    o.services = services;
    o.scale = &scale;
    o.event = on_scale_event;
    o.event_data = progress;
    /* Ctrl-C: nothing more is started, the work in flight finishes. */
    struct sigaction sa = {.sa_handler = on_scale_signal, .sa_flags = SA_RESTART}, old_int,
                     old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    scale_interrupted = 0;
    o.cancel = &scale_interrupted;
    int r = compose_project_up(p, &o, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cli_progress_flush(progress);
    compose_kvs_done(&scale);
    compose_project_free(p);
    if (scale_interrupted) {
        err = bt_err_free(err);
        fprintf(stderr, "Interrupted\n");
        return 130;
    }
    if (r < 0)
        return cli_fail(&err, "scale");
    return CLI_EXIT_OK;
}

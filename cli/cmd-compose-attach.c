/* berth attach SERVICE: the terminal attached to a running container of a
 * service, as `docker compose attach` does it: its output from now on,
 * and our input when it was started with stdin_open or a tty. The detach
 * keys (ctrl-p ctrl-q) leave it running; without a tty, signals go to the
 * container unless --sig-proxy=false, when Ctrl-C ends the attachment
 * instead. Otherwise attach ends when the container stops, with its exit
 * code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"

static void
attach_usage(FILE *out)
{
    fprintf(out, "Usage:  berth attach [OPTIONS] SERVICE\n\n"
                 "Attach local standard input, output, and error streams to a service's running\n"
                 "container.\n\n"
                 "Options:\n"
                 "      --detach-keys KEYS   Override the key sequence for detaching from a\n"
                 "                           container (default \"ctrl-p,ctrl-q\")\n"
                 "      --index N            index of the container if service has multiple\n"
                 "                           replicas\n"
                 "      --no-stdin           Do not attach STDIN\n"
                 "      --sig-proxy[=BOOL]   Proxy all received signals to the process\n"
                 "                           (default true)\n");
}

static bool
stop_when_detached(void *data)
{
    return cli_attach_detached(data);
}

/* The running container of service: number index, or the lowest-numbered
 * one. Caller owns *id and *name. */
static int
find_container(const char *project, const char *service, int index, char **id, char **name,
               struct bt_err **err)
{
    struct compose_actual a;
    if (compose_actual_load(project, false, &a, err) < 0)
        return bt_err_ret(err);
    const struct compose_container *found = NULL;
    char *const services[] = {(char *)service, NULL};
    for (size_t i = 0; i < a.n_containers && !found; i++) {
        const struct compose_container *c = &a.containers[i];
        if (cli_container_selected(c, services, index) &&
            (strcmp(c->state, "running") == 0 || strcmp(c->state, "paused") == 0))
            found = c; /* sorted by number */
    }
    if (found) {
        *id = xstrdup(found->id);
        *name = xstrdup(found->name);
    }
    compose_actual_done(&a);
    if (found)
        return 0;
    if (index > 0)
        return bt_err_set(err, ENOENT, "service \"%s\" is not running container #%d", service,
                          index);
    return bt_err_set(err, ENOENT, "service \"%s\" is not running", service);
}

int
cli_cmd_compose_attach(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_DETACH_KEYS = 256, O_INDEX, O_NO_STDIN, O_SIG_PROXY };
    static const struct option opts[] = {
        {"detach-keys", required_argument, NULL, O_DETACH_KEYS},
        {"index", required_argument, NULL, O_INDEX},
        {"no-stdin", no_argument, NULL, O_NO_STDIN},
        {"sig-proxy", optional_argument, NULL, O_SIG_PROXY},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *detach_keys = "ctrl-p,ctrl-q";
    bool no_stdin = false, sig_proxy = true;
    int64_t index = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case O_DETACH_KEYS:
            detach_keys = optarg;
            break;
        case O_INDEX:
            if (!bt_parse_int64(optarg, &index) || index < 1 || index > 100000)
                return cli_usage_error("attach", "invalid --index '%s'", optarg);
            break;
        case O_NO_STDIN:
            no_stdin = true;
            break;
        case O_SIG_PROXY:
            if (!optarg || strcmp(optarg, "true") == 0 || strcmp(optarg, "1") == 0)
                sig_proxy = true;
            else if (strcmp(optarg, "false") == 0 || strcmp(optarg, "0") == 0)
                sig_proxy = false;
            else
                return cli_usage_error("attach", "--sig-proxy takes true or false, not '%s'",
                                       optarg);
            break;
        case 'h':
            attach_usage(stdout);
            return CLI_EXIT_OK;
        default:
            attach_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("attach", "requires exactly 1 argument: SERVICE");
    char keys[16];
    struct bt_err *err = NULL;
    int n_keys = cli_detach_keys_parse(detach_keys, keys, sizeof(keys), &err);
    if (n_keys < 0) {
        int rc = cli_usage_error("attach", "%s", err->msg);
        bt_err_free(err);
        return rc;
    }
    char *services[] = {argv[optind], NULL};
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "attach");
    _cleanup_free_ char *id = NULL, *name = NULL;
    if (find_container(project, services[0], (int)index, &id, &name, &err) < 0)
        return cli_fail(&err, "attach");
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, &err);
    if (!cfg)
        return cli_fail(&err, "attach");
    bool tty = json_is_true(
        json_object_get(json_object_get(json_object_get(cfg, "spec"), "process"), "terminal"));
    bool stdin_open = json_is_true(json_object_get(cfg, "stdin_open"));

    struct cli_attach *in = NULL;
    if (!no_stdin && (tty || stdin_open) &&
        cli_attach_start_keys(id, tty, keys, (size_t)n_keys, &in, &err) < 0) {
        /* the output is still worth following */
        fprintf(stderr, "berth: attach: stdin not attached: %s\n", err->msg);
        err = bt_err_free(err);
    }
    /* A terminal's Ctrl-C is a key for the container; a signal berth gets
     * with a tty (not typed in it) ends the attachment, as with docker. */
    struct cli_logs_attach_opts lo = {
        .new_only = true,
        .no_sig_proxy = tty || !sig_proxy,
        .stop = in ? stop_when_detached : NULL,
        .stop_data = in,
    };
    int r = cli_logs_attach_opts(id, name, &lo, &err);
    bool detached = cli_attach_detached(in);
    in = cli_attach_stop(in);
    if (r < 0)
        return cli_fail(&err, "attach");
    if (detached)
        return CLI_EXIT_OK;
    if (lo.interrupted)
        return 130;
    int code = engine_container_wait(id, &err);
    if (code < 0)
        return cli_fail(&err, "attach");
    return code;
}

/* berth system restore: brings back, after a host reboot, the containers
 * whose restart policy asks for it (DESIGN.md §2). There is no daemon to do
 * it at boot; this one command is what a boot-time unit runs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "compose/orchestrate.h"

static void
on_event(void *data, const char *kind, const char *name, enum compose_event_status st,
         const char *text)
{
    cli_progress_event(data, kind, name, (enum cli_progress_status)st, text);
}

static int
cmd_restore(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage:  berth system restore\n\n"
                   "After a host reboot, start again the containers whose restart policy is\n"
                   "always or unless-stopped and that were running when the host went down,\n"
                   "with their networks, addresses and published ports. Containers that\n"
                   "were stopped stay stopped.\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("system restore", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("system restore", "takes no arguments");
    struct bt_err *err = NULL;
    _cleanup_free_ char *monitor = compose_monitor_path();
    _cleanup_progress_ struct cli_progress *p = cli_progress_new_default(ctx->ansi);
    if (compose_system_restore(monitor, on_event, p, &err) < 0)
        return cli_fail(&err, "system restore");
    return CLI_EXIT_OK;
}

int
cli_cmd_system(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        printf("Usage:  berth system COMMAND\n\n"
               "Commands:\n"
               "  restore  Start again, after a reboot, the containers that should run\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "restore"))
        return cmd_restore(ctx, argc - 1, argv + 1);
    return cli_usage_error("system", "unknown command '%s'", argv[1]);
}

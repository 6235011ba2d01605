/* berth build: builds the images of a project's services that have a
 * build section, as `docker compose build` does. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "compose/build.h"
#include "compose/compose.h"

static int
build_usage(FILE *out)
{
    fprintf(out, "Usage:  berth build [OPTIONS] [SERVICE...]\n\n"
                 "Build or rebuild services.\n\n"
                 "Options:\n"
                 "      --build-arg KEY=VALUE  Set a build-time variable (repeatable)\n"
                 "      --no-cache             Do not use the build cache\n"
                 "      --pull                 Always pull the base images\n"
                 "  -q, --quiet                Print nothing but errors\n"
                 "  -h, --help                 Show this help\n");
    return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int
cli_cmd_compose_build(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_BUILD_ARG = 256, O_NO_CACHE, O_PULL };
    static const struct option opts[] = {
        {"build-arg", required_argument, NULL, O_BUILD_ARG},
        {"no-cache", no_argument, NULL, O_NO_CACHE},
        {"pull", no_argument, NULL, O_PULL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct compose_build_opts o = {0};
    _cleanup_strv_ char **args = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
        switch (c) {
        case O_BUILD_ARG:
            if (!*optarg || *optarg == '=')
                return cli_usage_error("build", "--build-arg takes KEY=VALUE or KEY");
            args = bt_strv_push(args, optarg);
            break;
        case O_NO_CACHE:
            o.no_cache = true;
            break;
        case O_PULL:
            o.pull = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            return build_usage(stdout);
        default:
            return build_usage(stderr);
        }
    }
    char **named = argv + optind;
    o.services = named[0] ? named : NULL;
    o.build_args = args;
    o.out = stderr;
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    _cleanup_project_ struct compose_project *p = NULL;
    if (cli_compose_open(ctx, named, &p, &project, &err) < 0)
        return cli_fail(&err, "build");
    if (!p) {
        fprintf(stderr, "berth: build: needs a compose file with build sections\n");
        return CLI_EXIT_FAILURE;
    }
    if (compose_project_build(p, &o, &err) < 0)
        return cli_fail(&err, "build");
    return CLI_EXIT_OK;
}

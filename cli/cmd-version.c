/* berth version */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"short", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = "pretty";
    bool short_ = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 's':
            short_ = true;
            break;
        case 'h':
            printf("Usage:  berth version [--format pretty|json] [--short]\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("version", "unknown option");
        }
    }
    if (short_)
        printf("%s\n", BERTH_VERSION);
    else if (strcmp(format, "json") == 0)
        printf("{\"version\":\"%s\"}\n", BERTH_VERSION);
    else if (strcmp(format, "pretty") == 0)
        printf("berth version v%s\n", BERTH_VERSION);
    else
        return cli_usage_error("version", "--format takes pretty or json");
    return CLI_EXIT_OK;
}

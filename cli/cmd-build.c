/* berth build: builds the images of a project's services that have a
 * build section, as `docker compose build` does; `berth image build`
 * builds one image from a context directory, as `docker build` does. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "compose/build.h"
#include "compose/compose.h"
#include "image/build.h"

static int
build_usage(bool image, FILE *out)
{
    if (image)
        fprintf(out, "Usage:  berth image build [OPTIONS] PATH\n\n"
                     "Build an image from a Dockerfile and the context directory PATH.\n\n"
                     "Options:\n"
                     "  -t, --tag NAME[:TAG]       Name the image (repeatable)\n"
                     "  -f, --file FILE            The Dockerfile (default: PATH/Dockerfile)\n"
                     "      --label KEY=VALUE      Add a label to the image (repeatable)\n"
                     "      --target STAGE         Build this stage\n");
    else
        fprintf(out, "Usage:  berth build [OPTIONS] [SERVICE...]\n\n"
                     "Build or rebuild services.\n\n"
                     "Options:\n");
    fprintf(out,
            "      --build-arg KEY=VALUE  Set a build-time variable (repeatable)\n"
            "      --no-cache             Do not use the build cache\n"
            "      --pull                 Always pull the base images\n"
            "  -q, --quiet                %s\n"
            "  -h, --help                 Show this help\n",
            image ? "Print only the image id" : "Print nothing but errors");
    return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

struct build_args {
    bool no_cache, pull, quiet;
    char **build_args, **tags, **labels; /* owned vectors of borrowed argv strings */
    char *dockerfile;                    /* absolute; owned */
    const char *target;
};

static void
build_args_done(struct build_args *a)
{
    bt_strv_free(a->build_args);
    bt_strv_free(a->tags);
    bt_strv_free(a->labels);
    free(a->dockerfile);
}

/* Parses the options of both commands (image: those of `image build`
 * too); returns -1 to go on, else the exit code. */
static int
parse_args(bool image, int argc, char **argv, struct build_args *a)
{
    const char *cmd = image ? "image build" : "build";
    enum { O_BUILD_ARG = 256, O_LABEL, O_TARGET, O_NO_CACHE, O_PULL };
    static const struct option opts[] = {
        {"build-arg", required_argument, NULL, O_BUILD_ARG},
        {"no-cache", no_argument, NULL, O_NO_CACHE},
        {"pull", no_argument, NULL, O_PULL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"tag", required_argument, NULL, 't'},
        {"file", required_argument, NULL, 'f'},
        {"label", required_argument, NULL, O_LABEL},
        {"target", required_argument, NULL, O_TARGET},
        {0},
    };
    char cwd[PATH_MAX];
    int c;
    while ((c = getopt_long(argc, argv, image ? "+t:f:qh" : "+qh", opts, NULL)) != -1) {
        if (!image && (c == 't' || c == 'f' || c == O_LABEL || c == O_TARGET))
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        switch (c) {
        case O_BUILD_ARG:
            if (!*optarg || *optarg == '=')
                return cli_usage_error(cmd, "--build-arg takes KEY=VALUE or KEY");
            a->build_args = bt_strv_push(a->build_args, optarg);
            break;
        case O_NO_CACHE:
            a->no_cache = true;
            break;
        case O_PULL:
            a->pull = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 't':
            a->tags = bt_strv_push(a->tags, optarg);
            break;
        case 'f':
            if (!getcwd(cwd, sizeof(cwd)))
                return cli_usage_error(cmd, "cannot read the working directory");
            free(a->dockerfile);
            a->dockerfile = bt_path_absolute(cwd, optarg);
            break;
        case O_LABEL:
            a->labels = bt_strv_push(a->labels, optarg);
            break;
        case O_TARGET:
            a->target = optarg;
            break;
        case 'h':
            return build_usage(image, stdout);
        default:
            return build_usage(image, stderr);
        }
    }
    return -1;
}

int
cli_cmd_compose_build(struct cli_ctx *ctx, int argc, char **argv)
{
    _cleanup_(build_args_done) struct build_args a = {0};
    int rc = parse_args(false, argc, argv, &a);
    if (rc >= 0)
        return rc;
    char **named = argv + optind;
    struct compose_build_opts o = {.services = named[0] ? named : NULL,
                                   .no_cache = a.no_cache,
                                   .pull = a.pull,
                                   .quiet = a.quiet,
                                   .build_args = a.build_args,
                                   .out = stderr};
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

int
cli_cmd_image_build(struct cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    _cleanup_(build_args_done) struct build_args a = {0};
    int rc = parse_args(true, argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("image build", "expects exactly one context directory");
    if (strstr(argv[optind], "://") || strcmp(argv[optind], "-") == 0)
        return cli_usage_error("image build",
                               "the context must be a local directory (URLs and stdin are not "
                               "supported)");
    struct image_build_opts o = {.context = argv[optind],
                                 .dockerfile = a.dockerfile,
                                 .build_args = a.build_args,
                                 .labels = a.labels,
                                 .target = a.target,
                                 .tags = a.tags,
                                 .no_cache = a.no_cache,
                                 .pull = a.pull,
                                 .quiet = a.quiet,
                                 .out = stderr};
    struct bt_err *err = NULL;
    _cleanup_free_ char *id = NULL;
    if (compose_dockerfile_build(&o, &id, &err) < 0)
        return cli_fail(&err, "image build");
    if (a.quiet)
        printf("%s\n", id);
    else
        fprintf(stderr, "Built %s\n", a.tags ? a.tags[0] : id);
    return CLI_EXIT_OK;
}

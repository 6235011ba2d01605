/* berth cp: files between a service container and the host, as `docker
 * compose cp`; berth container cp: the same for one container by name or
 * id, as `docker cp`. The copying itself is engine/cp.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "common/size.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/cp.h"
#include "engine/engine.h"

/* One copy, in the direction the arguments give (exactly one side has a
 * container). in_fd: where "-" reads from. */
static int
copy_one(const char *id, const char *name, bool from, const char *src, const char *dst, int in_fd,
         struct engine_cp_opts *o, struct bt_err **err)
{
    o->name = name;
    if (from)
        return engine_cp_from_container(id, src, dst, STDOUT_FILENO, o, err);
    return engine_cp_to_container(id, src, in_fd, dst, o, err);
}

/* stdin kept in memory, so that several containers can each read it. */
static int
stdin_buffer(struct bt_err **err)
{
    int fd = memfd_create("berth-cp", MFD_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "buffer stdin");
    char buf[65536];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return bt_err_errno(err, e, "read stdin");
        }
        if (n == 0)
            return fd;
        if (write(fd, buf, (size_t)n) != n) {
            int e = errno;
            close(fd);
            return bt_err_errno(err, e, "buffer stdin");
        }
    }
}

static void
cp_usage(FILE *out)
{
    fprintf(out, "Usage:  berth cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n"
                 "        berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH\n\n"
                 "Copy files/folders between a service container and the local filesystem.\n"
                 "'-' streams a tar archive from stdin or to stdout.\n\n"
                 "Options:\n"
                 "      --all             Include containers created by the run command\n"
                 "                        (deprecated)\n"
                 "  -a, --archive         Archive mode (copy all uid/gid information)\n"
                 "  -L, --follow-link     Always follow a symbol link in SRC_PATH\n"
                 "      --index N         Index of the container if the service has several\n"
                 "  -h, --help            Show this help\n");
}

int
cli_cmd_compose_cp(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_ALL = 256, O_INDEX };
    static const struct option opts[] = {
        {"all", no_argument, NULL, O_ALL},       {"archive", no_argument, NULL, 'a'},
        {"follow-link", no_argument, NULL, 'L'}, {"index", required_argument, NULL, O_INDEX},
        {"help", no_argument, NULL, 'h'},        {0},
    };
    bool all = false;
    int index = 0;
    struct engine_cp_opts o = {0};
    int c;
    int64_t v;
    while ((c = getopt_long(argc, argv, "+aLh", opts, NULL)) != -1) {
        switch (c) {
        case O_ALL:
            all = true;
            break;
        case 'a':
            o.archive = true;
            break;
        case 'L':
            o.follow_link = true;
            break;
        case O_INDEX:
            if (!bt_parse_int64(optarg, &v) || v < 0 || v > INT32_MAX)
                return cli_usage_error("cp", "invalid --index '%s'", optarg);
            index = (int)v;
            break;
        case 'h':
            cp_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cp_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("cp", "requires exactly 2 arguments");
    _cleanup_free_ char *ssvc = NULL, *spath = NULL, *dsvc = NULL, *dpath = NULL;
    engine_cp_split_arg(argv[optind], &ssvc, &spath);
    engine_cp_split_arg(argv[optind + 1], &dsvc, &dpath);
    if (ssvc && dsvc) {
        fprintf(stderr, "berth: cp: copying between services is not supported\n");
        return CLI_EXIT_FAILURE;
    }
    if (!ssvc && !dsvc) {
        fprintf(stderr, "berth: cp: one of the paths must name a service (SERVICE:PATH)\n");
        return CLI_EXIT_FAILURE;
    }
    bool from = ssvc != NULL;
    if (from && all) {
        fprintf(stderr, "berth: cp: cannot use the --all flag when copying from a service\n");
        return CLI_EXIT_FAILURE;
    }
    const char *service = from ? ssvc : dsvc;
    char *services[] = {(char *)service, NULL};
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "cp");
    struct compose_actual a;
    if (compose_actual_load(project, all, &a, &err) < 0)
        return cli_fail(&err, "cp");
    /* with --index that container; otherwise every container of the
     * service when copying to it, the first when copying from it */
    const struct compose_container **targets = xcalloc(a.n_containers + 1, sizeof(*targets));
    size_t n = 0;
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *ct = &a.containers[i];
        if (!cli_container_selected(ct, services, index) || (index > 0 && ct->oneoff))
            continue;
        if (n == 0 || (!from && index == 0))
            targets[n++] = ct;
    }
    int rc = CLI_EXIT_OK;
    int in_fd = -1;
    if (n == 0) {
        if (index > 0)
            fprintf(stderr, "berth: cp: service \"%s\" has no container #%d\n", service, index);
        else
            fprintf(stderr, "berth: cp: no container found for service \"%s\"\n", service);
        rc = CLI_EXIT_FAILURE;
    } else if (!from && strcmp(spath, "-") == 0) {
        in_fd = stdin_buffer(&err);
        if (in_fd < 0)
            rc = cli_fail(&err, "cp");
    }
    _cleanup_progress_ struct cli_progress *pg =
        rc == CLI_EXIT_OK ? cli_progress_new_default(ctx->ansi) : NULL;
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        const struct compose_container *ct = targets[i];
        _cleanup_free_ char *what = from ? xasprintf("%s:%s to %s", ct->name, spath, dpath)
                                         : xasprintf("%s to %s:%s", spath, ct->name, dpath);
        cli_progress_eventf(pg, "Container", ct->name, CLI_PROGRESS_WORKING, "Copying %s", what);
        if (in_fd >= 0 && lseek(in_fd, 0, SEEK_SET) < 0) {
            bt_err_errno(&err, errno, "rewind stdin");
            cli_progress_event(pg, "Container", ct->name, CLI_PROGRESS_ERROR, "Error");
            pg = cli_progress_free(pg);
            rc = cli_fail(&err, NULL);
            break;
        }
        if (copy_one(ct->id, ct->name, from, spath, dpath, in_fd, &o, &err) < 0) {
            cli_progress_event(pg, "Container", ct->name, CLI_PROGRESS_ERROR, "Error");
            pg = cli_progress_free(pg);
            rc = cli_fail(&err, NULL);
            break;
        }
        cli_progress_eventf(pg, "Container", ct->name, CLI_PROGRESS_DONE, "Copied %s", what);
    }
    if (in_fd >= 0)
        close(in_fd);
    free(targets);
    compose_actual_done(&a);
    return rc;
}

static void
container_cp_usage(FILE *out)
{
    fprintf(out, "Usage:  berth container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
                 "        berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
                 "Copy files/folders between a container and the local filesystem.\n\n"
                 "Options:\n"
                 "  -a, --archive         Archive mode (copy all uid/gid information)\n"
                 "  -L, --follow-link     Always follow symbol link in SRC_PATH\n"
                 "  -q, --quiet           Suppress progress output during copy\n"
                 "  -h, --help            Show this help\n");
}

int
cli_cmd_container_cp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"archive", no_argument, NULL, 'a'},
        {"follow-link", no_argument, NULL, 'L'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct engine_cp_opts o = {0};
    bool quiet = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+aLqh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o.archive = true;
            break;
        case 'L':
            o.follow_link = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            container_cp_usage(stdout);
            return CLI_EXIT_OK;
        default:
            container_cp_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("container cp", "requires exactly 2 arguments");
    _cleanup_free_ char *sref = NULL, *spath = NULL, *dref = NULL, *dpath = NULL;
    engine_cp_split_arg(argv[optind], &sref, &spath);
    engine_cp_split_arg(argv[optind + 1], &dref, &dpath);
    if (sref && dref) {
        fprintf(stderr, "berth: container cp: copying between containers is not supported\n");
        return CLI_EXIT_FAILURE;
    }
    if (!sref && !dref) {
        fprintf(stderr, "berth: container cp: must specify at least one container source\n");
        return CLI_EXIT_FAILURE;
    }
    bool from = sref != NULL;
    struct bt_err *err = NULL;
    _cleanup_free_ char *id = engine_container_resolve(from ? sref : dref, &err);
    if (!id)
        return cli_fail(&err, "container cp");
    if (copy_one(id, from ? sref : dref, from, spath, dpath,
                 !from && strcmp(spath, "-") == 0 ? STDIN_FILENO : -1, &o, &err) < 0)
        return cli_fail(&err, NULL);
    if (!quiet && strcmp(spath, "-") != 0 && strcmp(dpath, "-") != 0) {
        _cleanup_free_ char *size = bt_size_human((int64_t)o.copied);
        fprintf(stderr, "Successfully copied %s to %s\n", size, argv[optind + 1]);
    }
    return CLI_EXIT_OK;
}

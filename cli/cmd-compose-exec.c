/* berth exec: a command in a running container of a service, joined from
 * the CLI through the engine (setns, the container's cgroup, user, caps,
 * seccomp); the command's exit code is berth's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"

/* docker's codes when a container command cannot start */
enum { EXIT_CANNOT_RUN = 125, EXIT_NOT_EXECUTABLE = 126, EXIT_NOT_FOUND = 127 };

/* -e KEY=VALUE as given; -e KEY takes KEY from berth's environment and is
 * dropped when unset there, as docker does. */
static char **
env_push(char **env, const char *arg)
{
    if (strchr(arg, '='))
        return bt_strv_push(env, arg);
    const char *v = getenv(arg);
    return v ? bt_strv_push_take(env, xasprintf("%s=%s", arg, v)) : env;
}

static int
exec_error_code(const struct bt_err *err)
{
    if (err->code == ENOENT)
        return EXIT_NOT_FOUND;
    if (err->code == EACCES)
        return EXIT_NOT_EXECUTABLE;
    return EXIT_CANNOT_RUN;
}

/* Runs args in container id, attached or detached; returns the exit code. */
static int
exec_in(const char *cmd, const char *id, char *const *args, char *const *env, const char *user,
        const char *workdir, bool tty, bool detach)
{
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    struct engine_container_exec_opts eo = {
        .args = args,
        .env = env,
        .cwd = workdir,
        .user = user,
        .tty = tty && !detach,
        .stdio = {detach ? null : -1, detach ? null : -1, detach ? null : -1},
    };
    struct winsize ws;
    if (eo.tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        eo.tty_width = ws.ws_col;
        eo.tty_height = ws.ws_row;
    }
    struct engine_exec ex;
    struct bt_err *err = NULL;
    if (engine_container_exec(id, &eo, &ex, &err) < 0) {
        int code = exec_error_code(err);
        cli_fail(&err, cmd);
        return code;
    }
    if (detach) {
        if (ex.pty_master >= 0)
            close(ex.pty_master);
        return CLI_EXIT_OK;
    }
    int r = engine_foreground_wait(ex.pid, ex.pty_master, &err);
    if (ex.pty_master >= 0)
        close(ex.pty_master);
    if (r < 0) {
        cli_fail(&err, cmd);
        return EXIT_CANNOT_RUN;
    }
    return r;
}

static void
exec_usage(FILE *out)
{
    fprintf(out, "Usage:  berth exec [OPTIONS] SERVICE COMMAND [ARGS...]\n\n"
                 "Execute a command in a running container of a service.\n\n"
                 "Options:\n"
                 "  -d, --detach          Run the command in the background\n"
                 "  -e, --env KEY=VAL     Set an environment variable (repeatable)\n"
                 "      --index N         Index of the container if the service has several\n"
                 "                        (default 1)\n"
                 "  -i, --interactive     Keep STDIN open (the default)\n"
                 "  -T, --no-TTY          Do not allocate a pseudo-TTY (by default one is\n"
                 "                        allocated when STDIN is a terminal)\n"
                 "  -t, --tty             Allocate a pseudo-TTY\n"
                 "  -u, --user USER       Run as this user\n"
                 "  -w, --workdir DIR     Working directory for the command\n"
                 "  -h, --help            Show this help\n");
}

int
cli_cmd_compose_exec(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_INDEX = 256, O_PRIVILEGED };
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"env", required_argument, NULL, 'e'},
        {"index", required_argument, NULL, O_INDEX},
        {"interactive", no_argument, NULL, 'i'},
        {"no-TTY", no_argument, NULL, 'T'},
        {"no-tty", no_argument, NULL, 'T'},
        {"tty", no_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool detach = false;
    int tty = -1; /* default: when stdin is a terminal */
    int index = 1;
    const char *user = NULL, *workdir = NULL;
    _cleanup_strv_ char **env = NULL;
    int c;
    int64_t v;
    while ((c = getopt_long(argc, argv, "+de:iTtu:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            detach = true;
            break;
        case 'e':
            env = env_push(env, optarg);
            break;
        case O_INDEX:
            if (!bt_parse_int64(optarg, &v) || v < 1 || v > INT32_MAX)
                return cli_usage_error("exec", "invalid --index '%s'", optarg);
            index = (int)v;
            break;
        case 'i':
            break;
        case 'T':
            tty = 0;
            break;
        case 't':
            tty = 1;
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            workdir = optarg;
            break;
        case 'h':
            exec_usage(stdout);
            return CLI_EXIT_OK;
        default:
            exec_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind < 2)
        return cli_usage_error("exec", "requires a service and a command");
    if (tty < 0)
        tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    const char *service = argv[optind];
    char *services[] = {(char *)service, NULL};
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "exec");
    struct compose_actual a;
    if (compose_actual_load(project, false, &a, &err) < 0)
        return cli_fail(&err, "exec");
    const struct compose_container *found = NULL;
    for (size_t i = 0; i < a.n_containers && !found; i++)
        if (cli_container_selected(&a.containers[i], services, index))
            found = &a.containers[i];
    int rc;
    if (!found) {
        fprintf(stderr, "berth: exec: service \"%s\" has no container #%d\n", service, index);
        rc = CLI_EXIT_FAILURE;
    } else if (strcmp(found->state, "running") != 0) {
        fprintf(stderr, "berth: exec: service \"%s\" is not running (container %s is %s)\n",
                service, found->name, found->state);
        rc = CLI_EXIT_FAILURE;
    } else {
        rc = exec_in("exec", found->id, argv + optind + 1, env, user, workdir, tty, detach);
    }
    compose_actual_done(&a);
    return rc;
}

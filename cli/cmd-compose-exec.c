/* berth exec: a command in a running container of a service, joined from
 * the CLI through the engine (setns, the container's cgroup, user, caps,
 * seccomp); berth run: a one-off container of a service. Either way the
 * command's exit code is berth's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/progress.h"
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

/* ---- run: a one-off container of a service ---- */

static void
on_event(void *data, const char *kind, const char *name, enum compose_event_status status,
         const char *text)
{
    static const enum cli_progress_status map[] = {
        [COMPOSE_EVENT_WORKING] = CLI_PROGRESS_WORKING,
        [COMPOSE_EVENT_DONE] = CLI_PROGRESS_DONE,
        [COMPOSE_EVENT_WARNING] = CLI_PROGRESS_WARNING,
        [COMPOSE_EVENT_ERROR] = CLI_PROGRESS_ERROR,
    };
    cli_progress_event(data, kind, name, map[status], text);
}

struct run_opts {
    bool detach, rm, no_deps, service_ports, no_tty, quiet_pull;
    const char *name, *entrypoint, *user, *workdir, *pull;
    char **env, **volumes, **publish;
};

static void
run_opts_done(struct run_opts *o)
{
    bt_strv_free(o->env);
    bt_strv_free(o->volumes);
    bt_strv_free(o->publish);
}

/* What run changes in a copy of the service. The copy borrows the
 * service's fields; the arrays made here are freed by run_service_done. */
struct run_service {
    struct compose_service s;
    char **entrypoint;
    char **empty;
    struct compose_port *ports;
    size_t n_ports_own; /* parsed from -p, after the borrowed ones */
    struct compose_mount *mounts;
    size_t n_mounts_own;
};

static void
run_service_done(struct run_service *r)
{
    bt_strv_free(r->entrypoint);
    bt_strv_free(r->empty);
    for (size_t i = r->s.n_ports - r->n_ports_own; i < r->s.n_ports; i++)
        compose_port_done(&r->ports[i]);
    free(r->ports);
    for (size_t i = r->s.n_volumes - r->n_mounts_own; i < r->s.n_volumes; i++)
        compose_mount_done(&r->mounts[i]);
    free(r->mounts);
}

static int
run_service_make(const struct compose_project *p, const struct compose_service *orig,
                 const struct run_opts *o, char **command, struct run_service *r,
                 struct bt_err **err)
{
    *r = (struct run_service){.s = *orig};
    struct compose_service *s = &r->s;
    s->container_name = NULL;
    s->restart = NULL;
    if (o->entrypoint) {
        if (compose_shell_split(o->entrypoint, &r->entrypoint, err) < 0) {
            bt_err_prefix(err, "--entrypoint");
            return bt_err_ret(err);
        }
        s->entrypoint = r->entrypoint;
        /* as docker run: a new entrypoint drops the image's command */
        if (!s->command) {
            r->empty = xcalloc(1, sizeof(char *));
            s->command = r->empty;
        }
    }
    if (command && command[0])
        s->command = command;
    if (o->user)
        s->user = (char *)o->user;
    if (o->workdir)
        s->working_dir = (char *)o->workdir;
    s->tty = !o->no_tty && !o->detach && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    struct winsize ws;
    if (s->tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        s->tty_width = ws.ws_col;
        s->tty_height = ws.ws_row;
    }
    /* attached, stdin is the container's (-T only drops the terminal) */
    if (!o->detach)
        s->stdin_open = true;
    /* ports: none unless --service-ports, then -p */
    size_t n = o->service_ports ? orig->n_ports : 0;
    r->ports = xcalloc(n + 1, sizeof(*r->ports));
    for (size_t i = 0; i < n; i++)
        r->ports[i] = orig->ports[i];
    bt_strv_foreach (spec, o->publish) {
        size_t before = n;
        if (compose_port_parse(spec, &r->ports, &n, err) < 0) {
            s->n_ports = before;
            r->n_ports_own = before - (o->service_ports ? orig->n_ports : 0);
            bt_err_prefix(err, "-p %s", spec);
            return bt_err_ret(err);
        }
        r->n_ports_own += n - before;
    }
    s->ports = r->ports;
    s->n_ports = n;
    /* volumes: the service's, then -v */
    size_t m = orig->n_volumes;
    r->mounts = xcalloc(m + bt_strv_length(o->volumes) + 1, sizeof(*r->mounts));
    for (size_t i = 0; i < m; i++)
        r->mounts[i] = orig->volumes[i];
    s->volumes = r->mounts;
    bt_strv_foreach (spec, o->volumes) {
        struct compose_mount *mt = &r->mounts[m];
        if (compose_volume_parse(spec, mt, err) < 0) {
            bt_err_prefix(err, "-v %s", spec);
            s->n_volumes = m;
            return bt_err_ret(err);
        }
        if (mt->type == COMPOSE_MOUNT_BIND && mt->source) {
            char *abs = bt_path_absolute(p->working_dir, mt->source);
            free(mt->source);
            mt->source = abs;
        }
        m++;
        r->n_mounts_own++;
        s->n_volumes = m;
    }
    s->n_volumes = m;
    return 0;
}

static char *
run_name(const char *project, const char *service)
{
    unsigned char b[6];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i * 5) ^ (unsigned)getpid() >> i);
    }
    return xasprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", project, service, b[0], b[1], b[2], b[3],
                     b[4], b[5]);
}

static void
run_usage(FILE *out)
{
    fprintf(out, "Usage:  berth run [OPTIONS] SERVICE [COMMAND] [ARGS...]\n\n"
                 "Run a one-off command on a service, in a new container.\n\n"
                 "Options:\n"
                 "  -d, --detach            Run the container in the background, print its name\n"
                 "  -e, --env KEY=VAL       Set an environment variable (repeatable)\n"
                 "      --entrypoint CMD    Override the entrypoint of the image\n"
                 "      --name NAME         Name the container\n"
                 "      --no-deps           Don't start linked services\n"
                 "  -p, --publish PORTS     Publish a container's port(s) to the host\n"
                 "      --pull POLICY       Pull image before running: always, missing, never\n"
                 "      --quiet-pull        Pull without printing progress\n"
                 "      --rm                Remove the container when it exits\n"
                 "      --service-ports     Publish the service's ports\n"
                 "  -T, --no-TTY            Disable pseudo-TTY allocation (default: a TTY when\n"
                 "                          attached to a terminal)\n"
                 "  -i, --interactive       Keep STDIN open (the default unless -d)\n"
                 "  -u, --user USER         Run as this user\n"
                 "  -v, --volume VOLUME     Bind mount a volume (repeatable)\n"
                 "  -w, --workdir DIR       Working directory inside the container\n"
                 "  -h, --help              Show this help\n");
}

int
cli_cmd_compose_run(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_RM = 256, O_NAME, O_NODEPS, O_SVCPORTS, O_ENTRY, O_PULL, O_QPULL };
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"env", required_argument, NULL, 'e'},
        {"entrypoint", required_argument, NULL, O_ENTRY},
        {"name", required_argument, NULL, O_NAME},
        {"no-deps", no_argument, NULL, O_NODEPS},
        {"publish", required_argument, NULL, 'p'},
        {"pull", required_argument, NULL, O_PULL},
        {"quiet-pull", no_argument, NULL, O_QPULL},
        {"rm", no_argument, NULL, O_RM},
        {"service-ports", no_argument, NULL, O_SVCPORTS},
        {"no-TTY", no_argument, NULL, 'T'},
        {"no-tty", no_argument, NULL, 'T'},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},
        {"volume", required_argument, NULL, 'v'},
        {"workdir", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct run_opts o = {0};
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "+de:p:Titu:v:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.detach = true;
            break;
        case 'e':
            o.env = env_push(o.env, optarg);
            break;
        case O_ENTRY:
            o.entrypoint = optarg;
            break;
        case O_NAME:
            o.name = optarg;
            break;
        case O_NODEPS:
            o.no_deps = true;
            break;
        case 'p':
            o.publish = bt_strv_push(o.publish, optarg);
            break;
        case O_PULL:
            if (strcmp(optarg, "always") && strcmp(optarg, "missing") && strcmp(optarg, "never"))
                rc = cli_usage_error("run", "--pull takes always, missing or never");
            o.pull = optarg;
            break;
        case O_QPULL:
            o.quiet_pull = true;
            break;
        case O_RM:
            o.rm = true;
            break;
        case O_SVCPORTS:
            o.service_ports = true;
            break;
        case 'T':
            o.no_tty = true;
            break;
        case 'i':
        case 't':
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'v':
            o.volumes = bt_strv_push(o.volumes, optarg);
            break;
        case 'w':
            o.workdir = optarg;
            break;
        case 'h':
            run_usage(stdout);
            run_opts_done(&o);
            return CLI_EXIT_OK;
        default:
            run_usage(stderr);
            rc = CLI_EXIT_USAGE;
        }
    }
    if (rc == 0 && optind >= argc)
        rc = cli_usage_error("run", "requires a service");
    if (rc) {
        run_opts_done(&o);
        return rc;
    }
    const char *service = argv[optind];
    char **command = argv + optind + 1;
    char *services[] = {(char *)service, NULL};
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    _cleanup_project_ struct compose_project *p = NULL;
    if (cli_compose_open(ctx, services, &p, &project, &err) < 0) {
        run_opts_done(&o);
        return cli_fail(&err, "run");
    }
    if (!p) {
        run_opts_done(&o);
        fprintf(stderr, "berth: run: needs a compose file\n");
        return CLI_EXIT_FAILURE;
    }
    const struct compose_service *orig = compose_project_service(p, service);
    _cleanup_progress_ struct cli_progress *prog = cli_progress_new_default(ctx->ansi);

    /* dependencies first, as up would start them */
    _cleanup_strv_ char **deps = compose_service_dependencies(orig);
    if (!o.no_deps && deps && deps[0]) {
        struct compose_up_opts uo = {
            .services = deps,
            .pull = o.pull,
            .quiet_pull = o.quiet_pull,
            .timeout = -1,
            .event = on_event,
            .event_data = prog,
        };
        if (compose_project_up(p, &uo, &err) < 0) {
            run_opts_done(&o);
            cli_progress_flush(prog);
            return cli_fail(&err, "run");
        }
        cli_progress_flush(prog);
    }
    struct run_service rs;
    if (run_service_make(p, orig, &o, command, &rs, &err) < 0) {
        run_service_done(&rs);
        run_opts_done(&o);
        return cli_fail(&err, "run");
    }
    _cleanup_free_ char *name = o.name ? xstrdup(o.name) : run_name(p->name, service);
    _cleanup_free_ char *id = NULL;
    rc = compose_service_run_create(p, &rs.s, name, o.env, o.pull, &id, &err);
    bool tty = rs.s.tty;
    run_service_done(&rs);
    run_opts_done(&o);
    if (rc < 0)
        return cli_fail(&err, "run");

    _cleanup_free_ char *monitor = compose_monitor_path();
    if (compose_container_start(id, monitor, &err) < 0) {
        int code = exec_error_code(err);
        struct bt_err *e2 = NULL; /* the start error is the one to report */
        if (compose_container_remove(id, true, &e2) < 0)
            cli_fail(&e2, "run: remove the container that did not start");
        cli_fail(&err, "run");
        return code;
    }
    if (o.detach) {
        printf("%s\n", name);
        return CLI_EXIT_OK;
    }
    struct cli_attach *in = NULL;
    if (cli_attach_start(id, tty, &in, &err) < 0)
        cli_fail(&err, "run: stdin");
    if (cli_logs_attach(id, name, &err) < 0)
        cli_fail(&err, "run: output");
    int code = engine_container_wait(id, &err);
    in = cli_attach_stop(in);
    if (code < 0) {
        cli_fail(&err, "run");
        code = EXIT_CANNOT_RUN;
    }
    if (o.rm && compose_container_remove(id, true, &err) < 0)
        cli_fail(&err, "run: --rm");
    return code;
}

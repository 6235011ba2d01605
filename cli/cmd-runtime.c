/* berth runtime: the OCI runtime command line over engine/, so that one
 * bundle runs the same under berth and under crun or runc. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"

static void
runtime_usage(FILE *out)
{
    fprintf(out, "Usage:  berth runtime COMMAND [OPTIONS] CONTAINER-ID\n\n"
                 "Run an OCI runtime-spec bundle with berth's runtime core.\n\n"
                 "Commands:\n"
                 "  create [--bundle DIR] [--console-socket PATH] [--pid-file FILE] ID\n"
                 "  start ID\n"
                 "  state ID\n"
                 "  kill [--all] ID [SIGNAL]\n"
                 "  delete [--force] ID\n"
                 "  run [--bundle DIR] [--detach] [--console-socket PATH] [--pid-file FILE] ID\n"
                 "  exec [--tty] [--detach] [--cwd DIR] [--env K=V] [--user UID[:GID]] ID CMD...\n"
                 "  spec [--bundle DIR] [--rootless]\n");
}

/* Common options of create and run. */
static int
parse_bundle_opts(const char *cmd, int argc, char **argv, struct engine_runtime_opts *o,
                  bool allow_detach)
{
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"console-socket", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'},
        {"detach", no_argument, NULL, 'd'},
        {"no-pivot", no_argument, NULL, 'N'},
        {"no-new-keyring", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+b:dh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bundle = optarg;
            break;
        case 'c':
            o->console_socket = optarg;
            break;
        case 'p':
            o->pid_file = optarg;
            break;
        case 'd':
            if (!allow_detach)
                return cli_usage_error(cmd, "--detach is only for run");
            o->detach = true;
            break;
        case 'N':
        case 'K':
            break; /* accepted for compatibility; berth always pivots, keeps no keyring */
        case 'h':
            runtime_usage(stdout);
            return -1;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    return 0;
}

static int
one_id(const char *cmd, int argc, char **argv, const char **id)
{
    if (optind + 1 != argc)
        return cli_usage_error(cmd, "expects exactly one container id");
    *id = argv[optind];
    return 0;
}

static int
rt_create_or_run(bool run, int argc, char **argv)
{
    const char *cmd = run ? "runtime run" : "runtime create";
    struct engine_runtime_opts o = {0};
    int r = parse_bundle_opts(cmd, argc, argv, &o, run);
    if (r)
        return r < 0 ? CLI_EXIT_OK : r;
    const char *id = NULL;
    if ((r = one_id(cmd, argc, argv, &id)))
        return r;
    struct bt_err *err = NULL;
    r = run ? engine_runtime_run(id, &o, &err) : engine_runtime_create(id, &o, &err);
    if (r < 0)
        return cli_fail(&err, cmd);
    return r;
}

static int
rt_simple(const char *sub, int argc, char **argv)
{
    _cleanup_free_ char *cmd = xasprintf("runtime %s", sub);
    bool force = false, all = false;
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+fah", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case 'a':
            all = true;
            break;
        case 'h':
            runtime_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    struct bt_err *err = NULL;
    if (strcmp(sub, "kill") == 0) {
        if (optind >= argc || argc - optind > 2)
            return cli_usage_error(cmd, "expects a container id and an optional signal");
        int sig = SIGTERM;
        if (argc - optind == 2 && engine_signal_parse(argv[optind + 1], &sig) < 0)
            return cli_usage_error(cmd, "unknown signal '%s'", argv[optind + 1]);
        if (engine_runtime_kill(argv[optind], sig, all, &err) < 0)
            return cli_fail(&err, cmd);
        return CLI_EXIT_OK;
    }
    const char *id = NULL;
    int r = one_id(cmd, argc, argv, &id);
    if (r)
        return r;
    if (strcmp(sub, "start") == 0)
        r = engine_runtime_start(id, &err);
    else if (strcmp(sub, "delete") == 0)
        r = engine_runtime_delete(id, force, &err);
    else {
        _cleanup_json_ json_t *st = engine_runtime_state(id, &err);
        if (!st)
            return cli_fail(&err, cmd);
        _cleanup_free_ char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        return CLI_EXIT_OK;
    }
    if (r < 0)
        return cli_fail(&err, cmd);
    return CLI_EXIT_OK;
}

static int
rt_exec(int argc, char **argv)
{
    const char *cmd = "runtime exec";
    static const struct option opts[] = {
        {"tty", no_argument, NULL, 't'},
        {"detach", no_argument, NULL, 'd'},
        {"cwd", required_argument, NULL, 'w'},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"pid-file", required_argument, NULL, 'p'},
        {"process", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct engine_runtime_exec_opts o = {0};
    _cleanup_strv_ char **env = NULL;
    _cleanup_strv_ char **pargs = NULL;
    const char *process = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+tdw:e:u:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.tty = true;
            break;
        case 'd':
            o.detach = true;
            break;
        case 'w':
            o.cwd = optarg;
            break;
        case 'e':
            env = bt_strv_push(env, optarg);
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'p':
            o.pid_file = optarg;
            break;
        case 'P':
            process = optarg;
            break;
        case 'h':
            runtime_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expects a container id");
    const char *id = argv[optind++];
    struct bt_err *err = NULL;
    if (process) {
        _cleanup_json_ json_t *p = bt_json_load_file(process, &err);
        if (!p)
            return cli_fail(&err, cmd);
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(p, "args"), i, v)
            pargs = bt_strv_push(pargs, json_string_value(v) ? json_string_value(v) : "");
        json_array_foreach (json_object_get(p, "env"), i, v)
            if (json_string_value(v))
                env = bt_strv_push(env, json_string_value(v));
        if (bt_json_str(p, "cwd"))
            o.cwd = bt_json_str(p, "cwd");
        o.tty = o.tty || json_is_true(json_object_get(p, "terminal"));
        o.args = pargs;
        o.env = env;
        int r = engine_runtime_exec(id, &o, &err);
        if (r < 0)
            return cli_fail(&err, cmd);
        return r;
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expects a command to run");
    o.args = argv + optind;
    o.env = env;
    int r = engine_runtime_exec(id, &o, &err);
    if (r < 0) {
        int code = err && err->code == ENOENT ? 127 : err && err->code == EACCES ? 126 : 1;
        cli_fail(&err, cmd);
        return code;
    }
    return r;
}

static int
rt_spec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"rootless", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *bundle = ".";
    bool rootless = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bundle = optarg;
            break;
        case 'r':
            rootless = true;
            break;
        case 'h':
            runtime_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("runtime spec", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("runtime spec", "takes no arguments");
    struct bt_err *err = NULL;
    _cleanup_free_ char *path = bt_path_join(bundle, "config.json");
    if (bt_path_exists(path)) {
        bt_err_set(&err, EEXIST, "%s already exists", path);
        return cli_fail(&err, "runtime spec");
    }
    _cleanup_json_ json_t *spec = engine_spec_default(rootless);
    _cleanup_free_ char *s = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t len = strlen(s);
    s[len] = '\n';
    if (bt_file_write_atomic(path, s, len + 1, 0644, &err) < 0) {
        s[len] = '\0';
        return cli_fail(&err, "runtime spec");
    }
    s[len] = '\0';
    return CLI_EXIT_OK;
}

int
cli_cmd_runtime(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        runtime_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (strcmp(sub, "create") == 0)
        return rt_create_or_run(false, argc, argv);
    if (strcmp(sub, "run") == 0)
        return rt_create_or_run(true, argc, argv);
    if (strcmp(sub, "exec") == 0)
        return rt_exec(argc, argv);
    if (strcmp(sub, "spec") == 0)
        return rt_spec(argc, argv);
    if (!strcmp(sub, "start") || !strcmp(sub, "state") || !strcmp(sub, "kill") ||
        !strcmp(sub, "delete"))
        return rt_simple(sub, argc, argv);
    return cli_usage_error("runtime", "unknown command '%s'", sub);
}

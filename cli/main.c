/* berth: entry point, global options and command dispatch. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const struct cli_command commands[] = {
    {"up", cli_cmd_compose_up, "Create and start containers"},
    {"down", cli_cmd_compose_down, "Stop and remove containers, networks"},
    {"ps", cli_cmd_compose_ps, "List containers"},
    {"ls", cli_cmd_compose_ls, "List running compose projects"},
    {"create", cli_cmd_compose_create, "Creates containers for a service"},
    {"start", cli_cmd_compose_start, "Start services"},
    {"stop", cli_cmd_compose_stop, "Stop services"},
    {"restart", cli_cmd_compose_restart, "Restart service containers"},
    {"kill", cli_cmd_compose_kill, "Force stop service containers"},
    {"rm", cli_cmd_compose_rm, "Removes stopped service containers"},
    {"pause", cli_cmd_compose_pause, "Pause services"},
    {"unpause", cli_cmd_compose_unpause, "Unpause services"},
    {"wait", cli_cmd_compose_wait, "Block until the first service container stops"},
    {"config", cli_cmd_config, "Parse, resolve and render the compose file in canonical format"},
    {"version", cli_cmd_version, "Show the berth version information"},
    {"inspect", cli_cmd_inspect, "Return low-level information on berth objects"},
    {"system", cli_cmd_system, "Restore containers after a reboot"},
    {"volume", cli_cmd_volume, "Manage volumes"},
    {"container", cli_cmd_container, "Manage single containers: run, ls, logs, exec, stop, rm"},
    {"runtime", cli_cmd_runtime, "Run OCI bundles: create, start, state, kill, delete, run, exec"},
    {"network", cli_cmd_network, "Manage networks"},
    {"images", cli_cmd_compose_images, "List images used by the created containers"},
    {"image", cli_cmd_image, "Manage images"},
    {"rmi", cli_cmd_rmi, "Remove one or more images"},
    {"tag", cli_cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"load", cli_cmd_load, "Load images from a tar archive or STDIN"},
    {"save", cli_cmd_save, "Save images to a tar archive"},
    {"import", cli_cmd_import, "Make an image from a root filesystem tarball"},
    {"pull", cli_cmd_compose_pull, "Pull service images"},
    {"build", cli_cmd_compose_build, "Build or rebuild services"},
    {"push", cli_cmd_compose_push, "Push service images"},
    {"login", cli_cmd_login, "Log in to a registry"},
    {"logout", cli_cmd_logout, "Log out from a registry"},
    {"logs", cli_cmd_compose_logs, "View output from containers"},
    {"exec", cli_cmd_compose_exec, "Execute a command in a running container of a service"},
    {"run", cli_cmd_compose_run, "Run a one-off command on a service"},
    {"top", cli_cmd_compose_top, "Display the running processes"},
    {"port", cli_cmd_compose_port, "Print the public port for a port binding"},
    {"cp", cli_cmd_compose_cp, "Copy files/folders between a service container and the host"},
    {"events", cli_cmd_compose_events, "Receive real time events from containers"},
    {"scale", cli_cmd_compose_scale, "Scale services"},
    {"attach", cli_cmd_compose_attach, "Attach to a service's running container"},
    {"stats", cli_cmd_compose_stats, "Display a live stream of container(s) resource usage"},
};

static void
usage(FILE *out)
{
    fprintf(out, "Usage:  berth [OPTIONS] COMMAND\n\n"
                 "Define and run multi-container applications, without a daemon.\n\n"
                 "Options:\n"
                 "  -f, --file FILE              Compose configuration files\n"
                 "  -p, --project-name NAME      Project name\n"
                 "      --project-directory DIR  Alternate working directory\n"
                 "      --profile PROFILE        Profile to enable\n"
                 "      --env-file FILE          Alternate environment file\n"
                 "      --ansi MODE              Control characters: never|always|auto\n"
                 "      --log-level LEVEL        error|warn|info|debug\n"
                 "  -v, --version                Show the version and quit\n"
                 "  -h, --help                   Show this help\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < BT_ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'berth COMMAND --help' for more information on a command.\n");
}

int
cli_fail(struct bt_err **err, const char *context)
{
    if (err && *err) {
        if (context)
            fprintf(stderr, "berth: %s: %s\n", context, (*err)->msg);
        else
            fprintf(stderr, "berth: %s\n", (*err)->msg);
        *err = bt_err_free(*err);
    }
    return CLI_EXIT_FAILURE;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "berth %s: %s\nRun 'berth %s --help' for usage.\n", cmd, msg, cmd);
    return CLI_EXIT_USAGE;
}

bool
cli_confirm(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *what = xvasprintf(fmt, ap);
    va_end(ap);
    printf("WARNING! %s\nAre you sure you want to continue? [y/N] ", what);
    fflush(stdout);
    char line[64] = "";
    return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static bool
parse_log_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            bt_log_set_level((enum bt_log_level)i);
            return true;
        }
    }
    return false;
}

static void
ctx_done(struct cli_ctx *ctx)
{
    bt_strv_free(ctx->files);
    bt_strv_free(ctx->profiles);
    bt_strv_free(ctx->env_files);
    free(ctx->project_name);
    free(ctx->project_dir);
}

int
main(int argc, char **argv)
{
    enum { OPT_PROJECT_DIR = 256, OPT_PROFILE, OPT_ENV_FILE, OPT_ANSI, OPT_LOG_LEVEL };
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, OPT_PROJECT_DIR},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"env-file", required_argument, NULL, OPT_ENV_FILE},
        {"ansi", required_argument, NULL, OPT_ANSI},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct cli_ctx ctx = {.ansi = "auto", .progname = argv[0]};
    bt_json_init();

    /* '+': stop at the first non-option, which is the command. */
    int c;
    /* `berth compose up` is `berth up`, for hands and aliases used to
     * `docker compose`; global options may come before and after the word. */
    bool compose_word = false;
    for (bool more = true; more;) {
        while ((c = getopt_long(argc, argv, "+f:p:vh", opts, NULL)) != -1) {
            switch (c) {
            case 'f':
                ctx.files = bt_strv_push(ctx.files, optarg);
                break;
            case 'p':
                free(ctx.project_name);
                ctx.project_name = xstrdup(optarg);
                break;
            case OPT_PROJECT_DIR:
                free(ctx.project_dir);
                ctx.project_dir = xstrdup(optarg);
                break;
            case OPT_PROFILE:
                ctx.profiles = bt_strv_push(ctx.profiles, optarg);
                break;
            case OPT_ENV_FILE:
                ctx.env_files = bt_strv_push(ctx.env_files, optarg);
                break;
            case OPT_ANSI:
                if (strcmp(optarg, "never") && strcmp(optarg, "always") && strcmp(optarg, "auto")) {
                    fprintf(stderr, "berth: --ansi takes never, always or auto, not '%s'\n",
                            optarg);
                    ctx_done(&ctx);
                    return CLI_EXIT_USAGE;
                }
                ctx.ansi = optarg;
                break;
            case OPT_LOG_LEVEL:
                if (!parse_log_level(optarg)) {
                    fprintf(stderr, "berth: --log-level takes error, warn, info or debug\n");
                    ctx_done(&ctx);
                    return CLI_EXIT_USAGE;
                }
                break;
            case 'v': {
                char *vargv[] = {"version", NULL};
                optind = 1;
                int r = cli_cmd_version(&ctx, 1, vargv);
                ctx_done(&ctx);
                return r;
            }
            case 'h':
                usage(stdout);
                ctx_done(&ctx);
                return CLI_EXIT_OK;
            default:
                usage(stderr);
                ctx_done(&ctx);
                return CLI_EXIT_USAGE;
            }
        }
        more = !compose_word && optind < argc && strcmp(argv[optind], "compose") == 0;
        if (more) {
            compose_word = true;
            optind++;
        }
    }

    if (strcmp(ctx.ansi, "always") == 0)
        ctx.color = true;
    else if (strcmp(ctx.ansi, "never") == 0 || getenv("NO_COLOR"))
        ctx.color = false;
    else
        ctx.color = isatty(STDOUT_FILENO);

    if (optind >= argc) {
        usage(stderr);
        ctx_done(&ctx);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < BT_ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* full re-initialisation of getopt for the command */
            int r = commands[i].fn(&ctx, sub_argc, sub_argv);
            ctx_done(&ctx);
            return r;
        }
    }
    fprintf(stderr, "berth: unknown command '%s'\nRun 'berth --help' for the list.\n", name);
    ctx_done(&ctx);
    return CLI_EXIT_USAGE;
}

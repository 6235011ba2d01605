/* cli: the berth command. main.c parses the global options shared by every
 * command (the Compose project options among them) and dispatches to one
 * function per command; each command family lives in its own file. */
#pragma once

#include <stdbool.h>

#include "common/common.h"

/* Global options, as `docker compose` takes them before the command. */
struct cli_ctx {
    char **files;         /* -f, repeatable; "-" is stdin */
    char *project_name;   /* -p */
    char *project_dir;    /* --project-directory */
    char **profiles;      /* --profile, repeatable */
    char **env_files;     /* --env-file, repeatable */
    const char *ansi;     /* --ansi never|always|auto */
    bool color;           /* resolved from --ansi, NO_COLOR and isatty */
    const char *progname; /* argv[0] as invoked */
};

/* A command: parses its own argv (argv[0] is the command name) and returns
 * the process exit code. Errors are consumed (printed) inside. */
typedef int (*cli_command_fn)(struct cli_ctx *ctx, int argc, char **argv);

struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
};

/* Exit codes as docker compose uses them. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

/* Prints "berth: <context>: <message>" and frees the error; returns 1. */
int cli_fail(struct bt_err **err, const char *context);
/* Prints a usage error for a command and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) BT_PRINTF(2, 3);
/* Prints "WARNING! <what>" and Docker's "Are you sure you want to
 * continue? [y/N]" prompt; true only when the answer starts with y or Y. */
bool cli_confirm(const char *fmt, ...) BT_PRINTF(1, 2);

int cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_config(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_volume(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_runtime(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_container(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv);

/* cmd-image.c */
int cli_cmd_images(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_image(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rmi(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tag(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_load(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_save(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_import(struct cli_ctx *ctx, int argc, char **argv);

/* cmd-system.c */
int cli_cmd_system(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-inspect.c */
int cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv);
struct bt_buf;
/* Renders the Go-template forms scripts use with inspect: text around
 * {{.A.B}}, {{json .A}} and {{json .}}; a missing field is <no value>. */
int cli_template_render(const char *tmpl, json_t *obj, struct bt_buf *out, struct bt_err **err);
/* engine_container_inspect plus Docker's NetworkSettings. New reference. */
json_t *cli_container_inspect_json(const char *id, struct bt_err **err);
/* cmd-registry.c */
int cli_cmd_pull(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_push(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_login(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_logout(struct cli_ctx *ctx, int argc, char **argv);

/* cmd-compose-misc.c, shared by the compose commands of cmd-compose-*.c */
struct compose_project;
struct compose_container;
/* Loads the project from the global options and checks that the named
 * services exist; *project (optional, caller owns) is NULL when only `-p`
 * was given and no compose file exists. *name gets the project name. */
int cli_compose_open(struct cli_ctx *ctx, char *const *services, struct compose_project **project,
                     char **name, struct bt_err **err);
/* Whether c is one of services (all when NULL or empty) and has number
 * index (any when index <= 0). */
bool cli_container_selected(const struct compose_container *c, char *const *services, int index);

/* cmd-compose-logs.c, cmd-compose-exec.c, cmd-compose-misc.c */
int cli_cmd_compose_logs(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_exec(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_run(struct cli_ctx *ctx, int argc, char **argv);
/* Prints a container's output as it comes, without prefix, until it stops. */
int cli_logs_attach(const char *id, const char *name, struct bt_err **err);
struct cli_logs_attach_opts {
    bool new_only;            /* only what comes from now on (attach), not the past */
    bool no_sig_proxy;        /* Ctrl-C, SIGTERM, SIGHUP end following (interrupted
                                 is set) instead of going to the container */
    bool (*stop)(void *data); /* polled while following: true ends it */
    void *stop_data;
    bool interrupted; /* out */
};
int cli_logs_attach_opts(const char *id, const char *name, struct cli_logs_attach_opts *o,
                         struct bt_err **err);
int cli_cmd_compose_top(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_port(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_images(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_pull(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-build.c */
int cli_cmd_compose_build(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_image_build(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_push(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_events(struct cli_ctx *ctx, int argc, char **argv);

/* cmd-compose-lifecycle.c, cmd-compose-ps.c */
int cli_cmd_compose_up(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_down(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_start(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_stop(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_restart(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_kill(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_rm(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_pause(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_unpause(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_wait(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_ps(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_compose_ls(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-compose-cp.c: berth cp and berth container cp */
int cli_cmd_compose_cp(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_container_cp(int argc, char **argv);
/* cmd-compose-scale.c */
int cli_cmd_compose_scale(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-compose-attach.c */
int cli_cmd_compose_attach(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-compose-stats.c */
int cli_cmd_compose_stats(struct cli_ctx *ctx, int argc, char **argv);

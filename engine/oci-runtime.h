/* engine: the OCI runtime commands (berth runtime ...), their state under
 * RUNROOT/runtime/ID, and helpers shared with the monitor and the CLI. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

struct engine_runtime_opts {
    const char *bundle;         /* directory with config.json; NULL: "." */
    const char *console_socket; /* unix socket that receives the pty master */
    const char *pid_file;       /* written with the init's pid */
    bool detach;                /* run: return once started */
};

struct engine_runtime_exec_opts {
    char *const *args; /* NULL: the spec's process.args */
    char *const *env;  /* extra KEY=VALUE */
    const char *cwd;
    const char *user; /* "uid[:gid]" or a name from the rootfs */
    bool tty;
    bool detach;
    const char *pid_file;
};

/* RUNROOT and ROOT, from BERTH_RUNROOT / BERTH_ROOT (borrowed). */
const char *engine_runroot(void);
const char *engine_root(void);

int engine_runtime_create(const char *id, const struct engine_runtime_opts *o, struct bt_err **err);
int engine_runtime_start(const char *id, struct bt_err **err);
/* The state as `crun state` prints it; caller owns. */
json_t *engine_runtime_state(const char *id, struct bt_err **err);
int engine_runtime_kill(const char *id, int sig, bool all, struct bt_err **err);
int engine_runtime_delete(const char *id, bool force, struct bt_err **err);
/* Returns the container's exit code (0..255) in the foreground, 0 detached. */
int engine_runtime_run(const char *id, const struct engine_runtime_opts *o, struct bt_err **err);
int engine_runtime_exec(const char *id, const struct engine_runtime_exec_opts *o,
                        struct bt_err **err);

/* Waits for pid while forwarding signals and proxying a pty (master >= 0);
 * returns the exit code (128+signal when killed). */
int engine_foreground_wait(pid_t pid, int pty_master, struct bt_err **err);

/* "TERM", "SIGTERM", "15" -> 15; -EINVAL when unknown. */
int engine_signal_parse(const char *s, int *sig);
uint64_t engine_pid_starttime(pid_t pid);
bool engine_pid_alive(pid_t pid, uint64_t starttime);
char *engine_time_now_rfc3339(void);

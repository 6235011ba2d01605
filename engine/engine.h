/* engine: containers — the OCI runtime core, cgroups, the per-container
 * monitor and the container lifecycle.
 *
 * Layers, bottom up:
 *   - The runtime core runs one OCI runtime-spec bundle (config.json + rootfs):
 *     engine_bundle_load() parses the spec into a plan, engine_init_create()
 *     clones the container's init with its namespaces, mounts, cgroup, user,
 *     capabilities, seccomp filter and rlimits, stopped just before execve;
 *     engine_init_start() lets it exec. engine_process_exec() runs another
 *     process inside a running container. No libuv here.
 *   - berth-monitor (engine/monitor.c) supervises one container.
 *   - The container API (engine_container_*) manages ROOT/containers/ID.
 *
 * Ownership: *_new / *_load return owned objects freed with the matching
 * *_free (which accepts NULL); `const char *` arguments are borrowed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

struct rt_spec;
struct rt_cgroup;

/* ---- OCI bundles ---- */

/* Loads BUNDLE/config.json; bundle may be relative to the working directory. */
struct rt_spec *engine_bundle_load(const char *bundle, struct bt_err **err);
/* Parses a config.json document held in memory (bundle: absolute dir). */
struct rt_spec *engine_spec_parse(json_t *config, const char *bundle, struct bt_err **err);
void engine_spec_free(struct rt_spec *spec);

/* A default config.json, as `berth runtime spec` prints it: busybox-style
 * `sh`, Docker's default capabilities and seccomp profile, masked and
 * read-only paths, /proc /dev /dev/pts /dev/shm /dev/mqueue /sys and
 * /sys/fs/cgroup. rootless: map the caller's ids in a user namespace.
 * Caller owns the result. */
json_t *engine_spec_default(bool rootless);

/* Docker's default capability set as CAP_* names (caller owns) and the
 * default seccomp profile for a capability list (NULL: Docker's set). */
json_t *engine_caps_docker_default(void);
json_t *engine_seccomp_docker_default(json_t *cap_names);
/* The capability set of a container as Docker computes it: every
 * capability when privileged (additions and drops ignored); otherwise the
 * default set, replaced by all when `add` holds "ALL" or by none when `drop`
 * holds "ALL", then the named additions, then the named drops. Names take
 * or omit the CAP_ prefix, in any case. Returns CAP_* names (caller owns);
 * NULL with *err naming an unknown capability. */
json_t *engine_caps_resolve(bool privileged, char *const *add, char *const *drop,
                            struct bt_err **err);

/* ---- the container's init ---- */

struct engine_init_opts {
    const char *id;
    /* Directory of the runtime state (exec.fifo lives there); with
     * wait_fifo the init blocks on STATE_DIR/exec.fifo until someone opens
     * it for writing (`berth runtime start`). */
    const char *state_dir;
    bool wait_fifo;
    /* stdin, stdout, stderr for the init; -1 keeps the caller's. Ignored
     * when process.terminal is set: the init gets a pty (see pty_master). */
    int stdio[3];
    /* Extra environment appended to process.env (NULL-terminated), borrowed. */
    char *const *extra_env;
    /* When set, overlayfs options ("lowerdir=..,upperdir=..,workdir=..")
     * mounted on root.path inside the container's mount namespace only. */
    const char *overlay;
    /* A minimal init as PID 1 that forwards signals and reaps zombies. */
    bool init;
};

struct engine_init {
    pid_t pid;                /* in the caller's pid namespace */
    int sync_fd;              /* the caller's end of the sync socket; -1 once started */
    int pty_master;           /* process.terminal: the pty's master side; -1 otherwise */
    struct rt_cgroup *cgroup; /* owned */
};

/* Clones the init and waits until it is ready to exec (created). On failure
 * nothing is left: the child is reaped and its cgroup removed. */
int engine_init_create(const struct rt_spec *spec, const struct engine_init_opts *opts,
                       struct engine_init *out, struct bt_err **err);
/* Lets a created init exec process.args; returns once execve succeeded, or
 * the error (ENOENT/EACCES for a missing or non-executable program). */
int engine_init_start(struct engine_init *init, struct bt_err **err);
/* Releases the fds and the cgroup handle (not the cgroup itself). */
void engine_init_done(struct engine_init *init);

/* Cgroup of a created init, as JSON for state files; caller owns. */
json_t *engine_cgroup_to_json(const struct rt_cgroup *cg);
struct rt_cgroup *engine_cgroup_from_json(json_t *j, struct bt_err **err);
void engine_cgroup_free(struct rt_cgroup *cg);
/* Kills what is left in the cgroup and removes it. */
int engine_cgroup_destroy(struct rt_cgroup *cg, struct bt_err **err);
int engine_cgroup_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err);
/* Sends sig to every process of the cgroup; returns the count. */
int engine_cgroup_kill(struct rt_cgroup *cg, int sig, struct bt_err **err);
/* OOM kills counted by the kernel for this cgroup so far. */
uint64_t engine_cgroup_oom_kills(struct rt_cgroup *cg);

struct engine_cgroup_stats {
    uint64_t memory_usage; /* bytes */
    int64_t memory_limit;  /* bytes, -1 unlimited */
    uint64_t cpu_usage_ns;
    uint64_t pids_current;
    uint64_t oom_kills;
    /* Page cache the kernel may drop at once (v1 total_inactive_file, v2
     * inactive_file): Docker's memory usage is memory_usage minus this. */
    uint64_t memory_inactive_file;
    /* Bytes read from and written to block devices (v1 blkio, v2 io.stat). */
    uint64_t blkio_read, blkio_write;
    /* Bytes received and sent on the container's interfaces (loopback
     * left out), as the container sees them; only engine_container_stats
     * fills them, from its network namespace (0 when it shares the host's). */
    uint64_t net_rx, net_tx;
};

/* ---- exec: another process in a running container ---- */

struct engine_exec_opts {
    pid_t target;               /* the container's init */
    struct rt_cgroup *cgroup;   /* borrowed; joined when non-NULL */
    const struct rt_spec *spec; /* the container's spec: user, caps, seccomp, env, cwd */
    char *const *args;          /* NULL: spec's process.args */
    char *const *env;           /* extra KEY=VALUE, override the spec's */
    const char *cwd;            /* NULL: spec's */
    bool user_set;
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids; /* with user_set */
    size_t n_additional_gids;
    bool tty; /* a pty made inside the container */
    unsigned tty_width, tty_height;
    int stdio[3]; /* -1 keeps the caller's (ignored with tty) */
};

struct engine_exec {
    pid_t pid;      /* exits with the process's status (128+sig when killed) */
    int pty_master; /* with tty; -1 otherwise */
};

int engine_process_exec(const struct engine_exec_opts *opts, struct engine_exec *out,
                        struct bt_err **err);

/* Waits for pid; returns its exit code (128+signal when killed). */
int engine_wait_exit(pid_t pid, struct bt_err **err);

/* Resolves a user spec ("name", "uid", "uid:gid", "name:group") against the
 * rootfs's /etc/passwd and /etc/group (confined to the rootfs); supplementary
 * groups from /etc/group are added to *gids (caller owns). */
int engine_user_resolve(const char *rootfs, const char *user, uid_t *uid, gid_t *gid, gid_t **gids,
                        size_t *n_gids, struct bt_err **err);

/* Docker's memswap semantics -> the OCI memory.swap value (memory+swap):
 * memswap unset (0) -> twice the memory when the host has swap, otherwise no
 * swap limit is set (returns 0); -1 -> unlimited (-1); otherwise memswap,
 * which must not be below memory. */
int engine_memswap_resolve(int64_t memory, int64_t memswap, bool host_has_swap, int64_t *out,
                           struct bt_err **err);

/* ---- containers: ROOT/containers/ID ----
 *
 * A container's config.json is plain data that the layers above compose:
 *   {
 *     "id": "...",                 optional; 64 hex digits are generated
 *     "name": "demo-web-1",        optional; unique; [a-zA-Z0-9][a-zA-Z0-9_.-]*
 *     "spec": {OCI runtime spec},  required: process (args, env, cwd, user,
 *                                  capabilities, rlimits, terminal), hostname,
 *                                  mounts (OCI mount objects: destination,
 *                                  type, source, options[]), linux.namespaces
 *                                  (a network namespace to join is
 *                                  {"type":"network","path":".../netns/X"}),
 *                                  linux.resources, linux.seccomp, ...
 *     "rootfs": "/dir"             the root filesystem as a directory, or
 *             | {"lower": ["/l1", ...], "upper": "/u", "work": "/w"}
 *                                  overlay layers the engine mounts inside the
 *                                  container's own mount namespace
 *     "image": "name:tag", "labels": {...},
 *     "restart": "no" | "always" | "unless-stopped" | "on-failure[:N]",
 *     "stop_signal": "SIGTERM", "stop_timeout": 10,
 *     "healthcheck": {"test": ["CMD-SHELL", "..."] | ["CMD", ...] | ["NONE"],
 *                     "interval": 30, "timeout": 30, "retries": 3,
 *                     "start_period": 0, "start_interval": 5}   (seconds)
 *     "log": {"max_size": bytes, "max_file": n},
 *     "init": false,               a minimal init as PID 1 (reaps, forwards)
 *     "stdin_open": false,         stdin is a pipe the monitor holds until a
 *                                  client attaches (engine_container_attach)
 *     "stdin_once": true,          with stdin_open: the pipe goes to the
 *                                  first client, whose end of file is the
 *                                  container's; false: each client gets a
 *                                  copy and stdin stays open between them
 *                                  (Docker's StdinOnce)
 *     "auto_remove": false
 *   }
 * state.json follows Docker's State (Status, Running, Paused, Restarting,
 * OOMKilled, Pid, ExitCode, Error, StartedAt, FinishedAt, Health,
 * RestartCount) plus the monitor's pid and the cgroup. */

/* Validates and stores a container; returns its id (caller owns). */
char *engine_container_create(json_t *config, struct bt_err **err);
/* An id, a unique id prefix or a name -> the id (caller owns). */
char *engine_container_resolve(const char *ref, struct bt_err **err);
/* Spawns berth-monitor (path given; the CLI finds it next to itself) and
 * returns once the container runs, or with the reason it could not start. */
int engine_container_start(const char *id, const char *monitor_path, struct bt_err **err);
/* A host port socket the monitor keeps open for as long as it supervises
 * the container (restarts included), so that no other process can bind
 * the port; it closes when the monitor exits. Plain data: the engine does
 * not know networking. */
struct engine_held_port {
    int fd;          /* bound socket, borrowed: the monitor inherits a copy */
    bool proxy;      /* the monitor serves it (a userland proxy): it listens
                      * (TCP) or receives (UDP) and forwards to target */
    bool udp;        /* proxy only: a datagram socket */
    char target[46]; /* proxy only: the container's address (IPv4 or IPv6) */
    uint16_t target_port;
};
/* engine_container_start, handing ports[0..n) to the new monitor (fd
 * inheritance at exec: `--hold FD` and `--proxy FD,PROTO,ADDR,PORT`). */
int engine_container_start_held(const char *id, const char *monitor_path,
                                const struct engine_held_port *ports, size_t n,
                                struct bt_err **err);
/* Stop signal, grace period (seconds; -1: the container's stop_timeout),
 * then SIGKILL to the whole cgroup; cancels a pending restart. */
int engine_container_stop(const char *id, int timeout, struct bt_err **err);
int engine_container_kill(const char *id, int sig, struct bt_err **err);
int engine_container_pause(const char *id, bool pause, struct bt_err **err);
/* Refuses a running container unless force (which stops it first). */
int engine_container_remove(const char *id, bool force, struct bt_err **err);
/* The check engine_container_remove makes without force: fails with EBUSY
 * while the container is running, paused or restarting. */
int engine_container_check_removable(const char *id, struct bt_err **err);
/* The state, corrected when the monitor is gone; caller owns. */
json_t *engine_container_state(const char *id, struct bt_err **err);
/* Docker-like inspect object / array of them; caller owns. */
json_t *engine_container_inspect(const char *id, struct bt_err **err);
json_t *engine_container_list(bool all, struct bt_err **err);
/* The container's stdin (config "stdin_open" or a terminal) from its
 * monitor: the write end of its stdin pipe, handed out once so that closing
 * it is the container's end of file, or its pty master (write input, set the
 * window size). Returns the fd (caller owns). */
int engine_container_attach(const char *id, struct bt_err **err);
/* Blocks until the container stopped for good; returns its exit code. */
int engine_container_wait(const char *id, struct bt_err **err);

struct engine_container_exec_opts {
    char *const *args; /* required */
    char *const *env;
    const char *cwd;
    const char *user; /* name, uid, uid:gid, resolved in the container */
    bool tty;
    unsigned tty_width, tty_height;
    int stdio[3]; /* -1: the caller's */
};
int engine_container_exec(const char *id, const struct engine_container_exec_opts *o,
                          struct engine_exec *out, struct bt_err **err);

/* Resource usage of a running container, read from its cgroup. */
int engine_container_stats(const char *id, struct engine_cgroup_stats *st, struct bt_err **err);
/* The host pids of every process in a running container (caller owns,
 * 0-terminated), for `top`. */
pid_t *engine_container_pids(const char *id, struct bt_err **err);

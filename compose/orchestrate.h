/* compose: what berth does to a project — its actual state found by labels,
 * the container config of a service, the plan (desired vs actual) and the
 * executor that carries it out on one libuv loop.
 *
 * A project has no file of its own: it is the set of containers, networks
 * and volumes that carry its com.docker.compose.project label.
 *
 * Ownership: structs filled by *_load / *_new are released with the matching
 * *_done / *_free; `const char *` arguments are borrowed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

struct compose_project;
struct compose_service;
struct compose_network;

/* Compose's labels. */
#define COMPOSE_LABEL_PROJECT      "com.docker.compose.project"
#define COMPOSE_LABEL_SERVICE      "com.docker.compose.service"
#define COMPOSE_LABEL_NUMBER       "com.docker.compose.container-number"
#define COMPOSE_LABEL_HASH         "com.docker.compose.config-hash"
#define COMPOSE_LABEL_ONEOFF       "com.docker.compose.oneoff"
#define COMPOSE_LABEL_DEPENDS_ON   "com.docker.compose.depends_on"
#define COMPOSE_LABEL_VERSION      "com.docker.compose.version"
#define COMPOSE_LABEL_WORKING_DIR  "com.docker.compose.project.working_dir"
#define COMPOSE_LABEL_CONFIG_FILES "com.docker.compose.project.config_files"
#define COMPOSE_LABEL_IMAGE        "com.docker.compose.image"
#define COMPOSE_LABEL_NETWORK      "com.docker.compose.network"
#define COMPOSE_LABEL_VOLUME       "com.docker.compose.volume"
/* The version berth writes in com.docker.compose.version. */
#define COMPOSE_VERSION "2.29.0"

/* ---- actual state (actual.c) ---- */

/* One container of a project, as ps shows it. */
struct compose_container {
    char *id;
    char *name; /* demo-web-1 */
    char *project;
    char *service;
    int number;   /* container-number; 0 when missing */
    bool oneoff;  /* a `run` container */
    char *state;  /* created, running, paused, restarting, exited, dead */
    char *health; /* "", starting, healthy, unhealthy */
    int exit_code;
    char *created;     /* RFC 3339 */
    char *started_at;  /* RFC 3339 */
    char *finished_at; /* RFC 3339 */
    char *image;       /* the image as the service names it */
    char *config_hash; /* the config-hash label */
    char **command;    /* process args */
    char **ports;      /* "0.0.0.0:8080->80/tcp", sorted; never NULL */
    json_t *labels;    /* owned object */
};
void compose_container_done(struct compose_container *c);

/* The containers, networks and volumes labelled with one project. */
struct compose_actual {
    struct compose_container *containers; /* sorted by service, then number */
    size_t n_containers;
    char **networks; /* names; never NULL */
    char **volumes;  /* names; never NULL */
};
void compose_actual_done(struct compose_actual *a);

/* Loads what exists of project: with oneoff also `run` containers. A
 * project that does not exist is empty, not an error. */
int compose_actual_load(const char *project, bool oneoff, struct compose_actual *out,
                        struct bt_err **err);
/* Every project that has containers: names sorted (caller owns). */
char **compose_actual_projects(struct bt_err **err);
/* The containers of service (NULL: all) in a, in order; borrowed pointers
 * in a NULL-terminated array the caller frees (not the elements). */
struct compose_container **compose_actual_service(const struct compose_actual *a,
                                                  const char *service);

/* ---- a service's container config (container-config.c) ---- */

struct image_config;

/* Everything a container of a service is made of besides the service. */
struct compose_container_input {
    const struct compose_project *project;
    const struct compose_service *service;
    const struct image_config *image; /* the image's config and lowerdirs */
    const char *id;                   /* 64 hex digits, chosen by the caller */
    const char *name;                 /* demo-web-1 */
    int number;                       /* container-number */
    bool oneoff;
    const char *netns;         /* network namespace to join; NULL: the host's */
    const char *hosts_path;    /* bind-mounted on /etc/hosts; may be NULL */
    const char *resolv_path;   /* on /etc/resolv.conf; may be NULL */
    const char *hostname_path; /* on /etc/hostname; may be NULL */
    json_t *mounts;            /* OCI mount objects of volumes and binds; borrowed */
    const char *upper, *work;  /* the writable overlay layer */
    char *const *extra_env;    /* KEY=VALUE added last (run -e); may be NULL */
};

/* The engine's container config (engine.h) for one container of a service:
 * the OCI spec (process from entrypoint/command or the image's, env from
 * the image then the service, user, working_dir, hostname, capabilities
 * with cap_add/cap_drop, seccomp, rlimits, resources, tmpfs, read_only,
 * sysctls, devices, privileged, shm_size), restart policy, stop signal and
 * grace period, healthcheck (the service's over the image's), logging and
 * labels, com.docker.compose.* included. Caller owns. */
json_t *compose_container_config(const struct compose_container_input *in, struct bt_err **err);

/* The com.docker.compose.depends_on label value: "db:service_healthy:false,..." */
char *compose_depends_on_label(const struct compose_service *s);

/* ---- the plan: desired vs actual (plan.c, pure) ---- */

enum compose_action_kind {
    COMPOSE_ACTION_CREATE,   /* a new container (and start it) */
    COMPOSE_ACTION_START,    /* an existing, stopped container */
    COMPOSE_ACTION_RECREATE, /* remove the container and create it anew */
    COMPOSE_ACTION_RESTART,  /* a dependency with restart: true was recreated */
    COMPOSE_ACTION_KEEP,     /* running and up to date */
    COMPOSE_ACTION_REMOVE,   /* scaled down (highest numbers first) or an orphan */
};
const char *compose_action_kind_name(enum compose_action_kind k);

struct compose_action {
    enum compose_action_kind kind;
    char *service;
    int number;
    char *name;   /* the container's name (existing, or the one to create) */
    char *id;     /* the existing container; NULL for CREATE */
    char *reason; /* why: "configuration changed", "image changed", "scale 3 -> 1" */
    bool removed; /* the old container is gone already (its network was recreated) */
};

struct compose_plan {
    struct compose_action *actions; /* services in start order, then by number;
                                       removals before creations of a service */
    size_t n_actions;
    char **orphans; /* names of containers of services not in the project;
                       never NULL; removal actions too with remove_orphans */
};
void compose_plan_done(struct compose_plan *plan);

struct compose_plan_opts {
    char *const *services; /* the services to converge; NULL: every service */
    bool force_recreate, no_recreate, remove_orphans;
    /* service -> replicas ("3") from --scale; may be NULL */
    const struct compose_kvs *scale;
    /* service -> the id of the image its containers should run; a container
     * whose com.docker.compose.image label differs is recreated. NULL or a
     * missing entry: not compared. */
    const struct compose_kvs *image_ids;
    /* keys of the project's networks that up recreates because their
     * definition changed: the containers on them are recreated, whatever
     * no_recreate says (their network goes away). May be NULL. */
    char *const *networks_recreated;
};

/* How many containers a service should have: --scale, then scale, then
 * deploy.replicas, then 1. */
int compose_service_scale(const struct compose_service *s, const struct compose_kvs *scale);
/* The name of container number n of s: container_name, or PROJECT-SERVICE-N.
 * Caller owns. */
char *compose_container_name(const struct compose_project *p, const struct compose_service *s,
                             int n);

/* Why an existing network of the project no longer matches its definition
 * n in the file, given the network's `network inspect` object: NULL when it
 * matches (same com.docker.compose.config-hash label, or none, as on a
 * network made before berth recorded it; external networks always match),
 * else "configuration changed (ipam.config[0].subnet, internal)" naming
 * the keys that differ where the network shows them. Pure; caller owns. */
char *compose_network_diverged(const struct compose_network *n, json_t *inspect);

/* Decides, as Compose does, what to do to every container. Pure. */
int compose_plan_make(const struct compose_project *p, const struct compose_actual *actual,
                      const struct compose_plan_opts *opts, struct compose_plan *out,
                      struct bt_err **err);

/* ---- the executor (orchestrate.c) ----
 *
 * Each command runs on one libuv loop: services are nodes of the dependency
 * graph, a node's work (blocking engine, network and volume calls) runs in
 * libuv's thread pool as soon as its dependencies allow, so independent
 * services proceed in parallel. */

enum compose_event_status {
    COMPOSE_EVENT_WORKING,
    COMPOSE_EVENT_DONE,
    COMPOSE_EVENT_WARNING,
    COMPOSE_EVENT_ERROR,
};
/* Progress of one object ("Container", "demo-web-1", DONE, "Started").
 * Called from worker threads: it must be thread-safe. */
typedef void (*compose_event_fn)(void *data, const char *kind, const char *name,
                                 enum compose_event_status status, const char *text);

/* Progress of one layer of an image being pulled: image as the service
 * names it, layer the first 12 hex digits of its digest, text Docker's
 * word for its state ("Downloading", "Pull complete"), current/total its
 * bytes while it downloads (else 0). Called from worker threads: it must
 * be thread-safe. */
/* A layer's progress under its pull's line: kind and name are the pull's
 * ("" and the service, or "Image" and the reference). */
typedef void (*compose_layer_fn)(void *data, const char *kind, const char *name, const char *layer,
                                 enum compose_event_status status, const char *text,
                                 int64_t current, int64_t total);

/* One image to pull: image in; id (caller frees) or err out. */
struct compose_pull {
    const char *image;
    const char *service; /* the line's name, as Compose shows a pull under the
                            first service using the image; NULL: "Image REF" */
    char *id;
    struct bt_err *err;
};
/* Pulls the images in parallel, one thread-pool job each, reporting the
 * service (or "Image REF") Pulling, then Pulled or Error through event and, when layer
 * is set, each layer's progress through it (both get data). Each item's
 * own failure is in its err; fails itself only when it cannot run. */
int compose_images_pull(struct compose_pull *items, size_t n, compose_event_fn event,
                        compose_layer_fn layer, void *data, struct bt_err **err);

struct compose_up_opts {
    char *const *services; /* NULL: every service; with their dependencies
                              unless no_deps */
    bool no_deps, force_recreate, no_recreate, remove_orphans;
    bool no_start;           /* create only */
    bool renew_anon_volumes; /* -V */
    bool quiet_pull;
    bool build;       /* --build: build images of services with a build section first */
    bool no_build;    /* --no-build: never build, even a missing image */
    const char *pull; /* always|missing|never; NULL: pull_policy */
    const struct compose_kvs *scale; /* --scale */
    int timeout;                     /* -t for stopping replaced containers; -1: theirs */
    bool wait;                       /* --wait: running and healthy, or exited 0 */
    /* Set (from a signal handler) to cancel: nothing new is started, the
     * work in flight finishes, and up fails with ECANCELED. May be NULL. */
    volatile int *cancel;
    int64_t wait_timeout_ms; /* 0: none */
    compose_event_fn event;
    compose_layer_fn layer_event; /* per-layer pull progress; NULL or
                                     quiet_pull: none */
    void *event_data;
};

/* Converges the project: images, networks, volumes, then the services'
 * containers in dependency order. On failure what was made stays labelled
 * with the project, so `down` removes it. */
int compose_project_up(const struct compose_project *p, const struct compose_up_opts *o,
                       struct bt_err **err);

struct compose_down_opts {
    bool volumes;        /* -v: named volumes of the project and anonymous ones */
    bool remove_orphans; /* containers of services the project no longer has */
    const char *rmi;     /* NULL, "local" or "all" */
    int timeout;         /* -1: each container's grace period */
    compose_event_fn event;
    void *event_data;
};

/* Stops and removes the project's containers in reverse dependency order,
 * then its networks (and volumes, images as asked). p may be NULL: then
 * everything labelled with project goes. */
int compose_project_down(const char *project, const struct compose_project *p,
                         const struct compose_down_opts *o, struct bt_err **err);

enum compose_op {
    COMPOSE_OP_START,
    COMPOSE_OP_STOP,
    COMPOSE_OP_RESTART,
    COMPOSE_OP_KILL,
    COMPOSE_OP_PAUSE,
    COMPOSE_OP_UNPAUSE,
    COMPOSE_OP_REMOVE,
};

struct compose_op_opts {
    char *const *services; /* NULL: all */
    int timeout;           /* stop, restart; -1: the container's */
    const char *signal;    /* kill; NULL: SIGKILL */
    bool force;            /* rm -f: no confirmation (running containers stay) */
    bool volumes;          /* remove: their anonymous volumes */
    bool stopped_only;     /* remove: only stopped containers (default of rm) */
    compose_event_fn event;
    void *event_data;
};

/* start (dependency order), stop and remove (reverse order), restart, kill,
 * pause, unpause on the project's existing containers. */
int compose_project_op(const char *project, enum compose_op op, const struct compose_op_opts *o,
                       struct bt_err **err);

/* Removes one container of a project with everything it holds: its network
 * namespace, addresses and ports, its use of volumes and of its image, and
 * with anon_volumes its anonymous volumes. */
int compose_container_remove(const char *id, bool anon_volumes, struct bt_err **err);

/* Starts a container (engine_container_start) with its published host
 * ports bound again and handed to its monitor, which holds them while the
 * container runs and proxies the [::1] ones. EADDRINUSE, naming the port,
 * when another process took one since the container was created. */
int compose_container_start(const char *id, const char *monitor, struct bt_err **err);

/* What a container's network plumbing was made from (networks with the
 * addresses they got, published ports, DNS options), kept as "net" in its
 * config.json so that `system restore` can make it again. New reference. */
struct net_container_spec;
struct net_container_net;
json_t *compose_net_record(const struct net_container_spec *spec,
                           const struct net_container_net *cn);
/* `berth system restore`, after a host reboot: starts again every
 * container whose restart policy is always or unless-stopped and that was
 * running when the host went down (not those the user stopped), after
 * making its network namespace, addresses, ports and resolution files
 * again. Each container is reported through fn ("Restoring", "Restored" or
 * the error); the first failure is returned after trying all of them. */
int compose_system_restore(const char *monitor, compose_event_fn fn, void *data,
                           struct bt_err **err);

/* One `run` container of s, made as up makes the service's containers
 * (image pulled per pull or pull_policy, networks and volumes ensured, ports
 * and mounts as s has them) but labelled oneoff=True, without restart
 * policy, named name, with extra_env (KEY=VALUE) added last; not started.
 * s may be a copy of the project's service with run's overrides applied;
 * network_mode service:x joins x's running container. *id_out gets the id. */
int compose_service_run_create(const struct compose_project *p, const struct compose_service *s,
                               const char *name, char *const *extra_env, const char *pull,
                               char **id_out, struct bt_err **err);

/* berth-monitor next to the running executable (BERTH_MONITOR overrides). */
char *compose_monitor_path(void);

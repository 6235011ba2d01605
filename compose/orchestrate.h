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

/* compose: building the images of a project's services (`build:`), with
 * image/'s Dockerfile builder and RUN steps run by the engine.
 *
 * Ownership: option structs are borrowed; returned `char *` belong to the
 * caller. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "common/common.h"

struct compose_project;
struct compose_service;
struct image_build_opts;

struct compose_build_opts {
    char *const *services; /* NULL: every service with a build section */
    bool no_cache, pull, quiet;
    char *const *build_args; /* "K=V" or "K" (from the environment), over build.args */
    FILE *out;               /* progress; stderr when NULL */
};

/* image_build() into the default store with RUN steps run by the engine
 * (o's runner is replaced), for `berth image build`. */
int compose_dockerfile_build(const struct image_build_opts *o, char **id_out, struct bt_err **err);

/* The image a service runs: its `image:`, else PROJECT-SERVICE (as Compose
 * v2 names built images). Caller owns. */
char *compose_service_image_name(const struct compose_project *p, const struct compose_service *s);

/* Builds one service's image from its build section and names it (image
 * name plus build.tags); *id_out (optional) gets the image id. What berth
 * cannot build (remote contexts, ssh, secrets, other platforms) is refused
 * with a message naming the key. */
int compose_service_build(const struct compose_project *p, const struct compose_service *s,
                          const struct compose_build_opts *o, char **id_out, struct bt_err **err);

/* `berth build`: every selected service that has a build section. */
int compose_project_build(const struct compose_project *p, const struct compose_build_opts *o,
                          struct bt_err **err);

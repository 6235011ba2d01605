/* compose: compose files to a typed, normalised project.
 *
 * compose_project_load() runs the whole pipeline: discover the files and the
 * environment, load and interpolate each file, resolve include and extends,
 * merge, validate against the Compose Specification, apply profiles,
 * normalise into the structs below, and build the dependency graph.
 *
 * Ownership: a struct compose_project owns everything it points to;
 * compose_project_free() releases it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

/* What the user asked for: global CLI options plus the environment. */
struct compose_options {
    char *const *files;       /* -f, in order; "-" is stdin; NULL: discover */
    const char *project_name; /* -p */
    const char *project_dir;  /* --project-directory */
    char *const *profiles;    /* --profile */
    char *const *env_files;   /* --env-file */
    char *const *environ;     /* process environment; NULL means `environ` */
    const char *workdir;      /* where discovery starts; NULL means cwd */
    bool no_interpolate;      /* --no-interpolate */
    char *const *services;    /* services named on the command line */
};

struct compose_project;

struct compose_project *compose_project_load(const struct compose_options *opts,
                                             struct bt_err **err);
struct compose_project *compose_project_free(struct compose_project *p);
DEFINE_CLEANUP(struct compose_project *, compose_project_free)
#define _cleanup_project_ _cleanup_(compose_project_freep)

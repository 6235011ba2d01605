/* image: `berth build` — builds an image from a Dockerfile and a context
 * directory into the image store, with a build cache, multi-stage builds
 * and .dockerignore.
 *
 * The image module does not run containers: RUN steps go through the
 * runner the caller passes (compose/ gives one made with the engine), over
 * an overlay of the stage's layers and a fresh upper directory that then
 * becomes the step's layer.
 *
 * Ownership: everything in the option structs is borrowed. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/common.h"

struct image_store;

/* One RUN step for the runner (all borrowed). */
struct image_build_step {
    char *const *lowerdirs; /* the stage's layers, topmost first (may be empty) */
    const char *upper;      /* the step's writable layer */
    const char *work;       /* overlayfs work dir, same filesystem as upper */
    const char *rootfs;     /* an empty directory to mount the root on */
    char *const *argv;
    char *const *env; /* "K=V" */
    const char *cwd;
    uid_t uid;
    gid_t gid;
    int out_fd;      /* the step's stdout and stderr */
    bool no_network; /* a network namespace of its own (only lo) instead of the host's */
};
/* Runs a step to its end; returns its exit status (0..255, 128+signal) or
 * -errno when it could not run. */
typedef int (*image_build_run_fn)(void *data, const struct image_build_step *step,
                                  struct bt_err **err);

struct image_build_opts {
    const char *context;           /* the context directory */
    const char *dockerfile;        /* path (relative: to the context); NULL: Dockerfile */
    const char *dockerfile_inline; /* the Dockerfile text itself, instead of a file */
    char *const *build_args;       /* "K=V", or "K" to take K from the environment */
    char *const *labels;           /* "k=v", added to the image's labels */
    const char *target;            /* the stage to build; NULL: the last */
    char *const *tags;             /* names for the image (any reference form) */
    bool no_cache;                 /* run every step again */
    bool pull;                     /* pull FROM images even when present */
    bool quiet;                    /* no step lines or output, except a failing step's */
    bool no_network;               /* RUN steps without network (RUN --network overrides) */
    FILE *out;                     /* progress; stderr when NULL */
    image_build_run_fn run;        /* required for RUN */
    void *run_data;
};

/* Builds; *id_out (optional) gets the image id. A failed build stores no
 * image and no tag and leaves no temporary directory; layers of the steps
 * that succeeded stay in the build cache. */
int image_build(struct image_store *s, const struct image_build_opts *o, char **id_out,
                struct bt_err **err);

/* The only platform berth builds for: this machine's, "linux/amd64". */
const char *image_build_platform(void);

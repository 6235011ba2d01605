/* engine: copying files between a container and the host (`berth cp`,
 * `berth container cp`), with docker cp's rules.
 *
 * The container side runs in a forked child: for a running container it
 * joins the init's mount namespace (and user namespace, when it has its
 * own) and chroots to the init's root, so that volumes and bind mounts are
 * reached and no symlink can lead out; for a stopped one it mounts the
 * rootfs overlay and the bind mounts in a private mount namespace that dies
 * with it (ids mapped by hand when the container has a user namespace of
 * its own). The child and berth exchange a tar stream (libarchive) over a
 * socket; the host side refuses archive entries with '..', absolute paths
 * or symlinked parents.
 *
 * Ownership: returned `char *` belong to the caller; engine_cp_plan_done
 * releases a plan's strings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

struct engine_cp_opts {
    const char *name; /* the container as the user named it, for messages */
    bool archive;     /* -a: keep the source's uid/gid */
    bool follow_link; /* -L: follow a symlink named by SRC */
    uint64_t copied;  /* out: bytes of the tar stream that went across */
};

/* Copies src (a path in container id) to dst on the host; dst "-" writes
 * the tar stream to out_fd instead. */
int engine_cp_from_container(const char *id, const char *src, const char *dst, int out_fd,
                             struct engine_cp_opts *o, struct bt_err **err);
/* Copies src (a host path; "-" reads a tar stream, possibly compressed,
 * from in_fd) to dst in container id. */
int engine_cp_to_container(const char *id, const char *src, int in_fd, const char *dst,
                           struct engine_cp_opts *o, struct bt_err **err);

/* ---- the path rules, pure ---- */

/* docker's CONTAINER:PATH split: an absolute path, an argument without ':'
 * or one starting with '.' is local (*container NULL). Both owned. */
void engine_cp_split_arg(const char *arg, char **container, char **path);
/* A path cleaned, with the trailing "/" or "/." the user wrote kept (they
 * mean "a directory" and "its contents"); relative paths are taken against
 * base. Owned. */
char *engine_cp_path_normalize(const char *base, const char *path);
/* Whether a path ends with "/" or "/." (asserts a directory). */
bool engine_cp_path_asserts_dir(const char *path);
/* A path's directory and last entry as the archive names it: "/a/b" ->
 * "/a", "b"; "/a/b/." -> "/a/b", "."; "/" -> "/", ".". Both owned. */
void engine_cp_split_path(const char *path, char **dir, char **base);
/* An archive entry renamed from old_base to new_base when its first
 * component is old_base ("a/x" -> "b/x"); otherwise a copy. Owned. */
char *engine_cp_rebase(const char *name, const char *old_base, const char *new_base);

/* Where a copy extracts and how it renames, given the source (a directory
 * or not, its entry name) and the destination as found (docker's
 * PrepareArchiveCopy). */
struct engine_cp_plan {
    char *dir;      /* extract here */
    char *old_base; /* rename entries from this first component ... */
    char *new_base; /* ... to this one; both NULL: no renaming */
};
int engine_cp_plan_make(bool src_is_dir, const char *src_base, const char *dst, bool dst_exists,
                        bool dst_is_dir, struct engine_cp_plan *out, struct bt_err **err);
void engine_cp_plan_done(struct engine_cp_plan *p);

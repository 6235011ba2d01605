/* volumes: named and anonymous volumes, bind and tmpfs mount descriptions,
 * copy-up of image content into new volumes.
 *
 * The store lives in ROOT/volumes: one directory per volume holding
 * `volume.json` (metadata, written atomically) and `_data` (the content,
 * bind-mounted into containers). Every change is made under an exclusive
 * flock on ROOT/volumes/.lock, so concurrent berth commands see whole
 * volumes only. Names beginning with '.' are never volume names; the store
 * keeps its own files under them.
 *
 * The module meets the runtime through plain data: a struct vol_mount_request
 * (what the user asked for) becomes a struct vol_oci_mount (an OCI
 * runtime-spec mount object). It does not know containers; the caller records
 * who uses a volume with vol_volume_acquire()/vol_volume_release().
 *
 * A container's start, as the engine does it:
 *   vol_mount_resolve()   each request -> OCI mount, and the volume it names
 *   vol_volume_acquire()  each volume (makes a driver-options mount)
 *   vol_volume_copy_up()  each plan with copy_up, from the image's root
 * and its removal: vol_volume_release() or vol_container_release_all(),
 * then vol_anon_remove() for `rm -v`; `down -v` adds vol_volume_remove()
 * with the project set for the project's named volumes.
 *
 * The store lock is taken inside each call and is not reentrant: callbacks
 * (vol_user_alive_fn) must not call back into the store.
 *
 * Ownership: struct vol_volume, struct vol_oci_mount and the vectors returned
 * belong to the caller and are released with the matching *_free / *_done.
 * Label and option vectors are NULL-terminated "key=value" strings, sorted by
 * key. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct bt_err;
struct vol_store;

#define VOL_DRIVER_LOCAL "local"
/* Docker's label on anonymous volumes; berth sets it too. */
#define VOL_LABEL_ANONYMOUS "com.docker.volume.anonymous"
/* On anonymous volumes: the container path they were made for. */
#define VOL_LABEL_TARGET  "berth.volume.target"
#define VOL_LABEL_PROJECT "com.docker.compose.project"
#define VOL_LABEL_SERVICE "com.docker.compose.service"
#define VOL_LABEL_NUMBER  "com.docker.compose.container-number"

/* ---- the store ---- */

/* Opens (creating if needed) ROOT/volumes. root is BERTH_ROOT. */
struct vol_store *vol_store_open(const char *root, struct bt_err **err);
struct vol_store *vol_store_free(struct vol_store *st);
/* ROOT/volumes (borrowed). */
const char *vol_store_path(const struct vol_store *st);
/* The volume whose _data is path (ROOT/volumes/NAME/_data), as an OCI
 * mount's source names it; NULL for any other path. Caller owns. */
char *vol_store_volume_of_path(const struct vol_store *st, const char *path);

/* Tells whether a container recorded as a volume's user still exists. Set
 * by the engine, which knows containers: a user whose container is gone (it
 * was deleted by a crashed command) then no longer keeps its volumes in use
 * for rm, prune and the dangling filter. Without it every record counts. */
typedef bool (*vol_user_alive_fn)(const char *container_id, void *data);
void vol_store_set_user_check(struct vol_store *st, vol_user_alive_fn fn, void *data);

/* ---- volumes ---- */

struct vol_user {
    char *id;   /* container id */
    char *name; /* container name, for messages */
};

struct vol_volume {
    char *name;
    char *driver;     /* "local" */
    char **labels;    /* "key=value", sorted; never NULL */
    char **options;   /* driver options "key=value", sorted; never NULL */
    char *created_at; /* RFC 3339, UTC */
    char *scope;      /* "local" */
    char *mountpoint; /* ROOT/volumes/NAME/_data */
    bool anonymous;
    bool copied_up;         /* image content was copied in once */
    struct vol_user *users; /* containers using it */
    size_t n_users;
    char **external_refs; /* projects that declared it external; never NULL */
};

struct vol_volume *vol_volume_free(struct vol_volume *v);
/* Value of a label, borrowed from v; NULL when unset. */
const char *vol_volume_label(const struct vol_volume *v, const char *key);
/* Docker's `volume inspect` object (CreatedAt, Driver, Labels, Mountpoint,
 * Name, Options, Scope). */
json_t *vol_volume_to_json(const struct vol_volume *v);

/* Docker's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, and at
 * most 255 bytes. */
int vol_name_validate(const char *name, struct bt_err **err);
/* A random 64-hex name, as Docker gives anonymous volumes. */
char *vol_name_random(void);

struct vol_create_opts {
    const char *name;         /* NULL: a random 64-hex name */
    const char *driver;       /* NULL or "local" */
    char *const *labels;      /* "key=value"; may be NULL */
    char *const *driver_opts; /* "key=value": type, o, device; may be NULL */
    bool anonymous;           /* marks it (and labels it) anonymous */
};

/* Creates a volume, or returns the existing one of that name when its driver
 * matches (as `docker volume create` does; its labels and options are kept).
 * *created tells which (may be NULL). Driver options are checked here, so a
 * bad `type`/`o`/`device` fails at create, not at first use. */
int vol_volume_create(struct vol_store *st, const struct vol_create_opts *opts,
                      struct vol_volume **out, bool *created, struct bt_err **err);
/* Returns 1 and *out when the volume exists, 0 and NULL when it does not. */
int vol_volume_get(struct vol_store *st, const char *name, struct vol_volume **out,
                   struct bt_err **err);

/* Looks up a volume a compose project declares `external: true`: it must
 * exist (berth never creates it) and is remembered as external for that
 * project, so prune and a project's removal never delete it. */
int vol_volume_get_external(struct vol_store *st, const char *name, const char *project,
                            struct vol_volume **out, struct bt_err **err);

struct vol_filter {
    char **labels;     /* "key" or "key=value"; all must match */
    char **labels_not; /* label!=: "key" or "key=value"; none may match */
    char **names;      /* substrings; any may match (Docker's name= filter) */
    char **drivers;    /* exact; any may match */
    int dangling;      /* -1 any, 1 only unused, 0 only used */
};
/* Parses Docker's --filter syntax (label=, label!=, name=, driver=,
 * dangling=) into f. */
int vol_filter_add(struct vol_filter *f, const char *spec, struct bt_err **err);
void vol_filter_done(struct vol_filter *f);
bool vol_filter_match(const struct vol_filter *f, const struct vol_volume *v);

struct vol_list {
    struct vol_volume **items;
    size_t n;
};
/* Every volume matching f (NULL: all), sorted by name. */
int vol_volume_list(struct vol_store *st, const struct vol_filter *f, struct vol_list *out,
                    struct bt_err **err);
void vol_list_done(struct vol_list *l);

struct vol_rm_opts {
    /* Set by a project's `down -v`: the volume is removed only when it
     * carries this project's label and no project declared it external;
     * otherwise it is left alone and vol_volume_remove returns 0. */
    const char *project;
};
/* Removes a volume and its content. Fails with EBUSY naming the container
 * when one uses it; ENOENT when it does not exist. Returns 1 when removed. */
int vol_volume_remove(struct vol_store *st, const char *name, const struct vol_rm_opts *opts,
                      struct bt_err **err);

struct vol_prune_opts {
    bool all;                        /* named volumes too, not only anonymous ones */
    const struct vol_filter *filter; /* may be NULL */
};
/* Removes unused volumes (anonymous ones only unless opts->all), never one
 * in use or declared external. *removed lists their names (caller owns),
 * *reclaimed the bytes freed. */
int vol_volume_prune(struct vol_store *st, const struct vol_prune_opts *opts, char ***removed,
                     uint64_t *reclaimed, struct bt_err **err);

/* ---- usage ---- */

/* Records that a container uses the volume (idempotent per id). The first
 * user of a volume with driver options gets that mount made on _data. */
int vol_volume_acquire(struct vol_store *st, const char *name, const char *container_id,
                       const char *container_name, struct bt_err **err);
/* Drops a container's use; the last one out unmounts a driver-options mount.
 * A volume or user that is not there is success. */
int vol_volume_release(struct vol_store *st, const char *name, const char *container_id,
                       struct bt_err **err);
/* Drops a container's use of every volume (the container is gone). */
int vol_container_release_all(struct vol_store *st, const char *container_id, struct bt_err **err);

/* ---- anonymous volumes ---- */

/* Who an anonymous volume belongs to, so a recreated container of the same
 * service finds and keeps it. */
struct vol_anon_owner {
    const char *project;
    const char *service;
    const char *container_number; /* "1", "2", ... */
};
/* Finds the anonymous volume of owner for target, or creates one. */
int vol_anon_ensure(struct vol_store *st, const struct vol_anon_owner *owner, const char *target,
                    struct vol_volume **out, struct bt_err **err);
/* Removes the anonymous volumes of a container (`rm -v`) or, with service
 * and/or container_number NULL, of a service or a whole project (`down -v`).
 * The containers must have released them: one still in use fails with
 * EBUSY naming its user, after the others were removed. *removed (may be
 * NULL) lists the names removed; caller owns. */
int vol_anon_remove(struct vol_store *st, const struct vol_anon_owner *owner, char ***removed,
                    struct bt_err **err);

/* ---- mount descriptions ---- */

enum vol_mount_type {
    VOL_MOUNT_VOLUME, /* named, or anonymous when source is NULL/empty */
    VOL_MOUNT_BIND,
    VOL_MOUNT_TMPFS,
};

struct vol_mount_request {
    enum vol_mount_type type;
    const char *source; /* volume name, absolute host path, or NULL */
    const char *target; /* absolute path in the container */
    bool read_only;
    /* Bind: short syntax ("/a:/b") creates a missing host directory, long
     * syntax only when create_host_path is set. */
    bool long_syntax;
    bool create_host_path;
    const char *propagation; /* bind: [r]private, [r]shared, [r]slave; NULL: rprivate */
    const char *selinux;     /* "z", "Z" or NULL: accepted, no relabelling */
    bool nocopy;             /* volume: skip copy-up */
    /* volume: mount only this directory of the volume (compose's
     * volume.subpath). Relative, without '..'; it must exist, and symlinks
     * in it resolve inside the volume. No copy-up is done for it. */
    const char *subpath;
    uint64_t tmpfs_size; /* bytes, 0: unlimited (kernel default) */
    uint32_t tmpfs_mode; /* 0: default 1777 */
    bool tmpfs_mode_set;
    char **tmpfs_options; /* extra tmpfs options ("exec", "uid=1000"); may be NULL */
};

/* Releases the strings a request parser allocated (source, target,
 * propagation, selinux and tmpfs_options are then owned by the request). */
void vol_mount_request_done(struct vol_mount_request *req);

/* Parses Docker's short syntax: "[SOURCE:]TARGET[:MODE]" with MODE a comma
 * list of ro, rw, z, Z, nocopy, [r]private, [r]shared, [r]slave. A source
 * beginning with '/' is a bind, anything else a volume name; relative and
 * '~' paths must have been made absolute by the caller. The strings in req
 * are owned by it (vol_mount_request_done). */
int vol_mount_parse_short(const char *spec, struct vol_mount_request *req, struct bt_err **err);
/* Parses a tmpfs entry as `tmpfs:` and --tmpfs take it:
 * "TARGET[:OPTIONS]" with size=, mode= and mount options. */
int vol_tmpfs_parse(const char *spec, struct vol_mount_request *req, struct bt_err **err);
/* Parses a size such as 64m, 1g, 512k, 100 (bytes) as tmpfs size= takes it. */
int vol_size_parse(const char *s, uint64_t *out, struct bt_err **err);
/* Checks a request for consistency (absolute target, known propagation, ...). */
int vol_mount_request_validate(const struct vol_mount_request *req, struct bt_err **err);

/* An OCI runtime-spec mount object. */
struct vol_oci_mount {
    char *destination;
    char *type; /* "bind" or "tmpfs" */
    char *source;
    char **options;
    /* A volume subpath's bind: the volume's _data, below which the runtime
     * resolves source again when it mounts (RESOLVE_IN_ROOT), so a symlink
     * the container planted since cannot lead out. JSON key
     * "x-berth-source-root"; NULL for others. */
    char *source_root;
};
void vol_oci_mount_done(struct vol_oci_mount *m);
json_t *vol_oci_mount_to_json(const struct vol_oci_mount *m);

/* Pure: the OCI mount for req whose source has been resolved to host_source
 * (the volume's _data or the bind source; ignored for tmpfs). */
int vol_mount_build(const struct vol_mount_request *req, const char *host_source,
                    struct vol_oci_mount *out, struct bt_err **err);

/* What the engine needs to mount one request. */
struct vol_mount_plan {
    struct vol_oci_mount mount;
    char *volume; /* volume name for volume mounts (acquire/copy-up it), else NULL */
    bool copy_up; /* a volume not yet copied up and not nocopy */
};
void vol_mount_plan_done(struct vol_mount_plan *p);

/* Resolves a request against the host: creates the named volume if it does
 * not exist (or the anonymous one of owner, which may then not be NULL),
 * creates a missing bind source when the request allows it or fails with
 * "bind source path does not exist", and builds the OCI mount. A subpath is
 * resolved inside the volume with openat2(RESOLVE_IN_ROOT); the mount's
 * source is then the directory it resolved to, which never lies outside the
 * volume's _data. */
int vol_mount_resolve(struct vol_store *st, const struct vol_mount_request *req,
                      const struct vol_anon_owner *owner, struct vol_mount_plan *out,
                      struct bt_err **err);

/* ---- volumes_from ---- */

enum vol_from_kind { VOL_FROM_SERVICE, VOL_FROM_CONTAINER };
enum vol_from_mode { VOL_FROM_KEEP, VOL_FROM_RO, VOL_FROM_RW };

struct vol_volumes_from {
    enum vol_from_kind kind;
    char *name; /* service or container name; owned */
    enum vol_from_mode mode;
};
/* Parses a compose volumes_from entry: "SERVICE[:ro|rw]" or
 * "service:SERVICE[:ro|rw]" or "container:NAME[:ro|rw]". */
int vol_volumes_from_parse(const char *spec, struct vol_volumes_from *out, struct bt_err **err);
void vol_volumes_from_done(struct vol_volumes_from *f);

/* The mounts a container takes from another one's OCI mounts (src):
 * every bind and volume mount (tmpfs mounts stay the source's own, as with
 * Docker), read-only or read-write as mode says, otherwise as they were.
 * A destination listed in own (the container's own mounts) is left out:
 * its own mount wins. Volume mounts name their volume in the plan so the
 * engine acquires it; they never ask for copy-up. */
int vol_mounts_from(const struct vol_store *st, const struct vol_oci_mount *src, size_t n_src,
                    enum vol_from_mode mode, char *const *own, struct vol_mount_plan **out,
                    size_t *n_out, struct bt_err **err);
void vol_mount_plans_free(struct vol_mount_plan *plans, size_t n);

/* Fails with "duplicate mount point" when two mounts share a destination. */
int vol_mounts_check_unique(const struct vol_oci_mount *const *mounts, size_t n,
                            struct bt_err **err);

/* ---- copy-up ---- */

/* Copies the image's content at path (inside the directory image_rootfd,
 * never resolved outside it) into the volume, preserving owners, modes,
 * timestamps, xattrs, symlinks, hardlinks and device nodes, when the volume
 * is empty and has not been copied up before; then records that copy-up is
 * done. Returns 1 when content was copied, 0 when there was nothing to do.
 * A volume with driver options must have been acquired first (its mount is
 * what receives the content). */
int vol_volume_copy_up(struct vol_store *st, const char *name, int image_rootfd, const char *path,
                       struct bt_err **err);

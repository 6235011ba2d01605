/* image: the image store and everything that fills or reads it.
 *
 * References (Docker's normalisation rules), a content-addressed store under
 * ROOT/image (blobs verified on write, layers unpacked once per chain id and
 * shared, refs, image configs), layer unpacking with libarchive (whiteouts
 * converted to overlayfs form, nothing written outside the layer root),
 * docker-save / OCI-layout archives, `import` of a root filesystem, and the
 * registry client (pull, push, login).
 *
 * Ownership: structs filled by *_parse / *_get are released with their
 * *_done / *_free; `const char *` arguments are borrowed; returned `char *`
 * belong to the caller. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* ---- references ---- */

/* A normalised reference: docker.io/library/nginx:latest. */
struct image_ref {
    char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
    char *path;   /* "library/nginx" */
    char *tag;    /* NULL when only a digest was given */
    char *digest; /* "sha256:<64 hex>" or NULL */
};

/* Parses and normalises s as Docker does: a missing domain is docker.io, a
 * single docker.io path component gets "library/", a missing tag (and no
 * digest) is "latest". An invalid reference is EINVAL with a message saying
 * what is wrong. */
int image_ref_parse(const char *s, struct image_ref *out, struct bt_err **err);
void image_ref_done(struct image_ref *r);
/* "docker.io/library/nginx" */
char *image_ref_name(const struct image_ref *r);
/* "docker.io/library/nginx:latest", "...@sha256:..", or "...:tag@sha256:.." */
char *image_ref_string(const struct image_ref *r);
/* Short form users type: "nginx:latest", "user/app:1", "localhost:5000/x:y". */
char *image_ref_familiar(const struct image_ref *r);
/* Returns true when s is "sha256:" followed by 64 lowercase hex digits. */
bool image_digest_valid(const char *s);

/* ---- the store ---- */

struct image_store;

/* Opens (creating if needed) ROOT/image, ROOT being $BERTH_ROOT or
 * /var/lib/berth when root is NULL. */
struct image_store *image_store_open(const char *root, struct bt_err **err);
struct image_store *image_store_free(struct image_store *s);
DEFINE_CLEANUP(struct image_store *, image_store_free)
/* ROOT/image; borrowed. */
const char *image_store_dir(const struct image_store *s);

/* Blobs are content-addressed by "sha256:<hex>". */
bool image_blob_exists(struct image_store *s, const char *digest);
char *image_blob_path(struct image_store *s, const char *digest);
/* Stores data under digest after checking that it hashes to digest. */
int image_blob_put(struct image_store *s, const char *digest, const void *data, size_t len,
                   struct bt_err **err);
/* Stores data and returns its digest (owned) in *digest_out. */
int image_blob_put_new(struct image_store *s, const void *data, size_t len, char **digest_out,
                       struct bt_err **err);
/* Copies a file into the store. With expect set, a file that does not hash
 * to it stores nothing and fails with EBADMSG. *digest_out (optional) gets
 * the digest, *size_out (optional) the size. */
int image_blob_put_file(struct image_store *s, int fd, const char *expect, char **digest_out,
                        int64_t *size_out, struct bt_err **err);
char *image_blob_read(struct image_store *s, const char *digest, size_t *len, struct bt_err **err);

/* Streaming writer for a blob: data goes to a temp file in the store and
 * becomes visible only through image_blob_writer_commit, once its digest
 * matched. Whatever happens before commit leaves nothing behind. */
struct image_blob_writer;
struct image_blob_writer *image_blob_writer_new(struct image_store *s, struct bt_err **err);
int image_blob_writer_write(struct image_blob_writer *w, const void *data, size_t len,
                            struct bt_err **err);
int64_t image_blob_writer_size(const struct image_blob_writer *w);
/* Checks the digest (NULL: take whatever was written), renames into place
 * and frees w in every case. *digest_out (optional) gets the digest. */
int image_blob_writer_commit(struct image_blob_writer *wp, const char *expect, char **digest_out,
                             struct bt_err **err);
struct image_blob_writer *image_blob_writer_free(struct image_blob_writer *w);
DEFINE_CLEANUP(struct image_blob_writer *, image_blob_writer_free)

/* Media types. */
#define IMAGE_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define IMAGE_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define IMAGE_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define IMAGE_MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define IMAGE_MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define IMAGE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define IMAGE_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Adds an image whose manifest, config and layer blobs are already in the
 * store: checks the manifest, unpacks the layers that are not unpacked yet
 * (verifying each diff id against the config) and points each of names
 * (normalised reference strings, may be NULL) at it. *id_out (optional)
 * gets the image id (the config digest). */
int image_store_commit(struct image_store *s, const char *manifest_digest, char *const *names,
                       char **id_out, struct bt_err **err);

/* Resolves what a user typed (a reference, a full or short image id) to an
 * image id; NULL (no error) when there is no such image. */
char *image_store_resolve(struct image_store *s, const char *name, struct bt_err **err);
/* Points name (any reference form) at image id. */
int image_store_tag(struct image_store *s, const char *id, const char *name, struct bt_err **err);

/* One image as listed. */
struct image_info {
    char *id;          /* "sha256:<hex>" (config digest) */
    char *manifest;    /* manifest digest */
    char **names;      /* normalised references pointing here */
    int64_t created;   /* from the config, seconds since the epoch; 0 when unknown */
    int64_t size;      /* sum of the uncompressed layer sizes */
    int64_t added;     /* when it entered the store */
    size_t containers; /* how many containers use it */
};
void image_info_done(struct image_info *i);
/* Lists all images, newest first. */
int image_store_list(struct image_store *s, struct image_info **out, size_t *n,
                     struct bt_err **err);
void image_info_list_free(struct image_info *list, size_t n);
int image_store_info(struct image_store *s, const char *id, struct image_info *out,
                     struct bt_err **err);

/* Removes a name; when id has no names left and no container uses it (or
 * force), removes the image, and every layer and blob nothing else uses.
 * `name` may be a reference or an id (an id removes all of its names,
 * which needs force when there are several). *untagged / *deleted
 * (optional) list what happened, as docker rmi prints it. */
int image_store_remove(struct image_store *s, const char *name, bool force, char ***untagged,
                       char ***deleted, struct bt_err **err);
/* Removes images without names (all unused images when all is set) that no
 * container uses; *deleted (optional) lists their ids; *reclaimed bytes. */
int image_store_prune(struct image_store *s, bool all, char ***deleted, int64_t *reclaimed,
                      struct bt_err **err);

/* Usage hook for containers: the engine records that container_id uses
 * image id when it creates the container and releases it when the
 * container is removed. image_store_remove refuses (EBUSY) while any
 * usage remains, unless forced. */
int image_store_use(struct image_store *s, const char *id, const char *container_id,
                    struct bt_err **err);
int image_store_release(struct image_store *s, const char *id, const char *container_id,
                        struct bt_err **err);
/* Container ids using image id (owned vector, may be empty). */
char **image_store_users(struct image_store *s, const char *id);

/* ---- image config ---- */

struct image_healthcheck {
    char **test; /* ["CMD-SHELL", "..."], ["NONE"], NULL when not set */
    int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns;
    int retries;
};

/* What a container inherits from its image. */
struct image_config {
    char *id;             /* image id */
    char **env;           /* "K=V" */
    char **entrypoint;    /* NULL when unset */
    char **cmd;           /* NULL when unset */
    char *working_dir;    /* NULL when unset */
    char *user;           /* NULL when unset */
    char **exposed_ports; /* "80/tcp" */
    char **volumes;       /* "/data" */
    struct image_healthcheck healthcheck;
    char *stop_signal; /* NULL when unset */
    char **labels;     /* "k=v", sorted */
    char *os, *architecture, *variant;
    char **lowerdirs; /* unpacked layer directories, topmost first
                         (the order overlayfs's lowerdir takes) */
    char **diff_ids;  /* bottom first */
    json_t *raw;      /* the whole config document (owned) */
};
/* Parses an image config document (no lowerdirs). */
int image_config_parse(json_t *doc, struct image_config *out, struct bt_err **err);
/* The config and lowerdir list of the image `name` (reference or id). A
 * missing image is ENOENT with "No such image: name". */
int image_config_get(struct image_store *s, const char *name, struct image_config *out,
                     struct bt_err **err);
void image_config_done(struct image_config *c);

/* `image inspect` of one image: a JSON object shaped like Docker's (Id,
 * RepoTags, RepoDigests, Created, Config, Architecture, Os, Size, RootFS,
 * GraphDriver.Data.LowerDir); owned. NULL with ENOENT when missing. */
json_t *image_inspect_json(struct image_store *s, const char *name, struct bt_err **err);
/* `image history`: newest first, [{Id, Created, CreatedBy, Size, Comment,
 * EmptyLayer}]; owned. */
json_t *image_history_json(struct image_store *s, const char *name, struct bt_err **err);

/* ---- overlay ---- */

/* Mounts overlayfs at target from lowerdirs (topmost first) and an upper
 * and work dir (both NULL for a read-only mount). Uses the new mount API's
 * "lowerdir+" (Linux 6.8), which has no length limit, and falls back to
 * short symlinked names relative to the store when that is missing, so that
 * 100+ layers mount either way. */
int image_overlay_mount(struct image_store *s, char *const *lowerdirs, const char *upper,
                        const char *work, const char *target, struct bt_err **err);

/* ---- layers ---- */

/* Unpacks a layer (tar, optionally gzip or zstd compressed) read from fd
 * into the directory rootfd, converting OCI whiteouts to overlayfs ones.
 * Entries that would leave the root are refused with EPERM (".." in a
 * name or hard link target) or confined (absolute names are taken
 * relative to the root, symlinks are always resolved inside it).
 * *diff_id (optional) gets the sha256 of the uncompressed tar stream,
 * *size (optional) its length. */
int image_layer_unpack(int fd, int rootfd, char **diff_id, int64_t *size, struct bt_err **err);
/* chain id of a layer stack: chain(n) = sha256(chain(n-1) + " " + diff(n)). */
char *image_chain_id(const char *parent_chain, const char *diff_id);

/* ---- archives ---- */

/* Loads a docker-save or OCI-layout tarball (optionally compressed) from
 * fd; *loaded gets "Loaded image: name" style names (or ids). */
int image_archive_load(struct image_store *s, int fd, char ***loaded, struct bt_err **err);
/* Writes the named images to fd as a tarball that is both a docker-save
 * archive (manifest.json) and an OCI image layout (index.json). */
int image_archive_save(struct image_store *s, char *const *names, int fd, struct bt_err **err);
/* Makes a one-layer image from a root filesystem tarball (tar or tar.gz /
 * zstd) read from fd, names it (may be NULL) and returns its id. config
 * (borrowed, may be NULL) is the image's "config" object (see
 * image_config_change); message (may be NULL) its history comment. */
int image_archive_import(struct image_store *s, int fd, const char *name, json_t *config,
                         const char *message, char **id_out, struct bt_err **err);

/* ---- registry ---- */

/* The states a layer goes through in a pull, as Docker names them. */
enum image_layer_state {
    IMAGE_LAYER_WAITING,     /* "Waiting": its turn to download has not come */
    IMAGE_LAYER_EXISTS,      /* "Already exists": the store has it */
    IMAGE_LAYER_DOWNLOADING, /* "Downloading", with bytes so far and in all */
    IMAGE_LAYER_VERIFYING,   /* "Verifying Checksum" */
    IMAGE_LAYER_DOWNLOADED,  /* "Download complete" */
    IMAGE_LAYER_EXTRACTING,  /* "Extracting" */
    IMAGE_LAYER_COMPLETE,    /* "Pull complete" */
    IMAGE_LAYER_FAILED,      /* "Failed" */
};
/* Docker's word for a state ("Pull complete"); static. */
const char *image_layer_state_text(enum image_layer_state st);
/* Progress of one layer: id is the first 12 hex digits of its digest,
 * current/total its bytes while it downloads (else 0). Called from the
 * pulling thread and from the threads that unpack layers: it must be
 * thread-safe. */
typedef void (*image_layer_fn)(void *data, const char *id, enum image_layer_state st,
                               int64_t current, int64_t total);

struct image_pull_opts {
    bool quiet;           /* no progress lines */
    bool tty;             /* redraw per-layer progress lines in place */
    FILE *progress;       /* where progress goes (stderr when NULL) */
    const char *platform; /* "linux/amd64" when NULL */
    /* When set, each layer's progress goes here and nothing is printed. */
    image_layer_fn layer;
    void *layer_data;
};
/* Pulls name into the store; *id_out (optional) gets the image id. */
int image_pull(struct image_store *s, const char *name, const struct image_pull_opts *opts,
               char **id_out, struct bt_err **err);
/* Pushes the local image `name` to its registry. */
int image_push(struct image_store *s, const char *name, const struct image_pull_opts *opts,
               struct bt_err **err);
/* Checks user/password against the registry and stores them in
 * ~/.docker/config.json (DOCKER_CONFIG respected). */
int image_login(const char *registry, const char *user, const char *password, struct bt_err **err);
int image_logout(const char *registry, struct bt_err **err);

/* Applies one Dockerfile-style instruction, as `import --change` takes it
 * (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME,
 * WORKDIR), to the "config" object of an image config. */
int image_config_change(json_t *cfg, const char *change, struct bt_err **err);

/* What a service sets over its image's defaults; *_set distinguishes an
 * empty override from none. All borrowed. */
struct image_run_overrides {
    char **entrypoint;
    bool entrypoint_set;
    char **command;
    bool command_set;
    char **env;              /* "K=V", applied over the image's Env */
    const char *working_dir; /* NULL: the image's, else "/" */
    const char *user;        /* NULL: the image's, else root ("") */
};
/* The process a container starts with (all owned). */
struct image_run {
    char **argv;
    char **env;
    char *cwd;
    char *user;
};
/* Docker's rules: an overridden entrypoint drops the image's Cmd; a
 * command replaces Cmd; Env entries are replaced by key; PATH defaults to
 * the usual list; an empty argv is EINVAL. o may be NULL. */
int image_config_apply(const struct image_config *c, const struct image_run_overrides *o,
                       struct image_run *out, struct bt_err **err);
void image_run_done(struct image_run *r);

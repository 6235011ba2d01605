/* image: helpers shared by the module's files, not part of its API. */
#pragma once

#include <openssl/evp.h>

#include "image/image.h"

/* "sha256:<hex>" of a finished digest context. */
char *image_hex_digest(EVP_MD_CTX *md);
/* "sha256:<hex>" of a buffer. */
char *image_sha256_digest(const void *data, size_t len);
/* The hex part of a digest ("sha256:" stripped); borrowed from d. */
const char *image_digest_hex(const char *d);

/* flock()s ROOT/image/<name>.lock; returns the fd to close, or -errno.
 * Blobs and layers may be added under the shared "gc" lock; removing
 * anything needs it exclusive. "meta" serialises refs and image records. */
int image_store_lock(struct image_store *s, const char *name, bool exclusive, struct bt_err **err);

/* Reads and parses a JSON blob; NULL with *err set. */
json_t *image_blob_json(struct image_store *s, const char *digest, struct bt_err **err);

/* The stored record of an image (images/<hex>.json), NULL when missing. */
json_t *image_record_load(struct image_store *s, const char *id);

/* Parses a manifest document: config digest and layer descriptors. */
struct image_manifest {
    char *media_type;
    char *config_digest;
    int64_t config_size;
    struct image_desc {
        char *digest;
        char *media_type;
        int64_t size;
        char **urls;
    } * layers;
    size_t nlayers;
};
int image_manifest_parse(json_t *doc, struct image_manifest *out, struct bt_err **err);
void image_manifest_done(struct image_manifest *m);
/* true for a manifest list / OCI index. */
bool image_media_type_is_index(const char *mt);

/* Where the user's registry credentials live:
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
char *image_auth_config_path(void);

/* "2026-11-29T16:04:25Z" -> seconds; 0 when unparsable. */
int64_t image_parse_time(const char *s);

/* The short-name mount(2) path of image_overlay_mount, for kernels without
 * "lowerdir+" (and for tests); target must be absolute. */
int image_overlay_mount_legacy(struct image_store *s, char *const *lowerdirs, const char *upper,
                               const char *work, const char *target, struct bt_err **err);

/* bt_strv_sort for a vector that may be NULL (no names, no users). */
static inline void
image_strv_sort(char **v)
{
    if (v)
        bt_strv_sort(v);
}

/* Decompresses a layer only to compute its diff id and uncompressed size;
 * *filter (optional) gets libarchive's ARCHIVE_FILTER_* of the input. */
int image_layer_digest(int fd, char **diff_id, int64_t *size, int *filter, struct bt_err **err);
/* "amd64", "arm64", ... for this machine. */
const char *image_host_arch(void);
/* Picks the manifest for os/arch[/variant] from an index; NULL when none. */
json_t *image_index_pick(json_t *index, const char *platform, struct bt_err **err);
/* Now as RFC 3339 UTC. */
char *image_now_rfc3339(void);

/* Removes blobs and layers no image uses, after a failed pull, load or
 * import; best effort (waits for the exclusive gc lock). */
void image_store_gc(struct image_store *s);

/* Records that id was pulled as repo_digest ("name@sha256:..") and, when
 * it came through an index, keeps that index blob with the image. */
int image_store_add_repo_digest(struct image_store *s, const char *id, const char *repo_digest,
                                const char *index_digest, struct bt_err **err);

/* Unpacks an image's layers (blobs and diff ids bottom first, borrowed)
 * on a few threads: push(i) once blob i is in the store starts it (a
 * layer already unpacked is skipped); finish waits for all, returns the
 * first failure and frees u. */
struct image_unpacker;
struct image_unpacker *image_unpacker_new(struct image_store *s, char *const *blobs,
                                          char *const *diff_ids);
void image_unpacker_push(struct image_unpacker *u, size_t i);
/* Reports each layer it unpacks (EXTRACTING, then COMPLETE or FAILED) to
 * fn, with the layer's index, from its unpacking thread. */
void image_unpacker_on_layer(struct image_unpacker *u,
                             void (*fn)(void *data, size_t i, enum image_layer_state st),
                             void *data);
int image_unpacker_finish(struct image_unpacker *u, struct bt_err **err);

/* Unpacks layer blob `blob` (diff id `diff_id`, may be NULL) as chain id
 * `chain` on top of `parent` (NULL for a bottom layer) unless that chain
 * is unpacked already: ROOT/image/layers/<chain hex>/diff. */
int image_layer_ensure(struct image_store *s, const char *blob, const char *diff_id,
                       const char *chain, const char *parent, struct bt_err **err);

/* Sets KEY=val in the "Env" array of an image config's "config" object,
 * replacing the entry with the same key. */
void image_config_env_set(json_t *cfg, const char *key, const char *val);
/* The object cfg[key], made (empty) when missing; borrowed. */
json_t *image_config_object(json_t *cfg, const char *key);

/* Test helper: puts a synthetic image (layers, config, manifest) into a
 * store, as a pull or load would. */
#pragma once

#include "image/image-internal.h"
#include "tests/unit/image-tar.h"

struct test_layer {
    const struct tar_entry *ents;
    size_t n;
};

/* Stores the layers (gzip), a config with `config_extra` merged into its
 * "config" object (borrowed, may be NULL) and a manifest; returns the
 * manifest digest. bad_diff_id corrupts the first diff id. */
static inline char *
test_image_put(struct image_store *s, const struct test_layer *layers, size_t n,
               json_t *config_extra, bool bad_diff_id)
{
    json_t *diff_ids = json_array();
    json_t *descs = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t len, plen;
        _cleanup_free_ char *gz = tar_build(layers[i].ents, layers[i].n, ARCHIVE_FILTER_GZIP, &len);
        _cleanup_free_ char *plain =
            tar_build(layers[i].ents, layers[i].n, ARCHIVE_FILTER_NONE, &plen);
        _cleanup_free_ char *diff = image_sha256_digest(plain, plen);
        if (bad_diff_id && i == 0)
            diff[10] = diff[10] == 'a' ? 'b' : 'a';
        char *d = NULL;
        if (image_blob_put_new(s, gz, len, &d, NULL) < 0)
            abort();
        json_array_append_new(diff_ids, json_string(diff));
        json_array_append_new(descs,
                              json_pack("{s:s, s:s, s:I}", "mediaType", IMAGE_MT_OCI_LAYER_GZIP,
                                        "digest", d, "size", (json_int_t)len));
        free(d);
    }
    json_t *cfg = json_pack("{s:[s], s:[s]}", "Env", "PATH=/bin", "Cmd", "sh");
    if (config_extra)
        json_object_update(cfg, config_extra);
    _cleanup_json_ json_t *config = json_pack(
        "{s:s, s:s, s:s, s:o, s:{s:s, s:o}}", "created", "2026-01-02T03:04:05Z", "architecture",
        "amd64", "os", "linux", "config", cfg, "rootfs", "type", "layers", "diff_ids", diff_ids);
    _cleanup_free_ char *cs = json_dumps(config, JSON_COMPACT);
    char *cd = NULL;
    if (image_blob_put_new(s, cs, strlen(cs), &cd, NULL) < 0)
        abort();
    _cleanup_json_ json_t *manifest =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                  IMAGE_MT_OCI_MANIFEST, "config", "mediaType", IMAGE_MT_OCI_CONFIG, "digest", cd,
                  "size", (json_int_t)strlen(cs), "layers", descs);
    free(cd);
    _cleanup_free_ char *ms = json_dumps(manifest, JSON_COMPACT);
    char *md = NULL;
    if (image_blob_put_new(s, ms, strlen(ms), &md, NULL) < 0)
        abort();
    return md;
}

static inline size_t
test_count_dir(const char *dir)
{
    _cleanup_dir_ DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.' && !bt_str_endswith(de->d_name, ".lock"))
            n++;
    return n;
}

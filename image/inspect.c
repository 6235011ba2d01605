/* image: what `image inspect` and `image history` show, as JSON shaped
 * like Docker's so that scripts reading it keep working. */
#include <string.h>

#include "image/image-internal.h"

static json_t *
json_string_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *
layer_size_of(struct image_store *s, const char *chain)
{
    _cleanup_free_ char *p =
        xasprintf("%s/layers/%s/layer.json", image_store_dir(s), image_digest_hex(chain));
    _cleanup_json_ json_t *meta = json_load_file(p, 0, NULL);
    return json_integer(json_integer_value(json_object_get(meta, "size")));
}

json_t *
image_inspect_json(struct image_store *s, const char *name, struct bt_err **err)
{
    _cleanup_free_ char *id = image_store_resolve(s, name, err);
    if (!id) {
        if (err && *err)
            return NULL;
        return bt_err_set(err, ENOENT, "No such image: %s", name), NULL;
    }
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    _cleanup_json_ json_t *config = image_blob_json(s, id, err);
    if (!rec || !config)
        return bt_err_set(err, ENOENT, "No such image: %s", name), NULL;
    struct image_info info;
    if (image_store_info(s, id, &info, err) < 0)
        return NULL;
    json_t *tags = json_array();
    bt_strv_foreach (n, info.names) {
        struct image_ref r;
        if (image_ref_parse(n, &r, NULL) == 0) {
            json_array_append_new(tags, json_string_take(image_ref_familiar(&r)));
            image_ref_done(&r);
        }
    }
    json_t *digests = json_array();
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(rec, "repo_digests"), i, v) {
        struct image_ref r;
        if (image_ref_parse(json_string_value(v), &r, NULL) == 0) {
            json_array_append_new(digests, json_string_take(image_ref_familiar(&r)));
            image_ref_done(&r);
        }
    }
    struct image_config c;
    _cleanup_free_ char *lowers = NULL;
    if (image_config_get(s, id, &c, NULL) == 0) {
        lowers = bt_strv_join(c.lowerdirs, ":");
        image_config_done(&c);
    }
    json_t *cfg = json_object_get(config, "config");
    json_t *out =
        json_pack("{s:s, s:o, s:o, s:s, s:O, s:s, s:s, s:I, s:{s:s, s:O}, s:{s:s, s:{s:s}},"
                  " s:{s:s}}",
                  "Id", id, "RepoTags", tags, "RepoDigests", digests, "Created",
                  bt_json_str(config, "created") ? bt_json_str(config, "created") : "", "Config",
                  cfg ? cfg : json_null(), "Architecture",
                  bt_json_str(config, "architecture") ? bt_json_str(config, "architecture") : "",
                  "Os", bt_json_str(config, "os") ? bt_json_str(config, "os") : "", "Size",
                  (json_int_t)info.size, "RootFS", "Type", "layers", "Layers",
                  json_object_get(json_object_get(config, "rootfs"), "diff_ids") ?: json_array(),
                  "GraphDriver", "Name", "overlay", "Data", "LowerDir", lowers ? lowers : "",
                  "Metadata", "Manifest", info.manifest);
    json_t *extra;
    if ((extra = json_object_get(config, "variant")))
        json_object_set(out, "Variant", extra);
    if ((extra = json_object_get(config, "author")))
        json_object_set(out, "Author", extra);
    if ((extra = json_object_get(config, "comment")))
        json_object_set(out, "Comment", extra);
    json_object_set_new(out, "Containers", json_integer((json_int_t)info.containers));
    image_info_done(&info);
    return out;
}

json_t *
image_history_json(struct image_store *s, const char *name, struct bt_err **err)
{
    _cleanup_free_ char *id = image_store_resolve(s, name, err);
    if (!id) {
        if (err && *err)
            return NULL;
        return bt_err_set(err, ENOENT, "No such image: %s", name), NULL;
    }
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    _cleanup_json_ json_t *config = image_blob_json(s, id, err);
    if (!rec || !config)
        return bt_err_set(err, ENOENT, "No such image: %s", name), NULL;
    json_t *layers = json_object_get(rec, "layers");
    json_t *hist = json_object_get(config, "history");
    json_t *out = json_array();
    size_t li = 0;
    size_t i;
    json_t *h;
    /* Each history entry that is not an empty layer owns the next layer. */
    json_array_foreach (hist, i, h) {
        bool empty = json_is_true(json_object_get(h, "empty_layer"));
        json_t *size = json_integer(0);
        if (!empty && li < json_array_size(layers)) {
            json_decref(size);
            size = layer_size_of(s, bt_json_str(json_array_get(layers, li), "chain_id"));
            li++;
        }
        const char *created = bt_json_str(h, "created");
        json_array_insert_new(
            out, 0,
            json_pack("{s:s, s:I, s:s, s:o, s:s, s:b}", "Id", "<missing>", "Created",
                      (json_int_t)image_parse_time(created), "CreatedBy",
                      bt_json_str(h, "created_by") ? bt_json_str(h, "created_by") : "", "Size",
                      size, "Comment", bt_json_str(h, "comment") ? bt_json_str(h, "comment") : "",
                      "EmptyLayer", empty));
    }
    /* Layers without history entries still show up. */
    for (; li < json_array_size(layers); li++)
        json_array_insert_new(
            out, 0,
            json_pack("{s:s, s:I, s:s, s:o, s:s, s:b}", "Id", "<missing>", "Created",
                      (json_int_t)image_parse_time(bt_json_str(config, "created")), "CreatedBy", "",
                      "Size", layer_size_of(s, bt_json_str(json_array_get(layers, li), "chain_id")),
                      "Comment", "", "EmptyLayer", false));
    if (json_array_size(out) > 0)
        json_object_set_new(json_array_get(out, 0), "Id", json_string(id));
    return out;
}

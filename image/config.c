/* image: the image config a container inherits, and its overlay lowerdirs. */
#include <string.h>

#include "image/image-internal.h"

static char **
strv_from_json(json_t *arr)
{
    if (!json_is_array(arr))
        return NULL;
    char **v = xcalloc(1, sizeof(char *)); /* an empty array stays non-NULL */
    size_t i;
    json_t *s;
    json_array_foreach (arr, i, s) {
        if (json_is_string(s))
            v = bt_strv_push(v, json_string_value(s));
    }
    return v;
}

/* {"80/tcp": {}} -> ["80/tcp"], sorted */
static char **
strv_from_keys(json_t *obj)
{
    char **v = NULL;
    const char *k;
    json_t *val;
    json_object_foreach (obj, k, val) {
        v = bt_strv_push(v, k);
    }
    image_strv_sort(v);
    return v;
}

static char *
dup_nonempty(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

void
image_config_done(struct image_config *c)
{
    free(c->id);
    bt_strv_free(c->env);
    bt_strv_free(c->entrypoint);
    bt_strv_free(c->cmd);
    free(c->working_dir);
    free(c->user);
    bt_strv_free(c->exposed_ports);
    bt_strv_free(c->volumes);
    bt_strv_free(c->healthcheck.test);
    free(c->stop_signal);
    bt_strv_free(c->labels);
    free(c->os);
    free(c->architecture);
    free(c->variant);
    bt_strv_free(c->lowerdirs);
    bt_strv_free(c->diff_ids);
    if (c->raw)
        json_decref(c->raw);
    *c = (struct image_config){0};
}

int
image_config_parse(json_t *doc, struct image_config *out, struct bt_err **err)
{
    *out = (struct image_config){0};
    if (!json_is_object(doc))
        return bt_err_set(err, EINVAL, "image config is not a JSON object");
    json_t *c = json_object_get(doc, "config");
    if (c && !json_is_object(c) && !json_is_null(c))
        return bt_err_set(err, EINVAL, "image config: 'config' is not an object");
    out->env = strv_from_json(json_object_get(c, "Env"));
    out->entrypoint = strv_from_json(json_object_get(c, "Entrypoint"));
    out->cmd = strv_from_json(json_object_get(c, "Cmd"));
    out->working_dir = dup_nonempty(bt_json_str(c, "WorkingDir"));
    out->user = dup_nonempty(bt_json_str(c, "User"));
    out->exposed_ports = strv_from_keys(json_object_get(c, "ExposedPorts"));
    out->volumes = strv_from_keys(json_object_get(c, "Volumes"));
    out->stop_signal = dup_nonempty(bt_json_str(c, "StopSignal"));
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(c, "Labels"), k, v) {
        out->labels = bt_strv_push_take(
            out->labels, xasprintf("%s=%s", k, json_is_string(v) ? json_string_value(v) : ""));
    }
    image_strv_sort(out->labels);
    json_t *hc = json_object_get(c, "Healthcheck");
    if (json_is_object(hc)) {
        out->healthcheck.test = strv_from_json(json_object_get(hc, "Test"));
        out->healthcheck.interval_ns = json_integer_value(json_object_get(hc, "Interval"));
        out->healthcheck.timeout_ns = json_integer_value(json_object_get(hc, "Timeout"));
        out->healthcheck.start_period_ns = json_integer_value(json_object_get(hc, "StartPeriod"));
        out->healthcheck.start_interval_ns =
            json_integer_value(json_object_get(hc, "StartInterval"));
        out->healthcheck.retries = (int)json_integer_value(json_object_get(hc, "Retries"));
    }
    out->os = dup_nonempty(bt_json_str(doc, "os"));
    out->architecture = dup_nonempty(bt_json_str(doc, "architecture"));
    out->variant = dup_nonempty(bt_json_str(doc, "variant"));
    size_t i;
    json_array_foreach (json_object_get(json_object_get(doc, "rootfs"), "diff_ids"), i, v) {
        if (!image_digest_valid(json_string_value(v))) {
            image_config_done(out);
            return bt_err_set(err, EINVAL, "image config: diff id %zu is not a sha256 digest", i);
        }
        out->diff_ids = bt_strv_push(out->diff_ids, json_string_value(v));
    }
    out->raw = json_incref(doc);
    return 0;
}

int
image_config_get(struct image_store *s, const char *name, struct image_config *out,
                 struct bt_err **err)
{
    *out = (struct image_config){0};
    _cleanup_free_ char *id = image_store_resolve(s, name, err);
    if (!id) {
        if (err && *err)
            return bt_err_ret(err);
        return bt_err_set(err, ENOENT, "No such image: %s", name);
    }
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    if (!rec)
        return bt_err_set(err, ENOENT, "No such image: %s", name);
    _cleanup_json_ json_t *doc = image_blob_json(s, id, err);
    if (!doc)
        return bt_err_ret(err);
    int r = image_config_parse(doc, out, err);
    if (r < 0)
        return r;
    out->id = TAKE_PTR(id);
    json_t *layers = json_object_get(rec, "layers");
    for (size_t i = json_array_size(layers); i > 0; i--) {
        const char *chain = bt_json_str(json_array_get(layers, i - 1), "chain_id");
        if (!image_digest_valid(chain)) {
            image_config_done(out);
            return bt_err_set(err, EINVAL, "image %s: record has a bad layer", name);
        }
        out->lowerdirs =
            bt_strv_push_take(out->lowerdirs, xasprintf("%s/layers/%s/diff", image_store_dir(s),
                                                        image_digest_hex(chain)));
    }
    return 0;
}

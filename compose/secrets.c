/* Secrets and configs without a cluster store: sources checked before up,
 * content materialised per container under RUNROOT/containers/<id>/secrets/
 * (the engine's run directory of that container, so that removing the
 * container by any path, `berth container rm` included, removes them too),
 * read-only bind mounts at the targets, and a hash of their content. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/common.h"
#include "compose/compose.h"
#include "compose/secrets-internal.h"

static const char *
runroot(void)
{
    const char *r = getenv("BERTH_RUNROOT");
    return r && r[0] ? r : "/run/berth";
}

static char *
container_rundir(const char *container_id)
{
    return xasprintf("%s/containers/%s", runroot(), container_id);
}

static char *
secrets_dir(const char *container_id)
{
    return xasprintf("%s/containers/%s/secrets", runroot(), container_id);
}

static const char *
kind_name(bool secret)
{
    return secret ? "secret" : "config";
}

static const struct compose_file_object *
object_find(const struct compose_project *p, const char *key, bool secret)
{
    const struct compose_file_object *o = secret ? p->secrets : p->configs;
    size_t n = secret ? p->n_secrets : p->n_configs;
    for (size_t i = 0; i < n; i++)
        if (strcmp(o[i].key, key) == 0)
            return &o[i];
    return NULL;
}

static const char *
env_lookup(const struct compose_project *p, const char *name)
{
    size_t len = strlen(name);
    bt_strv_foreach (kv, p->environment)
        if (strncmp(kv, name, len) == 0 && kv[len] == '=')
            return kv + len + 1;
    return NULL;
}

char *
compose_secret_target(const struct compose_file_ref *ref, bool secret)
{
    if (!ref->target || !ref->target[0])
        return secret ? xasprintf("/run/secrets/%s", ref->source) : xasprintf("/%s", ref->source);
    if (ref->target[0] == '/')
        return bt_path_clean(ref->target);
    return bt_path_absolute(secret ? "/run/secrets" : "/", ref->target);
}

/* Whether the source of o can be delivered; the error names it. */
static int
object_check(const struct compose_project *p, const struct compose_file_object *o, bool secret,
             struct bt_err **err)
{
    if (o->external)
        return bt_err_set(err, ENOTSUP,
                          "%s '%s': %ss.%s.external: berth has no cluster store to find '%s' "
                          "in; give it a file%s or environment source",
                          kind_name(secret), o->key, kind_name(secret), o->key,
                          o->name ? o->name : o->key, secret ? "" : ", content");
    if (o->file) {
        struct stat st;
        if (stat(o->file, &st) < 0)
            return bt_err_errno(err, errno, "%s '%s': file %s", kind_name(secret), o->key, o->file);
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            return bt_err_set(err, EINVAL, "%s '%s': %s is neither a file nor a directory",
                              kind_name(secret), o->key, o->file);
        if (access(o->file, R_OK) < 0)
            return bt_err_errno(err, errno, "%s '%s': file %s", kind_name(secret), o->key, o->file);
    } else if (o->environment) {
        if (!env_lookup(p, o->environment))
            return bt_err_set(err, ENOENT, "%s '%s': environment variable %s is not set",
                              kind_name(secret), o->key, o->environment);
    } else if (!o->content) {
        return bt_err_set(err, EINVAL, "%s '%s' has no source", kind_name(secret), o->key);
    }
    return 0;
}

static int
refs_check(const struct compose_project *p, const struct compose_service *s, bool secret,
           struct bt_err **err)
{
    const struct compose_file_ref *refs = secret ? s->secrets : s->configs;
    size_t n = secret ? s->n_secrets : s->n_configs;
    for (size_t i = 0; i < n; i++) {
        const struct compose_file_object *o = object_find(p, refs[i].source, secret);
        if (!o)
            return bt_err_set(err, ENOENT, "service '%s' refers to undefined %s '%s'", s->name,
                              kind_name(secret), refs[i].source);
        if (object_check(p, o, secret, err) < 0) {
            bt_err_prefix(err, "service '%s'", s->name);
            return bt_err_ret(err);
        }
        if (o->file && bt_path_is_dir(o->file) &&
            (refs[i].uid || refs[i].gid || refs[i].mode != COMPOSE_NO_INT))
            return bt_err_set(err, EINVAL,
                              "service '%s': %s '%s': uid, gid and mode apply to a file, and %s "
                              "is a directory",
                              s->name, kind_name(secret), o->key, o->file);
    }
    return 0;
}

int
compose_secrets_check(const struct compose_project *p, char *const *services, struct bt_err **err)
{
    for (size_t i = 0; i < p->n_services; i++) {
        const struct compose_service *s = &p->services[i];
        if (services && !bt_strv_contains(services, s->name))
            continue;
        if (refs_check(p, s, true, err) < 0 || refs_check(p, s, false, err) < 0)
            return bt_err_ret(err);
    }
    return 0;
}

static int
id_parse(const char *s, const char *what, const char *key, uid_t *out, struct bt_err **err)
{
    uint64_t v;
    if (!s) {
        *out = 0;
        return 0;
    }
    if (!bt_parse_uint64(s, &v) || v > UINT32_MAX - 1)
        return bt_err_set(err, EINVAL, "'%s': %s '%s' is not a numeric id", key, what, s);
    *out = (uid_t)v;
    return 0;
}

static json_t *
mount_ro(const char *dest, const char *src)
{
    return json_pack("{s:s,s:s,s:s,s:[s,s,s,s,s]}", "destination", dest, "type", "bind", "source",
                     src, "options", "rbind", "rprivate", "ro", "nosuid", "nodev");
}

/* One reference: the mount, with content written under dir when needed. */
static int
ref_mount(const struct compose_project *p, const struct compose_file_ref *ref, bool secret,
          size_t index, const char *dir, json_t *mounts, struct bt_err **err)
{
    const struct compose_file_object *o = object_find(p, ref->source, secret);
    if (!o)
        return bt_err_set(err, ENOENT, "undefined %s '%s'", kind_name(secret), ref->source);
    if (object_check(p, o, secret, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *target = compose_secret_target(ref, secret);
    if (strcmp(target, "/") == 0)
        return bt_err_set(err, EINVAL, "%s '%s': target '/' is not a file", kind_name(secret),
                          ref->source);
    bool own = ref->uid || ref->gid || ref->mode != COMPOSE_NO_INT;
    if (o->file && (!own || bt_path_is_dir(o->file))) {
        /* as it is on the host, read-only */
        json_array_append_new(mounts, mount_ro(target, o->file));
        return 0;
    }
    uid_t uid = 0, gid = 0;
    if (id_parse(ref->uid, "uid", ref->source, &uid, err) < 0 ||
        id_parse(ref->gid, "gid", ref->source, &gid, err) < 0)
        return bt_err_ret(err);
    mode_t mode = ref->mode != COMPOSE_NO_INT
                      ? (mode_t)(ref->mode & 07777)
                      : (secret ? COMPOSE_SECRET_MODE_DEFAULT : COMPOSE_CONFIG_MODE_DEFAULT);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    const char *text;
    if (o->file) {
        data = bt_file_read_all(o->file, &len, err);
        if (!data)
            return bt_err_ret(err);
        text = data;
    } else {
        text = o->environment ? env_lookup(p, o->environment) : o->content;
        len = strlen(text);
    }
    _cleanup_free_ char *name = xasprintf("%s-%zu-%s", secret ? "secret" : "config", index, o->key);
    _cleanup_free_ char *path = bt_path_join(dir, name);
    if (bt_file_write_atomic(path, text, len, mode, err) < 0)
        return bt_err_ret(err);
    if (lchown(path, uid, gid) < 0)
        return bt_err_errno(err, errno, "chown %s to %u:%u", path, (unsigned)uid, (unsigned)gid);
    /* the owner change clears set-id bits: apply the mode once more */
    if (chmod(path, mode) < 0)
        return bt_err_errno(err, errno, "chmod %s", path);
    json_array_append_new(mounts, mount_ro(target, path));
    return 0;
}

int
compose_secrets_mounts(const struct compose_project *p, const struct compose_service *s,
                       const char *container_id, json_t *mounts, struct bt_err **err)
{
    if (!s->n_secrets && !s->n_configs)
        return 0;
    _cleanup_free_ char *dir = secrets_dir(container_id);
    if (bt_mkdir_p(dir, 0700, err) < 0)
        return bt_err_ret(err);
    int rc = 0;
    size_t before = json_array_size(mounts);
    for (int k = 0; k < 2 && rc >= 0; k++) {
        bool secret = k == 0;
        const struct compose_file_ref *refs = secret ? s->secrets : s->configs;
        size_t n = secret ? s->n_secrets : s->n_configs;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            rc = ref_mount(p, &refs[i], secret, i, dir, mounts, err);
            if (rc < 0)
                bt_err_prefix(err, "service '%s'", s->name);
        }
    }
    if (rc < 0) {
        while (json_array_size(mounts) > before)
            json_array_remove(mounts, json_array_size(mounts) - 1);
        bt_rm_rf(dir, NULL);
        _cleanup_free_ char *rundir = container_rundir(container_id);
        (void)rmdir(rundir); /* only when the container was not made yet */
    }
    return rc;
}

int
compose_secrets_cleanup(const char *container_id, struct bt_err **err)
{
    if (!container_id || !container_id[0] || strchr(container_id, '/') ||
        strcmp(container_id, "..") == 0 || strcmp(container_id, ".") == 0)
        return bt_err_set(err, EINVAL, "bad container id '%s'", container_id ? container_id : "");
    _cleanup_free_ char *dir = secrets_dir(container_id);
    if (bt_rm_rf(dir, err) < 0)
        return bt_err_ret(err);
    /* A container that was never created leaves its run directory empty;
     * a live one still holds its monitor's files, and rmdir fails. */
    _cleanup_free_ char *rundir = container_rundir(container_id);
    (void)rmdir(rundir);
    return 0;
}

static void
hash_update(EVP_MD_CTX *ctx, const void *data, size_t len)
{
    if (!EVP_DigestUpdate(ctx, data, len))
        abort(); /* fails only without memory */
}

static void
hash_str(EVP_MD_CTX *ctx, const char *s)
{
    hash_update(ctx, s, strlen(s) + 1);
}

static void
hash_refs(EVP_MD_CTX *ctx, const struct compose_project *p, const struct compose_service *s,
          bool secret)
{
    const struct compose_file_ref *refs = secret ? s->secrets : s->configs;
    size_t n = secret ? s->n_secrets : s->n_configs;
    for (size_t i = 0; i < n; i++) {
        const struct compose_file_object *o = object_find(p, refs[i].source, secret);
        hash_str(ctx, kind_name(secret));
        hash_str(ctx, refs[i].source);
        if (!o) {
            hash_str(ctx, "undefined");
        } else if (o->file) {
            hash_str(ctx, "file");
            hash_str(ctx, o->file);
            size_t len = 0;
            _cleanup_free_ char *data =
                bt_path_is_dir(o->file) ? NULL : bt_file_read_all(o->file, &len, NULL);
            if (data) {
                char n_text[32];
                snprintf(n_text, sizeof(n_text), "%zu", len);
                hash_str(ctx, n_text);
                hash_update(ctx, data, len);
            } else {
                hash_str(ctx, bt_path_is_dir(o->file) ? "directory" : "unreadable");
            }
        } else if (o->environment) {
            const char *v = env_lookup(p, o->environment);
            hash_str(ctx, "environment");
            hash_str(ctx, v ? v : "");
            hash_str(ctx, v ? "set" : "unset");
        } else {
            hash_str(ctx, "content");
            hash_str(ctx, o->content ? o->content : "");
        }
    }
}

char *
compose_secrets_hash(const struct compose_project *p, const struct compose_service *s)
{
    if (!s->n_secrets && !s->n_configs)
        return NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        abort();
    hash_refs(ctx, p, s, true);
    hash_refs(ctx, p, s, false);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, md, &len))
        abort();
    EVP_MD_CTX_free(ctx);
    char *hex = xmalloc(2 * len + 1);
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

void
compose_secrets_label(json_t *labels, const struct compose_project *p,
                      const struct compose_service *s)
{
    _cleanup_free_ char *h = compose_secrets_hash(p, s);
    if (h)
        json_object_set_new(labels, COMPOSE_LABEL_SECRETS_HASH, json_string(h));
}

bool
compose_secrets_changed(const struct compose_project *p, const struct compose_service *s,
                        json_t *labels)
{
    _cleanup_free_ char *h = compose_secrets_hash(p, s);
    return !bt_streq_null(h, bt_json_str(labels, COMPOSE_LABEL_SECRETS_HASH));
}

/* Normalisation: a validated node tree becomes the typed project model.
 *
 * Short syntaxes become their long form, sizes bytes, durations
 * nanoseconds, relative paths absolute against the project directory,
 * env_file entries are read into the environment, and the defaults Compose
 * adds are added (the default network, resource names). Each error names the
 * node's file:line:col and its key path. */
#include <stdarg.h>
#include <string.h>

#include "compose/load-internal.h"
#include "compose/model-internal.h"

static int nerr(struct bt_err **err, const struct cnode *n, const char *path, const char *fmt, ...)
    BT_PRINTF(4, 5);
static int
nerr(struct bt_err **err, const struct cnode *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    _cleanup_free_ char *pos = cnode_pos(n);
    return bt_err_set(err, EINVAL, "%s: %s: %s", pos, path, msg);
}

/* Adds the position and path to an error a parser set. */
static int
nwrap(struct bt_err **err, const struct cnode *n, const char *path, int r)
{
    _cleanup_free_ char *pos = cnode_pos(n);
    bt_err_prefix(err, "%s: %s", pos, path);
    return r;
}

static char *
sub(const char *path, const char *key)
{
    return xasprintf("%s.%s", path, key);
}

static char *
idx(const char *path, size_t i)
{
    return xasprintf("%s[%zu]", path, i);
}

/* ---- scalars ---- */

static int
want_scalar(const struct cnode *n, const char *path, const char *what, struct bt_err **err)
{
    if (n->kind != CNODE_SCALAR)
        return nerr(err, n, path, "expected %s, got %s", what, cnode_kind_name(n));
    return 0;
}

static int
get_str(const struct cnode *n, const char *path, char **out, struct bt_err **err)
{
    int r = want_scalar(n, path, "a string", err);
    if (r < 0)
        return r;
    free(*out);
    *out = cnode_is_null(n) ? NULL : xstrdup(n->value);
    return 0;
}

static int
get_bool(const struct cnode *n, const char *path, bool *out, struct bt_err **err)
{
    if (cnode_get_bool(n, out))
        return 0;
    if (n->kind == CNODE_SCALAR &&
        (strcasecmp(n->value, "true") == 0 || strcasecmp(n->value, "false") == 0)) {
        *out = strcasecmp(n->value, "true") == 0;
        return 0;
    }
    return nerr(err, n, path, "expected true or false, got %s%s%s%s", cnode_kind_name(n),
                n->kind == CNODE_SCALAR ? " '" : "", n->kind == CNODE_SCALAR ? n->value : "",
                n->kind == CNODE_SCALAR ? "'" : "");
}

static int
get_int(const struct cnode *n, const char *path, int64_t *out, struct bt_err **err)
{
    if (cnode_get_int(n, out))
        return 0;
    if (n->kind == CNODE_SCALAR && bt_parse_int64(n->value, out))
        return 0;
    return nerr(err, n, path, "expected an integer, got %s%s%s%s", cnode_kind_name(n),
                n->kind == CNODE_SCALAR ? " '" : "", n->kind == CNODE_SCALAR ? n->value : "",
                n->kind == CNODE_SCALAR ? "'" : "");
}

static int
get_bytes(const struct cnode *n, const char *path, int64_t *out, struct bt_err **err)
{
    if (cnode_get_int(n, out))
        return 0;
    int r = want_scalar(n, path, "a size such as 512m", err);
    if (r < 0)
        return r;
    if (cnode_type(n) == CNODE_T_FLOAT) {
        *out = (int64_t)strtod(n->value, NULL);
        return 0;
    }
    r = compose_bytes_parse(n->value, out, err);
    return r < 0 ? nwrap(err, n, path, r) : 0;
}

/* File modes are octal as Compose writes them ("0440", 1777, "0o755"). */
static int
get_mode(const struct cnode *n, const char *path, int64_t *out, struct bt_err **err)
{
    int r = want_scalar(n, path, "an octal mode such as 0440", err);
    if (r < 0)
        return r;
    const char *t = n->value;
    if (bt_str_startswith(t, "0o"))
        t += 2;
    char *end = NULL;
    errno = 0;
    long v = strtol(t, &end, 8);
    if (!*t || *end || errno || v < 0 || v > 07777)
        return nerr(err, n, path, "expected an octal mode such as 0440, got '%s'", n->value);
    *out = v;
    return 0;
}

static int
get_duration(const struct cnode *n, const char *path, int64_t *out, struct bt_err **err)
{
    int r = want_scalar(n, path, "a duration such as 1m30s", err);
    if (r < 0)
        return r;
    r = compose_duration_parse(n->value, out, err);
    return r < 0 ? nwrap(err, n, path, r) : 0;
}

static int
get_usec(const struct cnode *n, const char *path, int64_t *out, struct bt_err **err)
{
    if (cnode_get_int(n, out))
        return 0;
    int64_t ns = 0;
    int r = get_duration(n, path, &ns, err);
    if (r < 0)
        return r;
    *out = ns / 1000;
    return 0;
}

static int
get_double(const struct cnode *n, const char *path, double *out, struct bt_err **err)
{
    if (n->kind == CNODE_SCALAR && *n->value) {
        char *end = NULL;
        double d = strtod(n->value, &end);
        if (end && *end == '\0') {
            *out = d;
            return 0;
        }
    }
    return nerr(err, n, path, "expected a number, got %s", cnode_kind_name(n));
}

/* A list of scalars, or one scalar (string_or_list). */
static int
get_strv(const struct cnode *n, const char *path, char ***out, struct bt_err **err)
{
    *out = bt_strv_free(*out);
    if (cnode_is_null(n))
        return 0;
    _cleanup_strv_ char **v = xcalloc(1, sizeof(char *));
    if (n->kind == CNODE_SCALAR) {
        v = bt_strv_push(v, n->value);
    } else if (n->kind == CNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            _cleanup_free_ char *p = idx(path, i);
            int r = want_scalar(n->items[i], p, "a string", err);
            if (r < 0)
                return r;
            v = bt_strv_push(v, n->items[i]->value);
        }
    } else {
        return nerr(err, n, path, "expected a list of strings, got %s", cnode_kind_name(n));
    }
    *out = TAKE_PTR(v);
    return 0;
}

enum kvs_mode {
    KVS_PLAIN,   /* KEY without a value: empty string */
    KVS_ENV,     /* KEY without a value: taken from the environment (or unset) */
    KVS_NO_NULL, /* KEY without a value is an error */
};

static int
kvs_put(struct compose_kvs *kvs, const char *key, const char *value, bool has_value,
        enum kvs_mode mode, char *const *env, const struct cnode *n, const char *path,
        struct bt_err **err)
{
    if (!*key)
        return nerr(err, n, path, "empty key");
    if (!has_value) {
        if (mode == KVS_ENV)
            value = compose_env_get(env, key);
        else if (mode == KVS_NO_NULL)
            return nerr(err, n, path, "'%s' has no value", key);
        else
            value = "";
    }
    compose_kvs_set(kvs, key, value);
    return 0;
}

/* list_or_dict: ["K=V", "K"] or {K: V}. */
static int
get_kvs(const struct cnode *n, const char *path, struct compose_kvs *out, enum kvs_mode mode,
        char *const *env, struct bt_err **err)
{
    if (cnode_is_null(n))
        return 0;
    if (n->kind == CNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            const struct cnode *it = n->items[i];
            _cleanup_free_ char *p = idx(path, i);
            int r = want_scalar(it, p, "a KEY=VALUE string", err);
            if (r < 0)
                return r;
            _cleanup_free_ char *k = xstrdup(it->value);
            char *eq = strchr(k, '=');
            if (eq)
                *eq = '\0';
            r = kvs_put(out, k, eq ? eq + 1 : NULL, eq != NULL, mode, env, it, p, err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (n->kind != CNODE_MAP)
        return nerr(err, n, path, "expected a mapping or a list of KEY=VALUE strings, got %s",
                    cnode_kind_name(n));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, n->keys[i]->value);
        int r = want_scalar(v, p, "a string, number or boolean", err);
        if (r < 0)
            return r;
        bool null = cnode_is_null(v) && !v->quoted;
        r = kvs_put(out, n->keys[i]->value, null ? NULL : v->value, !null, mode, env, v, p, err);
        if (r < 0)
            return r;
    }
    return 0;
}

#define AT(obj, f, type) ((type *)((char *)(obj) + (f)->off))

static int
get_field(void *obj, const struct compose_field *f, const struct cnode *n, const char *path,
          char *const *env, struct bt_err **err)
{
    switch (f->kind) {
    case COMPOSE_F_STR:
        return get_str(n, path, AT(obj, f, char *), err);
    case COMPOSE_F_BOOL:
        if (cnode_is_null(n)) {
            *AT(obj, f, bool) = false;
            return 0;
        }
        return get_bool(n, path, AT(obj, f, bool), err);
    case COMPOSE_F_TRI: {
        bool b = false;
        if (cnode_is_null(n)) {
            *AT(obj, f, enum compose_tri) = COMPOSE_UNSET;
            return 0;
        }
        int r = get_bool(n, path, &b, err);
        if (r < 0)
            return r;
        *AT(obj, f, enum compose_tri) = b ? COMPOSE_TRUE : COMPOSE_FALSE;
        return 0;
    }
    case COMPOSE_F_INT:
    case COMPOSE_F_BYTES:
    case COMPOSE_F_DURATION:
    case COMPOSE_F_USEC:
        if (cnode_is_null(n)) {
            *AT(obj, f, int64_t) = COMPOSE_NO_INT;
            return 0;
        }
        if (f->kind == COMPOSE_F_INT)
            return get_int(n, path, AT(obj, f, int64_t), err);
        if (f->kind == COMPOSE_F_BYTES)
            return get_bytes(n, path, AT(obj, f, int64_t), err);
        if (f->kind == COMPOSE_F_DURATION)
            return get_duration(n, path, AT(obj, f, int64_t), err);
        return get_usec(n, path, AT(obj, f, int64_t), err);
    case COMPOSE_F_DOUBLE:
        if (cnode_is_null(n)) {
            *AT(obj, f, double) = 0;
            return 0;
        }
        return get_double(n, path, AT(obj, f, double), err);
    case COMPOSE_F_STRV:
        return get_strv(n, path, AT(obj, f, char **), err);
    case COMPOSE_F_KVS:
        compose_kvs_done(AT(obj, f, struct compose_kvs));
        return get_kvs(n, path, AT(obj, f, struct compose_kvs), KVS_PLAIN, env, err);
    }
    return 0;
}

static int
want_map(const struct cnode *n, const char *path, struct bt_err **err)
{
    if (n->kind != CNODE_MAP)
        return nerr(err, n, path, "expected a mapping, got %s", cnode_kind_name(n));
    return 0;
}

static void
extra_set(json_t **extra, const char *key, const struct cnode *n)
{
    if (!*extra)
        *extra = json_object();
    json_object_set_new(*extra, key, compose_cnode_to_json(n));
}

/* Keeps an x-* extension of a nested mapping at extra[k1][k2...][key]. */
static void
extra_nested(json_t **extra, const char *k1, const char *k2, const char *key, const struct cnode *v)
{
    if (!*extra)
        *extra = json_object();
    json_t *o = *extra;
    const char *path[] = {k1, k2};
    for (size_t i = 0; i < BT_ARRAY_SIZE(path) && path[i]; i++) {
        json_t *next = json_object_get(o, path[i]);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(o, path[i], next);
        }
        o = next;
    }
    json_object_set_new(o, key, compose_cnode_to_json(v));
}

static bool
is_ext(const char *key)
{
    return bt_str_startswith(key, "x-");
}

/* ---- paths ---- */

static char *
host_path(const struct compose_project *p, const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = compose_env_get(p->environment, "HOME");
        if (!home)
            home = getenv("HOME");
        if (home)
            return bt_path_absolute(home, path[1] ? path + 2 : ".");
    }
    return bt_path_absolute(p->working_dir, path);
}

static bool
is_remote_context(const char *s)
{
    return strstr(s, "://") || bt_str_startswith(s, "git@") || bt_str_startswith(s, "github.com/");
}

/* ---- services ---- */

struct svc_ctx {
    struct compose_project *p;
    const char *const *names; /* every service's name, sorted */
    size_t n_names;
    const char *path; /* services.NAME */
    struct compose_service *s;
};

static int
command_parse(const struct cnode *n, const char *path, char ***out, struct bt_err **err)
{
    *out = bt_strv_free(*out);
    if (cnode_is_null(n))
        return 0;
    if (n->kind == CNODE_SCALAR) {
        int r = compose_shell_split(n->value, out, err);
        return r < 0 ? nwrap(err, n, path, r) : 0;
    }
    return get_strv(n, path, out, err);
}

static int
build_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_build *b = xcalloc(1, sizeof(*b));
    b->shm_size = COMPOSE_NO_INT;
    c->s->build = b;
    const char *context = ".";
    if (n->kind == CNODE_SCALAR) {
        context = n->value;
    } else {
        int r = want_map(n, path, err);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->keys[i]->value;
            const struct cnode *v = n->items[i];
            _cleanup_free_ char *p = sub(path, k);
            if (strcmp(k, "context") == 0) {
                r = want_scalar(v, p, "a path or URL", err);
                context = v->value;
            } else if (strcmp(k, "dockerfile") == 0)
                r = get_str(v, p, &b->dockerfile, err);
            else if (strcmp(k, "dockerfile_inline") == 0)
                r = get_str(v, p, &b->dockerfile_inline, err);
            else if (strcmp(k, "args") == 0)
                r = get_kvs(v, p, &b->args, KVS_ENV, c->p->environment, err);
            else if (strcmp(k, "labels") == 0)
                r = get_kvs(v, p, &b->labels, KVS_PLAIN, NULL, err);
            else if (strcmp(k, "target") == 0)
                r = get_str(v, p, &b->target, err);
            else if (strcmp(k, "network") == 0)
                r = get_str(v, p, &b->network, err);
            else if (strcmp(k, "cache_from") == 0)
                r = get_strv(v, p, &b->cache_from, err);
            else if (strcmp(k, "cache_to") == 0)
                r = get_strv(v, p, &b->cache_to, err);
            else if (strcmp(k, "tags") == 0)
                r = get_strv(v, p, &b->tags, err);
            else if (strcmp(k, "platforms") == 0)
                r = get_strv(v, p, &b->platforms, err);
            else if (strcmp(k, "shm_size") == 0)
                r = cnode_is_null(v) ? 0 : get_bytes(v, p, &b->shm_size, err);
            else if (strcmp(k, "no_cache") == 0)
                r = get_bool(v, p, &b->no_cache, err);
            else if (strcmp(k, "pull") == 0)
                r = get_bool(v, p, &b->pull, err);
            else if (strcmp(k, "privileged") == 0)
                r = get_bool(v, p, &b->privileged, err);
            else if (strcmp(k, "extra_hosts") == 0)
                continue; /* parsed below with the service's helper */
            else
                extra_set(&b->extra, k, v);
            if (r < 0)
                return r;
        }
    }
    if (!*context)
        return nerr(err, n, path, "empty build context");
    b->context = is_remote_context(context) ? xstrdup(context) : host_path(c->p, context);
    if (!b->dockerfile && !b->dockerfile_inline)
        b->dockerfile = xstrdup("Dockerfile");
    return 0;
}

static int
port_long(const struct cnode *n, const char *path, struct compose_port *pt, struct bt_err **err)
{
    memset(pt, 0, sizeof(*pt));
    int r = 0;
    bool has_target = false;
    for (size_t i = 0; i < n->n && r >= 0; i++) {
        const char *k = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "target") == 0) {
            int64_t t = 0;
            r = get_int(v, p, &t, err);
            if (r >= 0 && (t < 1 || t > 65535))
                r = nerr(err, v, p, "port %lld is out of range 1-65535", (long long)t);
            pt->target = (uint16_t)t;
            has_target = true;
        } else if (strcmp(k, "published") == 0) {
            r = get_str(v, p, &pt->published, err);
            if (r >= 0 && pt->published) {
                _cleanup_free_ char *a = xstrdup(pt->published);
                char *dash = strchr(a, '-');
                if (dash)
                    *dash++ = '\0';
                uint64_t x = 0, y = 0;
                if (!bt_parse_uint64(a, &x) || x > 65535 ||
                    (dash && (!bt_parse_uint64(dash, &y) || y > 65535 || y < x)))
                    r = nerr(err, v, p,
                             "invalid published port '%s': expected a port or a range "
                             "like 8000-8005",
                             pt->published);
            }
        } else if (strcmp(k, "host_ip") == 0)
            r = get_str(v, p, &pt->host_ip, err);
        else if (strcmp(k, "protocol") == 0)
            r = get_str(v, p, &pt->protocol, err);
        else if (strcmp(k, "app_protocol") == 0)
            r = get_str(v, p, &pt->app_protocol, err);
        else if (strcmp(k, "mode") == 0)
            r = get_str(v, p, &pt->mode, err);
        else if (strcmp(k, "name") == 0)
            r = get_str(v, p, &pt->name, err);
        else if (is_ext(k))
            extra_set(&pt->extra, k, v);
    }
    if (r >= 0 && !has_target)
        r = nerr(err, n, path, "a port needs a target");
    if (!pt->protocol)
        pt->protocol = xstrdup("tcp");
    if (!pt->mode)
        pt->mode = xstrdup("ingress");
    return r;
}

static int
ports_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (n->kind != CNODE_SEQ)
        return nerr(err, n, path, "expected a list of ports, got %s", cnode_kind_name(n));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *it = n->items[i];
        _cleanup_free_ char *p = idx(path, i);
        int r = 0;
        if (it->kind == CNODE_MAP) {
            s->ports = xreallocarray(s->ports, s->n_ports + 1, sizeof(*s->ports));
            r = port_long(it, p, &s->ports[s->n_ports], err);
            s->n_ports++;
        } else if (it->kind == CNODE_SCALAR && !cnode_is_null(it)) {
            r = compose_port_parse(it->value, &s->ports, &s->n_ports, err);
            if (r < 0)
                r = nwrap(err, it, p, r);
        } else {
            r = nerr(err, it, p, "expected a port such as \"8080:80\" or a mapping, got %s",
                     cnode_kind_name(it));
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static bool
volume_declared(const struct compose_project *p, const char *key)
{
    return compose_project_volume(p, key) != NULL;
}

static int
mount_long(struct svc_ctx *c, const struct cnode *n, const char *path, struct compose_mount *m,
           struct bt_err **err)
{
    memset(m, 0, sizeof(*m));
    m->tmpfs.size = COMPOSE_NO_INT;
    m->tmpfs.mode = COMPOSE_NO_INT;
    const struct cnode *type = cnode_map_get(n, "type");
    static const char *const types[] = {"bind", "volume", "tmpfs", "npipe", "image", "cluster"};
    bool found = false;
    for (size_t t = 0; type && type->kind == CNODE_SCALAR && t < BT_ARRAY_SIZE(types); t++) {
        if (strcmp(type->value, types[t]) == 0) {
            m->type = (enum compose_mount_type)t;
            found = true;
        }
    }
    if (!found)
        return nerr(err, type ? type : n, path,
                    "a volume needs a type: bind, volume, tmpfs, npipe, image or cluster");
    int r = 0;
    for (size_t i = 0; i < n->n && r >= 0; i++) {
        const char *k = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "source") == 0)
            r = get_str(v, p, &m->source, err);
        else if (strcmp(k, "target") == 0)
            r = get_str(v, p, &m->target, err);
        else if (strcmp(k, "read_only") == 0)
            r = get_bool(v, p, &m->read_only, err);
        else if (strcmp(k, "consistency") == 0)
            r = get_str(v, p, &m->consistency, err);
        else if (strcmp(k, "bind") == 0 && !cnode_is_null(v)) {
            m->has_bind = true;
            for (size_t j = 0; j < v->n && r >= 0; j++) {
                const char *bk = v->keys[j]->value;
                _cleanup_free_ char *bp = sub(p, bk);
                if (strcmp(bk, "propagation") == 0)
                    r = get_str(v->items[j], bp, &m->bind.propagation, err);
                else if (strcmp(bk, "create_host_path") == 0)
                    r = get_bool(v->items[j], bp, &m->bind.create_host_path, err);
                else if (strcmp(bk, "selinux") == 0)
                    r = get_str(v->items[j], bp, &m->bind.selinux, err);
                else if (strcmp(bk, "recursive") == 0)
                    r = get_str(v->items[j], bp, &m->bind.recursive, err);
                else if (is_ext(bk))
                    extra_nested(&m->extra, "bind", NULL, bk, v->items[j]);
            }
        } else if (strcmp(k, "volume") == 0 && !cnode_is_null(v)) {
            m->has_volume = true;
            for (size_t j = 0; j < v->n && r >= 0; j++) {
                const char *vk = v->keys[j]->value;
                _cleanup_free_ char *vp = sub(p, vk);
                if (strcmp(vk, "nocopy") == 0)
                    r = get_bool(v->items[j], vp, &m->volume.nocopy, err);
                else if (strcmp(vk, "subpath") == 0)
                    r = get_str(v->items[j], vp, &m->volume.subpath, err);
                else if (strcmp(vk, "labels") == 0)
                    r = get_kvs(v->items[j], vp, &m->volume.labels, KVS_PLAIN, NULL, err);
                else if (is_ext(vk))
                    extra_nested(&m->extra, "volume", NULL, vk, v->items[j]);
            }
        } else if (strcmp(k, "tmpfs") == 0 && !cnode_is_null(v)) {
            m->has_tmpfs = true;
            for (size_t j = 0; j < v->n && r >= 0; j++) {
                const char *tk = v->keys[j]->value;
                const struct cnode *tv = v->items[j];
                _cleanup_free_ char *tp = sub(p, tk);
                if (strcmp(tk, "size") == 0)
                    r = get_bytes(tv, tp, &m->tmpfs.size, err);
                else if (strcmp(tk, "mode") == 0)
                    r = get_mode(tv, tp, &m->tmpfs.mode, err);
                else if (is_ext(tk))
                    extra_nested(&m->extra, "tmpfs", NULL, tk, tv);
            }
        } else if (strcmp(k, "image") == 0 && !cnode_is_null(v)) {
            const struct cnode *sp = cnode_map_get(v, "subpath");
            if (sp) {
                _cleanup_free_ char *ip = sub(p, "subpath");
                r = get_str(sp, ip, &m->image_subpath, err);
            }
            for (size_t j = 0; v->kind == CNODE_MAP && j < v->n; j++)
                if (is_ext(v->keys[j]->value))
                    extra_nested(&m->extra, "image", NULL, v->keys[j]->value, v->items[j]);
        } else if (is_ext(k)) {
            extra_set(&m->extra, k, v);
        }
    }
    if (r < 0)
        return r;
    if (!m->target || m->target[0] != '/')
        return nerr(err, n, path, "a volume needs an absolute target path");
    if (m->type == COMPOSE_MOUNT_BIND && !m->source)
        return nerr(err, n, path, "a bind mount needs a source");
    if (m->type == COMPOSE_MOUNT_TMPFS && m->source)
        return nerr(err, n, path, "a tmpfs mount takes no source");
    if (m->type == COMPOSE_MOUNT_IMAGE && !m->source)
        return nerr(err, n, path, "an image mount needs a source image");
    (void)c;
    return 0;
}

static int
volumes_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (n->kind != CNODE_SEQ)
        return nerr(err, n, path, "expected a list of volumes, got %s", cnode_kind_name(n));
    s->volumes = xcalloc(n->n ? n->n : 1, sizeof(*s->volumes));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *it = n->items[i];
        _cleanup_free_ char *p = idx(path, i);
        struct compose_mount *m = &s->volumes[s->n_volumes++];
        int r = 0;
        if (it->kind == CNODE_MAP) {
            r = mount_long(c, it, p, m, err);
        } else if (it->kind == CNODE_SCALAR && !cnode_is_null(it)) {
            r = compose_volume_parse(it->value, m, err);
            if (r < 0)
                r = nwrap(err, it, p, r);
            if (r >= 0)
                m->tmpfs.size = m->tmpfs.mode = COMPOSE_NO_INT;
        } else {
            r = nerr(err, it, p, "expected a volume such as \"data:/data\" or a mapping, got %s",
                     cnode_kind_name(it));
        }
        if (r < 0)
            return r;
        if (m->type == COMPOSE_MOUNT_BIND) {
            char *abs = host_path(c->p, m->source);
            free(m->source);
            m->source = abs;
        } else if (m->type == COMPOSE_MOUNT_VOLUME && m->source && *m->source &&
                   !volume_declared(c->p, m->source)) {
            return nerr(err, it, p,
                        "service '%s' refers to undefined volume '%s' (declare it under the "
                        "top-level volumes)",
                        s->name, m->source);
        }
    }
    return 0;
}

static int
cmp_svc_network(const void *a, const void *b)
{
    return strcmp(((const struct compose_service_network *)a)->name,
                  ((const struct compose_service_network *)b)->name);
}

static int
service_network_check(struct svc_ctx *c, const char *name, const struct cnode *n, const char *path,
                      struct bt_err **err)
{
    if (strcmp(name, "default") == 0 || compose_project_network(c->p, name))
        return 0;
    return nerr(err, n, path,
                "service '%s' refers to undefined network '%s' (declare it under the top-level "
                "networks)",
                c->s->name, name);
}

static int
networks_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (cnode_is_null(n))
        return 0;
    s->networks = xcalloc(n->n ? n->n : 1, sizeof(*s->networks));
    int r = 0;
    if (n->kind == CNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            _cleanup_free_ char *p = idx(path, i);
            r = want_scalar(n->items[i], p, "a network name", err);
            if (r >= 0)
                r = service_network_check(c, n->items[i]->value, n->items[i], p, err);
            if (r < 0)
                return r;
            struct compose_service_network *sn = &s->networks[s->n_networks++];
            sn->name = xstrdup(n->items[i]->value);
            sn->priority = sn->gw_priority = COMPOSE_NO_INT;
        }
    } else if (n->kind == CNODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            const char *name = n->keys[i]->value;
            const struct cnode *v = n->items[i];
            _cleanup_free_ char *p = sub(path, name);
            r = service_network_check(c, name, n->keys[i], p, err);
            if (r < 0)
                return r;
            struct compose_service_network *sn = &s->networks[s->n_networks++];
            sn->name = xstrdup(name);
            sn->priority = sn->gw_priority = COMPOSE_NO_INT;
            if (cnode_is_null(v))
                continue;
            r = want_map(v, p, err);
            if (r < 0)
                return r;
            sn->has_config = true;
            for (size_t j = 0; j < v->n && r >= 0; j++) {
                const char *k = v->keys[j]->value;
                const struct cnode *x = v->items[j];
                _cleanup_free_ char *q = sub(p, k);
                if (strcmp(k, "aliases") == 0)
                    r = get_strv(x, q, &sn->aliases, err);
                else if (strcmp(k, "ipv4_address") == 0)
                    r = get_str(x, q, &sn->ipv4_address, err);
                else if (strcmp(k, "ipv6_address") == 0)
                    r = get_str(x, q, &sn->ipv6_address, err);
                else if (strcmp(k, "link_local_ips") == 0)
                    r = get_strv(x, q, &sn->link_local_ips, err);
                else if (strcmp(k, "mac_address") == 0)
                    r = get_str(x, q, &sn->mac_address, err);
                else if (strcmp(k, "interface_name") == 0)
                    r = get_str(x, q, &sn->interface_name, err);
                else if (strcmp(k, "driver_opts") == 0)
                    r = get_kvs(x, q, &sn->driver_opts, KVS_PLAIN, NULL, err);
                else if (strcmp(k, "priority") == 0)
                    r = get_int(x, q, &sn->priority, err);
                else if (strcmp(k, "gw_priority") == 0)
                    r = get_int(x, q, &sn->gw_priority, err);
                else if (is_ext(k))
                    extra_nested(&s->extra, "networks", name, k, x);
            }
            if (r < 0)
                return r;
        }
    } else {
        return nerr(err, n, path, "expected a list or a mapping of networks, got %s",
                    cnode_kind_name(n));
    }
    qsort(s->networks, s->n_networks, sizeof(*s->networks), cmp_svc_network);
    return 0;
}

static int
cmp_dep(const void *a, const void *b)
{
    return strcmp(((const struct compose_dependency *)a)->service,
                  ((const struct compose_dependency *)b)->service);
}

static int
depends_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (cnode_is_null(n))
        return 0;
    if (n->kind != CNODE_SEQ && n->kind != CNODE_MAP)
        return nerr(err, n, path, "expected a list or a mapping of services, got %s",
                    cnode_kind_name(n));
    s->depends_on = xcalloc(n->n ? n->n : 1, sizeof(*s->depends_on));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *name = n->kind == CNODE_SEQ ? n->items[i] : n->keys[i];
        _cleanup_free_ char *p = n->kind == CNODE_SEQ ? idx(path, i) : sub(path, name->value);
        int r = want_scalar(name, p, "a service name", err);
        if (r < 0)
            return r;
        for (size_t j = 0; j < s->n_depends_on; j++)
            if (strcmp(s->depends_on[j].service, name->value) == 0)
                return nerr(err, name, p, "'%s' is listed twice", name->value);
        struct compose_dependency *d = &s->depends_on[s->n_depends_on++];
        d->service = xstrdup(name->value);
        d->required = true;
        if (n->kind == CNODE_MAP && !cnode_is_null(n->items[i])) {
            const struct cnode *v = n->items[i];
            r = want_map(v, p, err);
            for (size_t j = 0; r >= 0 && j < v->n; j++) {
                const char *k = v->keys[j]->value;
                _cleanup_free_ char *q = sub(p, k);
                if (strcmp(k, "condition") == 0) {
                    r = get_str(v->items[j], q, &d->condition, err);
                    if (r >= 0 && d->condition && strcmp(d->condition, "service_started") &&
                        strcmp(d->condition, "service_healthy") &&
                        strcmp(d->condition, "service_completed_successfully"))
                        r = nerr(err, v->items[j], q,
                                 "unknown condition '%s' (expected service_started, "
                                 "service_healthy or service_completed_successfully)",
                                 d->condition);
                } else if (strcmp(k, "restart") == 0)
                    r = get_bool(v->items[j], q, &d->restart, err);
                else if (strcmp(k, "required") == 0)
                    r = get_bool(v->items[j], q, &d->required, err);
                else if (is_ext(k))
                    extra_nested(&s->extra, "depends_on", d->service, k, v->items[j]);
            }
            if (r < 0)
                return r;
        }
        if (!d->condition)
            d->condition = xstrdup("service_started");
    }
    qsort(s->depends_on, s->n_depends_on, sizeof(*s->depends_on), cmp_dep);
    return 0;
}

static int
healthcheck_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    if (cnode_is_null(n))
        return 0;
    int r = want_map(n, path, err);
    if (r < 0)
        return r;
    struct compose_healthcheck *h = xcalloc(1, sizeof(*h));
    c->s->healthcheck = h;
    h->interval = h->timeout = h->start_period = h->start_interval = COMPOSE_NO_INT;
    h->retries = COMPOSE_NO_INT;
    for (size_t i = 0; i < n->n && r >= 0; i++) {
        const char *k = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "test") == 0) {
            if (v->kind == CNODE_SCALAR && !cnode_is_null(v)) {
                h->test = bt_strv_free(h->test);
                h->test = bt_strv_push(h->test, "CMD-SHELL");
                h->test = bt_strv_push(h->test, v->value);
            } else {
                r = get_strv(v, p, &h->test, err);
                if (r >= 0 && h->test && h->test[0] && strcmp(h->test[0], "NONE") &&
                    strcmp(h->test[0], "CMD") && strcmp(h->test[0], "CMD-SHELL"))
                    r = nerr(err, v, p, "a test list starts with CMD, CMD-SHELL or NONE, not '%s'",
                             h->test[0]);
            }
        } else if (strcmp(k, "interval") == 0)
            r = get_duration(v, p, &h->interval, err);
        else if (strcmp(k, "timeout") == 0)
            r = get_duration(v, p, &h->timeout, err);
        else if (strcmp(k, "start_period") == 0)
            r = get_duration(v, p, &h->start_period, err);
        else if (strcmp(k, "start_interval") == 0)
            r = get_duration(v, p, &h->start_interval, err);
        else if (strcmp(k, "retries") == 0)
            r = get_int(v, p, &h->retries, err);
        else if (strcmp(k, "disable") == 0)
            r = get_bool(v, p, &h->disable, err);
        else if (is_ext(k))
            extra_nested(&c->s->extra, "healthcheck", NULL, k, v);
    }
    return r;
}

static int
resources_parse(const struct cnode *n, const char *path, struct compose_resources *res,
                struct bt_err **err)
{
    res->memory = res->pids = COMPOSE_NO_INT;
    if (cnode_is_null(n))
        return 0;
    int r = want_map(n, path, err);
    for (size_t i = 0; r >= 0 && i < n->n; i++) {
        const char *k = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "cpus") == 0)
            r = get_double(v, p, &res->cpus, err);
        else if (strcmp(k, "memory") == 0)
            r = get_bytes(v, p, &res->memory, err);
        else if (strcmp(k, "pids") == 0)
            r = get_int(v, p, &res->pids, err);
        else
            extra_set(&res->extra, k, v);
    }
    return r;
}

static int
deploy_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_deploy *d = xcalloc(1, sizeof(*d));
    c->s->deploy = d;
    d->replicas = COMPOSE_NO_INT;
    d->limits.memory = d->limits.pids = COMPOSE_NO_INT;
    d->reservations.memory = d->reservations.pids = COMPOSE_NO_INT;
    d->restart_policy.delay = d->restart_policy.window = COMPOSE_NO_INT;
    d->restart_policy.max_attempts = COMPOSE_NO_INT;
    if (cnode_is_null(n))
        return 0;
    int r = want_map(n, path, err);
    for (size_t i = 0; r >= 0 && i < n->n; i++) {
        const char *k = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "mode") == 0)
            r = get_str(v, p, &d->mode, err);
        else if (strcmp(k, "replicas") == 0)
            r = get_int(v, p, &d->replicas, err);
        else if (strcmp(k, "labels") == 0)
            r = get_kvs(v, p, &d->labels, KVS_PLAIN, NULL, err);
        else if (strcmp(k, "resources") == 0 && !cnode_is_null(v)) {
            r = want_map(v, p, err);
            for (size_t j = 0; r >= 0 && j < v->n; j++) {
                const char *rk = v->keys[j]->value;
                _cleanup_free_ char *q = sub(p, rk);
                if (strcmp(rk, "limits") == 0)
                    r = resources_parse(v->items[j], q, &d->limits, err);
                else if (strcmp(rk, "reservations") == 0)
                    r = resources_parse(v->items[j], q, &d->reservations, err);
                else if (is_ext(rk))
                    extra_nested(&d->extra, "resources", NULL, rk, v->items[j]);
            }
        } else if (strcmp(k, "restart_policy") == 0 && !cnode_is_null(v)) {
            d->restart_policy.present = true;
            r = want_map(v, p, err);
            for (size_t j = 0; r >= 0 && j < v->n; j++) {
                const char *rk = v->keys[j]->value;
                const struct cnode *x = v->items[j];
                _cleanup_free_ char *q = sub(p, rk);
                if (strcmp(rk, "condition") == 0)
                    r = get_str(x, q, &d->restart_policy.condition, err);
                else if (strcmp(rk, "delay") == 0)
                    r = get_duration(x, q, &d->restart_policy.delay, err);
                else if (strcmp(rk, "window") == 0)
                    r = get_duration(x, q, &d->restart_policy.window, err);
                else if (strcmp(rk, "max_attempts") == 0)
                    r = get_int(x, q, &d->restart_policy.max_attempts, err);
                else if (is_ext(rk))
                    extra_nested(&d->extra, "restart_policy", NULL, rk, x);
            }
        } else {
            extra_set(&d->extra, k, v);
        }
    }
    return r;
}

static int
cmp_ulimit(const void *a, const void *b)
{
    return strcmp(((const struct compose_ulimit *)a)->name,
                  ((const struct compose_ulimit *)b)->name);
}

static int
ulimits_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    int r = want_map(n, path, err);
    if (r < 0)
        return r;
    s->ulimits = xcalloc(n->n ? n->n : 1, sizeof(*s->ulimits));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, n->keys[i]->value);
        struct compose_ulimit *u = &s->ulimits[s->n_ulimits++];
        u->name = xstrdup(n->keys[i]->value);
        if (v->kind == CNODE_MAP) {
            const struct cnode *soft = cnode_map_get(v, "soft"), *hard = cnode_map_get(v, "hard");
            if (!soft || !hard)
                return nerr(err, v, p, "a ulimit mapping needs both soft and hard");
            _cleanup_free_ char *sp = sub(p, "soft");
            _cleanup_free_ char *hp = sub(p, "hard");
            for (size_t j = 0; j < v->n; j++)
                if (is_ext(v->keys[j]->value))
                    extra_nested(&s->extra, "ulimits", u->name, v->keys[j]->value, v->items[j]);
            r = get_int(soft, sp, &u->soft, err);
            if (r >= 0)
                r = get_int(hard, hp, &u->hard, err);
            if (r >= 0 && u->hard >= 0 && u->soft > u->hard)
                r = nerr(err, v, p, "soft limit %lld is above hard limit %lld", (long long)u->soft,
                         (long long)u->hard);
        } else {
            r = get_int(v, p, &u->soft, err);
            u->hard = u->soft;
        }
        if (r < 0)
            return r;
    }
    qsort(s->ulimits, s->n_ulimits, sizeof(*s->ulimits), cmp_ulimit);
    return 0;
}

static int
devices_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (n->kind != CNODE_SEQ)
        return nerr(err, n, path, "expected a list of devices, got %s", cnode_kind_name(n));
    s->devices = xcalloc(n->n ? n->n : 1, sizeof(*s->devices));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *it = n->items[i];
        _cleanup_free_ char *p = idx(path, i);
        struct compose_device *d = &s->devices[s->n_devices++];
        int r = 0;
        if (it->kind == CNODE_MAP) {
            for (size_t j = 0; r >= 0 && j < it->n; j++) {
                const char *k = it->keys[j]->value;
                _cleanup_free_ char *q = sub(p, k);
                if (strcmp(k, "source") == 0)
                    r = get_str(it->items[j], q, &d->source, err);
                else if (strcmp(k, "target") == 0)
                    r = get_str(it->items[j], q, &d->target, err);
                else if (strcmp(k, "permissions") == 0)
                    r = get_str(it->items[j], q, &d->permissions, err);
                else if (is_ext(k))
                    extra_set(&d->extra, k, it->items[j]);
            }
        } else {
            r = want_scalar(it, p, "a device such as /dev/fuse:/dev/fuse:rwm", err);
            if (r >= 0) {
                _cleanup_strv_ char **parts = bt_strv_split(it->value, ":");
                size_t np = bt_strv_length(parts);
                if (np > 3)
                    r = nerr(err, it, p, "invalid device '%s': expected SOURCE[:TARGET[:PERMS]]",
                             it->value);
                else {
                    d->source = xstrdup(parts[0]);
                    if (np > 1)
                        d->target = xstrdup(parts[1]);
                    if (np > 2)
                        d->permissions = xstrdup(parts[2]);
                }
            }
        }
        if (r < 0)
            return r;
        if (!d->source || d->source[0] != '/')
            return nerr(err, it, p, "a device needs an absolute source path");
        if (!d->target)
            d->target = xstrdup(d->source);
        if (!d->permissions)
            d->permissions = xstrdup("rwm");
        if (strspn(d->permissions, "rwm") != strlen(d->permissions))
            return nerr(err, it, p, "device permissions '%s' use letters other than r, w, m",
                        d->permissions);
    }
    return 0;
}

static void
host_push(struct compose_host_entry **h, size_t *n, const char *host, const char *ip)
{
    *h = xreallocarray(*h, *n + 1, sizeof(**h));
    (*h)[*n].host = xstrdup(host);
    (*h)[*n].ip = xstrdup(ip);
    (*n)++;
}

static int
extra_hosts_parse(const struct cnode *n, const char *path, struct compose_host_entry **h,
                  size_t *nh, struct bt_err **err)
{
    if (cnode_is_null(n))
        return 0;
    if (n->kind == CNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            _cleanup_free_ char *p = idx(path, i);
            int r = want_scalar(n->items[i], p, "a HOST=IP string", err);
            if (r < 0)
                return r;
            _cleanup_free_ char *e = xstrdup(n->items[i]->value);
            char *sep = strchr(e, '=');
            if (!sep)
                sep = strchr(e, ':');
            if (!sep || sep == e || !sep[1])
                return nerr(err, n->items[i], p, "invalid extra host '%s': expected HOST=IP",
                            n->items[i]->value);
            *sep = '\0';
            host_push(h, nh, e, sep + 1);
        }
        return 0;
    }
    if (n->kind != CNODE_MAP)
        return nerr(err, n, path, "expected a list or a mapping of hosts, got %s",
                    cnode_kind_name(n));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *p = sub(path, n->keys[i]->value);
        _cleanup_strv_ char **ips = NULL;
        int r = get_strv(v, p, &ips, err);
        if (r < 0)
            return r;
        if (!ips || !ips[0])
            return nerr(err, v, p, "'%s' needs an IP address", n->keys[i]->value);
        bt_strv_foreach (ip, ips)
            host_push(h, nh, n->keys[i]->value, ip);
    }
    return 0;
}

static int
file_refs_parse(struct svc_ctx *c, const struct cnode *n, const char *path, bool secrets,
                struct compose_file_ref **out, size_t *nout, struct bt_err **err)
{
    if (n->kind != CNODE_SEQ)
        return nerr(err, n, path, "expected a list, got %s", cnode_kind_name(n));
    *out = xcalloc(n->n ? n->n : 1, sizeof(**out));
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *it = n->items[i];
        _cleanup_free_ char *p = idx(path, i);
        struct compose_file_ref *f = &(*out)[(*nout)++];
        f->mode = COMPOSE_NO_INT;
        int r = 0;
        if (it->kind == CNODE_MAP) {
            for (size_t j = 0; r >= 0 && j < it->n; j++) {
                const char *k = it->keys[j]->value;
                const struct cnode *v = it->items[j];
                _cleanup_free_ char *q = sub(p, k);
                if (strcmp(k, "source") == 0)
                    r = get_str(v, q, &f->source, err);
                else if (strcmp(k, "target") == 0)
                    r = get_str(v, q, &f->target, err);
                else if (strcmp(k, "uid") == 0)
                    r = get_str(v, q, &f->uid, err);
                else if (strcmp(k, "gid") == 0)
                    r = get_str(v, q, &f->gid, err);
                else if (strcmp(k, "mode") == 0 && !cnode_is_null(v))
                    r = get_mode(v, q, &f->mode, err);
                else if (is_ext(k))
                    extra_set(&f->extra, k, v);
            }
        } else {
            r = want_scalar(it, p, "a name", err);
            if (r >= 0)
                f->source = xstrdup(it->value);
        }
        if (r < 0)
            return r;
        if (!f->source)
            return nerr(err, it, p, "needs a source");
        struct compose_file_object *objs = secrets ? c->p->secrets : c->p->configs;
        size_t nobjs = secrets ? c->p->n_secrets : c->p->n_configs;
        bool found = false;
        for (size_t j = 0; j < nobjs && !found; j++)
            found = strcmp(objs[j].key, f->source) == 0;
        if (!found)
            return nerr(err, it, p, "service '%s' refers to undefined %s '%s'", c->s->name,
                        secrets ? "secret" : "config", f->source);
    }
    return 0;
}

static int
logging_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    if (cnode_is_null(n))
        return 0;
    int r = want_map(n, path, err);
    for (size_t i = 0; r >= 0 && i < n->n; i++) {
        const char *k = n->keys[i]->value;
        _cleanup_free_ char *p = sub(path, k);
        if (strcmp(k, "driver") == 0)
            r = get_str(n->items[i], p, &c->s->logging.driver, err);
        else if (strcmp(k, "options") == 0)
            r = get_kvs(n->items[i], p, &c->s->logging.options, KVS_PLAIN, NULL, err);
        else if (is_ext(k))
            extra_nested(&c->s->extra, "logging", NULL, k, n->items[i]);
    }
    return r;
}

static int
env_files_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    if (cnode_is_null(n))
        return 0;
    size_t count = n->kind == CNODE_SEQ ? n->n : 1;
    s->env_files = xcalloc(count, sizeof(*s->env_files));
    for (size_t i = 0; i < count; i++) {
        const struct cnode *it = n->kind == CNODE_SEQ ? n->items[i] : n;
        _cleanup_free_ char *p = n->kind == CNODE_SEQ ? idx(path, i) : xstrdup(path);
        struct compose_env_file *e = &s->env_files[s->n_env_files++];
        e->required = true;
        const char *file = NULL;
        int r = 0;
        if (it->kind == CNODE_MAP) {
            for (size_t j = 0; r >= 0 && j < it->n; j++) {
                const char *k = it->keys[j]->value;
                _cleanup_free_ char *q = sub(p, k);
                if (strcmp(k, "path") == 0) {
                    r = want_scalar(it->items[j], q, "a path", err);
                    file = it->items[j]->value;
                } else if (strcmp(k, "required") == 0)
                    r = get_bool(it->items[j], q, &e->required, err);
                else if (strcmp(k, "format") == 0)
                    r = get_str(it->items[j], q, &e->format, err);
            }
        } else {
            r = want_scalar(it, p, "a path", err);
            file = it->value;
        }
        if (r < 0)
            return r;
        if (!file || !*file)
            return nerr(err, it, p, "an env_file entry needs a path");
        e->path = host_path(c->p, file);
        if (!e->required && !bt_path_exists(e->path))
            continue;
        _cleanup_strv_ char **vars = NULL;
        r = compose_dotenv_load(e->path, c->p->environment, &vars, err);
        if (r < 0)
            return nwrap(err, it, p, r);
        bt_strv_foreach (kv, vars) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            compose_kvs_set(&s->environment, kv, eq + 1);
            *eq = '=';
        }
    }
    return 0;
}

static int
label_files_parse(struct svc_ctx *c, const struct cnode *n, const char *path, struct bt_err **err)
{
    struct compose_service *s = c->s;
    int r = get_strv(n, path, &s->label_files, err);
    if (r < 0)
        return r;
    for (size_t i = 0; s->label_files && s->label_files[i]; i++) {
        char *abs = host_path(c->p, s->label_files[i]);
        free(s->label_files[i]);
        s->label_files[i] = abs;
        _cleanup_strv_ char **vars = NULL;
        r = compose_dotenv_load(abs, NULL, &vars, err);
        if (r < 0)
            return nwrap(err, n, path, r);
        bt_strv_foreach (kv, vars) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            /* Labels written in the file lose to labels in the service. */
            if (!compose_kvs_get(&s->labels, kv))
                compose_kvs_set(&s->labels, kv, eq + 1);
            *eq = '=';
        }
    }
    return 0;
}

static int
cmp_str_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A reference from this service to another must name a service of the
 * project (after profiles); depends_on with `required: false` may not. */
static int
ref_check(struct svc_ctx *c, const struct cnode *n, const char *path, const char *name, size_t len,
          bool optional, struct bt_err **err)
{
    _cleanup_free_ char *target = xstrndup(name, len);
    const char *key = target;
    if (optional || bsearch(&key, c->names, c->n_names, sizeof(*c->names), cmp_str_p))
        return 0;
    if (bt_strv_contains(c->p->disabled_services, target))
        return nerr(err, n, path,
                    "service '%s' depends on service '%s', which the active profiles disable "
                    "(enable its profile with --profile)",
                    c->s->name, target);
    return nerr(err, n, path, "service '%s' depends on undefined service '%s'", c->s->name, target);
}

static int
refs_check(struct svc_ctx *c, const struct cnode *sn, struct bt_err **err)
{
    const struct compose_service *s = c->s;
    int r = 0;
    const struct cnode *dep = cnode_map_get(sn, "depends_on");
    for (size_t i = 0; dep && r >= 0 && i < dep->n; i++) {
        const struct cnode *name = dep->kind == CNODE_SEQ ? dep->items[i] : dep->keys[i];
        if (name->kind != CNODE_SCALAR)
            continue;
        _cleanup_free_ char *p = xasprintf("%s.depends_on", c->path);
        bool optional = false;
        for (size_t j = 0; j < s->n_depends_on; j++)
            if (strcmp(s->depends_on[j].service, name->value) == 0)
                optional = !s->depends_on[j].required;
        r = ref_check(c, name, p, name->value, strlen(name->value), optional, err);
    }
    static const char *const lists[] = {"links", "volumes_from"};
    for (size_t k = 0; k < BT_ARRAY_SIZE(lists); k++) {
        const struct cnode *l = cnode_map_get(sn, lists[k]);
        for (size_t i = 0; l && l->kind == CNODE_SEQ && r >= 0 && i < l->n; i++) {
            const char *v = l->items[i]->value;
            if (l->items[i]->kind != CNODE_SCALAR || bt_str_startswith(v, "container:"))
                continue;
            if (bt_str_startswith(v, "service:"))
                v += strlen("service:");
            _cleanup_free_ char *p = xasprintf("%s.%s[%zu]", c->path, lists[k], i);
            r = ref_check(c, l->items[i], p, v, strcspn(v, ":"), false, err);
        }
    }
    static const char *const modes[] = {"network_mode", "ipc", "pid"};
    for (size_t k = 0; k < BT_ARRAY_SIZE(modes) && r >= 0; k++) {
        const struct cnode *m = cnode_map_get(sn, modes[k]);
        if (!m || m->kind != CNODE_SCALAR || !bt_str_startswith(m->value, "service:"))
            continue;
        _cleanup_free_ char *p = xasprintf("%s.%s", c->path, modes[k]);
        const char *v = m->value + strlen("service:");
        r = ref_check(c, m, p, v, strlen(v), false, err);
    }
    return r;
}

static int
service_parse(struct compose_project *p, const char *const *names, size_t n_names,
              const struct cnode *key, const struct cnode *sn, struct compose_service *s,
              struct bt_err **err)
{
    memset(s, 0, sizeof(*s));
    compose_fields_init(s, compose_service_fields, compose_service_n_fields);
    s->name = xstrdup(key->value);
    _cleanup_free_ char *path = sub("services", s->name);
    struct svc_ctx c = {.p = p, .names = names, .n_names = n_names, .path = path, .s = s};
    if (cnode_is_null(sn))
        return nerr(err, key, path, "a service needs an image or a build section");
    int r = want_map(sn, path, err);
    if (r < 0)
        return r;
    const struct cnode *env = NULL, *env_file = NULL, *label_file = NULL, *build_hosts = NULL;
    for (size_t i = 0; i < sn->n; i++) {
        const char *k = sn->keys[i]->value;
        const struct cnode *v = sn->items[i];
        _cleanup_free_ char *kp = sub(path, k);
        const struct compose_field *f =
            compose_field_find(compose_service_fields, compose_service_n_fields, k);
        if (f)
            r = get_field(s, f, v, kp, p->environment, err);
        else if (strcmp(k, "build") == 0) {
            r = build_parse(&c, v, kp, err);
            if (v->kind == CNODE_MAP)
                build_hosts = cnode_map_get(v, "extra_hosts");
        } else if (strcmp(k, "command") == 0)
            r = command_parse(v, kp, &s->command, err);
        else if (strcmp(k, "entrypoint") == 0)
            r = command_parse(v, kp, &s->entrypoint, err);
        else if (strcmp(k, "environment") == 0)
            env = v;
        else if (strcmp(k, "env_file") == 0)
            env_file = v;
        else if (strcmp(k, "label_file") == 0)
            label_file = v;
        else if (strcmp(k, "ports") == 0)
            r = ports_parse(&c, v, kp, err);
        else if (strcmp(k, "volumes") == 0)
            r = volumes_parse(&c, v, kp, err);
        else if (strcmp(k, "networks") == 0)
            r = networks_parse(&c, v, kp, err);
        else if (strcmp(k, "depends_on") == 0)
            r = depends_parse(&c, v, kp, err);
        else if (strcmp(k, "healthcheck") == 0)
            r = healthcheck_parse(&c, v, kp, err);
        else if (strcmp(k, "deploy") == 0)
            r = deploy_parse(&c, v, kp, err);
        else if (strcmp(k, "ulimits") == 0)
            r = ulimits_parse(&c, v, kp, err);
        else if (strcmp(k, "devices") == 0)
            r = devices_parse(&c, v, kp, err);
        else if (strcmp(k, "extra_hosts") == 0)
            r = extra_hosts_parse(v, kp, &s->extra_hosts, &s->n_extra_hosts, err);
        else if (strcmp(k, "logging") == 0)
            r = logging_parse(&c, v, kp, err);
        else if (strcmp(k, "secrets") == 0)
            r = file_refs_parse(&c, v, kp, true, &s->secrets, &s->n_secrets, err);
        else if (strcmp(k, "configs") == 0)
            r = file_refs_parse(&c, v, kp, false, &s->configs, &s->n_configs, err);
        else if (strcmp(k, "extends") == 0)
            continue; /* resolved while loading */
        else
            extra_set(&s->extra, k, v);
        if (r < 0)
            return r;
    }
    if (build_hosts) {
        _cleanup_free_ char *bp = xasprintf("%s.build.extra_hosts", path);
        r = extra_hosts_parse(build_hosts, bp, &s->build->extra_hosts, &s->build->n_extra_hosts,
                              err);
        if (r < 0)
            return r;
    }
    if (env_file) {
        _cleanup_free_ char *kp = sub(path, "env_file");
        r = env_files_parse(&c, env_file, kp, err);
        if (r < 0)
            return r;
    }
    if (env) {
        _cleanup_free_ char *kp = sub(path, "environment");
        r = get_kvs(env, kp, &s->environment, KVS_ENV, p->environment, err);
        if (r < 0)
            return r;
    }
    if (label_file) {
        _cleanup_free_ char *kp = sub(path, "label_file");
        r = label_files_parse(&c, label_file, kp, err);
        if (r < 0)
            return r;
    }
    r = refs_check(&c, sn, err);
    if (r < 0)
        return r;
    if (!s->image && !s->build && !cnode_map_get(sn, "provider"))
        return nerr(err, sn, path, "service '%s' has neither an image nor a build context",
                    s->name);
    if (s->network_mode && s->n_networks)
        return nerr(err, cnode_map_get(sn, "network_mode"), path,
                    "service '%s' declares both network_mode and networks; use one", s->name);
    if (s->n_networks == 0 && !s->network_mode) {
        free(s->networks);
        s->networks = xcalloc(1, sizeof(*s->networks));
        s->networks[0].name = xstrdup("default");
        s->networks[0].priority = s->networks[0].gw_priority = COMPOSE_NO_INT;
        s->n_networks = 1;
    }
    return 0;
}

/* ---- top-level resources ---- */

/* external: true | "true" | {name: x} (deprecated spelling of name); the
 * mapping's x-* extensions are kept in extra["external"]. */
static int
external_parse(const struct cnode *n, const char *path, bool *external, char **name, json_t **extra,
               struct bt_err **err)
{
    if (n->kind == CNODE_MAP) {
        *external = true;
        for (size_t i = 0; i < n->n; i++)
            if (is_ext(n->keys[i]->value))
                extra_nested(extra, "external", NULL, n->keys[i]->value, n->items[i]);
        const struct cnode *nm = cnode_map_get(n, "name");
        if (nm && !*name) {
            _cleanup_free_ char *p = sub(path, "name");
            return get_str(nm, p, name, err);
        }
        return 0;
    }
    if (cnode_is_null(n)) {
        *external = false;
        return 0;
    }
    return get_bool(n, path, external, err);
}

static char *
resource_name(const struct compose_project *p, const char *key, bool external)
{
    return external ? xstrdup(key) : xasprintf("%s_%s", p->name, key);
}

static int
networks_top(struct compose_project *p, const struct cnode *n, struct bt_err **err)
{
    int r = want_map(n, "networks", err);
    if (r < 0)
        return r;
    p->networks = xcalloc(n->n + 1, sizeof(*p->networks));
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *path = sub("networks", key);
        struct compose_network *net = &p->networks[p->n_networks++];
        compose_fields_init(net, compose_network_fields, compose_network_n_fields);
        net->key = xstrdup(key);
        if (cnode_is_null(v)) {
            net->name = resource_name(p, key, false);
            continue;
        }
        r = want_map(v, path, err);
        for (size_t j = 0; r >= 0 && j < v->n; j++) {
            const char *k = v->keys[j]->value;
            const struct cnode *x = v->items[j];
            _cleanup_free_ char *q = sub(path, k);
            const struct compose_field *f =
                compose_field_find(compose_network_fields, compose_network_n_fields, k);
            if (f)
                r = get_field(net, f, x, q, NULL, err);
            else if (strcmp(k, "external") == 0)
                r = external_parse(x, q, &net->external, &net->name, &net->extra, err);
            else if (strcmp(k, "ipam") == 0 && !cnode_is_null(x)) {
                r = want_map(x, q, err);
                for (size_t m = 0; r >= 0 && m < x->n; m++) {
                    const char *ik = x->keys[m]->value;
                    const struct cnode *iv = x->items[m];
                    _cleanup_free_ char *ip = sub(q, ik);
                    if (strcmp(ik, "driver") == 0)
                        r = get_str(iv, ip, &net->ipam.driver, err);
                    else if (strcmp(ik, "options") == 0)
                        r = get_kvs(iv, ip, &net->ipam.options, KVS_PLAIN, NULL, err);
                    else if (is_ext(ik))
                        extra_nested(&net->extra, "ipam", NULL, ik, iv);
                    else if (strcmp(ik, "config") == 0 && iv->kind == CNODE_SEQ) {
                        net->ipam.config = xcalloc(iv->n ? iv->n : 1, sizeof(*net->ipam.config));
                        for (size_t ci = 0; r >= 0 && ci < iv->n; ci++) {
                            const struct cnode *cn = iv->items[ci];
                            _cleanup_free_ char *cp = idx(ip, ci);
                            struct compose_ipam_config *cc =
                                &net->ipam.config[net->ipam.n_config++];
                            r = want_map(cn, cp, err);
                            for (size_t cj = 0; r >= 0 && cj < cn->n; cj++) {
                                const char *ck = cn->keys[cj]->value;
                                _cleanup_free_ char *cq = sub(cp, ck);
                                if (strcmp(ck, "subnet") == 0)
                                    r = get_str(cn->items[cj], cq, &cc->subnet, err);
                                else if (strcmp(ck, "ip_range") == 0)
                                    r = get_str(cn->items[cj], cq, &cc->ip_range, err);
                                else if (strcmp(ck, "gateway") == 0)
                                    r = get_str(cn->items[cj], cq, &cc->gateway, err);
                                else if (strcmp(ck, "aux_addresses") == 0)
                                    r = get_kvs(cn->items[cj], cq, &cc->aux_addresses, KVS_NO_NULL,
                                                NULL, err);
                                else if (is_ext(ck))
                                    extra_set(&cc->extra, ck, cn->items[cj]);
                            }
                        }
                    }
                }
            } else
                extra_set(&net->extra, k, x);
        }
        if (r < 0)
            return r;
        if (!net->name)
            net->name = resource_name(p, key, net->external);
    }
    return 0;
}

static int
volumes_top(struct compose_project *p, const struct cnode *n, struct bt_err **err)
{
    int r = want_map(n, "volumes", err);
    if (r < 0)
        return r;
    p->volumes = xcalloc(n->n ? n->n : 1, sizeof(*p->volumes));
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *path = sub("volumes", key);
        struct compose_volume *vol = &p->volumes[p->n_volumes++];
        vol->key = xstrdup(key);
        if (!cnode_is_null(v)) {
            r = want_map(v, path, err);
            for (size_t j = 0; r >= 0 && j < v->n; j++) {
                const char *k = v->keys[j]->value;
                _cleanup_free_ char *q = sub(path, k);
                const struct compose_field *f =
                    compose_field_find(compose_volume_fields, compose_volume_n_fields, k);
                if (f)
                    r = get_field(vol, f, v->items[j], q, NULL, err);
                else if (strcmp(k, "external") == 0)
                    r = external_parse(v->items[j], q, &vol->external, &vol->name, &vol->extra,
                                       err);
                else
                    extra_set(&vol->extra, k, v->items[j]);
            }
            if (r < 0)
                return r;
        }
        if (!vol->name)
            vol->name = resource_name(p, key, vol->external);
    }
    return 0;
}

static int
file_objects_top(struct compose_project *p, const struct cnode *n, const char *what,
                 struct compose_file_object **out, size_t *nout, struct bt_err **err)
{
    int r = want_map(n, what, err);
    if (r < 0)
        return r;
    *out = xcalloc(n->n ? n->n : 1, sizeof(**out));
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct cnode *v = n->items[i];
        _cleanup_free_ char *path = sub(what, key);
        struct compose_file_object *o = &(*out)[(*nout)++];
        o->key = xstrdup(key);
        r = want_map(v, path, err);
        for (size_t j = 0; r >= 0 && j < v->n; j++) {
            const char *k = v->keys[j]->value;
            const struct cnode *x = v->items[j];
            _cleanup_free_ char *q = sub(path, k);
            const struct compose_field *f =
                compose_field_find(compose_file_object_fields, compose_file_object_n_fields, k);
            if (f)
                r = get_field(o, f, x, q, NULL, err);
            else if (strcmp(k, "external") == 0)
                r = external_parse(x, q, &o->external, &o->name, &o->extra, err);
            else if (strcmp(k, "file") == 0) {
                r = want_scalar(x, q, "a path", err);
                if (r >= 0)
                    o->file = host_path(p, x->value);
            } else
                extra_set(&o->extra, k, x);
        }
        if (r < 0)
            return r;
        int sources = !!o->file + !!o->environment + !!o->content;
        if (!o->external && sources != 1)
            return nerr(err, v, path, "needs exactly one of file, environment%s or external",
                        strcmp(what, "configs") == 0 ? ", content" : "");
        if (o->content && strcmp(what, "secrets") == 0)
            return nerr(err, v, path, "secrets take file or environment, not content");
        if (!o->name)
            o->name = resource_name(p, key, o->external);
    }
    return 0;
}

static int
cmp_service(const void *a, const void *b)
{
    return strcmp(((const struct compose_service *)a)->name,
                  ((const struct compose_service *)b)->name);
}

static int
cmp_network(const void *a, const void *b)
{
    return strcmp(((const struct compose_network *)a)->key,
                  ((const struct compose_network *)b)->key);
}

static int
cmp_volume(const void *a, const void *b)
{
    return strcmp(((const struct compose_volume *)a)->key, ((const struct compose_volume *)b)->key);
}

static int
cmp_object(const void *a, const void *b)
{
    return strcmp(((const struct compose_file_object *)a)->key,
                  ((const struct compose_file_object *)b)->key);
}

int
compose_normalize(const struct cnode *root, struct compose_project *p, struct bt_err **err)
{
    int r = want_map(root, "(top level)", err);
    if (r < 0)
        return r;
    const struct cnode *n;
    if ((n = cnode_map_get(root, "networks")) && !cnode_is_null(n) &&
        (r = networks_top(p, n, err)) < 0)
        return r;
    if ((n = cnode_map_get(root, "volumes")) && !cnode_is_null(n) &&
        (r = volumes_top(p, n, err)) < 0)
        return r;
    if ((n = cnode_map_get(root, "secrets")) && !cnode_is_null(n) &&
        (r = file_objects_top(p, n, "secrets", &p->secrets, &p->n_secrets, err)) < 0)
        return r;
    if ((n = cnode_map_get(root, "configs")) && !cnode_is_null(n) &&
        (r = file_objects_top(p, n, "configs", &p->configs, &p->n_configs, err)) < 0)
        return r;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->value;
        if (bt_str_startswith(k, "x-") || strcmp(k, "models") == 0)
            extra_set(&p->extra, k, root->items[i]);
    }
    const struct cnode *svcs = cnode_map_get(root, "services");
    if (svcs && !cnode_is_null(svcs)) {
        if ((r = want_map(svcs, "services", err)) < 0)
            return r;
        p->services = xcalloc(svcs->n ? svcs->n : 1, sizeof(*p->services));
        _cleanup_free_ const char **names = xcalloc(svcs->n ? svcs->n : 1, sizeof(char *));
        for (size_t i = 0; i < svcs->n; i++)
            names[i] = svcs->keys[i]->value;
        qsort(names, svcs->n, sizeof(*names), cmp_str_p);
        for (size_t i = 0; i < svcs->n; i++) {
            r = service_parse(p, names, svcs->n, svcs->keys[i], svcs->items[i],
                              &p->services[p->n_services++], err);
            if (r < 0)
                return r;
        }
        qsort(p->services, p->n_services, sizeof(*p->services), cmp_service);
    }
    /* The default network exists when a service uses it. */
    bool uses_default = false;
    for (size_t i = 0; i < p->n_services && !uses_default; i++)
        for (size_t j = 0; j < p->services[i].n_networks; j++)
            if (strcmp(p->services[i].networks[j].name, "default") == 0)
                uses_default = true;
    if (uses_default && !compose_project_network(p, "default")) {
        p->networks = xreallocarray(p->networks, p->n_networks + 1, sizeof(*p->networks));
        struct compose_network *net = &p->networks[p->n_networks++];
        memset(net, 0, sizeof(*net));
        compose_fields_init(net, compose_network_fields, compose_network_n_fields);
        net->key = xstrdup("default");
        net->name = resource_name(p, "default", false);
    }
    if (p->n_networks)
        qsort(p->networks, p->n_networks, sizeof(*p->networks), cmp_network);
    if (p->n_volumes)
        qsort(p->volumes, p->n_volumes, sizeof(*p->volumes), cmp_volume);
    if (p->n_secrets)
        qsort(p->secrets, p->n_secrets, sizeof(*p->secrets), cmp_object);
    if (p->n_configs)
        qsort(p->configs, p->n_configs, sizeof(*p->configs), cmp_object);
    return 0;
}

struct compose_project *
compose_project_from_tree(const struct cnode *root, const char *name, const char *working_dir,
                          char *const *env, struct bt_err **err)
{
    _cleanup_project_ struct compose_project *p = compose_project_new();
    p->name = xstrdup(name);
    p->working_dir = xstrdup(working_dir);
    p->environment = bt_strv_copy(env);
    if (!p->environment)
        p->environment = xcalloc(1, sizeof(char *));
    if (compose_normalize(root, p, err) < 0)
        return NULL;
    if (compose_graph_build(p, err) < 0)
        return NULL;
    return TAKE_PTR(p);
}

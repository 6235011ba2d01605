/* Loading files and merging them with the Compose merge rules.
 *
 * Mappings merge key by key; a later scalar replaces an earlier one; a null
 * in the later file keeps the earlier value; sequences are appended. Then,
 * per key (as the Compose Specification and Docker Compose do):
 *
 * - command, entrypoint, healthcheck.test: replaced, never appended;
 * - environment, labels, annotations, sysctls, build.args, build.labels,
 *   build.additional_contexts, deploy.labels and the labels of top-level
 *   networks and volumes merge by variable/label name, whether written as a
 *   mapping or as a KEY=VALUE list;
 * - depends_on, a service's networks and models merge as mappings, the list
 *   forms converted first; build given as a string is {context: ...};
 * - logging merges when both name the same driver (or one names none),
 *   otherwise the later one replaces it; ulimits entries merge as mappings;
 * - ipam.config entries merge by subnet;
 * - after merging, sequences keep one entry per unique key, a later entry
 *   taking the earlier one's place: ports (host ip, published port, target,
 *   protocol), volumes and devices (target), expose, secrets and configs
 *   (target), env_file (path), and by the part before any '=' dns,
 *   dns_opt, dns_search, cap_add, cap_drop, links, profiles, tmpfs, network
 *   aliases; extra_hosts entries already present are not repeated;
 * - `!reset` removes a key (in any file), `!override` replaces it whole. */
#include <string.h>

#include "compose/load-internal.h"

#define MAX_PATH 16

struct mpath {
    const char *seg[MAX_PATH];
    int n;
};

/* Matches "services.*.build.args"-style patterns; '*' is any one key. */
static bool
path_is(const struct mpath *p, const char *pattern)
{
    int i = 0;
    const char *s = pattern;
    while (*s) {
        size_t len = strcspn(s, ".");
        if (i >= p->n)
            return false;
        if (!(len == 1 && s[0] == '*') &&
            (strlen(p->seg[i]) != len || strncmp(p->seg[i], s, len) != 0))
            return false;
        i++;
        s += len;
        if (*s == '.')
            s++;
    }
    return i == p->n;
}

static bool
path_in(const struct mpath *p, const char *const *patterns)
{
    for (; *patterns; patterns++)
        if (path_is(p, *patterns))
            return true;
    return false;
}

static char *
path_str(const struct mpath *p)
{
    struct bt_buf b = {0};
    for (int i = 0; i < p->n; i++)
        bt_buf_printf(&b, "%s%s", i ? "." : "", p->seg[i]);
    return bt_buf_steal(&b);
}

static const char *const replaced[] = {"services.*.command", "services.*.entrypoint",
                                       "services.*.healthcheck.test", NULL};
static const char *const keyvalue_maps[] = {"services.*.environment",
                                            "services.*.labels",
                                            "services.*.annotations",
                                            "services.*.sysctls",
                                            "services.*.build.args",
                                            "services.*.build.labels",
                                            "services.*.build.additional_contexts",
                                            "services.*.deploy.labels",
                                            "networks.*.labels",
                                            "volumes.*.labels",
                                            "networks.*.ipam.options",
                                            "networks.*.driver_opts",
                                            "volumes.*.driver_opts",
                                            NULL};
static const char *const string_or_list[] = {"services.*.dns",
                                             "services.*.dns_search",
                                             "services.*.env_file",
                                             "services.*.label_file",
                                             "services.*.tmpfs",
                                             "services.*.dns_opt",
                                             "services.*.extra_hosts",
                                             "services.*.build.extra_hosts",
                                             NULL};

static int merge_value(struct cnode **slot, struct cnode *over, struct mpath *p,
                       struct bt_err **err);

static int
cannot_override(const struct cnode *base, const struct cnode *over, struct mpath *p,
                struct bt_err **err)
{
    _cleanup_free_ char *pos = cnode_pos(over);
    _cleanup_free_ char *ps = path_str(p);
    return bt_err_set(err, EINVAL, "%s: %s: cannot merge %s into %s", pos, ps,
                      cnode_kind_name(over), cnode_kind_name(base));
}

/* Entry i of a KEY=VALUE mapping as one "KEY=VALUE" (or "KEY" for null)
 * sequence item. */
static struct cnode *
kv_item(const struct cnode *key, const struct cnode *val, char sep)
{
    _cleanup_free_ char *s = NULL;
    if (cnode_is_null(val) || val->kind != CNODE_SCALAR)
        s = xstrdup(key->value);
    else
        s = xasprintf("%s%c%s", key->value, sep, val->value);
    return cnode_new_scalar(s, true, val->kind == CNODE_SCALAR ? val : key);
}

/* A mapping, a list or a lone string as a sequence (owned result). */
static struct cnode *
to_sequence(struct cnode *n, char sep)
{
    if (n->kind == CNODE_SEQ)
        return n;
    struct cnode *seq = cnode_new(CNODE_SEQ, n->file, n->line, n->col);
    if (n->kind == CNODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            const struct cnode *v = n->items[i];
            if (v->kind == CNODE_SEQ) {
                /* extra_hosts: host: [ip1, ip2] */
                for (size_t j = 0; j < v->n; j++)
                    cnode_seq_push_take(seq, kv_item(n->keys[i], v->items[j], sep));
            } else {
                cnode_seq_push_take(seq, kv_item(n->keys[i], v, sep));
            }
        }
        cnode_free(n);
    } else if (!cnode_is_null(n)) {
        cnode_seq_push_take(seq, n);
    } else {
        cnode_free(n);
    }
    return seq;
}

/* depends_on: [a, b] -> {a: {condition: service_started, required: true}}.
 * networks, models: [a, b] -> {a: null}. */
static struct cnode *
list_to_map(struct cnode *n, bool depends_on)
{
    if (n->kind != CNODE_SEQ)
        return n;
    struct cnode *map = cnode_new(CNODE_MAP, n->file, n->line, n->col);
    for (size_t i = 0; i < n->n; i++) {
        const struct cnode *it = n->items[i];
        if (it->kind != CNODE_SCALAR)
            continue;
        struct cnode *v;
        if (depends_on) {
            v = cnode_new(CNODE_MAP, it->file, it->line, it->col);
            cnode_map_set_str_take(v, "condition", cnode_new_scalar("service_started", false, it));
            cnode_map_set_str_take(v, "required", cnode_new_scalar("true", false, it));
        } else {
            v = cnode_new_scalar("", false, it);
        }
        cnode_map_set_take(map, cnode_new_scalar(it->value, false, it), v);
    }
    cnode_free(n);
    return map;
}

static int
merge_maps(struct cnode *base, struct cnode *over, struct mpath *p, struct bt_err **err)
{
    int r = 0;
    for (size_t i = 0; i < over->n && r == 0; i++) {
        struct cnode *key = over->keys[i];
        struct cnode *val = over->items[i];
        over->keys[i] = over->items[i] = NULL;
        ssize_t at = cnode_map_index(base, key->value);
        if (val->tag == CNODE_TAG_RESET) {
            /* Kept as a reset marker so that a later merge or the final
             * strip removes it, whatever the base holds. */
            if (at >= 0)
                cnode_map_del(base, key->value);
            cnode_map_set_take(base, key, val);
            continue;
        }
        if (at < 0 || val->tag == CNODE_TAG_OVERRIDE || base->items[at]->tag == CNODE_TAG_RESET) {
            cnode_map_set_take(base, key, val);
            continue;
        }
        if (p->n >= MAX_PATH) {
            cnode_map_set_take(base, key, val);
            continue;
        }
        p->seg[p->n++] = key->value;
        r = merge_value(&base->items[at], val, p, err);
        p->n--;
        cnode_free(key);
    }
    for (size_t i = 0; i < over->n; i++) {
        cnode_free(over->keys[i]);
        cnode_free(over->items[i]);
    }
    over->n = 0;
    cnode_free(over);
    return r;
}

static int
merge_ipam_config(struct cnode *base, struct cnode *over, struct mpath *p, struct bt_err **err)
{
    for (size_t i = 0; i < over->n; i++) {
        struct cnode *it = over->items[i];
        over->items[i] = NULL;
        const struct cnode *subnet = cnode_map_get(it, "subnet");
        struct cnode **match = NULL;
        for (size_t j = 0; subnet && j < base->n && !match; j++) {
            const struct cnode *bs = cnode_map_get(base->items[j], "subnet");
            if (bs && bs->kind == CNODE_SCALAR && subnet->kind == CNODE_SCALAR &&
                strcmp(bs->value, subnet->value) == 0)
                match = &base->items[j];
        }
        if (match && (*match)->kind == CNODE_MAP && it->kind == CNODE_MAP) {
            int r = merge_maps(*match, it, p, err);
            if (r < 0) {
                cnode_free(over);
                return r;
            }
        } else {
            cnode_seq_push_take(base, it);
        }
    }
    over->n = 0;
    cnode_free(over);
    return 0;
}

static const char *
driver_of(const struct cnode *logging)
{
    const struct cnode *d = cnode_map_get(logging, "driver");
    return d && d->kind == CNODE_SCALAR ? d->value : NULL;
}

static void
replace(struct cnode **slot, struct cnode *over)
{
    cnode_free(*slot);
    over->tag = CNODE_TAG_NONE;
    *slot = over;
}

static int
merge_value(struct cnode **slot, struct cnode *over, struct mpath *p, struct bt_err **err)
{
    struct cnode *base = *slot;
    if (path_in(p, replaced)) {
        replace(slot, over);
        return 0;
    }
    if (path_in(p, keyvalue_maps)) {
        if (base->kind == CNODE_MAP && over->kind == CNODE_MAP) {
            /* Merge by name; a null in the later file replaces too. */
            for (size_t i = 0; i < over->n; i++) {
                cnode_map_set_take(base, over->keys[i], over->items[i]);
                over->keys[i] = over->items[i] = NULL;
            }
            over->n = 0;
            cnode_free(over);
            return 0;
        }
        if (cnode_is_null(over)) {
            cnode_free(over);
            return 0;
        }
        *slot = base = to_sequence(base, '=');
        struct cnode *o = to_sequence(over, '=');
        for (size_t i = 0; i < o->n; i++)
            cnode_seq_push_take(base, o->items[i]);
        o->n = 0;
        cnode_free(o);
        return 0;
    }
    if (cnode_is_null(over)) {
        cnode_free(over);
        return 0;
    }
    if (path_in(p, string_or_list)) {
        bool hosts =
            path_is(p, "services.*.extra_hosts") || path_is(p, "services.*.build.extra_hosts");
        *slot = base = to_sequence(base, '=');
        struct cnode *o = to_sequence(over, '=');
        size_t nbase = base->n;
        for (size_t i = 0; i < o->n; i++) {
            bool dup = false;
            /* extra_hosts: an entry the earlier file has already is not
             * repeated. */
            for (size_t j = 0; hosts && j < nbase && !dup; j++)
                dup = o->items[i]->kind == CNODE_SCALAR && base->items[j]->kind == CNODE_SCALAR &&
                      strcmp(o->items[i]->value, base->items[j]->value) == 0;
            if (dup)
                cnode_free(o->items[i]);
            else
                cnode_seq_push_take(base, o->items[i]);
        }
        o->n = 0;
        cnode_free(o);
        return 0;
    }
    if (path_is(p, "services.*.depends_on") || path_is(p, "services.*.networks") ||
        path_is(p, "services.*.models")) {
        bool dep = path_is(p, "services.*.depends_on");
        *slot = base = list_to_map(base, dep);
        over = list_to_map(over, dep);
    } else if (path_is(p, "services.*.build")) {
        if (base->kind == CNODE_SCALAR) {
            struct cnode *m = cnode_new(CNODE_MAP, base->file, base->line, base->col);
            cnode_map_set_str_take(m, "context", base);
            *slot = base = m;
        }
        if (over->kind == CNODE_SCALAR) {
            struct cnode *m = cnode_new(CNODE_MAP, over->file, over->line, over->col);
            cnode_map_set_str_take(m, "context", over);
            over = m;
        }
    } else if (path_is(p, "services.*.logging") && base->kind == CNODE_MAP &&
               over->kind == CNODE_MAP) {
        const char *bd = driver_of(base), *od = driver_of(over);
        if (bd && od && strcmp(bd, od) != 0) {
            replace(slot, over);
            return 0;
        }
    } else if (path_is(p, "services.*.ulimits.*")) {
        if (base->kind != CNODE_MAP || over->kind != CNODE_MAP) {
            replace(slot, over);
            return 0;
        }
    } else if (path_is(p, "networks.*.ipam.config") && base->kind == CNODE_SEQ &&
               over->kind == CNODE_SEQ) {
        return merge_ipam_config(base, over, p, err);
    }

    switch (base->kind) {
    case CNODE_MAP:
        if (over->kind != CNODE_MAP) {
            int r = cannot_override(base, over, p, err);
            cnode_free(over);
            return r;
        }
        return merge_maps(base, over, p, err);
    case CNODE_SEQ:
        if (over->kind != CNODE_SEQ) {
            int r = cannot_override(base, over, p, err);
            cnode_free(over);
            return r;
        }
        for (size_t i = 0; i < over->n; i++)
            cnode_seq_push_take(base, over->items[i]);
        over->n = 0;
        cnode_free(over);
        return 0;
    case CNODE_SCALAR:
        break;
    }
    replace(slot, over);
    return 0;
}

int
compose_merge_take(struct cnode *base, struct cnode *override, struct bt_err **err)
{
    struct mpath p = {.n = 0};
    if (base->kind != CNODE_MAP || override->kind != CNODE_MAP) {
        int r = cannot_override(base, override, &p, err);
        cnode_free(override);
        return r;
    }
    return merge_maps(base, override, &p, err);
}

/* ---- one entry per unique key ---- */

typedef char *(*indexer_fn)(const struct cnode *item);

static char *
scalar_text(const struct cnode *n)
{
    return n->kind == CNODE_SCALAR ? xstrdup(n->value) : NULL;
}

static char *
index_value(const struct cnode *n)
{
    return scalar_text(n);
}

static char *
index_keyvalue(const struct cnode *n)
{
    if (n->kind != CNODE_SCALAR)
        return NULL;
    return xstrndup(n->value, strcspn(n->value, "="));
}

static char *
map_scalar(const struct cnode *n, const char *key)
{
    const struct cnode *v = cnode_map_get(n, key);
    return v && v->kind == CNODE_SCALAR && !cnode_is_null(v) ? xstrdup(v->value) : NULL;
}

/* volumes and devices: the target, second field of SRC:DST[:MODE], or the
 * only field; long syntax: target. */
static char *
index_target(const struct cnode *n)
{
    if (n->kind == CNODE_MAP)
        return map_scalar(n, "target");
    if (n->kind != CNODE_SCALAR)
        return NULL;
    _cleanup_strv_ char **parts = bt_strv_split(n->value, ":");
    return xstrdup(parts[1] ? parts[1] : parts[0]);
}

static char *
index_port(const struct cnode *n)
{
    if (n->kind == CNODE_SCALAR)
        return xstrdup(n->value);
    if (n->kind != CNODE_MAP)
        return NULL;
    _cleanup_free_ char *target = map_scalar(n, "target");
    _cleanup_free_ char *published = map_scalar(n, "published");
    _cleanup_free_ char *host = map_scalar(n, "host_ip");
    _cleanup_free_ char *proto = map_scalar(n, "protocol");
    return xasprintf("%s:%s:%s/%s", host ? host : "0.0.0.0", published ? published : "",
                     target ? target : "", proto ? proto : "tcp");
}

static char *
index_mount(const struct cnode *n, const char *dir)
{
    if (n->kind == CNODE_SCALAR)
        return xasprintf("%s/%s", dir, n->value);
    if (n->kind != CNODE_MAP)
        return NULL;
    char *t = map_scalar(n, "target");
    if (t)
        return t;
    _cleanup_free_ char *src = map_scalar(n, "source");
    return xasprintf("%s/%s", dir, src ? src : "");
}

static char *
index_secret(const struct cnode *n)
{
    return index_mount(n, "/run/secrets");
}

static char *
index_config(const struct cnode *n)
{
    return index_mount(n, "");
}

static char *
index_env_file(const struct cnode *n)
{
    if (n->kind == CNODE_MAP)
        return map_scalar(n, "path");
    return scalar_text(n);
}

static const struct {
    const char *pattern;
    indexer_fn fn;
} unique_rules[] = {
    {"services.*.environment", index_keyvalue},
    {"services.*.labels", index_keyvalue},
    {"services.*.annotations", index_keyvalue},
    {"services.*.sysctls", index_keyvalue},
    {"services.*.build.args", index_keyvalue},
    {"services.*.build.labels", index_keyvalue},
    {"services.*.build.additional_contexts", index_keyvalue},
    {"services.*.build.tags", index_keyvalue},
    {"services.*.build.platforms", index_keyvalue},
    {"services.*.deploy.labels", index_keyvalue},
    {"networks.*.labels", index_keyvalue},
    {"networks.*.ipam.options", index_keyvalue},
    {"services.*.dns", index_keyvalue},
    {"services.*.dns_opt", index_keyvalue},
    {"services.*.dns_search", index_keyvalue},
    {"services.*.cap_add", index_keyvalue},
    {"services.*.cap_drop", index_keyvalue},
    {"services.*.links", index_keyvalue},
    {"services.*.profiles", index_keyvalue},
    {"services.*.tmpfs", index_keyvalue},
    {"services.*.networks.*.aliases", index_keyvalue},
    {"services.*.networks.*.link_local_ips", index_keyvalue},
    {"services.*.expose", index_value},
    {"services.*.ports", index_port},
    {"services.*.volumes", index_target},
    {"services.*.devices", index_target},
    {"services.*.secrets", index_secret},
    {"services.*.configs", index_config},
    {"services.*.env_file", index_env_file},
};

static void
dedupe(struct cnode *seq, indexer_fn fn)
{
    char **keys = xcalloc(seq->n + 1, sizeof(char *));
    size_t out = 0;
    for (size_t i = 0; i < seq->n; i++) {
        char *k = fn(seq->items[i]);
        size_t j = 0;
        for (; k && j < out; j++)
            if (keys[j] && strcmp(keys[j], k) == 0)
                break;
        if (k && j < out) {
            /* A later entry takes the earlier one's place. */
            cnode_free(seq->items[j]);
            seq->items[j] = seq->items[i];
            free(k);
            continue;
        }
        keys[out] = k;
        seq->items[out++] = seq->items[i];
    }
    seq->n = out;
    for (size_t j = 0; j < out; j++)
        free(keys[j]);
    free(keys);
}

/* Applies the unique-key rules and removes what `!reset` left, clearing
 * the tags. */
static void
finish(struct cnode *n, struct mpath *p)
{
    if (n->kind == CNODE_MAP) {
        for (size_t i = 0; i < n->n;) {
            if (n->items[i]->tag == CNODE_TAG_RESET) {
                cnode_map_del(n, n->keys[i]->value);
                continue;
            }
            if (p->n < MAX_PATH) {
                p->seg[p->n++] = n->keys[i]->value;
                finish(n->items[i], p);
                p->n--;
            }
            i++;
        }
    } else if (n->kind == CNODE_SEQ) {
        for (size_t i = 0; i < BT_ARRAY_SIZE(unique_rules); i++) {
            if (path_is(p, unique_rules[i].pattern)) {
                dedupe(n, unique_rules[i].fn);
                break;
            }
        }
        for (size_t i = 0; i < n->n; i++) {
            /* Sequence items do not extend the key path the rules use. */
            struct mpath q = *p;
            if (q.n < MAX_PATH)
                q.seg[q.n++] = "[]";
            finish(n->items[i], &q);
        }
    }
    n->tag = CNODE_TAG_NONE;
}

static struct cnode *
load_data(const char *data, size_t len, const char *name, char *const *env, bool interpolate,
          struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(data, len, name, err);
    if (!root)
        return NULL;
    if (root->kind != CNODE_MAP) {
        _cleanup_free_ char *pos = cnode_pos(root);
        bt_err_set(err, EINVAL, "%s: the top level of a compose file must be a mapping, not %s",
                   pos, cnode_kind_name(root));
        return NULL;
    }
    if (cnode_map_index(root, "version") >= 0) {
        /* As Compose: the attribute is read by nobody and dropped. */
        bt_warn("%s: the attribute `version` is obsolete, it will be ignored, please remove it "
                "to avoid potential confusion",
                name);
        cnode_map_del(root, "version");
    }
    if (interpolate && compose_interpolate_tree(root, env, err) < 0)
        return NULL;
    return TAKE_PTR(root);
}

struct cnode *
compose_file_load(const char *path, char *const *env, bool interpolate, struct bt_err **err)
{
    size_t len = 0;
    _cleanup_free_ char *data = NULL;
    if (strcmp(path, "-") == 0) {
        struct bt_buf b = {0};
        char chunk[65536];
        for (;;) {
            ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                bt_buf_done(&b);
                bt_err_errno(err, errno, "read the compose file from standard input");
                return NULL;
            }
            if (n == 0)
                break;
            bt_buf_append(&b, chunk, (size_t)n);
        }
        len = b.len;
        data = bt_buf_steal(&b);
    } else {
        data = bt_file_read_all(path, &len, err);
        if (!data)
            return NULL;
    }
    return load_data(data, len, path, env, interpolate, err);
}

struct cnode *
compose_files_load(const struct compose_sources *src, bool interpolate, struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *merged = NULL;
    for (size_t i = 0; src->files && src->files[i]; i++) {
        const char *f = src->files[i];
        _cleanup_cnode_ struct cnode *one = NULL;
        if (strcmp(f, "-") == 0)
            one = load_data(src->stdin_data ? src->stdin_data : "", src->stdin_len, "-", src->env,
                            interpolate, err);
        else
            one = compose_file_load(f, src->env, interpolate, err);
        if (!one)
            return NULL;
        if (compose_include_apply(one, src, interpolate, err) < 0)
            return NULL;
        if (compose_extends_apply(one, src->project_dir, src->env, interpolate, err) < 0)
            return NULL;
        if (!merged) {
            merged = TAKE_PTR(one);
        } else if (compose_merge_take(merged, TAKE_PTR(one), err) < 0) {
            return NULL;
        }
    }
    if (!merged) {
        bt_err_set(err, ENOENT, "no configuration file provided: not found");
        return NULL;
    }
    struct mpath p = {.n = 0};
    finish(merged, &p);
    return TAKE_PTR(merged);
}

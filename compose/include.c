/* `include`: other compose files loaded as their own small projects and
 * their resources (services, networks, volumes, configs, secrets) added to
 * the including file. Each entry is a path, or a mapping with `path` (one or
 * a list, merged like -f), `project_directory` (default: the first file's
 * directory) and `env_file` (default: that directory's .env when present).
 * Paths are relative to the including file. Relative paths inside an
 * included file are made absolute against its project directory. A resource
 * defined both by the including file and by an included one must be
 * identical; otherwise it is a conflict. Include cycles are errors. */
#include <string.h>
#include <sys/stat.h>

#include "compose/load-internal.h"

static const char *const resource_kinds[] = {"services", "networks", "volumes",
                                             "configs",  "secrets",  NULL};

static bool
node_equal(const struct cnode *a, const struct cnode *b)
{
    if (a->kind != b->kind || a->n != b->n)
        return false;
    switch (a->kind) {
    case CNODE_SCALAR:
        return strcmp(a->value, b->value) == 0 && cnode_type(a) == cnode_type(b);
    case CNODE_SEQ:
        for (size_t i = 0; i < a->n; i++)
            if (!node_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case CNODE_MAP:
        for (size_t i = 0; i < a->n; i++) {
            const struct cnode *o = cnode_map_get(b, a->keys[i]->value);
            if (!o || !node_equal(a->items[i], o))
                return false;
        }
        return true;
    }
    return false;
}

static int include_apply(struct cnode *root, const char *dir, char *const *env, bool interpolate,
                         char ***chain, struct bt_err **err);

static char **
strings_of(const struct cnode *n)
{
    char **v = xcalloc(1, sizeof(char *));
    if (!n || cnode_is_null(n))
        return v;
    if (n->kind == CNODE_SCALAR)
        return bt_strv_push(v, n->value);
    for (size_t i = 0; n->kind == CNODE_SEQ && i < n->n; i++)
        if (n->items[i]->kind == CNODE_SCALAR)
            v = bt_strv_push(v, n->items[i]->value);
    return v;
}

/* Adds the resources of `inc` to `root`; equal duplicates are fine. */
static int
import(struct cnode *root, struct cnode *inc, const char *from, const struct cnode *entry,
       struct bt_err **err)
{
    for (const char *const *kind = resource_kinds; *kind; kind++) {
        struct cnode *src = cnode_map_get(inc, *kind);
        if (!src || src->kind != CNODE_MAP)
            continue;
        struct cnode *dst = cnode_map_get(root, *kind);
        if (!dst || dst->kind != CNODE_MAP) {
            if (dst && !cnode_is_null(dst))
                continue; /* validation reports the wrong type */
            cnode_map_set_str_take(root, *kind,
                                   cnode_new(CNODE_MAP, entry->file, entry->line, entry->col));
            dst = cnode_map_get(root, *kind);
        }
        for (size_t i = 0; i < src->n; i++) {
            ssize_t at = cnode_map_index(dst, src->keys[i]->value);
            if (at >= 0) {
                if (node_equal(dst->items[at], src->items[i]))
                    continue;
                _cleanup_free_ char *pos = cnode_pos(dst->keys[at]);
                return bt_err_set(err, EINVAL,
                                  "%s: %s.%s conflicts with the one imported from %s (an included "
                                  "file may not redefine a resource differently)",
                                  pos, *kind, src->keys[i]->value, from);
            }
            cnode_map_set_take(dst, cnode_copy(src->keys[i]), cnode_copy(src->items[i]));
        }
    }
    return 0;
}

static void
rebase_top_level(struct cnode *m, const char *dir)
{
    struct cnode *services = cnode_map_get(m, "services");
    for (size_t i = 0; services && services->kind == CNODE_MAP && i < services->n; i++)
        compose_service_paths_rebase(services->items[i], dir);
    static const char *const with_file[] = {"configs", "secrets", NULL};
    for (const char *const *k = with_file; *k; k++) {
        struct cnode *res = cnode_map_get(m, *k);
        for (size_t i = 0; res && res->kind == CNODE_MAP && i < res->n; i++) {
            struct cnode *f = cnode_map_get(res->items[i], "file");
            if (f && f->kind == CNODE_SCALAR && f->value[0] && f->value[0] != '/') {
                char *abs = bt_path_absolute(dir, f->value);
                free(f->value);
                f->value = abs;
            }
        }
    }
}

static int
include_one(struct cnode *root, const struct cnode *entry, const char *dir, char *const *env,
            bool interpolate, char ***chain, struct bt_err **err)
{
    _cleanup_strv_ char **paths = NULL;
    _cleanup_strv_ char **env_files = NULL;
    const struct cnode *pdir_node = NULL;
    if (entry->kind == CNODE_SCALAR) {
        paths = strings_of(entry);
    } else if (entry->kind == CNODE_MAP) {
        paths = strings_of(cnode_map_get(entry, "path"));
        env_files = strings_of(cnode_map_get(entry, "env_file"));
        pdir_node = cnode_map_get(entry, "project_directory");
    }
    _cleanup_free_ char *pos = cnode_pos(entry);
    if (!paths || !paths[0])
        return bt_err_set(err, EINVAL, "%s: include: an entry needs a path", pos);
    _cleanup_strv_ char **abs = NULL;
    bt_strv_foreach (p, paths)
        abs = bt_strv_push_take(abs, bt_path_absolute(dir, p));
    _cleanup_free_ char *pdir = NULL;
    if (pdir_node && pdir_node->kind == CNODE_SCALAR && pdir_node->value[0])
        pdir = bt_path_absolute(dir, pdir_node->value);
    else
        pdir = bt_path_dirname(abs[0]);

    /* The included project's environment: its env files under the
     * including environment, which wins. */
    _cleanup_strv_ char **fromfiles = xcalloc(1, sizeof(char *));
    if (env_files && env_files[0]) {
        bt_strv_foreach (f, env_files) {
            _cleanup_free_ char *ef = bt_path_absolute(dir, f);
            if (compose_dotenv_load(ef, env, &fromfiles, err) < 0) {
                bt_err_prefix(err, "%s: include", pos);
                return bt_err_ret(err);
            }
        }
    } else {
        _cleanup_free_ char *dotenv = bt_path_join(pdir, ".env");
        struct stat st;
        if (stat(dotenv, &st) == 0 && S_ISREG(st.st_mode) &&
            compose_dotenv_load(dotenv, env, &fromfiles, err) < 0)
            return bt_err_ret(err);
    }
    _cleanup_strv_ char **ienv = TAKE_PTR(fromfiles);
    for (size_t i = 0; env && env[i]; i++)
        ienv = bt_strv_push(ienv, env[i]);

    _cleanup_cnode_ struct cnode *merged = NULL;
    bt_strv_foreach (f, abs) {
        if (bt_strv_contains(*chain, f)) {
            _cleanup_free_ char *cyc = bt_strv_join(*chain, " -> ");
            return bt_err_set(err, ELOOP, "%s: include cycle detected: %s -> %s", pos, cyc, f);
        }
        _cleanup_cnode_ struct cnode *one = compose_file_load(f, ienv, interpolate, err);
        if (!one) {
            bt_err_prefix(err, "%s: include", pos);
            return bt_err_ret(err);
        }
        *chain = bt_strv_push(*chain, f);
        _cleanup_free_ char *fdir = bt_path_dirname(f);
        int r = include_apply(one, fdir, ienv, interpolate, chain, err);
        size_t len = bt_strv_length(*chain);
        free((*chain)[len - 1]);
        (*chain)[len - 1] = NULL;
        if (r < 0)
            return r;
        if (compose_extends_apply(one, pdir, ienv, interpolate, err) < 0)
            return bt_err_ret(err);
        if (!merged)
            merged = TAKE_PTR(one);
        else if (compose_merge_take(merged, TAKE_PTR(one), err) < 0)
            return bt_err_ret(err);
    }
    rebase_top_level(merged, pdir);
    return import(root, merged, abs[0], entry, err);
}

static int
include_apply(struct cnode *root, const char *dir, char *const *env, bool interpolate,
              char ***chain, struct bt_err **err)
{
    const struct cnode *inc = cnode_map_get(root, "include");
    if (!inc || cnode_is_null(inc)) {
        cnode_map_del(root, "include");
        return 0;
    }
    if (inc->kind != CNODE_SEQ) {
        _cleanup_free_ char *pos = cnode_pos(inc);
        return bt_err_set(err, EINVAL, "%s: include: expected a sequence, got %s", pos,
                          cnode_kind_name(inc));
    }
    for (size_t i = 0; i < inc->n; i++) {
        int r = include_one(root, inc->items[i], dir, env, interpolate, chain, err);
        if (r < 0)
            return r;
    }
    cnode_map_del(root, "include");
    return 0;
}

int
compose_include_apply(struct cnode *root, const struct compose_sources *src, bool interpolate,
                      struct bt_err **err)
{
    if (!cnode_map_get(root, "include"))
        return 0;
    const char *file = root->file;
    _cleanup_free_ char *dir = strcmp(file, "-") == 0 || file[0] != '/'
                                   ? xstrdup(src->project_dir ? src->project_dir : ".")
                                   : bt_path_dirname(file);
    _cleanup_strv_ char **chain = NULL;
    if (file[0] == '/')
        chain = bt_strv_push(chain, file);
    return include_apply(root, dir, src->env, interpolate, &chain, err);
}

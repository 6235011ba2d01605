/* `extends`: a service starts from another service, of the same file or of
 * another file, and the extending service is merged on top with the usual
 * merge rules. Chains are followed; a cycle is an error naming it. When the
 * base comes from another file, its relative paths are rebased to that
 * file's directory. */
#include <string.h>

#include "compose/load-internal.h"

static bool
is_relative_path(const char *s)
{
    return s[0] && s[0] != '/' && s[0] != '~' && !strstr(s, "://");
}

static void
rebase_scalar(struct cnode *n, const char *dir)
{
    if (!n || n->kind != CNODE_SCALAR || cnode_is_null(n) || !is_relative_path(n->value))
        return;
    char *abs = bt_path_absolute(dir, n->value);
    free(n->value);
    n->value = abs;
}

/* A build context may be a URL (git repository, https tarball). */
static void
rebase_context(struct cnode *n, const char *dir)
{
    if (!n || n->kind != CNODE_SCALAR)
        return;
    if (bt_str_startswith(n->value, "git@") || bt_str_startswith(n->value, "github.com/") ||
        strstr(n->value, "://"))
        return;
    rebase_scalar(n, dir);
}

/* env_file / label_file: a string, or a list of strings or {path: ...}. */
static void
rebase_files(struct cnode *n, const char *dir)
{
    if (!n)
        return;
    if (n->kind == CNODE_SCALAR) {
        rebase_scalar(n, dir);
        return;
    }
    for (size_t i = 0; n->kind == CNODE_SEQ && i < n->n; i++) {
        if (n->items[i]->kind == CNODE_MAP)
            rebase_scalar(cnode_map_get(n->items[i], "path"), dir);
        else
            rebase_scalar(n->items[i], dir);
    }
}

/* A bind mount's source in short syntax starts with '.' (./x, ../x, .). */
static void
rebase_volume(struct cnode *v, const char *dir)
{
    if (v->kind == CNODE_MAP) {
        const struct cnode *type = cnode_map_get(v, "type");
        if (type && type->kind == CNODE_SCALAR && strcmp(type->value, "bind") == 0)
            rebase_scalar(cnode_map_get(v, "source"), dir);
        return;
    }
    if (v->kind != CNODE_SCALAR || v->value[0] != '.')
        return;
    size_t n = strcspn(v->value, ":");
    _cleanup_free_ char *src = xstrndup(v->value, n);
    _cleanup_free_ char *abs = bt_path_absolute(dir, src);
    char *nv = xasprintf("%s%s", abs, v->value + n);
    free(v->value);
    v->value = nv;
}

void
compose_service_paths_rebase(struct cnode *svc, const char *dir)
{
    if (!svc || svc->kind != CNODE_MAP)
        return;
    struct cnode *build = cnode_map_get(svc, "build");
    if (build && build->kind == CNODE_SCALAR)
        rebase_context(build, dir);
    else if (build && build->kind == CNODE_MAP)
        rebase_context(cnode_map_get(build, "context"), dir);
    rebase_files(cnode_map_get(svc, "env_file"), dir);
    rebase_files(cnode_map_get(svc, "label_file"), dir);
    struct cnode *vols = cnode_map_get(svc, "volumes");
    for (size_t i = 0; vols && vols->kind == CNODE_SEQ && i < vols->n; i++)
        rebase_volume(vols->items[i], dir);
    struct cnode *ext = cnode_map_get(svc, "extends");
    if (ext && ext->kind == CNODE_MAP)
        rebase_scalar(cnode_map_get(ext, "file"), dir);
}

struct ext_ctx {
    const char *project_dir;
    char *const *env;
    bool interpolate;
    char **chain; /* "file\tservice" being resolved */
    /* Other files read so far, each loaded (and warned about) once. */
    char **loaded_paths;
    struct cnode **loaded;
};

static const struct cnode *
load_other(struct ext_ctx *c, const char *path, struct bt_err **err)
{
    size_t n = bt_strv_length(c->loaded_paths);
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->loaded_paths[i], path) == 0)
            return c->loaded[i];
    struct cnode *t = compose_file_load(path, c->env, c->interpolate, err);
    if (!t)
        return NULL;
    c->loaded = xreallocarray(c->loaded, n + 1, sizeof(*c->loaded));
    c->loaded[n] = t;
    c->loaded_paths = bt_strv_push(c->loaded_paths, path);
    return t;
}

static void
ext_ctx_done(struct ext_ctx *c)
{
    size_t n = bt_strv_length(c->loaded_paths);
    for (size_t i = 0; i < n; i++)
        cnode_free(c->loaded[i]);
    free(c->loaded);
    c->loaded = NULL;
    c->loaded_paths = bt_strv_free(c->loaded_paths);
    c->chain = bt_strv_free(c->chain);
}

static char *
chain_text(char *const *chain, const char *last)
{
    struct bt_buf b = {0};
    for (size_t i = 0; chain && chain[i]; i++) {
        const char *tab = strchr(chain[i], '\t');
        bt_buf_printf(&b, "%s -> ", tab ? tab + 1 : chain[i]);
    }
    bt_buf_puts(&b, last);
    return bt_buf_steal(&b);
}

static char *
dir_of(const char *file, const char *project_dir)
{
    if (strcmp(file, "-") == 0 || file[0] != '/')
        return xstrdup(project_dir ? project_dir : ".");
    return bt_path_dirname(file);
}

/* Merges svc over base following the service merge rules. Takes both. */
static struct cnode *
merge_service(struct cnode *base, struct cnode *svc, const char *name, struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *a = cnode_new(CNODE_MAP, base->file, base->line, base->col);
    struct cnode *as = cnode_new(CNODE_MAP, base->file, base->line, base->col);
    cnode_map_set_str_take(as, name, base);
    cnode_map_set_str_take(a, "services", as);
    struct cnode *b = cnode_new(CNODE_MAP, svc->file, svc->line, svc->col);
    struct cnode *bs = cnode_new(CNODE_MAP, svc->file, svc->line, svc->col);
    cnode_map_set_str_take(bs, name, svc);
    cnode_map_set_str_take(b, "services", bs);
    if (compose_merge_take(a, b, err) < 0)
        return NULL;
    struct cnode *services = cnode_map_get(a, "services");
    ssize_t i = cnode_map_index(services, name);
    struct cnode *out = services->items[i];
    services->items[i] = cnode_new(CNODE_MAP, NULL, 0, 0);
    return out;
}

static struct cnode *resolve(struct ext_ctx *c, const struct cnode *root, const char *file,
                             const char *name, const struct cnode *ref, struct bt_err **err);

/* Resolves the service `name` of `root` (read from `file`) into a new tree
 * without `extends`. ref is the node that asked for it, for messages. */
static struct cnode *
resolve(struct ext_ctx *c, const struct cnode *root, const char *file, const char *name,
        const struct cnode *ref, struct bt_err **err)
{
    const struct cnode *services = cnode_map_get(root, "services");
    const struct cnode *svc = cnode_map_get(services, name);
    if (!svc || svc->kind != CNODE_MAP) {
        _cleanup_free_ char *pos = cnode_pos(ref);
        bt_err_set(err, ENOENT, "%s: cannot extend service \"%s\" in %s: service not found", pos,
                   name, file);
        return NULL;
    }
    const struct cnode *ext = cnode_map_get(svc, "extends");
    if (!ext || cnode_is_null(ext)) {
        struct cnode *copy = cnode_copy(svc);
        cnode_map_del(copy, "extends");
        return copy;
    }
    _cleanup_free_ char *key = xasprintf("%s\t%s", file, name);
    if (bt_strv_contains(c->chain, key)) {
        _cleanup_free_ char *cyc = chain_text(c->chain, name);
        _cleanup_free_ char *pos = cnode_pos(ext);
        bt_err_set(err, ELOOP, "%s: services.%s.extends: circular reference with extends: %s", pos,
                   name, cyc);
        return NULL;
    }
    const struct cnode *target = NULL, *fnode = NULL;
    if (ext->kind == CNODE_SCALAR) {
        target = ext;
    } else if (ext->kind == CNODE_MAP) {
        target = cnode_map_get(ext, "service");
        fnode = cnode_map_get(ext, "file");
    }
    if (!target || target->kind != CNODE_SCALAR || !target->value[0] ||
        (fnode && fnode->kind != CNODE_SCALAR)) {
        _cleanup_free_ char *pos = cnode_pos(ext);
        bt_err_set(err, EINVAL,
                   "%s: services.%s.extends: expected a service name or a mapping with "
                   "`service` (and optionally `file`)",
                   pos, name);
        return NULL;
    }
    const struct cnode *other = NULL;
    _cleanup_free_ char *other_file = NULL;
    if (fnode && !cnode_is_null(fnode)) {
        _cleanup_free_ char *dir = dir_of(file, c->project_dir);
        other_file = bt_path_absolute(dir, fnode->value);
        other = load_other(c, other_file, err);
        if (!other) {
            _cleanup_free_ char *pos = cnode_pos(fnode);
            bt_err_prefix(err, "%s: services.%s.extends.file", pos, name);
            return NULL;
        }
    }
    c->chain = bt_strv_push(c->chain, key);
    struct cnode *base =
        resolve(c, other ? other : root, other ? other_file : file, target->value, target, err);
    size_t len = bt_strv_length(c->chain);
    free(c->chain[len - 1]);
    c->chain[len - 1] = NULL;
    if (!base)
        return NULL;
    if (other) {
        _cleanup_free_ char *dir = bt_path_dirname(other_file);
        compose_service_paths_rebase(base, dir);
    }
    struct cnode *copy = cnode_copy(svc);
    cnode_map_del(copy, "extends");
    return merge_service(base, copy, name, err);
}

int
compose_extends_apply(struct cnode *root, const char *project_dir, char *const *env,
                      bool interpolate, struct bt_err **err)
{
    struct cnode *services = cnode_map_get(root, "services");
    if (!services || services->kind != CNODE_MAP)
        return 0;
    bool any = false;
    for (size_t i = 0; i < services->n && !any; i++)
        any = cnode_map_get(services->items[i], "extends") != NULL;
    if (!any)
        return 0;
    /* Resolve against the file as written, not as it is being rewritten. */
    _cleanup_cnode_ struct cnode *pristine = cnode_copy(root);
    struct ext_ctx c = {.project_dir = project_dir, .env = env, .interpolate = interpolate};
    const char *file = root->file;
    for (size_t i = 0; i < services->n; i++) {
        if (!cnode_map_get(services->items[i], "extends"))
            continue;
        struct cnode *res =
            resolve(&c, pristine, file, services->keys[i]->value, services->keys[i], err);
        if (!res) {
            ext_ctx_done(&c);
            return bt_err_ret(err);
        }
        cnode_free(services->items[i]);
        services->items[i] = res;
    }
    ext_ctx_done(&c);
    return 0;
}

/* compose_project_load(): the whole pipeline from what the user typed to a
 * typed, normalised project with its dependency graph. */
#include <string.h>

#include "compose/load-internal.h"
#include "compose/model-internal.h"
#include "compose/validate-internal.h"

static void
sources_donep(struct compose_sources *s)
{
    compose_sources_done(s);
}

/* Every profile any service names, sorted and unique. */
static char **
profiles_collect(const struct cnode *services)
{
    char **out = xcalloc(1, sizeof(char *));
    for (size_t i = 0; services && services->kind == CNODE_MAP && i < services->n; i++) {
        const struct cnode *prof = cnode_map_get(services->items[i], "profiles");
        for (size_t j = 0; prof && prof->kind == CNODE_SEQ && j < prof->n; j++) {
            const struct cnode *it = prof->items[j];
            if (it->kind == CNODE_SCALAR && !bt_strv_contains(out, it->value))
                out = bt_strv_push(out, it->value);
        }
    }
    bt_strv_sort(out);
    return out;
}

static char **
service_names(const struct cnode *services)
{
    char **out = xcalloc(1, sizeof(char *));
    for (size_t i = 0; services && services->kind == CNODE_MAP && i < services->n; i++)
        out = bt_strv_push(out, services->keys[i]->value);
    return out;
}

struct compose_project *
compose_project_load(const struct compose_options *opts, struct bt_err **err)
{
    _cleanup_(sources_donep) struct compose_sources src = {0};
    if (compose_sources_discover(opts, &src, err) < 0)
        return NULL;
    _cleanup_cnode_ struct cnode *root = compose_files_load(&src, !opts->no_interpolate, err);
    if (!root)
        return NULL;
    if (compose_validate(root, err) < 0)
        return NULL;

    _cleanup_project_ struct compose_project *p = compose_project_new();
    if (compose_project_name_resolve(opts->project_name, src.env, root, src.project_dir, &p->name,
                                     err) < 0)
        return NULL;
    p->working_dir = xstrdup(src.project_dir);
    p->config_files = bt_strv_copy(src.files);
    p->environment = bt_strv_copy(src.env);
    if (!p->environment)
        p->environment = xcalloc(1, sizeof(char *));

    const struct cnode *services = cnode_map_get(root, "services");
    p->profiles = profiles_collect(services);
    _cleanup_strv_ char **before = service_names(services);
    _cleanup_strv_ char **active = compose_profiles_active(opts->profiles, src.env);
    if (compose_profiles_apply(root, active, opts->services, err) < 0)
        return NULL;
    services = cnode_map_get(root, "services");
    p->disabled_services = xcalloc(1, sizeof(char *));
    bt_strv_foreach (name, before) {
        if (!services || cnode_map_index(services, name) < 0)
            p->disabled_services = bt_strv_push(p->disabled_services, name);
    }
    bt_strv_foreach (name, (char **)opts->services) {
        if (!bt_strv_contains(before, name))
            return bt_err_set(err, ENOENT, "no such service: %s", name), NULL;
    }

    if (compose_normalize(root, p, err) < 0)
        return NULL;
    if (compose_graph_build(p, err) < 0)
        return NULL;
    return TAKE_PTR(p);
}

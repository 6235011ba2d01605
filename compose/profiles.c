/* Profiles, as Compose applies them: a service without `profiles` is always
 * enabled; one with profiles is enabled when one of them is active ("*"
 * activates all). A service named on the command line is enabled whatever
 * its profiles, and so is every service it needs (depends_on, links,
 * volumes_from, network_mode/ipc/pid "service:x"), transitively. An enabled
 * service that needs a service its profiles leave disabled is an error that
 * names both; an optional dependency (depends_on ... required: false) on a
 * disabled service is dropped instead. */
#include <string.h>

#include "compose/load-internal.h"

char **
compose_profiles_active(char *const *flags, char *const *env)
{
    char **out = xcalloc(1, sizeof(char *));
    _cleanup_strv_ char **split = NULL;
    char *const *src = flags;
    if (bt_strv_length(flags) == 0) {
        const char *e = compose_env_get(env, "COMPOSE_PROFILES");
        if (!e)
            return out;
        split = bt_strv_split(e, ",");
        src = split;
    }
    for (size_t i = 0; src && src[i]; i++) {
        const char *s = src[i];
        size_t len = strlen(s);
        while (*s == ' ' || *s == '\t')
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;
        char *p = xstrndup(s, len);
        if (bt_strv_contains(out, p))
            free(p);
        else
            out = bt_strv_push_take(out, p);
    }
    return out;
}

static bool
profile_enabled(const struct cnode *svc, char *const *active)
{
    const struct cnode *prof = cnode_map_get(svc, "profiles");
    if (!prof || prof->kind != CNODE_SEQ || prof->n == 0)
        return true;
    if (bt_strv_contains(active, "*"))
        return true;
    for (size_t i = 0; i < prof->n; i++)
        if (prof->items[i]->kind == CNODE_SCALAR && bt_strv_contains(active, prof->items[i]->value))
            return true;
    return false;
}

/* A reference from one service to another. */
struct ref {
    const char *target; /* borrowed from the tree, or from name when set */
    char *name;         /* owned copy when the target is part of a string */
    const struct cnode *node;
    const char *key;
    bool optional;
};

static void
refs_free(struct ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(refs[i].name);
    free(refs);
}

static void
add_ref(struct ref **refs, size_t *n, char *name, const struct cnode *node, const char *key,
        bool optional)
{
    *refs = xreallocarray(*refs, *n + 1, sizeof(**refs));
    (*refs)[*n] =
        (struct ref){.target = name, .name = name, .node = node, .key = key, .optional = optional};
    (*n)++;
}

/* Every service a service needs. */
static struct ref *
service_refs(const struct cnode *svc, size_t *n)
{
    struct ref *refs = NULL;
    *n = 0;
    const struct cnode *dep = cnode_map_get(svc, "depends_on");
    if (dep && dep->kind == CNODE_SEQ) {
        for (size_t i = 0; i < dep->n; i++)
            if (dep->items[i]->kind == CNODE_SCALAR)
                add_ref(&refs, n, xstrdup(dep->items[i]->value), dep->items[i], "depends_on",
                        false);
    } else if (dep && dep->kind == CNODE_MAP) {
        for (size_t i = 0; i < dep->n; i++) {
            bool required = true;
            const struct cnode *req = cnode_map_get(dep->items[i], "required");
            if (req)
                cnode_get_bool(req, &required);
            add_ref(&refs, n, xstrdup(dep->keys[i]->value), dep->keys[i], "depends_on", !required);
        }
    }
    const struct cnode *links = cnode_map_get(svc, "links");
    for (size_t i = 0; links && links->kind == CNODE_SEQ && i < links->n; i++) {
        const struct cnode *l = links->items[i];
        if (l->kind == CNODE_SCALAR)
            add_ref(&refs, n, xstrndup(l->value, strcspn(l->value, ":")), l, "links", false);
    }
    const struct cnode *vf = cnode_map_get(svc, "volumes_from");
    for (size_t i = 0; vf && vf->kind == CNODE_SEQ && i < vf->n; i++) {
        const struct cnode *v = vf->items[i];
        if (v->kind != CNODE_SCALAR || bt_str_startswith(v->value, "container:"))
            continue;
        const char *s = v->value;
        if (bt_str_startswith(s, "service:"))
            s += strlen("service:");
        add_ref(&refs, n, xstrndup(s, strcspn(s, ":")), v, "volumes_from", false);
    }
    static const char *const modes[] = {"network_mode", "ipc", "pid", NULL};
    for (const char *const *m = modes; *m; m++) {
        const struct cnode *v = cnode_map_get(svc, *m);
        if (v && v->kind == CNODE_SCALAR && bt_str_startswith(v->value, "service:"))
            add_ref(&refs, n, xstrdup(v->value + strlen("service:")), v, *m, false);
    }
    return refs;
}

static void
enable_with_needs(const struct cnode *services, bool *enabled, size_t i)
{
    if (enabled[i])
        return;
    enabled[i] = true;
    size_t n = 0;
    struct ref *refs = service_refs(services->items[i], &n);
    for (size_t k = 0; k < n; k++) {
        ssize_t j = cnode_map_index(services, refs[k].target);
        if (j >= 0)
            enable_with_needs(services, enabled, (size_t)j);
    }
    refs_free(refs, n);
}

static char *
profiles_of(const struct cnode *svc)
{
    const struct cnode *prof = cnode_map_get(svc, "profiles");
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    for (size_t i = 0; prof && prof->kind == CNODE_SEQ && i < prof->n; i++)
        bt_buf_printf(&b, "%s%s", i ? ", " : "", prof->items[i]->value);
    return bt_buf_steal(&b);
}

int
compose_profiles_apply(struct cnode *root, char *const *profiles, char *const *explicit,
                       struct bt_err **err)
{
    struct cnode *services = cnode_map_get(root, "services");
    if (!services || services->kind != CNODE_MAP)
        return 0;
    _cleanup_free_ bool *enabled = xcalloc(services->n + 1, sizeof(bool));
    for (size_t i = 0; i < services->n; i++)
        enabled[i] = profile_enabled(services->items[i], profiles);
    for (size_t e = 0; explicit && explicit[e]; e++) {
        ssize_t i = cnode_map_index(services, explicit[e]);
        if (i < 0)
            return bt_err_set(err, ENOENT, "no such service: %s", explicit[e]);
        /* Recompute from this service so that its needs are enabled even
         * when it was already enabled. */
        enabled[i] = false;
        enable_with_needs(services, enabled, (size_t)i);
    }
    /* An enabled service must not need a disabled one. */
    for (size_t i = 0; i < services->n; i++) {
        if (!enabled[i])
            continue;
        size_t n = 0;
        struct ref *refs = service_refs(services->items[i], &n);
        for (size_t k = 0; k < n; k++) {
            ssize_t j = cnode_map_index(services, refs[k].target);
            if (j < 0 || enabled[j])
                continue;
            if (refs[k].optional) {
                bt_debug("service %s: optional dependency %s is disabled by profiles, dropped",
                         services->keys[i]->value, refs[k].target);
                cnode_map_del(cnode_map_get(services->items[i], "depends_on"), refs[k].target);
                /* The references point into the tree that just changed. */
                refs_free(refs, n);
                refs = service_refs(services->items[i], &n);
                k = (size_t)-1;
                continue;
            }
            _cleanup_free_ char *pos = cnode_pos(refs[k].node);
            _cleanup_free_ char *prof = profiles_of(services->items[j]);
            bt_err_set(err, EINVAL,
                       "%s: services.%s.%s: service \"%s\" needs service \"%s\", which is "
                       "disabled by its profiles (%s); activate one with --profile or "
                       "COMPOSE_PROFILES",
                       pos, services->keys[i]->value, refs[k].key, services->keys[i]->value,
                       refs[k].target, prof);
            refs_free(refs, n);
            return -EINVAL;
        }
        refs_free(refs, n);
    }
    for (size_t i = services->n; i-- > 0;)
        if (!enabled[i])
            cnode_map_del(services, services->keys[i]->value);
    return 0;
}

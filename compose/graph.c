/* The dependency graph between services: which must start before which, and
 * which can start together. */
#include <string.h>

#include "compose/compose.h"

/* "service:x" -> "x"; NULL for anything else. */
static const char *
service_ref(const char *s)
{
    if (s && bt_str_startswith(s, "service:") && s[8])
        return s + 8;
    return NULL;
}

static char **
push_name(char **v, const char *s, size_t len)
{
    _cleanup_free_ char *name = xstrndup(s, len);
    if (!bt_strv_contains(v, name))
        v = bt_strv_push(v, name);
    return v;
}

char **
compose_service_dependencies(const struct compose_service *s)
{
    char **v = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < s->n_depends_on; i++)
        v = push_name(v, s->depends_on[i].service, strlen(s->depends_on[i].service));
    const char *modes[] = {s->network_mode, s->ipc, s->pid};
    for (size_t i = 0; i < BT_ARRAY_SIZE(modes); i++) {
        const char *ref = service_ref(modes[i]);
        if (ref)
            v = push_name(v, ref, strlen(ref));
    }
    bt_strv_foreach (vf, s->volumes_from) {
        /* "name[:ro]", "service:name[:rw]"; "container:x" is not a service. */
        if (bt_str_startswith(vf, "container:"))
            continue;
        const char *name = bt_str_startswith(vf, "service:") ? vf + 8 : vf;
        v = push_name(v, name, strcspn(name, ":"));
    }
    bt_strv_foreach (l, s->links)
        v = push_name(v, l, strcspn(l, ":"));
    bt_strv_sort(v);
    return v;
}

/* Whether s's dependency on dep may be left out when dep is absent:
 * depends_on with `required: false`. */
static bool
optional_dependency(const struct compose_service *s, const char *dep)
{
    const char *modes[] = {s->network_mode, s->ipc, s->pid};
    for (size_t i = 0; i < BT_ARRAY_SIZE(modes); i++)
        if (bt_streq_null(service_ref(modes[i]), dep))
            return false;
    for (size_t i = 0; i < s->n_depends_on; i++)
        if (strcmp(s->depends_on[i].service, dep) == 0)
            return !s->depends_on[i].required;
    return false;
}

struct graph {
    size_t n;
    size_t **deps; /* deps[i]: indices i depends on */
    size_t *n_deps;
};

static void
graph_done(struct graph *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->deps[i]);
    free(g->deps);
    free(g->n_deps);
}

static int
cycle_error(const struct compose_project *p, const struct graph *g, const bool *placed,
            struct bt_err **err)
{
    size_t start = 0;
    while (placed[start])
        start++;
    /* Every unplaced service has an unplaced dependency: walking them must
     * come back to a service already seen. */
    _cleanup_free_ size_t *seen_at = xcalloc(g->n, sizeof(size_t));
    _cleanup_free_ size_t *walk = xcalloc(g->n + 1, sizeof(size_t));
    size_t len = 0, cur = start;
    while (!seen_at[cur]) {
        walk[len++] = cur;
        seen_at[cur] = len;
        size_t next = cur;
        for (size_t j = 0; j < g->n_deps[cur]; j++) {
            if (!placed[g->deps[cur][j]]) {
                next = g->deps[cur][j];
                break;
            }
        }
        cur = next;
    }
    struct bt_buf b = {0};
    for (size_t i = seen_at[cur] - 1; i < len; i++)
        bt_buf_printf(&b, "%s -> ", p->services[walk[i]].name);
    bt_buf_puts(&b, p->services[cur].name);
    int r = bt_err_set(err, EINVAL, "dependency cycle between services: %s", b.data);
    bt_buf_done(&b);
    return r;
}

static int
graph_load(const struct compose_project *p, struct graph *g, struct bt_err **err)
{
    g->n = p->n_services;
    g->deps = xcalloc(g->n ? g->n : 1, sizeof(*g->deps));
    g->n_deps = xcalloc(g->n ? g->n : 1, sizeof(*g->n_deps));
    for (size_t i = 0; i < g->n; i++) {
        const struct compose_service *s = &p->services[i];
        _cleanup_strv_ char **deps = compose_service_dependencies(s);
        g->deps[i] = xcalloc(bt_strv_length(deps) + 1, sizeof(size_t));
        bt_strv_foreach (d, deps) {
            const struct compose_service *t = compose_project_service(p, d);
            if (!t) {
                if (optional_dependency(s, d))
                    continue;
                if (bt_strv_contains(p->disabled_services, d))
                    return bt_err_set(err, EINVAL,
                                      "service '%s' depends on service '%s', which the active "
                                      "profiles disable (enable its profile with --profile)",
                                      s->name, d);
                return bt_err_set(err, EINVAL, "service '%s' depends on undefined service '%s'",
                                  s->name, d);
            }
            if (t == s)
                return bt_err_set(err, EINVAL, "dependency cycle between services: %s -> %s",
                                  s->name, s->name);
            g->deps[i][g->n_deps[i]++] = (size_t)(t - p->services);
        }
    }
    return 0;
}

int
compose_graph_build(struct compose_project *p, struct bt_err **err)
{
    struct graph g = {0};
    int r = graph_load(p, &g, err);
    if (r < 0) {
        graph_done(&g);
        return r;
    }
    size_t n = p->n_services;
    _cleanup_free_ bool *placed = xcalloc(n ? n : 1, sizeof(bool));
    _cleanup_free_ size_t *layer_of = xcalloc(n ? n : 1, sizeof(size_t));
    _cleanup_free_ size_t *order = xcalloc(n ? n : 1, sizeof(size_t));
    _cleanup_free_ size_t *layer_start = xcalloc(n + 1, sizeof(size_t));
    size_t done = 0, layers = 0;
    /* Kahn's algorithm by layers: a layer is every service whose
     * dependencies all sit in earlier layers, in name order. */
    while (done < n) {
        size_t before = done;
        layer_start[layers] = done;
        for (size_t i = 0; i < n; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            for (size_t j = 0; j < g.n_deps[i] && ready; j++) {
                size_t d = g.deps[i][j];
                ready = placed[d] && layer_of[d] < layers;
            }
            if (ready)
                order[done++] = i;
        }
        for (size_t k = before; k < done; k++) {
            placed[order[k]] = true;
            layer_of[order[k]] = layers;
        }
        if (done == before) {
            r = cycle_error(p, &g, placed, err);
            graph_done(&g);
            return r;
        }
        layers++;
    }
    layer_start[layers] = n;
    graph_done(&g);
    free(p->order);
    free(p->layer_start);
    p->order = TAKE_PTR(order);
    p->layer_start = TAKE_PTR(layer_start);
    p->n_layers = layers;
    return 0;
}

/* compose: a project's actual state, found by the labels its containers,
 * networks and volumes carry. */
#include <stdlib.h>
#include <string.h>

#include "compose/orchestrate.h"
#include "engine/engine.h"
#include "net/net.h"
#include "volumes/volumes.h"

void
compose_container_done(struct compose_container *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->name);
    free(c->project);
    free(c->service);
    free(c->state);
    free(c->health);
    free(c->created);
    free(c->started_at);
    free(c->finished_at);
    free(c->image);
    free(c->config_hash);
    bt_strv_free(c->command);
    bt_strv_free(c->ports);
    json_decref(c->labels);
    memset(c, 0, sizeof(*c));
}

void
compose_actual_done(struct compose_actual *a)
{
    for (size_t i = 0; i < a->n_containers; i++)
        compose_container_done(&a->containers[i]);
    free(a->containers);
    bt_strv_free(a->networks);
    bt_strv_free(a->volumes);
    memset(a, 0, sizeof(*a));
}

static char *
strdup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

static int
cmp_container(const void *a, const void *b)
{
    const struct compose_container *x = a, *y = b;
    int c = strcmp(x->service, y->service);
    if (c)
        return c;
    if (x->oneoff != y->oneoff)
        return x->oneoff ? 1 : -1;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fills c from an inspect object; ports from the registry (ctx may be NULL). */
static void
container_from_inspect(struct compose_container *c, json_t *ins, struct net_ctx *ctx)
{
    json_t *labels = json_object_get(json_object_get(ins, "Config"), "Labels");
    json_t *st = json_object_get(ins, "State");
    c->id = strdup_or_empty(bt_json_str(ins, "Id"));
    const char *name = bt_json_str(ins, "Name");
    c->name = strdup_or_empty(name && name[0] == '/' ? name + 1 : name);
    c->project = strdup_or_empty(bt_json_str(labels, COMPOSE_LABEL_PROJECT));
    c->service = strdup_or_empty(bt_json_str(labels, COMPOSE_LABEL_SERVICE));
    int64_t num = 0;
    const char *ns = bt_json_str(labels, COMPOSE_LABEL_NUMBER);
    if (ns && bt_parse_int64(ns, &num) && num > 0 && num < 1000000)
        c->number = (int)num;
    const char *oneoff = bt_json_str(labels, COMPOSE_LABEL_ONEOFF);
    c->oneoff = oneoff && strcasecmp(oneoff, "true") == 0;
    c->state = strdup_or_empty(bt_json_str(st, "Status"));
    c->health = strdup_or_empty(bt_json_str(json_object_get(st, "Health"), "Status"));
    c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    c->created = strdup_or_empty(bt_json_str(ins, "Created"));
    c->started_at = strdup_or_empty(bt_json_str(st, "StartedAt"));
    c->finished_at = strdup_or_empty(bt_json_str(st, "FinishedAt"));
    c->image = strdup_or_empty(bt_json_str(ins, "Image"));
    c->config_hash = strdup_or_empty(bt_json_str(labels, COMPOSE_LABEL_HASH));
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(json_object_get(ins, "Config"), "Cmd"), i, v)
        c->command = bt_strv_push(c->command, json_string_value(v) ? json_string_value(v) : "");
    c->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
    c->ports = xcalloc(1, sizeof(char *));
    struct net_port_set *set = ctx ? net_ports_list(ctx, c->id, NULL) : NULL;
    for (size_t k = 0; set && k < set->n; k++) {
        char buf[80];
        c->ports =
            bt_strv_push(c->ports, net_port_binding_fmt(&set->bindings[k], buf, sizeof(buf)));
    }
    net_port_set_free(set);
    bt_strv_sort(c->ports);
}

static char *
berth_root(void)
{
    const char *r = getenv("BERTH_ROOT");
    return xstrdup(r && r[0] ? r : "/var/lib/berth");
}

int
compose_actual_load(const char *project, bool oneoff, struct compose_actual *out,
                    struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    out->networks = xcalloc(1, sizeof(char *));
    out->volumes = xcalloc(1, sizeof(char *));
    _cleanup_json_ json_t *list = engine_container_list(true, err);
    if (!list) {
        compose_actual_done(out);
        return bt_err_ret(err);
    }
    struct net_ctx *ctx = net_ctx_new(NULL);
    size_t i;
    json_t *ins;
    json_array_foreach (list, i, ins) {
        json_t *labels = json_object_get(json_object_get(ins, "Config"), "Labels");
        if (!bt_streq_null(bt_json_str(labels, COMPOSE_LABEL_PROJECT), project))
            continue;
        const char *o = bt_json_str(labels, COMPOSE_LABEL_ONEOFF);
        if (!oneoff && o && strcasecmp(o, "true") == 0)
            continue;
        out->containers =
            xreallocarray(out->containers, out->n_containers + 1, sizeof(*out->containers));
        struct compose_container *c = &out->containers[out->n_containers++];
        memset(c, 0, sizeof(*c));
        container_from_inspect(c, ins, ctx);
    }
    if (out->n_containers)
        qsort(out->containers, out->n_containers, sizeof(*out->containers), cmp_container);

    if (ctx) {
        size_t n = 0;
        struct net_network **nets = net_network_list(ctx, &n, NULL);
        for (size_t k = 0; nets && k < n; k++)
            if (bt_streq_null(bt_json_str(nets[k]->labels, COMPOSE_LABEL_PROJECT), project))
                out->networks = bt_strv_push(out->networks, nets[k]->name);
        if (nets)
            net_network_list_free(nets, n);
        net_ctx_free(ctx);
    }

    _cleanup_free_ char *root = berth_root();
    struct vol_store *vs = vol_store_open(root, NULL);
    if (vs) {
        struct vol_filter f = {.dangling = -1};
        _cleanup_free_ char *spec = xasprintf("label=%s=%s", COMPOSE_LABEL_PROJECT, project);
        struct vol_list vl = {0};
        if (vol_filter_add(&f, spec, NULL) == 0 && vol_volume_list(vs, &f, &vl, NULL) == 0) {
            for (size_t k = 0; k < vl.n; k++)
                if (!vl.items[k]->anonymous)
                    out->volumes = bt_strv_push(out->volumes, vl.items[k]->name);
            vol_list_done(&vl);
        }
        vol_filter_done(&f);
        vol_store_free(vs);
    }
    return 0;
}

char **
compose_actual_projects(struct bt_err **err)
{
    _cleanup_json_ json_t *list = engine_container_list(true, err);
    if (!list)
        return NULL;
    char **out = xcalloc(1, sizeof(char *));
    size_t i;
    json_t *ins;
    json_array_foreach (list, i, ins) {
        const char *p = bt_json_str(json_object_get(json_object_get(ins, "Config"), "Labels"),
                                    COMPOSE_LABEL_PROJECT);
        if (p && !bt_strv_contains(out, p))
            out = bt_strv_push(out, p);
    }
    bt_strv_sort(out);
    return out;
}

struct compose_container **
compose_actual_service(const struct compose_actual *a, const char *service)
{
    struct compose_container **out = xcalloc(a->n_containers + 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; i < a->n_containers; i++)
        if (!service || strcmp(a->containers[i].service, service) == 0)
            out[n++] = &a->containers[i];
    return out;
}

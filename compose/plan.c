/* compose: the plan — desired (the project) vs actual (its labelled
 * containers), decided per container as Compose does. Pure. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "compose/secrets-internal.h"

const char *
compose_action_kind_name(enum compose_action_kind k)
{
    switch (k) {
    case COMPOSE_ACTION_CREATE:
        return "create";
    case COMPOSE_ACTION_START:
        return "start";
    case COMPOSE_ACTION_RECREATE:
        return "recreate";
    case COMPOSE_ACTION_RESTART:
        return "restart";
    case COMPOSE_ACTION_KEEP:
        return "keep";
    case COMPOSE_ACTION_REMOVE:
        return "remove";
    }
    return "?";
}

void
compose_plan_done(struct compose_plan *plan)
{
    for (size_t i = 0; i < plan->n_actions; i++) {
        free(plan->actions[i].service);
        free(plan->actions[i].name);
        free(plan->actions[i].id);
        free(plan->actions[i].reason);
    }
    free(plan->actions);
    bt_strv_free(plan->orphans);
    memset(plan, 0, sizeof(*plan));
}

int
compose_service_scale(const struct compose_service *s, const struct compose_kvs *scale)
{
    const char *v = scale ? compose_kvs_get(scale, s->name) : NULL;
    int64_t n;
    if (v && bt_parse_int64(v, &n) && n >= 0)
        return (int)n;
    n = compose_service_replicas(s);
    return n >= 0 ? (int)n : 1;
}

char *
compose_container_name(const struct compose_project *p, const struct compose_service *s, int n)
{
    if (s->container_name)
        return xstrdup(s->container_name);
    return xasprintf("%s-%s-%d", p->name, s->name, n);
}

static void
add(struct compose_plan *plan, enum compose_action_kind kind, const char *service, int number,
    const char *name, const char *id, char *reason_take)
{
    plan->actions = xreallocarray(plan->actions, plan->n_actions + 1, sizeof(*plan->actions));
    plan->actions[plan->n_actions++] = (struct compose_action){
        .kind = kind,
        .service = xstrdup(service),
        .number = number,
        .name = xstrdup(name),
        .id = id ? xstrdup(id) : NULL,
        .reason = reason_take,
    };
}

static bool
selected(const struct compose_plan_opts *o, const char *service)
{
    return !o || !o->services || bt_strv_contains(o->services, service);
}

/* Whether service `s` was recreated earlier in this plan. */
static bool
recreated(const struct compose_plan *plan, const char *service)
{
    for (size_t i = 0; i < plan->n_actions; i++)
        if (plan->actions[i].kind == COMPOSE_ACTION_RECREATE &&
            strcmp(plan->actions[i].service, service) == 0)
            return true;
    return false;
}

/* The service whose namespaces (network_mode, ipc, pid service:x) or
 * volumes (volumes_from) s uses and that this plan recreates; caller owns. */
static char *
joined_recreated(const struct compose_plan *plan, const struct compose_service *s)
{
    const char *modes[] = {s->network_mode, s->ipc, s->pid};
    for (size_t i = 0; i < BT_ARRAY_SIZE(modes); i++)
        if (modes[i] && bt_str_startswith(modes[i], "service:") && recreated(plan, modes[i] + 8))
            return xstrdup(modes[i] + 8);
    bt_strv_foreach (from, s->volumes_from) {
        /* "service:NAME[:mode]", or "NAME:mode" as written */
        if (bt_str_startswith(from, "container:"))
            continue;
        _cleanup_free_ char *name = xstrdup(bt_str_startswith(from, "service:") ? from + 8 : from);
        char *colon = strchr(name, ':');
        if (colon)
            *colon = '\0';
        if (recreated(plan, name))
            return TAKE_PTR(name);
    }
    return NULL;
}

/* The name of a network s is on that this up recreates, or NULL. */
static const char *
network_recreated(const struct compose_project *p, const struct compose_service *s,
                  char *const *keys)
{
    for (size_t i = 0; keys && i < s->n_networks; i++)
        if (bt_strv_contains(keys, s->networks[i].name)) {
            const struct compose_network *n = compose_project_network(p, s->networks[i].name);
            return n ? n->name : s->networks[i].name;
        }
    return NULL;
}

static bool
is_running(const struct compose_container *c)
{
    return strcmp(c->state, "running") == 0 || strcmp(c->state, "restarting") == 0 ||
           strcmp(c->state, "paused") == 0;
}

int
compose_plan_make(const struct compose_project *p, const struct compose_actual *actual,
                  const struct compose_plan_opts *opts, struct compose_plan *out,
                  struct bt_err **err)
{
    static const struct compose_plan_opts none = {0};
    if (!opts)
        opts = &none;
    memset(out, 0, sizeof(*out));
    out->orphans = xcalloc(1, sizeof(char *));

    for (size_t oi = 0; oi < p->n_services; oi++) {
        const struct compose_service *s = &p->services[p->order ? p->order[oi] : oi];
        if (!selected(opts, s->name))
            continue;
        int want = compose_service_scale(s, opts->scale);
        if (s->container_name && want > 1) {
            compose_plan_done(out);
            return bt_err_set(err, EINVAL,
                              "service '%s' sets container_name '%s' and cannot be scaled to %d",
                              s->name, s->container_name, want);
        }
        _cleanup_free_ char *hash = compose_service_hash(s);
        const char *image_id = opts->image_ids ? compose_kvs_get(opts->image_ids, s->name) : NULL;
        _cleanup_free_ struct compose_container **have = compose_actual_service(actual, s->name);
        size_t n_have = 0;
        while (have[n_have])
            n_have++;
        /* scale down: the highest numbers go first */
        for (size_t k = n_have; k-- > 0;) {
            if (have[k]->oneoff || have[k]->number <= want)
                continue;
            add(out, COMPOSE_ACTION_REMOVE, s->name, have[k]->number, have[k]->name, have[k]->id,
                xasprintf("scale %zu -> %d", n_have, want));
        }
        bool restart_for_dep = false;
        for (size_t d = 0; d < s->n_depends_on; d++)
            if (s->depends_on[d].restart && recreated(out, s->depends_on[d].service))
                restart_for_dep = true;
        /* a service in another's namespaces or with its volumes must follow
         * it to the new container */
        _cleanup_free_ char *joined = joined_recreated(out, s);
        for (int num = 1; num <= want; num++) {
            const struct compose_container *c = NULL;
            for (size_t k = 0; k < n_have; k++)
                if (!have[k]->oneoff && have[k]->number == num)
                    c = have[k];
            _cleanup_free_ char *name = compose_container_name(p, s, num);
            if (!c) {
                add(out, COMPOSE_ACTION_CREATE, s->name, num, name, NULL, NULL);
                continue;
            }
            char *reason = NULL;
            const char *net = network_recreated(p, s, opts->networks_recreated);
            if (opts->force_recreate)
                reason = xstrdup("forced");
            else if (net)
                reason = xasprintf("network %s changed", net);
            else if (joined)
                reason = xasprintf("%s was recreated", joined);
            else if (strcmp(c->config_hash, hash) != 0)
                reason = xstrdup("configuration changed");
            else if (compose_secrets_changed(p, s, c->labels))
                reason = xstrdup("secret or config content changed");
            else if (image_id &&
                     !bt_streq_null(bt_json_str(c->labels, COMPOSE_LABEL_IMAGE), image_id))
                reason = xstrdup("image changed");
            if (reason && opts->no_recreate && !net) {
                free(reason);
                reason = NULL;
            }
            if (reason)
                add(out, COMPOSE_ACTION_RECREATE, s->name, num, c->name, c->id, reason);
            else if (!is_running(c))
                add(out, COMPOSE_ACTION_START, s->name, num, c->name, c->id, NULL);
            else if (restart_for_dep)
                add(out, COMPOSE_ACTION_RESTART, s->name, num, c->name, c->id,
                    xstrdup("a dependency was recreated"));
            else
                add(out, COMPOSE_ACTION_KEEP, s->name, num, c->name, c->id, NULL);
        }
    }

    /* orphans: containers of services the project does not have (services
     * left out by profiles are not orphans) */
    for (size_t i = 0; i < actual->n_containers; i++) {
        const struct compose_container *c = &actual->containers[i];
        if (c->oneoff || compose_project_service(p, c->service) ||
            bt_strv_contains(p->disabled_services, c->service))
            continue;
        out->orphans = bt_strv_push(out->orphans, c->name);
        if (opts->remove_orphans)
            add(out, COMPOSE_ACTION_REMOVE, c->service, c->number, c->name, c->id,
                xstrdup("orphan"));
    }
    return 0;
}

/* ---- networks: does an existing one still match the file? ---- */

static bool
kvs_has(const struct compose_kvs *kvs, const char *key)
{
    for (size_t i = 0; i < kvs->n; i++)
        if (strcmp(kvs->v[i].key, key) == 0)
            return true;
    return false;
}

static bool
kv_differs(const char *want, const char *have)
{
    return !bt_streq_null(want ? want : "", have ? have : "");
}

/* The keys of a mapping that differ between the file's kvs and the
 * network's object (keys starting with skip_prefix ignored), appended as
 * "what.KEY". */
static char **
kvs_diff(char **keys, const char *what, const struct compose_kvs *want, json_t *have,
         const char *skip_prefix)
{
    for (size_t i = 0; i < want->n; i++)
        if (kv_differs(want->v[i].value, bt_json_str(have, want->v[i].key)))
            keys = bt_strv_push_take(keys, xasprintf("%s.%s", what, want->v[i].key));
    const char *k;
    json_t *v;
    json_object_foreach (have, k, v) {
        if ((skip_prefix && bt_str_startswith(k, skip_prefix)) || kvs_has(want, k))
            continue;
        keys = bt_strv_push_take(keys, xasprintf("%s.%s", what, k));
    }
    return keys;
}

/* The IPAM.Config entry of inspect for the family of subnet (IPv6 when it
 * has a ':'), or the first IPv4 one. */
static json_t *
ipam_entry(json_t *inspect, const char *subnet)
{
    bool v6 = subnet && strchr(subnet, ':');
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(json_object_get(inspect, "IPAM"), "Config"), i, c) {
        const char *have = bt_json_str(c, "Subnet");
        if (have && (strchr(have, ':') != NULL) == v6)
            return c;
    }
    return NULL;
}

char *
compose_network_diverged(const struct compose_network *n, json_t *inspect)
{
    if (n->external)
        return NULL;
    const char *have_hash = bt_json_str(json_object_get(inspect, "Labels"), COMPOSE_LABEL_HASH);
    _cleanup_free_ char *hash = compose_network_hash(n);
    /* a network made before berth recorded the hash is taken as it is, as
     * Compose does */
    if (!have_hash || !*have_hash || strcmp(have_hash, hash) == 0)
        return NULL;
    char **keys = NULL;
    if (kv_differs(n->driver ? n->driver : "bridge", bt_json_str(inspect, "Driver")))
        keys = bt_strv_push(keys, "driver");
    keys =
        kvs_diff(keys, "driver_opts", &n->driver_opts, json_object_get(inspect, "Options"), NULL);
    if (n->internal != json_is_true(json_object_get(inspect, "Internal")))
        keys = bt_strv_push(keys, "internal");
    if ((n->enable_ipv6 == COMPOSE_TRUE) != json_is_true(json_object_get(inspect, "EnableIPv6")))
        keys = bt_strv_push(keys, "enable_ipv6");
    for (size_t i = 0; i < n->ipam.n_config; i++) {
        const struct compose_ipam_config *c = &n->ipam.config[i];
        json_t *have = ipam_entry(inspect, c->subnet);
        static const struct {
            const char *key, *field;
            size_t off;
        } fields[] = {
            {"subnet", "Subnet", offsetof(struct compose_ipam_config, subnet)},
            {"gateway", "Gateway", offsetof(struct compose_ipam_config, gateway)},
            {"ip_range", "IPRange", offsetof(struct compose_ipam_config, ip_range)},
        };
        for (size_t f = 0; f < BT_ARRAY_SIZE(fields); f++) {
            const char *want = *(char *const *)((const char *)c + fields[f].off);
            /* an address left to berth is whatever it picked */
            if (want && kv_differs(want, bt_json_str(have, fields[f].field)))
                keys = bt_strv_push_take(keys, xasprintf("ipam.config[%zu].%s", i, fields[f].key));
        }
        json_t *aux = json_object_get(have, "AuxiliaryAddresses");
        if (!(c->subnet && strchr(c->subnet, ':')) && (c->aux_addresses.n || aux)) {
            _cleanup_free_ char *what = xasprintf("ipam.config[%zu].aux_addresses", i);
            keys = kvs_diff(keys, what, &c->aux_addresses, aux, NULL);
        }
    }
    keys = kvs_diff(keys, "labels", &n->labels, json_object_get(inspect, "Labels"),
                    "com.docker.compose.");
    if (!keys)
        return xstrdup("configuration changed");
    _cleanup_free_ char *list = bt_strv_join(keys, ", ");
    bt_strv_free(keys);
    return xasprintf("configuration changed (%s)", list);
}

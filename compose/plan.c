/* compose: the plan — desired (the project) vs actual (its labelled
 * containers), decided per container as Compose does. Pure. */
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
            if (opts->force_recreate)
                reason = xstrdup("forced");
            else if (joined)
                reason = xasprintf("%s was recreated", joined);
            else if (strcmp(c->config_hash, hash) != 0)
                reason = xstrdup("configuration changed");
            else if (compose_secrets_changed(p, s, c->labels))
                reason = xstrdup("secret or config content changed");
            else if (image_id &&
                     !bt_streq_null(bt_json_str(c->labels, COMPOSE_LABEL_IMAGE), image_id))
                reason = xstrdup("image changed");
            if (reason && opts->no_recreate) {
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

/* berth system restore: what a daemon would do at boot. Containers whose
 * restart policy is always or unless-stopped and that were running when
 * the host went down (their state still says so, but no monitor is left)
 * get their network plumbing made again from the record compose keeps in
 * their config.json, and are started. Containers the user stopped are
 * recorded as exited and stay so. */
#include <stdlib.h>
#include <string.h>

#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "net/net.h"

/* ---- the record ---- */

static json_t *
strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *
compose_net_record(const struct net_container_spec *spec, const struct net_container_net *cn)
{
    json_t *nets = json_array();
    for (size_t i = 0; i < spec->nnetworks && i < cn->nendpoints; i++) {
        char a[20];
        json_array_append_new(nets,
                              json_pack("{s:s, s:s, s:o}", "network", cn->endpoints[i].network_name,
                                        "ipv4_address", net_addr_fmt(cn->endpoints[i].ipv4, a),
                                        "aliases", strv_json(spec->networks[i].aliases)));
    }
    json_t *ports = json_array();
    for (size_t i = 0; i < spec->nports; i++) {
        const struct net_port_spec *p = &spec->ports[i];
        json_array_append_new(ports, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "host_ip",
                                               p->host_ip, "host_port", p->host_port,
                                               "host_port_end", p->host_port_end, "container_port",
                                               p->container_port, "container_port_end",
                                               p->container_port_end, "proto", (int)p->proto));
    }
    const struct net_dns_opts *d = &spec->dns;
    json_t *dns = json_pack("{s:o, s:o, s:o, s:o}", "dns", strv_json(d->dns), "dns_search",
                            strv_json(d->dns_search), "dns_opt", strv_json(d->dns_opt),
                            "extra_hosts", strv_json(d->extra_hosts));
    if (d->hostname)
        json_object_set_new(dns, "hostname", json_string(d->hostname));
    if (d->domainname)
        json_object_set_new(dns, "domainname", json_string(d->domainname));
    json_t *rec = json_pack("{s:o, s:o, s:o}", "networks", nets, "ports", ports, "dns", dns);
    if (spec->service)
        json_object_set_new(rec, "service", json_string(spec->service));
    return rec;
}

static char **
json_strv(json_t *a)
{
    char **v = xcalloc(json_array_size(a) + 1, sizeof(*v));
    size_t i, n = 0;
    json_t *s;
    json_array_foreach (a, i, s)
        if (json_is_string(s))
            v[n++] = xstrdup(json_string_value(s));
    return v;
}

/* The container's network plumbing, made again from its record. */
static int
net_restore(struct net_ctx *ctx, const char *id, const char *name, json_t *rec, struct bt_err **err)
{
    /* what the network state still holds of the old namespace goes first */
    int r = net_container_teardown(ctx, id, err);
    if (r < 0)
        return r;
    json_t *nets = json_object_get(rec, "networks");
    json_t *ports = json_object_get(rec, "ports");
    json_t *dns = json_object_get(rec, "dns");
    size_t nn = json_array_size(nets), np = json_array_size(ports);
    struct net_attach_spec *att = xcalloc(nn + 1, sizeof(*att));
    char ***aliases = xcalloc(nn + 1, sizeof(*aliases));
    struct net_port_spec *specs = xcalloc(np + 1, sizeof(*specs));
    size_t i;
    json_t *e;
    json_array_foreach (nets, i, e) {
        att[i].network = bt_json_str(e, "network");
        att[i].ipv4_address = bt_json_str(e, "ipv4_address");
        aliases[i] = json_strv(json_object_get(e, "aliases"));
        att[i].aliases = aliases[i];
        if (!att[i].network)
            r = bt_err_set(err, EINVAL, "the network record of %s is damaged", name);
        else if ((r = net_network_restore(ctx, att[i].network, err)) < 0)
            break;
    }
    json_array_foreach (ports, i, e) {
        snprintf(specs[i].host_ip, sizeof(specs[i].host_ip), "%s", bt_json_str(e, "host_ip") ?: "");
        specs[i].host_port = (uint16_t)json_integer_value(json_object_get(e, "host_port"));
        specs[i].host_port_end = (uint16_t)json_integer_value(json_object_get(e, "host_port_end"));
        specs[i].container_port =
            (uint16_t)json_integer_value(json_object_get(e, "container_port"));
        specs[i].container_port_end =
            (uint16_t)json_integer_value(json_object_get(e, "container_port_end"));
        specs[i].proto = (enum net_proto)json_integer_value(json_object_get(e, "proto"));
    }
    _cleanup_strv_ char **d_dns = json_strv(json_object_get(dns, "dns"));
    _cleanup_strv_ char **d_search = json_strv(json_object_get(dns, "dns_search"));
    _cleanup_strv_ char **d_opt = json_strv(json_object_get(dns, "dns_opt"));
    _cleanup_strv_ char **d_hosts = json_strv(json_object_get(dns, "extra_hosts"));
    struct net_container_spec spec = {
        .container_id = id,
        .container_name = name,
        .service = bt_json_str(rec, "service"),
        .networks = att,
        .nnetworks = nn,
        .ports = specs,
        .nports = np,
        .dns = {.dns = d_dns,
                .dns_search = d_search,
                .dns_opt = d_opt,
                .extra_hosts = d_hosts,
                .hostname = bt_json_str(dns, "hostname"),
                .domainname = bt_json_str(dns, "domainname")},
    };
    struct net_container_net *cn = NULL;
    if (r >= 0)
        r = net_container_setup(ctx, &spec, &cn, err);
    net_container_net_free(cn);
    for (i = 0; i < nn; i++)
        bt_strv_free(aliases[i]);
    free(aliases);
    free(att);
    free(specs);
    return r;
}

/* ---- which containers ---- */

struct cand {
    char *id;
    char *name;
    json_t *cfg;
    char *joins; /* the container whose netns it joins, or NULL */
};

static bool
was_running(const char *id)
{
    _cleanup_json_ json_t *st = engine_container_state_load(id, NULL);
    const char *s = bt_json_str(st, "Status");
    if (!s || (strcmp(s, "running") && strcmp(s, "restarting") && strcmp(s, "paused")))
        return false; /* stopped by the user, exited for good, or never started */
    pid_t mp = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
    uint64_t ms = (uint64_t)json_integer_value(json_object_get(st, "MonitorStart"));
    return !(mp > 0 && engine_pid_alive(mp, ms)); /* a live monitor needs nothing */
}

/* The id of the container whose network namespace cfg joins, from the
 * path RUNROOT/netns/ID in its spec; NULL when it has its own or none. */
static char *
joined_owner(const char *id, json_t *cfg)
{
    json_t *nss =
        json_object_get(json_object_get(json_object_get(cfg, "spec"), "linux"), "namespaces");
    size_t i;
    json_t *ns;
    json_array_foreach (nss, i, ns) {
        if (!bt_streq_null(bt_json_str(ns, "type"), "network"))
            continue;
        const char *p = bt_json_str(ns, "path");
        const char *base = p ? strrchr(p, '/') : NULL;
        if (base && strcmp(base + 1, id) != 0)
            return xstrdup(base + 1);
    }
    return NULL;
}

/* A bind source under the container's run directory (its secrets) that a
 * reboot took away: those can only be made again by `up`. */
static const char *
lost_source(const char *id, json_t *cfg)
{
    _cleanup_free_ char *rundir = engine_container_rundir(id);
    json_t *mounts = json_object_get(json_object_get(cfg, "spec"), "mounts");
    size_t i;
    json_t *m;
    json_array_foreach (mounts, i, m) {
        const char *src = bt_json_str(m, "source");
        if (src && bt_str_startswith(src, rundir) && !bt_path_exists(src))
            return bt_json_str(m, "destination");
    }
    return NULL;
}

static int
restore_one(struct net_ctx *ctx, const struct cand *c, const char *monitor, struct bt_err **err)
{
    json_t *rec = json_object_get(c->cfg, "net");
    if (rec && net_restore(ctx, c->id, c->name, rec, err) < 0)
        return bt_err_ret(err);
    if (c->joins) {
        _cleanup_free_ char *ns = net_netns_path(ctx, c->joins);
        if (!bt_path_exists(ns))
            return bt_err_set(err, ENOENT,
                              "the container whose network it joins (%.12s) was not restored",
                              c->joins);
    }
    const char *lost = lost_source(c->id, c->cfg);
    if (lost)
        return bt_err_set(err, ENOENT,
                          "the content of '%s' (a secret or config) did not survive the reboot: "
                          "run 'berth up' in its project",
                          lost);
    return compose_container_start(c->id, monitor, err);
}

int
compose_system_restore(const char *monitor, compose_event_fn fn, void *data, struct bt_err **err)
{
    _cleanup_json_ json_t *all = engine_container_list(true, err);
    if (!all)
        return bt_err_ret(err);
    struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    size_t n = json_array_size(all), nc = 0, i;
    struct cand *cands = xcalloc(n + 1, sizeof(*cands));
    json_t *c;
    json_array_foreach (all, i, c) {
        const char *id = bt_json_str(c, "Id");
        if (!id)
            continue;
        json_t *cfg = engine_container_config_load(id, NULL);
        const char *pol = bt_json_str(cfg, "restart");
        if (!cfg || !pol || (strcmp(pol, "always") && strcmp(pol, "unless-stopped")) ||
            !was_running(id)) {
            json_decref(cfg);
            continue;
        }
        const char *name = bt_json_str(cfg, "name");
        cands[nc] = (struct cand){.id = xstrdup(id),
                                  .name = xstrdup(name ? name : id),
                                  .cfg = cfg,
                                  .joins = joined_owner(id, cfg)};
        nc++;
    }
    /* owners of a network namespace before the containers that join one */
    int failed = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (i = 0; i < nc; i++) {
            if ((pass == 0) != (cands[i].joins == NULL))
                continue;
            if (fn)
                fn(data, "Container", cands[i].name, COMPOSE_EVENT_WORKING, "Restoring");
            struct bt_err *e = NULL;
            if (restore_one(ctx, &cands[i], monitor, &e) < 0) {
                if (fn)
                    fn(data, "Container", cands[i].name, COMPOSE_EVENT_ERROR, e->msg);
                if (!failed) {
                    bt_err_move(err, &e);
                    bt_err_prefix(err, "container %s", cands[i].name);
                } else {
                    bt_err_free(e); /* reported through fn; the first is returned */
                }
                failed++;
                continue;
            }
            if (fn)
                fn(data, "Container", cands[i].name, COMPOSE_EVENT_DONE, "Restored");
        }
    }
    for (i = 0; i < nc; i++) {
        free(cands[i].id);
        free(cands[i].name);
        free(cands[i].joins);
        json_decref(cands[i].cfg);
    }
    free(cands);
    net_ctx_free(ctx);
    return failed ? bt_err_ret(err) : 0;
}

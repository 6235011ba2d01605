/* Connecting a running container to one more network and disconnecting it
 * from one, as `docker network connect/disconnect` do. A container is found
 * by its endpoints (id, unique id prefix or container name): what it is
 * attached to already tells its namespace, names and hostname. */
#include <stdlib.h>
#include <string.h>

#include "net/net-internal.h"

struct found {
    char *id;
    json_t *ep; /* a copy of one of its endpoints */
};

static void
found_done(struct found *f)
{
    free(f->id);
    if (f->ep)
        json_decref(f->ep);
}

/* Finds the container among every network's endpoints. ENOENT when it is
 * on none, EINVAL when a prefix is ambiguous. */
static int
find_container(struct net_network *const *all, size_t n, const char *ref, struct found *out,
               struct bt_err **err)
{
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: exact id or name; pass 1: id prefix */
        for (size_t i = 0; i < n; i++) {
            const char *cid;
            json_t *ep;
            json_object_foreach (all[i]->endpoints, cid, ep) {
                bool hit =
                    pass == 0 ? strcmp(cid, ref) == 0 || bt_streq_null(bt_json_str(ep, "name"), ref)
                              : bt_str_startswith(cid, ref);
                if (!hit)
                    continue;
                if (out->id && strcmp(out->id, cid) != 0)
                    return bt_err_set(err, EINVAL, "container '%s' is ambiguous", ref);
                if (!out->id) {
                    out->id = xstrdup(cid);
                    out->ep = json_deep_copy(ep);
                }
            }
        }
        if (out->id)
            return 0;
    }
    return bt_err_set(err, ENOENT,
                      "container %s is not on any network (network_mode none, host or a joined "
                      "namespace cannot be connected)",
                      ref);
}

int
net_container_connect(struct net_ctx *ctx, const char *network, const char *container,
                      const char *ipv4_address, char *const *aliases, struct net_endpoint *out,
                      struct bt_err **err)
{
    size_t n = 0;
    struct net_network **all = net_network_list(ctx, &n, err);
    if (!all)
        return bt_err_ret(err);
    struct found f = {0};
    int r = find_container(all, n, container, &f, err);
    net_network_list_free(all, n);
    if (r == 0) {
        struct net_endpoint_opts o = {
            .network = network,
            .container_id = f.id,
            .container_name = bt_json_str(f.ep, "name"),
            .service = bt_json_str(f.ep, "service"),
            .netns = bt_json_str(f.ep, "netns"),
            .ipv4_address = ipv4_address,
            .aliases = aliases,
            .hostname = bt_json_str(f.ep, "hostname"),
        };
        r = net_endpoint_attach(ctx, &o, out, err);
    }
    found_done(&f);
    return r;
}

/* After the endpoint with the default route went: the namespace's first
 * other non-internal network takes it over. */
static int
hand_over_default(struct net_ctx *ctx, struct net_network *const *all, size_t n, const char *cid,
                  const char *netns, struct bt_err **err)
{
    for (size_t i = 0; i < n; i++) {
        json_t *ep = json_object_get(all[i]->endpoints, cid);
        if (!ep || all[i]->internal || !bt_streq_null(bt_json_str(ep, "netns"), netns) ||
            !bt_json_str(ep, "ifname"))
            continue;
        _cleanup_nl_ struct nl_sock *sk = net_nl_open(netns, err);
        int r = sk ? net_route_add_default(sk, bt_json_str(ep, "ifname"), all[i]->gateway, err)
                   : bt_err_ret(err);
        if (r == 0 && all[i]->ipv6)
            r = net_route6_add_default(sk, bt_json_str(ep, "ifname"), &all[i]->gateway6, err);
        if (r < 0)
            return r;
        json_object_set_new(ep, "default_route", json_true());
        return net_network_save(ctx, all[i], err);
    }
    return 0;
}

static int
disconnect_locked(struct net_ctx *ctx, const char *network, const char *container,
                  struct bt_err **err)
{
    size_t n = 0;
    struct net_network **all = net_network_list(ctx, &n, err);
    if (!all)
        return bt_err_ret(err);
    struct found f = {0};
    struct net_network *nw = NULL;
    int r = find_container(all, n, container, &f, err);
    for (size_t i = 0; r == 0 && i < n && !nw; i++) {
        if (strcmp(all[i]->name, network) == 0 || strcmp(all[i]->id, network) == 0)
            nw = all[i];
    }
    if (r == 0 && !nw)
        r = bt_err_set(err, ENOENT, "network %s not found", network);
    json_t *ep = nw ? json_object_get(nw->endpoints, f.id) : NULL;
    if (r == 0 && !ep)
        r = bt_err_set(err, ENOENT, "container %s is not connected to network %s", container,
                       nw->name);
    /* Published ports lead to the address on this network. */
    struct net_port_set *ports = r == 0 ? net_ports_list(ctx, f.id, err) : NULL;
    struct net_prefix addr;
    struct net_prefix6 addr6;
    bool has4 = ep && net_prefix_parse(bt_json_str(ep, "ipv4"), false, &addr);
    bool has6 = ep && net_prefix6_parse(bt_json_str(ep, "ipv6"), false, &addr6);
    if (r == 0 && !ports)
        r = bt_err_ret(err);
    bool through = false;
    for (size_t i = 0; r == 0 && ports && i < ports->n; i++) {
        const struct net_port_binding *b = &ports->bindings[i];
        if (net_port_binding_is_v6(b)
                ? has6 && memcmp(&b->container_ip6, &addr6.addr, sizeof(addr6.addr)) == 0
                : has4 && b->container_ip == addr.addr)
            through = true;
    }
    if (through)
        r = bt_err_set(err, EBUSY,
                       "container %s publishes ports through network %s: re-create it to leave "
                       "that network",
                       container, nw->name);
    net_port_set_free(ports);
    bool had_default = r == 0 && json_is_true(json_object_get(ep, "default_route"));
    _cleanup_free_ char *netns = r == 0 ? xstrdup(bt_json_str(ep, "netns") ?: "") : NULL;
    _cleanup_json_ json_t *touched = json_object();
    if (r == 0)
        r = net_network_detach_endpoint(ctx, nw, f.id, touched, err);
    if (r == 0 && had_default && bt_path_exists(netns))
        r = hand_over_default(ctx, all, n, f.id, netns, err);
    if (r == 0)
        r = net_hosts_refresh(ctx, touched, err);
    found_done(&f);
    net_network_list_free(all, n);
    return r;
}

int
net_container_disconnect(struct net_ctx *ctx, const char *network, const char *container,
                         struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    r = disconnect_locked(ctx, network, container, err);
    net_unlock(ctx);
    return r;
}

/* One network's entry in NetworkSettings.Networks. */
static json_t *
settings_entry(const struct net_network *nw, const char *cid, json_t *ep, char **addr, int *plen,
               char **gw)
{
    const char *cidr = bt_json_str(ep, "ipv4") ? bt_json_str(ep, "ipv4") : "";
    const char *slash = strchr(cidr, '/');
    *addr = slash ? xstrndup(cidr, (size_t)(slash - cidr)) : xstrdup(cidr);
    *plen = slash ? atoi(slash + 1) : 0;
    char g[20] = "";
    if (nw->gateway && !nw->internal)
        net_addr_fmt(nw->gateway, g);
    *gw = xstrdup(g);
    json_t *aliases = json_object_get(ep, "aliases");
    return json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "Aliases",
                     aliases ? json_deep_copy(aliases) : json_array(), "NetworkID", nw->id,
                     "EndpointID", bt_json_str(ep, "host_ifname") ?: "", "Gateway", g, "IPAddress",
                     *addr, "MacAddress", bt_json_str(ep, "mac") ?: "", "IPPrefixLen", *plen,
                     "DNSNames", bt_json_str(ep, "name") ?: "", "ContainerID", cid);
}

json_t *
net_container_settings_json(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    size_t n = 0;
    struct net_network **all = net_network_list(ctx, &n, err);
    if (!all && err && *err)
        return NULL;
    json_t *nets = json_object();
    json_t *top = json_pack("{s:s, s:i, s:s, s:s}", "IPAddress", "", "IPPrefixLen", 0, "Gateway",
                            "", "MacAddress", "");
    bool have_any = false, have_primary = false;
    for (size_t i = 0; i < n; i++) {
        json_t *ep = json_object_get(all[i]->endpoints, container_id);
        if (!ep)
            continue;
        _cleanup_free_ char *addr = NULL, *gw = NULL;
        int plen = 0;
        json_t *e = settings_entry(all[i], container_id, ep, &addr, &plen, &gw);
        json_t *dns = json_object_get(e, "DNSNames");
        json_object_set_new(e, "DNSNames", json_pack("[O]", dns));
        json_object_set_new(nets, all[i]->name, e);
        /* The top-level fields tell the network of the default route (or
         * the first one), so -f '{{.NetworkSettings.IPAddress}}' answers
         * for compose containers too. */
        bool primary = json_is_true(json_object_get(ep, "default_route"));
        if (!have_any || (primary && !have_primary)) {
            json_object_set_new(top, "IPAddress", json_string(addr));
            json_object_set_new(top, "IPPrefixLen", json_integer(plen));
            json_object_set_new(top, "Gateway", json_string(gw));
            json_object_set_new(top, "MacAddress",
                                json_string(bt_json_str(ep, "mac") ? bt_json_str(ep, "mac") : ""));
            have_any = true;
            have_primary = primary;
        }
    }
    net_network_list_free(all, n);
    json_object_set_new(top, "Networks", nets);
    return top;
}

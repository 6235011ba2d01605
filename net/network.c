/* Bridge networks and their endpoints: state, bridge, veth pairs,
 * addresses, routes, leases. Every change runs under the state lock. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <netlink/netlink.h>

#include <net/if.h>

#include "net/net-internal.h"

#define OPT_BRIDGE_NAME "com.docker.network.bridge.name"
#define OPT_MTU         "com.docker.network.driver.mtu"

DEFINE_CLEANUP(struct net_network *, net_network_free)
#define _cleanup_network_ _cleanup_(net_network_freep)

struct network_list {
    struct net_network **v;
    size_t n;
};

static void
network_list_done(struct network_list *l)
{
    net_network_list_free(l->v, l->n);
}

static bool
valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 200)
        return false;
    for (const char *p = s; *p; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == s || (*p != '_' && *p != '.' && *p != '-')))
            return false;
    }
    return true;
}

static bool
valid_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 16 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

static int
write_sysctl(const char *path, const char *value, struct bt_err **err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s'", path);
    if (write(fd, value, strlen(value)) < 0)
        return bt_err_errno(err, errno, "write '%s'", path);
    return 0;
}

static char *
now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[40];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

static const char *
opt_str(json_t *opts, const char *key)
{
    json_t *v = opts ? json_object_get(opts, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The IPv6 half of a dual-stack network: ipam.config's IPv6 subnet and
 * gateway, or the first free subnet of the IPv6 pools. */
static int
plan_ipv6(struct net_ctx *ctx, const struct net_network_opts *opts, struct net_network *nw,
          struct net_network **all, size_t nall, struct bt_err **err)
{
    char buf[INET6_ADDRSTRLEN + 4];
    nw->ipv6 = true;
    if (opts->subnet6) {
        if (!net_prefix6_parse(opts->subnet6, false, &nw->subnet6) || nw->subnet6.len > 124)
            return bt_err_set(err, EINVAL, "invalid subnet '%s': expected an IPv6 CIDR up to /124",
                              opts->subnet6);
        struct in6_addr masked = nw->subnet6.addr;
        net_in6_mask(&masked, nw->subnet6.len);
        if (memcmp(&masked, &nw->subnet6.addr, sizeof(masked)) != 0)
            return bt_err_set(err, EINVAL, "invalid subnet '%s': host bits are set", opts->subnet6);
        for (size_t i = 0; i < nall; i++) {
            if (all[i]->ipv6 && net_prefix6_overlaps(&nw->subnet6, &all[i]->subnet6))
                return bt_err_set(err, EEXIST, "subnet %s overlaps network %s (%s)", opts->subnet6,
                                  all[i]->name, net_prefix6_fmt(&all[i]->subnet6, buf));
        }
    } else {
        _cleanup_free_ struct net_pool6 *pools = NULL;
        size_t npools = 0;
        if (net_config_load_pools6(ctx->config, &pools, &npools, err) < 0)
            return bt_err_ret(err);
        _cleanup_free_ struct net_prefix6 *used = xcalloc(nall + 1, sizeof(*used));
        size_t nused = 0;
        for (size_t i = 0; i < nall; i++) {
            if (all[i]->ipv6)
                used[nused++] = all[i]->subnet6;
        }
        if (net_ipam6_pick_subnet(pools, npools, used, nused, &nw->subnet6) < 0)
            return bt_err_set(err, ENOSPC,
                              "all predefined IPv6 address pools have been fully subnetted (see "
                              "default-address-pools in berth.json)");
    }
    if (opts->gateway6) {
        if (!net_addr6_parse(opts->gateway6, &nw->gateway6) ||
            !net_prefix6_contains(&nw->subnet6, &nw->gateway6))
            return bt_err_set(err, EINVAL, "gateway '%s' is not an address of subnet %s",
                              opts->gateway6, net_prefix6_fmt(&nw->subnet6, buf));
    } else {
        struct in6_addr none = IN6ADDR_ANY_INIT;
        if (net_ipam6_pick_addr(&nw->subnet6, &none, NULL, 0, &nw->gateway6) < 0)
            return bt_err_set(err, ENOSPC, "subnet %s has no room for a gateway",
                              net_prefix6_fmt(&nw->subnet6, buf));
    }
    return 0;
}

/* Validates opts and fills a network (no side effects). `all` are the
 * existing networks. */
static struct net_network *
network_plan(struct net_ctx *ctx, const struct net_network_opts *opts, struct net_network **all,
             size_t nall, struct bt_err **err)
{
    if (!valid_name(opts->name)) {
        bt_err_set(err, EINVAL,
                   "invalid network name '%s': use letters, digits, '_', '.' and '-', starting "
                   "with a letter or digit",
                   opts->name ? opts->name : "");
        return NULL;
    }
    if (strcmp(opts->name, "host") == 0 || strcmp(opts->name, "none") == 0) {
        bt_err_set(err, EINVAL, "network name '%s' is reserved for network_mode: %s", opts->name,
                   opts->name);
        return NULL;
    }
    for (size_t i = 0; i < nall; i++) {
        if (strcmp(all[i]->name, opts->name) == 0) {
            bt_err_set(err, EEXIST, "network with name %s already exists", opts->name);
            return NULL;
        }
    }
    if (!opts->enable_ipv6 && (opts->subnet6 || opts->gateway6)) {
        bt_err_set(err, EINVAL, "network %s: an IPv6 subnet needs enable_ipv6: true", opts->name);
        return NULL;
    }
    if (opts->aux_addresses && !json_is_object(opts->aux_addresses)) {
        bt_err_set(err, EINVAL, "aux_addresses must be a mapping of names to addresses");
        return NULL;
    }
    if (opts->driver && strcmp(opts->driver, "bridge") != 0) {
        bt_err_set(err, EINVAL, "network driver '%s' is not supported (only 'bridge')",
                   opts->driver);
        return NULL;
    }
    if (opts->labels && !json_is_object(opts->labels)) {
        bt_err_set(err, EINVAL, "labels must be a mapping");
        return NULL;
    }
    if (opts->driver_opts && !json_is_object(opts->driver_opts)) {
        bt_err_set(err, EINVAL, "driver_opts must be a mapping");
        return NULL;
    }
    _cleanup_free_ struct net_pool *pools = NULL;
    size_t npools = 0;
    struct net_prefix bip = {0};
    bool has_bip = false;
    unsigned mtu = 0;
    if (net_config_load(ctx->config, &pools, &npools, &bip, &has_bip, &mtu, NULL, err) < 0)
        return NULL;

    _cleanup_network_ struct net_network *nw = xcalloc(1, sizeof(*nw));
    nw->id = net_random_hex(32);
    nw->name = xstrdup(opts->name);
    nw->driver = xstrdup("bridge");
    nw->created = now_rfc3339();
    nw->internal = opts->internal;
    nw->labels = opts->labels ? json_deep_copy(opts->labels) : json_object();
    nw->options = opts->driver_opts ? json_deep_copy(opts->driver_opts) : json_object();
    nw->endpoints = json_object();
    nw->previous = json_object();
    nw->aux = json_object();

    const char *mtu_s = opt_str(nw->options, OPT_MTU);
    if (mtu_s) {
        uint64_t m;
        if (!bt_parse_uint64(mtu_s, &m) || m < 68 || m > 65535) {
            bt_err_set(err, EINVAL, "driver_opts %s: '%s' is not an MTU (68-65535)", OPT_MTU,
                       mtu_s);
            return NULL;
        }
        mtu = (unsigned)m;
    }
    nw->mtu = mtu;
    const char *br = opt_str(nw->options, OPT_BRIDGE_NAME);
    if (br) {
        if (!valid_ifname(br)) {
            bt_err_set(err, EINVAL,
                       "driver_opts %s: '%s' is not an interface name (1-15 "
                       "characters, no '/', ':' or spaces)",
                       OPT_BRIDGE_NAME, br);
            return NULL;
        }
        for (size_t i = 0; i < nall; i++) {
            if (strcmp(all[i]->bridge, br) == 0) {
                bt_err_set(err, EEXIST, "bridge '%s' is already used by network %s", br,
                           all[i]->name);
                return NULL;
            }
        }
        nw->bridge = xstrdup(br);
    } else {
        nw->bridge = xasprintf("br-%.12s", nw->id);
    }

    char buf[20];
    if (opts->subnet) {
        if (!net_prefix_parse(opts->subnet, false, &nw->subnet) || nw->subnet.len > 30) {
            bt_err_set(err, EINVAL, "invalid subnet '%s': expected an IPv4 CIDR up to /30",
                       opts->subnet);
            return NULL;
        }
        if (nw->subnet.addr & ~net_prefix_mask(nw->subnet.len)) {
            bt_err_set(err, EINVAL, "invalid subnet '%s': host bits are set (did you mean %s?)",
                       opts->subnet,
                       net_prefix_fmt(
                           &(struct net_prefix){nw->subnet.addr & net_prefix_mask(nw->subnet.len),
                                                nw->subnet.len},
                           buf));
            return NULL;
        }
        for (size_t i = 0; i < nall; i++) {
            if (net_prefix_overlaps(&nw->subnet, &all[i]->subnet)) {
                bt_err_set(err, EEXIST, "subnet %s overlaps network %s (%s)", opts->subnet,
                           all[i]->name, net_prefix_fmt(&all[i]->subnet, buf));
                return NULL;
            }
        }
    } else {
        /* Host routes, berth networks and bip are off limits. */
        _cleanup_free_ struct net_prefix *used = NULL;
        size_t nused = 0;
        {
            _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, err);
            if (!sk || net_routes_list(sk, &used, &nused, err) < 0)
                return NULL;
        }
        used = xreallocarray(used, nused + nall + 1, sizeof(*used));
        for (size_t i = 0; i < nall; i++)
            used[nused++] = all[i]->subnet;
        if (has_bip)
            used[nused++] = bip;
        if (net_ipam_pick_subnet(pools, npools, used, nused, &nw->subnet) < 0) {
            bt_err_set(err, ENOSPC,
                       "all predefined address pools have been fully subnetted (see "
                       "default-address-pools in berth.json)");
            return NULL;
        }
    }
    if (opts->ip_range) {
        if (!net_prefix_parse(opts->ip_range, false, &nw->ip_range) ||
            nw->ip_range.len < nw->subnet.len ||
            !net_prefix_contains(&nw->subnet, nw->ip_range.addr)) {
            bt_err_set(err, EINVAL, "ip_range '%s' is not a CIDR inside subnet %s", opts->ip_range,
                       net_prefix_fmt(&nw->subnet, buf));
            return NULL;
        }
        nw->ip_range.addr &= net_prefix_mask(nw->ip_range.len);
    } else {
        nw->ip_range = nw->subnet;
    }
    uint32_t net = nw->subnet.addr, bcast = net | ~net_prefix_mask(nw->subnet.len);
    if (opts->gateway) {
        if (!net_addr_parse(opts->gateway, &nw->gateway) ||
            !net_prefix_contains(&nw->subnet, nw->gateway) || nw->gateway == net ||
            nw->gateway == bcast) {
            bt_err_set(err, EINVAL, "gateway '%s' is not a host address of subnet %s",
                       opts->gateway, net_prefix_fmt(&nw->subnet, buf));
            return NULL;
        }
    } else {
        nw->gateway = net + 1;
    }
    const char *aux_name;
    json_t *aux_ip;
    json_object_foreach (opts->aux_addresses, aux_name, aux_ip) {
        uint32_t a;
        if (!json_is_string(aux_ip) || !net_addr_parse(json_string_value(aux_ip), &a) ||
            !net_prefix_contains(&nw->subnet, a) || a == net || a == bcast) {
            bt_err_set(err, EINVAL, "aux_addresses %s: not a host address of subnet %s", aux_name,
                       net_prefix_fmt(&nw->subnet, buf));
            return NULL;
        }
        char s[20];
        json_object_set_new(nw->aux, aux_name, json_string(net_addr_fmt(a, s)));
    }
    if (opts->enable_ipv6 && plan_ipv6(ctx, opts, nw, all, nall, err) < 0)
        return NULL;
    return TAKE_PTR(nw);
}

static void
undo_bridge(const char *name)
{
    struct bt_err *ignored = NULL;
    _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, &ignored);
    if (sk)
        net_link_delete(sk, name, &ignored);
    /* Undo after a failure: the first error is the one reported. */
    ignored = bt_err_free(ignored);
}

static int
network_apply(struct net_ctx *ctx, const struct net_network *nw, bool *created_bridge,
              struct bt_err **err)
{
    _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, err);
    if (!sk)
        return bt_err_ret(err);
    *created_bridge = !net_link_exists(sk, nw->bridge);
    int r = net_bridge_ensure(sk, nw->bridge, nw->mtu, nw->gateway, nw->subnet.len, err);
    if (r < 0)
        return r;
    /* DNAT of the host's own 127.0.0.1 traffic routes a loopback source out
     * of the bridge; the kernel drops it unless route_localnet is on. */
    _cleanup_free_ char *rl = xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", nw->bridge);
    r = write_sysctl(rl, "1", err);
    if (r == 0 && !nw->internal)
        r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err);
    if (r == 0 && nw->ipv6) {
        _cleanup_free_ char *dis = xasprintf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", nw->bridge);
        r = write_sysctl(dis, "0", err);
        if (r == 0)
            r = net_addr6_add(sk, nw->bridge, &nw->gateway6, nw->subnet6.len, err);
        if (r == 0 && !nw->internal)
            r = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1", err);
    }
    if (r == 0)
        r = net_nft_network_add(ctx, nw, err);
    return r;
}

int
net_network_restore(struct net_ctx *ctx, const char *ref, struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    struct net_network *nw = net_network_get(ctx, ref, err);
    if (!nw) {
        net_unlock(ctx);
        return err && *err ? bt_err_ret(err) : bt_err_set(err, ENOENT, "network %s not found", ref);
    }
    bool created_bridge = false;
    r = network_apply(ctx, nw, &created_bridge, err);
    if (r < 0)
        bt_err_prefix(err, "restore network %s", nw->name);
    net_network_free(nw);
    net_unlock(ctx);
    return r;
}

struct net_network *
net_network_create(struct net_ctx *ctx, const struct net_network_opts *opts, struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return NULL;
    _cleanup_(network_list_done) struct network_list all = {0};
    all.v = net_network_list(ctx, &all.n, err);
    struct net_network *nw = all.v ? network_plan(ctx, opts, all.v, all.n, err) : NULL;
    if (!nw) {
        net_unlock(ctx);
        return NULL;
    }
    bool created_bridge = false;
    r = network_apply(ctx, nw, &created_bridge, err);
    nw->bridge_adopted = !created_bridge;
    if (r == 0)
        r = net_network_save(ctx, nw, err);
    if (r < 0) {
        struct bt_err *ignored = NULL;
        net_nft_network_del(ctx, nw, &ignored);
        ignored = bt_err_free(ignored); /* undo after a failure: the first error is reported */
        if (all.n == 0) {
            net_nft_remove_table(ctx, &ignored);
            ignored = bt_err_free(ignored);
        }
        if (created_bridge)
            undo_bridge(nw->bridge);
        nw = net_network_free(nw);
        bt_err_prefix(err, "create network %s", opts->name);
    }
    net_unlock(ctx);
    return nw;
}

static char *
endpoint_names(json_t *eps)
{
    struct bt_buf b = {0};
    const char *cid;
    json_t *ep;
    json_object_foreach (eps, cid, ep) {
        const char *name = bt_json_str(ep, "name");
        bt_buf_printf(&b, "%s%s", b.len ? ", " : "", name && *name ? name : cid);
    }
    return bt_buf_steal(&b);
}

static json_int_t
netns_ino(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (json_int_t)st.st_ino : -1;
}

/* Endpoints whose namespace is gone (RUNROOT is lost at reboot, or a
 * container was removed while berth could not clean up) hold no veth any
 * more: their leases are released. A namespace is known by the inode of its
 * nsfs file, so a new namespace at the same path is not mistaken for the
 * old one. Returns true when any was dropped. */
static bool
sweep_stale(struct net_network *nw)
{
    bool dropped = false;
    const char *cid;
    json_t *ep;
    void *tmp;
    json_object_foreach_safe(nw->endpoints, tmp, cid, ep)
    {
        const char *ns = bt_json_str(ep, "netns");
        json_t *ino = json_object_get(ep, "netns_ino");
        json_int_t now = netns_ino(ns);
        if (ns && (now < 0 || (json_is_integer(ino) && json_integer_value(ino) != now))) {
            struct net_prefix p;
            if (net_prefix_parse(bt_json_str(ep, "ipv4"), false, &p)) {
                char a[20];
                json_object_set_new(nw->previous, cid, json_string(net_addr_fmt(p.addr, a)));
            }
            json_object_del(nw->endpoints, cid);
            dropped = true;
        }
    }
    return dropped;
}

int
net_network_remove(struct net_ctx *ctx, const char *ref, struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    _cleanup_network_ struct net_network *nw = net_network_get(ctx, ref, err);
    if (!nw) {
        if (!err || !*err)
            r = bt_err_set(err, ENOENT, "network %s not found", ref);
        else
            r = bt_err_ret(err);
    } else if (sweep_stale(nw) && (r = net_network_save(ctx, nw, err)) < 0) {
        /* r is set */
    } else if (json_object_size(nw->endpoints) > 0) {
        _cleanup_free_ char *names = endpoint_names(nw->endpoints);
        r = bt_err_set(err, EBUSY, "network %s has active endpoints (%s)", nw->name, names);
    } else {
        _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, err);
        r = sk ? 0 : bt_err_ret(err);
        if (r == 0 && !nw->bridge_adopted)
            r = net_link_delete(sk, nw->bridge, err);
        else if (r == 0)
            r = net_addr_del(sk, nw->bridge, nw->gateway, nw->subnet.len, err);
        if (r == 0 && nw->bridge_adopted && nw->ipv6)
            r = net_addr6_del(sk, nw->bridge, &nw->gateway6, nw->subnet6.len, err);
        if (r == 0)
            r = net_nft_network_del(ctx, nw, err);
        if (r == 0) {
            _cleanup_free_ char *path = xasprintf("%s/net/networks/%s.json", ctx->root, nw->id);
            if (unlink(path) < 0 && errno != ENOENT)
                r = bt_err_errno(err, errno, "remove '%s'", path);
        }
        size_t n = 0;
        struct net_network **left = r == 0 ? net_network_list(ctx, &n, err) : NULL;
        if (left && n == 0)
            r = net_nft_remove_table(ctx, err);
        else if (r == 0 && !left)
            r = bt_err_ret(err);
        net_network_list_free(left, n);
    }
    net_unlock(ctx);
    return r;
}

json_t *
net_network_to_json(const struct net_network *nw)
{
    char sub[20], gw[20], range[20];
    json_t *cfg = json_pack("{s:s, s:s}", "Subnet", net_prefix_fmt(&nw->subnet, sub), "Gateway",
                            net_addr_fmt(nw->gateway, gw));
    if (nw->ip_range.len != nw->subnet.len || nw->ip_range.addr != nw->subnet.addr)
        json_object_set_new(cfg, "IPRange", json_string(net_prefix_fmt(&nw->ip_range, range)));
    if (json_object_size(nw->aux) > 0)
        json_object_set(cfg, "AuxiliaryAddresses", nw->aux);
    json_t *cfgs = json_array();
    json_array_append_new(cfgs, cfg);
    if (nw->ipv6) {
        char sub6[INET6_ADDRSTRLEN + 4], gw6[INET6_ADDRSTRLEN];
        json_array_append_new(cfgs,
                              json_pack("{s:s, s:s}", "Subnet", net_prefix6_fmt(&nw->subnet6, sub6),
                                        "Gateway", net_addr6_fmt(&nw->gateway6, gw6)));
    }
    json_t *containers = json_object();
    const char *cid;
    json_t *ep;
    json_object_foreach (nw->endpoints, cid, ep) {
        json_t *c =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name",
                      bt_json_str(ep, "name") ? bt_json_str(ep, "name") : "", "EndpointID",
                      bt_json_str(ep, "host_ifname") ?: "", "MacAddress",
                      bt_json_str(ep, "mac") ?: "", "IPv4Address", bt_json_str(ep, "ipv4") ?: "",
                      "IPv6Address", bt_json_str(ep, "ipv6") ?: "");
        json_t *aliases = json_object_get(ep, "aliases");
        json_object_set_new(c, "Aliases", aliases ? json_deep_copy(aliases) : json_array());
        json_object_set_new(containers, cid, c);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:o, s:O, "
                     "s:O, s:s}",
                     "Name", nw->name, "Id", nw->id, "Created", nw->created, "Scope", "local",
                     "Driver", nw->driver, "EnableIPv6", nw->ipv6, "IPAM", "Driver", "default",
                     "Options", "Config", cfgs, "Internal", nw->internal, "Attachable", 0,
                     "Containers", containers, "Options", nw->options, "Labels", nw->labels,
                     "Bridge", nw->bridge);
}

/* ---- endpoints ---- */

void
net_endpoint_done(struct net_endpoint *ep)
{
    if (!ep)
        return;
    free(ep->network_id);
    free(ep->network_name);
    free(ep->ifname);
    free(ep->host_ifname);
    free(ep->mac);
    memset(ep, 0, sizeof(*ep));
}

/* Addresses taken on nw: leases and aux_addresses. */
static int
used_addrs(const struct net_network *nw, uint32_t **out, size_t *n)
{
    *n = 0;
    *out = xcalloc(json_object_size(nw->endpoints) + json_object_size(nw->aux) + 1, sizeof(**out));
    const char *cid;
    json_t *ep;
    json_object_foreach (nw->endpoints, cid, ep) {
        struct net_prefix p;
        if (net_prefix_parse(bt_json_str(ep, "ipv4"), false, &p))
            (*out)[(*n)++] = p.addr;
    }
    json_object_foreach (nw->aux, cid, ep) {
        uint32_t a;
        if (net_addr_parse(json_string_value(ep), &a))
            (*out)[(*n)++] = a;
    }
    return 0;
}

/* Picks an address for the endpoint: the static one after checks, or the
 * lowest free one of ip_range. */
static int
pick_address(const struct net_network *nw, const char *wanted, uint32_t *out, struct bt_err **err)
{
    _cleanup_free_ uint32_t *used = NULL;
    size_t nused;
    used_addrs(nw, &used, &nused);
    char buf[20];
    if (wanted) {
        uint32_t a;
        uint32_t net = nw->subnet.addr, bcast = net | ~net_prefix_mask(nw->subnet.len);
        if (!net_addr_parse(wanted, &a))
            return bt_err_set(err, EINVAL, "invalid IPv4 address '%s'", wanted);
        if (!net_prefix_contains(&nw->subnet, a) || a == net || a == bcast)
            return bt_err_set(err, EINVAL, "address %s is not a host address of subnet %s", wanted,
                              net_prefix_fmt(&nw->subnet, buf));
        if (a == nw->gateway)
            return bt_err_set(err, EADDRINUSE, "address %s is the gateway of network %s", wanted,
                              nw->name);
        const char *cid;
        json_t *ep;
        json_object_foreach (nw->endpoints, cid, ep) {
            struct net_prefix p;
            if (net_prefix_parse(bt_json_str(ep, "ipv4"), false, &p) && p.addr == a)
                return bt_err_set(err, EADDRINUSE, "address %s is already in use by %s", wanted,
                                  bt_json_str(ep, "name") ?: cid);
        }
        json_object_foreach (nw->aux, cid, ep) {
            uint32_t x;
            if (net_addr_parse(json_string_value(ep), &x) && x == a)
                return bt_err_set(err, EADDRINUSE,
                                  "address %s is reserved by aux_addresses %s of network %s",
                                  wanted, cid, nw->name);
        }
        *out = a;
        return 0;
    }
    if (net_ipam_pick_addr(&nw->subnet, &nw->ip_range, nw->gateway, used, nused, out) < 0)
        return bt_err_set(err, ENOSPC, "no free address left in %s of network %s",
                          net_prefix_fmt(&nw->ip_range, buf), nw->name);
    return 0;
}

/* The IPv6 address: the static one after checks, or the lowest free one. */
static int
pick_address6(const struct net_network *nw, const char *wanted, struct in6_addr *out,
              struct bt_err **err)
{
    size_t n = 0;
    _cleanup_free_ struct in6_addr *used =
        xcalloc(json_object_size(nw->endpoints) + 1, sizeof(*used));
    const char *cid;
    json_t *ep;
    json_object_foreach (nw->endpoints, cid, ep) {
        struct net_prefix6 p;
        if (net_prefix6_parse(bt_json_str(ep, "ipv6"), false, &p))
            used[n++] = p.addr;
    }
    char buf[INET6_ADDRSTRLEN + 4];
    if (wanted) {
        struct in6_addr a, net = nw->subnet6.addr;
        if (!net_addr6_parse(wanted, &a))
            return bt_err_set(err, EINVAL, "invalid IPv6 address '%s'", wanted);
        net_in6_mask(&net, nw->subnet6.len);
        if (!net_prefix6_contains(&nw->subnet6, &a) || memcmp(&a, &net, sizeof(a)) == 0)
            return bt_err_set(err, EINVAL, "address %s is not a host address of subnet %s", wanted,
                              net_prefix6_fmt(&nw->subnet6, buf));
        if (memcmp(&a, &nw->gateway6, sizeof(a)) == 0)
            return bt_err_set(err, EADDRINUSE, "address %s is the gateway of network %s", wanted,
                              nw->name);
        json_object_foreach (nw->endpoints, cid, ep) {
            struct net_prefix6 p;
            if (net_prefix6_parse(bt_json_str(ep, "ipv6"), false, &p) &&
                memcmp(&p.addr, &a, sizeof(a)) == 0)
                return bt_err_set(err, EADDRINUSE, "address %s is already in use by %s", wanted,
                                  bt_json_str(ep, "name") ?: cid);
        }
        *out = a;
        return 0;
    }
    if (net_ipam6_pick_addr(&nw->subnet6, &nw->gateway6, used, n, out) < 0)
        return bt_err_set(err, ENOSPC, "no free IPv6 address left in %s of network %s",
                          net_prefix6_fmt(&nw->subnet6, buf), nw->name);
    return 0;
}

int
net_endpoint_plan(struct net_network *const *all, size_t n, const struct net_network *nw,
                  const struct net_endpoint_opts *o, int64_t ns_ino, uint32_t prefer,
                  struct net_endpoint_plan *out, struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    if (json_object_get(nw->endpoints, o->container_id))
        return bt_err_set(err, EEXIST, "container %s is already attached to network %s",
                          o->container_name ? o->container_name : o->container_id, nw->name);
    /* What the namespace already has from other networks: interface names
     * and whether one of them carries the default route. */
    _cleanup_strv_ char **ifnames = NULL;
    bool has_default = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i]->id, nw->id) == 0)
            continue;
        json_t *ep = json_object_get(all[i]->endpoints, o->container_id);
        json_t *ino = ep ? json_object_get(ep, "netns_ino") : NULL;
        if (!ep || !bt_streq_null(bt_json_str(ep, "netns"), o->netns) ||
            (json_is_integer(ino) && json_integer_value(ino) != ns_ino))
            continue;
        if (bt_json_str(ep, "ifname"))
            ifnames = bt_strv_push(ifnames, bt_json_str(ep, "ifname"));
        if (json_is_true(json_object_get(ep, "default_route")))
            has_default = true;
    }
    for (unsigned i = 0;; i++) {
        snprintf(out->ifname, sizeof(out->ifname), "eth%u", i);
        if (!bt_strv_contains(ifnames, out->ifname))
            break;
    }
    out->default_route = !nw->internal && !has_default;
    if (nw->ipv6) {
        int r = pick_address6(nw, o->ipv6_address, &out->ipv6, err);
        if (r < 0)
            return r;
        out->has_ipv6 = true;
    } else if (o->ipv6_address) {
        return bt_err_set(err, EINVAL,
                          "ipv6_address %s: network %s has no IPv6 (set enable_ipv6: true)",
                          o->ipv6_address, nw->name);
    }
    if (!o->ipv4_address && prefer && net_prefix_contains(&nw->ip_range, prefer)) {
        char a[20];
        struct bt_err *taken = NULL;
        if (pick_address(nw, net_addr_fmt(prefer, a), &out->ipv4, &taken) == 0)
            return 0;
        /* Somebody else has it now: any free address will do. */
        bt_err_free(taken);
    }
    return pick_address(nw, o->ipv4_address, &out->ipv4, err);
}

static void
delete_veth(const char *name)
{
    struct bt_err *ignored = NULL;
    _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, &ignored);
    if (sk)
        net_link_delete(sk, name, &ignored);
    /* Undo after a failure: the first error is the one reported. */
    ignored = bt_err_free(ignored);
}

/* What an attach decided under the lock, for plugging after it. */
struct net_attach {
    char *network_id;
    char *network_name;
    char *bridge;
    int bridge_index; /* 0: look it up by name */
    unsigned mtu;
    uint8_t prefix_len;
    uint32_t gateway;
    bool internal;
    uint8_t prefix6_len;
    struct in6_addr gateway6;
    struct net_endpoint_plan ep;
    char host_if[16];
    unsigned char mac[6];
    char mac_str[18];
    /* copies of the options, for plugging and its errors */
    char *netns;
    char *container_id;
    char *who; /* container name, else its id */
    char *network;
    /* Every network as read under the lock, and this one (borrowed from
     * it), until the hosts files are rewritten from them. Only the
     * command's thread touches these two; the veth's thread reads the
     * fields above. */
    struct network_list all;
    struct net_network *nw;
};

struct net_attach *
net_attach_free(struct net_attach *p)
{
    if (!p)
        return NULL;
    free(p->network_id);
    free(p->network_name);
    free(p->bridge);
    free(p->netns);
    free(p->container_id);
    free(p->who);
    free(p->network);
    network_list_done(&p->all);
    free(p);
    return NULL;
}

/* Docker's MAC address for a container address: 02:42 and the address's
 * four bytes, unique wherever the address is. Chosen here rather than by
 * the kernel, so that it is known, and recorded, before the veth exists. */
static void
mac_for(uint32_t addr, unsigned char mac[6], char str[18])
{
    mac[0] = 0x02;
    mac[1] = 0x42;
    for (int i = 0; i < 4; i++)
        mac[2 + i] = (unsigned char)(addr >> (24 - 8 * i));
    snprintf(str, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

static int
plug(const struct net_attach *p, const char *netns, struct bt_err **err)
{
    const struct net_endpoint_plan *ep = &p->ep;
    {
        _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, err);
        if (!sk)
            return bt_err_ret(err);
        int r = net_veth_create(sk, p->host_if, p->bridge, p->bridge_index, netns, ep->ifname,
                                p->mtu, p->mac, err);
        if (r < 0)
            return r;
    }
    _cleanup_nl_ struct nl_sock *in = net_nl_open(netns, err);
    int r = in ? 0 : bt_err_ret(err);
    if (r == 0)
        r = net_link_configure(in, ep->ifname, ep->ipv4, p->prefix_len,
                               ep->default_route ? p->gateway : 0, ep->has_ipv6 ? &ep->ipv6 : NULL,
                               p->prefix6_len, ep->default_route ? &p->gateway6 : NULL, err);
    if (r < 0)
        delete_veth(p->host_if);
    return r;
}

/* Under the lock: plans the endpoint, records it (its address is taken
 * from then on) and rewrites the hosts files. The veth is made after the
 * lock is released (plug), so that the attaches of concurrent commands do
 * not wait for one another's kernel work; until then the container, not
 * started yet, is listed but unreachable, as it would be anyway. */
static int
reserve_locked(struct net_ctx *ctx, const struct net_endpoint_opts *o, struct net_attach *out,
               struct bt_err **err)
{
    if (!net_id_valid(o->container_id))
        return bt_err_set(err, EINVAL, "invalid container id '%s'",
                          o->container_id ? o->container_id : "");
    if (!o->netns || !bt_path_exists(o->netns))
        return bt_err_set(err, ENOENT, "network namespace '%s' does not exist",
                          o->netns ? o->netns : "");
    /* The networks are read once: nw is borrowed from the list, so the
     * list, handed to the hosts files' rendering, sees the new endpoint. */
    struct network_list all = {0};
    all.v = net_network_list(ctx, &all.n, err);
    if (!all.v)
        return bt_err_ret(err);
    out->all = all;
    struct net_network *nw = net_network_find(all.v, all.n, o->network, err);
    if (!nw)
        return err && *err ? bt_err_ret(err)
                           : bt_err_set(err, ENOENT, "network %s not found", o->network);
    if (sweep_stale(nw)) {
        int r = net_network_save(ctx, nw, err);
        if (r < 0)
            return r;
    }
    /* The bridge and its nft elements do not survive a reboot; the state
     * does. One ioctl finds the bridge, and its index saves the veth's
     * thread a lookup. */
    out->bridge_index = (int)if_nametoindex(nw->bridge);
    if (out->bridge_index == 0) {
        bool created_bridge;
        int ar = network_apply(ctx, nw, &created_bridge, err);
        if (ar < 0)
            return ar;
        out->bridge_index = (int)if_nametoindex(nw->bridge);
    }
    /* After a reboot a container comes back with the address it had. */
    uint32_t prefer = 0;
    if (!net_addr_parse(bt_json_str(nw->previous, o->container_id), &prefer))
        prefer = 0;
    int r = net_endpoint_plan(all.v, all.n, nw, o, netns_ino(o->netns), prefer, &out->ep, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *rnd = net_random_hex(4);
    snprintf(out->host_if, sizeof(out->host_if), "veth%.7s", rnd);
    mac_for(out->ep.ipv4, out->mac, out->mac_str);

    char a[20];
    _cleanup_free_ char *cidr = xasprintf("%s/%u", net_addr_fmt(out->ep.ipv4, a), nw->subnet.len);
    json_t *aliases = json_array();
    for (size_t i = 0; o->aliases && o->aliases[i]; i++)
        json_array_append_new(aliases, json_string(o->aliases[i]));
    json_t *ep = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b}", "name",
                           o->container_name ? o->container_name : "", "ifname", out->ep.ifname,
                           "host_ifname", out->host_if, "mac", out->mac_str, "ipv4", cidr, "netns",
                           o->netns, "aliases", aliases, "default_route", out->ep.default_route);
    if (out->ep.has_ipv6) {
        char a6[INET6_ADDRSTRLEN];
        _cleanup_free_ char *cidr6 =
            xasprintf("%s/%u", net_addr6_fmt(&out->ep.ipv6, a6), nw->subnet6.len);
        json_object_set_new(ep, "ipv6", json_string(cidr6));
    }
    if (o->service)
        json_object_set_new(ep, "service", json_string(o->service));
    if (o->hostname)
        json_object_set_new(ep, "hostname", json_string(o->hostname));
    json_object_set_new(ep, "netns_ino", json_integer(netns_ino(o->netns)));
    json_object_set_new(nw->endpoints, o->container_id, ep);
    json_object_del(nw->previous, o->container_id);
    r = net_network_save(ctx, nw, err);
    if (r < 0)
        return r;
    out->network_id = xstrdup(nw->id);
    out->network_name = xstrdup(nw->name);
    out->bridge = xstrdup(nw->bridge);
    out->mtu = nw->mtu;
    out->prefix_len = nw->subnet.len;
    out->gateway = nw->gateway;
    out->internal = nw->internal;
    out->prefix6_len = nw->ipv6 ? nw->subnet6.len : 0;
    out->gateway6 = nw->gateway6;
    out->nw = nw;
    return 0;
}

/* Under the lock, after reserve_locked: only the containers of this
 * network see a change. */
static int
hosts_refresh(struct net_ctx *ctx, struct net_attach *p, struct bt_err **err)
{
    int r = net_hosts_refresh_from(ctx, p->nw->endpoints, p->all.v, p->all.n, err);
    p->nw = NULL;
    network_list_done(&p->all);
    p->all = (struct network_list){0};
    return r;
}

/* Plugging failed: the endpoint recorded by reserve_locked goes again. */
static void
unreserve(struct net_ctx *ctx, const struct net_attach *p, const char *cid)
{
    struct bt_err *ignored = NULL;
    if (net_lock(ctx, &ignored) == 0) {
        _cleanup_network_ struct net_network *nw = net_network_get(ctx, p->network_id, &ignored);
        json_t *ep = nw ? json_object_get(nw->endpoints, cid) : NULL;
        if (ep && bt_streq_null(bt_json_str(ep, "host_ifname"), p->host_if)) {
            json_object_del(nw->endpoints, cid);
            if (net_network_save(ctx, nw, &ignored) == 0)
                net_hosts_refresh(ctx, nw->endpoints, &ignored);
        }
        net_unlock(ctx);
    }
    /* Undo after a failure: the first error is the one reported. */
    ignored = bt_err_free(ignored);
}

static void
attach_err_prefix(const struct net_attach *p, struct bt_err **err)
{
    bt_err_prefix(err, "attach %s to network %s", p->who, p->network);
}

struct net_attach *
net_attach_reserve(struct net_ctx *ctx, const struct net_endpoint_opts *opts, bool hold,
                   struct bt_err **err)
{
    _cleanup_(net_attach_freep) struct net_attach *p = xcalloc(1, sizeof(*p));
    p->who = xstrdup(opts->container_name ? opts->container_name : opts->container_id);
    p->network = xstrdup(opts->network);
    int r = net_lock(ctx, err);
    if (r == 0) {
        r = reserve_locked(ctx, opts, p, err);
        if (r == 0 && !hold)
            r = hosts_refresh(ctx, p, err);
        if (r < 0 || !hold)
            net_unlock(ctx);
    }
    /* The endpoint may be recorded although the hosts files failed. */
    if (r < 0 && p->network_id)
        unreserve(ctx, p, opts->container_id);
    if (r < 0) {
        attach_err_prefix(p, err);
        return NULL;
    }
    p->netns = xstrdup(opts->netns);
    p->container_id = xstrdup(opts->container_id);
    return TAKE_PTR(p);
}

int
net_attach_hosts(struct net_ctx *ctx, struct net_attach *a, struct bt_err **err)
{
    int r = hosts_refresh(ctx, a, err);
    net_unlock(ctx);
    if (r < 0)
        attach_err_prefix(a, err);
    return r;
}

int
net_attach_plug(const struct net_attach *a, struct bt_err **err)
{
    int r = plug(a, a->netns, err);
    if (r < 0)
        attach_err_prefix(a, err);
    return r;
}

void
net_attach_unreserve(struct net_ctx *ctx, const struct net_attach *a)
{
    unreserve(ctx, a, a->container_id);
}

void
net_attach_result(const struct net_attach *p, struct net_endpoint *out)
{
    out->network_id = xstrdup(p->network_id);
    out->network_name = xstrdup(p->network_name);
    out->ifname = xstrdup(p->ep.ifname);
    out->host_ifname = xstrdup(p->host_if);
    out->mac = xstrdup(p->mac_str);
    out->ipv4 = p->ep.ipv4;
    out->prefix_len = p->prefix_len;
    out->gateway = p->internal ? 0 : p->gateway;
    out->has_ipv6 = p->ep.has_ipv6;
    out->ipv6 = p->ep.ipv6;
    out->prefix6_len = p->ep.has_ipv6 ? p->prefix6_len : 0;
}

int
net_endpoint_attach(struct net_ctx *ctx, const struct net_endpoint_opts *opts,
                    struct net_endpoint *out, struct bt_err **err)
{
    _cleanup_(net_attach_freep) struct net_attach *p = net_attach_reserve(ctx, opts, false, err);
    if (!p)
        return bt_err_ret(err);
    int r = net_attach_plug(p, err);
    if (r < 0) {
        net_attach_unreserve(ctx, p);
        return r;
    }
    if (out)
        net_attach_result(p, out);
    return 0;
}

int
net_network_detach_endpoint(struct net_ctx *ctx, struct net_network *nw, const char *cid,
                            json_t *touched, struct bt_err **err)
{
    json_t *ep = json_object_get(nw->endpoints, cid);
    if (!ep)
        return 0;
    json_object_update(touched, nw->endpoints);
    const char *host_if = bt_json_str(ep, "host_ifname");
    if (host_if) {
        _cleanup_nl_ struct nl_sock *sk = net_nl_open(NULL, err);
        int r = sk ? net_link_delete(sk, host_if, err) : bt_err_ret(err);
        if (r < 0)
            return r;
    }
    json_object_del(nw->endpoints, cid);
    /* The container's own (masqueraded) flows are left to expire, as
     * Docker leaves them: a dump walks the kernel's whole table, which
     * would cost every container's removal milliseconds, and an entry
     * whose tuple a later holder of the address reuses maps it the same
     * way. The flows NATed to it through published ports were flushed with
     * the ports. */
    return net_network_save(ctx, nw, err);
}

int
net_endpoint_detach(struct net_ctx *ctx, const char *network, const char *container_id,
                    struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    _cleanup_network_ struct net_network *nw = net_network_get(ctx, network, err);
    if (!nw)
        r = err && *err ? bt_err_ret(err)
                        : bt_err_set(err, ENOENT, "network %s not found", network);
    _cleanup_json_ json_t *touched = json_object();
    if (nw)
        r = net_network_detach_endpoint(ctx, nw, container_id, touched, err);
    if (r == 0)
        r = net_hosts_refresh(ctx, touched, err);
    net_unlock(ctx);
    return r;
}

/* Deleting a veth waits in the kernel for an RCU grace period (tens of
 * milliseconds). The host ends of a container's veths carry names of its
 * own, read from the state (written by atomic renames, so readable without
 * the lock), and are deleted before the store's lock is taken: the
 * containers of one `down` are unplugged in parallel, where the kernel
 * batches those waits, and no other command waits behind them. The
 * endpoints stay in the state, their addresses reserved, until the lock is
 * held; what fails here is retried, and reported, under the lock. */
static void
unplug_unlocked(struct net_ctx *ctx, const char *container_id)
{
    struct bt_err *ignored = NULL;
    _cleanup_(network_list_done) struct network_list all = {0};
    all.v = net_network_list(ctx, &all.n, &ignored);
    _cleanup_nl_ struct nl_sock *sk = NULL;
    for (size_t i = 0; all.v && i < all.n; i++) {
        json_t *ep = json_object_get(all.v[i]->endpoints, container_id);
        const char *host_if = bt_json_str(ep, "host_ifname");
        if (!host_if)
            continue;
        if (!sk)
            sk = net_nl_open(NULL, &ignored);
        if (sk)
            net_link_delete(sk, host_if, &ignored);
        ignored = bt_err_free(ignored);
    }
    ignored = bt_err_free(ignored);
}

int
net_container_release(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    if (!net_id_valid(container_id))
        return bt_err_set(err, EINVAL, "invalid container id '%s'",
                          container_id ? container_id : "");
    unplug_unlocked(ctx, container_id);
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    /* The published ports' conntrack entries go once the lock is released
     * (net_unlock). */
    r = net_ports_unpublish(ctx, container_id, err);
    _cleanup_(network_list_done) struct network_list all = {0};
    if (r == 0) {
        all.v = net_network_list(ctx, &all.n, err);
        if (!all.v)
            r = bt_err_ret(err);
    }
    _cleanup_json_ json_t *touched = json_object();
    for (size_t i = 0; r == 0 && i < all.n; i++)
        r = net_network_detach_endpoint(ctx, all.v[i], container_id, touched, err);
    if (r == 0) {
        _cleanup_free_ char *dir = xasprintf("%s/net/containers/%s", ctx->runroot, container_id);
        r = bt_rm_rf(dir, err);
    }
    json_object_del(touched, container_id);
    if (r == 0)
        r = net_hosts_refresh(ctx, touched, err);
    net_unlock(ctx);
    return r;
}

/* Published ports: parsing of the -p short syntax, reservation of host
 * ports with bound sockets, the registry in RUNROOT/net/ports.json, the
 * nftables map elements (nft.c) and the sockets a container's monitor holds
 * (net_ports_hold). Bindings on [::1] get no map element: the monitor's
 * userland proxy serves them. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "net/net-internal.h"

static bool
parse_port(const char *s, size_t n, uint16_t *out)
{
    char buf[8];
    uint64_t v;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!bt_parse_uint64(buf, &v) || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "80" or "80-81" (start <= end). */
static bool
parse_range(const char *s, size_t n, uint16_t *start, uint16_t *end)
{
    const char *dash = memchr(s, '-', n);
    if (!dash) {
        if (!parse_port(s, n, start))
            return false;
        *end = *start;
        return true;
    }
    return parse_port(s, (size_t)(dash - s), start) &&
           parse_port(dash + 1, n - (size_t)(dash - s) - 1, end) && *start <= *end;
}

int
net_port_spec_parse(const char *s, struct net_port_spec *out, struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    out->proto = NET_PROTO_TCP;
    _cleanup_free_ char *spec = xstrdup(s);
    char *slash = strrchr(spec, '/');
    if (slash) {
        *slash = '\0';
        if (strcmp(slash + 1, "udp") == 0)
            out->proto = NET_PROTO_UDP;
        else if (strcmp(slash + 1, "tcp") != 0)
            return bt_err_set(err, EINVAL, "invalid port '%s': protocol must be tcp or udp", s);
    }
    char *rest = spec;
    if (rest[0] == '[') {
        /* [IPV6]:HOST_PORT:CONTAINER_PORT or [IPV6]::CONTAINER_PORT */
        char *close = strchr(rest, ']');
        if (!close || close[1] != ':')
            return bt_err_set(err, EINVAL, "invalid port '%s': expected [IPV6]:HOST:CONTAINER", s);
        *close = '\0';
        struct in6_addr a6;
        if (!net_addr6_parse(rest + 1, &a6))
            return bt_err_set(err, EINVAL, "invalid port '%s': bad host address '%s'", s, rest + 1);
        net_addr6_fmt(&a6, out->host_ip);
        rest = close + 2;
        char *c = strrchr(rest, ':');
        if (!c)
            return bt_err_set(err, EINVAL, "invalid port '%s': expected [IPV6]:HOST:CONTAINER", s);
        *c = '\0';
        const char *cport = c + 1;
        if (!parse_range(cport, strlen(cport), &out->container_port, &out->container_port_end) ||
            out->container_port == 0)
            return bt_err_set(err, EINVAL, "invalid port '%s': bad container port", s);
        if (strchr(rest, ':'))
            return bt_err_set(err, EINVAL, "invalid port '%s': bad host port", s);
        if (*rest) {
            if (!parse_range(rest, strlen(rest), &out->host_port, &out->host_port_end))
                return bt_err_set(err, EINVAL, "invalid port '%s': bad host port", s);
            unsigned hn = out->host_port_end - out->host_port;
            unsigned cn = out->container_port_end - out->container_port;
            if (cn != 0 && hn != cn)
                return bt_err_set(err, EINVAL,
                                  "invalid port '%s': host and container port ranges differ in "
                                  "size",
                                  s);
        }
        return 0;
    }
    char *c1 = strrchr(rest, ':');
    const char *cport = c1 ? c1 + 1 : rest;
    if (!parse_range(cport, strlen(cport), &out->container_port, &out->container_port_end) ||
        out->container_port == 0)
        return bt_err_set(err, EINVAL, "invalid port '%s': bad container port", s);
    if (!c1)
        return 0;
    *c1 = '\0';
    char *c2 = strrchr(rest, ':');
    const char *hport = c2 ? c2 + 1 : rest;
    if (c2) {
        *c2 = '\0';
        uint32_t a;
        if (strchr(rest, ':'))
            return bt_err_set(
                err, EINVAL, "invalid port '%s': IPv6 addresses go in brackets ([::1]:8080:80)", s);
        if (*rest && !net_addr_parse(rest, &a))
            return bt_err_set(err, EINVAL, "invalid port '%s': bad host address '%s'", s, rest);
        if (*rest && a != 0)
            net_addr_fmt(a, out->host_ip);
    }
    if (*hport) {
        if (!parse_range(hport, strlen(hport), &out->host_port, &out->host_port_end))
            return bt_err_set(err, EINVAL, "invalid port '%s': bad host port", s);
        unsigned hn = out->host_port_end - out->host_port;
        unsigned cn = out->container_port_end - out->container_port;
        if (cn != 0 && hn != cn)
            return bt_err_set(
                err, EINVAL, "invalid port '%s': host and container port ranges differ in size", s);
    } else if (!c2) {
        return bt_err_set(err, EINVAL, "invalid port '%s': empty host port", s);
    }
    return 0;
}

/* ---- registry ---- */

static char *
registry_path(struct net_ctx *ctx)
{
    return xasprintf("%s/net/ports.json", ctx->runroot);
}

static json_t *
registry_load(struct net_ctx *ctx, struct bt_err **err)
{
    _cleanup_free_ char *path = registry_path(ctx);
    if (!bt_path_exists(path))
        return json_array();
    json_t *j = net_json_load(path, err);
    if (j && !json_is_array(j)) {
        json_decref(j);
        bt_err_set(err, EINVAL, "%s: not a list", path);
        return NULL;
    }
    return j;
}

static int
registry_save(struct net_ctx *ctx, json_t *reg, struct bt_err **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/net", ctx->runroot);
    int r = bt_mkdir_p(dir, 0755, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = registry_path(ctx);
    return bt_json_write_atomic(path, reg, err);
}

static const char *
proto_name(enum net_proto p)
{
    return p == NET_PROTO_UDP ? "udp" : "tcp";
}

bool
net_port_binding_is_v6(const struct net_port_binding *b)
{
    return strchr(b->host_ip, ':') != NULL;
}

bool
net_port_binding_is_proxied(const struct net_port_binding *b)
{
    return strcmp(b->host_ip, "::1") == 0;
}

/* The container's address the binding leads to is IPv6: an IPv6 binding,
 * except a proxied one towards a container without IPv6 (the proxy then
 * connects to its IPv4 address). */
static bool
target_is_v6(const struct net_port_binding *b)
{
    return net_port_binding_is_v6(b) &&
           !(net_port_binding_is_proxied(b) && IN6_IS_ADDR_UNSPECIFIED(&b->container_ip6));
}

const char *
net_port_binding_target(const struct net_port_binding *b, char *buf)
{
    return target_is_v6(b) ? net_addr6_fmt(&b->container_ip6, buf)
                           : net_addr_fmt(b->container_ip, buf);
}

/* The host address a user reads: 0.0.0.0, 127.0.0.1, [::], [::1]. */
static const char *
shown_ip(const char *host_ip, char *buf, size_t size)
{
    if (!host_ip[0])
        return "0.0.0.0";
    if (!strchr(host_ip, ':'))
        return host_ip;
    snprintf(buf, size, "[%s]", host_ip);
    return buf;
}

static bool
binding_from_json(json_t *e, struct net_port_binding *b)
{
    memset(b, 0, sizeof(*b));
    const char *ip = bt_json_str(e, "host_ip"), *cip = bt_json_str(e, "container_ip");
    const char *proto = bt_json_str(e, "proto");
    json_int_t hp = json_integer_value(json_object_get(e, "host_port"));
    json_int_t cp = json_integer_value(json_object_get(e, "container_port"));
    if (!ip || strlen(ip) >= sizeof(b->host_ip) || !cip || !proto || hp <= 0 || hp > 65535 ||
        cp <= 0 || cp > 65535)
        return false;
    strcpy(b->host_ip, ip);
    if (strchr(cip, ':') ? !net_addr6_parse(cip, &b->container_ip6)
                         : !net_addr_parse(cip, &b->container_ip))
        return false;
    if (net_port_binding_is_v6(b) && !strchr(cip, ':') && !net_port_binding_is_proxied(b))
        return false;
    b->host_port = (uint16_t)hp;
    b->container_port = (uint16_t)cp;
    b->proto = strcmp(proto, "udp") == 0 ? NET_PROTO_UDP : NET_PROTO_TCP;
    return true;
}

static json_t *
binding_to_json(const struct net_port_binding *b, const char *cid, const char *cname)
{
    char cip[INET6_ADDRSTRLEN];
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "container_id", cid, "container_name",
                     cname ? cname : "", "host_ip", b->host_ip, "host_port",
                     (json_int_t)b->host_port, "container_port", (json_int_t)b->container_port,
                     "proto", proto_name(b->proto), "container_ip",
                     net_port_binding_target(b, cip));
}

/* Two bindings share a socket address: same family, and one of them is
 * that family's wildcard or both name one address. */
static bool
same_socket(const char *ip_a, const char *ip_b)
{
    bool v6a = strchr(ip_a, ':') != NULL, v6b = strchr(ip_b, ':') != NULL;
    if (v6a != v6b)
        return false;
    if (v6a)
        return strcmp(ip_a, "::") == 0 || strcmp(ip_b, "::") == 0 || strcmp(ip_a, ip_b) == 0;
    return !ip_a[0] || !ip_b[0] || strcmp(ip_a, ip_b) == 0;
}

/* ---- sets ---- */

struct net_port_set *
net_port_set_free(struct net_port_set *set)
{
    if (!set)
        return NULL;
    for (size_t i = 0; set->fds && i < set->n; i++) {
        if (set->fds[i] >= 0)
            close(set->fds[i]);
    }
    free(set->fds);
    free(set->bindings);
    free(set);
    return NULL;
}
DEFINE_CLEANUP(struct net_port_set *, net_port_set_free)
#define _cleanup_port_set_ _cleanup_(net_port_set_freep)

const int *
net_port_set_fds(const struct net_port_set *set, size_t *n)
{
    *n = set ? set->n : 0;
    return set ? set->fds : NULL;
}

static void
set_push(struct net_port_set *set, const struct net_port_binding *b, int fd)
{
    set->bindings = xreallocarray(set->bindings, set->n + 1, sizeof(*set->bindings));
    set->fds = xreallocarray(set->fds, set->n + 1, sizeof(*set->fds));
    set->bindings[set->n] = *b;
    set->fds[set->n] = fd;
    set->n++;
}

/* Binds host_ip:port (port 0 = the kernel picks). No SO_REUSEADDR: with it
 * a second non-listening socket could share the port. Except for the TCP
 * ports the proxy serves ([::1]): its connections leave TIME_WAIT sockets
 * on the port, which would refuse the next `up` for a minute without
 * SO_REUSEADDR; those sockets listen at once, which no other socket may
 * share. Returns the fd and the port bound, or -errno. */
static int
bind_port(const char *host_ip, uint16_t port, enum net_proto proto, uint16_t *bound)
{
    bool proxied_tcp = proto == NET_PROTO_TCP && strcmp(host_ip, "::1") == 0;
    bool v6 = strchr(host_ip, ':') != NULL;
    union {
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } sa = {0};
    if (v6) {
        sa.in6.sin6_family = AF_INET6;
        sa.in6.sin6_port = htons(port);
        if (inet_pton(AF_INET6, host_ip, &sa.in6.sin6_addr) != 1)
            return -EINVAL;
    } else {
        sa.in.sin_family = AF_INET;
        sa.in.sin_port = htons(port);
        if (host_ip[0] && inet_pton(AF_INET, host_ip, &sa.in.sin_addr) != 1)
            return -EINVAL;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET,
                    (proto == NET_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* [::] reserves the IPv6 port only; 0.0.0.0 has its own socket. */
    int one = 1;
    if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (proxied_tcp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    socklen_t salen = v6 ? sizeof(sa.in6) : sizeof(sa.in);
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || (proxied_tcp && listen(fd, 128) < 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    socklen_t len = salen;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *bound = ntohs(v6 ? sa.in6.sin6_port : sa.in.sin_port);
    return fd;
}

/* The error of a bind that failed for another reason than a taken port. */
static int
bind_error(const struct net_port_binding *b, unsigned port, int r, struct bt_err **err)
{
    char buf[INET6_ADDRSTRLEN + 2];
    const char *shown = shown_ip(b->host_ip, buf, sizeof(buf));
    if (net_port_binding_is_proxied(b) && (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT))
        return bt_err_set(err, -r,
                          "Bind for %s:%u/%s failed: the host has no IPv6 loopback address "
                          "(IPv6 is disabled)",
                          shown, port, proto_name(b->proto));
    return bt_err_errno(err, -r, "Bind for %s:%u/%s failed", shown, port, proto_name(b->proto));
}

static const char *
registry_holder(json_t *reg, const char *host_ip, uint16_t port, enum net_proto proto)
{
    size_t i;
    json_t *e;
    json_array_foreach (reg, i, e) {
        struct net_port_binding b;
        if (binding_from_json(e, &b) && b.host_port == port && b.proto == proto &&
            same_socket(b.host_ip, host_ip)) {
            const char *name = bt_json_str(e, "container_name");
            return name && *name ? name : bt_json_str(e, "container_id");
        }
    }
    return NULL;
}

static int
reserve_ephemeral(json_t *reg, struct net_port_binding *b, int *fd_out, struct bt_err **err)
{
    /* The kernel may hand out a port berth recorded for a container whose
     * sockets nobody holds at the moment; keep such sockets open until a
     * free one comes, so the kernel does not offer them again. */
    int stale[64];
    size_t nstale = 0;
    int r = -EADDRINUSE;
    while (nstale < BT_ARRAY_SIZE(stale)) {
        uint16_t bound;
        r = bind_port(b->host_ip, 0, b->proto, &bound);
        if (r < 0)
            break;
        if (!registry_holder(reg, b->host_ip, bound, b->proto)) {
            b->host_port = bound;
            *fd_out = r;
            r = 0;
            break;
        }
        stale[nstale++] = r;
        r = -EADDRINUSE;
    }
    for (size_t i = 0; i < nstale; i++)
        close(stale[i]);
    return r < 0 ? bind_error(b, 0, r, err) : 0;
}

/* Reserves one host port for binding b (b->host_port set on success),
 * trying first..last (0 = ephemeral). A port that `own` (registry entries,
 * may be NULL) records counts as free although bound: the running container
 * that is to be replaced holds it, and releases it before its successor
 * publishes (*fd_out is then -1). */
static int
reserve(json_t *reg, json_t *own, struct net_port_binding *b, uint16_t first, uint16_t last,
        int *fd_out, struct bt_err **err)
{
    if (first == 0)
        return reserve_ephemeral(reg, b, fd_out, err);
    char buf[INET6_ADDRSTRLEN + 2];
    const char *shown = shown_ip(b->host_ip, buf, sizeof(buf));
    const char *proto = proto_name(b->proto);
    const char *holder = NULL;
    int r = -EADDRINUSE;
    for (uint32_t p = first; p <= last; p++) {
        const char *h = registry_holder(reg, b->host_ip, (uint16_t)p, b->proto);
        if (h) {
            holder = h;
            r = -EADDRINUSE;
            continue;
        }
        uint16_t bound;
        r = bind_port(b->host_ip, (uint16_t)p, b->proto, &bound);
        if (r >= 0) {
            b->host_port = bound;
            *fd_out = r;
            return 0;
        }
        if (r == -EADDRINUSE && own && registry_holder(own, b->host_ip, (uint16_t)p, b->proto)) {
            b->host_port = (uint16_t)p;
            *fd_out = -1;
            return 0;
        }
        if (r != -EADDRINUSE)
            return bind_error(b, p, r, err);
    }
    if (first == last && holder)
        return bt_err_set(err, EADDRINUSE,
                          "Bind for %s:%u/%s failed: port is already allocated by container %s",
                          shown, first, proto, holder);
    if (first == last)
        return bt_err_set(err, EADDRINUSE,
                          "Bind for %s:%u/%s failed: port is already in use by another process",
                          shown, first, proto);
    return bt_err_set(err, EADDRINUSE, "Bind for %s:%u-%u/%s failed: every port is taken", shown,
                      first, last, proto);
}

/* Reserves every host port of specs into set, recording each in reg so that
 * later specs see the earlier ones. cip6 is the container's IPv6 address
 * (NULL without one): a port published on every address is then published
 * on [::] too, with the same host port, as Docker does. `checking` (no
 * container address yet) reserves what the specs name and no more. */
static int
reserve_all(json_t *reg, json_t *own, const char *cid, const char *cname, uint32_t container_ip,
            const struct in6_addr *cip6, bool checking, const struct net_port_spec *specs,
            size_t nspecs, struct net_port_set *set, struct bt_err **err)
{
    for (size_t i = 0; i < nspecs; i++) {
        const struct net_port_spec *s = &specs[i];
        unsigned ccount = (unsigned)(s->container_port_end - s->container_port) + 1;
        unsigned hcount = s->host_port ? (unsigned)(s->host_port_end - s->host_port) + 1 : 0;
        if (s->container_port == 0 || s->container_port_end < s->container_port ||
            (s->host_port && s->host_port_end < s->host_port) ||
            (hcount && ccount > 1 && hcount != ccount))
            return bt_err_set(err, EINVAL, "port mapping %zu: invalid range", i + 1);
        bool v6 = strchr(s->host_ip, ':') != NULL;
        /* [::1] is served by the monitor's proxy (the kernel does not NAT
         * the IPv6 loopback), which reaches an IPv4-only container too. */
        bool proxied = strcmp(s->host_ip, "::1") == 0;
        if (v6 && !proxied && !cip6 && !checking)
            return bt_err_set(err, EAFNOSUPPORT,
                              "port [%s]:%u: the container has no IPv6 address (its network "
                              "needs enable_ipv6: true)",
                              s->host_ip, s->host_port);
        for (unsigned k = 0; k < ccount; k++) {
            struct net_port_binding b = {.container_port = (uint16_t)(s->container_port + k),
                                         .proto = s->proto,
                                         .container_ip = container_ip};
            snprintf(b.host_ip, sizeof(b.host_ip), "%s", s->host_ip);
            uint16_t first = 0, last = 0;
            if (hcount && ccount > 1)
                first = last = (uint16_t)(s->host_port + k);
            else if (hcount) {
                first = s->host_port;
                last = s->host_port_end;
            }
            if (v6 && cip6)
                b.container_ip6 = *cip6;
            int fd = -1;
            int r = reserve(reg, own, &b, first, last, &fd, err);
            if (r < 0)
                return r;
            set_push(set, &b, fd);
            json_array_append_new(reg, binding_to_json(&b, cid, cname));
            if (s->host_ip[0] || !cip6)
                continue;
            struct net_port_binding b6 = b;
            snprintf(b6.host_ip, sizeof(b6.host_ip), "::");
            b6.container_ip = 0;
            b6.container_ip6 = *cip6;
            r = reserve(reg, own, &b6, b.host_port, b.host_port, &fd, err);
            if (r < 0)
                return r;
            set_push(set, &b6, fd);
            json_array_append_new(reg, binding_to_json(&b6, cid, cname));
        }
    }
    return 0;
}

/* Adds or removes the nftables elements of the bindings DNAT serves (the
 * proxied ones have none). */
static int
nft_apply(struct net_ctx *ctx, const struct net_port_set *set, bool add, struct bt_err **err)
{
    _cleanup_free_ struct net_port_binding *v = xcalloc(set->n + 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        if (!net_port_binding_is_proxied(&set->bindings[i]))
            v[n++] = set->bindings[i];
    return net_nft_ports_apply(ctx, v, n, add, err);
}

/* Moves the container's entries out of reg; returns them. */
static json_t *
registry_take(json_t *reg, const char *cid)
{
    json_t *taken = json_array();
    for (size_t i = 0; i < json_array_size(reg);) {
        json_t *e = json_array_get(reg, i);
        if (bt_streq_null(bt_json_str(e, "container_id"), cid)) {
            json_array_append(taken, e);
            json_array_remove(reg, i);
        } else {
            i++;
        }
    }
    return taken;
}

static bool
registry_holds(json_t *reg, const char *cid)
{
    size_t i;
    json_t *e;
    json_array_foreach (reg, i, e) {
        if (bt_streq_null(bt_json_str(e, "container_id"), cid))
            return true;
    }
    return false;
}

int
net_ports_check(struct net_ctx *ctx, const char *container_id, const char *container_name,
                const struct net_port_spec *specs, size_t nspecs, struct bt_err **err)
{
    if (nspecs == 0)
        return 0;
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    json_t *reg = registry_load(ctx, err);
    if (!reg) {
        net_unlock(ctx);
        return bt_err_ret(err);
    }
    /* The container's own earlier ports would be replaced, not kept; while
     * it runs, its monitor holds them. */
    json_t *own = registry_take(reg, container_id);
    struct net_port_set *set = xcalloc(1, sizeof(*set));
    r = reserve_all(reg, own, container_id, container_name, 0, NULL, true, specs, nspecs, set, err);
    json_decref(own);
    net_port_set_free(set); /* closes the sockets: this was only a check */
    json_decref(reg);
    net_unlock(ctx);
    return r;
}

/* Publishes to the container's address on a network (cip; cip6 when the
 * network has IPv6). */
static int
publish_locked(struct net_ctx *ctx, const char *cid, const char *cname, uint32_t cip,
               const struct in6_addr *cip6, const struct net_port_spec *specs, size_t nspecs,
               struct net_port_set **out, struct bt_err **err)
{
    _cleanup_json_ json_t *reg = registry_load(ctx, err);
    if (!reg)
        return bt_err_ret(err);
    /* Publishing again replaces what the container published before. */
    if (registry_holds(reg, cid)) {
        int r = net_ports_unpublish(ctx, cid, err);
        if (r < 0)
            return r;
        json_decref(reg);
        reg = registry_load(ctx, err);
        if (!reg)
            return bt_err_ret(err);
    }
    _cleanup_port_set_ struct net_port_set *set = xcalloc(1, sizeof(*set));
    int r = reserve_all(reg, NULL, cid, cname, cip, cip6, false, specs, nspecs, set, err);
    if (r < 0)
        return r;
    r = nft_apply(ctx, set, true, err);
    if (r == 0) {
        r = registry_save(ctx, reg, err);
        if (r < 0) {
            struct bt_err *ignored = NULL;
            nft_apply(ctx, set, false, &ignored);
            ignored = bt_err_free(ignored); /* undo after a failure: the first error is reported */
        }
    }
    if (r < 0)
        return r;
    /* Flows to these host ports that conntrack still sends elsewhere (an
     * earlier container, or the host while nothing was published) come
     * here from their next packet on. */
    net_ct_flush_udp(ctx, set->bindings, set->n);
    *out = TAKE_PTR(set);
    return 0;
}

static int
publish_on_network(struct net_ctx *ctx, const char *cid, const char *cname, const char *network,
                   const struct net_port_spec *specs, size_t nspecs, struct net_port_set **out,
                   struct bt_err **err)
{
    struct net_network *nw = net_network_get(ctx, network, err);
    if (!nw)
        return err && *err ? bt_err_ret(err)
                           : bt_err_set(err, ENOENT, "network %s not found", network);
    bool internal = nw->internal;
    json_t *ep = json_object_get(nw->endpoints, cid);
    struct net_prefix cip = {0};
    bool have_ip = ep && net_prefix_parse(bt_json_str(ep, "ipv4"), false, &cip);
    struct net_prefix6 cip6;
    bool have_ip6 = ep && net_prefix6_parse(bt_json_str(ep, "ipv6"), false, &cip6);
    _cleanup_free_ char *nwname = xstrdup(nw->name);
    net_network_free(nw);
    if (internal && nspecs > 0)
        return bt_err_set(err, EPERM, "network %s is internal: ports cannot be published", nwname);
    if (!have_ip)
        return bt_err_set(err, ENOENT, "container %s is not attached to network %s",
                          cname ? cname : cid, nwname);
    return publish_locked(ctx, cid, cname, cip.addr, have_ip6 ? &cip6.addr : NULL, specs, nspecs,
                          out, err);
}

int
net_ports_publish(struct net_ctx *ctx, const char *container_id, const char *container_name,
                  const char *network, const struct net_port_spec *specs, size_t nspecs,
                  struct net_port_set **out, struct bt_err **err)
{
    *out = NULL;
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    r = publish_on_network(ctx, container_id, container_name, network, specs, nspecs, out, err);
    net_unlock(ctx);
    if (r < 0)
        bt_err_prefix(err, "publish ports of %s", container_name ? container_name : container_id);
    return r;
}

int
net_ports_publish_at(struct net_ctx *ctx, const char *container_id, const char *container_name,
                     const struct net_endpoint *ep, const struct net_port_spec *specs,
                     size_t nspecs, struct net_port_set **out, struct bt_err **err)
{
    *out = NULL;
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    r = publish_locked(ctx, container_id, container_name, ep->ipv4, ep->has_ipv6 ? &ep->ipv6 : NULL,
                       specs, nspecs, out, err);
    net_unlock(ctx);
    if (r < 0)
        bt_err_prefix(err, "publish ports of %s", container_name ? container_name : container_id);
    return r;
}

static struct net_port_set *
collect(json_t *reg, const char *cid, bool remove)
{
    struct net_port_set *set = xcalloc(1, sizeof(*set));
    for (size_t i = 0; i < json_array_size(reg);) {
        json_t *e = json_array_get(reg, i);
        struct net_port_binding b;
        if (bt_streq_null(bt_json_str(e, "container_id"), cid) && binding_from_json(e, &b)) {
            set_push(set, &b, -1);
            if (remove) {
                json_array_remove(reg, i);
                continue;
            }
        }
        i++;
    }
    return set;
}

static int
unpublish(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    int r = net_lock(ctx, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *reg = registry_load(ctx, err);
    if (!reg) {
        net_unlock(ctx);
        return bt_err_ret(err);
    }
    _cleanup_port_set_ struct net_port_set *set = collect(reg, container_id, true);
    if (set->n > 0) {
        r = nft_apply(ctx, set, false, err);
        if (r == 0)
            r = registry_save(ctx, reg, err);
    }
    if (r == 0 && set->n > 0)
        net_ct_flush_bindings(ctx, set->bindings, set->n, NET_CT_TO_TARGET);
    net_unlock(ctx);
    return r;
}

int
net_ports_unpublish(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    return unpublish(ctx, container_id, err);
}

struct net_port_set *
net_ports_list(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    _cleanup_json_ json_t *reg = registry_load(ctx, err);
    if (!reg)
        return NULL;
    return collect(reg, container_id, false);
}

#define HOLD_RETRIES  20
#define HOLD_RETRY_MS 25

int
net_ports_hold(struct net_ctx *ctx, const char *container_id, struct net_port_set **out,
               struct bt_err **err)
{
    *out = NULL;
    _cleanup_json_ json_t *reg = registry_load(ctx, err);
    if (!reg)
        return bt_err_ret(err);
    _cleanup_port_set_ struct net_port_set *set = collect(reg, container_id, false);
    for (size_t i = 0; i < set->n; i++) {
        const struct net_port_binding *b = &set->bindings[i];
        uint16_t bound;
        int r = bind_port(b->host_ip, b->host_port, b->proto, &bound);
        /* A threaded CLI that forks (another container's monitor) lends
         * the child a copy of every socket it holds until that child
         * execs, the reservation of this very port at create included:
         * such a copy goes within milliseconds, another process's does
         * not. */
        for (int tries = 0; r == -EADDRINUSE && tries < HOLD_RETRIES; tries++) {
            struct timespec ts = {0, HOLD_RETRY_MS * 1000 * 1000};
            nanosleep(&ts, NULL);
            r = bind_port(b->host_ip, b->host_port, b->proto, &bound);
        }
        if (r == -EADDRINUSE) {
            char buf[INET6_ADDRSTRLEN + 2];
            return bt_err_set(err, EADDRINUSE,
                              "Bind for %s:%u/%s failed: port is already in use by another "
                              "process",
                              shown_ip(b->host_ip, buf, sizeof(buf)), b->host_port,
                              proto_name(b->proto));
        }
        if (r < 0)
            return bind_error(b, b->host_port, r, err);
        set->fds[i] = r;
    }
    *out = TAKE_PTR(set);
    return 0;
}

const char *
net_port_binding_fmt(const struct net_port_binding *b, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN + 2];
    snprintf(buf, size, "%s:%u->%u/%s", shown_ip(b->host_ip, ip, sizeof(ip)), b->host_port,
             b->container_port, proto_name(b->proto));
    return buf;
}

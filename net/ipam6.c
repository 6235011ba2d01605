/* IPAM for IPv6: prefixes, subnet selection from IPv6 address pools (the
 * IPv6 entries of berth.json's default-address-pools, else one ULA pool)
 * and address selection inside a subnet. Pure, like ipam.c; store.c's lock
 * serialises their use. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/net-internal.h"

void
net_in6_mask(struct in6_addr *a, uint8_t len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = len >= (i + 1) * 8 ? 8 : (len > i * 8 ? len - i * 8 : 0);
        a->s6_addr[i] &= (uint8_t)(0xff00u >> bits);
    }
}

/* a += v << shift (shift counted from the low end of the 128 bits). */
static void
in6_add_shifted(struct in6_addr *a, uint64_t v, unsigned shift)
{
    unsigned carry = 0;
    for (int i = 15; i >= 0; i--) {
        unsigned bitpos = (unsigned)(15 - i) * 8;
        unsigned add = 0;
        if (bitpos + 8 > shift && bitpos < shift + 64) {
            int s = (int)bitpos - (int)shift;
            add = (unsigned)((s >= 0 ? v >> s : v << -s) & 0xff);
        }
        unsigned sum = a->s6_addr[i] + add + carry;
        a->s6_addr[i] = (uint8_t)sum;
        carry = sum >> 8;
    }
}

bool
net_addr6_parse(const char *s, struct in6_addr *out)
{
    return s && inet_pton(AF_INET6, s, out) == 1;
}

bool
net_prefix6_parse(const char *s, bool allow_host, struct net_prefix6 *out)
{
    if (!s)
        return false;
    const char *slash = strchr(s, '/');
    char addr[INET6_ADDRSTRLEN];
    uint64_t len = 128;
    if (slash) {
        size_t n = (size_t)(slash - s);
        if (n >= sizeof(addr) || !bt_parse_uint64(slash + 1, &len) || len > 128)
            return false;
        memcpy(addr, s, n);
        addr[n] = '\0';
    } else {
        if (!allow_host || strlen(s) >= sizeof(addr))
            return false;
        strcpy(addr, s);
    }
    if (!net_addr6_parse(addr, &out->addr))
        return false;
    out->len = (uint8_t)len;
    return true;
}

const char *
net_addr6_fmt(const struct in6_addr *a, char *buf)
{
    inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
    return buf;
}

const char *
net_prefix6_fmt(const struct net_prefix6 *p, char *buf)
{
    net_addr6_fmt(&p->addr, buf);
    snprintf(buf + strlen(buf), 5, "/%u", (unsigned)p->len & 255);
    return buf;
}

bool
net_prefix6_contains(const struct net_prefix6 *p, const struct in6_addr *a)
{
    struct in6_addr x = *a, y = p->addr;
    net_in6_mask(&x, p->len);
    net_in6_mask(&y, p->len);
    return memcmp(&x, &y, sizeof(x)) == 0;
}

bool
net_prefix6_overlaps(const struct net_prefix6 *a, const struct net_prefix6 *b)
{
    struct net_prefix6 shorter = a->len < b->len ? *a : *b;
    return net_prefix6_contains(&shorter, a->len < b->len ? &b->addr : &a->addr);
}

int
net_ipam6_pick_subnet(const struct net_pool6 *pools, size_t npools, const struct net_prefix6 *used,
                      size_t nused, struct net_prefix6 *out)
{
    for (size_t i = 0; i < npools; i++) {
        const struct net_pool6 *p = &pools[i];
        if (p->size < p->base.len || p->size > 124)
            continue;
        /* A pool of more than 2^20 subnets is searched in its first 2^20. */
        unsigned bits = (unsigned)(p->size - p->base.len);
        uint64_t count = bits >= 20 ? (1ull << 20) : (1ull << bits);
        struct in6_addr base = p->base.addr;
        net_in6_mask(&base, p->base.len);
        for (uint64_t k = 0; k < count; k++) {
            struct net_prefix6 cand = {.addr = base, .len = p->size};
            in6_add_shifted(&cand.addr, k, 128u - p->size);
            bool clash = false;
            for (size_t j = 0; j < nused && !clash; j++)
                clash = net_prefix6_overlaps(&cand, &used[j]);
            if (!clash) {
                *out = cand;
                return 0;
            }
        }
    }
    return -ENOSPC;
}

int
net_ipam6_pick_addr(const struct net_prefix6 *subnet, const struct in6_addr *gateway,
                    const struct in6_addr *used, size_t nused, struct in6_addr *out)
{
    /* The subnet-router anycast address (host part 0) is never given out;
     * searching the first 2^16 host addresses is plenty for one host. */
    struct in6_addr net = subnet->addr;
    net_in6_mask(&net, subnet->len);
    unsigned host_bits = 128u - subnet->len;
    uint64_t count = host_bits >= 16 ? (1ull << 16) : (1ull << host_bits);
    for (uint64_t k = 1; k < count; k++) {
        struct in6_addr cand = net;
        in6_add_shifted(&cand, k, 0);
        if (gateway && memcmp(&cand, gateway, sizeof(cand)) == 0)
            continue;
        bool taken = false;
        for (size_t j = 0; j < nused && !taken; j++)
            taken = memcmp(&used[j], &cand, sizeof(cand)) == 0;
        if (!taken) {
            *out = cand;
            return 0;
        }
    }
    return -ENOSPC;
}

size_t
net_ipam6_default_pools(struct net_pool6 *out, size_t max)
{
    if (max == 0)
        return 0;
    /* A unique local /48 carved into /64s, as Docker's fixed ULA pool. */
    struct net_pool6 p = {.size = 64};
    net_prefix6_parse("fd00:b37::/48", false, &p.base);
    out[0] = p;
    return 1;
}

int
net_config_load_pools6(const char *path, struct net_pool6 **pools, size_t *npools,
                       struct bt_err **err)
{
    *pools = NULL;
    *npools = 0;
    _cleanup_json_ json_t *cfg = NULL;
    if (path && bt_path_exists(path)) {
        cfg = bt_json_load_file(path, err);
        if (!cfg)
            return bt_err_ret(err);
    }
    json_t *jp = json_is_object(cfg) ? json_object_get(cfg, "default-address-pools") : NULL;
    size_t n = json_is_array(jp) ? json_array_size(jp) : 0;
    *pools = xcalloc(n + 1, sizeof(**pools));
    size_t i;
    json_t *e;
    json_array_foreach (jp, i, e) {
        const char *base = bt_json_str(e, "base");
        if (!base || !strchr(base, ':'))
            continue;
        json_t *size = json_object_get(e, "size");
        struct net_pool6 *p = &(*pools)[*npools];
        if (!net_prefix6_parse(base, false, &p->base) || !json_is_integer(size) ||
            json_integer_value(size) < p->base.len || json_integer_value(size) > 124) {
            free(*pools);
            *pools = NULL;
            *npools = 0;
            return bt_err_set(err, EINVAL,
                              "%s: default-address-pools[%zu]: needs \"base\" (a CIDR) and "
                              "\"size\" (a prefix length between the base's and 124)",
                              path, i);
        }
        net_in6_mask(&p->base.addr, p->base.len);
        p->size = (uint8_t)json_integer_value(size);
        (*npools)++;
    }
    if (*npools == 0)
        *npools = net_ipam6_default_pools(*pools, 1);
    return 0;
}

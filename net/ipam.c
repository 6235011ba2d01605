/* IPAM: IPv4 prefixes, subnet selection from address pools, address
 * selection inside a subnet, and the pools and bip of berth.json. The
 * selection functions are pure; store.c runs them under the state lock. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/net-internal.h"

uint32_t
net_prefix_mask(uint8_t len)
{
    return len == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - len));
}

bool
net_addr_parse(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

bool
net_prefix_parse(const char *s, bool allow_host, struct net_prefix *out)
{
    if (!s)
        return false;
    const char *slash = strchr(s, '/');
    char addr[INET_ADDRSTRLEN];
    uint64_t len = 32;
    if (slash) {
        size_t n = (size_t)(slash - s);
        if (n >= sizeof(addr) || !bt_parse_uint64(slash + 1, &len) || len > 32)
            return false;
        memcpy(addr, s, n);
        addr[n] = '\0';
    } else {
        if (!allow_host || strlen(s) >= sizeof(addr))
            return false;
        strcpy(addr, s);
    }
    uint32_t a;
    if (!net_addr_parse(addr, &a))
        return false;
    out->addr = a;
    out->len = (uint8_t)len;
    return true;
}

const char *
net_addr_fmt(uint32_t addr, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
             addr & 0xff);
    return buf;
}

const char *
net_prefix_fmt(const struct net_prefix *p, char *buf)
{
    net_addr_fmt(p->addr, buf);
    snprintf(buf + strlen(buf), 5, "/%u", (unsigned)p->len & 63);
    return buf;
}

bool
net_prefix_contains(const struct net_prefix *p, uint32_t addr)
{
    uint32_t m = net_prefix_mask(p->len);
    return (addr & m) == (p->addr & m);
}

bool
net_prefix_overlaps(const struct net_prefix *a, const struct net_prefix *b)
{
    uint8_t len = a->len < b->len ? a->len : b->len;
    uint32_t m = net_prefix_mask(len);
    return (a->addr & m) == (b->addr & m);
}

int
net_ipam_pick_subnet(const struct net_pool *pools, size_t npools, const struct net_prefix *used,
                     size_t nused, struct net_prefix *out)
{
    for (size_t i = 0; i < npools; i++) {
        const struct net_pool *p = &pools[i];
        if (p->size < p->base.len || p->size > 30)
            continue;
        uint64_t count = 1ull << (p->size - p->base.len);
        uint32_t base = p->base.addr & net_prefix_mask(p->base.len);
        for (uint64_t k = 0; k < count; k++) {
            struct net_prefix cand = {
                .addr = base + (uint32_t)(k << (32 - p->size)),
                .len = p->size,
            };
            bool clash = false;
            for (size_t j = 0; j < nused && !clash; j++)
                clash = net_prefix_overlaps(&cand, &used[j]);
            if (!clash) {
                *out = cand;
                return 0;
            }
        }
    }
    return -ENOSPC;
}

int
net_ipam_pick_addr(const struct net_prefix *subnet, const struct net_prefix *range,
                   uint32_t gateway, const uint32_t *used, size_t nused, uint32_t *out)
{
    uint32_t smask = net_prefix_mask(subnet->len);
    uint32_t net = subnet->addr & smask;
    uint32_t bcast = net | ~smask;
    uint32_t rmask = net_prefix_mask(range->len);
    uint32_t first = range->addr & rmask;
    uint32_t last = first | ~rmask;
    for (uint64_t a = first; a <= last; a++) {
        uint32_t cand = (uint32_t)a;
        if (!net_prefix_contains(subnet, cand))
            continue;
        if (subnet->len <= 30 && (cand == net || cand == bcast))
            continue;
        if (cand == gateway)
            continue;
        bool taken = false;
        for (size_t j = 0; j < nused && !taken; j++)
            taken = used[j] == cand;
        if (!taken) {
            *out = cand;
            return 0;
        }
    }
    return -ENOSPC;
}

size_t
net_ipam_default_pools(struct net_pool *out, size_t max)
{
    size_t n = 0;
    for (uint32_t b = 17; b <= 31 && n < max; b++)
        out[n++] =
            (struct net_pool){.base = {.addr = (172u << 24) | (b << 16), .len = 16}, .size = 16};
    if (n < max)
        out[n++] =
            (struct net_pool){.base = {.addr = (192u << 24) | (168u << 16), .len = 16}, .size = 20};
    return n;
}

int
net_config_load(const char *path, struct net_pool **pools, size_t *npools, struct net_prefix *bip,
                bool *has_bip, unsigned *mtu, char ***dns, struct bt_err **err)
{
    *pools = NULL;
    *npools = 0;
    *has_bip = false;
    *mtu = 0;
    if (dns)
        *dns = NULL;
    _cleanup_json_ json_t *cfg = NULL;
    if (path && bt_path_exists(path)) {
        cfg = bt_json_load_file(path, err);
        if (!cfg)
            return bt_err_ret(err);
        if (!json_is_object(cfg))
            return bt_err_set(err, EINVAL, "%s: not a JSON object", path);
    }
    json_t *jp = cfg ? json_object_get(cfg, "default-address-pools") : NULL;
    if (jp && json_array_size(jp) > 0) {
        if (!json_is_array(jp))
            return bt_err_set(err, EINVAL, "%s: default-address-pools: not a list", path);
        *pools = xcalloc(json_array_size(jp), sizeof(**pools));
        size_t i;
        json_t *e;
        json_array_foreach (jp, i, e) {
            const char *base = bt_json_str(e, "base");
            /* IPv6 pools are read by net_config_load_pools6(). */
            if (base && strchr(base, ':'))
                continue;
            json_t *size = json_object_get(e, "size");
            struct net_pool *p = &(*pools)[*npools];
            if (!net_prefix_parse(base, false, &p->base) || !json_is_integer(size) ||
                json_integer_value(size) < p->base.len || json_integer_value(size) > 30) {
                free(*pools);
                *pools = NULL;
                return bt_err_set(err, EINVAL,
                                  "%s: default-address-pools[%zu]: needs \"base\" (a CIDR) and "
                                  "\"size\" (a prefix length between the base's and 30)",
                                  path, i);
            }
            p->base.addr &= net_prefix_mask(p->base.len);
            p->size = (uint8_t)json_integer_value(size);
            (*npools)++;
        }
    }
    if (*npools == 0) {
        free(*pools);
        *pools = xcalloc(16, sizeof(**pools));
        *npools = net_ipam_default_pools(*pools, 16);
    }
    const char *b = cfg ? bt_json_str(cfg, "bip") : NULL;
    if (b) {
        if (!net_prefix_parse(b, false, bip)) {
            free(*pools);
            *pools = NULL;
            return bt_err_set(err, EINVAL, "%s: bip: '%s' is not an address/prefix", path, b);
        }
        *has_bip = true;
    }
    json_t *jm = cfg ? json_object_get(cfg, "mtu") : NULL;
    if (json_is_integer(jm) && json_integer_value(jm) >= 68 && json_integer_value(jm) <= 65535)
        *mtu = (unsigned)json_integer_value(jm);
    json_t *jd = cfg ? json_object_get(cfg, "dns") : NULL;
    if (dns && json_is_array(jd)) {
        size_t i;
        json_t *e;
        json_array_foreach (jd, i, e) {
            if (json_is_string(e))
                *dns = bt_strv_push(*dns, json_string_value(e));
        }
    }
    return 0;
}

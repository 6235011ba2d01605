/* net: IPv6 prefixes, subnet and address selection, IPv6 pools in
 * berth.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net-internal.h"

static struct net_prefix6
P6(const char *s) {
    struct net_prefix6 p;
    assert_true(net_prefix6_parse(s, false, &p));
    return p;
}

static const char *
fmt(const struct net_prefix6 *p, char *buf)
{
    return net_prefix6_fmt(p, buf);
}

static void
test_parse_fmt(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN + 4];
    struct net_prefix6 p = P6("fd00:0:0::/64");
    assert_string_equal(fmt(&p, buf), "fd00::/64");
    assert_true(net_prefix6_parse("::1", true, &p));
    assert_int_equal(p.len, 128);
    assert_false(net_prefix6_parse("::1", false, &p));
    assert_false(net_prefix6_parse("fd00::/129", false, &p));
    assert_false(net_prefix6_parse("10.0.0.0/8", false, &p));
    assert_false(net_prefix6_parse("fd00::g/64", false, &p));
    struct in6_addr a;
    assert_true(net_addr6_parse("fd00:b37::2", &a));
    assert_string_equal(net_addr6_fmt(&a, buf), "fd00:b37::2");
}

static void
test_overlap_contains_mask(void **state)
{
    (void)state;
    struct net_prefix6 a = P6("fd00:1::/64"), b = P6("fd00::/16"), c = P6("fd00:2::/64");
    assert_true(net_prefix6_overlaps(&a, &b));
    assert_true(net_prefix6_overlaps(&b, &a));
    assert_false(net_prefix6_overlaps(&a, &c));
    struct in6_addr x;
    net_addr6_parse("fd00:1::ffff", &x);
    assert_true(net_prefix6_contains(&a, &x));
    assert_false(net_prefix6_contains(&c, &x));
    net_in6_mask(&x, 68);
    char buf[INET6_ADDRSTRLEN];
    assert_string_equal(net_addr6_fmt(&x, buf), "fd00:1::");
    net_addr6_parse("fd00:1:ffff:ffff:ffff::", &x);
    net_in6_mask(&x, 52);
    assert_string_equal(net_addr6_fmt(&x, buf), "fd00:1:ffff:f000::");
}

static void
test_pick_subnet(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN + 4];
    struct net_pool6 pools[1];
    assert_int_equal(net_ipam6_default_pools(pools, 1), 1);
    struct net_prefix6 out;
    assert_int_equal(net_ipam6_pick_subnet(pools, 1, NULL, 0, &out), 0);
    assert_string_equal(fmt(&out, buf), "fd00:b37::/64");
    struct net_prefix6 used[] = {P6("fd00:b37::/64"), P6("fd00:b37:0:1::/63")};
    assert_int_equal(net_ipam6_pick_subnet(pools, 1, used, 2, &out), 0);
    assert_string_equal(fmt(&out, buf), "fd00:b37:0:2::/64");
    /* carrying across bytes: the 256th /64 */
    struct net_pool6 small = {.base = P6("fd00:9::/56"), .size = 64};
    struct net_prefix6 most = P6("fd00:9::/57");
    assert_int_equal(net_ipam6_pick_subnet(&small, 1, &most, 1, &out), 0);
    assert_string_equal(fmt(&out, buf), "fd00:9:0:80::/64");
    /* a full pool */
    struct net_prefix6 all = P6("fd00:9::/56");
    assert_int_equal(net_ipam6_pick_subnet(&small, 1, &all, 1, &out), -ENOSPC);
}

static void
test_pick_addr(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN];
    struct net_prefix6 sub = P6("fd00:b37::/64");
    struct in6_addr gw, out, used[2];
    net_addr6_parse("fd00:b37::1", &gw);
    assert_int_equal(net_ipam6_pick_addr(&sub, &gw, NULL, 0, &out), 0);
    assert_string_equal(net_addr6_fmt(&out, buf), "fd00:b37::2");
    net_addr6_parse("fd00:b37::2", &used[0]);
    net_addr6_parse("fd00:b37::3", &used[1]);
    assert_int_equal(net_ipam6_pick_addr(&sub, &gw, used, 2, &out), 0);
    assert_string_equal(net_addr6_fmt(&out, buf), "fd00:b37::4");
    /* a /126 has three host addresses besides the anycast one */
    struct net_prefix6 tiny = P6("fd00::/126");
    net_addr6_parse("fd00::1", &gw);
    net_addr6_parse("fd00::2", &used[0]);
    net_addr6_parse("fd00::3", &used[1]);
    assert_int_equal(net_ipam6_pick_addr(&tiny, &gw, used, 2, &out), -ENOSPC);
}

static char *
write_tmp(const char *content)
{
    char *path = xstrdup("/tmp/berth-net6-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void
test_config(void **state)
{
    (void)state;
    char buf[INET6_ADDRSTRLEN + 4];
    struct net_pool6 *pools = NULL;
    size_t n;
    struct bt_err *err = NULL;
    assert_int_equal(net_config_load_pools6("/nonexistent/berth.json", &pools, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(fmt(&pools[0].base, buf), "fd00:b37::/48");
    free(pools);

    /* IPv4 and IPv6 pools side by side: each loader takes its own */
    char *path = write_tmp("{\"default-address-pools\":[{\"base\":\"10.200.0.0/16\",\"size\":24},"
                           "{\"base\":\"fd42:1::/48\",\"size\":64}]}");
    assert_int_equal(net_config_load_pools6(path, &pools, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(fmt(&pools[0].base, buf), "fd42:1::/48");
    assert_int_equal(pools[0].size, 64);
    free(pools);
    struct net_pool *p4 = NULL;
    struct net_prefix bip;
    bool has_bip;
    unsigned mtu;
    assert_int_equal(net_config_load(path, &p4, &n, &bip, &has_bip, &mtu, NULL, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p4[0].size, 24);
    free(p4);
    unlink(path);
    free(path);

    /* only IPv6 pools: IPv4 keeps Docker's defaults */
    path = write_tmp("{\"default-address-pools\":[{\"base\":\"fd42:1::/48\",\"size\":64}]}");
    assert_int_equal(net_config_load(path, &p4, &n, &bip, &has_bip, &mtu, NULL, &err), 0);
    assert_int_equal(n, 16);
    free(p4);
    unlink(path);
    free(path);

    path = write_tmp("{\"default-address-pools\":[{\"base\":\"fd42:1::/48\",\"size\":40}]}");
    assert_int_equal(net_config_load_pools6(path, &pools, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "default-address-pools[0]"));
    err = bt_err_free(err);
    assert_null(pools);
    unlink(path);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fmt),   cmocka_unit_test(test_overlap_contains_mask),
        cmocka_unit_test(test_pick_subnet), cmocka_unit_test(test_pick_addr),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

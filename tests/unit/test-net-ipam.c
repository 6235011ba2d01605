/* net: IPv4 prefixes, subnet and address selection, berth.json pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/net-internal.h"

static struct net_prefix
P(const char *s) {
    struct net_prefix p;
    assert_true(net_prefix_parse(s, false, &p));
    return p;
}

static uint32_t
A(const char *s)
{
    uint32_t a;
    assert_true(net_addr_parse(s, &a));
    return a;
}

static void
test_prefix_parse_fmt(void **state)
{
    struct net_prefix p;
    char buf[20];
    assert_true(net_prefix_parse("10.1.2.0/24", false, &p));
    assert_string_equal(net_prefix_fmt(&p, buf), "10.1.2.0/24");
    assert_false(net_prefix_parse("10.1.2.0", false, &p));
    assert_true(net_prefix_parse("10.1.2.3", true, &p));
    assert_int_equal(p.len, 32);
    assert_false(net_prefix_parse("10.1.2.0/33", false, &p));
    assert_false(net_prefix_parse("10.1.2/24", false, &p));
    assert_false(net_prefix_parse("10.1.2.0/x", false, &p));
    assert_false(net_prefix_parse("fd00::/64", false, &p));
    assert_string_equal(net_addr_fmt(A("255.255.255.255"), buf), "255.255.255.255");
    assert_int_equal(net_prefix_mask(0), 0);
    assert_int_equal(net_prefix_mask(32), 0xffffffffu);
    assert_int_equal(net_prefix_mask(20), 0xfffff000u);
}

static void
test_overlap_contains(void **state)
{
    struct net_prefix a = P("10.0.0.0/16"), b = P("10.0.5.0/24"), c = P("10.1.0.0/16");
    assert_true(net_prefix_overlaps(&a, &b));
    assert_true(net_prefix_overlaps(&b, &a));
    assert_false(net_prefix_overlaps(&a, &c));
    assert_true(net_prefix_contains(&a, A("10.0.255.255")));
    assert_false(net_prefix_contains(&a, A("10.1.0.0")));
}

static void
test_pick_subnet(void **state)
{
    struct net_pool pools[16];
    size_t n = net_ipam_default_pools(pools, 16);
    assert_int_equal(n, 16);
    struct net_prefix out;
    char buf[20];
    /* empty host: the first pool */
    assert_int_equal(net_ipam_pick_subnet(pools, n, NULL, 0, &out), 0);
    assert_string_equal(net_prefix_fmt(&out, buf), "172.17.0.0/16");
    /* a host route inside 172.17 and an existing network on 172.18 */
    struct net_prefix used[] = {P("172.17.3.0/24"), P("172.18.0.0/16")};
    assert_int_equal(net_ipam_pick_subnet(pools, n, used, 2, &out), 0);
    assert_string_equal(net_prefix_fmt(&out, buf), "172.19.0.0/16");
    /* a wide route covering every 172.16/12 pool: 192.168 in /20s */
    struct net_prefix wide[] = {P("172.16.0.0/12"), P("192.168.0.0/20")};
    assert_int_equal(net_ipam_pick_subnet(pools, n, wide, 2, &out), 0);
    assert_string_equal(net_prefix_fmt(&out, buf), "192.168.16.0/20");
    /* everything taken */
    struct net_prefix all[] = {P("0.0.0.0/1"), P("128.0.0.0/1")};
    assert_int_equal(net_ipam_pick_subnet(pools, n, all, 2, &out), -ENOSPC);
    /* a small custom pool of /24s is exhausted after 4 */
    struct net_pool small = {.base = P("10.10.0.0/22"), .size = 24};
    struct net_prefix got[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(net_ipam_pick_subnet(&small, 1, got, (size_t)i, &got[i]), 0);
        assert_int_equal(got[i].addr, A("10.10.0.0") + ((uint32_t)i << 8));
    }
    assert_int_equal(net_ipam_pick_subnet(&small, 1, got, 4, &out), -ENOSPC);
}

static void
test_pick_addr(void **state)
{
    struct net_prefix sub = P("10.0.0.0/29");
    uint32_t out;
    /* .0 network, .1 gateway, .7 broadcast are never handed out */
    assert_int_equal(net_ipam_pick_addr(&sub, &sub, A("10.0.0.1"), NULL, 0, &out), 0);
    assert_int_equal(out, A("10.0.0.2"));
    uint32_t used[] = {A("10.0.0.2"), A("10.0.0.3"), A("10.0.0.5")};
    assert_int_equal(net_ipam_pick_addr(&sub, &sub, A("10.0.0.1"), used, 3, &out), 0);
    assert_int_equal(out, A("10.0.0.4"));
    uint32_t full[] = {A("10.0.0.2"), A("10.0.0.3"), A("10.0.0.4"), A("10.0.0.5"), A("10.0.0.6")};
    assert_int_equal(net_ipam_pick_addr(&sub, &sub, A("10.0.0.1"), full, 5, &out), -ENOSPC);
    /* a released address is handed out again */
    assert_int_equal(net_ipam_pick_addr(&sub, &sub, A("10.0.0.1"), full + 1, 4, &out), 0);
    assert_int_equal(out, A("10.0.0.2"));
    /* ip_range restricts; the gateway elsewhere */
    struct net_prefix big = P("10.1.0.0/16"), range = P("10.1.5.0/24");
    assert_int_equal(net_ipam_pick_addr(&big, &range, A("10.1.0.1"), NULL, 0, &out), 0);
    assert_int_equal(out, A("10.1.5.0"));
    /* the range's first address is the subnet's network address: skipped */
    struct net_prefix r0 = P("10.1.0.0/24");
    assert_int_equal(net_ipam_pick_addr(&big, &r0, A("10.1.0.1"), NULL, 0, &out), 0);
    assert_int_equal(out, A("10.1.0.2"));
}

static char *
write_tmp(const char *content)
{
    char *path = xstrdup("/tmp/berth-net-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void
test_config(void **state)
{
    struct net_pool *pools = NULL;
    size_t n;
    struct net_prefix bip;
    bool has_bip;
    unsigned mtu;
    char **dns = NULL;
    struct bt_err *err = NULL;
    /* missing file: defaults */
    assert_int_equal(
        net_config_load("/nonexistent/berth.json", &pools, &n, &bip, &has_bip, &mtu, &dns, &err),
        0);
    assert_int_equal(n, 16);
    assert_false(has_bip);
    free(pools);

    char *path = write_tmp("{\"default-address-pools\":[{\"base\":\"10.200.0.0/16\",\"size\":24}],"
                           "\"bip\":\"10.200.0.1/24\",\"mtu\":1400,\"dns\":[\"10.0.0.53\"]}");
    assert_int_equal(net_config_load(path, &pools, &n, &bip, &has_bip, &mtu, &dns, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pools[0].size, 24);
    assert_true(has_bip);
    assert_int_equal(mtu, 1400);
    assert_string_equal(dns[0], "10.0.0.53");
    /* bip keeps its subnet out of the allocation */
    struct net_prefix out;
    struct net_prefix used[] = {bip};
    assert_int_equal(net_ipam_pick_subnet(pools, n, used, 1, &out), 0);
    assert_int_equal(out.addr, A("10.200.1.0"));
    free(pools);
    dns = bt_strv_free(dns);
    unlink(path);
    free(path);

    path = write_tmp("{\"default-address-pools\":[{\"base\":\"10.200.0.0/16\",\"size\":8}]}");
    assert_int_equal(net_config_load(path, &pools, &n, &bip, &has_bip, &mtu, &dns, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "default-address-pools[0]"));
    err = bt_err_free(err);
    unlink(path);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_parse_fmt), cmocka_unit_test(test_overlap_contains),
        cmocka_unit_test(test_pick_subnet),      cmocka_unit_test(test_pick_addr),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

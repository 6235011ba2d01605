/* net: planning an endpoint (interface name, address, default route) from
 * the networks' state, without touching the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/net-internal.h"

static struct net_network *
network(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    if (!j)
        fail_msg("bad fixture: %s", je.text);
    struct bt_err *err = NULL;
    struct net_network *nw = net_network_from_json(j, &err);
    assert_non_null(nw);
    json_decref(j);
    return nw;
}

struct fixture {
    struct net_network *v[3];
};

static int
setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    /* front: web on eth0 with the default route; db's netns 7 is on it too */
    f->v[0] =
        network("{\"id\":\"f1\",\"name\":\"front\",\"bridge\":\"br-f1\",\"subnet\":\"10.0.0.0/29\","
                "\"gateway\":\"10.0.0.1\",\"ip_range\":\"10.0.0.0/29\",\"endpoints\":{"
                "\"web\":{\"name\":\"demo-web-1\",\"ipv4\":\"10.0.0.2/29\",\"ifname\":\"eth0\","
                "\"netns\":\"/run/berth/netns/web\",\"netns_ino\":5,\"default_route\":true},"
                "\"db\":{\"name\":\"demo-db-1\",\"ipv4\":\"10.0.0.3/29\",\"ifname\":\"eth0\","
                "\"netns\":\"/run/berth/netns/db\",\"netns_ino\":7,\"default_route\":true}}}");
    /* back: internal, nobody yet */
    f->v[1] =
        network("{\"id\":\"b2\",\"name\":\"back\",\"bridge\":\"br-b2\",\"subnet\":\"10.1.0.0/24\","
                "\"gateway\":\"10.1.0.1\",\"ip_range\":\"10.1.0.128/25\",\"internal\":true,"
                "\"endpoints\":{}}");
    /* other: normal, nobody yet */
    f->v[2] =
        network("{\"id\":\"o3\",\"name\":\"other\",\"bridge\":\"br-o3\",\"subnet\":\"10.2.0.0/24\","
                "\"gateway\":\"10.2.0.254\",\"ip_range\":\"10.2.0.0/24\",\"endpoints\":{}}");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(f->v); i++)
        net_network_free(f->v[i]);
    free(f);
    return 0;
}

static void
test_first_network(void **state)
{
    struct fixture *f = *state;
    struct net_endpoint_opts o = {.container_id = "new", .netns = "/run/berth/netns/new"};
    struct net_endpoint_plan p;
    struct bt_err *err = NULL;
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 9, 0, &p, &err), 0);
    assert_string_equal(p.ifname, "eth0");
    assert_true(p.default_route);
    char a[20];
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.0.0.4");
}

static void
test_second_network(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct net_endpoint_plan p;
    char a[20];
    /* web joins back: eth1, no default route (internal, and eth0 has it) */
    struct net_endpoint_opts o = {.container_id = "web", .netns = "/run/berth/netns/web"};
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[1], &o, 5, 0, &p, &err), 0);
    assert_string_equal(p.ifname, "eth1");
    assert_false(p.default_route);
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.1.0.128"); /* from ip_range */
    /* web joins other: eth1 too (back was only planned), no second default */
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[2], &o, 5, 0, &p, &err), 0);
    assert_string_equal(p.ifname, "eth1");
    assert_false(p.default_route);
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.2.0.1"); /* gateway is .254 */
}

static void
test_vanished_namespace(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct net_endpoint_plan p;
    /* db's namespace was re-created (another inode): its old eth0 on front
     * does not count, so on other it gets eth0 and the default route */
    struct net_endpoint_opts o = {.container_id = "db", .netns = "/run/berth/netns/db"};
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[2], &o, 8, 0, &p, &err), 0);
    assert_string_equal(p.ifname, "eth0");
    assert_true(p.default_route);
}

static void
test_previous_address(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct net_endpoint_plan p;
    char a[20];
    uint32_t prev;
    struct net_endpoint_opts o = {.container_id = "back", .netns = "/x"};
    /* back again after a reboot: its old .5 is free, so it gets it */
    assert_true(net_addr_parse("10.0.0.5", &prev));
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 1, prev, &p, &err), 0);
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.0.0.5");
    /* taken meanwhile by db: the lowest free one instead */
    assert_true(net_addr_parse("10.0.0.3", &prev));
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 1, prev, &p, &err), 0);
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.0.0.4");
    assert_null(err);
}

static void
test_static_addresses(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct net_endpoint_plan p;
    struct net_endpoint_opts o = {.container_id = "new", .netns = "/run/berth/netns/new"};
    char a[20];
    o.ipv4_address = "10.0.0.6";
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 9, 0, &p, &err), 0);
    assert_string_equal(net_addr_fmt(p.ipv4, a), "10.0.0.6");
    const struct {
        const char *addr;
        int code;
        const char *msg;
    } bad[] = {
        {"10.0.0.3", EADDRINUSE, "address 10.0.0.3 is already in use by demo-db-1"},
        {"10.0.0.1", EADDRINUSE, "address 10.0.0.1 is the gateway of network front"},
        {"10.0.0.7", EINVAL, "not a host address of subnet 10.0.0.0/29"}, /* broadcast */
        {"10.0.0.0", EINVAL, "not a host address"},
        {"10.9.0.2", EINVAL, "not a host address"},
        {"10.0.0", EINVAL, "invalid IPv4 address '10.0.0'"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        o.ipv4_address = bad[i].addr;
        assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 9, 0, &p, &err), -bad[i].code);
        if (!strstr(err->msg, bad[i].msg))
            fail_msg("%s: '%s'", bad[i].addr, err->msg);
        err = bt_err_free(err);
    }
}

static void
test_full_and_attached(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct net_endpoint_plan p;
    /* front is a /29: .4 .5 .6 are left */
    const char *ids[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        struct net_endpoint_opts o = {.container_id = ids[i], .netns = "/x"};
        assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 1, 0, &p, &err), 0);
        char a[20], cidr[24];
        snprintf(cidr, sizeof(cidr), "%s/29", net_addr_fmt(p.ipv4, a));
        json_object_set_new(f->v[0]->endpoints, ids[i], json_pack("{s:s}", "ipv4", cidr));
    }
    struct net_endpoint_opts o = {.container_id = "d", .netns = "/x"};
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &o, 1, 0, &p, &err), -ENOSPC);
    assert_non_null(strstr(err->msg, "no free address left in 10.0.0.0/29 of network front"));
    err = bt_err_free(err);
    struct net_endpoint_opts again = {.container_id = "web", .container_name = "demo-web-1"};
    assert_int_equal(net_endpoint_plan(f->v, 3, f->v[0], &again, 5, 0, &p, &err), -EEXIST);
    assert_non_null(strstr(err->msg, "demo-web-1 is already attached to network front"));
    err = bt_err_free(err);
}

/* libnl's codes from netlink/errno.h (stable: they are its ABI); the
 * header is private to the net library. */
enum {
    NLE_FAILURE = 1,
    NLE_EXIST = 6,
    NLE_OBJ_NOTFOUND = 12,
    NLE_NOADDR = 19,
    NLE_PERM = 28,
    NLE_NODEV = 31,
};

static void
test_netlink_errors(void **state)
{
    /* One adapter: NLE_* to errno, keeping libnl's own text. */
    struct bt_err *err = NULL;
    assert_int_equal(net_nl_err(&err, -NLE_EXIST, "create bridge '%s'", "br0"), -EEXIST);
    assert_string_equal(err->msg, "create bridge 'br0': Object exists");
    err = bt_err_free(err);
    assert_int_equal(net_nl_err(&err, -NLE_NODEV, "link 'x'"), -ENODEV);
    err = bt_err_free(err);
    assert_int_equal(net_nl_err(&err, -NLE_PERM, "x"), -EPERM);
    err = bt_err_free(err);
    assert_int_equal(net_nl_err(&err, -NLE_OBJ_NOTFOUND, "x"), -ENOENT);
    err = bt_err_free(err);
    assert_int_equal(net_nl_err(&err, -NLE_NOADDR, "x"), -EADDRNOTAVAIL);
    err = bt_err_free(err);
    assert_int_equal(net_nl_err(&err, -NLE_FAILURE, "x"), -EIO);
    err = bt_err_free(err);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_and_attached, setup, teardown),
        cmocka_unit_test(test_netlink_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* net: published ports' map elements as the kernel stores them — the key
 * and value bytes nft itself would send for each of the four maps. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/net-internal.h"

static void
test_any_v4(void **state)
{
    (void)state;
    struct net_port_binding b = {.host_port = 8080, .container_port = 80, .proto = NET_PROTO_TCP};
    assert_true(net_addr_parse("172.17.0.2", &b.container_ip));
    struct net_nft_elem e;
    assert_int_equal(net_nft_port_elem(&b, &e, NULL), 0);
    assert_int_equal(e.map, 1);
    /* inet_proto . inet_service, each in a 32-bit register */
    static const uint8_t key[] = {6, 0, 0, 0, 0x1f, 0x90, 0, 0};
    assert_int_equal(e.key_len, sizeof(key));
    assert_memory_equal(e.key, key, sizeof(key));
    /* ipv4_addr . inet_service */
    static const uint8_t data[] = {172, 17, 0, 2, 0, 80, 0, 0};
    assert_int_equal(e.data_len, sizeof(data));
    assert_memory_equal(e.data, data, sizeof(data));
}

static void
test_addr_v4_udp(void **state)
{
    (void)state;
    struct net_port_binding b = {
        .host_ip = "127.0.0.1", .host_port = 53, .container_port = 5353, .proto = NET_PROTO_UDP};
    assert_true(net_addr_parse("10.1.2.3", &b.container_ip));
    struct net_nft_elem e;
    assert_int_equal(net_nft_port_elem(&b, &e, NULL), 0);
    assert_int_equal(e.map, 0);
    static const uint8_t key[] = {127, 0, 0, 1, 17, 0, 0, 0, 0, 53, 0, 0};
    assert_int_equal(e.key_len, sizeof(key));
    assert_memory_equal(e.key, key, sizeof(key));
    static const uint8_t data[] = {10, 1, 2, 3, 0x14, 0xe9, 0, 0};
    assert_int_equal(e.data_len, sizeof(data));
    assert_memory_equal(e.data, data, sizeof(data));
}

static void
test_v6(void **state)
{
    (void)state;
    struct net_port_binding b = {
        .host_ip = "::", .host_port = 443, .container_port = 8443, .proto = NET_PROTO_TCP};
    assert_int_equal(inet_pton(AF_INET6, "fd00:b37::2", &b.container_ip6), 1);
    struct net_nft_elem e;
    assert_int_equal(net_nft_port_elem(&b, &e, NULL), 0);
    assert_int_equal(e.map, 3);
    static const uint8_t key[] = {6, 0, 0, 0, 0x01, 0xbb, 0, 0};
    assert_int_equal(e.key_len, sizeof(key));
    assert_memory_equal(e.key, key, sizeof(key));
    assert_int_equal(e.data_len, 20);
    assert_memory_equal(e.data, &b.container_ip6, 16);
    static const uint8_t port[] = {0x20, 0xfb, 0, 0};
    assert_memory_equal(e.data + 16, port, sizeof(port));

    strcpy(b.host_ip, "2001:db8::1");
    assert_int_equal(net_nft_port_elem(&b, &e, NULL), 0);
    assert_int_equal(e.map, 2);
    assert_int_equal(e.key_len, 24);
    struct in6_addr host;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &host), 1);
    assert_memory_equal(e.key, &host, 16);
    assert_memory_equal(e.key + 16, key, sizeof(key));
}

static void
test_bad_host(void **state)
{
    (void)state;
    struct net_port_binding b = {
        .host_ip = "300.1.1.1", .host_port = 1, .container_port = 1, .proto = NET_PROTO_TCP};
    struct net_nft_elem e;
    struct bt_err *err = NULL;
    assert_int_equal(net_nft_port_elem(&b, &e, &err), -EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "300.1.1.1"));
    bt_err_free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_v4),
        cmocka_unit_test(test_addr_v4_udp),
        cmocka_unit_test(test_v6),
        cmocka_unit_test(test_bad_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* net: published ports a container's monitor holds — the [::1] binding
 * helpers and net_ports_hold() over a registry in a temporary run root,
 * on 127.0.0.1 (and ::1 when the host has it). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net-internal.h"

static void
test_proxied_binding(void **state)
{
    (void)state;
    struct net_port_binding b = {
        .host_ip = "::1", .host_port = 8080, .container_port = 80, .proto = NET_PROTO_TCP};
    char buf[80];
    assert_true(net_port_binding_is_proxied(&b));
    assert_true(net_port_binding_is_v6(&b));
    assert_string_equal(net_port_binding_fmt(&b, buf, sizeof(buf)), "[::1]:8080->80/tcp");
    /* a container without IPv6: the proxy goes to its IPv4 address */
    assert_true(net_addr_parse("10.0.0.2", &b.container_ip));
    assert_string_equal(net_port_binding_target(&b, buf), "10.0.0.2");
    assert_true(net_addr6_parse("fd00::2", &b.container_ip6));
    assert_string_equal(net_port_binding_target(&b, buf), "fd00::2");

    struct net_port_binding any6 = {.host_ip = "::", .proto = NET_PROTO_UDP};
    assert_false(net_port_binding_is_proxied(&any6));
    struct net_port_binding v4 = {.host_ip = "127.0.0.1"};
    assert_false(net_port_binding_is_proxied(&v4));
    assert_true(net_addr_parse("10.0.0.3", &v4.container_ip));
    assert_string_equal(net_port_binding_target(&v4, buf), "10.0.0.3");
}

/* ---- net_ports_hold ---- */

struct fixture {
    char dir[64];
    struct net_ctx *ctx;
};

static int
setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-unit-ports.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    _cleanup_free_ char *root = xasprintf("%s/root", f->dir);
    _cleanup_free_ char *run = xasprintf("%s/run", f->dir);
    _cleanup_free_ char *netdir = xasprintf("%s/run/net", f->dir);
    assert_int_equal(bt_mkdir_p(netdir, 0755, NULL), 0);
    assert_int_equal(bt_mkdir_p(root, 0755, NULL), 0);
    f->ctx = net_ctx_new_at(root, run, NULL, NULL);
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    net_ctx_free(f->ctx);
    bt_rm_rf(f->dir, NULL);
    free(f);
    return 0;
}

/* A port free right now on ip (v6 or not) for type, or 0. */
static uint16_t
free_port(int family, const char *ip, int type)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a->sin_addr);
        len = sizeof(*a);
    }
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

/* Binds 127.0.0.1:port without SO_REUSEADDR: 0 or -errno. */
static int
try_bind4(uint16_t port, int type, int *keep)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
    if (r == 0 && keep)
        *keep = fd;
    else
        close(fd);
    return r;
}

static void
write_registry(struct fixture *f, json_t *reg)
{
    _cleanup_free_ char *path = xasprintf("%s/run/net/ports.json", f->dir);
    assert_int_equal(bt_json_write_atomic(path, reg, NULL), 0);
}

static json_t *
entry(const char *cid, const char *ip, uint16_t port, const char *proto, const char *cip)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "container_id", cid, "container_name",
                     "demo-web-1", "host_ip", ip, "host_port", (json_int_t)port, "container_port",
                     (json_int_t)80, "proto", proto, "container_ip", cip);
}

static void
test_hold(void **state)
{
    struct fixture *f = *state;
    uint16_t tcp = free_port(AF_INET, "127.0.0.1", SOCK_STREAM);
    uint16_t udp = free_port(AF_INET, "127.0.0.1", SOCK_DGRAM);
    uint16_t other = free_port(AF_INET, "127.0.0.1", SOCK_STREAM);
    uint16_t lo6 = free_port(AF_INET6, "::1", SOCK_STREAM); /* 0: the host has no ::1 */
    assert_true(tcp && udp && other);
    _cleanup_json_ json_t *reg = json_array();
    json_array_append_new(reg, entry("c1", "127.0.0.1", tcp, "tcp", "10.0.0.2"));
    json_array_append_new(reg, entry("c1", "127.0.0.1", udp, "udp", "10.0.0.2"));
    json_array_append_new(reg, entry("c2", "127.0.0.1", other, "tcp", "10.0.0.3"));
    if (lo6)
        json_array_append_new(reg, entry("c1", "::1", lo6, "tcp", "10.0.0.2"));
    write_registry(f, reg);

    struct net_port_set *set = NULL;
    struct bt_err *err = NULL;
    assert_int_equal(net_ports_hold(f->ctx, "c1", &set, &err), 0);
    assert_null(err);
    assert_int_equal(set->n, lo6 ? 3 : 2);
    size_t n;
    const int *fds = net_port_set_fds(set, &n);
    for (size_t i = 0; i < n; i++)
        assert_true(fds[i] >= 0);
    /* held: nobody else binds them; c2's port is not ours */
    assert_int_equal(try_bind4(tcp, SOCK_STREAM, NULL), -EADDRINUSE);
    assert_int_equal(try_bind4(udp, SOCK_DGRAM, NULL), -EADDRINUSE);
    assert_int_equal(try_bind4(other, SOCK_STREAM, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        int listening = -1;
        socklen_t len = sizeof(listening);
        assert_int_equal(getsockopt(fds[i], SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
        /* only the proxied [::1] TCP socket listens: the others must not
         * take connections meant for the container */
        assert_int_equal(listening, net_port_binding_is_proxied(&set->bindings[i]) ? 1 : 0);
        if (net_port_binding_is_proxied(&set->bindings[i])) {
            char buf[INET6_ADDRSTRLEN];
            assert_string_equal(net_port_binding_target(&set->bindings[i], buf), "10.0.0.2");
        }
    }
    /* up recreating c1 while its monitor holds the ports: they count as
     * c1's own; for another container they are taken, by name */
    struct net_port_spec spec = {.host_ip = "127.0.0.1",
                                 .host_port = tcp,
                                 .host_port_end = tcp,
                                 .container_port = 80,
                                 .container_port_end = 80,
                                 .proto = NET_PROTO_TCP};
    assert_int_equal(net_ports_check(f->ctx, "c1", "demo-web-1", &spec, 1, &err), 0);
    assert_null(err);
    assert_int_equal(net_ports_check(f->ctx, "c9", "demo-web-2", &spec, 1, &err), -EADDRINUSE);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "already allocated by container demo-web-1"));
    err = bt_err_free(err);
    set = net_port_set_free(set);
    assert_int_equal(try_bind4(tcp, SOCK_STREAM, NULL), 0);

    /* another process took a port meanwhile: the error names it */
    int squat = -1;
    assert_int_equal(try_bind4(udp, SOCK_DGRAM, &squat), 0);
    assert_int_equal(net_ports_hold(f->ctx, "c1", &set, &err), -EADDRINUSE);
    assert_null(set);
    _cleanup_free_ char *want = xasprintf(
        "Bind for 127.0.0.1:%u/udp failed: port is already in use by another process", udp);
    assert_non_null(err);
    assert_string_equal(err->msg, want);
    err = bt_err_free(err);
    close(squat);
    /* and nothing it bound before failing stays held */
    assert_int_equal(try_bind4(tcp, SOCK_STREAM, NULL), 0);

    /* a container with no ports gets an empty set */
    assert_int_equal(net_ports_hold(f->ctx, "c3", &set, &err), 0);
    assert_int_equal(set->n, 0);
    net_port_set_free(set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxied_binding),
        cmocka_unit_test_setup_teardown(test_hold, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine: the monitor's userland port proxy, on a private loop over
 * 127.0.0.1: argument parsing, TCP with large transfers, backpressure and
 * half-close, a refused upstream, UDP flows per client. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/common.h"
#include "engine/proxy-internal.h"

/* ---- parsing ---- */

static void
test_spec_parse(void **state)
{
    (void)state;
    struct engine_proxy_spec s;
    struct bt_err *err = NULL;
    assert_int_equal(engine_proxy_spec_parse("7,tcp,10.0.0.2,80", &s, &err), 0);
    assert_int_equal(s.fd, 7);
    assert_false(s.udp);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&s.target;
    assert_int_equal(in->sin_family, AF_INET);
    assert_int_equal(ntohs(in->sin_port), 80);
    assert_int_equal(ntohl(in->sin_addr.s_addr), 0x0a000002);

    assert_int_equal(engine_proxy_spec_parse("12,udp,fd00::3,5353", &s, &err), 0);
    assert_int_equal(s.fd, 12);
    assert_true(s.udp);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&s.target;
    assert_int_equal(in6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(in6->sin6_port), 5353);
    assert_null(err);

    static const char *const bad[][2] = {
        {"7,tcp,10.0.0.2", "expected FD,PROTO,ADDR,PORT"},
        {"7,tcp,10.0.0.2,80,1", "expected FD,PROTO,ADDR,PORT"},
        {"x,tcp,10.0.0.2,80", "bad fd"},
        {"-1,tcp,10.0.0.2,80", "bad fd"},
        {"7,sctp,10.0.0.2,80", "protocol must be tcp or udp"},
        {"7,tcp,10.0.0.2,0", "bad port"},
        {"7,tcp,10.0.0.2,65536", "bad port"},
        {"7,tcp,[::1],80", "bad address"},
        {"7,tcp,web,80", "bad address"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        assert_true(engine_proxy_spec_parse(bad[i][0], &s, &err) < 0);
        assert_non_null(err);
        if (!strstr(err->msg, bad[i][1]))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], err->msg, bad[i][1]);
        err = bt_err_free(err);
    }
}

/* ---- helpers ---- */

static struct sockaddr_in
loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static uint16_t
port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* A socket bound to 127.0.0.1 on a port the kernel picks, as the CLI hands
 * the monitor: listening for TCP. */
static int
held_socket(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = loopback(0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

/* ---- the "container": echo servers on the loop ---- */

struct echo_conn {
    uv_tcp_t h;
    uv_shutdown_t shut;
    struct echo_conn *next;
    bool closing;
};

struct world {
    uv_loop_t loop;
    uv_tcp_t echo;
    uv_udp_t uecho;
    char ubuf[2048];
    struct echo_conn *conns;
    uv_async_t done;
    struct engine_proxy *proxy;
    /* the client thread's findings */
    uint16_t proxy_port;
    size_t size;
    bool slow_reader;
    char result[200];
};

static void
on_conn_closed(uv_handle_t *h)
{
    struct echo_conn *c = h->data;
    c->closing = true; /* freed at the end of the test */
}

static void
on_echo_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = xmalloc(suggested);
    buf->len = suggested;
}

static void
on_echo_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

static void
on_echo_shut(uv_shutdown_t *req, int status)
{
    (void)status;
    struct echo_conn *c = req->data;
    if (!uv_is_closing((uv_handle_t *)&c->h))
        uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void
on_echo_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct echo_conn *c = st->data;
    if (n > 0) {
        uv_write_t *w = xmalloc(sizeof(*w));
        w->data = buf->base;
        uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
        assert_int_equal(uv_write(w, st, &b, 1, on_echo_written), 0);
        return;
    }
    free(buf->base);
    if (n == UV_EOF) {
        c->shut.data = c;
        assert_int_equal(uv_shutdown(&c->shut, st, on_echo_shut), 0);
    } else if (n < 0 && !uv_is_closing((uv_handle_t *)st)) {
        uv_close((uv_handle_t *)st, on_conn_closed);
    }
}

static void
on_echo_connection(uv_stream_t *server, int status)
{
    assert_int_equal(status, 0);
    struct world *w = server->data;
    struct echo_conn *c = xcalloc(1, sizeof(*c));
    c->next = w->conns;
    w->conns = c;
    uv_tcp_init(&w->loop, &c->h);
    c->h.data = c;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->h), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->h, on_echo_alloc, on_echo_read), 0);
}

static void
on_uecho_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct world *w = h->data;
    buf->base = w->ubuf;
    buf->len = sizeof(w->ubuf);
}

static void
on_uecho_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
              unsigned flags)
{
    (void)flags;
    if (n <= 0 || !from)
        return;
    char out[2100];
    /* the source port tells the client which flow carried it */
    int len = snprintf(out, sizeof(out), "echo:%.*s:%u", (int)n, buf->base,
                       ntohs(((const struct sockaddr_in *)from)->sin_port));
    uv_buf_t b = uv_buf_init(out, (unsigned)len);
    assert_true(uv_udp_try_send(h, &b, 1, from) == len);
}

static void
on_noop_closed(uv_handle_t *h)
{
    (void)h;
}

static void
on_done(uv_async_t *a)
{
    struct world *w = a->data;
    engine_proxy_close(w->proxy);
    w->proxy = NULL;
    for (struct echo_conn *c = w->conns; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->h))
            uv_close((uv_handle_t *)&c->h, on_conn_closed);
    uv_close((uv_handle_t *)&w->echo, on_noop_closed);
    uv_close((uv_handle_t *)&w->uecho, on_noop_closed);
    uv_close((uv_handle_t *)&w->done, on_noop_closed);
}

/* Starts the echo servers; returns the TCP echo port and the UDP one. */
static void
world_init(struct world *w, uint16_t *tcp_port, uint16_t *udp_port)
{
    assert_int_equal(uv_loop_init(&w->loop), 0);
    uv_tcp_init(&w->loop, &w->echo);
    w->echo.data = w;
    struct sockaddr_in a = loopback(0);
    assert_int_equal(uv_tcp_bind(&w->echo, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&w->echo, 16, on_echo_connection), 0);
    uv_os_fd_t fd;
    uv_fileno((uv_handle_t *)&w->echo, &fd);
    *tcp_port = port_of(fd);
    uv_udp_init(&w->loop, &w->uecho);
    w->uecho.data = w;
    assert_int_equal(uv_udp_bind(&w->uecho, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_recv_start(&w->uecho, on_uecho_alloc, on_uecho_recv), 0);
    uv_fileno((uv_handle_t *)&w->uecho, &fd);
    *udp_port = port_of(fd);
    uv_async_init(&w->loop, &w->done, on_done);
    w->done.data = w;
}

static void
world_run(struct world *w, void *(*client)(void *))
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client, w), 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    while (w->conns) {
        struct echo_conn *c = w->conns;
        w->conns = c->next;
        assert_true(c->closing);
        free(c);
    }
}

static void
start_proxy(struct world *w, int fd, bool udp, uint16_t target_port)
{
    struct engine_proxy_spec spec = {.fd = fd, .udp = udp, .udp_idle_ms = 300};
    struct sockaddr_in t = loopback(target_port);
    memcpy(&spec.target, &t, sizeof(t));
    struct bt_err *err = NULL;
    assert_int_equal(engine_proxy_start(&w->loop, &spec, 1, &w->proxy, &err), 0);
    assert_null(err);
}

/* ---- TCP ---- */

struct sender {
    int fd;
    const unsigned char *data;
    size_t size;
};

static void *
send_all(void *arg)
{
    struct sender *s = arg;
    size_t off = 0;
    while (off < s->size) {
        ssize_t n = send(s->fd, s->data + off, s->size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(s->fd, SHUT_WR); /* half-close: we still read the echo */
    return NULL;
}

static void *
tcp_client(void *arg)
{
    struct world *w = arg;
    unsigned char *data = xmalloc(w->size), *got = xmalloc(w->size + 1);
    for (size_t i = 0; i < w->size; i++)
        data[i] = (unsigned char)(rand() & 0xff);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = loopback(w->proxy_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        snprintf(w->result, sizeof(w->result), "connect: %s", strerror(errno));
    } else {
        struct sender s = {fd, data, w->size};
        pthread_t t;
        pthread_create(&t, NULL, send_all, &s);
        if (w->slow_reader) {
            /* let every queue fill: the proxy must stop reading, not buffer */
            struct timespec ts = {0, 300 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        size_t off = 0;
        ssize_t n = 0;
        while (off <= w->size && (n = recv(fd, got + off, w->size + 1 - off, 0)) > 0)
            off += (size_t)n;
        pthread_join(t, NULL);
        if (n < 0)
            snprintf(w->result, sizeof(w->result), "recv after %zu bytes: %s", off,
                     strerror(errno));
        else if (off != w->size || memcmp(got, data, w->size) != 0)
            snprintf(w->result, sizeof(w->result), "sent %zu bytes, got %zu (or other ones)",
                     w->size, off);
        else
            snprintf(w->result, sizeof(w->result), "ok");
    }
    close(fd);
    free(data);
    free(got);
    uv_async_send(&w->done);
    return NULL;
}

static void
tcp_case(size_t size, bool slow)
{
    struct world w = {.size = size, .slow_reader = slow};
    uint16_t tport, uport;
    world_init(&w, &tport, &uport);
    int fd = held_socket(SOCK_STREAM);
    w.proxy_port = port_of(fd);
    start_proxy(&w, fd, false, tport);
    world_run(&w, tcp_client);
    assert_string_equal(w.result, "ok");
}

static void
test_tcp_small(void **state)
{
    (void)state;
    tcp_case(1, false);
}

static void
test_tcp_large_with_backpressure(void **state)
{
    (void)state;
    tcp_case(12 * 1024 * 1024, true);
}

static void *
refused_client(void *arg)
{
    struct world *w = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = loopback(w->proxy_port);
    char c;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        snprintf(w->result, sizeof(w->result), "connect: %s", strerror(errno));
    else {
        ssize_t n = recv(fd, &c, 1, 0);
        /* the proxy closes the client when the container refuses */
        snprintf(w->result, sizeof(w->result), "%s",
                 n == 0 || (n < 0 && errno == ECONNRESET) ? "closed"
                 : n < 0                                  ? strerror(errno)
                                                          : "data");
    }
    close(fd);
    uv_async_send(&w->done);
    return NULL;
}

static void
test_tcp_refused(void **state)
{
    (void)state;
    struct world w = {0};
    uint16_t tport, uport;
    world_init(&w, &tport, &uport);
    int gone = held_socket(SOCK_STREAM);
    uint16_t closed_port = port_of(gone);
    close(gone);
    int fd = held_socket(SOCK_STREAM);
    w.proxy_port = port_of(fd);
    start_proxy(&w, fd, false, closed_port);
    world_run(&w, refused_client);
    assert_string_equal(w.result, "closed");
}

/* ---- UDP ---- */

/* Sends msg from fd through the proxy; returns the echo's upstream port
 * (the flow) or 0, and checks the reply came from the proxy's port. */
static unsigned
udp_ask(struct world *w, int fd, const char *msg)
{
    struct sockaddr_in a = loopback(w->proxy_port);
    char stale[64];
    while (recv(fd, stale, sizeof(stale), MSG_DONTWAIT) >= 0)
        ; /* the late echo of an earlier question */
    for (int tries = 0; tries < 10; tries++) {
        sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a));
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        char r[64];
        ssize_t n = recvfrom(fd, r, sizeof(r) - 1, 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            continue; /* lost or late: ask again */
        r[n] = '\0';
        unsigned port;
        char want[32];
        snprintf(want, sizeof(want), "echo:%s:", msg);
        if (ntohs(from.sin_port) != w->proxy_port || strncmp(r, want, strlen(want)) != 0 ||
            sscanf(r + strlen(want), "%u", &port) != 1)
            return 0; /* anything else, an empty datagram included, is wrong */
        return port;
    }
    return 0;
}

static void *
udp_client(void *arg)
{
    struct world *w = arg;
    int fds[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {0, 200 * 1000};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    unsigned a1 = udp_ask(w, fds[0], "ping0");
    unsigned b1 = udp_ask(w, fds[1], "ping1");
    unsigned a2 = udp_ask(w, fds[0], "again"); /* within the idle time: same flow */
    struct timespec ts = {0, 700 * 1000 * 1000};
    nanosleep(&ts, NULL);
    unsigned a3 = udp_ask(w, fds[0], "later"); /* after it: a new flow */
    char extra[64];
    bool unasked = recv(fds[0], extra, sizeof(extra), 0) >= 0; /* waits 200 ms */
    if (!a1 || !b1 || !a2 || !a3)
        snprintf(w->result, sizeof(w->result), "no or wrong echo: %u %u %u %u", a1, b1, a2, a3);
    else if (a1 == b1)
        snprintf(w->result, sizeof(w->result), "two clients shared one flow");
    else if (a1 != a2)
        snprintf(w->result, sizeof(w->result), "one client got two flows");
    else if (a3 == a1)
        snprintf(w->result, sizeof(w->result), "an idle flow was kept");
    else if (unasked)
        snprintf(w->result, sizeof(w->result), "a datagram nobody asked for");
    else
        snprintf(w->result, sizeof(w->result), "ok");
    close(fds[0]);
    close(fds[1]);
    uv_async_send(&w->done);
    return NULL;
}

static void
test_udp_flows(void **state)
{
    (void)state;
    struct world w = {0};
    uint16_t tport, uport;
    world_init(&w, &tport, &uport);
    int fd = held_socket(SOCK_DGRAM);
    w.proxy_port = port_of(fd);
    start_proxy(&w, fd, true, uport);
    world_run(&w, udp_client);
    assert_string_equal(w.result, "ok");
}

static void
test_start_failure_closes(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* bound nowhere: listen */
    int bad = open("/dev/null", O_RDONLY | O_CLOEXEC);       /* not a socket */
    struct engine_proxy_spec specs[2] = {{.fd = bad}, {.fd = fd}};
    struct sockaddr_in t = loopback(1);
    memcpy(&specs[0].target, &t, sizeof(t));
    memcpy(&specs[1].target, &t, sizeof(t));
    struct engine_proxy *p = NULL;
    struct bt_err *err = NULL;
    assert_true(engine_proxy_start(&loop, specs, 2, &p, &err) < 0);
    assert_null(p);
    assert_non_null(err);
    err = bt_err_free(err);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* both fds were the proxy's to close */
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(fcntl(bad, F_GETFD), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_tcp_small),
        cmocka_unit_test(test_tcp_large_with_backpressure),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_udp_flows),
        cmocka_unit_test(test_start_failure_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

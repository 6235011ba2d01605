/* engine: the userland port proxy of berth-monitor (see proxy-internal.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "engine/proxy-internal.h"

#define READ_SIZE (64 * 1024)

struct listener;

struct engine_proxy {
    uv_loop_t *loop;
    struct listener *listeners;
    size_t n;
    size_t handles; /* open handles; freed when it drops to 0 after close */
    bool closing;
    struct tcp_conn *conns;
    struct udp_flow *flows;
    size_t nflows;
    char udp_buf[READ_SIZE]; /* uv_udp_try_send copies: one buffer serves all */
};

struct listener {
    struct engine_proxy *p;
    union {
        uv_tcp_t tcp;
        uv_udp_t udp;
        uv_handle_t h;
    } u;
    bool udp, open;
    struct sockaddr_storage target;
    uint64_t idle_ms;
};

/* ---- shared ---- */

static void
proxy_maybe_free(struct engine_proxy *p)
{
    if (p->closing && p->handles == 0) {
        free(p->listeners);
        free(p);
    }
}

static void
on_listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    struct engine_proxy *p = l->p;
    p->handles--;
    proxy_maybe_free(p);
}

static const char *
addr_fmt(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(buf, size, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(buf, size, "%s:%u", ip, port);
    }
    return buf;
}

int
engine_proxy_spec_parse(const char *arg, struct engine_proxy_spec *out, struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *s = xstrdup(arg);
    char *fields[4];
    char *save = NULL, *tok = strtok_r(s, ",", &save);
    size_t n = 0;
    for (; tok && n < BT_ARRAY_SIZE(fields); tok = strtok_r(NULL, ",", &save))
        fields[n++] = tok;
    if (n != 4 || tok)
        return bt_err_set(err, EINVAL, "proxy '%s': expected FD,PROTO,ADDR,PORT", arg);
    int64_t fd, port;
    if (!bt_parse_int64(fields[0], &fd) || fd < 0 || fd > INT32_MAX)
        return bt_err_set(err, EINVAL, "proxy '%s': bad fd", arg);
    if (strcmp(fields[1], "tcp") != 0 && strcmp(fields[1], "udp") != 0)
        return bt_err_set(err, EINVAL, "proxy '%s': protocol must be tcp or udp", arg);
    if (!bt_parse_int64(fields[3], &port) || port < 1 || port > 65535)
        return bt_err_set(err, EINVAL, "proxy '%s': bad port", arg);
    out->fd = (int)fd;
    out->udp = strcmp(fields[1], "udp") == 0;
    struct sockaddr_in *in = (struct sockaddr_in *)&out->target;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->target;
    if (inet_pton(AF_INET, fields[2], &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, fields[2], &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    } else {
        return bt_err_set(err, EINVAL, "proxy '%s': bad address '%s'", arg, fields[2]);
    }
    return 0;
}

/* ---- TCP ---- */

struct tcp_side {
    struct tcp_conn *c;
    uv_tcp_t h;
    bool open;      /* handle initialised and not yet closed */
    bool reading;   /* uv_read_start is in effect */
    bool paused;    /* stopped because the peer's queue is full */
    bool eof;       /* read its end of file */
    bool shut_done; /* our shutdown towards it completed */
};

struct tcp_conn {
    struct engine_proxy *p;
    struct listener *l;
    struct tcp_side client, upstream;
    uv_connect_t connect;
    uv_shutdown_t shut_client, shut_upstream;
    bool connected, closing;
    int handles;
    struct tcp_conn *prev, *next;
};

struct tcp_write {
    uv_write_t req;
    struct tcp_side *from;
    char *data;
};

static struct tcp_side *
peer(struct tcp_side *s)
{
    return s == &s->c->client ? &s->c->upstream : &s->c->client;
}

static void
on_conn_handle_closed(uv_handle_t *h)
{
    struct tcp_conn *c = h->data;
    struct engine_proxy *p = c->p;
    p->handles--;
    if (--c->handles == 0) {
        if (c->prev)
            c->prev->next = c->next;
        else
            p->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free(c);
    }
    proxy_maybe_free(p);
}

static void
conn_close(struct tcp_conn *c)
{
    c->closing = true;
    struct tcp_side *sides[] = {&c->client, &c->upstream};
    for (size_t i = 0; i < BT_ARRAY_SIZE(sides); i++) {
        if (sides[i]->open && !uv_is_closing((uv_handle_t *)&sides[i]->h)) {
            sides[i]->h.data = c;
            uv_close((uv_handle_t *)&sides[i]->h, on_conn_handle_closed);
        }
    }
}

static void
on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = xmalloc(READ_SIZE);
    buf->len = READ_SIZE;
}

static void on_tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void
side_read_start(struct tcp_side *s)
{
    if (s->reading || s->eof || s->c->closing)
        return;
    int r = uv_read_start((uv_stream_t *)&s->h, on_tcp_alloc, on_tcp_read);
    if (r < 0) {
        bt_debug("proxy: read: %s", uv_strerror(r));
        conn_close(s->c);
        return;
    }
    s->reading = true;
}

static void
side_read_stop(struct tcp_side *s)
{
    if (s->reading)
        uv_read_stop((uv_stream_t *)&s->h);
    s->reading = false;
}

/* Both directions ended and both shutdowns went through: done. */
static void
conn_maybe_done(struct tcp_conn *c)
{
    if (c->client.eof && c->upstream.eof && c->client.shut_done && c->upstream.shut_done)
        conn_close(c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct tcp_side *to = req->data;
    struct tcp_conn *c = to->c;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    to->shut_done = true;
    conn_maybe_done(c);
}

static void
on_tcp_written(uv_write_t *req, int status)
{
    struct tcp_write *w = req->data;
    struct tcp_side *from = w->from;
    struct tcp_conn *c = from->c;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    struct tcp_side *to = peer(from);
    if (from->paused &&
        uv_stream_get_write_queue_size((uv_stream_t *)&to->h) <= ENGINE_PROXY_HIGH_WATER / 2) {
        from->paused = false;
        side_read_start(from);
    }
}

static void
on_tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct tcp_side *s = st->data;
    struct tcp_conn *c = s->c;
    struct tcp_side *to = peer(s);
    if (n == 0) {
        free(buf->base);
        return;
    }
    if (n < 0) {
        free(buf->base);
        side_read_stop(s);
        if (n != UV_EOF) {
            conn_close(c);
            return;
        }
        /* Half-close: the peer learns of the end once what is queued is
         * written. */
        s->eof = true;
        uv_shutdown_t *req = to == &c->client ? &c->shut_client : &c->shut_upstream;
        req->data = to;
        int r = uv_shutdown(req, (uv_stream_t *)&to->h, on_shutdown);
        if (r < 0)
            conn_close(c);
        return;
    }
    struct tcp_write *w = xmalloc(sizeof(*w));
    w->from = s;
    w->data = buf->base;
    w->req.data = w;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&to->h, &out, 1, on_tcp_written);
    if (r < 0) {
        free(w->data);
        free(w);
        conn_close(c);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&to->h) > ENGINE_PROXY_HIGH_WATER) {
        s->paused = true;
        side_read_stop(s);
    }
}

static void
on_upstream_connected(uv_connect_t *req, int status)
{
    struct tcp_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        char t[INET6_ADDRSTRLEN + 8];
        /* debug: a client retrying against a container that does not
         * listen yet must not fill the monitor's log */
        bt_debug("proxy: connect to %s: %s", addr_fmt(&c->l->target, t, sizeof(t)),
                 uv_strerror(status));
        conn_close(c);
        return;
    }
    c->connected = true;
    side_read_start(&c->client);
    side_read_start(&c->upstream);
}

static void
on_tcp_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    struct engine_proxy *p = l->p;
    if (status < 0 || p->closing) {
        bt_debug("proxy: accept: %s", uv_strerror(status));
        return;
    }
    struct tcp_conn *c = xcalloc(1, sizeof(*c));
    c->p = p;
    c->l = l;
    c->client.c = c->upstream.c = c;
    uv_tcp_init(p->loop, &c->client.h);
    c->client.h.data = &c->client;
    c->client.open = true;
    c->handles++;
    p->handles++;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    int r = uv_accept(server, (uv_stream_t *)&c->client.h);
    if (r < 0) {
        bt_debug("proxy: accept: %s", uv_strerror(r));
        conn_close(c);
        return;
    }
    r = uv_tcp_init_ex(p->loop, &c->upstream.h, l->target.ss_family);
    if (r < 0) {
        conn_close(c);
        return;
    }
    c->upstream.h.data = &c->upstream;
    c->upstream.open = true;
    c->handles++;
    p->handles++;
    uv_tcp_nodelay(&c->client.h, 1);
    uv_tcp_nodelay(&c->upstream.h, 1);
    c->connect.data = c;
    r = uv_tcp_connect(&c->connect, &c->upstream.h, (const struct sockaddr *)&l->target,
                       on_upstream_connected);
    if (r < 0) {
        bt_debug("proxy: connect: %s", uv_strerror(r));
        conn_close(c);
    }
}

/* ---- UDP ---- */

struct udp_flow {
    struct engine_proxy *p;
    struct listener *l;
    struct sockaddr_storage client;
    uv_udp_t up;
    uv_timer_t idle;
    int handles;
    bool closing;
    struct udp_flow *prev, *next;
};

static void
on_flow_handle_closed(uv_handle_t *h)
{
    struct udp_flow *f = h->data;
    struct engine_proxy *p = f->p;
    p->handles--;
    if (--f->handles == 0) {
        if (f->prev)
            f->prev->next = f->next;
        else
            p->flows = f->next;
        if (f->next)
            f->next->prev = f->prev;
        p->nflows--;
        free(f);
    }
    proxy_maybe_free(p);
}

static void
flow_close(struct udp_flow *f)
{
    if (f->closing)
        return;
    f->closing = true;
    uv_close((uv_handle_t *)&f->up, on_flow_handle_closed);
    uv_close((uv_handle_t *)&f->idle, on_flow_handle_closed);
}

static void
on_flow_idle(uv_timer_t *t)
{
    flow_close(t->data);
}

/* Both a listener and a flow start with their proxy's pointer. */
static void
on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct engine_proxy *p = *(struct engine_proxy **)h->data;
    buf->base = p->udp_buf;
    buf->len = sizeof(p->udp_buf);
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* A reply from the container: back to the client from the held socket. */
static void
on_upstream_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                 unsigned flags)
{
    (void)flags;
    struct udp_flow *f = h->data;
    if (n < 0) {
        flow_close(f);
        return;
    }
    /* n == 0 without an address: nothing was read (an empty datagram has
     * one) */
    if (f->closing || (n == 0 && !from))
        return;
    uv_timer_again(&f->idle);
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int r = uv_udp_try_send(&f->l->u.udp, &out, 1, (const struct sockaddr *)&f->client);
    if (r < 0 && r != UV_EAGAIN)
        bt_debug("proxy: udp reply: %s", uv_strerror(r));
}

static struct udp_flow *
flow_new(struct listener *l, const struct sockaddr *client)
{
    struct engine_proxy *p = l->p;
    if (p->nflows >= ENGINE_PROXY_MAX_UDP_FLOWS)
        return NULL;
    struct udp_flow *f = xcalloc(1, sizeof(*f));
    f->p = p;
    f->l = l;
    memcpy(&f->client, client,
           client->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                         : sizeof(struct sockaddr_in));
    uv_udp_init_ex(p->loop, &f->up, l->target.ss_family);
    uv_timer_init(p->loop, &f->idle);
    f->up.data = f; /* on_udp_alloc reads the proxy through f->p, the first field */
    f->idle.data = f;
    f->handles = 2;
    p->handles += 2;
    p->nflows++;
    f->next = p->flows;
    if (p->flows)
        p->flows->prev = f;
    p->flows = f;
    int r = uv_udp_connect(&f->up, (const struct sockaddr *)&l->target);
    if (r >= 0)
        r = uv_udp_recv_start(&f->up, on_udp_alloc, on_upstream_recv);
    if (r >= 0)
        r = uv_timer_start(&f->idle, on_flow_idle, l->idle_ms, l->idle_ms);
    if (r < 0) {
        bt_debug("proxy: udp flow: %s", uv_strerror(r));
        flow_close(f);
        return NULL;
    }
    return f;
}

static void
on_listener_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                 unsigned flags)
{
    (void)flags;
    struct listener *l = h->data;
    if (n < 0 || !from || l->p->closing)
        return;
    struct udp_flow *f = l->p->flows;
    while (f && (f->l != l || f->closing || !same_addr(&f->client, from)))
        f = f->next;
    if (!f && !(f = flow_new(l, from)))
        return; /* too many flows: a datagram may be dropped */
    uv_timer_again(&f->idle);
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int r = uv_udp_try_send(&f->up, &out, 1, NULL);
    if (r < 0 && r != UV_EAGAIN)
        bt_debug("proxy: udp send: %s", uv_strerror(r));
}

/* ---- the proxy ---- */

int
engine_proxy_start(uv_loop_t *loop, const struct engine_proxy_spec *specs, size_t n,
                   struct engine_proxy **out, struct bt_err **err)
{
    *out = NULL;
    struct engine_proxy *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->listeners = xcalloc(n ? n : 1, sizeof(*p->listeners));
    p->n = n;
    int r = 0;
    size_t owned = 0; /* the fds of specs[0..owned) belong to handles */
    const char *what = "tcp";
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct listener *l = &p->listeners[i];
        l->p = p;
        l->udp = specs[i].udp;
        l->target = specs[i].target;
        l->idle_ms = specs[i].udp_idle_ms ? specs[i].udp_idle_ms : ENGINE_PROXY_UDP_IDLE_MS;
        what = l->udp ? "udp" : "tcp";
        r = l->udp ? uv_udp_init(loop, &l->u.udp) : uv_tcp_init(loop, &l->u.tcp);
        if (r < 0)
            break;
        l->u.h.data = l;
        l->open = true;
        p->handles++;
        r = l->udp ? uv_udp_open(&l->u.udp, specs[i].fd) : uv_tcp_open(&l->u.tcp, specs[i].fd);
        if (r < 0)
            break;
        owned = i + 1;
        r = l->udp ? uv_udp_recv_start(&l->u.udp, on_udp_alloc, on_listener_recv)
                   : uv_listen((uv_stream_t *)&l->u.tcp, 128, on_tcp_connection);
    }
    if (r < 0) {
        for (size_t k = owned; k < n; k++)
            close(specs[k].fd);
        bt_err_set(err, EIO, "proxy: %s socket: %s", what, uv_strerror(r));
        engine_proxy_close(p);
        return bt_err_ret(err);
    }
    *out = p;
    return 0;
}

void
engine_proxy_close(struct engine_proxy *p)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    for (size_t i = 0; i < p->n; i++) {
        struct listener *l = &p->listeners[i];
        if (l->open) {
            l->open = false;
            uv_close(&l->u.h, on_listener_closed);
        }
    }
    for (struct tcp_conn *c = p->conns; c; c = c->next)
        if (!c->closing)
            conn_close(c);
    for (struct udp_flow *f = p->flows; f; f = f->next)
        flow_close(f);
    proxy_maybe_free(p);
}

/* engine: the userland port proxy berth-monitor runs on its libuv loop.
 *
 * Ports published on the IPv6 loopback ([::1]) cannot be served by DNAT:
 * the kernel does not route a connection addressed to ::1 out of another
 * interface. For those bindings the CLI hands the monitor the bound host
 * socket and the monitor forwards what arrives on it to the container:
 *   - TCP: accepts on the listening socket, connects to the container's
 *     address and port, copies bytes both ways with backpressure (a side
 *     stops reading while the other side's write queue is large),
 *     propagates half-close (shutdown) and closes both on error;
 *   - UDP: one flow per client address, each with its own socket connected
 *     to the container; replies go back from the held socket; a flow idle
 *     for ENGINE_PROXY_UDP_IDLE_MS is closed.
 *
 * Ownership: engine_proxy_start takes the listening fds (closed with the
 * proxy). engine_proxy_close starts the teardown; the proxy frees itself
 * when its last handle has closed, so the loop ends clean. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

struct bt_err;

#define ENGINE_PROXY_UDP_IDLE_MS 30000
/* A side stops reading while its peer has more than this queued. */
#define ENGINE_PROXY_HIGH_WATER    (1024 * 1024)
#define ENGINE_PROXY_MAX_UDP_FLOWS 1024

struct engine_proxy_spec {
    int fd; /* the held socket, bound on the host */
    bool udp;
    struct sockaddr_storage target; /* the container's address and port */
    uint64_t udp_idle_ms;           /* 0 = ENGINE_PROXY_UDP_IDLE_MS */
};

/* Parses the monitor's `--proxy FD,PROTO,ADDR,PORT` argument (ADDR an IPv4
 * or IPv6 address without brackets). */
int engine_proxy_spec_parse(const char *arg, struct engine_proxy_spec *out, struct bt_err **err);

struct engine_proxy;
/* Starts serving every spec on loop. On failure nothing stays on the loop
 * (handles already opened are closed; run the loop to let them go). */
int engine_proxy_start(uv_loop_t *loop, const struct engine_proxy_spec *specs, size_t n,
                       struct engine_proxy **out, struct bt_err **err);
/* Closes the listeners and every connection and flow; NULL is a no-op. */
void engine_proxy_close(struct engine_proxy *p);

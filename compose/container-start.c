/* compose: starting a container with its published ports held by its
 * monitor. Here networking (which binds the ports) meets the engine (which
 * spawns the monitor), through plain file descriptors. */
#include <string.h>

#include "compose/orchestrate.h"
#include "engine/engine.h"
#include "net/net.h"

static bool
is_active(const char *status)
{
    return status && (!strcmp(status, "running") || !strcmp(status, "paused") ||
                      !strcmp(status, "restarting"));
}

int
compose_container_start(const char *id, const char *monitor, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(id, err);
    if (!st)
        return bt_err_ret(err);
    /* A running container's monitor holds its ports already. */
    if (is_active(bt_json_str(st, "Status")))
        return 0;
    struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    struct net_port_set *set = NULL;
    int r = net_ports_hold(ctx, id, &set, err);
    net_ctx_free(ctx);
    if (r < 0)
        return r;
    _cleanup_free_ struct engine_held_port *held = xcalloc(set->n + 1, sizeof(*held));
    for (size_t i = 0; i < set->n; i++) {
        const struct net_port_binding *b = &set->bindings[i];
        held[i].fd = set->fds[i];
        if (!net_port_binding_is_proxied(b))
            continue;
        held[i].proxy = true;
        held[i].udp = b->proto == NET_PROTO_UDP;
        net_port_binding_target(b, held[i].target);
        held[i].target_port = b->container_port;
    }
    r = engine_container_start_held(id, monitor, held, set->n, err);
    net_port_set_free(set); /* our copies: the monitor has its own */
    return r;
}

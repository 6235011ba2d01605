/* engine: the container store shared by the CLI side (engine_container_*)
 * and berth-monitor: paths, config and state files, the control protocol.
 *
 * ROOT/containers/ID/config.json   what the container is (see engine.h)
 * ROOT/containers/ID/state.json    what it is doing, written by the monitor
 * ROOT/containers/ID/ID-json.log   its output, Docker's json-file format
 * RUNROOT/containers/ID/monitor.sock, monitor.log
 *
 * The control socket speaks one JSON object per line each way:
 *   {"cmd":"state"} -> {"ok":true,"state":{...}}
 *   {"cmd":"stop","timeout":10} -> reply once the container has stopped
 *   {"cmd":"kill","signal":"SIGTERM"}, {"cmd":"pause"}, {"cmd":"unpause"}
 *   {"cmd":"events"} -> {"ok":true} then one event object per line */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

char *engine_container_dir(const char *id);
char *engine_container_rundir(const char *id);
char *engine_container_log_path(const char *id);
char *engine_container_socket_path(const char *id);

json_t *engine_container_config_load(const char *id, struct bt_err **err);
/* NULL without error when the monitor has not written one yet. */
json_t *engine_container_state_load(const char *id, struct bt_err **err);
int engine_container_state_write(const char *id, json_t *state, struct bt_err **err);

/* Sends one request to the monitor and reads one reply line (timeout in
 * milliseconds, -1 for none). -ECONNREFUSED/-ENOENT when no monitor listens. */
json_t *engine_monitor_request(const char *id, json_t *req, int timeout_ms, struct bt_err **err);

/* Restart policy parsed from "no", "always", "unless-stopped",
 * "on-failure[:N]". */
enum engine_restart {
    ENGINE_RESTART_NO,
    ENGINE_RESTART_ALWAYS,
    ENGINE_RESTART_UNLESS_STOPPED,
    ENGINE_RESTART_ON_FAILURE
};
int engine_restart_parse(const char *s, enum engine_restart *policy, int *max_retries,
                         struct bt_err **err);

/* Docker's restart backoff: the delay before the next restart given the
 * previous delay (0 at first) and how long the container ran. */
uint64_t engine_restart_backoff_ms(uint64_t prev_ms, uint64_t ran_ms);
/* Whether a container that exited with code should be restarted. */
bool engine_restart_wanted(enum engine_restart policy, int max_retries, int restart_count,
                           int exit_code, bool user_stopped);

/* One health probe result into Docker's Health object (pure):
 * exit 0 healthy, other codes fail; failures during the start period do
 * not count; the log keeps the last 5 results, output cut at 4 KiB. */
void engine_health_record(json_t *health, const char *start, const char *end, int exit_code,
                          const char *output, size_t output_len, int retries, bool in_start_period);

/* Attached stdin for run and container run (see attach.c). */
#pragma once

#include <stdbool.h>

#include "common/common.h"

struct cli_attach;

/* Takes the container's stdin from its monitor and starts copying ours into
 * it; with tty, the local terminal goes raw and its size follows SIGWINCH.
 * *out is NULL on failure. */
int cli_attach_start(const char *id, bool tty, struct cli_attach **out, struct bt_err **err);
/* cli_attach_start, watching the input for the detach keys (bytes from
 * cli_detach_keys_parse; n 0: none): once typed they are not passed on,
 * copying ends and cli_attach_detached() turns true. */
int cli_attach_start_keys(const char *id, bool tty, const char *keys, size_t n,
                          struct cli_attach **out, struct bt_err **err);
/* Whether the user typed the detach keys (safe from any thread). */
bool cli_attach_detached(struct cli_attach *a);
/* Docker's --detach-keys: "ctrl-p,ctrl-q", a comma-separated list of
 * single characters and ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\, ctrl-],
 * ctrl-^, ctrl-_. Writes at most cap bytes to out; returns the count. */
int cli_detach_keys_parse(const char *s, char *out, size_t cap, struct bt_err **err);
/* Stops copying, restores the terminal, frees; accepts NULL, returns NULL. */
struct cli_attach *cli_attach_stop(struct cli_attach *a);

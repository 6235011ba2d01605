/* Attached stdin for run and container run (see attach.c). */
#pragma once

#include <stdbool.h>

#include "common/common.h"

struct cli_attach;

/* Takes the container's stdin from its monitor and starts copying ours into
 * it; with tty, the local terminal goes raw and its size follows SIGWINCH.
 * *out is NULL on failure. */
int cli_attach_start(const char *id, bool tty, struct cli_attach **out, struct bt_err **err);
/* Stops copying, restores the terminal, frees; accepts NULL, returns NULL. */
struct cli_attach *cli_attach_stop(struct cli_attach *a);

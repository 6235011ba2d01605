/* cli: Compose-style progress lines for commands that act on many objects.
 *
 * On a terminal the lines of one command form a block redrawn in place:
 *    ⠿ Container demo-db-1   Starting
 *    ✔ Container demo-web-1  Started
 * Elsewhere (a pipe, a file, --ansi never) every event is one plain line,
 * written as it happens:
 *    Container demo-web-1  Starting
 *    Container demo-web-1  Started
 *
 * One object is identified by kind and name ("Container", "demo-web-1");
 * a later event for it replaces its line. Thread-safe: events may come from
 * worker threads. Ownership: cli_progress_new returns an owned object freed
 * with cli_progress_free, which leaves the final block on screen. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"
#include "compose/orchestrate.h"

enum cli_progress_status {
    CLI_PROGRESS_WORKING, /* Creating, Starting, Stopping, Waiting */
    CLI_PROGRESS_DONE,    /* Created, Started, Stopped, Removed, Healthy */
    CLI_PROGRESS_WARNING, /* something the user should know, not fatal */
    CLI_PROGRESS_ERROR,   /* failed */
};

struct cli_progress;

/* out: where the lines go (stderr as Compose does); tty: redraw in place;
 * color: ANSI colors for the status glyphs. */
struct cli_progress *cli_progress_new(FILE *out, bool tty, bool color);
/* The usual choice for a command: stderr, redrawn when stderr is a terminal
 * and ansi (--ansi never|always|auto) allows it. */
struct cli_progress *cli_progress_new_default(const char *ansi);
struct cli_progress *cli_progress_free(struct cli_progress *p);
DEFINE_CLEANUP(struct cli_progress *, cli_progress_free)
#define _cleanup_progress_ _cleanup_(cli_progress_freep)

/* Records an event for kind/name and shows it. text is what happened
 * ("Started", "Recreate", "Error: exited 1"). p may be NULL (no output). */
void cli_progress_event(struct cli_progress *p, const char *kind, const char *name,
                        enum cli_progress_status status, const char *text);
void cli_progress_eventf(struct cli_progress *p, const char *kind, const char *name,
                         enum cli_progress_status status, const char *fmt, ...) BT_PRINTF(5, 6);
/* A line under kind/name for one of its parts (a layer of an image being
 * pulled), identified by id: on a terminal drawn indented below its
 * parent, with a bar and current/total bytes when total > 0
 * ("a1b2c3d4e5f6 Downloading [=====>      ]  1.2MB/3.4MB"); elsewhere one
 * plain line ("a1b2c3d4e5f6 Pull complete") each time text changes, never
 * for byte counts alone. p may be NULL. */
void cli_progress_child(struct cli_progress *p, const char *kind, const char *name, const char *id,
                        enum cli_progress_status status, const char *text, int64_t current,
                        int64_t total);
/* The same as a compose_layer_fn (data: the cli_progress), so that a
 * pull's layers show under its line (the service's, or "Image REF"). */
void cli_progress_layer(void *data, const char *kind, const char *name, const char *layer,
                        enum compose_event_status status, const char *text, int64_t current,
                        int64_t total);
/* A free-standing message (a warning about orphans, say) printed above the
 * block on a terminal, as one line elsewhere. */
void cli_progress_message(struct cli_progress *p, const char *fmt, ...) BT_PRINTF(2, 3);
/* Ends the current block: later events start a new one below. */
void cli_progress_flush(struct cli_progress *p);

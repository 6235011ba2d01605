/* engine: the sync socket between the runtime and a child it cloned.
 *
 * SOCK_SEQPACKET messages of (type, code, text); a PTY message carries the
 * pty master fd. The child reports failure as (errno, message) and _exits;
 * the parent rebuilds the error. */
#pragma once

#include <stdint.h>

#include "common/common.h"

enum rt_sync_type {
    RT_SYNC_GO = 1, /* parent -> child: ids mapped, cgroup joined, go on */
    RT_SYNC_READY,  /* child -> parent: set up, waiting to exec */
    RT_SYNC_START,  /* parent -> child: exec now */
    RT_SYNC_ERROR,  /* child -> parent: (code, message), then _exit */
    RT_SYNC_PTY,    /* child -> parent: the pty master travels with it */
};

struct rt_sync_msg {
    int32_t type;
    int32_t code;
    char text[2048];
};

int rt_sync_send(int fd, int type, int code, const char *text, int pass_fd);
/* Receives one message; *fd_out gets a passed fd (or -1). Returns 0 on a
 * message, -EPIPE on end of file, -errno otherwise. */
int rt_sync_recv(int fd, struct rt_sync_msg *msg, int *fd_out);
/* In a child: sends the error and _exits(1). */
_Noreturn void rt_sync_fail(int fd, struct bt_err *err);
/* Waits for one message of type `want`; an ERROR message becomes *err. */
int rt_sync_expect(int fd, int want, int *fd_out, struct bt_err **err);

/* struct bt_err: one message with its context chain, set once, consumed once. */
#include <string.h>

#include "common/common.h"

static int err_setv(struct bt_err **err, int code, bool with_errno, const char *fmt, va_list ap)
    BT_PRINTF(4, 0);

static int
err_setv(struct bt_err **err, int code, bool with_errno, const char *fmt, va_list ap)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        code = EIO;
    if (!err || *err)
        return -code;
    struct bt_err *e = xmalloc(sizeof(*e));
    e->code = code;
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    if (with_errno)
        e->msg = xasprintf("%s: %s", msg, strerror(code));
    else
        e->msg = TAKE_PTR(msg);
    *err = e;
    return -code;
}

int
bt_err_set(struct bt_err **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_setv(err, code, false, fmt, ap);
    va_end(ap);
    return r;
}

int
bt_err_errno(struct bt_err **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_setv(err, code, true, fmt, ap);
    va_end(ap);
    return r;
}

void
bt_err_prefix(struct bt_err **err, const char *fmt, ...)
{
    if (!err || !*err)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
    free((*err)->msg);
    (*err)->msg = msg;
}

struct bt_err *
bt_err_free(struct bt_err *e)
{
    if (e) {
        free(e->msg);
        free(e);
    }
    return NULL;
}

void
bt_err_move(struct bt_err **to, struct bt_err **from)
{
    if (!from || !*from)
        return;
    if (to && !*to)
        *to = TAKE_PTR(*from);
    else
        *from = bt_err_free(*from);
}

int
bt_err_ret(struct bt_err *const *err)
{
    return (err && *err) ? -(*err)->code : -EIO;
}

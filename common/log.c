/* Logging: one line per message to stderr (or a file), optional prefix and
 * timestamps. Library modules log at most at debug; cli and the monitor log
 * where an error is consumed. */
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "common/common.h"

static enum bt_log_level log_level = BT_LOG_WARN;
static char *log_prefix;
static int log_fd = -1;
static bool log_timestamps;

void
bt_log_set_level(enum bt_log_level level)
{
    log_level = level;
}

enum bt_log_level
bt_log_get_level(void)
{
    return log_level;
}

void
bt_log_set_prefix(const char *prefix)
{
    free(log_prefix);
    log_prefix = prefix ? xstrdup(prefix) : NULL;
}

void
bt_log_set_fd(int fd)
{
    log_fd = fd;
}

void
bt_log_set_timestamps(bool on)
{
    log_timestamps = on;
}

void
bt_log_full(enum bt_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    struct bt_buf b = {0};
    if (log_timestamps) {
        struct timespec ts;
        struct tm tm;
        char when[64];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        bt_buf_printf(&b, "%s.%06ldZ ", when, ts.tv_nsec / 1000);
    }
    if (log_prefix)
        bt_buf_printf(&b, "%s: ", log_prefix);
    else
        bt_buf_puts(&b, "berth: ");
    if (level != BT_LOG_INFO)
        bt_buf_printf(&b, "%s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    bt_buf_puts(&b, msg);
    bt_buf_putc(&b, '\n');
    ssize_t r = write(log_fd >= 0 ? log_fd : STDERR_FILENO, b.data, b.len);
    (void)r; /* nowhere left to report a failed log write */
    bt_buf_done(&b);
}

void
bt_err_log(struct bt_err **err, const char *context)
{
    if (!err || !*err)
        return;
    if (context)
        bt_error("%s: %s", context, (*err)->msg);
    else
        bt_error("%s", (*err)->msg);
    *err = bt_err_free(*err);
}

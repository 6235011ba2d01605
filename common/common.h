/* common: the framework every module shares.
 *
 * Errors (struct bt_err, context chains), logging, allocation that aborts on
 * out-of-memory, NULL-terminated string vectors, a growable string buffer,
 * JSON helpers over jansson, and filesystem helpers (atomic writes, paths,
 * resolution confined to a root).
 *
 * Ownership: functions named *_new / returning `char *` give the caller an
 * owned value; `const char *` arguments are borrowed; *_take arguments are
 * stolen. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/cleanup.h"

#define BT_PRINTF(a, b)  __attribute__((format(printf, a, b)))
#define BT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation: abort with a message on out-of-memory ---- */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) BT_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) BT_PRINTF(1, 0);

/* ---- errors ----
 * A function that can fail takes `struct bt_err **err` last, returns >= 0 on
 * success and -errno on failure with *err set once. Context is added on the
 * way up with bt_err_prefix(). */
struct bt_err {
    int code;  /* positive errno value */
    char *msg; /* full message, context first */
};

/* Sets *err (if err is non-NULL and *err is still NULL) and returns -code. */
int bt_err_set(struct bt_err **err, int code, const char *fmt, ...) BT_PRINTF(3, 4);
/* Like bt_err_set, with ": strerror(code)" appended. */
int bt_err_errno(struct bt_err **err, int code, const char *fmt, ...) BT_PRINTF(3, 4);
/* Prepends "context: " to an error already set; no-op when none is. */
void bt_err_prefix(struct bt_err **err, const char *fmt, ...) BT_PRINTF(2, 3);
struct bt_err *bt_err_free(struct bt_err *e);
/* Moves *from into *to (if *to is unset), leaving *from NULL. */
void bt_err_move(struct bt_err **to, struct bt_err **from);
/* Returns -code of an error, for `return bt_err_ret(err)` */
int bt_err_ret(struct bt_err *const *err);
DEFINE_CLEANUP(struct bt_err *, bt_err_free)
#define _cleanup_err_ _cleanup_(bt_err_freep)

/* ---- logging ---- */
enum bt_log_level { BT_LOG_ERROR = 0, BT_LOG_WARN, BT_LOG_INFO, BT_LOG_DEBUG };
void bt_log_set_level(enum bt_log_level level);
enum bt_log_level bt_log_get_level(void);
/* Every line is prefixed with this (e.g. a container id); borrowed copy made. */
void bt_log_set_prefix(const char *prefix);
/* Log to this fd instead of stderr; -1 restores stderr. */
void bt_log_set_fd(int fd);
void bt_log_set_timestamps(bool on);
void bt_log_full(enum bt_log_level level, const char *fmt, ...) BT_PRINTF(2, 3);
#define bt_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= bt_log_get_level())                                                         \
            bt_log_full((level), __VA_ARGS__);                                                     \
    } while (0)
#define bt_error(...) bt_log(BT_LOG_ERROR, __VA_ARGS__)
#define bt_warn(...)  bt_log(BT_LOG_WARN, __VA_ARGS__)
#define bt_info(...)  bt_log(BT_LOG_INFO, __VA_ARGS__)
#define bt_debug(...) bt_log(BT_LOG_DEBUG, __VA_ARGS__)
/* Logs an error at ERROR level ("berth: <msg>") and frees it. */
void bt_err_log(struct bt_err **err, const char *context);

/* ---- string vectors (NULL-terminated char **) ---- */
char **bt_strv_free(char **v);
DEFINE_CLEANUP(char **, bt_strv_free)
#define _cleanup_strv_ _cleanup_(bt_strv_freep)
size_t bt_strv_length(char *const *v);
/* Appends s (owned; takes ownership) and returns the new vector. */
char **bt_strv_push_take(char **v, char *s);
char **bt_strv_push(char **v, const char *s);
bool bt_strv_contains(char *const *v, const char *s);
char **bt_strv_copy(char *const *v);
/* Splits on any of the separator characters; empty fields are kept. */
char **bt_strv_split(const char *s, const char *sep);
char *bt_strv_join(char *const *v, const char *sep);
void bt_strv_sort(char **v);
#define bt_strv_foreach(s, v) for (char **_i_##s = (v), *s; _i_##s && (s = *_i_##s); _i_##s++)

/* ---- strings ---- */
bool bt_str_startswith(const char *s, const char *prefix);
bool bt_str_endswith(const char *s, const char *suffix);
bool bt_streq_null(const char *a, const char *b);
/* Parses a whole decimal integer; false on garbage or overflow. */
bool bt_parse_int64(const char *s, int64_t *out);
bool bt_parse_uint64(const char *s, uint64_t *out);

/* Growable NUL-terminated buffer. */
struct bt_buf {
    char *data;
    size_t len;
    size_t cap;
};
void bt_buf_append(struct bt_buf *b, const char *s, size_t n);
void bt_buf_puts(struct bt_buf *b, const char *s);
void bt_buf_putc(struct bt_buf *b, char c);
void bt_buf_printf(struct bt_buf *b, const char *fmt, ...) BT_PRINTF(2, 3);
/* Returns the string (owned) and resets the buffer. Never NULL. */
char *bt_buf_steal(struct bt_buf *b);
void bt_buf_done(struct bt_buf *b);

/* ---- JSON (jansson) ---- */
/* Routes jansson's allocations through xmalloc; call once at start-up. */
void bt_json_init(void);
static inline void
bt_json_decrefp(json_t **j)
{
    if (*j)
        json_decref(*j);
}
#define _cleanup_json_ _cleanup_(bt_json_decrefp)
/* Reads and parses a JSON file; NULL with *err set on failure. */
json_t *bt_json_load_file(const char *path, struct bt_err **err);
/* Writes JSON atomically (temp file, fsync, rename), mode 0644. */
int bt_json_write_atomic(const char *path, json_t *j, struct bt_err **err);
const char *bt_json_str(json_t *obj, const char *key);

/* ---- filesystem ---- */
/* Reads a whole file; the buffer is NUL-terminated and *len excludes it. */
char *bt_file_read_all(const char *path, size_t *len, struct bt_err **err);
/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename; mode applied to the new file. */
int bt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct bt_err **err);
int bt_mkdir_p(const char *path, mode_t mode, struct bt_err **err);
/* Removes a tree without following symlinks; a missing path is success. */
int bt_rm_rf(const char *path, struct bt_err **err);
bool bt_path_exists(const char *path);
bool bt_path_is_dir(const char *path);
/* Joins two paths with exactly one '/'. */
char *bt_path_join(const char *a, const char *b);
/* Lexically normalises: collapses '//', '.', and '..' (never above '/' for
 * absolute paths). Returns an owned string. */
char *bt_path_clean(const char *path);
/* Absolute and clean: relative paths are taken against base. */
char *bt_path_absolute(const char *base, const char *path);
char *bt_path_dirname(const char *path);
const char *bt_path_basename(const char *path);
/* Opens path inside the directory rootfd so that nothing (.., absolute
 * symlinks, relative symlinks) can resolve outside it: openat2 with
 * RESOLVE_IN_ROOT (Linux 5.6). */
int bt_openat_in_root(int rootfd, const char *path, int flags, mode_t mode, struct bt_err **err);
/* Creates every missing directory of path inside rootfd (confined as above)
 * and returns an O_PATH|O_DIRECTORY fd of the last one. */
int bt_mkdirat_p_in_root(int rootfd, const char *path, mode_t mode, struct bt_err **err);

/* ---- processes ---- */
/* Runs argv (no shell), waits; returns exit status (0..255, 128+sig) or -errno. */
int bt_run(char *const argv[], struct bt_err **err);

/* NULL-terminated string vectors, strings and a growable buffer. */
#include <limits.h>
#include <string.h>

#include "common/common.h"

char **
bt_strv_free(char **v)
{
    if (v) {
        for (char **i = v; *i; i++)
            free(*i);
        free(v);
    }
    return NULL;
}

size_t
bt_strv_length(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

char **
bt_strv_push_take(char **v, char *s)
{
    size_t n = bt_strv_length(v);
    v = xreallocarray(v, n + 2, sizeof(char *));
    v[n] = s;
    v[n + 1] = NULL;
    return v;
}

char **
bt_strv_push(char **v, const char *s)
{
    return bt_strv_push_take(v, xstrdup(s));
}

bool
bt_strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

char **
bt_strv_copy(char *const *v)
{
    size_t n = bt_strv_length(v);
    char **c = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

char **
bt_strv_split(const char *s, const char *sep)
{
    char **v = xcalloc(1, sizeof(char *));
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, sep);
        v = bt_strv_push_take(v, xstrndup(p, n));
        if (!p[n])
            break;
        p += n + 1;
    }
    return v;
}

char *
bt_strv_join(char *const *v, const char *sep)
{
    struct bt_buf b = {0};
    for (size_t i = 0; v && v[i]; i++) {
        if (i)
            bt_buf_puts(&b, sep);
        bt_buf_puts(&b, v[i]);
    }
    return bt_buf_steal(&b);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void
bt_strv_sort(char **v)
{
    if (!v)
        return;
    qsort(v, bt_strv_length(v), sizeof(char *), cmp_str);
}

bool
bt_str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
bt_str_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool
bt_streq_null(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool
bt_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = v;
    return true;
}

bool
bt_parse_uint64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static void
buf_reserve(struct bt_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void
bt_buf_append(struct bt_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
bt_buf_puts(struct bt_buf *b, const char *s)
{
    bt_buf_append(b, s, strlen(s));
}

void
bt_buf_putc(struct bt_buf *b, char c)
{
    bt_buf_append(b, &c, 1);
}

void
bt_buf_printf(struct bt_buf *b, const char *fmt, ...)
{
    /* Formats straight into the spare room; grows and retries only when the
     * result does not fit (this sits on hot paths such as key paths). */
    buf_reserve(b, 64);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort(); /* only for an invalid format, a programmer error */
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

char *
bt_buf_steal(struct bt_buf *b)
{
    char *s = b->data ? b->data : xstrdup("");
    *b = (struct bt_buf){0};
    return s;
}

void
bt_buf_done(struct bt_buf *b)
{
    free(b->data);
    *b = (struct bt_buf){0};
}

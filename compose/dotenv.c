/* .env files with the Compose dotenv grammar:
 *
 *   # comment                 blank lines and comment lines are skipped
 *   export KEY=value          `export ` is ignored
 *   KEY=value # comment       unquoted: up to the end of the line, cut at " #",
 *                             trailing blanks trimmed, ${VAR} interpolated
 *   KEY: value                YAML-style separator
 *   KEY='literal $X'          single quotes: verbatim, may span lines
 *   KEY="a\nb ${X}"           double quotes: \n \r \t \\ \" \$ ... escapes,
 *                             then interpolation; may span lines
 *   KEY                       no '=': taken from the lookup environment if set
 *
 * Keys are letters, digits, '_', '.', '-', '[' and ']'. Interpolation sees the
 * lookup environment first (the process environment), then the values defined
 * earlier. */
#include <string.h>

#include "compose/load-internal.h"

struct dotenv {
    const char *data;
    size_t len;
    size_t pos;
    const char *file;
    char *const *lookup;
    char ***out;
    struct bt_err **err;
    char **unset;
};

static bool
is_blank(char c)
{
    /* Blanks that are not line breaks. */
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool
is_space(char c)
{
    return is_blank(c) || c == '\n';
}

static bool
key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '[' || c == ']' || c >= 0x80;
}

static int
line_at(const struct dotenv *d, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos && i < d->len; i++)
        if (d->data[i] == '\n')
            line++;
    return line;
}

static int derr(struct dotenv *d, size_t pos, const char *fmt, ...) BT_PRINTF(3, 4);
static int
derr(struct dotenv *d, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    return bt_err_set(d->err, EINVAL, "%s:%d: %s", d->file, line_at(d, pos), msg);
}

/* Double-quoted escapes as Compose reads them: \a \b \f \n \r \t \v \" \\,
 * \0NNN octal, and \$ for a literal dollar; anything else stays as written. */
static char *
expand_escapes(const char *s, size_t len)
{
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 >= len) {
            bt_buf_putc(&b, s[i]);
            continue;
        }
        char c = s[i + 1];
        const char *rep = NULL;
        switch (c) {
        case 'a':
            rep = "\a";
            break;
        case 'b':
            rep = "\b";
            break;
        case 'f':
            rep = "\f";
            break;
        case 'n':
            rep = "\n";
            break;
        case 'r':
            rep = "\r";
            break;
        case 't':
            rep = "\t";
            break;
        case 'v':
            rep = "\v";
            break;
        case '"':
            rep = "\"";
            break;
        case '\\':
            rep = "\\";
            break;
        case '$':
            /* Interpolation runs next: "$$" is its literal dollar. */
            rep = "$$";
            break;
        case '0':
            if (i + 4 < len && s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
                s[i + 3] <= '7' && s[i + 4] >= '0' && s[i + 4] <= '7') {
                int v = (s[i + 2] - '0') * 64 + (s[i + 3] - '0') * 8 + (s[i + 4] - '0');
                if (v <= 255 && v > 0) {
                    bt_buf_putc(&b, (char)v);
                    i += 4;
                    continue;
                }
            }
            break;
        default:
            break;
        }
        if (rep) {
            bt_buf_puts(&b, rep);
            i++;
        } else {
            bt_buf_putc(&b, '\\');
        }
    }
    return bt_buf_steal(&b);
}

static int
expand(struct dotenv *d, const char *raw, size_t pos, char **out)
{
    if (!strchr(raw, '$')) {
        *out = xstrdup(raw);
        return 0;
    }
    /* Earlier values first, the lookup environment over them. */
    _cleanup_strv_ char **env = bt_strv_copy(*d->out);
    for (size_t i = 0; d->lookup && d->lookup[i]; i++)
        env = bt_strv_push(env, d->lookup[i]);
    _cleanup_free_ char *where = xasprintf("%s:%d", d->file, line_at(d, pos));
    return compose_interpolate_string(raw, env, where, out, &d->unset, d->err);
}

/* Parses one statement at d->pos (which is at a non-space, non-comment). */
static int
statement(struct dotenv *d)
{
    const char *s = d->data;
    size_t start = d->pos;
    size_t p = start;
    if (d->len - p > 6 && memcmp(s + p, "export", 6) == 0 && is_space(s[p + 6])) {
        p += 6;
        while (p < d->len && is_space(s[p]))
            p++;
    }
    while (p < d->len && is_blank(s[p]))
        p++;
    size_t kstart = p;
    char term = 0;
    for (; p < d->len; p++) {
        char c = s[p];
        if (is_blank(c))
            continue;
        if (c == '=' || c == ':' || c == '\n') {
            term = c;
            break;
        }
        if (!key_char((unsigned char)c))
            return derr(d, p, "unexpected character \"%c\" in variable name", c);
    }
    size_t kend = p;
    while (kend > kstart && is_blank(s[kend - 1]))
        kend--;
    _cleanup_free_ char *key = xstrndup(s + kstart, kend - kstart);
    for (const char *k = key; *k; k++)
        if (is_blank(*k))
            return derr(d, start, "key cannot contain a space");
    if (!key[0])
        return derr(d, start, "missing variable name before \"%c\"", term ? term : '=');
    if (term != '=' && term != ':') {
        /* A bare name: inherited from the lookup environment when set. */
        const char *v = compose_env_get(d->lookup, key);
        if (v)
            compose_env_set(d->out, key, v);
        d->pos = p < d->len ? p + 1 : p;
        return 0;
    }
    p++;
    while (p < d->len && is_blank(s[p]))
        p++;
    _cleanup_free_ char *value = NULL;
    if (p < d->len && (s[p] == '\'' || s[p] == '"')) {
        char q = s[p];
        size_t j = p + 1;
        for (; j < d->len; j++)
            if (s[j] == q && s[j - 1] != '\\')
                break;
        if (j >= d->len) {
            const char *nl = memchr(s + p, '\n', d->len - p);
            size_t n = nl ? (size_t)(nl - (s + p)) : d->len - p;
            return derr(d, p, "unterminated quoted value %.*s", (int)n, s + p);
        }
        if (q == '"') {
            _cleanup_free_ char *raw = expand_escapes(s + p + 1, j - p - 1);
            int r = expand(d, raw, p, &value);
            if (r < 0)
                return r;
        } else {
            value = xstrndup(s + p + 1, j - p - 1);
        }
        d->pos = j + 1;
    } else {
        const char *nl = memchr(s + p, '\n', d->len - p);
        size_t n = nl ? (size_t)(nl - (s + p)) : d->len - p;
        _cleanup_free_ char *raw = xstrndup(s + p, n);
        char *comment = strstr(raw, " #");
        if (comment)
            *comment = '\0';
        size_t rl = strlen(raw);
        while (rl > 0 && is_blank(raw[rl - 1]))
            raw[--rl] = '\0';
        int r = expand(d, raw, p, &value);
        if (r < 0)
            return r;
        d->pos = p + n;
    }
    compose_env_set(d->out, key, value);
    return 0;
}

int
compose_dotenv_parse(const char *data, size_t len, const char *file, char *const *lookup,
                     char ***out, struct bt_err **err)
{
    struct dotenv d = {.data = data,
                       .len = len,
                       .file = file ? file : "<env>",
                       .lookup = lookup,
                       .out = out,
                       .err = err};
    if (!*out)
        *out = xcalloc(1, sizeof(char *));
    if (memchr(data, '\0', len))
        return bt_err_set(err, EINVAL, "%s: contains a NUL byte", d.file);
    int r = 0;
    while (r == 0) {
        while (d.pos < len && is_space(data[d.pos]))
            d.pos++;
        if (d.pos >= len)
            break;
        if (data[d.pos] == '#') {
            const char *nl = memchr(data + d.pos, '\n', len - d.pos);
            if (!nl)
                break;
            d.pos = (size_t)(nl - data);
            continue;
        }
        r = statement(&d);
    }
    if (r == 0)
        bt_strv_foreach (name, d.unset)
            bt_warn("The \"%s\" variable is not set. Defaulting to a blank string.", name);
    bt_strv_free(d.unset);
    return r;
}

int
compose_dotenv_load(const char *path, char *const *lookup, char ***out, struct bt_err **err)
{
    size_t len = 0;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, err);
    if (!data)
        return bt_err_ret(err);
    return compose_dotenv_parse(data, len, path, lookup, out, err);
}

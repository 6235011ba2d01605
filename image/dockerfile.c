/* image: the Dockerfile parser, variable substitution and the .dockerignore
 * matcher, following the rules of Docker's own parser and shell lexer. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include <jansson.h>

#include "common/cleanup.h"
#include "image/dockerfile.h"

static const char *const known[] = {
    "FROM",   "ARG",   "ENV",     "LABEL",      "WORKDIR",     "USER",
    "RUN",    "COPY",  "ADD",     "CMD",        "ENTRYPOINT",  "EXPOSE",
    "VOLUME", "SHELL", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "MAINTAINER",
};

/* Instructions whose leading --flags belong to the instruction. */
static const char *const with_flags[] = {"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"};
/* Instructions that take an exec (JSON array) form. */
static const char *const with_json[] = {"RUN",    "CMD",  "ENTRYPOINT", "SHELL",
                                        "VOLUME", "COPY", "ADD",        "HEALTHCHECK"};

static bool
in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static void
instr_done(struct image_df_instr *in)
{
    free(in->cmd);
    bt_strv_free(in->flags);
    free(in->args);
    bt_strv_free(in->json);
    free(in->original);
}

void
image_dockerfile_done(struct image_dockerfile *df)
{
    for (size_t i = 0; i < df->n; i++)
        instr_done(&df->v[i]);
    free(df->v);
    *df = (struct image_dockerfile){0};
}

static char *
trim(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

/* The array of strings JSON text s holds, or NULL when it is not one. */
static char **
json_form(const char *s)
{
    if (*s != '[')
        return NULL;
    _cleanup_json_ json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!json_is_array(j))
        return NULL;
    char **v = xcalloc(1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach (j, i, e) {
        if (!json_is_string(e))
            return bt_strv_free(v);
        v = bt_strv_push(v, json_string_value(e));
    }
    return v;
}

/* A parser directive line ("# escape=`"): the key and value, lower-cased key. */
static bool
directive(const char *line, char **key, char **value)
{
    const char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '#')
        return false;
    p++;
    while (isspace((unsigned char)*p))
        p++;
    const char *k = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t kn = (size_t)(p - k);
    while (isspace((unsigned char)*p))
        p++;
    if (!kn || *p != '=')
        return false;
    p++;
    *key = xstrndup(k, kn);
    for (char *c = *key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    *value = trim(p, strlen(p));
    return true;
}

static bool
blank_or_comment(const char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    return *line == '\0' || *line == '#';
}

static int
instr_parse(char *text, int line, char escape, const char *name, struct image_df_instr *in,
            struct bt_err **err)
{
    memset(in, 0, sizeof(*in));
    in->line = line;
    char *p = text;
    while (*p && !isspace((unsigned char)*p))
        p++;
    in->cmd = xstrndup(text, (size_t)(p - text));
    for (char *c = in->cmd; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    if (!in_list(known, BT_ARRAY_SIZE(known), in->cmd))
        return bt_err_set(err, EINVAL, "%s:%d: unknown instruction %s", name, line, in->cmd);
    while (isspace((unsigned char)*p))
        p++;
    in->original = trim(text, strlen(text));
    in->flags = xcalloc(1, sizeof(char *));
    if (in_list(with_flags, BT_ARRAY_SIZE(with_flags), in->cmd)) {
        while (p[0] == '-' && p[1] == '-') {
            char *e = p;
            bool q = false;
            while (*e && (q || !isspace((unsigned char)*e))) {
                if (*e == '"')
                    q = !q;
                else if (*e == escape && e[1])
                    e++;
                e++;
            }
            in->flags = bt_strv_push_take(in->flags, xstrndup(p + 2, (size_t)(e - p - 2)));
            p = e;
            while (isspace((unsigned char)*p))
                p++;
        }
    }
    in->args = trim(p, strlen(p));
    if (!*in->args && strcmp(in->cmd, "ONBUILD") != 0)
        return bt_err_set(err, EINVAL, "%s:%d: %s requires at least one argument", name, line,
                          in->cmd);
    if (in_list(with_json, BT_ARRAY_SIZE(with_json), in->cmd))
        in->json = json_form(in->args);
    return 0;
}

int
image_dockerfile_parse(const char *text, const char *name, struct image_dockerfile *out,
                       struct bt_err **err)
{
    *out = (struct image_dockerfile){.escape = '\\'};
    if (!name)
        name = "Dockerfile";
    _cleanup_strv_ char **lines = bt_strv_split(text, "\n");
    bool directives = true;
    struct bt_buf cur = {0};
    int start = 0;
    size_t n = bt_strv_length(lines);
    for (size_t i = 0; i < n; i++) {
        char *l = lines[i];
        size_t len = strlen(l);
        if (len && l[len - 1] == '\r')
            l[--len] = '\0';
        if (directives) {
            _cleanup_free_ char *k = NULL, *v = NULL;
            if (directive(l, &k, &v)) {
                if (strcmp(k, "escape") == 0) {
                    if (strcmp(v, "\\") != 0 && strcmp(v, "`") != 0) {
                        bt_buf_done(&cur);
                        image_dockerfile_done(out);
                        return bt_err_set(err, EINVAL, "%s:%zu: invalid escape token '%s'", name,
                                          i + 1, v);
                    }
                    out->escape = v[0];
                }
                continue; /* syntax, check and unknown directives change nothing */
            }
            directives = false;
        }
        if (blank_or_comment(l))
            continue; /* also inside a continuation, where they vanish */
        if (cur.len == 0)
            start = (int)i + 1;
        /* a trailing escape character continues the instruction */
        size_t e = len;
        while (e && isspace((unsigned char)l[e - 1]))
            e--;
        bool more = e && l[e - 1] == out->escape;
        bt_buf_append(&cur, l, more ? e - 1 : len);
        if (more && i + 1 < n)
            continue;
        char *t = bt_buf_steal(&cur);
        if (blank_or_comment(t)) {
            free(t);
            continue;
        }
        out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
        int r = instr_parse(t, start, out->escape, name, &out->v[out->n], err);
        out->n++;
        free(t);
        if (r < 0) {
            bt_buf_done(&cur);
            image_dockerfile_done(out);
            return r;
        }
    }
    bt_buf_done(&cur);
    return 0;
}

const char *
image_df_flag(const struct image_df_instr *in, const char *name)
{
    size_t n = strlen(name);
    bt_strv_foreach (f, in->flags) {
        if (strncmp(f, name, n) == 0 && (f[n] == '=' || f[n] == '\0'))
            return f[n] ? f + n + 1 : "";
    }
    return NULL;
}

/* ---- substitution ---- */

struct lexer {
    const char *s;
    size_t i;
    char escape;
    image_df_lookup_fn lookup;
    void *data;
    struct bt_err **err;
    char ***split; /* word splitting: unquoted expansions split on blanks into here */
};

static bool
name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int lex_word(struct lexer *lx, const char *stop, struct bt_buf *out);

/* At '$': appends the expansion to out. */
static int
lex_dollar(struct lexer *lx, struct bt_buf *out)
{
    const char *s = lx->s;
    lx->i++; /* '$' */
    if (s[lx->i] != '{') {
        size_t b = lx->i;
        while (name_char(s[lx->i]))
            lx->i++;
        if (b == lx->i) {
            bt_buf_putc(out, '$');
            return 0;
        }
        _cleanup_free_ char *name = xstrndup(s + b, lx->i - b);
        const char *v = lx->lookup ? lx->lookup(lx->data, name) : NULL;
        bt_buf_puts(out, v ? v : "");
        return 0;
    }
    lx->i++; /* '{' */
    size_t b = lx->i;
    while (name_char(s[lx->i]))
        lx->i++;
    if (b == lx->i)
        return bt_err_set(lx->err, EINVAL, "bad substitution in '%s'", s);
    _cleanup_free_ char *name = xstrndup(s + b, lx->i - b);
    const char *v = lx->lookup ? lx->lookup(lx->data, name) : NULL;
    if (s[lx->i] == '}') {
        lx->i++;
        bt_buf_puts(out, v ? v : "");
        return 0;
    }
    bool colon = s[lx->i] == ':';
    if (colon)
        lx->i++;
    char op = s[lx->i];
    if (op != '-' && op != '+')
        return bt_err_set(lx->err, EINVAL, "unsupported modifier (%c) in substitution '%s'",
                          op ? op : ' ', s);
    lx->i++;
    struct bt_buf word = {0};
    char ***split = lx->split; /* the default is one piece; the caller splits the result */
    lx->split = NULL;
    int r = lex_word(lx, "}", &word);
    lx->split = split;
    if (r >= 0 && s[lx->i] != '}')
        r = bt_err_set(lx->err, EINVAL, "missing '}' in substitution '%s'", s);
    if (r < 0) {
        bt_buf_done(&word);
        return r;
    }
    lx->i++;
    bool set = v && (!colon || *v);
    if (op == '-')
        bt_buf_puts(out, set ? v : (word.data ? word.data : ""));
    else if (set)
        bt_buf_puts(out, word.data ? word.data : "");
    bt_buf_done(&word);
    return 0;
}

/* Reads until a character of stop (unquoted) or the end; quotes removed,
 * escapes applied, variables expanded. */
static int
lex_word(struct lexer *lx, const char *stop, struct bt_buf *out)
{
    const char *s = lx->s;
    while (s[lx->i] && !strchr(stop, s[lx->i])) {
        char c = s[lx->i];
        if (c == lx->escape) {
            if (s[lx->i + 1]) {
                bt_buf_putc(out, s[lx->i + 1]);
                lx->i += 2;
            } else {
                bt_buf_putc(out, c);
                lx->i++;
            }
        } else if (c == '\'') {
            lx->i++;
            while (s[lx->i] && s[lx->i] != '\'')
                bt_buf_putc(out, s[lx->i++]);
            if (!s[lx->i])
                return bt_err_set(lx->err, EINVAL,
                                  "unexpected end of statement while looking "
                                  "for matching single-quote in '%s'",
                                  s);
            lx->i++;
        } else if (c == '"') {
            lx->i++;
            while (s[lx->i] && s[lx->i] != '"') {
                char next = s[lx->i + 1];
                if (s[lx->i] == lx->escape && (next == '"' || next == '$' || next == lx->escape)) {
                    bt_buf_putc(out, s[lx->i + 1]);
                    lx->i += 2;
                } else if (s[lx->i] == '$') {
                    int r = lex_dollar(lx, out);
                    if (r < 0)
                        return r;
                } else {
                    bt_buf_putc(out, s[lx->i++]);
                }
            }
            if (!s[lx->i])
                return bt_err_set(lx->err, EINVAL,
                                  "unexpected end of statement while looking "
                                  "for matching double-quote in '%s'",
                                  s);
            lx->i++;
        } else if (c == '$' && lx->split) {
            struct bt_buf v = {0};
            int r = lex_dollar(lx, &v);
            for (size_t k = 0; r >= 0 && k < v.len; k++) {
                if (!isspace((unsigned char)v.data[k]))
                    bt_buf_putc(out, v.data[k]);
                else if (out->len)
                    *lx->split = bt_strv_push_take(*lx->split, bt_buf_steal(out));
            }
            bt_buf_done(&v);
            if (r < 0)
                return r;
        } else if (c == '$') {
            int r = lex_dollar(lx, out);
            if (r < 0)
                return r;
        } else {
            bt_buf_putc(out, c);
            lx->i++;
        }
    }
    return 0;
}

char *
image_df_expand(const char *s, char escape, image_df_lookup_fn lookup, void *data,
                struct bt_err **err)
{
    struct lexer lx = {.s = s, .escape = escape, .lookup = lookup, .data = data, .err = err};
    struct bt_buf b = {0};
    if (lex_word(&lx, "", &b) < 0) {
        bt_buf_done(&b);
        return NULL;
    }
    return bt_buf_steal(&b);
}

char **
image_df_words(const char *s, char escape, image_df_lookup_fn lookup, void *data,
               struct bt_err **err)
{
    char **words = xcalloc(1, sizeof(char *));
    struct lexer lx = {
        .s = s, .escape = escape, .lookup = lookup, .data = data, .err = err, .split = &words};
    for (;;) {
        while (s[lx.i] && isspace((unsigned char)s[lx.i]))
            lx.i++;
        if (!s[lx.i])
            return words;
        struct bt_buf b = {0};
        size_t before = bt_strv_length(words), start = lx.i;
        if (lex_word(&lx, " \t\r\n", &b) < 0) {
            bt_buf_done(&b);
            bt_strv_free(words);
            return NULL;
        }
        /* an expansion to nothing is no word; "" is an empty one */
        bool quoted = memchr(s + start, '"', lx.i - start) || memchr(s + start, '\'', lx.i - start);
        if (b.len || (quoted && bt_strv_length(words) == before))
            words = bt_strv_push_take(words, bt_buf_steal(&b));
        else
            bt_buf_done(&b);
    }
}

/* ---- patterns ---- */

bool
image_glob_has_meta(const char *s)
{
    return strpbrk(s, "*?[\\") != NULL;
}

/* One character of s against the class at p ("[...]"); *end gets the
 * position after it. */
static bool
class_match(const char *p, char c, const char **end)
{
    const char *q = p + 1;
    if (*q == '!' || *q == '^')
        q++;
    if (*q == ']')
        q++;
    while (*q && *q != ']')
        q++;
    if (!*q) {
        *end = NULL;
        return false;
    }
    *end = q + 1;
    _cleanup_free_ char *cls = xstrndup(p, (size_t)(q + 1 - p));
    if (cls[1] == '^')
        cls[1] = '!';
    char one[2] = {c, '\0'};
    return fnmatch(cls, one, 0) == 0;
}

bool
image_glob_match(const char *p, const char *s)
{
    while (*p) {
        if (p[0] == '*' && p[1] == '*') {
            const char *rest = p + 2;
            if (*rest == '/') {
                rest++;
                if (image_glob_match(rest, s))
                    return true;
                for (const char *q = s; *q; q++)
                    if (*q == '/' && image_glob_match(rest, q + 1))
                        return true;
                return false;
            }
            for (const char *q = s;; q++) {
                if (image_glob_match(rest, q))
                    return true;
                if (!*q)
                    return false;
            }
        }
        switch (*p) {
        case '*':
            for (const char *q = s;; q++) {
                if (image_glob_match(p + 1, q))
                    return true;
                if (!*q || *q == '/')
                    return false;
            }
        case '?':
            if (!*s || *s == '/')
                return false;
            p++, s++;
            break;
        case '[': {
            const char *end = NULL;
            if (!*s || *s == '/' || !class_match(p, *s, &end))
                return false;
            p = end, s++;
            break;
        }
        case '\\':
            if (p[1])
                p++;
            __attribute__((fallthrough));
        default:
            if (*p != *s)
                return false;
            p++, s++;
        }
    }
    return *s == '\0';
}

void
image_ignore_parse(const char *text, struct image_ignore *out)
{
    *out = (struct image_ignore){0};
    _cleanup_strv_ char **lines = bt_strv_split(text, "\n");
    bt_strv_foreach (l, lines) {
        _cleanup_free_ char *t = trim(l, strlen(l));
        if (!*t || *t == '#')
            continue;
        bool ex = *t == '!';
        _cleanup_free_ char *body = trim(t + ex, strlen(t + ex));
        _cleanup_free_ char *clean = bt_path_clean(*body ? body : ".");
        const char *c = clean;
        while (*c == '/')
            c++;
        if (!*c)
            continue;
        out->patterns = xreallocarray(out->patterns, out->n + 2, sizeof(char *));
        out->exclude = xreallocarray(out->exclude, out->n + 1, sizeof(bool));
        out->patterns[out->n] = xstrdup(c);
        out->patterns[out->n + 1] = NULL;
        out->exclude[out->n] = ex;
        out->n++;
    }
}

void
image_ignore_done(struct image_ignore *ig)
{
    bt_strv_free(ig->patterns);
    free(ig->exclude);
    *ig = (struct image_ignore){0};
}

/* The pattern matches path or one of its parent directories. */
static bool
match_or_parent(const char *pattern, const char *path)
{
    if (image_glob_match(pattern, path))
        return true;
    _cleanup_free_ char *p = xstrdup(path);
    for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
        *slash = '\0';
        if (image_glob_match(pattern, p))
            return true;
    }
    return false;
}

bool
image_ignore_match(const struct image_ignore *ig, const char *path)
{
    bool ignored = false;
    for (size_t i = 0; i < ig->n; i++) {
        if (ig->exclude[i] == !ignored)
            continue; /* cannot change the outcome */
        if (match_or_parent(ig->patterns[i], path))
            ignored = !ig->exclude[i];
    }
    return ignored;
}

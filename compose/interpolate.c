/* Variable interpolation with Compose's rules: $VAR, ${VAR}, the default
 * (:- and -), required (:? and ?) and alternative (:+ and +) forms, nesting
 * inside the argument of an operator, and $$ for a literal dollar.
 *
 * Names are [A-Za-z_][A-Za-z0-9_]*. A '$' that starts none of these forms is
 * an error, as in Compose ("You may need to escape any $ with another $").
 * The argument of an operator is only interpolated when it is used, as a
 * shell does. */
#include <string.h>

#include "compose/load-internal.h"

struct interp {
    char *const *env;
    const char *where;
    const char *tmpl; /* the whole input, for messages */
    char ***unset;
    struct bt_err **err;
};

static bool
name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static int
invalid(struct interp *ip, const char *why)
{
    return bt_err_set(ip->err, EINVAL,
                      "%s: invalid interpolation format \"%s\": %s (you may need to escape any $ "
                      "with another $)",
                      ip->where, ip->tmpl, why);
}

static const char *
lookup(struct interp *ip, const char *name)
{
    return compose_env_get(ip->env, name);
}

static void
note_unset(struct interp *ip, const char *name)
{
    if (ip->unset && !bt_strv_contains(*ip->unset, name))
        *ip->unset = bt_strv_push(*ip->unset, name);
}

static int subst(struct interp *ip, const char *s, size_t len, struct bt_buf *out);

/* Finds the '}' closing an operator argument that starts at s, skipping
 * nested ${...}. Returns its offset or -1. */
static ssize_t
closing_brace(const char *s, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
            i++;
            continue;
        }
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            depth++;
            i++;
            continue;
        }
        if (s[i] == '}') {
            if (depth == 0)
                return (ssize_t)i;
            depth--;
        }
    }
    return -1;
}

/* Handles ${...} starting at s (pointing at '$'); *used is what it consumed. */
static int
braced(struct interp *ip, const char *s, size_t len, struct bt_buf *out, size_t *used)
{
    size_t k = 2;
    if (k >= len)
        return invalid(ip, "\"${\" is not closed");
    if (!name_start(s[k]))
        return invalid(ip, "\"${\" must be followed by a variable name");
    while (k < len && name_char(s[k]))
        k++;
    _cleanup_free_ char *name = xstrndup(s + 2, k - 2);
    if (k >= len)
        return invalid(ip, "\"${\" is not closed");
    const char *val = lookup(ip, name);
    if (s[k] == '}') {
        if (!val)
            note_unset(ip, name);
        bt_buf_puts(out, val ? val : "");
        *used = k + 1;
        return 0;
    }
    bool colon = false;
    if (s[k] == ':') {
        colon = true;
        k++;
    }
    if (k >= len || !strchr("-?+", s[k]) || !s[k])
        return invalid(ip, colon ? "expected '-', '?' or '+' after ':'"
                                 : "expected '}' or an operator (:-, -, :?, ?, :+, +) after "
                                   "the variable name");
    char op = s[k++];
    ssize_t close = closing_brace(s + k, len - k);
    if (close < 0)
        return invalid(ip, "\"${\" is not closed");
    const char *arg = s + k;
    size_t arglen = (size_t)close;
    *used = k + (size_t)close + 1;
    /* With ':' an empty value counts as unset. */
    bool set = val && (!colon || val[0]);
    switch (op) {
    case '-':
        if (set) {
            bt_buf_puts(out, val);
            return 0;
        }
        return subst(ip, arg, arglen, out);
    case '+':
        if (!set)
            return 0;
        return subst(ip, arg, arglen, out);
    case '?':
    default: {
        if (set) {
            bt_buf_puts(out, val);
            return 0;
        }
        struct bt_buf msg = {0};
        int r = subst(ip, arg, arglen, &msg);
        if (r < 0) {
            bt_buf_done(&msg);
            return r;
        }
        _cleanup_free_ char *m = bt_buf_steal(&msg);
        return bt_err_set(ip->err, EINVAL, "%s: required variable %s is missing a value%s%s",
                          ip->where, name, m[0] ? ": " : "", m);
    }
    }
}

static int
subst(struct interp *ip, const char *s, size_t len, struct bt_buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *d = memchr(s + i, '$', len - i);
        if (!d) {
            bt_buf_append(out, s + i, len - i);
            break;
        }
        bt_buf_append(out, s + i, (size_t)(d - (s + i)));
        i = (size_t)(d - s);
        if (i + 1 < len && s[i + 1] == '$') {
            bt_buf_putc(out, '$');
            i += 2;
        } else if (i + 1 < len && name_start(s[i + 1])) {
            size_t k = i + 1;
            while (k < len && name_char(s[k]))
                k++;
            _cleanup_free_ char *name = xstrndup(s + i + 1, k - i - 1);
            const char *val = lookup(ip, name);
            if (!val)
                note_unset(ip, name);
            bt_buf_puts(out, val ? val : "");
            i = k;
        } else if (i + 1 < len && s[i + 1] == '{') {
            size_t used = 0;
            int r = braced(ip, s + i, len - i, out, &used);
            if (r < 0)
                return r;
            i += used;
        } else {
            return invalid(ip, "\"$\" must be followed by a name, \"{\" or \"$\"");
        }
    }
    return 0;
}

int
compose_interpolate_string(const char *in, char *const *env, const char *where, char **out,
                           char ***unset, struct bt_err **err)
{
    struct interp ip = {
        .env = env, .where = where ? where : "<input>", .tmpl = in, .unset = unset, .err = err};
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    int r = subst(&ip, in, strlen(in), &b);
    if (r < 0) {
        bt_buf_done(&b);
        return r;
    }
    *out = bt_buf_steal(&b);
    return 0;
}

static int
walk(struct cnode *n, struct bt_buf *path, char *const *env, char ***unset, struct bt_err **err)
{
    size_t mark = path->len;
    int r = 0;
    switch (n->kind) {
    case CNODE_SCALAR: {
        if (!strchr(n->value, '$'))
            return 0;
        _cleanup_free_ char *pos = cnode_pos(n);
        _cleanup_free_ char *where =
            path->len ? xasprintf("%s: %s", pos, path->data) : xstrdup(pos);
        char *v = NULL;
        r = compose_interpolate_string(n->value, env, where, &v, unset, err);
        if (r < 0)
            return r;
        free(n->value);
        n->value = v;
        /* The result of a substitution is a string, as in Compose (where
         * values are typed from strings later, per key). */
        n->quoted = true;
        return 0;
    }
    case CNODE_MAP:
        for (size_t i = 0; i < n->n && r == 0; i++) {
            bt_buf_printf(path, "%s%s", mark ? "." : "", n->keys[i]->value);
            r = walk(n->items[i], path, env, unset, err);
            path->len = mark;
            path->data[mark] = '\0';
        }
        return r;
    case CNODE_SEQ:
        for (size_t i = 0; i < n->n && r == 0; i++) {
            bt_buf_printf(path, "[%zu]", i);
            r = walk(n->items[i], path, env, unset, err);
            path->len = mark;
            path->data[mark] = '\0';
        }
        return r;
    }
    return 0;
}

int
compose_interpolate_tree(struct cnode *root, char *const *env, struct bt_err **err)
{
    struct bt_buf path = {0};
    bt_buf_puts(&path, "");
    _cleanup_strv_ char **unset = NULL;
    int r = walk(root, &path, env, &unset, err);
    bt_buf_done(&path);
    if (r < 0)
        return r;
    bt_strv_foreach (name, unset)
        bt_warn("The \"%s\" variable is not set. Defaulting to a blank string.", name);
    return 0;
}

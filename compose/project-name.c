/* The project name, with Compose's precedence: -p, COMPOSE_PROJECT_NAME,
 * the top-level `name:`, then the project directory's basename normalised
 * (lowercased, characters outside [a-z0-9_-] dropped, leading '_' and '-'
 * trimmed). Explicit names are not normalised: an invalid one is an error. */
#include <ctype.h>
#include <string.h>

#include "compose/load-internal.h"

static char *
normalize(const char *s)
{
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    for (; *s; s++) {
        char c = (char)tolower((unsigned char)*s);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            if (b.len == 0 && (c == '_' || c == '-'))
                continue;
            bt_buf_putc(&b, c);
        }
    }
    return bt_buf_steal(&b);
}

static int
check(const char *name, const char *where, struct bt_err **err)
{
    _cleanup_free_ char *norm = normalize(name);
    if (name[0] && strcmp(norm, name) == 0)
        return 0;
    return bt_err_set(err, EINVAL,
                      "%sinvalid project name \"%s\": must consist only of lowercase alphanumeric "
                      "characters, hyphens, and underscores as well as start with a letter or "
                      "number",
                      where, name);
}

int
compose_project_name_resolve(const char *flag, char *const *env, const struct cnode *root,
                             const char *project_dir, char **out, struct bt_err **err)
{
    *out = NULL;
    if (flag && flag[0]) {
        int r = check(flag, "", err);
        if (r < 0)
            return r;
        *out = xstrdup(flag);
        return 0;
    }
    const char *e = compose_env_get(env, "COMPOSE_PROJECT_NAME");
    if (e && e[0]) {
        int r = check(e, "COMPOSE_PROJECT_NAME: ", err);
        if (r < 0)
            return r;
        *out = xstrdup(e);
        return 0;
    }
    const struct cnode *n = cnode_map_get(root, "name");
    if (n && !cnode_is_null(n)) {
        _cleanup_free_ char *pos = cnode_pos(n);
        _cleanup_free_ char *where = xasprintf("%s: name: ", pos);
        if (n->kind != CNODE_SCALAR)
            return bt_err_set(err, EINVAL, "%sexpected a string, got %s", where,
                              cnode_kind_name(n));
        if (n->value[0]) {
            int r = check(n->value, where, err);
            if (r < 0)
                return r;
            *out = xstrdup(n->value);
            return 0;
        }
    }
    char *base = normalize(bt_path_basename(project_dir ? project_dir : ""));
    if (!base[0]) {
        free(base);
        return bt_err_set(err, EINVAL,
                          "cannot derive a project name from the directory '%s': give one with "
                          "-p, COMPOSE_PROJECT_NAME or a top-level name:",
                          project_dir ? project_dir : "");
    }
    *out = base;
    return 0;
}

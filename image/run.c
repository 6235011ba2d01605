/* image: what a container runs, from its image's config and the
 * service's overrides, by Docker's rules. */
#include <string.h>

#include "image/image.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void
image_run_done(struct image_run *r)
{
    bt_strv_free(r->argv);
    bt_strv_free(r->env);
    free(r->cwd);
    free(r->user);
    *r = (struct image_run){0};
}

static size_t
key_len(const char *kv)
{
    return strcspn(kv, "=");
}

/* Sets kv in env, replacing an entry with the same key. */
static char **
env_put(char **env, const char *kv)
{
    size_t kn = key_len(kv);
    for (char **e = env; e && *e; e++) {
        if (key_len(*e) == kn && strncmp(*e, kv, kn) == 0) {
            free(*e);
            *e = xstrdup(kv);
            return env;
        }
    }
    return bt_strv_push(env, kv);
}

int
image_config_apply(const struct image_config *c, const struct image_run_overrides *o,
                   struct image_run *out, struct bt_err **err)
{
    static const struct image_run_overrides none = {0};
    if (!o)
        o = &none;
    *out = (struct image_run){0};
    /* An overridden entrypoint drops the image's Cmd, as docker run
     * --entrypoint and compose's entrypoint do. */
    char *const *ep = o->entrypoint_set ? o->entrypoint : c->entrypoint;
    char *const *cmd = o->command_set ? o->command : o->entrypoint_set ? NULL : c->cmd;
    char **argv = bt_strv_copy((char **)ep);
    bt_strv_foreach (a, (char **)cmd) {
        argv = bt_strv_push(argv, a);
    }
    if (!argv || !*argv) {
        bt_strv_free(argv);
        return bt_err_set(err, EINVAL,
                          "no command specified: the image has no Entrypoint or "
                          "Cmd, and none was given");
    }
    char **env = NULL;
    bt_strv_foreach (e, c->env) {
        env = env_put(env, e);
    }
    bt_strv_foreach (e, o->env) {
        if (key_len(e) == 0 || !strchr(e, '=')) {
            bt_strv_free(argv);
            bt_strv_free(env);
            return bt_err_set(err, EINVAL, "environment entry '%s' is not KEY=VALUE", e);
        }
        env = env_put(env, e);
    }
    bool have_path = false;
    bt_strv_foreach (e, env) {
        have_path |= bt_str_startswith(e, "PATH=");
    }
    if (!have_path)
        env = bt_strv_push(env, DEFAULT_PATH);
    out->argv = argv;
    out->env = env;
    out->cwd = xstrdup(o->working_dir && *o->working_dir ? o->working_dir
                       : c->working_dir                  ? c->working_dir
                                                         : "/");
    out->user = xstrdup(o->user && *o->user ? o->user : c->user ? c->user : "");
    return 0;
}

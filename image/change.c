/* image: Dockerfile-style --change instructions for `import`. */
#include <ctype.h>
#include <string.h>

#include "image/image-internal.h"

static const char *
skip_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* A JSON array of strings ("exec form"), or NULL when s is not one. */
static json_t *
exec_form(const char *s)
{
    if (*s != '[')
        return NULL;
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!json_is_array(j)) {
        if (j)
            json_decref(j);
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach (j, i, v) {
        if (!json_is_string(v)) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* Splits "a=1 b='x y' c" into words, honouring quotes and backslashes. */
static char **
words(const char *s)
{
    char **v = NULL;
    for (;;) {
        s = skip_space(s);
        if (!*s)
            return v;
        struct bt_buf b = {0};
        bt_buf_puts(&b, "");
        char quote = 0;
        for (; *s && (quote || !isspace((unsigned char)*s)); s++) {
            if (quote && *s == quote) {
                quote = 0;
            } else if (!quote && (*s == '"' || *s == '\'')) {
                quote = *s;
            } else if (*s == '\\' && s[1] && quote != '\'') {
                bt_buf_putc(&b, *++s);
            } else {
                bt_buf_putc(&b, *s);
            }
        }
        v = bt_strv_push_take(v, bt_buf_steal(&b));
    }
}

void
image_config_env_set(json_t *cfg, const char *key, const char *val)
{
    json_t *env = json_object_get(cfg, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(cfg, "Env", env);
    }
    _cleanup_free_ char *kv = xasprintf("%s=%s", key, val);
    size_t kn = strlen(key);
    size_t i;
    json_t *v;
    json_array_foreach (env, i, v) {
        const char *e = json_string_value(v);
        if (e && strncmp(e, key, kn) == 0 && e[kn] == '=') {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

json_t *
image_config_object(json_t *cfg, const char *key)
{
    json_t *o = json_object_get(cfg, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(cfg, key, o);
    }
    return o;
}

/* key=value pairs (ENV, LABEL); ENV also takes "KEY value". */
static int
pairs(json_t *cfg, const char *what, const char *rest, bool env, struct bt_err **err)
{
    _cleanup_strv_ char **w = words(rest);
    if (!w)
        return bt_err_set(err, EINVAL, "%s needs at least one argument", what);
    if (env && !strchr(w[0], '=')) {
        const char *val = skip_space(rest + strcspn(skip_space(rest), " \t"));
        image_config_env_set(cfg, w[0], val);
        return 0;
    }
    bt_strv_foreach (p, w) {
        char *eq = strchr(p, '=');
        if (!eq || eq == p)
            return bt_err_set(err, EINVAL, "%s: '%s' is not key=value", what, p);
        *eq = '\0';
        if (env)
            image_config_env_set(cfg, p, eq + 1);
        else
            json_object_set_new(image_config_object(cfg, "Labels"), p, json_string(eq + 1));
    }
    return 0;
}

int
image_config_change(json_t *cfg, const char *change, struct bt_err **err)
{
    const char *s = skip_space(change);
    size_t n = strcspn(s, " \t");
    _cleanup_free_ char *ins = xstrndup(s, n);
    for (char *p = ins; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *rest = skip_space(s + n);
    if (strcmp(ins, "CMD") == 0 || strcmp(ins, "ENTRYPOINT") == 0) {
        const char *key = ins[0] == 'C' ? "Cmd" : "Entrypoint";
        json_t *arr = exec_form(rest);
        if (!arr) {
            if (*rest == '[')
                return bt_err_set(err, EINVAL, "%s: '%s' is not a JSON array of strings", ins,
                                  rest);
            arr = *rest ? json_pack("[s, s, s]", "/bin/sh", "-c", rest) : json_array();
        }
        json_object_set_new(cfg, key, arr);
        return 0;
    }
    if (strcmp(ins, "ENV") == 0)
        return pairs(cfg, ins, rest, true, err);
    if (strcmp(ins, "LABEL") == 0)
        return pairs(cfg, ins, rest, false, err);
    if (strcmp(ins, "EXPOSE") == 0) {
        _cleanup_strv_ char **w = words(rest);
        if (!w)
            return bt_err_set(err, EINVAL, "EXPOSE needs at least one port");
        bt_strv_foreach (p, w) {
            int64_t port;
            _cleanup_free_ char *num = xstrndup(p, strcspn(p, "/"));
            const char *proto = strchr(p, '/') ? strchr(p, '/') + 1 : "tcp";
            if (!bt_parse_int64(num, &port) || port < 1 || port > 65535 ||
                (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")))
                return bt_err_set(err, EINVAL, "EXPOSE: '%s' is not PORT[/tcp|udp|sctp]", p);
            _cleanup_free_ char *key = xasprintf("%lld/%s", (long long)port, proto);
            json_object_set_new(image_config_object(cfg, "ExposedPorts"), key, json_object());
        }
        return 0;
    }
    if (strcmp(ins, "VOLUME") == 0) {
        _cleanup_json_ json_t *arr = exec_form(rest);
        _cleanup_strv_ char **w = arr ? NULL : words(rest);
        size_t i;
        json_t *v;
        json_array_foreach (arr, i, v) {
            w = bt_strv_push(w, json_string_value(v));
        }
        if (!w)
            return bt_err_set(err, EINVAL, "VOLUME needs at least one path");
        bt_strv_foreach (p, w) {
            if (p[0] != '/')
                return bt_err_set(err, EINVAL, "VOLUME: '%s' is not an absolute path", p);
            json_object_set_new(image_config_object(cfg, "Volumes"), p, json_object());
        }
        return 0;
    }
    const char *key = strcmp(ins, "USER") == 0         ? "User"
                      : strcmp(ins, "WORKDIR") == 0    ? "WorkingDir"
                      : strcmp(ins, "STOPSIGNAL") == 0 ? "StopSignal"
                                                       : NULL;
    if (!key)
        return bt_err_set(err, EINVAL,
                          "'%s' cannot be changed (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                          "STOPSIGNAL, USER, VOLUME, WORKDIR can)",
                          *ins ? ins : change);
    if (!*rest)
        return bt_err_set(err, EINVAL, "%s needs an argument", ins);
    if (strcmp(ins, "WORKDIR") == 0 && rest[0] != '/')
        return bt_err_set(err, EINVAL, "WORKDIR: '%s' is not an absolute path", rest);
    json_object_set_new(cfg, key, json_string(rest));
    return 0;
}

/* image: registry credentials in ~/.docker/config.json, as docker login
 * keeps them ({"auths": {"host": {"auth": base64("user:password")}}}), so
 * that one login serves both tools. */
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image/registry-internal.h"

#define DOCKER_HUB_AUTH_KEY "https://index.docker.io/v1/"

char *
image_auth_config_path(void)
{
    const char *dir = getenv("DOCKER_CONFIG");
    if (dir && *dir)
        return bt_path_join(dir, "config.json");
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/root";
    }
    return xasprintf("%s/.docker/config.json", home);
}

char *
image_base64(const void *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decodes base64 into a NUL-terminated string; NULL when malformed. */
static char *
base64_decode(const char *in)
{
    size_t n = strlen(in);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 1);
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as output bytes. */
    while (n > 0 && in[n - 1] == '=') {
        len--;
        n--;
    }
    out[len] = '\0';
    return (char *)out;
}

/* The config.json key for a registry host. */
static char *
auth_key(const char *host)
{
    if (strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
        strcmp(host, "registry-1.docker.io") == 0)
        return xstrdup(DOCKER_HUB_AUTH_KEY);
    return xstrdup(host);
}

/* The host part of a config.json key ("https://host/v1/" -> "host"). */
static char *
key_host(const char *key)
{
    const char *p = key;
    if (bt_str_startswith(p, "https://"))
        p += 8;
    else if (bt_str_startswith(p, "http://"))
        p += 7;
    return xstrndup(p, strcspn(p, "/"));
}

int
image_auth_lookup(const char *host, char **user, char **password)
{
    *user = *password = NULL;
    _cleanup_free_ char *path = image_auth_config_path();
    _cleanup_json_ json_t *cfg = json_load_file(path, 0, NULL);
    json_t *auths = json_object_get(cfg, "auths");
    _cleanup_free_ char *want = auth_key(host);
    _cleanup_free_ char *want_host = key_host(want);
    const char *k;
    json_t *v;
    json_object_foreach (auths, k, v) {
        _cleanup_free_ char *h = key_host(k);
        if (strcmp(k, want) != 0 && strcmp(h, want_host) != 0)
            continue;
        const char *auth = bt_json_str(v, "auth");
        if (auth && *auth) {
            _cleanup_free_ char *dec = base64_decode(auth);
            char *colon = dec ? strchr(dec, ':') : NULL;
            if (!colon)
                continue;
            *user = xstrndup(dec, (size_t)(colon - dec));
            *password = xstrdup(colon + 1);
            return 1;
        }
        const char *u = bt_json_str(v, "username");
        const char *p = bt_json_str(v, "password");
        if (u && p) {
            *user = xstrdup(u);
            *password = xstrdup(p);
            return 1;
        }
    }
    return 0;
}

static int
auth_save(json_t *cfg, struct bt_err **err)
{
    _cleanup_free_ char *path = image_auth_config_path();
    _cleanup_free_ char *dir = bt_path_dirname(path);
    int r = bt_mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *s = json_dumps(cfg, JSON_INDENT(1) | JSON_SORT_KEYS);
    /* credentials: readable by the user only */
    return bt_file_write_atomic(path, s, strlen(s), 0600, err);
}

int
image_auth_store(const char *host, const char *user, const char *password, struct bt_err **err)
{
    _cleanup_free_ char *path = image_auth_config_path();
    _cleanup_json_ json_t *cfg =
        bt_path_exists(path) ? bt_json_load_file(path, err) : json_object();
    if (!cfg)
        return bt_err_ret(err);
    if (!json_is_object(json_object_get(cfg, "auths")))
        json_object_set_new(cfg, "auths", json_object());
    _cleanup_free_ char *pair = xasprintf("%s:%s", user, password);
    _cleanup_free_ char *b64 = image_base64(pair, strlen(pair));
    _cleanup_free_ char *key = auth_key(host);
    json_object_set_new(json_object_get(cfg, "auths"), key, json_pack("{s:s}", "auth", b64));
    return auth_save(cfg, err);
}

int
image_logout(const char *registry, struct bt_err **err)
{
    const char *host = registry && *registry ? registry : "docker.io";
    _cleanup_free_ char *path = image_auth_config_path();
    _cleanup_json_ json_t *cfg = json_load_file(path, 0, NULL);
    json_t *auths = json_object_get(cfg, "auths");
    _cleanup_free_ char *want = auth_key(host);
    _cleanup_free_ char *want_host = key_host(want);
    _cleanup_strv_ char **drop = NULL;
    const char *k;
    json_t *v;
    json_object_foreach (auths, k, v) {
        _cleanup_free_ char *h = key_host(k);
        if (strcmp(k, want) == 0 || strcmp(h, want_host) == 0)
            drop = bt_strv_push(drop, k);
    }
    if (!drop)
        return bt_err_set(err, ENOENT, "not logged in to %s", host);
    bt_strv_foreach (d, drop) {
        json_object_del(auths, d);
    }
    return auth_save(cfg, err);
}

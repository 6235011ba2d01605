/* berth inspect: any object by name or id, looked up as Docker does it:
 * containers first, then images, volumes and networks. Containers carry
 * their NetworkSettings from the network state, so
 * -f '{{.NetworkSettings.IPAddress}}' answers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "engine/engine.h"
#include "image/image.h"
#include "net/net.h"
#include "volumes/volumes.h"

DEFINE_CLEANUP(struct net_ctx *, net_ctx_free)
#define _cleanup_net_ctx_ _cleanup_(net_ctx_freep)

/* ---- -f: {{.A.B}} and {{json .A}} ---- */

static char *
render_value(json_t *v, bool as_json)
{
    if (!v)
        return xstrdup("<no value>");
    if (as_json || json_is_object(v) || json_is_array(v))
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_true(v))
        return xstrdup("true");
    if (json_is_false(v))
        return xstrdup("false");
    if (json_is_null(v))
        return xstrdup("<nil>");
    if (json_is_integer(v))
        return xasprintf("%lld", (long long)json_integer_value(v));
    return xasprintf("%g", json_real_value(v));
}

int
cli_template_render(const char *tmpl, json_t *obj, struct bt_buf *out, struct bt_err **err)
{
    const char *p = tmpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            bt_buf_puts(out, p);
            break;
        }
        bt_buf_append(out, p, (size_t)(open - p));
        const char *close = strstr(open, "}}");
        if (!close)
            return bt_err_set(err, EINVAL, "template: unclosed action");
        _cleanup_free_ char *expr = xstrndup(open + 2, (size_t)(close - open - 2));
        char *e = expr;
        while (*e == ' ')
            e++;
        size_t el = strlen(e);
        while (el && e[el - 1] == ' ')
            e[--el] = '\0';
        bool as_json = false;
        if (bt_str_startswith(e, "json ")) {
            as_json = true;
            e += 5;
            while (*e == ' ')
                e++;
        }
        if (e[0] != '.')
            return bt_err_set(err, EINVAL, "template: unsupported action '%s'", e);
        json_t *v = obj;
        if (e[1]) {
            _cleanup_strv_ char **keys = bt_strv_split(e + 1, ".");
            bt_strv_foreach (k, keys)
                v = v ? json_object_get(v, k) : NULL;
        }
        _cleanup_free_ char *s = render_value(v, as_json);
        bt_buf_puts(out, s);
        p = close + 2;
    }
    return 0;
}

/* ---- containers ---- */

json_t *
cli_container_inspect_json(const char *id, struct bt_err **err)
{
    json_t *j = engine_container_inspect(id, err);
    if (!j)
        return NULL;
    struct bt_err *e = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&e);
    json_t *ns = ctx ? net_container_settings_json(ctx, id, &e) : NULL;
    if (!ns) {
        json_decref(j);
        bt_err_move(err, &e);
        return NULL;
    }
    json_object_set_new(j, "NetworkSettings", ns);
    return j;
}

/* ---- lookup ---- */

enum kind { K_ANY, K_CONTAINER, K_IMAGE, K_VOLUME, K_NETWORK };

static int
find_container(const char *ref, json_t **out, struct bt_err **err)
{
    struct bt_err *e = NULL;
    _cleanup_free_ char *id = engine_container_resolve(ref, &e);
    if (!id) {
        if (e && e->code != ENOENT) {
            bt_err_move(err, &e);
            return bt_err_ret(err);
        }
        bt_err_free(e);
        return 0;
    }
    *out = cli_container_inspect_json(id, err);
    return *out ? 1 : bt_err_ret(err);
}

static int
find_image(const char *ref, json_t **out, struct bt_err **err)
{
    _cleanup_(image_store_freep) struct image_store *s = image_store_open(NULL, err);
    if (!s)
        return bt_err_ret(err);
    struct bt_err *e = NULL;
    _cleanup_free_ char *id = image_store_resolve(s, ref, &e);
    if (!id) {
        /* a name that is not even a reference is simply no image */
        bt_err_free(e);
        return 0;
    }
    *out = image_inspect_json(s, id, err);
    return *out ? 1 : bt_err_ret(err);
}

static int
find_volume(const char *ref, json_t **out, struct bt_err **err)
{
    if (vol_name_validate(ref, NULL) < 0)
        return 0;
    const char *root = getenv("BERTH_ROOT");
    struct vol_store *st = vol_store_open(root && *root ? root : "/var/lib/berth", err);
    if (!st)
        return bt_err_ret(err);
    struct vol_volume *v = NULL;
    int r = vol_volume_get(st, ref, &v, err);
    if (r > 0)
        *out = vol_volume_to_json(v);
    vol_volume_free(v);
    vol_store_free(st);
    return r;
}

static int
find_network(const char *ref, json_t **out, struct bt_err **err)
{
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    struct net_network *nw = net_network_get(ctx, ref, err);
    if (!nw)
        return err && *err ? bt_err_ret(err) : 0;
    *out = net_network_to_json(nw);
    net_network_free(nw);
    return 1;
}

static int
find_object(const char *ref, enum kind kind, json_t **out, struct bt_err **err)
{
    static int (*const finders[])(const char *, json_t **, struct bt_err **) = {
        [K_CONTAINER] = find_container,
        [K_IMAGE] = find_image,
        [K_VOLUME] = find_volume,
        [K_NETWORK] = find_network,
    };
    *out = NULL;
    for (int k = K_CONTAINER; k <= K_NETWORK; k++) {
        if (kind != K_ANY && kind != (enum kind)k)
            continue;
        int r = finders[k](ref, out, err);
        if (r != 0)
            return r;
    }
    return bt_err_set(err, ENOENT, "No such object: %s", ref);
}

int
cli_cmd_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"type", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = NULL;
    enum kind kind = K_ANY;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = strcmp(optarg, "json") == 0 ? NULL : optarg;
            break;
        case 't':
            if (strcmp(optarg, "container") == 0)
                kind = K_CONTAINER;
            else if (strcmp(optarg, "image") == 0)
                kind = K_IMAGE;
            else if (strcmp(optarg, "volume") == 0)
                kind = K_VOLUME;
            else if (strcmp(optarg, "network") == 0)
                kind = K_NETWORK;
            else
                return cli_usage_error("inspect", "\"%s\" is not a valid value for --type", optarg);
            break;
        case 'h':
            printf("Usage:  berth inspect [OPTIONS] NAME|ID [NAME|ID...]\n\n"
                   "Return low-level information on containers, images, volumes or networks\n\n"
                   "Options:\n"
                   "  -f, --format string   Format the output using the given template:\n"
                   "                        '{{.State.Pid}}', '{{json .Config}}'\n"
                   "      --type string     Return JSON for the specified type only\n"
                   "                        (container, image, volume, network)\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("inspect", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("inspect", "requires at least 1 argument");
    _cleanup_json_ json_t *all = json_array();
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct bt_err *err = NULL;
        json_t *j = NULL;
        if (find_object(argv[i], kind, &j, &err) < 0) {
            rc = cli_fail(&err, "inspect");
            continue;
        }
        if (!format) {
            json_array_append_new(all, j);
            continue;
        }
        struct bt_buf b = {0};
        int r = cli_template_render(format, j, &b, &err);
        json_decref(j);
        if (r < 0) {
            bt_buf_done(&b);
            return cli_fail(&err, "inspect");
        }
        printf("%s\n", b.data ? b.data : "");
        bt_buf_done(&b);
    }
    if (!format && (json_array_size(all) > 0 || rc == CLI_EXIT_OK)) {
        _cleanup_free_ char *s = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
    }
    return rc;
}

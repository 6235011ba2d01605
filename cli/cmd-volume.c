/* berth volume ls|create|inspect|rm|prune, with Docker's flags and output. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "volumes/volumes.h"

DEFINE_CLEANUP(struct vol_store *, vol_store_free)

static struct vol_store *
open_store(struct bt_err **err)
{
    const char *root = getenv("BERTH_ROOT");
    return vol_store_open(root && *root ? root : "/var/lib/berth", err);
}

/* ---- templates ---- */

/* The forms of Go template that scripts use on volumes: text with
 * {{.Field}} and {{json .Field}} for the object's top-level keys, and
 * {{json .}} for the whole object. */
static int
print_template(const char *tmpl, json_t *obj, struct bt_err **err)
{
    struct bt_buf b = {0};
    const char *p = tmpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            bt_buf_puts(&b, p);
            break;
        }
        bt_buf_append(&b, p, (size_t)(open - p));
        const char *close = strstr(open, "}}");
        if (!close) {
            bt_buf_done(&b);
            return bt_err_set(err, EINVAL, "template '%s': unclosed action", tmpl);
        }
        _cleanup_free_ char *action = xstrndup(open + 2, (size_t)(close - open - 2));
        char *a = action;
        while (*a == ' ')
            a++;
        for (char *e = a + strlen(a); e > a && e[-1] == ' ';)
            *--e = '\0';
        bool as_json = false;
        if (bt_str_startswith(a, "json ")) {
            as_json = true;
            a += 5;
            while (*a == ' ')
                a++;
        }
        bool whole = as_json && strcmp(a, ".") == 0;
        if (!whole && (a[0] != '.' || !a[1] || strchr(a + 1, '.') || strchr(a, ' '))) {
            bt_buf_done(&b);
            return bt_err_set(err, EINVAL,
                              "template '%s': only {{.Field}}, {{json .Field}} and {{json .}} "
                              "are supported",
                              tmpl);
        }
        json_t *val = whole ? obj : json_object_get(obj, a + 1);
        if (!val) {
            bt_buf_done(&b);
            return bt_err_set(err, EINVAL, "template '%s': no field '%s'", tmpl, a + 1);
        }
        if (json_is_string(val) && !as_json) {
            bt_buf_puts(&b, json_string_value(val));
        } else if (json_is_null(val) && !as_json) {
            bt_buf_puts(&b, "map[]");
        } else if (json_is_object(val) && !as_json) {
            /* Go prints a map as map[k:v k2:v2]. */
            bt_buf_puts(&b, "map[");
            const char *k;
            json_t *x;
            bool first = true;
            json_object_foreach (val, k, x) {
                bt_buf_printf(&b, "%s%s:%s", first ? "" : " ", k,
                              json_string_value(x) ? json_string_value(x) : "");
                first = false;
            }
            bt_buf_puts(&b, "]");
        } else {
            _cleanup_free_ char *s =
                json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            bt_buf_puts(&b, s ? s : "");
        }
        p = close + 2;
    }
    printf("%s\n", b.data ? b.data : "");
    bt_buf_done(&b);
    return 0;
}

/* ---- ls ---- */

static char *
labels_joined(const struct vol_volume *v)
{
    return bt_strv_join(v->labels, ",");
}

static void
print_table(const struct vol_list *l)
{
    /* Docker's tabwriter: columns at least 10 wide, 3 spaces of padding. */
    size_t w = strlen("DRIVER") + 3;
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->items[i]->driver) + 3 > w)
            w = strlen(l->items[i]->driver) + 3;
    if (w < 10)
        w = 10;
    printf("%-*s%s\n", (int)w, "DRIVER", "VOLUME NAME");
    for (size_t i = 0; i < l->n; i++)
        printf("%-*s%s\n", (int)w, l->items[i]->driver, l->items[i]->name);
}

/* The object `volume ls --format json` prints per volume, and that
 * templates see. */
static json_t *
ls_object(const struct vol_volume *v)
{
    _cleanup_free_ char *labels = labels_joined(v);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Availability", "N/A",
                     "Driver", v->driver, "Group", "N/A", "Labels", labels, "Links", "N/A",
                     "Mountpoint", v->mountpoint, "Name", v->name, "Scope", v->scope, "Size", "N/A",
                     "Status", "N/A");
}

static void
print_json_lines(const struct vol_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        _cleanup_json_ json_t *j = ls_object(l->items[i]);
        _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
    }
}

/* As the docker CLI does, "\t" and "\n" typed in a template are a tab and a
 * newline. */
static char *
unescape_template(const char *t)
{
    struct bt_buf b = {0};
    for (const char *p = t; *p; p++) {
        if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
            bt_buf_putc(&b, p[1] == 't' ? '\t' : '\n');
            p++;
        } else {
            bt_buf_putc(&b, *p);
        }
    }
    return bt_buf_steal(&b);
}

static int
print_templates(const struct vol_list *l, const char *format, struct bt_err **err)
{
    _cleanup_free_ char *t = unescape_template(format);
    for (size_t i = 0; i < l->n; i++) {
        _cleanup_json_ json_t *j = ls_object(l->items[i]);
        int r = print_template(t, j, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int
cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"filter", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct vol_filter f = {.dangling = -1};
    _cleanup_err_ struct bt_err *err = NULL;
    bool quiet = false;
    const char *format = "table";
    int c;
    while ((c = getopt_long(argc, argv, "qf:h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'f':
            if (vol_filter_add(&f, optarg, &err) < 0) {
                vol_filter_done(&f);
                return cli_usage_error("volume ls", "%s", err->msg);
            }
            break;
        case 'F':
            format = optarg;
            break;
        case 'h':
            printf("Usage:  berth volume ls [OPTIONS]\n\nList volumes\n\nOptions:\n"
                   "  -f, --filter filter   Filter output (label=KEY[=VALUE], label!=, name=, "
                   "driver=, dangling=true|false)\n"
                   "      --format string   table, json, or a template such as '{{.Name}}'\n"
                   "  -q, --quiet           Only display volume names\n");
            vol_filter_done(&f);
            return CLI_EXIT_OK;
        default:
            vol_filter_done(&f);
            return cli_usage_error("volume ls", "unknown option");
        }
    }
    if (strcmp(format, "table") && strcmp(format, "json") && !strstr(format, "{{")) {
        vol_filter_done(&f);
        return cli_usage_error("volume ls", "--format takes table, json or a template");
    }
    if (optind < argc) {
        vol_filter_done(&f);
        return cli_usage_error("volume ls", "takes no arguments");
    }
    _cleanup_(vol_store_freep) struct vol_store *st = open_store(&err);
    if (!st) {
        vol_filter_done(&f);
        return cli_fail(&err, "volume ls");
    }
    struct vol_list l;
    int r = vol_volume_list(st, &f, &l, &err);
    vol_filter_done(&f);
    if (r < 0)
        return cli_fail(&err, "volume ls");
    if (quiet) {
        for (size_t i = 0; i < l.n; i++)
            printf("%s\n", l.items[i]->name);
    } else if (strcmp(format, "json") == 0) {
        print_json_lines(&l);
    } else if (strcmp(format, "table") != 0) {
        r = print_templates(&l, format, &err);
        vol_list_done(&l);
        if (r < 0) {
            cli_fail(&err, "volume ls");
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    } else {
        print_table(&l);
    }
    vol_list_done(&l);
    return CLI_EXIT_OK;
}

/* ---- create ---- */

static int
cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"driver", required_argument, NULL, 'd'}, {"opt", required_argument, NULL, 'o'},
        {"label", required_argument, NULL, 'l'},  {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    _cleanup_strv_ char **labels = NULL;
    _cleanup_strv_ char **dopts = NULL;
    const char *driver = NULL, *name = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            driver = optarg;
            break;
        case 'o':
            if (!strchr(optarg, '='))
                return cli_usage_error("volume create", "--opt '%s': expected KEY=VALUE", optarg);
            dopts = bt_strv_push(dopts, optarg);
            break;
        case 'l':
            labels = bt_strv_push(labels, optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            printf("Usage:  berth volume create [OPTIONS] [VOLUME]\n\nCreate a volume\n\n"
                   "Options:\n"
                   "  -d, --driver string   Specify volume driver name (default \"local\")\n"
                   "      --label list      Set metadata for a volume\n"
                   "  -o, --opt map         Set driver specific options (type, o, device)\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("volume create", "unknown option");
        }
    }
    if (optind < argc) {
        if (name && strcmp(name, argv[optind]) != 0)
            return cli_usage_error("volume create", "conflicting names: --name %s and %s", name,
                                   argv[optind]);
        name = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error("volume create", "takes at most one volume name");
    _cleanup_err_ struct bt_err *err = NULL;
    _cleanup_(vol_store_freep) struct vol_store *st = open_store(&err);
    if (!st)
        return cli_fail(&err, "volume create");
    struct vol_create_opts o = {
        .name = name, .driver = driver, .labels = labels, .driver_opts = dopts};
    struct vol_volume *v = NULL;
    if (vol_volume_create(st, &o, &v, NULL, &err) < 0)
        return cli_fail(&err, "volume create");
    printf("%s\n", v->name);
    vol_volume_free(v);
    return CLI_EXIT_OK;
}

/* ---- inspect ---- */

static int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'h':
            printf("Usage:  berth volume inspect [OPTIONS] VOLUME [VOLUME...]\n\n"
                   "Display detailed information on one or more volumes\n\nOptions:\n"
                   "  -f, --format string   json (default) or a template such as "
                   "'{{.Mountpoint}}'\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("volume inspect", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("volume inspect", "requires at least 1 argument");
    if (format && strcmp(format, "json") == 0)
        format = NULL;
    _cleanup_err_ struct bt_err *err = NULL;
    _cleanup_(vol_store_freep) struct vol_store *st = open_store(&err);
    if (!st)
        return cli_fail(&err, "volume inspect");
    _cleanup_json_ json_t *arr = json_array();
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct vol_volume *v = NULL;
        int r = vol_volume_get(st, argv[i], &v, &err);
        if (r < 0)
            return cli_fail(&err, "volume inspect");
        if (r == 0) {
            fprintf(stderr, "berth: no such volume: %s\n", argv[i]);
            rc = CLI_EXIT_FAILURE;
            continue;
        }
        json_array_append_new(arr, vol_volume_to_json(v));
        vol_volume_free(v);
    }
    if (format) {
        size_t i;
        json_t *obj;
        json_array_foreach (arr, i, obj) {
            if (print_template(format, obj, &err) < 0) {
                cli_fail(&err, "volume inspect");
                return CLI_EXIT_USAGE;
            }
        }
        return rc;
    }
    _cleanup_free_ char *s = json_dumps(arr, JSON_INDENT(4) | JSON_SORT_KEYS);
    printf("%s\n", s);
    return rc;
}

/* ---- rm ---- */

static int
cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case 'h':
            printf("Usage:  berth volume rm [OPTIONS] VOLUME [VOLUME...]\n\n"
                   "Remove one or more volumes. A volume in use by a container cannot be "
                   "removed.\n\nOptions:\n"
                   "  -f, --force   Do not fail on volumes that do not exist\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("volume rm", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("volume rm", "requires at least 1 argument");
    _cleanup_err_ struct bt_err *err = NULL;
    _cleanup_(vol_store_freep) struct vol_store *st = open_store(&err);
    if (!st)
        return cli_fail(&err, "volume rm");
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        int r = vol_volume_remove(st, argv[i], NULL, &err);
        if (r == -ENOENT && force) {
            err = bt_err_free(err);
            continue;
        }
        if (r < 0) {
            rc = cli_fail(&err, NULL);
            continue;
        }
        printf("%s\n", argv[i]);
    }
    return rc;
}

/* ---- prune ---- */

/* Docker's units.HumanSize: decimal units, four significant digits. */
static void
human_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000 && u + 1 < BT_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, "%.4g%s", v, units[u]);
}

static int
cmd_prune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"force", no_argument, NULL, 'f'},
        {"filter", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct vol_filter f = {.dangling = -1};
    _cleanup_err_ struct bt_err *err = NULL;
    bool all = false, force = false;
    int c;
    while ((c = getopt_long(argc, argv, "afh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'f':
            force = true;
            break;
        case 'F':
            if (vol_filter_add(&f, optarg, &err) < 0) {
                vol_filter_done(&f);
                return cli_usage_error("volume prune", "%s", err->msg);
            }
            break;
        case 'h':
            printf("Usage:  berth volume prune [OPTIONS]\n\nRemove unused local volumes\n\n"
                   "Options:\n"
                   "  -a, --all             Remove all unused volumes, not just anonymous ones\n"
                   "      --filter filter   Provide filter values (e.g. \"label=<label>\")\n"
                   "  -f, --force           Do not prompt for confirmation\n");
            vol_filter_done(&f);
            return CLI_EXIT_OK;
        default:
            vol_filter_done(&f);
            return cli_usage_error("volume prune", "unknown option");
        }
    }
    if (optind < argc) {
        vol_filter_done(&f);
        return cli_usage_error("volume prune", "takes no arguments");
    }
    if (!force && !cli_confirm("This will remove %s local volumes not used by at least one "
                               "container.",
                               all ? "all" : "anonymous")) {
        vol_filter_done(&f);
        return CLI_EXIT_OK;
    }
    _cleanup_(vol_store_freep) struct vol_store *st = open_store(&err);
    if (!st) {
        vol_filter_done(&f);
        return cli_fail(&err, "volume prune");
    }
    struct vol_prune_opts po = {.all = all, .filter = &f};
    _cleanup_strv_ char **removed = NULL;
    uint64_t reclaimed = 0;
    int r = vol_volume_prune(st, &po, &removed, &reclaimed, &err);
    vol_filter_done(&f);
    if (bt_strv_length(removed) > 0) {
        printf("Deleted Volumes:\n");
        bt_strv_foreach (n, removed)
            printf("%s\n", n);
        printf("\n");
    }
    char size[32];
    human_size(reclaimed, size, sizeof(size));
    printf("Total reclaimed space: %s\n", size);
    if (r < 0)
        return cli_fail(&err, "volume prune");
    return CLI_EXIT_OK;
}

/* ---- dispatch ---- */

static void
volume_usage(FILE *out)
{
    fprintf(out, "Usage:  berth volume COMMAND\n\nManage volumes\n\nCommands:\n"
                 "  create      Create a volume\n"
                 "  inspect     Display detailed information on one or more volumes\n"
                 "  ls          List volumes\n"
                 "  prune       Remove unused local volumes\n"
                 "  rm          Remove one or more volumes\n\n"
                 "Run 'berth volume COMMAND --help' for more information on a command.\n");
}

int
cli_cmd_volume(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        const char *alias;
        int (*fn)(int argc, char **argv);
    } subs[] = {
        {"ls", "list", cmd_ls},   {"create", NULL, cmd_create}, {"inspect", NULL, cmd_inspect},
        {"rm", "remove", cmd_rm}, {"prune", NULL, cmd_prune},
    };
    if (argc < 2) {
        volume_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        volume_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < BT_ARRAY_SIZE(subs); i++) {
        if (strcmp(argv[1], subs[i].name) == 0 ||
            (subs[i].alias && strcmp(argv[1], subs[i].alias) == 0)) {
            optind = 0;
            return subs[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "berth volume: unknown command '%s'\n", argv[1]);
    volume_usage(stderr);
    return CLI_EXIT_USAGE;
}

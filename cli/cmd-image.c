/* berth images, image ls|inspect|rm|prune|history|tag|load|save|import,
 * rmi, tag, load, save, import. */
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/size.h"
#include "image/image.h"

static struct image_store *
open_store(struct bt_err **err)
{
    return image_store_open(NULL, err);
}

static char *
human_ago(int64_t t)
{
    if (t <= 0)
        return xstrdup("N/A");
    int64_t d = (int64_t)time(NULL) - t;
    if (d < 1)
        return xstrdup("Less than a second ago");
    if (d < 60)
        return xasprintf("%lld seconds ago", (long long)d);
    if (d < 3600)
        return d / 60 == 1 ? xstrdup("About a minute ago")
                           : xasprintf("%lld minutes ago", (long long)(d / 60));
    if (d < 86400 * 2)
        return d / 3600 == 1 ? xstrdup("About an hour ago")
                             : xasprintf("%lld hours ago", (long long)(d / 3600));
    if (d < 86400 * 14)
        return xasprintf("%lld days ago", (long long)(d / 86400));
    if (d < 86400 * 60)
        return xasprintf("%lld weeks ago", (long long)(d / (86400 * 7)));
    if (d < 86400 * 365 * 2)
        return xasprintf("%lld months ago", (long long)(d / (86400 * 30)));
    return xasprintf("%lld years ago", (long long)(d / (86400 * 365)));
}

static char *
rfc3339(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    return xstrdup(buf);
}

static const char *
short_hex(const char *id, bool no_trunc, char *buf)
{
    if (no_trunc)
        return id;
    const char *hex = strchr(id, ':') ? strchr(id, ':') + 1 : id;
    snprintf(buf, 13, "%s", hex);
    return buf;
}

/* repo and tag of a normalised name, as `docker images` shows them. */
static void
split_name(const char *full, char **repo, char **tag)
{
    struct image_ref r;
    if (image_ref_parse(full, &r, NULL) < 0) {
        *repo = xstrdup(full);
        *tag = xstrdup("<none>");
        return;
    }
    free(r.digest);
    r.digest = NULL;
    char *t = r.tag;
    r.tag = NULL;
    *repo = image_ref_familiar(&r);
    *tag = t ? t : xstrdup("<none>");
    image_ref_done(&r);
}

static bool
format_json(const char *format, const char *cmd, int *rc)
{
    if (!format || strcmp(format, "table") == 0)
        return false;
    if (strcmp(format, "json") == 0)
        return true;
    *rc = cli_usage_error(cmd, "--format takes table or json");
    return false;
}

/* A table printed as docker's tabwriter does: columns padded to their
 * widest cell plus three spaces. */
struct table {
    char ***rows;
    size_t n;
};

static void
table_add(struct table *t, char **row)
{
    t->rows = xreallocarray(t->rows, t->n + 1, sizeof(*t->rows));
    t->rows[t->n++] = row;
}

static void
table_print(struct table *t)
{
    size_t widths[16] = {0};
    for (size_t i = 0; i < t->n; i++)
        for (size_t c = 0; t->rows[i][c] && c < BT_ARRAY_SIZE(widths); c++)
            if (strlen(t->rows[i][c]) > widths[c])
                widths[c] = strlen(t->rows[i][c]);
    for (size_t i = 0; i < t->n; i++) {
        for (size_t c = 0; t->rows[i][c] && c < BT_ARRAY_SIZE(widths); c++) {
            if (t->rows[i][c + 1])
                printf("%-*s   ", (int)widths[c], t->rows[i][c]);
            else
                printf("%s\n", t->rows[i][c]);
        }
        bt_strv_free(t->rows[i]);
    }
    free(t->rows);
    *t = (struct table){0};
}

static char **
row(const char *first, ...)
{
    char **v = bt_strv_push(NULL, first);
    va_list ap;
    va_start(ap, first);
    const char *c;
    while ((c = va_arg(ap, const char *)))
        v = bt_strv_push(v, c);
    va_end(ap);
    return v;
}

/* ---- images / image ls ---- */

static int
cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},        {"all", no_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'F'}, {"filter", required_argument, NULL, 'f'},
        {"no-trunc", no_argument, NULL, 'T'},     {"digests", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    bool quiet = false, no_trunc = false;
    const char *format = NULL;
    int dangling = -1;                    /* --filter dangling=true|false */
    _cleanup_strv_ char **refpats = NULL; /* --filter reference=PATTERN */
    int c;
    while ((c = getopt_long(argc, argv, "qaf:h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'a':
        case 'D':
            break; /* every image is listed; there are no intermediate ones */
        case 'F':
            format = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "dangling=true") == 0)
                dangling = 1;
            else if (strcmp(optarg, "dangling=false") == 0)
                dangling = 0;
            else if (bt_str_startswith(optarg, "reference="))
                refpats = bt_strv_push(refpats, optarg + 10);
            else
                return cli_usage_error("images",
                                       "--filter takes dangling=true|false or "
                                       "reference=PATTERN, not '%s'",
                                       optarg);
            break;
        case 'T':
            no_trunc = true;
            break;
        case 'h':
            printf("Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
                   "List images\n\n"
                   "  -q, --quiet            Only show image IDs\n"
                   "  -f, --filter FILTER    dangling=true|false, reference=PATTERN\n"
                   "      --format FMT       table or json\n"
                   "      --no-trunc         Don't truncate output\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("images", "unknown option");
        }
    }
    int rc = CLI_EXIT_OK;
    bool json = format_json(format, "images", &rc);
    if (rc)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error("images", "takes at most one REPOSITORY[:TAG]");
    /* A filter matches the repository, and the tag when one is given. */
    _cleanup_free_ char *want_repo = NULL;
    _cleanup_free_ char *want_tag = NULL;
    if (optind < argc) {
        struct image_ref r;
        struct bt_err *err = NULL;
        if (image_ref_parse(argv[optind], &r, &err) < 0)
            return cli_fail(&err, "images");
        want_repo = image_ref_name(&r);
        if (strchr(bt_path_basename(argv[optind]), ':'))
            want_tag = xstrdup(r.tag);
        image_ref_done(&r);
    }
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "images");
    struct image_info *list = NULL;
    size_t n = 0;
    if (image_store_list(s, &list, &n, &err) < 0)
        return cli_fail(&err, "images");
    struct table table = {0};
    if (!quiet && !json)
        table_add(&table, row("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", NULL));
    for (size_t i = 0; i < n; i++) {
        char **names = list[i].names;
        char *none[] = {NULL, NULL};
        bool is_dangling = !names || !*names;
        if (dangling >= 0 && is_dangling != (dangling == 1))
            continue;
        if (!names || !*names)
            names = none;
        for (size_t k = 0; k == 0 || names[k]; k++) {
            _cleanup_free_ char *repo = NULL;
            _cleanup_free_ char *tag = NULL;
            if (names[k]) {
                struct image_ref r;
                if (want_repo && image_ref_parse(names[k], &r, NULL) == 0) {
                    _cleanup_free_ char *rn = image_ref_name(&r);
                    bool match =
                        strcmp(rn, want_repo) == 0 && (!want_tag || bt_streq_null(r.tag, want_tag));
                    image_ref_done(&r);
                    if (!match)
                        continue;
                }
                split_name(names[k], &repo, &tag);
                if (refpats) {
                    /* docker matches the familiar name, with and without the tag */
                    _cleanup_free_ char *rt = xasprintf("%s:%s", repo, tag);
                    bool match = false;
                    bt_strv_foreach (pat, refpats) {
                        match |= fnmatch(pat, repo, 0) == 0 || fnmatch(pat, rt, 0) == 0;
                    }
                    if (!match)
                        continue;
                }
            } else {
                if (want_repo || refpats)
                    continue;
                repo = xstrdup("<none>");
                tag = xstrdup("<none>");
            }
            char idbuf[16];
            const char *id = short_hex(list[i].id, no_trunc, idbuf);
            _cleanup_free_ char *size = bt_size_human(list[i].size);
            _cleanup_free_ char *ago = human_ago(list[i].created);
            if (quiet) {
                printf("%s\n", no_trunc ? list[i].id : id);
                break; /* one line per image */
            } else if (json) {
                _cleanup_free_ char *at = rfc3339(list[i].created);
                _cleanup_json_ json_t *j =
                    json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "Containers",
                              (json_int_t)list[i].containers, "CreatedAt", at, "CreatedSince", ago,
                              "ID", id, "Repository", repo, "Tag", tag, "Size", size, "SizeBytes",
                              (json_int_t)list[i].size, "Digest", list[i].manifest);
                _cleanup_free_ char *line = json_dumps(j, JSON_COMPACT);
                printf("%s\n", line);
            } else {
                table_add(&table, row(repo, tag, id, ago, size, NULL));
            }
        }
    }
    table_print(&table);
    image_info_list_free(list, n);
    return CLI_EXIT_OK;
}

/* ---- inspect / history ---- */

/* The Go template forms scripts use with inspect: text around
 * {{.Field.Sub}}, {{json .Field}} and {{json .}}. Strings print bare,
 * numbers and booleans as themselves, objects and arrays as JSON. */
static int
render_template(const char *tmpl, json_t *obj, struct bt_buf *out, struct bt_err **err)
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
            return bt_err_set(err, EINVAL, "template '%s': unclosed action", tmpl);
        _cleanup_free_ char *act = xstrndup(open + 2, (size_t)(close - open - 2));
        char *a = act;
        while (*a == ' ')
            a++;
        for (size_t n = strlen(a); n > 0 && a[n - 1] == ' '; n--)
            a[n - 1] = '\0';
        bool as_json = bt_str_startswith(a, "json ");
        if (as_json)
            for (a += 5; *a == ' '; a++)
                ;
        if (a[0] != '.')
            return bt_err_set(err, EINVAL,
                              "template '%s': only {{.Field}}, {{json .Field}} and {{json .}} "
                              "are supported",
                              tmpl);
        json_t *v = obj;
        _cleanup_strv_ char **path = bt_strv_split(a + 1, ".");
        bt_strv_foreach (k, path) {
            if (!*k)
                continue;
            v = json_object_get(v, k);
            if (!v)
                return bt_err_set(err, EINVAL, "template '%s': no field '%s'", tmpl, a);
        }
        if (!as_json && json_is_string(v)) {
            bt_buf_puts(out, json_string_value(v));
        } else if (!as_json && json_is_null(v)) {
            bt_buf_puts(out, "<no value>");
        } else {
            _cleanup_free_ char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            bt_buf_puts(out, j ? j : "");
        }
        p = close + 2;
    }
    return 0;
}

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
            format = strcmp(optarg, "json") == 0 ? NULL : optarg;
            break;
        case 'h':
            printf("Usage:  berth image inspect [-f FORMAT] IMAGE [IMAGE...]\n\n"
                   "Display detailed information on one or more images, as JSON, or\n"
                   "one line per image with -f '{{.Id}}' / '{{json .Config}}'\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("image inspect", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("image inspect", "requires at least 1 argument");
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "image inspect");
    _cleanup_json_ json_t *out = json_array();
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        json_t *j = image_inspect_json(s, argv[i], &err);
        if (!j) {
            rc = cli_fail(&err, NULL);
            continue;
        }
        if (format) {
            struct bt_buf b = {0};
            int r = render_template(format, j, &b, &err);
            json_decref(j);
            if (r < 0) {
                bt_buf_done(&b);
                return cli_fail(&err, "image inspect");
            }
            printf("%s\n", b.data ? b.data : "");
            bt_buf_done(&b);
            continue;
        }
        json_array_append_new(out, j);
    }
    if (format)
        return rc;
    _cleanup_free_ char *text = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    return rc;
}

static int
cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"no-trunc", no_argument, NULL, 'T'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = NULL;
    bool no_trunc = false, quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'T':
            no_trunc = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("Usage:  berth image history [--format table|json] [--no-trunc] IMAGE\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("image history", "unknown option");
        }
    }
    int rc = CLI_EXIT_OK;
    bool json = format_json(format, "image history", &rc);
    if (rc)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("image history", "requires exactly 1 argument");
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "image history");
    _cleanup_json_ json_t *h = image_history_json(s, argv[optind], &err);
    if (!h)
        return cli_fail(&err, "image history");
    struct table table = {0};
    if (!quiet && !json)
        table_add(&table, row("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT", NULL));
    size_t i;
    json_t *e;
    json_array_foreach (h, i, e) {
        char idbuf[16];
        const char *id = bt_json_str(e, "Id");
        const char *sid = strcmp(id, "<missing>") == 0 ? id : short_hex(id, no_trunc, idbuf);
        _cleanup_free_ char *size = bt_size_human(json_integer_value(json_object_get(e, "Size")));
        _cleanup_free_ char *ago = human_ago(json_integer_value(json_object_get(e, "Created")));
        const char *by = bt_json_str(e, "CreatedBy");
        if (quiet) {
            printf("%s\n", sid);
        } else if (json) {
            _cleanup_json_ json_t *j = json_deep_copy(e);
            json_object_set_new(j, "ID", json_string(sid));
            json_object_set_new(j, "CreatedSince", json_string(ago));
            json_object_set_new(j, "Size", json_string(size));
            json_object_set(j, "SizeBytes", json_object_get(e, "Size"));
            json_object_del(j, "Id");
            _cleanup_free_ char *line = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", line);
        } else {
            _cleanup_free_ char *by_short =
                !no_trunc && strlen(by) > 44 ? xasprintf("%.41s...", by) : xstrdup(by);
            table_add(&table, row(sid, ago, by_short, size, bt_json_str(e, "Comment"), NULL));
        }
    }
    table_print(&table);
    return CLI_EXIT_OK;
}

/* ---- rm / prune / tag ---- */

static int
cmd_rm(const char *name, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"no-prune", no_argument, NULL, 'P'},
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
        case 'P':
            break;
        case 'h':
            printf("Usage:  berth %s [-f] IMAGE [IMAGE...]\n\n"
                   "Remove one or more images\n\n"
                   "  -f, --force   Remove even if several names point at it or a container "
                   "uses it\n",
                   name);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(name, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(name, "requires at least 1 argument");
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, name);
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        _cleanup_strv_ char **untagged = NULL;
        _cleanup_strv_ char **deleted = NULL;
        if (image_store_remove(s, argv[i], force, &untagged, &deleted, &err) < 0) {
            rc = cli_fail(&err, NULL);
            continue;
        }
        bt_strv_foreach (u, untagged) {
            struct image_ref r;
            if (image_ref_parse(u, &r, NULL) == 0) {
                _cleanup_free_ char *fam = image_ref_familiar(&r);
                printf("Untagged: %s\n", fam);
                image_ref_done(&r);
            }
        }
        bt_strv_foreach (d, deleted) {
            printf("Deleted: %s\n", d);
        }
    }
    return rc;
}

static int
cmd_prune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
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
        case 'h':
            printf("Usage:  berth image prune [-a] [-f]\n\n"
                   "Remove unused images: dangling ones, or every image no container uses "
                   "with -a\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("image prune", "unknown option");
        }
    }
    if (!force && isatty(STDIN_FILENO) &&
        !cli_confirm("This will remove all %s images.",
                     all ? "images without at least one container associated to them" : "dangling"))
        return CLI_EXIT_OK;
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "image prune");
    _cleanup_strv_ char **deleted = NULL;
    int64_t reclaimed = 0;
    if (image_store_prune(s, all, &deleted, &reclaimed, &err) < 0)
        return cli_fail(&err, "image prune");
    if (deleted) {
        printf("Deleted Images:\n");
        bt_strv_foreach (d, deleted) {
            printf("deleted: %s\n", d);
        }
        printf("\n");
    }
    _cleanup_free_ char *size = bt_size_human(reclaimed);
    printf("Total reclaimed space: %s\n", size);
    return CLI_EXIT_OK;
}

static int
cmd_tag(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n");
        return CLI_EXIT_OK;
    }
    if (argc != 3)
        return cli_usage_error("tag", "requires exactly 2 arguments");
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "tag");
    _cleanup_free_ char *id = image_store_resolve(s, argv[1], &err);
    if (!id) {
        if (!err)
            bt_err_set(&err, ENOENT, "No such image: %s", argv[1]);
        return cli_fail(&err, "tag");
    }
    if (image_store_tag(s, id, argv[2], &err) < 0)
        return cli_fail(&err, "tag");
    return CLI_EXIT_OK;
}

/* ---- load / save / import ---- */

static int
cmd_load(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *input = NULL;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "i:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            input = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("Usage:  berth load [-i FILE] [-q]\n\n"
                   "Load images from a docker-save or OCI-layout tar archive (or STDIN)\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("load", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("load", "takes no arguments; use -i FILE");
    _cleanup_close_ int fd = input ? open(input, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
    struct bt_err *err = NULL;
    if (fd < 0) {
        bt_err_errno(&err, errno, "open '%s'", input ? input : "-");
        return cli_fail(&err, "load");
    }
    if (!input && isatty(fd)) {
        bt_err_set(&err, EINVAL, "requested load from stdin, but stdin is empty");
        return cli_fail(&err, "load");
    }
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "load");
    _cleanup_strv_ char **loaded = NULL;
    if (image_archive_load(s, fd, &loaded, &err) < 0)
        return cli_fail(&err, "load");
    if (!quiet)
        bt_strv_foreach (l, loaded) {
            printf("%s\n", l);
        }
    return CLI_EXIT_OK;
}

static int
cmd_save(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *output = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'h':
            printf("Usage:  berth save [-o FILE] IMAGE [IMAGE...]\n\n"
                   "Save images to a tar archive that is both a docker-save archive and an "
                   "OCI image layout\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("save", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("save", "requires at least 1 argument");
    struct bt_err *err = NULL;
    if (!output && isatty(STDOUT_FILENO)) {
        bt_err_set(&err, EINVAL, "cowardly refusing to save to a terminal; use -o or redirect");
        return cli_fail(&err, "save");
    }
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "save");
    _cleanup_free_ char *tmp = output ? xasprintf("%s.tmp.%d", output, (int)getpid()) : NULL;
    _cleanup_close_ int fd =
        output ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : dup(STDOUT_FILENO);
    if (fd < 0) {
        bt_err_errno(&err, errno, "create '%s'", output ? output : "-");
        return cli_fail(&err, "save");
    }
    int r = image_archive_save(s, argv + optind, fd, &err);
    if (output) {
        /* a failed save leaves no partial file behind */
        if (r == 0 && (fsync(fd) < 0 || rename(tmp, output) < 0))
            r = bt_err_errno(&err, errno, "write '%s'", output);
        if (r < 0)
            unlink(tmp);
    }
    if (r < 0)
        return cli_fail(&err, "save");
    return CLI_EXIT_OK;
}

static int
cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'},
        {"change", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *message = NULL;
    _cleanup_json_ json_t *config = json_object();
    struct bt_err *err = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "m:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            message = optarg;
            break;
        case 'c':
            if (image_config_change(config, optarg, &err) < 0) {
                fprintf(stderr, "berth import: --change: %s\n", err->msg);
                bt_err_free(err);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            printf("Usage:  berth import [OPTIONS] FILE|- [REPOSITORY[:TAG]]\n\n"
                   "Make a one-layer image from a root filesystem tarball (tar, tar.gz or "
                   "tar.zst)\n\n"
                   "  -c, --change INSTR   Dockerfile instruction: CMD, ENTRYPOINT, ENV, "
                   "EXPOSE,\n"
                   "                       LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR\n"
                   "  -m, --message TEXT   Comment for the image's history\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("import", "unknown option");
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage_error("import", "requires 1 or 2 arguments");
    const char *file = argv[optind];
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (name) {
        struct image_ref r;
        if (image_ref_parse(name, &r, &err) < 0)
            return cli_fail(&err, "import");
        image_ref_done(&r);
    }
    _cleanup_close_ int fd =
        strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bt_err_errno(&err, errno, "open '%s'", file);
        return cli_fail(&err, "import");
    }
    _cleanup_(image_store_freep) struct image_store *s = open_store(&err);
    if (!s)
        return cli_fail(&err, "import");
    _cleanup_free_ char *id = NULL;
    if (image_archive_import(s, fd, name, config, message, &id, &err) < 0)
        return cli_fail(&err, NULL);
    printf("%s\n", id);
    return CLI_EXIT_OK;
}

/* ---- dispatch ---- */

int
cli_cmd_images(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_ls(argc, argv);
}

int
cli_cmd_rmi(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_rm("rmi", argc, argv);
}

int
cli_cmd_tag(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_tag(argc, argv);
}

int
cli_cmd_load(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_load(argc, argv);
}

int
cli_cmd_save(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_save(argc, argv);
}

int
cli_cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
    return cmd_import(argc, argv);
}

int
cli_cmd_image(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        cli_command_fn fn;
        const char *summary;
    } subs[] = {
        {"ls", cli_cmd_images, "List images"},
        {"list", cli_cmd_images, NULL},
        {"inspect", NULL, "Display detailed information on one or more images"},
        {"rm", NULL, "Remove one or more images"},
        {"remove", NULL, NULL},
        {"prune", NULL, "Remove unused images"},
        {"history", NULL, "Show the history of an image"},
        {"tag", cli_cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
        {"load", cli_cmd_load, "Load images from a tar archive"},
        {"save", cli_cmd_save, "Save images to a tar archive"},
        {"import", cli_cmd_import, "Make an image from a root filesystem tarball"},
        {"build", cli_cmd_image_build, "Build an image from a Dockerfile"},
        {"pull", cli_cmd_pull, "Download an image from a registry"},
        {"push", cli_cmd_push, "Upload an image to a registry"},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "Usage:  berth image COMMAND\n\nManage images\n\nCommands:\n");
        for (size_t i = 0; i < BT_ARRAY_SIZE(subs); i++)
            if (subs[i].summary)
                fprintf(out, "  %-10s %s\n", subs[i].name, subs[i].summary);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    optind = 0;
    if (strcmp(sub, "inspect") == 0)
        return cmd_inspect(argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        return cmd_rm("image rm", argc, argv);
    if (strcmp(sub, "prune") == 0)
        return cmd_prune(argc, argv);
    if (strcmp(sub, "history") == 0)
        return cmd_history(argc, argv);
    for (size_t i = 0; i < BT_ARRAY_SIZE(subs); i++)
        if (subs[i].fn && strcmp(sub, subs[i].name) == 0)
            return subs[i].fn(ctx, argc, argv);
    fprintf(stderr, "berth image: unknown command '%s'\nRun 'berth image --help' for the list.\n",
            sub);
    return CLI_EXIT_USAGE;
}

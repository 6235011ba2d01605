/* berth config: the project as berth reads it, after merging, interpolation,
 * validation and normalisation, in canonical YAML or JSON; or parts of it. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"

static void
config_usage(FILE *out)
{
    fprintf(out,
            "Usage:  berth config [OPTIONS] [SERVICE...]\n\n"
            "Parse, resolve and render the compose file in canonical format.\n\n"
            "Options:\n"
            "      --format FORMAT    yaml (default) or json\n"
            "      --hash SERVICES    Print the config hash of '*' or of SERVICE[,SERVICE...]\n"
            "      --images           Print the image names, one per line\n"
            "      --networks         Print the network names, one per line\n"
            "      --no-interpolate   Do not interpolate environment variables\n"
            "  -o, --output FILE      Write to FILE instead of standard output\n"
            "      --profiles         Print the profile names, one per line\n"
            "  -q, --quiet            Only validate the configuration, print nothing\n"
            "      --services         Print the service names, one per line\n"
            "      --volumes          Print the volume names, one per line\n"
            "  -h, --help             Show this help\n");
}

enum what { W_CONFIG, W_SERVICES, W_VOLUMES, W_NETWORKS, W_PROFILES, W_IMAGES, W_HASH };

/* The named services and, transitively, the services they depend on. */
static bool *
selection(const struct compose_project *p, char *const *names)
{
    bool *sel = xcalloc(p->n_services ? p->n_services : 1, sizeof(bool));
    if (!names || !names[0]) {
        for (size_t i = 0; i < p->n_services; i++)
            sel[i] = true;
        return sel;
    }
    _cleanup_strv_ char **todo = bt_strv_copy(names);
    for (size_t k = 0; todo[k]; k++) {
        const struct compose_service *s = compose_project_service(p, todo[k]);
        if (!s || sel[s - p->services])
            continue;
        sel[s - p->services] = true;
        _cleanup_strv_ char **deps = compose_service_dependencies(s);
        bt_strv_foreach (d, deps)
            todo = bt_strv_push(todo, d);
    }
    return sel;
}

static char *
render(const struct compose_project *p, enum what what, const char *format, const char *hash,
       char *const *names)
{
    struct bt_buf out = {0};
    _cleanup_free_ bool *sel = selection(p, names);
    switch (what) {
    case W_SERVICES:
        for (size_t i = 0; i < p->n_services; i++)
            if (sel[i])
                bt_buf_printf(&out, "%s\n", p->services[i].name);
        break;
    case W_VOLUMES:
        for (size_t i = 0; i < p->n_volumes; i++)
            bt_buf_printf(&out, "%s\n", p->volumes[i].key);
        break;
    case W_NETWORKS:
        for (size_t i = 0; i < p->n_networks; i++)
            bt_buf_printf(&out, "%s\n", p->networks[i].key);
        break;
    case W_PROFILES:
        bt_strv_foreach (prof, p->profiles)
            bt_buf_printf(&out, "%s\n", prof);
        break;
    case W_IMAGES:
        for (size_t i = 0; i < p->n_services; i++) {
            const struct compose_service *s = &p->services[i];
            if (!sel[i])
                continue;
            if (s->image)
                bt_buf_printf(&out, "%s\n", s->image);
            else
                bt_buf_printf(&out, "%s-%s\n", p->name, s->name);
        }
        break;
    case W_HASH: {
        _cleanup_strv_ char **want = strcmp(hash, "*") == 0 ? NULL : bt_strv_split(hash, ",");
        for (size_t i = 0; i < p->n_services; i++) {
            const struct compose_service *s = &p->services[i];
            if (want && !bt_strv_contains(want, s->name))
                continue;
            _cleanup_free_ char *h = compose_service_hash(s);
            bt_buf_printf(&out, "%s %s\n", s->name, h);
        }
        break;
    }
    case W_CONFIG: {
        /* Drop the services that were not asked for (SERVICE arguments). */
        struct compose_project view = *p;
        _cleanup_free_ struct compose_service *kept =
            xcalloc(p->n_services ? p->n_services : 1, sizeof(*kept));
        view.n_services = 0;
        for (size_t i = 0; i < p->n_services; i++)
            if (sel[i])
                kept[view.n_services++] = p->services[i];
        view.services = kept;
        _cleanup_free_ char *text = strcmp(format, "json") == 0
                                        ? compose_project_to_json_text(&view)
                                        : compose_project_to_yaml(&view);
        bt_buf_puts(&out, text);
        break;
    }
    }
    return bt_buf_steal(&out);
}

/* Prints a compose error with file names relative to the current directory
 * ("compose.yaml:12:9: services.web.ports[1]: ..."), as the user named them. */
static int
config_fail(struct bt_err **err)
{
    char cwd[PATH_MAX];
    if (*err && getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") != 0) {
        _cleanup_free_ char *prefix = xasprintf("%s/", cwd);
        size_t pl = strlen(prefix);
        struct bt_buf b = {0};
        const char *m = (*err)->msg, *hit;
        while ((hit = strstr(m, prefix))) {
            bt_buf_append(&b, m, (size_t)(hit - m));
            m = hit + pl;
        }
        bt_buf_puts(&b, m);
        free((*err)->msg);
        (*err)->msg = bt_buf_steal(&b);
    }
    return cli_fail(err, NULL);
}

int
cli_cmd_config(struct cli_ctx *ctx, int argc, char **argv)
{
    enum {
        OPT_FORMAT = 256,
        OPT_SERVICES,
        OPT_VOLUMES,
        OPT_NETWORKS,
        OPT_PROFILES,
        OPT_IMAGES,
        OPT_HASH,
        OPT_NO_INTERP,
    };
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"services", no_argument, NULL, OPT_SERVICES},
        {"volumes", no_argument, NULL, OPT_VOLUMES},
        {"networks", no_argument, NULL, OPT_NETWORKS},
        {"profiles", no_argument, NULL, OPT_PROFILES},
        {"images", no_argument, NULL, OPT_IMAGES},
        {"hash", required_argument, NULL, OPT_HASH},
        {"no-interpolate", no_argument, NULL, OPT_NO_INTERP},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = "yaml", *hash = NULL, *output = NULL;
    enum what what = W_CONFIG;
    int n_what = 0;
    bool quiet = false, no_interpolate = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_SERVICES:
        case OPT_VOLUMES:
        case OPT_NETWORKS:
        case OPT_PROFILES:
        case OPT_IMAGES:
            what = c == OPT_SERVICES   ? W_SERVICES
                   : c == OPT_VOLUMES  ? W_VOLUMES
                   : c == OPT_NETWORKS ? W_NETWORKS
                   : c == OPT_PROFILES ? W_PROFILES
                                       : W_IMAGES;
            n_what++;
            break;
        case OPT_HASH:
            what = W_HASH;
            hash = optarg;
            n_what++;
            break;
        case OPT_NO_INTERP:
            no_interpolate = true;
            break;
        case 'o':
            output = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            config_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("config", "unknown option");
        }
    }
    if (strcmp(format, "yaml") && strcmp(format, "json"))
        return cli_usage_error("config", "--format takes yaml or json, not '%s'", format);
    if (n_what > 1)
        return cli_usage_error("config", "--services, --volumes, --networks, --profiles, "
                                         "--images and --hash exclude each other");
    if (hash && !*hash)
        return cli_usage_error("config", "--hash takes '*' or a list of services");

    char *const *names = optind < argc ? argv + optind : NULL;
    struct compose_options copts = {
        .files = ctx->files,
        .project_name = ctx->project_name,
        .project_dir = ctx->project_dir,
        .profiles = ctx->profiles,
        .env_files = ctx->env_files,
        .no_interpolate = no_interpolate,
        .services = names,
    };
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = compose_project_load(&copts, &err);
    if (!p)
        return config_fail(&err);
    if (hash && strcmp(hash, "*") != 0) {
        _cleanup_strv_ char **want = bt_strv_split(hash, ",");
        bt_strv_foreach (w, want) {
            if (!compose_project_service(p, w)) {
                bt_err_set(&err, ENOENT, "no such service: %s", w);
                return cli_fail(&err, NULL);
            }
        }
    }
    if (quiet)
        return CLI_EXIT_OK;
    _cleanup_free_ char *text = render(p, what, format, hash, names);
    if (output) {
        if (bt_file_write_atomic(output, text, strlen(text), 0644, &err) < 0)
            return cli_fail(&err, "config");
        return CLI_EXIT_OK;
    }
    if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
        bt_err_errno(&err, errno, "write to standard output");
        return cli_fail(&err, "config");
    }
    return CLI_EXIT_OK;
}

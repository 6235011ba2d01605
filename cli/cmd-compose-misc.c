/* The compose commands that look at a project's containers rather than
 * change them: top, port, images, events, and pull/push of the services'
 * images. Also the lookup they share with logs, exec and run: a project
 * has no file of its own, so its containers are the ones whose
 * com.docker.compose.project label carries its name. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "engine/engine.h"

#define LABEL_PROJECT "com.docker.compose.project"
#define LABEL_SERVICE "com.docker.compose.service"
#define LABEL_NUMBER  "com.docker.compose.container-number"
#define LABEL_ONEOFF  "com.docker.compose.oneoff"

int
cli_compose_open(struct cli_ctx *ctx, char *const *services, struct compose_project **project,
                 char **name, struct bt_err **err)
{
    struct compose_options o = {
        .files = ctx->files,
        .project_name = ctx->project_name,
        .project_dir = ctx->project_dir,
        .profiles = ctx->profiles,
        .env_files = ctx->env_files,
    };
    struct bt_err *lerr = NULL;
    struct compose_project *p = compose_project_load(&o, &lerr);
    if (!p) {
        /* `-p NAME` alone works from labels, as with docker compose. */
        if (ctx->project_name && !ctx->files && lerr->code == ENOENT) {
            bt_err_free(lerr);
            if (project)
                *project = NULL;
            *name = xstrdup(ctx->project_name);
            return 0;
        }
        bt_err_move(err, &lerr);
        return bt_err_ret(err);
    }
    bt_strv_foreach (s, (char **)services) {
        if (!compose_project_service(p, s)) {
            bt_strv_foreach (d, p->disabled_services)
                if (!strcmp(d, s)) {
                    compose_project_free(p);
                    return bt_err_set(err, ENOENT,
                                      "service \"%s\" is not enabled by the "
                                      "active profiles",
                                      s);
                }
            compose_project_free(p);
            return bt_err_set(err, ENOENT, "no such service: %s", s);
        }
    }
    *name = xstrdup(p->name);
    if (project)
        *project = p;
    else
        compose_project_free(p);
    return 0;
}

static int
container_cmp(const void *a, const void *b)
{
    const struct cli_svc_container *x = a, *y = b;
    int r = strcmp(x->service, y->service);
    if (r)
        return r;
    if (x->oneoff != y->oneoff)
        return x->oneoff ? 1 : -1;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return strcmp(x->name, y->name);
}

int
cli_svc_containers_find(const char *project, char *const *services, int oneoff,
                        struct cli_svc_containers *out, struct bt_err **err)
{
    *out = (struct cli_svc_containers){0};
    _cleanup_json_ json_t *all = engine_container_list(true, err);
    if (!all)
        return bt_err_ret(err);
    size_t i;
    json_t *c;
    json_array_foreach (all, i, c) {
        json_t *labels = json_object_get(json_object_get(c, "Config"), "Labels");
        const char *proj = bt_json_str(labels, LABEL_PROJECT);
        const char *svc = bt_json_str(labels, LABEL_SERVICE);
        if (!proj || !svc || strcmp(proj, project) != 0)
            continue;
        if (services && services[0] && !bt_strv_contains(services, svc))
            continue;
        const char *one = bt_json_str(labels, LABEL_ONEOFF);
        bool is_oneoff = one && !strcasecmp(one, "true");
        if ((oneoff == 0 && is_oneoff) || (oneoff == 1 && !is_oneoff))
            continue;
        int64_t num = 0;
        const char *ns = bt_json_str(labels, LABEL_NUMBER);
        if (!ns || !bt_parse_int64(ns, &num) || num < 0 || num > INT32_MAX)
            num = 0;
        const char *nm = bt_json_str(c, "Name");
        out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
        out->v[out->n++] = (struct cli_svc_container){
            .id = xstrdup(bt_json_str(c, "Id")),
            .name = xstrdup(nm && nm[0] == '/' ? nm + 1
                            : nm               ? nm
                                               : ""),
            .service = xstrdup(svc),
            .number = (int)num,
            .oneoff = is_oneoff,
            .info = json_incref(c),
        };
    }
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), container_cmp);
    return 0;
}

void
cli_svc_containers_done(struct cli_svc_containers *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->v[i].id);
        free(cs->v[i].name);
        free(cs->v[i].service);
        if (cs->v[i].info)
            json_decref(cs->v[i].info);
    }
    free(cs->v);
    *cs = (struct cli_svc_containers){0};
}

const char *
cli_svc_container_status(const struct cli_svc_container *c)
{
    const char *s = bt_json_str(json_object_get(c->info, "State"), "Status");
    return s ? s : "unknown";
}

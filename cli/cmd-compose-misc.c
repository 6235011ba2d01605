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
#include "compose/orchestrate.h"
#include "engine/engine.h"

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

bool
cli_container_selected(const struct compose_container *c, char *const *services, int index)
{
    if (services && services[0] && !bt_strv_contains(services, c->service))
        return false;
    return index <= 0 || c->number == index;
}

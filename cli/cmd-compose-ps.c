/* berth ps and berth ls: a project's containers and the projects there are. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"

/* RFC 3339 (UTC, optional fraction) -> seconds since the epoch; 0 when unset. */
static time_t
parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    if (!s || !s[0] || bt_str_startswith(s, "0001-"))
        return 0;
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return 0;
    return timegm(&tm);
}

/* Docker's units.HumanDuration. */
static char *
human_duration(time_t secs)
{
    if (secs < 1)
        return xstrdup("Less than a second");
    if (secs == 1)
        return xstrdup("1 second");
    if (secs < 60)
        return xasprintf("%lld seconds", (long long)secs);
    long long m = secs / 60;
    if (m == 1)
        return xstrdup("About a minute");
    if (m < 60)
        return xasprintf("%lld minutes", m);
    long long h = m / 60;
    if (h == 1)
        return xstrdup("About an hour");
    if (h < 48)
        return xasprintf("%lld hours", h);
    if (h < 24 * 7 * 2)
        return xasprintf("%lld days", h / 24);
    if (h < 24 * 30 * 2)
        return xasprintf("%lld weeks", h / 24 / 7);
    if (h < 24 * 365 * 2)
        return xasprintf("%lld months", h / 24 / 30);
    return xasprintf("%lld years", h / 24 / 365);
}

/* STATUS as docker ps shows it: "Up 5 seconds (healthy)", "Exited (0) 3
 * seconds ago", "Created". */
static char *
status_text(const struct compose_container *c)
{
    time_t now = time(NULL);
    if (strcmp(c->state, "running") == 0 || strcmp(c->state, "paused") == 0) {
        _cleanup_free_ char *d = human_duration(now - parse_rfc3339(c->started_at));
        if (strcmp(c->state, "paused") == 0)
            return xasprintf("Up %s (Paused)", d);
        if (c->health[0])
            return xasprintf("Up %s (%s)", d,
                             strcmp(c->health, "starting") == 0 ? "health: starting" : c->health);
        return xasprintf("Up %s", d);
    }
    if (strcmp(c->state, "restarting") == 0) {
        _cleanup_free_ char *d = human_duration(now - parse_rfc3339(c->finished_at));
        return xasprintf("Restarting (%d) %s ago", c->exit_code, d);
    }
    if (strcmp(c->state, "exited") == 0 || strcmp(c->state, "dead") == 0) {
        time_t f = parse_rfc3339(c->finished_at);
        if (!f)
            return xasprintf("Exited (%d)", c->exit_code);
        _cleanup_free_ char *d = human_duration(now - f);
        return xasprintf("Exited (%d) %s ago", c->exit_code, d);
    }
    if (strcmp(c->state, "created") == 0)
        return xstrdup("Created");
    return xstrdup(c->state);
}

static char *
command_text(const struct compose_container *c)
{
    _cleanup_free_ char *full = bt_strv_join(c->command, " ");
    if (!full)
        return xstrdup("");
    if (strlen(full) > 20)
        return xasprintf("\"%.19s…\"", full);
    return xasprintf("\"%s\"", full);
}

static json_t *
container_json(const struct compose_container *c)
{
    _cleanup_free_ char *status = status_text(c);
    _cleanup_free_ char *ports = bt_strv_join(c->ports, ", ");
    _cleanup_free_ char *cmd = bt_strv_join(c->command, " ");
    json_t *pubs = json_array();
    bt_strv_foreach (p, c->ports) {
        /* "0.0.0.0:8080->80/tcp" */
        char ip[64] = "";
        unsigned hp = 0, tp = 0;
        char proto[8] = "tcp";
        const char *arrow = strstr(p, "->");
        const char *colon = arrow ? memrchr(p, ':', (size_t)(arrow - p)) : NULL;
        if (colon && (size_t)(colon - p) < sizeof(ip)) {
            memcpy(ip, p, (size_t)(colon - p));
            ip[colon - p] = '\0';
            sscanf(colon + 1, "%u->%u/%7s", &hp, &tp, proto);
        }
        json_array_append_new(pubs, json_pack("{s:s,s:i,s:i,s:s}", "URL", ip, "TargetPort", (int)tp,
                                              "PublishedPort", (int)hp, "Protocol", proto));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:o,s:O}", "ID", c->id,
                     "Name", c->name, "Project", c->project, "Service", c->service, "Image",
                     c->image, "Command", cmd ? cmd : "", "State", c->state, "Health", c->health,
                     "Status", status, "CreatedAt", c->created, "ExitCode", c->exit_code, "Ports",
                     ports ? ports : "", "Publishers", pubs, "Labels", c->labels);
}

static bool
status_ok(const struct compose_container *c, char *const *statuses)
{
    if (!statuses)
        return true;
    return bt_strv_contains(statuses, c->state);
}

static void
ps_usage(FILE *out)
{
    fprintf(out, "Usage:  berth ps [OPTIONS] [SERVICE...]\n\n"
                 "List containers.\n\n"
                 "Options:\n"
                 "  -a, --all             Show all stopped containers too\n"
                 "      --filter FILTER   Filter by a property (status=running)\n"
                 "      --format FORMAT   table (default) or json\n"
                 "  -q, --quiet           Only display IDs\n"
                 "      --services        Display services\n"
                 "      --status STATUS   Filter by status: paused|restarting|removing|\n"
                 "                        running|dead|created|exited\n");
}

int
cli_cmd_compose_ps(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_FILTER = 256, O_FORMAT, O_SERVICES, O_STATUS, O_NO_TRUNC, O_ORPHANS };
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"filter", required_argument, NULL, O_FILTER},
        {"format", required_argument, NULL, O_FORMAT},
        {"quiet", no_argument, NULL, 'q'},
        {"services", no_argument, NULL, O_SERVICES},
        {"status", required_argument, NULL, O_STATUS},
        {"no-trunc", no_argument, NULL, O_NO_TRUNC},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    static const char *const states[] = {"paused", "restarting", "removing", "running",
                                         "dead",   "created",    "exited"};
    bool all = false, quiet = false, only_services = false, json = false;
    _cleanup_strv_ char **statuses = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case O_SERVICES:
            only_services = true;
            break;
        case O_NO_TRUNC:
            break; /* ids are never truncated */
        case O_FORMAT:
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "table") != 0)
                return cli_usage_error("ps", "--format takes table or json");
            break;
        case O_FILTER:
        case O_STATUS: {
            const char *v = optarg;
            if (c == O_FILTER) {
                if (!bt_str_startswith(optarg, "status="))
                    return cli_usage_error("ps", "invalid filter '%s': only status=STATE", optarg);
                v = optarg + 7;
            }
            bool known = false;
            for (size_t i = 0; i < BT_ARRAY_SIZE(states); i++)
                known |= strcmp(states[i], v) == 0;
            if (!known)
                return cli_usage_error("ps", "invalid status '%s'", v);
            statuses = bt_strv_push(statuses, v);
            break;
        }
        case 'h':
            ps_usage(stdout);
            return CLI_EXIT_OK;
        default:
            ps_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    _cleanup_free_ char *name = NULL;
    struct compose_project *p = NULL;
    if (cli_compose_open(ctx, services, &p, &name, &err) < 0)
        return cli_fail(&err, "ps");
    struct compose_actual a;
    if (compose_actual_load(name, all, &a, &err) < 0) {
        compose_project_free(p);
        return cli_fail(&err, "ps");
    }
    char **svc_seen = NULL;
    json_t *rows = json_array();
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *ct = &a.containers[i];
        if (!cli_container_selected(ct, services, 0))
            continue;
        bool running = strcmp(ct->state, "running") == 0 || strcmp(ct->state, "paused") == 0 ||
                       strcmp(ct->state, "restarting") == 0;
        if (!all && !statuses && !running)
            continue;
        if (!status_ok(ct, statuses))
            continue;
        if (only_services) {
            if (!bt_strv_contains(svc_seen, ct->service)) {
                svc_seen = bt_strv_push(svc_seen, ct->service);
                printf("%s\n", ct->service);
            }
            continue;
        }
        if (quiet) {
            printf("%s\n", ct->id);
            continue;
        }
        json_array_append_new(rows, container_json(ct));
    }
    bt_strv_free(svc_seen);
    if (!quiet && !only_services) {
        if (json) {
            size_t i;
            json_t *r;
            json_array_foreach (rows, i, r) {
                _cleanup_free_ char *s = json_dumps(r, JSON_COMPACT);
                printf("%s\n", s);
            }
        } else {
            /* columns as wide as their widest cell */
            static const char *const heads[] = {"NAME",    "IMAGE",  "COMMAND", "SERVICE",
                                                "CREATED", "STATUS", "PORTS"};
            size_t n = json_array_size(rows);
            char ***cells = xcalloc(n + 1, sizeof(*cells));
            size_t w[7];
            for (size_t k = 0; k < 7; k++)
                w[k] = strlen(heads[k]);
            for (size_t i = 0; i < n; i++) {
                const struct compose_container *ct = NULL;
                const char *nm = bt_json_str(json_array_get(rows, i), "Name");
                for (size_t k = 0; k < a.n_containers; k++)
                    if (strcmp(a.containers[k].name, nm) == 0)
                        ct = &a.containers[k];
                time_t created = parse_rfc3339(ct->created);
                _cleanup_free_ char *ago = human_duration(time(NULL) - created);
                cells[i] = xcalloc(8, sizeof(char *));
                cells[i][0] = xstrdup(ct->name);
                cells[i][1] = xstrdup(ct->image);
                cells[i][2] = command_text(ct);
                cells[i][3] = xstrdup(ct->service);
                cells[i][4] = xasprintf("%s ago", ago);
                cells[i][5] = status_text(ct);
                cells[i][6] = bt_strv_join(ct->ports, ", ");
                if (!cells[i][6])
                    cells[i][6] = xstrdup("");
                for (size_t k = 0; k < 7; k++) {
                    size_t l = strlen(cells[i][k]);
                    if (strstr(cells[i][k], "…"))
                        l -= 2; /* one column, three bytes */
                    if (l > w[k])
                        w[k] = l;
                }
            }
            for (size_t k = 0; k < 7; k++)
                printf("%-*s%s", k < 6 ? (int)w[k] : 0, heads[k], k < 6 ? "   " : "\n");
            for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < 7; k++) {
                    int pad = (int)w[k];
                    if (strstr(cells[i][k], "…"))
                        pad += 2;
                    printf("%-*s%s", k < 6 ? pad : 0, cells[i][k], k < 6 ? "   " : "\n");
                }
                bt_strv_free(cells[i]);
            }
            free(cells);
        }
    }
    json_decref(rows);
    compose_actual_done(&a);
    compose_project_free(p);
    return CLI_EXIT_OK;
}

int
cli_cmd_compose_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_FORMAT = 256, O_FILTER };
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},   {"format", required_argument, NULL, O_FORMAT},
        {"quiet", no_argument, NULL, 'q'}, {"filter", required_argument, NULL, O_FILTER},
        {"help", no_argument, NULL, 'h'},  {0},
    };
    bool all = false, quiet = false, json = false;
    const char *name_filter = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "table") != 0)
                return cli_usage_error("ls", "--format takes table or json");
            break;
        case O_FILTER:
            if (!bt_str_startswith(optarg, "name="))
                return cli_usage_error("ls", "invalid filter '%s': only name=NAME", optarg);
            name_filter = optarg + 5;
            break;
        case 'h':
            printf("Usage:  berth ls [OPTIONS]\n\n"
                   "List running compose projects.\n\n"
                   "  -a, --all            Show all stopped projects too\n"
                   "      --filter name=N  Only projects whose name contains N\n"
                   "      --format FORMAT  table (default) or json\n"
                   "  -q, --quiet          Only display project names\n");
            return CLI_EXIT_OK;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("ls", "takes no arguments");
    struct bt_err *err = NULL;
    _cleanup_strv_ char **projects = compose_actual_projects(&err);
    if (!projects)
        return cli_fail(&err, "ls");
    json_t *rows = json_array();
    bt_strv_foreach (pn, projects) {
        if (name_filter && !strstr(pn, name_filter))
            continue;
        struct compose_actual a;
        if (compose_actual_load(pn, false, &a, &err) < 0) {
            json_decref(rows);
            return cli_fail(&err, "ls");
        }
        /* "running(2), exited(1)" */
        char **states = NULL;
        int counts[16] = {0};
        bool running = false;
        const char *files = NULL;
        for (size_t i = 0; i < a.n_containers; i++) {
            const char *st = a.containers[i].state;
            running |= strcmp(st, "running") == 0;
            size_t k = 0;
            while (states && states[k] && strcmp(states[k], st) != 0)
                k++;
            if (!states || !states[k]) {
                if (bt_strv_length(states) >= BT_ARRAY_SIZE(counts))
                    continue;
                states = bt_strv_push(states, st);
            }
            counts[k]++;
            if (!files)
                files = bt_json_str(a.containers[i].labels, COMPOSE_LABEL_CONFIG_FILES);
        }
        struct bt_buf b = {0};
        bt_buf_puts(&b, "");
        for (size_t k = 0; states && states[k]; k++)
            bt_buf_printf(&b, "%s%s(%d)", k ? ", " : "", states[k], counts[k]);
        _cleanup_free_ char *status = bt_buf_steal(&b);
        bt_buf_done(&b);
        if ((all || running) && a.n_containers)
            json_array_append_new(rows, json_pack("{s:s,s:s,s:s}", "Name", pn, "Status", status,
                                                  "ConfigFiles", files ? files : ""));
        bt_strv_free(states);
        compose_actual_done(&a);
    }
    size_t i;
    json_t *r;
    if (json) {
        _cleanup_free_ char *s = json_dumps(rows, JSON_COMPACT);
        printf("%s\n", s);
    } else if (quiet) {
        json_array_foreach (rows, i, r)
            printf("%s\n", bt_json_str(r, "Name"));
    } else {
        size_t w0 = 4, w1 = 6;
        json_array_foreach (rows, i, r) {
            if (strlen(bt_json_str(r, "Name")) > w0)
                w0 = strlen(bt_json_str(r, "Name"));
            if (strlen(bt_json_str(r, "Status")) > w1)
                w1 = strlen(bt_json_str(r, "Status"));
        }
        printf("%-*s   %-*s   %s\n", (int)w0, "NAME", (int)w1, "STATUS", "CONFIG FILES");
        json_array_foreach (rows, i, r)
            printf("%-*s   %-*s   %s\n", (int)w0, bt_json_str(r, "Name"), (int)w1,
                   bt_json_str(r, "Status"), bt_json_str(r, "ConfigFiles"));
    }
    json_decref(rows);
    return CLI_EXIT_OK;
}

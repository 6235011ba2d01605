/* The compose commands that look at a project's containers rather than
 * change them: top, port, images, events, and pull/push of the services'
 * images. Also the lookup they share with logs, exec and run: a project
 * has no file of its own, so its containers are the ones whose
 * com.docker.compose.project label carries its name. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- top ---- */

/* The processes of a container: those in its init's pid namespace. */
static char **
container_pids(const struct compose_container *c, struct bt_err **err)
{
    _cleanup_json_ json_t *st = engine_container_state(c->id, err);
    if (!st)
        return NULL;
    pid_t init = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    char **pids = xcalloc(1, sizeof(char *));
    if (init <= 0 || (strcmp(c->state, "running") && strcmp(c->state, "paused")))
        return pids;
    char path[64];
    struct stat ns;
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
    if (stat(path, &ns) < 0)
        return pids;
    _cleanup_dir_ DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int64_t pid;
        if (!bt_parse_int64(e->d_name, &pid))
            continue;
        struct stat st2;
        snprintf(path, sizeof(path), "/proc/%lld/ns/pid", (long long)pid);
        if (stat(path, &st2) == 0 && st2.st_ino == ns.st_ino && st2.st_dev == ns.st_dev)
            pids = bt_strv_push(pids, e->d_name);
    }
    return pids;
}

struct proc_row {
    char *uid, *pid, *ppid, *c, *stime, *tty, *time, *cmd;
};

static void
proc_row_done(struct proc_row *r)
{
    free(r->uid);
    free(r->pid);
    free(r->ppid);
    free(r->c);
    free(r->stime);
    free(r->tty);
    free(r->time);
    free(r->cmd);
}

/* One `ps -ef` row of pid, from /proc; false when it is gone. */
static bool
proc_row_read(const char *pid, struct proc_row *r)
{
    _cleanup_free_ char *statp = xasprintf("/proc/%s/stat", pid);
    _cleanup_free_ char *stat = bt_file_read_all(statp, NULL, NULL);
    if (!stat)
        return false;
    char *rp = strrchr(stat, ')');
    if (!rp)
        return false;
    char *lp = strchr(stat, '(');
    /* after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt
     * cminflt majflt cmajflt utime stime cutime cstime priority nice
     * num_threads itrealvalue starttime */
    _cleanup_strv_ char **f = bt_strv_split(rp + 2, " ");
    if (bt_strv_length(f) < 20)
        return false;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t utime = strtoull(f[11], NULL, 10), stime = strtoull(f[12], NULL, 10);
    uint64_t start = strtoull(f[19], NULL, 10);
    int tty_nr = atoi(f[4]);
    struct timespec up;
    clock_gettime(CLOCK_BOOTTIME, &up);
    double age = (double)up.tv_sec - (double)start / (double)hz;
    uint64_t cpu = (utime + stime) / (uint64_t)hz;
    _cleanup_free_ char *statusp = xasprintf("/proc/%s/status", pid);
    _cleanup_free_ char *status = bt_file_read_all(statusp, NULL, NULL);
    const char *u = status ? strstr(status, "\nUid:") : NULL;
    long uid = u ? strtol(u + 5, NULL, 10) : -1;
    struct passwd *pw = uid >= 0 ? getpwuid((uid_t)uid) : NULL;
    _cleanup_free_ char *cmdp = xasprintf("/proc/%s/cmdline", pid);
    size_t len = 0;
    _cleanup_free_ char *cmd = bt_file_read_all(cmdp, &len, NULL);
    for (size_t i = 0; cmd && i + 1 < len; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    time_t started = time(NULL) - (time_t)age;
    struct tm tm;
    localtime_r(&started, &tm);
    char when[16];
    strftime(when, sizeof(when), "%H:%M", &tm);
    *r = (struct proc_row){
        .uid = pw ? xstrdup(pw->pw_name) : xasprintf("%ld", uid),
        .pid = xstrdup(pid),
        .ppid = xstrdup(f[1]),
        .c = xasprintf("%d", age > 0 ? (int)((double)cpu * 100 / age) : 0),
        .stime = xstrdup(when),
        .tty = tty_nr ? xasprintf("pts/%d", (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00))
                      : xstrdup("?"),
        .time = xasprintf("%02llu:%02llu:%02llu", (unsigned long long)(cpu / 3600),
                          (unsigned long long)(cpu / 60 % 60), (unsigned long long)(cpu % 60)),
        .cmd = cmd && len ? xstrdup(cmd) : xasprintf("[%.*s]", (int)(rp - lp - 1), lp + 1),
    };
    return true;
}

int
cli_cmd_compose_top(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage:  berth top [SERVICE...]\n\nDisplay the running processes of the "
                   "project's containers.\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("top", "unknown option");
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "top");
    struct compose_actual a;
    if (compose_actual_load(project, false, &a, &err) < 0)
        return cli_fail(&err, "top");
    bool first = true;
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *ct = &a.containers[i];
        if (!cli_container_selected(ct, services, 0) || strcmp(ct->state, "running"))
            continue;
        _cleanup_strv_ char **pids = container_pids(ct, &err);
        if (!pids) {
            compose_actual_done(&a);
            return cli_fail(&err, "top");
        }
        struct proc_row *rows = xcalloc(bt_strv_length(pids) + 1, sizeof(*rows));
        size_t n = 0;
        const char *head[] = {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};
        size_t w[8];
        for (int k = 0; k < 8; k++)
            w[k] = strlen(head[k]);
        bt_strv_foreach (pid, pids) {
            if (!proc_row_read(pid, &rows[n]))
                continue;
            char *cols[] = {rows[n].uid,   rows[n].pid, rows[n].ppid, rows[n].c,
                            rows[n].stime, rows[n].tty, rows[n].time};
            for (int k = 0; k < 7; k++)
                if (strlen(cols[k]) > w[k])
                    w[k] = strlen(cols[k]);
            n++;
        }
        printf("%s%s\n", first ? "" : "\n", ct->name);
        first = false;
        printf("%-*s   %-*s   %-*s   %-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], head[0],
               (int)w[1], head[1], (int)w[2], head[2], (int)w[3], head[3], (int)w[4], head[4],
               (int)w[5], head[5], (int)w[6], head[6], head[7]);
        for (size_t k = 0; k < n; k++) {
            printf("%-*s   %-*s   %-*s   %-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], rows[k].uid,
                   (int)w[1], rows[k].pid, (int)w[2], rows[k].ppid, (int)w[3], rows[k].c, (int)w[4],
                   rows[k].stime, (int)w[5], rows[k].tty, (int)w[6], rows[k].time, rows[k].cmd);
            proc_row_done(&rows[k]);
        }
        free(rows);
    }
    compose_actual_done(&a);
    return CLI_EXIT_OK;
}

/* ---- port ---- */

int
cli_cmd_compose_port(struct cli_ctx *ctx, int argc, char **argv)
{
    enum { O_PROTO = 256, O_INDEX };
    static const struct option opts[] = {
        {"protocol", required_argument, NULL, O_PROTO},
        {"index", required_argument, NULL, O_INDEX},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *proto = "tcp";
    int index = 1;
    int c;
    int64_t v;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case O_PROTO:
            if (strcmp(optarg, "tcp") && strcmp(optarg, "udp") && strcmp(optarg, "sctp"))
                return cli_usage_error("port", "--protocol takes tcp, udp or sctp");
            proto = optarg;
            break;
        case O_INDEX:
            if (!bt_parse_int64(optarg, &v) || v < 1 || v > INT32_MAX)
                return cli_usage_error("port", "invalid --index '%s'", optarg);
            index = (int)v;
            break;
        case 'h':
            printf("Usage:  berth port [OPTIONS] SERVICE PRIVATE_PORT\n\n"
                   "Print the public address and port of a service's private port.\n\n"
                   "Options:\n"
                   "      --index N          Index of the container (default 1)\n"
                   "      --protocol PROTO   tcp (default), udp or sctp\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("port", "unknown option");
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("port", "requires a service and a private port");
    const char *service = argv[optind];
    if (!bt_parse_int64(argv[optind + 1], &v) || v < 1 || v > 65535)
        return cli_usage_error("port", "invalid port '%s'", argv[optind + 1]);
    char *services[] = {(char *)service, NULL};
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "port");
    struct compose_actual a;
    if (compose_actual_load(project, false, &a, &err) < 0)
        return cli_fail(&err, "port");
    const struct compose_container *found = NULL;
    for (size_t i = 0; i < a.n_containers && !found; i++)
        if (cli_container_selected(&a.containers[i], services, index))
            found = &a.containers[i];
    int rc = CLI_EXIT_FAILURE;
    _cleanup_free_ char *want = xasprintf("->%lld/%s", (long long)v, proto);
    if (!found) {
        fprintf(stderr, "berth: port: service \"%s\" has no container #%d\n", service, index);
    } else {
        bt_strv_foreach (p, found->ports) {
            const char *arrow = strstr(p, "->");
            if (arrow && !strcmp(arrow, want)) {
                printf("%.*s\n", (int)(arrow - p), p);
                rc = CLI_EXIT_OK;
                break;
            }
        }
        if (rc != CLI_EXIT_OK)
            fprintf(stderr, "berth: port: no port %lld/%s published for container %s\n",
                    (long long)v, proto, found->name);
    }
    compose_actual_done(&a);
    return rc;
}

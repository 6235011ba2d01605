/* The compose commands that look at a project's containers rather than
 * change them: top, port, images, events, and pull/push of the services'
 * images. Also what they share with logs, exec and run: loading the
 * project and selecting its containers by service and index. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "image/image.h"
#include "cli/progress.h"

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

/* ---- images ---- */

static void
human_size(int64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u + 1 < BT_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%lldB", (long long)n);
    else
        snprintf(buf, len, "%.3g%s", v, units[u]);
}

/* Is a project found here? With neither a compose file nor -p, `images`,
 * `pull` and `push` are the single-image commands of the image store. */
static bool
no_project_here(struct cli_ctx *ctx)
{
    if (ctx->files || ctx->project_name)
        return false;
    struct bt_err *err = NULL;
    _cleanup_free_ char *name = NULL;
    struct compose_project *p = NULL;
    int r = cli_compose_open(ctx, NULL, &p, &name, &err);
    compose_project_free(p);
    bool none = r < 0 && err->code == ENOENT && strstr(err->msg, "no configuration file");
    bt_err_free(err);
    return none;
}

int
cli_cmd_compose_images(struct cli_ctx *ctx, int argc, char **argv)
{
    if (no_project_here(ctx))
        return cli_cmd_images(ctx, argc, argv);
    enum { O_FORMAT = 256 };
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, O_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool quiet = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") && strcmp(optarg, "table"))
                return cli_usage_error("images", "--format takes table or json");
            json = !strcmp(optarg, "json");
            break;
        case 'h':
            printf("Usage:  berth images [OPTIONS] [SERVICE...]\n\n"
                   "List the images used by the project's containers (outside a project:\n"
                   "every image, as `berth image ls`).\n\n"
                   "Options:\n"
                   "      --format FORMAT   table (default) or json\n"
                   "  -q, --quiet           Only display image ids\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("images", "unknown option");
        }
    }
    char **services = argv + optind;
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    if (cli_compose_open(ctx, services, NULL, &project, &err) < 0)
        return cli_fail(&err, "images");
    _cleanup_(image_store_freep) struct image_store *store = image_store_open(NULL, &err);
    if (!store)
        return cli_fail(&err, "images");
    struct compose_actual a;
    if (compose_actual_load(project, true, &a, &err) < 0)
        return cli_fail(&err, "images");
    _cleanup_json_ json_t *rows = json_array();
    _cleanup_strv_ char **seen = NULL;
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *ct = &a.containers[i];
        if (!cli_container_selected(ct, services, 0) || !ct->image[0])
            continue;
        struct bt_err *e = NULL; /* an image removed since is shown without id */
        _cleanup_free_ char *id = image_store_resolve(store, ct->image, &e);
        bt_err_free(e);
        struct image_info info = {0};
        if (id && image_store_info(store, id, &info, &e) < 0)
            e = bt_err_free(e);
        struct image_ref ref = {0};
        _cleanup_free_ char *repo = NULL;
        if (image_ref_parse(ct->image, &ref, &e) == 0) {
            free(ref.tag);
            ref.tag = NULL;
            free(ref.digest);
            ref.digest = NULL;
            repo = image_ref_familiar(&ref);
        } else {
            e = bt_err_free(e);
        }
        const char *tag = "";
        struct image_ref full = {0};
        if (image_ref_parse(ct->image, &full, &e) == 0)
            tag = full.tag ? full.tag : "";
        else
            e = bt_err_free(e);
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:I}", "ContainerName", ct->name,
                                              "Repository", repo ? repo : ct->image, "Tag", tag,
                                              "ID", id ? id : "", "Size", (json_int_t)info.size));
        if (quiet && id && !bt_strv_contains(seen, id))
            seen = bt_strv_push(seen, id);
        image_ref_done(&ref);
        image_ref_done(&full);
        image_info_done(&info);
    }
    compose_actual_done(&a);
    if (quiet) {
        bt_strv_foreach (id, seen)
            printf("%s\n", bt_str_startswith(id, "sha256:") ? id + 7 : id);
        return CLI_EXIT_OK;
    }
    if (json) {
        _cleanup_free_ char *s = json_dumps(rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        return CLI_EXIT_OK;
    }
    size_t w[4] = {strlen("CONTAINER"), strlen("REPOSITORY"), strlen("TAG"), strlen("IMAGE ID")};
    size_t i;
    json_t *r;
    json_array_foreach (rows, i, r) {
        const char *cols[] = {bt_json_str(r, "ContainerName"), bt_json_str(r, "Repository"),
                              bt_json_str(r, "Tag")};
        for (int k = 0; k < 3; k++)
            if (strlen(cols[k]) > w[k])
                w[k] = strlen(cols[k]);
    }
    w[3] = 12 > w[3] ? 12 : w[3];
    printf("%-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], "CONTAINER", (int)w[1], "REPOSITORY",
           (int)w[2], "TAG", (int)w[3], "IMAGE ID", "SIZE");
    json_array_foreach (rows, i, r) {
        const char *id = bt_json_str(r, "ID");
        if (bt_str_startswith(id, "sha256:"))
            id += 7;
        char size[32];
        human_size(json_integer_value(json_object_get(r, "Size")), size, sizeof(size));
        printf("%-*s   %-*s   %-*s   %-*.12s   %s\n", (int)w[0], bt_json_str(r, "ContainerName"),
               (int)w[1], bt_json_str(r, "Repository"), (int)w[2], bt_json_str(r, "Tag"), (int)w[3],
               id, size);
    }
    return CLI_EXIT_OK;
}

/* ---- pull and push of the services' images ---- */

struct transfer {
    char *image;       /* the reference as the service names it */
    char *services;    /* "web, worker" */
    const char *first; /* the first of them: a pull is shown under its name */
    bool buildable;    /* a failure is a warning: the image can be built */
    pid_t pid;
    int err_fd;
};

/* Pushes run in parallel, one child process each (the registry client
 * blocks); a child reports its error text on a pipe and its result as the
 * exit status. */
static pid_t
push_spawn(struct transfer *t, struct bt_err **err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return bt_err_errno(err, errno, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return bt_err_errno(err, e, "fork");
    }
    if (pid == 0) {
        close(fds[0]);
        struct bt_err *e = NULL;
        struct image_pull_opts po = {.quiet = true};
        struct image_store *s = image_store_open(NULL, &e);
        int r = s ? image_push(s, t->image, &po, &e) : -1;
        if (r < 0 && e) {
            ssize_t w = write(fds[1], e->msg, strlen(e->msg));
            (void)w; /* the parent reports a failure without text */
        }
        _exit(r < 0 ? 1 : 0);
    }
    close(fds[1]);
    t->pid = pid;
    t->err_fd = fds[0];
    return pid;
}

/* A failed transfer: a warning when failures are ignored or the image can
 * be built, else an error naming the services (-1). */
static int
transfer_failed(struct cli_progress *prog, const char *cmd, bool push, bool ignore_fail,
                const struct transfer *t, const char *msg)
{
    if (ignore_fail || (!push && t->buildable)) {
        cli_progress_eventf(prog, push ? "Image" : "", push ? t->image : t->first,
                            CLI_PROGRESS_WARNING, "Warning: %s", msg[0] ? msg : "failed");
        return 0;
    }
    cli_progress_eventf(prog, push ? "Image" : "", push ? t->image : t->first, CLI_PROGRESS_ERROR,
                        "Error");
    cli_progress_flush(prog);
    fprintf(stderr, "berth: %s: %s (service %s): %s\n", cmd, t->image, t->services,
            msg[0] ? msg : "failed");
    return -1;
}

/* Pulls report Pulling and Pulled as they happen; a failure is reported
 * once all have ended, with the services' names. */
static void
on_pull_event(void *data, const char *kind, const char *name, enum compose_event_status st,
              const char *text)
{
    if (st == COMPOSE_EVENT_WORKING || st == COMPOSE_EVENT_DONE)
        cli_progress_event(data, kind, name, (enum cli_progress_status)st, text);
}

static int
transfer_usage(bool push, FILE *out)
{
    if (push)
        fprintf(out, "Usage:  berth push [OPTIONS] [SERVICE...]\n\n"
                     "Push the images of services that have a build section (outside a\n"
                     "project: one image, as `berth image push REF`).\n\n"
                     "Options:\n"
                     "      --ignore-push-failures   Push what can be pushed, ignore failures\n"
                     "      --include-deps           Also push the services' dependencies\n"
                     "  -q, --quiet                  Push without printing progress\n");
    else
        fprintf(out, "Usage:  berth pull [OPTIONS] [SERVICE...]\n\n"
                     "Pull the services' images, in parallel (outside a project: one image,\n"
                     "as `berth image pull REF`).\n\n"
                     "Options:\n"
                     "      --ignore-buildable       Skip services that have a build section\n"
                     "      --ignore-pull-failures   Pull what can be pulled, ignore failures\n"
                     "      --include-deps           Also pull the services' dependencies\n"
                     "      --policy POLICY          missing (only absent images) or always\n"
                     "  -q, --quiet                  Pull without printing progress\n");
    return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int
compose_transfer(bool push, struct cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = push ? "push" : "pull";
    if (no_project_here(ctx))
        return push ? cli_cmd_push(ctx, argc, argv) : cli_cmd_pull(ctx, argc, argv);
    enum { O_IGNORE_FAIL = 256, O_DEPS, O_POLICY, O_IGNORE_BUILD };
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"ignore-pull-failures", no_argument, NULL, O_IGNORE_FAIL},
        {"ignore-push-failures", no_argument, NULL, O_IGNORE_FAIL},
        {"include-deps", no_argument, NULL, O_DEPS},
        {"policy", required_argument, NULL, O_POLICY},
        {"ignore-buildable", no_argument, NULL, O_IGNORE_BUILD},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool quiet = false, ignore_fail = false, deps = false, missing_only = false;
    bool ignore_build = false;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case O_IGNORE_FAIL:
            ignore_fail = true;
            break;
        case O_DEPS:
            deps = true;
            break;
        case O_POLICY:
            if (push || (strcmp(optarg, "missing") && strcmp(optarg, "always")))
                return cli_usage_error(cmd, "--policy takes missing or always");
            missing_only = !strcmp(optarg, "missing");
            break;
        case O_IGNORE_BUILD:
            if (push)
                return cli_usage_error(cmd, "unknown option --ignore-buildable");
            ignore_build = true;
            break;
        case 'h':
            return transfer_usage(push, stdout);
        default:
            return transfer_usage(push, stderr);
        }
    }
    char **named = argv + optind;
    struct bt_err *err = NULL;
    _cleanup_free_ char *project = NULL;
    _cleanup_project_ struct compose_project *p = NULL;
    if (cli_compose_open(ctx, named, &p, &project, &err) < 0)
        return cli_fail(&err, cmd);
    if (!p) {
        fprintf(stderr, "berth: %s: needs a compose file to know the services' images\n", cmd);
        return CLI_EXIT_FAILURE;
    }
    /* the selection: named services, with their dependencies when asked */
    _cleanup_strv_ char **sel = NULL;
    for (size_t i = 0; i < p->n_services; i++)
        if (!named[0] || bt_strv_contains(named, p->services[i].name))
            sel = bt_strv_push(sel, p->services[i].name);
    for (size_t k = 0; deps && sel && sel[k]; k++) {
        _cleanup_strv_ char **d = compose_service_dependencies(compose_project_service(p, sel[k]));
        bt_strv_foreach (x, d)
            if (!bt_strv_contains(sel, x))
                sel = bt_strv_push(sel, x);
    }
    _cleanup_(image_store_freep) struct image_store *store = image_store_open(NULL, &err);
    if (!store)
        return cli_fail(&err, cmd);
    _cleanup_progress_ struct cli_progress *prog =
        quiet ? NULL : cli_progress_new_default(ctx->ansi);
    struct transfer *ts = NULL;
    size_t n = 0;
    bt_strv_foreach (name, sel) {
        const struct compose_service *s = compose_project_service(p, name);
        if (!s->image) {
            continue;
        }
        const char *policy = s->pull_policy ? s->pull_policy : "";
        bool skip = false;
        if (push) {
            skip = !s->build;
        } else {
            skip =
                !strcmp(policy, "never") || !strcmp(policy, "build") || (ignore_build && s->build);
            if (!skip &&
                (missing_only || !strcmp(policy, "missing") || !strcmp(policy, "if_not_present"))) {
                struct bt_err *e = NULL;
                _cleanup_free_ char *id = image_store_resolve(store, s->image, &e);
                bt_err_free(e);
                skip = id != NULL;
            }
        }
        if (skip) {
            cli_progress_event(prog, "", s->name, CLI_PROGRESS_DONE, "Skipped");
            continue;
        }
        size_t k;
        for (k = 0; k < n && strcmp(ts[k].image, s->image); k++)
            ;
        if (k < n) {
            if (!push)
                cli_progress_eventf(prog, "", s->name, CLI_PROGRESS_DONE,
                                    "Skipped - Image is already being pulled by %s", ts[k].first);
            char *more = xasprintf("%s, %s", ts[k].services, s->name);
            free(ts[k].services);
            ts[k].services = more;
            ts[k].buildable &= s->build != NULL;
            continue;
        }
        ts = xreallocarray(ts, n + 1, sizeof(*ts));
        ts[n++] = (struct transfer){.image = xstrdup(s->image),
                                    .services = xstrdup(s->name),
                                    .first = s->name,
                                    .buildable = s->build != NULL,
                                    .pid = -1,
                                    .err_fd = -1};
    }
    int rc = CLI_EXIT_OK;
    size_t n_spawn = n;
    if (!push) {
        /* pulls run on threads, with each layer's progress unless -q */
        struct compose_pull *items = xcalloc(n + 1, sizeof(*items));
        for (size_t k = 0; k < n; k++) {
            items[k].image = ts[k].image;
            items[k].service = ts[k].first;
        }
        if (compose_images_pull(items, n, on_pull_event, prog ? cli_progress_layer : NULL, prog,
                                &err) < 0) {
            cli_fail(&err, cmd);
            rc = CLI_EXIT_FAILURE;
        }
        for (size_t k = 0; k < n; k++) {
            if (rc == CLI_EXIT_OK && items[k].err &&
                transfer_failed(prog, cmd, false, ignore_fail, &ts[k], items[k].err->msg) < 0)
                rc = CLI_EXIT_FAILURE;
            free(items[k].id);
            bt_err_free(items[k].err);
        }
        free(items);
        n_spawn = 0;
    }
    size_t running = 0;
    for (size_t k = 0; k < n_spawn; k++) {
        cli_progress_event(prog, "Image", ts[k].image, CLI_PROGRESS_WORKING, "Pushing");
        if (push_spawn(&ts[k], &err) < 0) {
            cli_fail(&err, cmd);
            rc = CLI_EXIT_FAILURE;
            break;
        }
        running++;
    }
    while (running > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (ts[k].pid != pid)
                continue;
            running--;
            char msg[4096];
            ssize_t len = read(ts[k].err_fd, msg, sizeof(msg) - 1);
            msg[len > 0 ? len : 0] = '\0';
            close(ts[k].err_fd);
            ts[k].pid = -1;
            bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (ok)
                cli_progress_event(prog, "Image", ts[k].image, CLI_PROGRESS_DONE, "Pushed");
            else if (transfer_failed(prog, cmd, push, ignore_fail, &ts[k], msg) < 0)
                rc = CLI_EXIT_FAILURE;
        }
    }
    for (size_t k = 0; k < n; k++) {
        free(ts[k].image);
        free(ts[k].services);
    }
    free(ts);
    return rc;
}

int
cli_cmd_compose_pull(struct cli_ctx *ctx, int argc, char **argv)
{
    return compose_transfer(false, ctx, argc, argv);
}

int
cli_cmd_compose_push(struct cli_ctx *ctx, int argc, char **argv)
{
    return compose_transfer(true, ctx, argc, argv);
}

/* ---- events ----
 * The project's containers are listed on a timer and each change of their
 * state is an event: create, start, pause, unpause, restart, die (with the
 * exit code), health_status, destroy. */

struct events {
    char *project;
    char **services;
    bool json;
    json_t *last; /* id -> {"state","health","name","service","image"} */
    uv_timer_t timer;
    uv_signal_t sigint, sigterm;
};

static void
event_print(struct events *E, json_t *c, const char *id, const char *action, json_t *extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char when[64];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    json_t *attrs = json_pack("{s:O,s:O}", "image", json_object_get(c, "image"), "name",
                              json_object_get(c, "name"));
    if (extra) {
        json_object_update(attrs, extra);
        json_decref(extra); /* ours: callers pass a new object */
    }
    if (E->json) {
        char iso[64];
        gmtime_r(&ts.tv_sec, &tm);
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
        _cleanup_free_ char *t = xasprintf("%s.%09ldZ", iso, ts.tv_nsec);
        json_t *ev =
            json_pack("{s:s,s:s,s:s,s:s,s:O,s:o}", "time", t, "type", "container", "action", action,
                      "id", id, "service", json_object_get(c, "service"), "attributes", attrs);
        _cleanup_free_ char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(ev);
        printf("%s\n", s);
    } else {
        struct bt_buf b = {0};
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach (attrs, k, v) {
            bt_buf_printf(&b, "%s%s=", first ? "" : ", ", k);
            if (json_is_string(v))
                bt_buf_puts(&b, json_string_value(v));
            else {
                _cleanup_free_ char *s = json_dumps(v, JSON_ENCODE_ANY);
                bt_buf_puts(&b, s);
            }
            first = false;
        }
        _cleanup_free_ char *a = bt_buf_steal(&b);
        printf("%s.%06ld container %s %s (%s)\n", when, ts.tv_nsec / 1000, action, id, a);
        json_decref(attrs);
    }
    fflush(stdout);
}

/* The project's containers now, keyed by id. */
static json_t *
events_snapshot(struct events *E)
{
    struct compose_actual a;
    struct bt_err *err = NULL;
    if (compose_actual_load(E->project, true, &a, &err) < 0) {
        bt_err_free(err); /* listed again at the next tick */
        return NULL;
    }
    json_t *now = json_object();
    for (size_t i = 0; i < a.n_containers; i++) {
        const struct compose_container *c = &a.containers[i];
        if (!cli_container_selected(c, E->services, 0))
            continue;
        json_object_set_new(now, c->id,
                            json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "state", c->state, "health",
                                      c->health, "name", c->name, "service", c->service, "image",
                                      c->image, "exit", c->exit_code));
    }
    compose_actual_done(&a);
    return now;
}

static void
events_diff(struct events *E, json_t *now)
{
    const char *id;
    json_t *c;
    json_object_foreach (now, id, c) {
        json_t *old = json_object_get(E->last, id);
        const char *st = bt_json_str(c, "state");
        const char *was = old ? bt_json_str(old, "state") : NULL;
        if (!old)
            event_print(E, c, id, "create", NULL);
        if (!bt_streq_null(st, was)) {
            if (!strcmp(st, "running") && bt_streq_null(was, "paused"))
                event_print(E, c, id, "unpause", NULL);
            else if (!strcmp(st, "running"))
                event_print(E, c, id, bt_streq_null(was, "restarting") ? "restart" : "start", NULL);
            else if (!strcmp(st, "paused"))
                event_print(E, c, id, "pause", NULL);
            else if ((!strcmp(st, "exited") || !strcmp(st, "dead") || !strcmp(st, "restarting")) &&
                     (bt_streq_null(was, "running") || bt_streq_null(was, "paused") || !was))
                event_print(E, c, id, "die",
                            json_pack("{s:O}", "exitCode", json_object_get(c, "exit")));
        }
        const char *h = bt_json_str(c, "health");
        if (h && h[0] && !bt_streq_null(h, old ? bt_json_str(old, "health") : NULL)) {
            _cleanup_free_ char *action = xasprintf("health_status: %s", h);
            event_print(E, c, id, action, NULL);
        }
    }
    json_object_foreach (E->last, id, c) {
        if (json_object_get(now, id))
            continue;
        /* stopped and removed between two looks: it died first */
        const char *was = bt_json_str(c, "state");
        if (bt_streq_null(was, "running") || bt_streq_null(was, "paused") ||
            bt_streq_null(was, "restarting"))
            event_print(E, c, id, "die", NULL);
        event_print(E, c, id, "destroy", NULL);
    }
}

static void
on_events_tick(uv_timer_t *t)
{
    struct events *E = t->data;
    json_t *now = events_snapshot(E);
    if (!now)
        return;
    /* A container that could not be read at this look (it was being
     * written as it exited, say) but still exists is not destroyed: keep
     * what was last seen of it and look again at the next tick. */
    const char *id;
    json_t *c;
    json_object_foreach (E->last, id, c) {
        if (json_object_get(now, id))
            continue;
        _cleanup_json_ json_t *cfg = engine_container_config_load(id, NULL);
        if (cfg)
            json_object_set(now, id, c);
    }
    events_diff(E, now);
    json_decref(E->last);
    E->last = now;
}

static void
on_events_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    struct events *E = s->data;
    uv_timer_stop(&E->timer);
    uv_signal_stop(&E->sigint);
    uv_signal_stop(&E->sigterm);
}

int
cli_cmd_compose_events(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct events E = {0};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            E.json = true;
            break;
        case 'h':
            printf("Usage:  berth events [OPTIONS] [SERVICE...]\n\n"
                   "Receive real time events from the project's containers, until\n"
                   "interrupted.\n\n"
                   "Options:\n"
                   "      --json   Output events as a stream of JSON objects\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("events", "unknown option");
        }
    }
    E.services = argv + optind;
    struct bt_err *err = NULL;
    if (cli_compose_open(ctx, E.services, NULL, &E.project, &err) < 0)
        return cli_fail(&err, "events");
    E.last = events_snapshot(&E);
    if (!E.last)
        E.last = json_object();
    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r < 0) {
        fprintf(stderr, "berth: events: event loop: %s\n", uv_strerror(r));
        free(E.project);
        json_decref(E.last);
        return CLI_EXIT_FAILURE;
    }
    uv_timer_init(&loop, &E.timer);
    uv_signal_init(&loop, &E.sigint);
    uv_signal_init(&loop, &E.sigterm);
    E.timer.data = E.sigint.data = E.sigterm.data = &E;
    uv_timer_start(&E.timer, on_events_tick, 100, 100);
    uv_signal_start(&E.sigint, on_events_signal, SIGINT);
    uv_signal_start(&E.sigterm, on_events_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&E.timer, NULL);
    uv_close((uv_handle_t *)&E.sigint, NULL);
    uv_close((uv_handle_t *)&E.sigterm, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop) < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    free(E.project);
    json_decref(E.last);
    return rc;
}

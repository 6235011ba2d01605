/* berth pull, push, login, logout. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"

static int
pull_or_push(bool push, int argc, char **argv)
{
    const char *cmd = push ? "push" : "pull";
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"platform", required_argument, NULL, 'P'},
        {"all-tags", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct image_pull_opts po = {.progress = stdout};
    int c;
    while ((c = getopt_long(argc, argv, "qah", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            po.quiet = true;
            break;
        case 'P':
            if (push)
                return cli_usage_error(cmd, "--platform is for pull");
            po.platform = optarg;
            break;
        case 'a':
            return cli_usage_error(cmd, "--all-tags is not supported");
        case 'h':
            printf("Usage:  berth %s [OPTIONS] NAME[:TAG|@DIGEST]\n\n"
                   "%s an image %s a registry\n\n"
                   "  -q, --quiet              Suppress verbose output\n"
                   "%s",
                   cmd, push ? "Upload" : "Download", push ? "to" : "from",
                   push ? "" : "      --platform OS/ARCH   Platform to pick from a list\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cmd, "requires exactly 1 argument");
    po.tty = isatty(STDOUT_FILENO);
    struct bt_err *err = NULL;
    _cleanup_(image_store_freep) struct image_store *s = image_store_open(NULL, &err);
    if (!s)
        return cli_fail(&err, cmd);
    if (push) {
        if (image_push(s, argv[optind], &po, &err) < 0) {
            fflush(stdout); /* progress first, then the error */
            return cli_fail(&err, NULL);
        }
        return CLI_EXIT_OK;
    }
    _cleanup_free_ char *id = NULL;
    if (image_pull(s, argv[optind], &po, &id, &err) < 0) {
        fflush(stdout);
        return cli_fail(&err, NULL);
    }
    if (po.quiet) {
        struct image_ref r;
        if (image_ref_parse(argv[optind], &r, NULL) == 0) {
            _cleanup_free_ char *full = image_ref_string(&r);
            printf("%s\n", full);
            image_ref_done(&r);
        }
    }
    return CLI_EXIT_OK;
}

int
cli_cmd_pull(struct cli_ctx *ctx, int argc, char **argv)
{
    return pull_or_push(false, argc, argv);
}

int
cli_cmd_push(struct cli_ctx *ctx, int argc, char **argv)
{
    return pull_or_push(true, argc, argv);
}

static char *
read_line(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

int
cli_cmd_login(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"username", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    _cleanup_free_ char *user = NULL;
    _cleanup_free_ char *password = NULL;
    bool from_stdin = false;
    int c;
    while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            free(user);
            user = xstrdup(optarg);
            break;
        case 'p':
            free(password);
            password = xstrdup(optarg);
            break;
        case 'S':
            from_stdin = true;
            break;
        case 'h':
            printf("Usage:  berth login [OPTIONS] [SERVER]\n\n"
                   "Log in to a registry; credentials go to ~/.docker/config.json\n\n"
                   "  -u, --username USER    Username\n"
                   "  -p, --password PASS    Password\n"
                   "      --password-stdin   Take the password from stdin\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("login", "unknown option");
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("login", "takes at most one SERVER");
    if (from_stdin && password)
        return cli_usage_error("login", "--password and --password-stdin are mutually exclusive");
    if (from_stdin && !user)
        return cli_usage_error("login", "must provide --username with --password-stdin");
    if (!user && isatty(STDIN_FILENO)) {
        fprintf(stderr, "Username: ");
        user = read_line(stdin);
    }
    if (!user || !*user)
        return cli_usage_error("login", "a username is required (-u)");
    if (from_stdin) {
        password = read_line(stdin);
    } else if (!password && isatty(STDIN_FILENO)) {
        char *p = getpass("Password: ");
        password = p ? xstrdup(p) : NULL;
    }
    if (!password || !*password)
        return cli_usage_error("login", "a password is required");
    if (password && !from_stdin)
        fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use "
                        "--password-stdin.\n");
    struct bt_err *err = NULL;
    if (image_login(optind < argc ? argv[optind] : NULL, user, password, &err) < 0)
        return cli_fail(&err, NULL);
    printf("Login Succeeded\n");
    return CLI_EXIT_OK;
}

int
cli_cmd_logout(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage:  berth logout [SERVER]\n");
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("logout", "takes at most one SERVER");
    const char *server = argc > 1 ? argv[1] : "docker.io";
    struct bt_err *err = NULL;
    if (image_logout(server, &err) < 0)
        return cli_fail(&err, "logout");
    printf("Removing login credentials for %s\n", server);
    return CLI_EXIT_OK;
}

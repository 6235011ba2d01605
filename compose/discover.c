/* Finding what to load, as Docker Compose does:
 *
 * - Files: -f (repeatable, "-" is standard input, relative to the working
 *   directory), else COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR, default
 *   ':'), else the first of compose.yaml, compose.yml, docker-compose.yml,
 *   docker-compose.yaml found in the working directory (or
 *   --project-directory) or the nearest parent that has one, plus the first
 *   override file (compose.override.yml, compose.override.yaml,
 *   docker-compose.override.yml, docker-compose.override.yaml) next to it.
 * - Project directory: --project-directory, else the first file's directory,
 *   else the working directory.
 * - Environment: --env-file files (or COMPOSE_ENV_FILES, or .env in the
 *   project directory when it exists) under the process environment, which
 *   wins. The .env next to where discovery starts is read first so that it
 *   can set COMPOSE_FILE and friends. */
#include <string.h>
#include <sys/stat.h>

#include "compose/load-internal.h"

extern char **environ;

static const char *const default_names[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                            "docker-compose.yaml", NULL};
static const char *const override_names[] = {"compose.override.yml", "compose.override.yaml",
                                             "docker-compose.override.yml",
                                             "docker-compose.override.yaml", NULL};

void
compose_sources_done(struct compose_sources *s)
{
    s->files = bt_strv_free(s->files);
    free(s->project_dir);
    s->project_dir = NULL;
    s->env = bt_strv_free(s->env);
    free(s->stdin_data);
    s->stdin_data = NULL;
    s->stdin_len = 0;
}

static bool
is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* The env files to read: explicit ones must exist; the default .env is
 * optional. Returns the files (owned) or NULL with *err set. */
static char **
env_files_for(const char *cwd, const char *dir, char *const *flags, char *const *procenv,
              struct bt_err **err)
{
    char **out = xcalloc(1, sizeof(char *));
    _cleanup_strv_ char **from_env = NULL;
    char *const *explicit = flags;
    if (bt_strv_length(flags) == 0) {
        const char *e = compose_env_get(procenv, "COMPOSE_ENV_FILES");
        if (e && e[0]) {
            from_env = bt_strv_split(e, ",");
            explicit = from_env;
        }
    }
    if (bt_strv_length(explicit) > 0) {
        bt_strv_foreach (f, (char **)explicit) {
            if (!f[0])
                continue;
            char *abs = bt_path_absolute(cwd, f);
            if (!is_file(abs)) {
                bt_err_set(err, ENOENT, "couldn't find env file: %s", abs);
                free(abs);
                bt_strv_free(out);
                return NULL;
            }
            out = bt_strv_push_take(out, abs);
        }
        return out;
    }
    char *dotenv = bt_path_join(dir, ".env");
    struct stat st;
    if (stat(dotenv, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            bt_err_set(err, EISDIR, "%s is a directory", dotenv);
            free(dotenv);
            bt_strv_free(out);
            return NULL;
        }
        return bt_strv_push_take(out, dotenv);
    }
    free(dotenv);
    return out;
}

/* Environment for interpolation: env files, with the process environment
 * over them. */
static char **
build_env(const char *cwd, const char *dir, char *const *flags, char *const *procenv,
          struct bt_err **err)
{
    _cleanup_strv_ char **files = env_files_for(cwd, dir, flags, procenv, err);
    if (!files)
        return NULL;
    _cleanup_strv_ char **fromfiles = xcalloc(1, sizeof(char *));
    bt_strv_foreach (f, files) {
        if (compose_dotenv_load(f, procenv, &fromfiles, err) < 0)
            return NULL;
    }
    char **env = TAKE_PTR(fromfiles);
    for (size_t i = 0; procenv && procenv[i]; i++)
        if (strchr(procenv[i], '='))
            env = bt_strv_push(env, procenv[i]);
    return env;
}

static int
add_file(char ***files, const char *cwd, const char *f, struct bt_err **err)
{
    if (strcmp(f, "-") == 0) {
        *files = bt_strv_push(*files, "-");
        return 0;
    }
    char *abs = bt_path_absolute(cwd, f);
    struct stat st;
    if (stat(abs, &st) < 0) {
        int e = errno;
        bt_err_errno(err, e, "open %s", abs);
        free(abs);
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        bt_err_set(err, EISDIR, "%s is a directory, not a compose file", abs);
        free(abs);
        return -EISDIR;
    }
    *files = bt_strv_push_take(*files, abs);
    return 0;
}

static char *
first_found(const char *dir, const char *const *names, const char *what)
{
    _cleanup_strv_ char **found = NULL;
    for (const char *const *n = names; *n; n++) {
        char *p = bt_path_join(dir, *n);
        if (is_file(p))
            found = bt_strv_push_take(found, p);
        else
            free(p);
    }
    if (!found)
        return NULL;
    if (found[1]) {
        _cleanup_free_ char *all = bt_strv_join(found, ", ");
        bt_warn("Found multiple %s files with supported names: %s", what, all);
        bt_warn("Using %s", found[0]);
    }
    return xstrdup(found[0]);
}

/* Searches dir and its parents for a compose file and its override. */
static int
search_default(const char *start, char ***files)
{
    _cleanup_free_ char *dir = xstrdup(start);
    for (;;) {
        char *main = first_found(dir, default_names, "config");
        if (main) {
            *files = bt_strv_push_take(*files, main);
            char *over = first_found(dir, override_names, "override");
            if (over)
                *files = bt_strv_push_take(*files, over);
            return 0;
        }
        if (strcmp(dir, "/") == 0)
            return 0;
        char *parent = bt_path_dirname(dir);
        free(dir);
        dir = parent;
    }
}

static int
read_stdin(struct compose_sources *s, struct bt_err **err)
{
    struct bt_buf b = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            bt_buf_done(&b);
            return bt_err_errno(err, e, "read the compose file from standard input");
        }
        if (n == 0)
            break;
        bt_buf_append(&b, chunk, (size_t)n);
    }
    s->stdin_len = b.len;
    s->stdin_data = bt_buf_steal(&b);
    return 0;
}

int
compose_sources_discover(const struct compose_options *opts, struct compose_sources *out,
                         struct bt_err **err)
{
    *out = (struct compose_sources){0};
    _cleanup_free_ char *cwd = NULL;
    if (opts->workdir) {
        char *c = getcwd(NULL, 0);
        cwd = bt_path_absolute(c ? c : "/", opts->workdir);
        free(c);
    } else {
        cwd = getcwd(NULL, 0);
        if (!cwd)
            return bt_err_errno(err, errno, "cannot determine the working directory");
    }
    char *const *procenv = opts->environ ? opts->environ : environ;

    _cleanup_free_ char *flag_dir = NULL;
    if (opts->project_dir && opts->project_dir[0]) {
        flag_dir = bt_path_absolute(cwd, opts->project_dir);
        if (!bt_path_is_dir(flag_dir))
            return bt_err_set(err, ENOENT, "project directory %s: %s", flag_dir,
                              bt_path_exists(flag_dir) ? "not a directory"
                                                       : "no such file or directory");
    }

    /* Where discovery starts: --project-directory, the first -f file's
     * directory, or the working directory. The .env found there may set
     * COMPOSE_FILE, COMPOSE_PATH_SEPARATOR and the others. */
    _cleanup_free_ char *start = NULL;
    if (flag_dir)
        start = xstrdup(flag_dir);
    for (size_t i = 0; !start && opts->files && opts->files[i]; i++) {
        if (strcmp(opts->files[i], "-") != 0) {
            _cleanup_free_ char *abs = bt_path_absolute(cwd, opts->files[i]);
            start = bt_path_dirname(abs);
        }
    }
    if (!start)
        start = xstrdup(cwd);
    _cleanup_strv_ char **env0 = build_env(cwd, start, opts->env_files, procenv, err);
    if (!env0)
        return bt_err_ret(err);

    _cleanup_strv_ char **files = xcalloc(1, sizeof(char *));
    if (bt_strv_length(opts->files) > 0) {
        for (size_t i = 0; opts->files[i]; i++)
            if (add_file(&files, cwd, opts->files[i], err) < 0)
                return bt_err_ret(err);
    } else if (compose_env_get(env0, "COMPOSE_FILE")) {
        const char *sep = compose_env_get(env0, "COMPOSE_PATH_SEPARATOR");
        if (!sep || !sep[0])
            sep = ":";
        _cleanup_strv_ char **parts = bt_strv_split(compose_env_get(env0, "COMPOSE_FILE"), sep);
        bt_strv_foreach (p, parts) {
            if (p[0] && add_file(&files, cwd, p, err) < 0)
                return bt_err_ret(err);
        }
    } else {
        search_default(start, &files);
    }
    if (!files[0])
        return bt_err_set(err, ENOENT, "no configuration file provided: not found");

    char *pdir = NULL;
    if (flag_dir)
        pdir = xstrdup(flag_dir);
    for (size_t i = 0; !pdir && files[i]; i++)
        if (strcmp(files[i], "-") != 0)
            pdir = bt_path_dirname(files[i]);
    if (!pdir)
        pdir = xstrdup(cwd);
    out->project_dir = pdir;

    /* The project directory's .env, when it is not where discovery read
     * one already. Explicit env files do not depend on the directory. */
    const char *env_files_var = compose_env_get(procenv, "COMPOSE_ENV_FILES");
    bool explicit_env = bt_strv_length(opts->env_files) > 0 || (env_files_var && env_files_var[0]);
    if (strcmp(pdir, start) != 0 && !explicit_env) {
        char **env = build_env(cwd, pdir, opts->env_files, procenv, err);
        if (!env) {
            compose_sources_done(out);
            return bt_err_ret(err);
        }
        out->env = env;
    } else {
        out->env = TAKE_PTR(env0);
    }
    if (bt_strv_contains(files, "-") && read_stdin(out, err) < 0) {
        compose_sources_done(out);
        return bt_err_ret(err);
    }
    out->files = TAKE_PTR(files);
    return 0;
}

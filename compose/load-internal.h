/* Loading stages before validation: finding the files, the environment
 * (.env, --env-file), interpolation, include, extends, merging several files
 * and profiles. All of them work on the node tree (node-internal.h) and keep
 * each node's position.
 *
 * Environments are NULL-terminated "KEY=VALUE" vectors (char **); a later
 * entry wins over an earlier one with the same key. */
#pragma once

#include "compose/compose.h"
#include "compose/node-internal.h"

/* Value of key in a KEY=VALUE vector (last match), NULL when unset. Borrowed. */
const char *compose_env_get(char *const *env, const char *key);
/* Sets key=value in *env, replacing an earlier entry. */
void compose_env_set(char ***env, const char *key, const char *value);

/* Parses dotenv text with the Compose grammar (comments, `export`, single and
 * double quotes with escapes, multi-line values, inline comments,
 * interpolation of ${VAR} against `lookup` and earlier lines). Appends to
 * *out. Errors carry file:line. */
int compose_dotenv_parse(const char *data, size_t len, const char *file, char *const *lookup,
                         char ***out, struct bt_err **err);
int compose_dotenv_load(const char *path, char *const *lookup, char ***out, struct bt_err **err);

/* Interpolates one string: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e},
 * ${VAR?e}, ${VAR:+r}, ${VAR+r}, nesting, $$. Unset variables become empty;
 * their names are added (once) to *unset when unset is non-NULL. `where` names
 * the position and key path for errors ("compose.yaml:3:12: services.web.image"). */
int compose_interpolate_string(const char *in, char *const *env, const char *where, char **out,
                               char ***unset, struct bt_err **err);
/* Interpolates every scalar value (not keys) of a tree in place; warns once
 * per unset variable ("The "X" variable is not set. Defaulting to a blank
 * string."). */
int compose_interpolate_tree(struct cnode *root, char *const *env, struct bt_err **err);

/* What `berth` was asked to load, resolved: absolute file paths in order
 * (standard input is named "-", its content kept in stdin_data), the project
 * directory, and the environment used for interpolation (process environment
 * over .env / --env-file files). */
struct compose_sources {
    char **files;
    char *project_dir;
    char **env;
    /* When files holds "-": what was read from standard input (once). */
    char *stdin_data;
    size_t stdin_len;
};
void compose_sources_done(struct compose_sources *s);
/* File discovery as Compose does it: -f (repeatable, "-" = stdin),
 * COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR or ':'), else compose.yaml /
 * compose.yml / docker-compose.yaml / docker-compose.yml searched in the
 * working directory and its parents, plus the matching override file;
 * --project-directory (default: the first file's directory); .env in the
 * project directory or --env-file files. */
int compose_sources_discover(const struct compose_options *opts, struct compose_sources *out,
                             struct bt_err **err);

/* Reads, parses and (unless no_interpolate) interpolates one file. */
struct cnode *compose_file_load(const char *path, char *const *env, bool interpolate,
                                struct bt_err **err);
/* Merges override into base in place following the Compose merge rules
 * (mappings merge, ports/volumes/expose/dns/... by their unique key,
 * command/entrypoint replace, !reset removes, !override replaces). Takes
 * ownership of override. */
int compose_merge_take(struct cnode *base, struct cnode *override, struct bt_err **err);
/* Resolves `include:` entries (loaded relative to the including file's
 * directory, merged in; conflicts are errors) and every service's `extends`
 * (same file or another file; relative paths rebased), in place. */
int compose_include_apply(struct cnode *root, const struct compose_sources *src, bool interpolate,
                          struct bt_err **err);
int compose_extends_apply(struct cnode *root, const char *project_dir, char *const *env,
                          bool interpolate, struct bt_err **err);
/* Every file loaded, include and extends resolved, merged: one tree. */
struct cnode *compose_files_load(const struct compose_sources *src, bool interpolate,
                                 struct bt_err **err);

/* Project name precedence: -p, COMPOSE_PROJECT_NAME, top-level `name:`, the
 * project directory's basename normalised (lowercase, only [a-z0-9_-]).
 * Explicit names that are invalid are an error. */
int compose_project_name_resolve(const char *flag, char *const *env, const struct cnode *root,
                                 const char *project_dir, char **out, struct bt_err **err);

/* Removes services not enabled by the active profiles (--profile,
 * COMPOSE_PROFILES; "*" enables all). Services without profiles are always
 * enabled; a service named in `explicit` (e.g. `berth up svc`) is enabled with
 * the services it depends on. */
int compose_profiles_apply(struct cnode *root, char *const *profiles, char *const *explicit,
                           struct bt_err **err);
/* The active profiles: --profile flags when given, else COMPOSE_PROFILES
 * from env split on ','; empty names dropped. Caller owns the vector. */
char **compose_profiles_active(char *const *flags, char *const *env);

/* Makes the relative paths of one service absolute against dir: build
 * context, env_file, label_file, bind-mount sources of volumes, extends.file.
 * Used when a service comes from another directory (extends, include). */
void compose_service_paths_rebase(struct cnode *service, const char *dir);

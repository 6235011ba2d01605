/* image: Dockerfile syntax — the parser, variable substitution and the
 * .dockerignore matcher that `berth build` uses. Pure functions, no I/O
 * beyond what the caller passes in.
 *
 * Ownership: structs filled by *_parse are released with their *_done;
 * returned `char *` / `char **` belong to the caller; `const char *`
 * arguments are borrowed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/common.h"

/* One instruction, continuation lines joined. */
struct image_df_instr {
    char *cmd;      /* upper case: "RUN" */
    int line;       /* where it starts, 1-based */
    char **flags;   /* leading "--name=value" / "--name" flags, as written */
    char *args;     /* the rest, trimmed, continuations removed */
    char **json;    /* the exec (JSON array) form of args, NULL for shell form */
    char *original; /* "RUN --mount=x echo hi": the instruction as one line */
};

struct image_dockerfile {
    struct image_df_instr *v;
    size_t n;
    char escape; /* '\\' or '`' (the escape directive) */
};

/* Parses Dockerfile text: comments, parser directives (`# syntax`, `#
 * escape`), line continuations, empty continuation lines, flags, JSON and
 * shell forms. An unknown instruction is EINVAL with
 * "Dockerfile:LINE: unknown instruction FOO"; so is an instruction without
 * arguments. name (may be NULL) replaces "Dockerfile" in messages. */
int image_dockerfile_parse(const char *text, const char *name, struct image_dockerfile *out,
                           struct bt_err **err);
void image_dockerfile_done(struct image_dockerfile *df);

/* Variable lookup: the value (borrowed) or NULL when unset. */
typedef const char *(*image_df_lookup_fn)(void *data, const char *name);

/* Substitutes $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:+alt}, ${VAR+alt} in s and removes quotes, as one word (FROM,
 * WORKDIR, USER, ...): the escape character quotes the next character,
 * single quotes keep their text literally, double quotes still expand.
 * lookup may be NULL (no substitution). */
char *image_df_expand(const char *s, char escape, image_df_lookup_fn lookup, void *data,
                      struct bt_err **err);
/* Substitution plus quote removal and splitting on unquoted blanks, as
 * COPY, ENV, LABEL, ARG, EXPOSE, ... take their words. lookup may be NULL
 * (no substitution). */
char **image_df_words(const char *s, char escape, image_df_lookup_fn lookup, void *data,
                      struct bt_err **err);

/* Looks up flag `name` ("from") in an instruction's flags: the value
 * (borrowed), "" for a bare flag, NULL when absent. */
const char *image_df_flag(const struct image_df_instr *in, const char *name);

/* ---- .dockerignore ---- */

struct image_ignore {
    char **patterns; /* cleaned, without the leading '!' */
    bool *exclude;   /* true for "!" exception lines */
    size_t n;
};
/* Parses .dockerignore text (comments, blank lines, "!" exceptions,
 * leading "/" and "./" dropped, paths cleaned). */
void image_ignore_parse(const char *text, struct image_ignore *out);
void image_ignore_done(struct image_ignore *ig);
/* true when path (relative to the context, no leading "/") is ignored:
 * the last pattern that matches the path or one of its parent directories
 * decides. */
bool image_ignore_match(const struct image_ignore *ig, const char *path);
/* Docker's pattern match of a whole relative path: '*' and '?' stay
 * within one path component, "**" spans any number of components,
 * [classes] and escapes as in filepath.Match. */
bool image_glob_match(const char *pattern, const char *path);
/* true when s holds glob metacharacters. */
bool image_glob_has_meta(const char *s);

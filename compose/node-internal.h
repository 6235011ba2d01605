/* The compose node tree: what libyaml read, before it becomes typed structs.
 *
 * Every node keeps the file, line and column it came from, so each later
 * stage (interpolation, merge, validation, normalisation) can report
 * `file:line:col` with the key path. Anchors and aliases are expanded into
 * copies and merge keys (`<<`) are applied at load time; `!reset` and
 * `!override` are kept as tags for the merge stage.
 *
 * Ownership: a node owns its keys, values and items; file names are interned
 * (cnode_intern) and live until exit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/common.h"

enum cnode_kind { CNODE_SCALAR, CNODE_MAP, CNODE_SEQ };

/* The type a scalar resolves to under the YAML 1.2 core schema; quoted
 * scalars are always strings. */
enum cnode_type { CNODE_T_NULL, CNODE_T_BOOL, CNODE_T_INT, CNODE_T_FLOAT, CNODE_T_STRING };

enum cnode_tag { CNODE_TAG_NONE, CNODE_TAG_RESET, CNODE_TAG_OVERRIDE };

struct cnode_index;

struct cnode {
    enum cnode_kind kind;
    enum cnode_tag tag;
    char *value; /* scalar text (never NULL for scalars); change it with cnode_set_value_take */
    bool quoted; /* single/double-quoted or block scalar: always a string */
    /* cnode_type's answer, remembered once asked; cnode_set_value_take forgets it. */
    bool typed;
    enum cnode_type type;
    const char *file; /* interned */
    int line, col;    /* 1-based */
    /* maps: keys[i] -> items[i] (keys are scalars); sequences: items[i] */
    size_t n, cap;
    struct cnode **keys;
    struct cnode **items;
    /* Large maps: a hash of the keys for cnode_map_index, owned, rebuilt
     * whenever n no longer matches it. */
    struct cnode_index *index;
};

const char *cnode_intern(const char *s);

struct cnode *cnode_new(enum cnode_kind kind, const char *file, int line, int col);
struct cnode *cnode_new_scalar(const char *value, bool quoted, const struct cnode *pos);
struct cnode *cnode_free(struct cnode *n);
DEFINE_CLEANUP(struct cnode *, cnode_free)
#define _cleanup_cnode_ _cleanup_(cnode_freep)
struct cnode *cnode_copy(const struct cnode *n);
/* Replaces a scalar's text (takes ownership of value); its type is worked
 * out again from the new text and n->quoted. */
void cnode_set_value_take(struct cnode *n, char *value);

enum cnode_type cnode_type(const struct cnode *n);
/* The type of s written as a plain (unquoted) scalar. */
enum cnode_type cnode_plain_type(const char *s);
bool cnode_is_null(const struct cnode *n);
/* Scalar accessors; false when the node is not of that type. */
bool cnode_get_bool(const struct cnode *n, bool *out);
bool cnode_get_int(const struct cnode *n, int64_t *out);

/* Maps. Lookups return borrowed nodes, NULL when absent. */
struct cnode *cnode_map_get(const struct cnode *map, const char *key);
ssize_t cnode_map_index(const struct cnode *map, const char *key);
/* Sets key to val (both owned), replacing an existing value in place. */
void cnode_map_set_take(struct cnode *map, struct cnode *key, struct cnode *val);
void cnode_map_set_str_take(struct cnode *map, const char *key, struct cnode *val);
/* Appends key and val (both owned); the caller knows key is not in map. */
void cnode_map_push_take(struct cnode *map, struct cnode *key, struct cnode *val);
/* Removes and frees key; no-op when absent. */
void cnode_map_del(struct cnode *map, const char *key);
/* Sequences. */
void cnode_seq_push_take(struct cnode *seq, struct cnode *item);

/* "file:line:col" for messages (owned). */
char *cnode_pos(const struct cnode *n);
const char *cnode_kind_name(const struct cnode *n);

/* Parses one YAML document. An empty document yields an empty map. Errors
 * carry file:line:col. */
struct cnode *compose_yaml_parse(const char *data, size_t len, const char *file,
                                 struct bt_err **err);
/* Emits a node tree as YAML (block style, keys in tree order). */
char *compose_yaml_emit(const struct cnode *n);

/* The typed model's plumbing shared by normalisation, emitting, hashing and
 * freeing: tables of the simple fields of each struct (key, kind, offset), so
 * that one description drives parsing, output and release. */
#pragma once

#include <stddef.h>

#include "compose/compose.h"
#include "compose/node-internal.h"

enum compose_field_kind {
    COMPOSE_F_STR,      /* char * */
    COMPOSE_F_BOOL,     /* bool, printed when true */
    COMPOSE_F_TRI,      /* enum compose_tri */
    COMPOSE_F_INT,      /* int64_t, COMPOSE_NO_INT when unset */
    COMPOSE_F_BYTES,    /* int64_t bytes; "512m" or a number */
    COMPOSE_F_DURATION, /* int64_t ns; "1m30s"; printed as a duration */
    COMPOSE_F_USEC,     /* int64_t microseconds; a number or a duration */
    COMPOSE_F_DOUBLE,   /* double, 0 when unset */
    COMPOSE_F_STRV,     /* char **, a list or a single string */
    COMPOSE_F_KVS,      /* struct compose_kvs from a list or a mapping */
};

struct compose_field {
    const char *key;
    enum compose_field_kind kind;
    size_t off;
};

extern const struct compose_field compose_service_fields[];
extern const size_t compose_service_n_fields;
extern const struct compose_field compose_network_fields[];
extern const size_t compose_network_n_fields;
extern const struct compose_field compose_volume_fields[];
extern const size_t compose_volume_n_fields;
extern const struct compose_field compose_file_object_fields[];
extern const size_t compose_file_object_n_fields;

/* Sets every field of a table to "unset" (COMPOSE_NO_INT for numbers). */
void compose_fields_init(void *obj, const struct compose_field *f, size_t n);
void compose_fields_done(void *obj, const struct compose_field *f, size_t n);
const struct compose_field *compose_field_find(const struct compose_field *f, size_t n,
                                               const char *key);

struct compose_project *compose_project_new(void);
void compose_service_done(struct compose_service *s);

/* Normalises a validated, merged, profile-filtered tree into p (whose name,
 * working_dir and environment are already set): short syntax to long, paths
 * absolute, env_file read, defaults (default network, resource names) added.
 * Errors carry file:line:col and the key path. */
int compose_normalize(const struct cnode *root, struct compose_project *p, struct bt_err **err);

/* The node tree as JSON with YAML 1.2 core types (for keys kept verbatim). */
json_t *compose_cnode_to_json(const struct cnode *n);

/* Convenience for tests and tools: normalise a tree and build the graph. */
struct compose_project *compose_project_from_tree(const struct cnode *root, const char *name,
                                                  const char *working_dir, char *const *env,
                                                  struct bt_err **err);

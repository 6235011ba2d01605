/* Validation of a compose node tree against the Compose Specification's JSON
 * schema (compose/compose-spec.json, embedded at build time). Every error
 * names file:line:col, the key path (`services.web.ports[1]`) and what was
 * expected. */
#pragma once

#include "compose/node-internal.h"

/* Returns 0 when valid; otherwise -EINVAL with *err set to the first (most
 * specific) error. */
int compose_validate(const struct cnode *root, struct bt_err **err);

/* A compiled JSON schema: the draft-07 keywords validate.c lists, $ref
 * into #/definitions. compose_validate() uses the embedded Compose
 * Specification; these also let tests drive the validator with small
 * schemas. A schema using anything else is refused with an error naming
 * where. compose_schema_validate() counts coverage on s when started (see
 * below), hence not const. */
struct compose_schema;
struct compose_schema *compose_schema_new(const char *json, size_t len, struct bt_err **err);
struct compose_schema *compose_schema_free(struct compose_schema *s);
DEFINE_CLEANUP(struct compose_schema *, compose_schema_free)
#define _cleanup_schema_ _cleanup_(compose_schema_freep)
int compose_schema_validate(struct compose_schema *s, const struct cnode *root,
                            struct bt_err **err);

/* Schema coverage, for the fixture tests. Once started, every document that
 * validates counts the schema keys it used. compose_schema_coverage_foreach()
 * reports each key the schema defines (properties and patternProperties,
 * named by schema path, e.g. "definitions.service.properties.image" or
 * "root.patternProperties[^x-]") with its count; keys that can never apply
 * (under a schema whose type excludes objects) are left out. */
typedef void (*compose_schema_key_fn)(const char *where, size_t uses, void *data);
void compose_schema_coverage_start(void);
void compose_schema_coverage_foreach(compose_schema_key_fn fn, void *data);

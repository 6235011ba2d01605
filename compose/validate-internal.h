/* Validation of a compose node tree against the Compose Specification's JSON
 * schema (compose/compose-spec.json, embedded at build time). Every error
 * names file:line:col, the key path (`services.web.ports[1]`) and what was
 * expected. */
#pragma once

#include "compose/node-internal.h"

/* Returns 0 when valid; otherwise -EINVAL with *err set to the first (most
 * specific) error. */
int compose_validate(const struct cnode *root, struct bt_err **err);

/* Schema coverage, for the fixture tests. Once started, every document that
 * validates counts the schema keys it used. compose_schema_coverage_foreach()
 * reports each key the schema defines (properties and patternProperties,
 * named by schema path, e.g. "definitions.service.properties.image" or
 * "root.patternProperties[^x-]") with its count; keys that can never apply
 * (under a schema whose type excludes objects) are left out. */
typedef void (*compose_schema_key_fn)(const char *where, size_t uses, void *data);
void compose_schema_coverage_start(void);
void compose_schema_coverage_foreach(compose_schema_key_fn fn, void *data);

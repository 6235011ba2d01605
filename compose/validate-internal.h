/* Validation of a compose node tree against the Compose Specification's JSON
 * schema (compose/compose-spec.json, embedded at build time). Every error
 * names file:line:col, the key path (`services.web.ports[1]`) and what was
 * expected. */
#pragma once

#include "compose/node-internal.h"

/* Returns 0 when valid; otherwise -EINVAL with *err set to the first (most
 * specific) error. */
int compose_validate(const struct cnode *root, struct bt_err **err);

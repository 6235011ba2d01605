/* The Compose Specification's JSON schema (compose/compose-spec.json),
 * embedded at build time by compose/schema-embed.cmake. NUL-terminated;
 * the length excludes the NUL. */
#pragma once

#include <stddef.h>

extern const char compose_spec_json[];
extern const size_t compose_spec_json_len;

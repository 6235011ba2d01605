/* common: string vectors as JSON arrays and back. */
#pragma once

#include <jansson.h>

/* A JSON array of the strings of v (NULL: empty); caller owns. */
json_t *bt_json_from_strv(char *const *v);
/* The strings of a JSON array (non-strings become ""); never NULL, caller
 * owns. */
char **bt_json_to_strv(json_t *arr);

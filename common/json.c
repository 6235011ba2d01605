/* JSON helpers over jansson. */
#include <string.h>

#include "common/common.h"

void
bt_json_init(void)
{
    json_set_alloc_funcs(xmalloc, free);
}

json_t *
bt_json_load_file(const char *path, struct bt_err **err)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        bt_err_set(err, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    return j;
}

int
bt_json_write_atomic(const char *path, json_t *j, struct bt_err **err)
{
    _cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s)
        return bt_err_set(err, EINVAL, "%s: cannot encode JSON", path);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = '\0';
    return bt_file_write_atomic(path, s, n + 1, 0644, err);
}

const char *
bt_json_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

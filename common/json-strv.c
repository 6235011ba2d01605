/* common: string vectors as JSON arrays and back. */
#include "common/json-strv.h"
#include "common/common.h"

json_t *
bt_json_from_strv(char *const *v)
{
    json_t *a = json_array();
    bt_strv_foreach (s, (char **)v)
        json_array_append_new(a, json_string(s));
    return a;
}

char **
bt_json_to_strv(json_t *arr)
{
    char **v = xcalloc(1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e) {
        v = bt_strv_push(v, json_string_value(e) ? json_string_value(e) : "");
    }
    return v;
}

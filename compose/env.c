/* Environments as NULL-terminated "KEY=VALUE" vectors: the process
 * environment, .env files and --env-file files layered on each other. A later
 * entry wins over an earlier one with the same key. */
#include <string.h>

#include "compose/load-internal.h"

static bool
entry_has_key(const char *entry, const char *key, size_t klen)
{
    return strncmp(entry, key, klen) == 0 && entry[klen] == '=';
}

const char *
compose_env_get(char *const *env, const char *key)
{
    size_t klen = strlen(key);
    const char *found = NULL;
    for (size_t i = 0; env && env[i]; i++)
        if (entry_has_key(env[i], key, klen))
            found = env[i] + klen + 1;
    return found;
}

void
compose_env_set(char ***env, const char *key, const char *value)
{
    size_t klen = strlen(key);
    char *entry = xasprintf("%s=%s", key, value);
    for (size_t i = 0; *env && (*env)[i]; i++) {
        if (entry_has_key((*env)[i], key, klen)) {
            free((*env)[i]);
            (*env)[i] = entry;
            /* Drop any later duplicate so the replacement is the one seen. */
            size_t j = i + 1, k = i + 1;
            for (; (*env)[j]; j++) {
                if (entry_has_key((*env)[j], key, klen))
                    free((*env)[j]);
                else
                    (*env)[k++] = (*env)[j];
            }
            (*env)[k] = NULL;
            return;
        }
    }
    *env = bt_strv_push_take(*env, entry);
}

/* The config hashes, computed as Compose computes them: sha256 over a
 * normalised definition. A service's leaves out the keys that do not change
 * what a container is (build, pull_policy, scale, deploy.replicas,
 * depends_on, profiles); a network's or volume's is its whole definition.
 * Containers, networks and volumes carry it in the
 * com.docker.compose.config-hash label; a different hash means the object
 * no longer matches the file. */
#include <string.h>

#include <openssl/evp.h>

#include "compose/compose.h"

/* sha256 (hex) of j's compact text with sorted keys; caller owns. */
static char *
json_sha256(const json_t *j)
{
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        abort(); /* jansson fails only when out of memory */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL))
        abort(); /* sha256 over a memory buffer cannot fail but for out of memory */
    char *hex = xmalloc(len * 2 + 1);
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

char *
compose_service_hash(const struct compose_service *s)
{
    _cleanup_json_ json_t *j = compose_service_to_json(s);
    static const char *const drop[] = {"build", "pull_policy", "scale", "depends_on", "profiles"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(drop); i++)
        json_object_del(j, drop[i]);
    json_t *deploy = json_object_get(j, "deploy");
    if (deploy) {
        json_object_del(deploy, "replicas");
        if (json_object_size(deploy) == 0)
            json_object_del(j, "deploy");
    }
    return json_sha256(j);
}

char *
compose_network_hash(const struct compose_network *n)
{
    _cleanup_json_ json_t *j = compose_network_to_json(n);
    return json_sha256(j);
}

char *
compose_volume_hash(const struct compose_volume *v)
{
    _cleanup_json_ json_t *j = compose_volume_to_json(v);
    return json_sha256(j);
}

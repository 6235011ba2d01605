/* libFuzzer harness for the compose loader: YAML parsing into the node tree,
 * then validation against the Compose Specification schema. Any input must
 * give either a tree or an error, never a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "compose/node-internal.h"
#include "compose/validate-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_err *err = NULL;
    struct cnode *root = compose_yaml_parse((const char *)data, size, "fuzz.yaml", &err);
    if (root) {
        int r = compose_validate(root, &err);
        /* An error is set exactly when validation fails. */
        if ((r < 0) != (err != NULL))
            abort();
    } else if (!err) {
        abort();
    }
    bt_err_free(err);
    cnode_free(root);
    return 0;
}

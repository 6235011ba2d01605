/* compose: a service's secrets and configs, delivered into its containers.
 *
 * Without a cluster store, a secret or config comes from a file (relative to
 * the project directory), the value of an environment variable, or (configs
 * only) inline content. Content from the environment or from content: is
 * written under RUNROOT/containers/<container-id>/secrets/ with the requested owner and
 * mode; a file source is bind-mounted read-only as it is, or copied there
 * when uid, gid or mode is given. Every one reaches the container as a
 * read-only bind mount at its target, never in the image or the writable
 * layer; that directory lies in the engine's run directory of the container,
 * so it goes with the container however the container is removed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

struct compose_project;
struct compose_service;
struct compose_file_ref;

/* The label that holds the hash of the content of a container's secrets
 * and configs (Compose hashes it apart from the service configuration). */
#define COMPOSE_LABEL_SECRETS_HASH "berth.secrets-hash"

/* Default owner-independent modes. */
#define COMPOSE_SECRET_MODE_DEFAULT 0444
#define COMPOSE_CONFIG_MODE_DEFAULT 0444

/* The path in the container of a secret (secret true) or config reference:
 * its target, or /run/secrets/<source> (secrets) and /<source> (configs); a
 * relative secret target lands under /run/secrets/. Caller owns. */
char *compose_secret_target(const struct compose_file_ref *ref, bool secret);

/* Checks that every secret and config of the services (NULL: every
 * service) can be delivered: not external, its file exists, its variable
 * is set. The error names the secret or config and the path or variable. */
int compose_secrets_check(const struct compose_project *p, char *const *services,
                          struct bt_err **err);

/* Appends to mounts (a JSON array) the OCI mount objects of s's secrets and
 * configs for the container container_id, materialising content under
 * RUNROOT/containers/<container_id>/secrets/. On failure nothing is left there. */
int compose_secrets_mounts(const struct compose_project *p, const struct compose_service *s,
                           const char *container_id, json_t *mounts, struct bt_err **err);

/* Removes RUNROOT/secrets/<container_id>/; a container without one is fine. */
int compose_secrets_cleanup(const char *container_id, struct bt_err **err);

/* sha256 (hex) over the content of s's secrets and configs, in order; NULL
 * when s uses none. A source that cannot be read hashes as such. */
char *compose_secrets_hash(const struct compose_project *p, const struct compose_service *s);

/* Sets COMPOSE_LABEL_SECRETS_HASH in the labels object when s uses any. */
void compose_secrets_label(json_t *labels, const struct compose_project *p,
                           const struct compose_service *s);

/* Whether the content of s's secrets and configs differs from what the
 * container with these labels was made with. */
bool compose_secrets_changed(const struct compose_project *p, const struct compose_service *s,
                             json_t *labels);

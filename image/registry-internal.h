/* image: the registry client's internals shared by auth.c and registry.c. */
#pragma once

#include "image/image-internal.h"

/* Credentials for a registry host from the docker config file: 1 and
 * owned strings when found, 0 when not. */
int image_auth_lookup(const char *host, char **user, char **password);
/* Stores user:password for host in the docker config file (mode 0600). */
int image_auth_store(const char *host, const char *user, const char *password, struct bt_err **err);
char *image_base64(const void *data, size_t len);

/* berth.json's registry settings. */
struct image_registry_conf {
    char **mirrors;  /* registry-mirrors: URLs tried before docker.io */
    char **insecure; /* insecure-registries: host[:port] or IPv4 CIDR */
};
int image_registry_conf_load(struct image_registry_conf *c, struct bt_err **err);
void image_registry_conf_done(struct image_registry_conf *c);
/* Whether host[:port] may be reached over plain http / unverified TLS:
 * configured, or a loopback address (as Docker allows by default). */
bool image_registry_insecure(const struct image_registry_conf *c, const char *host);

/* Parses a WWW-Authenticate header: scheme ("Bearer"/"Basic", owned) and
 * the realm, service and scope parameters (owned, NULL when absent). */
struct image_challenge {
    char *scheme, *realm, *service, *scope;
};
int image_challenge_parse(const char *header, struct image_challenge *out);
void image_challenge_done(struct image_challenge *c);

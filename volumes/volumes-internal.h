/* volumes: helpers shared between the module's files. */
#pragma once

#include "common/common.h"
#include "volumes/volumes.h"

DEFINE_CLEANUP(struct vol_volume *, vol_volume_free)
#define _cleanup_volume_ _cleanup_(vol_volume_freep)

struct vol_store {
    char *path; /* ROOT/volumes */
    int dirfd;  /* O_PATH|O_DIRECTORY on path */
    vol_user_alive_fn alive;
    void *alive_data;
};

/* Takes the store's exclusive lock; closing the returned fd releases it. */
int vol_store_lock(struct vol_store *st, struct bt_err **err);
/* Reads NAME/volume.json: 1 and *out, 0 when there is no such volume. */
int vol_meta_load(struct vol_store *st, const char *name, struct vol_volume **out,
                  struct bt_err **err);
/* Writes NAME/volume.json atomically. */
int vol_meta_save(struct vol_store *st, const struct vol_volume *v, struct bt_err **err);
/* Opens NAME/_data (O_DIRECTORY, never through a symlink) with flags. */
int vol_data_open(struct vol_store *st, const char *name, int flags, struct bt_err **err);

/* "key=value" vectors. */
const char *vol_kv_get(char *const *kv, const char *key);
/* Replaces or adds key=value (value NULL removes it) and keeps the vector sorted. */
char **vol_kv_set(char **kv, const char *key, const char *value);
/* Checks "key=value" entries: non-empty keys, no duplicates. */
int vol_kv_validate(char *const *kv, const char *what, struct bt_err **err);

/* The local driver's options (type, o, device). */
int vol_driver_opts_validate(char *const *opts, struct bt_err **err);
/* Whether the volume's _data is a mount point of its own. */
int vol_data_is_mounted(struct vol_store *st, const char *name, struct bt_err **err);
/* Makes the driver-options mount on _data (no-op without options). */
int vol_driver_mount(struct vol_store *st, const struct vol_volume *v, struct bt_err **err);
/* Undoes it, if _data is mounted. */
int vol_driver_unmount(struct vol_store *st, const struct vol_volume *v, struct bt_err **err);

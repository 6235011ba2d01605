/* volumes_from: a container takes another one's volume and bind mounts;
 * and the check that no two mounts share a destination. */
#include <string.h>

#include "volumes/volumes-internal.h"

void
vol_volumes_from_done(struct vol_volumes_from *f)
{
    free(f->name);
    f->name = NULL;
}

int
vol_volumes_from_parse(const char *spec, struct vol_volumes_from *out, struct bt_err **err)
{
    *out = (struct vol_volumes_from){.kind = VOL_FROM_SERVICE, .mode = VOL_FROM_KEEP};
    _cleanup_strv_ char **parts = bt_strv_split(spec, ":");
    size_t n = bt_strv_length(parts);
    size_t i = 0;
    if (n >= 2 && (strcmp(parts[0], "service") == 0 || strcmp(parts[0], "container") == 0)) {
        out->kind = strcmp(parts[0], "service") == 0 ? VOL_FROM_SERVICE : VOL_FROM_CONTAINER;
        i = 1;
    }
    if (i >= n || !*parts[i])
        return bt_err_set(err, EINVAL, "volumes_from '%s': no service or container name", spec);
    if (n - i > 2)
        return bt_err_set(err, EINVAL,
                          "volumes_from '%s': expected [service:|container:]NAME[:ro|:rw]", spec);
    if (n - i == 2) {
        if (strcmp(parts[i + 1], "ro") == 0)
            out->mode = VOL_FROM_RO;
        else if (strcmp(parts[i + 1], "rw") == 0)
            out->mode = VOL_FROM_RW;
        else
            return bt_err_set(err, EINVAL, "volumes_from '%s': mode '%s' is not ro or rw", spec,
                              parts[i + 1]);
    }
    out->name = xstrdup(parts[i]);
    return 0;
}

void
vol_mount_plans_free(struct vol_mount_plan *plans, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vol_mount_plan_done(&plans[i]);
    free(plans);
}

static char **
options_with_mode(char *const *opts, enum vol_from_mode mode)
{
    char **o = xcalloc(1, sizeof(char *));
    for (size_t i = 0; opts && opts[i]; i++) {
        bool is_mode = strcmp(opts[i], "ro") == 0 || strcmp(opts[i], "rw") == 0;
        if (is_mode && mode != VOL_FROM_KEEP)
            continue;
        o = bt_strv_push(o, opts[i]);
        /* "ro" right after "rbind", where vol_mount_build puts it. */
        if (mode == VOL_FROM_RO && strcmp(opts[i], "rbind") == 0)
            o = bt_strv_push(o, "ro");
    }
    if (mode == VOL_FROM_RO && !bt_strv_contains(o, "ro"))
        o = bt_strv_push(o, "ro");
    return o;
}

int
vol_mounts_from(const struct vol_store *st, const struct vol_oci_mount *src, size_t n_src,
                enum vol_from_mode mode, char *const *own, struct vol_mount_plan **out,
                size_t *n_out, struct bt_err **err)
{
    *out = NULL;
    *n_out = 0;
    struct vol_mount_plan *plans = xcalloc(n_src ? n_src : 1, sizeof(*plans));
    size_t n = 0;
    for (size_t i = 0; i < n_src; i++) {
        const struct vol_oci_mount *m = &src[i];
        if (!m->type || strcmp(m->type, "bind") != 0)
            continue;
        if (!m->destination || !m->source) {
            vol_mount_plans_free(plans, n);
            return bt_err_set(err, EINVAL, "volumes_from: a mount without source or destination");
        }
        _cleanup_free_ char *dest = bt_path_clean(m->destination);
        bool overridden = false;
        for (size_t k = 0; own && own[k] && !overridden; k++) {
            _cleanup_free_ char *c = bt_path_clean(own[k]);
            overridden = strcmp(c, dest) == 0;
        }
        if (overridden)
            continue;
        struct vol_mount_plan *p = &plans[n++];
        p->mount.destination = TAKE_PTR(dest);
        p->mount.type = xstrdup(m->type);
        p->mount.source = xstrdup(m->source);
        p->mount.options = options_with_mode(m->options, mode);
        /* a subpath mount stays confined to, and uses, its volume */
        p->mount.source_root = m->source_root ? xstrdup(m->source_root) : NULL;
        p->volume = vol_store_volume_of_path(st, m->source_root ? m->source_root : m->source);
        p->copy_up = false;
    }
    *out = plans;
    *n_out = n;
    return 0;
}

int
vol_mounts_check_unique(const struct vol_oci_mount *const *mounts, size_t n, struct bt_err **err)
{
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *a = bt_path_clean(mounts[i]->destination);
        for (size_t j = 0; j < i; j++) {
            _cleanup_free_ char *b = bt_path_clean(mounts[j]->destination);
            if (strcmp(a, b) == 0)
                return bt_err_set(err, EINVAL, "duplicate mount point: %s", a);
        }
    }
    return 0;
}

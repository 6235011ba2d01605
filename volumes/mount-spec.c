/* Mount descriptions: volume, bind and tmpfs requests (Docker's short
 * syntax, --tmpfs strings, or fields the compose model fills from the long
 * syntax) turned into OCI runtime-spec mount objects. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "volumes/volumes-internal.h"

static const char *const propagations[] = {"private", "rprivate", "shared",
                                           "rshared", "slave",    "rslave"};

static bool
is_propagation(const char *s)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(propagations); i++)
        if (strcmp(s, propagations[i]) == 0)
            return true;
    return false;
}

void
vol_mount_request_done(struct vol_mount_request *req)
{
    free((char *)req->source);
    free((char *)req->target);
    free((char *)req->propagation);
    free((char *)req->selinux);
    free((char *)req->subpath);
    bt_strv_free(req->tmpfs_options);
    *req = (struct vol_mount_request){0};
}

/* ---- sizes ---- */

int
vol_size_parse(const char *s, uint64_t *out, struct bt_err **err)
{
    /* As Docker reads memory sizes: "64m", "1.5g", "512 KiB", "100". */
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return bt_err_set(err, EINVAL, "invalid size '%s'", s);
    long double val = 0;
    while (isdigit((unsigned char)*p))
        val = val * 10 + (*p++ - '0');
    if (*p == '.') {
        long double scale = 0.1L;
        p++;
        if (!isdigit((unsigned char)*p))
            return bt_err_set(err, EINVAL, "invalid size '%s'", s);
        while (isdigit((unsigned char)*p)) {
            val += (*p++ - '0') * scale;
            scale /= 10;
        }
    }
    if (*p == ' ')
        p++;
    long double mult = 1;
    switch (tolower((unsigned char)*p)) {
    case 'k':
        mult = 1024.0L;
        break;
    case 'm':
        mult = 1024.0L * 1024;
        break;
    case 'g':
        mult = 1024.0L * 1024 * 1024;
        break;
    case 't':
        mult = 1024.0L * 1024 * 1024 * 1024;
        break;
    case 'p':
        mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
        break;
    default:
        break;
    }
    if (mult > 1) {
        p++;
        if (tolower((unsigned char)*p) == 'i')
            p++;
    }
    if (tolower((unsigned char)*p) == 'b')
        p++;
    if (*p)
        return bt_err_set(err, EINVAL, "invalid size '%s'", s);
    long double bytes = val * mult;
    if (bytes >= 18446744073709551615.0L)
        return bt_err_set(err, ERANGE, "size '%s' is too large", s);
    *out = (uint64_t)bytes;
    return 0;
}

/* ---- short syntax ---- */

static bool
is_mode_word(const char *w)
{
    static const char *const words[] = {"ro",     "rw",         "z",      "Z",
                                        "nocopy", "consistent", "cached", "delegated"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(words); i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return is_propagation(w);
}

static bool
is_mode(const char *mode)
{
    if (!*mode)
        return false;
    _cleanup_strv_ char **words = bt_strv_split(mode, ",");
    bt_strv_foreach (w, words)
        if (!is_mode_word(w))
            return false;
    return true;
}

static int
apply_mode(struct vol_mount_request *req, const char *mode, struct bt_err **err)
{
    _cleanup_strv_ char **words = bt_strv_split(mode, ",");
    bool seen_rw = false, seen_ro = false;
    bt_strv_foreach (w, words) {
        if (strcmp(w, "ro") == 0) {
            seen_ro = true;
            req->read_only = true;
        } else if (strcmp(w, "rw") == 0) {
            seen_rw = true;
        } else if (strcmp(w, "z") == 0 || strcmp(w, "Z") == 0) {
            if (req->selinux)
                return bt_err_set(err, EINVAL, "mode '%s': more than one SELinux label", mode);
            req->selinux = xstrdup(w);
        } else if (strcmp(w, "nocopy") == 0) {
            req->nocopy = true;
        } else if (is_propagation(w)) {
            if (req->propagation)
                return bt_err_set(err, EINVAL, "mode '%s': more than one propagation", mode);
            req->propagation = xstrdup(w);
        } else if (strcmp(w, "consistent") && strcmp(w, "cached") && strcmp(w, "delegated")) {
            return bt_err_set(err, EINVAL, "invalid mode '%s'", w);
        }
    }
    if (seen_ro && seen_rw)
        return bt_err_set(err, EINVAL, "mode '%s': both ro and rw", mode);
    return 0;
}

int
vol_mount_parse_short(const char *spec, struct vol_mount_request *req, struct bt_err **err)
{
    *req = (struct vol_mount_request){0};
    _cleanup_strv_ char **parts = bt_strv_split(spec, ":");
    size_t n = bt_strv_length(parts);
    const char *src = NULL, *dst = NULL, *mode = NULL;
    if (n == 1) {
        dst = parts[0];
    } else if (n == 2 && is_mode(parts[1]) && parts[0][0] == '/') {
        /* "/data:ro": an anonymous volume with a mode. */
        dst = parts[0];
        mode = parts[1];
    } else if (n == 2) {
        src = parts[0];
        dst = parts[1];
    } else if (n == 3) {
        src = parts[0];
        dst = parts[1];
        mode = parts[2];
    } else {
        return bt_err_set(err, EINVAL, "invalid volume specification '%s'", spec);
    }
    if (src && !*src)
        return bt_err_set(err, EINVAL, "invalid volume specification '%s': empty source", spec);
    int r = 0;
    if (!src || src[0] != '/') {
        req->type = VOL_MOUNT_VOLUME;
    } else {
        req->type = VOL_MOUNT_BIND;
    }
    if (src && (src[0] == '.' || src[0] == '~'))
        r = bt_err_set(err, EINVAL,
                       "invalid volume specification '%s': host path '%s' must be absolute", spec,
                       src);
    req->source = src ? xstrdup(src) : NULL;
    req->target = xstrdup(dst);
    if (r == 0 && mode)
        r = apply_mode(req, mode, err);
    if (r == 0)
        r = vol_mount_request_validate(req, err);
    if (r < 0) {
        bt_err_prefix(err, "volume '%s'", spec);
        vol_mount_request_done(req);
    }
    return r;
}

/* ---- tmpfs ---- */

static bool
tmpfs_option_ok(const char *o)
{
    static const char *const flags[] = {
        "ro",    "rw",         "exec",     "noexec",      "suid",     "nosuid",
        "dev",   "nodev",      "sync",     "async",       "dirsync",  "noatime",
        "atime", "nodiratime", "relatime", "strictatime", "diratime", "norelatime"};
    static const char *const keyed[] = {"uid=",  "gid=",    "nr_inodes=", "nr_blocks=", "mpol=",
                                        "huge=", "inode64", "inode32",    "noswap"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(flags); i++)
        if (strcmp(o, flags[i]) == 0)
            return true;
    for (size_t i = 0; i < BT_ARRAY_SIZE(keyed); i++)
        if (bt_str_startswith(o, keyed[i]))
            return true;
    return false;
}

static int
tmpfs_mode_parse(const char *s, uint32_t *out, struct bt_err **err)
{
    char *end = NULL;
    errno = 0;
    unsigned long m = strtoul(s, &end, 8);
    if (!*s || errno || *end || m > 07777)
        return bt_err_set(err, EINVAL, "invalid tmpfs mode '%s' (octal, at most 7777)", s);
    *out = (uint32_t)m;
    return 0;
}

int
vol_tmpfs_parse(const char *spec, struct vol_mount_request *req, struct bt_err **err)
{
    *req = (struct vol_mount_request){.type = VOL_MOUNT_TMPFS};
    const char *colon = strchr(spec, ':');
    req->target = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
    int r = 0;
    if (colon) {
        _cleanup_strv_ char **opts = bt_strv_split(colon + 1, ",");
        bt_strv_foreach (o, opts) {
            if (!*o)
                continue;
            if (bt_str_startswith(o, "size=")) {
                r = vol_size_parse(o + 5, &req->tmpfs_size, err);
            } else if (bt_str_startswith(o, "mode=")) {
                r = tmpfs_mode_parse(o + 5, &req->tmpfs_mode, err);
                req->tmpfs_mode_set = true;
            } else if (strcmp(o, "ro") == 0) {
                req->read_only = true;
            } else if (tmpfs_option_ok(o)) {
                if (strcmp(o, "rw") != 0)
                    req->tmpfs_options = bt_strv_push(req->tmpfs_options, o);
            } else {
                r = bt_err_set(err, EINVAL, "unknown tmpfs option '%s'", o);
            }
            if (r < 0)
                break;
        }
    }
    if (r == 0)
        r = vol_mount_request_validate(req, err);
    if (r < 0) {
        bt_err_prefix(err, "tmpfs '%s'", spec);
        vol_mount_request_done(req);
    }
    return r;
}

/* ---- validation ---- */

static int
subpath_validate(const struct vol_mount_request *req, struct bt_err **err)
{
    const char *sp = req->subpath;
    if (req->type != VOL_MOUNT_VOLUME)
        return bt_err_set(err, EINVAL, "subpath applies to volumes only");
    if (!*sp)
        return bt_err_set(err, EINVAL, "subpath must not be empty");
    if (sp[0] == '/')
        return bt_err_set(err, EINVAL, "subpath '%s' must be relative to the volume", sp);
    _cleanup_strv_ char **parts = bt_strv_split(sp, "/");
    for (char **p = parts; *p; p++)
        if (strcmp(*p, "..") == 0)
            return bt_err_set(err, EINVAL, "subpath '%s' must not contain '..'", sp);
    return 0;
}

int
vol_mount_request_validate(const struct vol_mount_request *req, struct bt_err **err)
{
    const char *t = req->target;
    if (!t || !*t)
        return bt_err_set(err, EINVAL, "mount target must not be empty");
    if (t[0] != '/')
        return bt_err_set(err, EINVAL, "mount target '%s' is not an absolute path", t);
    _cleanup_free_ char *clean = bt_path_clean(t);
    if (strcmp(clean, "/") == 0)
        return bt_err_set(err, EINVAL, "mount target must not be '/'");
    if (req->selinux && strcmp(req->selinux, "z") && strcmp(req->selinux, "Z"))
        return bt_err_set(err, EINVAL, "invalid SELinux label option '%s' (z or Z)", req->selinux);
    if (req->propagation && req->type != VOL_MOUNT_BIND)
        return bt_err_set(err, EINVAL, "propagation '%s' applies to bind mounts only",
                          req->propagation);
    if (req->propagation && !is_propagation(req->propagation))
        return bt_err_set(err, EINVAL, "invalid propagation '%s'", req->propagation);
    if (req->nocopy && req->type != VOL_MOUNT_VOLUME)
        return bt_err_set(err, EINVAL, "nocopy applies to volumes only");
    if (req->subpath && subpath_validate(req, err) < 0)
        return bt_err_ret(err);
    if (req->type != VOL_MOUNT_TMPFS &&
        (req->tmpfs_size || req->tmpfs_mode_set || req->tmpfs_options))
        return bt_err_set(err, EINVAL, "tmpfs options apply to tmpfs mounts only");
    switch (req->type) {
    case VOL_MOUNT_VOLUME:
        if (req->source && *req->source && vol_name_validate(req->source, err) < 0)
            return bt_err_ret(err);
        break;
    case VOL_MOUNT_BIND:
        if (!req->source || req->source[0] != '/')
            return bt_err_set(err, EINVAL, "bind source '%s' is not an absolute path",
                              req->source ? req->source : "");
        break;
    case VOL_MOUNT_TMPFS:
        if (req->source && *req->source)
            return bt_err_set(err, EINVAL, "tmpfs mounts take no source");
        if (req->tmpfs_mode_set && req->tmpfs_mode > 07777)
            return bt_err_set(err, EINVAL, "invalid tmpfs mode %o", req->tmpfs_mode);
        bt_strv_foreach (o, req->tmpfs_options) {
            if (!tmpfs_option_ok(o))
                return bt_err_set(err, EINVAL, "unknown tmpfs option '%s'", o);
        }
        break;
    default:
        return bt_err_set(err, EINVAL, "unknown mount type %d", (int)req->type);
    }
    return 0;
}

/* ---- OCI mounts ---- */

void
vol_oci_mount_done(struct vol_oci_mount *m)
{
    free(m->destination);
    free(m->type);
    free(m->source);
    free(m->source_root);
    bt_strv_free(m->options);
    *m = (struct vol_oci_mount){0};
}

json_t *
vol_oci_mount_to_json(const struct vol_oci_mount *m)
{
    json_t *opts = json_array();
    bt_strv_foreach (o, m->options)
        json_array_append_new(opts, json_string(o));
    json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "destination", m->destination, "type", m->type,
                          "source", m->source, "options", opts);
    if (m->source_root)
        json_object_set_new(j, "x-berth-source-root", json_string(m->source_root));
    return j;
}

/* tmpfs options: Docker's defaults (nosuid, nodev, noexec), each dropped
 * when the user asked for its opposite. */
static char **
tmpfs_options(const struct vol_mount_request *req)
{
    char **o = xcalloc(1, sizeof(char *));
    static const char *const defaults[][2] = {
        {"nosuid", "suid"}, {"nodev", "dev"}, {"noexec", "exec"}};
    for (size_t i = 0; i < BT_ARRAY_SIZE(defaults); i++)
        if (!bt_strv_contains(req->tmpfs_options, defaults[i][1]) &&
            !bt_strv_contains(req->tmpfs_options, defaults[i][0]))
            o = bt_strv_push(o, defaults[i][0]);
    bt_strv_foreach (x, req->tmpfs_options)
        if (!bt_strv_contains(o, x))
            o = bt_strv_push(o, x);
    if (req->read_only && !bt_strv_contains(o, "ro"))
        o = bt_strv_push(o, "ro");
    if (req->tmpfs_size)
        o = bt_strv_push_take(o, xasprintf("size=%llu", (unsigned long long)req->tmpfs_size));
    o = bt_strv_push_take(o, xasprintf("mode=%o", req->tmpfs_mode_set ? req->tmpfs_mode : 01777));
    return o;
}

int
vol_mount_build(const struct vol_mount_request *req, const char *host_source,
                struct vol_oci_mount *out, struct bt_err **err)
{
    *out = (struct vol_oci_mount){0};
    int r = vol_mount_request_validate(req, err);
    if (r < 0)
        return r;
    out->destination = bt_path_clean(req->target);
    if (req->type == VOL_MOUNT_TMPFS) {
        out->type = xstrdup("tmpfs");
        out->source = xstrdup("tmpfs");
        out->options = tmpfs_options(req);
        return 0;
    }
    if (!host_source || host_source[0] != '/') {
        vol_oci_mount_done(out);
        return bt_err_set(err, EINVAL, "mount '%s': no absolute host source", req->target);
    }
    out->type = xstrdup("bind");
    out->source = xstrdup(host_source);
    out->options = xcalloc(1, sizeof(char *));
    out->options = bt_strv_push(out->options, "rbind");
    if (req->read_only)
        out->options = bt_strv_push(out->options, "ro");
    out->options = bt_strv_push(out->options, req->propagation ? req->propagation : "rprivate");
    return 0;
}

/* ---- resolve against the host ---- */

void
vol_mount_plan_done(struct vol_mount_plan *p)
{
    vol_oci_mount_done(&p->mount);
    free(p->volume);
    p->volume = NULL;
    p->copy_up = false;
}

static int
bind_source_ensure(const struct vol_mount_request *req, struct bt_err **err)
{
    struct stat sb;
    if (stat(req->source, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return bt_err_errno(err, errno, "bind source '%s'", req->source);
    if (req->long_syntax && !req->create_host_path)
        return bt_err_set(err, ENOENT, "bind source path does not exist: %s", req->source);
    return bt_mkdir_p(req->source, 0755, err);
}

static char *
fd_realpath(int fd)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    char buf[PATH_MAX];
    ssize_t n = readlink(link, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

/* The host path of subpath inside v's content: resolved with
 * RESOLVE_IN_ROOT so that neither '..' nor a symlink planted in the volume
 * leads out of it, then checked to lie below the volume's own directory. */
static int
subpath_resolve(const struct vol_volume *v, const char *subpath, char **out, struct bt_err **err)
{
    _cleanup_close_ int root = open(v->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return bt_err_errno(err, errno, "volume '%s'", v->name);
    _cleanup_close_ int fd = bt_openat_in_root(root, subpath, O_PATH, 0, err);
    if (fd < 0) {
        if (fd == -ENOENT) {
            bt_err_free(*err);
            *err = NULL;
            return bt_err_set(err, ENOENT, "subpath '%s' does not exist in volume '%s'", subpath,
                              v->name);
        }
        bt_err_prefix(err, "volume '%s'", v->name);
        return fd;
    }
    _cleanup_free_ char *rootp = fd_realpath(root);
    _cleanup_free_ char *p = fd_realpath(fd);
    if (!rootp || !p)
        return bt_err_errno(err, errno, "volume '%s': subpath '%s'", v->name, subpath);
    size_t n = strlen(rootp);
    if (strncmp(p, rootp, n) != 0 || (p[n] != '/' && p[n] != '\0'))
        return bt_err_set(err, EPERM, "subpath '%s' resolves outside volume '%s'", subpath,
                          v->name);
    *out = TAKE_PTR(p);
    return 0;
}

int
vol_mount_resolve(struct vol_store *st, const struct vol_mount_request *req,
                  const struct vol_anon_owner *owner, struct vol_mount_plan *out,
                  struct bt_err **err)
{
    *out = (struct vol_mount_plan){0};
    int r = vol_mount_request_validate(req, err);
    if (r < 0)
        return r;
    switch (req->type) {
    case VOL_MOUNT_TMPFS:
        return vol_mount_build(req, NULL, &out->mount, err);
    case VOL_MOUNT_BIND:
        r = bind_source_ensure(req, err);
        if (r < 0)
            return r;
        return vol_mount_build(req, req->source, &out->mount, err);
    case VOL_MOUNT_VOLUME:
        break;
    }
    struct vol_volume *v = NULL;
    if (req->source && *req->source) {
        /* As Docker's engine does, a named volume that does not exist yet
         * is created plain; compose creates its project's volumes (with
         * their labels) before any container. */
        struct vol_create_opts o = {.name = req->source};
        r = vol_volume_create(st, &o, &v, NULL, err);
    } else {
        r = vol_anon_ensure(st, owner, req->target, &v, err);
    }
    if (r < 0)
        return r;
    _cleanup_free_ char *sub = NULL;
    if (req->subpath && (r = subpath_resolve(v, req->subpath, &sub, err)) < 0) {
        vol_volume_free(v);
        return r;
    }
    r = vol_mount_build(req, sub ? sub : v->mountpoint, &out->mount, err);
    if (r == 0 && sub)
        out->mount.source_root = xstrdup(v->mountpoint);
    if (r == 0) {
        out->volume = xstrdup(v->name);
        /* Docker copies image content into a volume's root only. */
        out->copy_up = !req->nocopy && !req->subpath && !v->copied_up;
    }
    vol_volume_free(v);
    return r;
}

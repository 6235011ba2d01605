/* The volume store: ROOT/volumes/NAME/{volume.json,_data}, names, metadata,
 * create, lookup, list, removal, prune and usage records. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "volumes/volumes-internal.h"

#define META_FILE "volume.json"
#define LOCK_FILE ".lock"
/* Volumes are assembled under ".new-*" and renamed into place; removal
 * renames to ".rm-*" first, so a crash never leaves half a volume visible. */
#define NEW_PREFIX ".new-"
#define RM_PREFIX  ".rm-"

/* ---- key=value vectors ---- */

static size_t
key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

const char *
vol_kv_get(char *const *kv, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; kv && kv[i]; i++)
        if (key_len(kv[i]) == n && strncmp(kv[i], key, n) == 0)
            return kv[i][n] == '=' ? kv[i] + n + 1 : "";
    return NULL;
}

char **
vol_kv_set(char **kv, const char *key, const char *value)
{
    size_t n = strlen(key), len = bt_strv_length(kv);
    for (size_t i = 0; i < len; i++) {
        if (key_len(kv[i]) != n || strncmp(kv[i], key, n) != 0)
            continue;
        free(kv[i]);
        if (value) {
            kv[i] = xasprintf("%s=%s", key, value);
        } else {
            memmove(kv + i, kv + i + 1, (len - i) * sizeof(char *));
        }
        return kv;
    }
    if (!kv)
        kv = xcalloc(1, sizeof(char *));
    if (value) {
        kv = bt_strv_push_take(kv, xasprintf("%s=%s", key, value));
        bt_strv_sort(kv);
    }
    return kv;
}

int
vol_kv_validate(char *const *kv, const char *what, struct bt_err **err)
{
    for (size_t i = 0; kv && kv[i]; i++) {
        size_t n = key_len(kv[i]);
        if (n == 0)
            return bt_err_set(err, EINVAL, "%s '%s': empty key", what, kv[i]);
        for (size_t j = 0; j < i; j++)
            if (key_len(kv[j]) == n && strncmp(kv[j], kv[i], n) == 0)
                return bt_err_set(err, EINVAL, "%s '%.*s' given twice", what, (int)n, kv[i]);
    }
    return 0;
}

static char **
kv_from_json(json_t *obj)
{
    char **kv = xcalloc(1, sizeof(char *));
    const char *k;
    json_t *val;
    json_object_foreach (obj, k, val) {
        const char *s = json_string_value(val);
        kv = bt_strv_push_take(kv, xasprintf("%s=%s", k, s ? s : ""));
    }
    bt_strv_sort(kv);
    return kv;
}

static json_t *
kv_to_json(char *const *kv, bool null_when_empty)
{
    if (null_when_empty && bt_strv_length(kv) == 0)
        return json_null();
    json_t *obj = json_object();
    for (size_t i = 0; kv && kv[i]; i++) {
        size_t n = key_len(kv[i]);
        _cleanup_free_ char *k = xstrndup(kv[i], n);
        json_object_set_new(obj, k, json_string(kv[i][n] ? kv[i] + n + 1 : ""));
    }
    return obj;
}

/* ---- names ---- */

static bool
name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

static bool
name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 2 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i], i == 0))
            return false;
    return true;
}

int
vol_name_validate(const char *name, struct bt_err **err)
{
    if (!name || !*name)
        return bt_err_set(err, EINVAL, "volume name must not be empty");
    if (strlen(name) > 255)
        return bt_err_set(err, EINVAL, "volume name '%.32s...' is longer than 255 bytes", name);
    if (!name_ok(name))
        return bt_err_set(err, EINVAL,
                          "'%s' includes invalid characters for a local volume name, only "
                          "'[a-zA-Z0-9][a-zA-Z0-9_.-]' are allowed (at least two); if you "
                          "intended to pass a host directory, use an absolute path",
                          name);
    return 0;
}

char *
vol_name_random(void)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.19 once the pool is ready;
             * without randomness no name is safe to hand out. */
            bt_error("getrandom: %s", strerror(errno));
            abort();
        }
        got += (size_t)n;
    }
    char *s = xmalloc(sizeof(raw) * 2 + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s + 2 * i, 3, "%02x", raw[i]);
    return s;
}

/* ---- the store ---- */

static void
remove_leftovers(struct vol_store *st)
{
    _cleanup_close_ int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d)
        return;
    TAKE_FD(fd);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!bt_str_startswith(de->d_name, NEW_PREFIX) && !bt_str_startswith(de->d_name, RM_PREFIX))
            continue;
        _cleanup_free_ char *p = bt_path_join(st->path, de->d_name);
        struct bt_err *e = NULL;
        if (bt_rm_rf(p, &e) < 0) {
            /* Not fatal: the directory is invisible to every command and is
             * tried again the next time the store is opened. */
            bt_debug("volumes: leftover %s: %s", p, e->msg);
            bt_err_free(e);
        }
    }
}

struct vol_store *
vol_store_open(const char *root, struct bt_err **err)
{
    _cleanup_free_ char *path = bt_path_join(root, "volumes");
    if (bt_mkdir_p(root, 0711, err) < 0)
        return NULL;
    if (mkdir(path, 0701) < 0 && errno != EEXIST) {
        bt_err_errno(err, errno, "create '%s'", path);
        return NULL;
    }
    int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bt_err_errno(err, errno, "open '%s'", path);
        return NULL;
    }
    struct vol_store *st = xcalloc(1, sizeof(*st));
    st->path = TAKE_PTR(path);
    st->dirfd = fd;
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return vol_store_free(st);
    remove_leftovers(st);
    return st;
}

struct vol_store *
vol_store_free(struct vol_store *st)
{
    if (st) {
        if (st->dirfd >= 0)
            close(st->dirfd);
        free(st->path);
        free(st);
    }
    return NULL;
}

const char *
vol_store_path(const struct vol_store *st)
{
    return st->path;
}

char *
vol_store_volume_of_path(const struct vol_store *st, const char *path)
{
    _cleanup_free_ char *clean = bt_path_clean(path);
    size_t n = strlen(st->path);
    if (strncmp(clean, st->path, n) != 0 || clean[n] != '/')
        return NULL;
    const char *name = clean + n + 1;
    const char *slash = strchr(name, '/');
    if (!slash || strcmp(slash, "/_data") != 0)
        return NULL;
    _cleanup_free_ char *v = xstrndup(name, (size_t)(slash - name));
    return name_ok(v) ? TAKE_PTR(v) : NULL;
}

void
vol_store_set_user_check(struct vol_store *st, vol_user_alive_fn fn, void *data)
{
    st->alive = fn;
    st->alive_data = data;
}

/* Drops the users whose container is gone; true when any was. */
static bool
drop_dead_users(struct vol_store *st, struct vol_volume *v)
{
    if (!st->alive)
        return false;
    size_t kept = 0;
    for (size_t i = 0; i < v->n_users; i++) {
        if (st->alive(v->users[i].id, st->alive_data)) {
            v->users[kept++] = v->users[i];
            continue;
        }
        bt_debug("volume '%s': container %s is gone, no longer a user", v->name, v->users[i].id);
        free(v->users[i].id);
        free(v->users[i].name);
    }
    bool changed = kept != v->n_users;
    v->n_users = kept;
    return changed;
}

int
vol_store_lock(struct vol_store *st, struct bt_err **err)
{
    _cleanup_close_ int fd =
        openat(st->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s/%s'", st->path, LOCK_FILE);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return bt_err_errno(err, errno, "lock '%s/%s'", st->path, LOCK_FILE);
    }
    return TAKE_FD(fd);
}

/* ---- metadata ---- */

struct vol_volume *
vol_volume_free(struct vol_volume *v)
{
    if (!v)
        return NULL;
    free(v->name);
    free(v->driver);
    bt_strv_free(v->labels);
    bt_strv_free(v->options);
    free(v->created_at);
    free(v->scope);
    free(v->mountpoint);
    for (size_t i = 0; i < v->n_users; i++) {
        free(v->users[i].id);
        free(v->users[i].name);
    }
    free(v->users);
    bt_strv_free(v->external_refs);
    free(v);
    return NULL;
}

const char *
vol_volume_label(const struct vol_volume *v, const char *key)
{
    return vol_kv_get(v->labels, key);
}

static char *
mountpoint_of(struct vol_store *st, const char *name)
{
    return xasprintf("%s/%s/_data", st->path, name);
}

static char *
now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

static json_t *
meta_to_json(const struct vol_volume *v)
{
    json_t *users = json_object();
    for (size_t i = 0; i < v->n_users; i++)
        json_object_set_new(users, v->users[i].id, json_string(v->users[i].name));
    json_t *refs = json_array();
    for (size_t i = 0; v->external_refs && v->external_refs[i]; i++)
        json_array_append_new(refs, json_string(v->external_refs[i]));
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:b, s:b, s:o, s:o}", "Name", v->name,
                     "Driver", v->driver, "Labels", kv_to_json(v->labels, false), "Options",
                     kv_to_json(v->options, false), "CreatedAt", v->created_at, "Scope", v->scope,
                     "Anonymous", v->anonymous, "CopiedUp", v->copied_up, "Users", users,
                     "ExternalRefs", refs);
}

static struct vol_volume *
meta_from_json(struct vol_store *st, const char *name, json_t *j, struct bt_err **err)
{
    const char *jname = bt_json_str(j, "Name");
    if (!json_is_object(j) || !jname || strcmp(jname, name) != 0) {
        bt_err_set(err, EINVAL, "volume '%s': metadata names another volume", name);
        return NULL;
    }
    struct vol_volume *v = xcalloc(1, sizeof(*v));
    v->name = xstrdup(name);
    const char *s = bt_json_str(j, "Driver");
    v->driver = xstrdup(s ? s : VOL_DRIVER_LOCAL);
    v->labels = kv_from_json(json_object_get(j, "Labels"));
    v->options = kv_from_json(json_object_get(j, "Options"));
    s = bt_json_str(j, "CreatedAt");
    v->created_at = xstrdup(s ? s : "");
    s = bt_json_str(j, "Scope");
    v->scope = xstrdup(s ? s : "local");
    v->mountpoint = mountpoint_of(st, name);
    v->anonymous = json_is_true(json_object_get(j, "Anonymous"));
    v->copied_up = json_is_true(json_object_get(j, "CopiedUp"));
    json_t *users = json_object_get(j, "Users");
    size_t n = json_is_object(users) ? json_object_size(users) : 0;
    v->users = xcalloc(n ? n : 1, sizeof(*v->users));
    const char *k;
    json_t *val;
    json_object_foreach (users, k, val) {
        v->users[v->n_users].id = xstrdup(k);
        v->users[v->n_users].name = xstrdup(json_string_value(val) ? json_string_value(val) : k);
        v->n_users++;
    }
    v->external_refs = xcalloc(1, sizeof(char *));
    size_t i;
    json_array_foreach (json_object_get(j, "ExternalRefs"), i, val) {
        if (json_string_value(val))
            v->external_refs = bt_strv_push(v->external_refs, json_string_value(val));
    }
    return v;
}

int
vol_meta_load(struct vol_store *st, const char *name, struct vol_volume **out, struct bt_err **err)
{
    *out = NULL;
    if (!name_ok(name))
        return 0;
    _cleanup_free_ char *rel = xasprintf("%s/" META_FILE, name);
    _cleanup_close_ int fd = openat(st->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return bt_err_errno(err, errno, "open '%s/%s'", st->path, rel);
    }
    _cleanup_fclose_ FILE *f = fdopen(fd, "r");
    if (!f)
        return bt_err_errno(err, errno, "open '%s/%s'", st->path, rel);
    TAKE_FD(fd);
    json_error_t jerr;
    _cleanup_json_ json_t *j = json_loadf(f, 0, &jerr);
    if (!j)
        return bt_err_set(err, EINVAL, "%s/%s:%d:%d: %s", st->path, rel, jerr.line, jerr.column,
                          jerr.text);
    *out = meta_from_json(st, name, j, err);
    return *out ? 1 : -EINVAL;
}

static int
meta_write_in(const char *dir, const struct vol_volume *v, struct bt_err **err)
{
    _cleanup_json_ json_t *j = meta_to_json(v);
    _cleanup_free_ char *path = bt_path_join(dir, META_FILE);
    return bt_json_write_atomic(path, j, err);
}

int
vol_meta_save(struct vol_store *st, const struct vol_volume *v, struct bt_err **err)
{
    _cleanup_free_ char *dir = bt_path_join(st->path, v->name);
    return meta_write_in(dir, v, err);
}

int
vol_data_open(struct vol_store *st, const char *name, int flags, struct bt_err **err)
{
    if (!name_ok(name))
        return bt_err_set(err, EINVAL, "invalid volume name '%s'", name);
    _cleanup_close_ int vfd =
        openat(st->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (vfd < 0)
        return bt_err_errno(err, errno, "open volume '%s'", name);
    int fd = openat(vfd, "_data", flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s/%s/_data'", st->path, name);
    return fd;
}

json_t *
vol_volume_to_json(const struct vol_volume *v)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s}", "CreatedAt", v->created_at, "Driver",
                     v->driver, "Labels", kv_to_json(v->labels, true), "Mountpoint", v->mountpoint,
                     "Name", v->name, "Options", kv_to_json(v->options, true), "Scope", v->scope);
}

/* ---- create and look up ---- */

int
vol_volume_get(struct vol_store *st, const char *name, struct vol_volume **out, struct bt_err **err)
{
    return vol_meta_load(st, name, out, err);
}

static int
create_locked(struct vol_store *st, const struct vol_create_opts *opts, const char *name,
              struct vol_volume **out, struct bt_err **err)
{
    _cleanup_volume_ struct vol_volume *v = xcalloc(1, sizeof(*v));
    v->name = xstrdup(name);
    v->driver = xstrdup(VOL_DRIVER_LOCAL);
    v->labels = bt_strv_copy(opts->labels);
    bt_strv_sort(v->labels);
    v->options = bt_strv_copy(opts->driver_opts);
    bt_strv_sort(v->options);
    v->created_at = now_rfc3339();
    v->scope = xstrdup("local");
    v->mountpoint = mountpoint_of(st, name);
    v->anonymous = opts->anonymous;
    if (opts->anonymous && !vol_kv_get(v->labels, VOL_LABEL_ANONYMOUS))
        v->labels = vol_kv_set(v->labels, VOL_LABEL_ANONYMOUS, "");
    v->external_refs = xcalloc(1, sizeof(char *));

    _cleanup_free_ char *rnd = vol_name_random();
    _cleanup_free_ char *tmpname = xasprintf(NEW_PREFIX "%.16s", rnd);
    _cleanup_free_ char *tmp = bt_path_join(st->path, tmpname);
    _cleanup_free_ char *data = bt_path_join(tmp, "_data");
    int r = 0;
    if (mkdir(tmp, 0755) < 0)
        return bt_err_errno(err, errno, "create '%s'", tmp);
    if (mkdir(data, 0755) < 0)
        r = bt_err_errno(err, errno, "create '%s'", data);
    /* mkdir obeys the umask; the volume's root is 0755 whatever it is. */
    if (r == 0 && chmod(data, 0755) < 0)
        r = bt_err_errno(err, errno, "chmod '%s'", data);
    if (r == 0)
        r = meta_write_in(tmp, v, err);
    if (r == 0 && renameat2(st->dirfd, tmpname, st->dirfd, name, RENAME_NOREPLACE) < 0)
        r = bt_err_errno(err, errno, "create volume '%s'", name);
    if (r < 0) {
        struct bt_err *e = NULL;
        bt_rm_rf(tmp, &e);
        /* The creation error is the one to report; a leftover is removed
         * the next time the store is opened. */
        bt_err_free(e);
        return r;
    }
    *out = TAKE_PTR(v);
    return 0;
}

int
vol_volume_create(struct vol_store *st, const struct vol_create_opts *opts, struct vol_volume **out,
                  bool *created, struct bt_err **err)
{
    *out = NULL;
    if (created)
        *created = false;
    if (opts->driver && *opts->driver && strcmp(opts->driver, VOL_DRIVER_LOCAL) != 0)
        return bt_err_set(err, ENOTSUP, "volume driver '%s' is not supported (only 'local')",
                          opts->driver);
    _cleanup_free_ char *name = opts->name ? xstrdup(opts->name) : vol_name_random();
    if (vol_name_validate(name, err) < 0)
        return bt_err_ret(err);
    if (vol_kv_validate(opts->labels, "label", err) < 0 ||
        vol_driver_opts_validate(opts->driver_opts, err) < 0) {
        bt_err_prefix(err, "volume '%s'", name);
        return bt_err_ret(err);
    }
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r < 0)
        return r;
    if (r > 0) {
        if (strcmp(v->driver, VOL_DRIVER_LOCAL) != 0)
            return bt_err_set(err, EEXIST, "volume '%s' already exists with driver '%s'", name,
                              v->driver);
        *out = TAKE_PTR(v);
        return 0;
    }
    r = create_locked(st, opts, name, out, err);
    if (r == 0 && created)
        *created = true;
    return r;
}

int
vol_volume_get_external(struct vol_store *st, const char *name, const char *project,
                        struct vol_volume **out, struct bt_err **err)
{
    *out = NULL;
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r < 0)
        return r;
    if (r == 0)
        return bt_err_set(err, ENOENT,
                          "external volume '%s' not found (create it with 'berth volume "
                          "create %s')",
                          name, name);
    if (project && *project && !bt_strv_contains(v->external_refs, project)) {
        v->external_refs = bt_strv_push(v->external_refs, project);
        bt_strv_sort(v->external_refs);
        r = vol_meta_save(st, v, err);
        if (r < 0)
            return r;
    }
    *out = TAKE_PTR(v);
    return 0;
}

/* ---- filters and lists ---- */

int
vol_filter_add(struct vol_filter *f, const char *spec, struct bt_err **err)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1])
        return bt_err_set(err, EINVAL, "bad filter '%s' (expected KEY=VALUE)", spec);
    size_t n = (size_t)(eq - spec);
    const char *val = eq + 1;
    if (n == 6 && strncmp(spec, "label!", 6) == 0) {
        f->labels_not = bt_strv_push(f->labels_not, val);
    } else if (n == 5 && strncmp(spec, "label", 5) == 0) {
        f->labels = bt_strv_push(f->labels, val);
    } else if (n == 4 && strncmp(spec, "name", 4) == 0) {
        f->names = bt_strv_push(f->names, val);
    } else if (n == 6 && strncmp(spec, "driver", 6) == 0) {
        f->drivers = bt_strv_push(f->drivers, val);
    } else if (n == 8 && strncmp(spec, "dangling", 8) == 0) {
        if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
            f->dangling = 1;
        else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
            f->dangling = 0;
        else
            return bt_err_set(err, EINVAL, "invalid filter 'dangling=%s' (true or false)", val);
    } else {
        return bt_err_set(err, EINVAL, "invalid filter '%.*s'", (int)n, spec);
    }
    return 0;
}

void
vol_filter_done(struct vol_filter *f)
{
    f->labels = bt_strv_free(f->labels);
    f->labels_not = bt_strv_free(f->labels_not);
    f->names = bt_strv_free(f->names);
    f->drivers = bt_strv_free(f->drivers);
}

/* Whether v carries label "key" (any value) or "key=value". */
static bool
has_label(const struct vol_volume *v, const char *l)
{
    size_t n = key_len(l);
    _cleanup_free_ char *key = xstrndup(l, n);
    const char *have = vol_kv_get(v->labels, key);
    return have && (l[n] != '=' || strcmp(have, l + n + 1) == 0);
}

bool
vol_filter_match(const struct vol_filter *f, const struct vol_volume *v)
{
    if (!f)
        return true;
    bt_strv_foreach (l, f->labels) {
        if (!has_label(v, l))
            return false;
    }
    bt_strv_foreach (l, f->labels_not) {
        if (has_label(v, l))
            return false;
    }
    if (f->names) {
        bool any = false;
        bt_strv_foreach (s, f->names)
            any = any || strstr(v->name, s);
        if (!any)
            return false;
    }
    if (f->drivers && !bt_strv_contains(f->drivers, v->driver))
        return false;
    if (f->dangling == 1 && v->n_users > 0)
        return false;
    if (f->dangling == 0 && v->n_users == 0)
        return false;
    return true;
}

void
vol_list_done(struct vol_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        vol_volume_free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int
cmp_volume(const void *a, const void *b)
{
    return strcmp((*(struct vol_volume *const *)a)->name, (*(struct vol_volume *const *)b)->name);
}

static int
list_unlocked(struct vol_store *st, const struct vol_filter *f, struct vol_list *out,
              struct bt_err **err)
{
    *out = (struct vol_list){0};
    _cleanup_close_ int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open '%s'", st->path);
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d)
        return bt_err_errno(err, errno, "open '%s'", st->path);
    TAKE_FD(fd);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!name_ok(de->d_name))
            continue;
        struct vol_volume *v = NULL;
        int r = vol_meta_load(st, de->d_name, &v, err);
        if (r < 0) {
            vol_list_done(out);
            return r;
        }
        if (r == 0)
            continue;
        drop_dead_users(st, v);
        if (!vol_filter_match(f, v)) {
            vol_volume_free(v);
            continue;
        }
        out->items = xreallocarray(out->items, out->n + 1, sizeof(*out->items));
        out->items[out->n++] = v;
    }
    if (out->n)
        qsort(out->items, out->n, sizeof(*out->items), cmp_volume);
    return 0;
}

int
vol_volume_list(struct vol_store *st, const struct vol_filter *f, struct vol_list *out,
                struct bt_err **err)
{
    /* Metadata is replaced atomically, so a list needs no lock. */
    return list_unlocked(st, f, out, err);
}

/* ---- removal ---- */

static void
users_text(const struct vol_volume *v, struct bt_buf *b)
{
    for (size_t i = 0; i < v->n_users; i++) {
        if (i)
            bt_buf_puts(b, ", ");
        if (strcmp(v->users[i].name, v->users[i].id) == 0)
            bt_buf_puts(b, v->users[i].id);
        else
            bt_buf_printf(b, "%s (%.12s)", v->users[i].name, v->users[i].id);
    }
}

static int
remove_locked(struct vol_store *st, const struct vol_volume *v, struct bt_err **err)
{
    if (v->n_users > 0) {
        struct bt_buf b = {0};
        users_text(v, &b);
        bt_err_set(err, EBUSY, "volume is in use by container %s", b.data);
        bt_buf_done(&b);
        return -EBUSY;
    }
    int r = vol_driver_unmount(st, v, err);
    if (r < 0)
        return r;
    /* Never delete through a mount: that would erase what it shows. */
    r = vol_data_is_mounted(st, v->name, err);
    if (r < 0)
        return r;
    if (r > 0)
        return bt_err_set(err, EBUSY, "'%s' is still mounted", v->mountpoint);
    _cleanup_free_ char *rnd = vol_name_random();
    _cleanup_free_ char *tmpname = xasprintf(RM_PREFIX "%.16s", rnd);
    if (renameat(st->dirfd, v->name, st->dirfd, tmpname) < 0)
        return bt_err_errno(err, errno, "remove volume '%s'", v->name);
    _cleanup_free_ char *tmp = bt_path_join(st->path, tmpname);
    struct bt_err *e = NULL;
    if (bt_rm_rf(tmp, &e) < 0) {
        /* The volume is gone from every listing already; its content is
         * removed the next time the store is opened. */
        bt_warn("volume '%s' removed, but not all of its content yet: %s", v->name, e->msg);
        bt_err_free(e);
    }
    return 0;
}

int
vol_volume_remove(struct vol_store *st, const char *name, const struct vol_rm_opts *opts,
                  struct bt_err **err)
{
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r < 0)
        return r;
    if (r == 0)
        return bt_err_set(err, ENOENT, "no such volume: %s", name);
    if (drop_dead_users(st, v) && vol_meta_save(st, v, err) < 0)
        return bt_err_ret(err);
    if (opts && opts->project) {
        const char *p = vol_volume_label(v, VOL_LABEL_PROJECT);
        if (!p || strcmp(p, opts->project) != 0 || bt_strv_length(v->external_refs) > 0)
            return 0;
    }
    r = remove_locked(st, v, err);
    if (r < 0) {
        bt_err_prefix(err, "remove %s", name);
        return r;
    }
    return 1;
}

struct vol_ino_set {
    dev_t *dev;
    ino_t *ino;
    size_t n;
};

static bool
ino_seen(struct vol_ino_set *s, const struct stat *st)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->dev[i] == st->st_dev && s->ino[i] == st->st_ino)
            return true;
    s->dev = xreallocarray(s->dev, s->n + 1, sizeof(*s->dev));
    s->ino = xreallocarray(s->ino, s->n + 1, sizeof(*s->ino));
    s->dev[s->n] = st->st_dev;
    s->ino[s->n] = st->st_ino;
    s->n++;
    return false;
}

/* Apparent size of a tree, each inode once (as Docker reports reclaimed space). */
static uint64_t
tree_size(int dir, struct vol_ino_set *seen)
{
    int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            _cleanup_close_ int sub =
                openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                total += tree_size(sub, seen);
        } else if (sb.st_nlink <= 1 || !ino_seen(seen, &sb)) {
            total += (uint64_t)sb.st_size;
        }
    }
    return total;
}

int
vol_volume_prune(struct vol_store *st, const struct vol_prune_opts *opts, char ***removed,
                 uint64_t *reclaimed, struct bt_err **err)
{
    *removed = xcalloc(1, sizeof(char *));
    *reclaimed = 0;
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    struct vol_list l;
    int r = list_unlocked(st, opts ? opts->filter : NULL, &l, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < l.n && r == 0; i++) {
        struct vol_volume *v = l.items[i];
        if (v->n_users > 0 || bt_strv_length(v->external_refs) > 0)
            continue;
        if (!(opts && opts->all) && !v->anonymous)
            continue;
        uint64_t size = 0;
        _cleanup_close_ int data = vol_data_open(st, v->name, O_RDONLY, NULL);
        if (data >= 0) {
            struct vol_ino_set seen = {0};
            size = tree_size(data, &seen);
            free(seen.dev);
            free(seen.ino);
        }
        r = remove_locked(st, v, err);
        if (r < 0) {
            bt_err_prefix(err, "remove %s", v->name);
            break;
        }
        *removed = bt_strv_push(*removed, v->name);
        *reclaimed += size;
    }
    vol_list_done(&l);
    return r;
}

/* ---- usage ---- */

int
vol_volume_acquire(struct vol_store *st, const char *name, const char *container_id,
                   const char *container_name, struct bt_err **err)
{
    if (!container_id || !*container_id)
        return bt_err_set(err, EINVAL, "volume '%s': acquire needs a container id", name);
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r < 0)
        return r;
    if (r == 0)
        return bt_err_set(err, ENOENT, "no such volume: %s", name);
    const char *shown = container_name && *container_name ? container_name : container_id;
    drop_dead_users(st, v);
    bool mounted_now = false;
    /* Whether the mount is there is the kernel's answer, not the records':
     * after a reboot users may be recorded and the mount gone. */
    if (bt_strv_length(v->options) > 0) {
        r = vol_data_is_mounted(st, name, err);
        if (r < 0)
            return r;
        if (r == 0) {
            r = vol_driver_mount(st, v, err);
            if (r < 0) {
                bt_err_prefix(err, "volume '%s'", name);
                return r;
            }
            mounted_now = true;
        }
    }
    size_t i;
    for (i = 0; i < v->n_users; i++)
        if (strcmp(v->users[i].id, container_id) == 0)
            break;
    if (i == v->n_users) {
        v->users = xreallocarray(v->users, v->n_users + 1, sizeof(*v->users));
        v->users[i].id = xstrdup(container_id);
        v->users[i].name = NULL;
        v->n_users++;
    }
    free(v->users[i].name);
    v->users[i].name = xstrdup(shown);
    r = vol_meta_save(st, v, err);
    if (r < 0 && mounted_now) {
        struct bt_err *e = NULL;
        /* Undo the mount so nothing is left that no record explains; the
         * save error is the one reported. */
        vol_driver_unmount(st, v, &e);
        bt_err_free(e);
    }
    return r;
}

static int
release_locked(struct vol_store *st, struct vol_volume *v, const char *container_id,
               struct bt_err **err)
{
    bool changed = drop_dead_users(st, v);
    for (size_t i = 0; i < v->n_users; i++) {
        if (strcmp(v->users[i].id, container_id) != 0)
            continue;
        free(v->users[i].id);
        free(v->users[i].name);
        memmove(v->users + i, v->users + i + 1, (v->n_users - i - 1) * sizeof(*v->users));
        v->n_users--;
        changed = true;
        break;
    }
    if (!changed)
        return 0;
    int r = vol_meta_save(st, v, err);
    if (r < 0)
        return r;
    if (v->n_users == 0 && bt_strv_length(v->options) > 0)
        r = vol_driver_unmount(st, v, err);
    return r;
}

int
vol_volume_release(struct vol_store *st, const char *name, const char *container_id,
                   struct bt_err **err)
{
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    _cleanup_volume_ struct vol_volume *v = NULL;
    int r = vol_meta_load(st, name, &v, err);
    if (r <= 0)
        return r;
    r = release_locked(st, v, container_id, err);
    if (r < 0)
        bt_err_prefix(err, "volume '%s'", name);
    return r;
}

int
vol_container_release_all(struct vol_store *st, const char *container_id, struct bt_err **err)
{
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0)
        return lk;
    struct vol_list l;
    int r = list_unlocked(st, NULL, &l, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < l.n && r >= 0; i++) {
        r = release_locked(st, l.items[i], container_id, err);
        if (r < 0)
            bt_err_prefix(err, "volume '%s'", l.items[i]->name);
    }
    vol_list_done(&l);
    return r;
}

/* ---- anonymous volumes ---- */

int
vol_anon_ensure(struct vol_store *st, const struct vol_anon_owner *owner, const char *target,
                struct vol_volume **out, struct bt_err **err)
{
    *out = NULL;
    if (!owner || !owner->project || !owner->service || !owner->container_number)
        return bt_err_set(err, EINVAL, "anonymous volume for '%s': no owning container", target);
    _cleanup_free_ char *clean = bt_path_clean(target);
    struct vol_filter f = {.dangling = -1};
    f.labels = bt_strv_push_take(f.labels, xstrdup(VOL_LABEL_ANONYMOUS "="));
    f.labels = bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_PROJECT "=%s", owner->project));
    f.labels = bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_SERVICE "=%s", owner->service));
    f.labels =
        bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_NUMBER "=%s", owner->container_number));
    f.labels = bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_TARGET "=%s", clean));
    /* Look up and create under one lock, so two commands never make two
     * anonymous volumes for the same container and path. */
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0) {
        vol_filter_done(&f);
        return lk;
    }
    struct vol_list l;
    int r = list_unlocked(st, &f, &l, err);
    for (size_t i = 0; r == 0 && i < l.n && !*out; i++)
        if (l.items[i]->anonymous)
            *out = TAKE_PTR(l.items[i]);
    if (r == 0)
        vol_list_done(&l);
    if (r == 0 && !*out) {
        /* The filter's "key=value" strings are exactly the labels to set. */
        struct vol_create_opts o = {.labels = f.labels, .anonymous = true};
        _cleanup_free_ char *name = vol_name_random();
        r = create_locked(st, &o, name, out, err);
    }
    vol_filter_done(&f);
    return r;
}

int
vol_anon_remove(struct vol_store *st, const struct vol_anon_owner *owner, char ***removed,
                struct bt_err **err)
{
    if (removed)
        *removed = xcalloc(1, sizeof(char *));
    if (!owner || !owner->project || !*owner->project)
        return bt_err_set(err, EINVAL, "removing anonymous volumes needs a project");
    struct vol_filter f = {.dangling = -1};
    f.labels = bt_strv_push_take(f.labels, xstrdup(VOL_LABEL_ANONYMOUS "="));
    f.labels = bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_PROJECT "=%s", owner->project));
    if (owner->service)
        f.labels = bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_SERVICE "=%s", owner->service));
    if (owner->container_number)
        f.labels =
            bt_strv_push_take(f.labels, xasprintf(VOL_LABEL_NUMBER "=%s", owner->container_number));
    _cleanup_close_ int lk = vol_store_lock(st, err);
    if (lk < 0) {
        vol_filter_done(&f);
        return lk;
    }
    struct vol_list l;
    int r = list_unlocked(st, &f, &l, err);
    vol_filter_done(&f);
    if (r < 0)
        return r;
    int first_err = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct vol_volume *v = l.items[i];
        if (!v->anonymous || bt_strv_length(v->external_refs) > 0)
            continue;
        struct bt_err *e = NULL;
        r = remove_locked(st, v, &e);
        if (r < 0) {
            /* Go on with the others; the first failure is reported. */
            bt_err_prefix(&e, "remove %s", v->name);
            if (!first_err)
                first_err = r;
            bt_err_move(err, &e);
            continue;
        }
        if (removed)
            *removed = bt_strv_push(*removed, v->name);
    }
    vol_list_done(&l);
    return first_err;
}

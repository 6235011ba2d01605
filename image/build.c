/* image: `berth build` — Dockerfile instructions executed into layers of
 * the image store.
 *
 * Each stage keeps its image config and its layer list. A step that
 * changes files gets a fresh upper directory: RUN fills it through the
 * caller's runner (a container over an overlay of the stage's layers),
 * COPY/ADD/WORKDIR write into it directly. The upper directory is then
 * tarred (overlay whiteouts become .wh. entries), gzipped and stored as a
 * blob, unpacked once as a layer of the store, and recorded in the build
 * cache under a key made of the parent key and the step. */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json-strv.h"
#include "image/build.h"
#include "image/dockerfile.h"
#include "image/image-internal.h"

struct layer {
    char *blob, *diff_id, *media_type, *chain;
    int64_t size;
};

struct stage {
    char *name;      /* "AS name", lower case; NULL when unnamed */
    json_t *config;  /* the image config's "config" object */
    json_t *history; /* history entries */
    char *os, *arch;
    struct layer *layers; /* bottom first */
    size_t n_layers;
    char *key;     /* build cache key of the last step */
    char *created; /* when the last history entry was made */
    char **args;   /* "K=V" of the ARGs declared in this stage */
    bool cmd_set;  /* CMD given in this stage (ENTRYPOINT keeps it) */
};

struct build {
    struct image_store *s;
    const struct image_build_opts *o;
    FILE *out;
    struct image_dockerfile df;
    char *dfname; /* for messages */
    int ctxfd;
    struct image_ignore ignore;
    char *tmp;  /* ROOT/image/tmp/build-XXXXXX */
    int lockfd; /* tmp/.lock, held while the build runs */
    unsigned tmp_seq;
    char **global_args; /* "K=V" before the first FROM */
    char **used_args;   /* build args some ARG consumed */
    struct stage *stages;
    size_t n_stages;
    size_t step, n_steps;
    size_t n_instr; /* instructions to run: up to the end of the target's stage */
    char *now;
    char *hit_created; /* when the layer of the last cache hit was made */
    char **mounts;     /* read-only overlays mounted for COPY --from */
};

/* ---- small helpers ---- */

static void
layer_done(struct layer *l)
{
    free(l->blob);
    free(l->diff_id);
    free(l->media_type);
    free(l->chain);
}

static void
stage_done(struct stage *st)
{
    free(st->name);
    json_decref(st->config);
    json_decref(st->history);
    free(st->os);
    free(st->arch);
    for (size_t i = 0; i < st->n_layers; i++)
        layer_done(&st->layers[i]);
    free(st->layers);
    free(st->key);
    free(st->created);
    bt_strv_free(st->args);
}

static const char *
kv_get(char *const *kvs, const char *key)
{
    size_t n = strlen(key);
    const char *found = NULL;
    bt_strv_foreach (kv, (char **)kvs) {
        if (strncmp(kv, key, n) == 0 && kv[n] == '=')
            found = kv + n + 1;
    }
    return found;
}

static char **
kv_put(char **kvs, const char *key, const char *value)
{
    size_t n = strlen(key);
    char *kv = xasprintf("%s=%s", key, value);
    for (char **p = kvs; p && *p; p++) {
        if (strncmp(*p, key, n) == 0 && (*p)[n] == '=') {
            free(*p);
            *p = kv;
            return kvs;
        }
    }
    return bt_strv_push_take(kvs, kv);
}

/* The build argument `key` given by the user: "K=V", or "K" taken from
 * the environment. found is false when not given. */
static const char *
build_arg(struct build *b, const char *key, bool *found)
{
    size_t n = strlen(key);
    const char *v = NULL;
    *found = false;
    bt_strv_foreach (a, (char **)b->o->build_args) {
        if (strncmp(a, key, n) == 0 && (a[n] == '=' || a[n] == '\0')) {
            *found = true;
            v = a[n] == '=' ? a + n + 1 : getenv(key);
        }
    }
    if (*found && !bt_strv_contains(b->used_args, key))
        b->used_args = bt_strv_push(b->used_args, key);
    return v;
}

static json_t *
env_array(struct stage *st)
{
    json_t *env = json_object_get(st->config, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(st->config, "Env", env);
    }
    return env;
}

static const char *
stage_env(struct stage *st, const char *key)
{
    size_t n = strlen(key);
    size_t i;
    json_t *e;
    json_array_foreach (env_array(st), i, e) {
        const char *s = json_string_value(e);
        if (s && strncmp(s, key, n) == 0 && s[n] == '=')
            return s + n + 1;
    }
    return NULL;
}

static void
env_set(struct stage *st, const char *key, const char *value)
{
    image_config_env_set(st->config, key, value);
}

/* Variables of a stage for substitution: ENV first, then ARG. */
static const char *
lookup_stage(void *data, const char *name)
{
    struct stage *st = data;
    const char *v = stage_env(st, name);
    return v ? v : kv_get(st->args, name);
}

/* The platform arguments BuildKit defines by itself: usable in FROM, and
 * in a stage once declared with ARG. */
static const char *
auto_arg(const char *name)
{
    const char *arch = image_host_arch();
    if (strcmp(name, "TARGETPLATFORM") == 0 || strcmp(name, "BUILDPLATFORM") == 0)
        return image_build_platform();
    if (strcmp(name, "TARGETOS") == 0 || strcmp(name, "BUILDOS") == 0)
        return "linux";
    if (strcmp(name, "TARGETARCH") == 0 || strcmp(name, "BUILDARCH") == 0)
        return arch;
    if (strcmp(name, "TARGETVARIANT") == 0 || strcmp(name, "BUILDVARIANT") == 0)
        return "";
    return NULL;
}

static const char *
lookup_global(void *data, const char *name)
{
    const char *v = kv_get(data, name);
    return v ? v : auto_arg(name);
}

static char *
sha256_str(const char *s)
{
    return image_sha256_digest(s, strlen(s));
}

static char *
lowerdir(struct build *b, const struct layer *l)
{
    return xasprintf("%s/layers/%s/diff", image_store_dir(b->s), image_digest_hex(l->chain));
}

/* The stage's unpacked layers, topmost first. */
static char **
stage_lowerdirs(struct build *b, const struct stage *st)
{
    char **v = xcalloc(1, sizeof(char *));
    for (size_t i = st->n_layers; i > 0; i--)
        v = bt_strv_push_take(v, lowerdir(b, &st->layers[i - 1]));
    return v;
}

static char *
tmp_dir(struct build *b, const char *what, struct bt_err **err)
{
    char *p = xasprintf("%s/%s-%u", b->tmp, what, b->tmp_seq++);
    if (mkdir(p, 0755) < 0) {
        bt_err_errno(err, errno, "mkdir '%s'", p);
        free(p);
        return NULL;
    }
    return p;
}

static void
rm_quiet(const char *p)
{
    struct bt_err *ignored = NULL; /* best effort: a leftover is removed with the build dir */
    bt_rm_rf(p, &ignored);
    bt_err_free(ignored);
}

/* ---- the output ---- */

static void
step_line(struct build *b, const struct image_df_instr *in, bool cached)
{
    if (b->o->quiet)
        return;
    fprintf(b->out, "%s[%zu/%zu] %s\n", cached ? "CACHED " : "", b->step, b->n_steps, in->original);
    fflush(b->out);
}

/* Copies what a step printed to the output (indented). */
static void
show_output(int fd, FILE *to)
{
    if (lseek(fd, 0, SEEK_SET) < 0)
        return;
    _cleanup_fclose_ FILE *f = fdopen(dup(fd), "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        fprintf(to, "  %s", line);
    free(line);
    fflush(to);
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w, n -= (size_t)w;
    }
}

/* Copies what arrives on the pipe to file_fd and, indented, to out_fd, in
 * a child process: the build's own process then clones the step's
 * container, and no thread of it may hold a lock at that moment. */
static pid_t
tee_start(const int pfd[2], int file_fd, int out_fd)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    close(pfd[1]);
    char buf[4096], line[3 * sizeof(buf)];
    bool bol = true;
    for (;;) {
        ssize_t n = read(pfd[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        write_all(file_fd, buf, (size_t)n);
        size_t k = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (bol) {
                line[k++] = ' ';
                line[k++] = ' ';
            }
            line[k++] = buf[i];
            bol = buf[i] == '\n';
        }
        write_all(out_fd, line, k);
    }
    if (!bol)
        write_all(out_fd, "\n", 1);
    _exit(0);
}

/* ---- layers: tar an upper directory ---- */

struct blob_sink {
    struct image_blob_writer *w;
    struct bt_err *err;
};

static la_ssize_t
on_write(struct archive *a, void *data, const void *buf, size_t len)
{
    struct blob_sink *k = data;
    if (image_blob_writer_write(k->w, buf, len, &k->err) < 0) {
        archive_set_error(a, EIO, "%s", k->err->msg);
        return -1;
    }
    return (la_ssize_t)len;
}

static int
arc_err(struct archive *a, const char *what, struct bt_err **err)
{
    return bt_err_set(err, EIO, "%s: %s", what,
                      archive_error_string(a) ? archive_error_string(a) : "archive error");
}

static int
tar_header(struct archive *a, const char *path, const struct stat *st, const char *link,
           struct bt_err **err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_stat(e, st);
    archive_entry_set_pathname(e, path);
    if (link)
        archive_entry_set_symlink(e, link);
    if (!S_ISREG(st->st_mode))
        archive_entry_set_size(e, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    return r < ARCHIVE_OK ? arc_err(a, path, err) : 0;
}

static int
tar_whiteout(struct archive *a, const char *dir, const char *name, struct bt_err **err)
{
    _cleanup_free_ char *p = dir ? xasprintf("%s/.wh.%s", dir, name) : xasprintf(".wh.%s", name);
    struct stat st = {.st_mode = S_IFREG | 0644, .st_mtime = 0};
    return tar_header(a, p, &st, NULL, err);
}

static int
name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Names in a directory, sorted, without . and .. (NULL with *err). */
static char **
dir_names(int dfd, struct bt_err **err)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        bt_err_errno(err, errno, "read directory");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char **v = xcalloc(1, sizeof(char *));
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            v = bt_strv_push(v, de->d_name);
    closedir(d);
    qsort(v, bt_strv_length(v), sizeof(char *), name_cmp);
    return v;
}

static int
tar_tree(struct archive *a, int dfd, const char *prefix, struct bt_err **err)
{
    _cleanup_strv_ char **names = dir_names(dfd, err);
    if (!names)
        return bt_err_ret(err);
    bt_strv_foreach (name, names) {
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return bt_err_errno(err, errno, "stat '%s'", name);
        _cleanup_free_ char *path = prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
        int r = 0;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            r = tar_whiteout(a, prefix, name, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
            if (n < 0)
                return bt_err_errno(err, errno, "readlink '%s'", path);
            target[n] = '\0';
            r = tar_header(a, path, &st, target, err);
        } else if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int sub =
                openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                return bt_err_errno(err, errno, "open '%s'", path);
            r = tar_header(a, path, &st, NULL, err);
            char v[4] = {0};
            if (r == 0 && fgetxattr(sub, "trusted.overlay.opaque", v, sizeof(v) - 1) > 0 &&
                v[0] == 'y') {
                _cleanup_free_ char *opq = xasprintf("%s/.wh..wh..opq", path);
                struct stat ost = {.st_mode = S_IFREG | 0644};
                r = tar_header(a, opq, &ost, NULL, err);
            }
            if (r == 0)
                r = tar_tree(a, sub, path, err);
        } else if (S_ISREG(st.st_mode)) {
            _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return bt_err_errno(err, errno, "open '%s'", path);
            r = tar_header(a, path, &st, NULL, err);
            char buf[65536];
            ssize_t n;
            while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0)
                    return bt_err_errno(err, errno, "read '%s'", path);
                if (archive_write_data(a, buf, (size_t)n) < 0)
                    r = arc_err(a, path, err);
            }
        } else {
            r = tar_header(a, path, &st, NULL, err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* Tars and gzips dir into a blob; fills l (blob, diff id, size). */
static int
layer_from_dir(struct build *b, const char *dir, struct layer *l, struct bt_err **err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return bt_err_errno(err, errno, "open '%s'", dir);
    struct blob_sink k = {.w = image_blob_writer_new(b->s, err)};
    if (!k.w)
        return bt_err_ret(err);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    int r = 0;
    if (archive_write_open2(a, &k, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
        r = arc_err(a, "write layer", err);
    if (r == 0)
        r = tar_tree(a, dfd, NULL, err);
    if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
        r = k.err ? (bt_err_move(err, &k.err), bt_err_ret(err)) : arc_err(a, "write layer", err);
    archive_write_free(a);
    bt_err_free(k.err);
    if (r < 0) {
        image_blob_writer_free(k.w);
        return r;
    }
    l->size = image_blob_writer_size(k.w);
    r = image_blob_writer_commit(k.w, NULL, &l->blob, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *bp = image_blob_path(b->s, l->blob);
    _cleanup_close_ int bfd = open(bp, O_RDONLY | O_CLOEXEC);
    if (bfd < 0)
        return bt_err_errno(err, errno, "open '%s'", bp);
    l->media_type = xstrdup(IMAGE_MT_OCI_LAYER_GZIP);
    return image_layer_digest(bfd, &l->diff_id, NULL, NULL, err);
}

/* Puts layer l on top of the stage (unpacked in the store). Takes l. */
static int
stage_push_layer(struct build *b, struct stage *st, struct layer *l, struct bt_err **err)
{
    const char *parent = st->n_layers ? st->layers[st->n_layers - 1].chain : NULL;
    l->chain = image_chain_id(parent, l->diff_id);
    int r = image_layer_ensure(b->s, l->blob, l->diff_id, l->chain, parent, err);
    if (r < 0) {
        layer_done(l);
        return r;
    }
    st->layers = xreallocarray(st->layers, st->n_layers + 1, sizeof(*st->layers));
    st->layers[st->n_layers++] = *l;
    return 0;
}

/* ---- the build cache: ROOT/image/build-cache/<key hex>.json ---- */

static char *
cache_path(struct build *b, const char *key)
{
    return xasprintf("%s/build-cache/%s.json", image_store_dir(b->s), image_digest_hex(key));
}

/* A cached layer for key: true with l filled (or *empty set) on a hit. */
static bool
cache_get(struct build *b, const char *key, struct layer *l, bool *empty)
{
    if (b->o->no_cache)
        return false;
    _cleanup_free_ char *p = cache_path(b, key);
    _cleanup_json_ json_t *j = json_load_file(p, 0, NULL);
    if (!j)
        return false;
    *empty = json_is_true(json_object_get(j, "empty"));
    free(b->hit_created);
    b->hit_created = bt_json_str(j, "created") ? xstrdup(bt_json_str(j, "created")) : NULL;
    if (*empty)
        return true;
    const char *blob = bt_json_str(j, "blob"), *diff = bt_json_str(j, "diff_id");
    if (!blob || !diff || !image_digest_valid(blob) || !image_blob_exists(b->s, blob))
        return false;
    *l = (struct layer){.blob = xstrdup(blob),
                        .diff_id = xstrdup(diff),
                        .media_type = xstrdup(IMAGE_MT_OCI_LAYER_GZIP),
                        .size = json_integer_value(json_object_get(j, "size"))};
    return true;
}

static void
cache_put(struct build *b, const char *key, const struct layer *l)
{
    _cleanup_free_ char *dir = xasprintf("%s/build-cache", image_store_dir(b->s));
    _cleanup_free_ char *p = cache_path(b, key);
    _cleanup_json_ json_t *j = l ? json_pack("{s:s, s:s, s:I}", "blob", l->blob, "diff_id",
                                             l->diff_id, "size", (json_int_t)l->size)
                                 : json_pack("{s:b}", "empty", 1);
    json_object_set_new(j, "created", json_string(b->now));
    struct bt_err *e = NULL; /* a cache that cannot be written only costs a rebuild */
    if (bt_mkdir_p(dir, 0700, &e) == 0)
        bt_json_write_atomic(p, j, &e);
    if (e)
        bt_debug("build cache: %s", e->msg);
    bt_err_free(e);
}

/* The next key: parent key + the step's description. */
static void
stage_next_key(struct stage *st, const char *what)
{
    _cleanup_free_ char *s = xasprintf("%s\n%s", st->key ? st->key : "", what);
    free(st->key);
    st->key = sha256_str(s);
}

/* History entries carry the time their layer was made: the build's for
 * a new layer, the cached layer's for a cache hit, the previous entry's
 * for a config change; so a build that is all cache hits makes the same
 * image (the same id) again. */
static void
history_add(struct stage *st, const struct image_df_instr *in, bool empty, const char *created)
{
    if (created) {
        free(st->created);
        st->created = xstrdup(created);
    }
    json_t *h = json_pack("{s:s, s:s, s:s}", "created", st->created, "created_by", in->original,
                          "comment", "berth build");
    if (empty)
        json_object_set_new(h, "empty_layer", json_true());
    json_array_append_new(st->history, h);
}

/* ---- the stage's file system, read through its layers ---- */

/* stat of path (absolute) as the stage sees it; false when absent. */
static bool
stage_stat(struct build *b, const struct stage *st, const char *path, struct stat *out)
{
    for (size_t i = st->n_layers; i > 0; i--) {
        _cleanup_free_ char *dir = lowerdir(b, &st->layers[i - 1]);
        _cleanup_close_ int lfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
            return false;
        struct bt_err *e = NULL; /* absent in this layer: look further down */
        _cleanup_close_ int fd = bt_openat_in_root(lfd, path, O_PATH | O_NOFOLLOW, 0, &e);
        bt_err_free(e);
        if (fd < 0)
            continue;
        if (fstat(fd, out) < 0)
            return false;
        return !(S_ISCHR(out->st_mode) && out->st_rdev == makedev(0, 0));
    }
    return false;
}

/* The target of the symlink path (absolute) as the stage sees it. */
static char *
stage_readlink(struct build *b, const struct stage *st, const char *path)
{
    for (size_t i = st->n_layers; i > 0; i--) {
        _cleanup_free_ char *dir = lowerdir(b, &st->layers[i - 1]);
        _cleanup_close_ int lfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct bt_err *e = NULL; /* absent in this layer: look further down */
        _cleanup_close_ int fd =
            lfd < 0 ? -1 : bt_openat_in_root(lfd, path, O_PATH | O_NOFOLLOW, 0, &e);
        bt_err_free(e);
        if (fd < 0)
            continue;
        char target[PATH_MAX];
        ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
        if (n < 0)
            return NULL;
        target[n] = '\0';
        return xstrdup(target);
    }
    return NULL;
}

/* path (absolute) with the stage's symlinks resolved, inside its root. */
static char *
stage_resolve(struct build *b, const struct stage *st, const char *path)
{
    char **todo = bt_strv_split(path, "/");
    char *cur = xstrdup("/");
    int links = 0;
    for (size_t i = 0; todo[i]; i++) {
        const char *c = todo[i];
        if (!*c || strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            char *up = bt_path_dirname(cur);
            free(cur);
            cur = up;
            continue;
        }
        char *next = bt_path_absolute(cur, c);
        struct stat sb;
        char *target = NULL;
        if (links < 40 && stage_stat(b, st, next, &sb) && S_ISLNK(sb.st_mode))
            target = stage_readlink(b, st, next);
        if (!target) {
            free(cur);
            cur = next;
            continue;
        }
        links++;
        free(next);
        if (target[0] == '/') {
            free(cur);
            cur = xstrdup("/");
        }
        /* the link's components replace it, then the rest follows */
        char **rest = bt_strv_split(target, "/");
        for (size_t k = i + 1; todo[k]; k++)
            rest = bt_strv_push(rest, todo[k]);
        bt_strv_free(todo);
        free(target);
        todo = rest;
        i = (size_t)-1;
    }
    bt_strv_free(todo);
    return cur;
}

/* Reads a small file (/etc/passwd) as the stage sees it; NULL when absent. */
static char *
stage_read(struct build *b, const struct stage *st, const char *path)
{
    for (size_t i = st->n_layers; i > 0; i--) {
        _cleanup_free_ char *dir = lowerdir(b, &st->layers[i - 1]);
        _cleanup_close_ int lfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct bt_err *e = NULL; /* absent in this layer: look further down */
        _cleanup_close_ int pfd = lfd < 0 ? -1 : bt_openat_in_root(lfd, path, O_PATH, 0, &e);
        bt_err_free(e);
        if (pfd < 0)
            continue;
        struct stat sb;
        if (fstat(pfd, &sb) < 0 || !S_ISREG(sb.st_mode))
            return NULL; /* a whiteout (deleted above) or not a file */
        _cleanup_free_ char *pp = xasprintf("/proc/self/fd/%d", pfd);
        _cleanup_close_ int fd = open(pp, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return NULL;
        struct bt_buf buf = {0};
        char chunk[4096];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0 && buf.len < (1 << 20))
            bt_buf_append(&buf, chunk, (size_t)n);
        return bt_buf_steal(&buf);
    }
    return NULL;
}

/* Field 3 (and 4) of the passwd/group line for name or id. */
static bool
db_lookup(const char *db, const char *name, long *id, long *gid)
{
    if (!db)
        return false;
    _cleanup_strv_ char **lines = bt_strv_split(db, "\n");
    bt_strv_foreach (l, lines) {
        _cleanup_strv_ char **f = bt_strv_split(l, ":");
        if (bt_strv_length(f) < 3)
            continue;
        if (strcmp(f[0], name) == 0 || strcmp(f[2], name) == 0) {
            *id = strtol(f[2], NULL, 10);
            if (gid)
                *gid = bt_strv_length(f) > 3 ? strtol(f[3], NULL, 10) : 0;
            return true;
        }
    }
    return false;
}

static bool
numeric(const char *s, long *out)
{
    int64_t v;
    if (!bt_parse_int64(s, &v) || v < 0 || v > UINT32_MAX - 1)
        return false;
    *out = (long)v;
    return true;
}

/* "user[:group]" by name or number, against the stage's files. */
static int
resolve_user(struct build *b, const struct stage *st, const char *spec, uid_t *uid, gid_t *gid,
             struct bt_err **err)
{
    _cleanup_free_ char *u = xstrndup(spec, strcspn(spec, ":"));
    const char *g = strchr(spec, ':') ? strchr(spec, ':') + 1 : NULL;
    long uv = 0, gv = 0;
    _cleanup_free_ char *passwd = NULL, *group = NULL;
    if (!*u)
        u = (free(u), xstrdup("0"));
    passwd = stage_read(b, st, "/etc/passwd");
    if (!db_lookup(passwd, u, &uv, &gv)) {
        if (!numeric(u, &uv))
            return bt_err_set(err, ENOENT,
                              "unable to find user %s: no matching entries in "
                              "passwd file",
                              u);
        gv = 0;
    }
    if (g && *g) {
        group = stage_read(b, st, "/etc/group");
        if (!db_lookup(group, g, &gv, NULL) && !numeric(g, &gv))
            return bt_err_set(err, ENOENT,
                              "unable to find group %s: no matching entries in "
                              "group file",
                              g);
    }
    *uid = (uid_t)uv;
    *gid = (gid_t)gv;
    return 0;
}

/* Creates the missing directories of path (relative to upperfd's root)
 * with the owner and mode the stage has for them; returns an O_PATH fd
 * of the last one. */
static int
mkdir_parents(struct build *b, const struct stage *st, int upperfd, const char *path,
              struct bt_err **err)
{
    _cleanup_strv_ char **parts = bt_strv_split(path, "/");
    int cur = fcntl(upperfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return bt_err_errno(err, errno, "dup");
    struct bt_buf abs = {0};
    bt_strv_foreach (p, parts) {
        if (!*p || strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            close(cur);
            bt_buf_done(&abs);
            return bt_err_set(err, EINVAL, "'%s' leaves the root", path);
        }
        bt_buf_printf(&abs, "/%s", p);
        struct stat sb;
        bool have = stage_stat(b, st, abs.data, &sb) && S_ISDIR(sb.st_mode);
        if (mkdirat(cur, p, have ? (sb.st_mode & 07777) : 0755) == 0) {
            if (have)
                fchownat(cur, p, sb.st_uid, sb.st_gid, AT_SYMLINK_NOFOLLOW);
            if (have)
                fchmodat(cur, p, sb.st_mode & 07777, 0);
        } else if (errno != EEXIST) {
            int e = errno;
            close(cur);
            bt_buf_done(&abs);
            return bt_err_errno(err, e, "mkdir '%s'", path);
        }
        int next = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0) {
            bt_buf_done(&abs);
            return bt_err_errno(err, e, "open '%s'", path);
        }
        cur = next;
    }
    bt_buf_done(&abs);
    return cur;
}

/* ---- COPY and ADD ---- */

struct copy_ctx {
    struct build *b;
    const struct image_ignore *ig; /* context copies only */
    bool chown, preserve;
    uid_t uid;
    gid_t gid;
    int chmod;  /* -1: keep */
    bool owner; /* set owners (root); a build by another user keeps its own */
    EVP_MD_CTX *md;
    bool add;
};

static void
md_str(struct copy_ctx *c, const char *s)
{
    EVP_DigestUpdate(c->md, s, strlen(s) + 1);
}

static int copy_entry(struct copy_ctx *c, int sdir, const char *sname, bool follow, int ddir,
                      const char *dname, const char *rel, struct bt_err **err);

static bool
ignored(struct copy_ctx *c, const char *rel)
{
    return c->ig && c->ig->n && image_ignore_match(c->ig, rel);
}

static bool
has_exceptions(const struct image_ignore *ig)
{
    for (size_t i = 0; ig && i < ig->n; i++)
        if (ig->exclude[i])
            return true;
    return false;
}

static int
copy_children(struct copy_ctx *c, int sfd, int dfd, const char *rel, struct bt_err **err)
{
    _cleanup_strv_ char **names = dir_names(sfd, err);
    if (!names)
        return bt_err_ret(err);
    bt_strv_foreach (n, names) {
        _cleanup_free_ char *r = *rel ? xasprintf("%s/%s", rel, n) : xstrdup(n);
        if (ignored(c, r)) {
            struct stat sb;
            if (!has_exceptions(c->ig) || fstatat(sfd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                !S_ISDIR(sb.st_mode))
                continue;
        }
        int k = copy_entry(c, sfd, n, false, dfd, n, r, err);
        if (k < 0)
            return k;
    }
    return 0;
}

static int
copy_entry(struct copy_ctx *c, int sdir, const char *sname, bool follow, int ddir,
           const char *dname, const char *rel, struct bt_err **err)
{
    struct stat sb;
    if (fstatat(sdir, sname, &sb, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
        return bt_err_errno(err, errno, "stat '%s'", rel);
    uid_t uid = c->chown ? c->uid : c->preserve ? sb.st_uid : 0;
    gid_t gid = c->chown ? c->gid : c->preserve ? sb.st_gid : 0;
    mode_t mode = c->chmod >= 0 ? (mode_t)c->chmod : (sb.st_mode & 07777);
    _cleanup_free_ char *meta =
        xasprintf("%s %o %u %u %lld", rel, (unsigned)(sb.st_mode & S_IFMT) | mode, (unsigned)uid,
                  (unsigned)gid, (long long)sb.st_size);
    md_str(c, meta);
    if (S_ISDIR(sb.st_mode)) {
        if (mkdirat(ddir, dname, 0700) < 0 && errno != EEXIST)
            return bt_err_errno(err, errno, "mkdir '%s'", rel);
        _cleanup_close_ int dfd =
            openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int sfd =
            openat(sdir, sname, O_RDONLY | O_DIRECTORY | (follow ? 0 : O_NOFOLLOW) | O_CLOEXEC);
        if (dfd < 0 || sfd < 0)
            return bt_err_errno(err, errno, "open '%s'", rel);
        if ((c->owner && fchown(dfd, uid, gid) < 0) || fchmod(dfd, mode) < 0)
            return bt_err_errno(err, errno, "set owner and mode of '%s'", rel);
        int r = copy_children(c, sfd, dfd, rel, err);
        struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
        futimens(dfd, ts);
        return r;
    }
    if (S_ISLNK(sb.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
        if (n < 0)
            return bt_err_errno(err, errno, "readlink '%s'", rel);
        target[n] = '\0';
        md_str(c, target);
        unlinkat(ddir, dname, 0);
        if (symlinkat(target, ddir, dname) < 0)
            return bt_err_errno(err, errno, "symlink '%s'", rel);
        if (c->owner)
            fchownat(ddir, dname, uid, gid, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    if (!S_ISREG(sb.st_mode))
        return 0; /* sockets, fifos and devices are not copied */
    _cleanup_close_ int in = openat(sdir, sname, O_RDONLY | (follow ? 0 : O_NOFOLLOW) | O_CLOEXEC);
    if (in < 0)
        return bt_err_errno(err, errno, "open '%s'", rel);
    unlinkat(ddir, dname, 0);
    _cleanup_close_ int out =
        openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return bt_err_errno(err, errno, "create '%s'", dname);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0)
            return bt_err_errno(err, errno, "read '%s'", rel);
        EVP_DigestUpdate(c->md, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0)
                return bt_err_errno(err, errno, "write '%s'", dname);
            off += w;
        }
    }
    if ((c->owner && fchown(out, uid, gid) < 0) || fchmod(out, mode) < 0)
        return bt_err_errno(err, errno, "set owner and mode of '%s'", dname);
    struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
    futimens(out, ts);
    return 0;
}

/* Relative paths under rootfd that match pattern (no descent into a match). */
static int
glob_walk(struct copy_ctx *c, int dfd, const char *rel, const char *pattern, char ***out,
          struct bt_err **err)
{
    _cleanup_strv_ char **names = dir_names(dfd, err);
    if (!names)
        return bt_err_ret(err);
    bt_strv_foreach (n, names) {
        _cleanup_free_ char *r = *rel ? xasprintf("%s/%s", rel, n) : xstrdup(n);
        if (ignored(c, r))
            continue;
        if (image_glob_match(pattern, r)) {
            *out = bt_strv_push(*out, r);
            continue;
        }
        struct stat sb;
        if (fstatat(dfd, n, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
            _cleanup_close_ int sub =
                openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0 && glob_walk(c, sub, r, pattern, out, err) < 0)
                return bt_err_ret(err);
        }
    }
    return 0;
}

static bool
is_url(const char *s)
{
    return bt_str_startswith(s, "http://") || bt_str_startswith(s, "https://") ||
           bt_str_startswith(s, "git@") || bt_str_startswith(s, "git://");
}

/* true when fd holds a tar archive (plain or compressed); rewinds fd. */
static bool
is_archive(int fd)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    struct archive_entry *e;
    bool yes = archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK &&
               archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    lseek(fd, 0, SEEK_SET);
    return yes;
}

/* ---- steps ---- */

/* Commits the files of a step: upper (may be NULL on a cache hit) or the
 * cached layer. */
static int
finish_step(struct build *b, struct stage *st, const struct image_df_instr *in, const char *upper,
            bool hit, struct layer *cached, bool cached_empty, struct bt_err **err)
{
    if (hit) {
        step_line(b, in, true);
        history_add(st, in, cached_empty, b->hit_created ? b->hit_created : b->now);
        return cached_empty ? 0 : stage_push_layer(b, st, cached, err);
    }
    _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ufd < 0)
        return bt_err_errno(err, errno, "open '%s'", upper);
    _cleanup_strv_ char **names = dir_names(ufd, err);
    if (!names)
        return bt_err_ret(err);
    if (!names[0]) {
        cache_put(b, st->key, NULL);
        history_add(st, in, true, b->now);
        return 0;
    }
    struct layer l = {0};
    int r = layer_from_dir(b, upper, &l, err);
    if (r < 0) {
        layer_done(&l);
        return r;
    }
    cache_put(b, st->key, &l);
    history_add(st, in, false, b->now);
    return stage_push_layer(b, st, &l, err);
}

static char **
stage_shell(const struct stage *st)
{
    json_t *sh = json_object_get(st->config, "Shell");
    if (json_is_array(sh) && json_array_size(sh))
        return bt_json_to_strv(sh);
    char **v = bt_strv_push(NULL, "/bin/sh");
    return bt_strv_push(v, "-c");
}

/* The argv of RUN, CMD, ENTRYPOINT: exec form as is, shell form through SHELL. */
static char **
command_of(const struct stage *st, const struct image_df_instr *in, const char *args)
{
    if (in->json)
        return bt_strv_copy(in->json);
    char **v = stage_shell(st);
    return bt_strv_push(v, args);
}

static int
step_run(struct build *b, struct stage *st, const struct image_df_instr *in, struct bt_err **err)
{
    if (!b->o->run)
        return bt_err_set(err, ENOTSUP, "no runner for RUN steps");
    bool no_network = b->o->no_network;
    bt_strv_foreach (f, in->flags) {
        if (strcmp(f, "network=none") == 0)
            no_network = true;
        else if (strcmp(f, "network=host") == 0 || strcmp(f, "network=default") == 0)
            no_network = false;
        else
            return bt_err_set(err, EINVAL, "--%s is not supported", f);
    }
    _cleanup_strv_ char **argv = command_of(st, in, in->args);
    _cleanup_strv_ char **env = bt_json_to_strv(env_array(st));
    bt_strv_foreach (a, st->args) {
        _cleanup_free_ char *k = xstrndup(a, strcspn(a, "="));
        if (!stage_env(st, k))
            env = bt_strv_push(env, a);
    }
    if (!kv_get(env, "PATH"))
        env =
            bt_strv_push(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    const char *cwd = bt_json_str(st->config, "WorkingDir");
    const char *user = bt_json_str(st->config, "User");
    {
        _cleanup_json_ json_t *k =
            json_pack("{s:s, s:o, s:o, s:s, s:s, s:b}", "step", "RUN", "argv",
                      bt_json_from_strv(argv), "env", bt_json_from_strv(env), "cwd",
                      cwd ? cwd : "/", "user", user ? user : "", "no_network", no_network);
        _cleanup_free_ char *ks = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
        stage_next_key(st, ks);
    }
    struct layer cached = {0};
    bool empty = false;
    if (cache_get(b, st->key, &cached, &empty))
        return finish_step(b, st, in, NULL, true, &cached, empty, err);
    step_line(b, in, false);
    uid_t uid = 0;
    gid_t gid = 0;
    if (user && *user && resolve_user(b, st, user, &uid, &gid, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *dir = tmp_dir(b, "run", err);
    if (!dir)
        return bt_err_ret(err);
    _cleanup_free_ char *upper = bt_path_join(dir, "upper");
    _cleanup_free_ char *work = bt_path_join(dir, "work");
    _cleanup_free_ char *root = bt_path_join(dir, "root");
    _cleanup_free_ char *outp = bt_path_join(dir, "output");
    if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(root, 0755) < 0)
        return bt_err_errno(err, errno, "mkdir in '%s'", dir);
    if (cwd && *cwd) {
        /* a working directory the image names but lacks is made, in this
         * step's layer */
        _cleanup_free_ char *real = stage_resolve(b, st, cwd);
        struct stat sb;
        if (!stage_stat(b, st, real, &sb)) {
            _cleanup_close_ int ufd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
            _cleanup_close_ int wfd = ufd < 0 ? -1 : mkdir_parents(b, st, ufd, real, err);
            if (wfd < 0)
                return ufd < 0 ? bt_err_errno(err, errno, "open '%s'", upper) : bt_err_ret(err);
        }
    }
    _cleanup_close_ int out = open(outp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return bt_err_errno(err, errno, "create '%s'", outp);
    _cleanup_strv_ char **lowers = stage_lowerdirs(b, st);
    struct image_build_step step = {.lowerdirs = lowers,
                                    .upper = upper,
                                    .work = work,
                                    .rootfs = root,
                                    .argv = argv,
                                    .env = env,
                                    .cwd = cwd && *cwd ? cwd : "/",
                                    .uid = uid,
                                    .gid = gid,
                                    .out_fd = out,
                                    .no_network = no_network};
    /* the step's output goes to the output file and, unless quiet, to the
     * user as it comes */
    int pfd[2] = {-1, -1};
    pid_t tee = -1;
    if (!b->o->quiet) {
        if (pipe2(pfd, O_CLOEXEC) < 0)
            return bt_err_errno(err, errno, "pipe");
        tee = tee_start(pfd, out, fileno(b->out));
        close(pfd[0]);
        if (tee < 0) {
            close(pfd[1]);
            return bt_err_errno(err, errno, "fork");
        }
        step.out_fd = pfd[1];
    }
    int rc = b->o->run(b->o->run_data, &step, err);
    if (tee > 0) {
        close(pfd[1]);
        while (waitpid(tee, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc < 0)
        return rc;
    if (rc != 0) {
        if (b->o->quiet)
            show_output(out, stderr);
        _cleanup_free_ char *cmd = bt_strv_join(argv, " ");
        rm_quiet(dir);
        return bt_err_set(err, EIO, "process \"%s\" did not complete successfully: exit code: %d",
                          cmd, rc);
    }
    int r = finish_step(b, st, in, upper, false, NULL, false, err);
    rm_quiet(dir);
    return r;
}

static struct stage *
stage_by_name(struct build *b, const char *name, size_t before)
{
    int64_t idx;
    if (bt_parse_int64(name, &idx) && idx >= 0 && (size_t)idx < before)
        return &b->stages[idx];
    for (size_t i = 0; i < before; i++)
        if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
            return &b->stages[i];
    return NULL;
}

/* A read-only view of a stage's files: a directory path (owned). */
static char *
stage_view(struct build *b, const struct stage *st, struct bt_err **err)
{
    if (st->n_layers == 1)
        return lowerdir(b, &st->layers[0]);
    char *dir = tmp_dir(b, "from", err);
    if (!dir || st->n_layers == 0)
        return dir;
    _cleanup_strv_ char **lowers = stage_lowerdirs(b, st);
    if (image_overlay_mount(b->s, lowers, NULL, NULL, dir, err) < 0) {
        free(dir);
        return NULL;
    }
    b->mounts = bt_strv_push(b->mounts, dir);
    return dir;
}

static int
parse_chmod(const char *s, int *out, struct bt_err **err)
{
    char *end = NULL;
    long v = strtol(s, &end, 8);
    if (!*s || *end || v < 0 || v > 07777)
        return bt_err_set(err, EINVAL, "invalid --chmod '%s': an octal mode is expected", s);
    *out = (int)v;
    return 0;
}

static int
step_copy(struct build *b, size_t si, const struct image_df_instr *in, bool add,
          struct bt_err **err)
{
    struct stage *st = &b->stages[si];
    const char *from = NULL, *chown_s = NULL, *chmod_s = NULL;
    bt_strv_foreach (f, in->flags) {
        _cleanup_free_ char *k = xstrndup(f, strcspn(f, "="));
        const char *v = strchr(f, '=') ? strchr(f, '=') + 1 : "";
        if (strcmp(k, "from") == 0 && !add)
            from = v;
        else if (strcmp(k, "chown") == 0)
            chown_s = v;
        else if (strcmp(k, "chmod") == 0)
            chmod_s = v;
        else if (strcmp(k, "link") != 0)
            return bt_err_set(err, EINVAL, "--%s is not supported", k);
    }
    _cleanup_strv_ char **words = NULL;
    if (in->json) {
        words = xcalloc(1, sizeof(char *));
        bt_strv_foreach (w, in->json) {
            char *x = image_df_expand(w, b->df.escape, lookup_stage, st, err);
            if (!x)
                return bt_err_ret(err);
            words = bt_strv_push_take(words, x);
        }
    } else {
        words = image_df_words(in->args, b->df.escape, lookup_stage, st, err);
        if (!words)
            return bt_err_ret(err);
    }
    size_t n = bt_strv_length(words);
    if (n < 2)
        return bt_err_set(err, EINVAL, "requires at least two arguments: source and destination");
    struct copy_ctx c = {.b = b, .chmod = -1, .add = add, .owner = geteuid() == 0};
    if (chmod_s && parse_chmod(chmod_s, &c.chmod, err) < 0)
        return bt_err_ret(err);
    if (chown_s) {
        _cleanup_free_ char *cs = image_df_expand(chown_s, b->df.escape, lookup_stage, st, err);
        if (!cs || resolve_user(b, st, cs, &c.uid, &c.gid, err) < 0)
            return bt_err_ret(err);
        c.chown = true;
    }
    /* the destination, against WORKDIR */
    const char *raw_dest = words[n - 1];
    const char *wd = bt_json_str(st->config, "WorkingDir");
    _cleanup_free_ char *dest = raw_dest[0] == '/'
                                    ? bt_path_clean(raw_dest)
                                    : bt_path_absolute(wd && *wd ? wd : "/", raw_dest);
    bool dest_dir = bt_str_endswith(raw_dest, "/") || n > 2 || (strcmp(raw_dest, ".") == 0) ||
                    image_glob_has_meta(words[0]);
    if (strcmp(dest, "/") != 0) {
        /* symlinks of the image on the way (/lib -> usr/lib) are followed,
         * as a container would see the path */
        _cleanup_free_ char *parent = bt_path_dirname(dest);
        _cleanup_free_ char *rparent = stage_resolve(b, st, parent);
        char *resolved = bt_path_absolute(rparent, bt_path_basename(dest));
        free(dest);
        dest = resolved;
    }
    struct stat dsb;
    if (!dest_dir && stage_stat(b, st, dest, &dsb) && S_ISDIR(dsb.st_mode))
        dest_dir = true;
    if (dest_dir) {
        char *r = stage_resolve(b, st, dest);
        free(dest);
        dest = r;
    }
    /* where the sources come from */
    _cleanup_free_ char *view = NULL;
    _cleanup_close_ int srcfd = -1;
    if (from) {
        _cleanup_free_ char *fx = image_df_expand(from, b->df.escape, lookup_stage, st, err);
        if (!fx)
            return bt_err_ret(err);
        struct stage *fs = stage_by_name(b, fx, si);
        struct stage tmp = {0};
        if (!fs) {
            _cleanup_free_ char *id = image_store_resolve(b->s, fx, err);
            if (!id)
                return *err ? bt_err_ret(err)
                            : bt_err_set(err, ENOENT, "--from=%s: no such stage or image", fx);
            _cleanup_json_ json_t *rec = image_record_load(b->s, id);
            size_t i;
            json_t *l;
            json_array_foreach (json_object_get(rec, "layers"), i, l) {
                tmp.layers = xreallocarray(tmp.layers, tmp.n_layers + 1, sizeof(*tmp.layers));
                tmp.layers[tmp.n_layers++] =
                    (struct layer){.chain = xstrdup(bt_json_str(l, "chain_id"))};
            }
            fs = &tmp;
        }
        view = stage_view(b, fs, err);
        if (fs == &tmp)
            stage_done(&tmp);
        if (!view)
            return bt_err_ret(err);
        srcfd = open(view, O_PATH | O_DIRECTORY | O_CLOEXEC);
        c.preserve = true;
    } else {
        srcfd = fcntl(b->ctxfd, F_DUPFD_CLOEXEC, 3);
        c.ig = &b->ignore;
    }
    if (srcfd < 0)
        return bt_err_errno(err, errno, "open the source of %s", in->cmd);
    _cleanup_free_ char *dir = tmp_dir(b, "copy", err);
    if (!dir)
        return bt_err_ret(err);
    c.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c.md, EVP_sha256(), NULL);
    int r = 0;
    {
        _cleanup_close_ int upperfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *dparent = dest_dir ? xstrdup(dest) : bt_path_dirname(dest);
        _cleanup_close_ int dfd = upperfd < 0 ? -1 : mkdir_parents(b, st, upperfd, dparent, err);
        if (dfd < 0)
            r = upperfd < 0 ? bt_err_errno(err, errno, "open '%s'", dir) : bt_err_ret(err);
        for (size_t i = 0; r == 0 && i + 1 < n; i++) {
            const char *src = words[i];
            if (is_url(src)) {
                r = bt_err_set(err, ENOTSUP,
                               "%s: sources from URLs are not supported; download in a "
                               "RUN step or put the file in the build context",
                               src);
                break;
            }
            _cleanup_free_ char *clean = bt_path_clean(src[0] == '/' ? src : src);
            const char *rel = clean;
            while (*rel == '/')
                rel++;
            _cleanup_strv_ char **matches = xcalloc(1, sizeof(char *));
            if (image_glob_has_meta(rel)) {
                r = glob_walk(&c, srcfd, "", rel, &matches, err);
                if (r == 0 && !matches[0])
                    r = bt_err_set(err, ENOENT, "no source files were specified by '%s'", src);
            } else {
                if (*rel && strcmp(rel, ".") && ignored(&c, rel))
                    r = bt_err_set(err, ENOENT, "source '%s' is excluded by .dockerignore", src);
                matches = bt_strv_push(matches, *rel ? rel : ".");
            }
            bt_strv_foreach (m, matches) {
                if (r < 0)
                    break;
                struct bt_err *e2 = NULL;
                _cleanup_close_ int sfd = bt_openat_in_root(srcfd, m, O_PATH, 0, &e2);
                if (sfd < 0) {
                    bt_err_free(e2);
                    r = bt_err_set(err, ENOENT, "source '%s' not found%s", m,
                                   from ? "" : " in the build context");
                    break;
                }
                struct stat sb;
                if (fstat(sfd, &sb) < 0) {
                    r = bt_err_errno(err, errno, "stat '%s'", m);
                    break;
                }
                if (S_ISDIR(sb.st_mode)) {
                    /* a directory's contents go into the destination directory */
                    _cleanup_close_ int into = dest_dir ? fcntl(dfd, F_DUPFD_CLOEXEC, 3)
                                                        : mkdir_parents(b, st, upperfd, dest, err);
                    if (into < 0) {
                        r = dest_dir ? bt_err_errno(err, errno, "dup") : bt_err_ret(err);
                        continue;
                    }
                    _cleanup_close_ int rd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                    _cleanup_close_ int dd = openat(into, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                    if (rd < 0 || dd < 0)
                        r = bt_err_errno(err, errno, "open '%s'", m);
                    else
                        r = copy_children(&c, rd, dd, strcmp(m, ".") ? m : "", err);
                    continue;
                }
                const char *dname = dest_dir ? bt_path_basename(m) : bt_path_basename(dest);
                if (add && S_ISREG(sb.st_mode)) {
                    _cleanup_free_ char *ap = xasprintf("/proc/self/fd/%d", sfd);
                    _cleanup_close_ int afd = open(ap, O_RDONLY | O_CLOEXEC);
                    if (afd >= 0 && is_archive(afd)) {
                        md_str(&c, m);
                        char buf[65536];
                        ssize_t k;
                        while ((k = read(afd, buf, sizeof(buf))) > 0)
                            EVP_DigestUpdate(c.md, buf, (size_t)k);
                        lseek(afd, 0, SEEK_SET);
                        _cleanup_close_ int xd = dest_dir
                                                     ? fcntl(dfd, F_DUPFD_CLOEXEC, 3)
                                                     : mkdir_parents(b, st, upperfd, dest, err);
                        r = xd < 0 ? bt_err_ret(err) : image_layer_unpack(afd, xd, NULL, NULL, err);
                        if (r < 0)
                            bt_err_prefix(err, "extract '%s'", m);
                        continue;
                    }
                }
                _cleanup_free_ char *pp = xasprintf("/proc/self/fd/%d", sfd);
                r = copy_entry(&c, AT_FDCWD, pp, true, dfd, dname, m, err);
            }
        }
    }
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(c.md, dg, &dl);
    EVP_MD_CTX_free(c.md);
    if (r < 0) {
        rm_quiet(dir);
        return r;
    }
    {
        struct bt_buf k = {0};
        bt_buf_printf(&k, "%s\n%s\n", in->cmd, dest);
        bt_strv_foreach (f, in->flags)
            bt_buf_printf(&k, "--%s\n", f);
        for (unsigned i = 0; i < dl; i++)
            bt_buf_printf(&k, "%02x", dg[i]);
        stage_next_key(st, k.data);
        bt_buf_done(&k);
    }
    struct layer cached = {0};
    bool empty = false;
    if (cache_get(b, st->key, &cached, &empty)) {
        rm_quiet(dir);
        return finish_step(b, st, in, NULL, true, &cached, empty, err);
    }
    step_line(b, in, false);
    r = finish_step(b, st, in, dir, false, NULL, false, err);
    rm_quiet(dir);
    return r;
}

static int
step_workdir(struct build *b, struct stage *st, const struct image_df_instr *in,
             struct bt_err **err)
{
    _cleanup_free_ char *w = image_df_expand(in->args, b->df.escape, lookup_stage, st, err);
    if (!w)
        return bt_err_ret(err);
    const char *cur = bt_json_str(st->config, "WorkingDir");
    _cleanup_free_ char *path = bt_path_absolute(cur && *cur ? cur : "/", w);
    json_object_set_new(st->config, "WorkingDir", json_string(path));
    _cleanup_free_ char *ks = xasprintf("WORKDIR %s", path);
    stage_next_key(st, ks);
    _cleanup_free_ char *real = stage_resolve(b, st, path);
    struct stat sb;
    if (stage_stat(b, st, real, &sb)) {
        step_line(b, in, false);
        history_add(st, in, true, NULL);
        return 0;
    }
    struct layer cached = {0};
    bool empty = false;
    if (cache_get(b, st->key, &cached, &empty))
        return finish_step(b, st, in, NULL, true, &cached, empty, err);
    step_line(b, in, false);
    _cleanup_free_ char *dir = tmp_dir(b, "workdir", err);
    if (!dir)
        return bt_err_ret(err);
    int r;
    {
        _cleanup_close_ int ufd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int dfd = ufd < 0 ? -1 : mkdir_parents(b, st, ufd, real, err);
        r = dfd < 0 ? (ufd < 0 ? bt_err_errno(err, errno, "open '%s'", dir) : bt_err_ret(err))
                    : finish_step(b, st, in, dir, false, NULL, false, err);
    }
    rm_quiet(dir);
    return r;
}

/* Go durations as HEALTHCHECK takes them: "30s", "1m30s", "500ms". */
static int
duration_ns(const char *s, int64_t *out, struct bt_err **err)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ns", 1},           {"us", 1000},         {"ms", 1000000},
                 {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
    int64_t total = 0;
    const char *p = s;
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    while (*p) {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p)
            return bt_err_set(err, EINVAL, "invalid duration '%s'", s);
        size_t k = 0;
        for (; k < BT_ARRAY_SIZE(units); k++) {
            size_t n = strlen(units[k].unit);
            if (strncmp(end, units[k].unit, n) == 0 && !(n == 1 && end[0] == 'm' && end[1] == 's'))
                break;
        }
        if (k == BT_ARRAY_SIZE(units))
            return bt_err_set(err, EINVAL, "invalid duration '%s': missing unit", s);
        total += (int64_t)(v * (double)units[k].ns);
        p = end + strlen(units[k].unit);
    }
    *out = total;
    return 0;
}

static int
step_healthcheck(struct build *b, struct stage *st, const struct image_df_instr *in,
                 struct bt_err **err)
{
    json_t *hc = json_object();
    json_object_set_new(st->config, "Healthcheck", hc);
    const char *a = in->args;
    if (strcasecmp(a, "NONE") == 0) {
        json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
        return 0;
    }
    if (strncasecmp(a, "CMD", 3) != 0 || (a[3] != ' ' && a[3] != '\t' && a[3] != '['))
        return bt_err_set(err, EINVAL, "expected NONE or CMD");
    const char *rest = a + 3;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    struct image_df_instr sub = {.args = (char *)rest};
    _cleanup_strv_ char **j = NULL;
    if (*rest == '[') {
        _cleanup_json_ json_t *arr = json_loads(rest, 0, NULL);
        if (!json_is_array(arr))
            return bt_err_set(err, EINVAL, "CMD: '%s' is not a JSON array", rest);
        j = bt_json_to_strv(arr);
        sub.json = j;
    }
    json_t *test = sub.json ? json_pack("[s]", "CMD") : json_pack("[s, s]", "CMD-SHELL", rest);
    bt_strv_foreach (w, sub.json)
        json_array_append_new(test, json_string(w));
    json_object_set_new(hc, "Test", test);
    static const char *const durs[][2] = {{"interval", "Interval"},
                                          {"timeout", "Timeout"},
                                          {"start-period", "StartPeriod"},
                                          {"start-interval", "StartInterval"}};
    bt_strv_foreach (f, in->flags) {
        _cleanup_free_ char *k = xstrndup(f, strcspn(f, "="));
        const char *v = strchr(f, '=') ? strchr(f, '=') + 1 : "";
        bool done = false;
        for (size_t i = 0; i < BT_ARRAY_SIZE(durs) && !done; i++) {
            if (strcmp(k, durs[i][0]) != 0)
                continue;
            int64_t ns = 0;
            if (duration_ns(v, &ns, err) < 0)
                return bt_err_ret(err);
            json_object_set_new(hc, durs[i][1], json_integer(ns));
            done = true;
        }
        if (!done && strcmp(k, "retries") == 0) {
            int64_t n;
            if (!bt_parse_int64(v, &n) || n < 0)
                return bt_err_set(err, EINVAL, "--retries: '%s' is not a number", v);
            json_object_set_new(hc, "Retries", json_integer(n));
        } else if (!done) {
            return bt_err_set(err, EINVAL, "--%s is not supported", k);
        }
    }
    (void)b;
    return 0;
}

/* ARG inside a stage or before the first FROM. */
static int
declare_args(struct build *b, char ***args, const struct image_df_instr *in,
             image_df_lookup_fn lookup, void *data, char *const *globals, struct bt_err **err)
{
    _cleanup_strv_ char **w = image_df_words(in->args, b->df.escape, lookup, data, err);
    if (!w)
        return bt_err_ret(err);
    bt_strv_foreach (a, w) {
        _cleanup_free_ char *k = xstrndup(a, strcspn(a, "="));
        if (!*k)
            return bt_err_set(err, EINVAL, "'%s' has no name", a);
        bool given;
        const char *v = build_arg(b, k, &given);
        if (!given && strchr(a, '='))
            v = strchr(a, '=') + 1;
        else if (!given)
            v = kv_get(globals, k) ? kv_get(globals, k) : auto_arg(k);
        if (v)
            *args = kv_put(*args, k, v);
    }
    return 0;
}

/* ENV, LABEL, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT, SHELL, STOPSIGNAL,
 * HEALTHCHECK, ONBUILD, MAINTAINER, ARG: the config changes. */
static int
step_config(struct build *b, struct stage *st, const struct image_df_instr *in, struct bt_err **err)
{
    const char *c = in->cmd;
    json_t *cfg = st->config;
    int r = 0;
    if (strcmp(c, "ENV") == 0 || strcmp(c, "LABEL") == 0) {
        bool env = c[0] == 'E';
        _cleanup_strv_ char **w = image_df_words(in->args, b->df.escape, lookup_stage, st, err);
        if (!w)
            return bt_err_ret(err);
        if (env && w[0] && !strchr(w[0], '=')) {
            /* legacy "ENV KEY value with spaces" */
            const char *rest = in->args + strcspn(in->args, " \t");
            rest += strspn(rest, " \t");
            _cleanup_free_ char *v = image_df_expand(rest, b->df.escape, lookup_stage, st, err);
            if (!v)
                return bt_err_ret(err);
            env_set(st, w[0], v);
        } else {
            bt_strv_foreach (p, w) {
                char *eq = strchr(p, '=');
                if (!eq || eq == p)
                    return bt_err_set(err, EINVAL, "'%s' is not key=value", p);
                *eq = '\0';
                if (env)
                    env_set(st, p, eq + 1);
                else
                    json_object_set_new(image_config_object(cfg, "Labels"), p, json_string(eq + 1));
            }
        }
    } else if (strcmp(c, "ARG") == 0) {
        r = declare_args(b, &st->args, in, lookup_stage, st, b->global_args, err);
    } else if (strcmp(c, "USER") == 0 || strcmp(c, "STOPSIGNAL") == 0) {
        _cleanup_free_ char *v = image_df_expand(in->args, b->df.escape, lookup_stage, st, err);
        if (!v)
            return bt_err_ret(err);
        json_object_set_new(cfg, c[0] == 'U' ? "User" : "StopSignal", json_string(v));
    } else if (strcmp(c, "EXPOSE") == 0) {
        _cleanup_strv_ char **w = image_df_words(in->args, b->df.escape, lookup_stage, st, err);
        if (!w)
            return bt_err_ret(err);
        bt_strv_foreach (p, w) {
            _cleanup_free_ char *ch = xasprintf("EXPOSE %s", p);
            if ((r = image_config_change(cfg, ch, err)) < 0)
                return r;
        }
    } else if (strcmp(c, "VOLUME") == 0) {
        _cleanup_strv_ char **w =
            in->json ? bt_strv_copy(in->json)
                     : image_df_words(in->args, b->df.escape, lookup_stage, st, err);
        if (!w)
            return bt_err_ret(err);
        bt_strv_foreach (p, w) {
            if (p[0] != '/')
                return bt_err_set(err, EINVAL, "'%s' is not an absolute path", p);
            json_object_set_new(image_config_object(cfg, "Volumes"), p, json_object());
        }
    } else if (strcmp(c, "CMD") == 0 || strcmp(c, "ENTRYPOINT") == 0) {
        _cleanup_strv_ char **argv = command_of(st, in, in->args);
        if (c[0] == 'C') {
            json_object_set_new(cfg, "Cmd", bt_json_from_strv(argv));
            st->cmd_set = true;
        } else {
            json_object_set_new(cfg, "Entrypoint", bt_json_from_strv(argv));
            if (!st->cmd_set)
                json_object_del(cfg, "Cmd");
        }
    } else if (strcmp(c, "SHELL") == 0) {
        if (!in->json || !in->json[0])
            return bt_err_set(err, EINVAL,
                              "the JSON form is required: SHELL [\"executable\", "
                              "\"parameters\"]");
        json_object_set_new(cfg, "Shell", bt_json_from_strv(in->json));
    } else if (strcmp(c, "HEALTHCHECK") == 0) {
        r = step_healthcheck(b, st, in, err);
    } else if (strcmp(c, "ONBUILD") == 0) {
        json_t *ob = json_object_get(cfg, "OnBuild");
        if (!json_is_array(ob)) {
            ob = json_array();
            json_object_set_new(cfg, "OnBuild", ob);
        }
        json_array_append_new(ob, json_string(in->args));
    } else if (strcmp(c, "MAINTAINER") != 0) {
        return bt_err_set(err, EINVAL, "unexpected %s", c);
    }
    if (r < 0)
        return r;
    _cleanup_free_ char *args = bt_strv_join(st->args, "\n");
    _cleanup_free_ char *ks = xasprintf("%s\n%s", in->original, args ? args : "");
    stage_next_key(st, ks);
    history_add(st, in, true, NULL);
    return 0;
}

/* ---- FROM ---- */

struct from_spec {
    char *image; /* expanded; "scratch", a stage name or an image */
    char *name;  /* AS name */
    char *id;    /* the image id when it is an image */
};

static int
from_parse(struct build *b, const struct image_df_instr *in, struct from_spec *f,
           struct bt_err **err)
{
    _cleanup_strv_ char **w =
        image_df_words(in->args, b->df.escape, lookup_global, b->global_args, err);
    if (!w)
        return bt_err_ret(err);
    size_t n = bt_strv_length(w);
    if (n != 1 && !(n == 3 && strcasecmp(w[1], "AS") == 0))
        return bt_err_set(err, EINVAL, "requires either one or three arguments");
    bt_strv_foreach (fl, in->flags) {
        if (!bt_str_startswith(fl, "platform="))
            return bt_err_set(err, EINVAL, "--%s is not supported", fl);
        _cleanup_free_ char *pl =
            image_df_expand(fl + 9, b->df.escape, lookup_global, b->global_args, err);
        if (!pl)
            return bt_err_ret(err);
        const char *host = image_build_platform();
        if (*pl && strcmp(pl, host) != 0)
            return bt_err_set(err, ENOTSUP, "--platform=%s: only %s can be built here", pl, host);
    }
    f->image = xstrdup(w[0]);
    if (n == 3) {
        f->name = xstrdup(w[2]);
        for (char *p = f->name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    return 0;
}

static int
stage_from(struct build *b, size_t si, const struct from_spec *f, struct bt_err **err)
{
    struct stage *st = &b->stages[si];
    st->name = f->name ? xstrdup(f->name) : NULL;
    struct stage *prev = stage_by_name(b, f->image, si);
    if (prev && !f->id) {
        st->config = json_deep_copy(prev->config);
        st->history = json_deep_copy(prev->history);
        st->os = xstrdup(prev->os);
        st->arch = xstrdup(prev->arch);
        st->key = xstrdup(prev->key);
        st->created = xstrdup(prev->created);
        st->layers = xcalloc(prev->n_layers + 1, sizeof(*st->layers));
        for (size_t i = 0; i < prev->n_layers; i++) {
            const struct layer *l = &prev->layers[i];
            st->layers[i] = (struct layer){.blob = xstrdup(l->blob),
                                           .diff_id = xstrdup(l->diff_id),
                                           .media_type = xstrdup(l->media_type),
                                           .chain = xstrdup(l->chain),
                                           .size = l->size};
        }
        st->n_layers = prev->n_layers;
        return 0;
    }
    st->os = xstrdup("linux");
    st->arch = xstrdup(image_host_arch());
    st->history = json_array();
    if (!f->id) {
        st->config = json_object();
        st->key = sha256_str("scratch");
        st->created = xstrdup("1970-01-01T00:00:00Z");
        return 0;
    }
    _cleanup_json_ json_t *doc = image_blob_json(b->s, f->id, err);
    _cleanup_json_ json_t *rec = image_record_load(b->s, f->id);
    if (!doc || !rec)
        return doc ? bt_err_set(err, ENOENT, "No such image: %s", f->image) : bt_err_ret(err);
    json_t *cfg = json_object_get(doc, "config");
    st->config = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
    if (json_is_array(json_object_get(doc, "history")))
        json_array_extend(st->history, json_object_get(doc, "history"));
    if (bt_json_str(doc, "os")) {
        free(st->os);
        st->os = xstrdup(bt_json_str(doc, "os"));
    }
    if (bt_json_str(doc, "architecture")) {
        free(st->arch);
        st->arch = xstrdup(bt_json_str(doc, "architecture"));
    }
    size_t i;
    json_t *l;
    json_array_foreach (json_object_get(rec, "layers"), i, l) {
        const char *chain = bt_json_str(l, "chain_id");
        if (!image_digest_valid(chain))
            return bt_err_set(err, EINVAL, "image %s: record has a bad layer", f->image);
        st->layers = xreallocarray(st->layers, st->n_layers + 1, sizeof(*st->layers));
        st->layers[st->n_layers++] = (struct layer){
            .blob = xstrdup(bt_json_str(l, "digest") ? bt_json_str(l, "digest") : ""),
            .diff_id = xstrdup(bt_json_str(l, "diff_id") ? bt_json_str(l, "diff_id") : ""),
            .media_type = xstrdup(bt_json_str(l, "mediaType") ? bt_json_str(l, "mediaType")
                                                              : IMAGE_MT_OCI_LAYER_GZIP),
            .chain = xstrdup(chain),
            .size = json_integer_value(json_object_get(l, "size"))};
    }
    st->key = sha256_str(f->id);
    st->created =
        xstrdup(bt_json_str(doc, "created") ? bt_json_str(doc, "created") : "1970-01-01T00:00:00Z");
    return 0;
}

/* Resolves (pulling when missing, or always with --pull) an image. */
static char *
base_image(struct build *b, const char *name, struct bt_err **err)
{
    char *id = NULL;
    if (!b->o->pull) {
        id = image_store_resolve(b->s, name, err);
        if (id || *err)
            return id;
    }
    struct image_pull_opts po = {.quiet = b->o->quiet, .progress = b->out};
    if (image_pull(b->s, name, &po, &id, err) < 0) {
        bt_err_prefix(err, "pull %s", name);
        return NULL;
    }
    return id;
}

/* ---- the whole build ---- */

static void
build_done(struct build *b)
{
    bt_strv_foreach (m, b->mounts)
        umount2(m, MNT_DETACH);
    bt_strv_free(b->mounts);
    if (b->tmp)
        rm_quiet(b->tmp);
    if (b->lockfd >= 0)
        close(b->lockfd);
    free(b->tmp);
    image_dockerfile_done(&b->df);
    free(b->dfname);
    if (b->ctxfd >= 0)
        close(b->ctxfd);
    image_ignore_done(&b->ignore);
    bt_strv_free(b->global_args);
    bt_strv_free(b->used_args);
    for (size_t i = 0; i < b->n_stages; i++)
        stage_done(&b->stages[i]);
    free(b->stages);
    free(b->now);
    free(b->hit_created);
}

static int
load_inputs(struct build *b, struct bt_err **err)
{
    const struct image_build_opts *o = b->o;
    b->ctxfd = open(o->context, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (b->ctxfd < 0)
        return bt_err_errno(err, errno, "build context '%s'", o->context);
    _cleanup_free_ char *text = NULL;
    if (o->dockerfile_inline) {
        text = xstrdup(o->dockerfile_inline);
        b->dfname = xstrdup("Dockerfile");
    } else {
        const char *df = o->dockerfile ? o->dockerfile : "Dockerfile";
        _cleanup_free_ char *p = bt_path_absolute(o->context, df);
        text = bt_file_read_all(p, NULL, err);
        if (!text)
            return bt_err_ret(err);
        b->dfname = xstrdup(bt_path_basename(p));
    }
    if (image_dockerfile_parse(text, b->dfname, &b->df, err) < 0)
        return bt_err_ret(err);
    _cleanup_free_ char *ip = bt_path_join(o->context, ".dockerignore");
    if (bt_path_exists(ip)) {
        _cleanup_free_ char *ig = bt_file_read_all(ip, NULL, err);
        if (!ig)
            return bt_err_ret(err);
        image_ignore_parse(ig, &b->ignore);
    }
    return 0;
}

/* COPY --from=X where X is not a stage: the image is pulled now when it is
 * missing. */
static int
plan_copy_from(struct build *b, const struct from_spec *froms, size_t n, const char *from,
               struct bt_err **err)
{
    _cleanup_free_ char *x =
        image_df_expand(from, b->df.escape, lookup_global, b->global_args, err);
    if (!x)
        return bt_err_ret(err);
    int64_t idx;
    if (bt_parse_int64(x, &idx))
        return 0;
    for (size_t k = 0; k < n; k++)
        if (froms[k].name && strcasecmp(froms[k].name, x) == 0)
            return 0;
    _cleanup_free_ char *id = base_image(b, x, err);
    return id ? 0 : bt_err_ret(err);
}

/* First pass: global ARGs, stages, their bases (pulled now, before the
 * build holds the store's lock) and the number of steps. *last gets the
 * index of the stage to build. */
static int
plan_stages(struct build *b, struct from_spec **froms, size_t *n_froms, size_t *last,
            struct bt_err **err)
{
    size_t n = 0;
    bool target_found = !b->o->target;
    size_t end = b->df.n;
    for (size_t i = 0; i < b->df.n; i++) {
        const struct image_df_instr *in = &b->df.v[i];
        const char *cfrom = strcmp(in->cmd, "COPY") == 0 ? image_df_flag(in, "from") : NULL;
        if (cfrom && n > 0 && plan_copy_from(b, *froms, n, cfrom, err) < 0) {
            bt_err_prefix(err, "%s:%d: %s", b->dfname, in->line, in->cmd);
            return bt_err_ret(err);
        }
        if (strcmp(in->cmd, "FROM") != 0) {
            if (n == 0 && strcmp(in->cmd, "ARG") != 0)
                return bt_err_set(err, EINVAL, "%s:%d: no FROM before %s", b->dfname, in->line,
                                  in->cmd);
            if (n == 0 && declare_args(b, &b->global_args, in, lookup_global, b->global_args, NULL,
                                       err) < 0) {
                bt_err_prefix(err, "%s:%d", b->dfname, in->line);
                return bt_err_ret(err);
            }
            continue;
        }
        if (target_found && b->o->target) {
            end = i;
            break;
        }
        *froms = xreallocarray(*froms, n + 1, sizeof(**froms));
        struct from_spec *f = &(*froms)[n];
        *f = (struct from_spec){0};
        *n_froms = ++n;
        if (from_parse(b, in, f, err) < 0) {
            bt_err_prefix(err, "%s:%d: %s", b->dfname, in->line, in->cmd);
            return bt_err_ret(err);
        }
        bool is_stage = false;
        for (size_t k = 0; k + 1 < n; k++)
            if ((*froms)[k].name && strcasecmp((*froms)[k].name, f->image) == 0)
                is_stage = true;
        if (!is_stage && strcmp(f->image, "scratch") != 0) {
            f->id = base_image(b, f->image, err);
            if (!f->id)
                return *err ? bt_err_ret(err)
                            : bt_err_set(err, ENOENT, "FROM %s: no such image", f->image);
        }
        if (b->o->target && f->name && strcasecmp(f->name, b->o->target) == 0)
            target_found = true;
    }
    if (!target_found)
        return bt_err_set(err, EINVAL, "target stage '%s' could not be found", b->o->target);
    if (n == 0)
        return bt_err_set(err, EINVAL, "%s: no FROM instruction", b->dfname);
    b->n_stages = n;
    b->stages = xcalloc(n, sizeof(*b->stages));
    *last = n - 1;
    /* steps: every instruction after the first FROM up to the end */
    bool seen = false;
    for (size_t i = 0; i < end; i++) {
        seen = seen || strcmp(b->df.v[i].cmd, "FROM") == 0;
        b->n_steps += seen;
    }
    b->n_instr = end; /* instructions past the target's stage are not built */
    return 0;
}

static int
run_instr(struct build *b, size_t si, const struct image_df_instr *in, struct bt_err **err)
{
    struct stage *st = &b->stages[si];
    if (strcmp(in->cmd, "RUN") == 0)
        return step_run(b, st, in, err);
    if (strcmp(in->cmd, "COPY") == 0 || strcmp(in->cmd, "ADD") == 0)
        return step_copy(b, si, in, in->cmd[0] == 'A', err);
    if (strcmp(in->cmd, "WORKDIR") == 0)
        return step_workdir(b, st, in, err);
    return step_config(b, st, in, err);
}

static char *
write_image(struct build *b, const struct stage *st, struct bt_err **err)
{
    json_t *cfg = json_deep_copy(st->config);
    bt_strv_foreach (l, (char **)b->o->labels) {
        _cleanup_free_ char *k = xstrndup(l, strcspn(l, "="));
        json_object_set_new(image_config_object(cfg, "Labels"), k,
                            json_string(strchr(l, '=') ? strchr(l, '=') + 1 : ""));
    }
    json_object_del(cfg, "Shell");
    json_t *diffs = json_array(), *descs = json_array();
    for (size_t i = 0; i < st->n_layers; i++) {
        const struct layer *l = &st->layers[i];
        json_array_append_new(diffs, json_string(l->diff_id));
        json_array_append_new(descs, json_pack("{s:s, s:s, s:I}", "mediaType", l->media_type,
                                               "digest", l->blob, "size", (json_int_t)l->size));
    }
    if (json_object_get(st->config, "Shell"))
        json_object_set(cfg, "Shell", json_object_get(st->config, "Shell"));
    _cleanup_json_ json_t *doc =
        json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:o}, s:O}", "architecture", st->arch, "os", st->os,
                  "created", st->created, "config", cfg, "rootfs", "type", "layers", "diff_ids",
                  diffs, "history", st->history);
    _cleanup_free_ char *cs = json_dumps(doc, JSON_COMPACT);
    _cleanup_free_ char *cd = NULL;
    if (image_blob_put_new(b->s, cs, strlen(cs), &cd, err) < 0) {
        json_decref(descs);
        return NULL;
    }
    _cleanup_json_ json_t *m =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                  IMAGE_MT_OCI_MANIFEST, "config", "mediaType", IMAGE_MT_OCI_CONFIG, "digest", cd,
                  "size", (json_int_t)strlen(cs), "layers", descs);
    _cleanup_free_ char *ms = json_dumps(m, JSON_COMPACT);
    char *md = NULL;
    if (image_blob_put_new(b->s, ms, strlen(ms), &md, err) < 0)
        return NULL;
    return md;
}

static int
normalise_tags(char *const *tags, char ***out, struct bt_err **err)
{
    bt_strv_foreach (t, (char **)tags) {
        struct image_ref ref;
        if (image_ref_parse(t, &ref, err) < 0) {
            bt_err_prefix(err, "tag '%s'", t);
            return bt_err_ret(err);
        }
        if (ref.digest) {
            image_ref_done(&ref);
            return bt_err_set(err, EINVAL, "tag '%s': an image cannot be named by digest", t);
        }
        *out = bt_strv_push_take(*out, image_ref_string(&ref));
        image_ref_done(&ref);
    }
    return 0;
}

/* Unmounts what is mounted below dir (COPY --from views of a build that
 * was killed). */
static void
umount_below(const char *dir)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    _cleanup_strv_ char **targets = NULL;
    char *line = NULL;
    size_t cap = 0;
    size_t n = strlen(dir);
    while (getline(&line, &cap, f) > 0) {
        char mp[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, n) == 0 &&
            mp[n] == '/')
            targets = bt_strv_push(targets, mp);
    }
    free(line);
    for (size_t i = bt_strv_length(targets); i > 0; i--)
        umount2(targets[i - 1], MNT_DETACH);
}

/* Removes the temporary directories of builds that were killed: their
 * lock is free and they are not brand new. */
static void
sweep_stale(struct build *b)
{
    _cleanup_free_ char *tmp = xasprintf("%s/tmp", image_store_dir(b->s));
    _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    struct bt_err *e = NULL; /* nothing to sweep when it cannot be read */
    _cleanup_strv_ char **names = dir_names(dfd, &e);
    bt_err_free(e);
    bt_strv_foreach (name, names) {
        if (!bt_str_startswith(name, "build-"))
            continue;
        _cleanup_free_ char *dir = bt_path_join(tmp, name);
        _cleanup_free_ char *lock = bt_path_join(dir, ".lock");
        struct stat sb;
        if (stat(dir, &sb) < 0 || time(NULL) - sb.st_mtime < 10)
            continue;
        _cleanup_close_ int lfd = open(lock, O_RDONLY | O_CLOEXEC);
        if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
            continue; /* a build is running there */
        umount_below(dir);
        rm_quiet(dir);
    }
}

/* The build's temporary directory, locked while the build runs. */
static int
make_tmp(struct build *b, struct bt_err **err)
{
    sweep_stale(b);
    b->tmp = xasprintf("%s/tmp/build-XXXXXX", image_store_dir(b->s));
    if (!mkdtemp(b->tmp)) {
        int r = bt_err_errno(err, errno, "create '%s'", b->tmp);
        free(b->tmp);
        b->tmp = NULL;
        return r;
    }
    _cleanup_free_ char *lock = bt_path_join(b->tmp, ".lock");
    b->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (b->lockfd < 0 || flock(b->lockfd, LOCK_EX) < 0)
        return bt_err_errno(err, errno, "lock '%s'", lock);
    return 0;
}

static int
build_run(struct build *b, char **id_out, struct bt_err **err)
{
    _cleanup_strv_ char **names = NULL;
    if (normalise_tags(b->o->tags, &names, err) < 0)
        return bt_err_ret(err);
    if (load_inputs(b, err) < 0)
        return bt_err_ret(err);
    struct from_spec *froms = NULL;
    size_t last = 0, n_froms = 0;
    int r = plan_stages(b, &froms, &n_froms, &last, err);
    if (r == 0) {
        _cleanup_close_ int gc = image_store_lock(b->s, "gc", false, err);
        r = gc < 0 ? gc : make_tmp(b, err);
        ssize_t si = -1;
        for (size_t i = 0; r == 0 && i < b->n_instr; i++) {
            const struct image_df_instr *in = &b->df.v[i];
            if (strcmp(in->cmd, "FROM") == 0) {
                si++;
                b->step++;
                r = stage_from(b, (size_t)si, &froms[si], err);
                step_line(b, in, false);
            } else if (si >= 0) {
                b->step++;
                r = run_instr(b, (size_t)si, in, err);
            }
            if (r < 0)
                bt_err_prefix(err, "%s:%d: %s", b->dfname, in->line, in->cmd);
        }
        if (r == 0) {
            bt_strv_foreach (a, (char **)b->o->build_args) {
                _cleanup_free_ char *k = xstrndup(a, strcspn(a, "="));
                if (!bt_strv_contains(b->used_args, k) && !b->o->quiet)
                    fprintf(b->out, "warning: build argument %s was not consumed by any ARG\n", k);
            }
            _cleanup_free_ char *md = write_image(b, &b->stages[last], err);
            r = md ? image_store_commit(b->s, md, names, id_out, err) : bt_err_ret(err);
        }
    }
    for (size_t i = 0; i < n_froms; i++) {
        free(froms[i].image);
        free(froms[i].name);
        free(froms[i].id);
    }
    free(froms);
    return r;
}

int
image_build(struct image_store *s, const struct image_build_opts *o, char **id_out,
            struct bt_err **err)
{
    struct build b = {.s = s, .o = o, .out = o->out ? o->out : stderr, .ctxfd = -1, .lockfd = -1};
    b.now = image_now_rfc3339();
    int r = build_run(&b, id_out, err);
    build_done(&b);
    return r;
}

const char *
image_build_platform(void)
{
    static char buf[64];
    if (!buf[0])
        snprintf(buf, sizeof(buf), "linux/%s", image_host_arch());
    return buf;
}

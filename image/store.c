/* image: the content-addressed store under ROOT/image.
 *
 *   blobs/sha256/<hex>        manifests, configs, layer tarballs (verified)
 *   layers/<chain>/diff       a layer unpacked once per chain id, shared
 *   layers/<chain>/layer.json {chain_id, diff_id, parent, size, link}
 *   l/<short>                 -> ../layers/<chain>/diff, short overlay names
 *   images/<id>.json          {id, manifest, layers[], repo_digests, added}
 *   repositories.json         {"refs": {"docker.io/library/x:tag": id}}
 *   users/<id>/<container>    which containers use an image
 *   tmp/                      blobs and layers being written
 *
 * Nothing is reference-counted on disk: what an image needs is computed
 * from the image records when something is removed, under the exclusive gc
 * lock, so a count can never drift after a crash. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image-internal.h"

struct image_store {
    char *dir;
};

static const char *const store_dirs[] = {"blobs/sha256", "layers", "l", "images", "users", "tmp"};

struct image_store *
image_store_open(const char *root, struct bt_err **err)
{
    if (!root)
        root = getenv("BERTH_ROOT");
    if (!root || !*root)
        root = "/var/lib/berth";
    struct image_store *s = xcalloc(1, sizeof(*s));
    s->dir = bt_path_join(root, "image");
    for (size_t i = 0; i < BT_ARRAY_SIZE(store_dirs); i++) {
        _cleanup_free_ char *p = bt_path_join(s->dir, store_dirs[i]);
        if (bt_mkdir_p(p, 0700, err) < 0) {
            bt_err_prefix(err, "open image store");
            return image_store_free(s);
        }
    }
    return s;
}

struct image_store *
image_store_free(struct image_store *s)
{
    if (s) {
        free(s->dir);
        free(s);
    }
    return NULL;
}

const char *
image_store_dir(const struct image_store *s)
{
    return s->dir;
}

int
image_store_lock(struct image_store *s, const char *name, bool exclusive, struct bt_err **err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s.lock", s->dir, name);
    _cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return bt_err_errno(err, errno, "open lock '%s'", p);
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
        if (errno != EINTR)
            return bt_err_errno(err, errno, "lock '%s'", p);
    }
    return TAKE_FD(fd);
}

/* ---- digests ---- */

char *
image_sha256_digest(const void *data, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, data, len);
    char *d = image_hex_digest(md);
    EVP_MD_CTX_free(md);
    return d;
}

const char *
image_digest_hex(const char *d)
{
    const char *colon = strchr(d, ':');
    return colon ? colon + 1 : d;
}

int64_t
image_parse_time(const char *s)
{
    if (!s)
        return 0;
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return 0;
    return (int64_t)timegm(&tm);
}

/* ---- blobs ---- */

char *
image_blob_path(struct image_store *s, const char *digest)
{
    return xasprintf("%s/blobs/sha256/%s", s->dir, image_digest_hex(digest));
}

bool
image_blob_exists(struct image_store *s, const char *digest)
{
    if (!image_digest_valid(digest))
        return false;
    _cleanup_free_ char *p = image_blob_path(s, digest);
    return bt_path_exists(p);
}

struct image_blob_writer {
    struct image_store *store;
    char *tmp;
    int fd;
    EVP_MD_CTX *md;
    int64_t size;
};

struct image_blob_writer *
image_blob_writer_new(struct image_store *s, struct bt_err **err)
{
    struct image_blob_writer *w = xcalloc(1, sizeof(*w));
    w->store = s;
    w->tmp = xasprintf("%s/tmp/blob-XXXXXX", s->dir);
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        bt_err_errno(err, errno, "create '%s'", w->tmp);
        free(w->tmp);
        free(w);
        return NULL;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md)
        abort();
    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
    return w;
}

int
image_blob_writer_write(struct image_blob_writer *w, const void *data, size_t len,
                        struct bt_err **err)
{
    const char *p = data;
    EVP_DigestUpdate(w->md, data, len);
    w->size += (int64_t)len;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bt_err_errno(err, errno, "write blob");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int64_t
image_blob_writer_size(const struct image_blob_writer *w)
{
    return w->size;
}

struct image_blob_writer *
image_blob_writer_free(struct image_blob_writer *w)
{
    if (!w)
        return NULL;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    EVP_MD_CTX_free(w->md);
    free(w);
    return NULL;
}

int
image_blob_writer_commit(struct image_blob_writer *wp, const char *expect, char **digest_out,
                         struct bt_err **err)
{
    _cleanup_(image_blob_writer_freep) struct image_blob_writer *w = wp;
    _cleanup_free_ char *digest = image_hex_digest(w->md);
    if (expect && strcmp(expect, digest) != 0)
        return bt_err_set(err, EBADMSG, "digest mismatch: expected %s, got %s (%lld bytes)", expect,
                          digest, (long long)w->size);
    if (fsync(w->fd) < 0)
        return bt_err_errno(err, errno, "fsync blob");
    _cleanup_free_ char *dst = image_blob_path(w->store, digest);
    if (fchmod(w->fd, 0644) < 0 || rename(w->tmp, dst) < 0)
        return bt_err_errno(err, errno, "store blob %s", digest);
    free(w->tmp);
    w->tmp = NULL;
    if (digest_out)
        *digest_out = TAKE_PTR(digest);
    return 0;
}

int
image_blob_put(struct image_store *s, const char *digest, const void *data, size_t len,
               struct bt_err **err)
{
    _cleanup_(image_blob_writer_freep) struct image_blob_writer *w = image_blob_writer_new(s, err);
    if (!w)
        return bt_err_ret(err);
    int r = image_blob_writer_write(w, data, len, err);
    if (r < 0)
        return r;
    return image_blob_writer_commit(TAKE_PTR(w), digest, NULL, err);
}

int
image_blob_put_new(struct image_store *s, const void *data, size_t len, char **digest_out,
                   struct bt_err **err)
{
    _cleanup_(image_blob_writer_freep) struct image_blob_writer *w = image_blob_writer_new(s, err);
    if (!w)
        return bt_err_ret(err);
    int r = image_blob_writer_write(w, data, len, err);
    if (r < 0)
        return r;
    return image_blob_writer_commit(TAKE_PTR(w), NULL, digest_out, err);
}

int
image_blob_put_file(struct image_store *s, int fd, const char *expect, char **digest_out,
                    int64_t *size_out, struct bt_err **err)
{
    _cleanup_(image_blob_writer_freep) struct image_blob_writer *w = image_blob_writer_new(s, err);
    if (!w)
        return bt_err_ret(err);
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bt_err_errno(err, errno, "read");
        }
        if (n == 0)
            break;
        int r = image_blob_writer_write(w, buf, (size_t)n, err);
        if (r < 0)
            return r;
    }
    if (size_out)
        *size_out = w->size;
    return image_blob_writer_commit(TAKE_PTR(w), expect, digest_out, err);
}

char *
image_blob_read(struct image_store *s, const char *digest, size_t *len, struct bt_err **err)
{
    if (!image_digest_valid(digest))
        return bt_err_set(err, EINVAL, "invalid digest '%s'", digest), NULL;
    _cleanup_free_ char *p = image_blob_path(s, digest);
    return bt_file_read_all(p, len, err);
}

json_t *
image_blob_json(struct image_store *s, const char *digest, struct bt_err **err)
{
    size_t len = 0;
    _cleanup_free_ char *data = image_blob_read(s, digest, &len, err);
    if (!data)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (!j)
        bt_err_set(err, EINVAL, "blob %s: %d:%d: %s", digest, jerr.line, jerr.column, jerr.text);
    return j;
}

/* ---- manifests ---- */

bool
image_media_type_is_index(const char *mt)
{
    return mt && (strcmp(mt, IMAGE_MT_OCI_INDEX) == 0 || strcmp(mt, IMAGE_MT_DOCKER_LIST) == 0);
}

void
image_manifest_done(struct image_manifest *m)
{
    free(m->media_type);
    free(m->config_digest);
    for (size_t i = 0; i < m->nlayers; i++) {
        free(m->layers[i].digest);
        free(m->layers[i].media_type);
        bt_strv_free(m->layers[i].urls);
    }
    free(m->layers);
    *m = (struct image_manifest){0};
}

int
image_manifest_parse(json_t *doc, struct image_manifest *out, struct bt_err **err)
{
    *out = (struct image_manifest){0};
    const char *mt = bt_json_str(doc, "mediaType");
    if (image_media_type_is_index(mt) || json_object_get(doc, "manifests"))
        return bt_err_set(err, EINVAL, "manifest is an index, not an image manifest");
    if (json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
        return bt_err_set(err, EINVAL, "manifest schema version is not 2");
    if (mt && strcmp(mt, IMAGE_MT_OCI_MANIFEST) != 0 && strcmp(mt, IMAGE_MT_DOCKER_MANIFEST) != 0)
        return bt_err_set(err, EINVAL, "unsupported manifest media type '%s'", mt);
    json_t *config = json_object_get(doc, "config");
    const char *cd = bt_json_str(config, "digest");
    if (!image_digest_valid(cd))
        return bt_err_set(err, EINVAL, "manifest has no valid config digest");
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_array(layers))
        return bt_err_set(err, EINVAL, "manifest has no layers array");
    out->media_type = xstrdup(mt ? mt : IMAGE_MT_OCI_MANIFEST);
    out->config_digest = xstrdup(cd);
    out->config_size = json_integer_value(json_object_get(config, "size"));
    out->layers = xcalloc(json_array_size(layers) + 1, sizeof(*out->layers));
    size_t i;
    json_t *l;
    json_array_foreach (layers, i, l) {
        const char *d = bt_json_str(l, "digest");
        if (!image_digest_valid(d)) {
            image_manifest_done(out);
            return bt_err_set(err, EINVAL, "manifest layer %zu has no valid digest", i);
        }
        const char *lmt = bt_json_str(l, "mediaType");
        struct image_desc *desc = &out->layers[out->nlayers++];
        desc->digest = xstrdup(d);
        desc->media_type = xstrdup(lmt ? lmt : IMAGE_MT_OCI_LAYER_GZIP);
        desc->size = json_integer_value(json_object_get(l, "size"));
        json_t *urls = json_object_get(l, "urls");
        size_t k;
        json_t *u;
        json_array_foreach (urls, k, u) {
            if (json_is_string(u))
                desc->urls = bt_strv_push(desc->urls, json_string_value(u));
        }
    }
    return 0;
}

/* ---- records ---- */

static char *
record_path(struct image_store *s, const char *id)
{
    return xasprintf("%s/images/%s.json", s->dir, image_digest_hex(id));
}

json_t *
image_record_load(struct image_store *s, const char *id)
{
    if (!image_digest_valid(id))
        return NULL;
    _cleanup_free_ char *p = record_path(s, id);
    return json_load_file(p, 0, NULL);
}

static json_t *
refs_load(struct image_store *s)
{
    _cleanup_free_ char *p = bt_path_join(s->dir, "repositories.json");
    json_t *j = json_load_file(p, 0, NULL);
    if (!j || !json_is_object(json_object_get(j, "refs"))) {
        if (j)
            json_decref(j);
        j = json_pack("{s:{}}", "refs");
    }
    return j;
}

static int
refs_save(struct image_store *s, json_t *j, struct bt_err **err)
{
    _cleanup_free_ char *p = bt_path_join(s->dir, "repositories.json");
    return bt_json_write_atomic(p, j, err);
}

/* ---- layers ---- */

static char *
layer_dir(struct image_store *s, const char *chain)
{
    return xasprintf("%s/layers/%s", s->dir, image_digest_hex(chain));
}

static json_t *
layer_meta(struct image_store *s, const char *chain)
{
    _cleanup_free_ char *p = xasprintf("%s/layers/%s/layer.json", s->dir, image_digest_hex(chain));
    return json_load_file(p, 0, NULL);
}

/* Unpacks one layer blob as chain id `chain` unless it is there already. */
static int
layer_ensure(struct image_store *s, const char *blob, const char *diff_id, const char *chain,
             const char *parent, struct bt_err **err)
{
    _cleanup_json_ json_t *have = layer_meta(s, chain);
    if (have)
        return 0;
    _cleanup_free_ char *blobp = image_blob_path(s, blob);
    _cleanup_close_ int fd = open(blobp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "layer %s", blob);
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/layer-XXXXXX", s->dir);
    if (!mkdtemp(tmp))
        return bt_err_errno(err, errno, "create '%s'", tmp);
    chmod(tmp, 0700);
    _cleanup_free_ char *diffp = bt_path_join(tmp, "diff");
    int r = 0;
    _cleanup_free_ char *got = NULL;
    int64_t size = 0;
    if (mkdir(diffp, 0755) < 0)
        r = bt_err_errno(err, errno, "mkdir '%s'", diffp);
    if (r == 0) {
        _cleanup_close_ int rootfd = open(diffp, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
            r = bt_err_errno(err, errno, "open '%s'", diffp);
        else
            r = image_layer_unpack(fd, rootfd, &got, &size, err);
    }
    if (r == 0 && diff_id && strcmp(got, diff_id) != 0)
        r = bt_err_set(err, EBADMSG, "uncompressed layer digest mismatch: expected %s, got %s",
                       diff_id, got);
    /* Short name for the overlay fallback: the first 12 hex digits, longer
     * only in the unlikely case that they are taken. */
    _cleanup_free_ char *link = NULL;
    const char *hex = image_digest_hex(chain);
    for (size_t n = 12; r == 0 && n <= 64; n += 4) {
        free(link);
        link = xstrndup(hex, n);
        _cleanup_free_ char *lp = xasprintf("%s/l/%s", s->dir, link);
        _cleanup_free_ char *target = xasprintf("../layers/%s/diff", hex);
        if (symlink(target, lp) == 0)
            break;
        char cur[PATH_MAX];
        ssize_t k = readlink(lp, cur, sizeof(cur) - 1);
        if (k > 0) {
            cur[k] = '\0';
            if (strcmp(cur, target) == 0)
                break;
        }
    }
    if (r == 0) {
        _cleanup_json_ json_t *meta =
            json_pack("{s:s, s:s, s:s?, s:I, s:s, s:s}", "chain_id", chain, "diff_id", got,
                      "parent", parent, "size", (json_int_t)size, "link", link, "blob", blob);
        _cleanup_free_ char *mp = bt_path_join(tmp, "layer.json");
        r = bt_json_write_atomic(mp, meta, err);
    }
    if (r == 0) {
        _cleanup_free_ char *dst = layer_dir(s, chain);
        if (rename(tmp, dst) < 0) {
            /* Another process unpacked the same chain meanwhile: use it. */
            if (errno != EEXIST && errno != ENOTEMPTY)
                r = bt_err_errno(err, errno, "store layer %s", chain);
        } else {
            free(tmp);
            tmp = NULL;
        }
    }
    if (tmp) {
        struct bt_err *ignored = NULL; /* the real error, if any, is already in err */
        bt_rm_rf(tmp, &ignored);
        bt_err_free(ignored);
    }
    if (r < 0)
        bt_err_prefix(err, "unpack layer %s", blob);
    return r;
}

int
image_layer_ensure(struct image_store *s, const char *blob, const char *diff_id, const char *chain,
                   const char *parent, struct bt_err **err)
{
    return layer_ensure(s, blob, diff_id, chain, parent, err);
}

/* ---- commit ---- */

/* Unpacks layers on up to four threads, each started as soon as its blob
 * is in the store (a pull pushes them as downloads finish). */
struct image_unpacker {
    struct image_store *s;
    char **blobs, **diff_ids, **chains; /* owned copies */
    size_t n;
    sem_t slots;
    pthread_mutex_t lock;
    pthread_t *threads;
    bool *started;
    struct bt_err *err; /* the first failure */
    void (*on_layer)(void *data, size_t i, enum image_layer_state st);
    void *on_layer_data;
};

struct unpack_arg {
    struct image_unpacker *u;
    size_t i;
};

static void *
unpack_thread(void *data)
{
    struct unpack_arg *a = data;
    struct image_unpacker *u = a->u;
    size_t i = a->i;
    free(a);
    while (sem_wait(&u->slots) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&u->lock);
    bool stop = u->err != NULL;
    pthread_mutex_unlock(&u->lock);
    struct bt_err *e = NULL;
    if (!stop) {
        if (u->on_layer)
            u->on_layer(u->on_layer_data, i, IMAGE_LAYER_EXTRACTING);
        layer_ensure(u->s, u->blobs[i], u->diff_ids[i], u->chains[i], i ? u->chains[i - 1] : NULL,
                     &e);
        if (u->on_layer)
            u->on_layer(u->on_layer_data, i, e ? IMAGE_LAYER_FAILED : IMAGE_LAYER_COMPLETE);
    }
    sem_post(&u->slots);
    if (e) {
        pthread_mutex_lock(&u->lock);
        if (!u->err)
            u->err = TAKE_PTR(e);
        pthread_mutex_unlock(&u->lock);
        bt_err_free(e);
    }
    return NULL;
}

struct image_unpacker *
image_unpacker_new(struct image_store *s, char *const *blobs, char *const *diff_ids)
{
    struct image_unpacker *u = xcalloc(1, sizeof(*u));
    u->s = s;
    u->n = bt_strv_length((char **)blobs);
    u->blobs = bt_strv_copy((char **)blobs);
    u->diff_ids = bt_strv_copy((char **)diff_ids);
    for (size_t i = 0; i < u->n; i++)
        u->chains = bt_strv_push_take(u->chains,
                                      image_chain_id(i ? u->chains[i - 1] : NULL, u->diff_ids[i]));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    sem_init(&u->slots, 0, cpus > 0 && cpus < 4 ? (unsigned)cpus : 4);
    pthread_mutex_init(&u->lock, NULL);
    u->threads = xcalloc(u->n + 1, sizeof(*u->threads));
    u->started = xcalloc(u->n + 1, sizeof(*u->started));
    return u;
}

void
image_unpacker_on_layer(struct image_unpacker *u,
                        void (*fn)(void *data, size_t i, enum image_layer_state st), void *data)
{
    u->on_layer = fn;
    u->on_layer_data = data;
}

void
image_unpacker_push(struct image_unpacker *u, size_t i)
{
    if (i >= u->n || u->started[i])
        return;
    _cleanup_json_ json_t *have = layer_meta(u->s, u->chains[i]);
    if (have)
        return;
    struct unpack_arg *a = xmalloc(sizeof(*a));
    *a = (struct unpack_arg){u, i};
    if (pthread_create(&u->threads[i], NULL, unpack_thread, a) == 0) {
        u->started[i] = true;
    } else {
        /* no thread to be had: unpack here and now */
        unpack_thread(a);
    }
}

int
image_unpacker_finish(struct image_unpacker *u, struct bt_err **err)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->started[i])
            pthread_join(u->threads[i], NULL);
    int r = 0;
    if (u->err) {
        r = -u->err->code;
        bt_err_move(err, &u->err);
    }
    sem_destroy(&u->slots);
    pthread_mutex_destroy(&u->lock);
    bt_strv_free(u->blobs);
    bt_strv_free(u->diff_ids);
    bt_strv_free(u->chains);
    free(u->threads);
    free(u->started);
    free(u);
    return r;
}

/* Unpacks the layers of a manifest that are not unpacked yet. */
static int
unpack_layers(struct image_store *s, const struct image_manifest *m, char **diff_ids,
              struct bt_err **err)
{
    _cleanup_strv_ char **blobs = NULL;
    for (size_t i = 0; i < m->nlayers; i++)
        blobs = bt_strv_push(blobs, m->layers[i].digest);
    struct image_unpacker *u = image_unpacker_new(s, blobs, diff_ids);
    for (size_t i = 0; i < m->nlayers; i++)
        image_unpacker_push(u, i);
    return image_unpacker_finish(u, err);
}

static char **
config_diff_ids(json_t *config)
{
    char **v = NULL;
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get(json_object_get(config, "rootfs"), "diff_ids"), i, d) {
        v = bt_strv_push(v, json_is_string(d) ? json_string_value(d) : "");
    }
    return v;
}

static int
refs_point(struct image_store *s, char *const *names, const char *id, struct bt_err **err)
{
    if (!names || !*names)
        return 0;
    _cleanup_close_ int lk = image_store_lock(s, "meta", true, err);
    if (lk < 0)
        return lk;
    _cleanup_json_ json_t *refs = refs_load(s);
    json_t *map = json_object_get(refs, "refs");
    bt_strv_foreach (n, (char **)names) {
        json_object_set_new(map, n, json_string(id));
    }
    return refs_save(s, refs, err);
}

int
image_store_commit(struct image_store *s, const char *manifest_digest, char *const *names,
                   char **id_out, struct bt_err **err)
{
    _cleanup_close_ int gc = image_store_lock(s, "gc", false, err);
    if (gc < 0)
        return gc;
    _cleanup_json_ json_t *doc = image_blob_json(s, manifest_digest, err);
    if (!doc)
        return bt_err_ret(err);
    struct image_manifest m;
    int r = image_manifest_parse(doc, &m, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *config = image_blob_json(s, m.config_digest, err);
    if (!config) {
        image_manifest_done(&m);
        return bt_err_ret(err);
    }
    _cleanup_strv_ char **diff_ids = config_diff_ids(config);
    if (bt_strv_length(diff_ids) != m.nlayers) {
        r = bt_err_set(err, EINVAL, "config lists %zu layers, manifest %zu",
                       bt_strv_length(diff_ids), m.nlayers);
        image_manifest_done(&m);
        return r;
    }
    _cleanup_json_ json_t *layers = json_array();
    /* chain ids first: each layer's depends only on the diff ids, so the
     * missing layers can then be unpacked side by side */
    _cleanup_strv_ char **chains = NULL;
    for (size_t i = 0; i < m.nlayers && r == 0; i++) {
        if (!image_digest_valid(diff_ids[i])) {
            r = bt_err_set(err, EINVAL, "config diff id %zu is not a sha256 digest", i);
            break;
        }
        chains = bt_strv_push_take(chains, image_chain_id(i ? chains[i - 1] : NULL, diff_ids[i]));
        json_array_append_new(layers,
                              json_pack("{s:s, s:s, s:I, s:s, s:s}", "digest", m.layers[i].digest,
                                        "mediaType", m.layers[i].media_type, "size",
                                        (json_int_t)m.layers[i].size, "diff_id", diff_ids[i],
                                        "chain_id", chains[i]));
    }
    if (r == 0)
        r = unpack_layers(s, &m, diff_ids, err);
    if (r < 0) {
        image_manifest_done(&m);
        return r;
    }
    const char *id = m.config_digest;
    {
        _cleanup_close_ int lk = image_store_lock(s, "meta", true, err);
        if (lk < 0) {
            image_manifest_done(&m);
            return lk;
        }
        _cleanup_json_ json_t *old = image_record_load(s, id);
        json_t *repo_digests = json_array();
        json_int_t added = (json_int_t)time(NULL);
        if (old) {
            json_array_extend(repo_digests, json_object_get(old, "repo_digests"));
            if (json_integer_value(json_object_get(old, "added")))
                added = json_integer_value(json_object_get(old, "added"));
        }
        _cleanup_json_ json_t *rec =
            json_pack("{s:s, s:s, s:s, s:s, s:I, s:O, s:o, s:I}", "id", id, "manifest",
                      manifest_digest, "manifest_media_type", m.media_type, "config",
                      m.config_digest, "config_size", (json_int_t)m.config_size, "layers", layers,
                      "repo_digests", repo_digests, "added", added);
        _cleanup_free_ char *rp = record_path(s, id);
        r = bt_json_write_atomic(rp, rec, err);
    }
    if (r == 0) {
        _cleanup_strv_ char **tags = NULL;
        bt_strv_foreach (n, (char **)names) {
            if (!strchr(n, '@'))
                tags = bt_strv_push(tags, n);
        }
        r = refs_point(s, tags, id, err);
    }
    if (r == 0 && id_out)
        *id_out = xstrdup(id);
    image_manifest_done(&m);
    return r;
}

int
image_store_add_repo_digest(struct image_store *s, const char *id, const char *repo_digest,
                            const char *index_digest, struct bt_err **err)
{
    _cleanup_close_ int lk = image_store_lock(s, "meta", true, err);
    if (lk < 0)
        return lk;
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    if (!rec)
        return bt_err_set(err, ENOENT, "No such image: %s", id);
    json_t *rd = json_object_get(rec, "repo_digests");
    size_t i;
    json_t *v;
    bool have = false;
    json_array_foreach (rd, i, v) {
        have |= bt_streq_null(json_string_value(v), repo_digest);
    }
    if (!have)
        json_array_append_new(rd, json_string(repo_digest));
    if (index_digest)
        json_object_set_new(rec, "index", json_string(index_digest));
    _cleanup_free_ char *rp = record_path(s, id);
    return bt_json_write_atomic(rp, rec, err);
}

/* ---- lookups ---- */

static char **
list_ids(struct image_store *s)
{
    _cleanup_free_ char *p = bt_path_join(s->dir, "images");
    _cleanup_dir_ DIR *d = opendir(p);
    char **v = NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n == 64 + 5 && bt_str_endswith(de->d_name, ".json"))
            v = bt_strv_push_take(v, xasprintf("sha256:%.*s", 64, de->d_name));
    }
    return v;
}

char *
image_store_resolve(struct image_store *s, const char *name, struct bt_err **err)
{
    if (image_digest_valid(name)) {
        _cleanup_json_ json_t *rec = image_record_load(s, name);
        if (rec)
            return xstrdup(name);
    }
    struct image_ref ref;
    if (image_ref_parse(name, &ref, NULL) == 0) {
        _cleanup_free_ char *full = image_ref_string(&ref);
        if (ref.digest) {
            /* name@digest: an image pulled by that manifest digest */
            _cleanup_free_ char *rn = image_ref_name(&ref);
            _cleanup_free_ char *rd = xasprintf("%s@%s", rn, ref.digest);
            _cleanup_strv_ char **ids = list_ids(s);
            image_ref_done(&ref);
            bt_strv_foreach (id, ids) {
                _cleanup_json_ json_t *rec = image_record_load(s, id);
                size_t i;
                json_t *v;
                json_array_foreach (json_object_get(rec, "repo_digests"), i, v) {
                    if (bt_streq_null(json_string_value(v), rd))
                        return xstrdup(id);
                }
            }
            return NULL;
        }
        image_ref_done(&ref);
        _cleanup_json_ json_t *refs = refs_load(s);
        const char *id = bt_json_str(json_object_get(refs, "refs"), full);
        if (id)
            return xstrdup(id);
    }
    /* A short id: a unique prefix of the hex. */
    const char *hex = bt_str_startswith(name, "sha256:") ? name + 7 : name;
    size_t n = strlen(hex);
    if (n == 0 || n > 64 || strspn(hex, "0123456789abcdef") != n)
        return NULL;
    _cleanup_strv_ char **ids = list_ids(s);
    char *found = NULL;
    bt_strv_foreach (id, ids) {
        if (strncmp(id + 7, hex, n) == 0) {
            if (found) {
                free(found);
                bt_err_set(err, EINVAL, "short id '%s' is ambiguous", name);
                return NULL;
            }
            found = xstrdup(id);
        }
    }
    return found;
}

int
image_store_tag(struct image_store *s, const char *id, const char *name, struct bt_err **err)
{
    struct image_ref ref;
    int r = image_ref_parse(name, &ref, err);
    if (r < 0)
        return r;
    if (ref.digest) {
        image_ref_done(&ref);
        return bt_err_set(err, EINVAL, "cannot tag with a digest: '%s'", name);
    }
    char *full = image_ref_string(&ref);
    image_ref_done(&ref);
    char *names[] = {full, NULL};
    r = refs_point(s, names, id, err);
    free(full);
    return r;
}

static char **
names_of(json_t *refs, const char *id)
{
    char **v = NULL;
    const char *k;
    json_t *val;
    json_object_foreach (json_object_get(refs, "refs"), k, val) {
        if (bt_streq_null(json_string_value(val), id))
            v = bt_strv_push(v, k);
    }
    image_strv_sort(v);
    return v;
}

void
image_info_done(struct image_info *i)
{
    free(i->id);
    free(i->manifest);
    bt_strv_free(i->names);
    *i = (struct image_info){0};
}

void
image_info_list_free(struct image_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        image_info_done(&list[i]);
    free(list);
}

static int
info_fill(struct image_store *s, json_t *refs, const char *id, struct image_info *out,
          struct bt_err **err)
{
    *out = (struct image_info){0};
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    if (!rec)
        return bt_err_set(err, ENOENT, "No such image: %s", id);
    out->id = xstrdup(id);
    out->manifest = xstrdup(bt_json_str(rec, "manifest") ? bt_json_str(rec, "manifest") : "");
    out->names = names_of(refs, id);
    out->added = json_integer_value(json_object_get(rec, "added"));
    size_t i;
    json_t *l;
    json_array_foreach (json_object_get(rec, "layers"), i, l) {
        _cleanup_json_ json_t *meta = layer_meta(s, bt_json_str(l, "chain_id"));
        out->size += json_integer_value(json_object_get(meta, "size"));
    }
    _cleanup_json_ json_t *config = image_blob_json(s, id, NULL);
    out->created = image_parse_time(bt_json_str(config, "created"));
    _cleanup_strv_ char **users = image_store_users(s, id);
    out->containers = bt_strv_length(users);
    return 0;
}

int
image_store_info(struct image_store *s, const char *id, struct image_info *out, struct bt_err **err)
{
    _cleanup_json_ json_t *refs = refs_load(s);
    return info_fill(s, refs, id, out, err);
}

static int
info_cmp(const void *a, const void *b)
{
    const struct image_info *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return strcmp(x->id, y->id);
}

int
image_store_list(struct image_store *s, struct image_info **out, size_t *n, struct bt_err **err)
{
    _cleanup_json_ json_t *refs = refs_load(s);
    _cleanup_strv_ char **ids = list_ids(s);
    size_t count = bt_strv_length(ids);
    struct image_info *list = xcalloc(count + 1, sizeof(*list));
    size_t k = 0;
    bt_strv_foreach (id, ids) {
        /* An image removed meanwhile is simply not listed. */
        if (info_fill(s, refs, id, &list[k], NULL) == 0)
            k++;
    }
    qsort(list, k, sizeof(*list), info_cmp);
    *out = list;
    *n = k;
    return 0;
}

/* ---- usage by containers ---- */

static int
check_container_id(const char *c, struct bt_err **err)
{
    if (!c || !*c || strchr(c, '/') || strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
        return bt_err_set(err, EINVAL, "invalid container id '%s'", c ? c : "");
    return 0;
}

int
image_store_use(struct image_store *s, const char *id, const char *container_id,
                struct bt_err **err)
{
    int r = check_container_id(container_id, err);
    if (r < 0)
        return r;
    _cleanup_close_ int gc = image_store_lock(s, "gc", false, err);
    if (gc < 0)
        return gc;
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    if (!rec)
        return bt_err_set(err, ENOENT, "No such image: %s", id);
    _cleanup_free_ char *d = xasprintf("%s/users/%s", s->dir, image_digest_hex(id));
    if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return bt_err_errno(err, errno, "mkdir '%s'", d);
    _cleanup_free_ char *p = bt_path_join(d, container_id);
    return bt_file_write_atomic(p, "", 0, 0600, err);
}

int
image_store_release(struct image_store *s, const char *id, const char *container_id,
                    struct bt_err **err)
{
    int r = check_container_id(container_id, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *d = xasprintf("%s/users/%s", s->dir, image_digest_hex(id));
    _cleanup_free_ char *p = bt_path_join(d, container_id);
    if (unlink(p) < 0 && errno != ENOENT)
        return bt_err_errno(err, errno, "remove '%s'", p);
    rmdir(d); /* fails while other containers remain, which is fine */
    return 0;
}

char **
image_store_users(struct image_store *s, const char *id)
{
    _cleanup_free_ char *d = xasprintf("%s/users/%s", s->dir, image_digest_hex(id));
    _cleanup_dir_ DIR *dir = opendir(d);
    char **v = NULL;
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] != '.' && !strstr(de->d_name, ".tmp."))
            v = bt_strv_push(v, de->d_name);
    }
    image_strv_sort(v);
    return v;
}

/* ---- removal ---- */

/* Removes every layer and blob that no image record refers to. Called with
 * the gc lock held exclusively. */
static int
collect_garbage(struct image_store *s, int64_t *reclaimed, struct bt_err **err)
{
    _cleanup_strv_ char **ids = list_ids(s);
    _cleanup_json_ json_t *keep_blobs = json_object();
    _cleanup_json_ json_t *keep_layers = json_object();
    bt_strv_foreach (id, ids) {
        _cleanup_json_ json_t *rec = image_record_load(s, id);
        if (!rec)
            continue;
        json_object_set_new(keep_blobs, image_digest_hex(id), json_true());
        const char *m = bt_json_str(rec, "manifest");
        if (m)
            json_object_set_new(keep_blobs, image_digest_hex(m), json_true());
        size_t i;
        json_t *l;
        json_array_foreach (json_object_get(rec, "layers"), i, l) {
            const char *d = bt_json_str(l, "digest");
            const char *c = bt_json_str(l, "chain_id");
            if (d)
                json_object_set_new(keep_blobs, image_digest_hex(d), json_true());
            if (c)
                json_object_set_new(keep_layers, image_digest_hex(c), json_true());
        }
        /* An index the image was pulled through. */
        const char *idx = bt_json_str(rec, "index");
        if (idx)
            json_object_set_new(keep_blobs, image_digest_hex(idx), json_true());
    }
    int r = 0;
    _cleanup_free_ char *ld = bt_path_join(s->dir, "layers");
    _cleanup_dir_ DIR *d = opendir(ld);
    struct dirent *de;
    while (d && (de = readdir(d)) && r == 0) {
        if (de->d_name[0] == '.' || json_object_get(keep_layers, de->d_name))
            continue;
        _cleanup_free_ char *p = bt_path_join(ld, de->d_name);
        _cleanup_free_ char *mp = bt_path_join(p, "layer.json");
        _cleanup_json_ json_t *meta = json_load_file(mp, 0, NULL);
        const char *link = bt_json_str(meta, "link");
        if (link) {
            _cleanup_free_ char *lp = xasprintf("%s/l/%s", s->dir, link);
            unlink(lp);
        }
        if (reclaimed)
            *reclaimed += json_integer_value(json_object_get(meta, "size"));
        r = bt_rm_rf(p, err);
    }
    /* Under the exclusive gc lock nobody is writing: whatever is in tmp/
     * was left by a process that died (a crash, a kill mid-pull). */
    _cleanup_free_ char *td = bt_path_join(s->dir, "tmp");
    _cleanup_dir_ DIR *t = opendir(td);
    while (t && (de = readdir(t)) && r == 0) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *p = bt_path_join(td, de->d_name);
        r = bt_rm_rf(p, err);
    }
    _cleanup_free_ char *bd = bt_path_join(s->dir, "blobs/sha256");
    _cleanup_dir_ DIR *b = opendir(bd);
    while (b && (de = readdir(b)) && r == 0) {
        if (de->d_name[0] == '.' || json_object_get(keep_blobs, de->d_name))
            continue;
        _cleanup_free_ char *p = bt_path_join(bd, de->d_name);
        if (unlink(p) < 0 && errno != ENOENT)
            r = bt_err_errno(err, errno, "remove '%s'", p);
    }
    return r;
}

static int
remove_image_record(struct image_store *s, const char *id, struct bt_err **err)
{
    _cleanup_free_ char *p = record_path(s, id);
    if (unlink(p) < 0 && errno != ENOENT)
        return bt_err_errno(err, errno, "remove '%s'", p);
    return 0;
}

static char *
short_id(const char *id)
{
    return xstrndup(image_digest_hex(id), 12);
}

int
image_store_remove(struct image_store *s, const char *name, bool force, char ***untagged,
                   char ***deleted, struct bt_err **err)
{
    _cleanup_close_ int gc = image_store_lock(s, "gc", true, err);
    if (gc < 0)
        return gc;
    _cleanup_close_ int lk = image_store_lock(s, "meta", true, err);
    if (lk < 0)
        return lk;
    _cleanup_free_ char *id = image_store_resolve(s, name, err);
    if (!id) {
        if (err && *err)
            return bt_err_ret(err);
        return bt_err_set(err, ENOENT, "No such image: %s", name);
    }
    _cleanup_json_ json_t *refs = refs_load(s);
    json_t *map = json_object_get(refs, "refs");
    _cleanup_strv_ char **names = names_of(refs, id);
    _cleanup_strv_ char **users = image_store_users(s, id);
    _cleanup_free_ char *sid = short_id(id);

    /* Which names go: the one given, or all of them when an id was given. */
    _cleanup_strv_ char **drop = NULL;
    struct image_ref ref;
    if (image_ref_parse(name, &ref, NULL) == 0 && !ref.digest) {
        _cleanup_free_ char *full = image_ref_string(&ref);
        if (json_object_get(map, full))
            drop = bt_strv_push(drop, full);
    }
    image_ref_done(&ref);
    bool by_id = !drop;
    if (by_id) {
        if (bt_strv_length(names) > 1 && !force)
            return bt_err_set(err, EBUSY,
                              "conflict: unable to delete %s (must be forced) - image is "
                              "referenced in multiple repositories",
                              sid);
        drop = bt_strv_copy(names);
    }
    bool last = bt_strv_length(names) <= bt_strv_length(drop);
    if (last && users && !force)
        return bt_err_set(err, EBUSY,
                          "conflict: unable to remove %s (must force) - container %s is using "
                          "its referenced image %s",
                          name, users[0], sid);
    bt_strv_foreach (n, drop) {
        json_object_del(map, n);
    }
    int r = refs_save(s, refs, err);
    if (r < 0)
        return r;
    if (untagged) {
        bt_strv_foreach (n, drop) {
            *untagged = bt_strv_push(*untagged, n);
        }
    }
    if (!last || users)
        return 0; /* still named, or kept (untagged) for its containers */
    r = remove_image_record(s, id, err);
    if (r < 0)
        return r;
    if (deleted)
        *deleted = bt_strv_push(*deleted, id);
    return collect_garbage(s, NULL, err);
}

int
image_store_prune(struct image_store *s, bool all, char ***deleted, int64_t *reclaimed,
                  struct bt_err **err)
{
    _cleanup_close_ int gc = image_store_lock(s, "gc", true, err);
    if (gc < 0)
        return gc;
    _cleanup_close_ int lk = image_store_lock(s, "meta", true, err);
    if (lk < 0)
        return lk;
    _cleanup_json_ json_t *refs = refs_load(s);
    json_t *map = json_object_get(refs, "refs");
    _cleanup_strv_ char **ids = list_ids(s);
    if (reclaimed)
        *reclaimed = 0;
    int r = 0;
    bool changed = false;
    bt_strv_foreach (id, ids) {
        _cleanup_strv_ char **users = image_store_users(s, id);
        if (users)
            continue;
        _cleanup_strv_ char **names = names_of(refs, id);
        if (names && !all)
            continue;
        bt_strv_foreach (n, names) {
            json_object_del(map, n);
            changed = true;
        }
        r = remove_image_record(s, id, err);
        if (r < 0)
            return r;
        if (deleted)
            *deleted = bt_strv_push(*deleted, id);
    }
    if (changed) {
        r = refs_save(s, refs, err);
        if (r < 0)
            return r;
    }
    return collect_garbage(s, reclaimed, err);
}

void
image_store_gc(struct image_store *s)
{
    struct bt_err *err = NULL;
    _cleanup_close_ int gc = image_store_lock(s, "gc", true, &err);
    if (gc >= 0) {
        _cleanup_close_ int lk = image_store_lock(s, "meta", true, &err);
        if (lk >= 0)
            collect_garbage(s, NULL, &err);
    }
    if (err)
        bt_debug("image store clean-up: %s", err->msg);
    bt_err_free(err); /* best effort after a failure that is reported itself */
}

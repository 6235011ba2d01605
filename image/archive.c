/* image: docker-save / OCI-layout archives and `import` of a root fs.
 *
 * An archive is unpacked into a temporary directory of the store with the
 * same confined unpacker as layers, then every blob is copied into the
 * store, verified against its digest where the archive names one. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/image-internal.h"

const char *
image_host_arch(void)
{
    static const struct {
        const char *machine, *arch;
    } map[] = {
        {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},
        {"armv6l", "arm"},      {"i686", "386"},      {"i386", "386"},
        {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"},
    };
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; i < BT_ARRAY_SIZE(map); i++)
            if (strcmp(u.machine, map[i].machine) == 0)
                return map[i].arch;
    return "amd64";
}

char *
image_now_rfc3339(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

json_t *
image_index_pick(json_t *index, const char *platform, struct bt_err **err)
{
    _cleanup_free_ char *def = xasprintf("linux/%s", image_host_arch());
    _cleanup_strv_ char **want = bt_strv_split(platform ? platform : def, "/");
    if (bt_strv_length(want) < 2 || bt_strv_length(want) > 3)
        return bt_err_set(err, EINVAL, "platform '%s' is not os/arch[/variant]", platform), NULL;
    json_t *best = NULL;
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(index, "manifests"), i, m) {
        json_t *p = json_object_get(m, "platform");
        if (!bt_streq_null(bt_json_str(p, "os"), want[0]) ||
            !bt_streq_null(bt_json_str(p, "architecture"), want[1]))
            continue;
        const char *variant = bt_json_str(p, "variant");
        if (want[2] && variant && strcmp(variant, want[2]) != 0)
            continue;
        /* an exact variant wins over one without */
        if (!best || (want[2] && variant))
            best = m;
    }
    if (!best) {
        bt_err_set(err, ENOENT, "no manifest for platform %s in the index",
                   platform ? platform : def);
        return NULL;
    }
    return json_incref(best);
}

/* ---- reading the unpacked archive ---- */

static json_t *
json_in(int rootfd, const char *path, struct bt_err **err)
{
    _cleanup_close_ int fd = bt_openat_in_root(rootfd, path, O_RDONLY, 0, err);
    if (fd < 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadfd(fd, 0, &jerr);
    if (!j)
        bt_err_set(err, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return j;
}

static bool
exists_in(int rootfd, const char *path)
{
    _cleanup_close_ int fd = bt_openat_in_root(rootfd, path, O_PATH, 0, NULL);
    return fd >= 0;
}

static int
put_from(struct image_store *s, int rootfd, const char *path, const char *expect, char **digest,
         int64_t *size, struct bt_err **err)
{
    _cleanup_close_ int fd = bt_openat_in_root(rootfd, path, O_RDONLY, 0, err);
    if (fd < 0)
        return fd;
    int r = image_blob_put_file(s, fd, expect, digest, size, err);
    if (r < 0)
        bt_err_prefix(err, "'%s'", path);
    return r;
}

static int
put_oci_blob(struct image_store *s, int rootfd, const char *digest, struct bt_err **err)
{
    if (!image_digest_valid(digest))
        return bt_err_set(err, EINVAL, "invalid digest '%s'", digest ? digest : "");
    if (image_blob_exists(s, digest))
        return 0;
    _cleanup_free_ char *p = xasprintf("blobs/sha256/%s", image_digest_hex(digest));
    return put_from(s, rootfd, p, digest, NULL, NULL, err);
}

/* Normalises a name from an archive; NULL when it is not a reference. */
static char *
norm_name(const char *n)
{
    struct image_ref r;
    if (!n || image_ref_parse(n, &r, NULL) < 0)
        return NULL;
    char *s = r.digest ? NULL : image_ref_string(&r);
    image_ref_done(&r);
    return s;
}

static void
report_loaded(struct image_store *s, char *const *names, const char *id, char ***loaded)
{
    if (!loaded)
        return;
    if (!names || !*names) {
        *loaded = bt_strv_push_take(*loaded, xasprintf("Loaded image ID: %s", id));
        return;
    }
    bt_strv_foreach (n, (char **)names) {
        struct image_ref r;
        if (image_ref_parse(n, &r, NULL) < 0)
            continue;
        _cleanup_free_ char *fam = image_ref_familiar(&r);
        *loaded = bt_strv_push_take(*loaded, xasprintf("Loaded image: %s", fam));
        image_ref_done(&r);
    }
}

/* RepoTags from a docker manifest.json entry whose Config is cfg_digest. */
static char **
docker_names_for(json_t *dm, const char *cfg_digest)
{
    char **names = NULL;
    size_t i;
    json_t *e;
    json_array_foreach (dm, i, e) {
        const char *cfg = bt_json_str(e, "Config");
        if (!cfg || !strstr(cfg, image_digest_hex(cfg_digest)))
            continue;
        size_t k;
        json_t *t;
        json_array_foreach (json_object_get(e, "RepoTags"), k, t) {
            char *n = norm_name(json_string_value(t));
            if (n && !bt_strv_contains(names, n))
                names = bt_strv_push_take(names, n);
            else
                free(n);
        }
    }
    return names;
}

static int
load_oci(struct image_store *s, int rootfd, char ***loaded, struct bt_err **err)
{
    _cleanup_json_ json_t *index = json_in(rootfd, "index.json", err);
    if (!index)
        return bt_err_ret(err);
    _cleanup_json_ json_t *dm = json_in(rootfd, "manifest.json", NULL);
    _cleanup_json_ json_t *todo = json_object(); /* manifest digest -> names */
    size_t i;
    json_t *desc;
    int n = 0;
    json_array_foreach (json_object_get(index, "manifests"), i, desc) {
        _cleanup_json_ json_t *d = json_incref(desc);
        const char *digest = bt_json_str(d, "digest");
        int r = put_oci_blob(s, rootfd, digest, err);
        if (r < 0)
            return r;
        if (image_media_type_is_index(bt_json_str(d, "mediaType"))) {
            _cleanup_json_ json_t *sub = image_blob_json(s, digest, err);
            if (!sub)
                return bt_err_ret(err);
            json_t *pick = image_index_pick(sub, NULL, err);
            if (!pick)
                return bt_err_ret(err);
            json_decref(d);
            d = pick;
            digest = bt_json_str(d, "digest");
            r = put_oci_blob(s, rootfd, digest, err);
            if (r < 0)
                return r;
        }
        _cleanup_json_ json_t *mdoc = image_blob_json(s, digest, err);
        if (!mdoc)
            return bt_err_ret(err);
        struct image_manifest m;
        r = image_manifest_parse(mdoc, &m, err);
        if (r < 0)
            return r;
        r = put_oci_blob(s, rootfd, m.config_digest, err);
        for (size_t k = 0; k < m.nlayers && r == 0; k++)
            r = put_oci_blob(s, rootfd, m.layers[k].digest, err);
        _cleanup_strv_ char **names = r == 0 ? docker_names_for(dm, m.config_digest) : NULL;
        image_manifest_done(&m);
        if (r < 0)
            return r;
        json_t *ann = json_object_get(desc, "annotations");
        char *an = norm_name(bt_json_str(ann, "io.containerd.image.name"));
        if (!an) {
            /* ref.name is a full reference in some writers, a bare tag in
             * others: only the former names an image. */
            const char *rn = bt_json_str(ann, "org.opencontainers.image.ref.name");
            if (rn && (strchr(rn, ':') || strchr(rn, '/')))
                an = norm_name(rn);
        }
        if (an && !bt_strv_contains(names, an))
            names = bt_strv_push_take(names, an);
        else
            free(an);
        /* Several descriptors (one per tag) may name the same manifest:
         * commit each manifest once with all of its names. */
        json_t *acc = json_object_get(todo, digest);
        if (!acc) {
            acc = json_array();
            json_object_set_new(todo, digest, acc);
        }
        bt_strv_foreach (nm, names) {
            json_array_append_new(acc, json_string(nm));
        }
        n++;
    }
    const char *mdig;
    json_t *acc;
    json_object_foreach (todo, mdig, acc) {
        _cleanup_strv_ char **names = NULL;
        size_t k;
        json_t *v;
        json_array_foreach (acc, k, v) {
            if (!bt_strv_contains(names, json_string_value(v)))
                names = bt_strv_push(names, json_string_value(v));
        }
        _cleanup_free_ char *id = NULL;
        int r = image_store_commit(s, mdig, names, &id, err);
        if (r < 0)
            return r;
        report_loaded(s, names, id, loaded);
    }
    if (n == 0)
        return bt_err_set(err, EINVAL, "index.json lists no images");
    return 0;
}

static const char *
layer_media_type(int filter)
{
    switch (filter) {
    case ARCHIVE_FILTER_GZIP:
        return IMAGE_MT_OCI_LAYER_GZIP;
    case ARCHIVE_FILTER_ZSTD:
        return IMAGE_MT_OCI_LAYER_ZSTD;
    default:
        return IMAGE_MT_OCI_LAYER;
    }
}

static int
filter_of(int rootfd, const char *path, struct bt_err **err)
{
    _cleanup_close_ int fd = bt_openat_in_root(rootfd, path, O_RDONLY, 0, err);
    if (fd < 0)
        return fd;
    int filter = ARCHIVE_FILTER_NONE;
    int r = image_layer_digest(fd, NULL, NULL, &filter, err);
    if (r < 0)
        return r;
    if (filter != ARCHIVE_FILTER_NONE && filter != ARCHIVE_FILTER_GZIP &&
        filter != ARCHIVE_FILTER_ZSTD)
        return bt_err_set(err, EINVAL, "'%s': unsupported compression", path);
    return filter;
}

/* Stores a manifest for a config and layers already in the store. */
static char *
put_manifest(struct image_store *s, const char *cfg, int64_t cfg_size, json_t *layers,
             struct bt_err **err)
{
    _cleanup_json_ json_t *m =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
                  IMAGE_MT_OCI_MANIFEST, "config", "mediaType", IMAGE_MT_OCI_CONFIG, "digest", cfg,
                  "size", (json_int_t)cfg_size, "layers", layers);
    _cleanup_free_ char *ms = json_dumps(m, JSON_COMPACT);
    char *md = NULL;
    if (image_blob_put_new(s, ms, strlen(ms), &md, err) < 0)
        return NULL;
    return md;
}

static int
load_docker(struct image_store *s, int rootfd, char ***loaded, struct bt_err **err)
{
    _cleanup_json_ json_t *dm = json_in(rootfd, "manifest.json", err);
    if (!dm)
        return bt_err_ret(err);
    if (!json_is_array(dm) || json_array_size(dm) == 0)
        return bt_err_set(err, EINVAL, "manifest.json lists no images");
    size_t i;
    json_t *e;
    json_array_foreach (dm, i, e) {
        const char *cfgp = bt_json_str(e, "Config");
        if (!cfgp)
            return bt_err_set(err, EINVAL, "manifest.json entry %zu has no Config", i);
        _cleanup_free_ char *cfg = NULL;
        int64_t cfg_size = 0;
        int r = put_from(s, rootfd, cfgp, NULL, &cfg, &cfg_size, err);
        if (r < 0)
            return r;
        _cleanup_json_ json_t *layers = json_array();
        size_t k;
        json_t *l;
        json_array_foreach (json_object_get(e, "Layers"), k, l) {
            const char *lp = json_string_value(l);
            if (!lp)
                return bt_err_set(err, EINVAL, "manifest.json entry %zu: bad layer %zu", i, k);
            int filter = filter_of(rootfd, lp, err);
            if (filter < 0)
                return filter;
            _cleanup_free_ char *ld = NULL;
            int64_t size = 0;
            r = put_from(s, rootfd, lp, NULL, &ld, &size, err);
            if (r < 0)
                return r;
            json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                                                    layer_media_type(filter), "digest", ld, "size",
                                                    (json_int_t)size));
        }
        _cleanup_free_ char *md = put_manifest(s, cfg, cfg_size, layers, err);
        if (!md)
            return bt_err_ret(err);
        _cleanup_strv_ char **names = docker_names_for(dm, cfg);
        _cleanup_free_ char *id = NULL;
        r = image_store_commit(s, md, names, &id, err);
        if (r < 0)
            return r;
        report_loaded(s, names, id, loaded);
    }
    return 0;
}

int
image_archive_load(struct image_store *s, int fd, char ***loaded, struct bt_err **err)
{
    _cleanup_close_ int gc = image_store_lock(s, "gc", false, err);
    if (gc < 0)
        return gc;
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/load-XXXXXX", image_store_dir(s));
    if (!mkdtemp(tmp))
        return bt_err_errno(err, errno, "create '%s'", tmp);
    int r;
    {
        _cleanup_close_ int rootfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
            r = bt_err_errno(err, errno, "open '%s'", tmp);
        } else {
            r = image_layer_unpack(fd, rootfd, NULL, NULL, err);
            if (r < 0)
                bt_err_prefix(err, "read archive");
        }
        if (r == 0) {
            if (exists_in(rootfd, "index.json"))
                r = load_oci(s, rootfd, loaded, err);
            else if (exists_in(rootfd, "manifest.json"))
                r = load_docker(s, rootfd, loaded, err);
            else
                r = bt_err_set(err, EINVAL,
                               "not an image archive: neither manifest.json nor index.json");
        }
    }
    if (r < 0) {
        close(TAKE_FD(gc));
        image_store_gc(s);
    }
    struct bt_err *rm = NULL;
    if (bt_rm_rf(tmp, &rm) < 0 && r == 0) {
        bt_err_move(err, &rm);
        r = bt_err_ret(err);
    }
    bt_err_free(rm); /* a failed clean-up after a failed load: the load's error is reported */
    return r;
}

/* ---- save ---- */

static void
archive_wfreep(struct archive **a)
{
    if (*a)
        archive_write_free(*a);
}

static int
write_entry(struct archive *a, const char *path, mode_t type, const void *data, size_t len,
            struct bt_err **err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    if (len && archive_write_data(a, data, len) < 0)
        return bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    return 0;
}

static int
write_blob(struct image_store *s, struct archive *a, const char *digest, struct bt_err **err)
{
    _cleanup_free_ char *p = image_blob_path(s, digest);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return bt_err_errno(err, errno, "blob %s", digest);
    _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", image_digest_hex(digest));
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_mtime(e, 0, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bt_err_errno(err, errno, "read blob %s", digest);
        if (n == 0)
            break;
        if (archive_write_data(a, buf, (size_t)n) < 0)
            return bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    }
    return 0;
}

int
image_archive_save(struct image_store *s, char *const *names, int fd, struct bt_err **err)
{
    if (!names || !*names)
        return bt_err_set(err, EINVAL, "no image to save");
    _cleanup_close_ int gc = image_store_lock(s, "gc", false, err);
    if (gc < 0)
        return gc;
    _cleanup_json_ json_t *blobs = json_object(); /* hex -> true, to write each once */
    _cleanup_json_ json_t *blob_order = json_array();
    _cleanup_json_ json_t *index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                                             IMAGE_MT_OCI_INDEX, "manifests");
    _cleanup_json_ json_t *dm = json_array();
    bt_strv_foreach (name, (char **)names) {
        _cleanup_free_ char *id = image_store_resolve(s, name, err);
        if (!id) {
            if (err && *err)
                return bt_err_ret(err);
            return bt_err_set(err, ENOENT, "No such image: %s", name);
        }
        _cleanup_json_ json_t *rec = image_record_load(s, id);
        if (!rec)
            return bt_err_set(err, ENOENT, "No such image: %s", name);
        /* A reference saves that name; an id saves all of the image's. */
        _cleanup_strv_ char **tags = NULL;
        struct image_ref ref;
        if (image_ref_parse(name, &ref, NULL) == 0 && !ref.digest &&
            !bt_str_startswith(id + 7, name)) {
            tags = bt_strv_push_take(tags, image_ref_string(&ref));
        } else {
            struct image_info info;
            if (image_store_info(s, id, &info, NULL) == 0) {
                tags = bt_strv_copy(info.names);
                image_info_done(&info);
            }
        }
        image_ref_done(&ref);
        const char *manifest = bt_json_str(rec, "manifest");
        size_t msize = 0;
        _cleanup_free_ char *mdata = image_blob_read(s, manifest, &msize, err);
        if (!mdata)
            return bt_err_ret(err);
        const char *all[] = {manifest, id};
        for (size_t k = 0; k < 2; k++)
            if (!json_object_get(blobs, image_digest_hex(all[k]))) {
                json_object_set_new(blobs, image_digest_hex(all[k]), json_true());
                json_array_append_new(blob_order, json_string(all[k]));
            }
        json_t *layer_paths = json_array();
        size_t i;
        json_t *l;
        json_array_foreach (json_object_get(rec, "layers"), i, l) {
            const char *d = bt_json_str(l, "digest");
            if (!json_object_get(blobs, image_digest_hex(d))) {
                json_object_set_new(blobs, image_digest_hex(d), json_true());
                json_array_append_new(blob_order, json_string(d));
            }
            json_array_append_new(layer_paths,
                                  json_sprintf("blobs/sha256/%s", image_digest_hex(d)));
        }
        json_t *repo_tags = json_array();
        if (!tags) {
            json_array_append_new(json_object_get(index, "manifests"),
                                  json_pack("{s:s, s:s, s:I}", "mediaType",
                                            bt_json_str(rec, "manifest_media_type"), "digest",
                                            manifest, "size", (json_int_t)msize));
        }
        bt_strv_foreach (t, tags) {
            struct image_ref r;
            if (image_ref_parse(t, &r, NULL) < 0)
                continue;
            _cleanup_free_ char *fam = image_ref_familiar(&r);
            json_array_append_new(repo_tags, json_string(fam));
            json_array_append_new(
                json_object_get(index, "manifests"),
                json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType",
                          bt_json_str(rec, "manifest_media_type"), "digest", manifest, "size",
                          (json_int_t)msize, "annotations", "io.containerd.image.name", t,
                          "org.opencontainers.image.ref.name", r.tag ? r.tag : "latest"));
            image_ref_done(&r);
        }
        json_array_append_new(dm, json_pack("{s:o, s:o, s:o}", "Config",
                                            json_sprintf("blobs/sha256/%s", image_digest_hex(id)),
                                            "RepoTags", repo_tags, "Layers", layer_paths));
    }

    _cleanup_(archive_wfreep) struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
        return bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    int r = write_entry(a, "blobs/", AE_IFDIR, NULL, 0, err);
    if (r == 0)
        r = write_entry(a, "blobs/sha256/", AE_IFDIR, NULL, 0, err);
    size_t i;
    json_t *d;
    json_array_foreach (blob_order, i, d) {
        if (r == 0)
            r = write_blob(s, a, json_string_value(d), err);
    }
    if (r == 0)
        r = write_entry(a, "oci-layout", AE_IFREG, layout, strlen(layout), err);
    _cleanup_free_ char *is = json_dumps(index, JSON_COMPACT);
    _cleanup_free_ char *ms = json_dumps(dm, JSON_COMPACT);
    if (r == 0)
        r = write_entry(a, "index.json", AE_IFREG, is, strlen(is), err);
    if (r == 0)
        r = write_entry(a, "manifest.json", AE_IFREG, ms, strlen(ms), err);
    if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
        r = bt_err_set(err, EIO, "write archive: %s", archive_error_string(a));
    return r;
}

/* ---- import ---- */

int
image_archive_import(struct image_store *s, int fd, const char *name, json_t *config_overrides,
                     char **id_out, struct bt_err **err)
{
    _cleanup_free_ char *full = NULL;
    if (name) {
        struct image_ref ref;
        int r = image_ref_parse(name, &ref, err);
        if (r < 0)
            return r;
        if (ref.digest) {
            image_ref_done(&ref);
            return bt_err_set(err, EINVAL, "cannot name an imported image by digest: '%s'", name);
        }
        full = image_ref_string(&ref);
        image_ref_done(&ref);
    }
    _cleanup_close_ int gc = image_store_lock(s, "gc", false, err);
    if (gc < 0)
        return gc;
    _cleanup_free_ char *layer = NULL;
    int64_t size = 0;
    int r = image_blob_put_file(s, fd, NULL, &layer, &size, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *lp = image_blob_path(s, layer);
    _cleanup_close_ int lfd = open(lp, O_RDONLY | O_CLOEXEC);
    if (lfd < 0)
        return bt_err_errno(err, errno, "open '%s'", lp);
    _cleanup_free_ char *diff_id = NULL;
    int filter = 0;
    r = image_layer_digest(lfd, &diff_id, NULL, &filter, err);
    if (r < 0)
        return r;
    if (filter != ARCHIVE_FILTER_NONE && filter != ARCHIVE_FILTER_GZIP &&
        filter != ARCHIVE_FILTER_ZSTD)
        return bt_err_set(err, EINVAL, "import: unsupported compression");
    _cleanup_free_ char *now = image_now_rfc3339();
    _cleanup_json_ json_t *config =
        json_pack("{s:s, s:s, s:s, s:O?, s:{s:s, s:[s]}, s:[{s:s, s:s, s:s}]}", "architecture",
                  image_host_arch(), "os", "linux", "created", now, "config", config_overrides,
                  "rootfs", "type", "layers", "diff_ids", diff_id, "history", "created", now,
                  "created_by", "berth import", "comment", "Imported from tarball");
    if (!json_is_object(json_object_get(config, "config")))
        json_object_set_new(config, "config", json_object());
    _cleanup_free_ char *cs = json_dumps(config, JSON_COMPACT);
    _cleanup_free_ char *cfg = NULL;
    r = image_blob_put_new(s, cs, strlen(cs), &cfg, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *layers =
        json_pack("[{s:s, s:s, s:I}]", "mediaType", layer_media_type(filter), "digest", layer,
                  "size", (json_int_t)size);
    _cleanup_free_ char *md = put_manifest(s, cfg, (int64_t)strlen(cs), layers, err);
    if (!md)
        return bt_err_ret(err);
    char *names[] = {full, NULL};
    r = image_store_commit(s, md, full ? names : NULL, id_out, err);
    if (r < 0) {
        bt_err_prefix(err, "import");
        close(TAKE_FD(gc));
        image_store_gc(s);
    }
    return r;
}

/* image: the registry client (distribution v2 API over libcurl).
 *
 * Authentication follows the registry's WWW-Authenticate challenge: a
 * Bearer challenge is answered by fetching a token from its realm (with
 * the user's credentials as basic auth when there are any), a Basic one by
 * sending the credentials directly. Every manifest and blob is verified
 * against its digest before it is stored; blobs are written through the
 * store's blob writer, so a mismatch or an interrupted download stores
 * nothing. Transient failures (connection errors, 5xx, 429) are retried
 * with exponential backoff. Proxies come from the environment (libcurl's
 * own handling of HTTPS_PROXY, HTTP_PROXY and NO_PROXY). */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/size.h"
#include "image/registry-internal.h"

#define MANIFEST_MAX   (8 << 20)
#define TOKEN_MAX      (1 << 20)
#define MAX_ATTEMPTS   4
#define PARALLEL_PULLS 4
#define USER_AGENT     "berth/" BERTH_IMAGE_VERSION

#ifndef BERTH_IMAGE_VERSION
#define BERTH_IMAGE_VERSION "0.1"
#endif

static const char accept_manifests[] = "Accept: " IMAGE_MT_OCI_INDEX ", " IMAGE_MT_DOCKER_LIST
                                       ", " IMAGE_MT_OCI_MANIFEST ", " IMAGE_MT_DOCKER_MANIFEST;

/* ---- configuration ---- */

void
image_registry_conf_done(struct image_registry_conf *c)
{
    bt_strv_free(c->mirrors);
    bt_strv_free(c->insecure);
    *c = (struct image_registry_conf){0};
}

int
image_registry_conf_load(struct image_registry_conf *c, struct bt_err **err)
{
    *c = (struct image_registry_conf){0};
    const char *path = getenv("BERTH_CONFIG");
    if (!path || !*path)
        path = "/etc/berth/berth.json";
    if (!bt_path_exists(path))
        return 0;
    _cleanup_json_ json_t *j = bt_json_load_file(path, err);
    if (!j)
        return bt_err_ret(err);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(j, "registry-mirrors"), i, v) {
        const char *m = json_string_value(v);
        if (!m || (!bt_str_startswith(m, "https://") && !bt_str_startswith(m, "http://")))
            return bt_err_set(err, EINVAL, "%s: registry-mirrors[%zu] is not an http(s) URL", path,
                              i);
        c->mirrors = bt_strv_push(c->mirrors, m);
    }
    json_array_foreach (json_object_get(j, "insecure-registries"), i, v) {
        const char *m = json_string_value(v);
        if (!m)
            return bt_err_set(err, EINVAL, "%s: insecure-registries[%zu] is not a string", path, i);
        c->insecure = bt_strv_push(c->insecure, m);
    }
    return 0;
}

/* host without its port (IPv6 brackets dropped) */
static char *
host_only(const char *host)
{
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        return end ? xstrndup(host + 1, (size_t)(end - host - 1)) : xstrdup(host);
    }
    return xstrndup(host, strcspn(host, ":"));
}

static bool
cidr_contains(const char *cidr, const char *ip)
{
    _cleanup_free_ char *net = xstrdup(cidr);
    char *slash = strchr(net, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int64_t bits;
    struct in_addr a, b;
    if (!bt_parse_int64(slash + 1, &bits) || bits < 0 || bits > 32 ||
        inet_pton(AF_INET, net, &a) != 1 || inet_pton(AF_INET, ip, &b) != 1)
        return false;
    uint32_t mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
    return (a.s_addr & mask) == (b.s_addr & mask);
}

bool
image_registry_insecure(const struct image_registry_conf *c, const char *host)
{
    _cleanup_free_ char *h = host_only(host);
    if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || cidr_contains("127.0.0.0/8", h))
        return true;
    bt_strv_foreach (i, c->insecure) {
        if (strcmp(i, host) == 0 || strcmp(i, h) == 0 || cidr_contains(i, h))
            return true;
    }
    return false;
}

/* ---- WWW-Authenticate ---- */

void
image_challenge_done(struct image_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    *c = (struct image_challenge){0};
}

int
image_challenge_parse(const char *h, struct image_challenge *out)
{
    *out = (struct image_challenge){0};
    while (isspace((unsigned char)*h))
        h++;
    size_t n = strcspn(h, " \t");
    if (n == 0)
        return -EINVAL;
    out->scheme = xstrndup(h, n);
    h += n;
    /* key="value" or key=token, separated by commas */
    while (*h) {
        while (*h == ',' || isspace((unsigned char)*h))
            h++;
        size_t kn = strcspn(h, "=");
        if (!h[kn])
            break;
        _cleanup_free_ char *key = xstrndup(h, kn);
        h += kn + 1;
        struct bt_buf val = {0};
        bt_buf_puts(&val, "");
        if (*h == '"') {
            h++;
            while (*h && *h != '"') {
                if (*h == '\\' && h[1])
                    h++;
                bt_buf_putc(&val, *h++);
            }
            if (*h == '"')
                h++;
        } else {
            size_t vn = strcspn(h, ",");
            bt_buf_append(&val, h, vn);
            h += vn;
        }
        char *v = bt_buf_steal(&val);
        char **slot = strcasecmp(key, "realm") == 0     ? &out->realm
                      : strcasecmp(key, "service") == 0 ? &out->service
                      : strcasecmp(key, "scope") == 0   ? &out->scope
                                                        : NULL;
        if (slot) {
            free(*slot);
            *slot = v;
        } else {
            free(v);
        }
    }
    return 0;
}

/* ---- the client ---- */

struct reg {
    struct image_registry_conf conf;
    char *host;    /* as in the reference: docker.io, localhost:5000 */
    char *repo;    /* library/busybox */
    char *base;    /* chosen endpoint: https://registry-1.docker.io */
    char **bases;  /* candidates, in order */
    bool insecure; /* for the chosen endpoint */
    bool push;
    char *user, *password;
    char *auth_header; /* "Authorization: Bearer ..." or Basic */
    long ping_status;  /* of /v2/ once authenticated: 200, or 401 */
    size_t base_index; /* of base in bases */
    size_t nmirrors;   /* bases[0..nmirrors) are registry-mirrors */
    FILE *progress;
    bool tty, quiet;
    image_layer_fn layer; /* per-layer progress instead of lines */
    void *layer_data;
};

static void
reg_free(struct reg *r)
{
    image_registry_conf_done(&r->conf);
    free(r->host);
    free(r->repo);
    free(r->base);
    bt_strv_free(r->bases);
    free(r->user);
    if (r->password)
        explicit_bzero(r->password, strlen(r->password));
    free(r->password);
    free(r->auth_header);
}

struct resp {
    long status;
    struct bt_buf body;
    size_t limit;
    bool too_big;
    char *www_auth, *location, *content_type, *docker_digest;
    struct image_blob_writer *w; /* when streaming a blob */
    CURL *easy;                  /* to learn the status while streaming */
    int64_t expect_size;
    bool size_exceeded;
    struct bt_err *werr;
};

static void
resp_done(struct resp *r)
{
    bt_buf_done(&r->body);
    free(r->www_auth);
    free(r->location);
    free(r->content_type);
    free(r->docker_digest);
    bt_err_free(r->werr);
    struct image_blob_writer *w = r->w;
    *r = (struct resp){0};
    r->w = w; /* owned by the caller */
}

static size_t
on_header(char *buf, size_t size, size_t n, void *data)
{
    struct resp *r = data;
    size_t len = size * n;
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t kn = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vn = len - kn - 1;
    while (vn && isspace((unsigned char)*v)) {
        v++;
        vn--;
    }
    while (vn && isspace((unsigned char)v[vn - 1]))
        vn--;
    char **slot = NULL;
    if (kn == 16 && strncasecmp(buf, "WWW-Authenticate", kn) == 0)
        slot = &r->www_auth;
    else if (kn == 8 && strncasecmp(buf, "Location", kn) == 0)
        slot = &r->location;
    else if (kn == 12 && strncasecmp(buf, "Content-Type", kn) == 0)
        slot = &r->content_type;
    else if (kn == 21 && strncasecmp(buf, "Docker-Content-Digest", kn) == 0)
        slot = &r->docker_digest;
    if (slot) {
        free(*slot);
        *slot = xstrndup(v, vn);
    }
    return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *data)
{
    struct resp *r = data;
    size_t len = size * n;
    /* Error bodies (4xx/5xx) are kept in memory, never stored. */
    if (r->w && r->status == 0 && r->easy)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->w && r->status >= 200 && r->status < 300) {
        if (r->expect_size > 0 && image_blob_writer_size(r->w) + (int64_t)len > r->expect_size) {
            r->size_exceeded = true;
            return 0;
        }
        if (image_blob_writer_write(r->w, buf, len, &r->werr) < 0)
            return 0;
        return len;
    }
    if (r->body.len + len > r->limit) {
        r->too_big = true;
        return 0;
    }
    bt_buf_append(&r->body, buf, len);
    return len;
}

static bool
transient_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static bool
transient_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void
backoff(int attempt)
{
    /* 250 ms, 500 ms, 1 s: a synchronous client between attempts */
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 250000000L};
    for (int i = 1; i < attempt; i++) {
        ts.tv_nsec *= 2;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
        }
    }
    nanosleep(&ts, NULL);
}

static CURL *
easy_new(struct reg *r, const char *url, struct resp *resp, struct curl_slist *headers)
{
    CURL *e = curl_easy_init();
    if (!e)
        abort();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
    /* a stalled transfer (under 1 byte/s for 30 s) is a failure */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    resp->easy = e;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (r->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* A registry's own CA, as Docker's certs.d/<host>/ca.crt. */
    const char *cfg = getenv("BERTH_CONFIG");
    _cleanup_free_ char *cfgdir = cfg && *cfg ? bt_path_dirname(cfg) : xstrdup("/etc/berth");
    _cleanup_free_ char *ca = xasprintf("%s/certs.d/%s/ca.crt", cfgdir, r->host);
    if (bt_path_exists(ca))
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    return e;
}

static struct curl_slist *
headers_for(struct reg *r, char *const *extra)
{
    struct curl_slist *h = NULL;
    if (r->auth_header)
        h = curl_slist_append(h, r->auth_header);
    bt_strv_foreach (x, (char **)extra) {
        h = curl_slist_append(h, x);
    }
    return h;
}

static char *
scope_for(struct reg *r)
{
    return xasprintf("repository:%s:%s", r->repo, r->push ? "pull,push" : "pull");
}

/* Answers a challenge: fetches a bearer token or switches to Basic. */
static int
authenticate(struct reg *r, const char *www_auth, struct bt_err **err)
{
    struct image_challenge ch;
    if (image_challenge_parse(www_auth, &ch) < 0)
        return bt_err_set(err, EACCES, "unauthorized, and the challenge '%s' is unreadable",
                          www_auth);
    int rc = 0;
    if (strcasecmp(ch.scheme, "Basic") == 0) {
        if (!r->user) {
            rc = bt_err_set(err, EACCES, "%s requires authentication: run berth login %s", r->host,
                            r->host);
        } else {
            _cleanup_free_ char *pair = xasprintf("%s:%s", r->user, r->password);
            _cleanup_free_ char *b64 = image_base64(pair, strlen(pair));
            free(r->auth_header);
            r->auth_header = xasprintf("Authorization: Basic %s", b64);
        }
        image_challenge_done(&ch);
        return rc;
    }
    if (strcasecmp(ch.scheme, "Bearer") != 0 || !ch.realm) {
        rc = bt_err_set(err, EACCES, "unsupported authentication challenge '%s'", www_auth);
        image_challenge_done(&ch);
        return rc;
    }
    CURL *esc = curl_easy_init();
    _cleanup_free_ char *scope = ch.scope ? xstrdup(ch.scope) : scope_for(r);
    char *s_service = ch.service ? curl_easy_escape(esc, ch.service, 0) : NULL;
    char *s_scope = curl_easy_escape(esc, scope, 0);
    _cleanup_free_ char *url =
        xasprintf("%s%sscope=%s%s%s", ch.realm, strchr(ch.realm, '?') ? "&" : "?", s_scope,
                  s_service ? "&service=" : "", s_service ? s_service : "");
    curl_free(s_service);
    curl_free(s_scope);
    curl_easy_cleanup(esc);
    image_challenge_done(&ch);

    for (int attempt = 1;; attempt++) {
        struct resp resp = {.limit = TOKEN_MAX};
        char *saved = r->auth_header;
        r->auth_header = NULL; /* the token endpoint gets basic auth only */
        CURL *e = easy_new(r, url, &resp, NULL);
        r->auth_header = saved;
        if (r->user) {
            curl_easy_setopt(e, CURLOPT_USERNAME, r->user);
            curl_easy_setopt(e, CURLOPT_PASSWORD, r->password);
            curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        }
        CURLcode c = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
        curl_easy_cleanup(e);
        if ((c != CURLE_OK && transient_curl(c)) || transient_status(resp.status)) {
            if (attempt < MAX_ATTEMPTS) {
                resp_done(&resp);
                backoff(attempt);
                continue;
            }
        }
        if (c != CURLE_OK) {
            rc = bt_err_set(err, EIO, "get token from %s: %s", url, curl_easy_strerror(c));
        } else if (resp.status == 401 || resp.status == 403) {
            rc = bt_err_set(err, EACCES, "%s: %s", r->host,
                            r->user ? "unauthorized: incorrect username or password"
                                    : "unauthorized: authentication required (berth login)");
        } else if (resp.status != 200) {
            rc = bt_err_set(err, EIO, "get token from %s: HTTP %ld", url, resp.status);
        } else {
            json_error_t jerr;
            _cleanup_json_ json_t *j = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
            const char *tok = bt_json_str(j, "token");
            if (!tok || !*tok)
                tok = bt_json_str(j, "access_token");
            if (!tok || !*tok) {
                rc = bt_err_set(err, EIO, "token response from %s has no token", url);
            } else {
                free(r->auth_header);
                r->auth_header = xasprintf("Authorization: Bearer %s", tok);
            }
        }
        resp_done(&resp);
        return rc;
    }
}

/* Source of a request body: memory or a file. */
struct body_src {
    const char *data;
    size_t len, off;
    int fd;
};

static size_t
on_read(char *buf, size_t size, size_t n, void *data)
{
    struct body_src *b = data;
    size_t want = size * n;
    if (b->fd >= 0) {
        ssize_t got = read(b->fd, buf, want);
        return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
    }
    size_t left = b->len - b->off;
    if (want > left)
        want = left;
    memcpy(buf, b->data + b->off, want);
    b->off += want;
    return want;
}

/* One request with retries and authentication. path is appended to the
 * endpoint unless it is a full URL. body: NULL, or memory / an fd (with
 * its length). The response is in *resp; HTTP errors are not errors
 * here, the caller judges the status. */
static int
request(struct reg *r, const char *method, const char *path, char *const *extra,
        const struct body_src *body, struct resp *resp, struct bt_err **err)
{
    _cleanup_free_ char *url =
        bt_str_startswith(path, "http://") || bt_str_startswith(path, "https://")
            ? xstrdup(path)
            : xasprintf("%s%s", r->base, path);
    bool authed = false;
    for (int attempt = 1;; attempt++) {
        struct image_blob_writer *w = resp->w;
        int64_t expect = resp->expect_size;
        size_t limit = resp->limit ? resp->limit : MANIFEST_MAX;
        resp_done(resp);
        resp->limit = limit;
        resp->expect_size = expect;
        if (w && image_blob_writer_size(w) > 0)
            return bt_err_set(err, EIO, "retry of a partly written blob");
        struct curl_slist *h = headers_for(r, extra);
        CURL *e = easy_new(r, url, resp, h);
        struct body_src b = body ? *body : (struct body_src){.fd = -1};
        if (body && body->fd >= 0)
            lseek(body->fd, 0, SEEK_SET);
        if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 ||
                   strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, &b);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(body ? body->len : 0));
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
            /* uploads are not replayed to another host */
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        } else if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        }
        CURLcode c = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        if (resp->werr) {
            bt_err_move(err, &resp->werr);
            return bt_err_ret(err);
        }
        if (resp->size_exceeded)
            return bt_err_set(err, EBADMSG, "%s: more data than the manifest announced", path);
        if (resp->too_big)
            return bt_err_set(err, EFBIG, "%s: response larger than %zu bytes", path, limit);
        if (resp->status == 401 && resp->www_auth && !authed) {
            authed = true;
            int rc = authenticate(r, resp->www_auth, err);
            if (rc < 0)
                return rc;
            if (w && image_blob_writer_size(w) > 0)
                return bt_err_set(err, EIO, "retry of a partly written blob");
            attempt--;
            continue;
        }
        bool partial = w && image_blob_writer_size(w) > 0;
        if (((c != CURLE_OK && transient_curl(c)) || transient_status(resp->status)) &&
            attempt < MAX_ATTEMPTS && !partial) {
            bt_debug("%s %s: %s, retrying", method, url,
                     c != CURLE_OK ? curl_easy_strerror(c) : "server error");
            backoff(attempt);
            continue;
        }
        if (c != CURLE_OK)
            return bt_err_set(err, EIO, "%s %s: %s", method, url, curl_easy_strerror(c));
        return 0;
    }
}

/* The message of a registry error body ({"errors":[{"code","message"}]}). */
static char *
registry_error(const struct resp *resp)
{
    json_t *j = resp->body.data ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    char *msg = NULL;
    if (e0)
        msg = xasprintf("%s: %s", bt_json_str(e0, "code") ? bt_json_str(e0, "code") : "ERROR",
                        bt_json_str(e0, "message") ? bt_json_str(e0, "message") : "");
    else
        msg = xasprintf("HTTP %ld", resp->status);
    if (j)
        json_decref(j);
    return msg;
}

/* Picks the endpoint: mirrors first (pulls from docker.io only), then the
 * registry itself, https unless insecure, where plain http is the
 * fallback. The first that answers /v2/ at all is used. */
static int reg_pick(struct reg *r, size_t start, struct bt_err **err);

static int
reg_open(struct reg *r, const struct image_ref *ref, bool push, struct bt_err **err)
{
    int rc = image_registry_conf_load(&r->conf, err);
    if (rc < 0)
        return rc;
    r->host = xstrdup(ref->domain);
    r->repo = xstrdup(ref->path);
    r->push = push;
    if (!r->user)
        image_auth_lookup(r->host, &r->user, &r->password);
    bool hub = strcmp(r->host, "docker.io") == 0;
    if (hub && !push)
        bt_strv_foreach (m, r->conf.mirrors) {
            size_t n = strlen(m);
            r->bases = bt_strv_push_take(r->bases, xstrndup(m, m[n - 1] == '/' ? n - 1 : n));
            r->nmirrors++;
        }
    const char *host = hub ? "registry-1.docker.io" : r->host;
    r->bases = bt_strv_push_take(r->bases, xasprintf("https://%s", host));
    bool insecure = image_registry_insecure(&r->conf, r->host);
    if (insecure)
        r->bases = bt_strv_push_take(r->bases, xasprintf("http://%s", host));

    return reg_pick(r, 0, err);
}

/* Uses the first endpoint from bases[start] on that answers /v2/. */
static int
reg_pick(struct reg *r, size_t start, struct bt_err **err)
{
    const char *host = strcmp(r->host, "docker.io") == 0 ? "registry-1.docker.io" : r->host;
    bool insecure = image_registry_insecure(&r->conf, r->host);
    struct bt_err *last = NULL;
    for (size_t k = start; r->bases[k]; k++) {
        const char *b = r->bases[k];
        r->base_index = k;
        free(r->auth_header); /* tokens belong to one registry */
        r->auth_header = NULL;
        free(r->base);
        r->base = xstrdup(b);
        /* a mirror is trusted as its own host is configured */
        const char *bh = strstr(b, "://") + 3;
        _cleanup_free_ char *bhost = xstrndup(bh, strcspn(bh, "/"));
        r->insecure =
            image_registry_insecure(&r->conf, bhost) || (insecure && strstr(b, host) == bh);
        struct resp resp = {.limit = 1 << 16};
        bt_err_free(last);
        last = NULL;
        struct bt_err *e = NULL;
        /* /v2/ answers 200 or 401 on a registry; a 401 is answered here
         * already, so later requests carry a token */
        int q = request(r, "GET", "/v2/", NULL, NULL, &resp, &e);
        long status = resp.status;
        resp_done(&resp);
        if (q == 0 && (status == 200 || status == 401)) {
            r->ping_status = status;
            bt_err_free(e);
            return 0;
        }
        if (e && e->code == EACCES) {
            bt_err_move(err, &e);
            return bt_err_ret(err);
        }
        if (q == 0)
            bt_err_set(&e, EIO, "%s/v2/: HTTP %ld, not a registry", b, status);
        bt_debug("registry endpoint %s: %s", b, e->msg);
        last = e;
    }
    bt_err_move(err, &last);
    bt_err_prefix(err, "registry %s", r->host);
    return bt_err_ret(err);
}

/* ---- pull ---- */

/* GETs a manifest by tag or digest; *digest gets the sha256 of its bytes
 * (checked against a digest reference). */
static int
fetch_manifest(struct reg *r, const char *what, char **data, size_t *len, char **media_type,
               char **digest, struct bt_err **err)
{
    _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r->repo, what);
    char *hdrs[] = {(char *)accept_manifests, NULL};
    struct resp resp = {.limit = MANIFEST_MAX};
    int rc = request(r, "GET", path, hdrs, NULL, &resp, err);
    if (rc < 0) {
        resp_done(&resp);
        return rc;
    }
    if (resp.status == 404) {
        _cleanup_free_ char *m = registry_error(&resp);
        resp_done(&resp);
        return bt_err_set(err, ENOENT, "manifest for %s/%s:%s not found: %s", r->host, r->repo,
                          what, m);
    }
    if (resp.status == 401 || resp.status == 403) {
        resp_done(&resp);
        return bt_err_set(err, EACCES,
                          "pull access denied for %s/%s, repository does not exist or may "
                          "require 'berth login'",
                          r->host, r->repo);
    }
    if (resp.status != 200) {
        _cleanup_free_ char *m = registry_error(&resp);
        resp_done(&resp);
        return bt_err_set(err, EIO, "manifest %s: %s", what, m);
    }
    _cleanup_free_ char *got =
        image_sha256_digest(resp.body.data ? resp.body.data : "", resp.body.len);
    if (bt_str_startswith(what, "sha256:") && strcmp(got, what) != 0) {
        resp_done(&resp);
        return bt_err_set(err, EBADMSG, "manifest digest mismatch: expected %s, got %s", what, got);
    }
    _cleanup_json_ json_t *doc =
        json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    if (!doc) {
        resp_done(&resp);
        return bt_err_set(err, EINVAL, "manifest %s is not JSON", what);
    }
    const char *mt = bt_json_str(doc, "mediaType");
    if (!mt && resp.content_type)
        mt = resp.content_type;
    if (!mt)
        mt = json_object_get(doc, "manifests") ? IMAGE_MT_OCI_INDEX : IMAGE_MT_OCI_MANIFEST;
    *media_type = xstrndup(mt, strcspn(mt, ";"));
    *len = resp.body.len;
    *data = bt_buf_steal(&resp.body);
    *digest = TAKE_PTR(got);
    resp_done(&resp);
    return 0;
}

struct dl {
    const struct image_desc *desc;
    struct image_blob_writer *w;
    struct resp resp;
    struct curl_slist *headers;
    CURL *easy;
    char *url;
    int attempts;
    int64_t done, total;
    bool finished, failed, exists;
    struct bt_err *err;
    int64_t reported; /* bytes last reported to r->layer */
};

static int
on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct dl *d = data;
    d->done = dlnow;
    if (dltotal > 0)
        d->total = dltotal;
    return 0;
}

static void
short12(const char *digest, char out[13])
{
    snprintf(out, 13, "%s", image_digest_hex(digest));
}

const char *
image_layer_state_text(enum image_layer_state st)
{
    switch (st) {
    case IMAGE_LAYER_WAITING:
        return "Waiting";
    case IMAGE_LAYER_EXISTS:
        return "Already exists";
    case IMAGE_LAYER_DOWNLOADING:
        return "Downloading";
    case IMAGE_LAYER_VERIFYING:
        return "Verifying Checksum";
    case IMAGE_LAYER_DOWNLOADED:
        return "Download complete";
    case IMAGE_LAYER_EXTRACTING:
        return "Extracting";
    case IMAGE_LAYER_COMPLETE:
        return "Pull complete";
    case IMAGE_LAYER_FAILED:
        return "Failed";
    }
    return "?";
}

static void
report(struct reg *r, struct dl *d, enum image_layer_state st)
{
    if (!r->layer)
        return;
    char id[13];
    short12(d->desc->digest, id);
    int64_t total = d->total ? d->total : d->desc->size;
    bool bytes = st == IMAGE_LAYER_DOWNLOADING;
    r->layer(r->layer_data, id, st, bytes ? d->done : 0, bytes ? total : 0);
    d->reported = d->done;
}

static void
draw(struct reg *r, struct dl *dls, size_t n, bool redraw)
{
    if (r->quiet || !r->tty)
        return;
    if (redraw)
        fprintf(r->progress, "\033[%zuA", n);
    for (size_t i = 0; i < n; i++) {
        char id[13];
        short12(dls[i].desc->digest, id);
        if (dls[i].exists)
            fprintf(r->progress, "\r\033[K%s: Already exists\n", id);
        else if (dls[i].failed)
            fprintf(r->progress, "\r\033[K%s: Failed\n", id);
        else if (dls[i].finished)
            fprintf(r->progress, "\r\033[K%s: Download complete\n", id);
        else if (!dls[i].easy)
            fprintf(r->progress, "\r\033[K%s: Waiting\n", id);
        else {
            _cleanup_free_ char *a = bt_size_human(dls[i].done);
            _cleanup_free_ char *b = bt_size_human(dls[i].total ? dls[i].total : dls[i].desc->size);
            fprintf(r->progress, "\r\033[K%s: Downloading %s/%s\n", id, a, b);
        }
    }
    fflush(r->progress);
}

static int
dl_start(struct reg *r, struct image_store *s, CURLM *m, struct dl *d, struct bt_err **err)
{
    d->w = image_blob_writer_new(s, err);
    if (!d->w)
        return bt_err_ret(err);
    d->resp = (struct resp){.limit = 1 << 16, .w = d->w, .expect_size = d->desc->size};
    d->headers = headers_for(r, NULL);
    d->easy = easy_new(r, d->url, &d->resp, d->headers);
    d->attempts++;
    d->done = 0;
    curl_easy_setopt(d->easy, CURLOPT_NOPROGRESS, 0L);
    /* bigger reads, fewer write(2)s into the blob */
    curl_easy_setopt(d->easy, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(d->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(d->easy, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
    curl_multi_add_handle(m, d->easy);
    report(r, d, IMAGE_LAYER_DOWNLOADING);
    return 0;
}

static void
dl_stop(CURLM *m, struct dl *d)
{
    if (d->easy) {
        curl_multi_remove_handle(m, d->easy);
        curl_easy_cleanup(d->easy);
        d->easy = NULL;
    }
    curl_slist_free_all(d->headers);
    d->headers = NULL;
    d->w = image_blob_writer_free(d->w);
    d->resp.w = NULL;
    resp_done(&d->resp);
}

/* Judges a finished transfer: stored, retry, or failed. Returns 1 to
 * retry. */
static int
dl_finish(struct reg *r, CURLM *m, struct dl *d, CURLcode c, bool *reauth)
{
    long status = 0;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
    d->resp.status = status;
    struct bt_err *e = NULL;
    bool retry = false;
    if (d->resp.werr) {
        bt_err_move(&e, &d->resp.werr);
    } else if (d->resp.size_exceeded) {
        bt_err_set(&e, EBADMSG, "more data than the manifest announced (%lld bytes)",
                   (long long)d->desc->size);
    } else if (status == 401 && !*reauth && d->resp.www_auth) {
        *reauth = true;
        int rc = authenticate(r, d->resp.www_auth, &e);
        retry = rc == 0;
        d->attempts--;
    } else if (c != CURLE_OK || transient_status(status)) {
        if ((c == CURLE_OK || transient_curl(c)) && d->attempts < MAX_ATTEMPTS)
            retry = true;
        else if (c != CURLE_OK)
            bt_err_set(&e, EIO, "download interrupted: %s; nothing was stored",
                       curl_easy_strerror(c));
        else
            bt_err_set(&e, EIO, "HTTP %ld", status);
        if (retry)
            bt_debug("blob %s: %s, retrying", d->desc->digest,
                     c != CURLE_OK ? curl_easy_strerror(c) : "server error");
    } else if (status != 200) {
        _cleanup_free_ char *msg = registry_error(&d->resp);
        bt_err_set(&e, status == 404 ? ENOENT : EIO, "%s", msg);
    } else {
        struct image_blob_writer *w = TAKE_PTR(d->w);
        d->resp.w = NULL;
        report(r, d, IMAGE_LAYER_VERIFYING);
        if (image_blob_writer_commit(w, d->desc->digest, NULL, &e) == 0) {
            d->finished = true;
            report(r, d, IMAGE_LAYER_DOWNLOADED);
        }
    }
    dl_stop(m, d);
    if (retry) {
        bt_err_free(e);
        return 1;
    }
    if (e) {
        bt_err_prefix(&e, "blob %s", d->desc->digest);
        d->err = e;
        d->failed = true;
        report(r, d, IMAGE_LAYER_FAILED);
    }
    return 0;
}

/* Downloads the blobs of descs that the store lacks, PARALLEL_PULLS at a
 * time, each verified before it is stored. */
static int
download_blobs(struct reg *r, struct image_store *s, const struct image_desc *descs, size_t n,
               struct image_unpacker *unpacker, struct bt_err **err)
{
    struct dl *dls = xcalloc(n + 1, sizeof(*dls));
    CURLM *m = curl_multi_init();
    if (!m)
        abort();
    for (size_t i = 0; i < n; i++) {
        dls[i].desc = &descs[i];
        dls[i].exists = image_blob_exists(s, descs[i].digest);
        dls[i].url = xasprintf("%s/v2/%s/blobs/%s", r->base, r->repo, descs[i].digest);
    }
    for (size_t i = 0; i < n; i++)
        report(r, &dls[i], dls[i].exists ? IMAGE_LAYER_EXISTS : IMAGE_LAYER_WAITING);
    if (unpacker)
        for (size_t i = 0; i < n; i++)
            if (dls[i].exists)
                image_unpacker_push(unpacker, i);
    draw(r, dls, n, false);
    int rc = 0;
    size_t running = 0;
    struct timespec last = {0};
    bool reauth = false;
    for (;;) {
        /* start more, up to the limit; a retried one waits its backoff */
        for (size_t i = 0; i < n && running < PARALLEL_PULLS && rc == 0; i++) {
            struct dl *d = &dls[i];
            if (d->exists || d->finished || d->failed || d->easy || d->attempts >= MAX_ATTEMPTS)
                continue;
            if (d->attempts > 0)
                backoff(d->attempts);
            rc = dl_start(r, s, m, d, err);
            if (rc == 0)
                running++;
        }
        if (rc < 0 || running == 0)
            break;
        int still = 0;
        CURLMcode mc = curl_multi_perform(m, &still);
        if (mc == CURLM_OK)
            mc = curl_multi_poll(m, NULL, 0, 200, NULL);
        if (mc != CURLM_OK) {
            rc = bt_err_set(err, EIO, "download: %s", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct dl *d = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            running--;
            /* 1: a retry, started again at the top of the loop */
            dl_finish(r, m, d, msg->data.result, &reauth);
            /* unpacking starts while the other layers still download */
            if (d->finished && unpacker)
                image_unpacker_push(unpacker, (size_t)(d - dls));
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 > 150) {
            draw(r, dls, n, true);
            for (size_t i = 0; i < n; i++)
                if (dls[i].easy && dls[i].done != dls[i].reported)
                    report(r, &dls[i], IMAGE_LAYER_DOWNLOADING);
            last = now;
        }
        /* one failed layer fails the pull: stop the others */
        bool any_failed = false;
        for (size_t i = 0; i < n; i++)
            any_failed |= dls[i].failed;
        if (any_failed)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (dls[i].easy)
            dl_stop(m, &dls[i]);
        if (dls[i].failed && rc == 0) {
            bt_err_move(err, &dls[i].err);
            rc = bt_err_ret(err);
        }
    }
    draw(r, dls, n, true);
    if (!r->tty && !r->quiet)
        for (size_t i = 0; i < n; i++) {
            char id[13];
            short12(dls[i].desc->digest, id);
            fprintf(r->progress, "%s: %s\n", id,
                    dls[i].exists     ? "Already exists"
                    : dls[i].finished ? "Pull complete"
                                      : "Failed");
        }
    for (size_t i = 0; i < n; i++) {
        bt_err_free(dls[i].err);
        free(dls[i].url);
    }
    free(dls);
    curl_multi_cleanup(m);
    return rc;
}

static bool
image_complete(struct image_store *s, const char *manifest_digest)
{
    _cleanup_json_ json_t *doc = image_blob_json(s, manifest_digest, NULL);
    struct image_manifest m;
    if (!doc || image_manifest_parse(doc, &m, NULL) < 0)
        return false;
    _cleanup_json_ json_t *rec = image_record_load(s, m.config_digest);
    bool ok = rec && bt_streq_null(bt_json_str(rec, "manifest"), manifest_digest);
    image_manifest_done(&m);
    return ok;
}

static void
reg_setup_output(struct reg *r, const struct image_pull_opts *opts)
{
    r->progress = opts && opts->progress ? opts->progress : stderr;
    r->tty = opts && opts->tty;
    r->quiet = opts && (opts->quiet || opts->layer);
    r->layer = opts ? opts->layer : NULL;
    r->layer_data = opts ? opts->layer_data : NULL;
}

/* The unpacker's reports, by layer index, as the layer's progress. */
struct unpack_report {
    struct reg *r;
    const struct image_desc *layers;
};

static void
on_unpack(void *data, size_t i, enum image_layer_state st)
{
    struct unpack_report *u = data;
    char id[13];
    short12(u->layers[i].digest, id);
    u->r->layer(u->r->layer_data, id, st, 0, 0);
}

static int
pull_locked(struct image_store *s, struct reg *r, const struct image_ref *ref,
            const struct image_pull_opts *opts, char **id_out, struct bt_err **err)
{
    const char *what = ref->digest ? ref->digest : ref->tag;
    if (!r->quiet)
        fprintf(r->progress, "%s: Pulling from %s\n", what, r->repo);
    _cleanup_free_ char *data = NULL;
    _cleanup_free_ char *mt = NULL;
    _cleanup_free_ char *digest = NULL;
    size_t len = 0;
    int rc = fetch_manifest(r, what, &data, &len, &mt, &digest, err);
    if (rc < 0)
        return rc;
    _cleanup_free_ char *index_digest = NULL;
    if (image_media_type_is_index(mt)) {
        _cleanup_json_ json_t *idx = json_loadb(data, len, 0, NULL);
        _cleanup_json_ json_t *pick = image_index_pick(idx, opts ? opts->platform : NULL, err);
        if (!pick)
            return bt_err_ret(err);
        rc = image_blob_put(s, digest, data, len, err);
        if (rc < 0)
            return rc;
        index_digest = TAKE_PTR(digest);
        const char *child = bt_json_str(pick, "digest");
        if (!image_digest_valid(child))
            return bt_err_set(err, EINVAL, "index entry has no valid digest");
        free(data);
        free(mt);
        data = NULL;
        mt = NULL;
        if (image_blob_exists(s, child)) {
            digest = xstrdup(child);
            data = image_blob_read(s, child, &len, err);
            if (!data)
                return bt_err_ret(err);
            mt = xstrdup(IMAGE_MT_OCI_MANIFEST);
        } else {
            rc = fetch_manifest(r, child, &data, &len, &mt, &digest, err);
            if (rc < 0)
                return rc;
        }
    }
    bool up_to_date = image_complete(s, digest);
    if (!image_blob_exists(s, digest)) {
        rc = image_blob_put(s, digest, data, len, err);
        if (rc < 0)
            return rc;
    }
    if (!up_to_date) {
        _cleanup_json_ json_t *doc = json_loadb(data, len, 0, NULL);
        struct image_manifest m;
        rc = doc ? image_manifest_parse(doc, &m, err)
                 : bt_err_set(err, EINVAL, "manifest %s is not JSON", digest);
        if (rc < 0)
            return rc;
        struct image_desc *all = xcalloc(m.nlayers + 1, sizeof(*all));
        all[0] = (struct image_desc){.digest = m.config_digest, .size = m.config_size};
        for (size_t i = 0; i < m.nlayers; i++)
            all[i + 1] = m.layers[i];
        /* the config first, quietly, then the layers with progress */
        bool q = r->quiet;
        image_layer_fn layer = r->layer;
        r->quiet = true;
        r->layer = NULL;
        rc = download_blobs(r, s, all, 1, NULL, err);
        r->quiet = q;
        r->layer = layer;
        _cleanup_json_ json_t *config = rc == 0 ? image_blob_json(s, m.config_digest, err) : NULL;
        if (rc == 0 && !config)
            rc = bt_err_ret(err);
        _cleanup_strv_ char **blobs = NULL;
        _cleanup_strv_ char **diff_ids = NULL;
        size_t k;
        json_t *v;
        json_array_foreach (json_object_get(json_object_get(config, "rootfs"), "diff_ids"), k, v) {
            if (image_digest_valid(json_string_value(v)))
                diff_ids = bt_strv_push(diff_ids, json_string_value(v));
        }
        for (size_t i = 0; i < m.nlayers; i++)
            blobs = bt_strv_push(blobs, m.layers[i].digest);
        if (rc == 0 && bt_strv_length(diff_ids) != m.nlayers)
            rc = bt_err_set(err, EINVAL, "config lists %zu layers, manifest %zu",
                            bt_strv_length(diff_ids), m.nlayers);
        if (rc == 0) {
            struct image_unpacker *u = image_unpacker_new(s, blobs, diff_ids);
            struct unpack_report ur_data = {.r = r, .layers = all + 1};
            if (r->layer)
                image_unpacker_on_layer(u, on_unpack, &ur_data);
            rc = download_blobs(r, s, all + 1, m.nlayers, u, err);
            struct bt_err *uerr = NULL;
            int ur = image_unpacker_finish(u, &uerr);
            if (rc == 0 && ur < 0) {
                bt_err_move(err, &uerr);
                rc = ur;
            }
            bt_err_free(uerr); /* the download's own error is the one to report */
        }
        free(all);
        image_manifest_done(&m);
        if (rc < 0)
            return rc;
    }
    _cleanup_free_ char *tagged = NULL;
    if (ref->tag) {
        struct image_ref t = *ref;
        t.digest = NULL;
        tagged = image_ref_string(&t);
    }
    char *names[] = {tagged, NULL};
    _cleanup_free_ char *id = NULL;
    rc = image_store_commit(s, digest, tagged ? names : NULL, &id, err);
    if (rc < 0)
        return rc;
    _cleanup_free_ char *rn = image_ref_name(ref);
    _cleanup_free_ char *rd = xasprintf("%s@%s", rn, index_digest ? index_digest : digest);
    rc = image_store_add_repo_digest(s, id, rd, index_digest, err);
    if (rc < 0)
        return rc;
    if (!r->quiet) {
        _cleanup_free_ char *fam = image_ref_familiar(ref);
        fprintf(r->progress, "Digest: %s\nStatus: %s for %s\n",
                index_digest ? index_digest : digest,
                up_to_date ? "Image is up to date" : "Downloaded newer image", fam);
    }
    if (id_out)
        *id_out = TAKE_PTR(id);
    return 0;
}

int
image_pull(struct image_store *s, const char *name, const struct image_pull_opts *opts,
           char **id_out, struct bt_err **err)
{
    struct image_ref ref;
    int rc = image_ref_parse(name, &ref, err);
    if (rc < 0)
        return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct reg r = {0};
    reg_setup_output(&r, opts);
    rc = reg_open(&r, &ref, false, err);
    while (rc == 0) {
        int gc = image_store_lock(s, "gc", false, err);
        rc = gc < 0 ? gc : pull_locked(s, &r, &ref, opts, id_out, err);
        if (gc >= 0)
            close(gc);
        /* A mirror that fails (lacks the image, breaks off) is skipped
         * for the next endpoint, as Docker does; a tampered blob is not
         * the mirror's fault alone and stops the pull. */
        if (rc == 0 || r.base_index >= r.nmirrors || rc == -EBADMSG || !r.bases[r.base_index + 1])
            break;
        if (err && *err) {
            bt_debug("mirror %s: %s; trying the next endpoint", r.base, (*err)->msg);
            *err = bt_err_free(*err);
        }
        rc = reg_pick(&r, r.base_index + 1, err);
    }
    if (rc < 0) {
        /* blobs fetched for an image that did not come together */
        image_store_gc(s);
        bt_err_prefix(err, "pull %s", name);
    }
    reg_free(&r);
    image_ref_done(&ref);
    return rc;
}

/* ---- push ---- */

/* A repository on the same registry that has the blob, for a
 * cross-repository mount: one the image was pulled from or pushed to. */
static char *
mount_source(struct image_store *s, const char *id, struct reg *r)
{
    _cleanup_json_ json_t *rec = image_record_load(s, id);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(rec, "repo_digests"), i, v) {
        struct image_ref ref;
        if (image_ref_parse(json_string_value(v), &ref, NULL) < 0)
            continue;
        char *from = NULL;
        if (strcmp(ref.domain, r->host) == 0 && strcmp(ref.path, r->repo) != 0)
            from = xstrdup(ref.path);
        image_ref_done(&ref);
        if (from)
            return from;
    }
    return NULL;
}

static char *
upload_url(struct reg *r, const char *location, const char *digest)
{
    CURL *e = curl_easy_init();
    char *esc = curl_easy_escape(e, digest, 0);
    char *u = xasprintf("%s%s%sdigest=%s", bt_str_startswith(location, "/") ? r->base : "",
                        location, strchr(location, '?') ? "&" : "?", esc);
    curl_free(esc);
    curl_easy_cleanup(e);
    return u;
}

static int
push_blob(struct reg *r, struct image_store *s, const char *digest, const char *from,
          struct bt_err **err)
{
    char id[13];
    short12(digest, id);
    _cleanup_free_ char *head = xasprintf("/v2/%s/blobs/%s", r->repo, digest);
    struct resp resp = {.limit = 1 << 16};
    int rc = request(r, "HEAD", head, NULL, NULL, &resp, err);
    long status = resp.status;
    resp_done(&resp);
    if (rc < 0)
        return rc;
    if (status == 200) {
        if (!r->quiet)
            fprintf(r->progress, "%s: Layer already exists\n", id);
        return 0;
    }
    _cleanup_free_ char *post = NULL;
    if (from) {
        CURL *e = curl_easy_init();
        char *d = curl_easy_escape(e, digest, 0);
        char *f = curl_easy_escape(e, from, 0);
        post = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", r->repo, d, f);
        curl_free(d);
        curl_free(f);
        curl_easy_cleanup(e);
    } else {
        post = xasprintf("/v2/%s/blobs/uploads/", r->repo);
    }
    struct body_src empty = {.fd = -1};
    rc = request(r, "POST", post, NULL, &empty, &resp, err);
    if (rc < 0) {
        resp_done(&resp);
        return rc;
    }
    if (resp.status == 201) {
        resp_done(&resp);
        if (!r->quiet)
            fprintf(r->progress, "%s: Mounted from %s\n", id, from);
        return 0;
    }
    if (resp.status != 202 || !resp.location) {
        _cleanup_free_ char *m = registry_error(&resp);
        status = resp.status;
        resp_done(&resp);
        if (status == 401 || status == 403)
            return bt_err_set(err, EACCES, "denied: requested access to the resource is denied");
        return bt_err_set(err, EIO, "start upload of %s: %s", digest, m);
    }
    _cleanup_free_ char *put = upload_url(r, resp.location, digest);
    resp_done(&resp);
    _cleanup_free_ char *path = image_blob_path(s, digest);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return bt_err_errno(err, errno, "blob %s", digest);
    struct body_src body = {.fd = fd, .len = (size_t)st.st_size};
    char *hdrs[] = {"Content-Type: application/octet-stream", NULL};
    rc = request(r, "PUT", put, hdrs, &body, &resp, err);
    if (rc == 0 && resp.status != 201 && resp.status != 204) {
        _cleanup_free_ char *m = registry_error(&resp);
        rc = bt_err_set(err, EIO, "upload %s: %s", digest, m);
    }
    resp_done(&resp);
    if (rc == 0 && !r->quiet)
        fprintf(r->progress, "%s: Pushed\n", id);
    return rc;
}

int
image_push(struct image_store *s, const char *name, const struct image_pull_opts *opts,
           struct bt_err **err)
{
    struct image_ref ref;
    int rc = image_ref_parse(name, &ref, err);
    if (rc < 0)
        return rc;
    if (ref.digest) {
        image_ref_done(&ref);
        return bt_err_set(err, EINVAL, "push %s: push a tag, not a digest", name);
    }
    _cleanup_free_ char *id = image_store_resolve(s, name, err);
    if (!id) {
        image_ref_done(&ref);
        if (err && *err)
            return bt_err_ret(err);
        return bt_err_set(err, ENOENT, "An image does not exist locally with the tag: %s", name);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct reg r = {0};
    reg_setup_output(&r, opts);
    int gc = -1;
    _cleanup_json_ json_t *rec = NULL;
    size_t mlen = 0;
    _cleanup_free_ char *mdata = NULL;
    rc = reg_open(&r, &ref, true, err);
    if (rc == 0) {
        gc = image_store_lock(s, "gc", false, err);
        rc = gc < 0 ? gc : 0;
    }
    if (rc == 0) {
        rec = image_record_load(s, id);
        mdata = rec ? image_blob_read(s, bt_json_str(rec, "manifest"), &mlen, err) : NULL;
        if (!mdata)
            rc = bt_err_set(err, ENOENT, "No such image: %s", name);
    }
    if (rc == 0 && !r.quiet)
        fprintf(r.progress, "The push refers to repository [%s/%s]\n", r.host, r.repo);
    _cleanup_free_ char *from = rc == 0 ? mount_source(s, id, &r) : NULL;
    size_t i;
    json_t *l;
    json_array_foreach (json_object_get(rec, "layers"), i, l) {
        if (rc == 0)
            rc = push_blob(&r, s, bt_json_str(l, "digest"), from, err);
    }
    if (rc == 0)
        rc = push_blob(&r, s, id, from, err);
    if (rc == 0) {
        _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r.repo, ref.tag);
        _cleanup_free_ char *ct =
            xasprintf("Content-Type: %s", bt_json_str(rec, "manifest_media_type"));
        char *hdrs[] = {ct, NULL};
        struct body_src body = {.data = mdata, .len = mlen, .fd = -1};
        struct resp resp = {.limit = 1 << 16};
        rc = request(&r, "PUT", path, hdrs, &body, &resp, err);
        if (rc == 0 && resp.status != 201) {
            _cleanup_free_ char *m = registry_error(&resp);
            rc = bt_err_set(err, resp.status == 401 || resp.status == 403 ? EACCES : EIO,
                            "put manifest: %s", m);
        }
        const char *manifest = bt_json_str(rec, "manifest");
        if (rc == 0 && resp.docker_digest && strcmp(resp.docker_digest, manifest) != 0)
            rc = bt_err_set(err, EBADMSG, "registry stored the manifest as %s, expected %s",
                            resp.docker_digest, manifest);
        resp_done(&resp);
        if (rc == 0) {
            _cleanup_free_ char *rn = image_ref_name(&ref);
            _cleanup_free_ char *rd = xasprintf("%s@%s", rn, manifest);
            rc = image_store_add_repo_digest(s, id, rd, NULL, err);
            if (rc == 0 && !r.quiet)
                fprintf(r.progress, "%s: digest: %s size: %zu\n", ref.tag, manifest, mlen);
        }
    }
    if (gc >= 0)
        close(gc);
    if (rc < 0)
        bt_err_prefix(err, "push %s", name);
    reg_free(&r);
    image_ref_done(&ref);
    return rc;
}

/* ---- login ---- */

int
image_login(const char *registry, const char *user, const char *password, struct bt_err **err)
{
    const char *host = registry && *registry ? registry : "docker.io";
    /* "https://host/..." as docker login accepts it */
    _cleanup_free_ char *h = NULL;
    if (bt_str_startswith(host, "https://") || bt_str_startswith(host, "http://")) {
        const char *p = strstr(host, "://") + 3;
        h = xstrndup(p, strcspn(p, "/"));
        host = h;
    }
    if (strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0)
        host = "docker.io";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct image_ref ref = {.domain = (char *)host, .path = "berth/login-check"};
    struct reg r = {0};
    r.progress = stderr;
    r.quiet = true;
    r.user = xstrdup(user);
    r.password = xstrdup(password);
    /* /v2/ with the credentials: the registry's challenge is answered with
     * them, and only a 200 afterwards proves they work */
    int rc = reg_open(&r, &ref, false, err);
    if (rc == 0 && r.ping_status != 200)
        rc = bt_err_set(err, EACCES, "unauthorized: incorrect username or password");
    if (rc == 0)
        rc = image_auth_store(host, user, password, err);
    if (rc < 0)
        bt_err_prefix(err, "login %s", host);
    reg_free(&r);
    return rc;
}

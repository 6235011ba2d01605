/* image: references, normalised the way Docker does it. */
#include <ctype.h>
#include <string.h>

#include "image/image.h"

#define DEFAULT_DOMAIN "docker.io"
#define NAME_MAX_LEN   255

static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool
component_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]))
        return false;
    while (i < n) {
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        /* a separator, then at least one alnum */
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == n || !is_lower_alnum(s[i]))
            return false;
    }
    return true;
}

static bool
has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return true;
    return false;
}

/* host[:port], host being dotted labels or a bracketed IPv6 address. */
static bool
domain_valid(const char *s)
{
    const char *p = s;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end || end == p + 1)
            return false;
        for (const char *q = p + 1; q < end; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return false;
        p = end + 1;
    } else {
        /* labels: [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? separated by '.' */
        for (;;) {
            const char *start = p;
            while (isalnum((unsigned char)*p) || *p == '-')
                p++;
            if (p == start || start[0] == '-' || p[-1] == '-')
                return false;
            if (*p != '.')
                break;
            p++;
        }
    }
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static bool
tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    if (!isalnum((unsigned char)s[0]) && s[0] != '_')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

bool
image_digest_valid(const char *s)
{
    if (!s || !bt_str_startswith(s, "sha256:") || strlen(s) != 7 + 64)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Digests of other algorithms are syntactically valid references, but the
 * store only knows sha256, so they are refused with a clear message. */
static int
digest_check(const char *s, const char *input, struct bt_err **err)
{
    if (image_digest_valid(s))
        return 0;
    const char *colon = strchr(s, ':');
    if (colon && !bt_str_startswith(s, "sha256:"))
        return bt_err_set(err, EINVAL,
                          "invalid reference '%s': unsupported digest algorithm in '%s'", input, s);
    return bt_err_set(err, EINVAL,
                      "invalid reference '%s': digest '%s' is not sha256: and 64 lowercase hex "
                      "digits",
                      input, s);
}

void
image_ref_done(struct image_ref *r)
{
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    *r = (struct image_ref){0};
}

int
image_ref_parse(const char *s, struct image_ref *out, struct bt_err **err)
{
    *out = (struct image_ref){0};
    if (!s || !*s)
        return bt_err_set(err, EINVAL, "invalid reference format: empty name");
    _cleanup_free_ char *name = xstrdup(s);
    _cleanup_free_ char *digest = NULL;
    _cleanup_free_ char *tag = NULL;

    char *at = strchr(name, '@');
    if (at) {
        *at = '\0';
        digest = xstrdup(at + 1);
        int r = digest_check(digest, s, err);
        if (r < 0)
            return r;
    }
    /* The tag follows the last ':' after the last '/', so that a port in
     * the domain is not taken for one. */
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');
    if (colon) {
        *colon = '\0';
        tag = xstrdup(colon + 1);
        if (!tag_valid(tag))
            return bt_err_set(err, EINVAL,
                              "invalid reference '%s': tag '%s' must be 1-128 of [A-Za-z0-9_.-], "
                              "not starting with '.' or '-'",
                              s, tag);
    }
    if (!*name)
        return bt_err_set(err, EINVAL, "invalid reference '%s': no repository name", s);
    if (strlen(name) > NAME_MAX_LEN)
        return bt_err_set(err, EINVAL, "invalid reference '%s': repository name longer than %d", s,
                          NAME_MAX_LEN);

    /* The first component is a domain when it has a '.' or ':', is
     * "localhost", or has upper-case letters (which paths cannot). */
    _cleanup_free_ char *domain = NULL;
    const char *path = name;
    char *first_slash = strchr(name, '/');
    if (first_slash) {
        size_t n = (size_t)(first_slash - name);
        if (memchr(name, '.', n) || memchr(name, ':', n) || memchr(name, '[', n) ||
            (n == 9 && strncmp(name, "localhost", 9) == 0) || has_upper(name, n)) {
            domain = xstrndup(name, n);
            path = first_slash + 1;
        }
    }
    if (!domain)
        domain = xstrdup(DEFAULT_DOMAIN);
    else if (!domain_valid(domain))
        return bt_err_set(err, EINVAL, "invalid reference '%s': '%s' is not a valid registry host",
                          s, domain);
    if (strcmp(domain, "index.docker.io") == 0) {
        free(domain);
        domain = xstrdup(DEFAULT_DOMAIN);
    }

    if (!*path)
        return bt_err_set(err, EINVAL, "invalid reference '%s': no repository name", s);
    if (has_upper(path, strlen(path)))
        return bt_err_set(err, EINVAL, "invalid reference '%s': repository name must be lowercase",
                          s);
    for (const char *p = path;;) {
        const char *end = strchrnul(p, '/');
        if (!component_valid(p, (size_t)(end - p)))
            return bt_err_set(err, EINVAL,
                              "invalid reference '%s': '%.*s' is not a valid name component "
                              "(lowercase letters, digits and single separators . _ __ -)",
                              s, (int)(end - p), p);
        if (!*end)
            break;
        p = end + 1;
    }

    if (strcmp(domain, DEFAULT_DOMAIN) == 0 && !strchr(path, '/'))
        out->path = xasprintf("library/%s", path);
    else
        out->path = xstrdup(path);
    out->domain = TAKE_PTR(domain);
    out->digest = TAKE_PTR(digest);
    out->tag = tag ? TAKE_PTR(tag) : (out->digest ? NULL : xstrdup("latest"));
    return 0;
}

char *
image_ref_name(const struct image_ref *r)
{
    return xasprintf("%s/%s", r->domain, r->path);
}

char *
image_ref_string(const struct image_ref *r)
{
    return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
                     r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *
image_ref_familiar(const struct image_ref *r)
{
    const char *path = r->path;
    struct bt_buf b = {0};
    if (strcmp(r->domain, DEFAULT_DOMAIN) == 0) {
        if (bt_str_startswith(path, "library/") && !strchr(path + 8, '/'))
            path += 8;
    } else {
        bt_buf_printf(&b, "%s/", r->domain);
    }
    bt_buf_puts(&b, path);
    if (r->tag)
        bt_buf_printf(&b, ":%s", r->tag);
    if (r->digest)
        bt_buf_printf(&b, "@%s", r->digest);
    return bt_buf_steal(&b);
}

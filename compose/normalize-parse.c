/* Parsers for the compose short syntaxes: durations, byte sizes, command
 * lines, ports and volumes. They work on plain strings; normalize.c adds the
 * position and key path to their errors. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "compose/compose.h"

/* ---- key/value arrays ---- */

static ssize_t
kvs_find(const struct compose_kvs *kvs, const char *key, size_t *ins)
{
    size_t lo = 0, hi = kvs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(kvs->v[mid].key, key);
        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ins)
        *ins = lo;
    return -1;
}

const char *
compose_kvs_get(const struct compose_kvs *kvs, const char *key)
{
    ssize_t i = kvs_find(kvs, key, NULL);
    return i < 0 ? NULL : kvs->v[i].value;
}

void
compose_kvs_set(struct compose_kvs *kvs, const char *key, const char *value)
{
    size_t ins = 0;
    ssize_t i = kvs_find(kvs, key, &ins);
    if (i >= 0) {
        free(kvs->v[i].value);
        kvs->v[i].value = value ? xstrdup(value) : NULL;
        return;
    }
    kvs->v = xreallocarray(kvs->v, kvs->n + 1, sizeof(*kvs->v));
    memmove(&kvs->v[ins + 1], &kvs->v[ins], (kvs->n - ins) * sizeof(*kvs->v));
    kvs->v[ins].key = xstrdup(key);
    kvs->v[ins].value = value ? xstrdup(value) : NULL;
    kvs->n++;
}

void
compose_kvs_done(struct compose_kvs *kvs)
{
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->v[i].key);
        free(kvs->v[i].value);
    }
    free(kvs->v);
    kvs->v = NULL;
    kvs->n = 0;
}

/* ---- durations ---- */

int
compose_duration_parse(const char *s, int64_t *ns, struct bt_err **err)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {
        {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
        {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
    };
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return bt_err_set(err, EINVAL,
                          "invalid duration '%s': expected a number with a unit "
                          "such as 1m30s, 10s or 500ms",
                          s);
    double total = 0;
    while (*p) {
        const char *start = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (p == start || (p == start + 1 && *start == '.'))
            return bt_err_set(err, EINVAL,
                              "invalid duration '%s': expected a number with a "
                              "unit such as 1m30s, 10s or 500ms",
                              s);
        double v = strtod(start, NULL);
        size_t best = 0;
        ssize_t which = -1;
        for (size_t i = 0; i < BT_ARRAY_SIZE(units); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best) {
                best = l;
                which = (ssize_t)i;
            }
        }
        if (which < 0)
            return bt_err_set(err, EINVAL,
                              "invalid duration '%s': missing or unknown unit (use ns, us, ms, "
                              "s, m or h)",
                              s);
        total += v * units[which].mult;
        p += best;
    }
    if (total > 9.2e18)
        return bt_err_set(err, ERANGE, "invalid duration '%s': too large", s);
    int64_t v = (int64_t)(total + 0.5);
    *ns = neg ? -v : v;
    return 0;
}

/* Appends v / 10^prec with the fraction's trailing zeros trimmed. */
static void
put_frac(struct bt_buf *b, uint64_t v, int prec)
{
    uint64_t div = 1;
    for (int i = 0; i < prec; i++)
        div *= 10;
    bt_buf_printf(b, "%llu", (unsigned long long)(v / div));
    uint64_t frac = v % div;
    if (!frac)
        return;
    char digits[32];
    snprintf(digits, sizeof(digits), "%0*llu", prec, (unsigned long long)frac);
    size_t l = strlen(digits);
    while (l && digits[l - 1] == '0')
        l--;
    bt_buf_putc(b, '.');
    bt_buf_append(b, digits, l);
}

char *
compose_duration_format(int64_t ns)
{
    struct bt_buf b = {0};
    if (ns == 0)
        return xstrdup("0s");
    uint64_t u = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
    if (ns < 0)
        bt_buf_putc(&b, '-');
    if (u < 1000000000ULL) {
        if (u < 1000)
            bt_buf_printf(&b, "%lluns", (unsigned long long)u);
        else if (u < 1000000) {
            put_frac(&b, u, 3);
            bt_buf_puts(&b, "\xc2\xb5s");
        } else {
            put_frac(&b, u, 6);
            bt_buf_puts(&b, "ms");
        }
        return bt_buf_steal(&b);
    }
    uint64_t secs = u / 1000000000ULL, sub = u % 1000000000ULL;
    uint64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
    if (h)
        bt_buf_printf(&b, "%lluh", (unsigned long long)h);
    if (h || m)
        bt_buf_printf(&b, "%llum", (unsigned long long)m);
    put_frac(&b, s * 1000000000ULL + sub, 9);
    bt_buf_putc(&b, 's');
    return bt_buf_steal(&b);
}

/* ---- byte sizes ---- */

int
compose_bytes_parse(const char *s, int64_t *out, struct bt_err **err)
{
    const char *p = s;
    int64_t iv = 0;
    if (*p == '-' && bt_parse_int64(s, &iv)) {
        *out = iv; /* -1: unlimited, as Docker takes it */
        return 0;
    }
    const char *start = p;
    while (isdigit((unsigned char)*p))
        p++;
    if (p == start)
        goto bad;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    double v = strtod(start, NULL);
    if (*p == ' ')
        p++;
    double mult = 1;
    switch (tolower((unsigned char)*p)) {
    case 'k':
        mult = 1024.0;
        break;
    case 'm':
        mult = 1024.0 * 1024;
        break;
    case 'g':
        mult = 1024.0 * 1024 * 1024;
        break;
    case 't':
        mult = 1024.0 * 1024 * 1024 * 1024;
        break;
    case 'p':
        mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
        break;
    default:
        break;
    }
    if (mult > 1)
        p++;
    if (mult > 1 && (*p == 'i' || *p == 'I'))
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p)
        goto bad;
    if (v * mult > 9.2e18)
        return bt_err_set(err, ERANGE, "invalid size '%s': too large", s);
    *out = (int64_t)(v * mult);
    return 0;
bad:
    return bt_err_set(err, EINVAL,
                      "invalid size '%s': expected a number of bytes with an optional unit "
                      "(k, m, g, t, p; e.g. 512m or 1gb)",
                      s);
}

/* ---- command lines ---- */

int
compose_shell_split(const char *s, char ***out, struct bt_err **err)
{
    _cleanup_strv_ char **words = xcalloc(1, sizeof(char *));
    struct bt_buf w = {0};
    bool in_word = false;
    const char *p = s;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                words = bt_strv_push_take(words, bt_buf_steal(&w));
                in_word = false;
            }
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end) {
                bt_buf_done(&w);
                return bt_err_set(err, EINVAL, "unterminated single quote in '%s'", s);
            }
            bt_buf_append(&w, p + 1, (size_t)(end - p - 1));
            p = end + 1;
        } else if (c == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1] && strchr("\\\"$`\n", p[1])) {
                    if (p[1] != '\n')
                        bt_buf_putc(&w, p[1]);
                    p += 2;
                } else {
                    bt_buf_putc(&w, *p++);
                }
            }
            if (*p != '"') {
                bt_buf_done(&w);
                return bt_err_set(err, EINVAL, "unterminated double quote in '%s'", s);
            }
            p++;
        } else if (c == '\\') {
            if (p[1] && p[1] != '\n')
                bt_buf_putc(&w, p[1]);
            p += p[1] ? 2 : 1;
        } else {
            bt_buf_putc(&w, c);
            p++;
        }
    }
    if (in_word)
        words = bt_strv_push_take(words, bt_buf_steal(&w));
    bt_buf_done(&w);
    *out = TAKE_PTR(words);
    return 0;
}

/* ---- ports ---- */

void
compose_port_done(struct compose_port *p)
{
    free(p->name);
    free(p->published);
    free(p->host_ip);
    free(p->protocol);
    free(p->app_protocol);
    free(p->mode);
    if (p->extra)
        json_decref(p->extra);
    memset(p, 0, sizeof(*p));
}

static bool
parse_port_range(const char *s, bool allow_zero, unsigned *lo, unsigned *hi)
{
    _cleanup_free_ char *a = xstrdup(s);
    char *dash = strchr(a, '-');
    if (dash)
        *dash = '\0';
    uint64_t x = 0, y = 0;
    if (!bt_parse_uint64(a, &x) || x > 65535 || (x == 0 && !allow_zero))
        return false;
    y = x;
    if (dash && (!bt_parse_uint64(dash + 1, &y) || y > 65535 || y < x))
        return false;
    *lo = (unsigned)x;
    *hi = (unsigned)y;
    return true;
}

int
compose_port_parse(const char *spec, struct compose_port **ports, size_t *n, struct bt_err **err)
{
    _cleanup_free_ char *s = xstrdup(spec);
    const char *proto = "tcp";
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
            return bt_err_set(err, EINVAL, "invalid port '%s': protocol must be tcp, udp or sctp",
                              spec);
    }
    _cleanup_strv_ char **parts = bt_strv_split(s, ":");
    size_t np = bt_strv_length(parts);
    const char *container = parts[np - 1];
    const char *host = np >= 2 ? parts[np - 2] : "";
    _cleanup_free_ char *ip = NULL;
    if (np >= 3) {
        parts[np - 2] = NULL;
        ip = bt_strv_join(parts, ":");
        parts[np - 2] = (char *)host;
        size_t l = strlen(ip);
        if (l >= 2 && ip[0] == '[' && ip[l - 1] == ']') {
            memmove(ip, ip + 1, l - 2);
            ip[l - 2] = '\0';
        }
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
            return bt_err_set(err, EINVAL, "invalid port '%s': '%s' is not an IP address", spec,
                              ip);
    }
    unsigned c_lo = 0, c_hi = 0, h_lo = 0, h_hi = 0;
    if (!parse_port_range(container, false, &c_lo, &c_hi))
        return bt_err_set(err, EINVAL,
                          "invalid port '%s': expected [[IP:]HOST:]CONTAINER[/PROTOCOL] with "
                          "ports from 1 to 65535",
                          spec);
    bool has_host = *host != '\0';
    if (has_host && !parse_port_range(host, true, &h_lo, &h_hi))
        return bt_err_set(err, EINVAL, "invalid port '%s': invalid host port '%s'", spec, host);
    if (has_host && c_hi != c_lo && h_hi - h_lo != c_hi - c_lo)
        return bt_err_set(err, EINVAL,
                          "invalid port '%s': the host and container port ranges differ in size",
                          spec);
    for (unsigned i = 0; i <= c_hi - c_lo; i++) {
        *ports = xreallocarray(*ports, *n + 1, sizeof(**ports));
        struct compose_port *p = &(*ports)[(*n)++];
        memset(p, 0, sizeof(*p));
        p->target = (uint16_t)(c_lo + i);
        p->protocol = xstrdup(proto);
        p->mode = xstrdup("ingress");
        if (ip && *ip)
            p->host_ip = xstrdup(ip);
        if (has_host) {
            if (c_lo == c_hi && h_lo != h_hi)
                p->published = xasprintf("%u-%u", h_lo, h_hi);
            else
                p->published = xasprintf("%u", h_lo + i);
        }
    }
    return 0;
}

/* ---- volumes ---- */

const char *
compose_mount_type_name(enum compose_mount_type t)
{
    static const char *const names[] = {"bind", "volume", "tmpfs", "npipe", "image", "cluster"};
    return (size_t)t < BT_ARRAY_SIZE(names) ? names[t] : "volume";
}

void
compose_mount_done(struct compose_mount *m)
{
    free(m->source);
    free(m->target);
    free(m->consistency);
    free(m->bind.propagation);
    free(m->bind.selinux);
    free(m->volume.subpath);
    free(m->bind.recursive);
    compose_kvs_done(&m->volume.labels);
    free(m->image_subpath);
    if (m->extra)
        json_decref(m->extra);
    memset(m, 0, sizeof(*m));
}

static bool
is_propagation(const char *s)
{
    static const char *const names[] = {"shared", "rshared", "slave",
                                        "rslave", "private", "rprivate"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

int
compose_volume_parse(const char *spec, struct compose_mount *out, struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_strv_ char **parts = bt_strv_split(spec, ":");
    size_t np = bt_strv_length(parts);
    if (np > 3 || !*spec)
        return bt_err_set(err, EINVAL, "invalid volume '%s': expected [SOURCE:]TARGET[:MODE]",
                          spec);
    for (size_t i = 0; i < np; i++)
        if (!*parts[i])
            return bt_err_set(
                err, EINVAL, "invalid volume '%s': empty section (expected [SOURCE:]TARGET[:MODE])",
                spec);
    const char *target = np == 1 ? parts[0] : parts[1];
    if (target[0] != '/')
        return bt_err_set(err, EINVAL,
                          "invalid volume '%s': the container path '%s' must be "
                          "absolute",
                          spec, target);
    out->target = xstrdup(target);
    if (np == 1) {
        out->type = COMPOSE_MOUNT_VOLUME;
        out->has_volume = true;
        return 0;
    }
    const char *src = parts[0];
    if (src[0] == '.' || src[0] == '/' || src[0] == '~') {
        out->type = COMPOSE_MOUNT_BIND;
        out->has_bind = true;
        out->bind.create_host_path = true;
    } else {
        if (!isalnum((unsigned char)src[0]) ||
            strspn(src, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                strlen(src)) {
            compose_mount_done(out);
            return bt_err_set(err, EINVAL,
                              "invalid volume '%s': '%s' is neither a path (start it with /, ./ "
                              "or ~) nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
                              spec, src);
        }
        out->type = COMPOSE_MOUNT_VOLUME;
        out->has_volume = true;
    }
    out->source = xstrdup(src);
    if (np < 3)
        return 0;
    _cleanup_strv_ char **opts = bt_strv_split(parts[2], ",");
    bool bind = out->type == COMPOSE_MOUNT_BIND;
    bt_strv_foreach (o, opts) {
        if (strcmp(o, "ro") == 0) {
            out->read_only = true;
        } else if (strcmp(o, "rw") == 0) {
            out->read_only = false;
        } else if (bind && (strcmp(o, "z") == 0 || strcmp(o, "Z") == 0)) {
            free(out->bind.selinux);
            out->bind.selinux = xstrdup(o);
        } else if (bind && is_propagation(o)) {
            free(out->bind.propagation);
            out->bind.propagation = xstrdup(o);
        } else if (!bind && strcmp(o, "nocopy") == 0) {
            out->volume.nocopy = true;
        } else if (strcmp(o, "consistent") == 0 || strcmp(o, "cached") == 0 ||
                   strcmp(o, "delegated") == 0) {
            free(out->consistency);
            out->consistency = xstrdup(o);
        } else {
            compose_mount_done(out);
            return bt_err_set(err, EINVAL,
                              "invalid volume '%s': unknown mode '%s' for a %s (expected ro, rw%s)",
                              spec, o, bind ? "bind mount" : "volume",
                              bind ? ", z, Z or a propagation such as rprivate" : " or nocopy");
        }
    }
    return 0;
}

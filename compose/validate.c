/* Validation of a compose node tree against the Compose Specification's
 * JSON schema.
 *
 * The embedded schema (schema-data.h) is parsed with jansson and compiled
 * once per process into the structs below: types as a bit set, properties
 * sorted for lookup, patterns compiled as POSIX extended regexes, $ref
 * resolved to the definition it names. Validation walks the node tree
 * directly, so every error keeps the node's file:line:col, and builds the key
 * path (`services.web.ports[1]`) on the way down.
 *
 * The draft-07 keywords understood are those a compose schema needs: type
 * (and type arrays), enum, const, properties, patternProperties,
 * additionalProperties, required, items, uniqueItems, minItems, maxItems,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
 * maxLength, pattern, oneOf, anyOf, allOf, not and $ref into #/definitions.
 * Annotations (title, description, default, deprecated, format, ...) are
 * ignored. A keyword outside this list makes schema compilation fail loudly,
 * so a newer schema cannot be half-understood in silence.
 *
 * YAML scalars map to JSON types through cnode_type(): a plain `8080` is an
 * integer, `"8080"` a string; an integer is also a number, and a float with
 * no fractional part is also an integer, as JSON Schema counts them. */
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "compose/node-internal.h"
#include "compose/schema-data.h"
#include "compose/validate-internal.h"

enum {
    T_NULL = 1 << 0,
    T_BOOL = 1 << 1,
    T_INT = 1 << 2,
    T_NUM = 1 << 3,
    T_STR = 1 << 4,
    T_ARR = 1 << 5,
    T_OBJ = 1 << 6,
};

struct schema;

/* One entry of properties (literal name) or patternProperties (regex). */
struct skey {
    const char *name; /* property name or pattern, borrowed from the JSON */
    bool is_pattern;
    const char *prefix; /* pattern "^literal": matched without the regex */
    regex_t re;
    bool has_re;
    struct schema *s;
    const struct schema *owner; /* the schema whose properties these are */
    char *where;                /* schema path, for coverage */
    size_t uses;
};

struct schema {
    bool never; /* the `false` schema */
    struct schema *ref;
    unsigned types; /* 0: any */
    json_t *enum_values;
    json_t *const_value;
    struct skey *props; /* sorted by name */
    size_t n_props;
    struct skey *patterns;
    size_t n_patterns;
    bool additional_forbidden;
    struct schema *additional;
    char **required;
    struct schema *items;
    bool unique;
    size_t min_items, max_items;
    bool has_min_items, has_max_items;
    size_t min_len, max_len;
    bool has_min_len, has_max_len;
    double minimum, maximum;
    bool has_minimum, has_maximum, min_exclusive, max_exclusive;
    const char *pattern;
    const char *pattern_prefix;
    regex_t pattern_re;
    bool has_pattern_re;
    struct schema **one_of, **any_of, **all_of;
    size_t n_one_of, n_any_of, n_all_of;
    struct schema *not_;
};

struct definition {
    const char *name;
    struct schema *s;
};

struct compose_schema {
    json_t *json; /* the enum, const and key names point into it */
    struct schema *root;
    struct definition *defs;
    size_t n_defs;
    struct schema **all; /* every compiled schema, for freeing */
    size_t n_all;
    struct skey **keys; /* every properties/patternProperties entry */
    size_t n_keys;
    bool coverage;
    char *error; /* the first compile error */
};

/* ---- compiling the schema ---- */

/* Records the first problem; compilation goes on with harmless defaults so
 * every allocation stays reachable for compose_schema_free(). */
static void
cfail(struct compose_schema *c, const char *where, const char *what)
{
    if (!c->error)
        c->error = xasprintf("%s: %s", where, what);
}

static struct schema *
schema_alloc(struct compose_schema *c)
{
    struct schema *s = xcalloc(1, sizeof(*s));
    c->all = xreallocarray(c->all, c->n_all + 1, sizeof(*c->all));
    c->all[c->n_all++] = s;
    return s;
}

static struct schema *compile(struct compose_schema *c, json_t *j, const char *where);

static struct schema *
lookup_definition(struct compose_schema *c, const char *ref, const char *where)
{
    if (strcmp(ref, "#") == 0)
        return c->root;
    if (!bt_str_startswith(ref, "#/definitions/")) {
        cfail(c, where, "only $ref to #/definitions/NAME is supported");
        return NULL;
    }
    const char *name = ref + strlen("#/definitions/");
    for (size_t i = 0; i < c->n_defs; i++)
        if (strcmp(c->defs[i].name, name) == 0)
            return c->defs[i].s;
    cfail(c, where, "$ref to an unknown definition");
    return NULL;
}

static unsigned
type_bit(struct compose_schema *c, const char *t, const char *where)
{
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {
        {"null", T_NULL},  {"boolean", T_BOOL}, {"integer", T_INT}, {"number", T_NUM},
        {"string", T_STR}, {"array", T_ARR},    {"object", T_OBJ},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(types); i++)
        if (strcmp(types[i].name, t) == 0)
            return types[i].bit;
    cfail(c, where, "unknown type");
    return 0;
}

/* "^literal" patterns (like "^x-") are tested as plain prefixes. */
static const char *
literal_prefix(const char *pattern)
{
    if (pattern[0] != '^' || !pattern[1])
        return NULL;
    if (strpbrk(pattern + 1, ".[]()*+?{}|\\^$"))
        return NULL;
    return pattern + 1;
}

static bool
compile_regex(struct compose_schema *c, regex_t *re, const char *pattern, const char *where)
{
    int r = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (r != 0) {
        char buf[256];
        regerror(r, re, buf, sizeof(buf));
        cfail(c, where, buf);
        return false;
    }
    return true;
}

static bool
regex_matches(const regex_t *re, const char *prefix, const char *s)
{
    if (prefix)
        return bt_str_startswith(s, prefix);
    return regexec(re, s, 0, NULL, 0) == 0;
}

static int
skey_cmp(const void *a, const void *b)
{
    return strcmp(((const struct skey *)a)->name, ((const struct skey *)b)->name);
}

static void
compile_keys(struct compose_schema *c, json_t *obj, bool patterns, const char *where,
             const struct schema *owner, struct skey **out, size_t *n_out)
{
    if (!json_is_object(obj)) {
        cfail(c, where,
              patterns ? "patternProperties is not an object" : "properties is not an object");
        return;
    }
    size_t n = json_object_size(obj);
    struct skey *keys = xcalloc(n ? n : 1, sizeof(*keys));
    size_t i = 0;
    const char *name;
    json_t *sub;
    json_object_foreach (obj, name, sub) {
        struct skey *k = &keys[i++];
        k->name = name;
        k->is_pattern = patterns;
        k->owner = owner;
        k->where = patterns ? xasprintf("%s.patternProperties[%s]", where, name)
                            : xasprintf("%s.properties.%s", where, name);
        if (patterns) {
            k->prefix = literal_prefix(name);
            if (!k->prefix)
                k->has_re = compile_regex(c, &k->re, name, k->where);
        }
        k->s = compile(c, sub, k->where);
    }
    if (!patterns)
        qsort(keys, n, sizeof(*keys), skey_cmp);
    *out = keys;
    *n_out = n;
}

static void
register_keys(struct compose_schema *c, struct skey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->keys = xreallocarray(c->keys, c->n_keys + 1, sizeof(*c->keys));
        c->keys[c->n_keys++] = &keys[i];
    }
}

static struct schema **
compile_list(struct compose_schema *c, json_t *arr, const char *where, const char *kw,
             size_t *n_out)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        cfail(c, where, "oneOf/anyOf/allOf needs a non-empty array");
        *n_out = 0;
        return NULL;
    }
    size_t n = json_array_size(arr);
    struct schema **list = xcalloc(n, sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *w = xasprintf("%s.%s[%zu]", where, kw, i);
        list[i] = compile(c, json_array_get(arr, i), w);
    }
    *n_out = n;
    return list;
}

static size_t
get_size(struct compose_schema *c, json_t *v, const char *where)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        cfail(c, where, "expected a non-negative integer");
        return 0;
    }
    return (size_t)json_integer_value(v);
}

static double
get_number(struct compose_schema *c, json_t *v, const char *where)
{
    if (!json_is_number(v))
        cfail(c, where, "expected a number");
    return json_number_value(v);
}

static bool
is_annotation(const char *kw)
{
    static const char *const annotations[] = {
        "$schema",  "$id",        "$comment", "title",    "description", "default",
        "examples", "deprecated", "format",   "readOnly", "writeOnly",   "definitions",
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(annotations); i++)
        if (strcmp(annotations[i], kw) == 0)
            return true;
    return false;
}

/* Fills s from j; s may already be referenced (definitions are allocated
 * before any is filled, so $ref can point at any of them). */
static void
compile_into(struct compose_schema *c, struct schema *s, json_t *j, const char *where)
{
    if (json_is_true(j))
        return;
    if (json_is_false(j)) {
        s->never = true;
        return;
    }
    if (!json_is_object(j)) {
        cfail(c, where, "a schema must be an object or a boolean");
        return;
    }
    const char *kw;
    json_t *v;
    json_object_foreach (j, kw, v) {
        _cleanup_free_ char *w = xasprintf("%s.%s", where, kw);
        if (strcmp(kw, "$ref") == 0) {
            if (!json_is_string(v))
                cfail(c, w, "$ref must be a string");
            else
                s->ref = lookup_definition(c, json_string_value(v), w);
        } else if (strcmp(kw, "type") == 0) {
            if (json_is_string(v)) {
                s->types = type_bit(c, json_string_value(v), w);
            } else if (json_is_array(v)) {
                size_t i;
                json_t *t;
                json_array_foreach (v, i, t) {
                    if (!json_is_string(t))
                        cfail(c, w, "type names must be strings");
                    else
                        s->types |= type_bit(c, json_string_value(t), w);
                }
            } else {
                cfail(c, w, "type must be a string or an array");
            }
        } else if (strcmp(kw, "enum") == 0) {
            if (!json_is_array(v))
                cfail(c, w, "enum must be an array");
            else
                s->enum_values = v;
        } else if (strcmp(kw, "const") == 0) {
            s->const_value = v;
        } else if (strcmp(kw, "properties") == 0) {
            compile_keys(c, v, false, where, s, &s->props, &s->n_props);
            register_keys(c, s->props, s->n_props);
        } else if (strcmp(kw, "patternProperties") == 0) {
            compile_keys(c, v, true, where, s, &s->patterns, &s->n_patterns);
            register_keys(c, s->patterns, s->n_patterns);
        } else if (strcmp(kw, "additionalProperties") == 0) {
            if (json_is_false(v))
                s->additional_forbidden = true;
            else if (!json_is_true(v))
                s->additional = compile(c, v, w);
        } else if (strcmp(kw, "required") == 0) {
            size_t i;
            json_t *r;
            if (!json_is_array(v))
                cfail(c, w, "required must be an array");
            json_array_foreach (v, i, r) {
                if (!json_is_string(r))
                    cfail(c, w, "required names must be strings");
                else
                    s->required = bt_strv_push(s->required, json_string_value(r));
            }
        } else if (strcmp(kw, "items") == 0) {
            if (json_is_array(v))
                cfail(c, w, "tuple-form items is not supported");
            else
                s->items = compile(c, v, w);
        } else if (strcmp(kw, "uniqueItems") == 0) {
            s->unique = json_is_true(v);
        } else if (strcmp(kw, "minItems") == 0) {
            s->min_items = get_size(c, v, w);
            s->has_min_items = true;
        } else if (strcmp(kw, "maxItems") == 0) {
            s->max_items = get_size(c, v, w);
            s->has_max_items = true;
        } else if (strcmp(kw, "minLength") == 0) {
            s->min_len = get_size(c, v, w);
            s->has_min_len = true;
        } else if (strcmp(kw, "maxLength") == 0) {
            s->max_len = get_size(c, v, w);
            s->has_max_len = true;
        } else if (strcmp(kw, "minimum") == 0 || strcmp(kw, "exclusiveMinimum") == 0) {
            s->minimum = get_number(c, v, w);
            s->has_minimum = true;
            s->min_exclusive = kw[0] == 'e';
        } else if (strcmp(kw, "maximum") == 0 || strcmp(kw, "exclusiveMaximum") == 0) {
            s->maximum = get_number(c, v, w);
            s->has_maximum = true;
            s->max_exclusive = kw[0] == 'e';
        } else if (strcmp(kw, "pattern") == 0) {
            if (!json_is_string(v)) {
                cfail(c, w, "pattern must be a string");
                continue;
            }
            s->pattern = json_string_value(v);
            s->pattern_prefix = literal_prefix(s->pattern);
            if (!s->pattern_prefix)
                s->has_pattern_re = compile_regex(c, &s->pattern_re, s->pattern, w);
            if (!s->pattern_prefix && !s->has_pattern_re)
                s->pattern = NULL;
        } else if (strcmp(kw, "oneOf") == 0) {
            s->one_of = compile_list(c, v, where, kw, &s->n_one_of);
        } else if (strcmp(kw, "anyOf") == 0) {
            s->any_of = compile_list(c, v, where, kw, &s->n_any_of);
        } else if (strcmp(kw, "allOf") == 0) {
            s->all_of = compile_list(c, v, where, kw, &s->n_all_of);
        } else if (strcmp(kw, "not") == 0) {
            s->not_ = compile(c, v, w);
        } else if (!is_annotation(kw)) {
            cfail(c, w, "unsupported keyword");
        }
    }
}

static struct schema *
compile(struct compose_schema *c, json_t *j, const char *where)
{
    struct schema *s = schema_alloc(c);
    compile_into(c, s, j, where);
    return s;
}

static void
skeys_free(struct skey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].where);
        if (keys[i].has_re)
            regfree(&keys[i].re);
    }
    free(keys);
}

struct compose_schema *
compose_schema_free(struct compose_schema *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n_all; i++) {
        struct schema *s = c->all[i];
        skeys_free(s->props, s->n_props);
        skeys_free(s->patterns, s->n_patterns);
        bt_strv_free(s->required);
        if (s->has_pattern_re)
            regfree(&s->pattern_re);
        free(s->one_of);
        free(s->any_of);
        free(s->all_of);
        free(s);
    }
    free(c->all);
    free(c->keys);
    free(c->defs);
    free(c->error);
    if (c->json)
        json_decref(c->json);
    free(c);
    return NULL;
}

struct compose_schema *
compose_schema_new(const char *json, size_t len, struct bt_err **err)
{
    json_error_t jerr;
    _cleanup_schema_ struct compose_schema *c = xcalloc(1, sizeof(*c));
    c->json = json_loadb(json, len, 0, &jerr);
    if (!c->json) {
        bt_err_set(err, EINVAL, "schema: %d:%d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    c->root = schema_alloc(c);
    json_t *defs = json_object_get(c->json, "definitions");
    if (defs && !json_is_object(defs))
        cfail(c, "definitions", "must be an object");
    if (defs && json_is_object(defs)) {
        c->n_defs = json_object_size(defs);
        c->defs = xcalloc(c->n_defs ? c->n_defs : 1, sizeof(*c->defs));
        size_t i = 0;
        const char *name;
        json_t *d;
        json_object_foreach (defs, name, d) {
            c->defs[i].name = name;
            c->defs[i].s = schema_alloc(c);
            i++;
        }
        for (i = 0; i < c->n_defs; i++) {
            _cleanup_free_ char *w = xasprintf("definitions.%s", c->defs[i].name);
            compile_into(c, c->defs[i].s, json_object_get(defs, c->defs[i].name), w);
        }
    }
    compile_into(c, c->root, c->json, "root");
    if (c->error) {
        bt_err_set(err, EINVAL, "schema: %s", c->error);
        return NULL;
    }
    return TAKE_PTR(c);
}

static struct compose_schema *embedded;

static void
embedded_init(void)
{
    struct bt_err *err = NULL;
    embedded = compose_schema_new(compose_spec_json, compose_spec_json_len, &err);
    if (!embedded) {
        /* The schema is compiled into berth: one berth cannot read is a
         * build defect, not a user error. */
        fprintf(stderr, "berth: embedded compose-spec.json: %s\n", err->msg);
        abort();
    }
}

/* Compiled once per process; lives until exit. */
static struct compose_schema *
embedded_schema(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, embedded_init);
    return embedded;
}

/* ---- values ---- */

static unsigned
node_type(const struct cnode *n)
{
    switch (n->kind) {
    case CNODE_MAP:
        return T_OBJ;
    case CNODE_SEQ:
        return T_ARR;
    case CNODE_SCALAR:
        break;
    }
    switch (cnode_type(n)) {
    case CNODE_T_NULL:
        return T_NULL;
    case CNODE_T_BOOL:
        return T_BOOL;
    case CNODE_T_INT:
        return T_INT | T_NUM;
    case CNODE_T_FLOAT:
        return T_NUM;
    case CNODE_T_STRING:
        break;
    }
    return T_STR;
}

/* Numeric value of an integer or float scalar (YAML 1.2 core spellings). */
static double
node_number(const struct cnode *n)
{
    int64_t i;
    if (cnode_get_int(n, &i))
        return (double)i;
    const char *v = n->value;
    bool neg = v[0] == '-';
    if (v[0] == '-' || v[0] == '+')
        v++;
    if (strcasecmp(v, ".inf") == 0)
        return neg ? -INFINITY : INFINITY;
    if (strcasecmp(v, ".nan") == 0)
        return NAN;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'o'))
        return (neg ? -1 : 1) * (double)strtoull(v + 2, NULL, v[1] == 'x' ? 16 : 8);
    return strtod(n->value, NULL);
}

/* Whether a finite double has no fractional part (doubles this large have
 * none). Written without libm. */
static bool
is_integral(double d)
{
    if (!isfinite(d))
        return false;
    if (d >= 9.2e18 || d <= -9.2e18)
        return true;
    return (double)(int64_t)d == d;
}

static bool
types_match(unsigned want, const struct cnode *n)
{
    unsigned have = node_type(n);
    if (want & have)
        return true;
    /* 1.0 is an integer in JSON Schema's eyes. */
    if ((want & T_INT) && have == T_NUM)
        return is_integral(node_number(n));
    return false;
}

static bool
node_equals_json(const struct cnode *n, json_t *j)
{
    unsigned t = node_type(n);
    switch (json_typeof(j)) {
    case JSON_NULL:
        return t == T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: {
        bool b;
        return cnode_get_bool(n, &b) && b == json_is_true(j);
    }
    case JSON_INTEGER:
    case JSON_REAL:
        return (t & T_NUM) && node_number(n) == json_number_value(j);
    case JSON_STRING:
        return t == T_STR && strcmp(n->value, json_string_value(j)) == 0;
    case JSON_ARRAY:
        if (n->kind != CNODE_SEQ || n->n != json_array_size(j))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!node_equals_json(n->items[i], json_array_get(j, i)))
                return false;
        return true;
    case JSON_OBJECT:
        if (n->kind != CNODE_MAP || n->n != json_object_size(j))
            return false;
        for (size_t i = 0; i < n->n; i++) {
            json_t *v = json_object_get(j, n->keys[i]->value);
            if (!v || !node_equals_json(n->items[i], v))
                return false;
        }
        return true;
    }
    return false;
}

/* A canonical text for a value, equal for values JSON Schema calls equal
 * (map key order ignored, 1 == 1.0), for uniqueItems. */
static void
canonical(struct bt_buf *b, const struct cnode *n)
{
    switch (n->kind) {
    case CNODE_SEQ:
        bt_buf_putc(b, '[');
        for (size_t i = 0; i < n->n; i++) {
            canonical(b, n->items[i]);
            bt_buf_putc(b, ',');
        }
        bt_buf_putc(b, ']');
        return;
    case CNODE_MAP: {
        /* Keys are unique within a map, so sorting their canonical entries
         * gives one spelling per value. */
        char **entries = NULL;
        for (size_t i = 0; i < n->n; i++) {
            struct bt_buf e = {0};
            bt_buf_printf(&e, "%zu:%s=", strlen(n->keys[i]->value), n->keys[i]->value);
            canonical(&e, n->items[i]);
            entries = bt_strv_push_take(entries, bt_buf_steal(&e));
        }
        if (entries)
            bt_strv_sort(entries);
        bt_buf_putc(b, '{');
        for (size_t i = 0; entries && entries[i]; i++) {
            bt_buf_puts(b, entries[i]);
            bt_buf_putc(b, ',');
        }
        bt_buf_putc(b, '}');
        bt_strv_free(entries);
        return;
    }
    case CNODE_SCALAR:
        break;
    }
    unsigned t = node_type(n);
    if (t & T_NUM) {
        int64_t i;
        double d = node_number(n);
        if (cnode_get_int(n, &i))
            bt_buf_printf(b, "n%lld", (long long)i);
        else if (is_integral(d) && d < 9.2e18 && d > -9.2e18)
            bt_buf_printf(b, "n%lld", (long long)d); /* 1.0 reads like 1 */
        else
            bt_buf_printf(b, "n%.17g", d);
    } else if (t == T_BOOL) {
        bool v = false;
        cnode_get_bool(n, &v);
        bt_buf_puts(b, v ? "t" : "f");
    } else if (t == T_NULL) {
        bt_buf_putc(b, '~');
    } else {
        bt_buf_printf(b, "s%zu:%s", strlen(n->value), n->value);
    }
}

/* ---- validating ---- */

/* One validation failure. Of several candidate errors (oneOf branches) the
 * deepest is the most useful; at equal depth, a wrong value beats a wrong
 * type, because a type mismatch only says the branch did not apply. */
struct verr {
    bool set;
    const struct cnode *at;
    char *path;
    char *msg;
    int depth;
    bool type_error; /* the value at `path` itself had a type not in `want` */
    unsigned want;
};

struct vctx {
    struct compose_schema *schema;
    struct bt_buf path;
    int depth;
    /* Schema keys used so far, while coverage is on; rolled back when a
     * oneOf/anyOf branch fails. */
    struct skey **trace;
    size_t n_trace, cap_trace;
};

static void
verr_done(struct verr *e)
{
    free(e->path);
    free(e->msg);
    *e = (struct verr){0};
}

static bool fail(struct vctx *v, struct verr *e, const struct cnode *at, int extra_depth,
                 const char *fmt, ...) BT_PRINTF(5, 6);
static bool
fail(struct vctx *v, struct verr *e, const struct cnode *at, int extra_depth, const char *fmt, ...)
{
    verr_done(e);
    va_list ap;
    va_start(ap, fmt);
    e->msg = xvasprintf(fmt, ap);
    va_end(ap);
    e->set = true;
    e->at = at;
    e->path = xstrdup(v->path.data ? v->path.data : "");
    e->depth = v->depth + extra_depth;
    return false;
}

static size_t
path_push_key(struct vctx *v, const char *key)
{
    size_t old = v->path.len;
    if (old)
        bt_buf_putc(&v->path, '.');
    bt_buf_puts(&v->path, key);
    v->depth++;
    return old;
}

static size_t
path_push_index(struct vctx *v, size_t i)
{
    size_t old = v->path.len;
    bt_buf_printf(&v->path, "[%zu]", i);
    v->depth++;
    return old;
}

static void
path_pop(struct vctx *v, size_t old)
{
    v->path.len = old;
    if (v->path.data)
        v->path.data[old] = '\0';
    v->depth--;
}

static void
trace_push(struct vctx *v, struct skey *k)
{
    if (!v->schema->coverage)
        return;
    if (v->n_trace == v->cap_trace) {
        v->cap_trace = v->cap_trace ? v->cap_trace * 2 : 64;
        v->trace = xreallocarray(v->trace, v->cap_trace, sizeof(*v->trace));
    }
    v->trace[v->n_trace++] = k;
}

/* "a string, a number or a mapping" */
static char *
describe_types(unsigned t)
{
    static const struct {
        unsigned bits;
        const char *name;
    } names[] = {
        {T_STR, "a string"},  {T_NUM, "a number"},   {T_INT, "an integer"}, {T_BOOL, "a boolean"},
        {T_OBJ, "a mapping"}, {T_ARR, "a sequence"}, {T_NULL, "null"},
    };
    const char *parts[BT_ARRAY_SIZE(names)];
    size_t n = 0;
    for (size_t i = 0; i < BT_ARRAY_SIZE(names); i++) {
        if (!(t & names[i].bits))
            continue;
        if (names[i].bits == T_INT && (t & T_NUM))
            continue;
        parts[n++] = names[i].name;
    }
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i)
            bt_buf_puts(&b, i + 1 == n ? " or " : ", ");
        bt_buf_puts(&b, parts[i]);
    }
    return bt_buf_steal(&b);
}

static bool
fail_type(struct vctx *v, struct verr *e, const struct cnode *n, unsigned want)
{
    _cleanup_free_ char *w = describe_types(want);
    fail(v, e, n, 0, "must be %s, not %s", w, cnode_kind_name(n));
    e->type_error = true;
    e->want = want;
    return false;
}

/* Shortens a user's value for quoting in a message. */
static char *
quote_value(const char *s)
{
    if (strlen(s) <= 60)
        return xasprintf("'%s'", s);
    return xasprintf("'%.57s...'", s);
}

static char *
describe_json(json_t *j)
{
    if (json_is_string(j))
        return xstrdup(json_string_value(j));
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    return s ? s : xstrdup("?");
}

/* Optimal string alignment distance (edits with adjacent transpositions),
 * for "did you mean". */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    _cleanup_free_ size_t *d = xcalloc((la + 1) * (lb + 1), sizeof(*d));
#define D(i, j) d[(i) * (lb + 1) + (j)]
    for (size_t i = 0; i <= la; i++)
        D(i, 0) = i;
    for (size_t j = 0; j <= lb; j++)
        D(0, j) = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < best)
                best = D(i, j - 1) + 1;
            if (D(i - 1, j - 1) + cost < best)
                best = D(i - 1, j - 1) + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                D(i - 2, j - 2) + 1 < best)
                best = D(i - 2, j - 2) + 1;
            D(i, j) = best;
        }
    }
    size_t r = D(la, lb);
#undef D
    return r;
}

/* Keeps cand in *best when it is closer to word than *best and close
 * enough to be a typo of it. */
static void
consider(const char *word, const char *cand, const char **best, size_t *best_d)
{
    if (strlen(word) > 64)
        return;
    size_t len = strlen(cand);
    size_t limit = len / 3 < 1 ? 1 : (len / 3 > 3 ? 3 : len / 3);
    size_t d = edit_distance(word, cand);
    if (d <= limit && d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

/* The known property closest to key, for "did you mean". */
static const char *
suggest(const struct schema *s, const char *key)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < s->n_props; i++)
        consider(key, s->props[i].name, &best, &best_d);
    return best;
}

static bool
fail_additional(struct vctx *v, struct verr *e, const struct schema *s, const struct cnode *key)
{
    _cleanup_free_ char *k = quote_value(key->value);
    const char *near = suggest(s, key->value);
    if (near)
        return fail(v, e, key, 1, "additional property %s is not allowed; did you mean '%s'?", k,
                    near);
    if (s->n_props == 0 && s->n_patterns > 0) {
        /* Only patterned names are allowed here (service names, ...). */
        const char *pattern = NULL;
        for (size_t i = 0; i < s->n_patterns && !pattern; i++)
            if (strcmp(s->patterns[i].name, "^x-") != 0)
                pattern = s->patterns[i].name;
        if (pattern)
            return fail(v, e, key, 1, "key %s is not allowed: keys must match '%s'", k, pattern);
    }
    return fail(v, e, key, 1, "additional property %s is not allowed", k);
}

static bool check(struct vctx *v, const struct schema *s, const struct cnode *n, struct verr *e);

static bool
check_object(struct vctx *v, const struct schema *s, const struct cnode *n, struct verr *e)
{
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->keys[i]->value;
        const struct cnode *item = n->items[i];
        bool matched = false;
        size_t old = path_push_key(v, key);
        struct skey probe = {.name = key};
        struct skey *p =
            s->n_props ? bsearch(&probe, s->props, s->n_props, sizeof(*s->props), skey_cmp) : NULL;
        if (p) {
            matched = true;
            trace_push(v, p);
            if (!check(v, p->s, item, e)) {
                path_pop(v, old);
                return false;
            }
        }
        for (size_t j = 0; j < s->n_patterns; j++) {
            struct skey *pp = &s->patterns[j];
            if (!regex_matches(&pp->re, pp->prefix, key))
                continue;
            matched = true;
            trace_push(v, pp);
            if (!check(v, pp->s, item, e)) {
                path_pop(v, old);
                return false;
            }
        }
        path_pop(v, old);
        if (matched)
            continue;
        if (s->additional_forbidden)
            return fail_additional(v, e, s, n->keys[i]);
        if (s->additional) {
            old = path_push_key(v, key);
            bool ok = check(v, s->additional, item, e);
            path_pop(v, old);
            if (!ok)
                return false;
        }
    }
    for (size_t i = 0; s->required && s->required[i]; i++)
        if (cnode_map_index(n, s->required[i]) < 0)
            return fail(v, e, n, 0, "missing required property '%s'", s->required[i]);
    return true;
}

struct canon_item {
    char *text;
    size_t index;
};

static int
canon_cmp(const void *a, const void *b)
{
    const struct canon_item *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Finds the first item (in document order) equal to an earlier one. Sorting
 * canonical texts keeps hostile sequences from costing n^2. */
static bool
find_duplicate(const struct cnode *n, size_t *dup, size_t *orig)
{
    if (n->n < 2)
        return false;
    struct canon_item *items = xcalloc(n->n, sizeof(*items));
    for (size_t i = 0; i < n->n; i++) {
        struct bt_buf b = {0};
        canonical(&b, n->items[i]);
        items[i].text = bt_buf_steal(&b);
        items[i].index = i;
    }
    qsort(items, n->n, sizeof(*items), canon_cmp);
    bool found = false;
    for (size_t i = 1; i < n->n; i++) {
        if (strcmp(items[i].text, items[i - 1].text) != 0)
            continue;
        /* items[i - 1] is the first of its group only when it starts it. */
        size_t first = i - 1;
        while (first > 0 && strcmp(items[first - 1].text, items[i].text) == 0)
            first--;
        if (!found || items[i].index < *dup) {
            *dup = items[i].index;
            *orig = items[first].index;
            found = true;
        }
    }
    for (size_t i = 0; i < n->n; i++)
        free(items[i].text);
    free(items);
    return found;
}

static bool
check_array(struct vctx *v, const struct schema *s, const struct cnode *n, struct verr *e)
{
    if (s->has_min_items && n->n < s->min_items)
        return fail(v, e, n, 0, "must have at least %zu items", s->min_items);
    if (s->has_max_items && n->n > s->max_items)
        return fail(v, e, n, 0, "must have at most %zu items", s->max_items);
    if (s->items) {
        for (size_t i = 0; i < n->n; i++) {
            size_t old = path_push_index(v, i);
            bool ok = check(v, s->items, n->items[i], e);
            path_pop(v, old);
            if (!ok)
                return false;
        }
    }
    size_t dup = 0, orig = 0;
    if (s->unique && find_duplicate(n, &dup, &orig)) {
        size_t old = path_push_index(v, dup);
        fail(v, e, n->items[dup], 0, "repeats item [%zu]; items must be unique", orig);
        path_pop(v, old);
        return false;
    }
    return true;
}

static size_t
utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool
check_scalar(struct vctx *v, const struct schema *s, const struct cnode *n, struct verr *e)
{
    unsigned t = node_type(n);
    if (t == T_STR) {
        if (s->has_min_len && utf8_length(n->value) < s->min_len)
            return fail(v, e, n, 0, "must be at least %zu characters long", s->min_len);
        if (s->has_max_len && utf8_length(n->value) > s->max_len)
            return fail(v, e, n, 0, "must be at most %zu characters long", s->max_len);
        if (s->pattern && !regex_matches(&s->pattern_re, s->pattern_prefix, n->value)) {
            _cleanup_free_ char *q = quote_value(n->value);
            return fail(v, e, n, 0, "%s does not match the pattern '%s'", q, s->pattern);
        }
    }
    if (t & T_NUM) {
        double d = node_number(n);
        if (s->has_minimum && !(s->min_exclusive ? d > s->minimum : d >= s->minimum))
            return fail(v, e, n, 0, "must be %s %g", s->min_exclusive ? ">" : ">=", s->minimum);
        if (s->has_maximum && !(s->max_exclusive ? d < s->maximum : d <= s->maximum))
            return fail(v, e, n, 0, "must be %s %g", s->max_exclusive ? "<" : "<=", s->maximum);
    }
    return true;
}

static bool
better(const struct verr *a, const struct verr *b)
{
    if (!b->set)
        return true;
    if (a->depth != b->depth)
        return a->depth > b->depth;
    return b->type_error && !a->type_error;
}

/* oneOf (exactly one branch) or anyOf (at least one). On failure reports
 * the most specific branch error, or, when every branch refused the value's
 * type, one message naming all the types that would do. */
static bool
check_branches(struct vctx *v, struct schema *const *list, size_t n_list, bool exactly_one,
               const struct cnode *n, struct verr *e)
{
    struct verr best = {0};
    size_t matches = 0, first_match = 0;
    size_t trace_mark = v->n_trace, trace_ok = v->n_trace;
    bool all_type = true;
    unsigned want = 0;
    for (size_t i = 0; i < n_list; i++) {
        struct verr be = {0};
        size_t mark = v->n_trace;
        if (check(v, list[i], n, &be)) {
            if (matches++ == 0)
                first_match = i;
            trace_ok = v->n_trace;
            if (!exactly_one)
                break;
            if (matches > 1) {
                verr_done(&best);
                v->n_trace = trace_mark;
                return fail(v, e, n, 0,
                            "matches more than one of the allowed forms (%zu and %zu); it must "
                            "match exactly one",
                            first_match + 1, i + 1);
            }
            continue;
        }
        v->n_trace = mark;
        if (!(be.type_error && be.depth == v->depth))
            all_type = false;
        else
            want |= be.want;
        if (better(&be, &best)) {
            verr_done(&best);
            best = be;
        } else {
            verr_done(&be);
        }
    }
    if (matches) {
        verr_done(&best);
        v->n_trace = trace_ok;
        return true;
    }
    if (all_type) {
        verr_done(&best);
        return fail_type(v, e, n, want);
    }
    verr_done(e);
    *e = best;
    return false;
}

static bool
check(struct vctx *v, const struct schema *s, const struct cnode *n, struct verr *e)
{
    if (s->never)
        return fail(v, e, n, 0, "is not allowed here");
    if (s->ref)
        return check(v, s->ref, n, e);
    if (s->types && !types_match(s->types, n))
        return fail_type(v, e, n, s->types);
    if (s->enum_values) {
        bool found = false;
        size_t i;
        json_t *ev;
        json_array_foreach (s->enum_values, i, ev) {
            if (node_equals_json(n, ev)) {
                found = true;
                break;
            }
        }
        if (!found) {
            struct bt_buf b = {0};
            bt_buf_puts(&b, "");
            json_array_foreach (s->enum_values, i, ev) {
                _cleanup_free_ char *d = describe_json(ev);
                bt_buf_printf(&b, "%s%s", i ? ", " : "", d);
            }
            _cleanup_free_ char *list = bt_buf_steal(&b);
            const char *best = NULL;
            size_t best_d = SIZE_MAX;
            if (node_type(n) == T_STR) {
                json_array_foreach (s->enum_values, i, ev) {
                    if (json_is_string(ev))
                        consider(n->value, json_string_value(ev), &best, &best_d);
                }
            }
            if (best)
                return fail(v, e, n, 0, "must be one of: %s; did you mean '%s'?", list, best);
            return fail(v, e, n, 0, "must be one of: %s", list);
        }
    }
    if (s->const_value && !node_equals_json(n, s->const_value)) {
        _cleanup_free_ char *d = describe_json(s->const_value);
        return fail(v, e, n, 0, "must be %s", d);
    }
    bool ok = true;
    switch (n->kind) {
    case CNODE_SCALAR:
        ok = check_scalar(v, s, n, e);
        break;
    case CNODE_MAP:
        ok = check_object(v, s, n, e);
        break;
    case CNODE_SEQ:
        ok = check_array(v, s, n, e);
        break;
    }
    if (!ok)
        return false;
    for (size_t i = 0; i < s->n_all_of; i++)
        if (!check(v, s->all_of[i], n, e))
            return false;
    if (s->n_any_of && !check_branches(v, s->any_of, s->n_any_of, false, n, e))
        return false;
    if (s->n_one_of && !check_branches(v, s->one_of, s->n_one_of, true, n, e))
        return false;
    if (s->not_) {
        struct verr ne = {0};
        size_t mark = v->n_trace;
        bool matched = check(v, s->not_, n, &ne);
        v->n_trace = mark;
        verr_done(&ne);
        if (matched)
            return fail(v, e, n, 0, "is not allowed in this form");
    }
    return true;
}

int
compose_schema_validate(struct compose_schema *schema, const struct cnode *root,
                        struct bt_err **err)
{
    struct vctx v = {.schema = schema};
    bt_buf_puts(&v.path, "");
    struct verr e = {0};
    bool ok = check(&v, schema->root, root, &e);
    if (ok) {
        for (size_t i = 0; i < v.n_trace; i++)
            v.trace[i]->uses++;
    }
    free(v.trace);
    bt_buf_done(&v.path);
    if (ok)
        return 0;
    _cleanup_free_ char *pos = cnode_pos(e.at);
    int r;
    if (e.path && e.path[0])
        r = bt_err_set(err, EINVAL, "%s: %s: %s", pos, e.path, e.msg);
    else
        r = bt_err_set(err, EINVAL, "%s: %s", pos, e.msg);
    verr_done(&e);
    return r;
}

int
compose_validate(const struct cnode *root, struct bt_err **err)
{
    return compose_schema_validate(embedded_schema(), root, err);
}

void
compose_schema_coverage_start(void)
{
    struct compose_schema *c = embedded_schema();
    for (size_t i = 0; i < c->n_keys; i++)
        c->keys[i]->uses = 0;
    c->coverage = true;
}

void
compose_schema_coverage_foreach(compose_schema_key_fn fn, void *data)
{
    struct compose_schema *c = embedded_schema();
    for (size_t i = 0; i < c->n_keys; i++) {
        /* Keys under a schema that only admits non-objects can never apply
         * (the spec's gpus list carries such a patternProperties). */
        const struct schema *o = c->keys[i]->owner;
        if (o->types && !(o->types & T_OBJ))
            continue;
        fn(c->keys[i]->where, c->keys[i]->uses, data);
    }
}

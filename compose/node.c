/* The compose node tree. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "compose/node-internal.h"

/* Maps with at least this many keys get a hash index; smaller ones are
 * scanned, which is as quick for the few keys most mappings hold. The
 * services of a large project are what needs it. */
#define INDEX_MIN 16

/* Open addressing over the positions of map->keys[0..n). */
struct cnode_index {
    size_t n;                  /* keys indexed */
    struct cnode *const *keys; /* the array they were indexed in */
    size_t mask;               /* slots - 1, slots a power of two */
    size_t *slot;              /* position + 1, 0 when free */
};

static struct cnode_index *
index_free(struct cnode_index *ix)
{
    if (ix) {
        free(ix->slot);
        free(ix);
    }
    return NULL;
}

static size_t
hash_str(const char *s)
{
    /* FNV-1a */
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static void
index_put(struct cnode_index *ix, size_t pos)
{
    size_t h = hash_str(ix->keys[pos]->value) & ix->mask;
    while (ix->slot[h])
        h = (h + 1) & ix->mask;
    ix->slot[h] = pos + 1;
}

/* Indexes map->keys[0..n), with room for the map to double. */
static struct cnode_index *
index_build(const struct cnode *map)
{
    struct cnode_index *ix = xcalloc(1, sizeof(*ix));
    size_t slots = 64;
    while (slots < 4 * map->n)
        slots *= 2;
    ix->mask = slots - 1;
    ix->slot = xcalloc(slots, sizeof(*ix->slot));
    ix->keys = map->keys;
    ix->n = map->n;
    for (size_t i = 0; i < map->n; i++)
        index_put(ix, i);
    return ix;
}

static bool
index_current(const struct cnode *map)
{
    return map->index && map->index->n == map->n && map->index->keys == map->keys;
}

/* After map->keys[map->n - 1] was appended: keeps a current index current
 * while it has room, and drops it otherwise (the next lookup rebuilds it). */
static void
index_note_append(struct cnode *map)
{
    struct cnode_index *ix = map->index;
    if (!ix)
        return;
    if (ix->n + 1 != map->n || 2 * map->n > ix->mask + 1) {
        map->index = index_free(ix);
        return;
    }
    ix->keys = map->keys;
    ix->n = map->n;
    index_put(ix, map->n - 1);
}

const char *
cnode_intern(const char *s)
{
    /* Few distinct strings (file names): a list is enough. They live until
     * exit by design. */
    static char **interned;
    for (size_t i = 0; interned && interned[i]; i++)
        if (interned[i] == s || strcmp(interned[i], s) == 0)
            return interned[i];
    interned = bt_strv_push(interned, s);
    return interned[bt_strv_length(interned) - 1];
}

struct cnode *
cnode_new(enum cnode_kind kind, const char *file, int line, int col)
{
    struct cnode *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->file = file ? cnode_intern(file) : cnode_intern("<input>");
    n->line = line;
    n->col = col;
    if (kind == CNODE_SCALAR)
        n->value = xstrdup("");
    return n;
}

struct cnode *
cnode_new_scalar(const char *value, bool quoted, const struct cnode *pos)
{
    struct cnode *n = xcalloc(1, sizeof(*n));
    n->kind = CNODE_SCALAR;
    n->value = xstrdup(value);
    n->quoted = quoted;
    n->file = pos ? pos->file : cnode_intern("<input>");
    n->line = pos ? pos->line : 0;
    n->col = pos ? pos->col : 0;
    return n;
}

struct cnode *
cnode_free(struct cnode *n)
{
    if (!n)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            cnode_free(n->keys[i]);
        cnode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->value);
    index_free(n->index);
    free(n);
    return NULL;
}

struct cnode *
cnode_copy(const struct cnode *n)
{
    if (!n)
        return NULL;
    struct cnode *c = xcalloc(1, sizeof(*c));
    *c = *n;
    c->value = xstrdup(n->value);
    c->keys = NULL;
    c->items = NULL;
    c->index = NULL;
    c->cap = n->n;
    if (n->n) {
        c->items = xcalloc(n->n, sizeof(*c->items));
        if (n->kind == CNODE_MAP)
            c->keys = xcalloc(n->n, sizeof(*c->keys));
        for (size_t i = 0; i < n->n; i++) {
            c->items[i] = cnode_copy(n->items[i]);
            if (n->kind == CNODE_MAP)
                c->keys[i] = cnode_copy(n->keys[i]);
        }
    }
    return c;
}

void
cnode_set_value_take(struct cnode *n, char *value)
{
    free(n->value);
    n->value = value;
    n->typed = false;
}

static bool
match_any(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static bool
is_int(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p[2]) {
        const char *digits = p[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567";
        return strspn(p + 2, digits) == strlen(p + 2);
    }
    return *p && strspn(p, "0123456789") == strlen(p);
}

static bool
is_float(const char *s)
{
    static const char *const special[] = {".inf",  "-.inf", "+.inf", ".Inf",  "-.Inf",
                                          "+.Inf", ".INF",  "-.INF", "+.INF", ".nan",
                                          ".NaN",  ".NAN",  NULL};
    /* The special values are all four or five characters long. */
    if (strlen(s) <= 5 && match_any(s, special))
        return true;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t intd = strspn(p, "0123456789");
    p += intd;
    size_t fracd = 0;
    if (*p == '.') {
        p++;
        fracd = strspn(p, "0123456789");
        p += fracd;
    }
    if (intd + fracd == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        size_t e = strspn(p, "0123456789");
        if (!e)
            return false;
        p += e;
    }
    return *p == '\0';
}

enum cnode_type
cnode_plain_type(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
    /* Most plain scalars are words: only these first characters can start
     * a null, a boolean or a number. */
    if (s[0] && !strchr("~nNtTfF0123456789+-.", s[0]))
        return CNODE_T_STRING;
    /* The rest are numbers or text starting like one. Null and boolean
     * words are at most five characters long. */
    if (!s[0] || strchr("~nNtTfF", s[0])) {
        if (strlen(s) <= 5 && match_any(s, nulls))
            return CNODE_T_NULL;
        if (strlen(s) <= 5 && match_any(s, bools))
            return CNODE_T_BOOL;
        return CNODE_T_STRING;
    }
    if (is_int(s))
        return CNODE_T_INT;
    if (is_float(s))
        return CNODE_T_FLOAT;
    return CNODE_T_STRING;
}

enum cnode_type
cnode_type(const struct cnode *n)
{
    if (!n || n->kind != CNODE_SCALAR)
        return CNODE_T_STRING;
    if (!n->typed) {
        /* A cache in a node the caller sees as const: the node itself is
         * never const, and the answer only depends on value and quoted. */
        struct cnode *m = (struct cnode *)n;
        m->type = n->quoted ? CNODE_T_STRING : cnode_plain_type(n->value);
        m->typed = true;
    }
    return n->type;
}

bool
cnode_is_null(const struct cnode *n)
{
    return !n || (n->kind == CNODE_SCALAR && cnode_type(n) == CNODE_T_NULL);
}

bool
cnode_get_bool(const struct cnode *n, bool *out)
{
    if (!n || cnode_type(n) != CNODE_T_BOOL)
        return false;
    *out = n->value[0] == 't' || n->value[0] == 'T';
    return true;
}

bool
cnode_get_int(const struct cnode *n, int64_t *out)
{
    if (!n || cnode_type(n) != CNODE_T_INT)
        return false;
    char *end = NULL;
    errno = 0;
    const char *p = n->value;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    int base = 10;
    if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && p[1] == 'o') {
        base = 8;
        p += 2;
    }
    long long v = strtoll(p, &end, base);
    if (errno || *end)
        return false;
    *out = sign * v;
    return true;
}

ssize_t
cnode_map_index(const struct cnode *map, const char *key)
{
    if (!map || map->kind != CNODE_MAP)
        return -1;
    if (map->n < INDEX_MIN) {
        for (size_t i = 0; i < map->n; i++)
            if (strcmp(map->keys[i]->value, key) == 0)
                return (ssize_t)i;
        return -1;
    }
    if (!index_current(map)) {
        /* Built on demand in a map the caller sees as const, as cnode_type
         * caches its answer. */
        struct cnode *m = (struct cnode *)map;
        index_free(m->index);
        m->index = index_build(map);
    }
    const struct cnode_index *ix = map->index;
    for (size_t h = hash_str(key) & ix->mask; ix->slot[h]; h = (h + 1) & ix->mask) {
        size_t i = ix->slot[h] - 1;
        if (strcmp(map->keys[i]->value, key) == 0)
            return (ssize_t)i;
    }
    return -1;
}

struct cnode *
cnode_map_get(const struct cnode *map, const char *key)
{
    ssize_t i = cnode_map_index(map, key);
    return i < 0 ? NULL : map->items[i];
}

static void
grow(struct cnode *n)
{
    if (n->n < n->cap)
        return;
    n->cap = n->cap ? n->cap * 2 : 4;
    n->items = xreallocarray(n->items, n->cap, sizeof(*n->items));
    if (n->kind == CNODE_MAP)
        n->keys = xreallocarray(n->keys, n->cap, sizeof(*n->keys));
}

void
cnode_map_set_take(struct cnode *map, struct cnode *key, struct cnode *val)
{
    ssize_t i = cnode_map_index(map, key->value);
    if (i >= 0) {
        cnode_free(map->items[i]);
        map->items[i] = val;
        cnode_free(key);
        return;
    }
    cnode_map_push_take(map, key, val);
}

void
cnode_map_push_take(struct cnode *map, struct cnode *key, struct cnode *val)
{
    assert(map->kind == CNODE_MAP);
    grow(map);
    map->keys[map->n] = key;
    map->items[map->n] = val;
    map->n++;
    index_note_append(map);
}

void
cnode_map_set_str_take(struct cnode *map, const char *key, struct cnode *val)
{
    cnode_map_set_take(map, cnode_new_scalar(key, false, val ? val : map), val);
}

void
cnode_map_del(struct cnode *map, const char *key)
{
    ssize_t i = cnode_map_index(map, key);
    if (i < 0)
        return;
    cnode_free(map->keys[i]);
    cnode_free(map->items[i]);
    memmove(&map->keys[i], &map->keys[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->keys));
    memmove(&map->items[i], &map->items[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->items));
    map->n--;
    map->index = index_free(map->index);
}

void
cnode_seq_push_take(struct cnode *seq, struct cnode *item)
{
    grow(seq);
    seq->items[seq->n++] = item;
}

char *
cnode_pos(const struct cnode *n)
{
    if (!n)
        return xstrdup("<input>");
    return xasprintf("%s:%d:%d", n->file, n->line, n->col);
}

const char *
cnode_kind_name(const struct cnode *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case CNODE_MAP:
        return "a mapping";
    case CNODE_SEQ:
        return "a sequence";
    case CNODE_SCALAR:
        break;
    }
    switch (cnode_type(n)) {
    case CNODE_T_NULL:
        return "null";
    case CNODE_T_BOOL:
        return "a boolean";
    case CNODE_T_INT:
        return "an integer";
    case CNODE_T_FLOAT:
        return "a number";
    case CNODE_T_STRING:
        break;
    }
    return "a string";
}

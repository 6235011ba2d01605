/* YAML <-> node tree with libyaml: positions kept, anchors and aliases
 * expanded, merge keys applied, `!reset`/`!override` recorded as tags. */
#include <assert.h>
#include <string.h>
#include <yaml.h>

#include "compose/node-internal.h"

/* Bounds that keep hostile input (alias bombs, deep nesting) from exhausting
 * memory or the stack. */
#define MAX_DEPTH 256
#define MAX_NODES 1000000

struct anchor {
    char *name;
    struct cnode *node; /* a copy, owned */
};

struct parser {
    yaml_parser_t yp;
    const char *file;
    struct anchor *anchors;
    size_t n_anchors;
    size_t nodes;
    struct bt_err **err;
};

static int
count_nodes(const struct cnode *n)
{
    int c = 1;
    for (size_t i = 0; i < n->n; i++)
        c += count_nodes(n->items[i]) + (n->keys ? 1 : 0);
    return c;
}

static int perr(struct parser *p, const yaml_mark_t *m, const char *fmt, ...) BT_PRINTF(3, 4);
static int
perr(struct parser *p, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    return bt_err_set(p->err, EINVAL, "%s:%zu:%zu: %s", p->file, m->line + 1, m->column + 1, msg);
}

static int
next_event(struct parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yp, ev)) {
        const yaml_mark_t *m = p->yp.problem_mark.line || p->yp.problem_mark.column
                                   ? &p->yp.problem_mark
                                   : &p->yp.context_mark;
        return perr(p, m, "%s%s%s", p->yp.problem ? p->yp.problem : "invalid YAML",
                    p->yp.context ? " " : "", p->yp.context ? p->yp.context : "");
    }
    return 0;
}

static void
set_anchor(struct parser *p, const char *name, const struct cnode *n)
{
    for (size_t i = 0; i < p->n_anchors; i++) {
        if (strcmp(p->anchors[i].name, name) == 0) {
            cnode_free(p->anchors[i].node);
            p->anchors[i].node = cnode_copy(n);
            return;
        }
    }
    p->anchors = xreallocarray(p->anchors, p->n_anchors + 1, sizeof(*p->anchors));
    p->anchors[p->n_anchors].name = xstrdup(name);
    p->anchors[p->n_anchors].node = cnode_copy(n);
    p->n_anchors++;
}

static int
tag_of(struct parser *p, const yaml_char_t *tag, const yaml_mark_t *m, enum cnode_tag *out,
       bool *force_str)
{
    *out = CNODE_TAG_NONE;
    if (!tag)
        return 0;
    const char *t = (const char *)tag;
    if (strcmp(t, "!reset") == 0)
        *out = CNODE_TAG_RESET;
    else if (strcmp(t, "!override") == 0)
        *out = CNODE_TAG_OVERRIDE;
    else if (strcmp(t, YAML_STR_TAG) == 0)
        *force_str = true;
    else if (!bt_str_startswith(t, "tag:yaml.org,2002:"))
        return perr(p, m, "unknown tag '%s' (berth knows !reset and !override)", t);
    return 0;
}

static int parse_node(struct parser *p, yaml_event_t *ev, int depth, struct cnode **out);

/* Applies `<<: *base` / `<<: [*a, *b]`: keys not set explicitly come from the
 * merged mappings, earlier ones first. The keys and values taken are moved
 * out of src, which is the parser's own copy. */
static int
apply_merge(struct parser *p, struct cnode *map, struct cnode *src, const yaml_mark_t *m)
{
    if (src->kind == CNODE_SEQ) {
        for (size_t i = 0; i < src->n; i++) {
            int r = apply_merge(p, map, src->items[i], m);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (src->kind != CNODE_MAP)
        return perr(p, m, "merge key '<<' needs a mapping or a sequence of mappings");
    for (size_t i = 0; i < src->n; i++) {
        if (cnode_map_index(map, src->keys[i]->value) >= 0)
            continue;
        cnode_map_push_take(map, TAKE_PTR(src->keys[i]), TAKE_PTR(src->items[i]));
    }
    return 0;
}

static int
parse_mapping(struct parser *p, yaml_event_t *start, int depth, struct cnode **out)
{
    _cleanup_cnode_ struct cnode *map = cnode_new(
        CNODE_MAP, p->file, (int)start->start_mark.line + 1, (int)start->start_mark.column + 1);
    _cleanup_cnode_ struct cnode *merges = NULL; /* made at the first '<<' */
    bool force_str = false;
    int r = tag_of(p, start->data.mapping_start.tag, &start->start_mark, &map->tag, &force_str);
    if (r < 0)
        return r;
    for (;;) {
        yaml_event_t ev;
        r = next_event(p, &ev);
        if (r < 0)
            return r;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        _cleanup_cnode_ struct cnode *key = NULL;
        yaml_mark_t key_mark = ev.start_mark;
        r = parse_node(p, &ev, depth + 1, &key);
        if (r < 0)
            return r;
        if (key->kind != CNODE_SCALAR)
            return perr(p, &key_mark, "mapping keys must be scalars, not %s", cnode_kind_name(key));
        yaml_event_t vev;
        r = next_event(p, &vev);
        if (r < 0)
            return r;
        _cleanup_cnode_ struct cnode *val = NULL;
        r = parse_node(p, &vev, depth + 1, &val);
        if (r < 0)
            return r;
        if (!key->quoted && strcmp(key->value, "<<") == 0) {
            if (!merges)
                merges = cnode_new(CNODE_SEQ, p->file, 0, 0);
            cnode_seq_push_take(merges, TAKE_PTR(val));
            continue;
        }
        if (cnode_map_index(map, key->value) >= 0)
            return perr(p, &key_mark, "key '%s' is already defined in this mapping", key->value);
        cnode_map_push_take(map, TAKE_PTR(key), TAKE_PTR(val));
    }
    for (size_t i = 0; merges && i < merges->n; i++) {
        yaml_mark_t m = {.line = (size_t)merges->items[i]->line - 1,
                         .column = (size_t)merges->items[i]->col - 1};
        r = apply_merge(p, map, merges->items[i], &m);
        if (r < 0)
            return r;
    }
    *out = TAKE_PTR(map);
    return 0;
}

static int
parse_sequence(struct parser *p, yaml_event_t *start, int depth, struct cnode **out)
{
    _cleanup_cnode_ struct cnode *seq = cnode_new(
        CNODE_SEQ, p->file, (int)start->start_mark.line + 1, (int)start->start_mark.column + 1);
    bool force_str = false;
    int r = tag_of(p, start->data.sequence_start.tag, &start->start_mark, &seq->tag, &force_str);
    if (r < 0)
        return r;
    for (;;) {
        yaml_event_t ev;
        r = next_event(p, &ev);
        if (r < 0)
            return r;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        struct cnode *item = NULL;
        r = parse_node(p, &ev, depth + 1, &item);
        if (r < 0)
            return r;
        cnode_seq_push_take(seq, item);
    }
    *out = TAKE_PTR(seq);
    return 0;
}

/* Consumes ev (deleting it) and any events of the node's children. */
static int
parse_node(struct parser *p, yaml_event_t *ev, int depth, struct cnode **out)
{
    int r = 0;
    const yaml_char_t *anchor = NULL;
    yaml_mark_t mark = ev->start_mark;
    if (depth > MAX_DEPTH) {
        r = perr(p, &mark, "nesting deeper than %d levels", MAX_DEPTH);
        yaml_event_delete(ev);
        return r;
    }
    if (++p->nodes > MAX_NODES) {
        yaml_event_delete(ev);
        return perr(p, &mark, "document too large (more than %d nodes)", MAX_NODES);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (strnlen((const char *)ev->data.scalar.value, ev->data.scalar.length) !=
            ev->data.scalar.length) {
            r = perr(p, &mark, "scalar contains a NUL character");
            break;
        }
        /* Built here rather than by cnode_new, which would give it an
         * empty value first: this runs for every scalar of the file. */
        struct cnode *n = xcalloc(1, sizeof(*n));
        n->kind = CNODE_SCALAR;
        n->value = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->file = p->file;
        n->line = (int)mark.line + 1;
        n->col = (int)mark.column + 1;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
                    ev->data.scalar.style != YAML_ANY_SCALAR_STYLE;
        bool force_str = false;
        r = tag_of(p, ev->data.scalar.tag, &mark, &n->tag, &force_str);
        if (force_str)
            n->quoted = true;
        if (r < 0) {
            cnode_free(n);
            break;
        }
        anchor = ev->data.scalar.anchor;
        *out = n;
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        struct cnode *target = NULL;
        for (size_t i = 0; i < p->n_anchors; i++)
            if (strcmp(p->anchors[i].name, name) == 0)
                target = p->anchors[i].node;
        if (!target) {
            r = perr(p, &mark, "unknown anchor '%s'", name);
            break;
        }
        p->nodes += (size_t)count_nodes(target);
        if (p->nodes > MAX_NODES) {
            r = perr(p, &mark, "aliases expand to more than %d nodes", MAX_NODES);
            break;
        }
        *out = cnode_copy(target);
        break;
    }
    case YAML_MAPPING_START_EVENT:
        r = parse_mapping(p, ev, depth, out);
        anchor = ev->data.mapping_start.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        r = parse_sequence(p, ev, depth, out);
        anchor = ev->data.sequence_start.anchor;
        break;
    default:
        r = perr(p, &mark, "unexpected YAML event");
        break;
    }
    if (r == 0 && anchor)
        set_anchor(p, (const char *)anchor, *out);
    yaml_event_delete(ev);
    return r;
}

struct cnode *
compose_yaml_parse(const char *data, size_t len, const char *file, struct bt_err **err)
{
    struct parser p = {.file = cnode_intern(file), .err = err};
    if (!yaml_parser_initialize(&p.yp)) {
        bt_err_set(err, ENOMEM, "%s: cannot initialise the YAML parser", file);
        return NULL;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)data, len);
    struct cnode *root = NULL;
    int r = 0;
    bool done = false;
    while (r == 0 && !done) {
        yaml_event_t ev;
        r = next_event(&p, &ev);
        if (r < 0)
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (root) {
                r = perr(&p, &ev.start_mark,
                         "a compose file holds one YAML document, this is a second one");
            }
            yaml_event_delete(&ev);
            break;
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            done = true;
            break;
        default:
            r = parse_node(&p, &ev, 0, &root);
            break;
        }
    }
    for (size_t i = 0; i < p.n_anchors; i++) {
        free(p.anchors[i].name);
        cnode_free(p.anchors[i].node);
    }
    free(p.anchors);
    yaml_parser_delete(&p.yp);
    if (r < 0)
        return cnode_free(root);
    if (!root || cnode_is_null(root)) {
        cnode_free(root);
        return cnode_new(CNODE_MAP, file, 1, 1);
    }
    return root;
}

/* ---- emitting ---- */

static int
emit_write(void *data, unsigned char *buf, size_t size)
{
    bt_buf_append(data, (const char *)buf, size);
    return 1;
}

static bool
emit_node(yaml_emitter_t *em, const struct cnode *n)
{
    yaml_event_t ev;
    switch (n->kind) {
    case CNODE_SCALAR: {
        yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
        /* Keep the type: a string that would read back as a number, bool or
         * null is quoted; multi-line strings use the literal style. */
        if (n->quoted) {
            if (cnode_plain_type(n->value) != CNODE_T_STRING)
                style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            else if (strchr(n->value, '\n'))
                style = YAML_LITERAL_SCALAR_STYLE;
        }
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->value,
                                     (int)strlen(n->value), style == YAML_ANY_SCALAR_STYLE, 1,
                                     style);
        return yaml_emitter_emit(em, &ev);
    }
    case CNODE_MAP:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(em, n->keys[i]) || !emit_node(em, n->items[i]))
                return false;
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    case CNODE_SEQ:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(em, n->items[i]))
                return false;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    return false;
}

char *
compose_yaml_emit(const struct cnode *n)
{
    struct bt_buf out = {0};
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, emit_write, &out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    bool ok = yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && emit_node(&em, n);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    /* The emitter fails only on events it cannot represent, which this
     * function never builds. */
    if (!ok)
        abort();
    return bt_buf_steal(&out);
}

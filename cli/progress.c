/* cli: Compose-style progress lines (see progress.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/progress.h"
#include "common/size.h"

struct entry {
    char *kind, *name, *text;
    enum cli_progress_status status;
    /* a child (cli_progress_child): its parent's kind and name; kind is ""
     * and name the child's id */
    char *parent_kind, *parent_name;
    int64_t current, total;
};

struct cli_progress {
    FILE *out;
    bool tty, color;
    pthread_mutex_t lock;
    struct entry *entries;
    size_t n;
    size_t drawn; /* lines of the current block on screen */
    unsigned spin;
};

struct cli_progress *
cli_progress_new(FILE *out, bool tty, bool color)
{
    struct cli_progress *p = xcalloc(1, sizeof(*p));
    p->out = out;
    p->tty = tty;
    p->color = color;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

struct cli_progress *
cli_progress_new_default(const char *ansi)
{
    bool tty = isatty(STDERR_FILENO);
    if (ansi && strcmp(ansi, "never") == 0)
        tty = false;
    if (ansi && strcmp(ansi, "always") == 0)
        tty = true;
    bool color = tty && !getenv("NO_COLOR");
    return cli_progress_new(stderr, tty, color);
}

static void
entries_clear(struct cli_progress *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->entries[i].kind);
        free(p->entries[i].name);
        free(p->entries[i].text);
        free(p->entries[i].parent_kind);
        free(p->entries[i].parent_name);
    }
    free(p->entries);
    p->entries = NULL;
    p->n = 0;
    p->drawn = 0;
}

struct cli_progress *
cli_progress_free(struct cli_progress *p)
{
    if (!p)
        return NULL;
    fflush(p->out);
    entries_clear(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
}

static const char *
glyph(const struct cli_progress *p, enum cli_progress_status st)
{
    static const char *const spinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    switch (st) {
    case CLI_PROGRESS_WORKING:
        return spinner[p->spin % BT_ARRAY_SIZE(spinner)];
    case CLI_PROGRESS_DONE:
        return "✔";
    case CLI_PROGRESS_WARNING:
        return "!";
    case CLI_PROGRESS_ERROR:
        return "✘";
    }
    return " ";
}

static const char *
color_of(enum cli_progress_status st)
{
    switch (st) {
    case CLI_PROGRESS_WORKING:
        return "\033[34m";
    case CLI_PROGRESS_DONE:
        return "\033[32m";
    case CLI_PROGRESS_WARNING:
        return "\033[33m";
    case CLI_PROGRESS_ERROR:
        return "\033[31m";
    }
    return "";
}

/* "Kind name", or the name alone for a line of no kind (a service's pull,
 * as Compose shows it). */
static size_t
label_len(const struct entry *e)
{
    return (e->kind[0] ? strlen(e->kind) + 1 : 0) + strlen(e->name);
}

/* Width of the "Kind name" column so the texts line up, as Compose does. */
static size_t
label_width(const struct cli_progress *p)
{
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->entries[i].parent_kind)
            continue;
        size_t l = label_len(&p->entries[i]);
        if (l > w)
            w = l;
    }
    return w;
}

static void
draw_entry(struct cli_progress *p, const struct entry *e, size_t width)
{
    size_t l = label_len(e);
    const char *sep = e->kind[0] ? " " : "";
    if (p->color)
        fprintf(p->out, " %s%s\033[0m %s%s%s%*s  %s%s\033[0m\033[K\n", color_of(e->status),
                glyph(p, e->status), e->kind, sep, e->name, (int)(width - l), "",
                e->status == CLI_PROGRESS_ERROR ? "\033[31m" : "", e->text);
    else
        fprintf(p->out, " %s %s%s%s%*s  %s\033[K\n", glyph(p, e->status), e->kind, sep, e->name,
                (int)(width - l), "", e->text);
}

static bool
is_child_of(const struct entry *c, const struct entry *parent)
{
    return c->parent_kind && strcmp(c->parent_kind, parent->kind) == 0 &&
           strcmp(c->parent_name, parent->name) == 0;
}

/* "a1b2c3d4e5f6 Downloading [=====>      ] 1.2MB/3.4MB", indented below
 * its parent. */
static void
draw_child(struct cli_progress *p, const struct entry *e)
{
    enum { BAR = 30 };
    char bar[BAR + 4] = "";
    _cleanup_free_ char *bytes = NULL;
    if (e->total > 0 && e->status == CLI_PROGRESS_WORKING) {
        int64_t cur = e->current < e->total ? e->current : e->total;
        size_t eqs = (size_t)(cur * BAR / e->total);
        bar[0] = '[';
        for (size_t k = 0; k < BAR; k++)
            bar[1 + k] = k < eqs ? '=' : k == eqs ? '>' : ' ';
        bar[BAR + 1] = ']';
        bar[BAR + 2] = '\0';
        _cleanup_free_ char *a = bt_size_human(cur);
        _cleanup_free_ char *b = bt_size_human(e->total);
        bytes = xasprintf("%s/%s", a, b);
    }
    if (p->color)
        fprintf(p->out, "   %s%s\033[0m %s %s%s%s%s%s\033[K\n", color_of(e->status),
                glyph(p, e->status), e->name, e->text, bar[0] ? " " : "", bar, bytes ? " " : "",
                bytes ? bytes : "");
    else
        fprintf(p->out, "   %s %s %s%s%s%s%s\033[K\n", glyph(p, e->status), e->name, e->text,
                bar[0] ? " " : "", bar, bytes ? " " : "", bytes ? bytes : "");
}

/* Rows of the terminal, 0 when unknown. */
static unsigned
term_rows(const struct cli_progress *p)
{
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) < 0)
        return 0;
    return ws.ws_row;
}

static void
redraw(struct cli_progress *p)
{
    if (p->drawn)
        fprintf(p->out, "\033[%zuA\r", p->drawn);
    size_t width = label_width(p), done = 0, top = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->entries[i].parent_kind)
            continue;
        top++;
        done += p->entries[i].status != CLI_PROGRESS_WORKING;
    }
    /* Compose's header: how many of the objects have finished */
    if (p->color)
        fprintf(p->out, "\033[34m[+] Running %zu/%zu\033[0m\033[K\n", done, top);
    else
        fprintf(p->out, "[+] Running %zu/%zu\033[K\n", done, top);
    /* the parts only while the whole block fits the screen, as Compose
     * does: moving up past the top of the screen cannot redraw */
    unsigned rows = term_rows(p);
    bool children = rows == 0 || p->n + 1 < rows;
    size_t lines = 1;
    for (size_t i = 0; i < p->n; i++) {
        const struct entry *e = &p->entries[i];
        if (e->parent_kind)
            continue;
        draw_entry(p, e, width);
        lines++;
        for (size_t k = 0; children && k < p->n; k++)
            if (is_child_of(&p->entries[k], e)) {
                draw_child(p, &p->entries[k]);
                lines++;
            }
    }
    if (lines < p->drawn) {
        /* fewer lines than last time: clear what is left below */
        fprintf(p->out, "\033[J");
    }
    p->drawn = lines;
    p->spin++;
    fflush(p->out);
}

static struct entry *
entry_get(struct cli_progress *p, const char *parent_kind, const char *parent_name,
          const char *kind, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        struct entry *e = &p->entries[i];
        if (strcmp(e->kind, kind) == 0 && strcmp(e->name, name) == 0 &&
            bt_streq_null(e->parent_kind, parent_kind) &&
            bt_streq_null(e->parent_name, parent_name))
            return e;
    }
    p->entries = xreallocarray(p->entries, p->n + 1, sizeof(*p->entries));
    struct entry *e = &p->entries[p->n++];
    *e = (struct entry){
        .kind = xstrdup(kind),
        .name = xstrdup(name),
        .parent_kind = parent_kind ? xstrdup(parent_kind) : NULL,
        .parent_name = parent_name ? xstrdup(parent_name) : NULL,
    };
    return e;
}

void
cli_progress_event(struct cli_progress *p, const char *kind, const char *name,
                   enum cli_progress_status status, const char *text)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (!p->tty) {
        fprintf(p->out, " %s%s%s  %s\n", kind, kind[0] ? " " : "", name, text);
        fflush(p->out);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    struct entry *e = entry_get(p, NULL, NULL, kind, name);
    free(e->text);
    e->text = xstrdup(text);
    e->status = status;
    redraw(p);
    pthread_mutex_unlock(&p->lock);
}

void
cli_progress_child(struct cli_progress *p, const char *kind, const char *name, const char *id,
                   enum cli_progress_status status, const char *text, int64_t current,
                   int64_t total)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    struct entry *e = entry_get(p, kind, name, "", id);
    bool changed = !bt_streq_null(e->text, text);
    free(e->text);
    e->text = xstrdup(text);
    e->status = status;
    e->current = current;
    e->total = total;
    if (p->tty) {
        redraw(p);
    } else if (changed) {
        fprintf(p->out, " %s %s\n", id, text);
        fflush(p->out);
    }
    pthread_mutex_unlock(&p->lock);
}

void
cli_progress_layer(void *data, const char *kind, const char *name, const char *layer,
                   enum compose_event_status status, const char *text, int64_t current,
                   int64_t total)
{
    cli_progress_child(data, kind, name, layer, (enum cli_progress_status)status, text, current,
                       total);
}

void
cli_progress_eventf(struct cli_progress *p, const char *kind, const char *name,
                    enum cli_progress_status status, const char *fmt, ...)
{
    if (!p)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *text = xvasprintf(fmt, ap);
    va_end(ap);
    cli_progress_event(p, kind, name, status, text);
}

void
cli_progress_message(struct cli_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (!p) {
        fprintf(stderr, "%s\n", msg);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->tty && p->drawn) {
        /* above the block: move up, print, redraw the block below it */
        fprintf(p->out, "\033[%zuA\r%s\033[K\n", p->drawn, msg);
        p->drawn = 0;
        redraw(p);
    } else {
        fprintf(p->out, "%s\n", msg);
        fflush(p->out);
    }
    pthread_mutex_unlock(&p->lock);
}

void
cli_progress_flush(struct cli_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    fflush(p->out);
    entries_clear(p);
    pthread_mutex_unlock(&p->lock);
}

/* cli: Compose-style progress lines (see progress.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/progress.h"

struct entry {
    char *kind, *name, *text;
    enum cli_progress_status status;
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

/* Width of the "Kind name" column so the texts line up, as Compose does. */
static size_t
label_width(const struct cli_progress *p)
{
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        size_t l = strlen(p->entries[i].kind) + 1 + strlen(p->entries[i].name);
        if (l > w)
            w = l;
    }
    return w;
}

static void
draw_entry(struct cli_progress *p, const struct entry *e, size_t width)
{
    size_t l = strlen(e->kind) + 1 + strlen(e->name);
    if (p->color)
        fprintf(p->out, " %s%s\033[0m %s %s%*s  %s%s\033[0m\033[K\n", color_of(e->status),
                glyph(p, e->status), e->kind, e->name, (int)(width - l), "",
                e->status == CLI_PROGRESS_ERROR ? "\033[31m" : "", e->text);
    else
        fprintf(p->out, " %s %s %s%*s  %s\n", glyph(p, e->status), e->kind, e->name,
                (int)(width - l), "", e->text);
}

static void
redraw(struct cli_progress *p)
{
    if (p->drawn)
        fprintf(p->out, "\033[%zuA\r", p->drawn);
    size_t width = label_width(p), done = 0;
    for (size_t i = 0; i < p->n; i++)
        done += p->entries[i].status != CLI_PROGRESS_WORKING;
    /* Compose's header: how many of the objects have finished */
    if (p->color)
        fprintf(p->out, "\033[34m[+] Running %zu/%zu\033[0m\033[K\n", done, p->n);
    else
        fprintf(p->out, "[+] Running %zu/%zu\n", done, p->n);
    for (size_t i = 0; i < p->n; i++)
        draw_entry(p, &p->entries[i], width);
    p->drawn = p->n + 1;
    p->spin++;
    fflush(p->out);
}

void
cli_progress_event(struct cli_progress *p, const char *kind, const char *name,
                   enum cli_progress_status status, const char *text)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (!p->tty) {
        fprintf(p->out, " %s %s  %s\n", kind, name, text);
        fflush(p->out);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    struct entry *e = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].kind, kind) == 0 && strcmp(p->entries[i].name, name) == 0)
            e = &p->entries[i];
    if (!e) {
        p->entries = xreallocarray(p->entries, p->n + 1, sizeof(*p->entries));
        e = &p->entries[p->n++];
        e->kind = xstrdup(kind);
        e->name = xstrdup(name);
        e->text = NULL;
    }
    free(e->text);
    e->text = xstrdup(text);
    e->status = status;
    redraw(p);
    pthread_mutex_unlock(&p->lock);
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

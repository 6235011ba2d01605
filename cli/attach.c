/* Attached stdin for run and container run: our stdin goes to the
 * container's through the fd its monitor hands out (the stdin pipe, or the
 * pty master with a terminal). A thread copies it, so the output side
 * (following the log) stays as it is. With a terminal the local one is put
 * in raw mode and restored, and its window size follows SIGWINCH. End of
 * file on our stdin closes the container's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/attach.h"
#include "engine/engine.h"

struct cli_attach {
    pthread_t thread;
    bool started;
    int fd;      /* the container's stdin */
    int stop[2]; /* written to end the thread */
    int winch;   /* signalfd for SIGWINCH, with a terminal */
    bool tty;
    bool raw;
    char keys[16]; /* the detach keys */
    size_t n_keys;
    size_t matched;        /* how many of them were typed so far, held back */
    _Atomic bool detached; /* all of them were typed */
    struct termios saved;
    sigset_t old_mask;
};

static void
winsize_copy(struct cli_attach *a)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        ioctl(a->fd, TIOCSWINSZ, &ws);
}

/* Writes all of it unless the container's side is gone or we are told to
 * stop: a container that does not read must not hold us. */
static bool
write_all_fd(struct cli_attach *a, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd q[2] = {{a->stop[0], POLLIN, 0}, {a->fd, POLLOUT, 0}};
            if (poll(q, 2, -1) < 0 && errno != EINTR)
                return false;
            if (q[0].revents)
                return false;
            continue;
        }
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Passes input on, except the detach keys: a partial match is held back
 * until the next byte shows whether it goes on (Docker's escape proxy).
 * False once the container's side is gone or the keys were typed. */
static bool
forward(struct cli_attach *a, const char *p, size_t n)
{
    if (!a->n_keys)
        return write_all_fd(a, p, n);
    char out[8192 + sizeof(a->keys)];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == a->keys[a->matched]) {
            if (++a->matched == a->n_keys) {
                a->detached = true;
                if (o)
                    write_all_fd(a, out, o);
                return false;
            }
            continue;
        }
        if (a->matched) {
            memcpy(out + o, a->keys, a->matched);
            o += a->matched;
            a->matched = 0;
            if (p[i] == a->keys[0]) {
                a->matched = 1;
                continue;
            }
        }
        out[o++] = p[i];
        if (o >= sizeof(out) - sizeof(a->keys)) {
            if (!write_all_fd(a, out, o))
                return false;
            o = 0;
        }
    }
    return o == 0 || write_all_fd(a, out, o);
}

static void *
pump(void *arg)
{
    struct cli_attach *a = arg;
    /* Writing to a container that is gone is EPIPE here, not the end of
     * berth: a SIGPIPE raised by this thread's write stays pending in it. */
    sigset_t pipe_mask;
    sigemptyset(&pipe_mask);
    sigaddset(&pipe_mask, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_mask, NULL);
    bool in_open = true;
    for (;;) {
        struct pollfd p[3] = {{a->stop[0], POLLIN, 0},
                              {in_open ? STDIN_FILENO : -1, POLLIN, 0},
                              {a->winch, POLLIN, 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents)
            break;
        if (p[2].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(a->winch, &si, sizeof(si)) == sizeof(si))
                ;
            winsize_copy(a);
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[8192];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0 || !forward(a, buf, (size_t)n)) {
                if (a->detached)
                    break;
                in_open = false;
                /* Our end of file is the container's: without a terminal
                 * the pipe closes; a terminal keeps its line discipline. */
                if (!a->tty) {
                    close(a->fd);
                    a->fd = -1;
                }
                if (a->winch < 0)
                    break;
            }
        }
    }
    return NULL;
}

bool
cli_attach_detached(struct cli_attach *a)
{
    return a && a->detached;
}

int
cli_detach_keys_parse(const char *s, char *out, size_t cap, struct bt_err **err)
{
    static const char specials[] = "@[\\]^_";
    size_t n = 0;
    _cleanup_strv_ char **keys = bt_strv_split(s, ",");
    bt_strv_foreach (k, keys) {
        char c;
        if (strlen(k) == 1)
            c = k[0];
        else if (bt_str_startswith(k, "ctrl-") && strlen(k) == 6 && k[5] >= 'a' && k[5] <= 'z')
            c = (char)(k[5] - 'a' + 1);
        else if (bt_str_startswith(k, "ctrl-") && strlen(k) == 6 && strchr(specials, k[5]))
            c = (char)(k[5] == '@' ? 0 : k[5] - '[' + 27);
        else
            return bt_err_set(err, EINVAL, "invalid detach keys '%s': unknown key '%s'", s, k);
        if (n == cap)
            return bt_err_set(err, EINVAL, "invalid detach keys '%s': too many keys", s);
        out[n++] = c;
    }
    if (n == 0)
        return bt_err_set(err, EINVAL, "invalid detach keys '%s'", s);
    return (int)n;
}

int
cli_attach_start(const char *id, bool tty, struct cli_attach **out, struct bt_err **err)
{
    return cli_attach_start_keys(id, tty, NULL, 0, out, err);
}

int
cli_attach_start_keys(const char *id, bool tty, const char *keys, size_t n_keys,
                      struct cli_attach **out, struct bt_err **err)
{
    *out = NULL;
    int fd = engine_container_attach(id, err);
    if (fd < 0) {
        /* A container that is already gone needs no input. */
        _cleanup_json_ json_t *st = engine_container_state(id, NULL);
        if (st && !json_is_true(json_object_get(st, "Running"))) {
            bt_err_free(*err);
            *err = NULL;
            return 0;
        }
        return bt_err_ret(err);
    }
    struct cli_attach *a = xcalloc(1, sizeof(*a));
    a->fd = fd;
    a->tty = tty;
    if (n_keys > sizeof(a->keys))
        n_keys = sizeof(a->keys);
    if (n_keys)
        memcpy(a->keys, keys, n_keys);
    a->n_keys = n_keys;
    /* the pty master's file is shared with the monitor, whose libuv has it
     * non-blocking already */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    a->winch = -1;
    if (pipe2(a->stop, O_CLOEXEC) < 0) {
        int e = errno;
        close(a->fd);
        free(a);
        return bt_err_errno(err, e, "pipe");
    }
    /* SIGWINCH is read from a signalfd, so it is blocked here and in the
     * thread that inherits this mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &mask, &a->old_mask);
    if (tty) {
        a->winch = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        winsize_copy(a);
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &a->saved) == 0) {
            struct termios raw = a->saved;
            cfmakeraw(&raw);
            if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
                a->raw = true;
        }
    }
    int r = pthread_create(&a->thread, NULL, pump, a);
    if (r != 0) {
        cli_attach_stop(a);
        return bt_err_errno(err, r, "start the stdin thread");
    }
    a->started = true;
    *out = a;
    return 0;
}

struct cli_attach *
cli_attach_stop(struct cli_attach *a)
{
    if (!a)
        return NULL;
    if (a->started) {
        char c = 0;
        if (write(a->stop[1], &c, 1) < 0)
            bt_warn("stop the stdin thread: %s", strerror(errno));
        pthread_join(a->thread, NULL);
    }
    if (a->raw)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &a->saved);
    if (a->fd >= 0)
        close(a->fd);
    if (a->winch >= 0)
        close(a->winch);
    close(a->stop[0]);
    close(a->stop[1]);
    pthread_sigmask(SIG_SETMASK, &a->old_mask, NULL);
    free(a);
    return NULL;
}

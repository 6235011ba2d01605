/* engine: sync socket messages. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/sync.h"

int
rt_sync_send(int fd, int type, int code, const char *text, int pass_fd)
{
    struct rt_sync_msg m = {.type = type, .code = code};
    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    struct iovec iov = {&m, sizeof(m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int
rt_sync_recv(int fd, struct rt_sync_msg *m, int *fd_out)
{
    struct iovec iov = {m, sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    if (fd_out)
        *fd_out = -1;
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int pfd;
            memcpy(&pfd, CMSG_DATA(c), sizeof(int));
            if (fd_out)
                *fd_out = pfd;
            else
                close(pfd);
        }
    }
    if ((size_t)n != sizeof(*m))
        return -EBADMSG;
    m->text[sizeof(m->text) - 1] = '\0';
    return 0;
}

void
rt_sync_fail(int fd, struct bt_err *err)
{
    rt_sync_send(fd, RT_SYNC_ERROR, err ? err->code : EIO, err ? err->msg : "failed", -1);
    _exit(1);
}

int
rt_sync_expect(int fd, int want, int *fd_out, struct bt_err **err)
{
    struct rt_sync_msg m;
    int r = rt_sync_recv(fd, &m, fd_out);
    if (r == -EPIPE)
        return bt_err_set(err, EPIPE, "the container process exited during set-up");
    if (r < 0)
        return bt_err_errno(err, -r, "read the sync socket");
    if (m.type == RT_SYNC_ERROR)
        return bt_err_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
    if (m.type != want)
        return bt_err_set(err, EPROTO, "unexpected sync message %d (wanted %d)", m.type, want);
    return 0;
}

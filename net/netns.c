/* Network namespaces as objects: RUNROOT/netns/ID is a bind mount of a
 * namespace that no process has to keep alive. A helper thread unshares a
 * new netns (CLONE_NEWNET affects only the calling thread), brings its
 * loopback up, bind-mounts /proc/self/task/TID/ns/net onto the file and
 * exits; the namespace lives on until the mount goes. The caller may do
 * other work while the thread runs (net_netns_create_start). */
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "net/net-internal.h"

char *
net_netns_path(struct net_ctx *ctx, const char *id)
{
    return xasprintf("%s/netns/%s", ctx->runroot, id);
}

bool
net_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 128 || id[0] == '.')
        return false;
    for (const char *p = id; *p; p++) {
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '-' && *p != '_' && *p != '.')
            return false;
    }
    return true;
}

/* Like iproute2's /run/netns: the directory is a shared mount of itself, so
 * that unmounting a netns here also unmounts the copies that mount
 * namespaces created later hold, and the namespace is really freed. */
static int
ensure_netns_dir(const char *dir, struct bt_err **err)
{
    if (mount("", dir, NULL, MS_SHARED | MS_REC, NULL) == 0)
        return 0;
    if (errno == ENOENT) {
        int r = bt_mkdir_p(dir, 0755, err);
        if (r < 0)
            return r;
        if (mount("", dir, NULL, MS_SHARED | MS_REC, NULL) == 0)
            return 0;
    }
    if (errno != EINVAL)
        return bt_err_errno(err, errno, "make '%s' shared", dir);
    if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
        return bt_err_errno(err, errno, "bind-mount '%s' onto itself", dir);
    if (mount("", dir, NULL, MS_SHARED | MS_REC, NULL) < 0)
        return bt_err_errno(err, errno, "make '%s' shared", dir);
    return 0;
}

struct net_netns_job {
    char *path;
    pthread_t thread;
    struct bt_err *err;
};

static void *
ns_thread(void *arg)
{
    struct net_netns_job *job = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        bt_err_errno(&job->err, errno, "unshare network namespace");
        return NULL;
    }
    /* Two ioctls on a socket of the new namespace bring its loopback up, a
     * third of the system calls a netlink socket and its lookup take. */
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        bt_err_errno(&job->err, errno, "loopback of the new network namespace");
        return NULL;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
        bt_err_errno(&job->err, errno, "bring up the loopback of the new network namespace");
        return NULL;
    }
    _cleanup_free_ char *src = xasprintf("/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
    if (mount(src, job->path, NULL, MS_BIND, NULL) < 0)
        bt_err_errno(&job->err, errno, "bind-mount netns onto '%s'", job->path);
    return NULL;
}

struct net_netns_job *
net_netns_create_start(struct net_ctx *ctx, const char *id, struct bt_err **err)
{
    if (!net_id_valid(id)) {
        bt_err_set(err, EINVAL, "invalid netns id '%s'", id ? id : "");
        return NULL;
    }
    _cleanup_free_ char *dir = xasprintf("%s/netns", ctx->runroot);
    if (ensure_netns_dir(dir, err) < 0)
        return NULL;
    _cleanup_free_ char *path = net_netns_path(ctx, id);
    /* A file with no namespace mounted on it is left from a berth command
     * that died between the two steps: it is taken over. */
    struct statfs sfs;
    if (statfs(path, &sfs) == 0 && sfs.f_type != NSFS_MAGIC)
        unlink(path);
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) {
        bt_err_errno(err, errno, "create netns file '%s'", path);
        return NULL;
    }
    close(fd);
    struct net_netns_job *job = xcalloc(1, sizeof(*job));
    job->path = TAKE_PTR(path);
    int r = pthread_create(&job->thread, NULL, ns_thread, job);
    if (r != 0) {
        bt_err_errno(err, r, "start netns helper thread");
        unlink(job->path);
        free(job->path);
        free(job);
        return NULL;
    }
    return job;
}

char *
net_netns_create_finish(struct net_netns_job *job, struct bt_err **err)
{
    pthread_join(job->thread, NULL);
    char *path = TAKE_PTR(job->path);
    bool failed = job->err != NULL;
    bt_err_move(err, &job->err);
    free(job);
    if (failed) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

char *
net_netns_create(struct net_ctx *ctx, const char *id, struct bt_err **err)
{
    struct net_netns_job *job = net_netns_create_start(ctx, id, err);
    return job ? net_netns_create_finish(job, err) : NULL;
}

int
net_netns_remove(struct net_ctx *ctx, const char *id, struct bt_err **err)
{
    if (!net_id_valid(id))
        return bt_err_set(err, EINVAL, "invalid netns id '%s'", id ? id : "");
    _cleanup_free_ char *path = net_netns_path(ctx, id);
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return bt_err_errno(err, errno, "unmount netns '%s'", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return bt_err_errno(err, errno, "remove netns '%s'", path);
    return 0;
}

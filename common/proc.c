/* Process helpers. */
#include <spawn.h>
#include <sys/wait.h>

#include "common/common.h"

extern char **environ;

int
bt_run(char *const argv[], struct bt_err **err)
{
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (r != 0)
        return bt_err_errno(err, r, "run '%s'", argv[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return bt_err_errno(err, errno, "wait for '%s'", argv[0]);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* Scope-bound cleanup for the whole tree (gnu11 `cleanup` attribute).
 *
 * Initialise every cleanup variable where it is declared, and never jump
 * past one with goto. Hand ownership on with TAKE_PTR / TAKE_FD. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void
freep(void *p)
{
    free(*(void **)p);
}

static inline void
closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void
fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void
closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_dir_    _cleanup_(closedirp)

/* Returns the pointer and leaves NULL behind, so the cleanup does nothing. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        typeof(p) _tp_ = (p);                                                                      \
        (p) = NULL;                                                                                \
        _tp_;                                                                                      \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _tfd_ = (fd);                                                                          \
        (fd) = -1;                                                                                 \
        _tfd_;                                                                                     \
    })

/* Declares a cleanup helper `namep` for a type whose free function
 * accepts NULL: DEFINE_CLEANUP(struct foo *, foo_free). */
#define DEFINE_CLEANUP(type, func)                                                                 \
    static inline void func##p(type *p)                                                            \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-based cleanup helpers (systemd/crun style). */
#ifndef DOCKHAND_CLEANUP_H
#define DOCKHAND_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#include "dockhand/error.h"

#define DH_CLEANUP(fn) __attribute__((cleanup(fn)))

static inline void dh_freep(void *p)
{
    free(*(void **)p);
}
static inline void dh_closep(int *fd)
{
    if (*fd >= 0)
        (void)close(*fd);
}
static inline void dh_fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}
static inline void dh_closedirp(DIR **d)
{
    if (*d)
        (void)closedir(*d);
}

#define _cleanup_free_   DH_CLEANUP(dh_freep)
#define _cleanup_close_  DH_CLEANUP(dh_closep)
#define _cleanup_fclose_ DH_CLEANUP(dh_fclosep)
#define _cleanup_dir_    DH_CLEANUP(dh_closedirp)
#define _cleanup_error_  DH_CLEANUP(dh_error_free)

/* Defines `static inline void <func>p(type *p)` calling func(*p) when non-NULL. */
#define DH_DEFINE_CLEANUP_FUNC(type, func) \
    static inline void func##p(type *p)    \
    {                                      \
        if (*p)                            \
            func(*p);                      \
    }

/* Returns the pointer and disarms its cleanup (ownership moves to the caller). */
#define TAKE_PTR(ptr)                    \
    ({                                   \
        __typeof__(ptr) _tp_tmp = (ptr); \
        (ptr) = NULL;                    \
        _tp_tmp;                         \
    })
#define TAKE_FD(fd)         \
    ({                      \
        int _tf_tmp = (fd); \
        (fd) = -1;          \
        _tf_tmp;            \
    })

#define DH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DH_UNUSED        __attribute__((unused))

#endif

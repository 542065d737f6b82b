/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File helpers: capped reads, atomic writes and advisory locks.
 *
 * Every file that holds credentials is written with dh_write_file_atomic()
 * while its lock is held: a temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory.  A reader therefore sees
 * either the old or the new file, never a mix, even after a crash.
 */
#ifndef DOCKHAND_FSUTIL_H
#define DOCKHAND_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

/* Creates path and its missing parents with mode (existing ones are left alone). */
int dh_mkdir_p(const char *path, mode_t mode, struct dh_error **err);

/* Appends the file's contents to out (initialised by the caller, whose max caps the size).
   A missing file fails with status ENOENT. */
int dh_read_file(const char *path, struct dh_buf *out, struct dh_error **err);

/* Replaces path atomically with data, mode `mode`.  With keep_owner, a file
   that already exists keeps its mode and owner (docker CLI behaviour). */
int dh_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         bool keep_owner, struct dh_error **err);

struct dh_lock {
    int fd;
};
#define DH_LOCK_INIT \
    {                \
        .fd = -1     \
    }

/* Takes an exclusive flock on path (created 0600 if missing), waiting up to
   timeout_ms (then ETIMEDOUT). */
int dh_lock_acquire(const char *path, int timeout_ms, struct dh_lock *ret, struct dh_error **err);
void dh_lock_release(struct dh_lock *l);
static inline void dh_lock_releasep(struct dh_lock *l)
{
    dh_lock_release(l);
}
#define _cleanup_lock_ __attribute__((cleanup(dh_lock_releasep)))

/* Returns the directory part of path as a new string ("." when none). */
char *dh_dirname(const char *path);

#endif

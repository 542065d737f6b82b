/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

int dh_mkdir_p(const char *path, mode_t mode, struct dh_error **err)
{
    _cleanup_free_ char *p = dh_xstrdup(path);
    char *s;

    for (s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return dh_error_sys(err, errno, "cannot create directory '%s'", p);
        *s = saved;
        if (!saved)
            break;
    }
    return 0;
}

char *dh_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return dh_xstrdup(".");
    if (slash == path)
        return dh_xstrdup("/");
    return dh_xstrndup(path, (size_t)(slash - path));
}

int dh_read_file(const char *path, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return dh_error_sys(err, errno, "cannot open '%s'", path);
    if (dh_buf_read_fd(out, fd, err) < 0)
        return dh_error_wrap(err, "cannot read '%s'", path);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int dh_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         bool keep_owner, struct dh_error **err)
{
    _cleanup_free_ char *dir = dh_dirname(path);
    const char *base = strrchr(path, '/');
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = -1;
    _cleanup_close_ int dfd = -1;
    struct stat st;

    base = base ? base + 1 : path;
    tmp = dh_xasprintf("%s/.%s.tmp.XXXXXX", dir, base);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return dh_error_sys(err, errno, "cannot create a temporary file in '%s'", dir);
    if (keep_owner && stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
        if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
            goto fail;
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
fail : {
    int e = errno;
    (void)unlink(tmp);
    return dh_error_sys(err, e, "cannot write '%s'", path);
}
}

int dh_lock_acquire(const char *path, int timeout_ms, struct dh_lock *ret, struct dh_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct timespec start, now;
    long waited_ms;
    unsigned delay_us = 200;

    if (fd < 0)
        return dh_error_sys(err, errno, "cannot open lock file '%s'", path);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return dh_error_sys(err, errno, "cannot lock '%s'", path);
        clock_gettime(CLOCK_MONOTONIC, &now);
        waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited_ms >= timeout_ms)
            return dh_error_make(err, ETIMEDOUT, "timed out after %d ms waiting for lock '%s'",
                                 timeout_ms, path);
        usleep(delay_us);
        if (delay_us < 20000)
            delay_us *= 2;
    }
    ret->fd = TAKE_FD(fd);
    return 0;
}

void dh_lock_release(struct dh_lock *l)
{
    if (l->fd >= 0) {
        (void)flock(l->fd, LOCK_UN);
        (void)close(l->fd);
        l->fd = -1;
    }
}

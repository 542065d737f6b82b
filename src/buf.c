/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/mem.h"

void dh_buf_init(struct dh_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->secret = false;
}

void dh_buf_init_secret(struct dh_buf *b, size_t max)
{
    dh_buf_init(b, max);
    b->secret = true;
}

void dh_buf_release(struct dh_buf *b)
{
    if (b->data) {
        if (b->secret)
            dh_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int buf_grow(struct dh_buf *b, size_t need, struct dh_error **err)
{
    size_t want, cap;
    char *p;

    if (need > b->max || need == SIZE_MAX)
        return dh_error_make(err, E2BIG, "input larger than %zu bytes", b->max);
    if (need + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    want = cap > b->max + 1 ? b->max + 1 : cap;
    if (b->secret) {
        /* Never leave a copy behind in a block realloc() released. */
        p = dh_xmalloc(want);
        if (b->data) {
            memcpy(p, b->data, b->len + 1);
            dh_wipe(b->data, b->cap);
            free(b->data);
        }
    } else {
        p = dh_xrealloc(b->data, want);
    }
    b->data = p;
    b->cap = want;
    b->data[b->len] = '\0';
    return 0;
}

int dh_buf_append(struct dh_buf *b, const void *data, size_t n, struct dh_error **err)
{
    if (n > SIZE_MAX - b->len - 1)
        return dh_error_make(err, E2BIG, "input larger than %zu bytes", b->max);
    if (buf_grow(b, b->len + n, err) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dh_buf_extend(struct dh_buf *b, size_t n, char **ret_tail, struct dh_error **err)
{
    if (n > SIZE_MAX - b->len - 1)
        return dh_error_make(err, E2BIG, "input larger than %zu bytes", b->max);
    if (buf_grow(b, b->len + n, err) < 0)
        return -1;
    memset(b->data + b->len, 0, n + 1);
    *ret_tail = b->data + b->len;
    b->len += n;
    return 0;
}

int dh_buf_puts(struct dh_buf *b, const char *s, struct dh_error **err)
{
    return dh_buf_append(b, s, strlen(s), err);
}

int dh_buf_printf(struct dh_buf *b, struct dh_error **err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return dh_error_make(err, EINVAL, "cannot format output");
    if (buf_grow(b, b->len + (size_t)n, err) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int dh_buf_read_fd(struct dh_buf *b, int fd, struct dh_error **err)
{
    struct stat st;

    /* A regular file: one allocation of its size, read in place (no doubling,
       no copies left behind in a secret buffer). */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < SIZE_MAX / 2 && buf_grow(b, b->len + (size_t)st.st_size, err) < 0)
        return -1;
    for (;;) {
        size_t room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
        ssize_t n;

        if (room == 0) {
            size_t want = b->len + 4096 > b->max ? b->max : b->len + 4096;
            char c;

            if (want > b->len) {
                if (buf_grow(b, want, err) < 0)
                    return -1;
                continue;
            }
            /* Full: one more byte means the input is too large. */
            do
                n = read(fd, &c, 1);
            while (n < 0 && errno == EINTR);
            if (n < 0)
                return dh_error_sys(err, errno, "cannot read input");
            if (n == 0)
                break;
            dh_wipe(&c, 1);
            return dh_error_make(err, E2BIG, "input larger than %zu bytes", b->max);
        }
        n = read(fd, b->data + b->len, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dh_error_sys(err, errno, "cannot read input");
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    if (!b->data)
        return buf_grow(b, 0, err);
    return 0;
}

void dh_buf_truncate(struct dh_buf *b, size_t n)
{
    if (n >= b->len)
        return;
    if (b->secret)
        dh_wipe(b->data + n, b->len - n);
    b->len = n;
    b->data[n] = '\0';
}

char *dh_buf_steal(struct dh_buf *b, size_t *ret_len)
{
    char *p = b->data ? b->data : dh_xstrdup("");

    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

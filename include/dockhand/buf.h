/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capped growable buffers for untrusted input (curl dynbuf style).
 *
 * Every buffer has a hard maximum set at init.  An append that would exceed it
 * fails with E2BIG and leaves the buffer unchanged.  The data is always
 * NUL-terminated (data may be NULL while len == 0).  A buffer initialised with
 * dh_buf_init_secret() wipes every block it releases or outgrows.
 */
#ifndef DOCKHAND_BUF_H
#define DOCKHAND_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/error.h"

struct dh_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    bool secret;
};

/* Declare every _cleanup_buf_ with one of these initialisers. */
#define DH_BUF_INIT(maxlen)                                                \
    {                                                                      \
        .data = NULL, .len = 0, .cap = 0, .max = (maxlen), .secret = false \
    }
#define DH_BUF_INIT_SECRET(maxlen)                                        \
    {                                                                     \
        .data = NULL, .len = 0, .cap = 0, .max = (maxlen), .secret = true \
    }

void dh_buf_init(struct dh_buf *b, size_t max);
void dh_buf_init_secret(struct dh_buf *b, size_t max);
/* Frees the contents (wiping when secret) and resets len; keeps max and secret. */
void dh_buf_release(struct dh_buf *b);
static inline void dh_buf_releasep(struct dh_buf *b)
{
    dh_buf_release(b);
}
#define _cleanup_buf_ __attribute__((cleanup(dh_buf_releasep)))

int dh_buf_append(struct dh_buf *b, const void *data, size_t n, struct dh_error **err);
int dh_buf_puts(struct dh_buf *b, const char *s, struct dh_error **err);
int dh_buf_printf(struct dh_buf *b, struct dh_error **err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Grows len by n zero bytes; on success *ret_tail points at them (valid until the next append). */
int dh_buf_extend(struct dh_buf *b, size_t n, char **ret_tail, struct dh_error **err);
/* Reads fd to EOF.  Fails with E2BIG past max, or with the read error. */
int dh_buf_read_fd(struct dh_buf *b, int fd, struct dh_error **err);
/* Truncates to n bytes (n <= len), wiping the tail when secret. */
void dh_buf_truncate(struct dh_buf *b, size_t n);
/* Returns the data (never NULL, "" when empty) and gives up ownership; resets b. */
char *dh_buf_steal(struct dh_buf *b, size_t *ret_len);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error objects, crun style.
 *
 * Contract: a function that can fail returns an int (0 on success, negative
 * on failure) or a pointer (NULL on failure) and takes `struct dh_error **err`
 * as its last argument.  On success *err is left untouched.  On failure *err
 * is set exactly once to a new error that the caller must release with
 * dh_error_free().  Callers add context with dh_error_wrap(), which prepends
 * "context: " to the message.  Only cmd/ mains print errors.
 *
 * Messages follow git's style: lowercase, no final period, the failing thing
 * first, subjects in single quotes.  They never contain secrets.
 */
#ifndef DOCKHAND_ERROR_H
#define DOCKHAND_ERROR_H

#include <stdarg.h>

struct dh_error {
    int status; /* errno-style code; 0 is turned into EIO */
    char *msg;  /* heap allocated, never NULL */
};

/* Sets *err to a new error.  Returns -1 so callers can `return dh_error_make(...)`. */
int dh_error_make(struct dh_error **err, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int dh_error_makev(struct dh_error **err, int status, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
/* Like dh_error_make, appending ": strerror(status)". */
int dh_error_sys(struct dh_error **err, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to an existing error.  Returns -1.  *err must be set. */
int dh_error_wrap(struct dh_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Frees *err (NULL allowed) and sets it to NULL. */
void dh_error_free(struct dh_error **err);
/* Moves *src into *dst (which must be NULL or is freed first). */
void dh_error_move(struct dh_error **dst, struct dh_error **src);

#endif

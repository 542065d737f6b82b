/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/mem.h"

int dh_error_makev(struct dh_error **err, int status, const char *fmt, va_list ap)
{
    struct dh_error *e;

    if (!err)
        return -1;
    e = dh_xmalloc(sizeof(*e));
    e->status = status ? status : EIO;
    e->msg = dh_xvasprintf(fmt, ap);
    if (*err)
        dh_error_free(err);
    *err = e;
    return -1;
}

int dh_error_make(struct dh_error **err, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dh_error_makev(err, status, fmt, ap);
    va_end(ap);
    return -1;
}

int dh_error_sys(struct dh_error **err, int status, const char *fmt, ...)
{
    va_list ap;
    char *prefix;

    va_start(ap, fmt);
    prefix = dh_xvasprintf(fmt, ap);
    va_end(ap);
    dh_error_make(err, status, "%s: %s", prefix, strerror(status ? status : EIO));
    free(prefix);
    return -1;
}

int dh_error_wrap(struct dh_error **err, const char *fmt, ...)
{
    va_list ap;
    char *prefix, *msg;

    if (!err || !*err)
        return -1;
    va_start(ap, fmt);
    prefix = dh_xvasprintf(fmt, ap);
    va_end(ap);
    msg = dh_xasprintf("%s: %s", prefix, (*err)->msg);
    free(prefix);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

void dh_error_free(struct dh_error **err)
{
    if (!err || !*err)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

void dh_error_move(struct dh_error **dst, struct dh_error **src)
{
    dh_error_free(dst);
    *dst = *src;
    *src = NULL;
}

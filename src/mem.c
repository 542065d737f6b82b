/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/mem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

void dh_oom(void)
{
    static const char msg[] = "dockhand: out of memory\n";

    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

void *dh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        dh_oom();
    return p;
}

void *dh_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        dh_oom();
    return p;
}

void *dh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        dh_oom();
    return q;
}

char *dh_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p)
        dh_oom();
    return p;
}

char *dh_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (!p)
        dh_oom();
    return p;
}

char *dh_xvasprintf(const char *fmt, va_list ap)
{
    char *p = NULL;

    if (vasprintf(&p, fmt, ap) < 0)
        dh_oom();
    return p;
}

char *dh_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = dh_xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void dh_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

void dh_free_wipe(void *p)
{
    if (!p)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

void dh_str_free_wipe(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    dh_free_wipe(s);
}

bool dh_secure_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    size_t i;

    if (alen != blen)
        return false;
    for (i = 0; i < alen; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

struct dh_secret *dh_secret_new(const char *data, size_t len)
{
    struct dh_secret *s = dh_xmalloc(sizeof(*s));

    if (len == SIZE_MAX)
        dh_oom();
    s->buf = dh_xmalloc(len + 1);
    if (len)
        memcpy(s->buf, data, len);
    s->buf[len] = '\0';
    s->len = len;
    return s;
}

struct dh_secret *dh_secret_from_str(const char *s)
{
    return dh_secret_new(s, strlen(s));
}

void dh_secret_free(struct dh_secret *s)
{
    if (!s)
        return;
    dh_free_wipe(s->buf);
    free(s);
}

static void *json_wipe_malloc(size_t n)
{
    return malloc(n);
}

static void json_wipe_free(void *p)
{
    dh_free_wipe(p);
}

void dh_json_use_wiping_alloc(void)
{
    json_set_alloc_funcs(json_wipe_malloc, json_wipe_free);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation and secret hygiene.
 *
 * The dh_x* allocators abort with a short message on out-of-memory: dockhand
 * binaries are short-lived CLIs or restartable daemons, so OOM is not a
 * recoverable error (a deliberate choice, see docs/design.md).
 *
 * Secrets live in `struct dh_secret` or in buffers freed with dh_free_wipe();
 * both wipe memory with explicit_bzero before freeing.
 */
#ifndef DOCKHAND_MEM_H
#define DOCKHAND_MEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void *dh_xmalloc(size_t n) __attribute__((malloc, alloc_size(1)));
void *dh_xcalloc(size_t nmemb, size_t size) __attribute__((malloc, alloc_size(1, 2)));
void *dh_xrealloc(void *p, size_t n) __attribute__((alloc_size(2)));
char *dh_xstrdup(const char *s) __attribute__((malloc));
char *dh_xstrndup(const char *s, size_t n) __attribute__((malloc));
char *dh_xasprintf(const char *fmt, ...) __attribute__((malloc, format(printf, 1, 2)));
char *dh_xvasprintf(const char *fmt, va_list ap) __attribute__((malloc, format(printf, 1, 0)));
/* Prints "dockhand: out of memory" and aborts. */
__attribute__((noreturn)) void dh_oom(void);

/* Wipes n bytes at p (not optimised away). NULL allowed when n is 0. */
void dh_wipe(void *p, size_t n);
/* Wipes the whole allocation (malloc_usable_size) and frees it. NULL allowed. */
void dh_free_wipe(void *p);
/* Wipes a NUL-terminated string in place and frees it. NULL allowed. */
void dh_str_free_wipe(char *s);
static inline void dh_free_wipep(void *p)
{
    dh_free_wipe(*(void **)p);
}
#define _cleanup_wipe_ __attribute__((cleanup(dh_free_wipep)))

/* Constant-time comparison of two byte strings (different lengths compare unequal). */
bool dh_secure_equal(const void *a, size_t alen, const void *b, size_t blen);

/* A secret value: always NUL-terminated, wiped on free. */
struct dh_secret {
    char *buf;
    size_t len;
};
struct dh_secret *dh_secret_new(const char *data, size_t len);
struct dh_secret *dh_secret_from_str(const char *s);
void dh_secret_free(struct dh_secret *s);
static inline void dh_secret_freep(struct dh_secret **s)
{
    dh_secret_free(*s);
}
#define _cleanup_secret_ __attribute__((cleanup(dh_secret_freep)))

/* Makes jansson allocate through malloc and wipe every block it frees. Idempotent. */
void dh_json_use_wiping_alloc(void);

#endif

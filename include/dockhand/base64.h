/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (RFC 4648): standard and URL-safe alphabets. */
#ifndef DOCKHAND_BASE64_H
#define DOCKHAND_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

/* Returns a new NUL-terminated encoding; url selects "-_" and no padding. */
char *dh_base64_encode(const void *data, size_t len, bool url);
/* Decodes either alphabet, padding optional, into out (appended; out's max caps it).
   Whitespace is not allowed.  Fails with EINVAL on bad input. */
int dh_base64_decode(const char *s, size_t len, struct dh_buf *out, struct dh_error **err);

#endif

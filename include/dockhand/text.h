/* SPDX-License-Identifier: Apache-2.0 */
/* Text helpers: UTF-8 validation, Go-compatible trimming and JSON string encoding. */
#ifndef DOCKHAND_TEXT_H
#define DOCKHAND_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool dh_utf8_valid(const char *s, size_t len);

/* Like Go's strings.TrimSpace: trims Unicode white space at both ends.
   Sets *ret_start and *ret_len to the trimmed span of s[0..len). */
void dh_trim_space(const char *s, size_t len, size_t *ret_start, size_t *ret_len);

/* Appends s as a JSON string exactly as Go's encoding/json encodes it with
   HTML escaping on (the docker-credential-helpers output): `<`, `>`, `&`,
   U+2028 and U+2029 as \uXXXX, control characters as \b \f \n \r \t or
   \u00XX, invalid UTF-8 bytes as \ufffd, everything else raw. */
int dh_json_go_quote(struct dh_buf *out, const char *s, struct dh_error **err);
/* The same for s[0..len), which may hold NUL bytes (encoded as \u0000). */
int dh_json_go_quote_n(struct dh_buf *out, const char *s, size_t len, struct dh_error **err);

/* Percent-decodes s[0..n) into a new string, '+' as a space (query/form style).
   strict: a malformed escape or %00 gives NULL; otherwise malformed escapes are kept
   as they are (what the AWS SDKs do when canonicalising a query). */
char *dh_pct_decode(const char *s, size_t n, bool strict);

#endif

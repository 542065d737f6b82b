/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A faster json_loadb() for large documents (a config.json of thousands of ECR
 * tokens is tens of MB; jansson's own parser reads about 55 MB/s).
 *
 * Same result as jansson's json_loadb(buf, len, flags, error) for the flags
 * below, always: the fast parser builds the same values (jansson objects, key
 * order and duplicate-key handling of jansson's parser, numbers through strtod as
 * JSON_DECODE_INT_AS_REAL does) for the documents it reads, and hands anything
 * else (every error, and unusual input: \u0000 in a key, very deep nesting,
 * numbers that overflow) to json_loadb itself, so errors and their positions are
 * jansson's.  Strings are scanned in place; escaped ones are decoded in a buffer
 * that is wiped.  Checked against json_loadb by test/fuzz/fuzz_dockerconfig.c.
 */
#ifndef DOCKHAND_JSONLOAD_H
#define DOCKHAND_JSONLOAD_H

#include <stddef.h>

#include <jansson.h>

/* Flags understood by the fast path; with any other flag json_loadb() is called. */
#define DH_JSON_FAST_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* As json_loadb(buf, len, flags, error). */
json_t *dh_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);

/* The fast parser alone: the document, or NULL when it leaves the input to jansson
   (for the differential fuzz check). */
json_t *dh_json_loadb_fast(const char *buf, size_t len, size_t flags);

#endif

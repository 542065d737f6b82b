/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal protocol buffers wire codec (proto3), written for the CRI messages.
 *
 * Encoding appends to a capped dh_buf (a secret one for messages holding
 * credentials).  Proto3 rules: a scalar or string field equal to its default
 * (0, false, "") is not written; a nested message is written even when empty
 * (its presence is the information).  Nested messages are encoded into their
 * own buffer first, then appended with dh_pb_put_message().
 *
 * Decoding walks untrusted bytes field by field with strict bounds checks:
 * varints of at most 10 bytes (the tenth at most 1), lengths within the
 * message, field numbers 1..2^29-1, wire types 0 (varint), 1 (fixed64),
 * 2 (length-delimited) and 5 (fixed32).  Groups (wire types 3 and 4, proto2
 * only) are refused.  Callers skip fields they do not know, and treat a known
 * field arriving with another wire type as unknown too (protobuf-go does the
 * same), so newer runtimes adding fields never break decoding.
 */
#ifndef DOCKHAND_PROTOBUF_H
#define DOCKHAND_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

enum dh_pb_wire {
    DH_PB_VARINT = 0,
    DH_PB_FIXED64 = 1,
    DH_PB_LEN = 2,
    DH_PB_FIXED32 = 5,
};

#define DH_PB_MAX_FIELD  ((UINT32_C(1) << 29) - 1)
#define DH_PB_MAX_VARINT 10

/* ---- encoding (each returns 0, or -1 with E2BIG when the buffer's cap is hit) ---- */

/* The raw varint. */
int dh_pb_put_varint(struct dh_buf *b, uint64_t v, struct dh_error **err);
/* A field key: number << 3 | wire type. */
int dh_pb_put_tag(struct dh_buf *b, uint32_t field, enum dh_pb_wire wire, struct dh_error **err);
/* uint64/int64/uint32/bool as varint; omitted when 0. */
int dh_pb_put_uint64(struct dh_buf *b, uint32_t field, uint64_t v, struct dh_error **err);
int dh_pb_put_bool(struct dh_buf *b, uint32_t field, bool v, struct dh_error **err);
/* Length-delimited bytes, always written (also when len is 0). */
int dh_pb_put_bytes(struct dh_buf *b, uint32_t field, const void *data, size_t len,
                    struct dh_error **err);
/* A string; omitted when NULL or "". */
int dh_pb_put_string(struct dh_buf *b, uint32_t field, const char *s, struct dh_error **err);
/* A nested message already encoded in sub (always written, empty or not). */
int dh_pb_put_message(struct dh_buf *b, uint32_t field, const struct dh_buf *sub,
                      struct dh_error **err);
/* One map<string,string> entry: a nested message {key = 1, value = 2}. */
int dh_pb_put_map_entry(struct dh_buf *b, uint32_t field, const char *key, const char *value,
                        struct dh_error **err);

/* ---- decoding ---- */

struct dh_pb_reader {
    const uint8_t *data;
    size_t len;
    size_t off;
};

struct dh_pb_field {
    uint32_t number;
    enum dh_pb_wire wire;
    uint64_t value;      /* DH_PB_VARINT, DH_PB_FIXED64, DH_PB_FIXED32 (little-endian decoded) */
    const uint8_t *data; /* DH_PB_LEN: the bytes, borrowed from the reader's buffer */
    size_t len;
};

static inline void dh_pb_reader_init(struct dh_pb_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = len;
    r->off = 0;
}

/* Reads one raw varint at r->off. 0, or -1 (EPROTO) when truncated or too long. */
int dh_pb_read_varint(struct dh_pb_reader *r, uint64_t *ret, struct dh_error **err);
/* Next field: 1 with *f filled, 0 at the end of the message, -1 (EPROTO) on malformed
   input (truncated value, bad field number, group or unknown wire type).  A
   length-delimited field's bytes stay in the input (f->data is borrowed). */
int dh_pb_next(struct dh_pb_reader *r, struct dh_pb_field *f, struct dh_error **err);
/* A DH_PB_LEN field as a new NUL-terminated string: EPROTO when it holds a NUL byte
   (not representable) or is longer than max.  *ret replaces (and frees) the old value,
   so a repeated occurrence of a singular field wins, as in protobuf. */
int dh_pb_field_string(const struct dh_pb_field *f, size_t max, char **ret, struct dh_error **err);
/* Packed repeated varints (a DH_PB_LEN field): iterate with a reader over f->data;
   1 with *ret, 0 at the end, -1 when malformed. */
int dh_pb_packed_varint_next(struct dh_pb_reader *r, uint64_t *ret, struct dh_error **err);

#endif

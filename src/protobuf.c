/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protocol buffers wire codec: see include/dockhand/protobuf.h.
 */
#include "dockhand/protobuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

/* ---- encoding ---- */

int dh_pb_put_varint(struct dh_buf *b, uint64_t v, struct dh_error **err)
{
    uint8_t tmp[DH_PB_MAX_VARINT];
    size_t n = 0;

    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return dh_buf_append(b, tmp, n, err);
}

int dh_pb_put_tag(struct dh_buf *b, uint32_t field, enum dh_pb_wire wire, struct dh_error **err)
{
    if (field == 0 || field > DH_PB_MAX_FIELD)
        return dh_error_make(err, EINVAL, "invalid protobuf field number %u", field);
    return dh_pb_put_varint(b, ((uint64_t)field << 3) | (uint64_t)wire, err);
}

int dh_pb_put_uint64(struct dh_buf *b, uint32_t field, uint64_t v, struct dh_error **err)
{
    if (v == 0)
        return 0;
    if (dh_pb_put_tag(b, field, DH_PB_VARINT, err) < 0)
        return -1;
    return dh_pb_put_varint(b, v, err);
}

int dh_pb_put_bool(struct dh_buf *b, uint32_t field, bool v, struct dh_error **err)
{
    return dh_pb_put_uint64(b, field, v ? 1 : 0, err);
}

int dh_pb_put_bytes(struct dh_buf *b, uint32_t field, const void *data, size_t len,
                    struct dh_error **err)
{
    if (dh_pb_put_tag(b, field, DH_PB_LEN, err) < 0 || dh_pb_put_varint(b, len, err) < 0)
        return -1;
    return len ? dh_buf_append(b, data, len, err) : 0;
}

int dh_pb_put_string(struct dh_buf *b, uint32_t field, const char *s, struct dh_error **err)
{
    if (!s || !*s)
        return 0;
    return dh_pb_put_bytes(b, field, s, strlen(s), err);
}

int dh_pb_put_message(struct dh_buf *b, uint32_t field, const struct dh_buf *sub,
                      struct dh_error **err)
{
    return dh_pb_put_bytes(b, field, sub->data, sub->len, err);
}

int dh_pb_put_map_entry(struct dh_buf *b, uint32_t field, const char *key, const char *value,
                        struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf entry = DH_BUF_INIT(b->max);

    entry.secret = b->secret;
    if (dh_pb_put_string(&entry, 1, key, err) < 0 || dh_pb_put_string(&entry, 2, value, err) < 0)
        return -1;
    return dh_pb_put_message(b, field, &entry, err);
}

/* ---- decoding ---- */

int dh_pb_read_varint(struct dh_pb_reader *r, uint64_t *ret, struct dh_error **err)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < DH_PB_MAX_VARINT; i++) {
        uint8_t c;

        if (r->off >= r->len)
            return dh_error_make(err, EPROTO, "truncated protobuf varint at offset %zu", r->off);
        c = r->data[r->off++];
        if (i == DH_PB_MAX_VARINT - 1 && c > 1)
            return dh_error_make(err, EPROTO, "protobuf varint overflows 64 bits at offset %zu",
                                 r->off - 1);
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return dh_error_make(err, EPROTO, "protobuf varint longer than %d bytes", DH_PB_MAX_VARINT);
}

static int read_fixed(struct dh_pb_reader *r, size_t n, uint64_t *ret, struct dh_error **err)
{
    uint64_t v = 0;
    size_t i;

    if (r->len - r->off < n)
        return dh_error_make(err, EPROTO, "truncated protobuf fixed%zu at offset %zu", n * 8,
                             r->off);
    for (i = 0; i < n; i++)
        v |= (uint64_t)r->data[r->off + i] << (8 * i);
    r->off += n;
    *ret = v;
    return 0;
}

int dh_pb_next(struct dh_pb_reader *r, struct dh_pb_field *f, struct dh_error **err)
{
    uint64_t key, len;
    size_t start = r->off;

    if (r->off >= r->len)
        return 0;
    if (dh_pb_read_varint(r, &key, err) < 0)
        return -1;
    if ((key >> 3) == 0 || (key >> 3) > DH_PB_MAX_FIELD)
        return dh_error_make(err, EPROTO, "invalid protobuf field number at offset %zu", start);
    memset(f, 0, sizeof(*f));
    f->number = (uint32_t)(key >> 3);
    switch (key & 7) {
    case DH_PB_VARINT:
        f->wire = DH_PB_VARINT;
        return dh_pb_read_varint(r, &f->value, err) < 0 ? -1 : 1;
    case DH_PB_FIXED64:
        f->wire = DH_PB_FIXED64;
        return read_fixed(r, 8, &f->value, err) < 0 ? -1 : 1;
    case DH_PB_FIXED32:
        f->wire = DH_PB_FIXED32;
        return read_fixed(r, 4, &f->value, err) < 0 ? -1 : 1;
    case DH_PB_LEN:
        f->wire = DH_PB_LEN;
        if (dh_pb_read_varint(r, &len, err) < 0)
            return -1;
        if (len > r->len - r->off)
            return dh_error_make(err, EPROTO,
                                 "protobuf field %u at offset %zu: length %llu past the end of "
                                 "the message",
                                 f->number, start, (unsigned long long)len);
        f->data = r->data + r->off;
        f->len = (size_t)len;
        r->off += (size_t)len;
        return 1;
    default:
        return dh_error_make(err, EPROTO,
                             "protobuf field %u at offset %zu: unsupported wire type %u", f->number,
                             start, (unsigned)(key & 7));
    }
}

int dh_pb_field_string(const struct dh_pb_field *f, size_t max, char **ret, struct dh_error **err)
{
    if (f->wire != DH_PB_LEN)
        return dh_error_make(err, EPROTO, "protobuf field %u is not a string", f->number);
    if (f->len > max)
        return dh_error_make(err, EPROTO, "protobuf field %u: string longer than %zu bytes",
                             f->number, max);
    if (f->len && memchr(f->data, '\0', f->len))
        return dh_error_make(err, EPROTO, "protobuf field %u: string holds a NUL byte", f->number);
    free(*ret);
    *ret = dh_xstrndup(f->len ? (const char *)f->data : "", f->len);
    return 0;
}

int dh_pb_packed_varint_next(struct dh_pb_reader *r, uint64_t *ret, struct dh_error **err)
{
    if (r->off >= r->len)
        return 0;
    return dh_pb_read_varint(r, ret, err) < 0 ? -1 : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the protobuf wire codec (src/protobuf.c).  Expected bytes come
   from the protobuf encoding documentation (protobuf.dev/programming-guides/encoding)
   and from `protoc --encode` (test/unit/cri/gen-fixtures.sh). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/protobuf.h"

#include "t.h"

#define MEM_EQ(b, lit) ((b).len == sizeof(lit) - 1 && memcmp((b).data, lit, sizeof(lit) - 1) == 0)

static void test_varint_encode(void)
{
    static const struct {
        uint64_t v;
        const char *bytes;
        size_t n;
    } cases[] = {
            {0, "\x00", 1},
            {1, "\x01", 1},
            {127, "\x7f", 1},
            {128, "\x80\x01", 2},
            {150, "\x96\x01", 2}, /* the encoding guide's example */
            {300, "\xac\x02", 2},
            {UINT32_MAX, "\xff\xff\xff\xff\x0f", 5},
            {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(64);
        struct dh_pb_reader r;
        struct dh_error *err = NULL;
        uint64_t v = 12345;

        T_ASSERT(dh_pb_put_varint(&b, cases[i].v, &err) == 0);
        T_EQ_INT(b.len, cases[i].n);
        T_ASSERT(memcmp(b.data, cases[i].bytes, cases[i].n) == 0);
        dh_pb_reader_init(&r, b.data, b.len);
        T_ASSERT(dh_pb_read_varint(&r, &v, &err) == 0);
        T_ASSERT(v == cases[i].v);
        T_EQ_INT(r.off, cases[i].n);
    }
}

static void test_varint_decode_errors(void)
{
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
            {"", 0},
            {"\x80", 1},                                          /* truncated */
            {"\xff\xff", 2},                                      /* truncated */
            {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10},     /* 65th bit */
            {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 11}, /* 11 bytes */
            {"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11}, /* over-long zero */
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        struct dh_pb_reader r;
        struct dh_error *err = NULL;
        uint64_t v = 7;

        dh_pb_reader_init(&r, bad[i].bytes, bad[i].n);
        T_ASSERT(dh_pb_read_varint(&r, &v, &err) < 0);
        T_ASSERT(err && err->status == EPROTO);
        T_ASSERT(v == 7);
        dh_error_free(&err);
    }
}

static void test_put_fields(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(256);
    _cleanup_buf_ struct dh_buf sub = DH_BUF_INIT(256);
    struct dh_error *err = NULL;

    /* proto3 defaults are omitted */
    T_ASSERT(dh_pb_put_string(&b, 1, NULL, &err) == 0);
    T_ASSERT(dh_pb_put_string(&b, 1, "", &err) == 0);
    T_ASSERT(dh_pb_put_uint64(&b, 4, 0, &err) == 0);
    T_ASSERT(dh_pb_put_bool(&b, 2, false, &err) == 0);
    T_EQ_INT(b.len, 0);
    /* the guide's "testing" string in field 2, then 150 in field 1 */
    T_ASSERT(dh_pb_put_string(&b, 2, "testing", &err) == 0);
    T_ASSERT(dh_pb_put_uint64(&b, 1, 150, &err) == 0);
    T_ASSERT(MEM_EQ(b, "\x12\x07testing\x08\x96\x01"));
    dh_buf_release(&b);
    /* bool, high field numbers (ImageSpec 18, 19, 20), empty bytes, empty message */
    T_ASSERT(dh_pb_put_bool(&b, 2, true, &err) == 0);
    T_ASSERT(dh_pb_put_string(&b, 18, "x", &err) == 0);
    T_ASSERT(dh_pb_put_string(&b, 20, "y", &err) == 0);
    T_ASSERT(dh_pb_put_bytes(&b, 3, NULL, 0, &err) == 0);
    T_ASSERT(dh_pb_put_message(&b, 7, &sub, &err) == 0);
    T_ASSERT(MEM_EQ(b, "\x10\x01\x92\x01\x01x\xa2\x01\x01y\x1a\x00\x3a\x00"));
    dh_buf_release(&b);
    /* map<string,string> entry: {key = 1, value = 2} under the map's field */
    T_ASSERT(dh_pb_put_map_entry(&b, 2, "a", "b", &err) == 0);
    T_ASSERT(MEM_EQ(b, "\x12\x06\x0a\x01\x61\x12\x01\x62"));
    dh_buf_release(&b);
    /* nested message */
    T_ASSERT(dh_pb_put_string(&sub, 1, "hi", &err) == 0);
    T_ASSERT(dh_pb_put_message(&b, 1, &sub, &err) == 0);
    T_ASSERT(MEM_EQ(b, "\x0a\x04\x0a\x02hi"));
    /* invalid field numbers */
    T_ASSERT(dh_pb_put_tag(&b, 0, DH_PB_VARINT, &err) < 0);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    T_ASSERT(dh_pb_put_tag(&b, DH_PB_MAX_FIELD + 1, DH_PB_LEN, &err) < 0);
    dh_error_free(&err);
    T_ASSERT(dh_pb_put_tag(&b, DH_PB_MAX_FIELD, DH_PB_LEN, &err) == 0);
}

static void test_put_capped(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(8);
    struct dh_error *err = NULL;

    T_ASSERT(dh_pb_put_string(&b, 1, "12345", &err) == 0);
    T_ASSERT(dh_pb_put_string(&b, 1, "12345", &err) < 0);
    T_ASSERT(err && err->status == E2BIG);
    dh_error_free(&err);
}

static void test_next_all_wire_types(void)
{
    /* 1: varint 150; 2: fixed64; 3: LEN "ab"; 4: fixed32; 5: empty LEN */
    static const char msg[] = "\x08\x96\x01"
                              "\x11\x01\x02\x03\x04\x05\x06\x07\x08"
                              "\x1a\x02"
                              "ab"
                              "\x25\x78\x56\x34\x12"
                              "\x2a\x00";
    struct dh_pb_reader r;
    struct dh_pb_field f;
    struct dh_error *err = NULL;

    dh_pb_reader_init(&r, msg, sizeof(msg) - 1);
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 1);
    T_EQ_INT(f.wire, DH_PB_VARINT);
    T_ASSERT(f.value == 150);
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 2);
    T_EQ_INT(f.wire, DH_PB_FIXED64);
    T_ASSERT(f.value == UINT64_C(0x0807060504030201));
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 3);
    T_EQ_INT(f.wire, DH_PB_LEN);
    T_EQ_INT(f.len, 2);
    T_ASSERT(memcmp(f.data, "ab", 2) == 0);
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 4);
    T_EQ_INT(f.wire, DH_PB_FIXED32);
    T_ASSERT(f.value == 0x12345678);
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 5);
    T_EQ_INT(f.len, 0);
    T_EQ_INT(dh_pb_next(&r, &f, &err), 0);
    T_EQ_INT(dh_pb_next(&r, &f, &err), 0);
    T_ASSERT(err == NULL);
}

static void test_next_errors(void)
{
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
            {"\x00\x01", 2},         /* field number 0 */
            {"\x0b", 1},             /* group start (wire 3) */
            {"\x0c", 1},             /* group end (wire 4) */
            {"\x0e\x00", 2},         /* wire type 6 */
            {"\x0f\x00", 2},         /* wire type 7 */
            {"\x08", 1},             /* varint value missing */
            {"\x08\x80", 2},         /* varint value truncated */
            {"\x09\x01\x02\x03", 4}, /* fixed64 truncated */
            {"\x0d\x01\x02", 3},     /* fixed32 truncated */
            {"\x0a\x05"
             "abcd",
             6},                                              /* LEN past the end */
            {"\x0a", 1},                                      /* LEN length missing */
            {"\x0a\xff\xff\xff\xff\x0f", 6},                  /* LEN 4 GiB */
            {"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10}, /* LEN 2^63-1 */
            {"\x80", 1},                                      /* key truncated */
            {"\x80\x80\x80\x80\x10\x00", 6},                  /* field number 2^29 */
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        struct dh_pb_reader r;
        struct dh_pb_field f;
        struct dh_error *err = NULL;

        dh_pb_reader_init(&r, bad[i].bytes, bad[i].n);
        if (dh_pb_next(&r, &f, &err) != -1)
            T_FAIL_AT("case %zu accepted", i);
        T_ASSERT(err && err->status == EPROTO);
        dh_error_free(&err);
    }
}

static void test_field_string(void)
{
    struct dh_pb_field f = {
            .number = 1, .wire = DH_PB_LEN, .data = (const uint8_t *)"abc", .len = 3};
    struct dh_error *err = NULL;
    char *s = dh_xstrdup("old");

    T_ASSERT(dh_pb_field_string(&f, 16, &s, &err) == 0);
    T_EQ_STR(s, "abc");
    T_ASSERT(dh_pb_field_string(&f, 2, &s, &err) < 0); /* too long: old value kept */
    T_EQ_STR(s, "abc");
    dh_error_free(&err);
    f.data = (const uint8_t *)"a\0c";
    T_ASSERT(dh_pb_field_string(&f, 16, &s, &err) < 0);
    T_ASSERT(err && err->status == EPROTO);
    dh_error_free(&err);
    f.wire = DH_PB_VARINT;
    T_ASSERT(dh_pb_field_string(&f, 16, &s, &err) < 0);
    dh_error_free(&err);
    f.wire = DH_PB_LEN;
    f.len = 0;
    f.data = NULL;
    T_ASSERT(dh_pb_field_string(&f, 16, &s, &err) == 0);
    T_EQ_STR(s, "");
    free(s);
}

static void test_packed(void)
{
    /* the guide's packed repeated int32 [3, 270, 86942] in field 4 */
    static const char msg[] = "\x22\x06\x03\x8e\x02\x9e\xa7\x05";
    static const uint64_t want[] = {3, 270, 86942};
    struct dh_pb_reader r, p;
    struct dh_pb_field f;
    struct dh_error *err = NULL;
    uint64_t v;
    size_t n = 0;
    int k;

    dh_pb_reader_init(&r, msg, sizeof(msg) - 1);
    T_REQUIRE(dh_pb_next(&r, &f, &err) == 1);
    T_EQ_INT(f.number, 4);
    dh_pb_reader_init(&p, f.data, f.len);
    while ((k = dh_pb_packed_varint_next(&p, &v, &err)) == 1) {
        T_REQUIRE(n < 3);
        T_ASSERT(v == want[n]);
        n++;
    }
    T_EQ_INT(k, 0);
    T_EQ_INT(n, 3);
    dh_pb_reader_init(&p, "\x03\x8e", 2);
    T_EQ_INT(dh_pb_packed_varint_next(&p, &v, &err), 1);
    T_EQ_INT(dh_pb_packed_varint_next(&p, &v, &err), -1);
    dh_error_free(&err);
}

int main(void)
{
    T_RUN(test_varint_encode);
    T_RUN(test_varint_decode_errors);
    T_RUN(test_put_fields);
    T_RUN(test_put_capped);
    T_RUN(test_next_all_wire_types);
    T_RUN(test_next_errors);
    T_RUN(test_field_string);
    T_RUN(test_packed);
    return t_done();
}

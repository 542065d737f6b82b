/* SPDX-License-Identifier: Apache-2.0 */
/* A faster json_loadb(); see include/dockhand/jsonload.h. */
#include "dockhand/jsonload.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/buf.h"
#include "dockhand/mem.h"

/* Below jansson's JSON_PARSER_MAX_DEPTH (2048): deeper documents go to jansson. */
#define FAST_MAX_DEPTH 512

struct parser {
    const unsigned char *start, *p, *end;
    size_t flags;
    int depth;
    struct dh_buf scratch; /* decoded escaped strings (secret: wiped) */
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or 0 (jansson's rules:
   no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n, i;
    uint32_t v;

    if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07;
    else
        return 0;
    if ((size_t)(end - s) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (n == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    return n;
}

static int hex4(const unsigned char *s, uint32_t *ret)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned c = s[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *ret = v;
    return 0;
}

static int put_utf8(struct dh_buf *b, uint32_t v)
{
    char u[4];
    size_t n;

    if (v < 0x80) {
        u[0] = (char)v, n = 1;
    } else if (v < 0x800) {
        u[0] = (char)(0xC0 | v >> 6), u[1] = (char)(0x80 | (v & 0x3F)), n = 2;
    } else if (v < 0x10000) {
        u[0] = (char)(0xE0 | v >> 12), u[1] = (char)(0x80 | (v >> 6 & 0x3F));
        u[2] = (char)(0x80 | (v & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | v >> 18), u[1] = (char)(0x80 | (v >> 12 & 0x3F));
        u[2] = (char)(0x80 | (v >> 6 & 0x3F)), u[3] = (char)(0x80 | (v & 0x3F)), n = 4;
    }
    return dh_buf_append(b, u, n, NULL);
}

/* Decodes the escapes of a string body [s, e) (already checked for control bytes
   and UTF-8) into ps->scratch. */
static int unescape(struct parser *ps, const unsigned char *s, const unsigned char *e)
{
    struct dh_buf *b = &ps->scratch;

    dh_buf_truncate(b, 0);
    while (s < e) {
        const unsigned char *q = s;
        uint32_t v, lo;

        while (q < e && *q != '\\')
            q++;
        if (q > s && dh_buf_append(b, s, (size_t)(q - s), NULL) < 0)
            return -1;
        if (q == e)
            break;
        q++; /* the escape */
        switch (*q) {
        case '"':
        case '\\':
        case '/':
            v = *q;
            break;
        case 'b':
            v = '\b';
            break;
        case 'f':
            v = '\f';
            break;
        case 'n':
            v = '\n';
            break;
        case 'r':
            v = '\r';
            break;
        case 't':
            v = '\t';
            break;
        case 'u':
            if (e - q < 5 || hex4(q + 1, &v) < 0)
                return -1;
            q += 4;
            if (v >= 0xDC00 && v <= 0xDFFF)
                return -1;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (e - q < 7 || q[1] != '\\' || q[2] != 'u' || hex4(q + 3, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            break;
        default:
            return -1;
        }
        if (put_utf8(b, v) < 0)
            return -1;
        s = q + 1;
    }
    return 0;
}

/* Scans a string at ps->p (on the opening quote).  Sets *ret and *ret_len to its decoded
   text (in the input when it has no escape, else in ps->scratch). */
/* True when the 8 bytes at q are all printable ASCII other than '"' and '\\'
   (bytes < 0x20, >= 0x80, '"' or '\\' set a high bit: the classic SWAR tests). */
static inline bool plain8(const unsigned char *q)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x, lt, dq, bs;

    memcpy(&x, q, 8);
    lt = (x - ones * 0x20) & ~x;
    dq = x ^ (ones * '"');
    dq = (dq - ones) & ~dq;
    bs = x ^ (ones * '\\');
    bs = (bs - ones) & ~bs;
    return ((lt | dq | bs | x) & highs) == 0;
}

static int scan_string(struct parser *ps, const char **ret, size_t *ret_len)
{
    const unsigned char *s = ps->p + 1, *q = s;
    bool escaped = false;

    for (;;) {
        /* the common case: printable ASCII (base64 tokens), 8 bytes at a time */
        while (ps->end - q >= 8 && plain8(q))
            q += 8;
        while (q < ps->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
        if (q >= ps->end)
            return -1;
        if (*q == '"')
            break;
        if (*q == '\\') {
            escaped = true;
            q += 2; /* the escaped character is checked by unescape() */
            if (q > ps->end)
                return -1;
            continue;
        }
        if (*q < 0x20)
            return -1;
        {
            size_t n = utf8_seq(q, ps->end);
            if (!n)
                return -1;
            q += n;
        }
    }
    ps->p = q + 1;
    if (!escaped) {
        *ret = (const char *)s;
        *ret_len = (size_t)(q - s);
        return 0;
    }
    if (unescape(ps, s, q) < 0)
        return -1;
    *ret = ps->scratch.data ? ps->scratch.data : "";
    *ret_len = ps->scratch.len;
    return 0;
}

static bool is_delim(const struct parser *ps)
{
    unsigned c;

    if (ps->p >= ps->end)
        return true;
    c = *ps->p;
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' ||
           c == ':';
}

static json_t *scan_number(struct parser *ps)
{
    const unsigned char *s = ps->p, *q = s;
    char tmp[64], *endp;
    double v;

    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end)
        return NULL;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return NULL;
    }
    if (q < ps->end && *q == '.') {
        const unsigned char *d = ++q;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
        if (q == d)
            return NULL;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        const unsigned char *d;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        d = q;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
        if (q == d)
            return NULL;
    }
    ps->p = q;
    if (!is_delim(ps) || (size_t)(q - s) >= sizeof(tmp))
        return NULL; /* "01", "1x", very long numbers: jansson decides */
    memcpy(tmp, s, (size_t)(q - s));
    tmp[q - s] = '\0';
    v = strtod(tmp, &endp);
    if (*endp || isinf(v) || isnan(v))
        return NULL;
    return json_real(v);
}

static json_t *parse_value(struct parser *ps);

static json_t *parse_object(struct parser *ps)
{
    json_t *obj = json_object();

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        char *copy = NULL;
        const char *k;
        size_t klen;
        json_t *v;

        if (ps->p >= ps->end || *ps->p != '"' || scan_string(ps, &k, &klen) < 0 ||
            memchr(k, '\0', klen))
            goto fail;
        /* a decoded key lives in the scratch buffer, which the value may reuse */
        if ((const unsigned char *)k < ps->start || (const unsigned char *)k >= ps->end)
            k = copy = dh_xstrndup(k, klen);
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            free(copy);
            goto fail;
        }
        ps->p++;
        skip_ws(ps);
        v = parse_value(ps);
        if (!v || json_object_setn_new_nocheck(obj, k, klen, v) < 0) {
            free(copy);
            goto fail;
        }
        free(copy);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        goto fail;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(struct parser *ps)
{
    json_t *arr = json_array();

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(ps);

        if (!v || json_array_append_new(arr, v) < 0)
            goto fail;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *literal(struct parser *ps, const char *word, json_t *v)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return NULL;
    ps->p += n;
    return is_delim(ps) ? v : NULL;
}

static json_t *parse_value(struct parser *ps)
{
    json_t *v = NULL;
    const char *s;
    size_t n;

    if (ps->p >= ps->end)
        return NULL;
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > FAST_MAX_DEPTH)
            return NULL;
        v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"':
        if (scan_string(ps, &s, &n) < 0)
            return NULL;
        if (!(ps->flags & JSON_ALLOW_NUL) && memchr(s, '\0', n))
            return NULL;
        return json_stringn_nocheck(s, n);
    case 't':
        return literal(ps, "true", json_true());
    case 'f':
        return literal(ps, "false", json_false());
    case 'n':
        return literal(ps, "null", json_null());
    default:
        return scan_number(ps);
    }
}

json_t *dh_json_loadb_fast(const char *buf, size_t len, size_t flags)
{
    struct parser ps = {.start = (const unsigned char *)buf,
                        .p = (const unsigned char *)buf,
                        .end = (const unsigned char *)buf + len,
                        .flags = flags,
                        .scratch = DH_BUF_INIT_SECRET(len + 16)};
    json_t *v = NULL;

    if (!buf || (flags & ~(size_t)DH_JSON_FAST_FLAGS) || !(flags & JSON_DECODE_INT_AS_REAL))
        return NULL;
    skip_ws(&ps);
    if (ps.p < ps.end && (*ps.p == '{' || *ps.p == '[')) {
        v = parse_value(&ps);
        skip_ws(&ps);
        if (v && ps.p != ps.end) {
            json_decref(v);
            v = NULL;
        }
    }
    dh_buf_release(&ps.scratch);
    return v;
}

json_t *dh_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    json_t *v = dh_json_loadb_fast(buf, len, flags);

    if (v) {
        if (error) { /* as jansson leaves it on success */
            memset(error, 0, sizeof(*error));
            error->line = -1;
            error->column = -1;
            strcpy(error->source, "<buffer>");
        }
        return v;
    }
    return json_loadb(buf, len, flags, error);
}

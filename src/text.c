/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/mem.h"

/* Decodes one UTF-8 sequence at s (len > 0).  Returns its length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret)
{
    uint32_t c = s[0];
    size_t n, i;

    if (c < 0x80) {
        *ret = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, c &= 0x07;
    else
        return 0;
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *ret = c;
    return n;
}

bool dh_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;

    while (len) {
        size_t n = utf8_decode(p, len, &c);

        if (!n)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

/* unicode.IsSpace */
static bool is_space(uint32_t c)
{
    switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200a;
    }
}

void dh_trim_space(const char *s, size_t len, size_t *ret_start, size_t *ret_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0, end = len;
    uint32_t c;

    while (start < end) {
        size_t n = utf8_decode(p + start, end - start, &c);
        if (!n || !is_space(c))
            break;
        start += n;
    }
    while (end > start) {
        /* Step back to the start of the last sequence. */
        size_t b = end - 1, n;
        while (b > start && (p[b] & 0xc0) == 0x80 && end - b < 4)
            b--;
        n = utf8_decode(p + b, end - b, &c);
        if (n != end - b || !is_space(c))
            break;
        end = b;
    }
    *ret_start = start;
    *ret_len = end - start;
}

int dh_json_go_quote(struct dh_buf *out, const char *s, struct dh_error **err)
{
    return dh_json_go_quote_n(out, s, strlen(s), err);
}

int dh_json_go_quote_n(struct dh_buf *out, const char *s, size_t len, struct dh_error **err)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    if (dh_buf_append(out, "\"", 1, err) < 0)
        return -1;
    while (i < len) {
        unsigned char b = p[i];
        char esc[7];
        size_t elen = 0, adv = 1;
        uint32_t c;

        if (b >= 0x80) {
            size_t n = utf8_decode(p + i, len - i, &c);
            if (n == 0) {
                memcpy(esc, "\\ufffd", 6);
                elen = 6;
            } else if (c == 0x2028 || c == 0x2029) {
                memcpy(esc, c == 0x2028 ? "\\u2028" : "\\u2029", 6);
                elen = 6;
                adv = n;
            } else {
                i += n;
                run += n;
                continue;
            }
        } else if (b == '"' || b == '\\') {
            esc[0] = '\\', esc[1] = (char)b, elen = 2;
        } else if (b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t') {
            esc[0] = '\\';
            esc[1] = b == '\b' ? 'b' : b == '\f' ? 'f' : b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
            elen = 2;
        } else if (b < 0x20 || b == '<' || b == '>' || b == '&') {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[b >> 4];
            esc[5] = hex[b & 0xf];
            elen = 6;
        } else {
            i++;
            run++;
            continue;
        }
        if (dh_buf_append(out, p + i - run, run, err) < 0 || dh_buf_append(out, esc, elen, err) < 0)
            return -1;
        run = 0;
        i += adv;
    }
    if (dh_buf_append(out, p + len - run, run, err) < 0)
        return -1;
    return dh_buf_append(out, "\"", 1, err);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dh_pct_decode(const char *s, size_t n, bool strict)
{
    char *out = dh_xmalloc(n + 1);
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int h = -1, l = -1;

        if (s[i] == '%' && i + 2 < n) {
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
        }
        if (s[i] == '%' && h >= 0 && l >= 0 && !(strict && h == 0 && l == 0)) {
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (s[i] == '%' && strict) {
            free(out);
            return NULL;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

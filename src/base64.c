/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/base64.h"

#include <errno.h>
#include <stdint.h>

#include "dockhand/mem.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *dh_base64_encode(const void *data, size_t len, bool url)
{
    const unsigned char *in = data;
    const char *a = url ? url_alpha : std_alpha;
    size_t outlen, i, o = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        dh_oom();
    outlen = (len + 2) / 3 * 4;
    out = dh_xmalloc(outlen + 1);
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
        out[o++] = a[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = a[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int dh_base64_decode(const char *s, size_t len, struct dh_buf *out, struct dh_error **err)
{
    unsigned char chunk[3];
    uint32_t acc = 0;
    size_t i, n = 0, pad = 0;
    int bits = 0;

    while (len && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if ((len + pad) % 4 != 0 && pad)
        return dh_error_make(err, EINVAL, "invalid base64 padding");
    if (len % 4 == 1)
        return dh_error_make(err, EINVAL, "invalid base64 length");
    for (i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);

        if (v < 0)
            return dh_error_make(err, EINVAL, "invalid base64 character at offset %zu", i);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            chunk[n++] = (unsigned char)(acc >> bits & 0xff);
            if (n == sizeof(chunk)) {
                if (dh_buf_append(out, chunk, n, err) < 0)
                    goto fail;
                n = 0;
            }
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1)))
        return dh_error_make(err, EINVAL, "invalid base64 trailing bits");
    if (n && dh_buf_append(out, chunk, n, err) < 0)
        goto fail;
    dh_wipe(chunk, sizeof(chunk));
    return 0;
fail:
    dh_wipe(chunk, sizeof(chunk));
    return -1;
}

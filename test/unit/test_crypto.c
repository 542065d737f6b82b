/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: AES-256-GCM sealing, tamper detection, known-answer vector. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"

#include "t.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_seal_open_roundtrip(void)
{
    _cleanup_buf_ struct dh_buf sealed = DH_BUF_INIT(4096), plain = DH_BUF_INIT(4096);
    struct dh_error *err = NULL;

    T_EQ_INT(dh_aead_seal(key, "aad", 3, "secret!", 7, &sealed, &err), 0);
    T_EQ_INT(sealed.len, 7 + DH_AEAD_OVERHEAD);
    T_ASSERT(memmem(sealed.data, sealed.len, "secret!", 7) == NULL);
    T_EQ_INT(dh_aead_open(key, "aad", 3, sealed.data, sealed.len, &plain, &err), 0);
    T_EQ_INT(plain.len, 7);
    T_EQ_STR(plain.data, "secret!");
}

static void test_nonce_unique(void)
{
    _cleanup_buf_ struct dh_buf a = DH_BUF_INIT(4096), b = DH_BUF_INIT(4096);

    T_EQ_INT(dh_aead_seal(key, NULL, 0, "x", 1, &a, NULL), 0);
    T_EQ_INT(dh_aead_seal(key, NULL, 0, "x", 1, &b, NULL), 0);
    T_ASSERT(memcmp(a.data, b.data, a.len) != 0);
}

static void test_tamper_detected(void)
{
    _cleanup_buf_ struct dh_buf sealed = DH_BUF_INIT(4096);
    uint8_t other[32];
    size_t i;

    memcpy(other, key, 32);
    other[0] ^= 1;
    T_EQ_INT(dh_aead_seal(key, "ns\0reg", 6, "password", 8, &sealed, NULL), 0);
    for (i = 0; i < sealed.len; i++) {
        _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(4096);
        struct dh_error *err = NULL;

        sealed.data[i] ^= 0x40;
        if (dh_aead_open(key, "ns\0reg", 6, sealed.data, sealed.len, &out, &err) == 0)
            T_FAIL_AT("flipped byte %zu not detected", i);
        else if (err->status != EBADMSG)
            T_FAIL_AT("status %d", err->status);
        T_ASSERT(out.len == 0);
        dh_error_free(&err);
        sealed.data[i] ^= 0x40;
    }
    {
        _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(4096);
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(dh_aead_open(key, "ns\0reh", 6, sealed.data, sealed.len, &out, &err), -1);
    }
    {
        _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(4096);
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(dh_aead_open(other, "ns\0reg", 6, sealed.data, sealed.len, &out, &err), -1);
    }
    {
        _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(4096);
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(dh_aead_open(key, "ns\0reg", 6, sealed.data, 10, &out, &err), -1);
    }
}

/* NIST GCM test vector (gcmEncryptExtIV256.rsp, Count 0 with 128-bit tag):
   key 0, IV 0, empty plaintext -> tag 530f8afbc74536b9a963b4f1c4cb738b. */
static void test_known_answer(void)
{
    static const uint8_t zero_key[32];
    static const uint8_t expected_tag[16] = {0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
                                             0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b};
    uint8_t msg[DH_AEAD_OVERHEAD] = {0};
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(64);

    memcpy(msg + DH_AEAD_NONCE_LEN, expected_tag, 16);
    T_EQ_INT(dh_aead_open(zero_key, NULL, 0, msg, sizeof(msg), &out, NULL), 0);
    T_EQ_INT(out.len, 0);
}

static void test_sha256_hmac(void)
{
    uint8_t out[DH_SHA256_LEN];
    char *hex;
    char longkey[131];

    dh_sha256("abc", 3, out);
    hex = dh_hex(out, sizeof(out));
    T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(hex);
    /* RFC 4231 test case 2 */
    dh_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
    hex = dh_hex(out, sizeof(out));
    T_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    free(hex);
    /* RFC 4231 test case 6: a key longer than the block */
    memset(longkey, 0xaa, sizeof(longkey));
    dh_hmac_sha256(longkey, sizeof(longkey),
                   "Test Using Larger Than Block-Size Key - Hash Key First", 54, out);
    hex = dh_hex(out, sizeof(out));
    T_EQ_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    free(hex);
}

int main(void)
{
    T_RUN(test_seal_open_roundtrip);
    T_RUN(test_nonce_unique);
    T_RUN(test_tamper_detected);
    T_RUN(test_known_answer);
    T_RUN(test_sha256_hmac);
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/crypto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

DH_DEFINE_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)

static void crypto_init(void)
{
    static int done;

    if (!done) {
        OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
        done = 1;
    }
}

int dh_random_bytes(void *buf, size_t len, struct dh_error **err)
{
    crypto_init();
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
        return dh_error_make(err, EIO, "cannot get random bytes");
    return 0;
}

int dh_aead_seal(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *pt, size_t ptlen, struct dh_buf *out, struct dh_error **err)
{
    DH_CLEANUP(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
    unsigned char nonce[DH_AEAD_NONCE_LEN], tag[DH_AEAD_TAG_LEN];
    size_t start = out->len;
    int n = 0, fin = 0;

    if (ptlen > INT_MAX / 2 || aadlen > INT_MAX)
        return dh_error_make(err, E2BIG, "data too large to encrypt");
    if (dh_random_bytes(nonce, sizeof(nonce), err) < 0)
        return -1;
    char *tail;
    if (dh_buf_append(out, nonce, sizeof(nonce), err) < 0)
        return -1;
    if (dh_buf_extend(out, ptlen + DH_AEAD_TAG_LEN, &tail, err) < 0) {
        dh_buf_truncate(out, start);
        return -1;
    }
    crypto_init();
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        dh_oom();
    unsigned char *ct = (unsigned char *)tail;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, DH_AEAD_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        (aadlen && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
        EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, DH_AEAD_TAG_LEN, tag) != 1) {
        dh_buf_truncate(out, start);
        return dh_error_make(err, EIO, "encryption failed");
    }
    memcpy(ct + ptlen, tag, sizeof(tag));
    return 0;
}

int dh_aead_open(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *in, size_t inlen, struct dh_buf *out, struct dh_error **err)
{
    DH_CLEANUP(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
    const unsigned char *p = in;
    size_t ctlen, start = out->len;
    unsigned char tag[DH_AEAD_TAG_LEN];
    int n = 0, fin = 0;

    if (inlen < DH_AEAD_OVERHEAD)
        return dh_error_make(err, EBADMSG, "encrypted data is truncated");
    ctlen = inlen - DH_AEAD_OVERHEAD;
    if (ctlen > INT_MAX / 2 || aadlen > INT_MAX)
        return dh_error_make(err, E2BIG, "encrypted data too large");
    memcpy(tag, p + DH_AEAD_NONCE_LEN + ctlen, sizeof(tag));
    char *tail;
    if (dh_buf_extend(out, ctlen, &tail, err) < 0)
        return -1;
    crypto_init();
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        dh_oom();
    unsigned char *pt = (unsigned char *)tail;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, DH_AEAD_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, p) != 1 ||
        (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
        EVP_DecryptUpdate(ctx, pt, &n, p + DH_AEAD_NONCE_LEN, (int)ctlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, DH_AEAD_TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1) {
        dh_buf_truncate(out, start);
        return dh_error_make(err, EBADMSG, "authentication failed (corrupted, tampered or wrong key)");
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cryptography, wrapping OpenSSL's libcrypto (the only module that includes
 * OpenSSL headers).  OpenSSL is initialised without reading openssl.cnf.
 */
#ifndef DOCKHAND_CRYPTO_H
#define DOCKHAND_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_AEAD_KEY_LEN   32
#define DH_AEAD_NONCE_LEN 12
#define DH_AEAD_TAG_LEN   16
#define DH_AEAD_OVERHEAD  (DH_AEAD_NONCE_LEN + DH_AEAD_TAG_LEN)

int dh_random_bytes(void *buf, size_t len, struct dh_error **err);

#define DH_SHA256_LEN 32
/* SHA-256 and HMAC-SHA256 (low-level, no EVP set-up: cheap enough for the `get` path). */
void dh_sha256(const void *data, size_t len, uint8_t out[DH_SHA256_LEN]);
void dh_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    uint8_t out[DH_SHA256_LEN]);
/* Incremental SHA-256 (streamed blobs): init, update any number of times, final.
   The context is plain memory (no allocation): copy it to fork a running hash. */
struct dh_sha256_ctx {
    _Alignas(8) unsigned char opaque[128];
};
void dh_sha256_init(struct dh_sha256_ctx *c);
void dh_sha256_update(struct dh_sha256_ctx *c, const void *data, size_t len);
void dh_sha256_final(struct dh_sha256_ctx *c, uint8_t out[DH_SHA256_LEN]);
/* RSASSA-PKCS1-v1_5 with SHA-256 (RS256) of data with the RSA private key in pem
   (NUL-terminated PEM).  Appends the signature to sig.  The signing code (EVP, PEM)
   is in libcrypto.so.3, loaded with dlopen at the first call, so that programs that
   never sign do not carry or initialise it.  Errors: EINVAL "not a PEM private key" /
   "not an RSA key", EIO "signing failed", ENOSYS when libcrypto cannot be loaded. */
int dh_rsa_sha256_sign(const char *pem, const void *data, size_t len, struct dh_buf *sig,
                       struct dh_error **err);
/* Lowercase hex of len bytes into a new string. */
char *dh_hex(const void *data, size_t len);

/* AES-256-GCM with a fresh random nonce.  Appends nonce || ciphertext || tag
   (len + DH_AEAD_OVERHEAD bytes) to out. */
int dh_aead_seal(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, struct dh_buf *out, struct dh_error **err);
/* Verifies and decrypts a sealed message; appends the plaintext to out (use a secret
   buffer).  A wrong key, tampered data or tampered aad fails with EBADMSG. */
int dh_aead_open(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *in,
                 size_t inlen, struct dh_buf *out, struct dh_error **err);

#endif

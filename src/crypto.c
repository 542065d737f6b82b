/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-256-GCM on OpenSSL's low-level AES and GCM128 functions.
 *
 * The EVP interface of OpenSSL 3 initialises the provider machinery on first
 * use, which costs about 1.5 MiB of resident memory and most of a millisecond:
 * too much for a credential helper that docker runs on every pull.  The block
 * cipher and mode functions used here are the same code EVP ends up in, minus
 * that set-up.  Random bytes come from getrandom(2).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "dockhand/crypto.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/random.h>

#include <openssl/aes.h>
#include <openssl/modes.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

int dh_random_bytes(void *buf, size_t len, struct dh_error **err)
{
    unsigned char *p = buf;

    while (len) {
        ssize_t n = getrandom(p, len, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dh_error_sys(err, errno, "cannot get random bytes");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void dh_sha256(const void *data, size_t len, uint8_t out[DH_SHA256_LEN])
{
    SHA256_CTX ctx;

    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, len);
    SHA256_Final(out, &ctx);
    dh_wipe(&ctx, sizeof(ctx));
}

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct dh_sha256_ctx *)0)->opaque),
               "struct dh_sha256_ctx too small for SHA256_CTX");

void dh_sha256_init(struct dh_sha256_ctx *c)
{
    SHA256_Init((SHA256_CTX *)(void *)c->opaque);
}

void dh_sha256_update(struct dh_sha256_ctx *c, const void *data, size_t len)
{
    SHA256_Update((SHA256_CTX *)(void *)c->opaque, data, len);
}

void dh_sha256_final(struct dh_sha256_ctx *c, uint8_t out[DH_SHA256_LEN])
{
    SHA256_Final(out, (SHA256_CTX *)(void *)c->opaque);
    dh_wipe(c, sizeof(*c));
}

void dh_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    uint8_t out[DH_SHA256_LEN])
{
    uint8_t k[SHA256_CBLOCK] = {0}, pad[SHA256_CBLOCK], inner[DH_SHA256_LEN];
    SHA256_CTX ctx;
    size_t i;

    if (keylen > sizeof(k))
        dh_sha256(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);
    for (i = 0; i < sizeof(k); i++)
        pad[i] = k[i] ^ 0x36;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, sizeof(pad));
    SHA256_Update(&ctx, data, len);
    SHA256_Final(inner, &ctx);
    for (i = 0; i < sizeof(k); i++)
        pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, sizeof(pad));
    SHA256_Update(&ctx, inner, sizeof(inner));
    SHA256_Final(out, &ctx);
    dh_wipe(k, sizeof(k));
    dh_wipe(pad, sizeof(pad));
    dh_wipe(inner, sizeof(inner));
    dh_wipe(&ctx, sizeof(ctx));
}

char *dh_hex(const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    char *out = dh_xmalloc(len * 2 + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

struct gcm {
    AES_KEY aes;
    GCM128_CONTEXT *ctx;
};

static void gcm_release(struct gcm *g)
{
    if (g->ctx)
        CRYPTO_gcm128_release(g->ctx);
    dh_wipe(&g->aes, sizeof(g->aes));
}

static int gcm_init(struct gcm *g, const uint8_t key[DH_AEAD_KEY_LEN], const unsigned char *nonce,
                    const void *aad, size_t aadlen)
{
    g->ctx = NULL;
    if (AES_set_encrypt_key(key, 256, &g->aes) != 0)
        return -1;
    g->ctx = CRYPTO_gcm128_new(&g->aes, (block128_f)AES_encrypt);
    if (!g->ctx)
        dh_oom();
    CRYPTO_gcm128_setiv(g->ctx, nonce, DH_AEAD_NONCE_LEN);
    if (aadlen && CRYPTO_gcm128_aad(g->ctx, aad, aadlen) != 0)
        return -1;
    return 0;
}

int dh_aead_seal(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, struct dh_buf *out, struct dh_error **err)
{
    DH_CLEANUP(gcm_release) struct gcm g = {.ctx = NULL};
    unsigned char nonce[DH_AEAD_NONCE_LEN];
    size_t start = out->len;
    char *tail;

    if (ptlen > ((size_t)1 << 32) || aadlen > INT_MAX)
        return dh_error_make(err, E2BIG, "data too large to encrypt");
    if (dh_random_bytes(nonce, sizeof(nonce), err) < 0)
        return -1;
    if (dh_buf_append(out, nonce, sizeof(nonce), err) < 0)
        return -1;
    if (dh_buf_extend(out, ptlen + DH_AEAD_TAG_LEN, &tail, err) < 0) {
        dh_buf_truncate(out, start);
        return -1;
    }
    if (gcm_init(&g, key, nonce, aad, aadlen) < 0 ||
        CRYPTO_gcm128_encrypt(g.ctx, pt, (unsigned char *)tail, ptlen) != 0) {
        dh_buf_truncate(out, start);
        return dh_error_make(err, EIO, "encryption failed");
    }
    CRYPTO_gcm128_tag(g.ctx, (unsigned char *)tail + ptlen, DH_AEAD_TAG_LEN);
    return 0;
}

int dh_aead_open(const uint8_t key[DH_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *in,
                 size_t inlen, struct dh_buf *out, struct dh_error **err)
{
    DH_CLEANUP(gcm_release) struct gcm g = {.ctx = NULL};
    const unsigned char *p = in;
    size_t ctlen, start = out->len;
    char *tail;

    if (inlen < DH_AEAD_OVERHEAD)
        return dh_error_make(err, EBADMSG, "encrypted data is truncated");
    ctlen = inlen - DH_AEAD_OVERHEAD;
    if (ctlen > ((size_t)1 << 32) || aadlen > INT_MAX)
        return dh_error_make(err, E2BIG, "encrypted data too large");
    if (dh_buf_extend(out, ctlen, &tail, err) < 0)
        return -1;
    /* CRYPTO_gcm128_finish compares the tag in constant time. */
    if (gcm_init(&g, key, p, aad, aadlen) < 0 ||
        CRYPTO_gcm128_decrypt(g.ctx, p + DH_AEAD_NONCE_LEN, (unsigned char *)tail, ctlen) != 0 ||
        CRYPTO_gcm128_finish(g.ctx, p + DH_AEAD_NONCE_LEN + ctlen, DH_AEAD_TAG_LEN) != 0) {
        dh_buf_truncate(out, start);
        return dh_error_make(err, EBADMSG,
                             "authentication failed (corrupted, tampered or wrong key)");
    }
    return 0;
}

/* ---- RSA signing through a dlopen()ed libcrypto.so.3 ---- */

static struct {
    void *handle;
    char *error;
    BIO *(*bio_new_mem_buf)(const void *, int);
    int (*bio_free)(BIO *);
    EVP_PKEY *(*pem_read_bio_privatekey)(BIO *, EVP_PKEY **, pem_password_cb *, void *);
    int (*pkey_get_base_id)(const EVP_PKEY *);
    void (*pkey_free)(EVP_PKEY *);
    EVP_MD_CTX *(*md_ctx_new)(void);
    void (*md_ctx_free)(EVP_MD_CTX *);
    const EVP_MD *(*sha256)(void);
    int (*digest_sign_init)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *, EVP_PKEY *);
    int (*digest_sign)(EVP_MD_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
    void (*err_clear)(void);
} lc;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

static void lc_load(void)
{
    static const struct {
        const char *name;
        size_t offset;
    } syms[] = {
            {"BIO_new_mem_buf", offsetof(__typeof__(lc), bio_new_mem_buf)},
            {"BIO_free", offsetof(__typeof__(lc), bio_free)},
            {"PEM_read_bio_PrivateKey", offsetof(__typeof__(lc), pem_read_bio_privatekey)},
            {"EVP_PKEY_get_base_id", offsetof(__typeof__(lc), pkey_get_base_id)},
            {"EVP_PKEY_free", offsetof(__typeof__(lc), pkey_free)},
            {"EVP_MD_CTX_new", offsetof(__typeof__(lc), md_ctx_new)},
            {"EVP_MD_CTX_free", offsetof(__typeof__(lc), md_ctx_free)},
            {"EVP_sha256", offsetof(__typeof__(lc), sha256)},
            {"EVP_DigestSignInit", offsetof(__typeof__(lc), digest_sign_init)},
            {"EVP_DigestSign", offsetof(__typeof__(lc), digest_sign)},
            {"ERR_clear_error", offsetof(__typeof__(lc), err_clear)},
    };
    size_t i;

    lc.handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lc.handle) {
        const char *e = dlerror();
        lc.error = dh_xasprintf("cannot load libcrypto (libcrypto.so.3): %s; install libssl3",
                                e ? e : "unknown error");
        return;
    }
    for (i = 0; i < DH_ARRAY_SIZE(syms); i++) {
        void *f = dlsym(lc.handle, syms[i].name);

        if (!f) {
            lc.error = dh_xasprintf("libcrypto.so.3 lacks '%s'", syms[i].name);
            return;
        }
        memcpy((char *)&lc + syms[i].offset, &f, sizeof(f));
    }
}

int dh_rsa_sha256_sign(const char *pem, const void *data, size_t len, struct dh_buf *sig,
                       struct dh_error **err)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *ctx = NULL;
    size_t siglen = 0, start = sig->len;
    char *tail;
    int r = -1;

    pthread_once(&lc_once, lc_load);
    if (lc.error)
        return dh_error_make(err, ENOSYS, "%s", lc.error);
    if (strlen(pem) > INT_MAX)
        return dh_error_make(err, EINVAL, "not a PEM private key");
    bio = lc.bio_new_mem_buf(pem, (int)strlen(pem));
    if (!bio)
        dh_oom();
    pkey = lc.pem_read_bio_privatekey(bio, NULL, NULL, NULL);
    if (!pkey) {
        dh_error_make(err, EINVAL, "not a PEM private key");
        goto out;
    }
    if (lc.pkey_get_base_id(pkey) != EVP_PKEY_RSA) {
        dh_error_make(err, EINVAL, "not an RSA key");
        goto out;
    }
    ctx = lc.md_ctx_new();
    if (!ctx)
        dh_oom();
    if (lc.digest_sign_init(ctx, NULL, lc.sha256(), NULL, pkey) != 1 ||
        lc.digest_sign(ctx, NULL, &siglen, data, len) != 1 ||
        dh_buf_extend(sig, siglen, &tail, err) < 0) {
        if (!err || !*err)
            dh_error_make(err, EIO, "signing failed");
        goto out;
    }
    if (lc.digest_sign(ctx, (unsigned char *)tail, &siglen, data, len) != 1) {
        dh_buf_truncate(sig, start);
        dh_error_make(err, EIO, "signing failed");
        goto out;
    }
    dh_buf_truncate(sig, start + siglen);
    r = 0;
out:
    if (ctx)
        lc.md_ctx_free(ctx);
    if (pkey)
        lc.pkey_free(pkey);
    lc.bio_free(bio);
    lc.err_clear();
    return r;
}

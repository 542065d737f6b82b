/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials and Signature Version 4 (header signing). */
#include "dockhand/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"

#define SIGV4_MAX_TEXT ((size_t)16 << 20)

struct dh_aws_creds *dh_aws_creds_new(const char *akid, const char *secret, const char *token,
                                      int64_t expires_at, const char *source)
{
    struct dh_aws_creds *c = dh_xcalloc(1, sizeof(*c));

    c->access_key_id = dh_xstrdup(akid ? akid : "");
    c->secret_access_key = dh_xstrdup(secret ? secret : "");
    c->session_token = token && *token ? dh_xstrdup(token) : NULL;
    c->expires_at = expires_at;
    c->source = dh_xstrdup(source ? source : "");
    return c;
}

void dh_aws_creds_free(struct dh_aws_creds *c)
{
    if (!c)
        return;
    dh_str_free_wipe(c->access_key_id);
    dh_str_free_wipe(c->secret_access_key);
    dh_str_free_wipe(c->session_token);
    free(c->source);
    dh_wipe(c, sizeof(*c));
    free(c);
}

void dh_sigv4_output_release(struct dh_sigv4_output *out)
{
    if (!out)
        return;
    free(out->authorization);
    free(out->amz_date);
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->signature);
    memset(out, 0, sizeof(*out));
}

char *dh_aws_endpoint_url(const char *service_env_id, const char *default_url)
{
    const char *v = NULL;

    if (service_env_id && *service_env_id) {
        _cleanup_free_ char *name = dh_xasprintf("AWS_ENDPOINT_URL_%s", service_env_id);
        v = getenv(name);
    }
    if (!v || !*v)
        v = getenv("AWS_ENDPOINT_URL");
    if (!v || !*v)
        v = default_url;
    return dh_xstrdup(v ? v : "");
}

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 encoding of s[0..len), keeping '/' when keep_slash. */
static int uri_encode(struct dh_buf *b, const char *s, size_t len, bool keep_slash,
                      struct dh_error **err)
{
    static const char hexd[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (dh_buf_append(b, &s[i], 1, err) < 0)
                return -1;
        } else {
            char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};
            if (dh_buf_append(b, e, 3, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int canonical_path(struct dh_buf *b, const char *path, bool no_normalize,
                          struct dh_error **err)
{
    if (!path || !*path)
        path = "/";
    if (no_normalize)
        return uri_encode(b, path, strlen(path), true, err);

    /* Remove empty and "." segments, resolve "..", keep a trailing slash. */
    size_t len = strlen(path);
    const char **segs = dh_xcalloc(len + 1, sizeof(*segs));
    size_t *lens = dh_xcalloc(len + 1, sizeof(*lens));
    size_t nseg = 0;
    bool trailing = len > 0 && path[len - 1] == '/';
    int r = 0;

    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t sl = e ? (size_t)(e - p) : strlen(p);
        if (sl == 1 && p[0] == '.') {
            if (!e)
                trailing = true;
        } else if (sl == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg > 0)
                nseg--;
            if (!e)
                trailing = true;
        } else {
            segs[nseg] = p;
            lens[nseg] = sl;
            nseg++;
        }
        p += sl;
    }
    if (nseg == 0) {
        r = dh_buf_puts(b, "/", err);
    } else {
        for (size_t i = 0; i < nseg && r == 0; i++) {
            r = dh_buf_puts(b, "/", err);
            if (r == 0)
                r = uri_encode(b, segs[i], lens[i], false, err);
        }
        if (r == 0 && trailing)
            r = dh_buf_puts(b, "/", err);
    }
    free(segs);
    free(lens);
    return r;
}

struct qparam {
    char *name; /* encoded */
    char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_str(const char *s, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(SIGV4_MAX_TEXT);

    if (uri_encode(&b, s, strlen(s), false, err) < 0)
        return NULL;
    return dh_buf_steal(&b, NULL);
}

static int canonical_query(struct dh_buf *b, const char *query, struct dh_error **err)
{
    if (!query || !*query)
        return 0;
    size_t n = 1;
    for (const char *p = query; *p; p++)
        n += *p == '&';
    struct qparam *qs = dh_xcalloc(n, sizeof(*qs));
    size_t nq = 0;
    int r = 0;

    for (const char *p = query; *p && r == 0;) {
        const char *e = strchr(p, '&');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0) {
            const char *eq = memchr(p, '=', l);
            size_t nl = eq ? (size_t)(eq - p) : l;
            _cleanup_free_ char *dn = dh_pct_decode(p, nl, false);
            _cleanup_free_ char *dv =
                    eq ? dh_pct_decode(eq + 1, l - nl - 1, false) : dh_xstrdup("");
            qs[nq].name = encode_str(dn, err);
            qs[nq].value = qs[nq].name ? encode_str(dv, err) : NULL;
            if (!qs[nq].value)
                r = -1;
            nq++;
        }
        p += l;
        if (*p == '&')
            p++;
    }
    if (r == 0) {
        qsort(qs, nq, sizeof(*qs), qparam_cmp);
        for (size_t i = 0; i < nq && r == 0; i++)
            r = dh_buf_printf(b, err, "%s%s=%s", i ? "&" : "", qs[i].name, qs[i].value);
    }
    for (size_t i = 0; i < nq; i++) {
        free(qs[i].name);
        free(qs[i].value);
    }
    free(qs);
    return r;
}

struct cheader {
    char *name;  /* lowercase */
    char *value; /* trimmed, white space runs collapsed */
    size_t order;
};

static int cheader_cmp(const void *a, const void *b)
{
    const struct cheader *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lower_dup(const char *s)
{
    char *r = dh_xstrdup(s);
    for (char *p = r; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

/* Trims the value and folds every run of white space (spaces, tabs, line breaks) into one space. */
static char *canonical_value(const char *v)
{
    size_t len = strlen(v);
    char *r = dh_xmalloc(len + 1);
    size_t n = 0;
    bool pending_space = false;

    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            pending_space = n > 0;
            continue;
        }
        if (pending_space)
            r[n++] = ' ';
        pending_space = false;
        r[n++] = *p;
    }
    r[n] = '\0';
    return r;
}

static const char *find_header(const struct dh_sigv4_input *in, const char *name)
{
    for (size_t i = 0; i < in->n_headers; i++)
        if (in->headers[i].name && strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value;
    return NULL;
}

static bool valid_amz_date(const char *d)
{
    if (strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return false;
    return true;
}

static void hmac(const uint8_t *key, size_t keylen, const char *data, uint8_t out[DH_SHA256_LEN])
{
    dh_hmac_sha256(key, keylen, data, strlen(data), out);
}

int dh_sigv4_sign(const struct dh_sigv4_input *in, const struct dh_aws_creds *creds,
                  struct dh_sigv4_output *out, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf creq = DH_BUF_INIT(SIGV4_MAX_TEXT);
    _cleanup_buf_ struct dh_buf signed_headers = DH_BUF_INIT(SIGV4_MAX_TEXT);
    _cleanup_free_ char *amz_date = NULL;
    _cleanup_free_ char *payload_hash = NULL;
    _cleanup_free_ char *creq_hash = NULL;
    _cleanup_free_ char *sts = NULL;
    _cleanup_free_ char *signature = NULL;
    _cleanup_free_ char *scope = NULL;
    char date[9];
    struct cheader *hs = NULL;
    size_t nh = 0;
    int r = -1;

    if (!in || !creds || !out || !in->method || !*in->method || !in->region || !*in->region ||
        !in->service || !*in->service || (in->n_headers && !in->headers))
        return dh_error_make(err, EINVAL, "sigv4: incomplete request to sign");
    if (!creds->access_key_id || !*creds->access_key_id || !creds->secret_access_key ||
        !*creds->secret_access_key)
        return dh_error_make(err, EINVAL, "sigv4: credentials without an access key id or secret");
    if (!find_header(in, "host"))
        return dh_error_make(err, EINVAL, "sigv4: the request has no host header");

    const char *date_hdr = find_header(in, "x-amz-date");
    if (date_hdr) {
        amz_date = canonical_value(date_hdr);
        if (!valid_amz_date(amz_date))
            return dh_error_make(err, EINVAL, "sigv4: bad x-amz-date header '%s'", amz_date);
    } else {
        struct tm tm;
        char d[32];
        time_t ts = in->timestamp;
        if (!gmtime_r(&ts, &tm) || strftime(d, sizeof(d), "%Y%m%dT%H%M%SZ", &tm) != 16)
            return dh_error_make(err, EINVAL, "sigv4: bad signing time");
        amz_date = dh_xstrdup(d);
    }
    bool add_token = creds->session_token && *creds->session_token &&
                     !find_header(in, "x-amz-security-token");

    hs = dh_xcalloc(in->n_headers + 2, sizeof(*hs));
    for (size_t i = 0; i < in->n_headers; i++) {
        if (!in->headers[i].name || !*in->headers[i].name) {
            dh_error_make(err, EINVAL, "sigv4: header without a name");
            goto out;
        }
        hs[nh].name = lower_dup(in->headers[i].name);
        hs[nh].value = canonical_value(in->headers[i].value ? in->headers[i].value : "");
        hs[nh].order = nh;
        nh++;
    }
    if (!date_hdr) {
        hs[nh].name = dh_xstrdup("x-amz-date");
        hs[nh].value = dh_xstrdup(amz_date);
        hs[nh].order = nh;
        nh++;
    }
    if (add_token) {
        hs[nh].name = dh_xstrdup("x-amz-security-token");
        hs[nh].value = canonical_value(creds->session_token);
        hs[nh].order = nh;
        nh++;
    }
    qsort(hs, nh, sizeof(*hs), cheader_cmp);

    /* The canonical request. */
    if (dh_buf_printf(&creq, err, "%s\n", in->method) < 0 ||
        canonical_path(&creq, in->path, in->no_path_normalize, err) < 0 ||
        dh_buf_puts(&creq, "\n", err) < 0 || canonical_query(&creq, in->query, err) < 0 ||
        dh_buf_puts(&creq, "\n", err) < 0)
        goto out;
    for (size_t i = 0; i < nh; i++) {
        bool same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same) {
            if (dh_buf_printf(&creq, err, ",%s", hs[i].value) < 0)
                goto out;
            continue;
        }
        if ((i > 0 && dh_buf_puts(&creq, "\n", err) < 0) ||
            dh_buf_printf(&creq, err, "%s:%s", hs[i].name, hs[i].value) < 0 ||
            dh_buf_printf(&signed_headers, err, "%s%s", i ? ";" : "", hs[i].name) < 0)
            goto out;
    }
    {
        uint8_t h[DH_SHA256_LEN];
        dh_sha256(in->payload_len ? in->payload : "", in->payload_len, h);
        payload_hash = dh_hex(h, sizeof(h));
    }
    if (dh_buf_printf(&creq, err, "\n\n%s\n%s", signed_headers.data ? signed_headers.data : "",
                      payload_hash) < 0)
        goto out;

    /* The string to sign. */
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    {
        uint8_t h[DH_SHA256_LEN];
        dh_sha256(creq.data, creq.len, h);
        creq_hash = dh_hex(h, sizeof(h));
    }
    scope = dh_xasprintf("%s/%s/%s/aws4_request", date, in->region, in->service);
    sts = dh_xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);

    /* The signing key and the signature. */
    {
        _cleanup_wipe_ char *ksecret = dh_xasprintf("AWS4%s", creds->secret_access_key);
        uint8_t k1[DH_SHA256_LEN], k2[DH_SHA256_LEN], sig[DH_SHA256_LEN];
        hmac((const uint8_t *)ksecret, strlen(ksecret), date, k1);
        hmac(k1, sizeof(k1), in->region, k2);
        hmac(k2, sizeof(k2), in->service, k1);
        hmac(k1, sizeof(k1), "aws4_request", k2);
        hmac(k2, sizeof(k2), sts, sig);
        signature = dh_hex(sig, sizeof(sig));
        dh_wipe(k1, sizeof(k1));
        dh_wipe(k2, sizeof(k2));
        dh_wipe(sig, sizeof(sig));
    }

    out->authorization =
            dh_xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                         creds->access_key_id, scope, signed_headers.data, signature);
    out->amz_date = TAKE_PTR(amz_date);
    out->canonical_request = dh_buf_steal(&creq, NULL);
    out->string_to_sign = TAKE_PTR(sts);
    out->signature = TAKE_PTR(signature);
    r = 0;
out:
    for (size_t i = 0; i < nh; i++) {
        free(hs[i].name);
        dh_str_free_wipe(hs[i].value); /* may hold the session token */
    }
    free(hs);
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Google access tokens (see include/dockhand/gcp.h and the reference notes,
 * credhelpers.md §3 and §6).
 *
 * RS256 signing of the service-account JWT is dh_rsa_sha256_sign() in crypto.c,
 * which loads libcrypto.so.3's EVP/PEM code with dlopen on first use: linked
 * statically, that code made every helper start-up pay ~1 MiB of relocations.
 */
#include "dockhand/gcp.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/http.h"
#include "dockhand/mem.h"
#include "dockhand/xdg.h"

#define KEY_FILE_MAX           ((size_t)64 << 10)
#define SUBJECT_TOKEN_MAX      ((size_t)64 << 10)
#define TOKEN_RESPONSE_MAX     ((size_t)256 << 10)
#define METADATA_CONNECT_MS    1000
#define METADATA_TIMEOUT_MS    3000
#define JWT_LIFETIME           3600
#define JWT_SKEW               10
#define GRANT_JWT_BEARER       "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GRANT_TOKEN_EXCHANGE   "urn:ietf:params:oauth:grant-type:token-exchange"
#define TOKEN_TYPE_ACCESS      "urn:ietf:params:oauth:token-type:access_token"
#define FORM_CONTENT_TYPE      "Content-Type: application/x-www-form-urlencoded"
#define DEFAULT_STS_EXPIRES_IN 3600

enum gcp_kind {
    GCP_SERVICE_ACCOUNT,
    GCP_AUTHORIZED_USER,
    GCP_EXTERNAL_ACCOUNT,
    GCP_METADATA,
};

struct dh_gcp_source {
    enum gcp_kind kind;
    char *path;      /* the key file, or NULL for the metadata server */
    char *identity;  /* for cache keys */
    char *token_uri; /* token endpoint (STS endpoint for external_account) */
    /* service_account */
    char *client_email;
    char *private_key_id;
    char *private_key; /* PEM, secret */
    /* authorized_user */
    char *client_id;
    char *client_secret; /* secret */
    char *refresh_token; /* secret */
    /* external_account */
    char *audience;
    char *subject_token_type;
    char *subject_file;
    char *subject_field;     /* NULL for format "text" */
    char *impersonation_url; /* IAM generateAccessToken URL, or NULL */
    long impersonation_lifetime;
    /* metadata */
    char *metadata_host;
};

/* ---- registry hosts ---- */

static bool ends_with_label(const char *host, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    /* suffix starts with '.': at least one character must come before it */
    return len > n && strncmp(host + len - n, suffix, n) == 0 && host[0] != '.';
}

bool dh_gcp_is_registry_host(const char *in)
{
    const char *s = in, *p, *end;
    char host[256];
    size_t len = 0;

    if (!s)
        return false;
    p = strstr(s, "://");
    if (p)
        s = p + 3;
    end = s + strcspn(s, "/?#");
    /* userinfo */
    for (p = s; p < end; p++)
        if (*p == '@')
            s = p + 1;
    for (p = s; p < end && *p != ':'; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);

        if (len + 1 >= sizeof(host))
            return false;
        if (!(isalnum(c) || c == '-' || c == '.'))
            return false;
        host[len++] = (char)c;
    }
    host[len] = '\0';
    if (len == 0 || host[0] == '.' || host[len - 1] == '.' || strstr(host, ".."))
        return false;
    if (strcmp(host, "gcr.io") == 0)
        return true;
    /* *-docker.pkg.dev is a subset of *.pkg.dev */
    return ends_with_label(host, len, ".gcr.io") || ends_with_label(host, len, ".pkg.dev");
}

/* ---- small helpers ---- */

void dh_gcp_source_free(struct dh_gcp_source *src)
{
    if (!src)
        return;
    free(src->path);
    free(src->identity);
    free(src->token_uri);
    free(src->client_email);
    free(src->private_key_id);
    dh_str_free_wipe(src->private_key);
    free(src->client_id);
    dh_str_free_wipe(src->client_secret);
    dh_str_free_wipe(src->refresh_token);
    free(src->audience);
    free(src->subject_token_type);
    free(src->subject_file);
    free(src->subject_field);
    free(src->impersonation_url);
    free(src->metadata_host);
    free(src);
}

const char *dh_gcp_source_identity(const struct dh_gcp_source *src)
{
    return src->identity;
}

/* A string member, or NULL when absent; a present member of another type is an error. */
static int get_str(json_t *obj, const char *path, const char *key, bool required, const char **ret,
                   struct dh_error **err)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v)) {
        if (required)
            return dh_error_make(err, EINVAL, "'%s': missing '%s'", path, key);
        *ret = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return dh_error_make(err, EINVAL, "'%s': '%s' is not a string", path, key);
    if (required && json_string_length(v) == 0)
        return dh_error_make(err, EINVAL, "'%s': '%s' is empty", path, key);
    *ret = json_string_value(v);
    return 0;
}

static char *xstrdup_or_null(const char *s)
{
    return s ? dh_xstrdup(s) : NULL;
}

/* The URL up to its query, for messages. */
static char *url_for_msg(const char *url)
{
    return dh_xstrndup(url, strcspn(url, "?#"));
}

/* Plain http is accepted for loopback endpoints only (tests, local proxies). */
static bool url_is_loopback_http(const char *url)
{
    static const char *const prefixes[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};

    for (size_t i = 0; i < DH_ARRAY_SIZE(prefixes); i++) {
        size_t n = strlen(prefixes[i]);

        if (strncasecmp(url, prefixes[i], n) == 0 &&
            (url[n] == '\0' || url[n] == ':' || url[n] == '/'))
            return true;
    }
    return false;
}

static int check_endpoint(const char *path, const char *field, const char *url,
                          struct dh_error **err)
{
    if (strncasecmp(url, "https://", 8) == 0 || url_is_loopback_http(url))
        return 0;
    return dh_error_make(err, EINVAL, "'%s': '%s' must be an https URL", path, field);
}

/* Appends "name=<percent-encoded value>" (with '&' before all but the first). */
static int form_add(struct dh_buf *b, const char *name, const char *value, struct dh_error **err)
{
    static const char hex[] = "0123456789ABCDEF";

    if (b->len > 0 && dh_buf_puts(b, "&", err) < 0)
        return -1;
    if (dh_buf_puts(b, name, err) < 0 || dh_buf_puts(b, "=", err) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char enc[3];

        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            if (dh_buf_append(b, p, 1, err) < 0)
                return -1;
            continue;
        }
        enc[0] = '%';
        enc[1] = hex[*p >> 4];
        enc[2] = hex[*p & 15];
        if (dh_buf_append(b, enc, 3, err) < 0)
            return -1;
    }
    return 0;
}

/* Copies at most 200 printable characters of a server-supplied string. */
static char *sanitize(const char *s)
{
    size_t n = strlen(s) > 200 ? 200 : strlen(s);
    char *out = dh_xstrndup(s, n);

    for (char *p = out; *p; p++)
        if (!isprint((unsigned char)*p))
            *p = '?';
    return out;
}

/* ---- key files ---- */

static int load_service_account(struct dh_gcp_source *s, json_t *j, struct dh_error **err)
{
    const char *email, *kid, *key, *uri;

    if (get_str(j, s->path, "client_email", true, &email, err) < 0 ||
        get_str(j, s->path, "private_key_id", false, &kid, err) < 0 ||
        get_str(j, s->path, "private_key", true, &key, err) < 0 ||
        get_str(j, s->path, "token_uri", false, &uri, err) < 0)
        return -1;
    uri = uri && *uri ? uri : DH_GCP_TOKEN_URL;
    if (check_endpoint(s->path, "token_uri", uri, err) < 0)
        return -1;
    s->kind = GCP_SERVICE_ACCOUNT;
    s->client_email = dh_xstrdup(email);
    s->private_key_id = xstrdup_or_null(kid);
    s->private_key = dh_xstrdup(key);
    s->token_uri = dh_xstrdup(uri);
    s->identity = dh_xasprintf("sa:%s", email);
    return 0;
}

static int load_authorized_user(struct dh_gcp_source *s, json_t *j, struct dh_error **err)
{
    const char *id, *secret, *refresh, *uri;

    if (get_str(j, s->path, "client_id", true, &id, err) < 0 ||
        get_str(j, s->path, "client_secret", true, &secret, err) < 0 ||
        get_str(j, s->path, "refresh_token", true, &refresh, err) < 0 ||
        get_str(j, s->path, "token_uri", false, &uri, err) < 0)
        return -1;
    /* google-auth honours a token_uri in the file; gcloud does not write one */
    uri = uri && *uri ? uri : DH_GCP_TOKEN_URL;
    if (check_endpoint(s->path, "token_uri", uri, err) < 0)
        return -1;
    s->kind = GCP_AUTHORIZED_USER;
    s->client_id = dh_xstrdup(id);
    s->client_secret = dh_xstrdup(secret);
    s->refresh_token = dh_xstrdup(refresh);
    s->token_uri = dh_xstrdup(uri);
    s->identity = dh_xasprintf("user:%s", id);
    return 0;
}

static int load_external_account(struct dh_gcp_source *s, json_t *j, struct dh_error **err)
{
    static const char *const unsupported[] = {"url", "environment_id", "executable", "aws_region"};
    const char *aud, *stt, *url, *file, *imp, *ftype = NULL, *field = NULL;
    json_t *cs, *fmt, *impopts;
    long lifetime = 3600;

    if (get_str(j, s->path, "audience", true, &aud, err) < 0 ||
        get_str(j, s->path, "subject_token_type", true, &stt, err) < 0 ||
        get_str(j, s->path, "token_url", false, &url, err) < 0 ||
        get_str(j, s->path, "service_account_impersonation_url", false, &imp, err) < 0)
        return -1;
    if (imp && *imp && check_endpoint(s->path, "service_account_impersonation_url", imp, err) < 0)
        return -1;
    impopts = json_object_get(j, "service_account_impersonation");
    if (impopts) {
        json_t *tl = json_object_get(impopts, "token_lifetime_seconds");

        if (!json_is_object(impopts) || (tl && !json_is_integer(tl)))
            return dh_error_make(err, EINVAL,
                                 "'%s': 'service_account_impersonation.token_lifetime_seconds' "
                                 "is not an integer",
                                 s->path);
        if (tl)
            lifetime = (long)json_integer_value(tl);
        if (lifetime < 600 || lifetime > 43200)
            return dh_error_make(err, EINVAL,
                                 "'%s': 'service_account_impersonation.token_lifetime_seconds' "
                                 "must be between 600 and 43200",
                                 s->path);
    }
    if (json_object_get(j, "client_id") || json_object_get(j, "client_secret"))
        return dh_error_make(err, ENOTSUP,
                             "'%s': 'client_id'/'client_secret' (STS client authentication) "
                             "are not supported yet",
                             s->path);
    url = url && *url ? url : "https://sts.googleapis.com/v1/token";
    if (check_endpoint(s->path, "token_url", url, err) < 0)
        return -1;
    cs = json_object_get(j, "credential_source");
    if (!json_is_object(cs))
        return dh_error_make(err, EINVAL, "'%s': missing 'credential_source'", s->path);
    for (size_t i = 0; i < DH_ARRAY_SIZE(unsupported); i++)
        if (json_object_get(cs, unsupported[i]))
            return dh_error_make(err, ENOTSUP,
                                 "'%s': 'credential_source.%s' is not supported yet: use "
                                 "'credential_source.file'",
                                 s->path, unsupported[i]);
    if (get_str(cs, s->path, "file", true, &file, err) < 0)
        return dh_error_wrap(err, "credential_source");
    fmt = json_object_get(cs, "format");
    if (fmt) {
        if (!json_is_object(fmt))
            return dh_error_make(err, EINVAL, "'%s': 'credential_source.format' is not an object",
                                 s->path);
        if (get_str(fmt, s->path, "type", false, &ftype, err) < 0)
            return dh_error_wrap(err, "credential_source.format");
        if (ftype && strcmp(ftype, "json") == 0) {
            if (get_str(fmt, s->path, "subject_token_field_name", true, &field, err) < 0)
                return dh_error_wrap(err, "credential_source.format");
        } else if (ftype && strcmp(ftype, "text") != 0) {
            return dh_error_make(err, EINVAL,
                                 "'%s': 'credential_source.format.type' must be 'text' or 'json'",
                                 s->path);
        }
    }
    s->kind = GCP_EXTERNAL_ACCOUNT;
    s->audience = dh_xstrdup(aud);
    s->subject_token_type = dh_xstrdup(stt);
    s->token_uri = dh_xstrdup(url);
    s->subject_file = dh_xstrdup(file);
    s->subject_field = xstrdup_or_null(field);
    if (imp && *imp) {
        _cleanup_free_ char *target = url_for_msg(imp);

        s->impersonation_url = dh_xstrdup(imp);
        s->impersonation_lifetime = lifetime;
        /* the impersonated account is part of the identity: another target, another token */
        s->identity = dh_xasprintf("external:%s:impersonate:%s", aud, target);
    } else {
        s->identity = dh_xasprintf("external:%s", aud);
    }
    return 0;
}

int dh_gcp_parse_key_file(const char *path, const char *data, size_t len,
                          struct dh_gcp_source **ret, struct dh_error **err)
{
    _cleanup_gcp_source_ struct dh_gcp_source *s = NULL;
    DH_CLEANUP(json_decrefp) json_t *j = NULL;
    json_error_t jerr;
    const char *type;
    int r;

    if (!path)
        path = "google credentials";
    dh_json_use_wiping_alloc();
    j = json_loadb(data ? data : "", data ? len : 0, 0, &jerr);
    if (!j || !json_is_object(j))
        return dh_error_make(err, EINVAL, "'%s': not a JSON object (line %d)", path,
                             j ? 1 : jerr.line);
    s = dh_xcalloc(1, sizeof(*s));
    s->path = dh_xstrdup(path);
    if (get_str(j, path, "type", true, &type, err) < 0)
        return -1;
    if (strcmp(type, "service_account") == 0)
        r = load_service_account(s, j, err);
    else if (strcmp(type, "authorized_user") == 0)
        r = load_authorized_user(s, j, err);
    else if (strcmp(type, "external_account") == 0)
        r = load_external_account(s, j, err);
    else {
        _cleanup_free_ char *t = sanitize(type);

        return dh_error_make(err, ENOTSUP, "'%s': credentials type '%s' is not supported", path, t);
    }
    if (r < 0)
        return -1;
    *ret = TAKE_PTR(s);
    return 0;
}

static int load_key_file(const char *path, struct dh_gcp_source **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf data = DH_BUF_INIT_SECRET(KEY_FILE_MAX);

    if (dh_read_file(path, &data, err) < 0)
        return dh_error_wrap(err, "google credentials");
    return dh_gcp_parse_key_file(path, data.data, data.len, ret, err);
}

int dh_gcp_find_source(const char *key_file, struct dh_gcp_source **ret, struct dh_error **err)
{
    const char *env = secure_getenv("GOOGLE_APPLICATION_CREDENTIALS");
    const char *cfg = secure_getenv("CLOUDSDK_CONFIG");
    const char *mhost = secure_getenv("GCE_METADATA_HOST");
    _cleanup_free_ char *home = NULL, *adc = NULL;
    struct dh_error *e = NULL;
    struct dh_gcp_source *s;

    if (key_file && *key_file)
        return load_key_file(key_file, ret, err);
    if (env && *env) {
        if (load_key_file(env, ret, &e) < 0) {
            dh_error_move(err, &e);
            return dh_error_wrap(err, "GOOGLE_APPLICATION_CREDENTIALS");
        }
        return 0;
    }
    if (cfg && *cfg) {
        adc = dh_xasprintf("%s/application_default_credentials.json", cfg);
    } else if (dh_home_dir(&home, &e) == 0) {
        adc = dh_xasprintf("%s/.config/gcloud/application_default_credentials.json", home);
    } else {
        dh_error_free(&e);
    }
    if (adc) {
        if (load_key_file(adc, ret, &e) == 0)
            return 0;
        if (e->status != ENOENT) {
            dh_error_move(err, &e);
            return -1;
        }
        dh_error_free(&e);
    }
    s = dh_xcalloc(1, sizeof(*s));
    s->kind = GCP_METADATA;
    s->metadata_host = dh_xstrdup(mhost && *mhost ? mhost : DH_GCP_METADATA_HOST);
    s->identity = dh_xasprintf("metadata:%s", s->metadata_host);
    *ret = s;
    return 0;
}

/* ---- RS256 JWT ---- */

static int rs256_sign(const struct dh_gcp_source *s, const char *data, size_t len, char **ret,
                      struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf sig = DH_BUF_INIT(16384);
    _cleanup_error_ struct dh_error *e = NULL;

    if (dh_rsa_sha256_sign(s->private_key, data, len, &sig, &e) < 0) {
        if (e->status == EINVAL)
            return dh_error_make(err, EINVAL, "'%s': 'private_key' is %s", s->path, e->msg);
        if (e->status == ENOSYS) {
            dh_error_move(err, &e);
            return -1;
        }
        return dh_error_make(err, EIO, "'%s': cannot sign the JWT with 'private_key'", s->path);
    }
    *ret = dh_base64_encode(sig.data, sig.len, true);
    return 0;
}

static char *json_b64(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *b;

    if (!s)
        dh_oom();
    b = dh_base64_encode(s, strlen(s), true);
    free(s);
    return b;
}

static int make_jwt(const struct dh_gcp_source *s, int64_t now, struct dh_buf *out,
                    struct dh_error **err)
{
    DH_CLEANUP(json_decrefp) json_t *hdr = NULL, *claims = NULL;
    _cleanup_free_ char *h = NULL, *c = NULL;
    _cleanup_wipe_ char *sig = NULL;
    int64_t iat = now - JWT_SKEW;

    hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    if (!hdr)
        dh_oom();
    if (s->private_key_id && *s->private_key_id)
        json_object_set_new(hdr, "kid", json_string(s->private_key_id));
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", s->client_email, "scope", DH_GCP_SCOPE,
                       "aud", s->token_uri, "exp", (json_int_t)(iat + JWT_LIFETIME), "iat",
                       (json_int_t)iat);
    if (!claims)
        return dh_error_make(err, EINVAL, "'%s': 'client_email' is not valid UTF-8", s->path);
    h = json_b64(hdr);
    c = json_b64(claims);
    if (dh_buf_printf(out, err, "%s.%s", h, c) < 0)
        return -1;
    if (rs256_sign(s, out->data, out->len, &sig, err) < 0)
        return -1;
    return dh_buf_printf(out, err, ".%s", sig);
}

/* ---- token responses ---- */

static char *source_desc(const struct dh_gcp_source *s)
{
    switch (s->kind) {
    case GCP_SERVICE_ACCOUNT:
        return dh_xasprintf("service account key '%s'", s->path);
    case GCP_AUTHORIZED_USER:
        return dh_xasprintf("authorized user credentials '%s'", s->path);
    case GCP_EXTERNAL_ACCOUNT:
        return dh_xasprintf("external account credentials '%s'", s->path);
    case GCP_METADATA:
        break;
    }
    return dh_xasprintf("metadata server '%s'", s->metadata_host);
}

/* An error for a non-200 answer, with the OAuth error fields when the body has them. */
static int status_error(const char *what, const char *url, long http_status, const char *body,
                        size_t len, struct dh_error **err)
{
    _cleanup_free_ char *u = url_for_msg(url), *e = NULL, *d = NULL;
    DH_CLEANUP(json_decrefp) json_t *j = NULL;
    int status = http_status == 401 || http_status == 403 ? EACCES
                 : http_status == 400                     ? EINVAL
                                                          : EIO;

    dh_json_use_wiping_alloc();
    j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    if (json_is_object(j)) {
        json_t *je = json_object_get(j, "error"), *jd = json_object_get(j, "error_description");

        if (json_is_object(je)) { /* Google APIs' {"error":{"status","message"}} */
            jd = json_object_get(je, "message");
            je = json_object_get(je, "status");
        }
        if (json_is_string(je))
            e = sanitize(json_string_value(je));
        if (json_is_string(jd))
            d = sanitize(json_string_value(jd));
    }
    return dh_error_make(err, status, "%s: '%s' answered HTTP %ld%s%s%s%s", what, u, http_status,
                         e ? ": " : "", e ? e : "", d ? ": " : "", d ? d : "");
}

int dh_gcp_parse_token_response(long status, const char *body, size_t len, const char *what,
                                const char *url, int64_t now, int64_t default_expiry,
                                struct dh_token **ret, struct dh_error **err)
{
    _cleanup_free_ char *u = NULL, *src = NULL;
    DH_CLEANUP(json_decrefp) json_t *j = NULL;
    json_t *at, *ei, *tt;
    int64_t expires_in;

    if (!what)
        what = "Google token endpoint";
    if (!url)
        url = "";
    if (status != 200)
        return status_error(what, url, status, body, len, err);
    u = url_for_msg(url);
    dh_json_use_wiping_alloc();
    j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    if (!json_is_object(j))
        return dh_error_make(err, EPROTO, "%s: '%s' answered with no JSON object", what, u);
    at = json_object_get(j, "access_token");
    ei = json_object_get(j, "expires_in");
    tt = json_object_get(j, "token_type");
    if (!json_is_string(at) || json_string_length(at) == 0)
        return dh_error_make(err, EPROTO, "%s: '%s' answered with no 'access_token'", what, u);
    if (!json_is_string(tt) || strcasecmp(json_string_value(tt), "Bearer") != 0)
        return dh_error_make(err, EPROTO, "%s: '%s' answered with a 'token_type' other than Bearer",
                             what, u);
    if (json_is_integer(ei))
        expires_in = (int64_t)json_integer_value(ei);
    else if (json_is_real(ei))
        expires_in = json_real_value(ei) >= 1 && json_real_value(ei) < 1e9
                             ? (int64_t)json_real_value(ei)
                             : -1; /* no undefined conversion of NaN or huge values */
    else if (!ei && default_expiry > 0)
        expires_in = default_expiry;
    else
        return dh_error_make(err, EPROTO, "%s: '%s' answered with no 'expires_in'", what, u);
    if (expires_in <= 0 || expires_in > 7 * 24 * 3600)
        return dh_error_make(err, EPROTO, "%s: '%s' answered with 'expires_in' %lld out of range",
                             what, u, (long long)expires_in);
    src = dh_xasprintf("Google OAuth token from %s at %s", what, u);
    *ret = dh_token_new(DH_GCP_USERNAME, json_string_value(at), now + expires_in, src);
    return 0;
}

static int parse_token(const struct dh_gcp_source *s, const char *url,
                       const struct dh_http_response *resp, int64_t now, int64_t default_expiry,
                       struct dh_token **ret, struct dh_error **err)
{
    _cleanup_free_ char *what = source_desc(s);

    return dh_gcp_parse_token_response(resp->status, resp->body.data, resp->body.len, what, url,
                                       now, default_expiry, ret, err);
}

/* POSTs a form to the token endpoint and parses the answer. */
static int post_form(const struct dh_gcp_source *s, const struct dh_buf *form,
                     int64_t default_expiry, struct dh_token **ret, struct dh_error **err)
{
    static const char *const headers[] = {FORM_CONTENT_TYPE, "Accept: application/json", NULL};
    struct dh_http_request req = {
            .method = "POST",
            .url = s->token_uri,
            .headers = headers,
            .body = form->data,
            .body_len = form->len,
            .max_body = TOKEN_RESPONSE_MAX,
            .allow_http = url_is_loopback_http(s->token_uri),
            .secret_body = true,
    };
    struct dh_http_response resp;
    int64_t now = (int64_t)time(NULL);
    int r;

    if (dh_http_do(&req, &resp, err) < 0) {
        _cleanup_free_ char *what = source_desc(s);

        dh_http_response_release(&resp);
        return dh_error_wrap(err, "%s", what);
    }
    r = parse_token(s, s->token_uri, &resp, now, default_expiry, ret, err);
    dh_http_response_release(&resp);
    return r;
}

static int mint_service_account(struct dh_gcp_source *s, struct dh_token **ret,
                                struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf jwt = DH_BUF_INIT_SECRET(64 << 10);
    _cleanup_buf_ struct dh_buf form = DH_BUF_INIT_SECRET(64 << 10);

    if (make_jwt(s, (int64_t)time(NULL), &jwt, err) < 0)
        return -1;
    if (form_add(&form, "grant_type", GRANT_JWT_BEARER, err) < 0 ||
        form_add(&form, "assertion", jwt.data, err) < 0)
        return -1;
    return post_form(s, &form, 0, ret, err);
}

static int mint_authorized_user(struct dh_gcp_source *s, struct dh_token **ret,
                                struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf form = DH_BUF_INIT_SECRET(64 << 10);

    if (form_add(&form, "grant_type", "refresh_token", err) < 0 ||
        form_add(&form, "refresh_token", s->refresh_token, err) < 0 ||
        form_add(&form, "client_id", s->client_id, err) < 0 ||
        form_add(&form, "client_secret", s->client_secret, err) < 0)
        return -1;
    return post_form(s, &form, 0, ret, err);
}

/* Reads the subject token from credential_source.file (text or a JSON field). */
static int read_subject_token(const struct dh_gcp_source *s, struct dh_buf *out,
                              struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf data = DH_BUF_INIT_SECRET(SUBJECT_TOKEN_MAX);
    DH_CLEANUP(json_decrefp) json_t *j = NULL;
    const char *tok;
    size_t len;

    if (dh_read_file(s->subject_file, &data, err) < 0)
        return dh_error_wrap(err, "'%s': credential_source.file", s->path);
    if (s->subject_field) {
        json_t *v;

        dh_json_use_wiping_alloc();
        j = json_loadb(data.data ? data.data : "", data.len, 0, NULL);
        v = json_is_object(j) ? json_object_get(j, s->subject_field) : NULL;
        if (!json_is_string(v))
            return dh_error_make(err, EINVAL,
                                 "'%s': subject token file '%s' has no string field '%s'", s->path,
                                 s->subject_file, s->subject_field);
        tok = json_string_value(v);
        len = json_string_length(v);
    } else {
        tok = data.data ? data.data : "";
        len = data.len;
        while (len > 0 && isspace((unsigned char)tok[len - 1]))
            len--;
        while (len > 0 && isspace((unsigned char)*tok)) {
            tok++;
            len--;
        }
    }
    if (len == 0 || memchr(tok, '\0', len))
        return dh_error_make(err, EINVAL, "'%s': subject token file '%s' is empty", s->path,
                             s->subject_file);
    return dh_buf_append(out, tok, len, err);
}

/* Parses IAM's expireTime, "2014-10-02T15:01:23.045123456Z" (always UTC). */
static int parse_rfc3339_utc(const char *s, int64_t *ret)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

    if (!p)
        return -1;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (strcmp(p, "Z") != 0)
        return -1;
    *ret = (int64_t)timegm(&tm);
    return 0;
}

/* Trades the STS token for the service account's token (IAM Credentials generateAccessToken). */
static int impersonate(const struct dh_gcp_source *s, const char *sts_token, struct dh_token **ret,
                       struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf auth = DH_BUF_INIT_SECRET(64 << 10);
    _cleanup_free_ char *body = dh_xasprintf(
            "{\"scope\":[\"" DH_GCP_SCOPE "\"],\"lifetime\":\"%lds\"}", s->impersonation_lifetime);
    _cleanup_free_ char *what = source_desc(s), *u = url_for_msg(s->impersonation_url);
    json_auto_t *j = NULL;
    const char *headers[4] = {"Content-Type: application/json", "Accept: application/json", NULL,
                              NULL};
    struct dh_http_request req = {
            .method = "POST",
            .url = s->impersonation_url,
            .headers = headers,
            .body = body,
            .body_len = strlen(body),
            .max_body = TOKEN_RESPONSE_MAX,
            .allow_http = url_is_loopback_http(s->impersonation_url),
            .secret_body = true,
    };
    struct dh_http_response resp;
    json_t *at, *et;
    int64_t expires_at, now = (int64_t)time(NULL);
    int r = -1;

    if (dh_buf_printf(&auth, err, "Authorization: Bearer %s", sts_token) < 0)
        return -1;
    headers[2] = auth.data;
    if (dh_http_do(&req, &resp, err) < 0) {
        dh_http_response_release(&resp);
        return dh_error_wrap(err, "%s: service account impersonation", what);
    }
    if (resp.status != 200) {
        r = status_error(what, s->impersonation_url, resp.status, resp.body.data, resp.body.len,
                         err);
        goto out;
    }
    dh_json_use_wiping_alloc();
    j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    at = json_object_get(j, "accessToken");
    et = json_object_get(j, "expireTime");
    if (!json_is_string(at) || json_string_length(at) == 0 || !json_is_string(et) ||
        parse_rfc3339_utc(json_string_value(et), &expires_at) < 0 || expires_at <= now) {
        dh_error_make(err, EPROTO,
                      "%s: '%s' answered without a valid 'accessToken' and 'expireTime'", what, u);
        goto out;
    }
    {
        _cleanup_free_ char *src =
                dh_xasprintf("Google OAuth token from %s impersonating at %s", what, u);

        *ret = dh_token_new(DH_GCP_USERNAME, json_string_value(at), expires_at, src);
    }
    r = 0;
out:
    dh_http_response_release(&resp);
    return r;
}

/* The STS token exchange (then impersonation when configured) for a subject token. */
static int exchange_subject(struct dh_gcp_source *s, const char *subject, struct dh_token **ret,
                            struct dh_error **err)
{
    struct dh_token *sts = NULL;
    int r;
    _cleanup_buf_ struct dh_buf form = DH_BUF_INIT_SECRET(4 * SUBJECT_TOKEN_MAX);

    if (form_add(&form, "grant_type", GRANT_TOKEN_EXCHANGE, err) < 0 ||
        form_add(&form, "audience", s->audience, err) < 0 ||
        form_add(&form, "scope", DH_GCP_SCOPE, err) < 0 ||
        form_add(&form, "requested_token_type", TOKEN_TYPE_ACCESS, err) < 0 ||
        form_add(&form, "subject_token", subject, err) < 0 ||
        form_add(&form, "subject_token_type", s->subject_token_type, err) < 0)
        return -1;
    /* STS may leave expires_in out when the subject token's lifetime is unknown */
    if (!s->impersonation_url)
        return post_form(s, &form, DEFAULT_STS_EXPIRES_IN, ret, err);
    if (post_form(s, &form, DEFAULT_STS_EXPIRES_IN, &sts, err) < 0)
        return -1;
    r = impersonate(s, sts->secret, ret, err);
    dh_token_free(sts);
    return r;
}

static int mint_external_account(struct dh_gcp_source *s, struct dh_token **ret,
                                 struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf subject = DH_BUF_INIT_SECRET(SUBJECT_TOKEN_MAX);

    if (read_subject_token(s, &subject, err) < 0)
        return -1;
    return exchange_subject(s, subject.data, ret, err);
}

/* A service account e-mail safe to put in a URL path: [A-Za-z0-9._-]+@[A-Za-z0-9.-]+ */
static bool sa_email_valid(const char *e)
{
    const char *at = strchr(e, '@');
    size_t n = strlen(e);

    if (!at || at == e || !at[1] || n > 254 || strchr(at + 1, '@'))
        return false;
    for (const char *p = e; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-@", *p))
            return false;
    return true;
}

int dh_gcp_exchange_token(const struct dh_gcp_exchange *x, const char *subject_token,
                          struct dh_token **ret, struct dh_error **err)
{
    _cleanup_gcp_source_ struct dh_gcp_source *s = NULL;
    const char *sts = x->sts_url && *x->sts_url ? x->sts_url : DH_GCP_STS_URL;
    const char *iam = x->iam_url && *x->iam_url ? x->iam_url : DH_GCP_IAM_URL;
    size_t iam_len = strlen(iam);

    if (!x->audience || !*x->audience)
        return dh_error_make(err, EINVAL, "workload identity federation: no audience");
    if (!subject_token || !*subject_token || strlen(subject_token) > SUBJECT_TOKEN_MAX)
        return dh_error_make(err, EINVAL,
                             "workload identity federation: the subject token is empty or "
                             "longer than %zu bytes",
                             SUBJECT_TOKEN_MAX);
    s = dh_xcalloc(1, sizeof(*s));
    s->kind = GCP_EXTERNAL_ACCOUNT;
    s->path = dh_xstrdup("workload identity federation");
    if (check_endpoint(s->path, "sts url", sts, err) < 0 ||
        check_endpoint(s->path, "iam url", iam, err) < 0)
        return -1;
    s->audience = dh_xstrdup(x->audience);
    s->subject_token_type = dh_xstrdup(DH_GCP_TOKEN_TYPE_JWT);
    s->token_uri = dh_xstrdup(sts);
    if (x->service_account && *x->service_account) {
        _cleanup_free_ char *e = NULL;

        if (!sa_email_valid(x->service_account)) {
            e = sanitize(x->service_account);
            return dh_error_make(err, EINVAL,
                                 "workload identity federation: '%s' is not a service account "
                                 "e-mail address",
                                 e);
        }
        while (iam_len > 0 && iam[iam_len - 1] == '/')
            iam_len--;
        s->impersonation_url =
                dh_xasprintf("%.*s/v1/projects/-/serviceAccounts/%s:generateAccessToken",
                             (int)iam_len, iam, x->service_account);
        s->impersonation_lifetime = 3600;
    }
    return exchange_subject(s, subject_token, ret, err);
}

static int mint_metadata(struct dh_gcp_source *s, struct dh_token **ret, struct dh_error **err)
{
    static const char *const headers[] = {"Metadata-Flavor: Google", NULL};
    _cleanup_free_ char *url =
            dh_xasprintf("http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                         s->metadata_host);
    struct dh_http_request req = {
            .method = "GET",
            .url = url,
            .headers = headers,
            .timeout_ms = METADATA_TIMEOUT_MS,
            .connect_timeout_ms = METADATA_CONNECT_MS,
            .max_body = TOKEN_RESPONSE_MAX,
            .allow_http = true,
            .no_proxy = true,
            .secret_body = true,
    };
    struct dh_http_response resp;
    const char *flavor;
    int64_t now = (int64_t)time(NULL);
    int r;

    if (dh_http_do(&req, &resp, err) < 0) {
        dh_http_response_release(&resp);
        return dh_error_wrap(err,
                             "no Google credentials: GOOGLE_APPLICATION_CREDENTIALS is not set, "
                             "there is no application default credentials file (gcloud auth "
                             "application-default login), and the metadata server '%s' did not "
                             "answer (not on GCE/GKE?)",
                             s->metadata_host);
    }
    flavor = dh_http_header(&resp, "Metadata-Flavor");
    if (resp.status == 200 && (!flavor || strcmp(flavor, "Google") != 0)) {
        dh_http_response_release(&resp);
        return dh_error_make(err, EPROTO,
                             "metadata server '%s': the answer has no 'Metadata-Flavor: Google' "
                             "header: not a GCE metadata server",
                             s->metadata_host);
    }
    r = parse_token(s, url, &resp, now, 0, ret, err);
    dh_http_response_release(&resp);
    return r;
}

int dh_gcp_mint(struct dh_gcp_source *src, struct dh_token **ret, struct dh_error **err)
{
    switch (src->kind) {
    case GCP_SERVICE_ACCOUNT:
        return mint_service_account(src, ret, err);
    case GCP_AUTHORIZED_USER:
        return mint_authorized_user(src, ret, err);
    case GCP_EXTERNAL_ACCOUNT:
        return mint_external_account(src, ret, err);
    case GCP_METADATA:
        break;
    }
    return mint_metadata(src, ret, err);
}

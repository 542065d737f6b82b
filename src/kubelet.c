/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet credential provider plugin: request decoding, the image's registry,
 * the response, and the answer to one request (docs/kubelet-provider.md).
 */
#include "dockhand/kubelet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/aws.h"
#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/ecr.h"
#include "dockhand/gcp.h"
#include "dockhand/mem.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"
#include "dockhand/text.h"
#include "dockhand/token.h"
#include "dockhand/tokencache.h"

#define KIND_REQUEST       "CredentialProviderRequest"
#define KIND_RESPONSE      "CredentialProviderResponse"
#define MSG_IMAGE_MAX      200 /* characters of an image quoted in a message */
#define ECR_SESSION_NAME   "dockhand-kubelet-provider"
#define ANNOTATION_VAL_MAX (256u << 10)

/* ---- request ---- */

void dh_kubelet_request_free(struct dh_kubelet_request *r)
{
    if (!r)
        return;
    free(r->api_version);
    free(r->image);
    dh_str_free_wipe(r->sa_token);
    for (size_t i = 0; i < r->n_annotations; i++) {
        free(r->annotations[i].key);
        free(r->annotations[i].value);
    }
    free(r->annotations);
    free(r);
}

const char *dh_kubelet_request_annotation(const struct dh_kubelet_request *r, const char *key)
{
    for (size_t i = 0; i < r->n_annotations; i++)
        if (strcmp(r->annotations[i].key, key) == 0)
            return r->annotations[i].value;
    return NULL;
}

/* Printable ASCII with no space: what an image reference is made of. */
static bool image_chars_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static bool known_version(const char *v)
{
    return strcmp(v, DH_KUBELET_API_V1) == 0 || strcmp(v, DH_KUBELET_API_V1BETA1) == 0 ||
           strcmp(v, DH_KUBELET_API_V1ALPHA1) == 0;
}

static int parse_annotations(json_t *obj, struct dh_kubelet_request *r, struct dh_error **err)
{
    const char *key;
    json_t *v;
    size_t n = 0;

    if (json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return dh_error_make(err, EINVAL,
                             "CredentialProviderRequest: 'serviceAccountAnnotations' must be an "
                             "object of strings");
    r->annotations = dh_xcalloc(json_object_size(obj) + 1, sizeof(*r->annotations));
    json_object_foreach (obj, key, v) {
        if (!json_is_string(v) || json_string_length(v) > ANNOTATION_VAL_MAX)
            return dh_error_make(err, EINVAL,
                                 "CredentialProviderRequest: 'serviceAccountAnnotations' must be "
                                 "an object of strings");
        if (!*key)
            return dh_error_make(err, EINVAL,
                                 "CredentialProviderRequest: an empty key in "
                                 "'serviceAccountAnnotations'");
        r->annotations[n].key = dh_xstrdup(key);
        r->annotations[n].value = dh_xstrdup(json_string_value(v));
        r->n_annotations = ++n;
    }
    return 0;
}

int dh_kubelet_request_parse(const char *data, size_t len, struct dh_kubelet_request **ret,
                             struct dh_error **err)
{
    _cleanup_kubelet_request_ struct dh_kubelet_request *r = NULL;
    json_auto_t *j = NULL;
    json_error_t jerr;
    json_t *kind, *ver, *image, *tok, *anno, *v;
    const char *key;
    bool v1;

    if (len > DH_KUBELET_REQUEST_MAX)
        return dh_error_make(err, E2BIG, "CredentialProviderRequest larger than %zu bytes",
                             DH_KUBELET_REQUEST_MAX);
    dh_json_use_wiping_alloc();
    /* The message of jansson may quote the input (a token): report the position only. */
    j = json_loadb(data ? data : "", data ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return dh_error_make(err, EINVAL,
                             "cannot decode the CredentialProviderRequest on stdin: not one valid "
                             "JSON object (line %d, column %d)",
                             jerr.line, jerr.column);
    if (!json_is_object(j))
        return dh_error_make(err, EINVAL,
                             "cannot decode the CredentialProviderRequest on stdin: not a JSON "
                             "object");
    ver = json_object_get(j, "apiVersion");
    if (!json_is_string(ver) || !known_version(json_string_value(ver))) {
        _cleanup_free_ char *shown = NULL;

        if (json_is_string(ver) && image_chars_ok(json_string_value(ver)))
            shown = dh_xasprintf(" '%.100s'", json_string_value(ver));
        return dh_error_make(err, EINVAL,
                             "CredentialProviderRequest: apiVersion%s is not supported (want %s, "
                             "%s or %s)",
                             shown ? shown : (ver ? " (not a string)" : " missing"),
                             DH_KUBELET_API_V1, DH_KUBELET_API_V1BETA1, DH_KUBELET_API_V1ALPHA1);
    }
    kind = json_object_get(j, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), KIND_REQUEST) != 0)
        return dh_error_make(err, EINVAL, "CredentialProviderRequest: kind must be '%s'",
                             KIND_REQUEST);
    v1 = strcmp(json_string_value(ver), DH_KUBELET_API_V1) == 0;
    /* The kubelet encodes its typed request: any other field means another API revision. */
    json_object_foreach (j, key, v) {
        if (strcmp(key, "kind") == 0 || strcmp(key, "apiVersion") == 0 || strcmp(key, "image") == 0)
            continue;
        if (v1 && (strcmp(key, "serviceAccountToken") == 0 ||
                   strcmp(key, "serviceAccountAnnotations") == 0))
            continue;
        {
            _cleanup_free_ char *name = image_chars_ok(key) && strlen(key) <= 100
                                                ? dh_xstrdup(key)
                                                : dh_xstrdup("(unprintable)");

            return dh_error_make(err, EINVAL,
                                 "CredentialProviderRequest: unknown field '%s' in %s (a newer "
                                 "kubelet? dockhand rejects what it does not understand)",
                                 name, json_string_value(ver));
        }
    }
    image = json_object_get(j, "image");
    if (!json_is_string(image) || json_string_length(image) == 0)
        return dh_error_make(err, EINVAL,
                             "CredentialProviderRequest: 'image' is missing or not a non-empty "
                             "string");
    if (json_string_length(image) > DH_KUBELET_IMAGE_MAX ||
        !image_chars_ok(json_string_value(image)))
        return dh_error_make(err, EINVAL,
                             "CredentialProviderRequest: 'image' must be at most %d printable "
                             "ASCII characters without spaces",
                             DH_KUBELET_IMAGE_MAX);
    tok = json_object_get(j, "serviceAccountToken");
    if (tok && !json_is_string(tok) && !json_is_null(tok))
        return dh_error_make(err, EINVAL,
                             "CredentialProviderRequest: 'serviceAccountToken' must be a string");
    r = dh_xcalloc(1, sizeof(*r));
    r->api_version = dh_xstrdup(json_string_value(ver));
    r->image = dh_xstrdup(json_string_value(image));
    if (json_is_string(tok) && json_string_length(tok) > 0) {
        if (!image_chars_ok(json_string_value(tok)))
            return dh_error_make(err, EINVAL,
                                 "CredentialProviderRequest: 'serviceAccountToken' is not a JWT "
                                 "(it has spaces or non-ASCII characters)");
        r->sa_token = dh_xstrdup(json_string_value(tok));
    }
    anno = json_object_get(j, "serviceAccountAnnotations");
    if (anno && parse_annotations(anno, r, err) < 0)
        return -1;
    *ret = TAKE_PTR(r);
    return 0;
}

/* ---- image -> registry ---- */

static bool label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
            return false;
    return true;
}

static bool port_ok(const char *s, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v > 0 && v <= 65535;
}

static bool host_ok(const char *h, size_t n)
{
    const char *end = h + n, *colon;

    if (n == 0)
        return false;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);

        if (!close || close == h + 1)
            return false;
        for (const char *p = h + 1; p < close; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p))
                return false;
        if (close + 1 == end)
            return true;
        return close[1] == ':' && port_ok(close + 2, (size_t)(end - close - 2));
    }
    colon = memchr(h, ':', n);
    if (colon) {
        if (!port_ok(colon + 1, (size_t)(end - colon - 1)))
            return false;
        end = colon;
    }
    for (const char *p = h; p <= end;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *le = dot ? dot : end;

        if (!label_ok(p, (size_t)(le - p)))
            return false;
        if (!dot)
            break;
        p = dot + 1;
    }
    return true;
}

int dh_kubelet_image_registry(const char *image, char **ret, struct dh_error **err)
{
    const char *slash = strchr(image, '/');
    size_t n = slash ? (size_t)(slash - image) : 0;
    bool has_upper = false;

    for (size_t i = 0; i < n; i++)
        has_upper = has_upper || (image[i] >= 'A' && image[i] <= 'Z');
    /* docker's rule (reference/normalize.go splitDockerDomain): Docker Hub unless the
       first component looks like a host */
    if (!slash || (!memchr(image, '.', n) && !memchr(image, ':', n) &&
                   !(n == 9 && memcmp(image, "localhost", 9) == 0) && !has_upper)) {
        if (!*image || image[0] == '/')
            return dh_error_make(err, EINVAL, "image '%.*s' has no repository", MSG_IMAGE_MAX,
                                 image);
        *ret = dh_xstrdup("docker.io");
        return 0;
    }
    if (!host_ok(image, n))
        return dh_error_make(err, EINVAL, "image '%.*s' has an invalid registry host",
                             MSG_IMAGE_MAX, image);
    *ret = dh_xstrndup(image, n);
    return 0;
}

/* ---- response ---- */

/* Writes v in decimal backwards ending before buf[w]; returns the new start. */
static size_t fmt_int(char *buf, size_t w, uint64_t v)
{
    if (v == 0) {
        buf[--w] = '0';
        return w;
    }
    while (v > 0) {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    }
    return w;
}

/* The fraction v / 10^prec backwards, trailing zeros left out; *v becomes the integer part. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
    bool print = false;

    for (int i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(*v % 10);

        print = print || digit != 0;
        if (print)
            buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return w;
}

/* Go's time.Duration.String (src/time/time.go), byte for byte. */
char *dh_go_duration(int64_t ns, char *out, size_t size)
{
    char buf[32];
    size_t w = sizeof(buf);
    uint64_t u = (uint64_t)ns;
    bool neg = ns < 0;

    if (neg)
        u = -u;
    if (u < 1000000000ull) {
        int prec = 0;

        buf[--w] = 's';
        --w;
        if (u == 0) {
            buf[w] = '0';
            goto done;
        } else if (u < 1000ull) {
            buf[w] = 'n';
        } else if (u < 1000000ull) {
            prec = 3;
            /* U+00B5 MICRO SIGN, as Go writes it */
            buf[w--] = (char)0xb5;
            buf[w] = (char)0xc2;
        } else {
            prec = 6;
            buf[w] = 'm';
        }
        w = fmt_frac(buf, w, &u, prec);
        w = fmt_int(buf, w, u);
    } else {
        buf[--w] = 's';
        w = fmt_frac(buf, w, &u, 9);
        w = fmt_int(buf, w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            w = fmt_int(buf, w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                w = fmt_int(buf, w, u);
            }
        }
    }
done:
    if (neg)
        buf[--w] = '-';
    if (size > 0) {
        size_t n = sizeof(buf) - w < size - 1 ? sizeof(buf) - w : size - 1;

        memcpy(out, buf + w, n);
        out[n] = '\0';
    }
    return out;
}

int64_t dh_kubelet_cache_seconds(int64_t expires_at, int64_t now)
{
    int64_t left = expires_at - now, d;

    if (left <= 0)
        return 0;
    d = left / 2 - dh_token_margin(left);
    return d > 0 ? d : 0;
}

int dh_kubelet_response_encode(const struct dh_kubelet_response *resp, struct dh_buf *out,
                               struct dh_error **err)
{
    if (dh_buf_puts(out, "{\"kind\":\"" KIND_RESPONSE "\",\"apiVersion\":", err) < 0 ||
        dh_json_go_quote(out, resp->api_version, err) < 0 ||
        dh_buf_puts(out, ",\"cacheKeyType\":\"Registry\"", err) < 0)
        return -1;
    if (resp->has_cache_duration) {
        char d[32];
        int64_t ms = resp->cache_duration_ms < 0 ? 0 : resp->cache_duration_ms;

        /* at most 7 days from the config; a token's life is far below INT64_MAX ns */
        if (ms > INT64_MAX / 1000000)
            ms = INT64_MAX / 1000000;
        dh_go_duration(ms * 1000000, d, sizeof(d));
        if (dh_buf_printf(out, err, ",\"cacheDuration\":\"%s\"", d) < 0)
            return -1;
    }
    if (dh_buf_puts(out, ",\"auth\":{", err) < 0)
        return -1;
    if (resp->auth_key) {
        if (dh_json_go_quote(out, resp->auth_key, err) < 0 ||
            dh_buf_puts(out, ":{\"username\":", err) < 0 ||
            dh_json_go_quote(out, resp->username ? resp->username : "", err) < 0 ||
            dh_buf_puts(out, ",\"password\":", err) < 0 ||
            dh_json_go_quote(out, resp->password ? resp->password : "", err) < 0 ||
            dh_buf_puts(out, "}", err) < 0)
            return -1;
    }
    return dh_buf_puts(out, "}}\n", err);
}

/* ---- answering ---- */

static int encode_token(const struct dh_kubelet_request *req, const char *host,
                        const struct dh_token *tok, struct dh_buf *out, struct dh_error **err)
{
    /* Credentials derived from a pod's service-account token: the kubelet must not cache
       them beyond this pull (cacheDuration 0s, as the API asks for token-derived answers). */
    const struct dh_kubelet_response resp = {
            .api_version = req->api_version,
            .has_cache_duration = true,
            .cache_duration_ms = 0,
            .auth_key = host,
            .username = tok->username,
            .password = tok->secret,
    };

    return dh_kubelet_response_encode(&resp, out, err);
}

/* arn:<partition>:iam::<12 digits>:role/<printable> */
static bool role_arn_ok(const char *s)
{
    const char *p;

    if (strncmp(s, "arn:", 4) != 0 || !image_chars_ok(s) || strlen(s) > 2048)
        return false;
    p = strstr(s + 4, ":iam::");
    if (!p)
        return false;
    for (const char *q = s + 4; q < p; q++)
        if (!(*q >= 'a' && *q <= 'z') && *q != '-')
            return false;
    p += 6;
    for (int i = 0; i < 12; i++, p++)
        if (*p < '0' || *p > '9')
            return false;
    return strncmp(p, ":role/", 6) == 0 && p[6];
}

static int provide_ecr_sa(const struct dh_config *cfg, const struct dh_kubelet_request *req,
                          const char *host, struct dh_ecr_registry *reg, struct dh_buf *out,
                          struct dh_error **err)
{
    const char *role = dh_kubelet_request_annotation(req, DH_KUBELET_ECR_ROLE_ANNO);
    const char *env = secure_getenv("AWS_ECR_ROLE_ARN");
    struct dh_aws_creds *creds = NULL;
    _cleanup_token_ struct dh_token *tok = NULL;
    int r;

    if (!role || !*role)
        role = env && *env ? env : cfg->kubelet_ecr_role_arn;
    if (!role)
        return dh_error_make(err, EINVAL,
                             "a service-account token came for ECR image registry '%s' but there "
                             "is no role to assume: annotate the service account with '%s', or "
                             "set AWS_ECR_ROLE_ARN or kubelet.ecr_role_arn",
                             host, DH_KUBELET_ECR_ROLE_ANNO);
    if (!role_arn_ok(role))
        return dh_error_make(err, EINVAL,
                             "'%s' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                             image_chars_ok(role) && strlen(role) < 200 ? role : "(unprintable)");
    if (dh_aws_assume_role_with_web_identity(req->sa_token, role, ECR_SESSION_NAME, reg->region,
                                             &creds, err) < 0)
        return dh_error_wrap(err, "cannot get an ECR token for '%s' with the service-account token",
                             host);
    r = dh_ecr_get_token(reg, creds, &tok, err);
    dh_aws_creds_free(creds);
    if (r < 0)
        return -1;
    return encode_token(req, host, tok, out, err);
}

static int provide_gcr_sa(const struct dh_config *cfg, const struct dh_kubelet_request *req,
                          const char *host, struct dh_buf *out, struct dh_error **err)
{
    const char *sa = dh_kubelet_request_annotation(req, DH_KUBELET_GCP_SA_ANNO);
    _cleanup_token_ struct dh_token *tok = NULL;
    struct dh_gcp_exchange x = {
            .audience = cfg->kubelet_gcp_audience,
            .sts_url = cfg->kubelet_gcp_sts_url,
            .service_account = sa && *sa ? sa : cfg->kubelet_gcp_service_account,
            .iam_url = cfg->kubelet_gcp_iam_url,
    };

    if (!x.audience)
        return dh_error_make(err, EINVAL,
                             "a service-account token came for Google registry '%s' but "
                             "kubelet.gcp_audience (the workload identity pool provider) is not "
                             "set in the dockhand config",
                             host);
    if (dh_gcp_exchange_token(&x, req->sa_token, &tok, err) < 0)
        return dh_error_wrap(
                err, "cannot get a Google token for '%s' with the service-account token", host);
    return encode_token(req, host, tok, out, err);
}

/* KEP-4412: 1 when the service-account token answered, 0 when the registry takes no
   token exchange (ECR and Google registries only), -1 on error. */
static int provide_sa(const struct dh_config *cfg, const struct dh_kubelet_request *req,
                      const char *host, struct dh_buf *out, struct dh_error **err)
{
    const struct dh_ecr_setting *set = NULL;
    struct dh_ecr_registry reg;
    bool ecr = false;
    int r;

    for (size_t i = 0; i < cfg->n_ecr && !set; i++)
        if (dh_kubelet_match_rank(cfg->ecr[i].registry, host, 0) >= 0)
            set = &cfg->ecr[i];
    if (set && set->account) {
        dh_ecr_registry_init(&reg, set->account, set->region);
        ecr = true;
    } else if (dh_ecr_parse_host(host, &reg) == 0) {
        ecr = true;
    }
    if (ecr) {
        r = provide_ecr_sa(cfg, req, host, &reg, out, err);
        dh_ecr_registry_release(&reg);
        return r < 0 ? -1 : 1;
    }
    for (size_t i = 0; i < cfg->n_gcr_registries; i++)
        if (dh_kubelet_match_rank(cfg->gcr_registries[i], host, 0) >= 0)
            return provide_gcr_sa(cfg, req, host, out, err) < 0 ? -1 : 1;
    if (dh_gcp_is_registry_host(host))
        return provide_gcr_sa(cfg, req, host, out, err) < 0 ? -1 : 1;
    return 0;
}

int dh_kubelet_provide(const struct dh_config *cfg, const struct dh_kubelet_request *req,
                       struct dh_buf *out, struct dh_error **err)
{
    _cleanup_free_ char *host = NULL;
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_cred_ struct dh_cred *c = NULL;
    struct dh_kubelet_response resp = {.api_version = req->api_version};
    int64_t expires_at = 0;
    int r;

    if (dh_kubelet_image_registry(req->image, &host, err) < 0)
        return -1;
    if (req->sa_token) {
        r = provide_sa(cfg, req, host, out, err);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    if (dh_store_open_for_call(cfg, &s, err) < 0)
        return -1;
    r = dh_resolve_cred(cfg, s, host, &c, &expires_at, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        /* Nothing for this registry: an empty answer the kubelet does not cache, so it
           goes on with pull secrets and other providers, and a credential stored later
           is seen at the next pull. */
        resp.has_cache_duration = true;
        resp.cache_duration_ms = 0;
        return dh_kubelet_response_encode(&resp, out, err);
    }
    resp.auth_key = host;
    resp.username = c->username;
    resp.password = c->secret;
    /* A stored ECR token (docker login) carries its expiry: treat it like a minted one. */
    if (expires_at == 0 && strcmp(c->username, "AWS") == 0)
        (void)dh_ecr_password_expiry(c->secret, &expires_at);
    if (expires_at > 0) {
        resp.has_cache_duration = true;
        /* now, after minting: the token's life is counted from this answer */
        resp.cache_duration_ms = dh_kubelet_cache_seconds(expires_at, (int64_t)time(NULL)) * 1000;
    } else if (cfg->kubelet_cache_duration_ms != DH_CONFIG_UNSET) {
        resp.has_cache_duration = true;
        resp.cache_duration_ms = (int64_t)cfg->kubelet_cache_duration_ms;
    }
    return dh_kubelet_response_encode(&resp, out, err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Amazon ECR and ECR Public: host recognition and GetAuthorizationToken. */
#include "dockhand/ecr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/http.h"
#include "dockhand/mem.h"

#define ECR_TIMEOUT_MS    10000
#define ECR_MAX_BODY      ((size_t)1 << 20)
#define ECR_PUBLIC_REGION "us-east-1"

/* ecr-login/api/client.go's ecrPattern, as a POSIX ERE (the region allows '_' too). */
static const char ecr_pattern[] =
        "^([0-9]{12})\\.dkr[.-]ecr(-fips)?\\.([a-zA-Z0-9][a-zA-Z0-9_-]*)\\."
        "(amazonaws\\.com(\\.cn)?|amazonaws\\.eu|on\\.aws|on\\.amazonwebservices\\.com\\.cn|"
        "sc2s\\.sgov\\.gov|c2s\\.ic\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$";

/* The API's DNS suffix for a registry host's suffix (dual-stack hosts map to their partition). */
static const char *api_suffix_for_host_suffix(const char *s)
{
    if (strcmp(s, "on.aws") == 0)
        return "amazonaws.com";
    if (strcmp(s, "on.amazonwebservices.com.cn") == 0)
        return "amazonaws.com.cn";
    return s;
}

/* The partition's DNS suffix for a region. */
static const char *dns_suffix_for_region(const char *region)
{
    static const struct {
        const char *prefix;
        const char *suffix;
    } map[] = {
            {"cn-", "amazonaws.com.cn"},    {"us-isob-", "sc2s.sgov.gov"},
            {"us-isof-", "csp.hci.ic.gov"}, {"us-iso-", "c2s.ic.gov"},
            {"eu-isoe-", "cloud.adc-e.uk"}, {"eusc-", "amazonaws.eu"},
    };

    for (size_t i = 0; region && i < DH_ARRAY_SIZE(map); i++)
        if (strncmp(region, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].suffix;
    return "amazonaws.com";
}

void dh_ecr_registry_init(struct dh_ecr_registry *r, const char *account, const char *region)
{
    memset(r, 0, sizeof(*r));
    r->account = account && *account ? dh_xstrdup(account) : NULL;
    r->region = dh_xstrdup(region && *region ? region : "us-east-1");
    r->dns_suffix = dh_xstrdup(dns_suffix_for_region(r->region));
}

void dh_ecr_registry_release(struct dh_ecr_registry *r)
{
    if (!r)
        return;
    free(r->account);
    free(r->region);
    free(r->dns_suffix);
    memset(r, 0, sizeof(*r));
}

/* The host name of a registry reference: scheme, userinfo, path and port removed, lowercased. */
static char *host_only(const char *in)
{
    const char *p = in;

    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (strncasecmp(p, "http://", 7) == 0)
        p += 7;
    size_t n = strcspn(p, "/?#");
    char *h = dh_xstrndup(p, n);
    char *at = strrchr(h, '@');
    if (at)
        memmove(h, at + 1, strlen(at + 1) + 1);
    if (h[0] == '[') { /* an IPv6 literal is never ECR */
        h[0] = '\0';
        return h;
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = '\0';
    for (char *q = h; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    return h;
}

int dh_ecr_parse_host(const char *host, struct dh_ecr_registry *ret)
{
    _cleanup_free_ char *h = NULL;
    regex_t re;
    regmatch_t m[6];
    int rc;

    if (!host || !ret)
        return -1;
    h = host_only(host);
    if (strcmp(h, "public.ecr.aws") == 0 || strcmp(h, "ecr-public.aws.com") == 0) {
        dh_ecr_registry_init(ret, NULL, ECR_PUBLIC_REGION);
        ret->is_public = true;
        ret->dualstack = strcmp(h, "ecr-public.aws.com") == 0;
        return 0;
    }
    if (regcomp(&re, ecr_pattern, REG_EXTENDED) != 0)
        return -1;
    rc = regexec(&re, h, DH_ARRAY_SIZE(m), m, 0);
    regfree(&re);
    if (rc != 0)
        return -1;

    _cleanup_free_ char *account = dh_xstrndup(h + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    _cleanup_free_ char *region = dh_xstrndup(h + m[3].rm_so, (size_t)(m[3].rm_eo - m[3].rm_so));
    _cleanup_free_ char *suffix = dh_xstrndup(h + m[4].rm_so, (size_t)(m[4].rm_eo - m[4].rm_so));
    memset(ret, 0, sizeof(*ret));
    ret->account = TAKE_PTR(account);
    ret->region = TAKE_PTR(region);
    ret->dns_suffix = dh_xstrdup(api_suffix_for_host_suffix(suffix));
    ret->fips = m[2].rm_so >= 0;
    ret->dualstack = h[m[1].rm_eo + 4] == '-'; /* "dkr-ecr" */
    return 0;
}

char *dh_ecr_api_endpoint(const struct dh_ecr_registry *r)
{
    if (r->is_public)
        return dh_aws_endpoint_url("ECR_PUBLIC",
                                   "https://api.ecr-public." ECR_PUBLIC_REGION ".amazonaws.com");
    _cleanup_free_ char *def = dh_xasprintf(
            "https://api.ecr%s.%s.%s", r->fips ? "-fips" : "", r->region,
            r->dns_suffix && *r->dns_suffix ? r->dns_suffix : dns_suffix_for_region(r->region));
    return dh_aws_endpoint_url("ECR", def);
}

/* Splits an http(s) URL into its authority (host[:port]) and path ("/" when none). */
static int split_url(const char *url, bool *ret_https, char **ret_authority, char **ret_path)
{
    const char *p;
    bool https;

    if (strncasecmp(url, "https://", 8) == 0) {
        https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = false;
        p = url + 7;
    } else {
        return -1;
    }
    size_t n = strcspn(p, "/?#");
    if (n == 0 || memchr(p, '@', n))
        return -1;
    const char *path = p + n;
    *ret_https = https;
    *ret_authority = dh_xstrndup(p, n);
    *ret_path = dh_xstrndup(*path == '/' ? path : "/", strcspn(*path == '/' ? path : "/", "?#"));
    return 0;
}

static bool is_loopback_authority(const char *authority)
{
    _cleanup_free_ char *h = NULL;

    if (authority[0] == '[') {
        const char *e = strchr(authority, ']');
        h = dh_xstrndup(authority + 1, e ? (size_t)(e - authority - 1) : 0);
        return strcmp(h, "::1") == 0;
    }
    h = dh_xstrndup(authority, strcspn(authority, ":"));
    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (strncmp(h, "127.", 4) != 0)
        return false;
    for (const char *q = h + 4; *q; q++)
        if (!isdigit((unsigned char)*q) && *q != '.')
            return false;
    return true;
}

/* "AccessDeniedException: message" from an AWS JSON error body (or the x-amzn-ErrorType
   header), truncated; NULL when there is nothing usable. */
static char *aws_error_text(const struct dh_http_response *resp)
{
    json_auto_t *doc = NULL;
    const char *type = NULL, *msg = NULL;

    if (resp->body.len)
        doc = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    if (json_is_object(doc)) {
        type = json_string_value(json_object_get(doc, "__type"));
        if (!type)
            type = json_string_value(json_object_get(doc, "code"));
        msg = json_string_value(json_object_get(doc, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(doc, "Message"));
    }
    if (!type)
        type = dh_http_header(resp, "x-amzn-ErrorType");
    if (!type && !msg)
        return NULL;
    if (type) {
        const char *hash = strrchr(type, '#'); /* "com.amazonaws...#AccessDeniedException" */
        if (hash)
            type = hash + 1;
    }
    _cleanup_free_ char *t = type ? dh_xstrndup(type, strcspn(type, ":")) : NULL;
    char *text = dh_xasprintf("%.100s%s%.400s", t ? t : "", t && msg ? ": " : "", msg ? msg : "");
    for (char *q = text; *q; q++) /* one line of printable text */
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
    return text;
}

int dh_ecr_parse_response(const char *body, size_t len, bool is_public, const char *what,
                          const char *source, struct dh_token **ret, struct dh_error **err)
{
    json_auto_t *doc = NULL;
    json_t *data, *entry = NULL, *exp;
    const char *b64;
    _cleanup_buf_ struct dh_buf dec = DH_BUF_INIT_SECRET(64 * 1024);
    _cleanup_error_ struct dh_error *e2 = NULL;

    if (!what)
        what = is_public ? "ECR Public GetAuthorizationToken" : "ECR GetAuthorizationToken";
    if (!source)
        source = what;
    dh_json_use_wiping_alloc();
    doc = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    if (!json_is_object(doc))
        return dh_error_make(err, EBADMSG, "%s: the answer is not a JSON object", what);
    data = json_object_get(doc, "authorizationData");
    if (is_public || json_is_object(data)) {
        entry = json_is_object(data) ? data : NULL;
    } else if (json_is_array(data)) {
        size_t i;
        json_t *d;
        json_array_foreach (data, i, d) {
            if (json_is_string(json_object_get(d, "authorizationToken"))) {
                entry = d;
                break;
            }
        }
    }
    b64 = json_string_value(json_object_get(entry, "authorizationToken"));
    if (!b64)
        return dh_error_make(err, EBADMSG, "%s: the answer has no authorizationData token", what);
    exp = json_object_get(entry, "expiresAt");
    /* At least 1: a fraction below would truncate to 0, an expiry at the epoch. */
    if (!json_is_number(exp) || !isfinite(json_number_value(exp)) || json_number_value(exp) < 1 ||
        json_number_value(exp) > 1e13)
        return dh_error_make(err, EBADMSG, "%s: the answer has no valid expiresAt", what);
    if (dh_base64_decode(b64, strlen(b64), &dec, &e2) < 0)
        return dh_error_make(err, EBADMSG, "%s: the authorization token is not base64", what);
    char *colon = dec.data ? memchr(dec.data, ':', dec.len) : NULL;
    if (!colon || colon == dec.data || memchr(dec.data, '\0', dec.len))
        return dh_error_make(err, EBADMSG, "%s: the authorization token is not 'user:password'",
                             what);
    *colon = '\0';
    *ret = dh_token_new(dec.data, colon + 1,
                        (int64_t)json_number_value(exp) /* >= 1: truncation is floor */, source);
    return 0;
}

int dh_ecr_get_token(const struct dh_ecr_registry *r, const struct dh_aws_creds *creds,
                     struct dh_token **ret, struct dh_error **err)
{
    _cleanup_free_ char *endpoint = NULL, *authority = NULL, *path = NULL, *url = NULL;
    _cleanup_free_ char *what = NULL, *source = NULL, *body = NULL;
    _cleanup_free_ char *h_host = NULL, *h_date = NULL, *h_authz = NULL;
    _cleanup_free_ char *h_target = NULL;
    _cleanup_wipe_ char *h_token = NULL;
    _cleanup_error_ struct dh_error *e2 = NULL;
    struct dh_sigv4_output sig = {0};
    struct dh_http_response resp;
    bool https;
    int rc = -1;

    if (!r || !creds || !ret)
        return dh_error_make(err, EINVAL, "ecr: missing registry or credentials");
    if (!r->is_public && (!r->region || !*r->region))
        return dh_error_make(err, EINVAL, "ecr: registry without a region");

    endpoint = dh_ecr_api_endpoint(r);
    while (*endpoint && endpoint[strlen(endpoint) - 1] == '/' && strlen(endpoint) > 8)
        endpoint[strlen(endpoint) - 1] = '\0';
    /* The URL is not echoed until it is known to hold no userinfo, query or fragment. */
    if (split_url(endpoint, &https, &authority, &path) < 0 || endpoint[strcspn(endpoint, "?#")])
        return dh_error_make(err, EINVAL,
                             "%s GetAuthorizationToken: the endpoint is not an "
                             "http(s)://host[:port][/path] URL",
                             r->is_public ? "ECR Public" : "ECR");
    what = dh_xasprintf("%s GetAuthorizationToken at %s", r->is_public ? "ECR Public" : "ECR",
                        endpoint);
    if (!https && !is_loopback_authority(authority))
        return dh_error_make(err, EPERM,
                             "%s: refusing plain http to a host other than the loopback", what);
    url = strcmp(path, "/") == 0 ? dh_xasprintf("%s/", endpoint) : dh_xstrdup(endpoint);
    source = dh_xasprintf("%s with credentials from %s", what,
                          creds->source && *creds->source ? creds->source : "an unnamed source");

    const char *region = r->is_public ? ECR_PUBLIC_REGION : r->region;
    const char *target = r->is_public
                                 ? "SpencerFrontendService.GetAuthorizationToken"
                                 : "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
    if (r->is_public || !r->account || !*r->account) {
        body = dh_xstrdup("{}");
    } else {
        for (const char *q = r->account; *q; q++)
            if (!isdigit((unsigned char)*q))
                return dh_error_make(err, EINVAL, "ecr: bad account id '%s'", r->account);
        body = dh_xasprintf("{\"registryIds\":[\"%s\"]}", r->account);
    }

    const struct dh_sigv4_header sh[] = {
            {"Host", authority},
            {"Content-Type", "application/x-amz-json-1.1"},
            {"X-Amz-Target", target},
    };
    struct dh_sigv4_input in = {
            .method = "POST",
            .path = path,
            .headers = sh,
            .n_headers = DH_ARRAY_SIZE(sh),
            .payload = body,
            .payload_len = strlen(body),
            .region = region,
            .service = r->is_public ? "ecr-public" : "ecr",
            .timestamp = time(NULL),
    };
    if (dh_sigv4_sign(&in, creds, &sig, &e2) < 0) {
        dh_error_move(err, &e2);
        return dh_error_wrap(err, "%s", what);
    }
    h_host = dh_xasprintf("Host: %s", authority);
    h_target = dh_xasprintf("X-Amz-Target: %s", target);
    h_date = dh_xasprintf("X-Amz-Date: %s", sig.amz_date);
    h_authz = dh_xasprintf("Authorization: %s", sig.authorization);
    if (creds->session_token && *creds->session_token)
        h_token = dh_xasprintf("X-Amz-Security-Token: %s", creds->session_token);
    dh_sigv4_output_release(&sig);
    const char *headers[] = {
            h_host,    "Content-Type: application/x-amz-json-1.1",
            h_target,  h_date,
            h_authz,   "Accept: application/json",
            "Expect:", h_token,
            NULL,
    };
    const char *aws_ca = getenv("AWS_CA_BUNDLE");
    struct dh_http_request req = {
            .method = "POST",
            .url = url,
            .headers = headers,
            .body = body,
            .body_len = strlen(body),
            .timeout_ms = ECR_TIMEOUT_MS,
            .connect_timeout_ms = ECR_TIMEOUT_MS,
            .max_body = ECR_MAX_BODY,
            .allow_http = !https,
            .ca_file = https && aws_ca && *aws_ca ? aws_ca : NULL,
            .secret_body = true,
    };

    if (dh_http_do(&req, &resp, &e2) < 0) {
        dh_error_move(err, &e2);
        dh_error_wrap(err, "%s", what);
        goto out;
    }
    if (resp.status != 200) {
        _cleanup_free_ char *detail = aws_error_text(&resp);
        int st = resp.status == 401 || resp.status == 403   ? EACCES
                 : resp.status == 429 || resp.status >= 500 ? EAGAIN
                                                            : EIO;
        dh_error_make(err, st, "%s: %ld%s%s", what, resp.status, detail ? " " : "",
                      detail ? detail : "");
        goto out;
    }
    rc = dh_ecr_parse_response(resp.body.data, resp.body.len, r->is_public, what, source, ret, err);
out:
    dh_http_response_release(&resp);
    return rc;
}

int dh_ecr_password_expiry(const char *password, int64_t *ret)
{
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT_SECRET(64 * 1024);
    json_t *j, *e;
    int r = -1;

    if (!password || dh_base64_decode(password, strlen(password), &raw, NULL) < 0)
        return -1;
    j = json_loadb(raw.data, raw.len, 0, NULL);
    e = json_object_get(j, "expiration");
    if (json_is_integer(e) && json_integer_value(e) > 0) {
        *ret = (int64_t)json_integer_value(e);
        r = 0;
    }
    json_decref(j);
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/aws.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/http.h"
#include "dockhand/mem.h"
#include "dockhand/xdg.h"

#define MAX_FILE        ((size_t)1 << 20)
#define MAX_TOKEN       ((size_t)64 << 10)
#define MAX_PROFILE_DEP 8
#define STS_VERSION     "2011-06-15"

DH_DEFINE_CLEANUP_FUNC(struct dh_aws_creds *, dh_aws_creds_free)
#define _cleanup_creds_ DH_CLEANUP(dh_aws_creds_freep)

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- INI ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return end;
}

/* Calls fn for each key of each section: returns what fn returns first non-zero. */
typedef int (*ini_fn)(void *arg, const char *sec, size_t seclen, const char *key, size_t keylen,
                      const char *val, size_t vallen);

static int ini_walk(const char *text, ini_fn fn, void *arg)
{
    const char *p = text, *sec = NULL;
    size_t seclen = 0;
    bool in_sub = false;

    while (p && *p) {
        const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);
        const char *s = skip_ws(p, end), *e = trim_end(s, end);
        bool indented = s > p;

        p = eol ? eol + 1 : NULL;
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            in_sub = false;
            if (!close) {
                sec = NULL;
                continue;
            }
            const char *ns = skip_ws(s + 1, close), *ne = trim_end(ns, close);
            sec = ns;
            seclen = (size_t)(ne - ns);
            continue;
        }
        if (indented && in_sub)
            continue; /* a nested sub-section line (s3 = ...): ignored */
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq || !sec)
            continue;
        const char *ke = trim_end(s, eq), *vs = skip_ws(eq + 1, e), *ve = e;
        /* Inline comments: '#' or ';' preceded by white space. */
        for (const char *q = vs; q < ve; q++)
            if ((*q == '#' || *q == ';') && q > vs && (q[-1] == ' ' || q[-1] == '\t')) {
                ve = trim_end(vs, q);
                break;
            }
        in_sub = vs == ve;
        int r = fn(arg, sec, seclen, s, (size_t)(ke - s), vs, (size_t)(ve - vs));
        if (r)
            return r;
    }
    return 0;
}

struct ini_get_arg {
    const char *section, *key;
    char *value;
};

static int ini_get_cb(void *arg, const char *sec, size_t seclen, const char *key, size_t keylen,
                      const char *val, size_t vallen)
{
    struct ini_get_arg *a = arg;

    if (seclen != strlen(a->section) || memcmp(sec, a->section, seclen) != 0)
        return 0;
    if (keylen != strlen(a->key) || strncasecmp(key, a->key, keylen) != 0)
        return 0;
    free(a->value); /* the last one wins */
    a->value = dh_xstrndup(val, vallen);
    return 0;
}

char *dh_aws_ini_get(const char *text, const char *section, const char *key)
{
    struct ini_get_arg a = {.section = section, .key = key, .value = NULL};

    if (!text)
        return NULL;
    (void)ini_walk(text, ini_get_cb, &a);
    return a.value;
}

int dh_aws_ini_has_section(const char *text, const char *section)
{
    size_t n = strlen(section);
    const char *p = text;

    while (p && *p) {
        const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);
        const char *s = skip_ws(p, end), *e = trim_end(s, end);

        p = eol ? eol + 1 : NULL;
        if (s < e && *s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close)
                continue;
            const char *ns = skip_ws(s + 1, close), *ne = trim_end(ns, close);
            if ((size_t)(ne - ns) == n && memcmp(ns, section, n) == 0)
                return 1;
        }
    }
    return 0;
}

/* ---- time ---- */

int dh_aws_parse_time(const char *s, int64_t *ret, struct dh_error **err)
{
    struct tm tm = {0};
    int n = 0, off = 0;
    const char *p;

    if (!s || sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
        goto bad;
    p = s + n;
    if (*p != 'T' && *p != 't' && *p != ' ')
        goto bad;
    p++;
    n = 0;
    if (sscanf(p, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 3 || n != 8)
        goto bad;
    p += n;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5)
            goto bad;
        off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        goto bad;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        goto bad;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ret = (int64_t)timegm(&tm) - off;
    return 0;
bad:
    return dh_error_make(err, EINVAL, "invalid time '%.40s': want RFC 3339", s ? s : "");
}

/* ---- small helpers ---- */

static void form_add(struct dh_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    struct dh_error *e = NULL;

    if (b->len)
        (void)dh_buf_puts(b, "&", &e);
    (void)dh_buf_puts(b, name, &e);
    (void)dh_buf_puts(b, "=", &e);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char c[3];
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            (void)dh_buf_append(b, p, 1, &e);
        } else {
            c[0] = '%';
            c[1] = hex[*p >> 4];
            c[2] = hex[*p & 15];
            (void)dh_buf_append(b, c, 3, &e);
        }
    }
    dh_error_free(&e); /* the buffers are large enough for any form we build */
}

/* Splits scheme://[userinfo@]host[:port][/path]: *ret_hostport "host[:port]" as in
   the URL, *ret_host the host without brackets. */
static int url_split(const char *url, char **ret_scheme, char **ret_hostport, char **ret_host,
                     struct dh_error **err)
{
    const char *p = strstr(url, "://"), *a, *ae, *at, *h, *he;

    if (!p)
        return dh_error_make(err, EINVAL, "invalid URL '%s'", url);
    a = p + 3;
    ae = a + strcspn(a, "/?#");
    at = memchr(a, '@', (size_t)(ae - a));
    if (at)
        a = at + 1;
    if (a == ae)
        return dh_error_make(err, EINVAL, "invalid URL: no host");
    if (*a == '[') {
        h = a + 1;
        he = memchr(h, ']', (size_t)(ae - h));
        if (!he)
            return dh_error_make(err, EINVAL, "invalid URL: bad IPv6 host");
    } else {
        h = a;
        he = memchr(a, ':', (size_t)(ae - a));
        if (!he)
            he = ae;
    }
    *ret_scheme = dh_xstrndup(url, (size_t)(p - url));
    *ret_hostport = dh_xstrndup(a, (size_t)(ae - a));
    *ret_host = dh_xstrndup(h, (size_t)(he - h));
    return 0;
}

static bool host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcasecmp(host, "localhost") == 0;
}

/* Text of the first <tag>...</tag> inside xml (entities decoded), or NULL. */
static char *xml_text(const char *xml, const char *tag)
{
    size_t n = strlen(tag);
    const char *p = xml;

    while ((p = strchr(p, '<'))) {
        p++;
        if (strncmp(p, tag, n) == 0 && (p[n] == '>' || p[n] == ' ')) {
            const char *s = strchr(p, '>'), *e;
            if (!s)
                return NULL;
            s++;
            _cleanup_free_ char *close = dh_xasprintf("</%s>", tag);
            e = strstr(s, close);
            if (!e)
                return NULL;
            char *out = dh_xmalloc((size_t)(e - s) + 1), *o = out;
            for (const char *q = s; q < e;) {
                static const struct {
                    const char *ent;
                    char c;
                } ents[] = {{"&amp;", '&'},
                            {"&lt;", '<'},
                            {"&gt;", '>'},
                            {"&quot;", '"'},
                            {"&apos;", '\''}};
                bool done = false;
                if (*q == '&')
                    for (size_t i = 0; i < DH_ARRAY_SIZE(ents); i++) {
                        size_t l = strlen(ents[i].ent);
                        if ((size_t)(e - q) >= l && memcmp(q, ents[i].ent, l) == 0) {
                            *o++ = ents[i].c;
                            q += l;
                            done = true;
                            break;
                        }
                    }
                if (!done)
                    *o++ = *q++;
            }
            *o = 0;
            return out;
        }
    }
    return NULL;
}

static int read_trimmed(const char *path, bool secret, char **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(MAX_TOKEN);
    size_t n;

    b.secret = secret;
    if (dh_read_file(path, &b, err) < 0)
        return -1;
    n = b.len;
    while (n > 0 && isspace((unsigned char)b.data[n - 1]))
        n--;
    dh_buf_truncate(&b, n);
    *ret = dh_buf_steal(&b, NULL);
    return 0;
}

/* ---- chain state ---- */

struct chain {
    const struct dh_aws_options *opt;
    char *profile; /* resolved name */
    bool profile_explicit;
    char *config_path, *creds_path;
    char *config_text, *creds_text; /* NULL when missing */
    char *region;
};

static void chain_release(struct chain *c)
{
    free(c->profile);
    free(c->config_path);
    free(c->creds_path);
    dh_str_free_wipe(c->config_text);
    dh_str_free_wipe(c->creds_text);
    free(c->region);
}

static int load_optional(const char *path, char **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(MAX_FILE);

    *ret = NULL;
    if (dh_read_file(path, &b, err) < 0) {
        if ((*err)->status == ENOENT) {
            dh_error_free(err);
            return 0;
        }
        return -1;
    }
    *ret = dh_buf_steal(&b, NULL);
    return 0;
}

static int chain_init(struct chain *c, const struct dh_aws_options *opt, bool read_files,
                      struct dh_error **err)
{
    _cleanup_free_ char *home = NULL;
    const char *v;

    memset(c, 0, sizeof(*c));
    c->opt = opt;
    if (opt && opt->profile && *opt->profile) {
        c->profile = dh_xstrdup(opt->profile);
        c->profile_explicit = true;
    } else if ((v = env("AWS_PROFILE")) || (v = env("AWS_DEFAULT_PROFILE"))) {
        c->profile = dh_xstrdup(v);
        c->profile_explicit = true;
    } else {
        c->profile = dh_xstrdup("default");
    }
    if ((v = env("AWS_CONFIG_FILE")))
        c->config_path = dh_xstrdup(v);
    if ((v = env("AWS_SHARED_CREDENTIALS_FILE")))
        c->creds_path = dh_xstrdup(v);
    if (!c->config_path || !c->creds_path) {
        struct dh_error *e = NULL;
        if (dh_home_dir(&home, &e) < 0) {
            dh_error_free(&e);
            home = dh_xstrdup("~");
        }
        if (!c->config_path)
            c->config_path = dh_xasprintf("%s/.aws/config", home);
        if (!c->creds_path)
            c->creds_path = dh_xasprintf("%s/.aws/credentials", home);
    }
    if (!read_files)
        return 0;
    if (load_optional(c->config_path, &c->config_text, err) < 0)
        return dh_error_wrap(err, "reading AWS config");
    if (load_optional(c->creds_path, &c->creds_text, err) < 0)
        return dh_error_wrap(err, "reading AWS shared credentials");
    return 0;
}

static char *config_section(const char *profile)
{
    return strcmp(profile, "default") == 0 ? dh_xstrdup("default")
                                           : dh_xasprintf("profile %s", profile);
}

/* A profile key: the credentials file wins over the config file. */
static char *prof_get(const struct chain *c, const char *profile, const char *key)
{
    char *v = dh_aws_ini_get(c->creds_text, profile, key);
    if (v)
        return v;
    _cleanup_free_ char *sec = config_section(profile);
    v = dh_aws_ini_get(c->config_text, sec, key);
    if (!v && strcmp(profile, "default") == 0)
        v = dh_aws_ini_get(c->config_text, "profile default", key);
    return v;
}

static bool prof_exists(const struct chain *c, const char *profile)
{
    _cleanup_free_ char *sec = config_section(profile);
    return (c->creds_text && dh_aws_ini_has_section(c->creds_text, profile)) ||
           (c->config_text && (dh_aws_ini_has_section(c->config_text, sec) ||
                               (strcmp(profile, "default") == 0 &&
                                dh_aws_ini_has_section(c->config_text, "profile default"))));
}

static const char *chain_region(struct chain *c)
{
    const char *v;

    if (c->region)
        return c->region;
    if (c->opt && c->opt->region && *c->opt->region)
        v = c->opt->region;
    else if ((v = env("AWS_REGION")) || (v = env("AWS_DEFAULT_REGION")))
        ;
    else {
        char *r = prof_get(c, c->profile, "region");
        if (r && *r)
            return c->region = r;
        free(r);
        v = "us-east-1";
    }
    return c->region = dh_xstrdup(v);
}

/* ---- STS ---- */

int dh_aws_parse_sts_response(const char *action, long status, const char *data, size_t len,
                              const char *source, struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf copy = DH_BUF_INIT_SECRET(SIZE_MAX - 1);
    const char *body;

    if (!source)
        source = "sts";
    /* The XML scan below needs a NUL-terminated text (it stops at the first NUL). */
    if (data && dh_buf_append(&copy, data, len, err) < 0)
        return dh_error_wrap(err, "sts %s", action);
    body = copy.data ? copy.data : "";
    if (status != 200) {
        _cleanup_free_ char *code = xml_text(body, "Code");
        _cleanup_free_ char *msg = xml_text(body, "Message");
        if (code)
            return dh_error_make(err, status == 403 ? EACCES : EIO, "sts %s: %s: %s (HTTP %ld)",
                                 action, code, msg ? msg : "", status);
        return dh_error_make(err, EIO, "sts %s: HTTP %ld", action, status);
    }
    _cleanup_free_ char *rtag = dh_xasprintf("%sResult", action);
    const char *r = strstr(body, rtag);
    const char *cr = r ? strstr(r, "<Credentials>") : NULL;
    if (!cr)
        return dh_error_make(err, EPROTO, "sts %s: no credentials in the response", action);
    _cleanup_free_ char *akid = xml_text(cr, "AccessKeyId");
    char *secret = xml_text(cr, "SecretAccessKey");
    char *token = xml_text(cr, "SessionToken");
    _cleanup_free_ char *exp = xml_text(cr, "Expiration");
    int64_t expires = 0;
    int rc = 0;

    if (!akid || !secret || !*akid || !*secret)
        rc = dh_error_make(err, EPROTO, "sts %s: incomplete credentials in the response", action);
    else if (exp && dh_aws_parse_time(exp, &expires, err) < 0)
        rc = dh_error_wrap(err, "sts %s: Expiration", action);
    else
        *ret = dh_aws_creds_new(akid, secret, token, expires, source);
    dh_str_free_wipe(secret);
    dh_str_free_wipe(token);
    return rc;
}

/* POSTs an awsQuery form to STS; signed with signer when not NULL. */
static int sts_call(struct chain *c, const char *action, const struct dh_buf *form,
                    const struct dh_aws_creds *signer, const char *source,
                    struct dh_aws_creds **ret, struct dh_error **err)
{
    const char *region = chain_region(c);
    _cleanup_free_ char *def = dh_xasprintf("https://sts.%s.amazonaws.com", region);
    _cleanup_free_ char *endpoint = dh_aws_endpoint_url("STS", def);
    _cleanup_free_ char *url = NULL, *scheme = NULL, *hostport = NULL, *host = NULL;
    _cleanup_free_ char *auth_h = NULL, *date_h = NULL, *tok_h = NULL;
    struct dh_sigv4_output sig = {0};
    const char *headers[6];
    size_t nh = 0;
    struct dh_http_response resp;
    int rc;

    if (!endpoint)
        return dh_error_make(err, EINVAL, "sts %s: no endpoint", action);
    if (url_split(endpoint, &scheme, &hostport, &host, err) < 0)
        return dh_error_wrap(err, "sts endpoint");
    {
        const char *path = strstr(endpoint, "://") + 3;
        path += strcspn(path, "/?#");
        url = *path == '/' ? dh_xstrdup(endpoint) : dh_xasprintf("%s/", endpoint);
    }
    headers[nh++] = "Content-Type: application/x-www-form-urlencoded; charset=utf-8";
    if (signer) {
        struct dh_sigv4_header sh[] = {
                {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                {"Host", hostport},
        };
        const char *path = strstr(url, "://") + 3;
        path += strcspn(path, "/");
        _cleanup_free_ char *p = dh_xstrndup(path, strcspn(path, "?#"));
        struct dh_sigv4_input in = {
                .method = "POST",
                .path = *p ? p : "/",
                .headers = sh,
                .n_headers = DH_ARRAY_SIZE(sh),
                .payload = form->data,
                .payload_len = form->len,
                .region = region,
                .service = "sts",
                .timestamp = time(NULL),
        };
        if (dh_sigv4_sign(&in, signer, &sig, err) < 0)
            return dh_error_wrap(err, "signing sts %s", action);
        auth_h = dh_xasprintf("Authorization: %s", sig.authorization);
        date_h = dh_xasprintf("X-Amz-Date: %s", sig.amz_date);
        headers[nh++] = auth_h;
        headers[nh++] = date_h;
        if (signer->session_token) {
            tok_h = dh_xasprintf("X-Amz-Security-Token: %s", signer->session_token);
            headers[nh++] = tok_h;
        }
        dh_sigv4_output_release(&sig);
    }
    headers[nh] = NULL;
    struct dh_http_request req = {
            .method = "POST",
            .url = url,
            .headers = headers,
            .body = form->data,
            .body_len = form->len,
            .allow_http = strcmp(scheme, "http") == 0 && host_is_loopback(host),
            .secret_body = true,
            .max_body = 1 << 20,
    };
    rc = dh_http_do(&req, &resp, err);
    dh_str_free_wipe(TAKE_PTR(tok_h));
    if (rc < 0) {
        dh_http_response_release(&resp);
        return dh_error_wrap(err, "sts %s", action);
    }
    rc = dh_aws_parse_sts_response(action, resp.status, resp.body.data, resp.body.len, source, ret,
                                   err);
    dh_http_response_release(&resp);
    return rc;
}

static char *session_name(const char *given)
{
    if (given && *given)
        return dh_xstrdup(given);
    return dh_xasprintf("dockhand-%lld", (long long)time(NULL));
}

static int assume_role(struct chain *c, const struct dh_aws_creds *src, const char *role_arn,
                       const char *session, const char *external_id, const char *duration,
                       struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf form = DH_BUF_INIT(64 << 10);
    _cleanup_free_ char *sn = session_name(session);
    _cleanup_free_ char *source = dh_xasprintf("role '%s' via %s", role_arn, src->source);

    form_add(&form, "Action", "AssumeRole");
    form_add(&form, "Version", STS_VERSION);
    form_add(&form, "RoleArn", role_arn);
    form_add(&form, "RoleSessionName", sn);
    if (external_id && *external_id)
        form_add(&form, "ExternalId", external_id);
    if (duration && *duration)
        form_add(&form, "DurationSeconds", duration);
    if (sts_call(c, "AssumeRole", &form, src, source, ret, err) < 0)
        return dh_error_wrap(err, "assuming role '%s'", role_arn);
    return 0;
}

/* AssumeRoleWithWebIdentity with the token in memory (not logged, sent in the body only). */
static int web_identity_token(struct chain *c, const char *tok, const char *role_arn,
                              const char *session, struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf form = DH_BUF_INIT_SECRET(256 << 10);
    _cleanup_free_ char *sn = session_name(session);
    _cleanup_free_ char *source = dh_xasprintf("web identity (role '%s')", role_arn);

    form_add(&form, "Action", "AssumeRoleWithWebIdentity");
    form_add(&form, "Version", STS_VERSION);
    form_add(&form, "RoleArn", role_arn);
    form_add(&form, "RoleSessionName", sn);
    form_add(&form, "WebIdentityToken", tok);
    if (sts_call(c, "AssumeRoleWithWebIdentity", &form, NULL, source, ret, err) < 0)
        return dh_error_wrap(err, "web identity for role '%s'", role_arn);
    return 0;
}

static int web_identity(struct chain *c, const char *token_file, const char *role_arn,
                        const char *session, struct dh_aws_creds **ret, struct dh_error **err)
{
    char *tok = NULL;
    int rc;

    if (read_trimmed(token_file, true, &tok, err) < 0)
        return dh_error_wrap(err, "reading web identity token");
    rc = web_identity_token(c, tok, role_arn, session, ret, err);
    dh_str_free_wipe(tok);
    return rc;
}

int dh_aws_assume_role_with_web_identity(const char *token, const char *role_arn,
                                         const char *session, const char *region,
                                         struct dh_aws_creds **ret, struct dh_error **err)
{
    const struct dh_aws_options opt = {.region = region};
    struct chain c;
    int rc;

    if (!token || !*token || strlen(token) > MAX_TOKEN)
        return dh_error_make(err, EINVAL,
                             "web identity for role '%s': the token is empty or "
                             "longer than %zu bytes",
                             role_arn ? role_arn : "", MAX_TOKEN);
    if (!role_arn || !*role_arn)
        return dh_error_make(err, EINVAL, "web identity: no role to assume");
    if (chain_init(&c, &opt, false, err) < 0) {
        chain_release(&c);
        return -1;
    }
    rc = web_identity_token(&c, token, role_arn, session, ret, err);
    chain_release(&c);
    return rc;
}

/* ---- JSON credentials (container, IMDS, credential_process) ---- */

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int dh_aws_parse_json_credentials(const char *what, const char *data, size_t len,
                                  const char *token_key, const char *source,
                                  struct dh_aws_creds **ret, struct dh_error **err)
{
    json_t *root;
    int64_t expires = 0;
    int rc = 0;

    dh_json_use_wiping_alloc();
    root = json_loadb(data ? data : "", data ? len : 0, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return dh_error_make(err, EPROTO, "%s: the answer is not a JSON object", what);
    }
    const char *akid = jstr(root, "AccessKeyId"), *secret = jstr(root, "SecretAccessKey");
    const char *tok = jstr(root, token_key), *exp = jstr(root, "Expiration");
    if (!akid || !secret || !*akid || !*secret)
        rc = dh_error_make(err, EPROTO, "%s: AccessKeyId or SecretAccessKey missing", what);
    else if (exp && *exp && dh_aws_parse_time(exp, &expires, err) < 0)
        rc = dh_error_wrap(err, "%s: Expiration", what);
    else
        *ret = dh_aws_creds_new(akid, secret, tok && *tok ? tok : NULL, expires, source);
    json_decref(root);
    return rc;
}

/* ---- container credentials ---- */

static bool container_host_ok(const char *host)
{
    return host_is_loopback(host) || strcmp(host, "169.254.170.2") == 0 ||
           strcmp(host, "169.254.170.23") == 0 || strcasecmp(host, "fd00:ec2::23") == 0;
}

static bool container_configured(void)
{
    return env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
           env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static int container_creds(struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_free_ char *url = NULL, *scheme = NULL, *hostport = NULL, *host = NULL;
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), *v;
    char *tok = NULL, *auth_h = NULL;
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    struct dh_http_response resp;
    int rc;

    if (!container_configured())
        return dh_error_make(
                err, ENOENT,
                "container credentials: neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                "nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
    if (rel)
        url = dh_xasprintf("http://169.254.170.2%s%s", *rel == '/' ? "" : "/", rel);
    else
        url = dh_xstrdup(env("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    if (url_split(url, &scheme, &hostport, &host, err) < 0)
        return dh_error_wrap(err, "container credentials");
    if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && container_host_ok(host)))
        return dh_error_make(err, EPERM,
                             "container credentials: '%s://%s' is not allowed: use https, or http "
                             "to loopback or 169.254.170.2, 169.254.170.23, [fd00:ec2::23]",
                             scheme, hostport);
    if ((v = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))) {
        if (read_trimmed(v, true, &tok, err) < 0)
            return dh_error_wrap(err, "container credentials: authorization token");
    } else if ((v = env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))) {
        tok = dh_xstrdup(v);
    }
    if (tok) {
        if (strpbrk(tok, "\r\n")) {
            dh_str_free_wipe(tok);
            return dh_error_make(err, EINVAL,
                                 "container credentials: the authorization token has a line break");
        }
        auth_h = dh_xasprintf("Authorization: %s", tok);
        dh_str_free_wipe(tok);
        headers[1] = auth_h;
    }
    struct dh_http_request req = {
            .url = url,
            .headers = headers,
            .allow_http = true,
            .no_proxy = true,
            .secret_body = true,
            .timeout_ms = 5000,
            .connect_timeout_ms = 2000,
            .max_body = 64 << 10,
    };
    rc = dh_http_do(&req, &resp, err);
    dh_str_free_wipe(auth_h);
    if (rc < 0) {
        dh_http_response_release(&resp);
        return dh_error_wrap(err, "container credentials");
    }
    if (resp.status != 200)
        rc = dh_error_make(err, resp.status == 401 || resp.status == 403 ? EACCES : EIO,
                           "container credentials: %s://%s: HTTP %ld", scheme, hostport,
                           resp.status);
    else
        rc = dh_aws_parse_json_credentials("container credentials", resp.body.data, resp.body.len,
                                           "Token", "container credentials", ret, err);
    dh_http_response_release(&resp);
    return rc;
}

/* ---- EC2 IMDSv2 ---- */

int dh_aws_parse_imds_credentials(const char *role, const char *data, size_t len,
                                  struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_free_ char *src = NULL;
    json_t *root;

    if (!role)
        role = "";
    dh_json_use_wiping_alloc();
    root = json_loadb(data ? data : "", data ? len : 0, 0, NULL);
    const char *code = json_is_object(root) ? jstr(root, "Code") : NULL;
    if (!code || strcmp(code, "Success") != 0) {
        _cleanup_free_ char *c = code ? dh_xstrndup(code, 100) : NULL;
        json_decref(root);
        return dh_error_make(err, EIO, "role '%s': Code is '%s', not 'Success'", role,
                             c ? c : "(none)");
    }
    json_decref(root);
    src = dh_xasprintf("EC2 instance metadata (role '%s')", role);
    return dh_aws_parse_json_credentials("EC2 instance metadata", data, len, "Token", src, ret,
                                         err);
}

static char *imds_endpoint(void)
{
    const char *v = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    size_t n;

    if (!v)
        return dh_xstrdup("http://169.254.169.254");
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    return dh_xstrndup(v, n);
}

static bool imds_disabled(void)
{
    const char *v = env("AWS_EC2_METADATA_DISABLED");
    return v && strcasecmp(v, "true") == 0;
}

static int imds_req(const char *method, const char *url, const char *const *headers,
                    struct dh_http_response *resp, struct dh_error **err)
{
    struct dh_http_request req = {
            .method = method,
            .url = url,
            .headers = headers,
            .allow_http = true,
            .no_proxy = true,
            .secret_body = true,
            .timeout_ms = 2000,
            .connect_timeout_ms = 1000,
            .max_body = 64 << 10,
    };
    if (dh_http_do(&req, resp, err) < 0)
        return -1;
    if (resp->status != 200)
        return dh_error_make(err, resp->status == 401 || resp->status == 403 ? EACCES : EIO,
                             "HTTP %ld", resp->status);
    return 0;
}

static int imds_creds(struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_free_ char *ep = imds_endpoint();
    _cleanup_free_ char *u_tok = dh_xasprintf("%s/latest/api/token", ep);
    _cleanup_free_ char *u_list = dh_xasprintf("%s/latest/meta-data/iam/security-credentials/", ep);
    _cleanup_free_ char *u_role = NULL, *role = NULL;
    char *tok_h = NULL;
    const char *h_put[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    const char *h_get[] = {NULL, NULL};
    struct dh_http_response resp;
    int rc = -1;

    if (imds_disabled()) {
        resp = (struct dh_http_response){.body = DH_BUF_INIT(0)};
        dh_error_make(err, EPERM, "disabled by AWS_EC2_METADATA_DISABLED");
        goto out_resp;
    }
    if (imds_req("PUT", u_tok, h_put, &resp, err) < 0)
        goto out_resp;
    {
        size_t n = resp.body.len;
        while (n > 0 && isspace((unsigned char)resp.body.data[n - 1]))
            n--;
        if (n == 0 || memchr(resp.body.data, '\n', n) || memchr(resp.body.data, '\r', n)) {
            dh_error_make(err, EPROTO, "bad session token");
            goto out_resp;
        }
        tok_h = dh_xasprintf("X-aws-ec2-metadata-token: %.*s", (int)n, resp.body.data);
    }
    dh_http_response_release(&resp);
    h_get[0] = tok_h;
    if (imds_req("GET", u_list, h_get, &resp, err) < 0)
        goto out_resp;
    {
        const char *b = resp.body.data ? resp.body.data : "";
        size_t n = strcspn(b, "\r\n");
        while (n > 0 && isspace((unsigned char)b[n - 1]))
            n--;
        if (n == 0 || memchr(b, '/', n)) {
            dh_error_make(err, ENOENT, "no IAM role attached to the instance");
            goto out_resp;
        }
        role = dh_xstrndup(b, n);
    }
    dh_http_response_release(&resp);
    u_role = dh_xasprintf("%s%s", u_list, role);
    if (imds_req("GET", u_role, h_get, &resp, err) < 0)
        goto out_resp;
    rc = dh_aws_parse_imds_credentials(role, resp.body.data, resp.body.len, ret, err);
out_resp:
    dh_http_response_release(&resp);
    dh_str_free_wipe(tok_h);
    return rc;
}

/* ---- credential_process ---- */

int dh_aws_parse_process_output(const char *profile, const char *data, size_t len,
                                struct dh_aws_creds **ret, struct dh_error **err)
{
    json_t *root;

    if (!profile)
        profile = "";
    dh_json_use_wiping_alloc();
    root = json_loadb(data ? data : "", data ? len : 0, 0, NULL);
    json_t *ver = json_is_object(root) ? json_object_get(root, "Version") : NULL;
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        json_decref(root);
        return dh_error_make(err, EPROTO,
                             "credential_process of profile '%s': the output is not JSON "
                             "with \"Version\": 1",
                             profile);
    }
    json_decref(root);
    _cleanup_free_ char *what = dh_xasprintf("credential_process of profile '%s'", profile);
    return dh_aws_parse_json_credentials(what, data, len, "SessionToken", what, ret, err);
}

static int run_process(const char *profile, const char *cmd, struct dh_aws_creds **ret,
                       struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(64 << 10);
    int fds[2], status = 0, rc = 0;
    struct timespec start, now;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return dh_error_sys(err, errno, "credential_process: pipe");
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return dh_error_sys(err, errno, "credential_process: fork");
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        (void)setpgid(0, 0);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(fds[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    (void)setpgid(pid, pid);
    close(fds[1]);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long left;
        char chunk[4096];
        ssize_t n;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = 60000 -
               ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0) {
            rc = dh_error_make(err, ETIMEDOUT,
                               "credential_process of profile '%s' did not finish in 60 s",
                               profile);
            break;
        }
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        n = read(fds[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dh_buf_append(&out, chunk, (size_t)n, err) < 0) {
            dh_wipe(chunk, sizeof(chunk));
            rc = dh_error_wrap(err, "credential_process of profile '%s'", profile);
            break;
        }
        dh_wipe(chunk, sizeof(chunk));
    }
    close(fds[0]);
    /* A process that closed its stdout must still exit within the 60 s. */
    while (rc == 0) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            goto reaped;
        if (w < 0 && errno != EINTR)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 60) {
            rc = dh_error_make(err, ETIMEDOUT,
                               "credential_process of profile '%s' did not finish in 60 s",
                               profile);
            break;
        }
        usleep(10000);
    }
    if (rc < 0)
        (void)kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
reaped:
    if (rc < 0)
        return rc;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dh_error_make(err, EIO, "credential_process of profile '%s' failed (%s %d)", profile,
                             WIFEXITED(status) ? "exit status" : "signal",
                             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return dh_aws_parse_process_output(profile, out.data, out.len, ret, err);
}

/* ---- profiles ---- */

static int env_static(struct dh_aws_creds **ret)
{
    const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");

    if (!akid)
        akid = env("AWS_ACCESS_KEY");
    if (!secret)
        secret = env("AWS_SECRET_KEY");
    if (!akid || !secret)
        return 0;
    *ret = dh_aws_creds_new(akid, secret, env("AWS_SESSION_TOKEN"), 0, "environment");
    return 1;
}

static int profile_static(const struct chain *c, const char *name, struct dh_aws_creds **ret,
                          struct dh_error **err)
{
    char *akid = prof_get(c, name, "aws_access_key_id");
    char *secret = prof_get(c, name, "aws_secret_access_key");
    char *tok = prof_get(c, name, "aws_session_token");
    int r = 0;

    if (akid && *akid && secret && *secret) {
        _cleanup_free_ char *src = dh_xasprintf("profile '%s'", name);
        *ret = dh_aws_creds_new(akid, secret, tok && *tok ? tok : NULL, 0, src);
        r = 1;
    } else if ((akid && *akid) || (secret && *secret)) {
        r = dh_error_make(err, EINVAL, "profile '%s': %s is missing", name,
                          akid && *akid ? "aws_secret_access_key" : "aws_access_key_id");
    }
    free(akid);
    dh_str_free_wipe(secret);
    dh_str_free_wipe(tok);
    return r;
}

static int resolve_profile(struct chain *c, const char *name, int depth, const char **visited,
                           struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_free_ char *role = prof_get(c, name, "role_arn");
    _cleanup_free_ char *srcp = prof_get(c, name, "source_profile");
    _cleanup_free_ char *csrc = prof_get(c, name, "credential_source");
    _cleanup_free_ char *wif = prof_get(c, name, "web_identity_token_file");
    _cleanup_free_ char *proc = prof_get(c, name, "credential_process");
    _cleanup_free_ char *sess = prof_get(c, name, "role_session_name");
    _cleanup_free_ char *extid = prof_get(c, name, "external_id");
    _cleanup_free_ char *dur = prof_get(c, name, "duration_seconds");
    _cleanup_free_ char *sso = prof_get(c, name, "sso_start_url");
    _cleanup_free_ char *ssos = prof_get(c, name, "sso_session");
    _cleanup_creds_ struct dh_aws_creds *base = NULL;
    int r;

    if (depth >= MAX_PROFILE_DEP)
        return dh_error_make(err, ELOOP, "profile '%s': source_profile chain deeper than %d", name,
                             MAX_PROFILE_DEP);
    for (int i = 0; i < depth; i++)
        if (strcmp(visited[i], name) == 0)
            return dh_error_make(err, ELOOP, "profile '%s': source_profile loop", name);
    visited[depth] = name;
    if (!prof_exists(c, name))
        return dh_error_make(err, ENOENT, "profile '%s' not found in '%s' or '%s'", name,
                             c->config_path, c->creds_path);

    /* A source profile with static keys stops the chain there (SDK behaviour). */
    if (depth > 0 && (r = profile_static(c, name, ret, err)) != 0)
        return r < 0 ? -1 : 0;

    if (role && *role) {
        if (srcp && *srcp) {
            if (strcmp(srcp, name) == 0)
                r = profile_static(c, name, &base, err) < 0 ? -1 : 0;
            else
                r = resolve_profile(c, srcp, depth + 1, visited, &base, err);
            if (r < 0)
                return dh_error_wrap(err, "profile '%s'", name);
            if (!base)
                return dh_error_make(err, EINVAL, "profile '%s': no static keys", name);
        } else if (csrc && *csrc) {
            if (strcmp(csrc, "Environment") == 0) {
                if (!env_static(&base))
                    return dh_error_make(err, ENOENT,
                                         "profile '%s': credential_source Environment but "
                                         "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set",
                                         name);
            } else if (strcmp(csrc, "Ec2InstanceMetadata") == 0) {
                if (imds_creds(&base, err) < 0)
                    return dh_error_wrap(err, "profile '%s': EC2 instance metadata", name);
            } else if (strcmp(csrc, "EcsContainer") == 0) {
                if (container_creds(&base, err) < 0)
                    return dh_error_wrap(err, "profile '%s'", name);
            } else {
                return dh_error_make(err, EINVAL,
                                     "profile '%s': unknown credential_source '%s' (want "
                                     "Environment, Ec2InstanceMetadata or EcsContainer)",
                                     name, csrc);
            }
        } else if (wif && *wif) {
            if (web_identity(c, wif, role, sess, ret, err) < 0)
                return dh_error_wrap(err, "profile '%s'", name);
            return 0;
        } else {
            return dh_error_make(err, EINVAL,
                                 "profile '%s': role_arn needs source_profile, credential_source "
                                 "or web_identity_token_file",
                                 name);
        }
        if (assume_role(c, base, role, sess, extid, dur, ret, err) < 0)
            return dh_error_wrap(err, "profile '%s'", name);
        return 0;
    }
    if ((r = profile_static(c, name, ret, err)) != 0)
        return r < 0 ? -1 : 0;
    if (proc && *proc)
        return run_process(name, proc, ret, err);
    if ((sso && *sso) || (ssos && *ssos))
        return dh_error_make(err, ENOTSUP, "profile '%s': AWS SSO is not supported by dockhand",
                             name);
    return dh_error_make(err, ENOENT, "profile '%s' has no credentials", name);
}

static int chain_resolve(struct chain *c, struct dh_aws_creds **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf tried = DH_BUF_INIT(8192);
    _cleanup_error_ struct dh_error *e = NULL;
    const char *visited[MAX_PROFILE_DEP];
    const char *wif, *role;

    if (!(c->opt && c->opt->profile && *c->opt->profile)) {
        if (env_static(ret))
            return 0;
        wif = env("AWS_WEB_IDENTITY_TOKEN_FILE");
        role = env("AWS_ROLE_ARN");
        if (wif && role)
            return web_identity(c, wif, role, env("AWS_ROLE_SESSION_NAME"), ret, err);
    }
    if (c->profile_explicit || prof_exists(c, c->profile))
        return resolve_profile(c, c->profile, 0, visited, ret, err);
    if (container_configured())
        return container_creds(ret, err);
    (void)dh_buf_printf(&tried, &e,
                        "tried environment, web identity, profile '%s' (%s, %s), container "
                        "credentials, EC2 instance metadata",
                        c->profile, c->config_path, c->creds_path);
    if (imds_disabled()) {
        (void)dh_buf_puts(&tried, " (disabled by AWS_EC2_METADATA_DISABLED)", &e);
    } else {
        _cleanup_free_ char *ep = imds_endpoint();
        if (imds_creds(ret, &e) == 0)
            return 0;
        struct dh_error *e2 = NULL;
        (void)dh_buf_printf(&tried, &e2, " (%s: %s)", ep, e ? e->msg : "failed");
        dh_error_free(&e2);
    }
    return dh_error_make(err, ENOENT, "no AWS credentials: %s", tried.data ? tried.data : "");
}

int dh_aws_load_credentials(const struct dh_aws_options *opt, struct dh_aws_creds **ret,
                            struct dh_error **err)
{
    struct chain c;
    _cleanup_creds_ struct dh_aws_creds *base = NULL;
    int rc;

    if (chain_init(&c, opt, true, err) < 0) {
        chain_release(&c);
        return -1;
    }
    rc = chain_resolve(&c, &base, err);
    if (rc == 0 && opt && opt->role_arn && *opt->role_arn) {
        rc = assume_role(&c, base, opt->role_arn, NULL, NULL, NULL, ret, err);
    } else if (rc == 0) {
        *ret = TAKE_PTR(base);
    }
    chain_release(&c);
    return rc;
}

char *dh_aws_identity(const struct dh_aws_options *opt)
{
    struct chain c;
    struct dh_error *e = NULL;
    char *id = NULL, *out;
    const char *akid, *role;

    (void)chain_init(&c, opt, true, &e);
    dh_error_free(&e);
    if (opt && opt->profile && *opt->profile) {
        id = dh_xasprintf("profile:%s", c.profile);
    } else if ((akid = env("AWS_ACCESS_KEY_ID") ?: env("AWS_ACCESS_KEY")) &&
               (env("AWS_SECRET_ACCESS_KEY") || env("AWS_SECRET_KEY"))) {
        uint8_t h[DH_SHA256_LEN];
        dh_sha256(akid, strlen(akid), h);
        _cleanup_free_ char *hex = dh_hex(h, 8);
        id = dh_xasprintf("env:%s", hex);
    } else if (env("AWS_WEB_IDENTITY_TOKEN_FILE") && (role = env("AWS_ROLE_ARN"))) {
        id = dh_xasprintf("web-identity:%s", role);
    } else if (c.profile_explicit || prof_exists(&c, c.profile)) {
        id = dh_xasprintf("profile:%s", c.profile);
    } else if (container_configured()) {
        id = dh_xstrdup("container");
    } else {
        id = dh_xstrdup("imds");
    }
    chain_release(&c);
    if (!opt || !opt->role_arn || !*opt->role_arn)
        return id;
    out = dh_xasprintf("%s|role:%s", id, opt->role_arn);
    free(id);
    return out;
}

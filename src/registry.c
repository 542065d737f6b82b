/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry authentication client (include/dockhand/registry.h, docs/login.md).
 *
 * The flow is docker's (distribution registry/client/auth): GET /v2/ without
 * credentials; a 401 names the scheme in WWW-Authenticate.  Basic: the
 * credentials go in every request.  Bearer: GET the realm with service and
 * scope(s) (Basic credentials and account=USER when there are credentials,
 * plus client_id and offline_token=true as `docker login` sends), then send
 * the token.  Tokens are cached per scope until DH_TOKEN_MARGIN seconds before
 * their expiry.  The same TLS settings serve the registry and its realm (docker
 * uses one transport for both).
 */
#include "dockhand/registry.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"

#define HUB_API_HOST    "registry-1.docker.io"
#define DH_TOKEN_MARGIN 10 /* seconds: a cached token is not used this close to its expiry */
#define CERTS_FILE_MAX  ((size_t)4 << 20)
#define ERROR_BODY_MAX  ((size_t)64 << 10)
#define ERROR_MSG_MAX   200
#define CLIENT_ID       "dockhand"

/* ====================================================================== */
/* WWW-Authenticate                                                        */
/* ====================================================================== */

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("-._~+/", c));
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char *lower_dup(const char *s, size_t n)
{
    char *r = dh_xstrndup(s, n);

    for (char *p = r; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

static void challenge_release(struct dh_auth_challenge *c)
{
    free(c->scheme);
    dh_str_free_wipe(c->token68);
    for (size_t i = 0; i < c->n_params; i++) {
        free(c->params[i].name);
        dh_str_free_wipe(c->params[i].value);
    }
    free(c->params);
    memset(c, 0, sizeof(*c));
}

void dh_auth_challenges_release(struct dh_auth_challenges *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        challenge_release(&list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int syntax_error(struct dh_error **err, const char *why, const char *start, const char *at)
{
    return dh_error_make(err, EPROTO, "invalid WWW-Authenticate header: %s at offset %zu", why,
                         (size_t)(at - start));
}

/* Parses a quoted-string at *pp (on the opening quote); appends the value to out. */
static int parse_quoted(const char **pp, const char *start, struct dh_buf *out,
                        struct dh_error **err)
{
    const char *p = *pp + 1;

    for (;;) {
        unsigned char c = (unsigned char)*p;

        if (c == '\0')
            return syntax_error(err, "unterminated quoted string", start, p);
        if (c == '"')
            break;
        if (c == '\\') {
            c = (unsigned char)p[1];
            if (c == '\0')
                return syntax_error(err, "unterminated quoted string", start, p + 1);
            if (c != '\t' && (c < 0x20 || c == 0x7f))
                return syntax_error(err, "control character in quoted string", start, p + 1);
            p++;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return syntax_error(err, "control character in quoted string", start, p);
        }
        if (dh_buf_append(out, p, 1, err) < 0)
            return -1;
        p++;
    }
    *pp = p + 1;
    return dh_buf_append(out, "", 0, err);
}

static bool is_unquoted_value_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != ',' && c != '"';
}

static int add_param(struct dh_auth_challenge *c, const char *name, size_t nlen, char *value)
{
    for (size_t i = 0; i < c->n_params; i++) {
        if (strlen(c->params[i].name) == nlen && !strncasecmp(c->params[i].name, name, nlen)) {
            dh_str_free_wipe(value); /* first one wins */
            return 0;
        }
    }
    c->params = dh_xrealloc(c->params, (c->n_params + 1) * sizeof(*c->params));
    c->params[c->n_params].name = lower_dup(name, nlen);
    c->params[c->n_params].value = value;
    c->n_params++;
    return 0;
}

/* True when p starts "token68 *OWS" followed by ',' or the end. */
static bool token68_ahead(const char *p, size_t *ret_len)
{
    const char *q = p;

    while (is_token68_char((unsigned char)*q))
        q++;
    if (q == p)
        return false;
    while (*q == '=')
        q++;
    *ret_len = (size_t)(q - p);
    while (is_ows(*q))
        q++;
    return *q == '\0' || *q == ',';
}

/* Is "token BWS =" ahead (an auth-param, not a new challenge)? */
static bool param_ahead(const char *p)
{
    while (is_tchar((unsigned char)*p))
        p++;
    while (is_ows(*p))
        p++;
    return *p == '=';
}

int dh_auth_challenges_parse(const char *header, struct dh_auth_challenges *list,
                             struct dh_error **err)
{
    struct dh_auth_challenges got = {0};
    const char *p = header ? header : "";
    const char *start = p;

    for (;;) {
        struct dh_auth_challenge c = {0};
        const char *s;
        size_t n;

        /* empty list elements and white space */
        while (is_ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        s = p;
        while (is_tchar((unsigned char)*p))
            p++;
        if (p == s) {
            dh_auth_challenges_release(&got);
            return syntax_error(err, "expected an auth scheme", start, p);
        }
        c.scheme = lower_dup(s, (size_t)(p - s));
        if (*p && !is_ows(*p) && *p != ',') {
            challenge_release(&c);
            dh_auth_challenges_release(&got);
            return syntax_error(err, "invalid character after the auth scheme", start, p);
        }
        while (is_ows(*p))
            p++;
        if (!*p || *p == ',') {
            /* a challenge without parameters ("Negotiate") */
        } else if (!param_ahead(p) && token68_ahead(p, &n)) {
            c.token68 = dh_xstrndup(p, n);
            p += n;
        } else {
            /* #auth-param: name BWS "=" BWS value, separated by commas; a list
               element that is not "name =" starts the next challenge. */
            for (;;) {
                _cleanup_buf_ struct dh_buf v = DH_BUF_INIT_SECRET(1 << 20);
                const char *name = p, *q;
                size_t nlen;

                while (is_tchar((unsigned char)*p))
                    p++;
                nlen = (size_t)(p - name);
                while (is_ows(*p))
                    p++;
                if (nlen == 0 || *p != '=') {
                    challenge_release(&c);
                    dh_auth_challenges_release(&got);
                    return syntax_error(err, "expected 'name=value'", start, p);
                }
                p++;
                while (is_ows(*p))
                    p++;
                if (*p == '"') {
                    if (parse_quoted(&p, start, &v, err) < 0) {
                        challenge_release(&c);
                        dh_auth_challenges_release(&got);
                        return -1;
                    }
                } else {
                    s = p;
                    while (is_unquoted_value_char((unsigned char)*p))
                        p++;
                    if (dh_buf_append(&v, s, (size_t)(p - s), err) < 0 ||
                        dh_buf_append(&v, "", 0, err) < 0) {
                        challenge_release(&c);
                        dh_auth_challenges_release(&got);
                        return -1;
                    }
                }
                add_param(&c, name, nlen, dh_buf_steal(&v, NULL));
                while (is_ows(*p))
                    p++;
                if (*p != ',')
                    break;
                for (q = p; is_ows(*q) || *q == ',';)
                    q++;
                if (!*q || !param_ahead(q))
                    break;
                p = q;
            }
        }
        while (is_ows(*p))
            p++;
        if (*p && *p != ',') {
            challenge_release(&c);
            dh_auth_challenges_release(&got);
            return syntax_error(err, "expected ',' after a challenge", start, p);
        }
        got.v = dh_xrealloc(got.v, (got.n + 1) * sizeof(*got.v));
        got.v[got.n++] = c;
    }
    if (got.n) {
        list->v = dh_xrealloc(list->v, (list->n + got.n) * sizeof(*list->v));
        memcpy(list->v + list->n, got.v, got.n * sizeof(*got.v));
        list->n += got.n;
    }
    free(got.v);
    return 0;
}

const struct dh_auth_challenge *dh_auth_challenges_find(const struct dh_auth_challenges *list,
                                                        const char *scheme)
{
    for (size_t i = 0; list && i < list->n; i++) {
        if (!strcasecmp(list->v[i].scheme, scheme))
            return &list->v[i];
    }
    return NULL;
}

const char *dh_auth_challenge_param(const struct dh_auth_challenge *c, const char *name)
{
    for (size_t i = 0; c && i < c->n_params; i++) {
        if (!strcasecmp(c->params[i].name, name))
            return c->params[i].value;
    }
    return NULL;
}

/* ====================================================================== */
/* Token responses                                                         */
/* ====================================================================== */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* RFC 3339 date-time as Go's time.RFC3339 parses it: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM). */
static int parse_rfc3339(const char *s, int64_t *ret)
{
    struct tm tm = {0};
    size_t n = strlen(s), i = 19;
    int64_t off = 0, t;

    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return -1;
    tm.tm_year = num(s, 4) - 1900;
    tm.tm_mon = num(s + 5, 2) - 1;
    tm.tm_mday = num(s + 8, 2);
    tm.tm_hour = num(s + 11, 2);
    tm.tm_min = num(s + 14, 2);
    tm.tm_sec = num(s + 17, 2);
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    if (s[i] == '.') {
        size_t f = ++i;

        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return -1;
    }
    if (s[i] == 'Z') {
        i++;
    } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && digits(s + i + 1, 2) &&
               s[i + 3] == ':' && digits(s + i + 4, 2)) {
        int hh = num(s + i + 1, 2), mm = num(s + i + 4, 2);

        if (hh > 23 || mm > 59)
            return -1;
        off = (int64_t)(hh * 3600 + mm * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    t = (int64_t)timegm(&tm);
    if (t == -1 && tm.tm_year != 69)
        return -1;
    *ret = t - off;
    return 0;
}

static void json_decref_p(json_t **j)
{
    if (*j)
        json_decref(*j);
}

int dh_registry_token_parse(const char *body, size_t len, int64_t now,
                            struct dh_registry_token *ret, struct dh_error **err)
{
    DH_CLEANUP(json_decref_p) json_t *j = NULL;
    json_t *tok, *at, *ei, *ia, *rt;
    const char *use;
    int64_t expires_in = DH_REGISTRY_TOKEN_MIN_LIFETIME, issued_at = 0;

    dh_json_use_wiping_alloc();
    j = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j))
        return dh_error_make(err, EPROTO, "token response is not a JSON object");
    tok = json_object_get(j, "token");
    at = json_object_get(j, "access_token");
    ei = json_object_get(j, "expires_in");
    ia = json_object_get(j, "issued_at");
    rt = json_object_get(j, "refresh_token");
    if ((tok && !json_is_string(tok) && !json_is_null(tok)) ||
        (at && !json_is_string(at) && !json_is_null(at)))
        return dh_error_make(err, EPROTO,
                             "token response: 'token' or 'access_token' is not a string");
    if (json_is_string(at) && json_string_length(at) > 0)
        use = json_string_value(at);
    else if (json_is_string(tok) && json_string_length(tok) > 0)
        use = json_string_value(tok);
    else
        return dh_error_make(err, EPROTO, "token response has no 'token' or 'access_token'");
    if (strlen(use) != json_string_length(json_is_string(at) && json_string_length(at) ? at : tok))
        return dh_error_make(err, EPROTO, "token response: the token holds a NUL byte");
    for (const char *p = use; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return dh_error_make(err, EPROTO,
                                 "token response: the token holds a character "
                                 "that cannot go in an HTTP header");
    }
    if (ei && !json_is_null(ei)) {
        if (!json_is_integer(ei))
            return dh_error_make(err, EPROTO, "token response: 'expires_in' is not an integer");
        if (json_integer_value(ei) > DH_REGISTRY_TOKEN_MAX_LIFETIME)
            expires_in = DH_REGISTRY_TOKEN_MAX_LIFETIME;
        else if (json_integer_value(ei) > DH_REGISTRY_TOKEN_MIN_LIFETIME)
            expires_in = (int64_t)json_integer_value(ei);
    }
    if (ia && !json_is_null(ia)) {
        if (!json_is_string(ia) || parse_rfc3339(json_string_value(ia), &issued_at) < 0)
            return dh_error_make(err, EPROTO,
                                 "token response: 'issued_at' is not an RFC 3339 time");
    }
    if (rt && !json_is_null(rt) && !json_is_string(rt))
        return dh_error_make(err, EPROTO, "token response: 'refresh_token' is not a string");
    memset(ret, 0, sizeof(*ret));
    ret->token = dh_xstrdup(use);
    ret->refresh_token =
            json_is_string(rt) && json_string_length(rt) ? dh_xstrdup(json_string_value(rt)) : NULL;
    ret->issued_at = issued_at;
    ret->expires_in = expires_in;
    ret->expires_at = now + expires_in;
    return 0;
}

void dh_registry_token_release(struct dh_registry_token *t)
{
    if (!t)
        return;
    dh_str_free_wipe(t->token);
    dh_str_free_wipe(t->refresh_token);
    memset(t, 0, sizeof(*t));
}

/* One printable line of at most ERROR_MSG_MAX bytes (cut at a UTF-8 boundary). */
static char *printable_line(const char *s)
{
    size_t n = strlen(s);
    char *r;

    if (n > ERROR_MSG_MAX) {
        n = ERROR_MSG_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    r = dh_xstrndup(s, n);
    for (char *p = r; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return r;
}

char *dh_registry_error_message(const char *body, size_t len)
{
    DH_CLEANUP(json_decref_p) json_t *j = NULL;
    json_t *errors, *m;
    const char *msg = NULL;

    if (!body || len == 0 || len > ERROR_BODY_MAX)
        return NULL;
    j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j))
        return NULL;
    errors = json_object_get(j, "errors");
    if (json_is_array(errors) && json_array_size(errors) > 0) {
        m = json_object_get(json_array_get(errors, 0), "message");
        if (json_is_string(m) && json_string_length(m))
            msg = json_string_value(m);
    }
    if (!msg) {
        static const char *const keys[] = {"error_description", "details", "error", "message"};

        for (size_t i = 0; i < DH_ARRAY_SIZE(keys) && !msg; i++) {
            m = json_object_get(j, keys[i]);
            if (json_is_string(m) && json_string_length(m))
                msg = json_string_value(m);
        }
    }
    return msg ? printable_line(msg) : NULL;
}

/* ====================================================================== */
/* The client                                                              */
/* ====================================================================== */

struct cached_token {
    char *scope;
    char *token; /* secret */
    int64_t expires_at;
};

struct dh_registry {
    char *host;     /* host[:port] of the API */
    char *base_url; /* scheme://host[:port] */
    bool hub;
    bool insecure;
    bool http_only; /* "http://" given: no https attempt */
    bool pinged;
    enum dh_registry_auth auth;
    char *realm;   /* Bearer */
    char *service; /* Bearer, may be NULL */
    char *username;
    char *password; /* secret */
    /* TLS */
    char *ca_file;
    char *ca_pem;
    char *client_cert_pem;
    char *client_key_pem; /* secret */
    struct cached_token *tokens;
    size_t n_tokens;
    unsigned fetched;
    char *retry_after; /* Retry-After of the last 429/5xx answer to the ping */
};

static void tokens_clear(struct dh_registry *r)
{
    for (size_t i = 0; i < r->n_tokens; i++) {
        free(r->tokens[i].scope);
        dh_str_free_wipe(r->tokens[i].token);
    }
    free(r->tokens);
    r->tokens = NULL;
    r->n_tokens = 0;
}

void dh_registry_free(struct dh_registry *r)
{
    if (!r)
        return;
    tokens_clear(r);
    free(r->host);
    free(r->base_url);
    free(r->realm);
    free(r->service);
    free(r->username);
    dh_str_free_wipe(r->password);
    free(r->ca_file);
    free(r->ca_pem);
    free(r->client_cert_pem);
    dh_str_free_wipe(r->client_key_pem);
    free(r->retry_after);
    free(r);
}

const char *dh_registry_host(const struct dh_registry *r)
{
    return r->host;
}

const char *dh_registry_base_url(const struct dh_registry *r)
{
    return r->base_url;
}

bool dh_registry_is_hub(const struct dh_registry *r)
{
    return r->hub;
}

const char *dh_registry_retry_after(const struct dh_registry *r)
{
    return r->retry_after;
}

unsigned dh_registry_tokens_fetched(const struct dh_registry *r)
{
    return r->fetched;
}

void dh_registry_set_credentials(struct dh_registry *r, const char *username, const char *password)
{
    free(r->username);
    dh_str_free_wipe(r->password);
    r->username = username ? dh_xstrdup(username) : NULL;
    r->password = password ? dh_xstrdup(password) : NULL;
    tokens_clear(r);
}

/* ---- TLS trust (docker's registry.ReadCertsDirectory and Go's system pool) ---- */

static const char *const system_bundles[] = {
        "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine */
        "/etc/pki/tls/certs/ca-bundle.crt",                  /* Fedora, RHEL 6 */
        "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
        "/etc/pki/tls/cacert.pem",                           /* OpenELEC */
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* CentOS, RHEL 7 */
        "/etc/ssl/cert.pem",                                 /* Alpine */
};

/* docker's registry.CertsDir(): $XDG_CONFIG_HOME/docker/certs.d for rootless
   docker (ROOTLESSKIT_STATE_DIR set), else /etc/docker/certs.d. */
static char *certs_dir(const char *host)
{
    const char *rootless = getenv("ROOTLESSKIT_STATE_DIR");

    if (rootless && *rootless) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

        if (xdg && *xdg)
            return dh_xasprintf("%s/docker/certs.d/%s", xdg, host);
        if (home && *home)
            return dh_xasprintf("%s/.config/docker/certs.d/%s", home, host);
    }
    return dh_xasprintf("/etc/docker/certs.d/%s", host);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && !strcmp(s + n - m, suffix);
}

static int append_file(struct dh_buf *out, const char *path, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(CERTS_FILE_MAX);

    if (dh_read_file(path, &b, err) < 0)
        return -1;
    if (dh_buf_append(out, b.data, b.len, err) < 0 || dh_buf_puts(out, "\n", err) < 0)
        return -1;
    return 0;
}

static int load_tls(struct dh_registry *r, struct dh_error **err)
{
    _cleanup_free_ char *dir = certs_dir(r->host);
    _cleanup_dir_ DIR *d = opendir(dir);
    _cleanup_buf_ struct dh_buf cas = DH_BUF_INIT(CERTS_FILE_MAX * 4);
    const char *env = getenv("SSL_CERT_FILE");
    char **names = NULL;
    size_t n = 0, i;
    bool extra_ca = false;
    int rc = -1;

    if (env && *env)
        r->ca_file = dh_xstrdup(env);
    if (!d)
        return 0; /* no certs.d for this host (or not readable: as docker, ignore) */
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        names = dh_xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = dh_xstrdup(e->d_name);
    }
    qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        _cleanup_free_ char *path = dh_xasprintf("%s/%s", dir, names[i]);

        if (has_suffix(names[i], ".crt")) {
            if (!extra_ca) {
                const char *base = r->ca_file;

                for (size_t k = 0; !base && k < DH_ARRAY_SIZE(system_bundles); k++) {
                    if (access(system_bundles[k], R_OK) == 0)
                        base = system_bundles[k];
                }
                if (base && append_file(&cas, base, err) < 0)
                    goto out;
                extra_ca = true;
            }
            if (append_file(&cas, path, err) < 0)
                goto out;
        } else if (has_suffix(names[i], ".cert") || has_suffix(names[i], ".key")) {
            bool is_cert = has_suffix(names[i], ".cert");
            size_t stem = strlen(names[i]) - (is_cert ? 5 : 4);
            _cleanup_free_ char *other =
                    dh_xasprintf("%s/%.*s%s", dir, (int)stem, names[i], is_cert ? ".key" : ".cert");
            _cleanup_buf_ struct dh_buf cert = DH_BUF_INIT(CERTS_FILE_MAX);
            _cleanup_buf_ struct dh_buf key = DH_BUF_INIT_SECRET(CERTS_FILE_MAX);

            if (access(other, F_OK) < 0) {
                dh_error_make(err, ENOENT,
                              is_cert ? "missing key '%s' for client certificate '%s' (CA "
                                        "certificates must use the extension .crt)"
                                      : "missing client certificate '%s' for key '%s'",
                              other, path);
                goto out;
            }
            if (!is_cert || r->client_cert_pem)
                continue; /* the pair is read from its .cert; the first pair is used */
            if (dh_read_file(path, &cert, err) < 0 || dh_read_file(other, &key, err) < 0)
                goto out;
            r->client_cert_pem = dh_buf_steal(&cert, NULL);
            r->client_key_pem = dh_buf_steal(&key, NULL);
        }
    }
    if (extra_ca) {
        free(r->ca_file);
        r->ca_file = NULL;
        r->ca_pem = dh_buf_steal(&cas, NULL);
    }
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0)
        dh_error_wrap(err, "cannot read the certificates of '%s' in '%s'", r->host, dir);
    return rc;
}

int dh_registry_new(const char *registry, unsigned flags, struct dh_registry **ret,
                    struct dh_error **err)
{
    _cleanup_regurl_ struct dh_regurl u = {0};
    struct dh_registry *r;

    if (!registry || !*registry)
        registry = "index.docker.io";
    if (dh_regurl_parse(registry, &u, err) < 0)
        return dh_error_wrap(err, "invalid registry");
    r = dh_xcalloc(1, sizeof(*r));
    r->insecure = flags & DH_REGISTRY_INSECURE;
    r->hub = !strcmp(u.host, "index.docker.io");
    if (r->hub)
        r->host = dh_xstrdup(HUB_API_HOST);
    else if (u.port)
        r->host = dh_xasprintf("%s:%u", u.host, u.port);
    else
        r->host = dh_xstrdup(u.host);
    if (!r->hub && !strcmp(u.scheme, "http")) {
        if (!r->insecure) {
            dh_error_make(err, EPERM, "refusing plain http to '%s' without --insecure", r->host);
            dh_registry_free(r);
            return -1;
        }
        r->http_only = true;
    }
    r->base_url = dh_xasprintf("%s://%s", r->http_only ? "http" : "https", r->host);
    if (load_tls(r, err) < 0) {
        dh_registry_free(r);
        return -1;
    }
    *ret = r;
    return 0;
}

/* ---- requests ---- */

/* The URL as it may appear in a message: no query, fragment or userinfo. */
static char *url_for_msg(const char *url)
{
    const char *auth = strstr(url, "://");
    const char *at;
    size_t n = strcspn(url, "?#");

    if (auth) {
        auth += 3;
        at = memchr(auth, '@', strcspn(auth, "/?#"));
        if (at)
            return dh_xasprintf("%.*s%.*s", (int)(auth - url), url, (int)(url + n - at - 1),
                                at + 1);
    }
    return dh_xstrndup(url, n);
}

static bool is_redirect(long status)
{
    return status >= 300 && status < 400 && status != 304;
}

static int reg_send(struct dh_registry *r, const char *url, const char *authorization,
                    const struct dh_http_request *tmpl, bool secret_body,
                    struct dh_http_response *resp, struct dh_error **err)
{
    const char *const *extra = tmpl ? tmpl->headers : NULL;
    size_t n_extra = 0, n = 0;
    _cleanup_free_ const char **headers = NULL;
    struct dh_http_request req = {0};

    if (tmpl)
        req = *tmpl;
    while (extra && extra[n_extra])
        n_extra++;
    headers = dh_xcalloc(n_extra + 2, sizeof(*headers));
    for (size_t i = 0; i < n_extra; i++)
        headers[n++] = extra[i];
    if (authorization)
        headers[n++] = authorization;
    req.url = url;
    req.headers = headers;
    req.allow_http = r->insecure;
    req.insecure_skip_verify = r->insecure;
    req.ca_file = r->ca_file;
    req.ca_pem = r->ca_pem;
    req.client_cert_pem = r->client_cert_pem;
    req.client_key_pem = r->client_key_pem;
    req.unix_socket = NULL;
    if (secret_body)
        req.secret_body = true;
    if (!tmpl || !tmpl->max_body)
        req.max_body = DH_REGISTRY_TOKEN_RESPONSE_MAX;
    return dh_http_do(&req, resp, err);
}

/* "Authorization: Basic base64(user:pass)" (secret; dh_str_free_wipe), or NULL
   without credentials. */
static char *basic_header(const struct dh_registry *r)
{
    _cleanup_buf_ struct dh_buf up = DH_BUF_INIT_SECRET(1 << 20);
    char *b64, *h;

    if (!r->username)
        return NULL;
    if (dh_buf_printf(&up, NULL, "%s:%s", r->username, r->password ? r->password : "") < 0)
        return NULL;
    b64 = dh_base64_encode(up.data, up.len, false);
    h = dh_xasprintf("Authorization: Basic %s", b64);
    dh_str_free_wipe(b64);
    return h;
}

/* Fills list from every WWW-Authenticate header of resp. */
static int response_challenges(const struct dh_http_response *resp, struct dh_auth_challenges *list,
                               struct dh_error **err)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, "WWW-Authenticate") != 0)
            continue;
        if (dh_auth_challenges_parse(resp->headers[i].value, list, err) < 0)
            return -1;
    }
    return 0;
}

static int status_error(struct dh_error **err, int status, const char *what,
                        const struct dh_http_response *resp)
{
    _cleanup_free_ char *msg = dh_registry_error_message(resp->body.data, resp->body.len);

    if (msg)
        return dh_error_make(err, status, "%s answered %ld: %s", what, resp->status, msg);
    return dh_error_make(err, status, "%s answered %ld", what, resp->status);
}

static int redirect_error(struct dh_error **err, const char *what,
                          const struct dh_http_response *resp)
{
    return dh_error_make(err, EPROTO,
                         "%s answered with a redirect (%ld); dockhand does not follow redirects "
                         "with credentials",
                         what, resp->status);
}

static bool realm_scheme_ok(const char *realm, bool insecure)
{
    return !strncasecmp(realm, "https://", 8) || (insecure && !strncasecmp(realm, "http://", 7));
}

static int learn_challenge(struct dh_registry *r, const struct dh_http_response *resp,
                           struct dh_error **err)
{
    struct dh_auth_challenges list = {0};
    const struct dh_auth_challenge *c;
    const char *realm;
    int rc = -1;

    if (response_challenges(resp, &list, err) < 0) {
        dh_error_wrap(err, "registry '%s'", r->host);
        goto out;
    }
    /* docker tries the token handler before basic */
    if ((c = dh_auth_challenges_find(&list, "bearer"))) {
        realm = dh_auth_challenge_param(c, "realm");
        if (!realm || !*realm) {
            dh_error_make(err, EPROTO, "registry '%s' sent a Bearer challenge without a realm",
                          r->host);
            goto out;
        }
        if (!realm_scheme_ok(realm, r->insecure)) {
            _cleanup_free_ char *m = url_for_msg(realm);

            dh_error_make(
                    err, EPERM,
                    !strncasecmp(realm, "http://", 7)
                            ? "registry '%s' names a plain http token realm '%s': refused "
                              "without --insecure"
                            : "registry '%s' names a token realm '%s' that is not an https URL",
                    r->host, m);
            goto out;
        }
        {
            const char *a = strstr(realm, "://") + 3;

            if (memchr(a, '@', strcspn(a, "/?#"))) {
                dh_error_make(err, EPROTO, "registry '%s' names a token realm with credentials",
                              r->host);
                goto out;
            }
        }
        r->realm = dh_xstrdup(realm);
        r->service = dh_auth_challenge_param(c, "service")
                             ? dh_xstrdup(dh_auth_challenge_param(c, "service"))
                             : NULL;
        r->auth = DH_REGISTRY_AUTH_BEARER;
    } else if (dh_auth_challenges_find(&list, "basic")) {
        r->auth = DH_REGISTRY_AUTH_BASIC;
    } else {
        dh_error_make(err, EPROTO, "registry '%s' answered 401 without a Basic or Bearer challenge",
                      r->host);
        goto out;
    }
    rc = 0;
out:
    dh_auth_challenges_release(&list);
    return rc;
}

int dh_registry_ping(struct dh_registry *r, enum dh_registry_auth *ret, struct dh_error **err)
{
    struct dh_http_response resp;
    _cleanup_free_ char *url = NULL, *what = NULL;
    bool fell_back = false;

    if (r->pinged)
        goto done;
    for (;;) {
        _cleanup_error_ struct dh_error *e = NULL;

        free(url);
        url = dh_xasprintf("%s/v2/", r->base_url);
        if (reg_send(r, url, NULL, NULL, false, &resp, &e) == 0)
            break;
        dh_http_response_release(&resp);
        if (r->insecure && !r->http_only && !fell_back) {
            /* docker's insecure registry: https first, then plain http */
            dh_log_debug("registry %s: https failed (%s), trying http", r->host, e->msg);
            free(r->base_url);
            r->base_url = dh_xasprintf("http://%s", r->host);
            fell_back = true;
            continue;
        }
        dh_error_move(err, &e);
        return dh_error_wrap(err, "cannot reach registry '%s'", r->host);
    }
    what = dh_xasprintf("registry '%s' (GET %s)", r->host, url);
    if (resp.status >= 200 && resp.status < 300) {
        r->auth = DH_REGISTRY_AUTH_NONE;
    } else if (resp.status == 401) {
        if (learn_challenge(r, &resp, err) < 0) {
            dh_http_response_release(&resp);
            return -1;
        }
    } else if (is_redirect(resp.status)) {
        redirect_error(err, what, &resp);
        dh_http_response_release(&resp);
        return -1;
    } else {
        long status = resp.status;
        bool busy = status == 429 || status >= 500;

        /* throttled or failing: EAGAIN, and its Retry-After kept for the caller */
        free(r->retry_after);
        r->retry_after = busy && dh_http_header(&resp, "Retry-After")
                                 ? dh_xstrdup(dh_http_header(&resp, "Retry-After"))
                                 : NULL;
        status_error(err, status == 404 ? ENOENT : busy ? EAGAIN : EPROTO, what, &resp);
        dh_http_response_release(&resp);
        return -1;
    }
    dh_http_response_release(&resp);
    r->pinged = true;
done:
    if (ret)
        *ret = r->auth;
    return 0;
}

/* Appends "&name=value" (percent-encoded, Go's url.QueryEscape) to b. */
static int query_add(struct dh_buf *b, const char *name, const char *value, struct dh_error **err)
{
    static const char hex[] = "0123456789ABCDEF";

    if (dh_buf_printf(b, err, "%s%s=", b->len ? "&" : "", name) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char enc[3];

        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            if (dh_buf_append(b, p, 1, err) < 0)
                return -1;
            continue;
        }
        if (*p == ' ') {
            if (dh_buf_append(b, "+", 1, err) < 0)
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

static struct cached_token *cache_find(struct dh_registry *r, const char *scope)
{
    for (size_t i = 0; i < r->n_tokens; i++) {
        if (!strcmp(r->tokens[i].scope, scope))
            return &r->tokens[i];
    }
    return NULL;
}

static void cache_drop(struct dh_registry *r, const char *scope)
{
    struct cached_token *t = cache_find(r, scope);

    if (t)
        t->expires_at = 0;
}

static int fetch_token(struct dh_registry *r, const char *scope, struct dh_registry_token *ret,
                       struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf q = DH_BUF_INIT(64 << 10);
    _cleanup_free_ char *url = NULL, *what = NULL, *realm_msg = url_for_msg(r->realm);
    char *auth = basic_header(r);
    struct dh_http_response resp;
    int64_t now = (int64_t)time(NULL);
    int rc;

    /* Go's url.Values.Encode() order: sorted by name */
    if (r->username && (query_add(&q, "account", r->username, err) < 0 ||
                        query_add(&q, "client_id", CLIENT_ID, err) < 0 ||
                        query_add(&q, "offline_token", "true", err) < 0))
        goto fail;
    if (scope && *scope && query_add(&q, "scope", scope, err) < 0)
        goto fail;
    if (r->service && query_add(&q, "service", r->service, err) < 0)
        goto fail;
    url = dh_xasprintf("%s%s%s", r->realm,
                       !q.len                  ? ""
                       : strchr(r->realm, '?') ? "&"
                                               : "?",
                       q.len ? q.data : "");
    what = dh_xasprintf("token endpoint '%s'", realm_msg);
    rc = reg_send(r, url, auth, NULL, true, &resp, err);
    dh_str_free_wipe(auth);
    auth = NULL;
    if (rc < 0) {
        dh_http_response_release(&resp);
        return dh_error_wrap(err, "%s", what);
    }
    r->fetched++;
    if (resp.status == 200) {
        rc = dh_registry_token_parse(resp.body.data, resp.body.len, now, ret, err);
        dh_http_response_release(&resp);
        return rc < 0 ? dh_error_wrap(err, "%s", what) : 0;
    }
    if (resp.status == 401 || resp.status == 403) {
        _cleanup_free_ char *msg = dh_registry_error_message(resp.body.data, resp.body.len);

        dh_error_make(err, EACCES, "unauthorized: %s",
                      msg ? msg : "the token endpoint rejected the credentials");
        dh_log_debug("%s answered %ld", what, resp.status);
    } else if (is_redirect(resp.status)) {
        redirect_error(err, what, &resp);
    } else {
        status_error(err, EPROTO, what, &resp);
    }
    dh_http_response_release(&resp);
    return -1;
fail:
    dh_str_free_wipe(auth);
    return -1;
}

int dh_registry_bearer_token(struct dh_registry *r, const char *scope, const char **ret,
                             struct dh_error **err)
{
    struct dh_registry_token tok;
    struct cached_token *c;

    if (!scope)
        scope = "";
    if (!r->pinged && dh_registry_ping(r, NULL, err) < 0)
        return -1;
    if (r->auth != DH_REGISTRY_AUTH_BEARER || !r->realm)
        return dh_error_make(err, EINVAL, "registry '%s' does not use bearer tokens", r->host);
    c = cache_find(r, scope);
    if (c && (int64_t)time(NULL) < c->expires_at - DH_TOKEN_MARGIN) {
        *ret = c->token;
        return 0;
    }
    if (fetch_token(r, scope, &tok, err) < 0)
        return -1;
    if (!c) {
        r->tokens = dh_xrealloc(r->tokens, (r->n_tokens + 1) * sizeof(*r->tokens));
        c = &r->tokens[r->n_tokens++];
        c->scope = dh_xstrdup(scope);
        c->token = NULL;
    }
    dh_str_free_wipe(c->token);
    c->token = TAKE_PTR(tok.token);
    c->expires_at = tok.expires_at;
    dh_registry_token_release(&tok);
    *ret = c->token;
    return 0;
}

/* The Authorization header for a request in scope (secret), or NULL (none needed). */
static int authorization(struct dh_registry *r, const char *scope, char **ret,
                         struct dh_error **err)
{
    const char *tok;

    *ret = NULL;
    if (r->auth == DH_REGISTRY_AUTH_BASIC) {
        *ret = basic_header(r);
    } else if (r->auth == DH_REGISTRY_AUTH_BEARER) {
        if (dh_registry_bearer_token(r, scope, &tok, err) < 0)
            return -1;
        *ret = dh_xasprintf("Authorization: Bearer %s", tok);
    }
    return 0;
}

int dh_registry_authorization(struct dh_registry *r, const char *scope, bool fresh, char **ret,
                              struct dh_error **err)
{
    if (!scope)
        scope = "";
    *ret = NULL;
    if (dh_registry_ping(r, NULL, err) < 0)
        return -1;
    if (fresh)
        cache_drop(r, scope);
    return authorization(r, scope, ret, err);
}

void dh_registry_multi_settings(const struct dh_registry *r, struct dh_http_multi_request *req)
{
    req->allow_http = r->insecure;
    req->insecure_skip_verify = r->insecure;
    req->ca_file = r->ca_file;
    req->ca_pem = r->ca_pem;
    req->client_cert_pem = r->client_cert_pem;
    req->client_key_pem = r->client_key_pem;
}

int dh_registry_do(struct dh_registry *r, const char *scope, const struct dh_http_request *req,
                   struct dh_http_response *resp, struct dh_error **err)
{
    _cleanup_free_ char *url = NULL;
    char *auth = NULL;
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (!req->url || req->url[0] != '/')
        return dh_error_make(err, EINVAL, "registry request path must start with '/'");
    if (!scope)
        scope = "";
    if (dh_registry_ping(r, NULL, err) < 0)
        return -1;
    url = dh_xasprintf("%s%s", r->base_url, req->url);
    if (authorization(r, scope, &auth, err) < 0)
        return -1;
    rc = reg_send(r, url, auth, req, req->secret_body, resp, err);
    dh_str_free_wipe(auth);
    auth = NULL;
    if (rc < 0)
        return -1;
    if (resp->status == 401 && r->auth == DH_REGISTRY_AUTH_BEARER) {
        /* The token expired early or the scope is not enough: one fresh token,
           for the scope the registry names when it names one. */
        struct dh_auth_challenges list = {0};
        _cleanup_free_ char *want = NULL;
        const char *s;

        if (response_challenges(resp, &list, NULL) == 0 &&
            (s = dh_auth_challenge_param(dh_auth_challenges_find(&list, "bearer"), "scope")))
            want = dh_xstrdup(s);
        dh_auth_challenges_release(&list);
        if (!want)
            want = dh_xstrdup(scope);
        cache_drop(r, want);
        dh_http_response_release(resp);
        if (authorization(r, want, &auth, err) < 0)
            return -1;
        rc = reg_send(r, url, auth, req, req->secret_body, resp, err);
        dh_str_free_wipe(auth);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int dh_registry_login_check(struct dh_registry *r, enum dh_registry_auth *ret_auth,
                            struct dh_error **err)
{
    struct dh_http_request req = {.url = "/v2/"};
    struct dh_http_response resp;
    enum dh_registry_auth auth;
    _cleanup_free_ char *what = NULL;

    if (!r->username)
        return dh_error_make(err, EINVAL, "no credentials to check");
    if (dh_registry_ping(r, &auth, err) < 0)
        return -1;
    if (auth == DH_REGISTRY_AUTH_NONE) {
        *ret_auth = auth;
        return 0;
    }
    if (dh_registry_do(r, NULL, &req, &resp, err) < 0) {
        dh_http_response_release(&resp);
        return -1;
    }
    what = dh_xasprintf("registry '%s' (GET %s/v2/)", r->host, r->base_url);
    if (resp.status >= 200 && resp.status < 300) {
        dh_http_response_release(&resp);
        *ret_auth = auth;
        return 0;
    }
    if (resp.status == 401) {
        _cleanup_free_ char *msg = dh_registry_error_message(resp.body.data, resp.body.len);

        dh_error_make(err, EACCES, "unauthorized: %s",
                      msg ? msg
                      : auth == DH_REGISTRY_AUTH_BEARER
                              ? "the registry rejected the token from its realm"
                              : "the registry rejected the credentials");
    } else if (is_redirect(resp.status)) {
        redirect_error(err, what, &resp);
    } else {
        status_error(err, EPROTO, what, &resp);
    }
    dh_http_response_release(&resp);
    return -1;
}

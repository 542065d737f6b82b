/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/regurl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

static const char *const hub_hosts[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                        "registry.hub.docker.com"};
#define HUB_CANONICAL_HOST "index.docker.io"

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static char to_lower(unsigned char c)
{
    return (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
}

static bool is_host_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
}

/* Length of the scheme token at s when it is followed by "://", else 0. */
static size_t scheme_len(const char *s)
{
    size_t i;

    if (!is_alpha((unsigned char)s[0]))
        return 0;
    for (i = 1; is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '+' ||
                s[i] == '-' || s[i] == '.';
         i++)
        ;
    return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

static char *lower_ndup(const char *s, size_t n)
{
    char *p = dh_xstrndup(s, n);
    size_t i;

    for (i = 0; p[i]; i++)
        p[i] = to_lower((unsigned char)p[i]);
    return p;
}

/* Parses "[v6]" (n bytes at s) into its canonical bracketed form, or NULL. */
static char *parse_ipv6(const char *s, size_t n)
{
    _cleanup_free_ char *inner = NULL;
    struct in6_addr addr;
    char out[INET6_ADDRSTRLEN];
    size_t i;

    /* The longest textual form is 45 characters ("ffff:...:255.255.255.255"). */
    if (n < 3 || n - 2 >= INET6_ADDRSTRLEN)
        return NULL;
    for (i = 1; i < n - 1; i++)
        if (!is_digit((unsigned char)s[i]) && !strchr("abcdefABCDEF:.", s[i]))
            return NULL;
    inner = dh_xstrndup(s + 1, n - 2);
    if (inet_pton(AF_INET6, inner, &addr) != 1)
        return NULL;
    if (!inet_ntop(AF_INET6, &addr, out, sizeof(out)))
        return NULL;
    return dh_xasprintf("[%s]", out);
}

/* Parses n bytes of decimal digits into 1..65535. */
static int parse_port(const char *s, size_t n, unsigned *ret)
{
    unsigned v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *ret = v;
    return 0;
}

/* Normalises the n path bytes at p (empty, or starting with '/'); see regurl.h. */
static char *normalize_path(const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = dh_xmalloc(3 * n + 1); /* n <= DH_REGURL_MAX: cannot overflow */
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '/') {
            if (o > 0 && out[o - 1] == '/')
                continue;
            out[o++] = '/';
        } else if (c == ' ' || c >= 0x80) {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        } else {
            out[o++] = (char)c;
        }
    }
    for (;;) {
        while (o > 0 && out[o - 1] == '/')
            o--;
        if (o >= 3 && out[o - 3] == '/' && out[o - 2] == 'v' &&
            (out[o - 1] == '1' || out[o - 1] == '2')) {
            o -= 3;
            continue;
        }
        break;
    }
    out[o] = '\0';
    return out;
}

static bool is_hub_host(const char *host)
{
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(hub_hosts); i++)
        if (strcmp(host, hub_hosts[i]) == 0)
            return true;
    return false;
}

static size_t port_digits(unsigned port)
{
    size_t n = 1;

    while (port >= 10) {
        port /= 10;
        n++;
    }
    return n;
}

int dh_regurl_parse(const char *s, struct dh_regurl *ret, struct dh_error **err)
{
    _cleanup_free_ char *scheme = NULL, *host = NULL, *path = NULL;
    const char *rest, *auth_end, *path_end, *colon;
    unsigned port = 0;
    size_t n, i, slen, keylen;

    if (!s)
        s = "";
    n = strnlen(s, DH_REGURL_MAX + 1);
    if (n > DH_REGURL_MAX)
        return dh_error_make(err, E2BIG, "server URL is too long");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return dh_error_make(err, EINVAL, "invalid character in URL");
    }

    /* Scheme: the token before the first "://", when it is one; else https. */
    rest = strstr(s, "://");
    slen = rest ? scheme_len(s) : 0;
    if (slen > 0 && s + slen == rest) {
        scheme = lower_ndup(s, slen);
        if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
            return dh_error_make(err, EINVAL, "unsupported scheme: %s", scheme);
        rest = s + slen + 3;
    } else {
        scheme = dh_xstrdup("https");
        rest = strncmp(s, "//", 2) == 0 ? s + 2 : s;
    }

    /* Authority: up to the first '/', '?' or '#'. */
    auth_end = rest + strcspn(rest, "/?#");
    if (memchr(rest, '@', (size_t)(auth_end - rest)))
        return dh_error_make(err, EINVAL, "credentials in server URL are not supported");
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', (size_t)(auth_end - rest));

        if (!close || !(host = parse_ipv6(rest, (size_t)(close - rest) + 1)))
            return dh_error_make(err, EINVAL, "invalid hostname in URL");
        colon = close + 1;
        if (colon != auth_end && *colon != ':')
            return dh_error_make(err, EINVAL, "invalid port in URL");
    } else {
        colon = memchr(rest, ':', (size_t)(auth_end - rest));
        if (!colon)
            colon = auth_end;
        if (colon == rest)
            return dh_error_make(err, EINVAL, "no hostname in URL");
        for (i = 0; rest + i < colon; i++)
            if (!is_host_char((unsigned char)rest[i]))
                return dh_error_make(err, EINVAL, "invalid hostname in URL");
        host = lower_ndup(rest, (size_t)(colon - rest));
    }
    if (colon != auth_end) {
        if (parse_port(colon + 1, (size_t)(auth_end - colon - 1), &port) < 0)
            return dh_error_make(err, EINVAL, "invalid port in URL");
        if ((port == 443 && strcmp(scheme, "https") == 0) ||
            (port == 80 && strcmp(scheme, "http") == 0))
            port = 0;
    }

    /* Path: up to the query or the fragment, both dropped. */
    path_end = auth_end + strcspn(auth_end, "?#");
    path = normalize_path(auth_end, (size_t)(path_end - auth_end));

    if (is_hub_host(host)) {
        free(host);
        host = dh_xstrdup(HUB_CANONICAL_HOST);
        free(scheme);
        scheme = dh_xstrdup("https");
        port = 0;
    }

    /* The key must parse back, so it obeys the same limit. */
    keylen = strlen(scheme) + 3 + strlen(host) + (port ? 1 + port_digits(port) : 0) + strlen(path);
    if (keylen > DH_REGURL_MAX)
        return dh_error_make(err, E2BIG, "server URL is too long");

    ret->scheme = TAKE_PTR(scheme);
    ret->host = TAKE_PTR(host);
    ret->port = port;
    ret->path = TAKE_PTR(path);
    return 0;
}

void dh_regurl_release(struct dh_regurl *u)
{
    if (!u)
        return;
    free(u->scheme);
    free(u->host);
    free(u->path);
    u->scheme = u->host = u->path = NULL;
    u->port = 0;
}

char *dh_regurl_key(const struct dh_regurl *u)
{
    if (u->port)
        return dh_xasprintf("%s://%s:%u%s", u->scheme, u->host, u->port, u->path);
    return dh_xasprintf("%s://%s%s", u->scheme, u->host, u->path);
}

int dh_regurl_normalize(const char *s, char **ret_key, struct dh_error **err)
{
    _cleanup_regurl_ struct dh_regurl u = {0};

    if (dh_regurl_parse(s, &u, err) < 0)
        return -1;
    *ret_key = dh_regurl_key(&u);
    return 0;
}

int dh_regurl_match_rank(const struct dh_regurl *stored, const struct dh_regurl *query)
{
    size_t sl, ql;

    if (!stored || !query || !stored->scheme || !stored->host || !stored->path || !query->scheme ||
        !query->host || !query->path)
        return -1;
    if (strcmp(stored->scheme, query->scheme) != 0 || strcmp(stored->host, query->host) != 0 ||
        stored->port != query->port)
        return -1;
    sl = strlen(stored->path);
    ql = strlen(query->path);
    if (sl == ql && memcmp(stored->path, query->path, sl) == 0)
        return DH_REGURL_RANK_EXACT;
    if (sl < ql && memcmp(stored->path, query->path, sl) == 0 && query->path[sl] == '/')
        return DH_REGURL_RANK_PREFIX + (int)sl;
    if (ql == 0)
        return DH_REGURL_RANK_ALIAS;
    return -1;
}

int dh_regurl_match_rank_str(const char *stored, const char *query)
{
    _cleanup_regurl_ struct dh_regurl su = {0}, qu = {0};
    _cleanup_error_ struct dh_error *err = NULL;

    if (!stored || !query)
        return -1;
    if (dh_regurl_parse(stored, &su, &err) < 0 || dh_regurl_parse(query, &qu, &err) < 0)
        return -1;
    return dh_regurl_match_rank(&su, &qu);
}

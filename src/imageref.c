/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image reference parsing (see imageref.h).  The regular expressions of
 * distribution/reference are matched by hand: with Go's leftmost-first
 * semantics the optional "domain/" group is taken whenever the rest still
 * matches, which is what split_name() does.
 */
#include "dockhand/imageref.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN  "index.docker.io"
#define HUB_REGISTRY   "registry-1.docker.io"
#define OFFICIAL       "library/"
#define DEFAULT_TAG    "latest"

static const char ERR_FORMAT[] = "invalid reference format";
static const char ERR_EMPTY[] = "repository name must have at least one component";
static const char ERR_UPPER[] = "repository name must be lowercase";
static const char ERR_DIGEST_FORMAT[] = "invalid checksum digest format";
static const char ERR_DIGEST_LENGTH[] = "invalid checksum digest length";
static const char ERR_DIGEST_ALGO[] = "unsupported digest algorithm";

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool xdigit(char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* pcomp := [a-z0-9]+ ( ("." | "_" | "__" | "-"+) [a-z0-9]+ )* over s[0..n) */
static bool path_component(const char *s, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t start = i;

        while (i < n && lower_alnum(s[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
    }
}

/* path := pcomp ( "/" pcomp )* */
static bool path_valid(const char *s, size_t n)
{
    size_t start = 0, i;

    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (!path_component(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

static bool domain_component(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (i = 1; i + 1 < n; i++) {
        if (!alnum(s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

/* domain := ( dcomp ("." dcomp)* | "[" [a-fA-F0-9:]+ "]" ) [ ":" [0-9]+ ] */
static bool domain_valid(const char *s, size_t n)
{
    size_t hostlen, i, start;

    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (!close || close == s + 1)
            return false;
        hostlen = (size_t)(close - s) + 1;
        for (i = 1; i + 1 < hostlen; i++) {
            if (!xdigit(s[i]) && s[i] != ':')
                return false;
        }
    } else {
        const char *colon = memchr(s, ':', n);

        hostlen = colon ? (size_t)(colon - s) : n;
        for (start = 0, i = 0; i <= hostlen; i++) {
            if (i == hostlen || s[i] == '.') {
                if (!domain_component(s + start, i - start))
                    return false;
                start = i + 1;
            }
        }
    }
    if (hostlen == n)
        return true;
    if (s[hostlen] != ':' || hostlen + 1 == n)
        return false;
    for (i = hostlen + 1; i < n; i++) {
        if (!digit(s[i]))
            return false;
    }
    return true;
}

/* Splits a name into domain (possibly empty) and path; false when it matches neither way. */
static bool split_name(const char *s, size_t n, size_t *ret_domain_len)
{
    const char *slash = memchr(s, '/', n);

    if (slash) {
        size_t dl = (size_t)(slash - s);

        if (domain_valid(s, dl) && path_valid(slash + 1, n - dl - 1)) {
            *ret_domain_len = dl;
            return true;
        }
    }
    if (path_valid(s, n)) {
        *ret_domain_len = 0;
        return true;
    }
    return false;
}

static bool tag_valid(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > DH_IMAGEREF_TAG_MAX)
        return false;
    if (!alnum(s[0]) && s[0] != '_')
        return false;
    for (i = 1; i < n; i++) {
        if (!alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    }
    return true;
}

static bool alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The reference grammar's digest: [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[xdigit]{32,}
 */
static bool ref_digest_syntax(const char *s)
{
    size_t i = 0, hex = 0;

    for (;;) {
        if (!alpha(s[i]))
            return false;
        for (i++; alnum(s[i]); i++)
            ;
        if (s[i] == ':')
            break;
        if (s[i] != '-' && s[i] != '_' && s[i] != '+' && s[i] != '.')
            return false;
        i++;
    }
    for (i++; s[i]; i++, hex++) {
        if (!xdigit(s[i]))
            return false;
    }
    return hex >= 32;
}

/* go-digest's DigestRegexp: [a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+ */
static bool godigest_syntax(const char *s)
{
    size_t i = 0, n = 0;

    for (;;) {
        size_t start = i;

        while (lower_alnum(s[i]))
            i++;
        if (i == start)
            return false;
        if (s[i] == ':')
            break;
        if (s[i] != '.' && s[i] != '+' && s[i] != '_' && s[i] != '-')
            return false;
        i++;
    }
    for (i++; s[i]; i++, n++) {
        if (!alnum(s[i]) && s[i] != '=' && s[i] != '_' && s[i] != '-')
            return false;
    }
    return n > 0;
}

int dh_digest_validate(const char *d, struct dh_error **err)
{
    static const struct {
        const char *name;
        size_t hexlen;
    } algos[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
    const char *colon = strchr(d, ':');
    size_t alen, i, k;

    if (!colon || colon == d || !colon[1])
        return dh_error_make(err, EINVAL, ERR_DIGEST_FORMAT);
    alen = (size_t)(colon - d);
    for (k = 0; k < DH_ARRAY_SIZE(algos); k++) {
        if (strlen(algos[k].name) == alen && !strncmp(d, algos[k].name, alen))
            break;
    }
    if (k == DH_ARRAY_SIZE(algos))
        return dh_error_make(err, EINVAL, godigest_syntax(d) ? ERR_DIGEST_ALGO : ERR_DIGEST_FORMAT);
    if (strlen(colon + 1) != algos[k].hexlen)
        return dh_error_make(err, EINVAL, ERR_DIGEST_LENGTH);
    for (i = 1; colon[i]; i++) {
        if (!digit(colon[i]) && !(colon[i] >= 'a' && colon[i] <= 'f'))
            return dh_error_make(err, EINVAL, ERR_DIGEST_FORMAT);
    }
    return 0;
}

/* Matches the whole reference regexp; on success fills the split points. */
struct split {
    size_t name_len;   /* s[0..name_len) is the name */
    size_t domain_len; /* its domain part (0 = none) */
    const char *tag;   /* NULL or start, tag_len */
    size_t tag_len;
    const char *digest; /* NULL or the NUL-terminated rest */
};

static bool match_reference(const char *s, struct split *sp)
{
    const char *at = strchr(s, '@');
    size_t before = at ? (size_t)(at - s) : strlen(s);
    const char *colon = NULL, *slash = NULL;
    size_t i;

    memset(sp, 0, sizeof(*sp));
    if (at) {
        if (!ref_digest_syntax(at + 1))
            return false;
        sp->digest = at + 1;
    }
    for (i = 0; i < before; i++) {
        if (s[i] == ':')
            colon = s + i;
        else if (s[i] == '/')
            slash = s + i;
    }
    sp->name_len = before;
    if (colon && (!slash || colon > slash)) {
        sp->tag = colon + 1;
        sp->tag_len = before - (size_t)(colon - s) - 1;
        if (!tag_valid(sp->tag, sp->tag_len))
            return false;
        sp->name_len = (size_t)(colon - s);
    }
    return split_name(s, sp->name_len, &sp->domain_len);
}

void dh_imageref_release(struct dh_imageref *ref)
{
    if (!ref)
        return;
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

static char *lower_dup(const char *s)
{
    char *p = dh_xstrdup(s);
    size_t i;

    for (i = 0; p[i]; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] - 'A' + 'a');
    }
    return p;
}

int dh_imageref_parse_strict(const char *s, struct dh_imageref *ref, struct dh_error **err)
{
    struct split sp;

    memset(ref, 0, sizeof(*ref));
    if (!match_reference(s, &sp)) {
        _cleanup_free_ char *low = NULL;
        struct split sp2;

        if (!*s)
            return dh_error_make(err, EINVAL, ERR_EMPTY);
        low = lower_dup(s);
        if (match_reference(low, &sp2))
            return dh_error_make(err, EINVAL, ERR_UPPER);
        return dh_error_make(err, EINVAL, ERR_FORMAT);
    }
    if (sp.name_len > DH_IMAGEREF_NAME_MAX)
        return dh_error_make(err, EINVAL, "repository name must not be more than %d characters",
                             DH_IMAGEREF_NAME_MAX);
    if (sp.digest && dh_digest_validate(sp.digest, err) < 0)
        return -1;
    ref->domain = dh_xstrndup(s, sp.domain_len);
    ref->path = sp.domain_len ? dh_xstrndup(s + sp.domain_len + 1, sp.name_len - sp.domain_len - 1)
                              : dh_xstrndup(s, sp.name_len);
    ref->tag = sp.tag ? dh_xstrndup(sp.tag, sp.tag_len) : NULL;
    ref->digest = sp.digest ? dh_xstrdup(sp.digest) : NULL;
    return 0;
}

static bool is_identifier(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (!digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    }
    return i == 64;
}

static bool has_upper(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            return true;
    }
    return false;
}

int dh_imageref_parse(const char *s, struct dh_imageref *ref, struct dh_error **err)
{
    _cleanup_free_ char *full = NULL;
    const char *slash = strchr(s, '/'), *domain, *rest;
    size_t dlen, rlen;
    bool official;

    memset(ref, 0, sizeof(*ref));
    if (is_identifier(s))
        return dh_error_make(err, EINVAL,
                             "invalid repository name (%s), cannot specify 64-byte hexadecimal "
                             "strings",
                             s);
    /* splitDockerDomain */
    if (!slash) {
        domain = DEFAULT_DOMAIN;
        dlen = strlen(domain);
        rest = s;
    } else {
        size_t first = (size_t)(slash - s);

        if ((first == 9 && !strncmp(s, "localhost", 9)) || memchr(s, '.', first) ||
            memchr(s, ':', first) || has_upper(s, first)) {
            domain = s;
            dlen = first;
            rest = slash + 1;
        } else {
            domain = DEFAULT_DOMAIN;
            dlen = strlen(domain);
            rest = s;
        }
        if (dlen == strlen(LEGACY_DOMAIN) && !strncmp(domain, LEGACY_DOMAIN, dlen)) {
            domain = DEFAULT_DOMAIN;
            dlen = strlen(domain);
        }
    }
    official = dlen == strlen(DEFAULT_DOMAIN) && !strncmp(domain, DEFAULT_DOMAIN, dlen) &&
               !strchr(rest, '/');
    full = dh_xasprintf("%.*s/%s%s", (int)dlen, domain, official ? OFFICIAL : "", rest);

    /* The remote name (up to the first ':') must be lowercase. */
    {
        const char *remote = full + dlen + 1;
        const char *c = strchr(remote, ':');

        rlen = c ? (size_t)(c - remote) : strlen(remote);
        if (has_upper(remote, rlen))
            return dh_error_make(err, EINVAL,
                                 "invalid reference format: repository name (%.*s) must be "
                                 "lowercase",
                                 (int)rlen, remote);
    }
    if (dh_imageref_parse_strict(full, ref, err) < 0)
        return -1;
    if (!*ref->domain) {
        dh_imageref_release(ref);
        return dh_error_make(err, EINVAL, ERR_FORMAT);
    }
    if (!ref->tag && !ref->digest)
        ref->tag = dh_xstrdup(DEFAULT_TAG);
    return 0;
}

char *dh_imageref_name(const struct dh_imageref *ref)
{
    if (!ref->domain || !*ref->domain)
        return dh_xstrdup(ref->path);
    return dh_xasprintf("%s/%s", ref->domain, ref->path);
}

static char *with_suffix(const char *name, const struct dh_imageref *ref)
{
    return dh_xasprintf("%s%s%s%s%s", name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                        ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

char *dh_imageref_string(const struct dh_imageref *ref)
{
    _cleanup_free_ char *name = dh_imageref_name(ref);

    return with_suffix(name, ref);
}

char *dh_imageref_familiar(const struct dh_imageref *ref)
{
    _cleanup_free_ char *name = NULL;

    if (ref->domain && !strcmp(ref->domain, DEFAULT_DOMAIN)) {
        const char *p = ref->path;

        if (!strncmp(p, OFFICIAL, strlen(OFFICIAL)) && !strchr(p + strlen(OFFICIAL), '/'))
            p += strlen(OFFICIAL);
        name = dh_xstrdup(p);
    } else {
        name = dh_imageref_name(ref);
    }
    return with_suffix(name, ref);
}

char *dh_imageref_registry(const struct dh_imageref *ref)
{
    if (!strcmp(ref->domain, DEFAULT_DOMAIN))
        return dh_xstrdup(HUB_REGISTRY);
    return dh_xstrdup(ref->domain);
}

char *dh_imageref_scope(const struct dh_imageref *ref)
{
    return dh_xasprintf("repository:%s:pull", ref->path);
}

const char *dh_imageref_manifest_ref(const struct dh_imageref *ref)
{
    return ref->digest ? ref->digest : ref->tag;
}

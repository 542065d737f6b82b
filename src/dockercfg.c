/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker configuration documents (.dockerconfigjson, .dockercfg, config.json)
 * and the kubelet keyring's registry matching.  Rules in dockercfg.h.
 */
#include "dockhand/dockercfg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"

/* Top-level members of docker's config.json (docker/cli configfile.ConfigFile). */
static const char *const config_file_keys[] = {
        "auths",          "credsStore",          "credHelpers",    "HttpHeaders",
        "psFormat",       "imagesFormat",        "networksFormat", "pluginsFormat",
        "volumesFormat",  "statsFormat",         "detachKeys",     "serviceInspectFormat",
        "servicesFormat", "tasksFormat",         "secretFormat",   "configFormat",
        "nodesFormat",    "pruneFilters",        "proxies",        "experimental",
        "currentContext", "cliPluginsExtraDirs", "plugins",        "aliases",
        "features",       "stackOrchestrator",   "kubernetes",     "credStore",
};

static const char *const hub_hosts[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                        "registry.hub.docker.com"};

const char *dh_dockercfg_format_name(enum dh_dockercfg_format format)
{
    switch (format) {
    case DH_DOCKERCFG_CONFIGJSON:
        return "dockerconfigjson";
    case DH_DOCKERCFG_LEGACY:
        return "dockercfg";
    case DH_DOCKERCFG_CONFIGFILE:
        return "config.json";
    case DH_DOCKERCFG_AUTO:
        break;
    }
    return "auto";
}

static void entry_release(struct dh_dockercfg_entry *e)
{
    free(e->key);
    dh_str_free_wipe(e->username);
    dh_str_free_wipe(e->password);
    free(e->email);
    dh_str_free_wipe(e->auth);
    dh_str_free_wipe(e->identitytoken);
}

void dh_dockercfg_free(struct dh_dockercfg *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < cfg->n_entries; i++)
        entry_release(&cfg->entries[i]);
    free(cfg->entries);
    free(cfg->creds_store);
    for (i = 0; i < cfg->n_cred_helpers; i++) {
        free(cfg->cred_helpers[i].registry);
        free(cfg->cred_helpers[i].helper);
    }
    free(cfg->cred_helpers);
    free(cfg);
}

bool dh_dockercfg_entry_cred(const struct dh_dockercfg_entry *e, const char **ret_username,
                             const char **ret_secret)
{
    if (e->identitytoken && *e->identitytoken) {
        *ret_username = "<token>";
        *ret_secret = e->identitytoken;
        return true;
    }
    *ret_username = e->username;
    *ret_secret = e->password;
    return *e->password != '\0';
}

/* A key fit to quote in an error message: printable, not too long; else NULL. */
static bool key_printable(const char *key)
{
    size_t i;

    for (i = 0; key[i]; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f || i >= 256)
            return false;
    return true;
}

/* "entry '<key>'", or "entry #N" for a key unfit for a message.  Caller frees. */
static char *entry_subject(const char *key, size_t index)
{
    return key && key_printable(key) ? dh_xasprintf("entry '%s'", key)
                                     : dh_xasprintf("entry #%zu", index + 1);
}

/* Returns the string member name of obj: NULL when absent or null; an error for other types. */
static int string_member(json_t *obj, const char *name, const char *key, size_t index,
                         const char **ret, struct dh_error **err)
{
    json_t *v = json_object_get(obj, name);

    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        _cleanup_free_ char *subject = entry_subject(key, index);
        return dh_error_make(err, EINVAL, "'%s' of %s must be a string", name, subject);
    }
    *ret = json_string_value(v);
    return 0;
}

/*
 * Decodes "auth" as the kubelet does: base64 of "user:pass", padded (standard
 * encoding) when it ends in '=', else unpadded; CR and LF are ignored, as Go's
 * decoder does.  Sets the entry's username and password.
 */
static int decode_auth(struct dh_dockercfg_entry *e, size_t index, const char *auth,
                       struct dh_error **err)
{
    _cleanup_free_ char *subject = entry_subject(e->key, index);
    size_t n = strlen(auth), i, o = 0;
    _cleanup_wipe_ char *clean = dh_xmalloc(n + 1);
    _cleanup_buf_ struct dh_buf dec = DH_BUF_INIT_SECRET(DH_DOCKERCFG_MAX);
    char *colon;

    for (i = 0; i < n; i++) {
        char c = auth[i];

        if (c == '\r' || c == '\n')
            continue;
        if (c == '-' || c == '_') /* the URL-safe alphabet is not accepted */
            return dh_error_make(err, EINVAL, "'auth' of %s is not valid base64", subject);
        clean[o++] = c;
    }
    clean[o] = '\0';
    if (dh_base64_decode(clean, o, &dec, NULL) < 0)
        return dh_error_make(err, EINVAL, "'auth' of %s is not valid base64", subject);
    colon = dec.data ? memchr(dec.data, ':', dec.len) : NULL;
    if (!colon)
        return dh_error_make(err, EINVAL, "'auth' of %s is not the base64 of 'username:password'",
                             subject);
    /* docker trims NUL bytes around the password; one inside cannot be kept */
    size_t ulen = (size_t)(colon - dec.data), pstart = ulen + 1, pend = dec.len;
    while (pstart < pend && dec.data[pstart] == '\0')
        pstart++;
    while (pend > pstart && dec.data[pend - 1] == '\0')
        pend--;
    if (memchr(dec.data, '\0', ulen) || memchr(dec.data + pstart, '\0', pend - pstart))
        return dh_error_make(err, EINVAL, "'auth' of %s holds a NUL byte", subject);
    dh_str_free_wipe(e->username);
    dh_str_free_wipe(e->password);
    e->username = dh_xstrndup(dec.data, ulen);
    e->password = dh_xstrndup(dec.data + pstart, pend - pstart);
    return 0;
}

static int parse_entry(const char *key, json_t *v, size_t index, struct dh_dockercfg_entry *e,
                       struct dh_error **err)
{
    const char *user, *pass, *email, *auth, *itoken;

    if (!json_is_object(v)) {
        _cleanup_free_ char *subject = entry_subject(key, index);
        return dh_error_make(err, EINVAL, "%s must be an object", subject);
    }
    if (string_member(v, "username", key, index, &user, err) < 0 ||
        string_member(v, "password", key, index, &pass, err) < 0 ||
        string_member(v, "email", key, index, &email, err) < 0 ||
        string_member(v, "auth", key, index, &auth, err) < 0 ||
        string_member(v, "identitytoken", key, index, &itoken, err) < 0)
        return -1;
    e->key = dh_xstrdup(key);
    e->username = dh_xstrdup(user ? user : "");
    e->password = dh_xstrdup(pass ? pass : "");
    e->email = email ? dh_xstrdup(email) : NULL;
    e->auth = auth && *auth ? dh_xstrdup(auth) : NULL;
    e->identitytoken = itoken && *itoken ? dh_xstrdup(itoken) : NULL;
    if (e->auth)
        return decode_auth(e, index, e->auth, err);
    return 0;
}

static int parse_entries(struct dh_dockercfg *cfg, json_t *map, struct dh_error **err)
{
    size_t n = json_object_size(map), i = 0;
    const char *key;
    json_t *v;

    cfg->entries = dh_xcalloc(n ? n : 1, sizeof(*cfg->entries));
    json_object_foreach (map, key, v) {
        if (parse_entry(key, v, i, &cfg->entries[i], err) < 0) {
            cfg->n_entries = i + 1; /* free the partial entry too */
            return -1;
        }
        i++;
        cfg->n_entries = i;
    }
    return 0;
}

static int parse_helpers(struct dh_dockercfg *cfg, json_t *root, struct dh_error **err)
{
    json_t *store = json_object_get(root, "credsStore");
    json_t *helpers = json_object_get(root, "credHelpers");
    const char *key;
    json_t *v;

    if (store && !json_is_null(store)) {
        if (!json_is_string(store))
            return dh_error_make(err, EINVAL, "'credsStore' must be a string");
        cfg->creds_store = dh_xstrdup(json_string_value(store));
    }
    if (!helpers || json_is_null(helpers))
        return 0;
    if (!json_is_object(helpers))
        return dh_error_make(err, EINVAL, "'credHelpers' must be an object");
    cfg->cred_helpers = dh_xcalloc(json_object_size(helpers) + 1, sizeof(*cfg->cred_helpers));
    json_object_foreach (helpers, key, v) {
        if (!json_is_string(v))
            return dh_error_make(err, EINVAL, "'credHelpers' values must be strings");
        cfg->cred_helpers[cfg->n_cred_helpers].registry = dh_xstrdup(key);
        cfg->cred_helpers[cfg->n_cred_helpers].helper = dh_xstrdup(json_string_value(v));
        cfg->n_cred_helpers++;
    }
    return 0;
}

static bool is_config_file_key(const char *key)
{
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(config_file_keys); i++)
        if (strcmp(key, config_file_keys[i]) == 0)
            return true;
    return false;
}

static enum dh_dockercfg_format detect_format(json_t *root)
{
    const char *key;
    json_t *v;

    if (json_object_get(root, "auths")) {
        json_object_foreach (root, key, v)
            if (strcmp(key, "auths") != 0 && strcmp(key, "HttpHeaders") != 0)
                return DH_DOCKERCFG_CONFIGFILE;
        return DH_DOCKERCFG_CONFIGJSON;
    }
    json_object_foreach (root, key, v)
        if (!json_is_object(v) || is_config_file_key(key))
            return DH_DOCKERCFG_CONFIGFILE;
    return DH_DOCKERCFG_LEGACY;
}

/* jansson's reason without its " near '<token>'" tail, which may quote the input. */
static char *json_reason(const char *text)
{
    const char *near = strstr(text, " near ");

    return near ? dh_xstrndup(text, (size_t)(near - text)) : dh_xstrdup(text);
}

int dh_dockercfg_parse(const char *data, size_t len, enum dh_dockercfg_format format,
                       struct dh_dockercfg **ret, struct dh_error **err)
{
    json_auto_t *root = NULL;
    json_error_t jerr;
    struct dh_dockercfg *cfg;
    json_t *auths;
    int r = 0;

    if (len > DH_DOCKERCFG_MAX)
        return dh_error_make(err, E2BIG, "document larger than %zu bytes", DH_DOCKERCFG_MAX);
    /* jansson skips a NUL byte after a number; Go (the kubelet) and RFC 8259 do not */
    if (len && memchr(data, '\0', len))
        return dh_error_make(err, EINVAL, "invalid JSON: the document holds a NUL byte");
    root = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        _cleanup_free_ char *why = json_reason(jerr.text);
        return dh_error_make(err, EINVAL, "invalid JSON at line %d, column %d: %s", jerr.line,
                             jerr.column, why);
    }
    if (!json_is_object(root))
        return dh_error_make(err, EINVAL, "expected a JSON object at the top level");
    if (format == DH_DOCKERCFG_AUTO)
        format = detect_format(root);

    cfg = dh_xcalloc(1, sizeof(*cfg));
    cfg->format = format;
    switch (format) {
    case DH_DOCKERCFG_LEGACY:
        r = parse_entries(cfg, root, err);
        break;
    case DH_DOCKERCFG_CONFIGJSON:
    case DH_DOCKERCFG_CONFIGFILE:
    case DH_DOCKERCFG_AUTO:
        auths = json_object_get(root, "auths");
        if (!auths || json_is_null(auths)) {
            if (format == DH_DOCKERCFG_CONFIGJSON)
                r = dh_error_make(err, EINVAL, "'auths' is missing");
            else
                r = parse_entries(cfg, NULL, err);
        } else if (!json_is_object(auths)) {
            r = dh_error_make(err, EINVAL, "'auths' must be an object");
        } else {
            r = parse_entries(cfg, auths, err);
        }
        if (r == 0 && format == DH_DOCKERCFG_CONFIGFILE)
            r = parse_helpers(cfg, root, err);
        break;
    }
    if (r < 0) {
        dh_dockercfg_free(cfg);
        return -1;
    }
    *ret = cfg;
    return 0;
}

/* ---- kubelet keyring matching ---------------------------------------- */

/* A parsed key or target: spans into the caller's string, nothing allocated. */
struct kref {
    const char *host; /* without the port; an IPv6 literal keeps its brackets */
    size_t host_len;
    unsigned port; /* 0: none */
    bool ipv6;     /* host is "[...]" */
    bool glob;     /* the host has glob characters (keys only) */
    bool hub;      /* host is one of Docker Hub's names */
    /* The path is pre followed by path (pre is a constant for Docker Hub images). */
    const char *pre;
    size_t pre_len;
    const char *path;
    size_t path_len;
};

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : c;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The glob characters that Go's url.Parse lets through in a host ('?' starts a query). */
static bool is_glob_char(char c)
{
    return c == '*' || c == '[' || c == ']';
}

static bool span_ieq(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i;

    if (an != bn)
        return false;
    for (i = 0; i < an; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static bool host_is_hub(const char *h, size_t n)
{
    size_t i;

    /* every name ends in "docker.io" or "docker.com" */
    if (n < 9 || (lower(h[n - 1]) != 'o' && lower(h[n - 1]) != 'm'))
        return false;
    for (i = 0; i < DH_ARRAY_SIZE(hub_hosts); i++)
        if (span_ieq(h, n, hub_hosts[i], strlen(hub_hosts[i])))
            return true;
    return false;
}

static int parse_port(const char *s, size_t n, unsigned *ret)
{
    unsigned v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0 || v > 65535)
        return -1;
    *ret = v;
    return 0;
}

/* Splits the authority s[0..n) into host and port.  Returns -1 when invalid. */
static int parse_authority(const char *s, size_t n, bool key, struct kref *r)
{
    const char *close = n ? memchr(s, ']', n) : NULL;
    size_t i, hn = n;

    r->glob = false;
    if (n == 0)
        return -1;
    /* a host starting with '[' is an IPv6 literal, as for url.Parse */
    r->ipv6 = s[0] == '[';
    if (r->ipv6) {
        if (!close || !memchr(s, ':', (size_t)(close - s)))
            return -1;
        hn = (size_t)(close - s) + 1;
        for (i = 1; i + 1 < hn; i++)
            if (!is_alnum(s[i]) && s[i] != ':' && s[i] != '.')
                return -1;
        if (hn < n && s[hn] != ':')
            return -1;
    } else {
        for (i = 0; i < n && s[i] != ':'; i++) {
            char c = s[i];

            if (is_alnum(c) || c == '.' || c == '-' || c == '_')
                continue;
            if (!key || !is_glob_char(c))
                return -1;
            r->glob = true;
        }
        hn = i;
    }
    if (hn == 0)
        return -1;
    r->host = s;
    r->host_len = hn;
    r->port = 0;
    if (hn < n && parse_port(s + hn + 1, n - hn - 1, &r->port) < 0)
        return -1;
    r->hub = !r->ipv6 && !r->glob && host_is_hub(s, hn) && (r->port == 0 || r->port == 443);
    if (r->hub)
        r->port = 0;
    return 0;
}

/*
 * Parses a key (key=true) or a target.  With image, a target is an image
 * reference and may name a Docker Hub repository without a registry.
 */
static int parse_ref(const char *s, bool key, bool image, struct kref *r)
{
    size_t n, a = SIZE_MAX, colon = SIZE_MAX, i;
    bool scheme = false;

    if (!s)
        return -1;
    /* one pass: length, control characters, the end of the authority, '@', "://" */
    for (n = 0; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];

        if (c <= 0x20 || c == 0x7f || n >= DH_KUBELET_MATCH_MAX)
            return -1;
        if (a == SIZE_MAX && (c == '/' || c == '?' || c == '#'))
            a = n;
        if (a == SIZE_MAX && c == '@')
            return -1; /* userinfo */
        if (a == SIZE_MAX && c == ':' && colon == SIZE_MAX)
            colon = n;
    }
    if (colon != SIZE_MAX && colon + 2 < n && s[colon + 1] == '/' && s[colon + 2] == '/') {
        /* "scheme://": only http and https */
        if (!((colon == 5 && strncasecmp(s, "https", 5) == 0) ||
              (colon == 4 && strncasecmp(s, "http", 4) == 0)))
            return -1;
        s += colon + 3;
        n -= colon + 3;
        scheme = true;
    } else if (n >= 2 && s[0] == '/' && s[1] == '/') {
        s += 2;
        n -= 2;
        scheme = true;
    }
    if (scheme) {
        for (a = 0; a < n && s[a] != '/' && s[a] != '?' && s[a] != '#'; a++)
            if (s[a] == '@')
                return -1;
    } else if (a == SIZE_MAX) {
        a = n;
    }
    /* the query and the fragment are dropped */
    for (i = a; i < n; i++)
        if (s[i] == '?' || s[i] == '#')
            n = i;
    r->pre = "";
    r->pre_len = 0;
    image = image && !scheme;
    if (image && !(a < n && (memchr(s, '.', a) || memchr(s, ':', a) ||
                             (a == 9 && strncmp(s, "localhost", 9) == 0)))) {
        /* docker's rule: no registry in the reference means Docker Hub */
        r->host = "index.docker.io";
        r->host_len = strlen(r->host);
        r->port = 0;
        r->ipv6 = false;
        r->glob = false;
        r->hub = true;
        r->pre = a == n ? "/library/" : "/";
        r->pre_len = strlen(r->pre);
        r->path = s;
        r->path_len = n;
        return 0;
    }
    if (parse_authority(s, a, key, r) < 0)
        return -1;
    r->path = s + a;
    r->path_len = n - a;
    if (image) {
        /* "docker.io/alpine" is "docker.io/library/alpine" */
        if (r->hub && r->path_len > 1 && !memchr(r->path + 1, '/', r->path_len - 1)) {
            r->pre = "/library";
            r->pre_len = strlen(r->pre);
        }
        return 0;
    }
    if (r->path_len >= 3 && r->path[0] == '/' && r->path[1] == 'v' &&
        (r->path[2] == '1' || r->path[2] == '2') && (r->path_len == 3 || r->path[3] == '/')) {
        r->path += 3;
        r->path_len -= 3;
    }
    if (r->path_len == 1 && r->path[0] == '/')
        r->path_len = 0;
    return 0;
}

static bool in_range(char lo, char hi, char c)
{
    return (lo <= c && c <= hi) || (lo <= lower(c) && lower(c) <= hi) ||
           (lo <= upper(c) && upper(c) <= hi);
}

/* Reads one class member at p[*i] ('\' escapes).  Returns -1 when there is none. */
static int class_char(const char *p, size_t n, size_t *i, char *ret)
{
    if (*i >= n || p[*i] == '-' || p[*i] == ']')
        return -1;
    if (p[*i] == '\\' && ++*i >= n)
        return -1;
    *ret = p[(*i)++];
    return 0;
}

/*
 * The class at p[0..n) (p[0] == '['), as Go's filepath.Match reads it: an
 * optional '^', then one or more ranges "c" or "lo-hi", then ']'.  Returns
 * its length, or 0 when malformed; sets *match for c.
 */
static size_t glob_class(const char *p, size_t n, char c, bool *match)
{
    size_t i = 1, nrange = 0;
    bool negated = false, hit = false;

    if (i < n && p[i] == '^') {
        negated = true;
        i++;
    }
    for (;;) {
        char lo, hi;

        if (i < n && p[i] == ']' && nrange > 0) {
            i++;
            break;
        }
        if (class_char(p, n, &i, &lo) < 0)
            return 0;
        hi = lo;
        if (i < n && p[i] == '-') {
            i++;
            if (class_char(p, n, &i, &hi) < 0)
                return 0;
        }
        if (in_range(lo, hi, c))
            hit = true;
        nrange++;
    }
    *match = hit != negated;
    return i;
}

/* Checks the pattern's syntax; counts its literal characters. */
static bool glob_valid(const char *p, size_t n, size_t *ret_literal)
{
    size_t i = 0, lit = 0;
    bool dummy;

    while (i < n) {
        if (p[i] == '[') {
            size_t len = glob_class(p + i, n - i, 'a', &dummy);
            if (!len)
                return false;
            i += len;
        } else if (p[i] == '\\') {
            if (i + 1 >= n)
                return false;
            lit++;
            i += 2;
        } else if (p[i] == '*' || p[i] == '?') {
            i++;
        } else {
            lit++; /* ']' and '^' are literal outside a class, as in Go */
            i++;
        }
    }
    *ret_literal = lit;
    return true;
}

/* Matches one pattern element at p[0..n) against c: its length, or 0 on mismatch. */
static size_t glob_one(const char *p, size_t n, char c)
{
    bool match = false;
    size_t len;

    if (p[0] == '?')
        return 1;
    if (p[0] == '[') {
        len = glob_class(p, n, c, &match);
        return match ? len : 0;
    }
    if (p[0] == '\\')
        return lower(p[1]) == lower(c) ? 2 : 0;
    return lower(p[0]) == lower(c) ? 1 : 0;
}

/* Glob match of a whole label (a valid pattern), case-insensitive; backtracks only to the
   last '*', so it is O(len(p) * len(s)) at worst. */
static bool glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            size_t len = glob_one(p + pi, pn - pi, s[si]);
            if (len) {
                pi += len;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static size_t count_labels(const char *h, size_t n)
{
    size_t i, c = 1;

    for (i = 0; i < n; i++)
        if (h[i] == '.')
            c++;
    return c;
}

/* Label-by-label glob match of the key's host pattern p against host h.  Returns the
   number of literal characters of the pattern, or -1 when it does not match. */
static long host_match(const char *p, size_t pn, const char *h, size_t hn)
{
    size_t pi = 0, hi = 0, literal = 0;

    if (count_labels(p, pn) != count_labels(h, hn))
        return -1;
    for (;;) {
        const char *pd = memchr(p + pi, '.', pn - pi), *hd = memchr(h + hi, '.', hn - hi);
        size_t pl = pd ? (size_t)(pd - (p + pi)) : pn - pi;
        size_t hl = hd ? (size_t)(hd - (h + hi)) : hn - hi;
        size_t lit;

        if (!glob_valid(p + pi, pl, &lit) || !glob_match(p + pi, pl, h + hi, hl))
            return -1;
        literal += lit;
        if (!pd)
            break;
        literal++; /* the dot */
        pi += pl + 1;
        hi += hl + 1;
    }
    return (long)literal;
}

/* True when the key's path is a string prefix of the target's pre + path. */
static bool path_prefix(const struct kref *k, const struct kref *t)
{
    size_t n = k->path_len, m;

    if (n > t->pre_len + t->path_len)
        return false;
    m = n < t->pre_len ? n : t->pre_len;
    if (memcmp(k->path, t->pre, m) != 0)
        return false;
    return memcmp(k->path + m, t->path, n - m) == 0;
}

/* Rank of key against the parsed target t (see dh_kubelet_match_rank). */
static int match_rank(const char *key, const struct kref *t, unsigned flags)
{
    struct kref k;
    long literal = -1;
    size_t i;

    if (parse_ref(key, true, false, &k) < 0 || k.port != t->port)
        return DH_KUBELET_RANK_NONE;
    if (k.ipv6 || t->ipv6) {
        /* IPv6 literals compare as text */
        if (k.ipv6 && t->ipv6 && k.host_len == t->host_len &&
            strncasecmp(k.host, t->host, k.host_len) == 0)
            literal = (long)k.host_len;
    } else if (k.hub) {
        if (t->hub)
            literal = (long)k.host_len;
    } else if (t->hub) {
        /* a glob key may match any of Docker Hub's names */
        for (i = 0; i < DH_ARRAY_SIZE(hub_hosts); i++) {
            long l = host_match(k.host, k.host_len, hub_hosts[i], strlen(hub_hosts[i]));
            if (l > literal)
                literal = l;
        }
    } else if (!k.glob) {
        if (span_ieq(k.host, k.host_len, t->host, t->host_len))
            literal = (long)k.host_len;
    } else {
        literal = host_match(k.host, k.host_len, t->host, t->host_len);
    }
    if (literal < 0)
        return DH_KUBELET_RANK_NONE;
    if (!path_prefix(&k, t)) {
        if ((flags & DH_KMATCH_HOST_ALIAS) && t->pre_len + t->path_len == 0)
            return DH_KUBELET_RANK_ALIAS;
        return DH_KUBELET_RANK_NONE;
    }
    /* literal host characters first, then the path length; both are below 8192 */
    return DH_KUBELET_RANK_BASE + (int)(literal << 13) + (int)k.path_len;
}

int dh_kubelet_match_rank(const char *key, const char *target, unsigned flags)
{
    struct kref t;

    if (parse_ref(target, false, flags & DH_KMATCH_IMAGE, &t) < 0)
        return DH_KUBELET_RANK_NONE;
    return match_rank(key, &t, flags);
}

/* ---- a fast look at many documents ------------------------------------ */

/* jansson's nesting limit (JSON_PARSER_MAX_DEPTH) */
#define SCAN_MAX_DEPTH 2048
/* internal flag: the target is unparsable, nothing matches */
#define SCAN_NO_TARGET (1u << 30)

enum scan_role {
    ROLE_TOP,   /* the top-level object */
    ROLE_AUTHS, /* the map of entries */
    ROLE_OTHER,
};

struct scan {
    const char *p, *end;
    enum dh_dockercfg_format format;
    struct kref target;
    unsigned flags;
    int best;
    char key[DH_KUBELET_MATCH_MAX + 1];
    size_t key_len;
    bool key_long; /* longer than key[]: never matches */
};

static void scan_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const char *p, unsigned *ret)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *ret = v;
    return 0;
}

static void key_put(struct scan *s, const char *b, size_t n)
{
    if (s->key_long || s->key_len + n > DH_KUBELET_MATCH_MAX) {
        s->key_long = true;
        return;
    }
    memcpy(s->key + s->key_len, b, n);
    s->key_len += n;
}

/* Scans a string at s->p (on its '"'); with capture, its value goes to s->key. */
static int scan_string(struct scan *s, bool capture)
{
    const char *start;
    bool high = false;

    s->p++;
    start = s->p;
    s->key_len = 0;
    s->key_long = false;
    for (;;) {
        const char *run = s->p;
        unsigned char c;

        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (unsigned char)*s->p >= 0x20) {
            high |= (unsigned char)*s->p >= 0x80;
            s->p++;
        }
        if (capture)
            key_put(s, run, (size_t)(s->p - run));
        if (s->p >= s->end)
            return -1;
        c = (unsigned char)*s->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        /* an escape */
        if (++s->p >= s->end)
            return -1;
        c = (unsigned char)*s->p++;
        if (c == 'u') {
            unsigned cp, lo;
            char utf8[4];
            size_t n;

            if (s->end - s->p < 4 || hex4(s->p, &cp) < 0)
                return -1;
            s->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    hex4(s->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                s->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return -1;
            if (cp < 0x80) {
                utf8[0] = (char)cp;
                n = 1;
            } else if (cp < 0x800) {
                utf8[0] = (char)(0xc0 | cp >> 6);
                utf8[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
            } else if (cp < 0x10000) {
                utf8[0] = (char)(0xe0 | cp >> 12);
                utf8[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                utf8[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
            } else {
                utf8[0] = (char)(0xf0 | cp >> 18);
                utf8[1] = (char)(0x80 | (cp >> 12 & 0x3f));
                utf8[2] = (char)(0x80 | (cp >> 6 & 0x3f));
                utf8[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
            }
            if (capture)
                key_put(s, utf8, n);
        } else {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *e = memchr(from, c, sizeof(from) - 1);

            if (!e)
                return -1;
            if (capture)
                key_put(s, &to[e - from], 1);
        }
    }
    if (high && !dh_utf8_valid(start, (size_t)(s->p - start)))
        return -1;
    s->p++;
    if (capture)
        s->key[s->key_len] = '\0';
    return 0;
}

static bool scan_digit(const struct scan *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int scan_number(struct scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (!scan_digit(s))
        return -1;
    if (*s->p == '0') {
        s->p++;
    } else {
        while (scan_digit(s))
            s->p++;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!scan_digit(s))
            return -1;
        while (scan_digit(s))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!scan_digit(s))
            return -1;
        while (scan_digit(s))
            s->p++;
    }
    return 0;
}

static int scan_literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int scan_value(struct scan *s, int depth, enum scan_role role);

static void scan_rank_key(struct scan *s)
{
    int rank;

    if (s->key_long || (s->flags & SCAN_NO_TARGET))
        return;
    rank = match_rank(s->key, &s->target, s->flags);
    if (rank > s->best)
        s->best = rank;
}

static int scan_object(struct scan *s, int depth, enum scan_role role)
{
    bool legacy = s->format == DH_DOCKERCFG_LEGACY || s->format == DH_DOCKERCFG_AUTO;
    bool first = true;

    s->p++;
    for (;;) {
        enum scan_role child = ROLE_OTHER;

        scan_ws(s);
        if (s->p >= s->end)
            return -1;
        if (first && *s->p == '}')
            break;
        if (*s->p != '"' || scan_string(s, role != ROLE_OTHER) < 0)
            return -1;
        if (role == ROLE_AUTHS || (role == ROLE_TOP && legacy))
            scan_rank_key(s);
        if (role == ROLE_TOP && s->format != DH_DOCKERCFG_LEGACY && !s->key_long &&
            strcmp(s->key, "auths") == 0)
            child = ROLE_AUTHS;
        scan_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        if (scan_value(s, depth, child) < 0)
            return -1;
        scan_ws(s);
        if (s->p >= s->end)
            return -1;
        first = false;
        if (*s->p == '}')
            break;
        if (*s->p != ',')
            return -1;
        s->p++;
    }
    s->p++;
    return 0;
}

static int scan_array(struct scan *s, int depth)
{
    bool first = true;

    s->p++;
    for (;;) {
        scan_ws(s);
        if (s->p >= s->end)
            return -1;
        if (first && *s->p == ']')
            break;
        if (scan_value(s, depth, ROLE_OTHER) < 0)
            return -1;
        scan_ws(s);
        if (s->p >= s->end)
            return -1;
        first = false;
        if (*s->p == ']')
            break;
        if (*s->p != ',')
            return -1;
        s->p++;
    }
    s->p++;
    return 0;
}

static int scan_value(struct scan *s, int depth, enum scan_role role)
{
    scan_ws(s);
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
        if (depth >= SCAN_MAX_DEPTH)
            return -1;
        return scan_object(s, depth + 1, role);
    case '[':
        if (depth >= SCAN_MAX_DEPTH)
            return -1;
        return scan_array(s, depth + 1);
    case '"':
        return scan_string(s, false);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return scan_number(s);
    }
}

int dh_dockercfg_scan_rank(const char *data, size_t len, enum dh_dockercfg_format format,
                           const char *target, unsigned flags)
{
    struct scan scan, *s = &scan;
    int r;

    if (len > DH_DOCKERCFG_MAX || !data)
        return DH_DOCKERCFG_SCAN_INVALID;
    s->p = data;
    s->end = data + len;
    s->format = format;
    s->flags = flags;
    s->best = DH_KUBELET_RANK_NONE;
    /* a target that cannot match still needs the syntax check */
    if (parse_ref(target, false, flags & DH_KMATCH_IMAGE, &s->target) < 0)
        s->flags |= SCAN_NO_TARGET;
    scan_ws(s);
    r = s->p < s->end && *s->p == '{' ? scan_value(s, 0, ROLE_TOP) : -1;
    if (r == 0) {
        scan_ws(s);
        if (s->p != s->end)
            r = -1;
    }
    return r < 0 ? DH_DOCKERCFG_SCAN_INVALID : s->best;
}

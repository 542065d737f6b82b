/* SPDX-License-Identifier: Apache-2.0 */
/* config.json editing that loses nothing; see include/dockhand/dockerconfig.h. */
#include "dockhand/dockerconfig.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/jsonload.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"
#include "dockhand/xdg.h"

#define LOCK_TIMEOUT_MS 30000
#define MAX_DEPTH       512

struct dh_dockerconfig {
    char *path;           /* as given */
    char *resolved;       /* symlinks resolved: the file written */
    json_t *root;         /* an object */
    uint64_t fingerprint; /* of the document as read or saved, to tell whether it was edited */
    struct dh_buf orig;   /* the bytes read, until parsed (secret: they hold credentials) */
    bool existed;         /* the file existed and was not empty */
    /* formatting */
    bool compact;    /* one line */
    char indent[17]; /* indent unit (pretty) */
    bool colon_space;
    bool comma_space; /* compact only */
    bool final_newline;
    struct dh_lock lock;
};

int dh_dockerconfig_default_path(char **ret, struct dh_error **err)
{
    const char *dc = getenv("DOCKER_CONFIG");
    _cleanup_free_ char *home = NULL;

    if (dc && *dc) {
        *ret = dh_xasprintf("%s/config.json", dc);
        return 0;
    }
    if (dh_home_dir(&home, err) < 0)
        return -1;
    *ret = dh_xasprintf("%s/.docker/config.json", home);
    return 0;
}

/* Follows symlinks in the last component (a dangling one is allowed, as
   docker/cli's Save does with filepath.EvalSymlinks falling back). */
static char *resolve_symlinks(const char *path)
{
    char *cur = dh_xstrdup(path);
    int i;

    for (i = 0; i < 40; i++) {
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof(target) - 1);
        char *next;

        if (n < 0)
            break;
        target[n] = '\0';
        if (target[0] == '/') {
            next = dh_xstrdup(target);
        } else {
            _cleanup_free_ char *dir = dh_dirname(cur);
            next = dh_xasprintf("%s/%s", dir, target);
        }
        free(cur);
        cur = next;
    }
    return cur;
}

/* Skips a JSON string starting at p[i] == '"'; returns the index after it. */
static size_t skip_string(const char *p, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return len;
}

static void detect_format(struct dh_dockerconfig *c, const char *p, size_t len)
{
    size_t i, nl, s;
    bool seen_colon = false, seen_comma = false;

    c->final_newline = len > 0 && p[len - 1] == '\n';
    /* Trailing white space does not count: "{...}\n" is still one line. */
    while (len > 0 &&
           (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    /* JSON strings hold no raw newline, so the first one is found directly. */
    {
        const char *q = memchr(p, '\n', len);
        nl = q ? (size_t)(q - p) : len;
    }
    for (i = 0; i < len; i++) {
        if (p[i] == '"') {
            i = skip_string(p, len, i) - 1;
            continue;
        }
        if (p[i] == ':' && !seen_colon) {
            seen_colon = true;
            c->colon_space = i + 1 < len && (p[i + 1] == ' ' || p[i + 1] == '\n');
        }
        if (p[i] == ',' && !seen_comma) {
            seen_comma = true;
            c->comma_space = i + 1 < len && p[i + 1] == ' ';
        }
        /* The separators after a newline say nothing more: stop early. */
        if (seen_colon && (seen_comma || nl < len))
            break;
    }
    if (!seen_colon)
        c->colon_space = true;
    if (nl == len) {
        /* "{}" or a one-line document: compact, unless it is the empty object,
           which docker writes as "{}" in its indented style too. */
        c->compact = seen_colon;
        strcpy(c->indent, "\t");
        return;
    }
    c->compact = false;
    /* The indent unit: the leading white space of the first non-empty line
       after the first newline (one level deep). */
    for (s = nl + 1; s < len && (p[s] == '\n' || p[s] == '\r'); s++)
        ;
    for (i = s; i < len && i - s < sizeof(c->indent) - 1 && (p[i] == ' ' || p[i] == '\t'); i++)
        ;
    memcpy(c->indent, p + s, i - s);
    c->indent[i - s] = '\0';
}

/*
 * A 64-bit fingerprint of a JSON tree (types, keys in order, values), to tell
 * whether a caller edited the document without keeping a copy of it: the tree
 * can be as large as the file (a 10,000-entry config.json of ECR tokens is
 * 17 MB).  It is not a security boundary: a collision would only make an edit
 * look like none, and needs a crafted document.
 */
#define FP_MUL 0x9e3779b97f4a7c15ULL

static uint64_t fp_mix(uint64_t h, uint64_t v)
{
    h ^= v + FP_MUL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static uint64_t fp_bytes(uint64_t h, const char *p, size_t n)
{
    uint64_t w;

    h = fp_mix(h, n);
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * FP_MUL;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, p, n);
    return fp_mix(h, w);
}

static uint64_t fp_value(uint64_t h, json_t *v, int depth)
{
    h = fp_mix(h, (uint64_t)json_typeof(v) + 1);
    if (depth > MAX_DEPTH)
        return h;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;

        h = fp_mix(h, json_object_size(v));
        json_object_foreach (v, k, x) {
            h = fp_bytes(h, k, strlen(k));
            h = fp_value(h, x, depth + 1);
        }
        return h;
    }
    case JSON_ARRAY: {
        size_t i, n = json_array_size(v);

        h = fp_mix(h, n);
        for (i = 0; i < n; i++)
            h = fp_value(h, json_array_get(v, i), depth + 1);
        return h;
    }
    case JSON_STRING:
        return fp_bytes(h, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return fp_mix(h, (uint64_t)json_integer_value(v));
    case JSON_REAL: {
        double d = json_real_value(v);
        uint64_t bits;

        memcpy(&bits, &d, sizeof(bits));
        return fp_mix(h, bits);
    }
    default:
        return h;
    }
}

static uint64_t fingerprint(json_t *root)
{
    return fp_value(0x243f6a8885a308d3ULL, root, 0);
}

static int parse_into(struct dh_dockerconfig *c, const char *name, struct dh_error **err)
{
    json_error_t jerr;
    size_t i, start = 0, tlen = 0;
    const char *p = c->orig.data;

    dh_trim_space(p ? p : "", c->orig.len, &start, &tlen);
    if (tlen == 0) {
        c->root = json_object();
        c->existed = false;
        strcpy(c->indent, "\t");
        c->colon_space = true;
        return 0;
    }
    c->existed = true;
    c->root = dh_json_loadb(p, c->orig.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (!c->root) {
        /* jansson quotes the text near the error ("near '...'"): it may be a
           secret, so only the position and the kind of error are shown. */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        for (i = 0; jerr.text[i]; i++)
            if ((unsigned char)jerr.text[i] < 0x20)
                jerr.text[i] = ' ';
        return dh_error_make(err, EINVAL, "%s: not valid JSON: line %d column %d: %s", name,
                             jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(c->root))
        return dh_error_make(err, EINVAL, "%s: not valid JSON: the top level is not an object",
                             name);
    detect_format(c, p + start, c->orig.len - start);
    c->fingerprint = fingerprint(c->root);
    /* The bytes are not needed any more (the tree and the fingerprint say it
       all): wipe them now rather than hold the file twice in memory. */
    dh_buf_release(&c->orig);
    dh_buf_init_secret(&c->orig, DH_DOCKERCONFIG_MAX);
    return 0;
}

static struct dh_dockerconfig *dockerconfig_new(void)
{
    struct dh_dockerconfig *c = dh_xcalloc(1, sizeof(*c));

    dh_buf_init_secret(&c->orig, DH_DOCKERCONFIG_MAX);
    c->lock.fd = -1;
    return c;
}

void dh_dockerconfig_free(struct dh_dockerconfig *c)
{
    if (!c)
        return;
    dh_lock_release(&c->lock);
    json_decref(c->root);
    dh_buf_release(&c->orig);
    free(c->path);
    free(c->resolved);
    free(c);
}

int dh_dockerconfig_parse(const char *name, const char *data, size_t len,
                          struct dh_dockerconfig **ret, struct dh_error **err)
{
    struct dh_dockerconfig *c = dockerconfig_new();

    if (dh_buf_append(&c->orig, data, len, err) < 0 || parse_into(c, name, err) < 0) {
        dh_dockerconfig_free(c);
        return -1;
    }
    c->path = dh_xstrdup(name);
    *ret = c;
    return 0;
}

/* Under the lock, no other dockhand writer has a temporary file in flight: any
   ".<base>.tmp.XXXXXX" left is from a writer that was killed. */
static void remove_stale_temps(const char *dir, const char *base)
{
    _cleanup_free_ char *prefix = dh_xasprintf(".%s.tmp.", base);
    size_t plen = strlen(prefix);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen) == 0 && strlen(e->d_name + plen) == 6)
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int dh_dockerconfig_open(const char *path, unsigned flags, struct dh_dockerconfig **ret,
                         struct dh_error **err)
{
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = dockerconfig_new();
    _cleanup_free_ char *dir = NULL;
    const char *base;

    if (path)
        c->path = dh_xstrdup(path);
    else if (dh_dockerconfig_default_path(&c->path, err) < 0)
        return -1;
    c->resolved = resolve_symlinks(c->path);
    dir = dh_dirname(c->resolved);
    base = strrchr(c->resolved, '/');
    base = base ? base + 1 : c->resolved;
    if (flags & DH_DOCKERCONFIG_LOCK) {
        _cleanup_free_ char *lockpath = dh_xasprintf("%s/.%s.lock", dir, base);
        if (dh_mkdir_p(dir, 0700, err) < 0 ||
            dh_lock_acquire(lockpath, LOCK_TIMEOUT_MS, &c->lock, err) < 0)
            return -1;
        remove_stale_temps(dir, base);
    }
    if (dh_read_file(c->resolved, &c->orig, err) < 0) {
        if ((*err)->status != ENOENT || !(flags & DH_DOCKERCONFIG_CREATE))
            return -1;
        dh_error_free(err);
    }
    if (parse_into(c, c->path, err) < 0)
        return -1;
    *ret = TAKE_PTR(c);
    return 0;
}

const char *dh_dockerconfig_path(const struct dh_dockerconfig *c)
{
    return c->path;
}

json_t *dh_dockerconfig_root(struct dh_dockerconfig *c)
{
    return c->root;
}

/* The fields of docker's AuthConfig, the only ones a legacy entry holds. */
static bool authconfig_field(const char *k)
{
    static const char *const fields[] = {"auth",          "username",      "password",     "email",
                                         "serveraddress", "identitytoken", "registrytoken"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(fields); i++)
        if (!strcmp(k, fields[i]))
            return true;
    return false;
}

bool dh_dockerconfig_is_legacy(const struct dh_dockerconfig *c)
{
    const char *k, *f;
    json_t *v, *x;

    if (json_object_size(c->root) == 0 || json_object_get(c->root, "auths"))
        return false;
    /* Every top-level value must look like an auth entry: an object of strings
       with AuthConfig's field names only.  So a modern file without "auths"
       (only credHelpers, proxies, plugins, an unknown object...) is not legacy. */
    json_object_foreach (c->root, k, v) {
        if (!json_is_object(v))
            return false;
        json_object_foreach (v, f, x)
            if (!json_is_string(x) || !authconfig_field(f))
                return false;
    }
    return true;
}

json_t *dh_dockerconfig_auths(struct dh_dockerconfig *c, bool create)
{
    json_t *a;

    if (dh_dockerconfig_is_legacy(c))
        return c->root;
    a = json_object_get(c->root, "auths");
    if (!a && create) {
        a = json_object();
        json_object_set_new(c->root, "auths", a);
    }
    return json_is_object(a) ? a : NULL;
}

/* Go's encoding/json float format: the shortest decimal that round-trips,
   'f' notation for 1e-6 <= |x| < 1e21, else 'e' with a two-digit minimum
   exponent ("1e+21", "1e-07" cleaned to "1e-7"). */
static int put_real(struct dh_buf *out, double v, struct dh_error **err)
{
    char e[40], digits[24], res[400];
    int prec, exp10, nd = 0, i, k;
    double a = fabs(v);
    const char *q;

    if (!isfinite(v))
        return dh_error_make(err, EINVAL, "cannot encode a non-finite number");
    if (v == 0)
        return dh_buf_puts(out, signbit(v) ? "-0" : "0", err);
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    q = e + (e[0] == '-');
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    digits[nd] = '\0';
    exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    k = 0;
    if (v < 0)
        res[k++] = '-';
    if (a >= 1e-6 && a < 1e21) {
        if (exp10 < 0) {
            res[k++] = '0';
            res[k++] = '.';
            for (i = 0; i < -exp10 - 1; i++)
                res[k++] = '0';
            for (i = 0; i < nd; i++)
                res[k++] = digits[i];
        } else {
            for (i = 0; i <= exp10 || i < nd; i++) {
                if (i == exp10 + 1)
                    res[k++] = '.';
                res[k++] = i < nd ? digits[i] : '0';
            }
        }
        res[k] = '\0';
    } else {
        res[k++] = digits[0];
        if (nd > 1) {
            res[k++] = '.';
            for (i = 1; i < nd; i++)
                res[k++] = digits[i];
        }
        snprintf(res + k, sizeof(res) - (size_t)k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        /* Go: "e-07" -> "e-7" (only negative two-digit exponents with a leading 0). */
        if (exp10 < 0 && exp10 > -10) {
            size_t l = strlen(res);
            res[l - 2] = res[l - 1];
            res[l - 1] = '\0';
        }
    }
    return dh_buf_puts(out, res, err);
}

static int put_newline(const struct dh_dockerconfig *c, struct dh_buf *out, int depth,
                       struct dh_error **err)
{
    int i;

    if (dh_buf_append(out, "\n", 1, err) < 0)
        return -1;
    for (i = 0; i < depth; i++)
        if (dh_buf_puts(out, c->indent, err) < 0)
            return -1;
    return 0;
}

static int put_value(const struct dh_dockerconfig *c, struct dh_buf *out, json_t *v, int depth,
                     struct dh_error **err)
{
    const char *sep_item = c->compact ? (c->comma_space ? ", " : ",") : ",";
    const char *sep_key = c->colon_space ? ": " : ":";
    size_t n, i = 0;

    if (depth > MAX_DEPTH)
        return dh_error_make(err, E2BIG, "JSON nested too deeply");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;

        n = json_object_size(v);
        if (n == 0)
            return dh_buf_puts(out, "{}", err);
        if (dh_buf_append(out, "{", 1, err) < 0)
            return -1;
        json_object_foreach (v, k, x) {
            if (i++ && dh_buf_puts(out, sep_item, err) < 0)
                return -1;
            if (!c->compact && put_newline(c, out, depth + 1, err) < 0)
                return -1;
            if (dh_json_go_quote(out, k, err) < 0 || dh_buf_puts(out, sep_key, err) < 0 ||
                put_value(c, out, x, depth + 1, err) < 0)
                return -1;
        }
        if (!c->compact && put_newline(c, out, depth, err) < 0)
            return -1;
        return dh_buf_append(out, "}", 1, err);
    }
    case JSON_ARRAY:
        n = json_array_size(v);
        if (n == 0)
            return dh_buf_puts(out, "[]", err);
        if (dh_buf_append(out, "[", 1, err) < 0)
            return -1;
        for (i = 0; i < n; i++) {
            if (i && dh_buf_puts(out, sep_item, err) < 0)
                return -1;
            if (!c->compact && put_newline(c, out, depth + 1, err) < 0)
                return -1;
            if (put_value(c, out, json_array_get(v, i), depth + 1, err) < 0)
                return -1;
        }
        if (!c->compact && put_newline(c, out, depth, err) < 0)
            return -1;
        return dh_buf_append(out, "]", 1, err);
    case JSON_STRING:
        return dh_json_go_quote_n(out, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        return dh_buf_printf(out, err, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return put_real(out, json_real_value(v), err);
    case JSON_TRUE:
        return dh_buf_puts(out, "true", err);
    case JSON_FALSE:
        return dh_buf_puts(out, "false", err);
    case JSON_NULL:
        return dh_buf_puts(out, "null", err);
    }
    return dh_error_make(err, EINVAL, "unknown JSON type");
}

int dh_dockerconfig_serialize(const struct dh_dockerconfig *c, struct dh_buf *out,
                              struct dh_error **err)
{
    if (put_value(c, out, c->root, 0, err) < 0)
        return -1;
    if (c->final_newline)
        return dh_buf_append(out, "\n", 1, err);
    return 0;
}

bool dh_dockerconfig_changed(const struct dh_dockerconfig *c)
{
    /* A missing or empty file that is still empty stays as it is; a document
       that was not edited is not rewritten, even when dockhand would format it
       differently (e.g. a hand-written "<" docker would write as \u003c). */
    if (!c->existed)
        return json_object_size(c->root) != 0;
    return fingerprint(c->root) != c->fingerprint;
}

int dh_dockerconfig_save(struct dh_dockerconfig *c, bool *ret_written, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(DH_DOCKERCONFIG_MAX);
    _cleanup_free_ char *dir = NULL;

    if (ret_written)
        *ret_written = false;
    if (!c->resolved)
        return dh_error_make(err, EINVAL, "%s: an in-memory document cannot be saved", c->path);
    if (!dh_dockerconfig_changed(c))
        return 0;
    if (dh_dockerconfig_serialize(c, &b, err) < 0)
        return -1;
    dir = dh_dirname(c->resolved);
    if (dh_mkdir_p(dir, 0700, err) < 0 ||
        dh_write_file_atomic(c->resolved, b.data, b.len, 0600, true, err) < 0)
        return -1;
    c->existed = true;
    c->fingerprint = fingerprint(c->root);
    if (ret_written)
        *ret_written = true;
    return 0;
}

static bool is_hub_host(const char *h, size_t n)
{
    static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                      "registry.hub.docker.com"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(hub); i++)
        if (strlen(hub[i]) == n && strncmp(hub[i], h, n) == 0)
            return true;
    return false;
}

char *dh_dockerconfig_hostname(const char *key)
{
    const char *s = key ? key : "";
    size_t n, i;
    char *h;

    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strncmp(s, "https://", 8) == 0)
        s += 8;
    n = strcspn(s, "/");
    h = dh_xstrndup(s, n);
    for (i = 0; i < n; i++)
        if (h[i] >= 'A' && h[i] <= 'Z')
            h[i] = (char)(h[i] - 'A' + 'a');
    if (is_hub_host(h, n)) {
        free(h);
        return dh_xstrdup("index.docker.io");
    }
    return h;
}

char *dh_dockerconfig_key_for(const char *registry)
{
    char *h = dh_dockerconfig_hostname(registry);

    if (strcmp(h, "index.docker.io") == 0) {
        free(h);
        return dh_xstrdup("https://index.docker.io/v1/");
    }
    return h;
}

int dh_dockerconfig_entry_creds(json_t *entry, char **ret_user, char **ret_pass,
                                struct dh_error **err)
{
    const char *auth = json_string_value(json_object_get(entry, "auth"));
    const char *user = json_string_value(json_object_get(entry, "username"));
    const char *pass = json_string_value(json_object_get(entry, "password"));

    *ret_user = NULL;
    *ret_pass = NULL;
    /* docker/cli decodes "auth" over username/password when it is set. */
    if (auth && *auth) {
        _cleanup_buf_ struct dh_buf d = DH_BUF_INIT_SECRET(64 << 10);
        const char *colon;

        if (dh_base64_decode(auth, strlen(auth), &d, err) < 0)
            return dh_error_wrap(err, "the \"auth\" field is not valid base64");
        colon = d.len ? memchr(d.data, ':', d.len) : NULL;
        if (!colon || memchr(d.data, '\0', d.len))
            return dh_error_make(err, EINVAL, "the \"auth\" field is not \"user:password\"");
        *ret_user = dh_xstrndup(d.data, (size_t)(colon - d.data));
        *ret_pass = dh_xstrndup(colon + 1, d.len - (size_t)(colon - d.data) - 1);
        return 1;
    }
    if ((user && *user) || (pass && *pass)) {
        *ret_user = dh_xstrdup(user ? user : "");
        *ret_pass = dh_xstrdup(pass ? pass : "");
        return 1;
    }
    return 0;
}

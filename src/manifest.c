/* SPDX-License-Identifier: Apache-2.0 */
/* Manifests, indexes, platforms and digest checks (see manifest.h). */
#include "dockhand/manifest.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/imageref.h"
#include "dockhand/mem.h"

/* Longest piece of input quoted in an error. */
#define QUOTE_MAX 128

static const struct {
    const char *type;
    enum dh_manifest_kind kind;
} kinds[] = {
        {DH_MT_DOCKER_MANIFEST, DH_MANIFEST_DOCKER_V2},
        {DH_MT_DOCKER_LIST, DH_MANIFEST_DOCKER_LIST},
        {DH_MT_OCI_MANIFEST, DH_MANIFEST_OCI},
        {DH_MT_OCI_INDEX, DH_MANIFEST_OCI_INDEX},
        {DH_MT_DOCKER_SCHEMA1, DH_MANIFEST_SCHEMA1},
        {DH_MT_DOCKER_SCHEMA1S, DH_MANIFEST_SCHEMA1},
};

enum dh_manifest_kind dh_manifest_kind_of(const char *mt)
{
    size_t n, i;

    if (!mt)
        return DH_MANIFEST_UNKNOWN;
    while (*mt == ' ' || *mt == '\t')
        mt++;
    n = strcspn(mt, ";");
    while (n && (mt[n - 1] == ' ' || mt[n - 1] == '\t'))
        n--;
    for (i = 0; i < DH_ARRAY_SIZE(kinds); i++) {
        if (strlen(kinds[i].type) == n && !strncasecmp(mt, kinds[i].type, n))
            return kinds[i].kind;
    }
    return DH_MANIFEST_UNKNOWN;
}

static const char *kind_type(enum dh_manifest_kind k)
{
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(kinds); i++) {
        if (kinds[i].kind == k)
            return kinds[i].type;
    }
    return NULL;
}

/* ---- release ---- */

void dh_platform_release(struct dh_platform *p)
{
    size_t i;

    if (!p)
        return;
    free(p->os);
    free(p->architecture);
    free(p->variant);
    free(p->os_version);
    for (i = 0; i < p->n_os_features; i++)
        free(p->os_features[i]);
    free(p->os_features);
    memset(p, 0, sizeof(*p));
}

static void descriptor_release(struct dh_descriptor *d)
{
    size_t i;

    free(d->media_type);
    free(d->digest);
    for (i = 0; i < d->n_urls; i++)
        free(d->urls[i]);
    free(d->urls);
    for (i = 0; i < d->n_annotations; i++) {
        free(d->annotations[i].key);
        free(d->annotations[i].value);
    }
    free(d->annotations);
    if (d->platform) {
        dh_platform_release(d->platform);
        free(d->platform);
    }
    memset(d, 0, sizeof(*d));
}

void dh_manifest_release(struct dh_manifest *m)
{
    size_t i;

    if (!m)
        return;
    free(m->media_type);
    descriptor_release(&m->config);
    for (i = 0; i < m->n_layers; i++)
        descriptor_release(&m->layers[i]);
    free(m->layers);
    for (i = 0; i < m->n_manifests; i++)
        descriptor_release(&m->manifests[i]);
    free(m->manifests);
    memset(m, 0, sizeof(*m));
}

const char *dh_descriptor_annotation(const struct dh_descriptor *d, const char *key)
{
    size_t i;

    for (i = 0; i < d->n_annotations; i++) {
        if (!strcmp(d->annotations[i].key, key))
            return d->annotations[i].value;
    }
    return NULL;
}

/* ---- parsing ---- */

static int get_string(json_t *o, const char *key, bool required, const char *where, char **ret,
                      struct dh_error **err)
{
    json_t *v = json_object_get(o, key);

    *ret = NULL;
    if (!v) {
        if (required)
            return dh_error_make(err, EINVAL, "%s: no \"%s\"", where, key);
        return 0;
    }
    if (!json_is_string(v))
        return dh_error_make(err, EINVAL, "%s: \"%s\" is not a string", where, key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return dh_error_make(err, EINVAL, "%s: \"%s\" holds a NUL byte", where, key);
    *ret = dh_xstrdup(json_string_value(v));
    return 0;
}

static int get_string_array(json_t *o, const char *key, const char *where, char ***ret,
                            size_t *ret_n, struct dh_error **err)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i;

    if (!a)
        return 0;
    if (!json_is_array(a))
        return dh_error_make(err, EINVAL, "%s: \"%s\" is not an array", where, key);
    *ret = dh_xcalloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach (a, i, v) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return dh_error_make(err, EINVAL, "%s: \"%s\" holds a non-string", where, key);
        (*ret)[(*ret_n)++] = dh_xstrdup(json_string_value(v));
    }
    return 0;
}

static int parse_platform(json_t *o, const char *where, struct dh_platform *p,
                          struct dh_error **err)
{
    if (!json_is_object(o))
        return dh_error_make(err, EINVAL, "%s: \"platform\" is not an object", where);
    if (get_string(o, "architecture", true, where, &p->architecture, err) < 0 ||
        get_string(o, "os", true, where, &p->os, err) < 0 ||
        get_string(o, "variant", false, where, &p->variant, err) < 0 ||
        get_string(o, "os.version", false, where, &p->os_version, err) < 0 ||
        get_string_array(o, "os.features", where, &p->os_features, &p->n_os_features, err) < 0)
        return -1;
    return 0;
}

static int parse_descriptor(json_t *o, const char *where, struct dh_descriptor *d,
                            struct dh_error **err)
{
    json_t *size, *ann, *plat, *v;
    const char *k;

    if (!json_is_object(o))
        return dh_error_make(err, EINVAL, "%s is not an object", where);
    if (get_string(o, "mediaType", true, where, &d->media_type, err) < 0 ||
        get_string(o, "digest", true, where, &d->digest, err) < 0)
        return -1;
    if (dh_digest_validate(d->digest, err) < 0)
        return dh_error_wrap(err, "%s: digest '%.*s'", where, QUOTE_MAX, d->digest);
    size = json_object_get(o, "size");
    if (!size)
        return dh_error_make(err, EINVAL, "%s: no \"size\"", where);
    if (!json_is_integer(size))
        return dh_error_make(err, EINVAL, "%s: \"size\" is not an integer", where);
    d->size = (int64_t)json_integer_value(size);
    if (d->size < 0 || d->size > DH_MANIFEST_MAX_BLOB_SIZE)
        return dh_error_make(err, EINVAL, "%s: size %lld out of range (0..%lld)", where,
                             (long long)d->size, (long long)DH_MANIFEST_MAX_BLOB_SIZE);
    if (get_string_array(o, "urls", where, &d->urls, &d->n_urls, err) < 0)
        return -1;
    ann = json_object_get(o, "annotations");
    if (ann) {
        if (!json_is_object(ann))
            return dh_error_make(err, EINVAL, "%s: \"annotations\" is not an object", where);
        d->annotations = dh_xcalloc(json_object_size(ann) + 1, sizeof(*d->annotations));
        json_object_foreach (ann, k, v) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return dh_error_make(err, EINVAL, "%s: annotation '%.*s' is not a string", where,
                                     QUOTE_MAX, k);
            d->annotations[d->n_annotations].key = dh_xstrdup(k);
            d->annotations[d->n_annotations++].value = dh_xstrdup(json_string_value(v));
        }
    }
    plat = json_object_get(o, "platform");
    if (plat) {
        d->platform = dh_xcalloc(1, sizeof(*d->platform));
        if (parse_platform(plat, where, d->platform, err) < 0)
            return -1;
    }
    return 0;
}

static int parse_descriptor_array(json_t *root, const char *key, struct dh_descriptor **ret,
                                  size_t *ret_n, struct dh_error **err)
{
    json_t *a = json_object_get(root, key), *v;
    size_t i;

    if (!a)
        return dh_error_make(err, EINVAL, "manifest has no \"%s\"", key);
    if (!json_is_array(a))
        return dh_error_make(err, EINVAL, "manifest \"%s\" is not an array", key);
    *ret = dh_xcalloc(json_array_size(a) + 1, sizeof(**ret));
    json_array_foreach (a, i, v) {
        _cleanup_free_ char *where = dh_xasprintf("%s[%zu]", key, i);

        (*ret_n)++;
        if (parse_descriptor(v, where, &(*ret)[i], err) < 0)
            return -1;
    }
    return 0;
}

/* Content-Types that say nothing about the manifest kind. */
static bool generic_content_type(const char *ct)
{
    size_t n;

    if (!ct)
        return true;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, "; ");
    return n == 0 || (n == 16 && !strncasecmp(ct, "application/json", n)) ||
           (n == 10 && !strncasecmp(ct, "text/plain", n)) ||
           (n == 24 && !strncasecmp(ct, "application/octet-stream", n));
}

static int decide_kind(json_t *root, const char *content_type, struct dh_manifest *m,
                       struct dh_error **err)
{
    json_t *mt = json_object_get(root, "mediaType");
    const char *field = NULL;
    enum dh_manifest_kind k;

    if (mt) {
        if (!json_is_string(mt))
            return dh_error_make(err, EINVAL, "manifest \"mediaType\" is not a string");
        field = json_string_value(mt);
    }
    if (field) {
        k = dh_manifest_kind_of(field);
        if (k == DH_MANIFEST_UNKNOWN)
            return dh_error_make(err, EPROTONOSUPPORT, "unsupported manifest media type '%.*s'",
                                 QUOTE_MAX, field);
        if (!generic_content_type(content_type) && dh_manifest_kind_of(content_type) != k)
            return dh_error_make(err, EINVAL,
                                 "manifest media type '%.*s' differs from its Content-Type '%.*s'",
                                 QUOTE_MAX, field, QUOTE_MAX, content_type);
    } else if (!generic_content_type(content_type)) {
        k = dh_manifest_kind_of(content_type);
        if (k == DH_MANIFEST_UNKNOWN)
            return dh_error_make(err, EPROTONOSUPPORT, "unsupported manifest media type '%.*s'",
                                 QUOTE_MAX, content_type);
    } else if (json_object_get(root, "manifests")) {
        k = DH_MANIFEST_OCI_INDEX;
    } else if (json_object_get(root, "config") && json_object_get(root, "layers")) {
        k = DH_MANIFEST_OCI;
    } else if (json_object_get(root, "fsLayers")) {
        k = DH_MANIFEST_SCHEMA1;
    } else {
        return dh_error_make(err, EINVAL, "manifest has no media type and is no known kind");
    }
    /* Docker types always carry their mediaType field. */
    if (!field && (k == DH_MANIFEST_DOCKER_V2 || k == DH_MANIFEST_DOCKER_LIST))
        return dh_error_make(err, EINVAL, "manifest of type '%s' has no \"mediaType\"",
                             kind_type(k));
    m->kind = k;
    m->media_type = dh_xstrdup(kind_type(k));
    return 0;
}

int dh_manifest_parse(const void *data, size_t len, const char *content_type, struct dh_manifest *m,
                      struct dh_error **err)
{
    json_error_t jerr;
    json_t *root = NULL, *sv;
    int r = -1;

    memset(m, 0, sizeof(*m));
    if (len > DH_MANIFEST_MAX_BYTES)
        return dh_error_make(err, E2BIG, "manifest larger than %zu bytes", DH_MANIFEST_MAX_BYTES);
    root = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dh_error_make(err, EINVAL, "manifest is not valid JSON: %.*s (line %d)", QUOTE_MAX,
                             jerr.text, jerr.line);
    if (!json_is_object(root)) {
        dh_error_make(err, EINVAL, "manifest is not a JSON object");
        goto out;
    }
    sv = json_object_get(root, "schemaVersion");
    if (sv && json_is_integer(sv) && json_integer_value(sv) == 1) {
        dh_error_make(err, EPROTONOSUPPORT,
                      "schema 1 manifests are not supported (a deprecated format: push the "
                      "image again with a current client)");
        goto out;
    }
    if (decide_kind(root, content_type, m, err) < 0)
        goto out;
    if (m->kind == DH_MANIFEST_SCHEMA1) {
        dh_error_make(err, EPROTONOSUPPORT,
                      "schema 1 manifests are not supported (a deprecated format: push the "
                      "image again with a current client)");
        goto out;
    }
    if (!sv || !json_is_integer(sv) || json_integer_value(sv) != 2) {
        dh_error_make(err, EINVAL, "manifest \"schemaVersion\" is not 2");
        goto out;
    }
    if (dh_manifest_kind_is_index(m->kind)) {
        if (parse_descriptor_array(root, "manifests", &m->manifests, &m->n_manifests, err) < 0)
            goto out;
    } else {
        json_t *config = json_object_get(root, "config");

        if (!config) {
            dh_error_make(err, EINVAL, "manifest has no \"config\"");
            goto out;
        }
        if (parse_descriptor(config, "config", &m->config, err) < 0)
            goto out;
        if (parse_descriptor_array(root, "layers", &m->layers, &m->n_layers, err) < 0)
            goto out;
    }
    r = 0;
out:
    json_decref(root);
    if (r < 0)
        dh_manifest_release(m);
    return r;
}

/* ---- platforms ---- */

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v && *v ? dh_xstrdup(v) : NULL;
}

static void lower(char *s)
{
    for (; s && *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

/* containerd's Normalize. */
static void platform_normalize(struct dh_platform *p)
{
    const char *a = p->architecture ? p->architecture : "";
    const char *v = p->variant ? p->variant : "";

    lower(p->os);
    lower(p->architecture);
    lower(p->variant);
    if (p->os && !strcmp(p->os, "macos"))
        set_str(&p->os, "darwin");
    if (!strcmp(a, "i386") || !strcmp(a, "i686") || !strcmp(a, "386")) {
        set_str(&p->architecture, "386");
        set_str(&p->variant, NULL);
    } else if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64")) {
        set_str(&p->architecture, "amd64");
        if (!strcmp(v, "v1"))
            set_str(&p->variant, NULL);
    } else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
        set_str(&p->architecture, "arm64");
        if (!strcmp(v, "8") || !strcmp(v, "v8") || !strcmp(v, "v8.0"))
            set_str(&p->variant, NULL);
    } else if (!strcmp(a, "armhf")) {
        set_str(&p->architecture, "arm");
        set_str(&p->variant, "v7");
    } else if (!strcmp(a, "armel")) {
        set_str(&p->architecture, "arm");
        set_str(&p->variant, "v6");
    } else if (!strcmp(a, "arm")) {
        if (!*v || !strcmp(v, "7"))
            set_str(&p->variant, "v7");
        else if (!strcmp(v, "5") || !strcmp(v, "6") || !strcmp(v, "8")) {
            char buf[3] = {'v', v[0], 0};

            set_str(&p->variant, buf);
        }
    }
}

static bool platform_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 64)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int dh_platform_parse(const char *s, struct dh_platform *p, struct dh_error **err)
{
    const char *parts[3];
    size_t lens[3], n = 0;
    const char *c = s;

    memset(p, 0, sizeof(*p));
    for (;;) {
        size_t l = strcspn(c, "/");

        if (n == 3)
            goto bad;
        parts[n] = c;
        lens[n++] = l;
        if (!platform_token(c, l))
            goto bad;
        if (!c[l])
            break;
        c += l + 1;
    }
    if (n < 2)
        goto bad;
    p->os = dh_xstrndup(parts[0], lens[0]);
    p->architecture = dh_xstrndup(parts[1], lens[1]);
    if (n == 3)
        p->variant = dh_xstrndup(parts[2], lens[2]);
    platform_normalize(p);
    return 0;
bad:
    return dh_error_make(err, EINVAL, "invalid platform '%.*s' (expected os/arch[/variant])",
                         QUOTE_MAX, s);
}

void dh_platform_default(struct dh_platform *p)
{
    memset(p, 0, sizeof(*p));
    p->os = dh_xstrdup("linux");
#if defined(__x86_64__)
    p->architecture = dh_xstrdup("amd64");
#elif defined(__aarch64__)
    p->architecture = dh_xstrdup("arm64");
#elif defined(__arm__)
    p->architecture = dh_xstrdup("arm");
    p->variant = dh_xstrdup("v7");
#elif defined(__i386__)
    p->architecture = dh_xstrdup("386");
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    p->architecture = dh_xstrdup("ppc64le");
#elif defined(__s390x__)
    p->architecture = dh_xstrdup("s390x");
#elif defined(__riscv) && __riscv_xlen == 64
    p->architecture = dh_xstrdup("riscv64");
#else
    p->architecture = dh_xstrdup("unknown");
#endif
}

char *dh_platform_string(const struct dh_platform *p)
{
    return dh_xasprintf("%s/%s%s%s", p->os ? p->os : "", p->architecture ? p->architecture : "",
                        p->variant ? "/" : "", p->variant ? p->variant : "");
}

static void platform_copy(struct dh_platform *dst, const struct dh_platform *src)
{
    size_t i;

    memset(dst, 0, sizeof(*dst));
    set_str(&dst->os, src->os);
    set_str(&dst->architecture, src->architecture);
    set_str(&dst->variant, src->variant);
    set_str(&dst->os_version, src->os_version);
    if (src->n_os_features) {
        dst->os_features = dh_xcalloc(src->n_os_features, sizeof(char *));
        for (i = 0; i < src->n_os_features; i++)
            dst->os_features[i] = dh_xstrdup(src->os_features[i]);
        dst->n_os_features = src->n_os_features;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* The variant number of "vN" (N in 1..99), else -1. */
static int variant_num(const char *v)
{
    if (!v || v[0] != 'v' || v[1] < '1' || v[1] > '9')
        return -1;
    if (!v[2])
        return v[1] - '0';
    if (v[2] >= '0' && v[2] <= '9' && !v[3])
        return (v[1] - '0') * 10 + (v[2] - '0');
    return -1;
}

int dh_platform_rank(const struct dh_platform *want_in, const struct dh_platform *have_in)
{
    struct dh_platform want, have;
    int rank = -1, wn, hn;
    size_t i, j;

    platform_copy(&want, want_in);
    platform_copy(&have, have_in);
    platform_normalize(&want);
    platform_normalize(&have);
    if (!str_eq(want.os, have.os))
        goto out;
    if (want.os_version && !str_eq(want.os_version, have.os_version))
        goto out;
    for (i = 0; i < want.n_os_features; i++) {
        for (j = 0; j < have.n_os_features; j++) {
            if (!strcmp(want.os_features[i], have.os_features[j]))
                break;
        }
        if (j == have.n_os_features)
            goto out;
    }
    if (str_eq(want.architecture, have.architecture) && str_eq(want.variant, have.variant)) {
        rank = 0;
        goto out;
    }
    wn = variant_num(want.variant);
    hn = variant_num(have.variant);
    if (str_eq(want.architecture, "amd64")) {
        /* amd64 vN, then v(N-1) .. v2, then v1 (no variant), then 386 */
        if (str_eq(have.architecture, "amd64")) {
            if (!have.variant && wn > 1)
                rank = wn - 1;
            else if (hn > 1 && wn > hn)
                rank = wn - hn;
        } else if (str_eq(have.architecture, "386") && !have.variant) {
            rank = wn > 1 ? wn : 1;
        }
    } else if (str_eq(want.architecture, "arm")) {
        /* arm vN, then v(N-1) .. v5 */
        if (str_eq(have.architecture, "arm") && wn > 5 && hn >= 5 && hn < wn)
            rank = wn - hn;
    } else if (str_eq(want.architecture, "arm64")) {
        /* arm64 (v8), then arm v8, v7, v6, v5 */
        if (!want.variant && str_eq(have.architecture, "arm") && hn >= 5 && hn <= 8)
            rank = 1 + (8 - hn);
    }
out:
    dh_platform_release(&want);
    dh_platform_release(&have);
    return rank;
}

long dh_manifest_select(const struct dh_manifest *m, const struct dh_platform *want,
                        struct dh_error **err)
{
    static char linux_os[] = "linux", amd64_arch[] = "amd64";
    struct dh_platform amd64 = {.os = linux_os, .architecture = amd64_arch};
    long best = -1;
    int best_rank = -1;
    size_t i;

    for (i = 0; i < m->n_manifests; i++) {
        const struct dh_descriptor *d = &m->manifests[i];
        enum dh_manifest_kind k = dh_manifest_kind_of(d->media_type);
        int rank;

        if (k == DH_MANIFEST_UNKNOWN || k == DH_MANIFEST_SCHEMA1)
            continue;
        rank = dh_platform_rank(want, d->platform ? d->platform : &amd64);
        if (rank >= 0 && (best < 0 || rank < best_rank)) {
            best = (long)i;
            best_rank = rank;
        }
    }
    if (best < 0) {
        _cleanup_free_ char *w = dh_platform_string(want);
        char list[512];
        size_t used = 0;

        list[0] = '\0';
        for (i = 0; i < m->n_manifests && used < sizeof(list) - 1; i++) {
            const struct dh_platform *p = m->manifests[i].platform;
            _cleanup_free_ char *s = p ? dh_platform_string(p) : dh_xstrdup("(none)");
            int n = snprintf(list + used, sizeof(list) - used, "%s%.*s", used ? ", " : "", 64, s);

            if (n < 0)
                break;
            used += (size_t)n;
            if (used >= sizeof(list))
                used = sizeof(list) - 1;
        }
        dh_error_make(err, ENOENT, "no manifest for platform '%s' in the index (it has: %s)", w,
                      m->n_manifests ? list : "nothing");
    }
    return best;
}

/* ---- digests ---- */

char *dh_digest_sha256(const void *data, size_t len)
{
    uint8_t md[DH_SHA256_LEN];
    _cleanup_free_ char *hex = NULL;

    dh_sha256(data ? data : "", len, md);
    hex = dh_hex(md, sizeof(md));
    return dh_xasprintf("sha256:%s", hex);
}

static int check_algo(const char *d, const char *what, struct dh_error **err)
{
    if (strncmp(d, "sha256:", 7) != 0) {
        size_t n = strcspn(d, ":");

        return dh_error_make(err, ENOTSUP, "cannot verify %s digest of algorithm '%.*s'", what,
                             (int)(n > 32 ? 32 : n), d);
    }
    return 0;
}

int dh_digest_check(const void *data, size_t len, const char *asked, const char *header,
                    char **ret_digest, struct dh_error **err)
{
    _cleanup_free_ char *got = NULL;

    if (asked && (dh_digest_validate(asked, err) < 0 || check_algo(asked, "the expected", err) < 0))
        return -1;
    if (header && dh_digest_validate(header, err) < 0)
        return dh_error_wrap(err, "registry sent an invalid Docker-Content-Digest");
    got = dh_digest_sha256(data, len);
    if (asked && strcmp(asked, got) != 0)
        return dh_error_make(err, EBADMSG, "digest mismatch: expected %s, got %s", asked, got);
    if (header) {
        if (check_algo(header, "the Docker-Content-Digest", err) < 0)
            return -1;
        if (strcmp(header, got) != 0)
            return dh_error_make(err, EBADMSG,
                                 "registry sent Docker-Content-Digest %s for content with "
                                 "digest %s",
                                 header, got);
    }
    if (ret_digest)
        *ret_digest = TAKE_PTR(got);
    return 0;
}

/* ---- Docker -> OCI ---- */

static const struct {
    const char *docker, *oci;
} layer_types[] = {
        {"application/vnd.docker.image.rootfs.diff.tar.gzip",
         "application/vnd.oci.image.layer.v1.tar+gzip"},
        {"application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar"},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
         "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"},
        /* already OCI (some tools mix them): kept */
        {"application/vnd.oci.image.layer.v1.tar+gzip",
         "application/vnd.oci.image.layer.v1.tar+gzip"},
        {"application/vnd.oci.image.layer.v1.tar+zstd",
         "application/vnd.oci.image.layer.v1.tar+zstd"},
        {"application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar"},
};

int dh_manifest_docker_to_oci(const void *data, size_t len, struct dh_buf *out,
                              struct dh_error **err)
{
    struct dh_manifest m;
    json_t *root = NULL, *config, *layers, *l;
    char *text = NULL;
    size_t i, k;
    int r = -1;

    if (dh_manifest_parse(data, len, DH_MT_DOCKER_MANIFEST, &m, err) < 0)
        return -1;
    if (m.kind != DH_MANIFEST_DOCKER_V2) {
        dh_manifest_release(&m);
        return dh_error_make(err, EINVAL, "not a Docker v2 schema 2 manifest");
    }
    dh_manifest_release(&m);
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return dh_error_make(err, EINVAL, "manifest is not valid JSON");
    json_object_set_new(root, "mediaType", json_string(DH_MT_OCI_MANIFEST));
    config = json_object_get(root, "config");
    if (!strcmp(json_string_value(json_object_get(config, "mediaType")), DH_MT_DOCKER_CONFIG))
        json_object_set_new(config, "mediaType", json_string(DH_MT_OCI_CONFIG));
    else {
        dh_error_make(err, EINVAL, "config of media type '%.*s' has no OCI equivalent", QUOTE_MAX,
                      json_string_value(json_object_get(config, "mediaType")));
        goto out;
    }
    layers = json_object_get(root, "layers");
    json_array_foreach (layers, i, l) {
        const char *mt = json_string_value(json_object_get(l, "mediaType"));

        for (k = 0; k < DH_ARRAY_SIZE(layer_types); k++) {
            if (!strcmp(mt, layer_types[k].docker))
                break;
        }
        if (k == DH_ARRAY_SIZE(layer_types)) {
            dh_error_make(err, EINVAL, "layer %zu of media type '%.*s' has no OCI equivalent", i,
                          QUOTE_MAX, mt);
            goto out;
        }
        json_object_set_new(l, "mediaType", json_string(layer_types[k].oci));
    }
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        dh_oom();
    r = dh_buf_puts(out, text, err);
out:
    free(text);
    json_decref(root);
    return r;
}

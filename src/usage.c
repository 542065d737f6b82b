/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/fsutil.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/xdg.h"

#define LEDGER_VERSION    1
#define LEDGER_MAX        ((size_t)16 << 20)
#define LEDGER_LOCK_MS    10000
#define CACHE_FILE_MAX    ((size_t)1 << 20)
#define CACHE_VERSION     1
#define MARKER_DIGEST_LEN 16

int dh_usage_state_dir(char **ret, struct dh_error **err)
{
    const char *v = secure_getenv("XDG_STATE_HOME");
    _cleanup_free_ char *home = NULL;

    /* XDG Base Directory 0.8: a relative or empty value is ignored. */
    if (v && v[0] == '/') {
        *ret = dh_xasprintf("%s/dockhand", v);
        return 0;
    }
    if (dh_home_dir(&home, err) < 0)
        return -1;
    *ret = dh_xasprintf("%s/.local/state/dockhand", home);
    return 0;
}

/* "<state>/seen" and the marker's file name for registry. */
static int marker_path(const char *registry, char **ret_dir, char **ret_path, char **ret_host,
                       struct dh_error **err)
{
    _cleanup_free_ char *state = NULL, *host = dh_dockerconfig_hostname(registry), *hex = NULL;
    uint8_t digest[DH_SHA256_LEN];

    if (dh_usage_state_dir(&state, err) < 0)
        return -1;
    dh_sha256(host, strlen(host), digest);
    hex = dh_hex(digest, MARKER_DIGEST_LEN);
    *ret_dir = dh_xasprintf("%s/seen", state);
    *ret_path = dh_xasprintf("%s/seen/%s", state, hex);
    if (ret_host)
        *ret_host = TAKE_PTR(host);
    return 0;
}

static int marker_create(const char *dir, const char *path, const char *host, struct dh_error **err)
{
    _cleanup_close_ int fd = -1;
    size_t n = strlen(host);

    if (dh_mkdir_p(dir, 0700, err) < 0)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) /* another get made it just now */
            return 0;
        return dh_error_sys(err, errno, "cannot create '%s'", path);
    }
    /* The hostname, so that a person can tell the markers apart. */
    if (write(fd, host, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
        return dh_error_sys(err, errno, "cannot write '%s'", path);
    return 0;
}

void dh_usage_record(const char *registry)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *dir = NULL, *path = NULL, *host = NULL;

    if (marker_path(registry, &dir, &path, &host, &err) < 0)
        goto fail;
    if (utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW) == 0)
        return;
    if (errno != ENOENT) {
        dh_error_sys(&err, errno, "cannot touch '%s'", path);
        goto fail;
    }
    if (marker_create(dir, path, host, &err) == 0)
        return;
fail:
    dh_log_debug("not recording the use of '%s': %s", registry, err->msg);
}

int dh_usage_last_used(const char *registry, int64_t *ret)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *dir = NULL, *path = NULL;
    struct stat st;

    if (marker_path(registry, &dir, &path, NULL, &err) < 0)
        return 0;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    *ret = (int64_t)st.st_mtim.tv_sec;
    return 1;
}

/* ---- the minted-token ledger ---- */

struct minted_entry {
    uint8_t digest[DH_SHA256_LEN];
    int64_t expires_at;
};

struct dh_minted {
    struct minted_entry *v;
    size_t n, cap;
};

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int hex_digest(const char *s, uint8_t out[DH_SHA256_LEN])
{
    size_t i;

    if (!s || strlen(s) != 2 * DH_SHA256_LEN)
        return -1;
    for (i = 0; i < DH_SHA256_LEN; i++) {
        int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void minted_push(struct dh_minted *m, const uint8_t digest[DH_SHA256_LEN], int64_t exp)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->v = dh_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    memcpy(m->v[m->n].digest, digest, DH_SHA256_LEN);
    m->v[m->n].expires_at = exp;
    m->n++;
}

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(((const struct minted_entry *)a)->digest,
                  ((const struct minted_entry *)b)->digest, DH_SHA256_LEN);
}

static int ledger_paths(char **ret_dir, char **ret_file, char **ret_lock, struct dh_error **err)
{
    _cleanup_free_ char *state = NULL;

    if (dh_usage_state_dir(&state, err) < 0)
        return -1;
    *ret_file = dh_xasprintf("%s/minted.json", state);
    if (ret_lock)
        *ret_lock = dh_xasprintf("%s/minted.lock", state);
    *ret_dir = TAKE_PTR(state);
    return 0;
}

/* Reads the ledger's entries array (a new reference; an empty array when the file is
   missing or malformed, with a warning for the latter). */
static json_t *ledger_read(const char *file)
{
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT(LEDGER_MAX);
    _cleanup_error_ struct dh_error *e = NULL;
    json_auto_t *j = NULL;
    json_t *tokens;

    if (dh_read_file(file, &raw, &e) < 0) {
        if (e->status != ENOENT)
            dh_log_warn("%s, ignoring the minted-token ledger", e->msg);
        return json_array();
    }
    j = json_loadb(raw.data, raw.len, 0, NULL);
    tokens = json_object_get(j, "tokens");
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "version")) != LEDGER_VERSION ||
        !json_is_array(tokens)) {
        dh_log_warn("minted-token ledger '%s' is malformed, ignoring it", file);
        return json_array();
    }
    return json_incref(tokens);
}

int dh_minted_add(const char *registry, const char *secret, int64_t expires_at, int64_t now,
                  struct dh_error **err)
{
    _cleanup_free_ char *dir = NULL, *file = NULL, *lockpath = NULL, *hex = NULL;
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    json_auto_t *old = NULL, *kept = json_array(), *doc = NULL;
    uint8_t digest[DH_SHA256_LEN];
    json_t *e;
    size_t i;
    char *text;
    int r;

    if (ledger_paths(&dir, &file, &lockpath, err) < 0 || dh_mkdir_p(dir, 0700, err) < 0 ||
        dh_lock_acquire(lockpath, LEDGER_LOCK_MS, &lock, err) < 0)
        return -1;
    dh_sha256(secret, strlen(secret), digest);
    hex = dh_hex(digest, DH_SHA256_LEN);
    old = ledger_read(file);
    json_array_foreach (old, i, e) {
        json_t *exp = json_object_get(e, "expires_at");
        const char *h = json_string_value(json_object_get(e, "sha256"));

        if (!json_is_integer(exp) || !h || !strcmp(h, hex) ||
            json_integer_value(exp) > INT64_MAX - DH_MINTED_KEEP_SECONDS ||
            json_integer_value(exp) + DH_MINTED_KEEP_SECONDS <= now)
            continue;
        json_array_append(kept, e);
    }
    json_array_append_new(kept, json_pack("{s:s, s:s, s:I}", "sha256", hex, "registry", registry,
                                          "expires_at", (json_int_t)expires_at));
    doc = json_pack("{s:i, s:O}", "version", LEDGER_VERSION, "tokens", kept);
    if (!doc)
        return dh_error_make(err, EINVAL, "cannot encode the minted-token ledger");
    text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        dh_oom();
    r = dh_write_file_atomic(file, text, strlen(text), 0600, false, err);
    free(text);
    return r;
}

void dh_minted_record(const char *registry, const char *secret, int64_t expires_at)
{
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_minted_add(registry, secret, expires_at, (int64_t)time(NULL), &err) < 0)
        dh_log_warn("%s, not recording the minted token for '%s'", err->msg, registry);
}

static void load_ledger(struct dh_minted *m, const char *file)
{
    json_auto_t *tokens = ledger_read(file);
    json_t *e;
    size_t i;

    json_array_foreach (tokens, i, e) {
        json_t *exp = json_object_get(e, "expires_at");
        uint8_t digest[DH_SHA256_LEN];

        if (json_is_integer(exp) &&
            hex_digest(json_string_value(json_object_get(e, "sha256")), digest) == 0)
            minted_push(m, digest, (int64_t)json_integer_value(exp));
    }
}

/* The token cache's files (src/tokencache.c, version 1): {"secret", "expires_at", ...}. */
static void load_cache(struct dh_minted *m)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *base = NULL, *dir = NULL;
    _cleanup_dir_ DIR *d = NULL;
    struct dirent *de;

    if (dh_xdg_dir(DH_XDG_CACHE, &base, &err) < 0)
        return;
    dir = dh_xasprintf("%s/tokens", base);
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        _cleanup_free_ char *path = NULL;
        _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT_SECRET(CACHE_FILE_MAX);
        _cleanup_error_ struct dh_error *e = NULL;
        json_auto_t *j = NULL;
        json_t *exp;
        const char *secret;
        uint8_t digest[DH_SHA256_LEN];

        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        path = dh_xasprintf("%s/%s", dir, de->d_name);
        if (dh_read_file(path, &raw, &e) < 0)
            continue;
        j = json_loadb(raw.data, raw.len, 0, NULL);
        exp = json_object_get(j, "expires_at");
        secret = json_string_value(json_object_get(j, "secret"));
        if (json_integer_value(json_object_get(j, "version")) != CACHE_VERSION ||
            !json_is_integer(exp) || !secret)
            continue;
        dh_sha256(secret, strlen(secret), digest);
        minted_push(m, digest, (int64_t)json_integer_value(exp));
    }
}

int dh_minted_load(struct dh_minted **ret, struct dh_error **err)
{
    _cleanup_free_ char *dir = NULL, *file = NULL;
    struct dh_minted *m;

    if (ledger_paths(&dir, &file, NULL, err) < 0)
        return -1;
    m = dh_xcalloc(1, sizeof(*m));
    load_ledger(m, file);
    load_cache(m);
    if (m->n > 1)
        qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
    *ret = m;
    return 0;
}

void dh_minted_free(struct dh_minted *m)
{
    if (!m)
        return;
    free(m->v);
    free(m);
}

size_t dh_minted_count(const struct dh_minted *m)
{
    return m ? m->n : 0;
}

int dh_minted_find(const struct dh_minted *m, const char *secret, int64_t *ret_expires_at)
{
    struct minted_entry key;
    const struct minted_entry *hit;

    if (!m || !m->n || !secret)
        return 0;
    dh_sha256(secret, strlen(secret), key.digest);
    hit = bsearch(&key, m->v, m->n, sizeof(*m->v), cmp_entry);
    if (!hit)
        return 0;
    *ret_expires_at = hit->expires_at;
    return 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/tokencache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/usage.h"
#include "dockhand/xdg.h"

#define CACHE_VERSION   1
#define CACHE_FILE_MAX  (1u << 20)
#define LOCK_TIMEOUT_MS 90000

struct cached {
    struct dh_token *token;
    int64_t issued_at;
};

int64_t dh_token_margin(int64_t lifetime)
{
    int64_t tenth = lifetime / 10;

    return tenth < 60 ? (tenth > 0 ? tenth : 0) : 60;
}

static int cache_paths(const struct dh_token_request *req, char **ret_dir, char **ret_file,
                       char **ret_lock, struct dh_error **err)
{
    _cleanup_free_ char *base = NULL, *key = NULL, *hex = NULL;
    uint8_t digest[DH_SHA256_LEN];

    if (dh_xdg_dir(DH_XDG_CACHE, &base, err) < 0)
        return -1;
    key = dh_xasprintf("%s%c%s%c%s", req->provider, 0, req->identity, 0, req->registry);
    {
        size_t n = strlen(req->provider) + strlen(req->identity) + strlen(req->registry) + 2;
        dh_sha256(key, n, digest);
    }
    hex = dh_hex(digest, 16);
    *ret_dir = dh_xasprintf("%s/tokens", base);
    *ret_file = dh_xasprintf("%s/tokens/%s-%s.json", base, req->provider, hex);
    *ret_lock = dh_xasprintf("%s/tokens/%s-%s.lock", base, req->provider, hex);
    return 0;
}

/* Reads the cache entry; returns 0 with c->token NULL when absent or unusable. */
static void cache_read(const char *file, struct cached *c)
{
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT_SECRET(CACHE_FILE_MAX);
    _cleanup_error_ struct dh_error *e = NULL;
    json_auto_t *j = NULL;
    const char *user, *secret, *source;
    json_int_t issued, expires;

    c->token = NULL;
    if (dh_read_file(file, &raw, &e) < 0) {
        if (e->status != ENOENT)
            dh_log_warn("%s, ignoring the cached token", e->msg);
        return;
    }
    j = json_loadb(raw.data, raw.len, 0, NULL);
    if (json_unpack(j, "{s:i, s:s, s:s, s:s, s:I, s:I}", "version", &(int){0}, "username", &user,
                    "secret", &secret, "source", &source, "issued_at", &issued, "expires_at",
                    &expires) != 0 ||
        json_integer_value(json_object_get(j, "version")) != CACHE_VERSION) {
        dh_log_warn("token cache file '%s' is malformed, ignoring it", file);
        return;
    }
    c->token = dh_token_new(user, secret, expires, source);
    c->issued_at = issued;
}

static int cache_write(const char *dir, const char *file, const struct dh_token_request *req,
                       const struct dh_token *t, int64_t issued_at, struct dh_error **err)
{
    json_auto_t *j = NULL;
    char *text;
    int r;

    if (dh_mkdir_p(dir, 0700, err) < 0)
        return -1;
    j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "version", CACHE_VERSION,
                  "provider", req->provider, "registry", req->registry, "identity", req->identity,
                  "username", t->username, "secret", t->secret, "source", t->source, "issued_at",
                  (json_int_t)issued_at, "expires_at", (json_int_t)t->expires_at);
    if (!j)
        return dh_error_make(err, EINVAL, "cannot encode the token for '%s'", req->registry);
    text = json_dumps(j, JSON_COMPACT);
    if (!text)
        dh_oom();
    r = dh_write_file_atomic(file, text, strlen(text), 0600, false, err);
    dh_str_free_wipe(text);
    return r;
}

static bool is_fresh(const struct cached *c, int64_t now)
{
    return c->token && now < c->issued_at + (c->token->expires_at - c->issued_at) / 2;
}

static bool is_servable(const struct cached *c, int64_t now)
{
    return c->token &&
           now < c->token->expires_at - dh_token_margin(c->token->expires_at - c->issued_at);
}

static struct dh_token *take(struct cached *c)
{
    return TAKE_PTR(c->token);
}

int dh_token_cache_get(const struct dh_token_request *req, struct dh_token **ret,
                       struct dh_error **err)
{
    _cleanup_free_ char *dir = NULL, *file = NULL, *lockpath = NULL;
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    _cleanup_error_ struct dh_error *mint_err = NULL;
    struct cached c = {NULL, 0};
    struct dh_token *fresh = NULL;
    int64_t now = (int64_t)time(NULL);

    if (cache_paths(req, &dir, &file, &lockpath, err) < 0)
        return -1;
    cache_read(file, &c);
    if (is_fresh(&c, now)) {
        *ret = take(&c);
        return 0;
    }
    dh_token_free(c.token);
    c.token = NULL;

    /* Single flight: whoever holds the lock refreshes; the others find its result. */
    if (dh_mkdir_p(dir, 0700, err) < 0 ||
        dh_lock_acquire(lockpath, LOCK_TIMEOUT_MS, &lock, err) < 0)
        return -1;
    cache_read(file, &c);
    now = (int64_t)time(NULL);
    if (is_fresh(&c, now)) {
        *ret = take(&c);
        return 0;
    }
    if (req->mint(req->mint_arg, &fresh, &mint_err) == 0) {
        _cleanup_error_ struct dh_error *werr = NULL;
        int64_t issued = (int64_t)time(NULL);

        if (fresh->expires_at <= issued) {
            dh_error_make(&mint_err, EPROTO, "%s returned a token that is already expired",
                          fresh->source);
            dh_token_free(fresh);
        } else {
            if (cache_write(dir, file, req, fresh, issued, &werr) < 0)
                dh_log_warn("%s, not caching the token", werr->msg);
            dh_minted_record(req->registry, fresh->secret, fresh->expires_at); /* for prune */
            dh_token_free(c.token);
            *ret = fresh;
            return 0;
        }
    }
    if (is_servable(&c, now)) {
        dh_log_warn("refreshing the token for '%s' failed (%s); using the cached one, valid "
                    "for %lld more seconds",
                    req->registry, mint_err->msg, (long long)(c.token->expires_at - now));
        *ret = take(&c);
        return 0;
    }
    dh_token_free(c.token);
    dh_error_move(err, &mint_err);
    return -1;
}

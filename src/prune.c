/* SPDX-License-Identifier: Apache-2.0 */
/* The rules of `dockhand prune`; see include/dockhand/prune.h and docs/prune.md. */
#include "dockhand/prune.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/base64.h"
#include "dockhand/cleanup.h"
#include "dockhand/ecr.h"
#include "dockhand/mem.h"

#define HELPER_DOCKHAND "dockhand"

/* What an auths entry is, once examined. */
enum entry_state {
    ST_VALID,         /* credentials not known to be expired */
    ST_EXPIRED,       /* credentials with a known expiry in the past */
    ST_UNREADABLE,    /* an "auth" that cannot be decoded */
    ST_EMPTY_LIVE,    /* no credentials; its helper holds some */
    ST_EMPTY_STALE,   /* no credentials and nothing behind them */
    ST_EMPTY_UNKNOWN, /* no credentials; the helper could not be asked */
};

struct entry {
    const char *key; /* borrowed from the document */
    char *host;      /* dh_dockerconfig_hostname(key) */
    size_t index;    /* file order */
    enum entry_state st;
    int64_t expires_at; /* 0: unknown */
    bool has_creds;
    bool removed;
    const struct entry *dup_of; /* rule 4: the entry kept instead of this one */
    char *reason;               /* why it is expired, stale, unreadable or kept */
};

struct ctx {
    const struct dh_prune_options *opt;
    const struct dh_prune_ops *ops;
    void *arg;
    struct dh_prune_result *res;
    json_t *eff_helpers;     /* credHelpers entries still in force: key -> helper */
    json_t *helper_seen;     /* helper name -> true/false (on PATH), asked once each */
    const char *creds_store; /* NULL when none (or removed) */
};

static const char *const rule_names[] = {"expired",        "empty",  "duplicate",
                                         "missing-helper", "unused", "unreadable"};

const char *dh_prune_rule_name(enum dh_prune_rule rule)
{
    return (unsigned)rule < DH_ARRAY_SIZE(rule_names) ? rule_names[rule] : "?";
}

const char *dh_prune_section_name(enum dh_prune_section section)
{
    switch (section) {
    case DH_PRUNE_AUTHS:
        return "auths";
    case DH_PRUNE_CRED_HELPERS:
        return "credHelpers";
    case DH_PRUNE_CREDS_STORE:
        return "credsStore";
    }
    return "?";
}

static void add_action(struct dh_prune_result *r, enum dh_prune_rule rule,
                       enum dh_prune_section section, const char *key, bool remove,
                       const char *reason)
{
    struct dh_prune_action *a;

    if (r->n_actions == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->actions = dh_xrealloc(r->actions, r->cap * sizeof(*r->actions));
    }
    a = &r->actions[r->n_actions++];
    a->rule = rule;
    a->section = section;
    a->key = dh_xstrdup(key);
    a->reason = dh_xstrdup(reason);
    a->remove = remove;
    if (remove)
        r->n_removed++;
}

void dh_prune_result_release(struct dh_prune_result *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n_actions; i++) {
        free(r->actions[i].key);
        free(r->actions[i].reason);
    }
    free(r->actions);
    memset(r, 0, sizeof(*r));
}

static void fmt_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, 32, "@%lld", (long long)t);
}

static void fmt_span(int64_t s, char buf[32])
{
    if (s >= 86400)
        snprintf(buf, 32, "%lldd", (long long)(s / 86400));
    else if (s >= 3600)
        snprintf(buf, 32, "%lldh", (long long)(s / 3600));
    else if (s >= 60)
        snprintf(buf, 32, "%lldm", (long long)(s / 60));
    else
        snprintf(buf, 32, "%llds", (long long)(s > 0 ? s : 0));
}

/* A key usable as a registry: no NUL inside (jansson keys may hold one). */
static bool plain_key(const char *key, size_t len)
{
    return strlen(key) == len;
}

static bool helper_exists(struct ctx *x, const char *name)
{
    json_t *v = json_object_get(x->helper_seen, name);
    bool ok;

    if (v)
        return json_is_true(v);
    ok = x->ops->helper_exists(x->arg, name);
    json_object_set_new(x->helper_seen, name, json_boolean(ok));
    return ok;
}

/* Rule 1: credHelpers entries and the credsStore naming a helper not on PATH. */
static void rule_missing_helpers(struct ctx *x, json_t *helpers, const char *store)
{
    const char *key;
    size_t klen;
    json_t *v;
    char why[300];

    json_object_keylen_foreach(helpers, key, klen, v)
    {
        const char *name = json_string_value(v);

        if (!plain_key(key, klen) || !name || !*name)
            continue;
        if (!helper_exists(x, name)) {
            snprintf(why, sizeof(why), "docker-credential-%.200s is not on PATH", name);
            add_action(x->res, DH_PRUNE_MISSING_HELPER, DH_PRUNE_CRED_HELPERS, key, x->opt->helpers,
                       why);
            if (x->opt->helpers)
                continue;
        }
        json_object_set_new(x->eff_helpers, key, json_string(name));
    }
    x->creds_store = store && *store ? store : NULL;
    if (x->creds_store && !helper_exists(x, x->creds_store)) {
        snprintf(why, sizeof(why), "docker-credential-%.200s is not on PATH", x->creds_store);
        add_action(x->res, DH_PRUNE_MISSING_HELPER, DH_PRUNE_CREDS_STORE, x->creds_store,
                   x->opt->helpers, why);
        if (x->opt->helpers)
            x->creds_store = NULL;
    }
}

/* The helper docker uses for an auths entry: credHelpers[key], credHelpers[hostname],
   else credsStore; NULL when none. */
static const char *helper_for(const struct ctx *x, const struct entry *e)
{
    const char *h = json_string_value(json_object_get(x->eff_helpers, e->key));

    if (!h)
        h = json_string_value(json_object_get(x->eff_helpers, e->host));
    return h ? h : x->creds_store;
}

static bool nonempty_string(json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));

    return s && *s;
}

/* Does the entry hold any credential field (what a `{}` entry lacks)? */
static bool has_cred_fields(json_t *v)
{
    return nonempty_string(v, "auth") || nonempty_string(v, "username") ||
           nonempty_string(v, "password") || nonempty_string(v, "identitytoken") ||
           nonempty_string(v, "registrytoken");
}

/* Decodes s[0..n) (base64), appending to out (a secret buffer; its max caps it). */
static int b64_part(const char *s, size_t n, struct dh_buf *out)
{
    return dh_base64_decode(s, n, out, NULL);
}

/* Reads `"expiration": <digits>}` backwards from the end of a JSON text. */
static int tail_expiration(const char *p, size_t n, int64_t *ret)
{
    static const char name[] = "\"expiration\"";
    size_t k = n, end, nl = sizeof(name) - 1;
    int64_t v = 0, mul = 1;

#define SKIP_WS()                                                                                  \
    while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '\n' || p[k - 1] == '\r')) \
    k--
    SKIP_WS();
    if (k == 0 || p[--k] != '}')
        return -1;
    SKIP_WS();
    end = k;
    while (k > 0 && p[k - 1] >= '0' && p[k - 1] <= '9' && end - k < 18) {
        v += (p[k - 1] - '0') * mul;
        mul *= 10;
        k--;
    }
    /* 1 to 18 digits, no leading zero, not part of a longer number */
    if (k == end || (k > 0 && (p[k - 1] >= '0' && p[k - 1] <= '9')) || p[k] == '0' ||
        (k > 0 && (p[k - 1] == '-' || p[k - 1] == '.')))
        return -1;
    SKIP_WS();
    if (k == 0 || p[--k] != ':')
        return -1;
    SKIP_WS();
    if (k < nl || memcmp(p + k - nl, name, nl) != 0)
        return -1;
    k -= nl;
    SKIP_WS();
    if (k == 0 || (p[k - 1] != ',' && p[k - 1] != '{'))
        return -1;
#undef SKIP_WS
    *ret = v;
    return 0;
}

int dh_prune_ecr_auth_expiry(const char *auth, int64_t *ret)
{
    _cleanup_buf_ struct dh_buf head = DH_BUF_INIT_SECRET(16);
    _cleanup_buf_ struct dh_buf mid = DH_BUF_INIT_SECRET(256);
    _cleanup_buf_ struct dh_buf json = DH_BUF_INIT_SECRET(256);
    size_t len = strlen(auth), pad = 0, dlen, plen, j0, b0, skip;

    /* base64 of "AWS:" starts with "QVdTO": skip the others without decoding */
    if (len < 8 || len % 4 != 0 || strncmp(auth, "QVdTO", 5) != 0)
        return -1;
    if (auth[len - 1] == '=')
        pad = auth[len - 2] == '=' ? 2 : 1;
    dlen = len / 4 * 3 - pad; /* bytes of "AWS:password" */
    if (b64_part(auth, 8, &head) < 0 || memcmp(head.data, "AWS:", 4) != 0 || dlen < 4 + 8)
        return -1;
    plen = dlen - 4;
    /* The password's last ~120 characters, from a 4-character group boundary of the
       password; they are bytes [4 + j0, dlen) of the decoded auth. */
    j0 = plen > 120 ? (plen - 120) & ~(size_t)3 : 0;
    b0 = (4 + j0) / 3 * 3;
    skip = 4 + j0 - b0;
    if (b64_part(auth + b0 / 3 * 4, len - b0 / 3 * 4, &mid) < 0 || mid.len < skip ||
        (mid.len - skip) % 4 != 0)
        return -1;
    if (b64_part(mid.data + skip, mid.len - skip, &json) < 0)
        return -1;
    return tail_expiration(json.data, json.len, ret);
}

static bool is_ecr_host(const char *host)
{
    struct dh_ecr_registry reg;

    /* every ECR host name holds "ecr": skip the pattern match for the others */
    if (!strstr(host, "ecr") || dh_ecr_parse_host(host, &reg) < 0)
        return false;
    dh_ecr_registry_release(&reg);
    return true;
}

/* Rule 2 for one entry with credentials: sets st, expires_at and reason. */
static void examine_creds(struct ctx *x, struct entry *e, json_t *v)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *user = NULL;
    const char *auth = json_string_value(json_object_get(v, "auth"));
    char *pass = NULL;
    const char *what = NULL;
    int64_t exp = 0;
    int r;
    char when[32];

    e->st = ST_VALID;
    if (auth && *auth && dh_prune_ecr_auth_expiry(auth, &exp) == 0) {
        what = "ECR token"; /* the common case, read from the ends of "auth" only */
        goto decided;
    }
    r = dh_dockerconfig_entry_creds(v, &user, &pass, &err);
    if (r < 0) {
        e->st = ST_UNREADABLE;
        e->reason = dh_xasprintf("cannot read its credentials: %s", err->msg);
        return;
    }
    if (r == 0)
        return; /* an identity or registry token only: no expiry to know */
    if (!strcmp(user, "AWS") || is_ecr_host(e->host)) {
        if (dh_ecr_password_expiry(pass, &exp) == 0)
            what = "ECR token";
        else if (x->ops->minted_expiry(x->arg, pass, &exp) == 1)
            what = "ECR token minted by dockhand";
    } else if (!strcmp(user, "oauth2accesstoken")) {
        if (x->ops->minted_expiry(x->arg, pass, &exp) == 1)
            what = "token minted by dockhand";
    }
    dh_str_free_wipe(pass);
    if (!what)
        return;
decided:
    e->expires_at = exp;
    if (x->opt->now >= exp) {
        fmt_time(exp, when);
        e->st = ST_EXPIRED;
        e->reason = dh_xasprintf("%s expired at %s", what, when);
    }
}

/* Rule 3 for one entry without credentials. */
static void examine_empty(struct ctx *x, struct entry *e)
{
    _cleanup_error_ struct dh_error *err = NULL;
    const char *helper = helper_for(x, e);
    int r;

    if (!helper) {
        e->st = ST_EMPTY_STALE;
        e->reason = dh_xstrdup("no credentials, and no credential helper or store is set for it");
        return;
    }
    if (strcmp(helper, HELPER_DOCKHAND) != 0 && !helper_exists(x, helper)) {
        e->st = ST_EMPTY_UNKNOWN;
        e->reason = dh_xasprintf("cannot check it: docker-credential-%s is not on PATH", helper);
        return;
    }
    r = x->ops->store_has(x->arg, helper, e->key, &err);
    if (r > 0) {
        e->st = ST_EMPTY_LIVE;
    } else if (r == 0) {
        e->st = ST_EMPTY_STALE;
        e->reason =
                dh_xasprintf("no credentials, and docker-credential-%s holds none for it", helper);
    } else {
        e->st = ST_EMPTY_UNKNOWN;
        e->reason = dh_xasprintf("cannot check it: %s",
                                 err && err->msg ? err->msg : "the helper failed");
    }
}

static bool is_valid(const struct entry *e)
{
    return e->st == ST_VALID || e->st == ST_EMPTY_LIVE || e->st == ST_EMPTY_UNKNOWN;
}

/* True when a should be kept rather than b (rule 4's order). */
static bool better(const struct entry *a, const char *a_canon, const struct entry *b,
                   const char *b_canon)
{
    if (is_valid(a) != is_valid(b))
        return is_valid(a);
    if (a->expires_at != b->expires_at)
        return a->expires_at > b->expires_at;
    if (a->has_creds != b->has_creds)
        return a->has_creds;
    if ((!strcmp(a->key, a_canon)) != (!strcmp(b->key, b_canon)))
        return !strcmp(a->key, a_canon);
    return a->index > b->index;
}

static int cmp_host(const void *pa, const void *pb)
{
    const struct entry *a = *(const struct entry *const *)pa;
    const struct entry *b = *(const struct entry *const *)pb;
    int c = strcmp(a->host, b->host);

    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Rule 4: one entry per registry.  The others of a group are reported in file order. */
static void rule_duplicates(struct ctx *x, struct entry *entries, size_t n)
{
    _cleanup_free_ struct entry **live = dh_xcalloc(n ? n : 1, sizeof(*live));
    size_t m = 0, i, j, k;

    for (i = 0; i < n; i++)
        if (!entries[i].removed)
            live[m++] = &entries[i];
    qsort(live, m, sizeof(*live), cmp_host);
    for (i = 0; i < m; i = j) {
        _cleanup_free_ char *canon = NULL;
        size_t best = i;

        for (j = i + 1; j < m && !strcmp(live[j]->host, live[i]->host); j++)
            ;
        if (j - i < 2)
            continue;
        canon = dh_dockerconfig_key_for(live[i]->host);
        for (k = i + 1; k < j; k++)
            if (better(live[k], canon, live[best], canon))
                best = k;
        for (k = i; k < j; k++)
            if (k != best)
                live[k]->dup_of = live[best];
    }
    for (i = 0; i < n; i++) {
        _cleanup_free_ char *why = NULL;

        if (!entries[i].dup_of)
            continue;
        why = dh_xasprintf("same registry '%s' as '%s', which is kept", entries[i].host,
                           entries[i].dup_of->key);
        entries[i].removed = true;
        add_action(x->res, DH_PRUNE_DUPLICATE, DH_PRUNE_AUTHS, entries[i].key, true, why);
    }
}

/* Rule 5 for one candidate. */
static void check_unused(struct ctx *x, enum dh_prune_section section, const char *key,
                         bool *ret_removed)
{
    int64_t last = 0;
    char ago[32], when[32];
    _cleanup_free_ char *why = NULL;

    if (x->ops->last_used(x->arg, key, &last) != 1) {
        x->res->n_unknown_usage++;
        return;
    }
    if (x->opt->now - last < x->opt->older_than)
        return;
    fmt_span(x->opt->now - last, ago);
    fmt_time(last, when);
    why = dh_xasprintf("not used through dockhand for %s (last use %s)", ago, when);
    add_action(x->res, DH_PRUNE_UNUSED, section, key, true, why);
    if (ret_removed)
        *ret_removed = true;
}

static void rule_unused(struct ctx *x, struct entry *entries, size_t n)
{
    const char *key, *helper;
    json_t *v;
    size_t i;

    for (i = 0; i < n; i++) {
        helper = helper_for(x, &entries[i]);
        if (!entries[i].removed && helper && !strcmp(helper, HELPER_DOCKHAND))
            check_unused(x, DH_PRUNE_AUTHS, entries[i].key, &entries[i].removed);
    }
    json_object_foreach (x->eff_helpers, key, v)
        if (!strcmp(json_string_value(v), HELPER_DOCKHAND))
            check_unused(x, DH_PRUNE_CRED_HELPERS, key, NULL);
}

void dh_prune_plan(struct dh_dockerconfig *c, const struct dh_prune_options *opt,
                   const struct dh_prune_ops *ops, void *arg, struct dh_prune_result *ret)
{
    json_t *root = dh_dockerconfig_root(c);
    json_t *auths = dh_dockerconfig_auths(c, false);
    bool legacy = dh_dockerconfig_is_legacy(c);
    json_t *helpers = legacy ? NULL : json_object_get(root, "credHelpers");
    const char *store = legacy ? NULL : json_string_value(json_object_get(root, "credsStore"));
    size_t cap = json_is_object(auths) ? json_object_size(auths) : 0, n = 0, i;
    _cleanup_free_ struct entry *entries = dh_xcalloc(cap ? cap : 1, sizeof(*entries));
    struct ctx x = {.opt = opt,
                    .ops = ops,
                    .arg = arg,
                    .res = ret,
                    .eff_helpers = json_object(),
                    .helper_seen = json_object()};
    const char *key;
    size_t klen;
    json_t *v;

    memset(ret, 0, sizeof(*ret));
    if (!x.eff_helpers || !x.helper_seen)
        dh_oom();
    rule_missing_helpers(&x, json_is_object(helpers) ? helpers : NULL, store);

    if (cap) {
        json_object_keylen_foreach(auths, key, klen, v)
        {
            struct entry *e;

            if (!plain_key(key, klen) || !json_is_object(v))
                continue;
            e = &entries[n];
            e->key = key;
            e->host = dh_dockerconfig_hostname(key);
            e->index = n++;
            e->has_creds = has_cred_fields(v);
            if (e->has_creds)
                examine_creds(&x, e, v);
            else
                examine_empty(&x, e);
        }
    }
    ret->n_entries = n;

    for (i = 0; i < n; i++) {
        if (entries[i].st == ST_EXPIRED) {
            entries[i].removed = true;
            add_action(ret, DH_PRUNE_EXPIRED, DH_PRUNE_AUTHS, entries[i].key, true,
                       entries[i].reason);
        }
    }
    for (i = 0; i < n; i++) {
        if (entries[i].st == ST_EMPTY_STALE) {
            entries[i].removed = true;
            add_action(ret, DH_PRUNE_EMPTY, DH_PRUNE_AUTHS, entries[i].key, true,
                       entries[i].reason);
        }
    }
    rule_duplicates(&x, entries, n);
    if (opt->older_than > 0)
        rule_unused(&x, entries, n);
    /* What is kept although a check failed, unless another rule removed it. */
    for (i = 0; i < n; i++) {
        if (entries[i].removed)
            continue;
        if (entries[i].st == ST_EMPTY_UNKNOWN)
            add_action(ret, DH_PRUNE_EMPTY, DH_PRUNE_AUTHS, entries[i].key, false,
                       entries[i].reason);
        else if (entries[i].st == ST_UNREADABLE)
            add_action(ret, DH_PRUNE_UNREADABLE, DH_PRUNE_AUTHS, entries[i].key, false,
                       entries[i].reason);
    }
    for (i = 0; i < n; i++) {
        free(entries[i].host);
        free(entries[i].reason);
    }
    json_decref(x.eff_helpers);
    json_decref(x.helper_seen);
}

void dh_prune_apply(struct dh_dockerconfig *c, const struct dh_prune_result *r)
{
    json_t *root = dh_dockerconfig_root(c);
    json_t *auths = dh_dockerconfig_auths(c, false);
    json_t *helpers = json_object_get(root, "credHelpers");
    bool legacy = dh_dockerconfig_is_legacy(c);
    size_t i;

    for (i = 0; i < r->n_actions; i++) {
        const struct dh_prune_action *a = &r->actions[i];

        if (!a->remove)
            continue;
        switch (a->section) {
        case DH_PRUNE_AUTHS:
            (void)json_object_del(auths, a->key);
            break;
        case DH_PRUNE_CRED_HELPERS:
            (void)json_object_del(helpers, a->key);
            break;
        case DH_PRUNE_CREDS_STORE:
            (void)json_object_del(root, "credsStore");
            break;
        }
    }
    /* {"credsStore": "gone", "x": {...}} without its credsStore would read as a legacy
       .dockercfg whose entry is "x": give it the "auths" docker always writes. */
    if (!legacy && dh_dockerconfig_is_legacy(c))
        (void)json_object_set_new(root, "auths", json_object());
}

/* ---- durations ---- */

static const struct {
    const char *name;
    double seconds;
} units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6}, {"ms", 1e-3},
        {"s", 1},     {"m", 60},    {"h", 3600},         {"d", 86400},
};

int dh_prune_parse_duration(const char *s, int64_t *ret, struct dh_error **err)
{
    const double max = 100.0 * 365 * 86400;
    const char *p = s;
    double total = 0;

    if (!s || !*s)
        goto bad;
    while (*p) {
        double v = 0, scale = 1;
        bool digits = false;
        size_t i, best = DH_ARRAY_SIZE(units), best_len = 0;

        for (; *p >= '0' && *p <= '9'; p++, digits = true)
            v = v * 10 + (*p - '0');
        if (*p == '.') {
            for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
                scale /= 10;
                v += (*p - '0') * scale;
            }
        }
        if (!digits)
            goto bad;
        /* the longest unit name that matches ("ms" before "m") */
        for (i = 0; i < DH_ARRAY_SIZE(units); i++) {
            size_t l = strlen(units[i].name);

            if (l > best_len && !strncmp(p, units[i].name, l)) {
                best = i;
                best_len = l;
            }
        }
        if (best == DH_ARRAY_SIZE(units))
            goto bad;
        p += best_len;
        total += v * units[best].seconds;
        if (total > max)
            return dh_error_make(err, ERANGE, "duration '%.64s' is too long (at most 100 years)",
                                 s);
    }
    if ((int64_t)total <= 0)
        return dh_error_make(err, EINVAL, "duration '%.64s' must be at least one second", s);
    *ret = (int64_t)total;
    return 0;
bad:
    return dh_error_make(err, EINVAL, "invalid duration '%.64s' (e.g. 30d, 12h, 1h30m)",
                         s ? s : "");
}

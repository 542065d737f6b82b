/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand secret sync` (include/dockhand/secretsync.h, docs/secret-sync.md).
 */
#include "dockhand/secretsync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/kube.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/pullsecret.h"

#define LIST_LIMIT       500
#define WATCH_TIMEOUT_S  290 /* timeoutSeconds asked of the server for one watch request */
#define RETRY_MAX        8   /* quick retries of one namespace before the next full cycle */
#define BACKOFF_MIN_S    5
#define BACKOFF_MAX_S    300
#define DATA_MAX         ((size_t)1 << 20)
#define FAILED_NAMES_MAX 50 /* namespaces named in the summary and the --once error */
#define MANAGED_BY_VALUE "dockhand"
#define CONFIGJSON_KEY   ".dockerconfigjson"

static long mono_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

/* --- pure helpers --------------------------------------------------------------------------- */

int dh_secretsync_parse_duration(const char *s, long *ret_s)
{
    char *end = NULL;
    long long v;
    long mult = 1;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    if (*end) {
        if (end[1])
            return -1;
        switch (*end) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return -1;
        }
    }
    if (v < 1 || v > 30LL * 86400 / mult)
        return -1;
    *ret_s = (long)(v * mult);
    return 0;
}

json_t *dh_secretsync_item_names(const json_t *items)
{
    json_t *names = json_array();
    const json_t *it;
    size_t i;

    json_array_foreach (items, i, it) {
        const char *n = json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));

        if (dh_kube_label_valid(n))
            (void)json_array_append_new(names, json_string(n));
    }
    return names;
}

/* Decodes a base64 data value (a secret) into out.  0, or -1 when it is not base64. */
static int decode_value(const json_t *v, struct dh_buf *out)
{
    const char *s = json_string_value(v);

    if (!s)
        return -1;
    return dh_base64_decode(s, strlen(s), out, NULL);
}

static bool data_equal(const char *key, const json_t *a, const json_t *b)
{
    _cleanup_buf_ struct dh_buf da = DH_BUF_INIT_SECRET(DATA_MAX);
    _cleanup_buf_ struct dh_buf db = DH_BUF_INIT_SECRET(DATA_MAX);
    json_auto_t *ja = NULL, *jb = NULL;

    if (decode_value(a, &da) < 0 || decode_value(b, &db) < 0)
        return false;
    if (da.len == db.len && (da.len == 0 || memcmp(da.data, db.data, da.len) == 0))
        return true;
    if (strcmp(key, CONFIGJSON_KEY) != 0)
        return false;
    /* Another serialiser (kubectl, a peer) may format the same document differently. */
    ja = json_loadb(da.data ? da.data : "", da.len, 0, NULL);
    jb = json_loadb(db.data ? db.data : "", db.len, 0, NULL);
    return ja && jb && json_equal(ja, jb);
}

static bool map_contains(json_t *have, json_t *want)
{
    const char *k;
    json_t *v;

    json_object_foreach (want, k, v) {
        const char *h = json_string_value(json_object_get(have, k));
        const char *w = json_string_value(v);

        if (!h || !w || strcmp(h, w) != 0)
            return false;
    }
    return true;
}

bool dh_secretsync_secret_current(json_t *existing, json_t *desired)
{
    json_t *em = json_object_get(existing, "metadata");
    json_t *dm = json_object_get(desired, "metadata");
    json_t *ed = json_object_get(existing, "data");
    json_t *dd = json_object_get(desired, "data");
    const char *et = json_string_value(json_object_get(existing, "type"));
    const char *dt = json_string_value(json_object_get(desired, "type"));
    const char *k;
    json_t *v;

    if (!json_is_object(existing) || !json_is_object(desired) || !et || !dt || strcmp(et, dt))
        return false;
    if (!map_contains(json_object_get(em, "labels"), json_object_get(dm, "labels")) ||
        !map_contains(json_object_get(em, "annotations"), json_object_get(dm, "annotations")))
        return false;
    json_object_foreach (dd, k, v) {
        if (!data_equal(k, json_object_get(ed, k), v))
            return false;
    }
    return true;
}

int dh_secretsync_sa_add(const json_t *sa, const char *name, json_t **ret_updated,
                         struct dh_error **err)
{
    json_auto_t *copy = NULL;
    const json_t *ips = json_object_get(sa, "imagePullSecrets");
    const json_t *meta = json_object_get(sa, "metadata");
    json_t *list, *it;
    size_t i;

    if (!json_is_object(sa) || !json_is_object(meta) ||
        !json_is_string(json_object_get(meta, "name")) ||
        (ips && !json_is_array(ips) && !json_is_null(ips)))
        return dh_error_make(err, EPROTO, "malformed ServiceAccount object");
    json_array_foreach (ips, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));

        if (n && strcmp(n, name) == 0)
            return 1;
    }
    copy = json_deep_copy(sa);
    if (!copy)
        return dh_error_make(err, ENOMEM, "out of memory");
    (void)json_object_del(json_object_get(copy, "metadata"), "managedFields");
    if (!json_object_get(copy, "apiVersion"))
        (void)json_object_set_new(copy, "apiVersion", json_string("v1"));
    if (!json_object_get(copy, "kind"))
        (void)json_object_set_new(copy, "kind", json_string("ServiceAccount"));
    list = json_object_get(copy, "imagePullSecrets");
    if (!json_is_array(list)) {
        list = json_array();
        (void)json_object_set_new(copy, "imagePullSecrets", list);
    }
    (void)json_array_append_new(list, json_pack("{s:s}", "name", name));
    *ret_updated = TAKE_PTR(copy);
    return 0;
}

/* --- state ---------------------------------------------------------------------------------- */

struct sync {
    const struct dh_secretsync_opts *o;
    const struct dh_config *cfg;
    struct dh_kube_client *kc;
    json_t *exclude;  /* set (object) of excluded namespaces */
    json_t *explicit; /* set of the namespaces named with --namespaces, or NULL */
    json_t *desired;  /* the Secret from the last good resolution (namespace unset), or NULL */
    int64_t expires_at;
    unsigned long writes;
    unsigned long cycles;
    bool failed_resolve;
    json_t *last_failed;      /* the namespaces that failed in the last full cycle */
    size_t n_selected;        /* namespaces in the last full cycle */
    unsigned long calls_mark; /* requests of kc at the last summary */
};

static bool ns_selected(const struct sync *s, const char *ns)
{
    if (s->explicit)
        return json_object_get(s->explicit, ns) != NULL;
    return json_object_get(s->exclude, ns) == NULL;
}

static char *ns_path(const char *ns, const char *resource, const char *name)
{
    return dh_xasprintf("/api/v1/namespaces/%s/%s%s%s", ns, resource, name ? "/" : "",
                        name ? name : "");
}

/* GET that answers NULL (and 0) for 404. */
static int get_opt(struct sync *s, const char *path, json_t **ret, struct dh_error **err)
{
    _cleanup_error_ struct dh_error *e = NULL;

    *ret = NULL;
    if (dh_kube_get(s->kc, path, ret, &e) == 0)
        return 0;
    if (e->status == DH_KUBE_E_NOT_FOUND)
        return 0;
    dh_error_move(err, &e);
    return -1;
}

static void report(struct sync *s, json_t *line)
{
    _cleanup_free_ char *text = json_dumps(line, JSON_COMPACT);

    if (text && s->o->report) {
        (void)fprintf(s->o->report, "%s\n", text);
        (void)fflush(s->o->report);
    }
}

static char *iso_time(int64_t t)
{
    char buf[32];
    struct tm tm;
    time_t tt = (time_t)t;

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return dh_xstrdup(buf);
}

/* --- credentials ---------------------------------------------------------------------------- */

static int resolve(struct sync *s, struct dh_error **err)
{
    _cleanup_pullsecret_ struct dh_pullsecret ps = {0};
    json_auto_t *obj = NULL;
    size_t i;

    if (dh_pullsecret_resolve(s->cfg, s->o->registries, s->o->n_registries, &ps, err) < 0)
        return -1;
    /* Never build a Secret without credentials for every registry. */
    if (ps.n_entries < s->o->n_registries)
        return dh_error_make(err, ENOENT, "credentials were resolved for %zu of %zu registries",
                             ps.n_entries, s->o->n_registries);
    for (i = 0; i < ps.n_entries; i++)
        if (!ps.entries[i].password || !*ps.entries[i].password || !ps.entries[i].username ||
            !*ps.entries[i].username)
            return dh_error_make(err, ENOENT, "empty credentials for '%s'",
                                 ps.entries[i].registry ? ps.entries[i].registry : "?");
    if (dh_pullsecret_object(&ps, s->o->name, NULL, &obj, err) < 0)
        return -1;
    if (!json_is_object(json_object_get(obj, "data")) ||
        !json_object_size(json_object_get(obj, "data")))
        return dh_error_make(err, EINVAL, "the Secret built for '%s' holds no data", s->o->name);
    json_decref(s->desired);
    s->desired = TAKE_PTR(obj);
    s->expires_at = ps.expires_at;
    return 0;
}

/* --- one namespace -------------------------------------------------------------------------- */

struct ns_result {
    const char *secret; /* created updated unchanged failed */
    json_t *patched;    /* ServiceAccounts given the Secret */
    json_t *missing;    /* named ServiceAccounts that do not exist */
    char *reason;       /* why it failed, or NULL */
};

static void ns_result_release(struct ns_result *r)
{
    json_decref(r->patched);
    json_decref(r->missing);
    free(r->reason);
}

static int apply_secret(struct sync *s, const char *ns, struct dh_error **err)
{
    json_auto_t *obj = json_deep_copy(s->desired);
    _cleanup_free_ char *path = ns_path(ns, "secrets", s->o->name);

    (void)json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string(ns));
    s->writes++;
    return dh_kube_apply(s->kc, path, DH_SECRETSYNC_FIELD_MANAGER, obj, NULL, err);
}

/* The Secret in ns: existing is the copy from the cluster-wide list (looked_up), or read here. */
static int sync_secret(struct sync *s, const char *ns, json_t *existing, bool looked_up,
                       struct ns_result *res, struct dh_error **err)
{
    json_auto_t *got = NULL;
    const char *mb;

    if (!looked_up) {
        _cleanup_free_ char *path = ns_path(ns, "secrets", s->o->name);

        if (get_opt(s, path, &got, err) < 0)
            return dh_error_wrap(err, "cannot read secret '%s'", s->o->name);
        existing = got;
    }
    if (!existing) {
        if (apply_secret(s, ns, err) < 0)
            return dh_error_wrap(err, "cannot create secret '%s'", s->o->name);
        res->secret = "created";
        return 0;
    }
    mb = json_string_value(
            json_object_get(json_object_get(json_object_get(existing, "metadata"), "labels"),
                            DH_SECRETSYNC_MANAGED_LABEL));
    if (!mb || strcmp(mb, MANAGED_BY_VALUE) != 0)
        return dh_error_make(err, EEXIST,
                             "secret '%s' exists and is not managed by dockhand (no label "
                             "%s=%s); not touching it",
                             s->o->name, DH_SECRETSYNC_MANAGED_LABEL, MANAGED_BY_VALUE);
    if (dh_secretsync_secret_current(existing, s->desired)) {
        res->secret = "unchanged";
        return 0;
    }
    if (apply_secret(s, ns, err) < 0)
        return dh_error_wrap(err, "cannot update secret '%s'", s->o->name);
    res->secret = "updated";
    return 0;
}

static json_t *find_named(json_t *arr, const char *name)
{
    json_t *it;
    size_t i;

    json_array_foreach (arr, i, it) {
        const char *n = json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));

        if (n && strcmp(n, name) == 0)
            return it;
    }
    return NULL;
}

/* Adds the Secret to one ServiceAccount: GET (unless cached) and PUT with its
   resourceVersion; a 409 re-reads and retries. */
static int patch_sa(struct sync *s, const char *ns, const char *sa, json_t *cached,
                    struct ns_result *res, struct dh_error **err)
{
    _cleanup_free_ char *path = ns_path(ns, "serviceaccounts", sa);
    json_auto_t *cur = json_incref(cached);
    int attempt;

    for (attempt = 0; attempt < DH_SECRETSYNC_SA_ATTEMPTS; attempt++) {
        _cleanup_error_ struct dh_error *e = NULL;
        json_auto_t *upd = NULL;
        int r;

        if (!cur) {
            if (get_opt(s, path, &cur, err) < 0)
                return dh_error_wrap(err, "cannot read serviceaccount '%s'", sa);
            if (!cur) {
                (void)json_array_append_new(res->missing, json_string(sa));
                return 0;
            }
        }
        r = dh_secretsync_sa_add(cur, s->o->name, &upd, err);
        if (r < 0)
            return dh_error_wrap(err, "serviceaccount '%s'", sa);
        if (r > 0)
            return 0;
        s->writes++;
        if (dh_kube_put(s->kc, path, upd, NULL, &e) == 0) {
            (void)json_array_append_new(res->patched, json_string(sa));
            return 0;
        }
        if (e->status != DH_KUBE_E_CONFLICT && e->status != DH_KUBE_E_NOT_FOUND) {
            dh_error_move(err, &e);
            return dh_error_wrap(err, "cannot update serviceaccount '%s'", sa);
        }
        dh_log_debug("secret sync: serviceaccount '%s' in '%s' changed meanwhile, re-reading", sa,
                     ns);
        json_decref(cur);
        cur = NULL;
    }
    return dh_error_make(err, DH_KUBE_E_CONFLICT,
                         "cannot update serviceaccount '%s' after %d attempts: it kept changing",
                         sa, DH_SECRETSYNC_SA_ATTEMPTS);
}

static int sync_sas(struct sync *s, const char *ns, json_t *cached, bool looked_up,
                    struct ns_result *res, struct dh_error **err)
{
    json_auto_t *listed = NULL;
    size_t i;

    if (s->o->sa_mode == DH_SECRETSYNC_SA_NONE)
        return 0;
    if (s->o->sa_mode == DH_SECRETSYNC_SA_ALL) {
        json_t *it;

        if (!looked_up) {
            _cleanup_free_ char *path = ns_path(ns, "serviceaccounts", NULL);

            if (dh_kube_list(s->kc, path, LIST_LIMIT, &listed, NULL, err) < 0)
                return dh_error_wrap(err, "cannot list serviceaccounts");
            cached = listed;
        }
        json_array_foreach (cached, i, it) {
            const char *n =
                    json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));

            if (n && patch_sa(s, ns, n, it, res, err) < 0)
                return -1;
        }
        return 0;
    }
    for (i = 0; i < s->o->n_sas; i++) {
        json_t *c = looked_up ? find_named(cached, s->o->sas[i]) : NULL;

        /* Not in the cluster-wide list: it may have been created since; read it. */
        if (patch_sa(s, ns, s->o->sas[i], c, res, err) < 0)
            return -1;
    }
    return 0;
}

/* Syncs one namespace and reports it.  Returns 0 when it is done, 1 when it should be
   tried again soon (a failure, or a named ServiceAccount not there yet). */
static int sync_ns(struct sync *s, const char *ns, json_t *secret, bool secret_looked_up,
                   json_t *sas, bool sas_looked_up, json_t *counts)
{
    _cleanup_error_ struct dh_error *e = NULL;
    struct ns_result res = {.secret = "failed", .patched = json_array(), .missing = json_array()};
    json_auto_t *line = NULL;
    bool failed;
    int r;

    if (sync_secret(s, ns, secret, secret_looked_up, &res, &e) < 0 ||
        sync_sas(s, ns, sas, sas_looked_up, &res, &e) < 0)
        res.reason = dh_xstrdup(e->msg);
    failed = res.reason != NULL;
    line = json_pack("{s:s,s:s,s:s}", "namespace", ns, "outcome", failed ? "failed" : "ok",
                     "secret", res.secret);
    if (json_array_size(res.patched))
        (void)json_object_set(line, "serviceaccounts_patched", res.patched);
    if (json_array_size(res.missing))
        (void)json_object_set(line, "serviceaccounts_missing", res.missing);
    if (res.reason)
        (void)json_object_set_new(line, "reason", json_string(res.reason));
    report(s, line);
    if (failed)
        dh_log_warn("secret sync: namespace '%s': %s", ns, res.reason);
    if (counts) {
        const char *key = failed ? "failed" : res.secret;

        (void)json_object_set_new(
                counts, key, json_integer(json_integer_value(json_object_get(counts, key)) + 1));
        if (failed)
            (void)json_array_append_new(json_object_get(counts, "failed_namespaces"),
                                        json_string(ns));
        (void)json_object_set_new(counts, "serviceaccounts_patched",
                                  json_integer(json_integer_value(json_object_get(
                                                       counts, "serviceaccounts_patched")) +
                                               (json_int_t)json_array_size(res.patched)));
    }
    r = failed || json_array_size(res.missing) ? 1 : 0;
    ns_result_release(&res);
    return r;
}

/* --- a full cycle --------------------------------------------------------------------------- */

/* One list of every copy of the Secret (or of the ServiceAccounts) in the cluster, by
   namespace.  *ret NULL when the cluster-wide list is forbidden (then each namespace is
   read on its own). */
static int lookup(struct sync *s, const char *path, bool arrays, json_t **ret,
                  struct dh_error **err)
{
    _cleanup_error_ struct dh_error *e = NULL;
    json_auto_t *items = NULL;
    json_t *by_ns, *it;
    size_t i;

    *ret = NULL;
    if (dh_kube_list(s->kc, path, LIST_LIMIT, &items, NULL, &e) < 0) {
        if (e->status == DH_KUBE_E_FORBIDDEN) {
            dh_log_info("secret sync: %s is forbidden; reading each namespace instead", path);
            return 0;
        }
        dh_error_move(err, &e);
        return -1;
    }
    by_ns = json_object();
    json_array_foreach (items, i, it) {
        const char *ns =
                json_string_value(json_object_get(json_object_get(it, "metadata"), "namespace"));

        if (!ns)
            continue;
        if (arrays) {
            json_t *a = json_object_get(by_ns, ns);

            if (!a) {
                a = json_array();
                (void)json_object_set_new(by_ns, ns, a);
            }
            (void)json_array_append(a, it);
        } else {
            (void)json_object_set(by_ns, ns, it);
        }
    }
    *ret = by_ns;
    return 0;
}

static int lookup_sas(struct sync *s, json_t **ret, struct dh_error **err)
{
    json_auto_t *all = NULL;
    size_t i;

    *ret = NULL;
    if (s->o->sa_mode == DH_SECRETSYNC_SA_NONE)
        return 0;
    if (s->o->sa_mode == DH_SECRETSYNC_SA_ALL)
        return lookup(s, "/api/v1/serviceaccounts", true, ret, err);
    all = json_object();
    for (i = 0; i < s->o->n_sas; i++) {
        _cleanup_free_ char *sel = dh_xasprintf("metadata.name=%s", s->o->sas[i]);
        _cleanup_free_ char *esc = dh_kube_query_escape(sel);
        _cleanup_free_ char *path = dh_xasprintf("/api/v1/serviceaccounts?fieldSelector=%s", esc);
        json_auto_t *one = NULL;
        const char *ns;
        json_t *arr, *it;
        size_t j;

        if (lookup(s, path, true, &one, err) < 0)
            return -1;
        if (!one)
            return 0; /* forbidden: per namespace */
        json_object_foreach (one, ns, arr) {
            json_t *a = json_object_get(all, ns);

            if (!a) {
                a = json_array();
                (void)json_object_set_new(all, ns, a);
            }
            json_array_foreach (arr, j, it)
                (void)json_array_append(a, it);
        }
    }
    *ret = TAKE_PTR(all);
    return 0;
}

static json_t *new_counts(void)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:[]}", "created", 0, "updated", 0, "unchanged", 0,
                     "failed", 0, "serviceaccounts_patched", 0, "failed_namespaces");
}

/* Syncs every namespace of names.  retry (may be NULL) collects the namespaces to try
   again soon.  Returns the number of failed namespaces, or -1 when nothing could be
   done (the credentials or the look-ups failed). */
static int full_cycle(struct sync *s, json_t *names, json_t *retry, struct dh_error **err)
{
    json_auto_t *counts = new_counts(), *secrets = NULL, *sas = NULL, *summary = NULL;
    unsigned long writes0 = s->writes;
    _cleanup_free_ char *sel = dh_xasprintf("metadata.name=%s", s->o->name);
    _cleanup_free_ char *esc = dh_kube_query_escape(sel);
    _cleanup_free_ char *spath = dh_xasprintf("/api/v1/secrets?fieldSelector=%s", esc);
    size_t i, n = 0;
    json_t *v;

    s->cycles++;
    if (resolve(s, err) < 0) {
        json_auto_t *line = json_pack("{s:I,s:s,s:s}", "cycle", (json_int_t)s->cycles, "outcome",
                                      "failed", "reason", (*err)->msg);

        report(s, line);
        s->failed_resolve = true;
        return dh_error_wrap(err, "no Secret was written");
    }
    s->failed_resolve = false;
    if (lookup(s, spath, false, &secrets, err) < 0 || lookup_sas(s, &sas, err) < 0) {
        json_auto_t *line = json_pack("{s:I,s:s,s:s}", "cycle", (json_int_t)s->cycles, "outcome",
                                      "failed", "reason", (*err)->msg);

        report(s, line);
        return -1;
    }
    json_array_foreach (names, i, v) {
        const char *ns = json_string_value(v);

        if (!ns || !ns_selected(s, ns))
            continue;
        n++;
        if (sync_ns(s, ns, secrets ? json_object_get(secrets, ns) : NULL, secrets != NULL,
                    sas ? json_object_get(sas, ns) : NULL, sas != NULL, counts) > 0 &&
            retry)
            (void)json_object_set_new(retry, ns,
                                      json_pack("{s:i,s:I}", "attempt", 0, "due",
                                                (json_int_t)mono_s() + BACKOFF_MIN_S));
    }
    s->n_selected = n;
    summary = json_pack("{s:I,s:s,s:I}", "cycle", (json_int_t)s->cycles, "outcome",
                        json_integer_value(json_object_get(counts, "failed")) ? "failed" : "ok",
                        "namespaces", (json_int_t)n);
    (void)json_object_update(summary, counts);
    (void)json_object_set_new(
            summary, "api_calls",
            json_integer((json_int_t)(dh_kube_client_requests(s->kc) - s->calls_mark)));
    s->calls_mark = dh_kube_client_requests(s->kc);
    (void)json_object_set_new(summary, "writes", json_integer((json_int_t)(s->writes - writes0)));
    if (s->expires_at) {
        _cleanup_free_ char *t = iso_time(s->expires_at);

        (void)json_object_set_new(summary, "expires_at", json_string(t));
    }
    json_decref(s->last_failed);
    s->last_failed = json_incref(json_object_get(counts, "failed_namespaces"));
    if (json_array_size(json_object_get(counts, "failed_namespaces")) > FAILED_NAMES_MAX)
        (void)json_array_remove(json_object_get(counts, "failed_namespaces"), FAILED_NAMES_MAX);
    report(s, summary);
    return (int)json_integer_value(json_object_get(counts, "failed"));
}

/* The selected namespaces from a list of every namespace (and its resourceVersion). */
static char *ns_list_path(const struct dh_secretsync_opts *o)
{
    _cleanup_free_ char *esc = o->selector ? dh_kube_query_escape(o->selector) : NULL;

    return dh_xasprintf("/api/v1/namespaces%s%s", esc ? "?labelSelector=" : "", esc ? esc : "");
}

static int list_namespaces(struct dh_kube_client *kc, const struct dh_secretsync_opts *o,
                           json_t **ret_names, char **ret_rv, struct dh_error **err)
{
    _cleanup_free_ char *path = ns_list_path(o);
    json_auto_t *items = NULL;

    if (dh_kube_list(kc, path, LIST_LIMIT, &items, ret_rv, err) < 0)
        return dh_error_wrap(err, "cannot list namespaces");
    *ret_names = dh_secretsync_item_names(items);
    return 0;
}

/* --- the namespace watcher (loop mode) ------------------------------------------------------ */

struct watcher {
    struct dh_kube_client *kc; /* its own client */
    const struct dh_secretsync_opts *o;
    pthread_t thread;
    pthread_mutex_t lock;
    json_t *queue; /* messages: {"op": "set", "names": [...]} | {"op": "add"|"del", "name"} */
    int pipe[2];   /* one byte written per batch of messages */
    atomic_bool stop;
    char *rv;
};

static void watcher_push(struct watcher *w, json_t *msg)
{
    char b = 1;

    pthread_mutex_lock(&w->lock);
    (void)json_array_append_new(w->queue, msg);
    pthread_mutex_unlock(&w->lock);
    while (write(w->pipe[1], &b, 1) < 0 && errno == EINTR)
        ;
}

static int watch_event(void *arg, enum dh_kube_event_type type, json_t *obj, struct dh_error **err)
{
    struct watcher *w = arg;
    json_t *meta = json_object_get(obj, "metadata");
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    const char *name = json_string_value(json_object_get(meta, "name"));

    if (atomic_load(&w->stop))
        return dh_error_make(err, ECANCELED, "stopping");
    if (rv && *rv) {
        free(w->rv);
        w->rv = dh_xstrdup(rv);
    }
    if (type == DH_KUBE_BOOKMARK || !dh_kube_label_valid(name))
        return 0;
    if (type == DH_KUBE_DELETED)
        watcher_push(w, json_pack("{s:s,s:s}", "op", "del", "name", name));
    else
        watcher_push(w, json_pack("{s:s,s:s}", "op", "add", "name", name));
    return 0;
}

static void sleep_unless_stopped(struct watcher *w, long seconds)
{
    long i;

    for (i = 0; i < seconds * 10 && !atomic_load(&w->stop); i++)
        (void)usleep(100000);
}

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    long backoff = 1;

    while (!atomic_load(&w->stop)) {
        _cleanup_error_ struct dh_error *e = NULL;
        json_auto_t *names = NULL;
        int failures = 0;

        free(w->rv);
        w->rv = NULL;
        if (list_namespaces(w->kc, w->o, &names, &w->rv, &e) < 0) {
            dh_log_warn("secret sync: %s; trying again in %ld s", e->msg, backoff);
            sleep_unless_stopped(w, backoff);
            backoff = backoff * 2 > 60 ? 60 : backoff * 2;
            continue;
        }
        backoff = 1;
        watcher_push(w, json_pack("{s:s,s:O}", "op", "set", "names", names));
        while (!atomic_load(&w->stop)) {
            _cleanup_error_ struct dh_error *we = NULL;
            _cleanup_free_ char *base = ns_list_path(w->o);
            _cleanup_free_ char *rv = dh_kube_query_escape(w->rv ? w->rv : "");
            _cleanup_free_ char *path =
                    dh_xasprintf("%s%cwatch=1&allowWatchBookmarks=true&resourceVersion=%s"
                                 "&timeoutSeconds=%d",
                                 base, strchr(base, '?') ? '&' : '?', rv, WATCH_TIMEOUT_S);

            if (dh_kube_watch(w->kc, path, (WATCH_TIMEOUT_S + 30) * 1000L, watch_event, w, &we) ==
                0) {
                failures = 0;
                continue; /* the server ended the stream: resume from the last resourceVersion */
            }
            if (we->status == ECANCELED)
                break;
            if (we->status == DH_KUBE_E_GONE) {
                dh_log_info("secret sync: namespace watch: %s; listing again", we->msg);
                break;
            }
            if (we->status == DH_KUBE_E_TIMEOUT && failures == 0) {
                failures++;
                continue; /* a quiet stream: watch again */
            }
            dh_log_warn("secret sync: namespace watch: %s", we->msg);
            if (++failures >= 3)
                break; /* list again */
            sleep_unless_stopped(w, failures);
        }
    }
    return NULL;
}

/* --- loop mode ------------------------------------------------------------------------------ */

static long next_interval(const struct sync *s)
{
    const struct dh_secretsync_opts *o = s->o;
    long iv = o->max_interval_s;

    if (s->expires_at) {
        int64_t left = s->expires_at - (int64_t)time(NULL);

        iv = left > 0 ? (long)(left / 2) : 0; /* half the remaining life, as the ECR plugin */
    }
    if (iv > o->max_interval_s)
        iv = o->max_interval_s;
    if (iv < o->min_interval_s)
        iv = o->min_interval_s;
    return iv;
}

/* Applies the watcher's messages to known; with sync_new, syncs the namespaces that
   appeared (the first list is left to the first full cycle). */
static void handle_messages(struct sync *s, struct watcher *w, json_t *known, json_t *retry,
                            bool sync_new, bool *have_set)
{
    json_auto_t *q = NULL;
    json_t *m;
    size_t i;
    char drain[64];

    while (read(w->pipe[0], drain, sizeof(drain)) > 0)
        ;
    pthread_mutex_lock(&w->lock);
    q = w->queue;
    w->queue = json_array();
    pthread_mutex_unlock(&w->lock);
    json_array_foreach (q, i, m) {
        const char *op = json_string_value(json_object_get(m, "op"));
        const char *name = json_string_value(json_object_get(m, "name"));
        json_auto_t *fresh = NULL;
        json_t *v;
        size_t j;

        if (strcmp(op, "del") == 0) {
            (void)json_object_del(known, name);
            (void)json_object_del(retry, name);
            continue;
        }
        fresh = json_array();
        if (strcmp(op, "set") == 0) {
            json_auto_t *now = json_object();

            json_array_foreach (json_object_get(m, "names"), j, v) {
                (void)json_object_set_new(now, json_string_value(v), json_true());
                if (!json_object_get(known, json_string_value(v)))
                    (void)json_array_append(fresh, v);
            }
            json_object_clear(known);
            (void)json_object_update(known, now);
            *have_set = true;
        } else if (!json_object_get(known, name)) {
            (void)json_object_set_new(known, name, json_true());
            (void)json_array_append_new(fresh, json_string(name));
        }
        if (!s->desired || !sync_new)
            continue; /* synced by the next successful cycle */
        json_array_foreach (fresh, j, v) {
            const char *ns = json_string_value(v);

            if (!ns_selected(s, ns))
                continue;
            dh_log_info("secret sync: new namespace '%s'", ns);
            if (sync_ns(s, ns, NULL, false, NULL, false, NULL) > 0)
                (void)json_object_set_new(retry, ns,
                                          json_pack("{s:i,s:I}", "attempt", 0, "due",
                                                    (json_int_t)mono_s() + BACKOFF_MIN_S));
        }
    }
}

static void run_retries(struct sync *s, json_t *known, json_t *retry, long now)
{
    const char *ns;
    json_t *v, *tmp;

    json_object_foreach_safe (retry, tmp, ns, v) {
        json_int_t attempt = json_integer_value(json_object_get(v, "attempt"));

        if (json_integer_value(json_object_get(v, "due")) > now)
            continue;
        if (!json_object_get(known, ns) || !s->desired ||
            sync_ns(s, ns, NULL, false, NULL, false, NULL) == 0 || attempt + 1 >= RETRY_MAX) {
            (void)json_object_del(retry, ns);
            continue;
        }
        attempt++;
        (void)json_object_set_new(v, "attempt", json_integer(attempt));
        (void)json_object_set_new(v, "due",
                                  json_integer(now + (BACKOFF_MIN_S << attempt > BACKOFF_MAX_S
                                                              ? BACKOFF_MAX_S
                                                              : BACKOFF_MIN_S << attempt)));
    }
}

static long earliest_retry(json_t *retry, long def)
{
    const char *ns;
    json_t *v;
    long best = def;

    json_object_foreach (retry, ns, v) {
        long due = (long)json_integer_value(json_object_get(v, "due"));

        if (due < best)
            best = due;
    }
    return best;
}

static int run_loop(struct sync *s, struct dh_error **err)
{
    struct watcher *w = dh_xcalloc(1, sizeof(*w));
    json_auto_t *known = json_object(), *retry = json_object();
    _cleanup_close_ int sfd = -1;
    sigset_t mask, old;
    bool started = false, have_set = false;
    long next_cycle = 0, backoff = BACKOFF_MIN_S;
    int r = -1;

    w->o = s->o;
    w->queue = json_array();
    w->pipe[0] = w->pipe[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        dh_error_sys(err, errno, "cannot create a pipe");
        goto out;
    }
    if (dh_kube_client_open(s->o->context, s->o->timeout_ms, &w->kc, err) < 0) {
        dh_error_wrap(err, "cannot connect to Kubernetes");
        goto out;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    /* Block them in every thread; the main loop reads them from a signalfd. */
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        dh_error_sys(err, errno, "cannot create a signalfd");
        goto out;
    }
    if (pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
        dh_error_make(err, EAGAIN, "cannot start the namespace watcher");
        goto out;
    }
    started = true;
    dh_log_info("secret sync: running; SIGTERM stops");
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                                {.fd = w->pipe[0], .events = POLLIN}};
        long now = mono_s(), wake;

        if (have_set && now >= next_cycle) {
            _cleanup_error_ struct dh_error *e = NULL;
            json_auto_t *names = json_array();
            const char *ns;
            json_t *v;

            json_object_foreach (known, ns, v)
                (void)json_array_append_new(names, json_string(ns));
            if (full_cycle(s, names, retry, &e) < 0) {
                dh_log_error("secret sync: %s; trying again in %ld s", e->msg, backoff);
                next_cycle = mono_s() + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
            } else {
                long iv = next_interval(s);

                backoff = BACKOFF_MIN_S;
                next_cycle = mono_s() + iv;
                dh_log_info("secret sync: next cycle in %ld s", iv);
            }
            continue;
        }
        run_retries(s, known, retry, now);
        wake = have_set ? earliest_retry(retry, next_cycle) : now + 3600;
        if (poll(pfd, 2, wake > now ? (int)((wake - now) * 1000) : 0) < 0 && errno != EINTR) {
            dh_error_sys(err, errno, "poll");
            goto out;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == sizeof(si))
                dh_log_info("secret sync: stopping on signal %u", si.ssi_signo);
            break;
        }
        if (pfd[1].revents & POLLIN) {
            bool had = have_set;

            handle_messages(s, w, known, retry, had, &have_set);
            if (!had && have_set)
                next_cycle = 0; /* the first list: the first full cycle covers it */
        }
    }
    r = 0;
out:
    if (started) {
        struct timespec ts;

        atomic_store(&w->stop, true);
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        if (pthread_timedjoin_np(w->thread, NULL, &ts) != 0) {
            /* Still inside a request: the process exits under it; its memory stays. */
            (void)pthread_detach(w->thread);
            return r;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    dh_kube_client_free(w->kc);
    json_decref(w->queue);
    free(w->rv);
    if (w->pipe[0] >= 0)
        close(w->pipe[0]);
    if (w->pipe[1] >= 0)
        close(w->pipe[1]);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return r;
}

/* --- entry point ---------------------------------------------------------------------------- */

static json_t *set_of(const char *const *v, size_t n)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; i < n; i++)
        (void)json_object_set_new(o, v[i], json_true());
    return o;
}

int dh_secretsync_run(const struct dh_secretsync_opts *o, const struct dh_config *cfg,
                      struct dh_error **err)
{
    struct sync s = {.o = o, .cfg = cfg};
    int r = -1;

    if (dh_kube_client_open(o->context, o->timeout_ms, &s.kc, err) < 0)
        return dh_error_wrap(err, "cannot connect to Kubernetes");
    s.explicit = o->namespaces ? set_of(o->namespaces, o->n_namespaces) : NULL;
    if (o->exclude) {
        s.exclude = set_of(o->exclude, o->n_exclude);
    } else {
        const char *own = dh_kube_client_config(s.kc)->in_cluster
                                  ? dh_kube_client_config(s.kc)->namespace
                                  : secure_getenv("POD_NAMESPACE");

        s.exclude = json_pack("{s:b}", "kube-system", 1);
        if (own && *own)
            (void)json_object_set_new(s.exclude, own, json_true());
    }
    if (o->once) {
        json_auto_t *names = NULL;
        int failed;

        if (list_namespaces(s.kc, o, &names, NULL, err) < 0)
            goto out;
        if (s.explicit) {
            /* A named namespace that does not exist is a failure of this run. */
            json_auto_t *have = json_object();
            json_t *v;
            size_t i;

            json_array_foreach (names, i, v)
                (void)json_object_set_new(have, json_string_value(v), json_true());
            for (i = 0; i < o->n_namespaces; i++)
                if (!json_object_get(have, o->namespaces[i]))
                    (void)json_array_append_new(names, json_string(o->namespaces[i]));
        }
        failed = full_cycle(&s, names, NULL, err);
        if (failed < 0)
            goto out;
        if (failed > 0) {
            _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(SIZE_MAX - 1);
            json_t *v;
            size_t i;

            json_array_foreach (s.last_failed, i, v) {
                if (i == FAILED_NAMES_MAX) {
                    (void)dh_buf_puts(&b, ", ...", NULL);
                    break;
                }
                (void)dh_buf_printf(&b, NULL, "%s'%s'", i ? ", " : "", json_string_value(v));
            }
            dh_error_make(err, EIO, "secret sync failed in %d of %zu namespace%s: %s", failed,
                          s.n_selected, s.n_selected == 1 ? "" : "s", b.data ? b.data : "");
            goto out;
        }
        r = 0;
    } else {
        r = run_loop(&s, err);
    }
out:
    dh_kube_client_free(s.kc);
    json_decref(s.exclude);
    json_decref(s.explicit);
    json_decref(s.desired);
    json_decref(s.last_failed);
    return r;
}

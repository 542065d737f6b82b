/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `kube:` store: registry credentials in Kubernetes Secrets of one namespace.
 *
 *   kube                       the dockhand namespace is the Kubernetes namespace
 *   kube:<ns>                  Kubernetes namespace <ns>
 *   kube:<ns>?<param>&...      labelSelector=<selector> (percent-encoded: a%3Db),
 *                              context=<kubeconfig context>, timeout=<10s|500ms|1m>
 *
 * Reading: every Secret of type kubernetes.io/dockerconfigjson (.dockerconfigjson)
 * or kubernetes.io/dockercfg (.dockercfg) in the namespace that the label
 * selector picks (GET .../secrets, paged with limit/continue) contributes all its
 * entries, parsed by dockercfg.h (a non-empty "auth" wins over username/password;
 * an "identitytoken" gives Username "<token>").  `get` returns the entry whose key
 * ranks best for the server URL by the kubelet's rules (dh_kubelet_match_rank with
 * docker's host alias rule, as the dir: store); on a tie a Secret managed by
 * dockhand wins, then the Secret name and then the key that sort first.  `list`
 * shows every entry.
 *
 * Writing: `store` applies (server-side apply, field manager "dockhand", force)
 * one Secret per registry, named by dh_kube_registry_secret_name("dockhand-",
 * canonical key), labelled app.kubernetes.io/managed-by=dockhand plus the
 * equality terms of the label selector, holding
 * {"auths":{"<ServerURL>":{"username","password","auth"}}}.  `erase` removes the
 * entry `get` would return: a dockhand Secret holding only that entry is deleted
 * (with a resourceVersion precondition); otherwise the entry is removed from the
 * Secret with GET + PUT carrying metadata.resourceVersion.  A 409 conflict
 * re-reads and retries, at most ERASE_ATTEMPTS times.  See docs/kube-store.md.
 */
#include "dockhand/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/kube.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"
#include "dockhand/regurl.h"

#define FIELD_MANAGER    "dockhand"
#define MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define SECRET_PREFIX    "dockhand-"
#define TYPE_CONFIGJSON  "kubernetes.io/dockerconfigjson"
#define TYPE_DOCKERCFG   "kubernetes.io/dockercfg"
#define KEY_CONFIGJSON   ".dockerconfigjson"
#define KEY_DOCKERCFG    ".dockercfg"
#define LIST_PAGE        100
#define ERASE_ATTEMPTS   5
#define MAX_LIST_PAGES   10000

struct kube_store {
    struct dh_store base;
    char *k8s_ns;
    char *selector;     /* decoded label selector, or NULL */
    json_t *sel_labels; /* equality terms of the selector, added to stored Secrets */
    char *context;      /* kubeconfig context, or NULL */
    long timeout_ms;
    struct dh_kube_client *client; /* opened at first use */
};

static void kube_close(struct dh_store *s)
{
    struct kube_store *ks = (struct kube_store *)s;

    dh_kube_client_free(ks->client);
    free(ks->k8s_ns);
    free(ks->selector);
    json_decref(ks->sel_labels);
    free(ks->context);
    free(ks->base.namespace);
    free(ks);
}

static int client(struct kube_store *ks, struct dh_error **err)
{
    if (ks->client)
        return 0;
    if (dh_kube_client_open(ks->context, ks->timeout_ms, &ks->client, err) < 0)
        return dh_error_wrap(err, "cannot connect to Kubernetes");
    return 0;
}

/* --- reading Secrets ------------------------------------------------------------------------ */

/* One credential document of a Secret. */
struct secret_doc {
    const char *name;     /* borrowed from the item */
    const char *data_key; /* KEY_CONFIGJSON or KEY_DOCKERCFG */
    bool ours;            /* labelled managed-by=dockhand */
    struct dh_dockercfg *cfg;
};

static bool item_ours(json_t *item)
{
    const char *v = json_string_value(json_object_get(
            json_object_get(json_object_get(item, "metadata"), "labels"), MANAGED_BY_LABEL));
    return v && strcmp(v, FIELD_MANAGER) == 0;
}

/* Decodes the data of a Secret item.  Returns 1 when it holds no registry credentials
   (another type), -1 when it is malformed (*err names the Secret, never the data). */
static int decode_item(json_t *item, const char *ns, struct secret_doc *ret, json_t **ret_raw,
                       struct dh_error **err)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    const char *name =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT_SECRET(DH_DOCKERCFG_MAX);
    enum dh_dockercfg_format fmt;
    const char *dk, *b64;

    if (!type || !name)
        return 1;
    if (strcmp(type, TYPE_CONFIGJSON) == 0) {
        dk = KEY_CONFIGJSON;
        fmt = DH_DOCKERCFG_CONFIGJSON;
    } else if (strcmp(type, TYPE_DOCKERCFG) == 0) {
        dk = KEY_DOCKERCFG;
        fmt = DH_DOCKERCFG_LEGACY;
    } else {
        return 1;
    }
    b64 = json_string_value(json_object_get(json_object_get(item, "data"), dk));
    if (!b64 || !*b64)
        return 1;
    if (dh_base64_decode(b64, strlen(b64), &raw, NULL) < 0)
        return dh_error_make(err, EINVAL, "secret '%s' in namespace '%s': '%s' is not base64", name,
                             ns, dk);
    if (dh_dockercfg_parse(raw.data ? raw.data : "", raw.len, fmt, &ret->cfg, err) < 0)
        return dh_error_wrap(err, "secret '%s' in namespace '%s'", name, ns);
    if (ret_raw) {
        *ret_raw = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
        if (!json_is_object(*ret_raw)) {
            json_decref(*ret_raw);
            *ret_raw = NULL;
            dh_dockercfg_free(TAKE_PTR(ret->cfg));
            return dh_error_make(err, EINVAL, "secret '%s' in namespace '%s': '%s' is malformed",
                                 name, ns, dk);
        }
    }
    ret->name = name;
    ret->data_key = dk;
    ret->ours = item_ours(item);
    return 0;
}

typedef int (*secret_fn)(void *arg, const struct secret_doc *d, struct dh_error **err);

/* Calls fn for every credential Secret of the namespace (all pages). */
static int for_each_secret(struct kube_store *ks, secret_fn fn, void *arg, struct dh_error **err)
{
    _cleanup_free_ char *cont = NULL, *sel = NULL;
    unsigned pages = 0;

    if (client(ks, err) < 0)
        return -1;
    if (ks->selector)
        sel = dh_kube_query_escape(ks->selector);
    do {
        _cleanup_free_ char *path = NULL, *c = cont ? dh_kube_query_escape(cont) : NULL;
        json_auto_t *list = NULL;
        json_t *items, *item;
        const char *next;
        size_t i;

        path = dh_xasprintf("/api/v1/namespaces/%s/secrets?limit=%d%s%s%s%s", ks->k8s_ns, LIST_PAGE,
                            sel ? "&labelSelector=" : "", sel ? sel : "", c ? "&continue=" : "",
                            c ? c : "");
        if (dh_kube_get(ks->client, path, &list, err) < 0)
            return dh_error_wrap(err, "cannot list secrets in namespace '%s'", ks->k8s_ns);
        items = json_object_get(list, "items");
        if (!json_is_array(items))
            return dh_error_make(err, EIO,
                                 "cannot list secrets in namespace '%s': the answer has no items",
                                 ks->k8s_ns);
        json_array_foreach (items, i, item) {
            _cleanup_error_ struct dh_error *e = NULL;
            struct secret_doc d = {0};
            int r = decode_item(item, ks->k8s_ns, &d, NULL, &e);

            if (r == 1)
                continue;
            if (r < 0) {
                dh_log_warn("%s, skipping it", e->msg);
                continue;
            }
            r = fn(arg, &d, err);
            dh_dockercfg_free(d.cfg);
            if (r < 0)
                return -1;
        }
        next = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
        free(cont);
        cont = next && *next ? dh_xstrdup(next) : NULL;
    } while (cont && ++pages < MAX_LIST_PAGES);
    return 0;
}

/* The best entry for a server URL. */
struct best {
    const char *query;
    int rank;
    bool ours;
    char *secret;
    char *key;
    char *username;
    char *password; /* wiped on free */
};

static void best_release(struct best *b)
{
    free(b->secret);
    free(b->key);
    dh_str_free_wipe(b->username);
    dh_str_free_wipe(b->password);
    b->secret = b->key = b->username = b->password = NULL;
    b->rank = -1;
}

static int best_visit(void *arg, const struct secret_doc *d, struct dh_error **err DH_UNUSED)
{
    struct best *b = arg;
    size_t i;

    for (i = 0; i < d->cfg->n_entries; i++) {
        const struct dh_dockercfg_entry *e = &d->cfg->entries[i];
        int rank = dh_kubelet_match_rank(e->key, b->query, DH_KMATCH_HOST_ALIAS);
        const char *user = NULL, *secret = NULL;
        int c;

        if (rank < 0)
            continue;
        if (b->rank >= 0) {
            if (rank != b->rank)
                c = rank > b->rank ? 1 : -1;
            else if (d->ours != b->ours)
                c = d->ours ? 1 : -1;
            else if ((c = strcmp(d->name, b->secret)) != 0)
                c = c < 0 ? 1 : -1;
            else
                c = strcmp(e->key, b->key) < 0 ? 1 : -1;
            if (c < 0)
                continue;
        }
        if (!dh_dockercfg_entry_cred(e, &user, &secret)) {
            user = e->username;
            secret = "";
        }
        best_release(b);
        b->rank = rank;
        b->ours = d->ours;
        b->secret = dh_xstrdup(d->name);
        b->key = dh_xstrdup(e->key);
        b->username = dh_xstrdup(user ? user : "");
        b->password = dh_xstrdup(secret ? secret : "");
    }
    return 0;
}

static int find_best(struct kube_store *ks, const char *server_url, struct best *b,
                     struct dh_error **err)
{
    b->query = server_url;
    b->rank = -1;
    if (for_each_secret(ks, best_visit, b, err) < 0) {
        best_release(b);
        return -1;
    }
    return 0;
}

static int kube_get(struct dh_store *s, const char *server_url, struct dh_cred **ret,
                    struct dh_error **err)
{
    struct kube_store *ks = (struct kube_store *)s;
    struct best b = {0};

    *ret = NULL;
    if (find_best(ks, server_url, &b, err) < 0)
        return -1;
    if (b.rank >= 0) {
        dh_log_debug("kube: '%s' found in secret '%s' of namespace '%s'", server_url, b.secret,
                     ks->k8s_ns);
        *ret = dh_cred_new(b.key, b.username, b.password);
    }
    best_release(&b);
    return 0;
}

struct list_arg {
    json_t *out;
    json_t *owner; /* key -> true when the value came from a dockhand Secret */
};

static int list_visit(void *arg, const struct secret_doc *d, struct dh_error **err DH_UNUSED)
{
    struct list_arg *l = arg;
    size_t i;

    for (i = 0; i < d->cfg->n_entries; i++) {
        const struct dh_dockercfg_entry *e = &d->cfg->entries[i];
        const char *user = NULL, *secret = NULL;

        if (json_object_get(l->out, e->key) && (!d->ours || json_object_get(l->owner, e->key)))
            continue;
        if (!dh_dockercfg_entry_cred(e, &user, &secret))
            user = e->username;
        json_object_set_new(l->out, e->key, json_string(user ? user : ""));
        if (d->ours)
            json_object_set_new(l->owner, e->key, json_true());
    }
    return 0;
}

static int kube_list(struct dh_store *s, json_t *out, struct dh_error **err)
{
    struct kube_store *ks = (struct kube_store *)s;
    json_auto_t *owner = json_object();
    struct list_arg l = {.out = out, .owner = owner};

    return for_each_secret(ks, list_visit, &l, err);
}

/* --- writing -------------------------------------------------------------------------------- */

static char *secret_path(const struct kube_store *ks, const char *name)
{
    return dh_xasprintf("/api/v1/namespaces/%s/secrets/%s", ks->k8s_ns, name);
}

static int kube_store_cred(struct dh_store *s, const struct dh_cred *cred, struct dh_error **err)
{
    struct kube_store *ks = (struct kube_store *)s;
    _cleanup_free_ char *key = NULL, *name = NULL, *path = NULL;
    _cleanup_buf_ struct dh_buf up = DH_BUF_INIT_SECRET(SIZE_MAX - 1);
    _cleanup_wipe_ char *auth = NULL, *doc_text = NULL, *doc_b64 = NULL;
    json_auto_t *doc = NULL, *body = NULL;
    json_t *labels;

    if (dh_regurl_normalize(cred->server_url, &key, err) < 0)
        return -1;
    if (client(ks, err) < 0)
        return -1;
    name = dh_kube_registry_secret_name(SECRET_PREFIX, key);
    if (dh_buf_printf(&up, err, "%s:%s", cred->username, cred->secret) < 0)
        return -1;
    auth = dh_base64_encode(up.data, up.len, false);
    doc = json_pack("{s:{s:{s:s, s:s, s:s}}}", "auths", cred->server_url, "username",
                    cred->username, "password", cred->secret, "auth", auth);
    if (!doc)
        return dh_error_make(err, EINVAL, "username or secret is not valid UTF-8");
    doc_text = json_dumps(doc, JSON_COMPACT);
    if (!doc_text)
        dh_oom();
    doc_b64 = dh_base64_encode(doc_text, strlen(doc_text), false);

    labels = json_deep_copy(ks->sel_labels);
    json_object_set_new(labels, MANAGED_BY_LABEL, json_string(FIELD_MANAGER));
    body = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                     "Secret", "metadata", "name", name, "namespace", ks->k8s_ns, "labels", labels,
                     "type", TYPE_CONFIGJSON, "data", KEY_CONFIGJSON, doc_b64);
    if (!body)
        dh_oom();
    path = secret_path(ks, name);
    if (dh_kube_apply(ks->client, path, FIELD_MANAGER, body, NULL, err) < 0)
        return dh_error_wrap(err, "cannot write secret '%s' in namespace '%s'", name, ks->k8s_ns);
    dh_log_debug("kube: stored '%s' in secret '%s' of namespace '%s'", cred->server_url, name,
                 ks->k8s_ns);
    return 0;
}

/* One erase attempt on Secret name.  Returns 0 when done, 1 on a conflict (retry). */
/* The outcome of erase_once's write (rc, with e set when it failed): 0 done (a Secret
   already gone counts as done), 1 conflict (err set; retry), -1 error (err set). */
static int write_outcome(int rc, struct dh_error **e, const char *what, const char *name,
                         const char *ns, struct dh_error **err)
{
    if (rc == 0 || (*e)->status == DH_KUBE_E_NOT_FOUND)
        return 0;
    dh_error_move(err, e);
    if ((*err)->status == DH_KUBE_E_CONFLICT)
        return 1;
    return dh_error_wrap(err, "cannot %s secret '%s' in namespace '%s'", what, name, ns);
}

static int erase_once(struct kube_store *ks, const char *name, const char *key,
                      struct dh_error **err)
{
    _cleanup_free_ char *path = secret_path(ks, name);
    _cleanup_error_ struct dh_error *e = NULL;
    _cleanup_wipe_ char *text = NULL, *b64 = NULL;
    json_auto_t *item = NULL, *raw = NULL, *opts = NULL;
    struct secret_doc d = {0};
    json_t *auths, *meta;
    const char *rv;
    int r, rc;

    if (dh_kube_get(ks->client, path, &item, &e) < 0) {
        if (e->status == DH_KUBE_E_NOT_FOUND)
            return 0; /* gone already */
        dh_error_move(err, &e);
        return dh_error_wrap(err, "cannot read secret '%s' in namespace '%s'", name, ks->k8s_ns);
    }
    r = decode_item(item, ks->k8s_ns, &d, &raw, err);
    dh_dockercfg_free(d.cfg);
    if (r == 1)
        return 0; /* no longer a credential Secret */
    if (r < 0)
        return -1;
    auths = strcmp(d.data_key, KEY_CONFIGJSON) == 0 ? json_object_get(raw, "auths") : raw;
    if (!json_is_object(auths) || !json_object_get(auths, key))
        return 0; /* the entry is gone already */
    meta = json_object_get(item, "metadata");
    rv = json_string_value(json_object_get(meta, "resourceVersion"));
    if (!rv)
        return dh_error_make(err, EIO, "secret '%s' in namespace '%s' has no resourceVersion", name,
                             ks->k8s_ns);

    if (d.ours && json_object_size(auths) == 1 &&
        json_object_size(json_object_get(item, "data")) == 1 &&
        (auths != raw || json_object_size(raw) == 1)) {
        opts = json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                         "preconditions", "resourceVersion", rv);
        rc = dh_kube_delete(ks->client, path, opts, NULL, &e);
        if (rc == 0)
            dh_log_debug("kube: deleted secret '%s' of namespace '%s'", name, ks->k8s_ns);
        return write_outcome(rc, &e, "delete", name, ks->k8s_ns, err);
    }

    json_object_del(auths, key);
    text = json_dumps(raw, JSON_COMPACT);
    if (!text)
        dh_oom();
    b64 = dh_base64_encode(text, strlen(text), false);
    json_object_set_new(json_object_get(item, "data"), d.data_key, json_string(b64));
    json_object_del(meta, "managedFields");
    rc = dh_kube_put(ks->client, path, item, NULL, &e);
    if (rc == 0)
        dh_log_debug("kube: removed an entry from secret '%s' of namespace '%s'", name, ks->k8s_ns);
    return write_outcome(rc, &e, "update", name, ks->k8s_ns, err);
}

static int kube_erase(struct dh_store *s, const char *server_url, struct dh_error **err)
{
    struct kube_store *ks = (struct kube_store *)s;
    struct best b = {0};
    int attempt, r = 0;

    if (find_best(ks, server_url, &b, err) < 0)
        return -1;
    if (b.rank < 0)
        return 0;
    for (attempt = 1; attempt <= ERASE_ATTEMPTS; attempt++) {
        _cleanup_error_ struct dh_error *e = NULL;

        r = erase_once(ks, b.secret, b.key, &e);
        if (r <= 0) {
            if (r < 0)
                dh_error_move(err, &e);
            break;
        }
        dh_log_debug("kube: secret '%s' changed meanwhile (attempt %d), retrying", b.secret,
                     attempt);
        if (attempt == ERASE_ATTEMPTS) {
            dh_error_move(err, &e);
            dh_error_wrap(err, "cannot update secret '%s' in namespace '%s' after %d attempts",
                          b.secret, ks->k8s_ns, ERASE_ATTEMPTS);
            r = -1;
        }
    }
    best_release(&b);
    return r < 0 ? -1 : 0;
}

/* --- opening ------------------------------------------------------------------------------- */

/* "10s", "500ms", "2m" or plain seconds, 1 ms .. DH_KUBE_MAX_TIMEOUT_MS. */
static int parse_timeout(const char *v, long *ret)
{
    char *end;
    long n, mult = 1000;

    if (!*v || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno)
        return -1;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || !*end)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else
        return -1;
    if (n <= 0 || n > DH_KUBE_MAX_TIMEOUT_MS / mult)
        return -1;
    *ret = n * mult;
    return 0;
}

/* The equality terms (k=v, k==v) of a label selector, as labels. */
static json_t *selector_labels(const char *sel)
{
    _cleanup_free_ char *copy = dh_xstrdup(sel);
    json_t *labels = json_object();
    char *save = NULL, *term;

    for (term = strtok_r(copy, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(term, '='), *k, *v;
        size_t kl, vl;

        if (!eq || (eq > term && (eq[-1] == '!')))
            continue;
        k = term;
        v = eq[1] == '=' ? eq + 2 : eq + 1;
        *eq = '\0';
        while (*k == ' ')
            k++;
        kl = strlen(k);
        while (kl && k[kl - 1] == ' ')
            k[--kl] = '\0';
        while (*v == ' ')
            v++;
        vl = strlen(v);
        while (vl && v[vl - 1] == ' ')
            v[--vl] = '\0';
        if (kl && !strpbrk(k, " ()!") && !strpbrk(v, " ()!="))
            json_object_set_new(labels, k, json_string(v));
    }
    return labels;
}

static int parse_params(struct kube_store *ks, const char *spec, const char *q,
                        struct dh_error **err)
{
    _cleanup_free_ char *copy = dh_xstrdup(q);
    char *save = NULL, *p;

    for (p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        _cleanup_free_ char *name = NULL, *value = NULL;

        if (!eq)
            return dh_error_make(err, EINVAL, "store 'kube:%s': parameter '%s' has no value", spec,
                                 p);
        name = dh_xstrndup(p, (size_t)(eq - p));
        value = dh_pct_decode(eq + 1, strlen(eq + 1), true);
        if (!value)
            return dh_error_make(err, EINVAL,
                                 "store 'kube:%s': parameter '%s' is not percent-encoded", spec,
                                 name);
        if (strcmp(name, "labelSelector") == 0) {
            free(ks->selector);
            ks->selector = *value ? TAKE_PTR(value) : NULL;
        } else if (strcmp(name, "context") == 0) {
            free(ks->context);
            ks->context = *value ? TAKE_PTR(value) : NULL;
        } else if (strcmp(name, "timeout") == 0) {
            if (parse_timeout(value, &ks->timeout_ms) < 0)
                return dh_error_make(err, EINVAL,
                                     "store 'kube:%s': timeout must be a duration such as 10s, "
                                     "500ms or 1m, at most %ds",
                                     spec, DH_KUBE_MAX_TIMEOUT_MS / 1000);
        } else {
            return dh_error_make(err, EINVAL,
                                 "store 'kube:%s': unknown parameter '%s' (known: labelSelector, "
                                 "context, timeout)",
                                 spec, name);
        }
    }
    return 0;
}

static const struct dh_store_ops kube_ops = {
        .type = "kube",
        .get = kube_get,
        .store = kube_store_cred,
        .erase = kube_erase,
        .list = kube_list,
        .close = kube_close,
};

int dh_store_kube_open(const char *arg, const char *ns, const struct dh_config *cfg DH_UNUSED,
                       struct dh_store **ret, struct dh_error **err)
{
    struct kube_store *ks = dh_xcalloc(1, sizeof(*ks));
    const char *q = arg ? strchr(arg, '?') : NULL;
    size_t nlen = arg ? (q ? (size_t)(q - arg) : strlen(arg)) : 0;

    ks->base.ops = &kube_ops;
    ks->base.namespace = dh_xstrdup(ns);
    ks->timeout_ms = DH_KUBE_DEFAULT_TIMEOUT_MS;
    ks->k8s_ns = nlen ? dh_xstrndup(arg, nlen) : dh_xstrdup(ns);
    if (q && parse_params(ks, arg, q + 1, err) < 0) {
        kube_close(&ks->base);
        return -1;
    }
    if (!dh_kube_label_valid(ks->k8s_ns)) {
        dh_error_make(err, EINVAL,
                      "invalid Kubernetes namespace '%s': use 1 to 63 lowercase letters, digits "
                      "or '-', starting and ending with a letter or digit",
                      ks->k8s_ns);
        kube_close(&ks->base);
        return -1;
    }
    ks->sel_labels = ks->selector ? selector_labels(ks->selector) : json_object();
    *ret = &ks->base;
    return 0;
}

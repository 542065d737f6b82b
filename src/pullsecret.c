/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes.io/dockerconfigjson Secrets, as `kubectl create secret
 * docker-registry` makes them (kubernetes/kubectl
 * pkg/cmd/create/create_secret_docker.go; notes in
 * ../shared/reference/pullsecrets.md §4):
 *
 *   type DockerConfigJSON struct { Auths map[string]DockerConfigEntry `json:"auths"` ... }
 *   type DockerConfigEntry struct { Username, Password, Email, Auth string  // all omitempty }
 *   auth = base64.StdEncoding(username + ":" + password)
 *
 * encoded with Go's json.Marshal: compact, fields in that order, map keys
 * sorted by bytes, strings escaped by encoding/json (HTML-safe: & < > as
 * \u0026 \u003c \u003e; invalid UTF-8 as \ufffd).  dh_json_go_quote gives the
 * same string bytes, so for the same values the payload is byte-identical to
 * kubectl's.
 */
#include "dockhand/pullsecret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/base64.h"
#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"
#include "dockhand/text.h"
#include "dockhand/yaml.h"

static void entry_release(struct dh_pullsecret_entry *e)
{
    free(e->registry);
    dh_str_free_wipe(e->username);
    dh_str_free_wipe(e->password);
    free(e->email);
    *e = (struct dh_pullsecret_entry){0};
}

void dh_pullsecret_release(struct dh_pullsecret *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n_entries; i++)
        entry_release(&p->entries[i]);
    free(p->entries);
    *p = (struct dh_pullsecret){0};
}

void dh_pullsecret_add(struct dh_pullsecret *p, const char *registry, const char *username,
                       const char *password, const char *email, int64_t expires_at)
{
    struct dh_pullsecret_entry *e = NULL;
    size_t i, bytes;

    for (i = 0; i < p->n_entries; i++) {
        if (!strcmp(p->entries[i].registry, registry)) {
            e = &p->entries[i];
            entry_release(e);
            break;
        }
    }
    if (!e) {
        if (__builtin_mul_overflow(p->n_entries + 1, sizeof(*p->entries), &bytes))
            dh_oom();
        p->entries = dh_xrealloc(p->entries, bytes);
        e = &p->entries[p->n_entries++];
    }
    e->registry = dh_xstrdup(registry);
    e->username = dh_xstrdup(username ? username : "");
    e->password = dh_xstrdup(password ? password : "");
    e->email = email && *email ? dh_xstrdup(email) : NULL;
    if (expires_at > 0 && (p->expires_at == 0 || expires_at < p->expires_at))
        p->expires_at = expires_at;
}

void dh_pullsecret_set_email(struct dh_pullsecret *p, const char *email)
{
    size_t i;

    for (i = 0; i < p->n_entries; i++) {
        free(p->entries[i].email);
        p->entries[i].email = email && *email ? dh_xstrdup(email) : NULL;
    }
}

int dh_pullsecret_resolve(const struct dh_config *cfg, const char *const *registries, size_t n,
                          struct dh_pullsecret *ret, struct dh_error **err)
{
    _cleanup_store_ struct dh_store *s = NULL;
    struct dh_pullsecret p = {0};
    size_t i;

    *ret = (struct dh_pullsecret){0};
    if (n == 0)
        return dh_error_make(err, EINVAL, "no registry given");
    if (dh_store_open_for_call(cfg, &s, err) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        _cleanup_cred_ struct dh_cred *c = NULL;
        _cleanup_free_ char *shown = NULL;
        int64_t expires_at = 0;
        int r;

        if (!registries[i][0]) {
            dh_pullsecret_release(&p);
            return dh_error_make(err, EINVAL, "empty registry name");
        }
        shown = dh_yaml_printable(registries[i], strlen(registries[i]));
        r = dh_resolve_cred(cfg, s, registries[i], &c, &expires_at, err);
        if (r < 0) {
            dh_pullsecret_release(&p);
            return dh_error_wrap(err, "cannot get credentials for '%s'", shown);
        }
        if (r == 0) {
            dh_pullsecret_release(&p);
            return dh_error_make(err, ENOENT, "no credentials for '%s'", shown);
        }
        /* docker's identity-token convention: the kubelet reads only
           username/password/auth, so such an entry would not pull. */
        if (!strcmp(c->username, "<token>")) {
            dh_pullsecret_release(&p);
            return dh_error_make(err, EINVAL,
                                 "the credentials for '%s' are an identity token, which the "
                                 "kubelet cannot use",
                                 shown);
        }
        dh_pullsecret_add(&p, registries[i], c->username, c->secret, NULL, expires_at);
    }
    *ret = p;
    return 0;
}

/* --- the payload ---------------------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    const struct dh_pullsecret_entry *const *x = a, *const *y = b;

    /* Go sorts map keys with strings.Compare: bytes, unsigned. */
    return strcmp((*x)->registry, (*y)->registry);
}

static int append_field(struct dh_buf *out, bool *first, const char *name, const char *value,
                        struct dh_error **err)
{
    if (!value || !*value) /* omitempty */
        return 0;
    if (dh_buf_printf(out, err, "%s\"%s\":", *first ? "" : ",", name) < 0 ||
        dh_json_go_quote(out, value, err) < 0)
        return -1;
    *first = false;
    return 0;
}

static int append_entry(struct dh_buf *out, const struct dh_pullsecret_entry *e,
                        struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf userpass = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX);
    char *auth = NULL;
    bool first = true;
    int r;

    if (dh_json_go_quote(out, e->registry, err) < 0 || dh_buf_puts(out, ":{", err) < 0)
        return -1;
    if (append_field(out, &first, "username", e->username, err) < 0 ||
        append_field(out, &first, "password", e->password, err) < 0 ||
        append_field(out, &first, "email", e->email, err) < 0)
        return -1;
    if (dh_buf_puts(&userpass, e->username, err) < 0 || dh_buf_puts(&userpass, ":", err) < 0 ||
        dh_buf_puts(&userpass, e->password, err) < 0)
        return -1;
    auth = dh_base64_encode(userpass.data, userpass.len, false);
    r = append_field(out, &first, "auth", auth, err);
    dh_str_free_wipe(auth);
    if (r < 0)
        return -1;
    return dh_buf_puts(out, "}", err);
}

int dh_pullsecret_dockerconfigjson(const struct dh_pullsecret *p, struct dh_buf *out,
                                   struct dh_error **err)
{
    _cleanup_free_ const struct dh_pullsecret_entry **sorted = NULL;
    size_t i, start = out->len, bytes;

    if (__builtin_mul_overflow(p->n_entries ? p->n_entries : 1, sizeof(*sorted), &bytes))
        dh_oom();
    sorted = dh_xmalloc(bytes);
    for (i = 0; i < p->n_entries; i++)
        sorted[i] = &p->entries[i];
    qsort(sorted, p->n_entries, sizeof(*sorted), entry_cmp);
    if (dh_buf_puts(out, "{\"auths\":{", err) < 0)
        goto fail;
    for (i = 0; i < p->n_entries; i++) {
        if ((i && dh_buf_puts(out, ",", err) < 0) || append_entry(out, sorted[i], err) < 0)
            goto fail;
    }
    if (dh_buf_puts(out, "}}", err) < 0)
        goto fail;
    return 0;
fail:
    dh_buf_truncate(out, start);
    if (err && *err && (*err)->status == E2BIG)
        return dh_error_wrap(err, "the pull secret is too large");
    return -1;
}

/* --- names ---------------------------------------------------------------------------------- */

#define LABEL_RE     "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define SUBDOMAIN_RE LABEL_RE "(\\." LABEL_RE ")*"

static bool alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* s[0..n) is a DNS-1123 label (without the length limit). */
static bool is_label(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
        return false;
    for (i = 0; i < n; i++)
        if (!alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool is_subdomain(const char *s)
{
    const char *dot;

    for (;;) {
        dot = strchr(s, '.');
        if (!is_label(s, dot ? (size_t)(dot - s) : strlen(s)))
            return false;
        if (!dot)
            return true;
        s = dot + 1;
    }
}

/* The API server's message: field: Invalid value: "<Go-quoted value>": reason. */
static int invalid(struct dh_error **err, const char *field, const char *value, const char *why)
{
    _cleanup_buf_ struct dh_buf q = DH_BUF_INIT(4096);

    if (strlen(value) > 300 || dh_json_go_quote(&q, value, NULL) < 0) {
        dh_buf_release(&q);
        (void)dh_buf_puts(&q, "\"...\"", NULL);
    }
    return dh_error_make(err, EINVAL, "%s: Invalid value: %s: %s", field, q.data, why);
}

int dh_pullsecret_check_name(const char *name, struct dh_error **err)
{
    if (!*name)
        return dh_error_make(err, EINVAL, "metadata.name: Required value: name is required");
    if (strlen(name) > 253)
        return invalid(err, "metadata.name", name, "must be no more than 253 characters");
    if (!is_subdomain(name))
        return invalid(err, "metadata.name", name,
                       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                       "characters, '-' or '.', and must start and end with an alphanumeric "
                       "character (e.g. 'example.com', regex used for validation is '" SUBDOMAIN_RE
                       "')");
    return 0;
}

int dh_pullsecret_check_namespace(const char *ns, struct dh_error **err)
{
    if (!*ns)
        return dh_error_make(err, EINVAL,
                             "metadata.namespace: Required value: namespace is required");
    if (strlen(ns) > 63)
        return invalid(err, "metadata.namespace", ns, "must be no more than 63 characters");
    if (!is_label(ns, strlen(ns)))
        return invalid(err, "metadata.namespace", ns,
                       "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                       "characters or '-', and must start and end with an alphanumeric character "
                       "(e.g. 'my-name',  or '123-abc', regex used for validation is '" LABEL_RE
                       "')");
    return 0;
}

/* --- the object ----------------------------------------------------------------------------- */

int dh_pullsecret_object(const struct dh_pullsecret *p, const char *name, const char *ns,
                         json_t **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf payload = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX);
    json_t *obj, *meta, *data, *labels;
    char *b64;

    if (dh_pullsecret_check_name(name, err) < 0 ||
        (ns && dh_pullsecret_check_namespace(ns, err) < 0))
        return -1;
    if (dh_pullsecret_dockerconfigjson(p, &payload, err) < 0)
        return -1;
    b64 = dh_base64_encode(payload.data, payload.len, false);
    dh_buf_release(&payload);

    obj = json_object();
    meta = json_object();
    labels = json_object();
    data = json_object();
    if (!obj || !meta || !labels || !data)
        dh_oom();
    if (json_object_set_new(obj, "kind", json_string("Secret")) < 0 ||
        json_object_set_new(obj, "apiVersion", json_string("v1")) < 0 ||
        json_object_set_new(obj, "metadata", meta) < 0 ||
        json_object_set_new(meta, "name", json_string(name)) < 0 ||
        (ns && json_object_set_new(meta, "namespace", json_string(ns)) < 0) ||
        json_object_set_new(meta, "labels", labels) < 0 ||
        json_object_set_new(labels, DH_PULLSECRET_LABEL_MANAGED_BY,
                            json_string(DH_PULLSECRET_MANAGER)) < 0)
        dh_oom();
    if (p->expires_at > 0) {
        json_t *ann = json_object();
        char when[32];
        struct tm tm;
        time_t t = (time_t)p->expires_at;

        if (!ann || !gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
            dh_oom();
        if (json_object_set_new(meta, "annotations", ann) < 0 ||
            json_object_set_new(ann, DH_PULLSECRET_ANNOTATION_EXPIRY, json_string(when)) < 0)
            dh_oom();
    }
    if (json_object_set_new(obj, "data", data) < 0 ||
        json_object_set_new(data, DH_PULLSECRET_KEY, json_string(b64)) < 0 ||
        json_object_set_new(obj, "type", json_string(DH_PULLSECRET_TYPE)) < 0)
        dh_oom();
    dh_str_free_wipe(b64);
    *ret = obj;
    return 0;
}

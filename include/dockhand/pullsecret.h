/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes.io/dockerconfigjson Secrets (issue 6): the payload kubectl makes
 * (`kubectl create secret docker-registry`), resolved from dockhand's own
 * credentials, and the Secret object around it.  Used by `dockhand secret
 * generate` and `dockhand secret sync`.
 */
#ifndef DOCKHAND_PULLSECRET_H
#define DOCKHAND_PULLSECRET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/config.h"
#include "dockhand/error.h"

/* Largest .dockerconfigjson accepted (Kubernetes caps a Secret at 1 MiB). */
#define DH_PULLSECRET_MAX (1024 * 1024)

/* What dockhand puts on every Secret it makes (docs/pull-secrets.md). */
#define DH_PULLSECRET_LABEL_MANAGED_BY  "app.kubernetes.io/managed-by"
#define DH_PULLSECRET_MANAGER           "dockhand"
#define DH_PULLSECRET_ANNOTATION_EXPIRY "dockhand.io/expires-at"
#define DH_PULLSECRET_TYPE              "kubernetes.io/dockerconfigjson"
#define DH_PULLSECRET_KEY               ".dockerconfigjson"

struct dh_pullsecret_entry {
    char *registry; /* the key under "auths", as given by the user */
    char *username; /* wiped on release */
    char *password; /* secret: wiped on release */
    char *email;    /* NULL when none */
};

struct dh_pullsecret {
    struct dh_pullsecret_entry *entries;
    size_t n_entries;
    int64_t expires_at; /* earliest expiry of a minted token among the entries, 0 = none known */
};

/* Frees the entries (wiping usernames and passwords) and resets *p to empty. */
void dh_pullsecret_release(struct dh_pullsecret *p);
static inline void dh_pullsecret_releasep(struct dh_pullsecret *p)
{
    dh_pullsecret_release(p);
}
#define _cleanup_pullsecret_ __attribute__((cleanup(dh_pullsecret_releasep)))

/* Resolves each registry as the helper's get does (src/resolve.c: routed store,
   ECR/GCR tokens).  A registry without credentials is an error naming it (a
   pull secret without them would be useless).  *ret is initialised first. */
int dh_pullsecret_resolve(const struct dh_config *cfg, const char *const *registries, size_t n,
                          struct dh_pullsecret *ret, struct dh_error **err);

/* Adds one entry (copies of the strings; email NULL or "" for none).  A
   registry already in p is replaced (the same "auths" key cannot appear
   twice).  expires_at (0 = unknown) lowers p->expires_at when earlier.
   p must be initialised ({0} or by dh_pullsecret_resolve). */
void dh_pullsecret_add(struct dh_pullsecret *p, const char *registry, const char *username,
                       const char *password, const char *email, int64_t expires_at);

/* Sets every entry's email (NULL or "" clears it). */
void dh_pullsecret_set_email(struct dh_pullsecret *p, const char *email);

/* Kubernetes' object-name rules, with the API server's messages:
   name: a DNS-1123 subdomain (at most 253 characters of [a-z0-9.-], alphanumeric
   at both ends, dot-separated labels); namespace: a DNS-1123 label (at most 63
   of [a-z0-9-], alphanumeric at both ends).  EINVAL with e.g.
   "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain ..." */
int dh_pullsecret_check_name(const char *name, struct dh_error **err);
int dh_pullsecret_check_namespace(const char *ns, struct dh_error **err);

/* The .dockerconfigjson payload, byte for byte as kubectl's
   `create secret docker-registry` encodes it for the same values (as parsed
   JSON: {"auths":{R:{"username","password","email"?,"auth"}}}): compact, Go's
   encoding/json string escaping, registries in Go's map order (sorted by
   bytes), empty fields omitted.  Appends to out, which should be a secret
   buffer. */
int dh_pullsecret_dockerconfigjson(const struct dh_pullsecret *p, struct dh_buf *out,
                                   struct dh_error **err);

/* The Secret object, keys in kubectl's -o json order: kind Secret, apiVersion
   v1, metadata {name, namespace (omitted when ns is NULL), labels
   {app.kubernetes.io/managed-by: dockhand}, annotations {dockhand.io/expires-at:
   RFC 3339 UTC} only when p->expires_at is set}, data {.dockerconfigjson:
   base64}, type kubernetes.io/dockerconfigjson.  Checks name and ns first.
   Sets *ret (a new reference).  The JSON holds the secret: serialise it into
   a secret buffer (jansson wipes its own blocks under
   dh_json_use_wiping_alloc). */
int dh_pullsecret_object(const struct dh_pullsecret *p, const char *name, const char *ns,
                         json_t **ret, struct dh_error **err);

#endif

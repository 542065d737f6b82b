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

struct dh_pullsecret_entry {
    char *registry; /* the key under "auths", as given by the user */
    char *username;
    char *password; /* secret: wiped on release */
    char *email;    /* NULL when none */
};

struct dh_pullsecret {
    struct dh_pullsecret_entry *entries;
    size_t n_entries;
    int64_t expires_at; /* earliest expiry of a minted token among the entries, 0 = none known */
};

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

/* The .dockerconfigjson payload, byte for byte as kubectl's
   `create secret docker-registry` encodes it for the same values (as parsed
   JSON: {"auths":{R:{"username","password","email"?,"auth"}}}).  out should be
   a secret buffer. */
int dh_pullsecret_dockerconfigjson(const struct dh_pullsecret *p, struct dh_buf *out,
                                   struct dh_error **err);

/* The Secret object (apiVersion v1, kind Secret, metadata name/namespace and
   the labels dockhand sets, type kubernetes.io/dockerconfigjson,
   data[".dockerconfigjson"] base64).  Sets *ret (a new reference).  The JSON
   holds the secret: serialise it into a secret buffer. */
int dh_pullsecret_object(const struct dh_pullsecret *p, const char *name, const char *ns,
                         json_t **ret, struct dh_error **err);

#endif

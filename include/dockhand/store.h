/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential store interface.  Every backend (the encrypted `file` store
 * today; `secretservice`, `dir:` and `kube:` later) implements the same four
 * operations for one namespace.
 *
 * Look-ups follow the registry URL rules of regurl.h: each store returns the
 * best-ranked entry for a server URL, and erase removes the entry that get
 * would return.
 */
#ifndef DOCKHAND_STORE_H
#define DOCKHAND_STORE_H

#include <stdbool.h>

#include <jansson.h>

#include "dockhand/error.h"

struct dh_config;

/* A credential.  secret is wiped on free. */
struct dh_cred {
    char *server_url;
    char *username;
    char *secret;
};
struct dh_cred *dh_cred_new(const char *server_url, const char *username, const char *secret);
void dh_cred_free(struct dh_cred *c);
static inline void dh_cred_freep(struct dh_cred **c)
{
    dh_cred_free(*c);
}
#define _cleanup_cred_ __attribute__((cleanup(dh_cred_freep)))

struct dh_store;

struct dh_store_ops {
    const char *type;
    /* Sets *ret to the credential, or to NULL when there is none (not an error). */
    int (*get)(struct dh_store *s, const char *server_url, struct dh_cred **ret,
               struct dh_error **err);
    int (*store)(struct dh_store *s, const struct dh_cred *cred, struct dh_error **err);
    /* Erasing a credential that does not exist succeeds. */
    int (*erase)(struct dh_store *s, const char *server_url, struct dh_error **err);
    /* Adds "server URL": "username" pairs to the JSON object out. */
    int (*list)(struct dh_store *s, json_t *out, struct dh_error **err);
    void (*close)(struct dh_store *s);
};

/* Backends embed this as their first member. */
struct dh_store {
    const struct dh_store_ops *ops;
    char *namespace;
};

/* Namespaces: 1 to 63 characters of [A-Za-z0-9._-], starting with a letter or digit. */
bool dh_namespace_valid(const char *ns);

/* Opens the store named by spec ("file", "secretservice", "dir:<root>", "kube[:<ns>]")
   for namespace ns. */
int dh_store_open(const char *spec, const char *ns, const struct dh_config *cfg,
                  struct dh_store **ret, struct dh_error **err);
void dh_store_close(struct dh_store *s);
static inline void dh_store_closep(struct dh_store **s)
{
    dh_store_close(*s);
}
#define _cleanup_store_ __attribute__((cleanup(dh_store_closep)))

/* Resolves the store spec and namespace for this call: DOCKHAND_STORE and
   DOCKHAND_NAMESPACE override the config file, which overrides the defaults
   ("file", "default").  Returns borrowed strings. */
void dh_store_selection(const struct dh_config *cfg, const char **ret_spec, const char **ret_ns);

/* Opens what one helper call uses (src/router.c): with DOCKHAND_STORE set or no
   `routes:` in the config, the selected store; otherwise a router that sends each
   registry to the store and namespace of the first matching route.  cfg is
   borrowed: it must outlive the store (declare it before the store's cleanup
   variable so it is freed after). */
int dh_store_open_for_call(const struct dh_config *cfg, struct dh_store **ret,
                           struct dh_error **err);

/* Backends.  arg is the text after "<type>:" in the spec, or NULL when there is none. */
int dh_store_file_open(const char *arg, const char *ns, const struct dh_config *cfg,
                       struct dh_store **ret, struct dh_error **err);
/* The desktop keyring (Secret Service over D-Bus, libsecret loaded at first use). */
int dh_store_secretservice_open(const char *arg, const char *ns, const struct dh_config *cfg,
                                struct dh_store **ret, struct dh_error **err);
/* Read-only tree of mounted secrets: dir:<root> reads <root>/<namespace>/<secret>/. */
int dh_store_dir_open(const char *arg, const char *ns, const struct dh_config *cfg,
                      struct dh_store **ret, struct dh_error **err);
/* Kubernetes Secrets: kube:<k8s namespace>, or kube (the dockhand namespace is the
   Kubernetes namespace). */
int dh_store_kube_open(const char *arg, const char *ns, const struct dh_config *cfg,
                       struct dh_store **ret, struct dh_error **err);

#endif

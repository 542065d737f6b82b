/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand secret sync`: keeps one kubernetes.io/dockerconfigjson Secret present
 * and fresh in many namespaces through the API server (see docs/secret-sync.md).
 *
 * A cycle resolves the registries' credentials once (dh_pullsecret_resolve: one
 * token fetch per registry at most), builds the Secret (dh_pullsecret_object),
 * reads the existing copies with one cluster-wide list
 * (GET /api/v1/secrets?fieldSelector=metadata.name=NAME, per-namespace GETs when
 * that is forbidden), applies the Secret (server-side apply, fieldManager
 * dockhand, force) only where it is missing or differs, and adds it to the
 * chosen ServiceAccounts' imagePullSecrets with GET/PUT carrying the
 * resourceVersion (409 re-reads and retries), keeping every other entry.
 * A failed resolution writes nothing.  Each namespace's outcome is one JSON line
 * on the report stream.
 *
 * Loop mode watches namespaces (allowWatchBookmarks, resumes from the last
 * resourceVersion, re-lists on 410 Gone) in a thread and syncs a new namespace as
 * it appears; the next full cycle comes at half the remaining life of the
 * earliest token (between min_interval and max_interval); SIGTERM/SIGINT end it.
 */
#ifndef DOCKHAND_SECRETSYNC_H
#define DOCKHAND_SECRETSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "dockhand/config.h"
#include "dockhand/error.h"

#define DH_SECRETSYNC_FIELD_MANAGER "dockhand"
#define DH_SECRETSYNC_MANAGED_LABEL "app.kubernetes.io/managed-by"
#define DH_SECRETSYNC_SA_ATTEMPTS   5

enum dh_secretsync_sa_mode {
    DH_SECRETSYNC_SA_NONE = 0,
    DH_SECRETSYNC_SA_NAMED, /* sas[0..n_sas) */
    DH_SECRETSYNC_SA_ALL,
};

struct dh_secretsync_opts {
    const char *name;              /* the Secret's name (DNS-1123 subdomain) */
    const char *const *registries; /* n_registries >= 1 */
    size_t n_registries;
    const char *const *namespaces; /* an explicit list, or NULL */
    size_t n_namespaces;
    const char *selector;       /* a label selector, or NULL */
    bool all_namespaces;        /* every namespace but the excluded ones */
    const char *const *exclude; /* NULL: kube-system and dockhand's own namespace */
    size_t n_exclude;
    enum dh_secretsync_sa_mode sa_mode;
    const char *const *sas;
    size_t n_sas;
    bool once;           /* one cycle, then return (-1 when a namespace failed) */
    long min_interval_s; /* bounds of the time between two full cycles */
    long max_interval_s;
    const char *context; /* kubeconfig context, or NULL */
    long timeout_ms;     /* per API request; 0 = DH_KUBE_DEFAULT_TIMEOUT_MS */
    FILE *report;        /* JSON lines, one per namespace and one per cycle */
};

/* Runs the sync (one cycle with opts->once, else until SIGTERM or SIGINT, then 0). */
int dh_secretsync_run(const struct dh_secretsync_opts *opts, const struct dh_config *cfg,
                      struct dh_error **err);

/* True when applying desired (a Secret object) over existing would change nothing
   dockhand owns: same type, every label and annotation of desired present with the
   same value, and each data key of desired decoding to the same bytes (for
   .dockerconfigjson: the same JSON document, whatever the formatting). */
bool dh_secretsync_secret_current(json_t *existing, json_t *desired);

/* For a ServiceAccount object: 1 when imagePullSecrets already names name; 0 with
   *ret_updated (new) the object to PUT: name appended to imagePullSecrets (every
   other entry kept in order), metadata.resourceVersion kept, managedFields
   dropped; -1 when sa is not a ServiceAccount object (EPROTO). */
int dh_secretsync_sa_add(const json_t *sa, const char *name, json_t **ret_updated,
                         struct dh_error **err);

/* The names in a NamespaceList's items (or any list of objects): a new array of
   strings, items without a valid DNS-1123 label name skipped. */
json_t *dh_secretsync_item_names(const json_t *items);

/* Parses "90", "90s", "15m", "2h", "1d" into seconds (1 to 30 days).  0 or -1. */
int dh_secretsync_parse_duration(const char *s, long *ret_s);

#endif

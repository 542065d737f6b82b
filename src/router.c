/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routing: the config's `routes:` map registry patterns to a store and a
 * namespace, first match wins, with the top-level store/namespace as the
 * default.  DOCKHAND_STORE turns routing off for one call (everything goes to
 * that store); DOCKHAND_NAMESPACE forces the namespace of whatever store a
 * registry is routed to.  Patterns follow the kubelet's keyring rules
 * (dh_kubelet_match_rank): glob host labels, equal ports, path prefixes.
 *
 * The router is itself a struct dh_store: get/store/erase go to the routed
 * store, opened on first use; list is the union of what `get` can reach, i.e.
 * each store's entries that route back to that store.  A store that cannot be
 * listed (no D-Bus, no cluster access) is skipped with a warning, so
 * `docker build`, which lists, keeps working.
 */
#include "dockhand/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/dockercfg.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"

struct opened {
    const char *spec; /* borrowed from the config */
    const char *ns;
    struct dh_store *store;
};

struct router {
    struct dh_store base;
    const struct dh_config *cfg; /* borrowed: outlives the router */
    const char *ns_override;
    struct opened *opened;
    size_t n_opened;
};

/* The store spec and namespace a server URL is routed to. */
static void route_for(const struct router *r, const char *server_url, const char **ret_spec,
                      const char **ret_ns)
{
    const struct dh_config *cfg = r->cfg;
    const char *spec = cfg->store, *ns = cfg->namespace;
    size_t i;

    for (i = 0; i < cfg->n_routes; i++) {
        const struct dh_route *route = &cfg->routes[i];

        if (dh_kubelet_match_rank(route->registry, server_url, 0) < 0)
            continue;
        if (route->store)
            spec = route->store;
        if (route->namespace)
            ns = route->namespace;
        break;
    }
    *ret_spec = spec;
    *ret_ns = r->ns_override ? r->ns_override : ns;
}

static int open_backend(struct router *r, const char *spec, const char *ns, struct dh_store **ret,
                        struct dh_error **err)
{
    size_t i;

    for (i = 0; i < r->n_opened; i++) {
        if (!strcmp(r->opened[i].spec, spec) && !strcmp(r->opened[i].ns, ns)) {
            *ret = r->opened[i].store;
            return 0;
        }
    }
    if (dh_store_open(spec, ns, r->cfg, ret, err) < 0)
        return -1;
    r->opened = dh_xrealloc(r->opened, (r->n_opened + 1) * sizeof(*r->opened));
    r->opened[r->n_opened++] = (struct opened){.spec = spec, .ns = ns, .store = *ret};
    return 0;
}

static int routed(struct router *r, const char *server_url, struct dh_store **ret,
                  struct dh_error **err)
{
    const char *spec, *ns;

    route_for(r, server_url, &spec, &ns);
    if (open_backend(r, spec, ns, ret, err) < 0)
        return dh_error_wrap(err, "store '%s' (namespace '%s')", spec, ns);
    return 0;
}

static int router_get(struct dh_store *s, const char *server_url, struct dh_cred **ret,
                      struct dh_error **err)
{
    struct dh_store *b;

    if (routed((struct router *)s, server_url, &b, err) < 0)
        return -1;
    return b->ops->get(b, server_url, ret, err);
}

static int router_store(struct dh_store *s, const struct dh_cred *cred, struct dh_error **err)
{
    struct dh_store *b;

    if (routed((struct router *)s, cred->server_url, &b, err) < 0)
        return -1;
    return b->ops->store(b, cred, err);
}

static int router_erase(struct dh_store *s, const char *server_url, struct dh_error **err)
{
    struct dh_store *b;

    if (routed((struct router *)s, server_url, &b, err) < 0)
        return -1;
    return b->ops->erase(b, server_url, err);
}

/* Lists one (spec, ns) target into out, keeping only entries that route back to it. */
static void list_target(struct router *r, const char *spec, const char *ns, json_t *out)
{
    _cleanup_error_ struct dh_error *e = NULL;
    json_auto_t *part = json_object();
    struct dh_store *b;
    const char *url;
    json_t *user;

    if (open_backend(r, spec, ns, &b, &e) < 0 || b->ops->list(b, part, &e) < 0) {
        dh_log_warn("cannot list store '%s' (namespace '%s'): %s, skipping it", spec, ns, e->msg);
        return;
    }
    json_object_foreach (part, url, user) {
        const char *rspec, *rns;

        route_for(r, url, &rspec, &rns);
        if (!strcmp(rspec, spec) && !strcmp(rns, ns) && !json_object_get(out, url))
            json_object_set(out, url, user);
    }
}

static int router_list(struct dh_store *s, json_t *out, struct dh_error **err)
{
    struct router *r = (struct router *)s;
    const char *ns = r->ns_override ? r->ns_override : r->cfg->namespace;
    size_t i;

    (void)err;
    for (i = 0; i < r->cfg->n_routes; i++) {
        const struct dh_route *route = &r->cfg->routes[i];
        const char *rns = r->ns_override
                                  ? r->ns_override
                                  : (route->namespace ? route->namespace : r->cfg->namespace);

        list_target(r, route->store ? route->store : r->cfg->store, rns, out);
    }
    list_target(r, r->cfg->store, ns, out);
    return 0;
}

static void router_close(struct dh_store *s)
{
    struct router *r = (struct router *)s;
    size_t i;

    for (i = 0; i < r->n_opened; i++)
        dh_store_close(r->opened[i].store);
    free(r->opened);
    free(r);
}

static const struct dh_store_ops router_ops = {
        .type = "router",
        .get = router_get,
        .store = router_store,
        .erase = router_erase,
        .list = router_list,
        .close = router_close,
};

int dh_store_open_for_call(const struct dh_config *cfg, struct dh_store **ret,
                           struct dh_error **err)
{
    const char *env_store = secure_getenv("DOCKHAND_STORE");
    const char *env_ns = secure_getenv("DOCKHAND_NAMESPACE");
    struct router *r;

    if (env_ns && !*env_ns)
        env_ns = NULL;
    if ((env_store && *env_store) || cfg->n_routes == 0) {
        const char *spec, *ns;
        int rc;

        dh_store_selection(cfg, &spec, &ns);
        rc = dh_store_open(spec, ns, cfg, ret, err);
        return rc;
    }
    if (env_ns && !dh_namespace_valid(env_ns)) {
        return dh_error_make(err, EINVAL,
                             "invalid namespace '%s': use 1 to 63 letters, digits, '.', '_' or '-'",
                             env_ns);
    }
    r = dh_xcalloc(1, sizeof(*r));
    r->base.ops = &router_ops;
    r->base.namespace = NULL;
    r->cfg = cfg;
    r->ns_override = env_ns;
    *ret = &r->base;
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/mem.h"

struct dh_cred *dh_cred_new(const char *server_url, const char *username, const char *secret)
{
    struct dh_cred *c = dh_xcalloc(1, sizeof(*c));

    c->server_url = dh_xstrdup(server_url ? server_url : "");
    c->username = dh_xstrdup(username ? username : "");
    c->secret = dh_xstrdup(secret ? secret : "");
    return c;
}

void dh_cred_free(struct dh_cred *c)
{
    if (!c)
        return;
    free(c->server_url);
    dh_str_free_wipe(c->username);
    dh_str_free_wipe(c->secret);
    free(c);
}

bool dh_namespace_valid(const char *ns)
{
    size_t i, n = strlen(ns);

    if (n == 0 || n > 63)
        return false;
    for (i = 0; i < n; i++) {
        char c = ns[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

void dh_store_selection(const struct dh_config *cfg, const char **ret_spec, const char **ret_ns)
{
    const char *spec = secure_getenv("DOCKHAND_STORE");
    const char *ns = secure_getenv("DOCKHAND_NAMESPACE");

    if (!spec || !*spec)
        spec = cfg && cfg->store ? cfg->store : "file";
    if (!ns || !*ns)
        ns = cfg && cfg->namespace ? cfg->namespace : "default";
    *ret_spec = spec;
    *ret_ns = ns;
}

static const struct store_backend {
    const char *prefix; /* spec is exactly this, or this + ":" + argument */
    bool takes_arg;     /* the part after ':' is passed on */
    int (*open)(const char *arg, const char *ns, const struct dh_config *cfg, struct dh_store **ret,
                struct dh_error **err);
} backends[] = {
        {"file", false, dh_store_file_open},
        {"secretservice", false, dh_store_secretservice_open},
        {"dir", true, dh_store_dir_open},
        {"kube", true, dh_store_kube_open},
};

int dh_store_open(const char *spec, const char *ns, const struct dh_config *cfg,
                  struct dh_store **ret, struct dh_error **err)
{
    size_t i;

    if (!dh_namespace_valid(ns))
        return dh_error_make(err, EINVAL,
                             "invalid namespace '%s': use 1 to 63 letters, digits, '.', '_' or '-'",
                             ns);
    for (i = 0; i < DH_ARRAY_SIZE(backends); i++) {
        size_t n = strlen(backends[i].prefix);

        if (strncmp(spec, backends[i].prefix, n) != 0)
            continue;
        if (spec[n] == '\0')
            return backends[i].open(NULL, ns, cfg, ret, err);
        if (spec[n] == ':' && backends[i].takes_arg)
            return backends[i].open(spec + n + 1, ns, cfg, ret, err);
    }
    return dh_error_make(err, EINVAL,
                         "unknown store '%s' (known stores: file, secretservice, dir:<root>, "
                         "kube[:<namespace>])",
                         spec);
}

void dh_store_close(struct dh_store *s)
{
    if (s)
        s->ops->close(s);
}

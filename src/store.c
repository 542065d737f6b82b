/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int dh_store_open(const char *spec, const char *ns, const struct dh_config *cfg,
                  struct dh_store **ret, struct dh_error **err)
{
    if (!dh_namespace_valid(ns))
        return dh_error_make(err, EINVAL,
                             "invalid namespace '%s': use 1 to 63 letters, digits, '.', '_' or '-'",
                             ns);
    if (!strcmp(spec, "file"))
        return dh_store_file_open(ns, cfg, ret, err);
    return dh_error_make(err, EINVAL, "unknown store '%s' (known stores: file)", spec);
}

void dh_store_close(struct dh_store *s)
{
    if (s)
        s->ops->close(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/token.h"

#include <stdlib.h>

#include "dockhand/mem.h"

struct dh_token *dh_token_new(const char *username, const char *secret, int64_t expires_at,
                              const char *source)
{
    struct dh_token *t = dh_xcalloc(1, sizeof(*t));

    t->username = dh_xstrdup(username);
    t->secret = dh_xstrdup(secret);
    t->expires_at = expires_at;
    t->source = dh_xstrdup(source ? source : "");
    return t;
}

void dh_token_free(struct dh_token *t)
{
    if (!t)
        return;
    free(t->username);
    dh_str_free_wipe(t->secret);
    free(t->source);
    free(t);
}

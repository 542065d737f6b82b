/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/resolve.h"

#include "dockhand/cleanup.h"
#include "dockhand/token.h"
#include "dockhand/tokens.h"

int dh_resolve_cred(const struct dh_config *cfg, struct dh_store *s, const char *server,
                    struct dh_cred **ret, int64_t *ret_expires_at, struct dh_error **err)
{
    _cleanup_cred_ struct dh_cred *c = NULL;
    _cleanup_token_ struct dh_token *tok = NULL;
    int minted;

    *ret = NULL;
    if (ret_expires_at)
        *ret_expires_at = 0;
    if (s->ops->get(s, server, &c, err) < 0)
        return -1;
    /* ECR and GCR tokens are minted (and cached) by dockhand itself (src/tokens.c). */
    minted = dh_tokens_resolve(cfg, server, c, &tok, err);
    if (minted < 0)
        return -1;
    if (minted == 1) {
        dh_cred_free(c);
        c = dh_cred_new(server, tok->username, tok->secret);
        if (ret_expires_at)
            *ret_expires_at = tok->expires_at;
    }
    /* As docker-credential-secretservice: an empty secret reads as "not found". */
    if (!c || !*c->secret)
        return 0;
    *ret = TAKE_PTR(c);
    return 1;
}

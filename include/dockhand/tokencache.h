/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token cache: minted registry tokens shared by every dockhand process of
 * the user, under $XDG_CACHE_HOME/dockhand/tokens/ (mode 0700; files 0600,
 * written atomically), keyed by provider, identity and registry.
 *
 * Rules (docs/tokens.md):
 *  - a token is fresh until half of its lifetime has passed; a fresh token is
 *    served without any network call;
 *  - past that, one process refreshes it: it takes the key's lock, reads the
 *    cache again (another process may have refreshed it meanwhile) and mints
 *    only when it is still stale, so N concurrent callers cause one upstream
 *    call and all N answer;
 *  - a refresh that fails while the cached token is still valid serves the
 *    cached token with a warning on stderr;
 *  - a token is never served within the safety margin of its expiry
 *    (min(60 s, a tenth of its lifetime)) or past it: the call fails with the
 *    minting error, which names the credential source, endpoint and status.
 */
#ifndef DOCKHAND_TOKENCACHE_H
#define DOCKHAND_TOKENCACHE_H

#include <stdint.h>

#include "dockhand/error.h"
#include "dockhand/token.h"

typedef int (*dh_token_mint_fn)(void *arg, struct dh_token **ret, struct dh_error **err);

struct dh_token_request {
    const char *provider; /* "ecr", "gcr" */
    const char *identity; /* non-secret identity of the credentials used */
    const char *registry; /* canonical registry key */
    dh_token_mint_fn mint;
    void *mint_arg;
};

/* A valid token for the request, from the cache or freshly minted (see above). */
int dh_token_cache_get(const struct dh_token_request *req, struct dh_token **ret,
                       struct dh_error **err);

/* The seconds before expiry within which a token of this lifetime is not served. */
int64_t dh_token_margin(int64_t lifetime);

#endif

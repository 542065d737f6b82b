/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One registry's credentials, resolved exactly as the helper's `get` resolves
 * them: the routed store (routes:, DOCKHAND_STORE, DOCKHAND_NAMESPACE), then
 * minted ECR/GCR tokens (src/tokens.c rules).  Every command that needs
 * credentials (secret generate, prune, login checks, pull, agent) goes through
 * here, so they all agree with what docker gets from the helper.
 */
#ifndef DOCKHAND_RESOLVE_H
#define DOCKHAND_RESOLVE_H

#include <stdint.h>

#include "dockhand/config.h"
#include "dockhand/error.h"
#include "dockhand/store.h"

/* Sets *ret (ServerURL = server) and returns 1 when credentials answer, 0 when
   there are none (the helper's "credentials not found in native keychain"), -1
   on error.  s is a store from dh_store_open_for_call(cfg).  When
   ret_expires_at is given it is set to the minted token's expiry (unix seconds),
   or 0 for a stored credential (no known expiry). */
int dh_resolve_cred(const struct dh_config *cfg, struct dh_store *s, const char *server,
                    struct dh_cred **ret, int64_t *ret_expires_at, struct dh_error **err);

#endif

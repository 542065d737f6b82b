/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registries whose credentials dockhand mints itself: ECR and ECR Public (by
 * host name, or mapped with `ecr:` in the config) and GCR / Artifact Registry
 * (by host name, or listed in `gcr.registries`).  See docs/tokens.md.
 */
#ifndef DOCKHAND_TOKENS_H
#define DOCKHAND_TOKENS_H

#include <stdbool.h>

#include "dockhand/config.h"
#include "dockhand/error.h"
#include "dockhand/store.h"
#include "dockhand/token.h"

struct dh_cred;

/* The helper's `get`: given what the store holds for server_url (NULL when nothing),
   returns 1 with *ret set when a minted token answers, 0 when the stored credential
   (or "not found") answers, -1 when nothing can answer and minting failed (the error
   says which source, endpoint and status).  See the rules at the top of tokens.c. */
int dh_tokens_resolve(const struct dh_config *cfg, const char *server_url,
                      const struct dh_cred *stored, struct dh_token **ret, struct dh_error **err);

/* For a registry dockhand mints tokens for, sets *ret to a valid token (from the
   token cache, refreshed ahead of expiry) and returns 1; returns 0 for any other
   registry; -1 when minting failed (the error says which source, endpoint, status). */
int dh_tokens_lookup(const struct dh_config *cfg, const char *server_url, struct dh_token **ret,
                     struct dh_error **err);

/* True when dockhand mints the tokens of this registry (ECR, ECR Public, GCR,
   Artifact Registry, or a host mapped with `ecr:` or `gcr.registries`): no login
   is needed for it.  Makes no network call. */
bool dh_tokens_is_minted(const struct dh_config *cfg, const char *server_url);

#endif

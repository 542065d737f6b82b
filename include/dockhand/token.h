/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry tokens minted by dockhand (ECR, ECR Public, GCR/Artifact Registry).
 * Providers (ecr.c, gcp.c) mint them; tokencache.c caches them across
 * processes and refreshes them before expiry.
 */
#ifndef DOCKHAND_TOKEN_H
#define DOCKHAND_TOKEN_H

#include <stdint.h>

#include "dockhand/error.h"

struct dh_token {
    char *username;     /* "AWS", "oauth2accesstoken" */
    char *secret;       /* the token (wiped on free) */
    int64_t expires_at; /* unix seconds */
    char *source;       /* human-readable origin for messages, never secret:
                           "ECR GetAuthorizationToken at https://api.ecr.us-east-1.amazonaws.com
                           with credentials from profile 'prod'" */
};
struct dh_token *dh_token_new(const char *username, const char *secret, int64_t expires_at,
                              const char *source);
void dh_token_free(struct dh_token *t);
static inline void dh_token_freep(struct dh_token **t)
{
    dh_token_free(*t);
}
#define _cleanup_token_ __attribute__((cleanup(dh_token_freep)))

#endif

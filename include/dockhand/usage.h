/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What dockhand remembers about its own use, for `dockhand prune`
 * (docs/prune.md), under $XDG_STATE_HOME/dockhand (~/.local/state/dockhand):
 *
 *  - usage records: the helper's successful `get` touches a marker file
 *    seen/<hash>, named by the first 16 bytes (hex) of sha256 of the registry's
 *    hostname (dh_dockerconfig_hostname: docker's ConvertToHostname with the
 *    Docker Hub aliases), so "registry last used at T" is the file's mtime.  One
 *    utimensat(2) per get; the file (holding the hostname, for people) is made
 *    on the first use.  Recording never fails a get.
 *
 *  - the minted-token ledger, minted.json: when the token cache stores a
 *    freshly minted token, sha256(token) -> {registry, expires_at} is added
 *    (atomic write under minted.lock; entries 30 days past their expiry are
 *    dropped then).  Only a hash of the token is kept, never the token.  prune
 *    uses it to know that a token found in config.json (an ECR or GCR token
 *    dockhand minted) has expired.  dh_minted_load() also reads the tokens held
 *    by the token cache now ($XDG_CACHE_HOME/dockhand/tokens/, version 1 files
 *    of src/tokencache.c), so tokens minted before the ledger existed are known
 *    too while they are cached.
 */
#ifndef DOCKHAND_USAGE_H
#define DOCKHAND_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"

/* Drop ledger entries this long after their expiry. */
#define DH_MINTED_KEEP_SECONDS ((int64_t)30 * 24 * 3600)

/* Sets *ret to "$XDG_STATE_HOME/dockhand" (an absolute XDG_STATE_HOME), else
   "$HOME/.local/state/dockhand".  Not created.  Caller frees. */
int dh_usage_state_dir(char **ret, struct dh_error **err);

/* Records that credentials for registry (a server URL or a config.json key) were
   served now.  Best effort: failures are logged at debug level only. */
void dh_usage_record(const char *registry);

/* The last recorded use of registry: returns 1 and sets *ret (unix seconds), or 0
   when dockhand has no record of it. */
int dh_usage_last_used(const char *registry, int64_t *ret);

/* Adds a freshly minted token to the ledger (see above).  Best effort: a failure
   is logged as a warning and never fails the caller. */
void dh_minted_record(const char *registry, const char *secret, int64_t expires_at);

/* Writes the ledger entry as dh_minted_record does, reporting errors (for tests and
   for callers that care).  now is the current time (entries with expires_at +
   DH_MINTED_KEEP_SECONDS <= now are dropped). */
int dh_minted_add(const char *registry, const char *secret, int64_t expires_at, int64_t now,
                  struct dh_error **err);

/* The known minted tokens: the ledger plus the token cache (see above). */
struct dh_minted;

/* Loads them.  A missing ledger or cache is empty; a malformed ledger or cache file
   is ignored with a warning.  Caller frees with dh_minted_free(). */
int dh_minted_load(struct dh_minted **ret, struct dh_error **err);
void dh_minted_free(struct dh_minted *m);
static inline void dh_minted_freep(struct dh_minted **m)
{
    dh_minted_free(*m);
}
#define _cleanup_minted_ __attribute__((cleanup(dh_minted_freep)))

/* Number of distinct tokens known. */
size_t dh_minted_count(const struct dh_minted *m);

/* Returns 1 and sets *ret_expires_at when secret is a token dockhand minted, else 0.
   m may be NULL (nothing known). */
int dh_minted_find(const struct dh_minted *m, const char *secret, int64_t *ret_expires_at);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running another docker credential helper (docker-credential-NAME from PATH),
 * as the docker CLI does: for `prune` (does the store still hold credentials for
 * an `auths: {}` entry?) and `secret generate --from-docker-config` (resolve a
 * config's credHelpers/credsStore).
 *
 * The helper gets the server URL on stdin, our environment (dockhand puts no
 * secret in it), stdout and stderr captured (stdout capped at 1 MiB and wiped
 * after parsing; stderr discarded), and is killed after the time-out.  A helper
 * named "dockhand" is not executed: callers resolve dockhand's own credentials
 * in process (src/resolve.c).
 */
#ifndef DOCKHAND_HELPEREXEC_H
#define DOCKHAND_HELPEREXEC_H

#include <stdbool.h>

#include "dockhand/error.h"

#define DH_HELPEREXEC_TIMEOUT_MS 30000

/* Looks docker-credential-NAME up on PATH.  Returns 1 and sets *ret_path (caller
   frees; may be NULL to only test) when found and executable, 0 when not. */
int dh_helperexec_find(const char *name, char **ret_path);

/* Runs `docker-credential-NAME get` for server.  Returns 1 with *ret_user and
   *ret_secret set (caller frees; free the secret with dh_str_free_wipe()), 0
   when the helper answers "credentials not found in native keychain" (or an
   empty secret), -1 with *err otherwise: not on PATH (ENOENT), time-out
   (ETIMEDOUT), another failure (EIO, with the helper's one-line message, which
   docker-credential-helpers never fills with a secret).  The Username
   "<token>" (an identity token) is returned as it is. */
int dh_helperexec_get(const char *name, const char *server, char **ret_user, char **ret_secret,
                      struct dh_error **err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Editing a docker config.json (or a decoded .dockerconfigjson / .dockercfg)
 * without losing anything: the module every writer of config.json goes through
 * (prune, configure-docker, login, logout).
 *
 *  - The file is parsed generically (jansson, key order kept), so unknown
 *    fields survive, at every level.  An empty or white-space-only file is an
 *    empty object (as the docker CLI treats it); anything else that is not a
 *    JSON object is refused with "FILE: not valid JSON: ..." and nothing is
 *    written.
 *  - The formatting is kept: the indent unit found in the file (a tab, as the
 *    docker CLI writes, or N spaces), or compact when the file was one line; a
 *    trailing newline only when the file had one.  A new file is written as the
 *    docker CLI writes it (tab indent, no trailing newline).  Strings are
 *    escaped as Go's encoding/json does (docker's own writer), so a file the
 *    docker CLI wrote and dockhand did not change serialises to the same bytes.
 *  - Saving writes nothing when the document was not edited (so a hand-written
 *    file dockhand would format differently is left alone); otherwise temp file in
 *    the same directory + fsync + rename + fsync of the directory, keeping the
 *    old file's mode and owner (0600 for a new one), after resolving symlinks
 *    (a dotfile-managed config.json stays a symlink), like docker/cli's Save().
 *  - With DH_DOCKERCONFIG_LOCK the whole read-modify-write runs under dockhand's
 *    lock, an flock on "<dir>/.<name>.lock" next to the (resolved) file, taken
 *    before the file is read, so concurrent dockhand writers never lose an
 *    update.  Under the lock, temporary files a killed dockhand writer left
 *    (".<name>.tmp.XXXXXX") are removed.  The docker CLI itself takes no lock;
 *    its own saves are atomic too, so a reader never sees a torn file.
 */
#ifndef DOCKHAND_DOCKERCONFIG_H
#define DOCKHAND_DOCKERCONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

/* Files larger than this are refused (E2BIG). */
#define DH_DOCKERCONFIG_MAX ((size_t)256 << 20)

enum {
    DH_DOCKERCONFIG_LOCK = 1 << 0,   /* take the lock for a read-modify-write (released on free) */
    DH_DOCKERCONFIG_CREATE = 1 << 1, /* a missing file is an empty document (else ENOENT) */
};

struct dh_dockerconfig;

/* The default path: $DOCKER_CONFIG/config.json, else ~/.docker/config.json
   ($HOME, else the passwd entry).  Sets *ret (caller frees). */
int dh_dockerconfig_default_path(char **ret, struct dh_error **err);

/* Opens path (NULL = the default path).  flags: DH_DOCKERCONFIG_*.  With LOCK,
   missing parent directories are created (0700) so the lock can be taken. */
int dh_dockerconfig_open(const char *path, unsigned flags, struct dh_dockerconfig **ret,
                         struct dh_error **err);
void dh_dockerconfig_free(struct dh_dockerconfig *c);
static inline void dh_dockerconfig_freep(struct dh_dockerconfig **c)
{
    dh_dockerconfig_free(*c);
}
#define _cleanup_dockerconfig_ __attribute__((cleanup(dh_dockerconfig_freep)))

/* Parses an in-memory document (no file, no lock; for tests and fuzzing).
   name is used in error messages. */
int dh_dockerconfig_parse(const char *name, const char *data, size_t len,
                          struct dh_dockerconfig **ret, struct dh_error **err);

/* The path as given (or the default) and the resolved file actually written. */
const char *dh_dockerconfig_path(const struct dh_dockerconfig *c);

/* The root object (borrowed; edit it in place). */
json_t *dh_dockerconfig_root(struct dh_dockerconfig *c);

/* True when the document is the legacy ~/.dockercfg shape: no "auths" key and
   every top-level value an object (the entries themselves at the top level). */
bool dh_dockerconfig_is_legacy(const struct dh_dockerconfig *c);

/* The auths map (borrowed): root["auths"], or the root itself for a legacy
   document.  With create, a missing "auths" is added (as an empty object at the
   end); without, NULL when absent.  NULL too when "auths" is not an object. */
json_t *dh_dockerconfig_auths(struct dh_dockerconfig *c, bool create);

/* Serialises the current document in the file's formatting (see above). */
int dh_dockerconfig_serialize(const struct dh_dockerconfig *c, struct dh_buf *out,
                              struct dh_error **err);

/* True when the document was edited since it was read or saved (values or key
   order); a missing or empty file is edited once anything was added. */
bool dh_dockerconfig_changed(const struct dh_dockerconfig *c);

/* Writes the document when it was edited (sets *ret_written when given).  The
   lock, when taken, is kept until dh_dockerconfig_free(). */
int dh_dockerconfig_save(struct dh_dockerconfig *c, bool *ret_written, struct dh_error **err);

/*
 * docker's registry key rules for config.json (docker/cli ConvertToHostname):
 * strips "http://" or "https://" and everything from the first '/', lowercases
 * the host, and maps every Docker Hub alias (docker.io, index.docker.io,
 * registry-1.docker.io, registry.hub.docker.com) to "index.docker.io".  Two
 * `auths` keys are the same registry when their hostnames are equal.  Returns
 * a new string (caller frees); never NULL.
 */
char *dh_dockerconfig_hostname(const char *key);

/* The key docker itself writes for a registry: "https://index.docker.io/v1/"
   for Docker Hub, else the hostname above.  Returns a new string. */
char *dh_dockerconfig_key_for(const char *registry);

/* Sets *ret_user and *ret_pass (a secret, wiped on free; caller frees both with
   free() and dh_str_free_wipe()) from an auths entry: "username"/"password" when set,
   else the base64 "auth" ("user:pass", split at the first ':').  Returns 1 when
   the entry holds credentials, 0 when it holds none (e.g. {} or only an
   identitytoken), -1 with *err when "auth" is not valid base64 or has no ':'. */
int dh_dockerconfig_entry_creds(json_t *entry, char **ret_user, char **ret_pass,
                                struct dh_error **err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The docker credential helper protocol (docker-credential-helpers v0.9):
 * verbs store, get, erase, list and version; stdin as the Go helpers read it
 * (lines joined without their newlines); output and error text on stdout;
 * exit status 1 on any error.  See docs/helper.md.
 */
#ifndef DOCKHAND_HELPER_H
#define DOCKHAND_HELPER_H

#include <stddef.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"
#include "dockhand/store.h"

#define DH_HELPER_NAME      "docker-credential-dockhand"
#define DH_HELPER_PACKAGE   "dockhand"
#define DH_HELPER_INPUT_MAX (1u << 20)

#define DH_HELPER_ERR_NOT_FOUND "credentials not found in native keychain"
#define DH_HELPER_ERR_NO_SERVER "no credentials server URL"
#define DH_HELPER_ERR_NO_USER   "no credentials username"

/* Joins lines in place as bufio.Scanner + concatenation does: drops each "\n"
   and a "\r" right before it (and a final "\r"). */
void dh_helper_join_lines(struct dh_buf *in);

/* Parses the `store` payload {"ServerURL","Username","Secret"} (keys matched
   case-insensitively, last one wins; null means empty).  Checks the payload is
   valid JSON and UTF-8 and that ServerURL and Username are set. */
int dh_helper_parse_store(const char *in, size_t len, struct dh_cred **ret, struct dh_error **err);

/* Parses the `get`/`erase` payload: a trimmed server URL (must be valid UTF-8, no NUL). */
int dh_helper_parse_server(const char *in, size_t len, char **ret, struct dh_error **err);

/* Encodes a `get` answer: {"ServerURL":..,"Username":..,"Secret":..}\n, Go style. */
int dh_helper_format_cred(struct dh_buf *out, const char *server_url, const struct dh_cred *c,
                          struct dh_error **err);
/* Encodes a `list` answer from a JSON object of strings: keys sorted, Go style, "\n" ended. */
int dh_helper_format_list(struct dh_buf *out, json_t *map, struct dh_error **err);

/*
 * Runs one helper invocation.  argv is the helper's argv.  Reads stdin from
 * in_fd when the verb needs it.  Fills *out with exactly what belongs on
 * stdout (the answer, or the error line) and returns the exit status.
 */
int dh_helper_main(int argc, char **argv, int in_fd, struct dh_buf *out);

#endif

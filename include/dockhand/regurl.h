/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry server URLs: parsing, normalisation and matching.
 *
 * Docker clients pass a credential helper the registry "server URL" in many
 * spellings ("h", "h:5000", "//h:5000", "https://h:5000/v2/", ...).  This module
 * turns one into a canonical struct dh_regurl and a canonical key string, and
 * ranks stored entries against a look-up.  The product rules:
 *
 * Parsing (docker-credential-helpers registryurl.Parse semantics, stricter):
 *  - The input is at most DH_REGURL_MAX (4096) bytes, and so is its canonical
 *    key; longer gives "server URL is too long".  ASCII control characters
 *    anywhere give "invalid character in URL".
 *  - A scheme is the [A-Za-z][A-Za-z0-9+.-]* token before the first "://".
 *    It is lowercased; anything but "http"/"https" gives
 *    "unsupported scheme: X".  No scheme (or a leading "//") means https.
 *  - The authority runs to the first '/', '?' or '#'.  A '@' in it (userinfo)
 *    gives "credentials in server URL are not supported".  An empty host
 *    gives "no hostname in URL".
 *  - The host is lowercased and may hold only [A-Za-z0-9._-]; or it is an
 *    IPv6 literal in brackets, validated and rewritten to its canonical
 *    inet_ntop(3) form ("[0:0::1]" -> "[::1]"), no zone.  Anything else gives
 *    "invalid hostname in URL".
 *  - The port, when a ':' follows the host, is decimal digits only (no sign,
 *    leading zeros allowed) with a value in 1..65535, else "invalid port in
 *    URL" (this includes "h:" with nothing after the colon).  The scheme's
 *    default port (https 443, http 80) is stored as 0.
 *  - The query and the fragment are dropped.  In the path, runs of '/' are
 *    collapsed, trailing '/' removed, then a final "/v1" or "/v2" segment is
 *    removed (repeatedly, so that the key is a fixed point).  Percent-escapes
 *    are not decoded and case is kept; a space or a byte >= 0x80 is
 *    percent-encoded ("%20", "%C3%A9"), as Go's url.URL.String() does.
 *    "." and ".." segments are kept as they are.
 *  - Docker Hub: the hosts docker.io, index.docker.io, registry-1.docker.io
 *    and registry.hub.docker.com are one registry, with canonical host
 *    index.docker.io, scheme https and port 0 whatever scheme or port was
 *    given ("https://index.docker.io/v1/" == "docker.io" == "http://
 *    registry-1.docker.io").  Their path follows the rule above.
 *  - Error messages never contain the URL (it may hold a secret); only the
 *    scheme token is echoed.
 *
 * Key: "scheme://host[:port][path]", the port only when not the default.
 * Every Hub alias gives "https://index.docker.io".  Parsing a key gives the
 * same key back.
 *
 * Matching a stored entry against a look-up (dh_regurl_match_rank):
 *  - scheme, host and port must be equal, or there is no match (-1).  So
 *    http never matches https, and unlike osxkeychain a look-up of "h" does
 *    not find a stored "h:2376".
 *  - equal paths: DH_REGURL_RANK_EXACT (the highest);
 *  - the stored path is a path-segment prefix of the look-up path ("/a"
 *    for "/a/b", "" for anything, never "/a" for "/ab"):
 *    DH_REGURL_RANK_PREFIX + strlen(stored path), so the longest prefix wins;
 *  - the look-up has no path and the stored entry has one (the osxkeychain
 *    alias "https://h:1234/one/two" found by "https://h:1234"):
 *    DH_REGURL_RANK_ALIAS, the lowest positive rank;
 *  - anything else (e.g. "/one/two" against "/five/six"): -1.
 */
#ifndef DOCKHAND_REGURL_H
#define DOCKHAND_REGURL_H

#include "dockhand/error.h"

#define DH_REGURL_MAX 4096

#define DH_REGURL_RANK_ALIAS  1
#define DH_REGURL_RANK_PREFIX 2
#define DH_REGURL_RANK_EXACT  (1 << 20)

struct dh_regurl {
    char *scheme; /* "https" or "http" (lowercase) */
    char *host;   /* lowercase; IPv6 literal kept in brackets, e.g. "[::1]" */
    unsigned
            port; /* 0 = the scheme's default (443 / 80); an explicit default port is stored as 0 */
    char *path;   /* "" or "/a/b": no trailing slash, a final "/v1" or "/v2" segment removed, no
                     query/fragment */
};

/*
 * Parses a server URL as docker clients pass it: "host", "host:port",
 * "//host:port", "https://host:port/path", "http://...", with an optional
 * query (dropped).  On success fills *ret (release with dh_regurl_release());
 * on failure *ret is untouched and *err is set (status EINVAL, or E2BIG when
 * too long).  s may be NULL (treated as "").
 */
int dh_regurl_parse(const char *s, struct dh_regurl *ret, struct dh_error **err);
/* Frees the fields and sets them to NULL/0.  NULL allowed; safe to call twice. */
void dh_regurl_release(struct dh_regurl *u);
static inline void dh_regurl_releasep(struct dh_regurl *u)
{
    dh_regurl_release(u);
}
#define _cleanup_regurl_ __attribute__((cleanup(dh_regurl_releasep)))

/* The canonical key: "https://host[:port][/path]"; every Docker Hub alias gives
 * "https://index.docker.io".  Returns a new string; the caller frees it. */
char *dh_regurl_key(const struct dh_regurl *u);
/* Parses s and sets *ret_key to its canonical key (caller frees).  Errors as dh_regurl_parse. */
int dh_regurl_normalize(const char *s, char **ret_key, struct dh_error **err);

/*
 * Match rank of a stored entry for a look-up: -1 = no match; higher is better
 * (see the rules above).  NULL or unparsed (zeroed) arguments never match.
 */
int dh_regurl_match_rank(const struct dh_regurl *stored, const struct dh_regurl *query);
/* Convenience: parses both and ranks; unparsable strings (or NULL) never match. */
int dh_regurl_match_rank_str(const char *stored, const char *query);

#endif

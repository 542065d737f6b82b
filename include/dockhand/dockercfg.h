/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker configuration documents and kubelet-style registry matching.
 *
 * Parsing (dh_dockercfg_parse) reads the three shapes that carry registry
 * credentials:
 *  - a `.dockerconfigjson` (kubernetes.io/dockerconfigjson Secret):
 *    {"auths": {"<key>": {entry}}};
 *  - a legacy `.dockercfg` (kubernetes.io/dockercfg Secret): {"<key>": {entry}};
 *  - a docker `config.json`: "auths" as above, plus "credsStore" and
 *    "credHelpers", which are exposed but not resolved.
 * An entry's fields are "username", "password", "email", "auth" and
 * "identitytoken" (strings; null means absent; other fields are ignored).  As
 * in the kubelet (pkg/credentialprovider/config.go), a non-empty "auth"
 * overrides username and password: it is base64 (standard alphabet, padded or
 * not, CR and LF ignored) of "user:pass", split at the first ':'.
 *
 * The document must be well-formed JSON (no NUL byte, no duplicate key) with
 * an object at the top.  Every failure is an EINVAL error (E2BIG past
 * DH_DOCKERCFG_MAX) that names the problem and at most the entry key (or its
 * position, "entry #2", when the key is unprintable), never a value: no
 * secret is echoed.
 *
 * Matching (dh_kubelet_match_rank) follows the kubelet keyring
 * (pkg/credentialprovider/keyring.go, URLsMatch), see docs/dir-store.md:
 *  - key and target lose an "http://" or "https://" scheme (any case), a
 *    query and a fragment; a first path segment "v1" or "v2" is removed
 *    ("/v2/foo" -> "/foo", "/v1/" -> ""), and a path of "/" is empty;
 *  - the ports must be equal (no port only matches no port; 1..65535);
 *  - the hosts must have the same number of dot-separated labels, and each
 *    key label matches the target label as a glob (Go's filepath.Match), with
 *    the characters the kubelet's url.Parse lets through in a host: '*' (any
 *    run of characters, never across a dot) and classes '[a-z0-9]'; '?' starts
 *    a query, and a host starting with '[' is an IPv6 literal.  Compared
 *    case-insensitively.  A malformed pattern never matches;
 *  - the key's path is a prefix of the target's path (a plain string prefix,
 *    as in the kubelet: "/team" is a prefix of "/team-b");
 *  - Docker Hub: the hosts docker.io, index.docker.io, registry-1.docker.io
 *    and registry.hub.docker.com (no port, or 443) are one registry, so
 *    "https://index.docker.io/v1/" matches "docker.io/library/alpine".
 * Keys and targets longer than DH_KUBELET_MATCH_MAX, with userinfo ('@'),
 * another scheme, a space or control character, another character outside
 * [A-Za-z0-9._-] in the host (targets allow no glob character), or an invalid
 * port never match.
 *
 * The rank orders the keys that match one target as the kubelet's
 * reverse-sorted index would, most specific first: a key with more literal
 * (non-glob) host characters wins, then the key with the longer path.  Equal
 * ranks are for the caller to break (dockhand breaks them by name).
 */
#ifndef DOCKHAND_DOCKERCFG_H
#define DOCKHAND_DOCKERCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/error.h"

/* Largest document dh_dockercfg_parse accepts. */
#define DH_DOCKERCFG_MAX ((size_t)4 << 20)

enum dh_dockercfg_format {
    DH_DOCKERCFG_AUTO = 0,   /* detect (see dh_dockercfg_parse) */
    DH_DOCKERCFG_CONFIGJSON, /* .dockerconfigjson: {"auths": {...}} */
    DH_DOCKERCFG_LEGACY,     /* .dockercfg: {"<registry>": {...}} */
    DH_DOCKERCFG_CONFIGFILE, /* docker config.json: auths, credsStore, credHelpers, ... */
};

struct dh_dockercfg_entry {
    char *key;           /* the auths key as written */
    char *username;      /* from "auth" when present, else "username"; never NULL */
    char *password;      /* secret (wiped on free); from "auth" when present; never NULL */
    char *email;         /* NULL when absent */
    char *auth;          /* secret: the "auth" field as written; NULL when absent or empty */
    char *identitytoken; /* secret: NULL when absent or empty */
};

struct dh_dockercfg_helper {
    char *registry; /* credHelpers key as written */
    char *helper;   /* helper name ("ecr-login" for docker-credential-ecr-login) */
};

struct dh_dockercfg {
    enum dh_dockercfg_format format; /* the detected (or forced) format */
    struct dh_dockercfg_entry *entries;
    size_t n_entries;  /* in document order */
    char *creds_store; /* config.json "credsStore"; NULL when absent */
    struct dh_dockercfg_helper *cred_helpers;
    size_t n_cred_helpers; /* in document order */
};

/*
 * Parses len bytes at data (need not be NUL-terminated; at most
 * DH_DOCKERCFG_MAX) as `format`.  DH_DOCKERCFG_AUTO detects it: an object
 * with "auths" is a .dockerconfigjson when it holds nothing else but
 * "HttpHeaders", else a config.json; without "auths", an object with a known
 * config.json member (credsStore, credHelpers, proxies, ...) or a member
 * that is not an object is a config.json; anything else (including {}) is a
 * legacy .dockercfg.  A forced DH_DOCKERCFG_CONFIGJSON requires "auths";
 * DH_DOCKERCFG_CONFIGFILE makes it optional.  Duplicate keys are errors.
 * On success sets *ret (free with dh_dockercfg_free); on failure leaves it
 * untouched.
 */
int dh_dockercfg_parse(const char *data, size_t len, enum dh_dockercfg_format format,
                       struct dh_dockercfg **ret, struct dh_error **err);
/* Wipes the secrets and frees.  NULL allowed. */
void dh_dockercfg_free(struct dh_dockercfg *cfg);
static inline void dh_dockercfg_freep(struct dh_dockercfg **cfg)
{
    dh_dockercfg_free(*cfg);
}
#define _cleanup_dockercfg_ __attribute__((cleanup(dh_dockercfg_freep)))

/* The format's name: "dockerconfigjson", "dockercfg", "config.json" or "auto". */
const char *dh_dockercfg_format_name(enum dh_dockercfg_format format);

/*
 * The credential docker would send for an entry, as docker-credential-helpers
 * store it: an identity token gives Username "<token>" and Secret = the
 * token; otherwise username and password.  Borrowed pointers into e.
 * Returns false when the entry holds no secret (e.g. docker's "{}" markers).
 */
bool dh_dockercfg_entry_cred(const struct dh_dockercfg_entry *e, const char **ret_username,
                             const char **ret_secret);

#define DH_KUBELET_MATCH_MAX 4096

/* Ranks: -1 no match; DH_KUBELET_RANK_ALIAS for the DH_KMATCH_HOST_ALIAS rule;
   DH_KUBELET_RANK_BASE and above for a kubelet match. */
#define DH_KUBELET_RANK_NONE  (-1)
#define DH_KUBELET_RANK_ALIAS 1
#define DH_KUBELET_RANK_BASE  2

enum dh_kmatch_flags {
    /* The target is an image reference ("alpine", "user/app:1", "r.io/a/b@sha256:...")
       and is resolved as docker does: a first component without '.' or ':' that is
       not "localhost" names a Docker Hub repository ("alpine" -> "library/alpine"). */
    DH_KMATCH_IMAGE = 1 << 0,
    /* docker's rule for credential look-ups: a target without a path also finds a
       key with a path on the same host and port (docker strips the path of an auths
       key), at the lowest rank DH_KUBELET_RANK_ALIAS. */
    DH_KMATCH_HOST_ALIAS = 1 << 1,
};

/*
 * Rank of auths key `key` for `target`: a registry "host[:port][/path]", a
 * server URL as docker passes it ("https://index.docker.io/v1/", "h:5000"),
 * or with DH_KMATCH_IMAGE an image reference.  Returns -1 when it does not
 * match, else a positive rank (higher is more specific; see the rules above).
 * NULL never matches.
 */
int dh_kubelet_match_rank(const char *key, const char *target, unsigned flags);

/*
 * A fast pre-check for look-ups over many documents: checks that data is
 * well-formed JSON with an object at the top (RFC 8259, valid UTF-8, no
 * \u0000, nesting up to 2048 levels) without building it, and returns the
 * best dh_kubelet_match_rank(key, target, flags) over its entry keys (those
 * that dh_dockercfg_parse would read for `format`; with DH_DOCKERCFG_AUTO
 * both the "auths" keys and the top-level keys), or DH_KUBELET_RANK_NONE.
 * Returns DH_DOCKERCFG_SCAN_INVALID when the syntax is wrong: call
 * dh_dockercfg_parse for the error message.
 *
 * The rank is an upper bound: dh_dockercfg_parse can still reject the
 * document (duplicate keys, wrong member types, bad "auth", numbers out of
 * range), and an entry may hold no secret.  A document that it accepts is
 * never DH_DOCKERCFG_SCAN_INVALID here.  Allocates no memory for the document.
 */
#define DH_DOCKERCFG_SCAN_INVALID (-2)
int dh_dockercfg_scan_rank(const char *data, size_t len, enum dh_dockercfg_format format,
                           const char *target, unsigned flags);

#endif

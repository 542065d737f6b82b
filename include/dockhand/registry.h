/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry client: the Distribution API's authentication (docs/login.md).
 *
 *  - WWW-Authenticate parsing (RFC 7235): several challenges in one header and
 *    over several headers, auth-params with token or quoted-string values
 *    (backslash escapes), token68, case-insensitive scheme and param names.
 *  - Token responses of the distribution token auth spec: "token" and/or
 *    "access_token", "expires_in", "issued_at", "refresh_token".
 *  - A small client per registry (struct dh_registry): base URL (https, or http
 *    for an explicitly insecure registry), the TLS trust docker uses for it,
 *    optional Basic credentials, the challenge learnt from GET /v2/, and bearer
 *    tokens cached per scope ("repository:NAME:pull") until shortly before they
 *    expire.  dh_registry_login_check() is `docker login`'s check;
 *    dh_registry_do() sends any request with the right Authorization header
 *    (the base of the pull client).
 *
 * Credentials go only to the registry's own URL and to the token realm it
 * names; redirects are never followed (a 3xx is an error naming the step).
 * Error messages never hold credentials, tokens or the realm's query.
 */
#ifndef DOCKHAND_REGISTRY_H
#define DOCKHAND_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"
#include "dockhand/http.h"

/* ---- WWW-Authenticate ---- */

struct dh_auth_param {
    char *name;  /* lowercased */
    char *value; /* unquoted, escapes resolved */
};

struct dh_auth_challenge {
    char *scheme;  /* lowercased: "basic", "bearer", ... */
    char *token68; /* the token68 form ("Negotiate abc=="), or NULL */
    struct dh_auth_param *params;
    size_t n_params;
};

struct dh_auth_challenges {
    struct dh_auth_challenge *v;
    size_t n;
};

/* Parses one WWW-Authenticate header value and appends its challenges to
   *list (which starts zeroed).  On failure (EPROTO, "invalid WWW-Authenticate
   header: <why> at offset N") nothing is appended.  An empty value or a list of
   empty elements appends nothing and succeeds.  A parameter repeated within a
   challenge keeps its first value.  Lenient in one way, as registries send it:
   an unquoted value may hold any visible character but ',' and '"'
   (realm=https://host/token). */
int dh_auth_challenges_parse(const char *header, struct dh_auth_challenges *list,
                             struct dh_error **err);
void dh_auth_challenges_release(struct dh_auth_challenges *list);
/* The first challenge with this scheme (case-insensitive), or NULL.  Borrowed. */
const struct dh_auth_challenge *dh_auth_challenges_find(const struct dh_auth_challenges *list,
                                                        const char *scheme);
/* The value of a parameter (case-insensitive name), or NULL.  Borrowed. */
const char *dh_auth_challenge_param(const struct dh_auth_challenge *c, const char *name);

/* ---- token responses ---- */

#define DH_REGISTRY_TOKEN_MIN_LIFETIME 60 /* seconds: the spec's default and floor */
#define DH_REGISTRY_TOKEN_MAX_LIFETIME (366 * 24 * 3600)
#define DH_REGISTRY_TOKEN_RESPONSE_MAX ((size_t)1 << 20)

struct dh_registry_token {
    char *token;         /* the bearer token (secret): access_token when set, else token */
    char *refresh_token; /* secret, or NULL */
    int64_t issued_at;   /* the server's issued_at (unix s), or 0 when absent */
    int64_t expires_in;  /* seconds, clamped to [MIN_LIFETIME, MAX_LIFETIME] */
    int64_t expires_at;  /* now + expires_in (local clock: see docs/login.md) */
};

/* Parses a 200 answer of a token endpoint.  now is when the request was sent.
   Errors (EPROTO): not a JSON object, no non-empty string "access_token" or
   "token", a field of the wrong type, an issued_at that is not RFC 3339.
   *ret is set only on success; release it with dh_registry_token_release(). */
int dh_registry_token_parse(const char *body, size_t len, int64_t now,
                            struct dh_registry_token *ret, struct dh_error **err);
void dh_registry_token_release(struct dh_registry_token *t);

/* The message of the first entry of a Distribution error body
   ({"errors":[{"code":..,"message":..}]}) or of an OAuth-style {"error":..,
   "error_description":..} / {"details":..}, as one printable line of at most
   200 bytes; NULL when there is none.  New string. */
char *dh_registry_error_message(const char *body, size_t len);

/* ---- the client ---- */

enum {
    /* docker's insecure registry: https without certificate verification
       first, then plain http; a plain http token realm is accepted. */
    DH_REGISTRY_INSECURE = 1 << 0,
};

struct dh_registry;

/* A client for registry: "host[:port]", optionally with an "https://" or
   "http://" scheme and a path (ignored, as docker does); NULL or "" and every
   Docker Hub alias mean Docker Hub (API at registry-1.docker.io).  "http://"
   needs DH_REGISTRY_INSECURE (EPERM).  TLS trust is read here: SSL_CERT_FILE
   (or the system bundle) plus docker's certs.d directory for the host
   (CAs in *.crt, a client pair in *.cert and *.key); see docs/login.md. */
int dh_registry_new(const char *registry, unsigned flags, struct dh_registry **ret,
                    struct dh_error **err);
void dh_registry_free(struct dh_registry *r);
static inline void dh_registry_freep(struct dh_registry **r)
{
    dh_registry_free(*r);
}
#define _cleanup_registry_ __attribute__((cleanup(dh_registry_freep)))

/* "host[:port]" of the API endpoint (registry-1.docker.io for Hub).  Borrowed. */
const char *dh_registry_host(const struct dh_registry *r);
/* "https://host[:port]" (or http:// once an insecure registry fell back).  Borrowed. */
const char *dh_registry_base_url(const struct dh_registry *r);
/* True for Docker Hub. */
bool dh_registry_is_hub(const struct dh_registry *r);

/* Basic credentials for the registry and its token realm (copied; the
   password is wiped when replaced or freed).  Drops cached tokens. */
void dh_registry_set_credentials(struct dh_registry *r, const char *username, const char *password);

/* Result of the unauthenticated GET /v2/. */
enum dh_registry_auth {
    DH_REGISTRY_AUTH_NONE,   /* 200 without credentials */
    DH_REGISTRY_AUTH_BASIC,  /* 401 + Basic challenge */
    DH_REGISTRY_AUTH_BEARER, /* 401 + Bearer challenge (realm, service) */
};

/* GET /v2/ without credentials; learns the challenge (once per client: later
   calls return what the first learnt).  An insecure registry falls back to
   http when https fails at the transport level.  Errors: transport (http.c's
   status), EPROTO for a 3xx, an unexpected status, a 401 without a Basic or
   Bearer challenge or a Bearer challenge without a usable realm; EPERM for a
   plain http realm on a secure registry. */
int dh_registry_ping(struct dh_registry *r, enum dh_registry_auth *ret, struct dh_error **err);
/* A 429 or 5xx answer to the ping fails with EAGAIN; this is its Retry-After
   header (NULL when it had none, or after another answer).  Borrowed. */
const char *dh_registry_retry_after(const struct dh_registry *r);

/* Sets *ret to a bearer token for scope (NULL or "" = no scope, as for /v2/),
   from the cache or from the realm (Basic credentials when set, with
   account=USER, client_id=dockhand, offline_token=true).  Borrowed: valid until
   the next call on r.  Errors: EACCES for 401/403 from the token endpoint
   ("unauthorized: <server message>"), EPROTO for other answers. */
int dh_registry_bearer_token(struct dh_registry *r, const char *scope, const char **ret,
                             struct dh_error **err);

/* Sends req to the registry: req->url is a path ("/v2/..."), joined to the
   base URL; TLS and http settings come from the client (those fields of req
   are ignored).  Adds the Authorization the learnt challenge needs (Basic, or a
   bearer token for scope); on a 401 with a cached token, fetches a new one once
   and retries (using the 401's own challenge scope when it names one).
   req->headers may hold other headers (no Authorization); req->max_body 0 means
   1 MiB.  A 3xx is returned as it is: the caller follows it without the
   registry's credentials.  The caller checks resp->status and releases resp. */
int dh_registry_do(struct dh_registry *r, const char *scope, const struct dh_http_request *req,
                   struct dh_http_response *resp, struct dh_error **err);

/* `docker login`'s check: ping, then GET /v2/ with the credentials (through
   the token endpoint for Bearer).  Sets *ret_auth to the registry's scheme.
   A rejection is EACCES with "unauthorized: <server message>"; other failures
   as above.  DH_REGISTRY_AUTH_NONE succeeds (the caller warns). */
int dh_registry_login_check(struct dh_registry *r, enum dh_registry_auth *ret_auth,
                            struct dh_error **err);

/* For requests the caller sends itself (parallel blob downloads over
   dh_http_multi, after dh_registry_ping):
   The Authorization header line dh_registry_do would add for scope ("Authorization:
   Basic ..." or "Authorization: Bearer ..."; a secret: dh_str_free_wipe), or NULL
   in *ret when the registry needs none.  fresh drops a cached token for scope
   first (after a 401).  Errors as dh_registry_bearer_token's. */
int dh_registry_authorization(struct dh_registry *r, const char *scope, bool fresh, char **ret,
                              struct dh_error **err);
/* Copies the client's transport settings into req: allow_http and
   insecure_skip_verify for an insecure registry, the CA bundle (file or PEM)
   and the client certificate pair from certs.d.  The strings are borrowed from
   r (dh_http_multi_add copies them). */
void dh_registry_multi_settings(const struct dh_registry *r, struct dh_http_multi_request *req);

/* Number of bearer tokens fetched from the realm so far (tests of the cache). */
unsigned dh_registry_tokens_fetched(const struct dh_registry *r);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Google access tokens for Container Registry and Artifact Registry.
 *
 * The credential source is found like Google's Application Default Credentials
 * (golang.org/x/oauth2/google/default.go): the key file in
 * GOOGLE_APPLICATION_CREDENTIALS, then gcloud's well-known ADC file, then the
 * GCE metadata server.  Supported file types: service_account (RS256 JWT
 * bearer grant), authorized_user (refresh-token grant) and external_account
 * (workload identity federation with a file-sourced subject token, STS token
 * exchange).  Tokens are "oauth2accesstoken" / <access token>.
 */
#ifndef DOCKHAND_GCP_H
#define DOCKHAND_GCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"
#include "dockhand/token.h"

#define DH_GCP_USERNAME       "oauth2accesstoken"
#define DH_GCP_SCOPE          "https://www.googleapis.com/auth/cloud-platform"
#define DH_GCP_TOKEN_URL      "https://oauth2.googleapis.com/token"
#define DH_GCP_METADATA_HOST  "169.254.169.254"
#define DH_GCP_STS_URL        "https://sts.googleapis.com/v1/token"
#define DH_GCP_IAM_URL        "https://iamcredentials.googleapis.com"
#define DH_GCP_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"

/* gcr.io, *.gcr.io, *-docker.pkg.dev, *.pkg.dev (host only: a scheme, userinfo, port and
   path are stripped first; case-insensitive). */
bool dh_gcp_is_registry_host(const char *host);

/* A credential source found locally, without network calls. */
struct dh_gcp_source;

/* Finds the source in Google's ADC order: GOOGLE_APPLICATION_CREDENTIALS (or key_file when
   non-NULL) -> gcloud's application_default_credentials.json in $CLOUDSDK_CONFIG, else
   ~/.config/gcloud -> the GCE metadata server ($GCE_METADATA_HOST, else 169.254.169.254).
   A named key file that is missing or invalid is an error (no fall-through). */
int dh_gcp_find_source(const char *key_file, struct dh_gcp_source **ret, struct dh_error **err);

/* Non-secret identity for cache keys: "sa:<client_email>", "user:<client_id>",
   "external:<audience>", "metadata:<host>".  Borrowed. */
const char *dh_gcp_source_identity(const struct dh_gcp_source *src);

/* Mints an access token: username "oauth2accesstoken", secret = the access token,
   expires_at = now + expires_in.  Errors name the source, the endpoint, the HTTP status
   and the OAuth error fields, never a token, key or client secret. */
int dh_gcp_mint(struct dh_gcp_source *src, struct dh_token **ret, struct dh_error **err);

/* Workload identity federation with a subject token held in memory, such as the
   kubelet's service-account token (KEP-4412). */
struct dh_gcp_exchange {
    const char *audience;        /* the workload identity pool provider (required) */
    const char *sts_url;         /* NULL: DH_GCP_STS_URL */
    const char *service_account; /* impersonate this account (e-mail), or NULL */
    const char *iam_url;         /* IAM Credentials base URL; NULL: DH_GCP_IAM_URL */
};
/* STS token exchange (grant token-exchange, subject_token_type jwt, scope cloud-platform)
   of subject_token at x->sts_url; with x->service_account, the STS token is then traded
   for that account's token (<iam_url>/v1/projects/-/serviceAccounts/<e-mail>:
   generateAccessToken, lifetime 1 h).  URLs must be https (http for loopback only); the
   e-mail must be [A-Za-z0-9._-]@[A-Za-z0-9.-].  Username "oauth2accesstoken".  The token
   is sent in the request body only and never appears in a message. */
int dh_gcp_exchange_token(const struct dh_gcp_exchange *x, const char *subject_token,
                          struct dh_token **ret, struct dh_error **err);

/*
 * Parsers of untrusted input (exposed for tests and fuzzing).  Each takes len bytes at
 * data (need not be NUL-terminated; NULL is empty) and returns 0 with *ret set, or -1
 * with *err set.  Messages never contain a token, key or client secret.
 */
/* A JSON key file (service_account, authorized_user or external_account with a
   file-sourced subject token), as GOOGLE_APPLICATION_CREDENTIALS or the ADC file;
   path names it in messages and the source (NULL: "google credentials").  Endpoints
   must be https (or http to loopback).  Free *ret with dh_gcp_source_free. */
int dh_gcp_parse_key_file(const char *path, const char *data, size_t len,
                          struct dh_gcp_source **ret, struct dh_error **err);
/* An OAuth token endpoint or metadata server answer with HTTP status: for 200,
   {"access_token", "token_type": "Bearer", "expires_in"} (expires_in may be left out
   when default_expiry > 0; 1 s to 7 days) gives a token expiring at now + expires_in;
   otherwise the OAuth "error"/"error_description" (or Google's {"error": {"status",
   "message"}}) go into the error.  what and url name the call in messages (NULL: a
   generic name).  Free *ret with dh_token_free. */
int dh_gcp_parse_token_response(long status, const char *data, size_t len, const char *what,
                                const char *url, int64_t now, int64_t default_expiry,
                                struct dh_token **ret, struct dh_error **err);

void dh_gcp_source_free(struct dh_gcp_source *src);
static inline void dh_gcp_source_freep(struct dh_gcp_source **p)
{
    dh_gcp_source_free(*p);
}
#define _cleanup_gcp_source_ __attribute__((cleanup(dh_gcp_source_freep)))

#endif

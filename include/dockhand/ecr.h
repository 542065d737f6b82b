/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Amazon ECR and ECR Public: registry host recognition and registry tokens
 * (GetAuthorizationToken over awsJson1.1, signed with SigV4).
 */
#ifndef DOCKHAND_ECR_H
#define DOCKHAND_ECR_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/error.h"
#include "dockhand/sigv4.h"
#include "dockhand/token.h"

struct dh_ecr_registry {
    char *account;    /* 12-digit account ID; NULL for ECR Public */
    char *region;     /* "us-east-1" (always us-east-1 for ECR Public) */
    char *dns_suffix; /* API DNS suffix: "amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", ... */
    bool fips;        /* a "-fips" registry host: use the FIPS API endpoint */
    bool dualstack;   /* a dual-stack host (dkr-ecr.*.on.aws, ecr-public.aws.com) */
    bool is_public;   /* ECR Public (public.ecr.aws, ecr-public.aws.com) */
};

/*
 * Recognises an ECR registry host as docker-credential-ecr-login does: an
 * "https://" (or "http://") prefix, a path and a port are ignored, then the
 * host name must match the private ECR pattern
 *   <12 digits>.dkr(.|-)ecr[-fips].<region>.<partition suffix>
 * (amazonaws.com, amazonaws.com.cn, amazonaws.eu, on.aws, on.amazonwebservices.com.cn,
 * sc2s.sgov.gov, c2s.ic.gov, cloud.adc-e.uk, csp.hci.ic.gov), or be public.ecr.aws or
 * ecr-public.aws.com.  Host names compare case-insensitively.  Returns 0 and fills *ret
 * (release with dh_ecr_registry_release) for an ECR host, -1 otherwise (no error object).
 */
int dh_ecr_parse_host(const char *host, struct dh_ecr_registry *ret);

/* A private registry that configuration maps to account (may be NULL: the caller's
   default registry) in region, with the standard API endpoint for the region's
   partition.  Release with dh_ecr_registry_release. */
void dh_ecr_registry_init(struct dh_ecr_registry *r, const char *account, const char *region);
void dh_ecr_registry_release(struct dh_ecr_registry *r);

/* The GetAuthorizationToken endpoint for r (a new string), honouring
   AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_ECR_PUBLIC / AWS_ENDPOINT_URL. */
char *dh_ecr_api_endpoint(const struct dh_ecr_registry *r);

/*
 * Mints a registry token with GetAuthorizationToken (ECR: registryIds [account];
 * ECR Public: us-east-1).  Plain http is allowed only for a loopback endpoint
 * override; an https override is verified with the system CAs or AWS_CA_BUNDLE.
 * Time-out 10 s.  Errors name the endpoint, the HTTP status and the AWS error
 * type and message; they never contain the token or the secret key.
 */
int dh_ecr_get_token(const struct dh_ecr_registry *r, const struct dh_aws_creds *creds,
                     struct dh_token **ret, struct dh_error **err);

/*
 * Parses a GetAuthorizationToken answer body (len bytes, need not be NUL-terminated):
 * ECR's {"authorizationData": [{"authorizationToken", "expiresAt"}, ...]} (the first
 * entry with a token) or, with is_public, ECR Public's single {"authorizationData":
 * {...}} object.  The token is base64 of "user:password"; expiresAt is unix seconds
 * (fractions allowed, truncated).  what names the call in messages and source goes into
 * the token (NULL: a generic name).  Returns 0 and sets *ret (free with dh_token_free),
 * or -1 with *err set (EBADMSG); messages never hold the token.
 */
int dh_ecr_parse_response(const char *body, size_t len, bool is_public, const char *what,
                          const char *source, struct dh_token **ret, struct dh_error **err);

/*
 * The expiry (unix seconds) embedded in an ECR registry password: the part after
 * "AWS:" in a token is base64 of JSON with an integer "expiration" (undocumented;
 * a fallback for stored tokens: prefer the API's expiresAt).  Returns 0 and sets
 * *ret, or -1 when password is not such a token.
 */
int dh_ecr_password_expiry(const char *password, int64_t *ret);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS credentials and Signature Version 4 (header signing).
 * Passes every case of the AWS SigV4 test suite (../shared/testdata/).
 */
#ifndef DOCKHAND_SIGV4_H
#define DOCKHAND_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dockhand/error.h"

/* AWS credentials.  Secret fields are wiped on free. */
struct dh_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    int64_t expires_at;  /* unix seconds; 0 = does not expire */
    char *source;        /* where they came from, for messages: "environment", "profile 'x'",
                            "web identity (role 'arn:...')", "container credentials", "EC2 instance
                            metadata", ... (never secret) */
};
struct dh_aws_creds *dh_aws_creds_new(const char *akid, const char *secret, const char *token,
                                      int64_t expires_at, const char *source);
void dh_aws_creds_free(struct dh_aws_creds *c);

struct dh_sigv4_header {
    const char *name;
    const char *value;
};

struct dh_sigv4_input {
    const char *method;                    /* "GET", "POST" */
    const char *path;                      /* request path as sent ("/" when empty) */
    const char *query;                     /* query string without '?', or NULL */
    const struct dh_sigv4_header *headers; /* headers to sign; must include Host */
    size_t n_headers;
    const void *payload; /* request body (may be NULL when payload_len is 0) */
    size_t payload_len;
    const char *region;     /* "us-east-1" */
    const char *service;    /* signing name: "ecr", "ecr-public", "sts" */
    time_t timestamp;       /* signing time (UTC) */
    bool no_path_normalize; /* false: normalise the path (every service but S3) */
};

struct dh_sigv4_output {
    char *authorization;     /* value of the Authorization header */
    char *amz_date;          /* value of X-Amz-Date: YYYYMMDD'T'HHMMSS'Z' */
    char *canonical_request; /* for tests and debugging (contains no secret) */
    char *string_to_sign;
    char *signature; /* hex */
};

/*
 * Signs the request.  X-Amz-Date is added to the signed headers unless the
 * input has it (its value is then used as the date); with a session token,
 * X-Amz-Security-Token is added too (the caller must send both headers).
 */
int dh_sigv4_sign(const struct dh_sigv4_input *in, const struct dh_aws_creds *creds,
                  struct dh_sigv4_output *out, struct dh_error **err);
void dh_sigv4_output_release(struct dh_sigv4_output *out);

/*
 * The endpoint URL for a service, honouring the SDK's endpoint-override settings:
 * AWS_ENDPOINT_URL_<service_env_id> ("ECR", "ECR_PUBLIC", "STS") when set and
 * non-empty, else AWS_ENDPOINT_URL when set and non-empty, else default_url.
 * Returns a new string (never NULL).
 */
char *dh_aws_endpoint_url(const char *service_env_id, const char *default_url);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS credential chain, as the AWS SDK for Go v2 default chain resolves it
 * (the one docker-credential-ecr-login uses):
 *
 *  1. a profile given in the options goes straight to that profile;
 *  2. environment keys: AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY), AWS_SECRET_ACCESS_KEY
 *     (or AWS_SECRET_KEY), AWS_SESSION_TOKEN;
 *  3. environment web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *     [+ AWS_ROLE_SESSION_NAME], STS AssumeRoleWithWebIdentity (unsigned);
 *  4. the shared profile (AWS_PROFILE, AWS_DEFAULT_PROFILE, "default") from
 *     AWS_CONFIG_FILE (~/.aws/config, "[profile x]" and "[default]") and
 *     AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, "[x]"; its keys win):
 *     role_arn with source_profile (recursive, cycle-safe, at most 8 deep) or
 *     credential_source (Environment, Ec2InstanceMetadata, EcsContainer) or
 *     web_identity_token_file; static keys; credential_process.  A profile
 *     named through AWS_PROFILE/AWS_DEFAULT_PROFILE or the options must exist;
 *     a missing "default" is skipped;
 *  5. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *     http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or
 *     http to loopback or the ECS/EKS hosts 169.254.170.2, 169.254.170.23,
 *     [fd00:ec2::23]) with Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *     (read at each call) or AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *  6. EC2 instance metadata, IMDSv2 only (AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 *     http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true skips it), with a
 *     1 s connect and 2 s total time-out per call so that off EC2 the chain
 *     fails fast.
 *
 * STS is reached at dh_aws_endpoint_url("STS", "https://sts.<region>.amazonaws.com")
 * (so AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL override it); plain http is only
 * used for a loopback endpoint.  AssumeRole is signed with SigV4.
 *
 * credential_process runs as the Go SDK runs it: `/bin/sh -c <command>`, stdin
 * /dev/null, stderr inherited, stdout (at most 64 KiB) parsed as JSON
 * {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"};
 * killed after 60 s.  Nothing secret is put in its argv or environment.
 *
 * Metadata and container requests never use a proxy.  Nothing secret is logged
 * or put in an error message.
 */
#ifndef DOCKHAND_AWS_H
#define DOCKHAND_AWS_H

#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"
#include "dockhand/sigv4.h"

struct dh_aws_options {
    const char *profile;  /* NULL: AWS_PROFILE, then AWS_DEFAULT_PROFILE, then "default" */
    const char *role_arn; /* assume this role on top of the chain's credentials, or NULL */
    const char *region;   /* region for STS; NULL: AWS_REGION, AWS_DEFAULT_REGION, the
                             profile's region, us-east-1 */
};

/* Resolves credentials like the AWS SDK v2 default chain.  *ret is freed with
   dh_aws_creds_free(). */
int dh_aws_load_credentials(const struct dh_aws_options *opt, struct dh_aws_creds **ret,
                            struct dh_error **err);

/* STS AssumeRoleWithWebIdentity (unsigned) with a web identity token held in memory,
   such as the kubelet's service-account token (KEP-4412): the token goes into the
   request body only, never into a file, argv, the environment or a message.  STS is
   reached as above (AWS_ENDPOINT_URL_STS, else https://sts.<region>.amazonaws.com);
   region NULL: AWS_REGION, AWS_DEFAULT_REGION, us-east-1.  session NULL:
   "dockhand-<unix time>".  *ret is freed with dh_aws_creds_free(). */
int dh_aws_assume_role_with_web_identity(const char *token, const char *role_arn,
                                         const char *session, const char *region,
                                         struct dh_aws_creds **ret, struct dh_error **err);

/* A stable, non-secret identity string for cache keys, computed without network
   calls: "env:<first 16 hex of sha256(access key id)>", "profile:<name>",
   "web-identity:<role arn>", "container" or "imds", plus "|role:<arn>" with
   opt->role_arn.  Caller frees. */
char *dh_aws_identity(const struct dh_aws_options *opt);

/*
 * Parsers of the answers the chain receives (exposed for tests and fuzzing).  Each takes
 * len bytes at data (need not be NUL-terminated; NULL is an empty answer), returns 0 and
 * sets *ret (free with dh_aws_creds_free), or -1 with *err set.  Messages name the
 * source and never contain a secret.
 */
/* An STS Query API answer to action ("AssumeRole", "AssumeRoleWithWebIdentity"): with
   status 200, the <Credentials> of the <actionResult> element (AccessKeyId,
   SecretAccessKey, SessionToken, Expiration); otherwise an ErrorResponse's <Code> and
   <Message> go into the error (EACCES for 403, else EIO).  source names the credentials
   (NULL: "sts"). */
int dh_aws_parse_sts_response(const char *action, long status, const char *data, size_t len,
                              const char *source, struct dh_aws_creds **ret, struct dh_error **err);
/* A JSON object with AccessKeyId, SecretAccessKey, the session token under token_key
   ("Token" for container credentials and IMDS, "SessionToken" for credential_process)
   and an optional RFC 3339 Expiration.  what prefixes messages; source names the
   credentials. */
int dh_aws_parse_json_credentials(const char *what, const char *data, size_t len,
                                  const char *token_key, const char *source,
                                  struct dh_aws_creds **ret, struct dh_error **err);
/* credential_process output of profile: JSON with "Version": 1 (else EPROTO), then as
   dh_aws_parse_json_credentials with "SessionToken". */
int dh_aws_parse_process_output(const char *profile, const char *data, size_t len,
                                struct dh_aws_creds **ret, struct dh_error **err);
/* An IMDS security-credentials/<role> answer: "Code" must be "Success" (else EIO), then
   as dh_aws_parse_json_credentials with "Token". */
int dh_aws_parse_imds_credentials(const char *role, const char *data, size_t len,
                                  struct dh_aws_creds **ret, struct dh_error **err);

/* Exposed for tests. */
/* Value of key in [section] of an INI text (AWS shared-file syntax: '#' and ';'
   comments, keys case-insensitive, indented sub-section lines ignored), or NULL. */
char *dh_aws_ini_get(const char *text, const char *section, const char *key);
/* True when [section] appears in the text. */
int dh_aws_ini_has_section(const char *text, const char *section);
/* RFC 3339 time ("2026-01-02T03:04:05Z", fractions, offsets) to unix seconds. */
int dh_aws_parse_time(const char *s, int64_t *ret, struct dh_error **err);

#endif

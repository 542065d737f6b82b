/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: what the AWS credential chain reads from the network, a process or a
 * file.  The first byte picks the parser (modulo 8), the rest is its input:
 *
 *   0  STS AssumeRole answer, HTTP 200           4  container credentials JSON
 *   1  STS AssumeRoleWithWebIdentity, HTTP 200   5  IMDS security-credentials JSON
 *   2  STS error answer, HTTP 403                6  shared config/credentials INI
 *   3  credential_process output                 7  RFC 3339 time
 *
 * Credentials that parse must have a non-empty key pair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(int r, struct dh_aws_creds *c, struct dh_error **err)
{
    if (r == 0) {
        if (*err || !c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key ||
            !*c->secret_access_key)
            abort();
        dh_aws_creds_free(c);
    } else if (!*err || !(*err)->msg || c) {
        abort();
    }
    dh_error_free(err);
}

static void fuzz_ini(const char *text)
{
    static const char *const sections[] = {"default", "profile prod", "prod", "sso-session s"};
    static const char *const keys[] = {"aws_access_key_id", "aws_secret_access_key", "region",
                                       "role_arn",          "source_profile",        "s3"};

    for (size_t i = 0; i < sizeof(sections) / sizeof(*sections); i++) {
        (void)dh_aws_ini_has_section(text, sections[i]);
        for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
            char *v = dh_aws_ini_get(text, sections[i], keys[k]);
            if (v && strchr(v, '\n'))
                abort(); /* a value never spans lines */
            free(v);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_aws_creds *c = NULL;
    struct dh_error *err = NULL;
    const char *body;
    size_t len;
    int r;

    if (size == 0)
        return 0;
    body = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 8) {
    case 0:
        r = dh_aws_parse_sts_response("AssumeRole", 200, body, len, NULL, &c, &err);
        check_creds(r, c, &err);
        break;
    case 1:
        r = dh_aws_parse_sts_response("AssumeRoleWithWebIdentity", 200, body, len, "web identity",
                                      &c, &err);
        check_creds(r, c, &err);
        break;
    case 2:
        r = dh_aws_parse_sts_response("AssumeRole", 403, body, len, NULL, &c, &err);
        if (r == 0)
            abort();
        check_creds(r, c, &err);
        break;
    case 3:
        r = dh_aws_parse_process_output("fuzz", body, len, &c, &err);
        check_creds(r, c, &err);
        break;
    case 4:
        r = dh_aws_parse_json_credentials("container credentials", body, len, "Token",
                                          "container credentials", &c, &err);
        check_creds(r, c, &err);
        break;
    case 5:
        r = dh_aws_parse_imds_credentials("fuzz-role", body, len, &c, &err);
        check_creds(r, c, &err);
        break;
    default: {
        /* Text parsers: a NUL-terminated copy (the input may hold NULs: they end it). */
        char *text = malloc(len + 1);
        int64_t t;

        if (!text)
            abort();
        memcpy(text, body, len);
        text[len] = '\0';
        if (data[0] % 8 == 6) {
            fuzz_ini(text);
        } else if (dh_aws_parse_time(text, &t, &err) < 0) {
            if (!err)
                abort();
            dh_error_free(&err);
        }
        free(text);
        break;
    }
    }
    return 0;
}

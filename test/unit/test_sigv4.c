/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: SigV4 against every case of the AWS SigV4 test suite
   (../shared/testdata/aws-sig-v4-test-suite.json, relative to the repository root). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/sigv4.h"

#include "t.h"

#define SUITE_PATH "../shared/testdata/aws-sig-v4-test-suite.json"

static json_t *load_suite(void)
{
    json_error_t jerr;
    json_t *j = json_load_file(SUITE_PATH, 0, &jerr);
    const char *root = getenv("DOCKHAND_ROOT");

    if (!j && root) {
        _cleanup_free_ char *p = dh_xasprintf("%s/%s", root, SUITE_PATH);
        j = json_load_file(p, 0, &jerr);
    }
    if (!j)
        T_FAIL_AT("cannot load the AWS SigV4 test suite '%s' (run from the repository root): %s",
                  SUITE_PATH, jerr.text);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/*
 * Errata of the published suite: in post-x-www-form-urlencoded and
 * post-x-www-form-urlencoded-parameters, "creq" signs every header of the request
 * (Content-Length included), but "sts" and the signature were computed from the request
 * shown in "sreq": without Content-Length and, for -parameters, with the older
 * Content-Type "application/x-www-form-urlencoded; charset=utf8".  Both cases are checked
 * twice: the canonical request as given, then the string to sign and the Authorization
 * line of "sreq" from that request.
 */
static const struct erratum {
    const char *name;
    const char *content_type; /* replacement, or NULL */
} errata[] = {
        {"post-x-www-form-urlencoded", NULL},
        {"post-x-www-form-urlencoded-parameters",
         "application/x-www-form-urlencoded; charset=utf8"},
};
static size_t n_errata_used;

/* Runs one case; returns true when it passed. */
static bool run_case(json_t *tc, const char *akid, const char *secret, const char *region,
                     const char *service, const char *sts_token)
{
    const char *name = jstr(tc, "name");
    json_t *req = json_object_get(tc, "request");
    json_t *headers = json_object_get(req, "headers");
    size_t n = json_array_size(headers);
    struct dh_sigv4_header *hs = dh_xcalloc(n + 1, sizeof(*hs));
    bool token_in_request = false, ok = true;
    int before = t_cur_failed;

    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(headers, i);
        hs[i].name = json_string_value(json_array_get(h, 0));
        hs[i].value = json_string_value(json_array_get(h, 1));
        if (hs[i].name && strcasecmp(hs[i].name, "X-Amz-Security-Token") == 0)
            token_in_request = true;
    }
    /* Session-token cases: "before" signs a request that carries the token (credentials with the
       token); "after" adds the token to the request after signing, unsigned (the signed request
       shows it, the signature does not cover it). */
    const char *sreq = jstr(tc, "sreq");
    bool token_after = !token_in_request && sreq && strstr(sreq, "\nX-Amz-Security-Token:");
    struct dh_aws_creds *creds =
            dh_aws_creds_new(akid, secret, token_in_request ? sts_token : NULL, 0, "test suite");
    const char *body = jstr(req, "body");
    struct dh_sigv4_input in = {
            .method = jstr(req, "method"),
            .path = jstr(req, "path"),
            .query = jstr(req, "query"),
            .headers = hs,
            .n_headers = n,
            .payload = body,
            .payload_len = body ? strlen(body) : 0,
            .region = region,
            .service = service,
            .timestamp = 0,
    };
    struct dh_sigv4_output out = {0};
    struct dh_error *err = NULL;

    if (dh_sigv4_sign(&in, creds, &out, &err) < 0) {
        T_FAIL_AT("%s: %s", name, err->msg);
        dh_error_free(&err);
    } else {
        const struct erratum *e = NULL;
        for (size_t k = 0; k < DH_ARRAY_SIZE(errata); k++)
            if (strcmp(name, errata[k].name) == 0)
                e = &errata[k];
        T_EQ_STR(out.canonical_request, jstr(tc, "creq"));
        if (!e) {
            T_EQ_STR(out.string_to_sign, jstr(tc, "sts"));
            T_EQ_STR(out.authorization, jstr(tc, "authz"));
        } else {
            size_t m = 0;
            for (size_t k = 0; k < n; k++) {
                if (strcasecmp(hs[k].name, "Content-Length") == 0)
                    continue;
                hs[m] = hs[k];
                if (e->content_type && strcasecmp(hs[m].name, "Content-Type") == 0)
                    hs[m].value = e->content_type;
                m++;
            }
            in.n_headers = m;
            dh_sigv4_output_release(&out);
            if (dh_sigv4_sign(&in, creds, &out, &err) < 0) {
                T_FAIL_AT("%s: %s", name, err->msg);
                dh_error_free(&err);
            } else {
                _cleanup_free_ char *line = dh_xasprintf("\nAuthorization: %s", out.authorization);
                T_EQ_STR(out.string_to_sign, jstr(tc, "sts"));
                T_ASSERT(strstr(sreq, line) != NULL);
                /* The signature is the one published in "authz" too. */
                T_ASSERT(strstr(jstr(tc, "authz"), out.signature) != NULL);
                n_errata_used++;
            }
        }
        if (token_after) {
            _cleanup_free_ char *line = dh_xasprintf("\nX-Amz-Security-Token:%s\n", sts_token);
            T_ASSERT(strstr(sreq, line) != NULL);
        }
    }
    if (t_cur_failed != before) {
        printf("#   case %s failed\n", name);
        ok = false;
    }
    dh_sigv4_output_release(&out);
    dh_aws_creds_free(creds);
    free(hs);
    return ok;
}

static void test_suite_all_cases(void)
{
    json_t *suite = load_suite();
    T_REQUIRE(suite);
    json_t *config = json_object_get(suite, "config");
    const char *akid = jstr(config, "accessKeyId"), *secret = jstr(config, "secretAccessKey");
    const char *region = jstr(config, "region"), *service = jstr(config, "service");
    const char *sts_token = jstr(suite, "stsToken");
    json_t *all = json_object_get(json_object_get(suite, "tests"), "all");
    size_t i, passed = 0, with_token = 0;
    json_t *tc;

    if (!akid || !secret || !region || !service || !sts_token || !json_is_array(all) ||
        json_array_size(all) == 0) {
        T_FAIL_AT("unexpected structure in %s", SUITE_PATH);
        json_decref(suite);
        return;
    }
    json_array_foreach (all, i, tc) {
        if (run_case(tc, akid, secret, region, service, sts_token))
            passed++;
        if (strstr(jstr(tc, "sreq") ? jstr(tc, "sreq") : "", "X-Amz-Security-Token"))
            with_token++;
    }
    printf("# SigV4 suite: %zu of %zu cases pass (%zu with a session token, %zu through the "
           "documented errata)\n",
           passed, json_array_size(all), with_token, n_errata_used);
    T_EQ_INT(passed, json_array_size(all));
    T_ASSERT(with_token >= 2);
    json_decref(suite);
}

/* get-vanilla with the date taken from the timestamp (X-Amz-Date added to the signed headers). */
static void test_date_from_timestamp(void)
{
    struct dh_sigv4_header hs[] = {{"Host", "example.amazonaws.com"}};
    struct dh_aws_creds *creds = dh_aws_creds_new(
            "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, 0, "test");
    struct dh_sigv4_input in = {.method = "GET",
                                .path = "/",
                                .headers = hs,
                                .n_headers = 1,
                                .region = "us-east-1",
                                .service = "service",
                                .timestamp = 1440938160 /* 2015-08-30T12:36:00Z */};
    struct dh_sigv4_output out = {0};
    struct dh_error *err = NULL;

    T_EQ_INT(dh_sigv4_sign(&in, creds, &out, &err), 0);
    T_EQ_STR(out.amz_date, "20150830T123600Z");
    T_EQ_STR(out.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    dh_sigv4_output_release(&out);
    dh_aws_creds_free(creds);
    dh_error_free(&err);
}

/* A session token is signed (post-sts-header-before) when only the credentials carry it. */
static void test_session_token_added(void)
{
    json_t *suite = load_suite();
    T_REQUIRE(suite);
    const char *tok = jstr(suite, "stsToken");
    struct dh_sigv4_header hs[] = {{"Host", "example.amazonaws.com"},
                                   {"X-Amz-Date", "20150830T123600Z"}};
    struct dh_aws_creds *creds = dh_aws_creds_new(
            "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", tok, 0, "test");
    struct dh_sigv4_input in = {.method = "POST",
                                .path = "/",
                                .headers = hs,
                                .n_headers = 2,
                                .region = "us-east-1",
                                .service = "service"};
    struct dh_sigv4_output out = {0};
    struct dh_error *err = NULL;

    T_EQ_INT(dh_sigv4_sign(&in, creds, &out, &err), 0);
    T_EQ_STR(out.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
    dh_sigv4_output_release(&out);
    dh_aws_creds_free(creds);
    dh_error_free(&err);
    json_decref(suite);
}

static void test_no_path_normalize_and_errors(void)
{
    struct dh_sigv4_header hs[] = {{"Host", "example.amazonaws.com"},
                                   {"X-Amz-Date", "20150830T123600Z"}};
    struct dh_aws_creds *creds = dh_aws_creds_new("AKID", "SECRET", NULL, 0, "test");
    struct dh_sigv4_input in = {.method = "GET",
                                .path = "/a//b/../c d",
                                .query = "b=2&a=x%2By&a=+",
                                .headers = hs,
                                .n_headers = 2,
                                .region = "us-east-1",
                                .service = "s3",
                                .no_path_normalize = true};
    struct dh_sigv4_output out = {0};
    struct dh_error *err = NULL;

    T_EQ_INT(dh_sigv4_sign(&in, creds, &out, &err), 0);
    T_ASSERT(out.canonical_request &&
             strncmp(out.canonical_request, "GET\n/a//b/../c%20d\na=%20&a=x%2By&b=2\n", 37) == 0);
    dh_sigv4_output_release(&out);

    in.no_path_normalize = false;
    T_EQ_INT(dh_sigv4_sign(&in, creds, &out, &err), 0);
    T_ASSERT(out.canonical_request && strncmp(out.canonical_request, "GET\n/a/c%20d\n", 13) == 0);
    dh_sigv4_output_release(&out);

    in.n_headers = 0;
    T_EQ_INT(dh_sigv4_sign(&in, creds, &out, &err), -1);
    T_ASSERT(err && strstr(err->msg, "host"));
    T_ASSERT(out.authorization == NULL);
    dh_error_free(&err);
    dh_aws_creds_free(creds);
}

static void test_endpoint_url(void)
{
    char *u;

    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_ECR");
    u = dh_aws_endpoint_url("ECR", "https://api.ecr.us-east-1.amazonaws.com");
    T_EQ_STR(u, "https://api.ecr.us-east-1.amazonaws.com");
    free(u);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
    u = dh_aws_endpoint_url("ECR", "https://x");
    T_EQ_STR(u, "http://127.0.0.1:1");
    free(u);
    setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:2", 1);
    u = dh_aws_endpoint_url("ECR", "https://x");
    T_EQ_STR(u, "http://127.0.0.1:2");
    free(u);
    u = dh_aws_endpoint_url("ECR_PUBLIC", "https://x");
    T_EQ_STR(u, "http://127.0.0.1:1");
    free(u);
    setenv("AWS_ENDPOINT_URL_ECR", "", 1);
    setenv("AWS_ENDPOINT_URL", "", 1);
    u = dh_aws_endpoint_url("ECR", "https://x");
    T_EQ_STR(u, "https://x");
    free(u);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_ECR");
}

int main(void)
{
    T_RUN(test_suite_all_cases);
    T_RUN(test_date_from_timestamp);
    T_RUN(test_session_token_added);
    T_RUN(test_no_path_normalize_and_errors);
    T_RUN(test_endpoint_url);
    return t_done();
}

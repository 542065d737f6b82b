/* SPDX-License-Identifier: Apache-2.0 */
/* The kubelet credential provider: request decoding, image -> registry, the response
   bytes, Go durations, and the deploy/kubelet/ examples checked against the kubelet's
   CredentialProviderConfig validation (pkg/credentialprovider/plugin/config.go). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/aws.h"
#include "dockhand/fsutil.h"
#include "dockhand/gcp.h"
#include "dockhand/kubelet.h"
#include "dockhand/mem.h"
#include "dockhand/yaml.h"
#include "t.h"

#define V1             "credentialprovider.kubelet.k8s.io/v1"
#define V1BETA1        "credentialprovider.kubelet.k8s.io/v1beta1"
#define V1ALPHA1       "credentialprovider.kubelet.k8s.io/v1alpha1"
#define REQ(ver, rest) "{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"" ver "\"" rest "}"

static void test_go_duration(void)
{
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
            {0, "0s"},
            {1, "1ns"},
            {999, "999ns"},
            {1000, "1µs"},
            {1500, "1.5µs"},
            {1000000, "1ms"},
            {500000000, "500ms"},
            {1500000000, "1.5s"},
            {1000000000, "1s"},
            {60000000000, "1m0s"},
            {90000000000, "1m30s"},
            {3600000000000, "1h0m0s"},
            {21540000000000, "5h59m0s"},
            {21600000000000, "6h0m0s"},
            {43200000000000, "12h0m0s"},
            {3723004000000, "1h2m3.004s"},
            {-2000000000, "-2s"},
            {-1500, "-1.5µs"},
            {INT64_MAX, "2562047h47m16.854775807s"},
            {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    char buf[32];

    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++)
        T_EQ_STR(dh_go_duration(cases[i].ns, buf, sizeof(buf)), cases[i].want);
    /* truncation keeps a NUL-terminated prefix */
    T_EQ_STR(dh_go_duration(90000000000, buf, 3), "1m");
}

static void test_cache_seconds(void)
{
    /* half of what is left, minus min(60 s, a tenth of what is left) */
    T_EQ_INT(dh_kubelet_cache_seconds(1000 + 43200, 1000), 6 * 3600 - 60);
    T_EQ_INT(dh_kubelet_cache_seconds(1000 + 3599, 1000), 1799 - 60);
    T_EQ_INT(dh_kubelet_cache_seconds(1000 + 100, 1000), 50 - 10);
    T_EQ_INT(dh_kubelet_cache_seconds(1000 + 1, 1000), 0);
    T_EQ_INT(dh_kubelet_cache_seconds(1000, 1000), 0);
    T_EQ_INT(dh_kubelet_cache_seconds(999, 1000), 0);
}

static struct dh_kubelet_request *parse_ok(const char *json)
{
    struct dh_kubelet_request *r = NULL;
    struct dh_error *err = NULL;

    if (dh_kubelet_request_parse(json, strlen(json), &r, &err) < 0) {
        printf("#   unexpected error: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    return r;
}

static void test_request_versions(void)
{
    static const char *const versions[] = {V1, V1BETA1, V1ALPHA1};
    _cleanup_free_ char *json = NULL;

    for (size_t i = 0; i < DH_ARRAY_SIZE(versions); i++) {
        struct dh_kubelet_request *r;

        free(json);
        json = dh_xasprintf("{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"%s\","
                            "\"image\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1\"}",
                            versions[i]);
        r = parse_ok(json);
        T_REQUIRE(r);
        T_EQ_STR(r->api_version, versions[i]);
        T_EQ_STR(r->image, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1");
        T_ASSERT(r->sa_token == NULL);
        T_EQ_INT(r->n_annotations, 0);
        dh_kubelet_request_free(r);
    }
    /* field order does not matter; white space around is fine */
    struct dh_kubelet_request *r = parse_ok(" {\"image\":\"gcr.io/p/i\",\"apiVersion\":\"" V1
                                            "\",\"kind\":\"CredentialProviderRequest\"}\n");
    T_REQUIRE(r);
    T_EQ_STR(r->image, "gcr.io/p/i");
    dh_kubelet_request_free(r);
}

static void test_request_service_account(void)
{
    struct dh_kubelet_request *r =
            parse_ok(REQ(V1, ",\"image\":\"gcr.io/p/i\",\"serviceAccountToken\":\"eyJ.a.b\","
                             "\"serviceAccountAnnotations\":{\"eks.amazonaws.com/ecr-role-arn\":"
                             "\"arn:aws:iam::123456789012:role/r\",\"x/y\":\"\"}"));

    T_REQUIRE(r);
    T_EQ_STR(r->sa_token, "eyJ.a.b");
    T_EQ_INT(r->n_annotations, 2);
    T_EQ_STR(dh_kubelet_request_annotation(r, DH_KUBELET_ECR_ROLE_ANNO),
             "arn:aws:iam::123456789012:role/r");
    T_EQ_STR(dh_kubelet_request_annotation(r, "x/y"), "");
    T_ASSERT(dh_kubelet_request_annotation(r, "nope") == NULL);
    dh_kubelet_request_free(r);
    /* an empty token and null annotations are what omitempty leaves out */
    r = parse_ok(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountToken\":\"\","
                         "\"serviceAccountAnnotations\":null"));
    T_REQUIRE(r);
    T_ASSERT(r->sa_token == NULL);
    T_EQ_INT(r->n_annotations, 0);
    dh_kubelet_request_free(r);
}

/* Fails unless json is rejected with a message containing want (and not containing
   the secret "SECRETTOKEN"). */
#define T_REJECTS(json, want) t_rejects(__LINE__, json, strlen(json), want)
static void t_rejects(int line, const char *json, size_t len, const char *want)
{
    struct dh_kubelet_request *r = NULL;
    struct dh_error *err = NULL;

    if (dh_kubelet_request_parse(json, len, &r, &err) == 0) {
        T_FAIL_AT("line %d: accepted", line);
        dh_kubelet_request_free(r);
        return;
    }
    if (!err || !strstr(err->msg, want))
        T_FAIL_AT("line %d: error '%s' lacks '%s'", line, err ? err->msg : "(none)", want);
    else if (strstr(err->msg, "SECRETTOKEN") || strchr(err->msg, '\n'))
        T_FAIL_AT("line %d: error '%s' leaks input or spans lines", line, err->msg);
    T_ASSERT(r == NULL);
    dh_error_free(&err);
}

static void test_request_malformed(void)
{
    T_REJECTS("", "not one valid JSON object");
    T_REJECTS("{", "not one valid JSON object");
    T_REJECTS("[]", "not a JSON object");
    T_REJECTS("\"x\"", "not one valid JSON object");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\"") " {}", "not one valid JSON object");
    T_REJECTS("{\"kind\":\"CredentialProviderRequest\",\"image\":\"a.io/b\"}",
              "apiVersion missing is not supported");
    T_REJECTS("{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":1,\"image\":\"a.io/b\"}",
              "not a string");
    T_REJECTS(REQ("credentialprovider.kubelet.k8s.io/v2", ",\"image\":\"a.io/b\""),
              "apiVersion 'credentialprovider.kubelet.k8s.io/v2' is not supported");
    T_REJECTS(REQ("kubelet.config.k8s.io/v1", ",\"image\":\"a.io/b\""), "not supported");
    T_REJECTS("{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"" V1
              "\",\"image\":\"a.io/b\"}",
              "kind must be 'CredentialProviderRequest'");
    T_REJECTS("{\"apiVersion\":\"" V1 "\",\"image\":\"a.io/b\"}", "kind must be");
    T_REJECTS(REQ(V1, ""), "'image' is missing");
    T_REJECTS(REQ(V1, ",\"image\":\"\""), "'image' is missing");
    T_REJECTS(REQ(V1, ",\"image\":null"), "'image' is missing");
    T_REJECTS(REQ(V1, ",\"image\":[\"a\"]"), "'image' is missing");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b c\""), "printable ASCII");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\\n\""), "printable ASCII");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/\\u00e9\""), "printable ASCII");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"image\":\"c.io/d\""), "not one valid JSON");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"auth\":{}"), "unknown field 'auth'");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"metadata\":{}"), "unknown field 'metadata'");
    /* KEP-4412 fields exist in v1 only */
    T_REJECTS(REQ(V1BETA1, ",\"image\":\"a.io/b\",\"serviceAccountToken\":\"SECRETTOKEN\""),
              "unknown field 'serviceAccountToken' in " V1BETA1);
    T_REJECTS(REQ(V1ALPHA1, ",\"image\":\"a.io/b\",\"serviceAccountAnnotations\":{}"),
              "unknown field 'serviceAccountAnnotations'");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountToken\":7"), "must be a string");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountToken\":\"SECRET TOKEN\""),
              "not a JWT");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountAnnotations\":[]"),
              "object of strings");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountAnnotations\":{\"a\":1}"),
              "object of strings");
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountAnnotations\":{\"\":\"x\"}"),
              "empty key");
    /* an unterminated token must not be echoed by the JSON error */
    T_REJECTS(REQ(V1, ",\"image\":\"a.io/b\",\"serviceAccountToken\":\"SECRETTOKEN"),
              "not one valid JSON object");
    T_REJECTS("{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"" V1
              "\",\"image\":\"a\\u0000b\"}",
              "not one valid JSON");
    {
        /* huge input: refused before parsing */
        size_t n = DH_KUBELET_REQUEST_MAX + 1;
        char *big = dh_xmalloc(n);

        memset(big, ' ', n);
        t_rejects(__LINE__, big, n, "larger than");
        free(big);
    }
    {
        /* an image past the cap */
        _cleanup_free_ char *img = dh_xmalloc(DH_KUBELET_IMAGE_MAX + 2);
        _cleanup_free_ char *json = NULL;

        memset(img, 'a', DH_KUBELET_IMAGE_MAX + 1);
        img[DH_KUBELET_IMAGE_MAX + 1] = 0;
        json = dh_xasprintf(REQ(V1, ",\"image\":\"r.io/%s\""), img);
        T_REJECTS(json, "at most 4096");
    }
}

static void test_image_registry(void)
{
    static const struct {
        const char *image, *want;
    } ok[] = {
            {"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:tag",
             "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
            {"registry.example.com:5000/team/app@sha256:abcd", "registry.example.com:5000"},
            {"localhost/app", "localhost"},
            {"localhost:5000/app", "localhost:5000"},
            {"127.0.0.1:5000/a/b", "127.0.0.1:5000"},
            {"[::1]:5000/a", "[::1]:5000"},
            {"[fd00::1]/a", "[fd00::1]"},
            {"Registry.Example.com/a", "Registry.Example.com"},
            {"EXAMPLE/a", "EXAMPLE"}, /* uppercase: a host for docker */
            {"docker.io/library/nginx", "docker.io"},
            {"nginx", "docker.io"},
            {"nginx:1.25", "docker.io"},
            {"library/nginx", "docker.io"},
            {"europe-docker.pkg.dev/p/r/i", "europe-docker.pkg.dev"},
    };
    static const char *const bad[] = {
            "bad_host.io/a", "-a.io/b",  "a..io/b",  ".a.io/b", "a.io:/b",       "a.io:0/b",
            "a.io:99999/b",  "a.io:x/b", "[zz]:1/a", "[]:1/a",  "a.io:5000:1/b", "/a",
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(ok); i++) {
        _cleanup_free_ char *h = NULL;
        struct dh_error *err = NULL;

        if (dh_kubelet_image_registry(ok[i].image, &h, &err) < 0) {
            T_FAIL_AT("'%s': %s", ok[i].image, err->msg);
            dh_error_free(&err);
            continue;
        }
        T_EQ_STR(h, ok[i].want);
    }
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        char *h = NULL;
        struct dh_error *err = NULL;

        if (dh_kubelet_image_registry(bad[i], &h, &err) == 0) {
            T_FAIL_AT("'%s' accepted as '%s'", bad[i], h);
            free(h);
            continue;
        }
        T_ASSERT(strstr(err->msg, bad[i]) != NULL);
        dh_error_free(&err);
    }
}

static void test_response_bytes(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(1 << 16);
    struct dh_error *err = NULL;
    struct dh_kubelet_response resp = {
            .api_version = V1,
            .has_cache_duration = true,
            .cache_duration_ms = 21540000,
            .auth_key = "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            .username = "AWS",
            .password = "p\"<&>\\w",
    };

    T_REQUIRE(dh_kubelet_response_encode(&resp, &out, &err) == 0);
    T_EQ_STR(out.data,
             "{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"" V1
             "\",\"cacheKeyType\":\"Registry\",\"cacheDuration\":\"5h59m0s\","
             "\"auth\":{\"123456789012.dkr.ecr.us-east-1.amazonaws.com\":"
             "{\"username\":\"AWS\",\"password\":\"p\\\"\\u003c\\u0026\\u003e\\\\w\"}}}\n");
    dh_buf_release(&out);
    /* no cacheDuration (defaultCacheDuration), v1alpha1 echoed */
    resp = (struct dh_kubelet_response){
            .api_version = V1ALPHA1, .auth_key = "r.io:5000", .username = "", .password = ""};
    T_REQUIRE(dh_kubelet_response_encode(&resp, &out, &err) == 0);
    T_EQ_STR(out.data, "{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"" V1ALPHA1
                       "\",\"cacheKeyType\":\"Registry\",\"auth\":{\"r.io:5000\":"
                       "{\"username\":\"\",\"password\":\"\"}}}\n");
    dh_buf_release(&out);
    /* no credentials, not cached */
    resp = (struct dh_kubelet_response){
            .api_version = V1BETA1, .has_cache_duration = true, .cache_duration_ms = 0};
    T_REQUIRE(dh_kubelet_response_encode(&resp, &out, &err) == 0);
    T_EQ_STR(out.data, "{\"kind\":\"CredentialProviderResponse\",\"apiVersion\":\"" V1BETA1
                       "\",\"cacheKeyType\":\"Registry\",\"cacheDuration\":\"0s\",\"auth\":{}}\n");
    dh_buf_release(&out);
    resp.cache_duration_ms = 90500;
    T_REQUIRE(dh_kubelet_response_encode(&resp, &out, &err) == 0);
    T_ASSERT(strstr(out.data, "\"cacheDuration\":\"1m30.5s\"") != NULL);
}

static void test_config_keys(void)
{
    static const char yaml[] = "kubelet:\n"
                               "  cache_duration: 5m\n"
                               "  ecr_role_arn: arn:aws:iam::123456789012:role/r\n"
                               "  gcp_audience: //iam.googleapis.com/projects/1/x\n"
                               "  gcp_service_account: a@b.iam.gserviceaccount.com\n"
                               "  gcp_sts_url: https://sts.example/v1/token\n"
                               "  gcp_iam_url: https://iam.example\n";
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    T_REQUIRE(dh_config_parse("", 0, "c.yaml", &c, &err) == 0);
    T_ASSERT(c->kubelet_cache_duration_ms == DH_CONFIG_UNSET);
    T_ASSERT(c->kubelet_ecr_role_arn == NULL);
    dh_config_free(c);
    T_REQUIRE(dh_config_parse(yaml, strlen(yaml), "c.yaml", &c, &err) == 0);
    T_EQ_INT(c->kubelet_cache_duration_ms, 300000);
    T_EQ_STR(c->kubelet_ecr_role_arn, "arn:aws:iam::123456789012:role/r");
    T_EQ_STR(c->kubelet_gcp_audience, "//iam.googleapis.com/projects/1/x");
    T_EQ_STR(c->kubelet_gcp_service_account, "a@b.iam.gserviceaccount.com");
    T_EQ_STR(c->kubelet_gcp_sts_url, "https://sts.example/v1/token");
    T_EQ_STR(c->kubelet_gcp_iam_url, "https://iam.example");
    dh_config_free(c);
    T_REQUIRE(dh_config_parse("kubelet:\n  foo: 1\n", 17, "c.yaml", &c, &err) < 0);
    T_EQ_STR(err->msg, "c.yaml:2: unknown key 'foo' in 'kubelet'");
    dh_error_free(&err);
    T_REQUIRE(dh_config_parse("kubelet:\n  cache_duration: 8d\n", 30, "c.yaml", &c, &err) < 0);
    dh_error_free(&err);
}

/* Inputs refused before any network call (the exchanges themselves run against the
   fakes in test/cli/92-kubelet-provider.bats). */
static void test_exchange_inputs(void)
{
    static const struct {
        struct dh_gcp_exchange x;
        const char *token, *want;
    } gcp[] = {
            {{.audience = NULL}, "eyJ.a.b", "no audience"},
            {{.audience = "aud"}, "", "subject token is empty"},
            {{.audience = "aud", .sts_url = "http://sts.example/v1/token"},
             "eyJ.a.b",
             "'sts url' must be an https URL"},
            {{.audience = "aud", .iam_url = "ftp://iam.example"},
             "eyJ.a.b",
             "'iam url' must be an https URL"},
            {{.audience = "aud", .service_account = "a/../b@x.io"},
             "eyJ.a.b",
             "'a/../b@x.io' is not a service account e-mail"},
            {{.audience = "aud", .service_account = "a@b@c"}, "eyJ.a.b", "not a service account"},
            {{.audience = "aud", .service_account = "x?y@c.io"},
             "eyJ.a.b",
             "not a service account"},
    };
    struct dh_token *tok = NULL;
    struct dh_aws_creds *creds = NULL;
    struct dh_error *err = NULL;

    for (size_t i = 0; i < DH_ARRAY_SIZE(gcp); i++) {
        if (dh_gcp_exchange_token(&gcp[i].x, gcp[i].token, &tok, &err) == 0) {
            T_FAIL_AT("case %zu accepted", i);
            dh_token_free(tok);
            continue;
        }
        if (!strstr(err->msg, gcp[i].want))
            T_FAIL_AT("case %zu: '%s' lacks '%s'", i, err->msg, gcp[i].want);
        dh_error_free(&err);
    }
    T_ASSERT(dh_aws_assume_role_with_web_identity("", "arn:aws:iam::123456789012:role/r", NULL,
                                                  NULL, &creds, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "the token is empty"));
    dh_error_free(&err);
    T_ASSERT(dh_aws_assume_role_with_web_identity("eyJ.a.b", NULL, NULL, NULL, &creds, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "no role to assume"));
    dh_error_free(&err);
    T_ASSERT(creds == NULL);
}

/* ---- deploy/kubelet/ against the kubelet's CredentialProviderConfig rules ---- */

static char why[512];

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return false;
}

static const char *str_of(const struct dh_yaml_node *n)
{
    return n && n->type == DH_YAML_SCALAR && n->kind == DH_YAML_KIND_STR ? n->text : NULL;
}

/* Only these keys: the kubelet decodes strictly. */
static bool keys_known(const struct dh_yaml_node *m, const char *const *known)
{
    for (size_t i = 0; i < m->n_pairs; i++) {
        size_t k = 0;

        while (known[k] && strcmp(known[k], m->pairs[i].key) != 0)
            k++;
        if (!known[k])
            return fail("unknown field '%s'", m->pairs[i].key);
    }
    return true;
}

/* time.ParseDuration for non-negative values: "0", or (<digits>[.<digits>]<unit>)+ */
static bool go_duration_ok(const char *s)
{
    static const char *const units[] = {"ns", "us", "µs", "ms", "s", "m", "h"};

    if (strcmp(s, "0") == 0)
        return true;
    if (!*s)
        return false;
    while (*s) {
        size_t d = strspn(s, "0123456789"), u = 0;

        if (s[d] == '.')
            d += 1 + strspn(s + d + 1, "0123456789");
        if (d == 0)
            return false;
        s += d;
        for (size_t i = 0; i < DH_ARRAY_SIZE(units) && !u; i++)
            if (strncmp(s, units[i], strlen(units[i])) == 0 &&
                !(strcmp(units[i], "m") == 0 && s[1] == 's'))
                u = strlen(units[i]);
        if (!u)
            return false;
        s += u;
    }
    return true;
}

/* credentialprovider.ParseSchemelessURL plus the keyring's glob labels: host labels of
   [a-z0-9-] or globs (* ? [..]), an optional numeric port, an optional path. */
static bool match_image_ok(const char *s)
{
    size_t hl = strcspn(s, "/"), pl;
    const char *colon;

    if (!*s || strstr(s, "://") || strpbrk(s, " \t\n"))
        return false;
    colon = memchr(s, ':', hl);
    pl = colon ? (size_t)(colon - s) : hl;
    if (colon && (hl - pl < 2 || strspn(colon + 1, "0123456789") != hl - pl - 1))
        return false;
    for (size_t i = 0, start = 0; i <= pl; i++) {
        if (i < pl && s[i] != '.') {
            if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-*?[]^", s[i]))
                return false;
            continue;
        }
        if (i == start)
            return false; /* empty label */
        start = i + 1;
    }
    return true;
}

static bool qualified_name_ok(const char *k)
{
    const char *slash = strchr(k, '/'), *name = slash ? slash + 1 : k;
    size_t n = strlen(name);

    if (slash && (slash == k || strchr(name, '/') || (size_t)(slash - k) > 253))
        return false;
    if (n == 0 || n > 63 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0] | 0x20) ||
        !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[n - 1] | 0x20))
        return false;
    for (const char *p = k; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_./", *p | 0x20) && *p != '/')
            return false;
    return true;
}

static bool string_list(const struct dh_yaml_node *n, const char *field)
{
    if (!n || n->type != DH_YAML_SEQUENCE)
        return fail("'%s' must be a list", field);
    for (size_t i = 0; i < n->n_items; i++)
        if (!str_of(n->items[i]))
            return fail("'%s' must be a list of strings", field);
    return true;
}

static bool token_attributes_ok(const struct dh_yaml_node *t, const char *api)
{
    static const char *const known[] = {"serviceAccountTokenAudience",
                                        "cacheType",
                                        "requireServiceAccount",
                                        "requiredServiceAccountAnnotationKeys",
                                        "optionalServiceAccountAnnotationKeys",
                                        NULL};
    const struct dh_yaml_node *aud = dh_yaml_mapping_get(t, "serviceAccountTokenAudience");
    const struct dh_yaml_node *ct = dh_yaml_mapping_get(t, "cacheType");
    const struct dh_yaml_node *rsa = dh_yaml_mapping_get(t, "requireServiceAccount");
    const struct dh_yaml_node *req = dh_yaml_mapping_get(t, "requiredServiceAccountAnnotationKeys");
    const struct dh_yaml_node *opt = dh_yaml_mapping_get(t, "optionalServiceAccountAnnotationKeys");

    if (t->type != DH_YAML_MAPPING || !keys_known(t, known))
        return t->type == DH_YAML_MAPPING ? false : fail("tokenAttributes%s must be a mapping", "");
    if (strcmp(api, V1) != 0)
        return fail("tokenAttributes need apiVersion " V1 "%s", "");
    if (!str_of(aud) || !*str_of(aud))
        return fail("tokenAttributes.serviceAccountTokenAudience is required%s", "");
    if (!str_of(ct) || (strcmp(str_of(ct), "Token") && strcmp(str_of(ct), "ServiceAccount")))
        return fail("tokenAttributes.cacheType must be Token or ServiceAccount%s", "");
    if (!rsa || rsa->type != DH_YAML_SCALAR || rsa->kind != DH_YAML_KIND_BOOL)
        return fail("tokenAttributes.requireServiceAccount (a boolean) is required%s", "");
    if (req && (!string_list(req, "requiredServiceAccountAnnotationKeys") ||
                (req->n_items > 0 && strcmp(rsa->text, "true") != 0)))
        return req->n_items ? fail("required annotation keys need requireServiceAccount%s", "")
                            : false;
    if (opt && !string_list(opt, "optionalServiceAccountAnnotationKeys"))
        return false;
    for (int pass = 0; pass < 2; pass++) {
        const struct dh_yaml_node *l = pass ? opt : req;

        for (size_t i = 0; l && i < l->n_items; i++) {
            if (!qualified_name_ok(l->items[i]->text))
                return fail("annotation key '%s' is not a qualified name", l->items[i]->text);
            for (size_t j = 0; j < i; j++)
                if (!strcmp(l->items[i]->text, l->items[j]->text))
                    return fail("duplicate annotation key '%s'", l->items[i]->text);
            for (size_t j = 0; pass && req && j < req->n_items; j++)
                if (!strcmp(l->items[i]->text, req->items[j]->text))
                    return fail("'%s' is both required and optional", l->items[i]->text);
        }
    }
    return true;
}

static bool provider_ok(const struct dh_yaml_node *p, const char *readme, const char **names,
                        size_t n_names)
{
    static const char *const known[] = {"name", "matchImages", "defaultCacheDuration", "apiVersion",
                                        "args", "env",         "tokenAttributes",      NULL};
    const char *name = str_of(dh_yaml_mapping_get(p, "name"));
    const char *api = str_of(dh_yaml_mapping_get(p, "apiVersion"));
    const char *dcd = str_of(dh_yaml_mapping_get(p, "defaultCacheDuration"));
    const struct dh_yaml_node *mi = dh_yaml_mapping_get(p, "matchImages");
    const struct dh_yaml_node *args = dh_yaml_mapping_get(p, "args");
    const struct dh_yaml_node *env = dh_yaml_mapping_get(p, "env");
    const struct dh_yaml_node *ta = dh_yaml_mapping_get(p, "tokenAttributes");

    if (p->type != DH_YAML_MAPPING)
        return fail("a provider must be a mapping%s", "");
    if (!keys_known(p, known))
        return false;
    if (!name || !*name || strchr(name, '/') || strchr(name, ' ') || !strcmp(name, ".") ||
        !strcmp(name, ".."))
        return fail("invalid provider name '%s'", name);
    for (size_t i = 0; i < n_names; i++)
        if (!strcmp(names[i], name))
            return fail("duplicate provider name '%s'", name);
    /* the name is the binary's: dockhand itself, or a link to it the README creates */
    if (strcmp(name, "dockhand") != 0) {
        _cleanup_free_ char *ln = dh_xasprintf("ln -s dockhand <bin-dir>/%s", name);

        if (strncmp(name, "dockhand-", 9) != 0 || !strstr(readme, ln))
            return fail("provider '%s' is not the dockhand binary or a link the README makes",
                        name);
    }
    if (!args || args->type != DH_YAML_SEQUENCE || args->n_items != 1 || !str_of(args->items[0]) ||
        strcmp(args->items[0]->text, "kubelet-provider") != 0)
        return fail("provider '%s' must have args: [kubelet-provider]", name);
    if (!api || (strcmp(api, V1) && strcmp(api, V1BETA1) && strcmp(api, V1ALPHA1)))
        return fail("provider '%s': apiVersion is missing or not supported", name);
    if (!string_list(mi, "matchImages"))
        return false;
    if (mi->n_items == 0)
        return fail("provider '%s': matchImages needs at least one item", name);
    for (size_t i = 0; i < mi->n_items; i++)
        if (!match_image_ok(mi->items[i]->text))
            return fail("match image '%s' is invalid", mi->items[i]->text);
    if (!dcd || !go_duration_ok(dcd))
        return fail("provider '%s': defaultCacheDuration (a duration >= 0) is required", name);
    if (env) {
        static const char *const env_keys[] = {"name", "value", NULL};

        if (env->type != DH_YAML_SEQUENCE)
            return fail("env must be a list%s", "");
        for (size_t i = 0; i < env->n_items; i++)
            if (env->items[i]->type != DH_YAML_MAPPING || !keys_known(env->items[i], env_keys) ||
                !str_of(dh_yaml_mapping_get(env->items[i], "name")) ||
                !str_of(dh_yaml_mapping_get(env->items[i], "value")))
                return fail("env items must be {name, value} strings%s", "");
    }
    if (ta && !token_attributes_ok(ta, api))
        return false;
    return true;
}

/* true when data is a CredentialProviderConfig the kubelet loads, else why[] says why. */
static bool provider_config_ok(const char *data, size_t len, const char *readme)
{
    static const char *const known[] = {"apiVersion", "kind", "providers", NULL};
    _cleanup_yaml_ struct dh_yaml_node *root = NULL;
    struct dh_error *err = NULL;
    const struct dh_yaml_node *ps;
    const char *names[64];
    size_t n = 0;
    bool ok = true;

    if (dh_yaml_parse(data, len, "config", &root, &err) < 0) {
        snprintf(why, sizeof(why), "%s", err->msg);
        dh_error_free(&err);
        return false;
    }
    if (!root || root->type != DH_YAML_MAPPING)
        return fail("the top level must be a mapping%s", "");
    if (!keys_known(root, known))
        return false;
    if (!str_of(dh_yaml_mapping_get(root, "apiVersion")) ||
        strcmp(str_of(dh_yaml_mapping_get(root, "apiVersion")), "kubelet.config.k8s.io/v1") != 0)
        return fail("apiVersion must be kubelet.config.k8s.io/v1%s", "");
    if (!str_of(dh_yaml_mapping_get(root, "kind")) ||
        strcmp(str_of(dh_yaml_mapping_get(root, "kind")), "CredentialProviderConfig") != 0)
        return fail("kind must be CredentialProviderConfig%s", "");
    ps = dh_yaml_mapping_get(root, "providers");
    if (!ps || ps->type != DH_YAML_SEQUENCE || ps->n_items == 0)
        return fail("providers needs at least one item%s", "");
    for (size_t i = 0; ok && i < ps->n_items && i < DH_ARRAY_SIZE(names); i++) {
        ok = provider_ok(ps->items[i], readme, names, n);
        if (ok)
            names[n++] = str_of(dh_yaml_mapping_get(ps->items[i], "name"));
    }
    return ok;
}

static void test_validator_rejects(void)
{
    static const char head[] = "apiVersion: kubelet.config.k8s.io/v1\n"
                               "kind: CredentialProviderConfig\n"
                               "providers:\n"
                               "  - name: dockhand\n"
                               "    args: [kubelet-provider]\n";
    static const struct {
        const char *rest, *want;
    } bad[] = {
            {"    apiVersion: " V1 "\n    defaultCacheDuration: 1m\n", "matchImages"},
            {"    apiVersion: " V1 "\n    matchImages: []\n    defaultCacheDuration: 1m\n",
             "at least one"},
            {"    apiVersion: " V1 "\n    matchImages: [\"https://a.io\"]\n"
             "    defaultCacheDuration: 1m\n",
             "invalid"},
            {"    apiVersion: " V1 "\n    matchImages: [\"a..io\"]\n    defaultCacheDuration: 1m\n",
             "invalid"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n", "defaultCacheDuration"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1x\n",
             "defaultCacheDuration"},
            {"    apiVersion: v2\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n",
             "apiVersion"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n"
             "    cacheDuration: 1m\n",
             "unknown field 'cacheDuration'"},
            {"    apiVersion: " V1BETA1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n"
             "    tokenAttributes: {serviceAccountTokenAudience: a, cacheType: Token, "
             "requireServiceAccount: true}\n",
             "need apiVersion"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n"
             "    tokenAttributes: {serviceAccountTokenAudience: a, cacheType: Pod, "
             "requireServiceAccount: true}\n",
             "cacheType"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n"
             "    tokenAttributes: {serviceAccountTokenAudience: a, cacheType: Token, "
             "requireServiceAccount: false, requiredServiceAccountAnnotationKeys: [a/b]}\n",
             "requireServiceAccount"},
            {"    apiVersion: " V1 "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n"
             "  - name: dockhand\n    args: [kubelet-provider]\n    apiVersion: " V1
             "\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n",
             "duplicate provider name"},
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *doc = dh_xasprintf("%s%s", head, bad[i].rest);

        why[0] = 0;
        if (provider_config_ok(doc, strlen(doc), ""))
            T_FAIL_AT("case %zu accepted", i);
        else if (!strstr(why, bad[i].want))
            T_FAIL_AT("case %zu: '%s' lacks '%s'", i, why, bad[i].want);
    }
    {
        _cleanup_free_ char *doc = dh_xasprintf(
                "%s    apiVersion: " V1 "\n    matchImages: [\"*.a.io:5000/p\", \"app*.k8s.io\"]\n"
                "    defaultCacheDuration: \"1h30m\"\n",
                head);

        T_ASSERT(provider_config_ok(doc, strlen(doc), ""));
    }
}

static void test_deploy_examples(void)
{
    const char *root = getenv("DOCKHAND_ROOT");
    _cleanup_free_ char *dir = dh_xasprintf("%s/deploy/kubelet", root && *root ? root : ".");
    _cleanup_free_ char *readme_path = dh_xasprintf("%s/README.md", dir);
    _cleanup_buf_ struct dh_buf readme = DH_BUF_INIT(1 << 20);
    _cleanup_dir_ DIR *d = opendir(dir);
    struct dh_error *err = NULL;
    struct dirent *e;
    int provider_files = 0, sa_files = 0, dockhand_configs = 0;

    T_REQUIRE(d != NULL);
    T_REQUIRE(dh_read_file(readme_path, &readme, &err) == 0);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        _cleanup_free_ char *path = NULL;
        _cleanup_buf_ struct dh_buf data = DH_BUF_INIT(1 << 20);

        if (!(n > 5 && !strcmp(e->d_name + n - 5, ".yaml")) &&
            !(n > 4 && !strcmp(e->d_name + n - 4, ".yml")))
            continue;
        path = dh_xasprintf("%s/%s", dir, e->d_name);
        if (dh_read_file(path, &data, &err) < 0) {
            T_FAIL_AT("%s", err->msg);
            dh_error_free(&err);
            continue;
        }
        if (strstr(data.data, "\nkind: CredentialProviderConfig")) {
            why[0] = 0;
            if (!provider_config_ok(data.data, data.len, readme.data))
                T_FAIL_AT("%s: %s", e->d_name, why);
            provider_files++;
            sa_files += strstr(data.data, "tokenAttributes:") != NULL;
        } else {
            /* the node's dockhand config: the real loader must take it */
            struct dh_config *c = NULL;

            if (dh_config_parse(data.data, data.len, e->d_name, &c, &err) < 0) {
                T_FAIL_AT("%s", err->msg);
                dh_error_free(&err);
                continue;
            }
            dockhand_configs++;
            dh_config_free(c);
        }
    }
    T_EQ_INT(provider_files, 2);
    T_EQ_INT(sa_files, 1);
    T_EQ_INT(dockhand_configs, 1);
}

int main(void)
{
    dh_json_use_wiping_alloc();
    T_RUN(test_go_duration);
    T_RUN(test_cache_seconds);
    T_RUN(test_request_versions);
    T_RUN(test_request_service_account);
    T_RUN(test_request_malformed);
    T_RUN(test_image_registry);
    T_RUN(test_response_bytes);
    T_RUN(test_config_keys);
    T_RUN(test_exchange_inputs);
    T_RUN(test_validator_rejects);
    T_RUN(test_deploy_examples);
    return t_done();
}

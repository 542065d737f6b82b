/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: Google access tokens (src/gcp.c): registry hosts, ADC source discovery, and
 * minting against test/fake/google.py for every source (service account JWT verified by the
 * fake, authorized user, external account, metadata server). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/gcp.h"
#include "dockhand/http.h"
#include "dockhand/mem.h"

#include "t.h"

#define KID   "0123456789abcdef0123456789abcdef01234567"
#define EMAIL "builder@my-project.iam.gserviceaccount.com"
#define CID   "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com"
#define CSEC  "d-FL95Q19q7MQmFpd7hHD0Ty"
#define RTOK  "1//0refresh-token-for-tests"
#define AUD   "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/q"
#define SUBJ  "eyJhbGciOiJSUzI1NiJ9.subject.token"

static char tmpdir[] = "/tmp/dockhand-gcp-XXXXXX";
static pid_t fake_pid = -1;
static long port;
static char *key_pem, *other_key_pem;

/* ---- helpers ---- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *tpath(const char *name)
{
    return dh_xasprintf("%s/%s", tmpdir, name);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = NULL;
    size_t n = 0;

    if (!f)
        return NULL;
    if (getdelim(&s, &n, '\0', f) < 0) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        T_FAIL_AT("cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static void write_json(const char *path, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));

    write_text(path, s);
    free(s);
    json_decref(j);
}

static char *token_url(const char *path)
{
    return dh_xasprintf("http://127.0.0.1:%ld%s", port, path);
}

static void sa_file(const char *name, const char *pem, const char *kid, const char *uri)
{
    _cleanup_free_ char *p = tpath(name);

    write_json(p, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "service_account",
                            "project_id", "my-project", "private_key_id", kid, "private_key", pem,
                            "client_email", EMAIL, "client_id", "1234567890", "token_uri", uri));
}

static void user_file(const char *path, const char *refresh, const char *uri)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", "authorized_user", "client_id", CID,
                          "client_secret", CSEC, "refresh_token", refresh);

    if (uri)
        json_object_set_new(j, "token_uri", json_string(uri));
    write_json(path, j);
}

static void external_file(const char *path, const char *subject_file, const char *field)
{
    _cleanup_free_ char *sts = token_url("/sts");
    json_t *cs = json_pack("{s:s}", "file", subject_file);

    if (field)
        json_object_set_new(
                cs, "format",
                json_pack("{s:s, s:s}", "type", "json", "subject_token_field_name", field));
    write_json(path, json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "external_account", "audience",
                               AUD, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt",
                               "token_url", sts, "credential_source", cs));
}

/* An external_account file with service account impersonation at the fake's IAM endpoint. */
static void external_imp_file(const char *path, const char *subject_file, long lifetime)
{
    _cleanup_free_ char *sts = token_url("/sts"),
                        *iam = token_url("/iam/" EMAIL ":generateAccessToken");
    json_t *j = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "type", "external_account", "audience", AUD,
            "subject_token_type", "urn:ietf:params:oauth:token-type:jwt", "token_url", sts,
            "service_account_impersonation_url", iam, "credential_source", "file", subject_file);

    if (lifetime)
        json_object_set_new(j, "service_account_impersonation",
                            json_pack("{s:I}", "token_lifetime_seconds", (json_int_t)lifetime));
    write_json(path, j);
}

static void clear_env(void)
{
    _cleanup_free_ char *home = tpath("home");

    setenv("HOME", home, 1);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("CLOUDSDK_CONFIG");
    unsetenv("GCE_METADATA_HOST");
}

static void fake_post(const char *path, const char *json)
{
    _cleanup_free_ char *url = token_url(path);
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct dh_http_request req = {.method = "POST",
                                  .url = url,
                                  .headers = headers,
                                  .body = json,
                                  .body_len = strlen(json),
                                  .allow_http = true};
    struct dh_http_response resp;
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_http_do(&req, &resp, &err) < 0)
        T_FAIL_AT("fake %s failed: %s", path, err->msg);
    else if (resp.status != 200)
        T_FAIL_AT("fake %s answered HTTP %ld", path, resp.status);
    dh_http_response_release(&resp);
}

static long fake_calls(const char *kind)
{
    _cleanup_free_ char *p = tpath("state/calls.json"), *s = read_text(p);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    long n = j ? (long)json_integer_value(json_object_get(j, kind)) : 0;

    json_decref(j);
    return n;
}

/* Finds the source (key_file may be NULL) and mints; prints and returns the error. */
static struct dh_token *mint(const char *key_file, struct dh_error **ret_err)
{
    _cleanup_gcp_source_ struct dh_gcp_source *src = NULL;
    struct dh_token *tok = NULL;
    struct dh_error *err = NULL;

    if (dh_gcp_find_source(key_file, &src, &err) < 0 || dh_gcp_mint(src, &tok, &err) < 0) {
        printf("# error: %s\n", err->msg);
        if (ret_err)
            *ret_err = err;
        else
            dh_error_free(&err);
        return NULL;
    }
    return tok;
}

static char *identity_of(const char *key_file)
{
    _cleanup_gcp_source_ struct dh_gcp_source *src = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_gcp_find_source(key_file, &src, &err) < 0) {
        printf("# error: %s\n", err->msg);
        return NULL;
    }
    return dh_xstrdup(dh_gcp_source_identity(src));
}

/* Expects minting to fail with a message containing each of the NULL-terminated strings and
   none of the secrets. */
static void expect_fail(const char *key_file, ...)
{
    struct dh_error *err = NULL;
    struct dh_token *tok = mint(key_file, &err);
    const char *want;
    static const char *const secrets[] = {CSEC, RTOK, SUBJ, "PRIVATE KEY", "ya29."};
    va_list ap;

    if (tok) {
        T_FAIL_AT("minting with %s succeeded", key_file ? key_file : "(adc)");
        dh_token_free(tok);
        return;
    }
    va_start(ap, key_file);
    while ((want = va_arg(ap, const char *)))
        if (!strstr(err->msg, want))
            T_FAIL_AT("error '%s' lacks '%s'", err->msg, want);
    va_end(ap);
    for (size_t i = 0; i < DH_ARRAY_SIZE(secrets); i++)
        if (strstr(err->msg, secrets[i]))
            T_FAIL_AT("error '%s' holds a secret", err->msg);
    dh_error_free(&err);
}

static void check_token(struct dh_token *tok, const char *prefix, long expires_in)
{
    int64_t now = (int64_t)time(NULL);

    T_REQUIRE(tok);
    T_EQ_STR(tok->username, "oauth2accesstoken");
    T_ASSERT(strncmp(tok->secret, prefix, strlen(prefix)) == 0);
    T_ASSERT(tok->expires_at >= now + expires_in - 5 && tok->expires_at <= now + expires_in);
    T_ASSERT(tok->source && !strstr(tok->source, tok->secret));
}

/* ---- tests ---- */

static void test_hosts(void)
{
    static const struct {
        const char *host;
        bool want;
    } cases[] = {
            {"gcr.io", true},
            {"us.gcr.io", true},
            {"eu.gcr.io", true},
            {"asia.gcr.io", true},
            {"marketplace.gcr.io", true},
            {"GCR.IO", true},
            {"https://us.gcr.io/v2/", true},
            {"gcr.io:443", true},
            {"https://eu.gcr.io:443/project/image", true},
            {"us-west1-docker.pkg.dev", true},
            {"europe-docker.pkg.dev", true},
            {"US-Docker.Pkg.Dev", true},
            {"docker.pkg.dev", true},
            {"docker.us-central1.rep.pkg.dev", true},
            {"https://user@gcr.io/", true},
            {"notgcr.io", false},
            {"gcr.io.evil.com", false},
            {"pkg.dev.evil.com", false},
            {"us-docker.pkg.dev.evil.com", false},
            {"evilgcr.io", false},
            {"pkg.dev", false},
            {".gcr.io", false},
            {"gcr.io.", false},
            {"a..gcr.io", false},
            {"evil.com/gcr.io", false},
            {"https://evil.com/x.gcr.io", false},
            {"gcr.io@evil.com", false},
            {"docker.io", false},
            {"", false},
            {"gcr_io", false},
            {"us.gcr.io\n", false},
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++)
        if (dh_gcp_is_registry_host(cases[i].host) != cases[i].want)
            T_FAIL_AT("dh_gcp_is_registry_host(\"%s\") != %d", cases[i].host, cases[i].want);
    T_ASSERT(!dh_gcp_is_registry_host(NULL));
}

static void test_fake_starts(void)
{
    _cleanup_free_ char *state = tpath("state"), *portf = tpath("state/port"),
                        *pub = tpath("pub.pem"), *cmd = NULL, *subj = tpath("subject.txt");
    double start;

    T_REQUIRE(mkdir(state, 0700) == 0);
    cmd = dh_xasprintf("cd %s && mkdir -p home && openssl genrsa -out key.pem 2048 2>/dev/null && "
                       "openssl genrsa -out other.pem 2048 2>/dev/null && "
                       "openssl rsa -in key.pem -pubout -out pub.pem 2>/dev/null",
                       tmpdir);
    if (system(cmd) != 0)
        T_FAIL_AT("openssl genrsa failed: install openssl (hack/install-deps.sh)");
    {
        _cleanup_free_ char *k = tpath("key.pem"), *o = tpath("other.pem");

        key_pem = read_text(k);
        other_key_pem = read_text(o);
    }
    T_REQUIRE(key_pem && other_key_pem);
    if (access("test/fake/google.py", R_OK) != 0)
        T_FAIL_AT("run the test from the repository root (test/fake/google.py not found)");
    fake_pid = fork();
    T_REQUIRE(fake_pid >= 0);
    if (fake_pid == 0) {
        execlp("python3", "python3", "test/fake/google.py", "--state-dir", state, "--pubkey", pub,
               "--kid", KID, "--email", EMAIL, "--client-id", CID, "--client-secret", CSEC,
               "--refresh-token", RTOK, "--audience", AUD, "--subject-token", SUBJ,
               "--idle-timeout", "120", (char *)NULL);
        _exit(127);
    }
    start = now_s();
    while (access(portf, R_OK) != 0 && now_s() - start < 20)
        usleep(20000);
    {
        _cleanup_free_ char *s = read_text(portf);

        port = s ? strtol(s, NULL, 10) : 0;
    }
    if (port <= 0)
        T_FAIL_AT("the fake did not start (python3 missing? its error is on stderr)");
    T_REQUIRE(port > 0);
    write_text(subj, "  " SUBJ "\n");
}

static void test_discovery(void)
{
    _cleanup_free_ char *uri = token_url("/token"), *gdir = tpath("home/.config/gcloud"),
                        *adc = tpath("home/.config/gcloud/application_default_credentials.json"),
                        *cdir = tpath("cloudsdk"),
                        *cadc = tpath("cloudsdk/application_default_credentials.json"),
                        *ext = tpath("ext.json"), *subj = tpath("subject.txt"),
                        *sa = tpath("sa.json"), *missing = tpath("missing.json");
    _cleanup_gcp_source_ struct dh_gcp_source *src = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    char *id;

    T_REQUIRE(port > 0);
    clear_env();
    /* nothing local: the metadata server */
    id = identity_of(NULL);
    T_EQ_STR(id, "metadata:169.254.169.254");
    free(id);
    setenv("GCE_METADATA_HOST", "127.0.0.1:9", 1);
    id = identity_of(NULL);
    T_EQ_STR(id, "metadata:127.0.0.1:9");
    free(id);
    /* gcloud's ADC file under HOME */
    T_REQUIRE(dh_mkdir_p(gdir, 0700, &err) == 0 && dh_mkdir_p(cdir, 0700, &err) == 0);
    user_file(adc, RTOK, NULL);
    id = identity_of(NULL);
    T_EQ_STR(id, "user:" CID);
    free(id);
    /* CLOUDSDK_CONFIG replaces ~/.config/gcloud */
    sa_file("sa.json", key_pem, KID, uri);
    sa_file("cloudsdk/application_default_credentials.json", key_pem, KID, uri);
    setenv("CLOUDSDK_CONFIG", cdir, 1);
    id = identity_of(NULL);
    T_EQ_STR(id, "sa:" EMAIL);
    free(id);
    /* an empty CLOUDSDK_CONFIG dir: no fall-back to ~/.config/gcloud, the metadata server */
    unlink(cadc);
    id = identity_of(NULL);
    T_EQ_STR(id, "metadata:127.0.0.1:9");
    free(id);
    /* GOOGLE_APPLICATION_CREDENTIALS comes first */
    external_file(ext, subj, NULL);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", ext, 1);
    id = identity_of(NULL);
    T_EQ_STR(id, "external:" AUD);
    free(id);
    /* an explicit key file comes before everything */
    id = identity_of(sa);
    T_EQ_STR(id, "sa:" EMAIL);
    free(id);
    /* a named file that is missing is an error, not a fall-through */
    setenv("GOOGLE_APPLICATION_CREDENTIALS", missing, 1);
    T_ASSERT(dh_gcp_find_source(NULL, &src, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "GOOGLE_APPLICATION_CREDENTIALS") &&
             strstr(err->msg, "missing.json"));
    dh_error_free(&err);
    T_ASSERT(dh_gcp_find_source(missing, &src, &err) < 0 && err->status == ENOENT);
    dh_error_free(&err);
    /* a broken ADC file is an error too */
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    write_text(cadc, "{not json");
    T_ASSERT(dh_gcp_find_source(NULL, &src, &err) < 0 && strstr(err->msg, cadc));
    dh_error_free(&err);
    unlink(cadc);
    clear_env();
}

static void test_bad_files(void)
{
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
            {"[]", "not a JSON object"},
            {"{}", "missing 'type'"},
            {"{\"type\":\"impersonated_service_account\"}",
             "'impersonated_service_account' is not supported"},
            {"{\"type\":\"service_account\",\"private_key\":\"x\"}", "missing 'client_email'"},
            {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":\"x\","
             "\"token_uri\":\"http://evil.example/token\"}",
             "'token_uri' must be an https URL"},
            {"{\"type\":\"authorized_user\",\"client_id\":\"a\",\"client_secret\":\"b\"}",
             "missing 'refresh_token'"},
            {"{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
             "\"credential_source\":{\"url\":\"http://169.254.169.254/token\"}}",
             "'credential_source.url' is not supported yet"},
            {"{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
             "\"service_account_impersonation_url\":\"http://evil.example/x\",\"credential_source\":"
             "{\"file\":\"/x\"}}",
             "'service_account_impersonation_url' must be an https URL"},
            {"{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
             "\"service_account_impersonation\":{\"token_lifetime_seconds\":60},"
             "\"credential_source\":{\"file\":\"/x\"}}",
             "must be between 600 and 43200"},
            {"{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\"}",
             "missing 'credential_source'"},
    };
    _cleanup_free_ char *p = tpath("bad.json");

    T_REQUIRE(port > 0);
    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_gcp_source_ struct dh_gcp_source *src = NULL;
        _cleanup_error_ struct dh_error *err = NULL;

        write_text(p, cases[i].json);
        if (dh_gcp_find_source(p, &src, &err) == 0)
            T_FAIL_AT("case %zu: accepted", i);
        else if (!strstr(err->msg, cases[i].want) || !strstr(err->msg, p))
            T_FAIL_AT("case %zu: '%s' lacks '%s'", i, err->msg, cases[i].want);
    }
}

static void test_service_account(void)
{
    _cleanup_free_ char *uri = token_url("/token"), *sa = tpath("sa.json"),
                        *other = tpath("sa-other.json"), *kid = tpath("sa-kid.json"),
                        *aud = tpath("sa-aud.json"),
                        *aud_uri = dh_xasprintf("http://localhost:%ld/token", port);
    struct dh_token *tok;
    long before;

    T_REQUIRE(port > 0);
    clear_env();
    sa_file("sa.json", key_pem, KID, uri);
    before = fake_calls("token");
    tok = mint(sa, NULL);
    check_token(tok, "ya29.sa-", 3599);
    T_ASSERT(tok && strstr(tok->source, sa) && strstr(tok->source, "/token"));
    dh_token_free(tok);
    T_EQ_INT(fake_calls("token"), before + 1);
    /* through GOOGLE_APPLICATION_CREDENTIALS */
    setenv("GOOGLE_APPLICATION_CREDENTIALS", sa, 1);
    tok = mint(NULL, NULL);
    check_token(tok, "ya29.sa-", 3599);
    dh_token_free(tok);
    clear_env();
    /* the fake verifies the signature, the kid and the audience */
    sa_file("sa-other.json", other_key_pem, KID, uri);
    expect_fail(other, other, "HTTP 400", "invalid_grant", "Invalid JWT Signature", NULL);
    sa_file("sa-kid.json", key_pem, "wrong-kid", uri);
    expect_fail(kid, "HTTP 400", "bad JWT header", NULL);
    sa_file("sa-aud.json", key_pem, KID, aud_uri);
    expect_fail(aud, "HTTP 400", "Invalid JWT: aud", NULL);
    /* a key that is not PEM */
    sa_file("sa-other.json", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", KID,
            uri);
    expect_fail(other, "'private_key' is not a PEM private key", NULL);
    /* server errors */
    fake_post("/_fake/scenario", "{\"status\": 500}");
    expect_fail(sa, sa, "HTTP 500", "internal_failure", NULL);
    fake_post("/_fake/scenario", "{\"status\": 401}");
    expect_fail(sa, "HTTP 401", "invalid_client", NULL);
    /* malformed answers */
    fake_post("/_fake/scenario", "{\"body\": {\"expires_in\": 3599, \"token_type\": \"Bearer\"}}");
    expect_fail(sa, "answered with no 'access_token'", NULL);
    fake_post(
            "/_fake/scenario",
            "{\"body\": {\"access_token\": \"ya29.x\", \"expires_in\": 3599, \"token_type\": \"MAC\"}}");
    expect_fail(sa, "'token_type' other than Bearer", NULL);
    fake_post("/_fake/scenario",
              "{\"body\": {\"access_token\": \"ya29.x\", \"token_type\": \"Bearer\"}}");
    expect_fail(sa, "answered with no 'expires_in'", NULL);
    fake_post(
            "/_fake/scenario",
            "{\"body\": {\"access_token\": \"ya29.x\", \"expires_in\": -5, \"token_type\": \"Bearer\"}}");
    expect_fail(sa, "'expires_in' -5 out of range", NULL);
    fake_post("/_fake/scenario", "{\"body\": [1]}");
    expect_fail(sa, "answered with no JSON object", NULL);
    fake_post("/_fake/scenario", "{}");
}

static void test_authorized_user(void)
{
    _cleanup_free_ char *uri = token_url("/token"), *gdir = tpath("home/.config/gcloud"),
                        *adc = tpath("home/.config/gcloud/application_default_credentials.json"),
                        *bad = tpath("user-bad.json"), *https = tpath("user-default.json");
    _cleanup_gcp_source_ struct dh_gcp_source *src = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_token *tok;

    T_REQUIRE(port > 0);
    clear_env();
    user_file(adc, RTOK, uri);
    tok = mint(NULL, NULL);
    check_token(tok, "ya29.user-", 3599);
    dh_token_free(tok);
    user_file(bad, "1//revoked", uri);
    expect_fail(bad, bad, "HTTP 400", "invalid_grant", "Token has been expired or revoked", NULL);
    /* without token_uri, Google's endpoint */
    user_file(https, RTOK, NULL);
    T_REQUIRE(dh_gcp_find_source(https, &src, &err) == 0);
    T_EQ_STR(dh_gcp_source_identity(src), "user:" CID);
    (void)gdir;
    unlink(adc);
}

static void test_external_account(void)
{
    _cleanup_free_ char *ext = tpath("ext.json"), *subj = tpath("subject.txt"),
                        *jsubj = tpath("subject.json"), *extj = tpath("ext-json.json"),
                        *bsubj = tpath("subject-bad.txt"), *extb = tpath("ext-bad.json"),
                        *exti = tpath("ext-imp.json");
    struct dh_token *tok;
    char *id;
    long before;

    T_REQUIRE(port > 0);
    clear_env();
    external_file(ext, subj, NULL);
    tok = mint(ext, NULL);
    check_token(tok, "ya29.sts-", 3600);
    dh_token_free(tok);
    write_text(jsubj, "{\"id_token\": \"" SUBJ "\", \"other\": 1}");
    external_file(extj, jsubj, "id_token");
    tok = mint(extj, NULL);
    check_token(tok, "ya29.sts-", 3600);
    dh_token_free(tok);
    external_file(extj, jsubj, "access_token");
    expect_fail(extj, "has no string field 'access_token'", NULL);
    write_text(bsubj, "not-the-subject");
    external_file(extb, bsubj, NULL);
    expect_fail(extb, extb, "HTTP 400", "invalid_grant", "/sts", NULL);
    write_text(bsubj, "\n");
    expect_fail(extb, "is empty", NULL);
    /* service account impersonation: the STS token is traded at IAM for the account's token */
    before = fake_calls("iam");
    external_imp_file(exti, subj, 0);
    id = identity_of(exti);
    T_ASSERT(id &&
             strncmp(id, "external:" AUD ":impersonate:http://127.0.0.1:", 30 + strlen(AUD)) == 0);
    free(id);
    tok = mint(exti, NULL);
    check_token(tok, "ya29.imp-", 3600);
    dh_token_free(tok);
    external_imp_file(exti, subj, 7200);
    tok = mint(exti, NULL);
    check_token(tok, "ya29.imp-", 7200);
    dh_token_free(tok);
    T_EQ_INT(fake_calls("iam"), before + 2);
    fake_post("/_fake/scenario", "{\"iam_status\": 403}");
    expect_fail(exti, exti, "generateAccessToken' answered HTTP 403", "PERMISSION_DENIED",
                "iam.serviceAccounts.getAccessToken", NULL);
    fake_post("/_fake/scenario", "{}");
}

static void test_metadata(void)
{
    _cleanup_free_ char *host = dh_xasprintf("127.0.0.1:%ld", port);
    struct dh_token *tok;
    long before;
    double start;

    T_REQUIRE(port > 0);
    clear_env();
    setenv("GCE_METADATA_HOST", host, 1);
    before = fake_calls("metadata");
    tok = mint(NULL, NULL);
    check_token(tok, "ya29.gce-", 3599);
    dh_token_free(tok);
    T_EQ_INT(fake_calls("metadata"), before + 1);
    {
        /* the fake is strict: no Metadata-Flavor request header, 403 */
        _cleanup_free_ char *u =
                token_url("/computeMetadata/v1/instance/service-accounts/default/token");
        struct dh_http_request req = {.url = u, .allow_http = true};
        struct dh_http_response resp;
        _cleanup_error_ struct dh_error *err = NULL;

        T_ASSERT(dh_http_do(&req, &resp, &err) == 0 && resp.status == 403);
        dh_http_response_release(&resp);
    }
    fake_post("/_fake/scenario", "{\"no_flavor\": true}");
    expect_fail(NULL, "Metadata-Flavor", host, NULL);
    fake_post("/_fake/scenario", "{\"status\": 500}");
    expect_fail(NULL, "metadata server", host, "HTTP 500", NULL);
    /* a slow server: the 3 s limit */
    fake_post("/_fake/scenario", "{\"delay\": 6}");
    start = now_s();
    expect_fail(NULL, "metadata server", host, NULL);
    T_ASSERT(now_s() - start < 4.5);
    fake_post("/_fake/scenario", "{}");
    /* nothing listening, and an unroutable address: fail fast */
    setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
    start = now_s();
    expect_fail(NULL, "metadata server '127.0.0.1:1'", "GOOGLE_APPLICATION_CREDENTIALS", NULL);
    T_ASSERT(now_s() - start < 4);
    setenv("GCE_METADATA_HOST", "192.0.2.1", 1);
    start = now_s();
    expect_fail(NULL, "metadata server '192.0.2.1'", NULL);
    T_ASSERT(now_s() - start < 4);
    clear_env();
}

static void cleanup(void)
{
    _cleanup_free_ char *cmd = NULL;
    int status;

    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, &status, 0);
    }
    if (strncmp(tmpdir, "/tmp/dockhand-gcp-", 18) == 0 && !strstr(tmpdir, "XXXXXX")) {
        cmd = dh_xasprintf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            printf("# cannot remove %s\n", tmpdir);
    }
    dh_str_free_wipe(key_pem);
    dh_str_free_wipe(other_key_pem);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_hosts);
    T_RUN(test_fake_starts);
    T_RUN(test_discovery);
    T_RUN(test_bad_files);
    T_RUN(test_service_account);
    T_RUN(test_authorized_user);
    T_RUN(test_external_account);
    T_RUN(test_metadata);
    cleanup();
    return t_done();
}

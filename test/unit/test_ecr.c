/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: ECR host recognition (the vectors of ecr-login/api/client_test.go and more) and
   GetAuthorizationToken against the strict fake test/fake/aws-ecr.py. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/ecr.h"
#include "dockhand/mem.h"

#include "t.h"

#define AKID    "AKIDFAKEECR000000001"
#define SECRET  "fakeSecretKey/0123456789+abcdefghijKLMNOP"
#define STOKEN  "FwoGZXIvYXdzEFAKESESSIONTOKEN//////////wEaDEXAMPLE=="
#define PASSWD  "eyJwYXlsb2FkIjoiZmFrZSJ9:with:colons"
#define ACCOUNT "123456789012"
#define HOST    "123456789012.dkr.ecr.us-west-2.amazonaws.com"

static pid_t fake_pid = -1;
static int fake_stdin = -1;
static char tmpdir[] = "/tmp/dockhand-test-ecr.XXXXXX";
static char *fake_url;

static void test_host_positive(void)
{
    static const struct {
        const char *host, *account, *region, *suffix;
        bool fips, dualstack;
    } v[] = {
            {"123456789012.dkr.ecr.us-east-1.amazonaws.com", ACCOUNT, "us-east-1", "amazonaws.com",
             false, false},
            {"123456789012.dkr-ecr.us-west-2.on.aws", ACCOUNT, "us-west-2", "amazonaws.com", false,
             true},
            {"123456789012.dkr-ecr-fips.us-west-2.on.aws", ACCOUNT, "us-west-2", "amazonaws.com",
             true, true},
            {"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn", "210987654321", "cn-north-1",
             "amazonaws.com.cn", false, false},
            {"210987654321.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "210987654321",
             "cn-north-1", "amazonaws.com.cn", false, true},
            {"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", ACCOUNT, "us-iso-east-1",
             "c2s.ic.gov", false, false},
            {"123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", ACCOUNT, "us-isob-east-1",
             "sc2s.sgov.gov", false, false},
            {"123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", ACCOUNT, "eu-isoe-west-1",
             "cloud.adc-e.uk", false, false},
            {"123456789012.dkr.ecr.us-isof-east-1.csp.hci.ic.gov", ACCOUNT, "us-isof-east-1",
             "csp.hci.ic.gov", false, false},
            {"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ACCOUNT, "us-gov-west-1",
             "amazonaws.com", true, false},
            {"123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", ACCOUNT, "eusc-de-east-1",
             "amazonaws.eu", false, false},
            /* extras: scheme, port, path, case, white space */
            {"https://123456789012.dkr.ecr.us-east-1.amazonaws.com", ACCOUNT, "us-east-1",
             "amazonaws.com", false, false},
            {"https://123456789012.dkr.ecr.eu-west-1.amazonaws.com:443/v2/repo/manifests/x",
             ACCOUNT, "eu-west-1", "amazonaws.com", false, false},
            {"http://123456789012.dkr.ecr.eu-west-1.amazonaws.com/", ACCOUNT, "eu-west-1",
             "amazonaws.com", false, false},
            {"123456789012.dkr.ecr.eu-west-1.amazonaws.com:5000", ACCOUNT, "eu-west-1",
             "amazonaws.com", false, false},
            {"123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM", ACCOUNT, "eu-west-1", "amazonaws.com",
             false, false},
            {"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app", ACCOUNT, "us-east-1",
             "amazonaws.com", false, false},
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(v); i++) {
        struct dh_ecr_registry r;
        if (dh_ecr_parse_host(v[i].host, &r) != 0) {
            T_FAIL_AT("not recognised: %s", v[i].host);
            continue;
        }
        T_EQ_STR(r.account, v[i].account);
        T_EQ_STR(r.region, v[i].region);
        T_EQ_STR(r.dns_suffix, v[i].suffix);
        T_EQ_INT(r.fips, v[i].fips);
        T_EQ_INT(r.dualstack, v[i].dualstack);
        T_EQ_INT(r.is_public, false);
        dh_ecr_registry_release(&r);
    }
}

static void test_host_public(void)
{
    static const struct {
        const char *host;
        bool dualstack;
    } v[] = {{"public.ecr.aws", false},
             {"https://public.ecr.aws/nginx/nginx:latest", false},
             {"PUBLIC.ECR.AWS:443", false},
             {"ecr-public.aws.com", true},
             {"https://ecr-public.aws.com/", true}};

    for (size_t i = 0; i < DH_ARRAY_SIZE(v); i++) {
        struct dh_ecr_registry r;
        if (dh_ecr_parse_host(v[i].host, &r) != 0) {
            T_FAIL_AT("not recognised: %s", v[i].host);
            continue;
        }
        T_EQ_INT(r.is_public, true);
        T_ASSERT(r.account == NULL);
        T_EQ_STR(r.region, "us-east-1");
        T_EQ_INT(r.dualstack, v[i].dualstack);
        dh_ecr_registry_release(&r);
    }
}

static void test_host_negative(void)
{
    static const char *const v[] = {
            /* ecr-login/api/client_test.go */
            ".dkr.ecr.not-real.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.fake.example.com",
            "123456789012.dkr.ecr.cn-north-1.on.aws.com.cn",
            "public.ecr.aws.fake.example.com",
            /* extras */
            "",
            "docker.io",
            "registry-1.docker.io",
            "gcr.io",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",   /* 11 digits */
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com", /* 13 digits */
            "abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr..amazonaws.com",
            "123456789012.dkr.ecr.-us-east-1.amazonaws.com",
            "123456789012.dkr_ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.org",
            "123456789012.dkr.ecr.us.east.1.amazonaws.com",
            "x123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "fake.example.com/123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com@evil.example.com",
            "public.ecr.aws.evil",
            "notpublic.ecr.aws",
            "ecr-public.aws.com.evil.example",
            "[::1]:5000",
            "localhost:5000",
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(v); i++) {
        struct dh_ecr_registry r;
        if (dh_ecr_parse_host(v[i], &r) == 0) {
            T_FAIL_AT("wrongly recognised: '%s'", v[i]);
            dh_ecr_registry_release(&r);
        }
    }
    T_EQ_INT(dh_ecr_parse_host(NULL, NULL), -1);
}

static void test_endpoints(void)
{
    static const struct {
        const char *host, *endpoint;
    } v[] = {
            {"123456789012.dkr.ecr.eu-west-1.amazonaws.com",
             "https://api.ecr.eu-west-1.amazonaws.com"},
            {"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
             "https://api.ecr-fips.us-gov-west-1.amazonaws.com"},
            {"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn",
             "https://api.ecr.cn-north-1.amazonaws.com.cn"},
            {"210987654321.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
             "https://api.ecr.cn-north-1.amazonaws.com.cn"},
            {"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
             "https://api.ecr.us-iso-east-1.c2s.ic.gov"},
            {"123456789012.dkr-ecr.us-west-2.on.aws", "https://api.ecr.us-west-2.amazonaws.com"},
            {"public.ecr.aws", "https://api.ecr-public.us-east-1.amazonaws.com"},
    };

    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_ECR");
    unsetenv("AWS_ENDPOINT_URL_ECR_PUBLIC");
    for (size_t i = 0; i < DH_ARRAY_SIZE(v); i++) {
        struct dh_ecr_registry r;
        T_REQUIRE(dh_ecr_parse_host(v[i].host, &r) == 0);
        char *e = dh_ecr_api_endpoint(&r);
        T_EQ_STR(e, v[i].endpoint);
        free(e);
        dh_ecr_registry_release(&r);
    }

    /* A configured mapping: region -> partition suffix. */
    struct dh_ecr_registry r;
    dh_ecr_registry_init(&r, "111122223333", "cn-northwest-1");
    char *e = dh_ecr_api_endpoint(&r);
    T_EQ_STR(e, "https://api.ecr.cn-northwest-1.amazonaws.com.cn");
    T_EQ_STR(r.account, "111122223333");
    T_ASSERT(!r.is_public && !r.fips);
    free(e);
    dh_ecr_registry_release(&r);
    dh_ecr_registry_init(&r, NULL, "us-isob-east-1");
    T_EQ_STR(r.dns_suffix, "sc2s.sgov.gov");
    T_ASSERT(r.account == NULL);
    dh_ecr_registry_release(&r);

    setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9", 1);
    dh_ecr_registry_init(&r, ACCOUNT, "us-west-2");
    e = dh_ecr_api_endpoint(&r);
    T_EQ_STR(e, "http://127.0.0.1:9");
    free(e);
    dh_ecr_registry_release(&r);
    unsetenv("AWS_ENDPOINT_URL_ECR");
}

/* ---- against the fake ---- */

static void write_state(const char *name, const char *text)
{
    _cleanup_free_ char *p = dh_xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void remove_state(const char *name)
{
    _cleanup_free_ char *p = dh_xasprintf("%s/%s", tmpdir, name);
    unlink(p);
}

static long read_calls(void)
{
    _cleanup_free_ char *p = dh_xasprintf("%s/calls", tmpdir);
    FILE *f = fopen(p, "r");
    long n = -1;
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}

static void stop_fake(void)
{
    if (fake_stdin >= 0)
        close(fake_stdin);
    fake_stdin = -1;
    if (fake_pid > 0) {
        int status;
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, &status, 0);
    }
    fake_pid = -1;
}

static int get_token(const char *host, const char *akid, const char *secret, const char *stoken,
                     struct dh_token **ret, struct dh_error **err);

/* Starts the fake with argv (NULL-terminated, after the script name); returns its URL or NULL. */
static char *spawn_fake(const char *const *args, pid_t *ret_pid, int *ret_stdin)
{
    const char *script = "test/fake/aws-ecr.py";
    const char *argv[40] = {"python3", script};
    int in[2], out[2];
    char line[512];
    size_t len = 0, k = 2;
    pid_t pid;

    if (access(script, R_OK) != 0) {
        T_FAIL_AT("cannot find %s: run the tests from the repository root", script);
        return NULL;
    }
    for (; *args && k < DH_ARRAY_SIZE(argv) - 1; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    if (pipe2(in, O_CLOEXEC) != 0)
        return NULL;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        char *cargv[DH_ARRAY_SIZE(argv)] = {NULL};
        for (size_t i = 0; i < k; i++)
            cargv[i] = dh_xstrdup(argv[i]);
        execvp("python3", cargv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *ret_pid = pid;
    *ret_stdin = in[1];
    for (;;) {
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        if (poll(&pfd, 1, 20000) <= 0)
            break;
        ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(line, '\n', len) || len == sizeof(line) - 1)
            break;
    }
    close(out[0]);
    line[len] = '\0';
    json_t *j = json_loads(line, 0, NULL);
    if (!j) {
        T_FAIL_AT("the fake ECR did not start (python3 missing? its error is on stderr)");
        return NULL;
    }
    char *url = dh_xstrdup(json_string_value(json_object_get(j, "url")) ?: "");
    json_decref(j);
    return url;
}

static void test_fake_starts(void)
{
    T_REQUIRE(mkdtemp(tmpdir) != NULL);
    const char *args[] = {"--state-dir",
                          tmpdir,
                          "--access-key-id",
                          AKID,
                          "--secret-access-key",
                          SECRET,
                          "--session-token",
                          STOKEN,
                          "--region",
                          "us-west-2",
                          "--account",
                          ACCOUNT,
                          "--password",
                          PASSWD,
                          "--expires-in",
                          "43200",
                          "--delay",
                          "15",
                          "--exit-on-stdin-eof",
                          NULL};
    fake_url = spawn_fake(args, &fake_pid, &fake_stdin);
    T_REQUIRE(fake_url);
    T_REQUIRE(strncmp(fake_url, "http://127.0.0.1:", 17) == 0);
    T_EQ_INT(read_calls(), 0);
    setenv("AWS_ENDPOINT_URL_ECR", fake_url, 1);
    setenv("AWS_ENDPOINT_URL_ECR_PUBLIC", fake_url, 1);
}

/* An https endpoint override, verified with AWS_CA_BUNDLE (a self-signed certificate for
   127.0.0.1), and refused without it. */
static void test_https_with_aws_ca_bundle(void)
{
    char dir[] = "/tmp/dockhand-test-ecr-tls.XXXXXX";
    pid_t pid = -1;
    int in = -1;
    struct dh_token *t = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    T_REQUIRE(fake_url);
    T_REQUIRE(mkdtemp(dir) != NULL);
    _cleanup_free_ char *cert = dh_xasprintf("%s/cert.pem", dir);
    _cleanup_free_ char *key = dh_xasprintf("%s/key.pem", dir);
    _cleanup_free_ char *cmd = dh_xasprintf(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
            "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' "
            ">/dev/null 2>&1",
            key, cert);
    if (system(cmd) != 0)
        T_FAIL_AT("openssl could not make a test certificate (is the openssl CLI installed?)");
    const char *args[] = {
            "--state-dir", dir,        "--access-key-id", AKID,         "--secret-access-key",
            SECRET,        "--region", "us-west-2",       "--password", "tls-password",
            "--tls-cert",  cert,       "--tls-key",       key,          "--exit-on-stdin-eof",
            NULL};
    _cleanup_free_ char *url = access(cert, R_OK) == 0 ? spawn_fake(args, &pid, &in) : NULL;
    if (url && strncmp(url, "https://127.0.0.1:", 18) == 0) {
        setenv("AWS_ENDPOINT_URL_ECR", url, 1);
        unsetenv("AWS_CA_BUNDLE");
        T_EQ_INT(get_token(HOST, AKID, SECRET, NULL, &t, &err), -1);
        T_ASSERT(err && err->status == EPROTO);
        if (err)
            printf("# without AWS_CA_BUNDLE: %s\n", err->msg);
        dh_error_free(&err);
        setenv("AWS_CA_BUNDLE", cert, 1);
        T_EQ_INT(get_token(HOST, AKID, SECRET, NULL, &t, &err), 0);
        if (err)
            T_FAIL_AT("%s", err->msg);
        T_ASSERT(t && strcmp(t->secret, "tls-password") == 0);
        dh_token_free(t);
        unsetenv("AWS_CA_BUNDLE");
    } else {
        T_FAIL_AT("the https fake did not start");
    }
    setenv("AWS_ENDPOINT_URL_ECR", fake_url, 1);
    if (in >= 0)
        close(in);
    if (pid > 0) {
        int status;
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    const char *names[] = {"cert.pem", "key.pem", "port", "url", "calls", "log.jsonl", "pid"};
    for (size_t i = 0; i < DH_ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *p = dh_xasprintf("%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int get_token(const char *host, const char *akid, const char *secret, const char *stoken,
                     struct dh_token **ret, struct dh_error **err)
{
    struct dh_ecr_registry r;
    struct dh_aws_creds *c;
    int rc;

    if (dh_ecr_parse_host(host, &r) != 0)
        return dh_error_make(err, EINVAL, "test: not an ecr host");
    c = dh_aws_creds_new(akid, secret, stoken, 0, "profile 'test'");
    rc = dh_ecr_get_token(&r, c, ret, err);
    dh_aws_creds_free(c);
    dh_ecr_registry_release(&r);
    return rc;
}

static void test_private_token(void)
{
    struct dh_token *t = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    T_REQUIRE(fake_url);
    long before = read_calls();
    time_t now = time(NULL);

    T_EQ_INT(get_token("123456789012.dkr.ecr.us-west-2.amazonaws.com", AKID, SECRET, STOKEN, &t,
                       &err),
             0);
    if (err)
        T_FAIL_AT("%s", err->msg);
    T_REQUIRE(t);
    T_EQ_STR(t->username, "AWS");
    T_EQ_STR(t->secret, PASSWD); /* split at the first ':' only */
    T_ASSERT(t->expires_at >= now + 43200 - 5 && t->expires_at <= now + 43200 + 5);
    T_ASSERT(strstr(t->source, "ECR GetAuthorizationToken at http://127.0.0.1:") != NULL);
    T_ASSERT(strstr(t->source, "profile 'test'") != NULL);
    T_EQ_INT(read_calls(), before + 1); /* exactly one upstream call */
    dh_token_free(t);
}

static void test_public_token(void)
{
    struct dh_token *t = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    T_REQUIRE(fake_url);
    long before = read_calls();

    write_state("password", "public-password");
    T_EQ_INT(get_token("public.ecr.aws", AKID, SECRET, STOKEN, &t, &err), 0);
    remove_state("password");
    if (err)
        T_FAIL_AT("%s", err->msg);
    T_REQUIRE(t);
    T_EQ_STR(t->username, "AWS");
    T_EQ_STR(t->secret, "public-password");
    T_ASSERT(strstr(t->source, "ECR Public GetAuthorizationToken") != NULL);
    T_EQ_INT(read_calls(), before + 1);
    dh_token_free(t);
}

static void expect_error(const char *host, const char *akid, const char *secret, const char *stoken,
                         int status, const char *const *needles)
{
    struct dh_token *t = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    T_EQ_INT(get_token(host, akid, secret, stoken, &t, &err), -1);
    T_ASSERT(t == NULL);
    T_REQUIRE(err);
    printf("# error: %s\n", err->msg);
    if (status)
        T_EQ_INT(err->status, status);
    for (; *needles; needles++)
        if (!strstr(err->msg, *needles))
            T_FAIL_AT("'%s' not in the error", *needles);
    T_ASSERT(strstr(err->msg, SECRET) == NULL && strstr(err->msg, STOKEN) == NULL &&
             strstr(err->msg, PASSWD) == NULL);
}

static void test_bad_signature(void)
{
    T_REQUIRE(fake_url);
    const char *n[] = {"ECR GetAuthorizationToken at http://127.0.0.1:",
                       ": 403 InvalidSignatureException: The request signature we calculated",
                       NULL};
    expect_error(HOST, AKID, "wrongSecretKey/0123456789+abcdefghijKLMNOP", STOKEN, EACCES, n);
}

static void test_wrong_region_and_token(void)
{
    T_REQUIRE(fake_url);
    const char *n1[] = {
            "403 InvalidSignatureException: Credential should be scoped to a valid region", NULL};
    expect_error("123456789012.dkr.ecr.eu-west-1.amazonaws.com", AKID, SECRET, STOKEN, EACCES, n1);
    const char *n2[] = {"403 UnrecognizedClientException", NULL};
    expect_error(HOST, AKID, SECRET, NULL, EACCES, n2);
    expect_error(HOST, "AKIDOTHER", SECRET, STOKEN, EACCES, n2);
}

static void test_scenarios(void)
{
    T_REQUIRE(fake_url);
    const char *n500[] = {"500 ServerException: We encountered an internal error", NULL};
    const char *n403[] = {"403 AccessDeniedException: User: arn:aws:iam::123456789012:user/test is "
                          "not authorized to perform: ecr:GetAuthorizationToken",
                          NULL};
    const char *ngarbage[] = {"not a JSON object", NULL};

    write_state("scenario", "500");
    expect_error(HOST, AKID, SECRET, STOKEN, EAGAIN, n500);
    write_state("scenario", "403");
    expect_error(HOST, AKID, SECRET, STOKEN, EACCES, n403);
    write_state("scenario", "garbage");
    expect_error(HOST, AKID, SECRET, STOKEN, EBADMSG, ngarbage);
    remove_state("scenario");
}

static void test_timeout(void)
{
    T_REQUIRE(fake_url);
    const char *n[] = {"ECR GetAuthorizationToken at http://127.0.0.1:", NULL};
    time_t t0 = time(NULL);

    write_state("scenario", "delay");
    expect_error(HOST, AKID, SECRET, STOKEN, ETIMEDOUT, n);
    remove_state("scenario");
    T_ASSERT(time(NULL) - t0 <= 13);
}

static void test_plain_http_refused(void)
{
    struct dh_token *t = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_ecr_registry r;
    struct dh_aws_creds *c = dh_aws_creds_new(AKID, SECRET, NULL, 0, "test");

    setenv("AWS_ENDPOINT_URL_ECR", "http://ecr.example.com:80", 1);
    dh_ecr_registry_init(&r, ACCOUNT, "us-west-2");
    T_EQ_INT(dh_ecr_get_token(&r, c, &t, &err), -1);
    T_ASSERT(err && err->status == EPERM);
    dh_error_free(&err);
    setenv("AWS_ENDPOINT_URL_ECR", "ftp://127.0.0.1/", 1);
    T_EQ_INT(dh_ecr_get_token(&r, c, &t, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    setenv("AWS_ENDPOINT_URL_ECR", "https://user:pw@ecr.example.com/", 1);
    T_EQ_INT(dh_ecr_get_token(&r, c, &t, &err), -1);
    T_ASSERT(err && err->status == EINVAL && !strstr(err->msg, "pw"));
    if (fake_url)
        setenv("AWS_ENDPOINT_URL_ECR", fake_url, 1);
    else
        unsetenv("AWS_ENDPOINT_URL_ECR");
    dh_ecr_registry_release(&r);
    dh_aws_creds_free(c);
}

static void test_log_shape(void)
{
    T_REQUIRE(fake_url);
    _cleanup_free_ char *p = dh_xasprintf("%s/log.jsonl", tmpdir);
    FILE *f = fopen(p, "r");
    char line[4096];
    bool saw_private = false, saw_public = false;

    T_REQUIRE(f);
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            continue;
        json_t *body = json_object_get(j, "body");
        const char *svc = json_string_value(json_object_get(j, "service"));
        if (json_integer_value(json_object_get(j, "status")) == 200 && svc) {
            if (strcmp(svc, "ecr") == 0) {
                json_t *ids = json_object_get(body, "registryIds");
                T_ASSERT(json_array_size(ids) == 1 &&
                         strcmp(json_string_value(json_array_get(ids, 0)) ?: "", ACCOUNT) == 0);
                saw_private = true;
            } else if (strcmp(svc, "ecr-public") == 0) {
                T_ASSERT(json_is_object(body) && json_object_size(body) == 0);
                saw_public = true;
            }
        }
        json_decref(j);
    }
    fclose(f);
    T_ASSERT(saw_private && saw_public);
}

static void cleanup_all(void)
{
    stop_fake();
    if (fake_url) {
        const char *names[] = {"port", "url", "calls", "log.jsonl", "pid", "scenario", "password"};
        for (size_t i = 0; i < DH_ARRAY_SIZE(names); i++)
            remove_state(names[i]);
        rmdir(tmpdir);
    }
    free(fake_url);
    fake_url = NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_host_positive);
    T_RUN(test_host_public);
    T_RUN(test_host_negative);
    T_RUN(test_endpoints);
    T_RUN(test_fake_starts);
    T_RUN(test_private_token);
    T_RUN(test_public_token);
    T_RUN(test_bad_signature);
    T_RUN(test_wrong_region_and_token);
    T_RUN(test_scenarios);
    T_RUN(test_timeout);
    T_RUN(test_plain_http_refused);
    T_RUN(test_log_shape);
    T_RUN(test_https_with_aws_ca_bundle);
    cleanup_all();
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the AWS credential chain (src/aws.c): INI parsing and profiles
   without network, then every link against test/fake/aws-sts.py, reached only
   through the SDK's own settings (AWS_ENDPOINT_URL_STS,
   AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_CONTAINER_CREDENTIALS_FULL_URI...). */
#include "dockhand/aws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/mem.h"
#include "t.h"

#define ROLE1   "arn:aws:iam::123456789012:role/r1"
#define ROLE2   "arn:aws:iam::123456789012:role/r2"
#define WEBROLE "arn:aws:iam::123456789012:role/web"

static char tmpdir[] = "/tmp/dockhand-test-aws.XXXXXX";
static pid_t fake_pid = -1;
static long fake_port;
static char fake_url[64];

static char *tpath(const char *name)
{
    return dh_xasprintf("%s/%s", tmpdir, name);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
    _cleanup_free_ char *p = tpath(name);
    FILE *f = fopen(p, "w");

    if (!f) {
        printf("# cannot write %s\n", p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static void reset_env(void)
{
    static const char *const vars[] = {
            "AWS_ACCESS_KEY_ID",
            "AWS_ACCESS_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SECRET_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_ROLE_SESSION_NAME",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "AWS_EC2_METADATA_DISABLED",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_STS",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
    };
    _cleanup_free_ char *home = tpath("home");

    for (size_t i = 0; i < DH_ARRAY_SIZE(vars); i++)
        unsetenv(vars[i]);
    setenv("HOME", home, 1);
    /* Every network link points at the fake; nothing reaches a real endpoint. */
    setenv("AWS_ENDPOINT_URL_STS", fake_url, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static long calls(const char *name)
{
    _cleanup_free_ char *p = tpath("fake/calls.json");
    json_t *j = json_load_file(p, 0, NULL);
    long n = j ? (long)json_integer_value(json_object_get(j, name)) : -1;

    json_decref(j);
    return n;
}

static char *last(const char *field)
{
    _cleanup_free_ char *p = tpath("fake/calls.json");
    json_t *j = json_load_file(p, 0, NULL);
    const char *v = json_string_value(json_object_get(json_object_get(j, "last"), field));
    char *r = dh_xstrdup(v ? v : "");

    json_decref(j);
    return r;
}

static int start_fake(void)
{
    _cleanup_free_ char *dir = tpath("fake");
    _cleanup_free_ char *portf = tpath("fake/port");

    mkdir(dir, 0700);
    fake_pid = fork();
    if (fake_pid < 0)
        return -1;
    if (fake_pid == 0) {
        execlp("python3", "python3", "test/fake/aws-sts.py", "--dir", dir, "--key",
               "AKIDSOURCE:source-secret", "--key", "AKIDENVKEY:env-secret", "--role", ROLE1,
               "--role", ROLE2, "--role", WEBROLE, "--web-token", "the-web-token",
               "--container-token", "the-container-token", "--imds-role", "ec2-role", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portf, "r");
        if (f) {
            int ok = fscanf(f, "%ld", &fake_port) == 1;
            fclose(f);
            if (ok) {
                snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%ld", fake_port);
                return 0;
            }
        }
        usleep(50000);
    }
    return -1;
}

static long closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    long port;

    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle);
}

/* Loads with the options; returns the creds or NULL (then *msg holds the error). */
static struct dh_aws_creds *load(const struct dh_aws_options *opt, char **msg)
{
    struct dh_aws_creds *c = NULL;
    struct dh_error *e = NULL;

    *msg = NULL;
    if (dh_aws_load_credentials(opt, &c, &e) < 0) {
        *msg = dh_xstrdup(e->msg);
        printf("# error: %s\n", e->msg);
        dh_error_free(&e);
        return NULL;
    }
    return c;
}

/* ---- no network ---- */

static void test_ini(void)
{
    const char *text = "# comment\n"
                       "; another\n"
                       "[default]\n"
                       "aws_access_key_id = AKID1\n"
                       "  Region=eu-west-1   \n"
                       "[ profile dev ]\n"
                       "role_arn = arn:x # inline comment\n"
                       "s3 =\n"
                       "  max_concurrent_requests = 10\n"
                       "  region = nested-ignored\n"
                       "output = json;not-a-comment\n"
                       "[profile dup]\n"
                       "k = first\n"
                       "k = second\r\n"
                       "[broken\n"
                       "k = lost\n";
    char *v;

    T_EQ_STR(v = dh_aws_ini_get(text, "default", "aws_access_key_id"), "AKID1");
    free(v);
    T_EQ_STR(v = dh_aws_ini_get(text, "default", "region"), "eu-west-1");
    free(v);
    T_EQ_STR(v = dh_aws_ini_get(text, "profile dev", "role_arn"), "arn:x");
    free(v);
    T_EQ_STR(v = dh_aws_ini_get(text, "profile dev", "s3"), "");
    free(v);
    T_ASSERT((v = dh_aws_ini_get(text, "profile dev", "region")) == NULL);
    free(v);
    T_ASSERT((v = dh_aws_ini_get(text, "profile dev", "max_concurrent_requests")) == NULL);
    free(v);
    T_EQ_STR(v = dh_aws_ini_get(text, "profile dev", "output"), "json;not-a-comment");
    free(v);
    T_EQ_STR(v = dh_aws_ini_get(text, "profile dup", "k"), "second");
    free(v);
    T_ASSERT((v = dh_aws_ini_get(text, "default", "missing")) == NULL);
    free(v);
    T_ASSERT((v = dh_aws_ini_get(text, "nope", "k")) == NULL);
    free(v);
    T_ASSERT(dh_aws_ini_has_section(text, "profile dev"));
    T_ASSERT(dh_aws_ini_has_section(text, "default"));
    T_ASSERT(!dh_aws_ini_has_section(text, "dev"));
    T_ASSERT(dh_aws_ini_get(NULL, "default", "k") == NULL);
}

static void test_parse_time(void)
{
    struct dh_error *e = NULL;
    int64_t t = 0;

    T_EQ_INT(dh_aws_parse_time("2030-01-01T00:00:00Z", &t, &e), 0);
    T_EQ_INT(t, 1893456000);
    T_EQ_INT(dh_aws_parse_time("2030-01-01T01:00:00.123456+01:00", &t, &e), 0);
    T_EQ_INT(t, 1893456000);
    T_EQ_INT(dh_aws_parse_time("2029-12-31T23:00:00-01:00", &t, &e), 0);
    T_EQ_INT(t, 1893456000);
    T_EQ_INT(dh_aws_parse_time("2030-01-01 00:00:00", &t, &e), -1);
    T_REQUIRE(e != NULL);
    T_ASSERT(has(e->msg, "RFC 3339"));
    dh_error_free(&e);
    T_EQ_INT(dh_aws_parse_time("2030-13-01T00:00:00Z", &t, &e), -1);
    dh_error_free(&e);
}

static void test_identity(void)
{
    struct dh_aws_options o = {0};
    uint8_t h[DH_SHA256_LEN];
    char *id;

    reset_env();
    setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
    T_EQ_STR(id = dh_aws_identity(NULL), "imds");
    free(id);
    o.role_arn = ROLE1;
    T_EQ_STR(id = dh_aws_identity(&o), "imds|role:" ROLE1);
    free(id);
    o.role_arn = NULL;

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x", 1);
    T_EQ_STR(id = dh_aws_identity(&o), "container");
    free(id);

    write_text("home/.aws/config", "[default]\nregion = us-west-2\n[profile dev]\nx = y\n", 0600);
    T_EQ_STR(id = dh_aws_identity(&o), "profile:default");
    free(id);
    setenv("AWS_PROFILE", "dev", 1);
    T_EQ_STR(id = dh_aws_identity(&o), "profile:dev");
    free(id);

    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent", 1);
    setenv("AWS_ROLE_ARN", WEBROLE, 1);
    T_EQ_STR(id = dh_aws_identity(&o), "web-identity:" WEBROLE);
    free(id);

    setenv("AWS_ACCESS_KEY_ID", "AKIDENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    dh_sha256("AKIDENVKEY", 10, h);
    _cleanup_free_ char *hex = dh_hex(h, 8);
    _cleanup_free_ char *want = dh_xasprintf("env:%s", hex);
    id = dh_aws_identity(&o);
    T_EQ_STR(id, want);
    T_ASSERT(!has(id, "env-secret") && !has(id, "AKIDENVKEY"));
    free(id);

    o.profile = "other";
    T_EQ_STR(id = dh_aws_identity(&o), "profile:other");
    free(id);
    _cleanup_free_ char *cfg = tpath("home/.aws/config");
    unlink(cfg);
}

static void test_env_keys(void)
{
    _cleanup_free_ char *msg = NULL;
    struct dh_aws_creds *c;

    reset_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    setenv("AWS_SESSION_TOKEN", "env-token", 1);
    /* Environment keys win over a profile. */
    write_text("home/.aws/credentials",
               "[default]\naws_access_key_id = AKIDPROF\n"
               "aws_secret_access_key = prof-secret\n",
               0600);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDENVKEY");
    T_EQ_STR(c->secret_access_key, "env-secret");
    T_EQ_STR(c->session_token, "env-token");
    T_EQ_STR(c->source, "environment");
    T_EQ_INT(c->expires_at, 0);
    dh_aws_creds_free(c);

    reset_env();
    setenv("AWS_ACCESS_KEY", "AKIDOLD", 1);
    setenv("AWS_SECRET_KEY", "old-secret", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDOLD");
    T_ASSERT(c->session_token == NULL);
    dh_aws_creds_free(c);
    _cleanup_free_ char *p = tpath("home/.aws/credentials");
    unlink(p);
}

static void test_profile_static(void)
{
    _cleanup_free_ char *msg = NULL, *cfg = tpath("cfg"), *crd = tpath("crd");
    struct dh_aws_options o = {0};
    struct dh_aws_creds *c;

    reset_env();
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", crd, 1);
    write_text("cfg",
               "[default]\nregion = us-east-1\n"
               "[profile dev]\naws_access_key_id = AKIDCFG\naws_secret_access_key = cfg-secret\n"
               "[profile both]\naws_access_key_id = AKIDCFG2\naws_secret_access_key = cfg2\n"
               "[profile half]\naws_access_key_id = AKIDHALF\n"
               "[profile empty]\nregion = eu-west-1\n",
               0600);
    write_text("crd",
               "# shared credentials\n[default]\naws_access_key_id = AKIDDEF\n"
               "aws_secret_access_key = def-secret\naws_session_token = def-token\n"
               "[both]\naws_access_key_id = AKIDCRD\naws_secret_access_key = crd-secret\n",
               0600);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDDEF");
    T_EQ_STR(c->session_token, "def-token");
    T_EQ_STR(c->source, "profile 'default'");
    dh_aws_creds_free(c);

    setenv("AWS_DEFAULT_PROFILE", "dev", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDCFG");
    dh_aws_creds_free(c);
    setenv("AWS_DEFAULT_PROFILE", "both", 1);
    setenv("AWS_PROFILE", "dev", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDCFG");
    T_EQ_STR(c->source, "profile 'dev'");
    dh_aws_creds_free(c);

    /* The options' profile wins over AWS_PROFILE; the credentials file over the config. */
    o.profile = "both";
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDCRD");
    dh_aws_creds_free(c);

    /* The options' profile even wins over environment keys. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDCRD");
    dh_aws_creds_free(c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    o.profile = "half";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "profile 'half': aws_secret_access_key is missing"));
    free(TAKE_PTR(msg));
    T_ASSERT(!has(msg, "AKIDHALF"));

    o.profile = "empty";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "profile 'empty' has no credentials"));
    free(TAKE_PTR(msg));

    setenv("AWS_PROFILE", "missing", 1);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg, "profile 'missing' not found"));
    T_ASSERT(!has(msg, "secret"));
    free(TAKE_PTR(msg));
}

/* ---- against the fake ---- */

static void test_source_profile_assume_role(void)
{
    _cleanup_free_ char *msg = NULL, *cfg = tpath("cfg"), *crd = tpath("crd");
    struct dh_aws_options o = {0};
    struct dh_aws_creds *c;
    long before = calls("AssumeRole");

    reset_env();
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", crd, 1);
    write_text("cfg",
               "[profile app]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
               "role_session_name = app-session\n"
               "[profile app2]\nrole_arn = " ROLE2 "\nsource_profile = app\n"
               "[profile self]\nrole_arn = " ROLE1 "\nsource_profile = self\n"
               "aws_access_key_id = AKIDSOURCE\naws_secret_access_key = source-secret\n"
               "[profile bad]\nrole_arn = " ROLE1 "\nsource_profile = wrong\n"
               "[profile loop1]\nrole_arn = " ROLE1 "\nsource_profile = loop2\n"
               "[profile loop2]\nrole_arn = " ROLE2 "\nsource_profile = loop1\n"
               "[profile denied]\nrole_arn = arn:aws:iam::123456789012:role/nope\n"
               "source_profile = base\n"
               "[profile envsrc]\nrole_arn = " ROLE1 "\ncredential_source = Environment\n",
               0600);
    write_text("crd",
               "[base]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = source-secret\n"
               "[wrong]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = not-it\n",
               0600);
    o.profile = "app";
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    T_ASSERT(c->session_token && strncmp(c->session_token, "token-", 6) == 0);
    T_EQ_INT(c->expires_at, 1893456000);
    T_ASSERT(has(c->source, ROLE1));
    dh_aws_creds_free(c);
    T_EQ_INT(calls("AssumeRole"), before + 1);
    _cleanup_free_ char *akid = last("AccessKeyId"), *sess = last("RoleSessionName");
    T_EQ_STR(akid, "AKIDSOURCE");
    T_EQ_STR(sess, "app-session");

    /* Role chaining: app2's source is app, itself an assumed role (signed with a session token). */
    o.profile = "app2";
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_INT(calls("AssumeRole"), before + 3);
    _cleanup_free_ char *akid2 = last("AccessKeyId"), *role2 = last("RoleArn");
    T_ASSERT(strncmp(akid2, "ASIAROLE", 8) == 0);
    T_EQ_STR(role2, ROLE2);
    dh_aws_creds_free(c);

    o.profile = "self";
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    dh_aws_creds_free(c);

    /* The signing region: the profile's region comes after AWS_REGION (the fake wants
       us-east-1 in the credential scope). */
    write_text("cfg2",
               "[profile app]\nregion = eu-west-1\nrole_arn = " ROLE1 "\nsource_profile = base\n",
               0600);
    _cleanup_free_ char *cfg2 = tpath("cfg2");
    setenv("AWS_CONFIG_FILE", cfg2, 1);
    o.profile = "app";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "Credential should be scoped to a valid region"));
    free(TAKE_PTR(msg));
    setenv("AWS_REGION", "us-east-1", 1);
    c = load(&o, &msg);
    T_ASSERT(c != NULL);
    dh_aws_creds_free(c);
    o.region = "eu-west-1";
    T_ASSERT(load(&o, &msg) == NULL);
    free(TAKE_PTR(msg));
    o.region = NULL;
    unsetenv("AWS_REGION");
    setenv("AWS_CONFIG_FILE", cfg, 1);

    /* The fake recomputes the signature: a wrong secret key is refused. */
    o.profile = "bad";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "SignatureDoesNotMatch"));
    T_ASSERT(!has(msg, "not-it"));
    free(TAKE_PTR(msg));

    o.profile = "loop1";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "loop"));
    free(TAKE_PTR(msg));

    o.profile = "denied";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "AccessDenied"));
    free(TAKE_PTR(msg));

    o.profile = "envsrc";
    setenv("AWS_ACCESS_KEY_ID", "AKIDENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    dh_aws_creds_free(c);
    _cleanup_free_ char *akid3 = last("AccessKeyId");
    T_EQ_STR(akid3, "AKIDENVKEY");

    /* opt->role_arn on top of the chain (here environment keys). */
    o.profile = NULL;
    o.role_arn = ROLE2;
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    T_ASSERT(has(c->source, "environment"));
    dh_aws_creds_free(c);
    _cleanup_free_ char *role4 = last("RoleArn");
    T_EQ_STR(role4, ROLE2);
}

static void test_credential_process(void)
{
    _cleanup_free_ char *msg = NULL, *cfg = tpath("cfg"), *script = tpath("proc.sh");
    _cleanup_free_ char *text = NULL;
    struct dh_aws_options o = {0};
    struct dh_aws_creds *c;

    reset_env();
    setenv("AWS_CONFIG_FILE", cfg, 1);
    write_text(
            "proc.sh",
            "#!/bin/sh\n"
            "[ \"$1\" = --arg ] || exit 3\n"
            "cat <<EOF\n"
            "{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-secret\",\n"
            " \"SessionToken\": \"proc-token\", \"Expiration\": \"2030-01-01T00:00:00Z\"}\n"
            "EOF\n",
            0700);
    write_text("bad.sh", "#!/bin/sh\necho '# credential_process stderr is inherited' >&2\nexit 7\n",
               0700);
    write_text("v2.sh", "#!/bin/sh\necho '{\"Version\": 2, \"AccessKeyId\": \"A\"}'\n", 0700);
    text = dh_xasprintf("[profile proc]\ncredential_process = %s --arg\n"
                        "[profile bad]\ncredential_process = %s/bad.sh\n"
                        "[profile v2]\ncredential_process = %s/v2.sh\n",
                        script, tmpdir, tmpdir);
    write_text("cfg", text, 0600);
    o.profile = "proc";
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->access_key_id, "AKIDPROC");
    T_EQ_STR(c->secret_access_key, "proc-secret");
    T_EQ_STR(c->session_token, "proc-token");
    T_EQ_INT(c->expires_at, 1893456000);
    T_EQ_STR(c->source, "credential_process of profile 'proc'");
    dh_aws_creds_free(c);

    o.profile = "bad";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "failed (exit status 7)"));
    free(TAKE_PTR(msg));
    o.profile = "v2";
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "\"Version\": 1"));
    free(TAKE_PTR(msg));
}

static void test_web_identity(void)
{
    _cleanup_free_ char *msg = NULL, *tok = tpath("webtok"), *bad = tpath("badtok");
    _cleanup_free_ char *cfg = tpath("cfg"), *text = NULL;
    struct dh_aws_options o = {0};
    struct dh_aws_creds *c;
    long before = calls("AssumeRoleWithWebIdentity");

    reset_env();
    write_text("webtok", "the-web-token\n", 0600);
    write_text("badtok", "another-token", 0600);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok, 1);
    setenv("AWS_ROLE_ARN", WEBROLE, 1);
    setenv("AWS_ROLE_SESSION_NAME", "irsa-session", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAWEB", 7) == 0);
    T_EQ_STR(c->source, "web identity (role '" WEBROLE "')");
    T_EQ_INT(c->expires_at, 1893456000);
    dh_aws_creds_free(c);
    T_EQ_INT(calls("AssumeRoleWithWebIdentity"), before + 1);
    _cleanup_free_ char *sess = last("RoleSessionName");
    T_EQ_STR(sess, "irsa-session");

    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", bad, 1);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg, "InvalidIdentityToken"));
    T_ASSERT(!has(msg, "another-token"));
    free(TAKE_PTR(msg));

    /* The same through a profile. */
    reset_env();
    setenv("AWS_CONFIG_FILE", cfg, 1);
    text = dh_xasprintf("[default]\nrole_arn = %s\nweb_identity_token_file = %s\n", WEBROLE, tok);
    write_text("cfg", text, 0600);
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAWEB", 7) == 0);
    dh_aws_creds_free(c);
    T_EQ_INT(calls("AssumeRoleWithWebIdentity"), before + 2);
    _cleanup_free_ char *sess2 = last("RoleSessionName");
    T_ASSERT(strncmp(sess2, "dockhand-", 9) == 0);
}

static void test_container(void)
{
    _cleanup_free_ char *msg = NULL, *tokf = tpath("conttok"), *url = NULL;
    struct dh_aws_creds *c;
    long before = calls("container");

    reset_env();
    url = dh_xasprintf("%s/v2/credentials/task-id", fake_url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    write_text("conttok", "the-container-token\n", 0600);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokf, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-file-set", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIACONT", 8) == 0);
    T_ASSERT(c->session_token != NULL);
    T_EQ_STR(c->source, "container credentials");
    T_EQ_INT(c->expires_at, 1893456000);
    dh_aws_creds_free(c);
    T_EQ_INT(calls("container"), before + 1);

    /* The token file is read again at each call. */
    write_text("conttok", "rotated-wrong", 0600);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg, "HTTP 401"));
    T_ASSERT(!has(msg, "rotated-wrong"));
    free(TAKE_PTR(msg));

    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "the-container-token", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    dh_aws_creds_free(c);

    /* credential_source = EcsContainer, then AssumeRole signed with the container keys. */
    _cleanup_free_ char *cfg = tpath("cfg");
    setenv("AWS_CONFIG_FILE", cfg, 1);
    write_text("cfg", "[profile ecs]\nrole_arn = " ROLE1 "\ncredential_source = EcsContainer\n",
               0600);
    struct dh_aws_options o = {.profile = "ecs"};
    c = load(&o, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    dh_aws_creds_free(c);
    _cleanup_free_ char *akid = last("AccessKeyId");
    T_ASSERT(strncmp(akid, "ASIACONT", 8) == 0);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    T_ASSERT(load(&o, &msg) == NULL);
    T_ASSERT(has(msg, "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
    free(TAKE_PTR(msg));

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg, "'http://example.com' is not allowed"));
    free(TAKE_PTR(msg));
}

static void test_imds(void)
{
    _cleanup_free_ char *msg = NULL;
    struct dh_aws_creds *c;
    long tok_before = calls("imds-token"), get_before = calls("imds-get");

    reset_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url, 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAIMDS", 8) == 0);
    T_ASSERT(c->session_token != NULL);
    T_EQ_STR(c->source, "EC2 instance metadata (role 'ec2-role')");
    T_EQ_INT(c->expires_at, 1893456000);
    dh_aws_creds_free(c);
    T_EQ_INT(calls("imds-token"), tok_before + 1);
    T_EQ_INT(calls("imds-get"), get_before + 2);
    T_EQ_INT(calls("imds-unauthorized"), 0);

    /* credential_source = Ec2InstanceMetadata, then AssumeRole signed with the IMDS keys. */
    _cleanup_free_ char *cfg = tpath("cfg");
    setenv("AWS_CONFIG_FILE", cfg, 1);
    write_text("cfg",
               "[profile ec2]\nrole_arn = " ROLE1 "\ncredential_source = Ec2InstanceMetadata\n",
               0600);
    setenv("AWS_PROFILE", "ec2", 1);
    c = load(NULL, &msg);
    T_REQUIRE(c != NULL);
    T_ASSERT(strncmp(c->access_key_id, "ASIAROLE", 8) == 0);
    dh_aws_creds_free(c);
    _cleanup_free_ char *akid = last("AccessKeyId");
    T_ASSERT(strncmp(akid, "ASIAIMDS", 8) == 0);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg,
                 "profile 'ec2': EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED"));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_imds_unreachable(void)
{
    _cleanup_free_ char *msg = NULL, *ep = NULL;
    double t0;

    reset_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    ep = dh_xasprintf("http://127.0.0.1:%ld", closed_port());
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
    t0 = now_s();
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(now_s() - t0 < 3.0);
    T_ASSERT(has(msg, "no AWS credentials: tried environment, web identity, profile 'default' ("));
    T_ASSERT(has(msg, "container credentials, EC2 instance metadata (http://127.0.0.1:"));
    T_ASSERT(has(msg, "/.aws/credentials"));
    free(TAKE_PTR(msg));

    /* The real default endpoint: off EC2 this fails within the short time-outs. */
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    t0 = now_s();
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(now_s() - t0 < 3.0);
    T_ASSERT(has(msg, "EC2 instance metadata (http://169.254.169.254: "));
}

static void test_imds_disabled(void)
{
    _cleanup_free_ char *msg = NULL;
    long before = calls("imds-token");

    reset_env();
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    T_ASSERT(load(NULL, &msg) == NULL);
    T_ASSERT(has(msg, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"));
    T_EQ_INT(calls("imds-token"), before);
}

int main(void)
{
    _cleanup_free_ char *home = NULL, *aws = NULL;

    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    home = tpath("home");
    aws = tpath("home/.aws");
    mkdir(home, 0700);
    mkdir(aws, 0700);
    if (start_fake() < 0) {
        printf("Bail out! cannot start test/fake/aws-sts.py (run from the repository root)\n");
        return 1;
    }
    T_RUN(test_ini);
    T_RUN(test_parse_time);
    T_RUN(test_identity);
    T_RUN(test_env_keys);
    T_RUN(test_profile_static);
    T_RUN(test_source_profile_assume_role);
    T_RUN(test_credential_process);
    T_RUN(test_web_identity);
    T_RUN(test_container);
    T_RUN(test_imds);
    T_RUN(test_imds_unreachable);
    T_RUN(test_imds_disabled);
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    {
        _cleanup_free_ char *cmd = dh_xasprintf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmpdir);
    }
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: WWW-Authenticate parsing, token responses, registry error bodies, the
 * client's registry argument rules, and the client's bearer token flow and per-scope
 * cache against a real docker-registry in token mode behind
 * test/fake/registry-token.py (started through test/cli/lib/registry.bash).
 * dockhand login itself is tested in test/cli/82-login.bats. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/registry.h"

#include "t.h"

/* Renders challenges as "scheme[token68]{name=value;...}|..." for compact expectations. */
static char *render(const struct dh_auth_challenges *l)
{
    char *out = dh_xstrdup("");

    for (size_t i = 0; i < l->n; i++) {
        const struct dh_auth_challenge *c = &l->v[i];
        char *n = dh_xasprintf("%s%s%s%s%s{", out, i ? "|" : "", c->scheme, c->token68 ? "=" : "",
                               c->token68 ? c->token68 : "");

        free(out);
        out = n;
        for (size_t k = 0; k < c->n_params; k++) {
            n = dh_xasprintf("%s%s%s=%s", out, k ? ";" : "", c->params[k].name, c->params[k].value);
            free(out);
            out = n;
        }
        n = dh_xasprintf("%s}", out);
        free(out);
        out = n;
    }
    return out;
}

static const struct {
    const char *in;
    const char *want; /* rendering, or NULL for a syntax error */
} challenge_cases[] = {
        {"Basic realm=\"Registry Realm\"", "basic{realm=Registry Realm}"},
        {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\"",
         "bearer{realm=https://auth.docker.io/token;service=registry.docker.io}"},
        /* distribution's answer for a repository, with error and a scope holding ':' and ',' */
        {"Bearer realm=\"https://r/token\",service=\"r\",scope=\"repository:a/b:pull,push\","
         "error=\"insufficient_scope\"",
         "bearer{realm=https://r/token;service=r;scope=repository:a/b:pull,push;"
         "error=insufficient_scope}"},
        /* case-insensitive scheme and names, white space around '=' and ',' */
        {"BEARER  Realm = \"https://x/t\" ,  SERVICE=x", "bearer{realm=https://x/t;service=x}"},
        /* several challenges in one header */
        {"Basic realm=\"a\", Bearer realm=\"https://b/t\", service=\"b\"",
         "basic{realm=a}|bearer{realm=https://b/t;service=b}"},
        {"Negotiate, Basic realm=x", "negotiate{}|basic{realm=x}"},
        {"Negotiate abc+/==, Basic realm=x", "negotiate=abc+/=={}|basic{realm=x}"},
        {"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
         "newauth{realm=apps;type=1;title=Login to \"apps\"}|basic{realm=simple}"},
        /* escapes: any char after a backslash stands for itself */
        {"Basic realm=\"a\\\\b\\c\"", "basic{realm=a\\bc}"},
        /* quoted comma does not split */
        {"Basic realm=\"a, b=c\"", "basic{realm=a, b=c}"},
        /* empty quoted value, empty list elements */
        {", ,Basic realm=\"\",,", "basic{realm=}"},
        {"", ""},
        {"  ,  ", ""},
        /* a bare scheme */
        {"Bearer", "bearer{}"},
        /* unquoted URL values (lenient, as registries send them) */
        {"Bearer realm=https://h:5001/token?x=1,service=h",
         "bearer{realm=https://h:5001/token?x=1;service=h}"},
        /* duplicate parameter: the first wins */
        {"Bearer realm=\"https://a/t\",realm=\"https://evil/t\"", "bearer{realm=https://a/t}"},
        /* missing realm is syntactically fine (the client refuses it later) */
        {"Bearer service=\"x\"", "bearer{service=x}"},
        /* UTF-8 in a quoted string (obs-text) */
        {"Basic realm=\"r\xc3\xa9gion\"", "basic{realm=r\xc3\xa9gion}"},
        /* syntax errors */
        {"Basic realm=\"unterminated", NULL},
        {"Basic realm=\"ends with backslash\\", NULL},
        {"Basic realm=\"tab\tok\" , =x", NULL},
        {"Basic realm=\"ctl\x01\"", NULL},
        {"=x", NULL},
        {"Basic realm=\"a\"junk", NULL},
        {"Basic realm=a b", NULL},
        {"Ba\"sic realm=x", NULL},
        {"Basic realm=x, , =", NULL},
        {"\"quoted\"", NULL},
        /* a lone word after the scheme is a token68 */
        {"Basic realm", "basic=realm{}"},
};

static void test_challenges(void)
{
    for (size_t i = 0; i < DH_ARRAY_SIZE(challenge_cases); i++) {
        struct dh_auth_challenges l = {0};
        _cleanup_error_ struct dh_error *err = NULL;
        int r = dh_auth_challenges_parse(challenge_cases[i].in, &l, &err);

        if (!challenge_cases[i].want) {
            if (r != -1 || !err || err->status != EPROTO || l.n != 0 ||
                strncmp(err->msg, "invalid WWW-Authenticate header: ", 33) != 0)
                T_FAIL_AT("case %zu '%s': expected a syntax error", i, challenge_cases[i].in);
        } else if (r != 0) {
            T_FAIL_AT("case %zu '%s': %s", i, challenge_cases[i].in, err ? err->msg : "?");
        } else {
            _cleanup_free_ char *got = render(&l);

            if (strcmp(got, challenge_cases[i].want) != 0)
                T_FAIL_AT("case %zu '%s': got '%s' want '%s'", i, challenge_cases[i].in, got,
                          challenge_cases[i].want);
        }
        dh_auth_challenges_release(&l);
    }
}

static void test_challenges_append_and_find(void)
{
    struct dh_auth_challenges l = {0};
    _cleanup_error_ struct dh_error *err = NULL;
    const struct dh_auth_challenge *c;

    T_REQUIRE(dh_auth_challenges_parse("Basic realm=\"a\"", &l, &err) == 0);
    /* a bad second header appends nothing */
    T_ASSERT(dh_auth_challenges_parse("Bearer realm=\"x", &l, &err) == -1);
    T_EQ_INT(l.n, 1);
    dh_error_free(&err);
    T_REQUIRE(dh_auth_challenges_parse("bEaReR realm=\"https://t/\",Service=s", &l, &err) == 0);
    T_EQ_INT(l.n, 2);
    c = dh_auth_challenges_find(&l, "Bearer");
    T_REQUIRE(c != NULL);
    T_EQ_STR(dh_auth_challenge_param(c, "REALM"), "https://t/");
    T_EQ_STR(dh_auth_challenge_param(c, "service"), "s");
    T_ASSERT(dh_auth_challenge_param(c, "scope") == NULL);
    T_ASSERT(dh_auth_challenges_find(&l, "digest") == NULL);
    T_ASSERT(dh_auth_challenge_param(NULL, "realm") == NULL);
    dh_auth_challenges_release(&l);
    T_EQ_INT(l.n, 0);
    dh_auth_challenges_release(&l); /* twice is fine */
}

#define NOW 1700000000

static void test_token_parse(void)
{
    static const struct {
        const char *body;
        const char *token;      /* NULL: error */
        long long expires_in;   /* expected */
        long long issued_at;    /* expected */
        const char *refresh;    /* expected or NULL */
        const char *err_substr; /* for errors */
    } cases[] = {
            {"{\"token\":\"t1\"}", "t1", 60, 0, NULL, NULL},
            {"{\"access_token\":\"a1\"}", "a1", 60, 0, NULL, NULL},
            /* both: access_token wins (docker's client) */
            {"{\"token\":\"t1\",\"access_token\":\"a1\",\"expires_in\":300}", "a1", 300, 0, NULL,
             NULL},
            {"{\"token\":\"t1\",\"access_token\":\"\"}", "t1", 60, 0, NULL, NULL},
            {"{\"token\":\"t1\",\"access_token\":null}", "t1", 60, 0, NULL, NULL},
            /* expires_in below the spec's floor and huge values are clamped */
            {"{\"token\":\"t\",\"expires_in\":10}", "t", 60, 0, NULL, NULL},
            {"{\"token\":\"t\",\"expires_in\":-5}", "t", 60, 0, NULL, NULL},
            {"{\"token\":\"t\",\"expires_in\":9223372036854775807}", "t",
             DH_REGISTRY_TOKEN_MAX_LIFETIME, 0, NULL, NULL},
            {"{\"token\":\"t\",\"expires_in\":null}", "t", 60, 0, NULL, NULL},
            {"{\"token\":\"t\",\"expires_in\":3600,\"issued_at\":\"2023-11-14T22:13:20Z\"}", "t",
             3600, 1700000000, NULL, NULL},
            {"{\"token\":\"t\",\"issued_at\":\"2023-11-14T23:13:20.123456789+01:00\"}", "t", 60,
             1700000000, NULL, NULL},
            {"{\"token\":\"t\",\"refresh_token\":\"r\"}", "t", 60, 0, "r", NULL},
            {"{\"token\":\"t\",\"unknown\":[1,2,{}]}", "t", 60, 0, NULL, NULL},
            /* errors */
            {"", NULL, 0, 0, NULL, "not a JSON object"},
            {"[]", NULL, 0, 0, NULL, "not a JSON object"},
            {"{\"token\":\"t\"", NULL, 0, 0, NULL, "not a JSON object"},
            {"{}", NULL, 0, 0, NULL, "no 'token' or 'access_token'"},
            {"{\"token\":\"\"}", NULL, 0, 0, NULL, "no 'token' or 'access_token'"},
            {"{\"token\":42}", NULL, 0, 0, NULL, "not a string"},
            {"{\"access_token\":true,\"token\":\"t\"}", NULL, 0, 0, NULL, "not a string"},
            {"{\"token\":\"t\",\"expires_in\":\"60\"}", NULL, 0, 0, NULL, "'expires_in'"},
            {"{\"token\":\"t\",\"expires_in\":1.5}", NULL, 0, 0, NULL, "'expires_in'"},
            {"{\"token\":\"t\",\"issued_at\":\"yesterday\"}", NULL, 0, 0, NULL, "'issued_at'"},
            {"{\"token\":\"t\",\"issued_at\":\"2023-11-14 22:13:20Z\"}", NULL, 0, 0, NULL,
             "'issued_at'"},
            {"{\"token\":\"t\",\"issued_at\":\"2023-13-14T22:13:20Z\"}", NULL, 0, 0, NULL,
             "'issued_at'"},
            {"{\"token\":\"t\",\"issued_at\":\"2023-11-14T22:13:20\"}", NULL, 0, 0, NULL,
             "'issued_at'"},
            {"{\"token\":\"t\",\"issued_at\":12}", NULL, 0, 0, NULL, "'issued_at'"},
            {"{\"token\":\"t\",\"refresh_token\":1}", NULL, 0, 0, NULL, "'refresh_token'"},
            {"{\"token\":\"a b\"}", NULL, 0, 0, NULL, "HTTP header"},
            {"{\"token\":\"a\\r\\nX-Evil: 1\"}", NULL, 0, 0, NULL, "HTTP header"},
            /* jansson refuses \u0000 */
            {"{\"token\":\"a\\u0000b\"}", NULL, 0, 0, NULL, "not a JSON object"},
            {"{\"token\":\"t\",\"token\":\"u\"}", NULL, 0, 0, NULL, "not a JSON object"},
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        struct dh_registry_token t = {0};
        _cleanup_error_ struct dh_error *err = NULL;
        int r = dh_registry_token_parse(cases[i].body, strlen(cases[i].body), NOW, &t, &err);

        if (!cases[i].token) {
            if (r != -1 || !err || err->status != EPROTO || !strstr(err->msg, cases[i].err_substr))
                T_FAIL_AT("case %zu %s: want error containing '%s', got %s", i, cases[i].body,
                          cases[i].err_substr, err ? err->msg : "success");
            T_ASSERT(t.token == NULL);
            continue;
        }
        if (r != 0) {
            T_FAIL_AT("case %zu %s: %s", i, cases[i].body, err ? err->msg : "?");
            continue;
        }
        T_EQ_STR(t.token, cases[i].token);
        T_EQ_INT(t.expires_in, cases[i].expires_in);
        T_EQ_INT(t.expires_at, NOW + cases[i].expires_in);
        T_EQ_INT(t.issued_at, cases[i].issued_at);
        if (cases[i].refresh)
            T_EQ_STR(t.refresh_token, cases[i].refresh);
        else
            T_ASSERT(t.refresh_token == NULL);
        dh_registry_token_release(&t);
        T_ASSERT(t.token == NULL);
    }
    /* NULL body */
    {
        struct dh_registry_token t = {0};
        _cleanup_error_ struct dh_error *err = NULL;

        T_ASSERT(dh_registry_token_parse(NULL, 0, NOW, &t, &err) == -1);
    }
}

static void test_error_message(void)
{
    static const struct {
        const char *body;
        const char *want;
    } cases[] = {
            {"{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\","
             "\"detail\":null}]}",
             "authentication required"},
            {"{\"errors\":[{\"code\":\"DENIED\",\"message\":\"first\"},{\"message\":\"second\"}]}",
             "first"},
            {"{\"details\":\"incorrect username or password\"}", "incorrect username or password"},
            {"{\"error\":\"invalid_grant\",\"error_description\":\"bad password\"}",
             "bad password"},
            {"{\"errors\":[]}", NULL},
            {"{\"errors\":[{\"message\":\"line1\\nline2\\u0007\"}]}", "line1 line2 "},
            {"not json", NULL},
            {"", NULL},
            {"[\"x\"]", NULL},
    };
    _cleanup_free_ char *long_body = NULL, *got_long = NULL;
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *got = dh_registry_error_message(cases[i].body, strlen(cases[i].body));

        if (cases[i].want)
            T_EQ_STR(got, cases[i].want);
        else if (got)
            T_FAIL_AT("case %zu: want none, got '%s'", i, got);
    }
    /* long messages are cut at 200 bytes on a UTF-8 boundary */
    {
        char msg[700];

        for (i = 0; i + 2 < 600; i += 2) {
            msg[i] = (char)0xc3;
            msg[i + 1] = (char)0xa9;
        }
        msg[i] = '\0';
        long_body = dh_xasprintf("{\"errors\":[{\"message\":\"x%s\"}]}", msg);
    }
    got_long = dh_registry_error_message(long_body, strlen(long_body));
    T_REQUIRE(got_long != NULL);
    T_EQ_INT(strlen(got_long), 199);
}

static void test_client_new(void)
{
    static const struct {
        const char *in;
        unsigned flags;
        const char *host;
        const char *base;
        bool hub;
        int err_status; /* 0 = success */
    } cases[] = {
            {NULL, 0, "registry-1.docker.io", "https://registry-1.docker.io", true, 0},
            {"", 0, "registry-1.docker.io", "https://registry-1.docker.io", true, 0},
            {"docker.io", 0, "registry-1.docker.io", "https://registry-1.docker.io", true, 0},
            {"https://index.docker.io/v1/", 0, "registry-1.docker.io",
             "https://registry-1.docker.io", true, 0},
            {"Registry.Example.com:5000", 0, "registry.example.com:5000",
             "https://registry.example.com:5000", false, 0},
            {"https://r.example/some/path", 0, "r.example", "https://r.example", false, 0},
            {"r.example:443", 0, "r.example", "https://r.example", false, 0},
            {"http://r.example:5000", DH_REGISTRY_INSECURE, "r.example:5000",
             "http://r.example:5000", false, 0},
            {"http://r.example:5000", 0, NULL, NULL, false, EPERM},
            {"ftp://r.example", 0, NULL, NULL, false, EINVAL},
            {"user:pw@r.example", 0, NULL, NULL, false, EINVAL},
    };

    unsetenv("ROOTLESSKIT_STATE_DIR");
    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_registry_ struct dh_registry *r = NULL;
        _cleanup_error_ struct dh_error *err = NULL;
        int rc = dh_registry_new(cases[i].in, cases[i].flags, &r, &err);

        if (cases[i].err_status) {
            if (rc != -1 || !err || err->status != cases[i].err_status)
                T_FAIL_AT("case %zu '%s': want error %d, got %s", i, cases[i].in,
                          cases[i].err_status, err ? err->msg : "success");
            else if (strstr(err->msg, "pw"))
                T_FAIL_AT("case %zu: error echoes the password: %s", i, err->msg);
            continue;
        }
        if (rc != 0) {
            T_FAIL_AT("case %zu '%s': %s", i, cases[i].in, err ? err->msg : "?");
            continue;
        }
        T_EQ_STR(dh_registry_host(r), cases[i].host);
        T_EQ_STR(dh_registry_base_url(r), cases[i].base);
        T_EQ_INT(dh_registry_is_hub(r), cases[i].hub);
        T_EQ_INT(dh_registry_tokens_fetched(r), 0);
    }
}

/* ---- the client against docker-registry + registry-token.py ---- */

static pid_t reg_pid = -1;
static int reg_stdin = -1;
static char reg_host[128], reg_pass[128], reg_dir[64];

/* The repository root: $DOCKHAND_ROOT, the working directory, or three levels above
   this binary (build/test/test_registry). */
static char *find_root(void)
{
    const char *env = getenv("DOCKHAND_ROOT");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return dh_xstrdup(env);
    if (access("test/cli/lib/registry.bash", R_OK) == 0)
        return dh_xstrdup(".");
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *p;

        exe[n] = '\0';
        for (int up = 0; up < 3 && (p = strrchr(exe, '/')); up++)
            *p = '\0';
        return dh_xstrdup(exe);
    }
    return NULL;
}

/* Starts the registry from a bash that stays our child: it prints "HOST PASS", waits
   for end of file on its stdin, then stops the registry and the token server. */
static int start_registry(void)
{
    static const char script[] = ". \"$1/test/cli/lib/registry.bash\" || exit 1\n"
                                 "dh_registry_start --auth token \"$2/reg\" puller >&2 || exit 1\n"
                                 "dh_registry_push_test_image test/x:latest >&2 || exit 1\n"
                                 "echo \"$DH_REG_HOST $DH_REG_PASS\"\n"
                                 "read -r _ || true\n"
                                 "dh_registry_stop \"$2/reg\"\n";
    _cleanup_free_ char *root = find_root();
    int in[2], out[2];
    FILE *f;

    snprintf(reg_dir, sizeof(reg_dir), "/tmp/dockhand-registry-XXXXXX");
    if (!root || !mkdtemp(reg_dir)) {
        reg_dir[0] = '\0';
        return -1;
    }
    if (pipe(in) < 0 || pipe(out) < 0)
        return -1;
    reg_pid = fork();
    if (reg_pid < 0)
        return -1;
    if (reg_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp("bash", "bash", "-c", script, "bash", root, reg_dir, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    reg_stdin = in[1];
    f = fdopen(out[0], "r");
    if (!f || fscanf(f, "%127s %127s", reg_host, reg_pass) != 2) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static void stop_registry(void)
{
    int status;

    if (reg_stdin >= 0)
        close(reg_stdin);
    reg_stdin = -1;
    if (reg_pid > 0)
        waitpid(reg_pid, &status, 0);
    reg_pid = -1;
    if (reg_dir[0])
        t_rmrf(reg_dir);
}

static int get(struct dh_registry *r, const char *scope, const char *path, long *ret_status,
               struct dh_error **err)
{
    static const char *const headers[] = {"Accept: application/vnd.oci.image.manifest.v1+json",
                                          NULL};
    struct dh_http_request req = {.url = path, .headers = headers};
    struct dh_http_response resp;

    if (dh_registry_do(r, scope, &req, &resp, err) < 0)
        return -1;
    *ret_status = resp.status;
    dh_http_response_release(&resp);
    return 0;
}

static void test_client_token_flow(void)
{
    _cleanup_registry_ struct dh_registry *r = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    enum dh_registry_auth auth;
    const char *tok1, *tok2;
    _cleanup_free_ char *tok1_copy = NULL;
    long status = 0;

    T_REQUIRE(start_registry() == 0);
    T_REQUIRE(dh_registry_new(reg_host, DH_REGISTRY_INSECURE, &r, &err) == 0);
    dh_registry_set_credentials(r, "puller", reg_pass);
    T_REQUIRE(dh_registry_ping(r, &auth, &err) == 0);
    T_EQ_INT(auth, DH_REGISTRY_AUTH_BEARER);
    T_EQ_INT(dh_registry_tokens_fetched(r), 0);

    /* a token per scope, reused while valid */
    T_REQUIRE(get(r, "repository:test/x:pull", "/v2/test/x/manifests/latest", &status, &err) == 0);
    T_EQ_INT(status, 200);
    T_EQ_INT(dh_registry_tokens_fetched(r), 1);
    T_REQUIRE(get(r, "repository:test/x:pull", "/v2/test/x/manifests/latest", &status, &err) == 0);
    T_EQ_INT(status, 200);
    T_EQ_INT(dh_registry_tokens_fetched(r), 1);
    T_REQUIRE(dh_registry_bearer_token(r, "repository:test/x:pull", &tok1, &err) == 0);
    tok1_copy = dh_xstrdup(tok1);
    T_EQ_INT(dh_registry_tokens_fetched(r), 1);
    /* another repository: another token; an unknown one is a 404, not a 401 */
    T_REQUIRE(get(r, "repository:test/y:pull", "/v2/test/y/tags/list", &status, &err) == 0);
    T_EQ_INT(status, 404);
    T_EQ_INT(dh_registry_tokens_fetched(r), 2);
    T_REQUIRE(dh_registry_bearer_token(r, "repository:test/y:pull", &tok2, &err) == 0);
    T_ASSERT(strcmp(tok1_copy, tok2) != 0);
    /* no scope: the registry's 401 names the scope; one fresh token for it, then 200 */
    T_REQUIRE(get(r, NULL, "/v2/test/x/manifests/latest", &status, &err) == 0);
    T_EQ_INT(status, 200);
    T_EQ_INT(dh_registry_tokens_fetched(r), 4);
    /* login check: the /v2/ token */
    T_REQUIRE(dh_registry_login_check(r, &auth, &err) == 0);
    T_EQ_INT(auth, DH_REGISTRY_AUTH_BEARER);

    /* wrong password: EACCES with the token server's message, nothing cached */
    {
        _cleanup_registry_ struct dh_registry *bad = NULL;
        _cleanup_error_ struct dh_error *e = NULL;

        T_REQUIRE(dh_registry_new(reg_host, DH_REGISTRY_INSECURE, &bad, &e) == 0);
        dh_registry_set_credentials(bad, "puller", "wrong");
        T_ASSERT(dh_registry_login_check(bad, &auth, &e) == -1);
        T_REQUIRE(e != NULL);
        T_EQ_INT(e->status, EACCES);
        T_EQ_STR(e->msg, "unauthorized: incorrect username or password");
        T_ASSERT(strstr(e->msg, "wrong") == NULL);
    }
    /* anonymous: the token server wants credentials for this repository */
    {
        _cleanup_registry_ struct dh_registry *anon = NULL;
        _cleanup_error_ struct dh_error *e = NULL;

        T_REQUIRE(dh_registry_new(reg_host, DH_REGISTRY_INSECURE, &anon, &e) == 0);
        T_ASSERT(get(anon, "repository:test/x:pull", "/v2/test/x/manifests/latest", &status, &e) ==
                 -1);
        T_REQUIRE(e != NULL);
        T_EQ_INT(e->status, EACCES);
    }
    /* without --insecure the plain http registry is unreachable (https first, no fallback) */
    {
        _cleanup_registry_ struct dh_registry *sec = NULL;
        _cleanup_error_ struct dh_error *e = NULL;

        T_REQUIRE(dh_registry_new(reg_host, 0, &sec, &e) == 0);
        T_ASSERT(dh_registry_ping(sec, &auth, &e) == -1);
        T_REQUIRE(e != NULL);
        T_EQ_INT(e->status, EPROTO);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_challenges);
    T_RUN(test_challenges_append_and_find);
    T_RUN(test_token_parse);
    T_RUN(test_error_message);
    T_RUN(test_client_new);
    T_RUN(test_client_token_flow);
    stop_registry();
    return t_done();
}

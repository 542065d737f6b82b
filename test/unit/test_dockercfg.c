/* SPDX-License-Identifier: Apache-2.0 */
/* Docker config parsing (dockerconfigjson, dockercfg, config.json) and kubelet matching. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/mem.h"

#include "t.h"

#define NONE DH_KUBELET_RANK_NONE

/* Parses s; returns the document or NULL (then *msg holds the error, caller frees). */
static struct dh_dockercfg *parse(const char *s, enum dh_dockercfg_format f, char **msg)
{
    struct dh_dockercfg *cfg = NULL;
    struct dh_error *err = NULL;

    if (msg)
        *msg = NULL;
    if (dh_dockercfg_parse(s, strlen(s), f, &cfg, &err) < 0) {
        if (cfg)
            printf("#   cfg set on failure\n");
        if (msg)
            *msg = dh_xstrdup(err->msg);
        dh_error_free(&err);
        return NULL;
    }
    if (err)
        printf("#   err set on success\n");
    return cfg;
}

/* Expects s to fail with a message containing want (and never containing secret). */
static void expect_error(const char *s, enum dh_dockercfg_format f, const char *want,
                         const char *secret)
{
    _cleanup_free_ char *msg = NULL;
    struct dh_dockercfg *cfg = parse(s, f, &msg);

    T_ASSERT(cfg == NULL);
    dh_dockercfg_free(cfg);
    T_ASSERT(msg != NULL);
    if (!msg)
        return;
    if (!strstr(msg, want))
        T_FAIL_AT("error '%s' does not contain '%s'", msg, want);
    if (secret && strstr(msg, secret))
        T_FAIL_AT("error '%s' echoes the secret", msg);
}

static void test_dockerconfigjson_kubectl(void)
{
    /* kubectl create secret docker-registry output (pullsecrets.md 4) */
    struct dh_dockercfg *cfg = parse(
            "{\"auths\":{\"S\":{\"username\":\"U\",\"password\":\"P\",\"email\":\"E\",\"auth\":"
            "\"VTpQ\"}}}",
            DH_DOCKERCFG_AUTO, NULL);

    T_REQUIRE(cfg);
    T_EQ_INT(cfg->format, DH_DOCKERCFG_CONFIGJSON);
    T_EQ_INT(cfg->n_entries, 1);
    T_EQ_STR(cfg->entries[0].key, "S");
    T_EQ_STR(cfg->entries[0].username, "U");
    T_EQ_STR(cfg->entries[0].password, "P");
    T_EQ_STR(cfg->entries[0].email, "E");
    T_EQ_STR(cfg->entries[0].auth, "VTpQ");
    T_ASSERT(cfg->entries[0].identitytoken == NULL);
    T_ASSERT(cfg->creds_store == NULL);
    T_EQ_INT(cfg->n_cred_helpers, 0);
    dh_dockercfg_free(cfg);
}

static void test_auth_overrides(void)
{
    /* "auth" wins over username/password, as in the kubelet */
    struct dh_dockercfg *cfg =
            parse("{\"auths\":{\"r.io\":{\"username\":\"old\",\"password\":\"stale\","
                  "\"auth\":\"bmV3LXVzZXI6ZnJlc2g6cGFzcw==\"}}}",
                  DH_DOCKERCFG_CONFIGJSON, NULL);

    T_REQUIRE(cfg);
    T_EQ_STR(cfg->entries[0].username, "new-user");
    T_EQ_STR(cfg->entries[0].password, "fresh:pass"); /* split at the first ':' */
    dh_dockercfg_free(cfg);

    /* an empty "auth" does not override */
    cfg = parse("{\"auths\":{\"r.io\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"\"}}}",
                DH_DOCKERCFG_CONFIGJSON, NULL);
    T_REQUIRE(cfg);
    T_EQ_STR(cfg->entries[0].username, "u");
    T_EQ_STR(cfg->entries[0].password, "p");
    T_ASSERT(cfg->entries[0].auth == NULL);
    dh_dockercfg_free(cfg);

    /* "auth" alone */
    cfg = parse("{\"auths\":{\"r.io\":{\"auth\":\"dTpw\"}}}", DH_DOCKERCFG_CONFIGJSON, NULL);
    T_REQUIRE(cfg);
    T_EQ_STR(cfg->entries[0].username, "u");
    T_EQ_STR(cfg->entries[0].password, "p");
    dh_dockercfg_free(cfg);
}

static void test_auth_base64_forms(void)
{
    static const struct {
        const char *auth;
        const char *user, *pass;
    } ok[] = {
            {"YWI6Yw==", "ab", "c"},        /* padded */
            {"YWI6Yw", "ab", "c"},          /* unpadded (RawStdEncoding) */
            {"YWI6Y2Q=", "ab", "cd"},       /* one '=' */
            {"YWI6Y2Q", "ab", "cd"},        /* unpadded */
            {"YWI6\\r\\nY2Q=", "ab", "cd"}, /* CR and LF are ignored, as by Go */
            {"OnB3", "", "pw"},             /* empty user */
            {"dTo=", "u", ""},              /* empty password */
            {"dTpwPz8+", "u", "p?\?>"},     /* "+" is of the standard alphabet */
            {"dTpwAAA=", "u", "p"},         /* NULs around the password are trimmed */
    };
    static const char *const bad[] = {
            "dTpw-_",   /* URL-safe alphabet */
            "YWI6Yw=",  /* wrong padding */
            "YWI6Y",    /* impossible length */
            "YW I6Yw",  /* space */
            "dXNlcg==", /* "user": no ':' */
            "%%%%",     /* not base64 */
            "dQB4OnA=", /* "u\0x:p": a NUL in the user */
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(ok); i++) {
        _cleanup_free_ char *doc =
                dh_xasprintf("{\"auths\":{\"r\":{\"auth\":\"%s\"}}}", ok[i].auth);
        _cleanup_free_ char *msg = NULL;
        struct dh_dockercfg *cfg = parse(doc, DH_DOCKERCFG_CONFIGJSON, &msg);

        /* the JSON text holds "\r\n" as escapes */
        if (!cfg) {
            T_FAIL_AT("auth '%s': %s", ok[i].auth, msg ? msg : "?");
            continue;
        }
        T_EQ_STR(cfg->entries[0].username, ok[i].user);
        T_EQ_STR(cfg->entries[0].password, ok[i].pass);
        dh_dockercfg_free(cfg);
    }
    for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *doc = dh_xasprintf("{\"auths\":{\"r.io\":{\"auth\":\"%s\"}}}", bad[i]);
        expect_error(doc, DH_DOCKERCFG_CONFIGJSON, "'auth' of entry 'r.io'", bad[i]);
    }
}

static void test_identitytoken(void)
{
    const char *user, *secret;
    struct dh_dockercfg *cfg =
            parse("{\"auths\":{\"a.io\":{\"identitytoken\":\"tok-123\",\"username\":\"x\"},"
                  "\"b.io\":{\"username\":\"u\",\"password\":\"p\"},\"c.io\":{},"
                  "\"d.io\":{\"username\":\"u\",\"password\":null,\"email\":null}}}",
                  DH_DOCKERCFG_AUTO, NULL);

    T_REQUIRE(cfg);
    T_REQUIRE(cfg->n_entries == 4);
    T_EQ_STR(cfg->entries[0].key, "a.io"); /* document order */
    T_EQ_STR(cfg->entries[0].identitytoken, "tok-123");
    T_ASSERT(dh_dockercfg_entry_cred(&cfg->entries[0], &user, &secret));
    T_EQ_STR(user, "<token>");
    T_EQ_STR(secret, "tok-123");
    T_ASSERT(dh_dockercfg_entry_cred(&cfg->entries[1], &user, &secret));
    T_EQ_STR(user, "u");
    T_EQ_STR(secret, "p");
    /* docker's "{}" markers hold no secret */
    T_ASSERT(!dh_dockercfg_entry_cred(&cfg->entries[2], &user, &secret));
    T_EQ_STR(cfg->entries[2].username, "");
    T_ASSERT(!dh_dockercfg_entry_cred(&cfg->entries[3], &user, &secret));
    T_ASSERT(cfg->entries[3].email == NULL);
    dh_dockercfg_free(cfg);
}

static void test_dockercfg_legacy(void)
{
    struct dh_dockercfg *cfg =
            parse("{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\",\"email\":\"e@x\"},"
                  "\"quay.io\":{\"username\":\"q\",\"password\":\"qp\"}}",
                  DH_DOCKERCFG_AUTO, NULL);

    T_REQUIRE(cfg);
    T_EQ_INT(cfg->format, DH_DOCKERCFG_LEGACY);
    T_REQUIRE(cfg->n_entries == 2);
    T_EQ_STR(cfg->entries[0].key, "https://index.docker.io/v1/");
    T_EQ_STR(cfg->entries[0].username, "u");
    T_EQ_STR(cfg->entries[1].password, "qp");
    dh_dockercfg_free(cfg);

    /* forced legacy: "auths" is just an entry key (its unknown members are ignored) */
    cfg = parse("{\"auths\":{\"r\":{}}}", DH_DOCKERCFG_LEGACY, NULL);
    T_REQUIRE(cfg);
    T_EQ_INT(cfg->n_entries, 1);
    T_EQ_STR(cfg->entries[0].key, "auths");
    dh_dockercfg_free(cfg);
    expect_error("{\"r.io\":\"x\"}", DH_DOCKERCFG_LEGACY, "entry 'r.io' must be an object", NULL);
    cfg = parse("{}", DH_DOCKERCFG_LEGACY, NULL);
    T_REQUIRE(cfg);
    T_EQ_INT(cfg->n_entries, 0);
    dh_dockercfg_free(cfg);
}

static void test_config_json(void)
{
    struct dh_dockercfg *cfg = parse(
            "{\n\t\"auths\": {\n\t\t\"ghcr.io\": {\"auth\": \"dTpw\"},\n\t\t\"r.io\": {}\n\t},\n"
            "\t\"credsStore\": \"dockhand\",\n\t\"credHelpers\": {\"gcr.io\": \"gcloud\", "
            "\"1.dkr.ecr.us-east-1.amazonaws.com\": \"ecr-login\"},\n\t\"psFormat\": \"x\",\n"
            "\t\"unknown\": [1, 2.5e3, true, null]\n}\n",
            DH_DOCKERCFG_AUTO, NULL);

    T_REQUIRE(cfg);
    T_EQ_INT(cfg->format, DH_DOCKERCFG_CONFIGFILE);
    T_EQ_INT(cfg->n_entries, 2);
    T_EQ_STR(cfg->creds_store, "dockhand");
    T_REQUIRE(cfg->n_cred_helpers == 2);
    T_EQ_STR(cfg->cred_helpers[0].registry, "gcr.io");
    T_EQ_STR(cfg->cred_helpers[0].helper, "gcloud");
    T_EQ_STR(cfg->cred_helpers[1].helper, "ecr-login");
    dh_dockercfg_free(cfg);

    /* no "auths" at all */
    cfg = parse("{\"credsStore\":\"desktop\"}", DH_DOCKERCFG_AUTO, NULL);
    T_REQUIRE(cfg);
    T_EQ_INT(cfg->format, DH_DOCKERCFG_CONFIGFILE);
    T_EQ_INT(cfg->n_entries, 0);
    T_EQ_STR(cfg->creds_store, "desktop");
    dh_dockercfg_free(cfg);

    expect_error("{\"credsStore\":1}", DH_DOCKERCFG_CONFIGFILE, "'credsStore' must be a string",
                 NULL);
    expect_error("{\"credHelpers\":{\"a\":1}}", DH_DOCKERCFG_CONFIGFILE,
                 "'credHelpers' values must be strings", NULL);
    expect_error("{\"credHelpers\":[]}", DH_DOCKERCFG_CONFIGFILE, "'credHelpers' must be an object",
                 NULL);
}

static void test_detection(void)
{
    static const struct {
        const char *doc;
        enum dh_dockercfg_format want;
    } cases[] = {
            {"{\"auths\":{}}", DH_DOCKERCFG_CONFIGJSON},
            {"{\"auths\":{},\"HttpHeaders\":{\"X\":\"y\"}}", DH_DOCKERCFG_CONFIGJSON},
            {"{\"auths\":{},\"credsStore\":\"x\"}", DH_DOCKERCFG_CONFIGFILE},
            {"{\"auths\":{},\"other\":1}", DH_DOCKERCFG_CONFIGFILE},
            {"{\"credHelpers\":{}}", DH_DOCKERCFG_CONFIGFILE},
            {"{\"proxies\":{}}", DH_DOCKERCFG_CONFIGFILE},
            {"{\"detachKeys\":\"ctrl-x\"}", DH_DOCKERCFG_CONFIGFILE},
            {"{\"r.io\":{}}", DH_DOCKERCFG_LEGACY},
            {"{\"r.io\":{},\"q.io\":{\"auth\":\"dTpw\"}}", DH_DOCKERCFG_LEGACY},
            {"{}", DH_DOCKERCFG_LEGACY},
            {" \n{ } \n", DH_DOCKERCFG_LEGACY},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *msg = NULL;
        struct dh_dockercfg *cfg = parse(cases[i].doc, DH_DOCKERCFG_AUTO, &msg);

        if (!cfg) {
            T_FAIL_AT("'%s': %s", cases[i].doc, msg);
            continue;
        }
        if (cfg->format != cases[i].want)
            T_FAIL_AT("'%s' detected as %s", cases[i].doc, dh_dockercfg_format_name(cfg->format));
        dh_dockercfg_free(cfg);
    }
    T_EQ_STR(dh_dockercfg_format_name(DH_DOCKERCFG_CONFIGJSON), "dockerconfigjson");
    T_EQ_STR(dh_dockercfg_format_name(DH_DOCKERCFG_LEGACY), "dockercfg");
    T_EQ_STR(dh_dockercfg_format_name(DH_DOCKERCFG_CONFIGFILE), "config.json");
}

static void test_broken_inputs(void)
{
    const char *secret = "s3cr3t-never-shown";
    _cleanup_free_ char *a = dh_xasprintf("{\"auths\":{\"r\":{\"password\":\"%s\" x}}}", secret);
    _cleanup_free_ char *b = dh_xasprintf("{\"auths\":{\"r\":{\"password\":%s}}}", secret);
    _cleanup_free_ char *c = dh_xasprintf("{\"auths\":{\"r\":{\"password\":\"%s", secret);
    struct dh_error *err = NULL;
    struct dh_dockercfg *cfg = NULL;
    char *big;

    expect_error(a, DH_DOCKERCFG_AUTO, "invalid JSON at line 1", secret);
    expect_error(b, DH_DOCKERCFG_AUTO, "invalid JSON at line 1", "s3cr3t");
    expect_error(c, DH_DOCKERCFG_AUTO, "invalid JSON", secret);
    expect_error("", DH_DOCKERCFG_AUTO, "invalid JSON", NULL);
    expect_error("[]", DH_DOCKERCFG_AUTO, "expected a JSON object at the top level", NULL);
    expect_error("{\"auths\":[]}", DH_DOCKERCFG_AUTO, "'auths' must be an object", NULL);
    expect_error("{\"auths\":{},\"auths\":{}}", DH_DOCKERCFG_AUTO, "duplicate", NULL);
    expect_error("{\"other\":1}", DH_DOCKERCFG_CONFIGJSON, "'auths' is missing", NULL);
    expect_error("{\"auths\":{\"r\":[]}}", DH_DOCKERCFG_AUTO, "entry 'r' must be an object", NULL);
    expect_error("{\"auths\":{\"r\":{\"username\":1}}}", DH_DOCKERCFG_AUTO,
                 "'username' of entry 'r' must be a string", NULL);
    expect_error("{\"auths\":{\"r\":{\"password\":true}}}", DH_DOCKERCFG_AUTO,
                 "'password' of entry 'r' must be a string", NULL);
    expect_error("{\"auths\":{\"r\":{\"identitytoken\":{}}}}", DH_DOCKERCFG_AUTO,
                 "'identitytoken' of entry 'r' must be a string", NULL);
    /* a key unfit to quote is named by its position */
    expect_error("{\"auths\":{\"a\":{},\"x\\ny\":{\"auth\":\"!\"}}}", DH_DOCKERCFG_AUTO,
                 "'auth' of entry #2 is not valid base64", NULL);
    expect_error("{\"auths\":{\"r\":{\"password\":\"a\\u0000b\"}}}", DH_DOCKERCFG_AUTO,
                 "invalid JSON", NULL);
    expect_error("{\"auths\":{}} x", DH_DOCKERCFG_AUTO, "invalid JSON", NULL);
    /* a raw NUL byte (jansson alone would skip it after a number) */
    T_EQ_INT(dh_dockercfg_parse("{\"a\":0\0}", 8, DH_DOCKERCFG_AUTO, &cfg, &err), -1);
    T_ASSERT(err && strstr(err->msg, "NUL byte"));
    dh_error_free(&err);
    T_EQ_INT(dh_dockercfg_scan_rank("{\"a\":0\0}", 8, DH_DOCKERCFG_AUTO, "r", 0),
             DH_DOCKERCFG_SCAN_INVALID);
    expect_error("{\"auths\":{\"\xff\":{}}}", DH_DOCKERCFG_AUTO, "invalid JSON", NULL);

    /* size cap */
    big = dh_xmalloc(DH_DOCKERCFG_MAX + 2);
    memset(big, ' ', DH_DOCKERCFG_MAX + 1);
    big[0] = '{';
    big[DH_DOCKERCFG_MAX] = '}';
    T_EQ_INT(dh_dockercfg_parse(big, DH_DOCKERCFG_MAX + 1, DH_DOCKERCFG_AUTO, &cfg, &err), -1);
    T_ASSERT(err && err->status == E2BIG);
    dh_error_free(&err);
    T_EQ_INT(dh_dockercfg_parse(big, DH_DOCKERCFG_MAX, DH_DOCKERCFG_AUTO, &cfg, &err), -1);
    dh_error_free(&err);
    big[DH_DOCKERCFG_MAX - 1] = '}';
    T_EQ_INT(dh_dockercfg_parse(big, DH_DOCKERCFG_MAX, DH_DOCKERCFG_AUTO, &cfg, &err), 0);
    dh_dockercfg_free(cfg);
    free(big);
    dh_dockercfg_free(NULL);
}

/* ---- matching ---- */

static int rank(const char *key, const char *target)
{
    return dh_kubelet_match_rank(key, target, 0);
}

static int rank_image(const char *key, const char *target)
{
    return dh_kubelet_match_rank(key, target, DH_KMATCH_IMAGE);
}

static void test_kubelet_urls_match(void)
{
    /* kubernetes pkg/credentialprovider keyring_test.go TestURLsMatch */
    static const struct {
        const char *glob, *target;
        bool match;
    } cases[] = {
            {"*.kubernetes.io", "prefix.kubernetes.io", true},
            {"prefix.*.io", "prefix.kubernetes.io", true},
            {"prefix.kubernetes.*", "prefix.kubernetes.io", true},
            {"*-good.kubernetes.io", "prefix-good.kubernetes.io", true},
            {"*.kubernetes.io/blah", "prefix.kubernetes.io/blah", true},
            {"prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true},
            {"*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true},
            {"prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", true},
            {"*.kubernetes.io", "kubernetes.io", false},
            {"*.*.kubernetes.io", "prefix.kubernetes.io", false},
            {"*.*.kubernetes.io", "kubernetes.io", false},
            {"kubernetes.io", "kubernetes.com", false},
            {"k*.io", "quay.io", false},
            {"*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", false},
            {"prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", false},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        int r = rank(cases[i].glob, cases[i].target);
        /* as an image, a name without '/' is a Docker Hub repository */
        int ri = strchr(cases[i].target, '/') ? rank_image(cases[i].glob, cases[i].target) : r;

        if ((r >= 0) != cases[i].match || (ri >= 0) != cases[i].match)
            T_FAIL_AT("'%s' vs '%s': rank %d / %d", cases[i].glob, cases[i].target, r, ri);
    }
}

static void test_provider_examples(void)
{
    /* kubelet credentialprovider/v1 types.go example keys (pullsecrets.md 6.2) */
    T_ASSERT(rank("123456789.dkr.ecr.us-east-1.amazonaws.com",
                  "123456789.dkr.ecr.us-east-1.amazonaws.com") >= 0);
    T_ASSERT(rank("*.azurecr.io", "myreg.azurecr.io") >= 0);
    T_EQ_INT(rank("*.azurecr.io", "azurecr.io"), NONE);
    T_EQ_INT(rank("*.azurecr.io", "a.b.azurecr.io"), NONE);
    T_ASSERT(rank("gcr.io", "gcr.io") >= 0);
    T_ASSERT(rank_image("gcr.io", "gcr.io/project/app:1") >= 0);
    T_EQ_INT(rank("gcr.io", "us.gcr.io"), NONE);
    T_ASSERT(rank("*.*.registry.io", "a.b.registry.io") >= 0);
    T_EQ_INT(rank("*.*.registry.io", "a.registry.io"), NONE);
    T_EQ_INT(rank("*.*.registry.io", "a.b.c.registry.io"), NONE);
    T_ASSERT(rank_image("registry.io:8080/path", "registry.io:8080/path/app:1") >= 0);
    T_EQ_INT(rank_image("registry.io:8080/path", "registry.io/path/app"), NONE);
    T_EQ_INT(rank_image("registry.io:8080/path", "registry.io:8080/other/app"), NONE);
    T_EQ_INT(rank("registry.io:8080/path", "registry.io:8080"), NONE);
    /* '*' never crosses a dot */
    T_ASSERT(rank("*.io", "b.io") >= 0);
    T_EQ_INT(rank("*.io", "a.b.io"), NONE);
    T_EQ_INT(rank("*", "a.io"), NONE);
    T_ASSERT(rank("*", "localhost") >= 0);
    /* ECR and GCP globs */
    T_ASSERT(rank("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com") >=
             0);
    T_EQ_INT(rank("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
             NONE);
    T_ASSERT(rank("*.dkr.ecr.*.amazonaws.com.cn",
                  "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn") >= 0);
    T_EQ_INT(rank("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr-ecr.eu-west-1.amazonaws.com"),
             NONE);
    T_ASSERT(rank_image("*-docker.pkg.dev", "europe-docker.pkg.dev/proj/repo/img") >= 0);
    T_ASSERT(rank_image("*.pkg.dev", "europe-docker.pkg.dev/proj/repo/img") >= 0);
    T_ASSERT(rank("*.gcr.io", "eu.gcr.io") >= 0);
}

static void test_glob_syntax(void)
{
    /* the kubelet's url.Parse allows '*' and '[' ']' in a host; '?' starts a query */
    T_ASSERT(rank("a[a-c]reg.io", "abreg.io") >= 0);
    T_EQ_INT(rank("a[a-c]reg.io", "adreg.io"), NONE);
    T_ASSERT(rank("x[abc][0-9].io", "xc7.io") >= 0);
    T_ASSERT(rank("a*b*c.io", "axxbyyc.io") >= 0);
    T_EQ_INT(rank("a*b*c.io", "axxbyy.io"), NONE);
    T_ASSERT(rank("**.io", "x.io") >= 0);
    T_ASSERT(rank("*a*a*a*a*a*a*a*a*b.io", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.io") < 0);
    T_ASSERT(rank("r?g.io", "r") >= 0);
    T_EQ_INT(rank("r?g.io", "reg.io"), NONE);
    /* characters url.Parse refuses in a host, and malformed patterns (Go: ErrBadPattern),
       never match */
    T_EQ_INT(rank("x[^a-c]reg.io", "xdreg.io"), NONE);
    T_EQ_INT(rank("\\r.io", "r.io"), NONE);
    T_EQ_INT(rank("[ab]reg.io", "areg.io"), NONE); /* "[" first is an IPv6 literal */
    T_EQ_INT(rank("x[a.io", "xa.io"), NONE);
    T_EQ_INT(rank("x[].io", "xa.io"), NONE);
    T_EQ_INT(rank("x[-a].io", "xa.io"), NONE);
    T_EQ_INT(rank("x[a-].io", "xa.io"), NONE);
    T_EQ_INT(rank("x].io", "x].io"), NONE);
    /* case-insensitive hosts */
    T_ASSERT(rank("Registry.IO", "registry.io") >= 0);
    T_ASSERT(rank("*.Example.COM", "Foo.example.com") >= 0);
    T_ASSERT(rank("x[A-Z].io", "xb.io") >= 0);
    /* paths are case-sensitive */
    T_EQ_INT(rank_image("r.io/Team", "r.io/team/app"), NONE);
}

static void test_schemes_paths_ports(void)
{
    /* the scheme is dropped on both sides, any case */
    T_ASSERT(rank("http://h.io", "https://h.io") >= 0);
    T_ASSERT(rank("HTTPS://H.IO/v2/", "h.io") >= 0);
    T_ASSERT(rank("//h.io", "h.io") >= 0);
    T_EQ_INT(rank("ftp://h.io", "h.io"), NONE);
    T_EQ_INT(rank("h.io", "ssh://h.io"), NONE);
    /* "/v1/" and "/v2/" prefixes, "/" alone */
    T_EQ_INT(rank("h.io/v2/", "h.io"), rank("h.io", "h.io"));
    T_EQ_INT(rank("h.io/v1", "h.io"), rank("h.io", "h.io"));
    T_EQ_INT(rank("h.io/", "h.io"), rank("h.io", "h.io"));
    T_ASSERT(rank("h.io/v2/team", "h.io/team/app") >= 0);
    T_ASSERT(rank("h.io/team", "https://h.io/v2/team/app") >= 0);
    T_EQ_INT(rank("h.io/v2x", "h.io/team"), NONE);
    /* the path prefix is a plain string prefix, as in the kubelet */
    T_ASSERT(rank_image("r.io/team", "r.io/team-b/app") >= 0);
    T_ASSERT(rank_image("r.io/team/", "r.io/team/app") >= 0);
    T_EQ_INT(rank_image("r.io/team/", "r.io/team"), NONE);
    /* query and fragment are dropped */
    T_ASSERT(rank("h.io?x=1", "h.io#y") >= 0);
    /* ports compare as numbers; no port is not 443 */
    T_ASSERT(rank("h.io:5000", "h.io:05000") >= 0);
    T_EQ_INT(rank("h.io:443", "h.io"), NONE);
    T_EQ_INT(rank("h.io", "h.io:5000"), NONE);
    T_EQ_INT(rank("h.io:5000", "h.io"), NONE);
    /* IPv6 literals */
    T_ASSERT(rank("[::1]:5000", "[::1]:5000") >= 0);
    T_ASSERT(rank("[::1]", "http://[::1]/v2/") >= 0);
    T_EQ_INT(rank("[::1]:5000", "[::2]:5000"), NONE);
    T_EQ_INT(rank("[::1]", "[::1]:5000"), NONE);
    T_ASSERT(rank("127.0.0.1:5000", "127.0.0.1:5000") >= 0);
    T_ASSERT(rank("localhost:5000", "localhost:5000/x") >= 0);
}

static void test_broken_refs(void)
{
    char *long_key = dh_xmalloc(DH_KUBELET_MATCH_MAX + 2);

    T_EQ_INT(rank(NULL, "h.io"), NONE);
    T_EQ_INT(rank("h.io", NULL), NONE);
    T_EQ_INT(rank("", ""), NONE);
    T_EQ_INT(rank("h.io", ""), NONE);
    T_EQ_INT(rank("u:p@h.io", "h.io"), NONE);
    T_EQ_INT(rank("h.io", "https://u:p@h.io"), NONE);
    T_EQ_INT(rank("h.io:0", "h.io:0"), NONE);
    T_EQ_INT(rank("h.io:65536", "h.io:65536"), NONE);
    T_EQ_INT(rank("h.io:", "h.io"), NONE);
    T_EQ_INT(rank("h.io:x", "h.io:x"), NONE);
    T_EQ_INT(rank("h .io", "h .io"), NONE);
    T_EQ_INT(rank("h.io\n", "h.io"), NONE);
    T_EQ_INT(rank("*.io", "*.io"), NONE); /* '*' in a target is not a host */
    T_EQ_INT(rank("h.io", "*.io"), NONE);
    T_EQ_INT(rank("https://", "h.io"), NONE);
    T_EQ_INT(rank("/path", "h.io/path"), NONE);
    memset(long_key, 'a', DH_KUBELET_MATCH_MAX + 1);
    long_key[DH_KUBELET_MATCH_MAX + 1] = '\0';
    T_EQ_INT(rank(long_key, long_key), NONE);
    long_key[DH_KUBELET_MATCH_MAX] = '\0';
    T_ASSERT(rank(long_key, long_key) >= 0);
    free(long_key);
}

static void test_docker_hub(void)
{
    static const char *const keys[] = {"https://index.docker.io/v1/",
                                       "index.docker.io",
                                       "docker.io",
                                       "registry-1.docker.io",
                                       "https://registry.hub.docker.com",
                                       "docker.io:443"};
    static const char *const targets[] = {"https://index.docker.io/v1/", "index.docker.io",
                                          "docker.io", "registry-1.docker.io",
                                          "https://index.docker.io/v2/"};
    static const char *const images[] = {
            "alpine",     "alpine:3.20",        "library/alpine",
            "user/app:1", "docker.io/user/app", "index.docker.io/library/alpine@sha256:00"};
    size_t i, j;

    for (i = 0; i < DH_ARRAY_SIZE(keys); i++) {
        for (j = 0; j < DH_ARRAY_SIZE(targets); j++)
            if (rank(keys[i], targets[j]) < 0)
                T_FAIL_AT("'%s' does not match '%s'", keys[i], targets[j]);
        for (j = 0; j < DH_ARRAY_SIZE(images); j++)
            if (rank_image(keys[i], images[j]) < 0)
                T_FAIL_AT("'%s' does not match image '%s'", keys[i], images[j]);
        /* not other registries */
        T_EQ_INT(rank_image(keys[i], "quay.io/alpine"), NONE);
        T_EQ_INT(rank_image(keys[i], "localhost/alpine"), NONE);
        T_EQ_INT(rank_image(keys[i], "localhost:5000/alpine"), NONE);
        T_EQ_INT(rank(keys[i], "docker.com"), NONE);
        T_EQ_INT(rank(keys[i], "docker.io:5000"), NONE);
    }
    /* as a server URL, a bare name is a host, never Docker Hub */
    T_EQ_INT(rank("docker.io", "alpine"), NONE);
    T_ASSERT(rank("alpine", "alpine") >= 0);
    /* paths on Docker Hub: "alpine" is "library/alpine" */
    T_ASSERT(rank_image("docker.io/library", "alpine") >= 0);
    T_ASSERT(rank_image("docker.io/library", "docker.io/alpine") >= 0);
    T_ASSERT(rank_image("docker.io/user", "user/app") >= 0);
    T_EQ_INT(rank_image("docker.io/user", "alpine"), NONE);
    T_EQ_INT(rank_image("docker.io/other", "user/app"), NONE);
    /* a glob may match one of Hub's names */
    T_ASSERT(rank("*.docker.io", "docker.io") >= 0);
    T_ASSERT(rank_image("*.docker.io", "alpine") >= 0);
    T_ASSERT(rank("*.io", "index.docker.io") >= 0);
    T_EQ_INT(rank("*.docker.io", "quay.io"), NONE);
}

static void test_ranking(void)
{
    /* literal beats glob, longer path beats shorter */
    T_ASSERT(rank("myreg.azurecr.io", "myreg.azurecr.io") >
             rank("*.azurecr.io", "myreg.azurecr.io"));
    T_ASSERT(rank("a.*.registry.io", "a.b.registry.io") >
             rank("*.*.registry.io", "a.b.registry.io"));
    T_ASSERT(rank_image("quay.io/coreos", "quay.io/coreos/etcd") >
             rank_image("quay.io", "quay.io/coreos/etcd"));
    T_ASSERT(rank_image("quay.io/coreos/etcd", "quay.io/coreos/etcd") >
             rank_image("quay.io/coreos", "quay.io/coreos/etcd"));
    T_ASSERT(rank_image("quay.io", "quay.io/coreos/etcd") >
             rank_image("*.io/coreos/etcd", "quay.io/coreos/etcd"));
    T_ASSERT(rank("123.dkr.ecr.us-east-1.amazonaws.com", "123.dkr.ecr.us-east-1.amazonaws.com") >
             rank("*.dkr.ecr.*.amazonaws.com", "123.dkr.ecr.us-east-1.amazonaws.com"));
    /* every match ranks at least DH_KUBELET_RANK_BASE */
    T_ASSERT(rank("*", "x") >= DH_KUBELET_RANK_BASE);
    /* docker's host alias rule, at the lowest rank */
    T_EQ_INT(dh_kubelet_match_rank("r.io/team", "r.io", DH_KMATCH_HOST_ALIAS),
             DH_KUBELET_RANK_ALIAS);
    T_EQ_INT(dh_kubelet_match_rank("r.io/team", "https://r.io/v2/", DH_KMATCH_HOST_ALIAS),
             DH_KUBELET_RANK_ALIAS);
    T_EQ_INT(dh_kubelet_match_rank("r.io/team", "r.io/other", DH_KMATCH_HOST_ALIAS), NONE);
    T_EQ_INT(dh_kubelet_match_rank("q.io/team", "r.io", DH_KMATCH_HOST_ALIAS), NONE);
    T_EQ_INT(rank("r.io/team", "r.io"), NONE);
    T_ASSERT(dh_kubelet_match_rank("r.io", "r.io", DH_KMATCH_HOST_ALIAS) > DH_KUBELET_RANK_ALIAS);
}

static void test_scan_rank(void)
{
    static const struct {
        const char *doc;
        enum dh_dockercfg_format format;
        const char *target;
        bool match; /* false: -1; invalid: see below */
    } cases[] = {
            {"{\"auths\":{\"r.io\":{}}}", DH_DOCKERCFG_CONFIGJSON, "r.io", true},
            {"{\"auths\":{\"q.io\":{}}}", DH_DOCKERCFG_CONFIGJSON, "r.io", false},
            {"{\"auths\":{\"r\\u002eio\":{}}}", DH_DOCKERCFG_CONFIGJSON, "r.io", true},
            {"{\"x\":{\"r.io\":{}},\"auths\":{}}", DH_DOCKERCFG_CONFIGJSON, "r.io", false},
            {"{\"r.io\":{}}", DH_DOCKERCFG_LEGACY, "r.io", true},
            {"{\"r.io\":{}}", DH_DOCKERCFG_CONFIGJSON, "r.io", false},
            {"{\"auths\":{\"r.io\":{}}}", DH_DOCKERCFG_LEGACY, "r.io", false},
            {"{\"auths\":{\"r.io\":{}}}", DH_DOCKERCFG_AUTO, "r.io", true},
            {"{\"r.io\":{}}", DH_DOCKERCFG_AUTO, "r.io", true},
            {"{\"auths\":{\"*.r.io\":{}},\"credsStore\":\"x\"}", DH_DOCKERCFG_CONFIGFILE, "a.r.io",
             true},
            {" {\"auths\" : { \"a\" : [1, -2.5e+3, \"s\", true, false, null, {}] , \"r.io\":{}}}\n",
             DH_DOCKERCFG_CONFIGJSON, "r.io", true},
    };
    static const char *const invalid[] = {
            "",
            "[]",
            "\"x\"",
            "{",
            "{\"auths\":{}} x",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\u0000\"}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\xc3\x28\"}",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":[1,]}",
            "{a:1}",
    };
    static const char three[] = "{\"auths\":{\"*.io\":{},\"r.io/a\":{},\"r.io\":{}}}";
    size_t i, depth;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        int r = dh_dockercfg_scan_rank(cases[i].doc, strlen(cases[i].doc), cases[i].format,
                                       cases[i].target, 0);
        if ((r >= 0) != cases[i].match || r == DH_DOCKERCFG_SCAN_INVALID)
            T_FAIL_AT("scan of '%s' for '%s': %d", cases[i].doc, cases[i].target, r);
    }
    for (i = 0; i < DH_ARRAY_SIZE(invalid); i++) {
        int r = dh_dockercfg_scan_rank(invalid[i], strlen(invalid[i]), DH_DOCKERCFG_AUTO, "r.io",
                                       0);
        if (r != DH_DOCKERCFG_SCAN_INVALID)
            T_FAIL_AT("scan of '%s' is not invalid: %d", invalid[i], r);
    }
    /* the rank is the best of the keys */
    T_EQ_INT(dh_dockercfg_scan_rank(three, strlen(three), DH_DOCKERCFG_CONFIGJSON, "r.io/a/b",
                                    DH_KMATCH_IMAGE),
             rank_image("r.io/a", "r.io/a/b"));
    /* an unparsable target matches nothing but the syntax is still checked */
    T_EQ_INT(dh_dockercfg_scan_rank("{}", 2, DH_DOCKERCFG_AUTO, "u@h", 0), NONE);
    T_EQ_INT(dh_dockercfg_scan_rank("{", 1, DH_DOCKERCFG_AUTO, NULL, 0), DH_DOCKERCFG_SCAN_INVALID);
    /* nesting: 2048 levels are fine, as for jansson; deeper is not */
    for (depth = 2047; depth <= 2048; depth++) {
        size_t len = 5 + 2 * depth + 1;
        char *deep = dh_xmalloc(len);
        struct dh_dockercfg *cfg = NULL;
        struct dh_error *err = NULL;
        int r, p;

        memcpy(deep, "{\"a\":", 5);
        memset(deep + 5, '[', depth);
        memset(deep + 5 + depth, ']', depth);
        deep[len - 1] = '}';
        r = dh_dockercfg_scan_rank(deep, len, DH_DOCKERCFG_AUTO, "r", 0);
        p = dh_dockercfg_parse(deep, len, DH_DOCKERCFG_CONFIGFILE, &cfg, &err);
        T_EQ_INT(p, depth == 2047 ? 0 : -1);
        T_EQ_INT(r, depth == 2047 ? NONE : DH_DOCKERCFG_SCAN_INVALID);
        dh_dockercfg_free(cfg);
        dh_error_free(&err);
        free(deep);
    }
}

int main(void)
{
    dh_json_use_wiping_alloc();
    T_RUN(test_dockerconfigjson_kubectl);
    T_RUN(test_auth_overrides);
    T_RUN(test_auth_base64_forms);
    T_RUN(test_identitytoken);
    T_RUN(test_dockercfg_legacy);
    T_RUN(test_config_json);
    T_RUN(test_detection);
    T_RUN(test_broken_inputs);
    T_RUN(test_kubelet_urls_match);
    T_RUN(test_provider_examples);
    T_RUN(test_glob_syntax);
    T_RUN(test_schemes_paths_ports);
    T_RUN(test_broken_refs);
    T_RUN(test_docker_hub);
    T_RUN(test_ranking);
    T_RUN(test_scan_rank);
    return t_done();
}

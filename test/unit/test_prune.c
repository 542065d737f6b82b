/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the prune rules with a fake context, the ECR fast path, durations,
   usage records and the minted-token ledger. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/base64.h"
#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/ecr.h"
#include "dockhand/fsutil.h"
#include "dockhand/mem.h"
#include "dockhand/prune.h"
#include "dockhand/usage.h"

#include "t.h"

#define NOW ((int64_t)1800000000)

static char tmpdir[64];

/* ---- the fake world ---- */

struct fake {
    json_t *store;   /* "helper|server" -> 1 | 0 | "error message" */
    json_t *path;    /* helper names on PATH -> true */
    json_t *used;    /* registry -> unix time */
    json_t *minted;  /* secret -> expiry */
    int store_calls; /* how often a helper was asked */
};

static int fake_store_has(void *arg, const char *helper, const char *server, struct dh_error **err)
{
    struct fake *f = arg;
    _cleanup_free_ char *k = dh_xasprintf("%s|%s", helper, server);
    json_t *v = json_object_get(f->store, k);

    f->store_calls++;
    if (json_is_string(v))
        return dh_error_make(err, EIO, "%s", json_string_value(v));
    return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

static bool fake_helper_exists(void *arg, const char *helper)
{
    return json_is_true(json_object_get(((struct fake *)arg)->path, helper));
}

static int fake_last_used(void *arg, const char *registry, int64_t *ret)
{
    _cleanup_free_ char *h = dh_dockerconfig_hostname(registry);
    json_t *v = json_object_get(((struct fake *)arg)->used, h);

    if (!json_is_integer(v))
        return 0;
    *ret = json_integer_value(v);
    return 1;
}

static int fake_minted(void *arg, const char *secret, int64_t *ret)
{
    json_t *v = json_object_get(((struct fake *)arg)->minted, secret);

    if (!json_is_integer(v))
        return 0;
    *ret = json_integer_value(v);
    return 1;
}

static const struct dh_prune_ops fake_ops = {fake_store_has, fake_helper_exists, fake_last_used,
                                             fake_minted};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->store = json_object();
    f->path = json_object();
    f->used = json_object();
    f->minted = json_object();
}

static void fake_release(struct fake *f)
{
    json_decref(f->store);
    json_decref(f->path);
    json_decref(f->used);
    json_decref(f->minted);
}

/* ---- tokens shaped like real ones ---- */

/* The password of an ECR token: base64 of {"payload","datakey","version","type","expiration"}. */
static char *ecr_password(int64_t exp, size_t payload_bytes)
{
    _cleanup_free_ unsigned char *raw = dh_xmalloc(payload_bytes + 1);
    _cleanup_free_ char *payload = NULL, *json = NULL;
    size_t i;

    for (i = 0; i < payload_bytes; i++)
        raw[i] = (unsigned char)(i * 131 + 7);
    payload = dh_base64_encode(raw, payload_bytes, false);
    json = dh_xasprintf(
            "{\"payload\":\"%s\",\"datakey\":\"AQEBAHhwm0YaISJeRtJm5n1G6uqeekXuoXXPe5UF"
            "ce9Rq8/14wAAAH4wfAYJKoZIhvcNAQcGoG8wbQIBADBoBgkqhkiG9w0BBwEwHgYJYIZIAWUD"
            "BAEuMBEEDA==\",\"version\":\"2\",\"type\":\"DATA_KEY\",\"expiration\":%lld}",
            payload, (long long)exp);
    return dh_base64_encode(json, strlen(json), false);
}

/* The config.json "auth" of an ECR token: base64("AWS:" + password). */
static char *ecr_auth(int64_t exp, size_t payload_bytes)
{
    _cleanup_free_ char *pw = ecr_password(exp, payload_bytes);
    _cleanup_free_ char *up = dh_xasprintf("AWS:%s", pw);

    return dh_base64_encode(up, strlen(up), false);
}

static char *basic_auth(const char *user, const char *pass)
{
    _cleanup_free_ char *up = dh_xasprintf("%s:%s", user, pass);

    return dh_base64_encode(up, strlen(up), false);
}

/* ---- helpers ---- */

struct run {
    struct dh_dockerconfig *c;
    struct dh_prune_result r;
};

static int plan(const char *doc, struct fake *f, const struct dh_prune_options *o, struct run *ret)
{
    _cleanup_error_ struct dh_error *err = NULL;

    memset(ret, 0, sizeof(*ret));
    if (dh_dockerconfig_parse("t.json", doc, strlen(doc), &ret->c, &err) < 0) {
        printf("# %s\n", err->msg);
        return -1;
    }
    dh_prune_plan(ret->c, o, &fake_ops, f, &ret->r);
    return 0;
}

static void run_release(struct run *r)
{
    dh_prune_result_release(&r->r);
    dh_dockerconfig_free(r->c);
}

/* The action on key in section, or NULL. */
static const struct dh_prune_action *find(const struct run *r, enum dh_prune_section sec,
                                          const char *key)
{
    size_t i;

    for (i = 0; i < r->r.n_actions; i++)
        if (r->r.actions[i].section == sec && !strcmp(r->r.actions[i].key, key))
            return &r->r.actions[i];
    return NULL;
}

static bool removed(const struct run *r, const char *key, enum dh_prune_rule rule)
{
    const struct dh_prune_action *a = find(r, DH_PRUNE_AUTHS, key);

    return a && a->remove && a->rule == rule;
}

static char *serialize(struct dh_dockerconfig *c)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1 << 24);
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_dockerconfig_serialize(c, &b, &err) < 0)
        return dh_xstrdup("");
    return dh_buf_steal(&b, NULL);
}

/* ---- rule 2: expired tokens ---- */

static void test_ecr_fast_path_matches_the_decoder(void)
{
    size_t n;

    /* every alignment of the password against the auth's 4-character groups */
    for (n = 0; n < 200; n++) {
        _cleanup_free_ char *pw = ecr_password(NOW + (int64_t)n, n);
        _cleanup_free_ char *auth = ecr_auth(NOW + (int64_t)n, n);
        int64_t slow = 0, fast = 0;

        T_ASSERT(dh_ecr_password_expiry(pw, &slow) == 0);
        T_ASSERT(dh_prune_ecr_auth_expiry(auth, &fast) == 0);
        T_EQ_INT(fast, slow);
        T_EQ_INT(fast, NOW + (int64_t)n);
    }
    {
        _cleanup_free_ char *b = basic_auth("AWS", "not-a-token");
        _cleanup_free_ char *u = basic_auth("user", "eyJleHBpcmF0aW9uIjo1fQ==");
        _cleanup_free_ char *nested = NULL, *j = NULL, *up = NULL;
        int64_t e;

        T_EQ_INT(dh_prune_ecr_auth_expiry(b, &e), -1);
        T_EQ_INT(dh_prune_ecr_auth_expiry(u, &e), -1);                     /* user is not AWS */
        T_EQ_INT(dh_prune_ecr_auth_expiry("", &e), -1);                    /* too short */
        T_EQ_INT(dh_prune_ecr_auth_expiry("QVdTOmV5SnVJam94ZlE", &e), -1); /* unpadded */
        /* an "expiration" inside a nested object is not the token's */
        j = dh_base64_encode("{\"a\":{\"expiration\":5}}", 22, false);
        up = dh_xasprintf("AWS:%s", j);
        nested = dh_base64_encode(up, strlen(up), false);
        T_EQ_INT(dh_prune_ecr_auth_expiry(nested, &e), -1);
    }
}

static void test_expired_tokens(void)
{
    _cleanup_free_ char *old = ecr_auth(NOW - 1, 900), *fresh = ecr_auth(NOW + 3600, 900);
    _cleanup_free_ char *at_now = ecr_auth(NOW, 64), *mirror = ecr_auth(NOW - 60, 64);
    _cleanup_free_ char *gcr = basic_auth("oauth2accesstoken", "ya29.minted-and-expired");
    _cleanup_free_ char *gcr_live = basic_auth("oauth2accesstoken", "ya29.minted-live");
    _cleanup_free_ char *gcr_unknown = basic_auth("oauth2accesstoken", "ya29.unknown");
    _cleanup_free_ char *ecr_opaque = basic_auth("AWS", "opaque-minted");
    _cleanup_free_ char *plain = basic_auth("ci", "s3cret");
    _cleanup_free_ char *pw_old = ecr_password(NOW - 10, 40);
    _cleanup_free_ char *doc = dh_xasprintf(
            "{\"auths\": {"
            "\"111111111111.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": \"%s\"},"
            "\"222222222222.dkr.ecr.eu-west-1.amazonaws.com\": {\"auth\": \"%s\"},"
            "\"333333333333.dkr.ecr.eu-west-1.amazonaws.com\": {\"auth\": \"%s\"},"
            "\"mirror.example.com\": {\"auth\": \"%s\"},"
            "\"gcr.io\": {\"auth\": \"%s\"},"
            "\"europe-docker.pkg.dev\": {\"auth\": \"%s\"},"
            "\"us-docker.pkg.dev\": {\"auth\": \"%s\"},"
            "\"444444444444.dkr.ecr.us-west-2.amazonaws.com\": {\"auth\": \"%s\"},"
            "\"plain.example.com\": {\"auth\": \"%s\", \"x-extra\": 1},"
            "\"555555555555.dkr.ecr.us-west-2.amazonaws.com\": "
            "{\"username\": \"AWS\", \"password\": \"%s\"}"
            "}}",
            old, fresh, at_now, mirror, gcr, gcr_live, gcr_unknown, ecr_opaque, plain, pw_old);
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    json_object_set_new(f.minted, "ya29.minted-and-expired", json_integer(NOW - 5));
    json_object_set_new(f.minted, "ya29.minted-live", json_integer(NOW + 5));
    json_object_set_new(f.minted, "opaque-minted", json_integer(NOW - 100));
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(removed(&r, "111111111111.dkr.ecr.us-east-1.amazonaws.com", DH_PRUNE_EXPIRED));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "222222222222.dkr.ecr.eu-west-1.amazonaws.com"));
    /* now >= expiry is expired */
    T_ASSERT(removed(&r, "333333333333.dkr.ecr.eu-west-1.amazonaws.com", DH_PRUNE_EXPIRED));
    /* an ECR token on another host name (a mirror) */
    T_ASSERT(removed(&r, "mirror.example.com", DH_PRUNE_EXPIRED));
    /* minted by dockhand: known from the ledger */
    T_ASSERT(removed(&r, "gcr.io", DH_PRUNE_EXPIRED));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "europe-docker.pkg.dev"));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "us-docker.pkg.dev")); /* unknown expiry: kept */
    T_ASSERT(removed(&r, "444444444444.dkr.ecr.us-west-2.amazonaws.com", DH_PRUNE_EXPIRED));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "plain.example.com"));
    /* username/password fields instead of auth */
    T_ASSERT(removed(&r, "555555555555.dkr.ecr.us-west-2.amazonaws.com", DH_PRUNE_EXPIRED));
    T_EQ_INT(r.r.n_removed, 6);
    T_EQ_INT(r.r.n_entries, 10);
    {
        const struct dh_prune_action *a =
                find(&r, DH_PRUNE_AUTHS, "111111111111.dkr.ecr.us-east-1.amazonaws.com");
        T_EQ_STR(a->reason, "ECR token expired at 2027-01-15T07:59:59Z");
        T_ASSERT(strstr(find(&r, DH_PRUNE_AUTHS, "gcr.io")->reason, "minted by dockhand"));
    }
    /* no reason holds a secret */
    {
        size_t i;
        for (i = 0; i < r.r.n_actions; i++) {
            T_ASSERT(!strstr(r.r.actions[i].reason, "ya29"));
            T_ASSERT(!strstr(r.r.actions[i].reason, "AWS:"));
            T_ASSERT(!strstr(r.r.actions[i].reason, old));
        }
    }
    run_release(&r);
    fake_release(&f);
}

/* ---- rule 3: empty entries ---- */

static void test_empty_entries(void)
{
    const char *doc = "{\"auths\": {"
                      "\"gone.example\": {},"
                      "\"live.example\": {},"
                      "\"broken.example\": {},"
                      "\"https://viahost.example/v2/\": {},"
                      "\"viakey.example\": {},"
                      "\"missing.example\": {},"
                      "\"email.example\": {\"email\": \"a@b.c\"},"
                      "\"token.example\": {\"identitytoken\": \"tok\"}"
                      "},"
                      "\"credsStore\": \"dockhand\","
                      "\"credHelpers\": {\"viahost.example\": \"pass\", \"viakey.example\": "
                      "\"desktop\", \"missing.example\": \"nothere\"}}";
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    json_object_set_new(f.path, "pass", json_true());
    json_object_set_new(f.path, "desktop", json_true());
    json_object_set_new(f.store, "dockhand|live.example", json_integer(1));
    json_object_set_new(f.store, "dockhand|broken.example", json_string("cannot open store"));
    json_object_set_new(f.store, "pass|https://viahost.example/v2/", json_integer(1));
    json_object_set_new(f.store, "desktop|viakey.example", json_integer(0));
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(removed(&r, "gone.example", DH_PRUNE_EMPTY));
    T_ASSERT(
            strstr(find(&r, DH_PRUNE_AUTHS, "gone.example")->reason, "docker-credential-dockhand"));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "live.example"));
    /* a helper error keeps the entry, with the reason */
    {
        const struct dh_prune_action *a = find(&r, DH_PRUNE_AUTHS, "broken.example");
        T_REQUIRE(a);
        T_ASSERT(!a->remove);
        T_ASSERT(strstr(a->reason, "cannot open store"));
    }
    /* credHelpers by hostname, then by key, win over credsStore */
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "https://viahost.example/v2/"));
    T_ASSERT(removed(&r, "viakey.example", DH_PRUNE_EMPTY));
    /* a helper not on PATH: kept, reported; its credHelpers entry is a hint */
    T_ASSERT(find(&r, DH_PRUNE_AUTHS, "missing.example") &&
             !find(&r, DH_PRUNE_AUTHS, "missing.example")->remove);
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "missing.example") &&
             !find(&r, DH_PRUNE_CRED_HELPERS, "missing.example")->remove);
    /* no credential fields is "empty" too; an identity token is a credential */
    T_ASSERT(removed(&r, "email.example", DH_PRUNE_EMPTY));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "token.example"));
    T_EQ_INT(r.r.n_removed, 3);
    run_release(&r);

    /* No helper at all (a decoded Secret): {} means nothing. */
    T_REQUIRE(plan("{\"auths\":{\"a.io\":{},\"b.io\":{\"auth\":\"dTpw\"}}}", &f, &o, &r) == 0);
    T_ASSERT(removed(&r, "a.io", DH_PRUNE_EMPTY));
    T_EQ_INT(r.r.n_removed, 1);
    run_release(&r);
    fake_release(&f);
}

/* ---- rule 1: helpers not on PATH ---- */

static void test_missing_helpers(void)
{
    const char *doc = "{\"auths\": {\"a.io\": {}}, \"credsStore\": \"gone\", "
                      "\"credHelpers\": {\"x.io\": \"ecr-login\", \"y.io\": \"gone\", \"z.io\": "
                      "\"dockhand\", \"e.io\": \"\", \"n.io\": 5}}";
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    json_object_set_new(f.path, "ecr-login", json_true());
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    /* without --helpers: reported, nothing removed; the {} entry cannot be checked */
    T_EQ_INT(r.r.n_removed, 0);
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "y.io"));
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "z.io")); /* docker-credential-dockhand too */
    T_ASSERT(find(&r, DH_PRUNE_CREDS_STORE, "gone"));
    T_ASSERT(!find(&r, DH_PRUNE_CRED_HELPERS, "x.io"));
    T_ASSERT(!find(&r, DH_PRUNE_CRED_HELPERS, "e.io"));
    T_ASSERT(!find(&r, DH_PRUNE_CRED_HELPERS, "n.io"));
    T_ASSERT(find(&r, DH_PRUNE_AUTHS, "a.io") && !find(&r, DH_PRUNE_AUTHS, "a.io")->remove);
    run_release(&r);

    /* with --helpers: removed, and the {} entry that relied on the store goes too */
    o.helpers = true;
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "y.io")->remove);
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "z.io")->remove);
    T_ASSERT(find(&r, DH_PRUNE_CREDS_STORE, "gone")->remove);
    T_ASSERT(removed(&r, "a.io", DH_PRUNE_EMPTY));
    T_EQ_INT(r.r.n_removed, 4);
    dh_prune_apply(r.c, &r.r);
    {
        _cleanup_free_ char *out = serialize(r.c);
        T_EQ_STR(out, "{\"auths\": {}, \"credHelpers\": {\"x.io\": \"ecr-login\", \"e.io\": \"\", "
                      "\"n.io\": 5}}");
    }
    run_release(&r);
    fake_release(&f);
}

/* ---- rule 4: duplicates ---- */

static void test_duplicates(void)
{
    _cleanup_free_ char *e1 = ecr_auth(NOW + 100, 30), *e2 = ecr_auth(NOW + 200, 30);
    _cleanup_free_ char *doc = NULL;
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    json_object_set_new(f.store, "dockhand|docker.io", json_integer(1));
    json_object_set_new(f.path, "dockhand", json_true());
    /* Hub aliases: credentials over {}, then docker's own key, then the last one */
    T_REQUIRE(plan("{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"dTpw\"},"
                   "\"docker.io\": {}, \"registry-1.docker.io\": {\"auth\": \"dTpx\"},"
                   "\"https://Index.Docker.IO/v2/\": {\"auth\": \"dTpy\"}},"
                   "\"credsStore\": \"dockhand\"}",
                   &f, &o, &r) == 0);
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "https://index.docker.io/v1/"));
    T_ASSERT(removed(&r, "docker.io", DH_PRUNE_DUPLICATE));
    T_ASSERT(removed(&r, "registry-1.docker.io", DH_PRUNE_DUPLICATE));
    T_ASSERT(removed(&r, "https://Index.Docker.IO/v2/", DH_PRUNE_DUPLICATE));
    T_ASSERT(
            strstr(find(&r, DH_PRUNE_AUTHS, "docker.io")->reason, "'https://index.docker.io/v1/'"));
    run_release(&r);

    /* credentials win over a {} entry even when that one has docker's own key */
    json_object_set_new(f.store, "dockhand|https://index.docker.io/v1/", json_integer(1));
    T_REQUIRE(plan("{\"auths\": {\"docker.io\": {\"auth\": \"dTpw\"}, "
                   "\"https://index.docker.io/v1/\": {}}, \"credsStore\": \"dockhand\"}",
                   &f, &o, &r) == 0);
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "docker.io"));
    T_ASSERT(removed(&r, "https://index.docker.io/v1/", DH_PRUNE_DUPLICATE));
    run_release(&r);

    /* the latest known expiry wins over file order and the canonical key */
    doc = dh_xasprintf("{\"auths\": {\"https://1.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": "
                       "\"%s\"}, \"1.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": \"%s\"}, "
                       "\"http://1.dkr.ecr.us-east-1.amazonaws.com/x\": {\"auth\": \"%s\"}}}",
                       e2, e1, e1);
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "https://1.dkr.ecr.us-east-1.amazonaws.com"));
    T_ASSERT(removed(&r, "1.dkr.ecr.us-east-1.amazonaws.com", DH_PRUNE_DUPLICATE));
    T_ASSERT(removed(&r, "http://1.dkr.ecr.us-east-1.amazonaws.com/x", DH_PRUNE_DUPLICATE));
    run_release(&r);

    /* valid over unreadable; without other differences the last in file order */
    T_REQUIRE(plan("{\"auths\": {\"h.io\": {\"auth\": \"dTpw\"}, \"https://h.io\": {\"auth\": "
                   "\"!!!\"}, \"k.io\": {\"auth\": \"dTpw\"}, \"https://k.io\": {\"auth\": "
                   "\"dTpx\"}}}",
                   &f, &o, &r) == 0);
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "h.io"));
    T_ASSERT(removed(&r, "https://h.io", DH_PRUNE_DUPLICATE));
    T_ASSERT(removed(&r, "k.io", DH_PRUNE_DUPLICATE) == false);
    /* k.io is docker's own key for k.io, so it wins over the later https://k.io */
    T_ASSERT(removed(&r, "https://k.io", DH_PRUNE_DUPLICATE));
    run_release(&r);

    /* an expired duplicate goes as expired, the other stays alone */
    free(doc);
    free(e2);
    e2 = ecr_auth(NOW - 5, 0);
    doc = dh_xasprintf("{\"auths\": {\"1.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": \"%s\"}, "
                       "\"https://1.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": \"%s\"}}}",
                       e1, e2);
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(removed(&r, "https://1.dkr.ecr.us-east-1.amazonaws.com", DH_PRUNE_EXPIRED));
    T_EQ_INT(r.r.n_removed, 1);
    run_release(&r);
    fake_release(&f);
}

/* ---- rule 5: unused ---- */

static void test_unused(void)
{
    const char *doc = "{\"auths\": {\"old.io\": {}, \"new.io\": {}, \"never.io\": {},"
                      "\"inline.io\": {\"auth\": \"dTpw\"}, \"other.io\": {}},"
                      "\"credsStore\": \"dockhand\","
                      "\"credHelpers\": {\"helper-old.io\": \"dockhand\", \"other.io\": \"pass\","
                      "\"helper-new.io\": \"dockhand\"}}";
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    json_object_set_new(f.path, "pass", json_true());
    json_object_set_new(f.path, "dockhand", json_true());
    json_object_set_new(f.store, "dockhand|old.io", json_integer(1));
    json_object_set_new(f.store, "dockhand|new.io", json_integer(1));
    json_object_set_new(f.store, "dockhand|never.io", json_integer(1));
    json_object_set_new(f.store, "pass|other.io", json_integer(1));
    json_object_set_new(f.used, "old.io", json_integer(NOW - 31 * 86400));
    json_object_set_new(f.used, "new.io", json_integer(NOW - 86400));
    json_object_set_new(f.used, "helper-old.io", json_integer(NOW - 90 * 86400));
    json_object_set_new(f.used, "helper-new.io", json_integer(NOW - 3600));
    json_object_set_new(f.used, "other.io", json_integer(NOW - 365 * 86400));

    /* off by default */
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_removed, 0);
    T_EQ_INT(r.r.n_unknown_usage, 0);
    run_release(&r);

    T_REQUIRE(dh_prune_parse_duration("30d", &o.older_than, NULL) == 0);
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_ASSERT(removed(&r, "old.io", DH_PRUNE_UNUSED));
    T_ASSERT(strstr(find(&r, DH_PRUNE_AUTHS, "old.io")->reason, "31d"));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "new.io"));
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "never.io")); /* no record: kept, counted */
    T_ASSERT(find(&r, DH_PRUNE_CRED_HELPERS, "helper-old.io") &&
             find(&r, DH_PRUNE_CRED_HELPERS, "helper-old.io")->rule == DH_PRUNE_UNUSED);
    T_ASSERT(!find(&r, DH_PRUNE_CRED_HELPERS, "helper-new.io"));
    /* served by another helper: dockhand cannot know */
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "other.io"));
    /* never.io and inline.io (its helper is the credsStore dockhand) have no record */
    T_EQ_INT(r.r.n_unknown_usage, 2);
    T_EQ_INT(r.r.n_removed, 2);
    run_release(&r);
    fake_release(&f);
}

/* ---- unreadable, legacy, apply ---- */

static void test_unreadable_and_odd_shapes(void)
{
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    T_REQUIRE(plan("{\"auths\": {\"bad.io\": {\"auth\": \"%%%%\"}, \"nocolon.io\": {\"auth\": "
                   "\"YWJj\"}, \"str.io\": \"x\", \"arr.io\": [], \"nul.io\": null},"
                   "\"credHelpers\": [1], \"credsStore\": 7}",
                   &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_removed, 0);
    T_ASSERT(find(&r, DH_PRUNE_AUTHS, "bad.io") &&
             find(&r, DH_PRUNE_AUTHS, "bad.io")->rule == DH_PRUNE_UNREADABLE);
    T_ASSERT(find(&r, DH_PRUNE_AUTHS, "nocolon.io") &&
             !find(&r, DH_PRUNE_AUTHS, "nocolon.io")->remove);
    T_ASSERT(!find(&r, DH_PRUNE_AUTHS, "str.io"));
    T_EQ_INT(r.r.n_entries, 2);
    run_release(&r);

    /* "auths" not an object, or absent */
    T_REQUIRE(plan("{\"auths\": 5, \"credsStore\": \"\"}", &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_actions, 0);
    run_release(&r);
    T_REQUIRE(plan("{}", &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_actions, 0);
    run_release(&r);

    /* removing the credsStore must not turn a config.json into a legacy .dockercfg */
    o.helpers = true;
    T_REQUIRE(plan("{\"credsStore\": \"gone\", \"x-tool\": {\"a\": {}}}", &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_removed, 1);
    dh_prune_apply(r.c, &r.r);
    T_ASSERT(!dh_dockerconfig_is_legacy(r.c));
    {
        _cleanup_free_ char *out = serialize(r.c);
        /* {"a": {}} is not an auth entry, so the file never looked legacy: nothing added. */
        T_EQ_STR(out, "{\"x-tool\": {\"a\": {}}}");
    }
    run_release(&r);
    o.helpers = false;

    /* a legacy .dockercfg: the entries at the top level, no helpers */
    {
        _cleanup_free_ char *old = ecr_auth(NOW - 1, 10);
        _cleanup_free_ char *doc = dh_xasprintf(
                "{\"1.dkr.ecr.us-east-1.amazonaws.com\": {\"auth\": \"%s\", \"email\": \"\"},"
                " \"keep.io\": {\"auth\": \"dTpw\", \"email\": \"e\"}, \"empty.io\": {}}",
                old);
        T_REQUIRE(plan(doc, &f, &o, &r) == 0);
        T_ASSERT(removed(&r, "1.dkr.ecr.us-east-1.amazonaws.com", DH_PRUNE_EXPIRED));
        T_ASSERT(removed(&r, "empty.io", DH_PRUNE_EMPTY));
        dh_prune_apply(r.c, &r.r);
        {
            _cleanup_free_ char *out = serialize(r.c);
            T_EQ_STR(out, "{\"keep.io\": {\"auth\": \"dTpw\", \"email\": \"e\"}}");
        }
        run_release(&r);
    }
    fake_release(&f);
}

static void test_apply_keeps_everything_else(void)
{
    const char *doc = "{\n\t\"auths\": {\n\t\t\"a.io\": {\n\t\t\t\"auth\": \"dTpw\",\n"
                      "\t\t\t\"x-note\": \"keep \\u003cme\\u003e\"\n\t\t},\n\t\t\"gone.io\": {},\n"
                      "\t\t\"b.io\": {\n\t\t\t\"auth\": \"dTpx\"\n\t\t}\n\t},\n"
                      "\t\"HttpHeaders\": {\n\t\t\"User-Agent\": \"x\"\n\t},\n"
                      "\t\"psFormat\": \"table {{.ID}}\",\n\t\"zz\": [\n\t\t1,\n\t\ttrue\n\t]\n}";
    const char *want = "{\n\t\"auths\": {\n\t\t\"a.io\": {\n\t\t\t\"auth\": \"dTpw\",\n"
                       "\t\t\t\"x-note\": \"keep \\u003cme\\u003e\"\n\t\t},\n"
                       "\t\t\"b.io\": {\n\t\t\t\"auth\": \"dTpx\"\n\t\t}\n\t},\n"
                       "\t\"HttpHeaders\": {\n\t\t\"User-Agent\": \"x\"\n\t},\n"
                       "\t\"psFormat\": \"table {{.ID}}\",\n\t\"zz\": [\n\t\t1,\n\t\ttrue\n\t]\n}";
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    fake_init(&f);
    T_REQUIRE(plan(doc, &f, &o, &r) == 0);
    T_EQ_INT(r.r.n_removed, 1);
    T_ASSERT(!dh_dockerconfig_changed(r.c)); /* planning edits nothing */
    dh_prune_apply(r.c, &r.r);
    T_ASSERT(dh_dockerconfig_changed(r.c));
    {
        _cleanup_free_ char *out = serialize(r.c);
        T_EQ_STR(out, want);
    }
    run_release(&r);
    fake_release(&f);
}

static void test_helpers_asked_once(void)
{
    struct dh_prune_options o = {.now = NOW};
    struct fake f;
    struct run r;

    /* {} entries ask the helper (once each); entries with credentials never do */
    fake_init(&f);
    json_object_set_new(f.path, "pass", json_true());
    T_REQUIRE(plan("{\"auths\": {\"a.io\": {}, \"b.io\": {}, \"c.io\": {\"auth\": \"dTpw\"}},"
                   "\"credsStore\": \"pass\"}",
                   &f, &o, &r) == 0);
    T_EQ_INT(f.store_calls, 2);
    run_release(&r);
    fake_release(&f);
}

/* ---- durations ---- */

static void test_durations(void)
{
    int64_t s = 0;
    _cleanup_error_ struct dh_error *err = NULL;

    T_ASSERT(dh_prune_parse_duration("30d", &s, NULL) == 0 && s == 30 * 86400);
    T_ASSERT(dh_prune_parse_duration("12h", &s, NULL) == 0 && s == 12 * 3600);
    T_ASSERT(dh_prune_parse_duration("1h30m", &s, NULL) == 0 && s == 5400);
    T_ASSERT(dh_prune_parse_duration("1.5h", &s, NULL) == 0 && s == 5400);
    T_ASSERT(dh_prune_parse_duration("2d12h", &s, NULL) == 0 && s == 216000);
    T_ASSERT(dh_prune_parse_duration("90s", &s, NULL) == 0 && s == 90);
    T_ASSERT(dh_prune_parse_duration("1500ms", &s, NULL) == 0 && s == 1);
    T_ASSERT(dh_prune_parse_duration("720h0m0s", &s, NULL) == 0 && s == 720 * 3600);
    T_ASSERT(dh_prune_parse_duration(".5m", &s, NULL) == 0 && s == 30);
    T_ASSERT(dh_prune_parse_duration("3000000000ns", &s, NULL) == 0 && s == 3);
    T_ASSERT(dh_prune_parse_duration("2\xc2\xb5s", &s, &err) < 0); /* under a second */
    dh_error_free(&err);
    T_ASSERT(dh_prune_parse_duration("30", &s, &err) < 0);
    T_EQ_STR(err->msg, "invalid duration '30' (e.g. 30d, 12h, 1h30m)");
    dh_error_free(&err);
    T_ASSERT(dh_prune_parse_duration("", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("-1h", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("1x", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("h", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("1h ", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("0s", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("1e3s", &s, NULL) < 0);
    T_ASSERT(dh_prune_parse_duration("99999999999999999999d", &s, &err) < 0);
    T_EQ_INT(err->status, ERANGE);
}

/* ---- usage records and the ledger ---- */

static void test_usage_records(void)
{
    _cleanup_free_ char *state = dh_xasprintf("%s/state", tmpdir);
    _cleanup_free_ char *dir = NULL;
    int64_t t = 0, before = (int64_t)time(NULL);

    setenv("XDG_STATE_HOME", state, 1);
    T_REQUIRE(dh_usage_state_dir(&dir, NULL) == 0);
    T_ASSERT(!strcmp(dir + strlen(state), "/dockhand"));
    T_EQ_INT(dh_usage_last_used("registry.example.com", &t), 0);
    dh_usage_record("https://registry.example.com/v2/");
    T_EQ_INT(dh_usage_last_used("registry.example.com", &t), 1);
    T_ASSERT(t >= before && t <= (int64_t)time(NULL));
    /* Hub aliases are one registry; ports are not */
    dh_usage_record("docker.io");
    T_EQ_INT(dh_usage_last_used("https://index.docker.io/v1/", &t), 1);
    T_EQ_INT(dh_usage_last_used("registry.example.com:5000", &t), 0);
    /* a record is refreshed by the next use */
    {
        _cleanup_free_ char *seen = dh_xasprintf("%s/dockhand/seen", state);
        _cleanup_free_ char *cmd = dh_xasprintf(
                "touch -d @1000000000 '%s'/* && test $(ls '%s' | wc -l) = 2", seen, seen);
        T_REQUIRE(system(cmd) == 0);
        T_EQ_INT(dh_usage_last_used("registry.example.com", &t), 1);
        T_EQ_INT(t, 1000000000);
        dh_usage_record("registry.example.com");
        T_EQ_INT(dh_usage_last_used("registry.example.com", &t), 1);
        T_ASSERT(t >= before);
    }
    /* an unwritable state directory never fails the caller */
    setenv("XDG_STATE_HOME", "/proc/no-such-dir", 1);
    dh_usage_record("x.io");
    T_EQ_INT(dh_usage_last_used("x.io", &t), 0);
    setenv("XDG_STATE_HOME", state, 1);
}

static void test_minted_ledger(void)
{
    _cleanup_free_ char *state = dh_xasprintf("%s/state2", tmpdir);
    _cleanup_free_ char *cache = dh_xasprintf("%s/cache", tmpdir);
    _cleanup_free_ char *ledger = dh_xasprintf("%s/dockhand/minted.json", state);
    _cleanup_minted_ struct dh_minted *m = NULL;
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT(1 << 20);
    int64_t now = (int64_t)time(NULL), e = 0;
    struct stat st;

    setenv("XDG_STATE_HOME", state, 1);
    setenv("XDG_CACHE_HOME", cache, 1);
    /* nothing yet */
    T_REQUIRE(dh_minted_load(&m, NULL) == 0);
    T_EQ_INT(dh_minted_count(m), 0);
    T_EQ_INT(dh_minted_find(m, "t1", &e), 0);
    dh_minted_free(m);
    m = NULL;

    T_REQUIRE(dh_minted_add("https://gcr.io", "ya29.secret-one", now + 3600, now, NULL) == 0);
    T_REQUIRE(dh_minted_add("https://1.dkr.ecr.us-east-1.amazonaws.com", "ecr-two", now - 10, now,
                            NULL) == 0);
    /* 30 days after its expiry an entry is dropped at the next write */
    T_REQUIRE(dh_minted_add("https://old.io", "old", now - DH_MINTED_KEEP_SECONDS - 1, now - 5,
                            NULL) == 0);
    T_REQUIRE(dh_minted_add("https://gcr.io", "ya29.secret-one", now + 3600, now, NULL) == 0);
    T_REQUIRE(stat(ledger, &st) == 0);
    T_EQ_INT(st.st_mode & 0777, 0600);
    T_REQUIRE(dh_read_file(ledger, &raw, NULL) == 0);
    T_ASSERT(!strstr(raw.data, "ya29")); /* hashes only */
    T_ASSERT(!strstr(raw.data, "ecr-two"));
    T_ASSERT(!strstr(raw.data, "old.io"));
    T_ASSERT(strstr(raw.data, "\"registry\":\"https://gcr.io\""));

    /* a token the cache holds (minted before the ledger existed) */
    {
        _cleanup_free_ char *cmd = dh_xasprintf(
                "mkdir -p '%s/dockhand/tokens' && printf '%%s' '{\"version\":1,\"username\":"
                "\"AWS\",\"secret\":\"cached-three\",\"source\":\"s\",\"issued_at\":1,"
                "\"expires_at\":1234}' > '%s/dockhand/tokens/ecr-abc.json' && printf 'junk' > "
                "'%s/dockhand/tokens/ecr-bad.json'",
                cache, cache, cache);
        T_REQUIRE(system(cmd) == 0);
    }
    T_REQUIRE(dh_minted_load(&m, NULL) == 0);
    T_EQ_INT(dh_minted_count(m), 3);
    T_EQ_INT(dh_minted_find(m, "ya29.secret-one", &e), 1);
    T_EQ_INT(e, now + 3600);
    T_EQ_INT(dh_minted_find(m, "ecr-two", &e), 1);
    T_EQ_INT(e, now - 10);
    T_EQ_INT(dh_minted_find(m, "cached-three", &e), 1);
    T_EQ_INT(e, 1234);
    T_EQ_INT(dh_minted_find(m, "old", &e), 0);
    T_EQ_INT(dh_minted_find(m, "ya29.secret-on", &e), 0);
    T_EQ_INT(dh_minted_find(NULL, "ya29.secret-one", &e), 0);

    /* a malformed ledger is ignored (and replaced at the next write) */
    {
        _cleanup_free_ char *cmd = dh_xasprintf("printf '[1,2' > '%s'", ledger);
        struct dh_minted *m2 = NULL;

        T_REQUIRE(system(cmd) == 0);
        T_REQUIRE(dh_minted_load(&m2, NULL) == 0);
        T_EQ_INT(dh_minted_count(m2), 1); /* the cached one */
        dh_minted_free(m2);
        dh_minted_record("https://gcr.io", "ya29.new", now + 60);
        T_REQUIRE(dh_minted_load(&m2, NULL) == 0);
        T_EQ_INT(dh_minted_count(m2), 2);
        dh_minted_free(m2);
    }
}

int main(void)
{
    dh_json_use_wiping_alloc();
    if (t_isolate(tmpdir, sizeof(tmpdir), "dh-prune") < 0)
        return 1;
    T_RUN(test_ecr_fast_path_matches_the_decoder);
    T_RUN(test_expired_tokens);
    T_RUN(test_empty_entries);
    T_RUN(test_missing_helpers);
    T_RUN(test_duplicates);
    T_RUN(test_unused);
    T_RUN(test_unreadable_and_odd_shapes);
    T_RUN(test_apply_keeps_everything_else);
    T_RUN(test_helpers_asked_once);
    T_RUN(test_durations);
    T_RUN(test_usage_records);
    T_RUN(test_minted_ledger);
    t_rmrf(tmpdir);
    return t_done();
}

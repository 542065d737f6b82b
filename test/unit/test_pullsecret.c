/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/pullsecret.h"
#include "dockhand/base64.h"
#include "dockhand/config.h"
#include "dockhand/store.h"
#include "t.h"

/* The payload for p, or NULL (the error printed). Caller frees. */
static char *payload(const struct dh_pullsecret *p)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX);
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_pullsecret_dockerconfigjson(p, &out, &err) < 0) {
        printf("# %s\n", err->msg);
        return NULL;
    }
    return dh_buf_steal(&out, NULL);
}

/* Expected bytes were produced by kubectl v1.32.4:
   kubectl create secret docker-registry n --docker-server=S --docker-username=U
   --docker-password=P [--docker-email=E] --dry-run=client -o json, data decoded. */
static void test_payload_matches_kubectl(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "a&b<c>\"/\xc3\xa9", "e@x", 0);
    a = payload(&p);
    T_EQ_STR(a, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"a\\u0026b\\u003cc\\u003e\\\"/\xc3\xa9\",\"email\":\"e@x\","
                "\"auth\":\"dToxOmEmYjxjPiIvw6k=\"}}}");
    dh_pullsecret_release(&p);

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "p:w\\x", "e@x", 0);
    b = payload(&p);
    T_EQ_STR(b, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"p:w\\\\x\",\"email\":\"e@x\",\"auth\":\"dToxOnA6d1x4\"}}}");
    dh_pullsecret_release(&p);

    dh_pullsecret_add(&p, "https://r.example.com:5000/v2/", "u:1", "tab\there\x01", "e@x", 0);
    c = payload(&p);
    T_EQ_STR(c, "{\"auths\":{\"https://r.example.com:5000/v2/\":{\"username\":\"u:1\","
                "\"password\":\"tab\\there\\u0001\",\"email\":\"e@x\","
                "\"auth\":\"dToxOnRhYgloZXJlAQ==\"}}}");
    dh_pullsecret_release(&p);

    /* No email: the key is omitted (omitempty), as in the reference notes. */
    dh_pullsecret_add(&p, "S", "U", "P", NULL, 0);
    d = payload(&p);
    T_EQ_STR(d, "{\"auths\":{\"S\":{\"username\":\"U\",\"password\":\"P\",\"auth\":\"VTpQ\"}}}");
    dh_pullsecret_release(&p);
}

static void test_payload_order_and_replace(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *a = NULL;

    /* Go sorts map keys by bytes; a repeated registry replaces the earlier entry. */
    dh_pullsecret_add(&p, "z.example", "u", "1", NULL, 2000);
    dh_pullsecret_add(&p, "A.example", "u", "2", "", 0);
    dh_pullsecret_add(&p, "z.example", "v", "3", NULL, 1000);
    dh_pullsecret_add(&p, "\xc3\xa9.example", "w", "4", NULL, 1500);
    T_EQ_INT(p.n_entries, 3);
    T_EQ_INT(p.expires_at, 1000);
    a = payload(&p);
    T_EQ_STR(a, "{\"auths\":{\"A.example\":{\"username\":\"u\",\"password\":\"2\","
                "\"auth\":\"dToy\"},\"z.example\":{\"username\":\"v\",\"password\":\"3\","
                "\"auth\":\"djoz\"},\"\xc3\xa9.example\":{\"username\":\"w\",\"password\":\"4\","
                "\"auth\":\"dzo0\"}}}");
    dh_pullsecret_release(&p);
    T_EQ_INT(p.n_entries, 0);
    T_ASSERT(p.entries == NULL);
}

static char *err_of_name(const char *name, bool ns)
{
    struct dh_error *err = NULL;
    char *msg;
    int r = ns ? dh_pullsecret_check_namespace(name, &err) : dh_pullsecret_check_name(name, &err);

    if (r == 0)
        return NULL;
    msg = dh_xstrdup(err->msg);
    dh_error_free(&err);
    return msg;
}

static void test_names(void)
{
    static const char *const good_names[] = {"a",    "regcred", "a-b.c-d", "123",
                                             "0x1f", "a.b.c",   "x1"};
    static const char *const bad_names[] = {"",   "A",  "a_b", "-a",  "a-", "a..b",
                                            ".a", "a.", "a/b", "a b", "é",  "a\n"};
    static const char *const good_ns[] = {"default", "team-a", "123", "a"};
    static const char *const bad_ns[] = {"", "a.b", "Team", "-a", "a-", "a_b"};
    char long_name[300];
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(good_names); i++) {
        _cleanup_free_ char *m = err_of_name(good_names[i], false);

        if (m)
            T_FAIL_AT("name '%s' refused: %s", good_names[i], m);
    }
    for (i = 0; i < DH_ARRAY_SIZE(bad_names); i++) {
        _cleanup_free_ char *m = err_of_name(bad_names[i], false);

        if (!m)
            T_FAIL_AT("name '%s' accepted", bad_names[i]);
        else if (strncmp(m, "metadata.name: ", 15) != 0)
            T_FAIL_AT("message for '%s': %s", bad_names[i], m);
    }
    for (i = 0; i < DH_ARRAY_SIZE(good_ns); i++) {
        _cleanup_free_ char *m = err_of_name(good_ns[i], true);

        if (m)
            T_FAIL_AT("namespace '%s' refused: %s", good_ns[i], m);
    }
    for (i = 0; i < DH_ARRAY_SIZE(bad_ns); i++) {
        _cleanup_free_ char *m = err_of_name(bad_ns[i], true);

        if (!m)
            T_FAIL_AT("namespace '%s' accepted", bad_ns[i]);
        else if (strncmp(m, "metadata.namespace: ", 20) != 0)
            T_FAIL_AT("message for '%s': %s", bad_ns[i], m);
    }
    {
        _cleanup_free_ char *m = err_of_name("Bad_Name", false);

        T_EQ_STR(m, "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain "
                    "must consist of lower case alphanumeric characters, '-' or '.', and must "
                    "start and end with an alphanumeric character (e.g. 'example.com', regex used "
                    "for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    }
    /* Lengths: 253 for a name (63 per label is not a subdomain rule here), 63 for a namespace. */
    memset(long_name, 'a', sizeof(long_name));
    long_name[253] = '\0';
    {
        _cleanup_free_ char *ok = err_of_name(long_name, false);
        _cleanup_free_ char *ns64 = NULL, *ns63 = NULL, *n254 = NULL;

        T_ASSERT(ok == NULL);
        long_name[253] = 'a';
        long_name[254] = '\0';
        n254 = err_of_name(long_name, false);
        T_ASSERT(n254 && strstr(n254, "must be no more than 253 characters"));
        long_name[63] = '\0';
        ns63 = err_of_name(long_name, true);
        T_ASSERT(ns63 == NULL);
        long_name[63] = 'a';
        long_name[64] = '\0';
        ns64 = err_of_name(long_name, true);
        T_ASSERT(ns64 && strstr(ns64, "must be no more than 63 characters"));
    }
}

static void test_object(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_buf_ struct dh_buf dec = DH_BUF_INIT_SECRET(1 << 16);
    json_t *o = NULL;
    _cleanup_free_ char *keys = NULL, *pl = NULL;
    const char *b64;

    dh_pullsecret_add(&p, "r.example", "u", "p", NULL, 0);
    T_EQ_INT(dh_pullsecret_object(&p, "regcred", "team-a", &o, &err), 0);
    T_REQUIRE(o);
    /* kubectl's -o json key order. */
    {
        const char *k;
        json_t *v;
        struct dh_buf kb = DH_BUF_INIT(256);

        json_object_foreach (o, k, v) {
            (void)v;
            dh_buf_printf(&kb, NULL, "%s,", k);
        }
        keys = dh_buf_steal(&kb, NULL);
    }
    T_EQ_STR(keys, "kind,apiVersion,metadata,data,type,");
    T_EQ_STR(json_string_value(json_object_get(o, "kind")), "Secret");
    T_EQ_STR(json_string_value(json_object_get(o, "apiVersion")), "v1");
    T_EQ_STR(json_string_value(json_object_get(o, "type")), "kubernetes.io/dockerconfigjson");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "regcred");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace")),
             "team-a");
    T_EQ_STR(json_string_value(
                     json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
                                     "app.kubernetes.io/managed-by")),
             "dockhand");
    T_ASSERT(!json_object_get(json_object_get(o, "metadata"), "annotations"));
    b64 = json_string_value(json_object_get(json_object_get(o, "data"), ".dockerconfigjson"));
    T_REQUIRE(b64);
    T_EQ_INT(dh_base64_decode(b64, strlen(b64), &dec, &err), 0);
    pl = payload(&p);
    T_EQ_STR(dec.data, pl);
    json_decref(o);
    o = NULL;

    /* No namespace: omitted; an expiry: the annotation, RFC 3339 UTC. */
    dh_pullsecret_add(&p, "ecr.example", "AWS", "tok", NULL, 1795449600);
    T_EQ_INT(dh_pullsecret_object(&p, "x", NULL, &o, &err), 0);
    T_REQUIRE(o);
    T_ASSERT(!json_object_get(json_object_get(o, "metadata"), "namespace"));
    T_EQ_STR(json_string_value(
                     json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"),
                                     "dockhand.io/expires-at")),
             "2026-11-23T16:00:00Z");
    json_decref(o);
    o = NULL;

    /* Bad names are refused before anything is built. */
    T_EQ_INT(dh_pullsecret_object(&p, "Bad", NULL, &o, &err), -1);
    T_ASSERT(o == NULL);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    T_EQ_INT(dh_pullsecret_object(&p, "ok", "Bad", &o, &err), -1);
    T_ASSERT(err && strstr(err->msg, "metadata.namespace"));
    dh_pullsecret_release(&p);
}

static void test_email_and_limits(void)
{
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *a = NULL, *b = NULL, *big = dh_xmalloc(DH_PULLSECRET_MAX + 1);
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX);
    _cleanup_error_ struct dh_error *err = NULL;

    dh_pullsecret_add(&p, "r", "u", "p", "old@x", 0);
    dh_pullsecret_set_email(&p, "e@x");
    a = payload(&p);
    T_EQ_STR(a, "{\"auths\":{\"r\":{\"username\":\"u\",\"password\":\"p\",\"email\":\"e@x\","
                "\"auth\":\"dTpw\"}}}");
    dh_pullsecret_set_email(&p, "");
    b = payload(&p);
    T_EQ_STR(b, "{\"auths\":{\"r\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"dTpw\"}}}");
    /* Too large: E2BIG, a clear message, the buffer unchanged. */
    memset(big, 'x', DH_PULLSECRET_MAX);
    big[DH_PULLSECRET_MAX] = '\0';
    dh_pullsecret_add(&p, "r", "u", big, NULL, 0);
    T_EQ_INT(dh_pullsecret_dockerconfigjson(&p, &out, &err), -1);
    T_ASSERT(err && err->status == E2BIG && strstr(err->msg, "too large"));
    T_EQ_INT(out.len, 0);
    dh_pullsecret_release(&p);
}

/* dh_pullsecret_resolve against a real file store in a private HOME. */
static void test_resolve(void)
{
    char dir[128];
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_pullsecret p = {0};
    _cleanup_free_ char *pl = NULL;
    const char *regs[] = {"b.example:5000", "a.example", "b.example:5000"};
    const char *missing[] = {"a.example", "nothing.example"};
    const char *idt[] = {"idt.example"};

    T_REQUIRE(t_isolate(dir, sizeof(dir), "test-pullsecret") == 0);
    T_REQUIRE(dh_config_load(&cfg, &err) == 0);
    {
        _cleanup_store_ struct dh_store *s = NULL;
        _cleanup_cred_ struct dh_cred *a = dh_cred_new("a.example", "ua", "pa:&");
        _cleanup_cred_ struct dh_cred *b = dh_cred_new("b.example:5000", "ub", "pb");
        _cleanup_cred_ struct dh_cred *t = dh_cred_new("idt.example", "<token>", "rt");

        T_REQUIRE(dh_store_open_for_call(cfg, &s, &err) == 0);
        T_REQUIRE(s->ops->store(s, a, &err) == 0);
        T_REQUIRE(s->ops->store(s, b, &err) == 0);
        T_REQUIRE(s->ops->store(s, t, &err) == 0);
    }
    T_EQ_INT(dh_pullsecret_resolve(cfg, regs, 3, &p, &err), 0);
    T_EQ_INT(p.n_entries, 2);
    T_EQ_INT(p.expires_at, 0);
    pl = payload(&p);
    T_EQ_STR(pl, "{\"auths\":{\"a.example\":{\"username\":\"ua\",\"password\":\"pa:\\u0026\","
                 "\"auth\":\"dWE6cGE6Jg==\"},\"b.example:5000\":{\"username\":\"ub\","
                 "\"password\":\"pb\",\"auth\":\"dWI6cGI=\"}}}");
    dh_pullsecret_release(&p);

    /* A registry without credentials is an error naming it; nothing is returned. */
    T_EQ_INT(dh_pullsecret_resolve(cfg, missing, 2, &p, &err), -1);
    T_ASSERT(err && err->status == ENOENT);
    T_EQ_STR(err ? err->msg : NULL, "no credentials for 'nothing.example'");
    T_EQ_INT(p.n_entries, 0);
    T_ASSERT(p.entries == NULL);
    dh_error_free(&err);
    /* An identity token cannot make a pull secret. */
    T_EQ_INT(dh_pullsecret_resolve(cfg, idt, 1, &p, &err), -1);
    T_ASSERT(err && strstr(err->msg, "identity token") && !strstr(err->msg, "rt'"));
    dh_error_free(&err);
    T_EQ_INT(dh_pullsecret_resolve(cfg, idt, 0, &p, &err), -1);
    T_ASSERT(t_rmrf(dir) == 0);
}

int main(void)
{
    dh_json_use_wiping_alloc();
    T_RUN(test_payload_matches_kubectl);
    T_RUN(test_payload_order_and_replace);
    T_RUN(test_names);
    T_RUN(test_object);
    T_RUN(test_email_and_limits);
    T_RUN(test_resolve);
    return t_done();
}

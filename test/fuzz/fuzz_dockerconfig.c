/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for config.json handling (src/dockerconfig.c) and the prune rules
 * (src/prune.c):
 *  - parse: fails with one error and no document, or gives a document that
 *    serialises, re-parses to an equal document, and serialises to the same bytes
 *    again (a fixed point); an unedited document is not "changed";
 *  - the prune rules with a deterministic fake context (helpers on PATH, store
 *    answers, usage records and minted tokens derived from the names): every
 *    action names a key that exists, the removal count adds up, applying removes
 *    exactly those keys, the result still serialises and re-parses, and a second
 *    plan on the result removes nothing (the rules are idempotent);
 *  - the ECR fast path agrees with the full decoder whenever both read a token;
 *  - the bytes as a duration;
 *  - the fast JSON loader (src/jsonload.c) against jansson's json_loadb: whatever it
 *    reads, jansson reads to the same values, key order and number bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/dockerconfig.h"
#include "dockhand/ecr.h"
#include "dockhand/jsonload.h"
#include "dockhand/mem.h"
#include "dockhand/prune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NOW ((int64_t)1800000000)

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int fake_store_has(void *arg, const char *helper, const char *server, struct dh_error **err)
{
    unsigned h = hash(helper) ^ hash(server);

    (void)arg;
    if (h % 3 == 2)
        return dh_error_make(err, 5, "fake helper failed");
    return (int)(h % 3);
}

static bool fake_helper_exists(void *arg, const char *helper)
{
    (void)arg;
    return hash(helper) % 2 == 0;
}

static int fake_last_used(void *arg, const char *registry, int64_t *ret)
{
    unsigned h = hash(registry);

    (void)arg;
    if (h % 4 == 0)
        return 0;
    *ret = NOW - (int64_t)(h % (90 * 86400));
    return 1;
}

static int fake_minted(void *arg, const char *secret, int64_t *ret)
{
    unsigned h = hash(secret);

    (void)arg;
    if (h % 2)
        return 0;
    *ret = NOW - 43200 + (int64_t)(h % 86400);
    return 1;
}

static const struct dh_prune_ops ops = {fake_store_has, fake_helper_exists, fake_last_used,
                                        fake_minted};

static char *serialize(struct dh_dockerconfig *c, size_t *len)
{
    struct dh_buf b = DH_BUF_INIT(DH_DOCKERCONFIG_MAX);
    struct dh_error *err = NULL;

    if (dh_dockerconfig_serialize(c, &b, &err) < 0) {
        /* only documents nested too deeply for the writer may fail */
        if (!err || !err->msg)
            abort();
        dh_error_free(&err);
        dh_buf_release(&b);
        return NULL;
    }
    return dh_buf_steal(&b, len);
}

static struct dh_dockerconfig *reparse(const char *text, size_t len)
{
    struct dh_dockerconfig *c = NULL;
    struct dh_error *err = NULL;

    if (dh_dockerconfig_parse("fuzz", text, len, &c, &err) < 0)
        abort(); /* what we wrote must read back */
    return c;
}

static json_t *section(struct dh_dockerconfig *c, enum dh_prune_section s)
{
    switch (s) {
    case DH_PRUNE_AUTHS:
        return dh_dockerconfig_auths(c, false);
    case DH_PRUNE_CRED_HELPERS:
        return json_object_get(dh_dockerconfig_root(c), "credHelpers");
    case DH_PRUNE_CREDS_STORE:
        break;
    }
    return NULL;
}

static void check_ecr_paths(struct dh_dockerconfig *c)
{
    json_t *auths = dh_dockerconfig_auths(c, false);
    const char *key;
    json_t *v;

    json_object_foreach (auths, key, v) {
        const char *auth = json_string_value(json_object_get(v, "auth"));
        char *user = NULL, *pass = NULL;
        int64_t fast, slow;

        if (!auth || !*auth || dh_prune_ecr_auth_expiry(auth, &fast) < 0)
            continue;
        if (json_is_object(v) && dh_dockerconfig_entry_creds(v, &user, &pass, NULL) == 1 &&
            !strcmp(user, "AWS") && dh_ecr_password_expiry(pass, &slow) == 0 && slow != fast)
            abort();
        free(user);
        dh_str_free_wipe(pass);
    }
}

static void check_prune(const char *text, size_t len, bool helpers, int64_t older_than)
{
    struct dh_dockerconfig *c = reparse(text, len), *c2;
    struct dh_prune_options o = {.now = NOW, .helpers = helpers, .older_than = older_than};
    struct dh_prune_result r, r2;
    size_t i, removed = 0;
    char *out;
    size_t outlen;

    dh_prune_plan(c, &o, &ops, NULL, &r);
    for (i = 0; i < r.n_actions; i++) {
        const struct dh_prune_action *a = &r.actions[i];

        if (!a->key || !a->reason || !*a->reason || (unsigned)a->rule >= DH_PRUNE_N_RULES)
            abort();
        if (a->section == DH_PRUNE_CREDS_STORE) {
            const char *s =
                    json_string_value(json_object_get(dh_dockerconfig_root(c), "credsStore"));
            if (!s || strcmp(s, a->key) != 0)
                abort();
        } else if (!json_object_get(section(c, a->section), a->key)) {
            abort();
        }
        removed += a->remove;
    }
    if (removed != r.n_removed || (dh_dockerconfig_changed(c)))
        abort();
    dh_prune_apply(c, &r);
    if (r.n_removed && !dh_dockerconfig_changed(c))
        abort();
    for (i = 0; i < r.n_actions; i++) {
        const struct dh_prune_action *a = &r.actions[i];

        if (a->remove && a->section != DH_PRUNE_CREDS_STORE &&
            json_object_get(section(c, a->section), a->key))
            abort();
    }
    out = serialize(c, &outlen);
    if (out) {
        c2 = reparse(out, outlen);
        if (!json_equal(dh_dockerconfig_root(c), dh_dockerconfig_root(c2)))
            abort();
        /* idempotent: nothing more to remove */
        dh_prune_plan(c2, &o, &ops, NULL, &r2);
        if (r2.n_removed)
            abort();
        dh_prune_result_release(&r2);
        dh_dockerconfig_free(c2);
        free(out);
    }
    dh_prune_result_release(&r);
    dh_dockerconfig_free(c);
}

/* Equal values, the same key order, and the same bits for numbers (-0 is not 0). */
static bool same_json(json_t *a, json_t *b)
{
    size_t i;

    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        void *ia = json_object_iter(a), *ib = json_object_iter(b);

        for (; ia && ib; ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib))
            if (json_object_iter_key_len(ia) != json_object_iter_key_len(ib) ||
                memcmp(json_object_iter_key(ia), json_object_iter_key(ib),
                       json_object_iter_key_len(ia)) != 0 ||
                !same_json(json_object_iter_value(ia), json_object_iter_value(ib)))
                return false;
        return !ia && !ib;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (i = 0; i < json_array_size(a); i++)
            if (!same_json(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof(x)) == 0;
    }
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    default:
        return true;
    }
}

static void check_fast_loader(const uint8_t *data, size_t size, size_t flags)
{
    json_t *fast = dh_json_loadb_fast((const char *)data, size, flags);
    json_t *ref;
    json_error_t jerr;

    if (!fast)
        return;
    ref = json_loadb((const char *)data, size, flags, &jerr);
    if (!ref || !same_json(fast, ref))
        abort();
    json_decref(ref);
    json_decref(fast);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dh_json_use_wiping_alloc();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_dockerconfig *c = NULL, *c2;
    struct dh_error *err = NULL;
    char *out, *out2, *s;
    size_t len, len2;
    int64_t d;

    if (size > (1 << 20))
        return 0;
    check_fast_loader(data, size, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL);
    check_fast_loader(data, size, JSON_DECODE_INT_AS_REAL);
    if (dh_dockerconfig_parse("fuzz", (const char *)data, size, &c, &err) < 0) {
        if (c || !err || !err->msg)
            abort();
        dh_error_free(&err);
    } else {
        if (err || !c || !json_is_object(dh_dockerconfig_root(c)) || dh_dockerconfig_changed(c))
            abort();
        out = serialize(c, &len);
        if (out) {
            c2 = reparse(out, len);
            if (!json_equal(dh_dockerconfig_root(c), dh_dockerconfig_root(c2)))
                abort();
            out2 = serialize(c2, &len2);
            if (!out2 || len2 != len || memcmp(out, out2, len) != 0)
                abort();
            free(out2);
            dh_dockerconfig_free(c2);
            check_prune(out, len, false, 0);
            check_prune(out, len, true, 30 * 86400);
            free(out);
        }
        check_ecr_paths(c);
        dh_dockerconfig_free(c);
    }
    /* the bytes as a duration */
    if (size < 256) {
        s = dh_xstrndup((const char *)data, size);
        if (dh_prune_parse_duration(s, &d, &err) == 0) {
            if (d <= 0 || err)
                abort();
        } else {
            if (!err)
                abort();
            dh_error_free(&err);
        }
        free(s);
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of secret sync (src/secretsync.c) and of the kube watch reader
   (src/kube.c): durations, Secret comparison, ServiceAccount edits, list names,
   line splitting and watch events. */
#include <errno.h>
#include <string.h>

#include "dockhand/kube.h"
#include "dockhand/secretsync.h"
#include "t.h"

static void test_duration(void)
{
    long s = 0;

    T_ASSERT(dh_secretsync_parse_duration("90", &s) == 0 && s == 90);
    T_ASSERT(dh_secretsync_parse_duration("90s", &s) == 0 && s == 90);
    T_ASSERT(dh_secretsync_parse_duration("15m", &s) == 0 && s == 900);
    T_ASSERT(dh_secretsync_parse_duration("2h", &s) == 0 && s == 7200);
    T_ASSERT(dh_secretsync_parse_duration("30d", &s) == 0 && s == 30 * 86400);
    T_ASSERT(dh_secretsync_parse_duration("31d", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("0", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("-5m", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("5ms", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("m", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("", &s) < 0);
    T_ASSERT(dh_secretsync_parse_duration("99999999999999999999", &s) < 0);
}

static json_t *secret(const char *b64, const char *managed, const char *expiry)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:{}},s:s,s:{s:s}}", "apiVersion", "v1", "kind",
                          "Secret", "metadata", "name", "regcred", "labels", "type",
                          "kubernetes.io/dockerconfigjson", "data", ".dockerconfigjson", b64);
    json_t *meta = json_object_get(o, "metadata");

    if (managed)
        json_object_set_new(json_object_get(meta, "labels"), "app.kubernetes.io/managed-by",
                            json_string(managed));
    if (expiry)
        json_object_set_new(meta, "annotations",
                            json_pack("{s:s}", "dockhand.io/expires-at", expiry));
    return o;
}

static void test_secret_current(void)
{
    /* {"auths":{"r":{"username":"u","password":"p","auth":"dTpw"}}} compact, and the same
       document reformatted by another serialiser. */
    const char *compact = "eyJhdXRocyI6eyJyIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dG"
                          "giOiJkVHB3In19fQ==";
    const char *spaced = "eyAiYXV0aHMiOiB7ICJyIjogeyAiYXV0aCI6ICJkVHB3IiwgInVzZXJuYW1lIjogInUi"
                         "LCAicGFzc3dvcmQiOiAicCIgfSB9IH0=";
    const char *other = "eyJhdXRocyI6e319"; /* {"auths":{}} */
    json_t *want = secret(compact, "dockhand", "2026-01-01T00:00:00Z");
    json_t *a = secret(compact, "dockhand", "2026-01-01T00:00:00Z");
    json_t *b = secret(spaced, "dockhand", "2026-01-01T00:00:00Z");
    json_t *c = secret(other, "dockhand", "2026-01-01T00:00:00Z");
    json_t *d = secret(compact, "dockhand", "2026-01-02T00:00:00Z");
    json_t *e = secret(compact, NULL, "2026-01-01T00:00:00Z");
    json_t *f = secret(compact, "dockhand", "2026-01-01T00:00:00Z");
    json_t *g = secret("!!not base64!!", "dockhand", "2026-01-01T00:00:00Z");

    json_object_set_new(f, "type", json_string("Opaque"));
    /* Extra labels, annotations and data keys of others do not matter. */
    json_object_set_new(json_object_get(json_object_get(a, "metadata"), "labels"), "team",
                        json_string("x"));
    json_object_set_new(json_object_get(a, "data"), "extra", json_string("eA=="));
    T_ASSERT(dh_secretsync_secret_current(a, want));
    T_ASSERT(dh_secretsync_secret_current(b, want)); /* the same JSON, formatted otherwise */
    T_ASSERT(!dh_secretsync_secret_current(c, want));
    T_ASSERT(!dh_secretsync_secret_current(d, want)); /* a new expiry annotation */
    T_ASSERT(!dh_secretsync_secret_current(e, want)); /* the label is missing */
    T_ASSERT(!dh_secretsync_secret_current(f, want));
    T_ASSERT(!dh_secretsync_secret_current(g, want));
    T_ASSERT(!dh_secretsync_secret_current(NULL, want));
    json_decref(want), json_decref(a), json_decref(b), json_decref(c), json_decref(d);
    json_decref(e), json_decref(f), json_decref(g);
}

static void test_sa_add(void)
{
    json_t *sa = json_loads("{\"metadata\":{\"name\":\"default\",\"namespace\":\"n\","
                            "\"resourceVersion\":\"7\",\"managedFields\":[{}]},"
                            "\"secrets\":[{\"name\":\"tok\"}],"
                            "\"imagePullSecrets\":[{\"name\":\"b\"},{\"name\":\"a\"}]}",
                            0, NULL);
    json_t *bare = json_loads("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}", 0, NULL);
    json_t *bad = json_loads("{\"metadata\":{\"name\":\"x\"},\"imagePullSecrets\":{}}", 0, NULL);
    json_t *upd = NULL, *again = NULL;
    struct dh_error *err = NULL;
    char *s;

    T_REQUIRE(dh_secretsync_sa_add(sa, "regcred", &upd, &err) == 0);
    s = json_dumps(upd, JSON_COMPACT | JSON_SORT_KEYS);
    T_EQ_STR(s, "{\"apiVersion\":\"v1\",\"imagePullSecrets\":[{\"name\":\"b\"},{\"name\":\"a\"},"
                "{\"name\":\"regcred\"}],\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":"
                "\"default\",\"namespace\":\"n\",\"resourceVersion\":\"7\"},\"secrets\":[{"
                "\"name\":\"tok\"}]}");
    free(s);
    T_ASSERT(dh_secretsync_sa_add(upd, "regcred", &again, &err) == 1 && !again);
    T_ASSERT(dh_secretsync_sa_add(sa, "a", &again, &err) == 1);
    json_decref(upd);
    T_REQUIRE(dh_secretsync_sa_add(bare, "regcred", &upd, &err) == 0);
    s = json_dumps(json_object_get(upd, "imagePullSecrets"), JSON_COMPACT);
    T_EQ_STR(s, "[{\"name\":\"regcred\"}]");
    free(s);
    json_decref(upd);
    T_ASSERT(dh_secretsync_sa_add(bad, "regcred", &upd, &err) == -1 && err &&
             err->status == EPROTO);
    dh_error_free(&err);
    json_decref(sa), json_decref(bare), json_decref(bad);
}

static void test_item_names(void)
{
    json_t *items = json_loads("[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"B\"}},"
                               "{\"metadata\":{}},7,{\"metadata\":{\"name\":\"c-1\"}}]",
                               0, NULL);
    json_t *names = dh_secretsync_item_names(items);
    char *s = json_dumps(names, JSON_COMPACT);

    T_EQ_STR(s, "[\"a\",\"c-1\"]");
    free(s);
    json_decref(names);
    json_decref(items);
}

struct collected {
    char buf[512];
    int n;
};

static int collect(void *arg, const char *line, size_t len, struct dh_error **err)
{
    struct collected *c = arg;
    size_t used = strlen(c->buf);

    (void)err;
    snprintf(c->buf + used, sizeof(c->buf) - used, "[%.*s]", (int)len, line);
    c->n++;
    return 0;
}

static void test_lines(void)
{
    const char *stream = "one\r\ntwo\n\nthree-is-long\nfour";
    struct collected whole = {{0}, 0}, bytes = {{0}, 0};
    struct dh_kube_lines l;
    struct dh_error *err = NULL;
    size_t i;

    dh_kube_lines_init(&l, 0);
    T_ASSERT(dh_kube_lines_feed(&l, stream, strlen(stream), collect, &whole, &err) == 0);
    T_ASSERT(dh_kube_lines_finish(&l, collect, &whole, &err) == 0);
    dh_kube_lines_release(&l);
    T_EQ_STR(whole.buf, "[one][two][][three-is-long][four]");
    dh_kube_lines_init(&l, 0);
    for (i = 0; stream[i]; i++)
        T_ASSERT(dh_kube_lines_feed(&l, stream + i, 1, collect, &bytes, &err) == 0);
    T_ASSERT(dh_kube_lines_finish(&l, collect, &bytes, &err) == 0);
    dh_kube_lines_release(&l);
    T_EQ_STR(bytes.buf, whole.buf);
    /* A line over the limit is an error, whether it arrives whole or in pieces. */
    dh_kube_lines_init(&l, 8);
    T_ASSERT(dh_kube_lines_feed(&l, "12345", 5, collect, &bytes, &err) == 0);
    T_ASSERT(dh_kube_lines_feed(&l, "6789\n", 5, collect, &bytes, &err) == -1 && err &&
             err->status == E2BIG);
    dh_error_free(&err);
    dh_kube_lines_release(&l);
}

static void test_watch_events(void)
{
    enum dh_kube_event_type t;
    json_t *o = NULL;
    struct dh_error *err = NULL;
    const char *added = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n\"}}}";
    const char *bookmark = " {\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":"
                           "\"12\"}}}\r";
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (9)\","
                       "\"reason\":\"Expired\",\"code\":410}}";

    T_ASSERT(dh_kube_watch_event_parse(added, strlen(added), &t, &o, &err) == 0 &&
             t == DH_KUBE_ADDED);
    T_EQ_STR(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "n");
    json_decref(o);
    T_ASSERT(dh_kube_watch_event_parse(bookmark, strlen(bookmark), &t, &o, &err) == 0 &&
             t == DH_KUBE_BOOKMARK);
    json_decref(o);
    T_ASSERT(dh_kube_watch_event_parse("  \r", 3, &t, &o, &err) == 1);
    T_ASSERT(dh_kube_watch_event_parse(gone, strlen(gone), &t, &o, &err) == -1);
    T_REQUIRE(err != NULL);
    T_EQ_INT(err->status, DH_KUBE_E_GONE);
    T_EQ_STR(err->msg, "gone: too old resource version: 5 (9)");
    dh_error_free(&err);
    T_ASSERT(dh_kube_watch_event_parse("{\"type\":\"NEW\",\"object\":{}}", 27, &t, &o, &err) == -1);
    dh_error_free(&err);
    T_ASSERT(dh_kube_watch_event_parse("{\"object\":{}}", 13, &t, &o, &err) == -1 &&
             err->status == EPROTO);
    dh_error_free(&err);
}

int main(void)
{
    t_skip_reason = "";
    T_RUN(test_duration);
    T_RUN(test_secret_current);
    T_RUN(test_sa_add);
    T_RUN(test_item_names);
    T_RUN(test_lines);
    T_RUN(test_watch_events);
    return t_done();
}

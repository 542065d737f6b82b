/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the encrypted file store (round trips, namespaces, tampering, unknown fields,
 * locking). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/fsutil.h"
#include "dockhand/mem.h"
#include "dockhand/store.h"

#include "t.h"

static char root[64];
static int case_no;
static char *dir; /* store dir of the current case */
static struct dh_config cfg;

static void new_case(void)
{
    free(dir);
    dir = dh_xasprintf("%s/case%d", root, ++case_no);
    cfg.file_dir = dir;
    cfg.file_key_file = NULL;
}

static struct dh_store *open_ns(const char *ns)
{
    struct dh_store *s = NULL;
    struct dh_error *err = NULL;

    if (dh_store_open("file", ns, &cfg, &s, &err) < 0) {
        printf("# open: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    return s;
}

static int put(struct dh_store *s, const char *url, const char *user, const char *secret)
{
    _cleanup_cred_ struct dh_cred *c = dh_cred_new(url, user, secret);
    _cleanup_error_ struct dh_error *err = NULL;
    int r = s->ops->store(s, c, &err);

    if (r < 0)
        printf("# store: %s\n", err->msg);
    return r;
}

/* Returns the secret found for url (caller frees), or NULL. */
static char *get_secret(struct dh_store *s, const char *url)
{
    _cleanup_cred_ struct dh_cred *c = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    if (s->ops->get(s, url, &c, &err) < 0) {
        printf("# get: %s\n", err->msg);
        return NULL;
    }
    return c ? dh_xstrdup(c->secret) : NULL;
}

static char *read_text(const char *path)
{
    struct dh_buf b = DH_BUF_INIT(1 << 24);

    if (dh_read_file(path, &b, NULL) < 0)
        return NULL;
    return dh_buf_steal(&b, NULL);
}

static void test_roundtrip_and_matching(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    char *v;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    v = get_secret(s, "registry.example");
    T_ASSERT(v == NULL);
    T_EQ_INT(put(s, "registry.example:5000", "u", "p5000"), 0);
    T_EQ_INT(put(s, "docker.io", "hubuser", "hubpass"), 0);
    T_EQ_INT(put(s, "https://registry.example/v1/", "u", "p443"), 0);

    static const struct {
        const char *q, *want;
    } cases[] = {
            {"https://registry.example:5000", "p5000"},
            {"registry.example:5000/v2/", "p5000"},
            {"registry.example", "p443"},
            {"https://registry.example:443", "p443"},
            {"registry.example:5001", NULL},
            {"http://registry.example:5000", NULL},
            {"other.example", NULL},
            {"https://index.docker.io/v1/", "hubpass"},
            {"index.docker.io", "hubpass"},
            {"registry-1.docker.io", "hubpass"},
            {"garbage", NULL},
            {"ftp://registry.example", NULL},
    };
    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *got = get_secret(s, cases[i].q);
        if (!cases[i].want && got)
            T_FAIL_AT("'%s' found '%s'", cases[i].q, got);
        else if (cases[i].want)
            T_EQ_STR(got, cases[i].want);
    }
}

static void test_replace_and_list(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    json_auto_t *m = json_object();
    _cleanup_free_ char *v = NULL;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "docker.io", "a", "1"), 0);
    T_EQ_INT(put(s, "https://index.docker.io/v1/", "b", "2"), 0); /* same registry: replaces */
    T_EQ_INT(put(s, "r.example", "<token>", "tok"), 0);
    T_EQ_INT(s->ops->list(s, m, NULL), 0);
    T_EQ_INT(json_object_size(m), 2);
    T_EQ_STR(json_string_value(json_object_get(m, "https://index.docker.io/v1/")), "b");
    T_EQ_STR(json_string_value(json_object_get(m, "r.example")), "<token>");
    v = get_secret(s, "docker.io");
    T_EQ_STR(v, "2");
    T_EQ_INT(s->ops->erase(s, "registry-1.docker.io", NULL), 0);
    T_EQ_INT(s->ops->erase(s, "never.stored", NULL), 0);
    json_object_clear(m);
    T_EQ_INT(s->ops->list(s, m, NULL), 0);
    T_EQ_INT(json_object_size(m), 1);
}

static void test_namespaces_isolated(void)
{
    _cleanup_store_ struct dh_store *a = NULL, *b = NULL, *bad = NULL;
    _cleanup_free_ char *va = NULL, *vb = NULL, *vx = NULL;
    struct dh_error *err = NULL;

    new_case();
    a = open_ns("ci");
    b = open_ns("prod");
    T_REQUIRE(a && b);
    T_EQ_INT(put(a, "r.example", "u", "ci-secret"), 0);
    T_EQ_INT(put(b, "r.example", "u", "prod-secret"), 0);
    va = get_secret(a, "r.example");
    vb = get_secret(b, "r.example");
    T_EQ_STR(va, "ci-secret");
    T_EQ_STR(vb, "prod-secret");
    {
        _cleanup_store_ struct dh_store *d = open_ns("default");
        vx = get_secret(d, "r.example");
        T_ASSERT(vx == NULL);
    }
    static const char *const invalid[] = {
            "",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < DH_ARRAY_SIZE(invalid); i++) {
        T_EQ_INT(dh_store_open("file", invalid[i], &cfg, &bad, &err), -1);
        dh_error_free(&err);
    }
    T_EQ_INT(dh_store_open("nosuch", "default", &cfg, &bad, &err), -1);
    T_EQ_STR(
            err->msg,
            "unknown store 'nosuch' (known stores: file, secretservice, dir:<root>, kube[:<namespace>])");
    dh_error_free(&err);
}

static void test_files_private_and_encrypted(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_free_ char *data = NULL, *data_path = NULL, *key_path = NULL;
    struct stat st;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "r.example", "someuser", "VerySecretPassw0rd"), 0);
    data_path = dh_xasprintf("%s/default.json", dir);
    key_path = dh_xasprintf("%s/key", dir);
    T_ASSERT(stat(data_path, &st) == 0 && (st.st_mode & 0777) == 0600);
    T_ASSERT(stat(key_path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
    T_ASSERT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    data = read_text(data_path);
    T_REQUIRE(data);
    T_ASSERT(strstr(data, "VerySecretPassw0rd") == NULL);
    T_ASSERT(strstr(data, "someuser") == NULL);
    T_ASSERT(strstr(data, "\"server\": \"r.example\"") != NULL);
}

/* Replaces the first occurrence of from with to in file path. */
static int edit_file(const char *path, const char *from, const char *to)
{
    _cleanup_free_ char *text = read_text(path);
    _cleanup_free_ char *out = NULL;
    char *at;

    if (!text || !(at = strstr(text, from)))
        return -1;
    *at = '\0';
    out = dh_xasprintf("%s%s%s", text, to, at + strlen(from));
    return dh_write_file_atomic(path, out, strlen(out), 0600, false, NULL);
}

static void test_tampered_entry_isolated(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_free_ char *path = NULL, *ok = NULL, *text = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_cred_ struct dh_cred *c = NULL;
    json_auto_t *doc = NULL, *m = json_object();
    const char *data;
    char *flipped;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "good.example", "u", "good"), 0);
    T_EQ_INT(put(s, "bad.example", "u", "bad"), 0);
    path = dh_xasprintf("%s/default.json", dir);
    text = read_text(path);
    doc = json_loads(text, 0, NULL);
    data = json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "entries"), "https://bad.example"), "data"));
    T_REQUIRE(data);
    flipped = dh_xstrdup(data);
    flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
    T_EQ_INT(edit_file(path, data, flipped), 0);
    free(flipped);

    T_EQ_INT(s->ops->get(s, "bad.example", &c, &err), -1);
    T_REQUIRE(err);
    T_ASSERT(strstr(err->msg, "'bad.example'") != NULL);
    T_ASSERT(strstr(err->msg, "authentication failed") != NULL);
    ok = get_secret(s, "good.example");
    T_EQ_STR(ok, "good");
    T_EQ_INT(s->ops->list(s, m, NULL), 0);
    T_EQ_INT(json_object_size(m), 1);
    T_ASSERT(json_object_get(m, "good.example") != NULL);
    /* storing again repairs the entry */
    T_EQ_INT(put(s, "bad.example", "u", "fixed"), 0);
    {
        _cleanup_free_ char *v = get_secret(s, "bad.example");
        T_EQ_STR(v, "fixed");
    }
}

static void test_entry_moved_fails(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_free_ char *path = NULL, *p2 = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_cred_ struct dh_cred *c = NULL;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "victim.example", "u", "pw"), 0);
    path = dh_xasprintf("%s/default.json", dir);
    /* An attacker renames the entry to another registry: authentication must fail. */
    T_EQ_INT(edit_file(path, "\"https://victim.example\"", "\"https://evil.example\""), 0);
    T_EQ_INT(s->ops->get(s, "evil.example", &c, &err), -1);
    dh_error_free(&err);
    /* ... or copies the file to another namespace. */
    new_case();
    {
        _cleanup_store_ struct dh_store *a = open_ns("a"), *b = open_ns("b");
        _cleanup_free_ char *pa = dh_xasprintf("%s/a.json", dir);
        _cleanup_free_ char *text = NULL;
        T_REQUIRE(a && b);
        T_EQ_INT(put(a, "r.example", "u", "pw"), 0);
        T_EQ_INT(put(b, "other.example", "u", "x"), 0);
        text = read_text(pa);
        p2 = dh_xasprintf("%s/b.json", dir);
        T_EQ_INT(dh_write_file_atomic(p2, text, strlen(text), 0600, false, NULL), 0);
        T_EQ_INT(b->ops->get(b, "r.example", &c, &err), -1);
    }
}

static void test_unknown_fields_kept(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_free_ char *path = NULL, *text = NULL;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "r.example", "u", "pw"), 0);
    path = dh_xasprintf("%s/default.json", dir);
    T_EQ_INT(edit_file(path, "\"version\": 1,", "\"version\": 1, \"x-future\": {\"a\": [1]},"), 0);
    T_EQ_INT(edit_file(path, "\"server\": \"r.example\",",
                       "\"server\": \"r.example\", \"note\": \"n\","),
             0);
    T_EQ_INT(put(s, "r.example", "u", "pw2"), 0);
    T_EQ_INT(put(s, "s.example", "u", "pw3"), 0);
    text = read_text(path);
    T_ASSERT(strstr(text, "\"x-future\"") != NULL);
    T_ASSERT(strstr(text, "\"note\": \"n\"") != NULL);
}

static void test_corrupt_file_not_overwritten(void)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_free_ char *path = NULL, *text = NULL;
    _cleanup_cred_ struct dh_cred *c = dh_cred_new("r.example", "u", "p");
    _cleanup_error_ struct dh_error *err = NULL;

    new_case();
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(put(s, "r.example", "u", "pw"), 0);
    path = dh_xasprintf("%s/default.json", dir);
    T_EQ_INT(dh_write_file_atomic(path, "{not json", 9, 0600, false, NULL), 0);
    T_EQ_INT(s->ops->store(s, c, &err), -1);
    T_ASSERT(err && strstr(err->msg, "is not valid JSON") != NULL);
    text = read_text(path);
    T_EQ_STR(text, "{not json");
}

static void test_key_sources(void)
{
    _cleanup_free_ char *keyfile = NULL, *b64 = NULL;
    uint8_t raw[32];

    new_case();
    T_EQ_INT(dh_mkdir_p(dir, 0700, NULL), 0);
    keyfile = dh_xasprintf("%s/b64.key", dir);
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)(i * 7);
    b64 = dh_base64_encode(raw, 32, false);
    {
        _cleanup_free_ char *line = dh_xasprintf("%s\n", b64);
        T_EQ_INT(dh_write_file_atomic(keyfile, line, strlen(line), 0600, false, NULL), 0);
    }
    cfg.file_key_file = keyfile;
    {
        _cleanup_store_ struct dh_store *s = open_ns("default");
        _cleanup_free_ char *v = NULL;
        T_REQUIRE(s);
        T_EQ_INT(put(s, "r.example", "u", "pw"), 0);
        v = get_secret(s, "r.example");
        T_EQ_STR(v, "pw");
    }
    /* A wrong key cannot read the entries. */
    raw[0] ^= 1;
    free(b64);
    b64 = dh_base64_encode(raw, 32, false);
    T_EQ_INT(dh_write_file_atomic(keyfile, b64, strlen(b64), 0600, false, NULL), 0);
    {
        _cleanup_store_ struct dh_store *s = open_ns("default");
        _cleanup_cred_ struct dh_cred *c = NULL;
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(s->ops->get(s, "r.example", &c, &err), -1);
    }
    /* A malformed key file is reported. */
    T_EQ_INT(dh_write_file_atomic(keyfile, "short", 5, 0600, false, NULL), 0);
    {
        _cleanup_store_ struct dh_store *s = open_ns("default");
        _cleanup_cred_ struct dh_cred *c = NULL;
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(s->ops->get(s, "r.example", &c, &err), -1);
        T_ASSERT(err && strstr(err->msg, "must hold 32 bytes") != NULL);
    }
    /* The data file without its key: a clear error, not "not found". */
    T_REQUIRE(unlink(keyfile) == 0);
    {
        _cleanup_store_ struct dh_store *s = open_ns("default");
        _cleanup_cred_ struct dh_cred *c = NULL;
        _cleanup_error_ struct dh_error *err = NULL;
        T_EQ_INT(s->ops->get(s, "r.example", &c, &err), -1);
        T_ASSERT(err && strstr(err->msg, "is missing") != NULL);
    }
}

static void test_concurrent_writers(void)
{
    enum { N = 24 };
    pid_t pids[N];
    json_auto_t *m = json_object();
    _cleanup_store_ struct dh_store *s = NULL;

    new_case();
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        T_REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            struct dh_store *cs = open_ns("default");
            char url[64], pw[64];
            snprintf(url, sizeof(url), "r%d.example", i);
            snprintf(pw, sizeof(pw), "pw-%d", i);
            _exit(cs && put(cs, url, "u", pw) == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < N; i++) {
        int st = 0;
        T_ASSERT(waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    s = open_ns("default");
    T_REQUIRE(s);
    T_EQ_INT(s->ops->list(s, m, NULL), 0);
    T_EQ_INT(json_object_size(m), N);
    for (int i = 0; i < N; i++) {
        char url[64], pw[64];
        _cleanup_free_ char *v = NULL;
        snprintf(url, sizeof(url), "r%d.example", i);
        snprintf(pw, sizeof(pw), "pw-%d", i);
        v = get_secret(s, url);
        T_EQ_STR(v, pw);
    }
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/dh-store-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    T_RUN(test_roundtrip_and_matching);
    T_RUN(test_replace_and_list);
    T_RUN(test_namespaces_isolated);
    T_RUN(test_files_private_and_encrypted);
    T_RUN(test_tampered_entry_isolated);
    T_RUN(test_entry_moved_fails);
    T_RUN(test_unknown_fields_kept);
    T_RUN(test_corrupt_file_not_overwritten);
    T_RUN(test_key_sources);
    T_RUN(test_concurrent_writers);
    free(dir);
    if (t_rmrf(root) < 0)
        return 1;
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: config.json editing (formatting kept, Go escaping, saving, locking, key rules). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/fsutil.h"
#include "dockhand/mem.h"

#include "t.h"

static char root[64];

/* Parses doc, applies nothing, serialises: must give doc back byte for byte. */
static int roundtrip_same(const char *doc)
{
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = NULL;
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_dockerconfig_parse("t", doc, strlen(doc), &c, &err) < 0 ||
        dh_dockerconfig_serialize(c, &out, &err) < 0) {
        printf("# %s\n", err->msg);
        return 0;
    }
    if (out.len != strlen(doc) || memcmp(out.data, doc, out.len) != 0) {
        printf("# got:\n# %.*s\n", (int)out.len, out.data);
        return 0;
    }
    return !dh_dockerconfig_changed(c);
}

static void test_docker_formatting_kept(void)
{
    /* As docker/cli's Save writes it: tabs, no final newline, Go escaping. */
    T_ASSERT(roundtrip_same("{\n\t\"auths\": {\n\t\t\"https://index.docker.io/v1/\": {\n"
                            "\t\t\t\"auth\": \"dTpw\"\n\t\t},\n\t\t\"r.example\": {}\n\t},\n"
                            "\t\"credsStore\": \"desktop\",\n\t\"x-unknown\": [\n\t\t1,\n"
                            "\t\t\"a\\u003cb\\u0026c\",\n\t\tnull,\n\t\ttrue\n\t],\n"
                            "\t\"empty\": []\n}"));
    /* Two-space indent and a final newline (hand edited, python json.dump). */
    T_ASSERT(roundtrip_same("{\n  \"auths\": {\n    \"h\": {\n      \"auth\": \"x\"\n    }\n  "
                            "}\n}\n"));
    /* One line, with and without spaces. */
    T_ASSERT(roundtrip_same("{\"auths\":{\"h\":{\"auth\":\"x\"}},\"b\":[1,2]}"));
    T_ASSERT(roundtrip_same("{\"auths\": {\"h\": {\"auth\": \"x\"}}, \"b\": [1, 2]}\n"));
    T_ASSERT(roundtrip_same("{}"));
    /* Numbers as Go's encoding/json writes float64 values. */
    T_ASSERT(roundtrip_same("{\"n\": [0, -1, 1.5, 1e+21, 1e-7, 123456789012, 0.000001, "
                            "100000000000000000000, -0.25]}"));
    /* Key order kept (not sorted). */
    T_ASSERT(roundtrip_same("{\"z\":1,\"a\":2,\"m\":{\"y\":1,\"b\":2}}"));
}

static void test_edit_keeps_the_rest(void)
{
    const char *doc = "{\n\t\"auths\": {\n\t\t\"a\": {},\n\t\t\"b\": {\n\t\t\t\"auth\": \"dTpw\","
                      "\n\t\t\t\"x\": 1\n\t\t}\n\t},\n\t\"zz\": {\n\t\t\"k\": \"\\u2028\"\n\t}\n}";
    const char *want = "{\n\t\"auths\": {\n\t\t\"b\": {\n\t\t\t\"auth\": \"dTpw\","
                       "\n\t\t\t\"x\": 1\n\t\t}\n\t},\n\t\"zz\": {\n\t\t\"k\": \"\\u2028\"\n\t},"
                       "\n\t\"credHelpers\": {\n\t\t\"r\": \"dockhand\"\n\t}\n}";
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = NULL;
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    json_t *auths;

    T_REQUIRE(dh_dockerconfig_parse("t", doc, strlen(doc), &c, &err) == 0);
    auths = dh_dockerconfig_auths(c, false);
    T_REQUIRE(auths != NULL);
    json_object_del(auths, "a");
    T_ASSERT(dh_dockerconfig_changed(c));
    json_object_set_new(dh_dockerconfig_root(c), "credHelpers",
                        json_pack("{s:s}", "r", "dockhand"));
    T_REQUIRE(dh_dockerconfig_serialize(c, &out, &err) == 0);
    T_EQ_STR(out.data, want);
}

static void test_hand_written_not_rewritten(void)
{
    /* Raw "<" and an escaped "/" are valid JSON docker would write otherwise:
       unedited, the document is not changed. */
    const char *doc = "{\"auths\":{\"h<\":{\"auth\":\"a\\/b\"}}}";
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    T_REQUIRE(dh_dockerconfig_parse("t", doc, strlen(doc), &c, &err) == 0);
    T_ASSERT(!dh_dockerconfig_changed(c));
}

static void test_empty_and_invalid(void)
{
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = NULL;
    struct dh_error *err = NULL;
    const char *bad[] = {"[1]", "{\"auths\": {\"h\": {\"auth\": \"SECRETVALUE\"", "nul",
                         "{\"a\":1} x", "\"s\""};
    size_t i;

    T_REQUIRE(dh_dockerconfig_parse("t", " \n\t", 3, &c, &err) == 0);
    T_ASSERT(json_object_size(dh_dockerconfig_root(c)) == 0);
    T_ASSERT(!dh_dockerconfig_changed(c));
    T_ASSERT(dh_dockerconfig_auths(c, false) == NULL);
    T_ASSERT(dh_dockerconfig_auths(c, true) != NULL);
    T_ASSERT(dh_dockerconfig_changed(c));
    for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        struct dh_dockerconfig *x = NULL;

        T_ASSERT(dh_dockerconfig_parse("cfg.json", bad[i], strlen(bad[i]), &x, &err) < 0);
        T_ASSERT(x == NULL);
        if (err) {
            T_ASSERT(strncmp(err->msg, "cfg.json: not valid JSON", 24) == 0);
            T_ASSERT(strstr(err->msg, "SECRET") == NULL);
            T_ASSERT(strchr(err->msg, '\n') == NULL);
        }
        dh_error_free(&err);
    }
}

static void test_legacy(void)
{
    const char *legacy = "{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\",\"email\":\"e\"}}";
    const char *modern = "{\"credHelpers\":{\"gcr.io\":\"gcr\"}}";
    const char *unknown = "{\"x-tool\":{\"n\":1},\"proxies\":{\"default\":{}}}";
    _cleanup_dockerconfig_ struct dh_dockerconfig *u = NULL;
    _cleanup_dockerconfig_ struct dh_dockerconfig *a = NULL;
    _cleanup_dockerconfig_ struct dh_dockerconfig *b = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    T_REQUIRE(dh_dockerconfig_parse("t", legacy, strlen(legacy), &a, &err) == 0);
    T_ASSERT(dh_dockerconfig_is_legacy(a));
    T_ASSERT(dh_dockerconfig_auths(a, true) == dh_dockerconfig_root(a));
    T_REQUIRE(dh_dockerconfig_parse("t", modern, strlen(modern), &b, &err) == 0);
    T_ASSERT(!dh_dockerconfig_is_legacy(b));
    T_REQUIRE(dh_dockerconfig_parse("t", unknown, strlen(unknown), &u, &err) == 0);
    T_ASSERT(!dh_dockerconfig_is_legacy(u));
}

static void test_hostname_rules(void)
{
    static const char *const cases[][2] = {
            {"https://index.docker.io/v1/", "index.docker.io"},
            {"docker.io", "index.docker.io"},
            {"registry-1.docker.io", "index.docker.io"},
            {"http://Registry.Example.com:5000/v2/", "registry.example.com:5000"},
            {"registry.example.com", "registry.example.com"},
            {"registry.example.com/path", "registry.example.com"},
            {"", ""},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *h = dh_dockerconfig_hostname(cases[i][0]);
        T_EQ_STR(h, cases[i][1]);
    }
    {
        _cleanup_free_ char *k1 = dh_dockerconfig_key_for("docker.io");
        _cleanup_free_ char *k2 = dh_dockerconfig_key_for("https://r.example:443/v2/");
        T_EQ_STR(k1, "https://index.docker.io/v1/");
        T_EQ_STR(k2, "r.example:443");
    }
}

static void test_entry_creds(void)
{
    json_auto_t *a = json_pack("{s:s,s:s}", "auth", "dTpwOnc=", "username", "ignored");
    json_auto_t *b = json_pack("{s:s,s:s}", "username", "u", "password", "p");
    json_auto_t *e = json_object();
    json_auto_t *bad = json_pack("{s:s}", "auth", "bm9jb2xvbg==");
    char *u = NULL, *p = NULL;
    struct dh_error *err = NULL;

    T_EQ_INT(dh_dockerconfig_entry_creds(a, &u, &p, &err), 1);
    T_EQ_STR(u, "u");
    T_EQ_STR(p, "p:w");
    free(u), dh_str_free_wipe(p);
    T_EQ_INT(dh_dockerconfig_entry_creds(b, &u, &p, &err), 1);
    T_EQ_STR(u, "u");
    T_EQ_STR(p, "p");
    free(u), dh_str_free_wipe(p);
    T_EQ_INT(dh_dockerconfig_entry_creds(e, &u, &p, &err), 0);
    T_ASSERT(u == NULL && p == NULL);
    T_EQ_INT(dh_dockerconfig_entry_creds(bad, &u, &p, &err), -1);
    T_ASSERT(err && strstr(err->msg, "user:password"));
    dh_error_free(&err);
}

static void write_str(const char *path, const char *s)
{
    struct dh_error *err = NULL;

    if (dh_write_file_atomic(path, s, strlen(s), 0640, false, &err) < 0) {
        printf("# %s\n", err->msg);
        dh_error_free(&err);
    }
}

static void test_save(void)
{
    _cleanup_free_ char *dir = dh_xasprintf("%s/save", root);
    _cleanup_free_ char *real = dh_xasprintf("%s/real.json", dir);
    _cleanup_free_ char *link = dh_xasprintf("%s/config.json", dir);
    _cleanup_free_ char *stale = dh_xasprintf("%s/.real.json.tmp.abcdef", dir);
    _cleanup_free_ char *other = dh_xasprintf("%s/.other.tmp.abcdef", dir);
    _cleanup_buf_ struct dh_buf got = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_dockerconfig *c = NULL;
    struct stat st1, st2;
    bool written = true;
    int fd;

    T_REQUIRE(dh_mkdir_p(dir, 0700, &err) == 0);
    write_str(real, "{\n\t\"auths\": {}\n}");
    T_REQUIRE(symlink("real.json", link) == 0);
    fd = open(stale, O_CREAT | O_WRONLY, 0600);
    T_REQUIRE(fd >= 0);
    close(fd);
    fd = open(other, O_CREAT | O_WRONLY, 0600);
    T_REQUIRE(fd >= 0);
    close(fd);
    T_REQUIRE(stat(real, &st1) == 0);

    /* Unedited: nothing written. */
    T_REQUIRE(dh_dockerconfig_open(link, DH_DOCKERCONFIG_LOCK, &c, &err) == 0);
    T_ASSERT(access(stale, F_OK) < 0);  /* a killed writer's temp file is gone */
    T_ASSERT(access(other, F_OK) == 0); /* another file's is not */
    T_ASSERT(dh_dockerconfig_save(c, &written, &err) == 0);
    T_ASSERT(!written);
    T_REQUIRE(stat(real, &st2) == 0);
    T_ASSERT(st1.st_ino == st2.st_ino);

    /* Edited: written through the symlink, mode kept, symlink kept. */
    json_object_set_new(dh_dockerconfig_auths(c, true), "h", json_object());
    T_ASSERT(dh_dockerconfig_save(c, &written, &err) == 0);
    T_ASSERT(written);
    dh_dockerconfig_free(c);
    c = NULL;
    T_REQUIRE(lstat(link, &st2) == 0);
    T_ASSERT(S_ISLNK(st2.st_mode));
    T_REQUIRE(stat(real, &st2) == 0);
    T_EQ_INT((int)(st2.st_mode & 07777), 0640);
    T_ASSERT(dh_read_file(real, &got, &err) == 0);
    T_EQ_STR(got.data, "{\n\t\"auths\": {\n\t\t\"h\": {}\n\t}\n}");
    {
        _cleanup_free_ char *lock = dh_xasprintf("%s/.real.json.lock", dir);
        T_ASSERT(access(lock, F_OK) == 0);
    }
}

static void test_missing_file(void)
{
    _cleanup_free_ char *path = dh_xasprintf("%s/new/sub/config.json", root);
    _cleanup_buf_ struct dh_buf got = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_dockerconfig *c = NULL;
    bool written = true;
    struct stat st;

    T_ASSERT(dh_dockerconfig_open(path, 0, &c, &err) < 0);
    T_ASSERT(err && err->status == ENOENT);
    dh_error_free(&err);
    T_REQUIRE(dh_dockerconfig_open(path, DH_DOCKERCONFIG_LOCK | DH_DOCKERCONFIG_CREATE, &c, &err) ==
              0);
    T_ASSERT(dh_dockerconfig_save(c, &written, &err) == 0);
    T_ASSERT(!written);
    T_ASSERT(access(path, F_OK) < 0);
    json_object_set_new(dh_dockerconfig_root(c), "credsStore", json_string("dockhand"));
    T_ASSERT(dh_dockerconfig_save(c, &written, &err) == 0);
    T_ASSERT(written);
    dh_dockerconfig_free(c);
    T_REQUIRE(stat(path, &st) == 0);
    T_EQ_INT((int)(st.st_mode & 07777), 0600);
    T_ASSERT(dh_read_file(path, &got, &err) == 0);
    T_EQ_STR(got.data, "{\n\t\"credsStore\": \"dockhand\"\n}");
}

static void test_default_path(void)
{
    _cleanup_free_ char *p1 = NULL;
    _cleanup_free_ char *p2 = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    setenv("DOCKER_CONFIG", "/x/y", 1);
    T_ASSERT(dh_dockerconfig_default_path(&p1, &err) == 0);
    T_EQ_STR(p1, "/x/y/config.json");
    unsetenv("DOCKER_CONFIG");
    setenv("HOME", "/home/someone", 1);
    T_ASSERT(dh_dockerconfig_default_path(&p2, &err) == 0);
    T_EQ_STR(p2, "/home/someone/.docker/config.json");
}

int main(void)
{
    if (t_isolate(root, sizeof(root), "dh-dockerconfig") < 0)
        return 1;
    T_RUN(test_docker_formatting_kept);
    T_RUN(test_edit_keeps_the_rest);
    T_RUN(test_hand_written_not_rewritten);
    T_RUN(test_empty_and_invalid);
    T_RUN(test_legacy);
    T_RUN(test_hostname_rules);
    T_RUN(test_entry_creds);
    T_RUN(test_save);
    T_RUN(test_missing_file);
    T_RUN(test_default_path);
    t_rmrf(root);
    return t_done();
}

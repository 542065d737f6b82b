/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the helper protocol (stdin parsing, Go-compatible output, verbs end to end). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/helper.h"
#include "dockhand/mem.h"

#include "t.h"

static char tmpdir[64];

static void test_join_lines(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(100);

    dh_buf_puts(&b, "{\"ServerURL\":\r\n \"x\",\n\"Username\":\"u\"}\r\n", NULL);
    dh_helper_join_lines(&b);
    T_EQ_STR(b.data, "{\"ServerURL\": \"x\",\"Username\":\"u\"}");
}

static void test_parse_store_ok(void)
{
    static const char in[] = "{\"serverurl\":\"https://r.example\",\"USERNAME\":\"u\","
                             "\"Secret\":\"p\",\"Extra\":1}";
    _cleanup_cred_ struct dh_cred *c = NULL;
    struct dh_error *err = NULL;

    T_EQ_INT(dh_helper_parse_store(in, strlen(in), &c, &err), 0);
    T_REQUIRE(c);
    T_EQ_STR(c->server_url, "https://r.example");
    T_EQ_STR(c->username, "u");
    T_EQ_STR(c->secret, "p");
}

static void test_parse_store_last_key_wins(void)
{
    static const char in[] = "{\"ServerURL\":\"a\",\"serverURL\":\"b\",\"Username\":\"u\"}";
    _cleanup_cred_ struct dh_cred *c = NULL;

    T_EQ_INT(dh_helper_parse_store(in, strlen(in), &c, NULL), 0);
    T_REQUIRE(c);
    T_EQ_STR(c->server_url, "b");
    T_EQ_STR(c->secret, "");
}

static void test_parse_store_errors(void)
{
    static const struct {
        const char *in;
        const char *msg;
    } cases[] = {
            {"{\"ServerURL\":\"\",\"Username\":\"u\"}", "no credentials server URL"},
            {"{\"Username\":\"u\"}", "no credentials server URL"},
            {"{\"ServerURL\":\"s\",\"Username\":\"\"}", "no credentials username"},
            {"{\"ServerURL\":\"s\",\"Username\":null}", "no credentials username"},
            {"null", "no credentials server URL"},
            {"", "invalid JSON input at line 1, column 0"},
            {"{\"ServerURL\":", "invalid JSON input at line 1, column 13"},
            {"[1]", "invalid credentials: expected a JSON object"},
            {"{\"ServerURL\":5,\"Username\":\"u\"}",
             "invalid credentials: 'ServerURL' must be a string"},
            {"{\"ServerURL\":\"s\xff\",\"Username\":\"u\"}", "invalid UTF-8 in input"},
            {"{\"ServerURL\":\"s\",\"Username\":\"u\"} trailing", NULL},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_cred_ struct dh_cred *c = NULL;
        _cleanup_error_ struct dh_error *err = NULL;

        if (dh_helper_parse_store(cases[i].in, strlen(cases[i].in), &c, &err) == 0) {
            T_FAIL_AT("case %zu parsed", i);
            continue;
        }
        if (cases[i].msg)
            T_EQ_STR(err->msg, cases[i].msg);
        /* an error never echoes the secret-bearing input */
        T_ASSERT(strstr(err->msg, "trailing") == NULL);
    }
}

static void test_parse_server(void)
{
    char *s = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    T_EQ_INT(dh_helper_parse_server(" \thttps://h:5000/v2/ \n", 21, &s, &err), 0);
    T_EQ_STR(s, "https://h:5000/v2/");
    free(s);
    T_EQ_INT(dh_helper_parse_server("  \n", 3, &s, &err), -1);
    T_EQ_STR(err->msg, "no credentials server URL");
    dh_error_free(&err);
    T_EQ_INT(dh_helper_parse_server("a\0b", 3, &s, &err), -1);
    T_EQ_STR(err->msg, "invalid UTF-8 in input");
}

static void test_format(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1000);
    _cleanup_cred_ struct dh_cred *c = dh_cred_new("ignored", "<token>", "s&t");
    json_auto_t *m = json_pack("{s:s,s:s,s:s}", "https://b", "bob", "a.io", "<token>", "B", "x");

    T_EQ_INT(dh_helper_format_cred(&out, "https://r", c, NULL), 0);
    T_EQ_STR(out.data, "{\"ServerURL\":\"https://r\",\"Username\":\"\\u003ctoken\\u003e\","
                       "\"Secret\":\"s\\u0026t\"}\n");
    dh_buf_release(&out);
    T_EQ_INT(dh_helper_format_list(&out, m, NULL), 0);
    T_EQ_STR(out.data, "{\"B\":\"x\",\"a.io\":\"\\u003ctoken\\u003e\",\"https://b\":\"bob\"}\n");
    dh_buf_release(&out);
    json_object_clear(m);
    T_EQ_INT(dh_helper_format_list(&out, m, NULL), 0);
    T_EQ_STR(out.data, "{}\n");
}

/* Runs the helper in-process with `input` on stdin; returns the exit status. */
static int run(const char *verb, const char *input, struct dh_buf *out)
{
    char argv0[] = "docker-credential-dockhand", vbuf[32];
    char *argv[] = {argv0, vbuf, NULL};
    int p[2], status;

    snprintf(vbuf, sizeof(vbuf), "%s", verb ? verb : "");

    if (pipe(p) < 0)
        abort();
    if (input && write(p[1], input, strlen(input)) != (ssize_t)strlen(input))
        abort();
    close(p[1]);
    status = dh_helper_main(verb ? 2 : 1, argv, p[0], out);
    close(p[0]);
    return status;
}

static void test_verbs_end_to_end(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);

    T_EQ_INT(run("get", "https://r.example", &out), 1);
    T_EQ_STR(out.data, "credentials not found in native keychain\n");
    T_EQ_INT(
            run("store", "{\"ServerURL\":\"r.example\",\"Username\":\"u\",\"Secret\":\"p\"}", &out),
            0);
    T_EQ_INT(out.len, 0);
    T_EQ_INT(run("get", "https://r.example/v2/\n", &out), 0);
    T_EQ_STR(out.data,
             "{\"ServerURL\":\"https://r.example/v2/\",\"Username\":\"u\",\"Secret\":\"p\"}\n");
    T_EQ_INT(run("list", "unused", &out), 0);
    T_EQ_STR(out.data, "{\"r.example\":\"u\"}\n");
    T_EQ_INT(run("erase", "r.example", &out), 0);
    T_EQ_INT(run("get", "r.example", &out), 1);
    T_EQ_STR(out.data, "credentials not found in native keychain\n");
    T_EQ_INT(run("erase", "", &out), 1);
    T_EQ_STR(out.data, "no credentials server URL\n");
    T_EQ_INT(run("bogus", "", &out), 1);
    T_EQ_STR(out.data, "docker-credential-dockhand: unknown action: bogus\n");
    T_EQ_INT(run(NULL, "", &out), 1);
    T_EQ_STR(out.data, "Usage: docker-credential-dockhand <store|get|erase|list|version>\n");
    T_EQ_INT(run("version", "", &out), 0);
    T_ASSERT(strncmp(out.data, "docker-credential-dockhand (dockhand) v", 39) == 0);
}

static void test_empty_secret_reads_not_found(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);

    T_EQ_INT(run("store", "{\"ServerURL\":\"e.example\",\"Username\":\"u\",\"Secret\":\"\"}", &out),
             0);
    T_EQ_INT(run("get", "e.example", &out), 1);
    T_EQ_STR(out.data, "credentials not found in native keychain\n");
    T_EQ_INT(run("list", "", &out), 0);
    T_ASSERT(strstr(out.data, "\"e.example\":\"u\"") != NULL);
}

static void test_oversized_input(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);
    char argv0[] = "docker-credential-dockhand", verb[] = "store";
    char *argv[] = {argv0, verb, NULL};
    _cleanup_free_ char *path = dh_xasprintf("%s/big", tmpdir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    size_t i;

    T_REQUIRE(fd >= 0);
    for (i = 0; i < 2 * 1024; i++) {
        char kb[1024];
        memset(kb, 'x', sizeof(kb));
        T_REQUIRE(write(fd, kb, sizeof(kb)) == (ssize_t)sizeof(kb));
    }
    T_REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    T_EQ_INT(dh_helper_main(2, argv, fd, &out), 1);
    T_EQ_STR(out.data, "input larger than 1048576 bytes\n");
    close(fd);
}

int main(void)
{
    if (t_isolate(tmpdir, sizeof(tmpdir), "dh-helper") < 0)
        return 1;
    T_RUN(test_join_lines);
    T_RUN(test_parse_store_ok);
    T_RUN(test_parse_store_last_key_wins);
    T_RUN(test_parse_store_errors);
    T_RUN(test_parse_server);
    T_RUN(test_format);
    T_RUN(test_verbs_end_to_end);
    T_RUN(test_empty_secret_reads_not_found);
    T_RUN(test_oversized_input);
    if (t_rmrf(tmpdir) < 0)
        return 1;
    return t_done();
}

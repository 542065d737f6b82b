/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: error objects, capped buffers, secrets, base64, text helpers, fsutil. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"
#include "dockhand/xdg.h"

#include "t.h"

static void test_error_make_wrap(void)
{
    struct dh_error *err = NULL;

    T_EQ_INT(dh_error_make(&err, ENOENT, "cannot open '%s'", "x"), -1);
    T_REQUIRE(err);
    T_EQ_INT(err->status, ENOENT);
    dh_error_wrap(&err, "loading %s", "config");
    T_EQ_STR(err->msg, "loading config: cannot open 'x'");
    dh_error_free(&err);
    T_ASSERT(err == NULL);
    dh_error_make(&err, 0, "zero status");
    T_EQ_INT(err->status, EIO);
    dh_error_free(&err);
    dh_error_sys(&err, EACCES, "cannot read '%s'", "f");
    T_EQ_STR(err->msg, "cannot read 'f': Permission denied");
    dh_error_free(&err);
}

static void test_buf_cap(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(8);
    struct dh_error *err = NULL;

    T_EQ_INT(dh_buf_puts(&b, "12345678", &err), 0);
    T_EQ_INT(b.len, 8);
    T_EQ_INT(dh_buf_puts(&b, "9", &err), -1);
    T_REQUIRE(err);
    T_EQ_INT(err->status, E2BIG);
    dh_error_free(&err);
    T_EQ_STR(b.data, "12345678"); /* unchanged after a failed append */
    dh_buf_truncate(&b, 3);
    T_EQ_STR(b.data, "123");
    T_EQ_INT(dh_buf_printf(&b, &err, "%d", 45), 0);
    T_EQ_STR(b.data, "12345");
    T_EQ_INT(dh_buf_printf(&b, &err, "%s", "6789"), -1);
    dh_error_free(&err);
}

static void test_buf_read_fd_cap(void)
{
    int p[2];
    struct dh_buf b;
    struct dh_error *err = NULL;
    char big[5000];

    memset(big, 'a', sizeof(big));
    T_REQUIRE(pipe(p) == 0);
    T_REQUIRE(write(p[1], big, sizeof(big)) == (ssize_t)sizeof(big));
    close(p[1]);
    dh_buf_init_secret(&b, 4096);
    T_EQ_INT(dh_buf_read_fd(&b, p[0], &err), -1);
    T_ASSERT(err && err->status == E2BIG);
    dh_error_free(&err);
    dh_buf_release(&b);
    close(p[0]);

    T_REQUIRE(pipe(p) == 0);
    close(p[1]);
    dh_buf_init(&b, 10);
    T_EQ_INT(dh_buf_read_fd(&b, p[0], &err), 0);
    T_ASSERT(b.data != NULL && b.len == 0 && b.data[0] == '\0');
    dh_buf_release(&b);
    close(p[0]);
}

static void test_buf_steal_extend(void)
{
    struct dh_buf b = DH_BUF_INIT(100);
    char *tail, *s;
    size_t n;

    T_EQ_INT(dh_buf_extend(&b, 4, &tail, NULL), 0);
    T_ASSERT(tail[0] == 0 && tail[3] == 0 && b.len == 4);
    memcpy(tail, "abcd", 4);
    s = dh_buf_steal(&b, &n);
    T_EQ_STR(s, "abcd");
    T_EQ_INT(n, 4);
    T_ASSERT(b.data == NULL && b.len == 0);
    free(s);
    s = dh_buf_steal(&b, NULL);
    T_EQ_STR(s, "");
    free(s);
}

static void test_secret(void)
{
    struct dh_secret *s = dh_secret_from_str("hunter2");

    T_EQ_STR(s->buf, "hunter2");
    T_EQ_INT(s->len, 7);
    dh_secret_free(s);
    dh_secret_free(NULL);
    T_ASSERT(dh_secure_equal("abc", 3, "abc", 3));
    T_ASSERT(!dh_secure_equal("abc", 3, "abd", 3));
    T_ASSERT(!dh_secure_equal("abc", 3, "abcd", 4));
}

static void test_base64(void)
{
    static const struct {
        const char *plain, *std, *url;
    } cases[] = {
            {"", "", ""},
            {"f", "Zg==", "Zg"},
            {"fo", "Zm8=", "Zm8"},
            {"foo", "Zm9v", "Zm9v"},
            {"foob", "Zm9vYg==", "Zm9vYg"},
            {"fooba", "Zm9vYmE=", "Zm9vYmE"},
            {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
            {"\xfb\xff", "+/8=", "-_8"},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *e1 = dh_base64_encode(cases[i].plain, strlen(cases[i].plain), false);
        _cleanup_free_ char *e2 = dh_base64_encode(cases[i].plain, strlen(cases[i].plain), true);
        _cleanup_buf_ struct dh_buf d1 = DH_BUF_INIT(64), d2 = DH_BUF_INIT(64);

        T_EQ_STR(e1, cases[i].std);
        T_EQ_STR(e2, cases[i].url);
        T_EQ_INT(dh_base64_decode(e1, strlen(e1), &d1, NULL), 0);
        T_EQ_INT(dh_base64_decode(e2, strlen(e2), &d2, NULL), 0);
        T_EQ_STR(d1.data ? d1.data : "", cases[i].plain);
        T_EQ_STR(d2.data ? d2.data : "", cases[i].plain);
    }
    {
        static const char *const bad[] = {"Z", "Zg=", "Z===", "Zm9v!", "Zh==", "Zm 9v", "=Zm9"};
        for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
            _cleanup_buf_ struct dh_buf d = DH_BUF_INIT(64);
            _cleanup_error_ struct dh_error *err = NULL;
            if (dh_base64_decode(bad[i], strlen(bad[i]), &d, &err) == 0)
                T_FAIL_AT("'%s' decoded", bad[i]);
        }
    }
}

static void test_utf8(void)
{
    T_ASSERT(dh_utf8_valid("plain", 5));
    T_ASSERT(dh_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3", 9));
    T_ASSERT(!dh_utf8_valid("\xff", 1));
    T_ASSERT(!dh_utf8_valid("\xc0\xaf", 2));         /* overlong */
    T_ASSERT(!dh_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    T_ASSERT(!dh_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    T_ASSERT(!dh_utf8_valid("\xe2\x82", 2));         /* truncated */
}

static void test_trim_space(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"  a b \n", "a b"},
            {"\t\r\n", ""},
            {"\xc2\xa0x\xe3\x80\x80", "x"}, /* NBSP, ideographic space */
            {"x\xe2\x80\xa8", "x"},         /* U+2028 */
            {"\xc3\xa9", "\xc3\xa9"},
            {"", ""},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        size_t start, n;
        _cleanup_free_ char *got = NULL;

        dh_trim_space(cases[i].in, strlen(cases[i].in), &start, &n);
        got = dh_xstrndup(cases[i].in + start, n);
        T_EQ_STR(got, cases[i].out);
    }
}

static void test_go_quote(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"plain", "\"plain\""},
            {"<token>", "\"\\u003ctoken\\u003e\""},
            {"a&b", "\"a\\u0026b\""},
            {"q\"b\\s", "\"q\\\"b\\\\s\""},
            {"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
            {"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""},
            {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
            {"\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\""},
            {"bad\xff", "\"bad\\ufffd\""},
            {"/slash", "\"/slash\""},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(256);
        T_EQ_INT(dh_json_go_quote(&b, cases[i].in, NULL), 0);
        T_EQ_STR(b.data, cases[i].out);
    }
}

static void test_pct_decode(void)
{
    char *s;

    s = dh_pct_decode("a%20b+c%2Fd", 11, true);
    T_EQ_STR(s, "a b c/d");
    free(s);
    T_ASSERT(dh_pct_decode("bad%2", 5, true) == NULL);
    T_ASSERT(dh_pct_decode("nul%00", 6, true) == NULL);
    T_ASSERT(dh_pct_decode("%zz", 3, true) == NULL);
    s = dh_pct_decode("bad%2 %zz %41", 13, false); /* lenient: malformed kept */
    T_EQ_STR(s, "bad%2 %zz A");
    free(s);
}

static void test_atomic_write_and_lock(void)
{
    char dir[] = "/tmp/dh-test-XXXXXX";
    _cleanup_free_ char *path = NULL, *lockp = NULL, *nested = NULL;
    struct dh_lock l1 = DH_LOCK_INIT, l2 = DH_LOCK_INIT;
    struct dh_error *err = NULL;
    struct stat st;

    T_REQUIRE(mkdtemp(dir));
    nested = dh_xasprintf("%s/a/b/c", dir);
    T_EQ_INT(dh_mkdir_p(nested, 0700, &err), 0);
    T_ASSERT(stat(nested, &st) == 0 && S_ISDIR(st.st_mode));
    path = dh_xasprintf("%s/f.json", nested);
    T_EQ_INT(dh_write_file_atomic(path, "one", 3, 0600, false, &err), 0);
    T_EQ_INT(dh_write_file_atomic(path, "two!", 4, 0600, false, &err), 0);
    {
        _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(100);
        T_EQ_INT(dh_read_file(path, &b, &err), 0);
        T_EQ_STR(b.data, "two!");
    }
    T_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* keep_owner keeps an existing file's mode */
    T_REQUIRE(chmod(path, 0640) == 0);
    T_EQ_INT(dh_write_file_atomic(path, "3", 1, 0600, true, &err), 0);
    T_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    {
        _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(100);
        _cleanup_free_ char *missing = dh_xasprintf("%s/none", dir);
        T_EQ_INT(dh_read_file(missing, &b, &err), -1);
        T_ASSERT(err && err->status == ENOENT);
        dh_error_free(&err);
    }
    lockp = dh_xasprintf("%s/x.lock", dir);
    T_EQ_INT(dh_lock_acquire(lockp, 1000, &l1, &err), 0);
    /* flock locks are per open file description: a second open must wait and time out */
    T_EQ_INT(dh_lock_acquire(lockp, 50, &l2, &err), -1);
    T_ASSERT(err && err->status == ETIMEDOUT);
    dh_error_free(&err);
    dh_lock_release(&l1);
    T_EQ_INT(dh_lock_acquire(lockp, 50, &l2, &err), 0);
    dh_lock_release(&l2);
    T_ASSERT(t_rmrf(dir) == 0);
}

static void test_xdg(void)
{
    char *d = NULL;
    struct dh_error *err = NULL;

    setenv("HOME", "/home/u", 1);
    setenv("XDG_DATA_HOME", "/x/data", 1);
    T_EQ_INT(dh_xdg_dir(DH_XDG_DATA, &d, &err), 0);
    T_EQ_STR(d, "/x/data/dockhand");
    free(d);
    setenv("XDG_DATA_HOME", "relative/ignored", 1);
    T_EQ_INT(dh_xdg_dir(DH_XDG_DATA, &d, &err), 0);
    T_EQ_STR(d, "/home/u/.local/share/dockhand");
    free(d);
    unsetenv("XDG_CONFIG_HOME");
    T_EQ_INT(dh_xdg_dir(DH_XDG_CONFIG, &d, &err), 0);
    T_EQ_STR(d, "/home/u/.config/dockhand");
    free(d);
    unsetenv("XDG_RUNTIME_DIR");
    setenv("XDG_CACHE_HOME", "/c", 1);
    T_EQ_INT(dh_xdg_dir(DH_XDG_RUNTIME, &d, &err), 0);
    T_EQ_STR(d, "/c/dockhand");
    free(d);
    setenv("XDG_RUNTIME_DIR", "/run/user/1", 1);
    T_EQ_INT(dh_xdg_dir(DH_XDG_RUNTIME, &d, &err), 0);
    T_EQ_STR(d, "/run/user/1/dockhand");
    free(d);
}

int main(void)
{
    T_RUN(test_error_make_wrap);
    T_RUN(test_buf_cap);
    T_RUN(test_buf_read_fd_cap);
    T_RUN(test_buf_steal_extend);
    T_RUN(test_secret);
    T_RUN(test_base64);
    T_RUN(test_utf8);
    T_RUN(test_trim_space);
    T_RUN(test_go_quote);
    T_RUN(test_pct_decode);
    T_RUN(test_atomic_write_and_lock);
    T_RUN(test_xdg);
    return t_done();
}

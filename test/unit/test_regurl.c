/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"

#include "t.h"

#define E_SCHEME_FTP "unsupported scheme: ftp"
#define E_NOHOST     "no hostname in URL"
#define E_HOST       "invalid hostname in URL"
#define E_PORT       "invalid port in URL"
#define E_CREDS      "credentials in server URL are not supported"
#define E_CHAR       "invalid character in URL"
#define HUB          "https://index.docker.io"
#define H            "foobar.docker.io"

/* in -> canonical key, or (key NULL) the exact error message. */
static const struct {
    const char *in;
    const char *key;
    const char *err;
} parse_cases[] = {
        /* osxkeychain round-trip URLs (credhelpers.md 1.6) */
        {H, "https://" H, NULL},
        {H ":2376", "https://" H ":2376", NULL},
        {"//" H ":2376", "https://" H ":2376", NULL},
        {"https://" H ":2376", "https://" H ":2376", NULL},
        {"http://" H ":2376", "http://" H ":2376", NULL},
        {"https://" H ":2376/some/path", "https://" H ":2376/some/path", NULL},
        {"https://" H ":2376/some/other/path", "https://" H ":2376/some/other/path", NULL},
        {"https://" H ":2376/some/other/path?foo=bar", "https://" H ":2376/some/other/path", NULL},
        /* schemes */
        {"h", "https://h", NULL},
        {"//h", "https://h", NULL},
        {"HTTPS://h", "https://h", NULL},
        {"Http://h", "http://h", NULL},
        {"ftp://h", NULL, E_SCHEME_FTP},
        {"FTP://h", NULL, E_SCHEME_FTP},
        {"ftp://", NULL, E_SCHEME_FTP},
        {"unix:///var/run/docker.sock", NULL, "unsupported scheme: unix"},
        {"ssh://git@h", NULL, "unsupported scheme: ssh"},
        {"git+ssh://h", NULL, "unsupported scheme: git+ssh"},
        {"://h", NULL, E_NOHOST},
        {"http:/h", NULL, E_PORT},
        {"h/x://y", "https://h/x:/y", NULL},
        /* default ports */
        {"https://h:443", "https://h", NULL},
        {"h:443", "https://h", NULL},
        {"http://h:80", "http://h", NULL},
        {"http://h:443", "http://h:443", NULL},
        {"https://h:80", "https://h:80", NULL},
        {"h:00443", "https://h", NULL},
        {"h:05000", "https://h:5000", NULL},
        /* bad ports */
        {"h:0", NULL, E_PORT},
        {"h:65536", NULL, E_PORT},
        {"h:65535", "https://h:65535", NULL},
        {"h:1", "https://h:1", NULL},
        {"h:abc", NULL, E_PORT},
        {"h:", NULL, E_PORT},
        {"https://h:/v2/", NULL, E_PORT},
        {"h:-1", NULL, E_PORT},
        {"h:+80", NULL, E_PORT},
        {"h:99999999999999999999", NULL, E_PORT},
        {"h:50 00", NULL, E_PORT},
        {"h:1:2", NULL, E_PORT},
        /* hosts */
        {"REGISTRY.Example.COM", "https://registry.example.com", NULL},
        {"HTTPS://My_Host-1.Example:5000/Path", "https://my_host-1.example:5000/Path", NULL},
        {"localhost:5000", "https://localhost:5000", NULL},
        {"127.0.0.1:5000", "https://127.0.0.1:5000", NULL},
        {"[::1]:5000", "https://[::1]:5000", NULL},
        {"[::1]", "https://[::1]", NULL},
        {"http://[::1]:80/v2/", "http://[::1]", NULL},
        {"[0:0:0:0:0:0:0:1]:5000", "https://[::1]:5000", NULL},
        {"[FE80::AB]", "https://[fe80::ab]", NULL},
        {"[::ffff:192.0.2.1]", "https://[::ffff:192.0.2.1]", NULL},
        {"[::1", NULL, E_HOST},
        {"[]", NULL, E_HOST},
        {"[zz::1]", NULL, E_HOST},
        {"[fe80::1%25eth0]", NULL, E_HOST},
        {"[::1]x", NULL, E_PORT},
        {"[::1]:", NULL, E_PORT},
        {"::1", NULL, E_NOHOST},
        {"h!", NULL, E_HOST},
        {"h%41", NULL, E_HOST},
        {"h h", NULL, E_HOST},
        {"h]", NULL, E_HOST},
        {"", NULL, E_NOHOST},
        {"//", NULL, E_NOHOST},
        {"https://", NULL, E_NOHOST},
        {"https:///v2/", NULL, E_NOHOST},
        {"https://:5000", NULL, E_NOHOST},
        {"/v2/", NULL, E_NOHOST},
        {"?foo", NULL, E_NOHOST},
        /* userinfo */
        {"user:pass@h", NULL, E_CREDS},
        {"https://user:s3cret@h:5000/v2/", NULL, E_CREDS},
        {"https://@h", NULL, E_CREDS},
        {"h/a@b", "https://h/a@b", NULL},
        /* control characters */
        {"h\n", NULL, E_CHAR},
        {"h/\tx", NULL, E_CHAR},
        {"h?\x7f", NULL, E_CHAR},
        /* paths */
        {"h/", "https://h", NULL},
        {"h/v1/", "https://h", NULL},
        {"h/v2", "https://h", NULL},
        {"h/v3/", "https://h/v3", NULL},
        {"h/V2/", "https://h/V2", NULL},
        {"h/v1/v2/", "https://h", NULL},
        {"h/a/v2/", "https://h/a", NULL},
        {"h/v2/a", "https://h/v2/a", NULL},
        {"h/av2", "https://h/av2", NULL},
        {"h//a///b//", "https://h/a/b", NULL},
        {"h/A/b%2Fc", "https://h/A/b%2Fc", NULL},
        {"h/a%2fb", "https://h/a%2fb", NULL},
        {"h/a b", "https://h/a%20b", NULL},
        {"h/\xc3\xa9", "https://h/%C3%A9", NULL},
        {"h/./..", "https://h/./..", NULL},
        {"h#frag", "https://h", NULL},
        {"h/a?x=1#f", "https://h/a", NULL},
        {"h?x=/v2/", "https://h", NULL},
        {"h:5000?x", "https://h:5000", NULL},
        /* Docker Hub */
        {"https://index.docker.io/v1/", HUB, NULL},
        {"index.docker.io", HUB, NULL},
        {"docker.io", HUB, NULL},
        {"DOCKER.IO", HUB, NULL},
        {"registry-1.docker.io", HUB, NULL},
        {"https://registry-1.docker.io/v2/", HUB, NULL},
        {"registry.hub.docker.com", HUB, NULL},
        {"http://docker.io", HUB, NULL},
        {"docker.io:443", HUB, NULL},
        {"https://index.docker.io:443/v1/", HUB, NULL},
        {"docker.io/library", HUB "/library", NULL},
        {"hub.docker.com", "https://hub.docker.com", NULL},
        {"docker.io.evil.example", "https://docker.io.evil.example", NULL},
};

static void test_parse_table(void)
{
    size_t i;

    T_ASSERT(DH_ARRAY_SIZE(parse_cases) >= 60);
    for (i = 0; i < DH_ARRAY_SIZE(parse_cases); i++) {
        struct dh_regurl u = {0};
        _cleanup_error_ struct dh_error *err = NULL;
        int r = dh_regurl_parse(parse_cases[i].in, &u, &err);

        if (parse_cases[i].key) {
            _cleanup_free_ char *key = NULL;

            if (r < 0) {
                T_FAIL_AT("case %zu: '%s': unexpected error '%s'", i, parse_cases[i].in, err->msg);
                continue;
            }
            T_ASSERT(err == NULL);
            key = dh_regurl_key(&u);
            if (strcmp(key, parse_cases[i].key) != 0)
                T_FAIL_AT("case %zu: '%s': key '%s' != '%s'", i, parse_cases[i].in, key,
                          parse_cases[i].key);
            dh_regurl_release(&u);
        } else {
            if (r != -1 || !err) {
                T_FAIL_AT("case %zu: '%s': parsed, expected '%s'", i, parse_cases[i].in,
                          parse_cases[i].err);
                dh_regurl_release(&u);
                continue;
            }
            if (strcmp(err->msg, parse_cases[i].err) != 0)
                T_FAIL_AT("case %zu: '%s': error '%s' != '%s'", i, parse_cases[i].in, err->msg,
                          parse_cases[i].err);
            T_EQ_INT(err->status, EINVAL);
            /* *ret is untouched on failure */
            T_ASSERT(u.scheme == NULL && u.host == NULL && u.path == NULL && u.port == 0);
        }
    }
}

/* Every key parses back to itself. */
static void test_key_idempotent(void)
{
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(parse_cases); i++) {
        _cleanup_free_ char *k1 = NULL, *k2 = NULL;
        _cleanup_error_ struct dh_error *err = NULL;

        if (!parse_cases[i].key)
            continue;
        T_REQUIRE(dh_regurl_normalize(parse_cases[i].in, &k1, &err) == 0);
        T_REQUIRE(dh_regurl_normalize(k1, &k2, &err) == 0);
        T_EQ_STR(k2, k1);
    }
}

static void test_fields(void)
{
    _cleanup_regurl_ struct dh_regurl u = {0};
    _cleanup_error_ struct dh_error *err = NULL;

    T_REQUIRE(dh_regurl_parse("HTTP://Reg.Example:8080//A/b/v2/?q=1", &u, &err) == 0);
    T_EQ_STR(u.scheme, "http");
    T_EQ_STR(u.host, "reg.example");
    T_EQ_INT(u.port, 8080);
    T_EQ_STR(u.path, "/A/b");
    dh_regurl_release(&u);

    T_REQUIRE(dh_regurl_parse("https://h:443/", &u, &err) == 0);
    T_EQ_STR(u.scheme, "https");
    T_EQ_STR(u.host, "h");
    T_EQ_INT(u.port, 0);
    T_EQ_STR(u.path, "");
    dh_regurl_release(&u);

    T_REQUIRE(dh_regurl_parse("[::1]:5000", &u, &err) == 0);
    T_EQ_STR(u.host, "[::1]");
    T_EQ_INT(u.port, 5000);
    dh_regurl_release(&u);
    dh_regurl_release(&u); /* twice is fine */
    dh_regurl_release(NULL);
}

static void test_limits(void)
{
    _cleanup_free_ char *s = dh_xmalloc(DH_REGURL_MAX + 2);
    _cleanup_free_ char *key = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_regurl u = {0};

    /* NULL behaves as "" */
    T_EQ_INT(dh_regurl_parse(NULL, &u, &err), -1);
    T_REQUIRE(err != NULL);
    T_EQ_STR(err->msg, E_NOHOST);
    dh_error_free(&err);

    /* 4096 bytes with an explicit scheme is accepted, 4097 is not */
    memset(s, 'a', DH_REGURL_MAX + 1);
    memcpy(s, "https://h/", 10);
    s[DH_REGURL_MAX] = '\0';
    T_REQUIRE(dh_regurl_normalize(s, &key, &err) == 0);
    T_EQ_INT(strlen(key), DH_REGURL_MAX);
    s[DH_REGURL_MAX] = 'a';
    s[DH_REGURL_MAX + 1] = '\0';
    T_EQ_INT(dh_regurl_parse(s, &u, &err), -1);
    T_REQUIRE(err != NULL);
    T_EQ_STR(err->msg, "server URL is too long");
    T_EQ_INT(err->status, E2BIG);
    dh_error_free(&err);

    /* ...and so is an input whose key would grow past the limit */
    memset(s, 'a', DH_REGURL_MAX);
    s[DH_REGURL_MAX] = '\0';
    T_EQ_INT(dh_regurl_parse(s, &u, &err), -1);
    T_REQUIRE(err != NULL);
    T_EQ_STR(err->msg, "server URL is too long");
    dh_error_free(&err);
    T_ASSERT(u.scheme == NULL);
}

/* Errors never echo the URL (it may hold a secret). */
static void test_errors_do_not_echo(void)
{
    static const char *const in[] = {"https://user:hunter2@h", "hunter2:x", "h/\nhunter2",
                                     "hunter2!", "[hunter2]"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(in); i++) {
        _cleanup_error_ struct dh_error *err = NULL;
        struct dh_regurl u = {0};

        T_EQ_INT(dh_regurl_parse(in[i], &u, &err), -1);
        T_REQUIRE(err != NULL);
        T_ASSERT(strstr(err->msg, "hunter2") == NULL);
    }
}

#define M_EXACT DH_REGURL_RANK_EXACT
#define M_ALIAS DH_REGURL_RANK_ALIAS
#define M_ANY   (-2) /* some positive rank */
#define M_NONE  (-1)

static const struct {
    const char *stored;
    const char *query;
    int rank;
} match_cases[] = {
        /* osxkeychain aliases, adapted: another port never matches */
        {"https://" H ":2376", "https://" H, M_NONE},
        {"https://" H ":2376", H, M_NONE},
        {"https://" H ":1234/one/two", "https://" H ":1234", M_ALIAS},
        /* osxkeychain strict cases */
        {"https://" H ":2376", "http://" H ":2376", M_NONE},
        {"http://" H ":2376", "https://" H ":2376", M_NONE},
        {"http://" H, H ":5678", M_NONE},
        {"https://" H ":1234", "https://" H ":5678", M_NONE},
        {"https://" H, "https://" H ":5678", M_NONE},
        {"https://" H ":1234/one/two", "https://" H ":1234/five/six", M_NONE},
        /* equivalences */
        {H, "https://" H, M_EXACT},
        {H ":2376", "https://" H ":2376", M_EXACT},
        {"//" H ":2376", H ":2376", M_EXACT},
        {"https://h:443", "https://h", M_EXACT},
        {"http://h:80", "http://h", M_EXACT},
        {"https://h/v1/", "h", M_EXACT},
        {"https://h/v2/", "h/", M_EXACT},
        {"H", "h", M_EXACT},
        {"https://h/p?x=1", "h/p/", M_EXACT},
        {"https://index.docker.io/v1/", "docker.io", M_EXACT},
        {"https://index.docker.io/v1/", "registry-1.docker.io", M_EXACT},
        {"registry.hub.docker.com", "https://index.docker.io/v1/", M_EXACT},
        {"[::1]:5000", "https://[0::1]:5000/v2/", M_EXACT},
        /* prefix rule */
        {"h", "h/a", DH_REGURL_RANK_PREFIX},
        {"h/a", "h/a/b", DH_REGURL_RANK_PREFIX + 2},
        {"h/a/b", "h/a/b/c/d", DH_REGURL_RANK_PREFIX + 4},
        {"h/a", "h/ab", M_NONE},
        {"h/a/b", "h/a", M_NONE},
        {"h/A", "h/a/b", M_NONE},
        {"h:5000/a", "h/a/b", M_NONE},
        {"http://h/a", "h/a/b", M_NONE},
        {"h/a", "g/a/b", M_NONE},
        /* no-path alias */
        {"h/a/b", "h", M_ALIAS},
        {"h/a", "h/v2/", M_ALIAS},
        {"http://h/a", "h", M_NONE},
        /* unparsable strings never match */
        {"ftp://h", "ftp://h", M_NONE},
        {"user:pass@h", "user:pass@h", M_NONE},
        {"h:0", "h:0", M_NONE},
        {"", "", M_NONE},
        {"h", "", M_NONE},
        {"", "h", M_NONE},
};

static void test_match_table(void)
{
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(match_cases); i++) {
        int r = dh_regurl_match_rank_str(match_cases[i].stored, match_cases[i].query);
        bool ok = match_cases[i].rank == M_ANY ? r > 0 : r == match_cases[i].rank;

        if (!ok)
            T_FAIL_AT("match %zu: stored '%s' query '%s': rank %d, expected %d", i,
                      match_cases[i].stored, match_cases[i].query, r, match_cases[i].rank);
    }
    T_EQ_INT(dh_regurl_match_rank_str(NULL, "h"), -1);
    T_EQ_INT(dh_regurl_match_rank_str("h", NULL), -1);
    T_EQ_INT(dh_regurl_match_rank(NULL, NULL), -1);
}

/* Best stored entry for a query among candidates, as a store would pick it. */
static const char *best(const char *const *stored, size_t n, const char *query)
{
    const char *winner = NULL;
    int best_rank = -1;
    size_t i;

    for (i = 0; i < n; i++) {
        int r = dh_regurl_match_rank_str(stored[i], query);

        if (r > best_rank) {
            best_rank = r;
            winner = stored[i];
        }
    }
    return winner;
}

static void test_rank_ordering(void)
{
    static const char *const stored[] = {"h/a/b/c", "h/a", "h/a/b", "h", "h:5000", "http://h/a/b"};
    static const char *const only_paths[] = {"h/z/y", "h/a/b"};

    /* exact beats prefix beats no-path alias */
    T_ASSERT(dh_regurl_match_rank_str("h/a/b", "h/a/b") > dh_regurl_match_rank_str("h/a", "h/a/b"));
    T_ASSERT(dh_regurl_match_rank_str("h/a", "h/a/b") > dh_regurl_match_rank_str("h", "h/a/b"));
    T_ASSERT(dh_regurl_match_rank_str("h", "h/a/b") > 0);
    T_ASSERT(dh_regurl_match_rank_str("h", "h") > dh_regurl_match_rank_str("h/a", "h"));
    T_ASSERT(dh_regurl_match_rank_str("h", "h/x") > dh_regurl_match_rank_str("h/a", "h"));
    T_EQ_INT(dh_regurl_match_rank_str("h/a", "h"), DH_REGURL_RANK_ALIAS);

    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "h/a/b"), "h/a/b");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "h/a/b/x"), "h/a/b");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "https://h/a/v2/"), "h/a");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "h/q"), "h");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "h"), "h");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "h:5000/a"), "h:5000");
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "http://h:80/a/b/c"), "http://h/a/b");
    T_ASSERT(best(stored, DH_ARRAY_SIZE(stored), "h:5001") == NULL);
    T_EQ_STR(best(stored, DH_ARRAY_SIZE(stored), "http://h"), "http://h/a/b");
    T_ASSERT(best(stored, DH_ARRAY_SIZE(stored), "http://h:8080") == NULL);
    /* no-path alias: some entry is found when no better one exists */
    T_ASSERT(best(only_paths, DH_ARRAY_SIZE(only_paths), "h") != NULL);
    T_ASSERT(best(only_paths, DH_ARRAY_SIZE(only_paths), "h/a") == NULL);
}

int main(void)
{
    /* t.h leaves t_skip_reason NULL until a T_SKIP; gcc -O2 then flags its printf. */
    t_skip_reason = "";
    T_RUN(test_parse_table);
    T_RUN(test_key_idempotent);
    T_RUN(test_fields);
    T_RUN(test_limits);
    T_RUN(test_errors_do_not_echo);
    T_RUN(test_match_table);
    T_RUN(test_rank_ordering);
    return t_done();
}

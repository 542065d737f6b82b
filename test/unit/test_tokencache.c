/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the cross-process token cache (freshness, refresh ahead, never expired,
   single flight across 64 processes). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/tokencache.h"

#include "t.h"

static char tmpdir[64];
static char *counter_path;
static int64_t lifetime = 3600;
static int fail_mint;
static unsigned mint_delay_ms;

/* Counts mints across processes: one byte appended per call. */
static int mint_count(void)
{
    struct stat st;

    return stat(counter_path, &st) == 0 ? (int)st.st_size : 0;
}

static int mint(void *arg, struct dh_token **ret, struct dh_error **err)
{
    int fd = open(counter_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    char secret[64];

    (void)arg;
    if (fd >= 0) {
        (void)!write(fd, "x", 1);
        close(fd);
    }
    if (mint_delay_ms)
        usleep(mint_delay_ms * 1000);
    if (fail_mint)
        return dh_error_make(err, EIO, "fake endpoint: 500 InternalError");
    snprintf(secret, sizeof(secret), "tok-%d", mint_count());
    *ret = dh_token_new("AWS", secret, (int64_t)time(NULL) + lifetime, "the test");
    return 0;
}

static struct dh_token_request req(const char *registry)
{
    return (struct dh_token_request){.provider = "ecr",
                                     .identity = "env:abc",
                                     .registry = registry,
                                     .mint = mint,
                                     .mint_arg = NULL};
}

static char *get_secret(const char *registry, struct dh_error **err)
{
    struct dh_token_request r = req(registry);
    _cleanup_token_ struct dh_token *t = NULL;

    if (dh_token_cache_get(&r, &t, err) < 0)
        return NULL;
    return dh_xstrdup(t->secret);
}

static void reset(void)
{
    _cleanup_free_ char *cmd = dh_xasprintf("rm -rf '%s/cache' '%s'", tmpdir, counter_path);

    if (system(cmd) != 0)
        abort();
    lifetime = 3600;
    fail_mint = 0;
    mint_delay_ms = 0;
}

static void test_cached_while_fresh(void)
{
    _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
    struct stat st;
    _cleanup_free_ char *dir = dh_xasprintf("%s/cache/dockhand/tokens", tmpdir);

    reset();
    a = get_secret("https://r1", NULL);
    b = get_secret("https://r1", NULL);
    T_EQ_STR(a, "tok-1");
    T_EQ_STR(b, "tok-1");
    T_EQ_INT(mint_count(), 1);
    c = get_secret("https://r2", NULL); /* another registry: another entry */
    T_EQ_INT(mint_count(), 2);
    T_ASSERT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
}

static void test_refresh_at_half_life(void)
{
    _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

    reset();
    lifetime = 4;
    a = get_secret("https://r", NULL);
    b = get_secret("https://r", NULL);
    T_EQ_INT(mint_count(), 1);
    sleep(2); /* half of the lifetime: stale, refreshed */
    c = get_secret("https://r", NULL);
    T_EQ_INT(mint_count(), 2);
    T_EQ_STR(c, "tok-2");
}

static void test_failed_refresh_serves_valid_token(void)
{
    _cleanup_free_ char *a = NULL, *b = NULL;

    reset();
    lifetime = 6;
    a = get_secret("https://r", NULL);
    sleep(3);
    fail_mint = 1;
    b = get_secret("https://r", NULL); /* stale but valid: served, with a warning */
    T_EQ_STR(b, "tok-1");
    T_EQ_INT(mint_count(), 2);
}

static void test_never_served_expired(void)
{
    _cleanup_free_ char *a = NULL, *b = NULL;
    struct dh_error *err = NULL;

    reset();
    lifetime = 2;
    a = get_secret("https://r", NULL);
    T_EQ_STR(a, "tok-1");
    sleep(2);
    fail_mint = 1;
    b = get_secret("https://r", &err);
    T_ASSERT(b == NULL);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "fake endpoint: 500 InternalError");
    dh_error_free(&err);
    /* a minted token that is already expired is refused too */
    fail_mint = 0;
    lifetime = -5;
    b = get_secret("https://r", &err);
    T_ASSERT(b == NULL);
    T_ASSERT(err && strstr(err->msg, "already expired") != NULL);
    dh_error_free(&err);
}

static void test_margin(void)
{
    T_EQ_INT(dh_token_margin(12 * 3600), 60);
    T_EQ_INT(dh_token_margin(300), 30);
    T_EQ_INT(dh_token_margin(5), 0);
}

static void test_single_flight_64(void)
{
    enum { N = 64 };
    pid_t pids[N];
    int i, ok = 0;

    reset();
    mint_delay_ms = 300;
    for (i = 0; i < N; i++) {
        pids[i] = fork();
        T_REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            char *s = get_secret("https://shared", NULL);
            _exit(s && !strcmp(s, "tok-1") ? 0 : 1);
        }
    }
    for (i = 0; i < N; i++) {
        int st = 0;
        if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
    }
    T_EQ_INT(ok, N);
    T_EQ_INT(mint_count(), 1);
}

int main(void)
{
    _cleanup_free_ char *cache = NULL;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dh-tokencache-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    cache = dh_xasprintf("%s/cache", tmpdir);
    setenv("XDG_CACHE_HOME", cache, 1);
    setenv("DOCKHAND_LOG_LEVEL", "error", 1);
    dh_log_init("test_tokencache");
    counter_path = dh_xasprintf("%s/mints", tmpdir);
    T_RUN(test_cached_while_fresh);
    T_RUN(test_refresh_at_half_life);
    T_RUN(test_failed_refresh_serves_valid_token);
    T_RUN(test_never_served_expired);
    T_RUN(test_margin);
    T_RUN(test_single_flight_64);
    free(counter_path);
    if (t_rmrf(tmpdir) < 0)
        return 1;
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny TAP unit-test harness.  Each test is `static void test_x(void)`;
 * main() calls T_RUN(test_x) for each and returns t_done().  Output is TAP,
 * read by hack/run-tests.sh.  A test that calls T_SKIP("why") is reported as
 * skipped, never as passed.
 */
#ifndef DOCKHAND_TEST_T_H
#define DOCKHAND_TEST_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_count, t_failed_total, t_cur_failed, t_cur_skipped;
static const char *t_skip_reason = "";

#define T_FAIL_AT(...)                             \
    do {                                           \
        printf("#   %s:%d: ", __FILE__, __LINE__); \
        printf(__VA_ARGS__);                       \
        printf("\n");                              \
        t_cur_failed++;                            \
    } while (0)

#define T_ASSERT(cond)                                \
    do {                                              \
        if (!(cond))                                  \
            T_FAIL_AT("assertion failed: %s", #cond); \
    } while (0)

/* Fails the test and returns from it. */
#define T_REQUIRE(cond)                                 \
    do {                                                \
        if (!(cond)) {                                  \
            T_FAIL_AT("requirement failed: %s", #cond); \
            return;                                     \
        }                                               \
    } while (0)

#define T_EQ_INT(a, b)                                               \
    do {                                                             \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);      \
        if (t_a_ != t_b_)                                            \
            T_FAIL_AT("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_); \
    } while (0)

#define T_EQ_STR(a, b)                                                              \
    do {                                                                            \
        const char *t_a_ = (a), *t_b_ = (b);                                        \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0)                              \
            T_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, t_a_ ? t_a_ : "(null)", \
                      t_b_ ? t_b_ : "(null)");                                      \
    } while (0)

#define T_SKIP(why)            \
    do {                       \
        t_cur_skipped = 1;     \
        t_skip_reason = (why); \
        return;                \
    } while (0)

#define T_RUN(fn)                                                          \
    do {                                                                   \
        t_cur_failed = 0;                                                  \
        t_cur_skipped = 0;                                                 \
        fn();                                                              \
        t_count++;                                                         \
        if (t_cur_failed) {                                                \
            t_failed_total++;                                              \
            printf("not ok %d - %s\n", t_count, #fn);                      \
        } else if (t_cur_skipped) {                                        \
            printf("ok %d - %s # SKIP %s\n", t_count, #fn, t_skip_reason); \
        } else {                                                           \
            printf("ok %d - %s\n", t_count, #fn);                          \
        }                                                                  \
        fflush(stdout);                                                    \
    } while (0)

/* Creates a private directory "/tmp/<prefix>-XXXXXX" in dir (at least 64 bytes) and
   points HOME and the XDG directories into it, with the DOCKHAND_* selection
   variables unset, so a test touches no real credentials.  Returns 0 or -1. */
static inline int t_isolate(char *dir, size_t n, const char *prefix)
{
    snprintf(dir, n, "/tmp/%s-XXXXXX", prefix);
    if (!mkdtemp(dir))
        return -1;
    setenv("HOME", dir, 1);
    setenv("XDG_DATA_HOME", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("XDG_STATE_HOME", dir, 1);
    unsetenv("DOCKHAND_CONFIG");
    unsetenv("DOCKHAND_STORE");
    unsetenv("DOCKHAND_NAMESPACE");
    return 0;
}

/* Removes a test directory tree.  Returns 0 or -1. */
static inline int t_rmrf(const char *dir)
{
    char cmd[4200];

    if (strchr(dir, '\'') || (size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= sizeof(cmd))
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

static inline int t_done(void)
{
    printf("1..%d\n", t_count);
    return t_failed_total ? 1 : 0;
}

#endif

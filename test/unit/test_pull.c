/* SPDX-License-Identifier: Apache-2.0 */
/* The pull engine's own rules without a registry: ref names, option checks, and
   per-image failures that leave the layout without names (the registry paths are
   tested end to end by test/cli/86-pull.bats). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dockhand/pull.h"
#include "t.h"

static char tmp[128];

struct events {
    int resolved, done, failed;
};

static void on_progress(void *arg, size_t i, enum dh_pull_event ev, const struct dh_pull_result *r)
{
    struct events *e = arg;

    (void)i;
    (void)r;
    if (ev == DH_PULL_RESOLVED)
        e->resolved++;
    else if (ev == DH_PULL_DONE)
        e->done++;
    else if (ev == DH_PULL_FAILED)
        e->failed++;
}

static void test_default_ref_names(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
            {"busybox", "busybox:latest"},
            {"docker.io/library/busybox:1.36", "busybox:1.36"},
            {"index.docker.io/team/app", "team/app:latest"},
            {"localhost:5000/a/b", "localhost:5000/a/b:latest"},
            {"127.0.0.1:5000/team/app:1.2", "127.0.0.1:5000/team/app:1.2"},
            {"ghcr.io/o/r@sha256:"
             "0000000000000000000000000000000000000000000000000000000000000000",
             "ghcr.io/o/r@sha256:0000000000000000000000000000000000000000000000000000000000000000"},
    };
    struct dh_error *err = NULL;
    char *s;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = dh_pull_default_ref_name(cases[i].in, &err);
        T_REQUIRE(s);
        T_EQ_STR(s, cases[i].want);
        free(s);
    }
    T_ASSERT(!dh_pull_default_ref_name("Foo/Bar", &err));
    T_REQUIRE(err);
    T_EQ_INT(err->status, EINVAL);
    dh_error_free(&err);
}

static void test_bad_options_try_nothing(void)
{
    const char *images[] = {"busybox"};
    struct dh_pull_result res[1];
    struct dh_pull_options opt = {.concurrency = DH_PULL_MAX_CONCURRENCY + 1};
    struct dh_error *err = NULL;
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/bad", tmp);
    T_EQ_INT(dh_pull(dir, images, NULL, 1, &opt, res, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "concurrency 65 is above the limit of 64");
    T_ASSERT(!res[0].err);
    dh_error_free(&err);
    dh_pull_result_release(&res[0]);

    opt.concurrency = 0;
    opt.platform = "linux";
    T_EQ_INT(dh_pull(dir, images, NULL, 1, &opt, res, &err), -1);
    T_REQUIRE(err);
    T_ASSERT(!res[0].err);
    dh_error_free(&err);
    dh_pull_result_release(&res[0]);
    /* nothing was created */
    {
        struct stat st;

        T_ASSERT(stat(dir, &st) < 0);
    }
}

static void test_failures_per_image(void)
{
    /* a bad reference, and a registry nothing listens on (port 1) */
    const char *images[] = {"Bad/Ref", "127.0.0.1:1/team/app:1"};
    const char *insecure[] = {"127.0.0.1:1", NULL};
    struct dh_pull_result res[2];
    struct events ev = {0};
    struct dh_pull_options opt = {.insecure_registries = insecure,
                                  .max_retries = -1,
                                  .progress = on_progress,
                                  .progress_arg = &ev};
    struct dh_error *err = NULL;
    char dir[256], path[300];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/layout", tmp);
    T_EQ_INT(dh_pull(dir, images, NULL, 2, &opt, res, &err), -1);
    T_REQUIRE(err);
    T_ASSERT(!strncmp(err->msg, "2 of 2 images failed; Bad/Ref: reference: ", 42));
    T_REQUIRE(res[0].err && res[1].err);
    T_ASSERT(!res[0].ref_name);
    T_EQ_STR(res[1].ref_name, "127.0.0.1:1/team/app:1");
    T_ASSERT(!strncmp(res[1].err->msg, "registry: cannot reach registry '127.0.0.1:1'", 45));
    T_ASSERT(!res[1].digest);
    T_EQ_INT(ev.failed, 2);
    T_EQ_INT(ev.resolved, 0);
    T_EQ_INT(ev.done, 0);
    /* the layout exists, with no name in it */
    snprintf(path, sizeof(path), "%s/oci-layout", dir);
    T_ASSERT(stat(path, &st) == 0);
    snprintf(path, sizeof(path), "%s/index.json", dir);
    T_ASSERT(stat(path, &st) < 0);
    dh_error_free(&err);
    dh_pull_result_release(&res[0]);
    dh_pull_result_release(&res[1]);
}

int main(void)
{
    if (t_isolate(tmp, sizeof(tmp), "dh-pull") < 0)
        return 1;
    T_RUN(test_default_ref_names);
    T_RUN(test_bad_options_try_nothing);
    T_RUN(test_failures_per_image);
    t_rmrf(tmp);
    return t_done();
}

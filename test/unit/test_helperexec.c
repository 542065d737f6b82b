/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: running other credential helpers (found, not found, errors, PATH look-up). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/helperexec.h"
#include "dockhand/mem.h"

#include "t.h"

static char root[64];

static void script(const char *name, const char *body)
{
    _cleanup_free_ char *p = dh_xasprintf("%s/bin/docker-credential-%s", root, name);
    FILE *f = fopen(p, "w");

    if (!f)
        return;
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(p, 0755);
}

static void test_found(void)
{
    char *u = NULL, *s = NULL, *path = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    /* Answers only for the server it was asked about, read from stdin, with verb "get". */
    script("good",
           "[ \"$1\" = get ] || exit 3\nread -r s\n[ \"$s\" = reg.example ] || exit 4\n"
           "printf '{\"ServerURL\":\"%s\",\"Username\":\"u\\\\u003c\",\"Secret\":\"p:w\"}\\n'"
           " \"$s\"");
    T_EQ_INT(dh_helperexec_find("good", &path), 1);
    T_ASSERT(path && strstr(path, "/bin/docker-credential-good"));
    free(path);
    T_EQ_INT(dh_helperexec_get("good", "reg.example", &u, &s, &err), 1);
    T_EQ_STR(u, "u<");
    T_EQ_STR(s, "p:w");
    free(u);
    dh_str_free_wipe(s);
}

static void test_not_found_and_errors(void)
{
    char *u = NULL, *s = NULL;
    struct dh_error *err = NULL;

    script("none", "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1");
    script("empty",
           "cat >/dev/null; echo '{\"ServerURL\":\"x\",\"Username\":\"\",\"Secret\":\"\"}'");
    script("broken", "cat >/dev/null; echo 'error getting credentials - boom'; exit 1");
    script("garbage", "cat >/dev/null; echo 'hello'");
    script("noread", "exit 2");
    T_EQ_INT(dh_helperexec_get("none", "h", &u, &s, &err), 0);
    T_EQ_INT(dh_helperexec_get("empty", "h", &u, &s, &err), 0);
    T_ASSERT(u == NULL && s == NULL);
    T_EQ_INT(dh_helperexec_get("broken", "h", &u, &s, &err), -1);
    T_ASSERT(err && err->status == EIO && strstr(err->msg, "boom") && strstr(err->msg, "exit 1"));
    dh_error_free(&err);
    T_EQ_INT(dh_helperexec_get("garbage", "h", &u, &s, &err), -1);
    T_ASSERT(err && strstr(err->msg, "something else"));
    dh_error_free(&err);
    T_EQ_INT(dh_helperexec_get("noread", "h", &u, &s, &err), -1);
    T_ASSERT(err && strstr(err->msg, "exit 2"));
    dh_error_free(&err);
    T_EQ_INT(dh_helperexec_get("missing", "h", &u, &s, &err), -1);
    T_ASSERT(err && err->status == ENOENT && strstr(err->msg, "not on PATH"));
    dh_error_free(&err);
    T_EQ_INT(dh_helperexec_get("../x", "h", &u, &s, &err), -1);
    dh_error_free(&err);
    T_EQ_INT(dh_helperexec_find("missing", NULL), 0);
    T_EQ_INT(dh_helperexec_find("", NULL), 0);
}

static void test_not_executable(void)
{
    _cleanup_free_ char *p = dh_xasprintf("%s/bin/docker-credential-plain", root);
    FILE *f = fopen(p, "w");

    T_REQUIRE(f != NULL);
    fclose(f);
    chmod(p, 0644);
    T_EQ_INT(dh_helperexec_find("plain", NULL), 0);
}

int main(void)
{
    _cleanup_free_ char *bin = NULL;
    _cleanup_free_ char *path = NULL;
    _cleanup_error_ struct dh_error *err = NULL;

    if (t_isolate(root, sizeof(root), "dh-helperexec") < 0)
        return 1;
    bin = dh_xasprintf("%s/bin", root);
    if (dh_mkdir_p(bin, 0700, &err) < 0)
        return 1;
    path = dh_xasprintf("/nonexistent:%s:/usr/bin:/bin", bin);
    setenv("PATH", path, 1);
    T_RUN(test_found);
    T_RUN(test_not_found_and_errors);
    T_RUN(test_not_executable);
    t_rmrf(root);
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: routing registries to stores and namespaces (src/router.c), end to end
   through the helper protocol, with file stores in namespaces as the targets. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/helper.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/store.h"

#include "t.h"

static char tmpdir[64];

static const char config_yaml[] = "store: file\n"
                                  "routes:\n"
                                  "  - registry: \"*.corp.example\"\n"
                                  "    namespace: corp\n"
                                  "  - registry: team.example:5000/team\n"
                                  "    namespace: team\n"
                                  "  - registry: broken.example\n"
                                  "    store: nosuch\n";

static int run(const char *verb, const char *input, struct dh_buf *out)
{
    char argv0[] = "docker-credential-dockhand", vbuf[16];
    char *argv[] = {argv0, vbuf, NULL};
    int p[2], status;

    snprintf(vbuf, sizeof(vbuf), "%s", verb);
    if (pipe(p) < 0 || write(p[1], input, strlen(input)) != (ssize_t)strlen(input))
        abort();
    close(p[1]);
    status = dh_helper_main(2, argv, p[0], out);
    close(p[0]);
    return status;
}

static int store(const char *url, const char *secret)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 16);
    _cleanup_free_ char *in = dh_xasprintf(
            "{\"ServerURL\":\"%s\",\"Username\":\"u\",\"Secret\":\"%s\"}", url, secret);

    return run("store", in, &out);
}

/* The secret `get` answers for url, or NULL when not found (caller frees). */
static char *get(const char *url)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 16);
    json_auto_t *j = NULL;

    if (run("get", url, &out) != 0)
        return NULL;
    j = json_loads(out.data, 0, NULL);
    return j ? dh_xstrdup(json_string_value(json_object_get(j, "Secret"))) : NULL;
}

/* The secret stored directly in the file store's namespace ns, or NULL. */
static char *in_namespace(const char *ns, const char *url)
{
    _cleanup_store_ struct dh_store *s = NULL;
    _cleanup_cred_ struct dh_cred *c = NULL;

    if (dh_store_open("file", ns, NULL, &s, NULL) < 0 || s->ops->get(s, url, &c, NULL) < 0 || !c)
        return NULL;
    return dh_xstrdup(c->secret);
}

static void test_store_goes_to_the_route(void)
{
    _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

    T_EQ_INT(store("a.corp.example", "corp-a"), 0);
    T_EQ_INT(store("other.example", "plain"), 0);
    T_EQ_INT(store("a.b.corp.example", "deep"), 0); /* '*' never crosses a dot */
    T_EQ_INT(store("team.example:5000/team/app", "team-app"), 0);
    a = in_namespace("corp", "a.corp.example");
    b = in_namespace("default", "other.example");
    c = in_namespace("default", "a.b.corp.example");
    d = in_namespace("team", "team.example:5000/team/app");
    e = in_namespace("default", "a.corp.example");
    T_EQ_STR(a, "corp-a");
    T_EQ_STR(b, "plain");
    T_EQ_STR(c, "deep");
    T_EQ_STR(d, "team-app");
    T_ASSERT(e == NULL);
}

static void test_get_follows_the_route(void)
{
    _cleanup_free_ char *a = get("https://a.corp.example/v2/");
    _cleanup_free_ char *b = get("other.example");
    _cleanup_free_ char *c = get("team.example:5000/team/app");
    _cleanup_free_ char *d = get("team.example:5000");

    T_EQ_STR(a, "corp-a");
    T_EQ_STR(b, "plain");
    T_EQ_STR(c, "team-app");
    T_ASSERT(d == NULL); /* no path: the default namespace, which has nothing */
}

static void test_env_overrides(void)
{
    char *v;

    /* DOCKHAND_NAMESPACE replaces every route's namespace for the call. */
    setenv("DOCKHAND_NAMESPACE", "default", 1);
    v = get("a.corp.example");
    T_ASSERT(v == NULL);
    free(v);
    v = get("a.b.corp.example");
    T_EQ_STR(v, "deep");
    free(v);
    unsetenv("DOCKHAND_NAMESPACE");
    /* DOCKHAND_STORE turns routing off: the default namespace for everything. */
    setenv("DOCKHAND_STORE", "file", 1);
    v = get("a.corp.example");
    T_ASSERT(v == NULL);
    free(v);
    setenv("DOCKHAND_NAMESPACE", "corp", 1);
    v = get("a.corp.example");
    T_EQ_STR(v, "corp-a");
    free(v);
    unsetenv("DOCKHAND_STORE");
    unsetenv("DOCKHAND_NAMESPACE");
}

static void test_list_is_what_get_reaches(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 16);
    _cleanup_store_ struct dh_store *corp = NULL;
    _cleanup_cred_ struct dh_cred *stray = dh_cred_new("stray.example", "u", "x");
    json_auto_t *j = NULL;

    /* An entry in the corp namespace for a registry that routes elsewhere is unreachable. */
    T_REQUIRE(dh_store_open("file", "corp", NULL, &corp, NULL) == 0);
    T_REQUIRE(corp->ops->store(corp, stray, NULL) == 0);
    T_EQ_INT(run("list", "", &out), 0);
    j = json_loads(out.data, 0, NULL);
    T_REQUIRE(j);
    T_ASSERT(json_object_get(j, "a.corp.example") != NULL);
    T_ASSERT(json_object_get(j, "other.example") != NULL);
    T_ASSERT(json_object_get(j, "a.b.corp.example") != NULL);
    T_ASSERT(json_object_get(j, "team.example:5000/team/app") != NULL);
    T_ASSERT(json_object_get(j, "stray.example") == NULL);
    T_EQ_INT(json_object_size(j), 4);
}

static void test_erase_follows_the_route(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 16);
    char *v;

    T_EQ_INT(run("erase", "a.corp.example", &out), 0);
    v = in_namespace("corp", "a.corp.example");
    T_ASSERT(v == NULL);
    free(v);
    v = in_namespace("default", "other.example");
    T_EQ_STR(v, "plain");
    free(v);
}

static void test_broken_route(void)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 16);

    T_EQ_INT(run("get", "broken.example", &out), 1);
    T_ASSERT(strstr(out.data, "store 'nosuch' (namespace 'default')") != NULL);
    T_ASSERT(strstr(out.data, "unknown store 'nosuch'") != NULL);
    T_ASSERT(strchr(out.data, '\n') == out.data + out.len - 1);
    /* list skips the broken store (with a warning) and still answers */
    T_EQ_INT(run("list", "", &out), 0);
    T_ASSERT(strstr(out.data, "other.example") != NULL);
}

int main(void)
{
    _cleanup_free_ char *cfgdir = NULL, *cfgpath = NULL;

    if (t_isolate(tmpdir, sizeof(tmpdir), "dh-router") < 0)
        return 1;
    setenv("DOCKHAND_LOG_LEVEL", "error", 1);
    dh_log_init("test_router");
    cfgdir = dh_xasprintf("%s/dockhand", tmpdir);
    cfgpath = dh_xasprintf("%s/config.yaml", cfgdir);
    if (dh_mkdir_p(cfgdir, 0700, NULL) < 0 ||
        dh_write_file_atomic(cfgpath, config_yaml, strlen(config_yaml), 0600, false, NULL) < 0)
        return 1;
    T_RUN(test_store_goes_to_the_route);
    T_RUN(test_get_follows_the_route);
    T_RUN(test_env_overrides);
    T_RUN(test_list_is_what_get_reaches);
    T_RUN(test_erase_follows_the_route);
    T_RUN(test_broken_route);
    if (t_rmrf(tmpdir) < 0)
        return 1;
    return t_done();
}

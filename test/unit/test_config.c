/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/mem.h"
#include "t.h"

static struct dh_config *parse_ok(const char *s)
{
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    if (dh_config_parse(s, strlen(s), "config.yaml", &c, &err) < 0) {
        printf("# unexpected error: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    return c;
}

/* Returns the error message of a parse that must fail (caller frees), or NULL. */
static char *parse_fail(const char *s)
{
    struct dh_config *c = (struct dh_config *)(uintptr_t)0x1;
    struct dh_error *err = NULL;
    char *msg;

    if (dh_config_parse(s, strlen(s), "config.yaml", &c, &err) == 0) {
        dh_config_free(c);
        return NULL;
    }
    if (c != (struct dh_config *)(uintptr_t)0x1)
        return dh_xstrdup("(ret was written on failure)");
    if (!err)
        return dh_xstrdup("(no error set)");
    msg = dh_xstrdup(err->msg);
    dh_error_free(&err);
    return msg;
}

#define T_FAILS_WITH(input, expected)                    \
    do {                                                 \
        _cleanup_free_ char *t_msg_ = parse_fail(input); \
        T_EQ_STR(t_msg_, expected);                      \
    } while (0)

static void assert_defaults(const struct dh_config *c)
{
    T_EQ_STR(c->store, "file");
    T_EQ_STR(c->namespace, "default");
    T_ASSERT(!c->log_level_set);
    T_ASSERT(!c->log_format_set);
    T_ASSERT(c->file_dir == NULL);
    T_ASSERT(c->file_key_file == NULL);
}

/* --- temporary directories and environment ------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st DH_UNUSED, int flag DH_UNUSED,
                    struct FTW *ftw DH_UNUSED)
{
    return remove(path);
}

static void rm_rf(const char *dir)
{
    if (dir)
        (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/dockhand-test-config.XXXXXX";

    if (!mkdtemp(tmpl))
        return NULL;
    return dh_xstrdup(tmpl);
}

static int write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static int write_str(const char *path, const char *s)
{
    return write_file(path, s, strlen(s));
}

/* Saves an environment variable and restores it at the end of the test. */
struct saved_env {
    const char *name;
    char *value;
    bool was_set;
};

static void env_save(struct saved_env *s, const char *name)
{
    const char *v = getenv(name);

    s->name = name;
    s->was_set = v != NULL;
    s->value = v ? dh_xstrdup(v) : NULL;
}

static void env_restore(struct saved_env *s)
{
    if (s->was_set)
        setenv(s->name, s->value, 1);
    else
        unsetenv(s->name);
    free(s->value);
    s->value = NULL;
}

/* --- tests ---------------------------------------------------------------------------------- */

static void test_defaults(void)
{
    static const char *const inputs[] = {"",      "\n",  "# just a comment\n\n  # another\n",
                                         "---\n", "~\n", "{}\n"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(inputs); i++) {
        _cleanup_config_ struct dh_config *c = parse_ok(inputs[i]);

        T_REQUIRE(c != NULL);
        assert_defaults(c);
        T_EQ_STR(c->path, "config.yaml");
    }
    {
        struct dh_config *c = NULL;
        struct dh_error *err = NULL;

        T_EQ_INT(dh_config_parse(NULL, 0, NULL, &c, &err), 0);
        T_REQUIRE(c != NULL);
        T_ASSERT(c->path == NULL);
        assert_defaults(c);
        dh_config_free(c);
    }
    dh_config_free(NULL);
}

static void test_every_key(void)
{
    _cleanup_config_ struct dh_config *c = parse_ok("# dockhand\n"
                                                    "store: secretservice\n"
                                                    "namespace: team-a\n"
                                                    "log:\n"
                                                    "  level: debug\n"
                                                    "  format: json\n"
                                                    "file:\n"
                                                    "  dir: /var/lib/dockhand\n"
                                                    "  key_file: \"/etc/dockhand/key\"\n");

    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, "config.yaml");
    T_EQ_STR(c->store, "secretservice");
    T_EQ_STR(c->namespace, "team-a");
    T_ASSERT(c->log_level_set);
    T_EQ_INT(c->log_level, DH_LOG_DEBUG);
    T_ASSERT(c->log_format_set);
    T_EQ_INT(c->log_format, DH_LOG_JSON);
    T_EQ_STR(c->file_dir, "/var/lib/dockhand");
    T_EQ_STR(c->file_key_file, "/etc/dockhand/key");
}

static void test_levels_and_formats(void)
{
    static const struct {
        const char *text;
        enum dh_log_level level;
    } levels[] = {{"error", DH_LOG_ERROR},
                  {"warn", DH_LOG_WARN},
                  {"warning", DH_LOG_WARN},
                  {"info", DH_LOG_INFO},
                  {"DEBUG", DH_LOG_DEBUG}};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(levels); i++) {
        _cleanup_free_ char *doc = dh_xasprintf("log: {level: %s, format: text}", levels[i].text);
        _cleanup_config_ struct dh_config *c = parse_ok(doc);

        T_REQUIRE(c != NULL);
        T_ASSERT(c->log_level_set);
        T_EQ_INT(c->log_level, levels[i].level);
        T_ASSERT(c->log_format_set);
        T_EQ_INT(c->log_format, DH_LOG_TEXT);
    }
    T_FAILS_WITH("log:\n  level: verbose\n",
                 "config.yaml:2: 'log.level' must be one of error, warn, info, debug");
    T_FAILS_WITH("log:\n  format: xml\n", "config.yaml:2: 'log.format' must be one of text, json");
    T_FAILS_WITH("log:\n  level: 3\n", "config.yaml:2: 'log.level' must be a string");
    T_FAILS_WITH("log: {format: true}\n", "config.yaml:1: 'log.format' must be a string");
}

static void test_unknown_keys(void)
{
    T_FAILS_WITH("store: file\n\nfoo: 1\n", "config.yaml:3: unknown key 'foo'");
    T_FAILS_WITH("file:\n  dir: /x\n\n  # comment\n  foo: bar\n",
                 "config.yaml:5: unknown key 'foo' in 'file'");
    T_FAILS_WITH("log:\n  level: info\n  colour: red\n",
                 "config.yaml:3: unknown key 'colour' in 'log'");
    /* Keys are case-sensitive and not trimmed. */
    T_FAILS_WITH("Store: file\n", "config.yaml:1: unknown key 'Store'");
    /* Unknown keys are reported even when their value is null or would be bad. */
    T_FAILS_WITH("mirrors:\n", "config.yaml:1: unknown key 'mirrors'");
    T_FAILS_WITH("file: {dirs: [a]}\n", "config.yaml:1: unknown key 'dirs' in 'file'");
    /* The first problem in document order wins. */
    T_FAILS_WITH("a: 1\nnamespace: 5\n", "config.yaml:1: unknown key 'a'");
    T_FAILS_WITH("namespace: 5\na: 1\n", "config.yaml:1: 'namespace' must be a string");
    /* A hostile key is printed escaped and cut. */
    T_FAILS_WITH("\"\\e[2Jx\": 1\n", "config.yaml:1: unknown key '\\x1b[2Jx'");
    T_FAILS_WITH("? \"\"\n: 1\n", "config.yaml:1: unknown key ''");
    T_FAILS_WITH("1: a\n", "config.yaml:1: unknown key '1'");
}

static void test_bad_types(void)
{
    T_FAILS_WITH("store: file\nnamespace: 123\n", "config.yaml:2: 'namespace' must be a string");
    T_FAILS_WITH("namespace: true\n", "config.yaml:1: 'namespace' must be a string");
    T_FAILS_WITH("namespace: [a]\n", "config.yaml:1: 'namespace' must be a string");
    T_FAILS_WITH("namespace:\n  a: b\n", "config.yaml:2: 'namespace' must be a string");
    T_FAILS_WITH("store: 1.5\n", "config.yaml:1: 'store' must be a string");
    T_FAILS_WITH("file:\n  dir: 5\n", "config.yaml:2: 'file.dir' must be a string");
    T_FAILS_WITH("file:\n  key_file: [/a]\n", "config.yaml:2: 'file.key_file' must be a string");
    T_FAILS_WITH("file: /x\n", "config.yaml:1: 'file' must be a mapping");
    T_FAILS_WITH("file:\n  - dir\n", "config.yaml:2: 'file' must be a mapping");
    T_FAILS_WITH("log: debug\n", "config.yaml:1: 'log' must be a mapping");
    T_FAILS_WITH("namespace: \"\"\n",
                 "config.yaml:1: 'namespace' must be 1 to 63 letters, digits, '.', '_' or '-'");
    T_FAILS_WITH("\nnamespace: ../etc\n",
                 "config.yaml:2: 'namespace' must be 1 to 63 letters, digits, '.', '_' or '-'");
    T_FAILS_WITH("store: ''\n", "config.yaml:1: 'store' must not be empty");
    T_FAILS_WITH("namespace: \"a\\0b\"\n", "config.yaml:1: 'namespace' must not contain NUL bytes");
}

static void test_top_level(void)
{
    T_FAILS_WITH("- store\n- file\n", "config.yaml:1: the top level must be a mapping");
    T_FAILS_WITH("\n\nhello\n", "config.yaml:3: the top level must be a mapping");
    T_FAILS_WITH("\"\"\n", "config.yaml:1: the top level must be a mapping");
}

static void test_quoted_vs_plain(void)
{
    _cleanup_config_ struct dh_config *a = parse_ok("namespace: \"123\"\nstore: 'true'\n");
    _cleanup_config_ struct dh_config *b = parse_ok("namespace: !!str 2024\n");
    _cleanup_config_ struct dh_config *c = parse_ok("namespace: yes\nstore: file:/x\n");

    T_REQUIRE(a && b && c);
    T_EQ_STR(a->namespace, "123");
    T_EQ_STR(a->store, "true");
    T_EQ_STR(b->namespace, "2024");
    /* YAML 1.2: `yes` is a plain string, not a boolean. */
    T_EQ_STR(c->namespace, "yes");
    T_EQ_STR(c->store, "file:/x");
}

static void test_null_values_keep_defaults(void)
{
    _cleanup_config_ struct dh_config *c = parse_ok("store:\nnamespace: ~\nlog:\nfile:\n"
                                                    "  dir: null\n  key_file:\n");
    _cleanup_config_ struct dh_config *d = parse_ok("file: ~\nlog: {level: ~}\n");

    T_REQUIRE(c && d);
    assert_defaults(c);
    assert_defaults(d);
}

static void test_yaml_errors(void)
{
    T_FAILS_WITH("store: file\nstore: pass\n",
                 "config.yaml:2: duplicate key 'store' (first defined on line 1)");
    T_FAILS_WITH("file:\n  dir: /a\n  dir: /b\n",
                 "config.yaml:3: duplicate key 'dir' (first defined on line 2)");
    T_FAILS_WITH("namespace: &ns team\nstore: *ns\n", "config.yaml:1: anchors are not supported");
    T_FAILS_WITH("store: *ns\n", "config.yaml:1: aliases are not supported");
    T_FAILS_WITH("store: file\nnamespace: a: b\n",
                 "config.yaml:2: mapping values are not allowed in this context");
    T_FAILS_WITH("store: file\n---\nstore: pass\n", "config.yaml:2: more than one document");
    T_FAILS_WITH(
            "file: {dir: /x\n",
            "config.yaml:2: did not find expected ',' or '}' (while parsing a flow mapping on line 1)");
    T_FAILS_WITH("namespace: !secret x\n", "config.yaml:1: unsupported tag '!secret'");
}

static void test_limits(void)
{
    size_t n = DH_CONFIG_MAX_SIZE + 1, i;
    _cleanup_free_ char *big = dh_xmalloc(n + 1);
    _cleanup_free_ char *deep = dh_xmalloc(200);
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    memset(big, '#', n);
    big[n] = '\0';
    T_EQ_INT(dh_config_parse(big, n, "config.yaml", &c, &err), -1);
    T_REQUIRE(err != NULL);
    T_EQ_STR(err->msg, "config.yaml: larger than 1048576 bytes");
    T_EQ_INT(err->status, E2BIG);
    dh_error_free(&err);

    /* file: {dir: [[[ ... ]]]} nested 70 deep. */
    for (i = 0; i < 70; i++)
        deep[i] = '[';
    deep[i] = '\0';
    {
        _cleanup_free_ char *doc = dh_xasprintf("file:\n  dir: %s\n", deep);
        T_FAILS_WITH(doc, "config.yaml:2: nesting deeper than 64 levels");
    }
}

static void test_paths(void)
{
    struct saved_env home;
    _cleanup_free_ char *dir = make_tmpdir();

    T_REQUIRE(dir != NULL);
    env_save(&home, "HOME");
    setenv("HOME", dir, 1);
    {
        _cleanup_config_ struct dh_config *c =
                parse_ok("file:\n  dir: ~/store\n  key_file: \"~\"\n");
        _cleanup_free_ char *want = dh_xasprintf("%s/store", dir);

        T_ASSERT(c != NULL);
        if (c) {
            T_EQ_STR(c->file_dir, want);
            T_EQ_STR(c->file_key_file, dir);
        }
    }
    {
        _cleanup_config_ struct dh_config *c = parse_ok("file:\n  dir: \"~/quoted/dir\"\n");
        _cleanup_free_ char *want = dh_xasprintf("%s/quoted/dir", dir);

        T_ASSERT(c != NULL);
        if (c)
            T_EQ_STR(c->file_dir, want);
    }
    {
        /* A plain ~ is YAML's null: the default, not the home directory. */
        _cleanup_config_ struct dh_config *c = parse_ok("file:\n  key_file: ~\n");

        T_ASSERT(c != NULL && c->file_key_file == NULL);
    }
    T_FAILS_WITH("file:\n  dir: store/x\n", "config.yaml:2: 'file.dir' must be an absolute path");
    T_FAILS_WITH("file:\n  key_file: ./key\n",
                 "config.yaml:2: 'file.key_file' must be an absolute path");
    T_FAILS_WITH("file:\n  dir: ~other/x\n", "config.yaml:2: 'file.dir' must be an absolute path");
    T_FAILS_WITH("file:\n  dir: ''\n", "config.yaml:2: 'file.dir' must be an absolute path");
    T_FAILS_WITH("file: {dir: x~/a}\n", "config.yaml:1: 'file.dir' must be an absolute path");
    env_restore(&home);
    rm_rf(dir);
}

static void test_load_file(void)
{
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = NULL;
    _cleanup_free_ char *missing = NULL;
    _cleanup_free_ char *link = NULL;
    _cleanup_free_ char *expected = NULL;
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    T_REQUIRE(dir != NULL);
    path = dh_xasprintf("%s/config.yaml", dir);
    missing = dh_xasprintf("%s/nope/config.yaml", dir);
    link = dh_xasprintf("%s/link.yaml", dir);

    /* Missing: defaults unless it must exist. */
    T_EQ_INT(dh_config_load_file(missing, false, &c, &err), 0);
    T_REQUIRE(c != NULL);
    T_ASSERT(c->path == NULL);
    assert_defaults(c);
    dh_config_free(c);
    c = NULL;
    T_EQ_INT(dh_config_load_file(missing, true, &c, &err), -1);
    T_ASSERT(c == NULL);
    T_REQUIRE(err != NULL);
    T_EQ_INT(err->status, ENOENT);
    expected = dh_xasprintf("cannot open config file '%s': No such file or directory", missing);
    T_EQ_STR(err->msg, expected);
    dh_error_free(&err);

    /* A real file, then a symlink to it (ConfigMap style). */
    T_REQUIRE(write_str(path, "namespace: ci\nfile:\n  bogus: 1\n") == 0);
    T_EQ_INT(dh_config_load_file(path, true, &c, &err), -1);
    T_REQUIRE(err != NULL);
    free(expected);
    expected = dh_xasprintf("%s:3: unknown key 'bogus' in 'file'", path);
    T_EQ_STR(err->msg, expected);
    dh_error_free(&err);

    T_REQUIRE(write_str(path, "namespace: ci\n") == 0);
    T_REQUIRE(symlink(path, link) == 0);
    T_EQ_INT(dh_config_load_file(link, true, &c, &err), 0);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, link);
    T_EQ_STR(c->namespace, "ci");
    dh_config_free(c);
    c = NULL;

    /* An empty file is the defaults. */
    T_REQUIRE(write_str(path, "") == 0);
    T_EQ_INT(dh_config_load_file(path, true, &c, &err), 0);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, path);
    assert_defaults(c);
    dh_config_free(c);
    c = NULL;

    /* A directory is not a config file. */
    T_EQ_INT(dh_config_load_file(dir, false, &c, &err), -1);
    T_REQUIRE(err != NULL);
    free(expected);
    expected = dh_xasprintf("config file '%s' is not a regular file", dir);
    T_EQ_STR(err->msg, expected);
    dh_error_free(&err);

    /* Too big. */
    {
        size_t n = DH_CONFIG_MAX_SIZE + 10;
        _cleanup_free_ char *big = dh_xmalloc(n);

        memset(big, '#', n);
        T_REQUIRE(write_file(path, big, n) == 0);
        T_EQ_INT(dh_config_load_file(path, true, &c, &err), -1);
        T_REQUIRE(err != NULL);
        T_EQ_INT(err->status, E2BIG);
        free(expected);
        expected = dh_xasprintf("%s: larger than 1048576 bytes", path);
        T_EQ_STR(err->msg, expected);
        dh_error_free(&err);
    }
    rm_rf(dir);
}

static void test_load_env(void)
{
    struct saved_env xdg, cfgenv, home;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *confdir = NULL;
    _cleanup_free_ char *path = NULL;
    _cleanup_free_ char *other = NULL;
    _cleanup_free_ char *expected = NULL;
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    T_REQUIRE(dir != NULL);
    env_save(&xdg, "XDG_CONFIG_HOME");
    env_save(&cfgenv, "DOCKHAND_CONFIG");
    env_save(&home, "HOME");
    confdir = dh_xasprintf("%s/dockhand", dir);
    path = dh_xasprintf("%s/config.yaml", confdir);
    other = dh_xasprintf("%s/other.yaml", dir);

    /* No DOCKHAND_CONFIG and no default file: defaults. */
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("DOCKHAND_CONFIG");
    T_EQ_INT(dh_config_load(&c, &err), 0);
    T_REQUIRE(c != NULL);
    T_ASSERT(c->path == NULL);
    assert_defaults(c);
    dh_config_free(c);
    c = NULL;

    /* The default file under $XDG_CONFIG_HOME/dockhand. */
    T_REQUIRE(mkdir(confdir, 0700) == 0);
    T_REQUIRE(write_str(path, "store: pass\n") == 0);
    T_EQ_INT(dh_config_load(&c, &err), 0);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, path);
    T_EQ_STR(c->store, "pass");
    dh_config_free(c);
    c = NULL;

    /* An empty DOCKHAND_CONFIG is as good as unset. */
    setenv("DOCKHAND_CONFIG", "", 1);
    T_EQ_INT(dh_config_load(&c, &err), 0);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, path);
    dh_config_free(c);
    c = NULL;

    /* DOCKHAND_CONFIG wins, and must exist. */
    setenv("DOCKHAND_CONFIG", other, 1);
    T_EQ_INT(dh_config_load(&c, &err), -1);
    T_ASSERT(c == NULL);
    T_REQUIRE(err != NULL);
    T_EQ_INT(err->status, ENOENT);
    expected = dh_xasprintf(
            "cannot open config file '%s' (from DOCKHAND_CONFIG): No such file or directory",
            other);
    T_EQ_STR(err->msg, expected);
    dh_error_free(&err);
    T_REQUIRE(write_str(other, "namespace: envns\n") == 0);
    T_EQ_INT(dh_config_load(&c, &err), 0);
    T_REQUIRE(c != NULL);
    T_EQ_STR(c->path, other);
    T_EQ_STR(c->namespace, "envns");
    T_EQ_STR(c->store, "file");
    dh_config_free(c);
    c = NULL;

    /* Errors in the default file name it. */
    unsetenv("DOCKHAND_CONFIG");
    T_REQUIRE(write_str(path, "store: pass\nlog:\n  level: loud\n") == 0);
    T_EQ_INT(dh_config_load(&c, &err), -1);
    T_REQUIRE(err != NULL);
    free(expected);
    expected = dh_xasprintf("%s:3: 'log.level' must be one of error, warn, info, debug", path);
    T_EQ_STR(err->msg, expected);
    dh_error_free(&err);

    /* Without XDG_CONFIG_HOME: ~/.config/dockhand/config.yaml. */
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", dir, 1);
    T_EQ_INT(dh_config_load(&c, &err), 0);
    T_REQUIRE(c != NULL);
    T_ASSERT(c->path == NULL);
    dh_config_free(c);
    c = NULL;
    {
        _cleanup_free_ char *d1 = dh_xasprintf("%s/.config", dir);
        _cleanup_free_ char *d2 = dh_xasprintf("%s/.config/dockhand", dir);
        _cleanup_free_ char *p = dh_xasprintf("%s/.config/dockhand/config.yaml", dir);

        T_REQUIRE(mkdir(d1, 0700) == 0 && mkdir(d2, 0700) == 0);
        T_REQUIRE(write_str(p, "namespace: homens\n") == 0);
        T_EQ_INT(dh_config_load(&c, &err), 0);
        T_REQUIRE(c != NULL);
        T_EQ_STR(c->path, p);
        T_EQ_STR(c->namespace, "homens");
        dh_config_free(c);
        c = NULL;
    }

    env_restore(&xdg);
    env_restore(&cfgenv);
    env_restore(&home);
    rm_rf(dir);
}

static void test_routes(void)
{
    static const char yaml[] = "store: file\n"
                               "routes:\n"
                               "  - registry: \"*.corp.example\"\n"
                               "    store: kube:ci\n"
                               "    namespace: ci\n"
                               "  - registry: ghcr.io\n"
                               "    store: secretservice\n"
                               "  - registry: registry.example:5000/team\n"
                               "    namespace: team\n";
    _cleanup_config_ struct dh_config *c = NULL;
    struct dh_error *err = NULL;

    T_EQ_INT(dh_config_parse(yaml, strlen(yaml), "config.yaml", &c, &err), 0);
    T_REQUIRE(c);
    T_EQ_INT(c->n_routes, 3);
    T_EQ_STR(c->routes[0].registry, "*.corp.example");
    T_EQ_STR(c->routes[0].store, "kube:ci");
    T_EQ_STR(c->routes[0].namespace, "ci");
    T_EQ_INT(c->routes[0].line, 3);
    T_EQ_STR(c->routes[1].store, "secretservice");
    T_ASSERT(c->routes[1].namespace == NULL);
    T_ASSERT(c->routes[2].store == NULL);
    T_EQ_STR(c->routes[2].namespace, "team");
    T_EQ_INT(c->routes[2].line, 8);

    T_FAILS_WITH("routes: ghcr.io\n", "config.yaml:1: 'routes' must be a list");
    T_FAILS_WITH("routes:\n  - ghcr.io\n", "config.yaml:2: 'routes[0]' must be a mapping");
    T_FAILS_WITH("routes:\n  - store: file\n",
                 "config.yaml:2: 'routes[0]' needs a 'registry' pattern");
    T_FAILS_WITH("routes:\n  - registry: a.io\n",
                 "config.yaml:2: 'routes[0]' needs a 'store' or a 'namespace'");
    T_FAILS_WITH("routes:\n  - registry: a.io\n    store: file\n  - registry: b.io\n    shop: x\n",
                 "config.yaml:5: unknown key 'shop' in 'routes[1]'");
    T_FAILS_WITH(
            "routes:\n  - registry: a.io\n    namespace: ../x\n",
            "config.yaml:3: 'routes[0].namespace' must be 1 to 63 letters, digits, '.', '_' or '-'");
    T_FAILS_WITH("routes:\n  - registry: ''\n    store: file\n",
                 "config.yaml:2: 'routes[0].registry' must not be empty");
}

static void test_ecr_gcr(void)
{
    static const char yaml[] = "ecr:\n"
                               "  - registry: \"*.dkr.ecr.*.amazonaws.com\"\n"
                               "    profile: prod\n"
                               "    role_arn: arn:aws:iam::123456789012:role/puller\n"
                               "  - registry: mirror.corp.example:5000\n"
                               "    account: \"123456789012\"\n"
                               "    region: eu-west-1\n"
                               "gcr:\n"
                               "  registries: [registry.corp.example, other.example]\n"
                               "  key_file: /etc/dockhand/sa.json\n";
    _cleanup_config_ struct dh_config *c = NULL;

    T_EQ_INT(dh_config_parse(yaml, strlen(yaml), "config.yaml", &c, NULL), 0);
    T_REQUIRE(c);
    T_EQ_INT(c->n_ecr, 2);
    T_EQ_STR(c->ecr[0].profile, "prod");
    T_EQ_STR(c->ecr[0].role_arn, "arn:aws:iam::123456789012:role/puller");
    T_ASSERT(c->ecr[0].account == NULL);
    T_EQ_STR(c->ecr[1].account, "123456789012");
    T_EQ_STR(c->ecr[1].region, "eu-west-1");
    T_EQ_INT(c->ecr[1].line, 5);
    T_EQ_INT(c->n_gcr_registries, 2);
    T_EQ_STR(c->gcr_registries[1], "other.example");
    T_EQ_STR(c->gcr_key_file, "/etc/dockhand/sa.json");

    T_FAILS_WITH("ecr:\n  - account: \"1\"\n",
                 "config.yaml:2: 'ecr[0]' needs a 'registry' pattern");
    T_FAILS_WITH("ecr:\n  - registry: m.example\n    account: \"1\"\n",
                 "config.yaml:2: 'ecr[0]' needs a 'region' with its 'account'");
    T_FAILS_WITH("ecr:\n  - registry: m.example\n    account: 123\n",
                 "config.yaml:3: 'ecr[0].account' must be a string");
    T_FAILS_WITH("gcr:\n  registries: [a, '']\n",
                 "config.yaml:2: 'gcr.registries[1]' must not be empty");
    T_FAILS_WITH("gcr:\n  scopes: x\n", "config.yaml:2: unknown key 'scopes' in 'gcr'");
}

int main(void)
{
    T_RUN(test_defaults);
    T_RUN(test_every_key);
    T_RUN(test_levels_and_formats);
    T_RUN(test_unknown_keys);
    T_RUN(test_bad_types);
    T_RUN(test_top_level);
    T_RUN(test_quoted_vs_plain);
    T_RUN(test_null_values_keep_defaults);
    T_RUN(test_yaml_errors);
    T_RUN(test_limits);
    T_RUN(test_paths);
    T_RUN(test_load_file);
    T_RUN(test_load_env);
    T_RUN(test_routes);
    T_RUN(test_ecr_gcr);
    return t_done();
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/yaml.h"
#include "t.h"

static struct dh_yaml_node *parse_ok(const char *s)
{
    struct dh_yaml_node *root = NULL;
    struct dh_error *err = NULL;

    if (dh_yaml_parse(s, strlen(s), "x.yaml", &root, &err) < 0) {
        printf("# unexpected error: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    return root;
}

/* Parses data[0..len) expecting failure; returns the message (caller frees) or NULL. */
static char *parse_fail_n(const char *data, size_t len, int *ret_status)
{
    struct dh_yaml_node *root = (struct dh_yaml_node *)(uintptr_t)0x1;
    struct dh_error *err = NULL;
    char *msg;

    if (dh_yaml_parse(data, len, "x.yaml", &root, &err) == 0) {
        dh_yaml_free(root);
        return NULL;
    }
    /* The output parameter is never written on failure. */
    if (root != (struct dh_yaml_node *)(uintptr_t)0x1)
        return dh_xstrdup("(ret was written on failure)");
    if (!err)
        return dh_xstrdup("(no error set)");
    msg = dh_xstrdup(err->msg);
    if (ret_status)
        *ret_status = err->status;
    dh_error_free(&err);
    return msg;
}

static char *parse_fail(const char *s)
{
    return parse_fail_n(s, strlen(s), NULL);
}

#define T_FAILS_WITH(input, expected)                    \
    do {                                                 \
        _cleanup_free_ char *t_msg_ = parse_fail(input); \
        T_EQ_STR(t_msg_, expected);                      \
    } while (0)

static void test_empty(void)
{
    static const char *const inputs[] = {
            "",          "\n\n",        "# only a comment\n# another\n", "---\n", "---\n...\n",
            "--- # c\n", "\xef\xbb\xbf"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(inputs); i++) {
        struct dh_yaml_node *root = (struct dh_yaml_node *)(uintptr_t)0x1;
        struct dh_error *err = NULL;

        T_EQ_INT(dh_yaml_parse(inputs[i], strlen(inputs[i]), "x.yaml", &root, &err), 0);
        T_ASSERT(root == NULL);
        T_ASSERT(err == NULL);
        dh_error_free(&err);
    }
    /* A NULL data pointer with length 0 is an empty stream too. */
    {
        struct dh_yaml_node *root = NULL;
        struct dh_error *err = NULL;

        T_EQ_INT(dh_yaml_parse(NULL, 0, NULL, &root, &err), 0);
        T_ASSERT(root == NULL);
    }
    dh_yaml_free(NULL);
}

static void test_tree(void)
{
    _cleanup_yaml_ struct dh_yaml_node *root = parse_ok("# head\n"
                                                        "b: one\n"
                                                        "a:\n"
                                                        "  - x\n"
                                                        "  - {k: v}\n"
                                                        "  -   y\n"
                                                        "c: {}\n");
    const struct dh_yaml_node *a, *item;

    T_REQUIRE(root != NULL);
    T_EQ_INT(root->type, DH_YAML_MAPPING);
    T_EQ_INT(root->line, 2);
    T_EQ_INT(root->column, 1);
    T_EQ_STR(root->filename, "x.yaml");
    T_REQUIRE(root->n_pairs == 3);
    /* Document order, not sorted. */
    T_EQ_STR(root->pairs[0].key, "b");
    T_EQ_INT(root->pairs[0].key_line, 2);
    T_EQ_STR(root->pairs[1].key, "a");
    T_EQ_INT(root->pairs[1].key_line, 3);
    T_EQ_STR(root->pairs[2].key, "c");
    T_EQ_INT(root->pairs[0].value->type, DH_YAML_SCALAR);
    T_EQ_STR(root->pairs[0].value->text, "one");
    T_EQ_INT(root->pairs[0].value->line, 2);
    T_EQ_INT(root->pairs[0].value->column, 4);

    a = dh_yaml_mapping_get(root, "a");
    T_REQUIRE(a != NULL);
    T_EQ_INT(a->type, DH_YAML_SEQUENCE);
    T_EQ_INT(a->line, 4);
    T_REQUIRE(a->n_items == 3);
    T_EQ_STR(a->items[0]->text, "x");
    T_EQ_INT(a->items[0]->line, 4);
    item = a->items[1];
    T_EQ_INT(item->type, DH_YAML_MAPPING);
    T_EQ_INT(item->line, 5);
    T_EQ_STR(dh_yaml_mapping_get(item, "k")->text, "v");
    T_EQ_STR(a->items[2]->text, "y");
    T_EQ_INT(a->items[2]->column, 7);
    T_EQ_STR(a->items[2]->filename, "x.yaml");

    T_EQ_INT(dh_yaml_mapping_get(root, "c")->type, DH_YAML_MAPPING);
    T_EQ_INT(dh_yaml_mapping_get(root, "c")->n_pairs, 0);
    T_ASSERT(dh_yaml_mapping_get(root, "zz") == NULL);
    T_ASSERT(dh_yaml_mapping_get(a, "x") == NULL);
    T_ASSERT(dh_yaml_mapping_get(NULL, "x") == NULL);
}

static void test_scalar_kinds(void)
{
    static const struct {
        const char *yaml;
        enum dh_yaml_kind kind;
        bool quoted;
        const char *text;
    } cases[] = {
            {"v: 123", DH_YAML_KIND_INT, false, "123"},
            {"v: \"123\"", DH_YAML_KIND_STR, true, "123"},
            {"v: '123'", DH_YAML_KIND_STR, true, "123"},
            {"v: -5", DH_YAML_KIND_INT, false, "-5"},
            {"v: 0777", DH_YAML_KIND_INT, false, "0777"},
            {"v: 0o17", DH_YAML_KIND_INT, false, "0o17"},
            {"v: 0x1F", DH_YAML_KIND_INT, false, "0x1F"},
            {"v: 1.5", DH_YAML_KIND_FLOAT, false, "1.5"},
            {"v: 1e3", DH_YAML_KIND_FLOAT, false, "1e3"},
            {"v: .inf", DH_YAML_KIND_FLOAT, false, ".inf"},
            {"v: -.INF", DH_YAML_KIND_FLOAT, false, "-.INF"},
            {"v: .nan", DH_YAML_KIND_FLOAT, false, ".nan"},
            {"v: true", DH_YAML_KIND_BOOL, false, "true"},
            {"v: False", DH_YAML_KIND_BOOL, false, "False"},
            {"v: TRUE", DH_YAML_KIND_BOOL, false, "TRUE"},
            {"v: 'true'", DH_YAML_KIND_STR, true, "true"},
            {"v: yes", DH_YAML_KIND_STR, false, "yes"},
            {"v: off", DH_YAML_KIND_STR, false, "off"},
            {"v: tRUE", DH_YAML_KIND_STR, false, "tRUE"},
            {"v: ~", DH_YAML_KIND_NULL, false, "~"},
            {"v: null", DH_YAML_KIND_NULL, false, "null"},
            {"v:", DH_YAML_KIND_NULL, false, ""},
            {"v: ''", DH_YAML_KIND_STR, true, ""},
            {"v: 1.2.3", DH_YAML_KIND_STR, false, "1.2.3"},
            {"v: 12abc", DH_YAML_KIND_STR, false, "12abc"},
            {"v: 0x", DH_YAML_KIND_STR, false, "0x"},
            {"v: .", DH_YAML_KIND_STR, false, "."},
            {"v: 1e", DH_YAML_KIND_STR, false, "1e"},
            {"v: !!str 123", DH_YAML_KIND_STR, false, "123"},
            {"v: ! 123", DH_YAML_KIND_STR, false, "123"},
            {"v: !!int \"12\"", DH_YAML_KIND_INT, true, "12"},
            {"v: !!bool true", DH_YAML_KIND_BOOL, false, "true"},
            {"v: !!null ''", DH_YAML_KIND_NULL, true, ""},
            {"v: !!float 2.5", DH_YAML_KIND_FLOAT, false, "2.5"},
            {"v: |\n  line\n", DH_YAML_KIND_STR, true, "line\n"},
            {"v: >-\n  a\n  b\n", DH_YAML_KIND_STR, true, "a b"},
            {"v: \"tab\\there\"", DH_YAML_KIND_STR, true, "tab\there"},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_yaml_ struct dh_yaml_node *root = parse_ok(cases[i].yaml);
        const struct dh_yaml_node *v = dh_yaml_mapping_get(root, "v");

        if (!v) {
            T_FAIL_AT("case %zu '%s': no value", i, cases[i].yaml);
            continue;
        }
        if (v->type != DH_YAML_SCALAR || v->kind != cases[i].kind || v->quoted != cases[i].quoted ||
            strcmp(v->text, cases[i].text) != 0)
            T_FAIL_AT("case %zu '%s': type %d kind %d quoted %d text '%s'", i, cases[i].yaml,
                      v->type, v->kind, v->quoted, v->text);
    }
}

static void test_duplicate_keys(void)
{
    T_FAILS_WITH("a: 1\nb: 2\na: 3\n", "x.yaml:3: duplicate key 'a' (first defined on line 1)");
    /* Quoting does not make a different key. */
    T_FAILS_WITH("a: 1\n\"a\": 2\n", "x.yaml:2: duplicate key 'a' (first defined on line 1)");
    T_FAILS_WITH("top:\n  x: 1\n  y: 2\n  x: 3\n",
                 "x.yaml:4: duplicate key 'x' (first defined on line 2)");
    T_FAILS_WITH("{a: 1, b: 2, a: 3}", "x.yaml:1: duplicate key 'a' (first defined on line 1)");
    /* The earliest repetition wins, whatever the sort order. */
    T_FAILS_WITH("z: 1\na: 1\nz: 2\na: 2\n",
                 "x.yaml:3: duplicate key 'z' (first defined on line 1)");
    T_FAILS_WITH("b: 1\na: 1\nc: 1\na: 2\nb: 2\n",
                 "x.yaml:4: duplicate key 'a' (first defined on line 2)");
    T_FAILS_WITH("a: 1\na: 2\na: 3\n", "x.yaml:2: duplicate key 'a' (first defined on line 1)");
    /* Same key in different mappings is fine. */
    {
        _cleanup_yaml_ struct dh_yaml_node *root = parse_ok("a: {x: 1}\nb: {x: 2}\n");
        T_ASSERT(root != NULL);
    }
}

static void test_large_mapping_duplicate(void)
{
    size_t n = 40000, i, off = 0, cap = n * 16 + 64;
    _cleanup_free_ char *doc = dh_xmalloc(cap);
    _cleanup_free_ char *msg = NULL;
    _cleanup_free_ char *expected = NULL;
    struct dh_yaml_node *root = NULL;
    struct dh_error *err = NULL;
    clock_t start = clock();

    for (i = 0; i < n; i++)
        off += (size_t)snprintf(doc + off, cap - off, "k%zu: %zu\n", i, i);
    T_EQ_INT(dh_yaml_parse(doc, off, "x.yaml", &root, &err), 0);
    T_REQUIRE(root != NULL);
    T_EQ_INT(root->n_pairs, n);
    T_EQ_STR(dh_yaml_mapping_get(root, "k39999")->text, "39999");
    dh_yaml_free(root);

    off += (size_t)snprintf(doc + off, cap - off, "k123: again\n");
    msg = parse_fail_n(doc, off, NULL);
    expected = dh_xasprintf("x.yaml:%zu: duplicate key 'k123' (first defined on line 124)", n + 1);
    T_EQ_STR(msg, expected);
    /* Sorting, not a quadratic scan: well under a few seconds even under sanitizers. */
    T_ASSERT((clock() - start) / CLOCKS_PER_SEC < 20);
}

static void test_anchors_aliases(void)
{
    T_FAILS_WITH("a: &x 1\nb: *x\n", "x.yaml:1: anchors are not supported");
    T_FAILS_WITH("a: 1\nb: *x\n", "x.yaml:2: aliases are not supported");
    T_FAILS_WITH("base: &b\n  k: v\n", "x.yaml:1: anchors are not supported");
    T_FAILS_WITH("list: &l [1]\n", "x.yaml:1: anchors are not supported");
    T_FAILS_WITH("x: 1\n<<: *b\n", "x.yaml:2: aliases are not supported");
    /* The billion laughs never gets off the ground. */
    T_FAILS_WITH("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\nc: [*b,*b]\n",
                 "x.yaml:1: anchors are not supported");
}

static void test_malformed(void)
{
    T_FAILS_WITH("a: b\nc: d: e\n", "x.yaml:2: mapping values are not allowed in this context");
    T_FAILS_WITH(
            "a: 1\n\nb: [1, 2\n",
            "x.yaml:4: did not find expected ',' or ']' (while parsing a flow sequence on line 3)");
    T_FAILS_WITH("a:\n  b: 1\n c: 2\n",
                 "x.yaml:3: did not find expected key (while parsing a block mapping on line 1)");
    T_FAILS_WITH(
            "a: \"unterminated\n",
            "x.yaml:2: found unexpected end of stream (while scanning a quoted scalar on line 1)");
    T_FAILS_WITH(
            "a: 1\n\tb: 2\n",
            "x.yaml:2: found a tab character that violates indentation (while scanning a plain scalar on line 1)");
    T_FAILS_WITH("%YAML 2.0\n---\na: 1\n", "x.yaml:1: found incompatible YAML document");
}

static void test_malformed_bytes(void)
{
    static const char bad_utf8[] = "a: 1\nb: 2\nc: \xff\n";
    static const char nul[] = "a: 1\nb: x\0y\n";
    _cleanup_free_ char *m1 = parse_fail_n(bad_utf8, sizeof(bad_utf8) - 1, NULL);
    _cleanup_free_ char *m2 = parse_fail_n(nul, sizeof(nul) - 1, NULL);

    T_REQUIRE(m1 && m2);
    T_ASSERT(strncmp(m1, "x.yaml:3: ", 10) == 0);
    T_ASSERT(strstr(m1, "UTF-8") != NULL);
    T_ASSERT(strncmp(m2, "x.yaml:2: ", 10) == 0);
    T_ASSERT(strstr(m2, "control characters are not allowed") != NULL);
}

static void test_multiple_documents(void)
{
    T_FAILS_WITH("a: 1\n---\nb: 2\n", "x.yaml:2: more than one document");
    T_FAILS_WITH("---\na: 1\n...\n---\nb: 2\n", "x.yaml:4: more than one document");
    T_FAILS_WITH("---\n---\n", "x.yaml:2: more than one document");
}

static char *nested(size_t depth, bool flow)
{
    size_t i, off = 0, cap = depth * (flow ? 2 : depth * 2 + 8) + 16;
    char *s = dh_xmalloc(cap);

    for (i = 0; i < depth; i++) {
        if (flow)
            s[off++] = '[';
        else
            off += (size_t)snprintf(s + off, cap - off, "%*sk:\n", (int)(i * 2), "");
    }
    if (flow) {
        for (i = 0; i < depth; i++)
            s[off++] = ']';
    } else {
        /* The last key gets a mapping value so the depth is exactly `depth`. */
        off += (size_t)snprintf(s + off, cap - off, "%*sk: v\n", (int)(depth * 2), "");
    }
    s[off] = '\0';
    return s;
}

static void test_depth_limit(void)
{
    _cleanup_free_ char *flow64 = nested(DH_YAML_MAX_DEPTH, true);
    _cleanup_free_ char *flow65 = nested(DH_YAML_MAX_DEPTH + 1, true);
    _cleanup_free_ char *block64 = nested(DH_YAML_MAX_DEPTH - 1, false);
    _cleanup_free_ char *block65 = nested(DH_YAML_MAX_DEPTH, false);
    _cleanup_free_ char *deep = nested(100000, true);
    _cleanup_yaml_ struct dh_yaml_node *r1 = parse_ok(flow64);
    _cleanup_yaml_ struct dh_yaml_node *r2 = parse_ok(block64);
    _cleanup_free_ char *expected =
            dh_xasprintf("x.yaml:%d: nesting deeper than 64 levels", DH_YAML_MAX_DEPTH + 1);

    T_ASSERT(r1 != NULL);
    T_ASSERT(r2 != NULL);
    T_FAILS_WITH(flow65, "x.yaml:1: nesting deeper than 64 levels");
    T_FAILS_WITH(block65, expected);
    T_FAILS_WITH(deep, "x.yaml:1: nesting deeper than 64 levels");
}

static void test_size_limit(void)
{
    size_t n = DH_YAML_MAX_SIZE;
    _cleanup_free_ char *doc = dh_xmalloc(n + 2);
    _cleanup_free_ char *msg = NULL;
    struct dh_yaml_node *root = NULL;
    struct dh_error *err = NULL;
    int status = 0;

    /* Exactly the limit: one big comment line after a key. */
    memset(doc, '#', n + 1);
    memcpy(doc, "a: 1\n", 5);
    doc[n - 1] = '\n';
    T_EQ_INT(dh_yaml_parse(doc, n, "x.yaml", &root, &err), 0);
    T_REQUIRE(root != NULL);
    T_EQ_STR(dh_yaml_mapping_get(root, "a")->text, "1");
    dh_yaml_free(root);

    msg = parse_fail_n(doc, n + 1, &status);
    T_EQ_STR(msg, "x.yaml: larger than 1048576 bytes");
    T_EQ_INT(status, E2BIG);
}

static void test_complex_keys_and_tags(void)
{
    T_FAILS_WITH("? [a, b]\n: c\n", "x.yaml:1: mapping keys must be scalars");
    T_FAILS_WITH("{[a]: 1}", "x.yaml:1: mapping keys must be scalars");
    T_FAILS_WITH("a: !foo bar\n", "x.yaml:1: unsupported tag '!foo'");
    T_FAILS_WITH("a: !!binary aGk=\n", "x.yaml:1: unsupported tag '!!binary'");
    T_FAILS_WITH("a: !!map [1]\n", "x.yaml:1: unsupported tag '!!map'");
    T_FAILS_WITH("a: !!seq x\n", "x.yaml:1: unsupported tag '!!seq'");
    T_FAILS_WITH("x: 1\na: !!int abc\n", "x.yaml:2: invalid value for tag '!!int'");
    T_FAILS_WITH("a: !!bool yes\n", "x.yaml:1: invalid value for tag '!!bool'");
    T_FAILS_WITH("%TAG !! tag:example.com,2000:\n---\na: !!str x\n",
                 "x.yaml:3: unsupported tag 'tag:example.com,2000:str'");
    {
        _cleanup_yaml_ struct dh_yaml_node *root = parse_ok("!!map {a: !!seq [x]}\n");
        T_REQUIRE(root != NULL);
        T_EQ_INT(dh_yaml_mapping_get(root, "a")->type, DH_YAML_SEQUENCE);
    }
}

static void test_null_filename(void)
{
    struct dh_yaml_node *root = NULL;
    struct dh_error *err = NULL;

    T_EQ_INT(dh_yaml_parse("a: *x", 5, NULL, &root, &err), -1);
    T_REQUIRE(err != NULL);
    T_EQ_STR(err->msg, "<input>:1: aliases are not supported");
    dh_error_free(&err);
}

#define T_ACCESS_FAILS(call, expected)                   \
    do {                                                 \
        struct dh_error *t_err_ = NULL;                  \
        T_EQ_INT((call), -1);                            \
        T_EQ_STR(t_err_ ? t_err_->msg : NULL, expected); \
        dh_error_free(&t_err_);                          \
    } while (0)

static void test_accessors(void)
{
    _cleanup_yaml_ struct dh_yaml_node *root = parse_ok("s: hello\n"
                                                        "qs: \"123\"\n"
                                                        "n: 123\n"
                                                        "b: true\n"
                                                        "bf: FALSE\n"
                                                        "yes: yes\n"
                                                        "neg: -1\n"
                                                        "big: 18446744073709551616\n"
                                                        "max: 18446744073709551615\n"
                                                        "hex: 0x10\n"
                                                        "oct: 0o17\n"
                                                        "plus: +7\n"
                                                        "list: [a]\n"
                                                        "map: {a: 1}\n"
                                                        "nul: ~\n"
                                                        "zero: \"a\\0b\"\n");
    const struct dh_yaml_node *n;
    _cleanup_free_ char *s = NULL;
    bool b = false;
    uint64_t u = 0;

    T_REQUIRE(root != NULL);
    T_EQ_INT(dh_yaml_get_string(dh_yaml_mapping_get(root, "s"), "s", &s, NULL), 0);
    T_EQ_STR(s, "hello");
    free(s);
    s = NULL;
    T_EQ_INT(dh_yaml_get_string(dh_yaml_mapping_get(root, "qs"), "qs", &s, NULL), 0);
    T_EQ_STR(s, "123");
    free(s);
    s = NULL;
    T_EQ_INT(dh_yaml_get_string(dh_yaml_mapping_get(root, "yes"), "yes", &s, NULL), 0);
    T_EQ_STR(s, "yes");

    n = dh_yaml_mapping_get(root, "n");
    T_ACCESS_FAILS(dh_yaml_get_string(n, "a.n", &s, &t_err_), "x.yaml:3: 'a.n' must be a string");
    T_ACCESS_FAILS(dh_yaml_get_string(dh_yaml_mapping_get(root, "b"), "b", &s, &t_err_),
                   "x.yaml:4: 'b' must be a string");
    T_ACCESS_FAILS(dh_yaml_get_string(dh_yaml_mapping_get(root, "list"), "list", &s, &t_err_),
                   "x.yaml:13: 'list' must be a string");
    T_ACCESS_FAILS(dh_yaml_get_string(dh_yaml_mapping_get(root, "nul"), "nul", &s, &t_err_),
                   "x.yaml:15: 'nul' must be a string");
    T_ACCESS_FAILS(dh_yaml_get_string(dh_yaml_mapping_get(root, "zero"), "zero", &s, &t_err_),
                   "x.yaml:16: 'zero' must not contain NUL bytes");
    T_ACCESS_FAILS(dh_yaml_get_string(NULL, "gone", &s, &t_err_), "'gone' is missing");
    T_EQ_STR(s, "yes");

    T_EQ_INT(dh_yaml_get_bool(dh_yaml_mapping_get(root, "b"), "b", &b, NULL), 0);
    T_ASSERT(b);
    T_EQ_INT(dh_yaml_get_bool(dh_yaml_mapping_get(root, "bf"), "bf", &b, NULL), 0);
    T_ASSERT(!b);
    T_ACCESS_FAILS(dh_yaml_get_bool(dh_yaml_mapping_get(root, "yes"), "yes", &b, &t_err_),
                   "x.yaml:6: 'yes' must be a boolean (true or false)");
    T_ACCESS_FAILS(dh_yaml_get_bool(dh_yaml_mapping_get(root, "qs"), "qs", &b, &t_err_),
                   "x.yaml:2: 'qs' must be a boolean (true or false)");

    T_EQ_INT(dh_yaml_get_uint(n, "n", 1000, &u, NULL), 0);
    T_EQ_INT(u, 123);
    T_EQ_INT(dh_yaml_get_uint(dh_yaml_mapping_get(root, "hex"), "hex", 1000, &u, NULL), 0);
    T_EQ_INT(u, 16);
    T_EQ_INT(dh_yaml_get_uint(dh_yaml_mapping_get(root, "oct"), "oct", 1000, &u, NULL), 0);
    T_EQ_INT(u, 15);
    T_EQ_INT(dh_yaml_get_uint(dh_yaml_mapping_get(root, "plus"), "plus", 1000, &u, NULL), 0);
    T_EQ_INT(u, 7);
    T_EQ_INT(dh_yaml_get_uint(dh_yaml_mapping_get(root, "max"), "max", UINT64_MAX, &u, NULL), 0);
    T_ASSERT(u == UINT64_MAX);
    u = 42;
    T_ACCESS_FAILS(dh_yaml_get_uint(n, "n", 100, &u, &t_err_), "x.yaml:3: 'n' must be at most 100");
    T_ACCESS_FAILS(dh_yaml_get_uint(dh_yaml_mapping_get(root, "neg"), "neg", 100, &u, &t_err_),
                   "x.yaml:7: 'neg' must be a non-negative integer");
    T_ACCESS_FAILS(
            dh_yaml_get_uint(dh_yaml_mapping_get(root, "big"), "big", UINT64_MAX, &u, &t_err_),
            "x.yaml:8: 'big' must be at most 18446744073709551615");
    T_ACCESS_FAILS(dh_yaml_get_uint(dh_yaml_mapping_get(root, "qs"), "qs", 1000, &u, &t_err_),
                   "x.yaml:2: 'qs' must be a non-negative integer");
    T_ACCESS_FAILS(dh_yaml_get_uint(dh_yaml_mapping_get(root, "s"), "s", 1000, &u, &t_err_),
                   "x.yaml:1: 's' must be a non-negative integer");
    T_EQ_INT(u, 42);

    T_EQ_INT(dh_yaml_expect(dh_yaml_mapping_get(root, "map"), DH_YAML_MAPPING, "map", NULL), 0);
    T_EQ_INT(dh_yaml_expect(dh_yaml_mapping_get(root, "list"), DH_YAML_SEQUENCE, "list", NULL), 0);
    T_ACCESS_FAILS(
            dh_yaml_expect(dh_yaml_mapping_get(root, "list"), DH_YAML_MAPPING, "list", &t_err_),
            "x.yaml:13: 'list' must be a mapping");
    T_ACCESS_FAILS(dh_yaml_expect(dh_yaml_mapping_get(root, "s"), DH_YAML_SEQUENCE, "s", &t_err_),
                   "x.yaml:1: 's' must be a list");
    T_ACCESS_FAILS(dh_yaml_expect(dh_yaml_mapping_get(root, "map"), DH_YAML_SCALAR, "map", &t_err_),
                   "x.yaml:14: 'map' must be a scalar");

    T_ASSERT(dh_yaml_is_null(dh_yaml_mapping_get(root, "nul")));
    T_ASSERT(!dh_yaml_is_null(dh_yaml_mapping_get(root, "s")));
    T_ASSERT(!dh_yaml_is_null(NULL));
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } good[] = {
            {"30", 30000},  {"\"45\"", 45000},  {"30s", 30000},  {"500ms", 500},
            {"5m", 300000}, {"1h30m", 5400000}, {"1h", 3600000}, {"2m3s4ms", 123004},
            {"0", 0},       {"'1m'", 60000},
    };
    static const char *const bad[] = {"-5",  "5x",  "s",  "1.5s", "1h 30m", "true",
                                      "[1]", "5m-", "''", "0x10", "1 s"};
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(good); i++) {
        _cleanup_free_ char *doc = dh_xasprintf("d: %s\n", good[i].text);
        _cleanup_yaml_ struct dh_yaml_node *root = parse_ok(doc);
        struct dh_error *err = NULL;
        uint64_t ms = 1;

        if (dh_yaml_get_duration(dh_yaml_mapping_get(root, "d"), "d", UINT64_MAX, &ms, &err) < 0 ||
            ms != good[i].ms)
            T_FAIL_AT("duration '%s': %s, %llu ms", good[i].text, err ? err->msg : "ok",
                      (unsigned long long)ms);
        dh_error_free(&err);
    }
    for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *doc = dh_xasprintf("d: %s\n", bad[i]);
        _cleanup_yaml_ struct dh_yaml_node *root = parse_ok(doc);
        struct dh_error *err = NULL;
        uint64_t ms = 7;

        T_EQ_INT(dh_yaml_get_duration(dh_yaml_mapping_get(root, "d"), "t.d", 1000000, &ms, &err),
                 -1);
        T_EQ_STR(err ? err->msg : NULL, "x.yaml:1: 't.d' must be a duration such as 30s, 5m or 1h");
        T_EQ_INT(ms, 7);
        dh_error_free(&err);
    }
    {
        _cleanup_yaml_ struct dh_yaml_node *root =
                parse_ok("a: 2h\nb: 99999999999999999999h\nc: 18446744073709551615\n");
        uint64_t ms = 0;

        T_ACCESS_FAILS(
                dh_yaml_get_duration(dh_yaml_mapping_get(root, "a"), "a", 3600000, &ms, &t_err_),
                "x.yaml:1: 'a' must be at most 3600000ms");
        T_ACCESS_FAILS(
                dh_yaml_get_duration(dh_yaml_mapping_get(root, "b"), "b", UINT64_MAX, &ms, &t_err_),
                "x.yaml:2: 'b' must be at most 18446744073709551615ms");
        T_ACCESS_FAILS(
                dh_yaml_get_duration(dh_yaml_mapping_get(root, "c"), "c", UINT64_MAX, &ms, &t_err_),
                "x.yaml:3: 'c' must be at most 18446744073709551615ms");
    }
}

static void test_printable(void)
{
    _cleanup_free_ char *a = dh_yaml_printable("plain key", 9);
    _cleanup_free_ char *b = dh_yaml_printable("a\nb\x1b[31m\\\xc3\xa9\0z", 13);
    _cleanup_free_ char *c = NULL;
    char long_key[100];

    memset(long_key, 'k', sizeof(long_key));
    c = dh_yaml_printable(long_key, sizeof(long_key));
    T_EQ_STR(a, "plain key");
    T_EQ_STR(b, "a\\x0ab\\x1b[31m\\x5c\\xc3\\xa9\\x00z");
    T_EQ_INT(strlen(c), 67);
    T_ASSERT(strcmp(c + 64, "...") == 0);
    /* Keys in messages go through it. */
    T_FAILS_WITH("\"a\\e\": 1\n\"a\\e\": 2\n",
                 "x.yaml:2: duplicate key 'a\\x1b' (first defined on line 1)");
}

int main(void)
{
    T_RUN(test_empty);
    T_RUN(test_tree);
    T_RUN(test_scalar_kinds);
    T_RUN(test_duplicate_keys);
    T_RUN(test_large_mapping_duplicate);
    T_RUN(test_anchors_aliases);
    T_RUN(test_malformed);
    T_RUN(test_malformed_bytes);
    T_RUN(test_multiple_documents);
    T_RUN(test_depth_limit);
    T_RUN(test_size_limit);
    T_RUN(test_complex_keys_and_tags);
    T_RUN(test_null_filename);
    T_RUN(test_accessors);
    T_RUN(test_durations);
    T_RUN(test_printable);
    return t_done();
}

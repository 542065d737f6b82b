/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/yaml.h"
#include "t.h"

/* Emits the JSON text as YAML; returns a new string or NULL (error printed). */
static char *emit(const char *json, unsigned flags)
{
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    int r;

    if (!v) {
        printf("# bad test JSON: %s\n", jerr.text);
        return NULL;
    }
    r = dh_yaml_emit_json(v, flags, &out, &err);
    json_decref(v);
    if (r < 0) {
        printf("# %s\n", err->msg);
        return NULL;
    }
    return dh_buf_steal(&out, NULL);
}

static void test_emit_shapes(void)
{
    _cleanup_free_ char *a = emit(
            "{\"b\":1,\"a\":[1,\"x\",{\"k\":null,\"t\":true}],\"e\":{},\"f\":[],\"r\":2.5}", 0);
    _cleanup_free_ char *b = emit("{\"b\":1,\"a\":{\"z\":1,\"y\":2}}", DH_YAML_EMIT_SORT_KEYS);
    _cleanup_free_ char *c = emit("[[1,2],{\"a\":[]}]", 0);

    /* Block style, sequences in a mapping not indented, empty collections in flow style. */
    T_EQ_STR(a, "b: 1\na:\n- 1\n- x\n- k: null\n  t: true\ne: {}\nf: []\nr: 2.5\n");
    /* "y" is a YAML 1.1 bool: go-yaml (kubectl) quotes it too. */
    T_EQ_STR(b, "a:\n  \"y\": 2\n  z: 1\nb: 1\n");
    T_EQ_STR(c, "- - 1\n  - 2\n- a: []\n");
}

/* Emits {"k": s} and returns the text after "k: " without the final newline. */
static char *emit_str(const char *s)
{
    json_t *o = json_pack("{s:s}", "k", s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char *y = text ? emit(text, 0) : NULL, *r = NULL;
    size_t n;

    json_decref(o);
    free(text);
    if (y && !strncmp(y, "k: ", 3) && (n = strlen(y)) > 3 && y[n - 1] == '\n')
        r = dh_xstrndup(y + 3, n - 4);
    free(y);
    return r;
}

static void check_str(const char *s, const char *want)
{
    _cleanup_free_ char *got = emit_str(s);

    if (!got || strcmp(got, want) != 0)
        T_FAIL_AT("'%s' emitted as [%s], want [%s]", s, got ? got : "(null)", want);
}

/* Expected forms checked against kubectl v1.32.4 (go-yaml v2), e.g.
   kubectl create configmap x --from-literal=n=12:30 --dry-run=client -o yaml
   prints  "n": "12:30". */
static void test_emit_quoting(void)
{
    /* Strings a YAML 1.1 or 1.2 reader would take for something else: double quotes. */
    static const char *const quoted[] = {
            "",
            "123",
            "-7",
            "+1",
            "1.5",
            ".5",
            "1e3",
            "0x1F",
            "0o17",
            "0b101",
            "017",
            "1_000",
            "12:30",
            "1:02:03.5",
            "2026-11-23T16:00:00Z",
            "2026-1-2",
            "2026-11-23 16:00:00",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "N",
            "true",
            "False",
            "null",
            "~",
            "NULL",
            ".inf",
            "-.Inf",
            ".nan",
            "1.",
            "+.5",
            "1__2",
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(quoted); i++) {
        char want[128];

        snprintf(want, sizeof(want), "\"%s\"", quoted[i]);
        check_str(quoted[i], want);
        T_ASSERT(dh_yaml_needs_quotes(quoted[i], strlen(quoted[i])));
    }
    /* Plain where plain reads back as the same string. */
    check_str("v1", "v1");
    check_str("1a", "1a");
    check_str("2026-11", "2026-11");
    check_str("kubernetes.io/dockerconfigjson", "kubernetes.io/dockerconfigjson");
    check_str("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
    /* Outside the BMP libyaml (and go-yaml) escape: kubectl prints "été \U0001F433" too. */
    check_str("\xc3\xa9t\xc3\xa9 \xf0\x9f\x90\xb3", "\"\xc3\xa9t\xc3\xa9 \\U0001F433\"");
    check_str("a b c", "a b c");
    check_str("yes please", "yes please");
    check_str("it's", "it's");
    check_str("<<", "<<");
    check_str("=", "=");
    check_str("-x", "-x");
    check_str("60:61", "60:61");
    check_str("1:60", "1:60");
    check_str("0x", "0x");
    check_str("1e", "1e");
    check_str("_1", "_1");
    T_ASSERT(!dh_yaml_needs_quotes("v1", 2));
    /* libyaml falls back to quotes when plain is not allowed. */
    check_str("a: b", "'a: b'");
    check_str("- x", "'- x'");
    check_str("-", "'-'");
    check_str("#x", "'#x'");
    check_str("x #y", "'x #y'");
    check_str(" lead", "' lead'");
    check_str("'q'", "'''q'''");
    check_str("\"q\"", "'\"q\"'");
    check_str("tab\there", "\"tab\\there\"");
    /* A line break: a literal block, no trailing newline kept ("|-"). */
    check_str("two\nlines", "|-\n  two\n  lines");
}

static void test_emit_long_lines_not_folded(void)
{
    char s[301];
    _cleanup_free_ char *got = NULL;
    size_t i;

    for (i = 0; i < 300; i++)
        s[i] = i % 7 == 6 ? ' ' : 'w';
    s[300] = '\0';
    got = emit_str(s);
    T_EQ_STR(got, s);
}

static void test_emit_tokens_spliced(void)
{
    const char *tok = "eyJhdXRocyI6eyJTIjp7InVzZXJuYW1lIjoiVSIsInBhc3N3b3JkIjoiUCIsImF1dGgiOi"
                      "JWVHBRIn19fQ==";
    json_t *o = json_pack("{s:{s:s},s:[s,s],s:s}", "data", ".dockerconfigjson", tok, "list", tok,
                          "0123456789abcdef0123", "same", tok);
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    _cleanup_free_ char *y = emit(text, 0);
    char want[1024];

    json_decref(o);
    snprintf(want, sizeof(want),
             "data:\n  .dockerconfigjson: %s\nlist:\n- %s\n- 0123456789abcdef0123\nsame: %s\n", tok,
             tok, tok);
    T_EQ_STR(y, want);
}

static void test_emit_limits(void)
{
    _cleanup_buf_ struct dh_buf small = DH_BUF_INIT_SECRET(8);
    _cleanup_buf_ struct dh_buf big = DH_BUF_INIT_SECRET(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    json_t *v = json_pack("{s:s}", "key", "a value longer than eight bytes");
    json_t *deep = json_array(), *cur = deep;
    int i;

    /* Past the cap: E2BIG and the buffer unchanged. */
    T_EQ_INT(dh_yaml_emit_json(v, 0, &small, &err), -1);
    T_ASSERT(err && err->status == E2BIG);
    T_EQ_INT(small.len, 0);
    json_decref(v);
    dh_error_free(&err);
    for (i = 0; i < DH_YAML_MAX_DEPTH + 2; i++) {
        json_t *next = json_array();

        json_array_append_new(cur, next);
        cur = next;
    }
    T_EQ_INT(dh_yaml_emit_json(deep, 0, &big, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    T_EQ_INT(big.len, 0);
    json_decref(deep);
}

int main(void)
{
    dh_json_use_wiping_alloc();
    T_RUN(test_emit_shapes);
    T_RUN(test_emit_quoting);
    T_RUN(test_emit_long_lines_not_folded);
    T_RUN(test_emit_tokens_spliced);
    T_RUN(test_emit_limits);
    return t_done();
}

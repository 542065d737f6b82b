/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the YAML emitter: the bytes are parsed as JSON (jansson);
 * dh_yaml_emit_json() must write YAML that dh_yaml_parse() reads back to the
 * same value: every string a string with the same bytes (quoting, literal
 * blocks and the token splice all right), numbers, bools and nulls as such,
 * keys in order.  With DH_YAML_EMIT_SORT_KEYS the shape must still match.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(json_t *j, const struct dh_yaml_node *n, bool ordered)
{
    size_t i = 0;
    char num[64];
    void *it;

    if (!n)
        abort();
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (n->type != DH_YAML_MAPPING || n->n_pairs != json_object_size(j))
            abort();
        for (it = json_object_iter(j); it; it = json_object_iter_next(j, it), i++) {
            const char *k = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            const struct dh_yaml_pair *p = NULL;
            size_t m;

            if (ordered) {
                p = &n->pairs[i];
            } else {
                for (m = 0; m < n->n_pairs && !p; m++)
                    if (n->pairs[m].key_len == klen && !memcmp(n->pairs[m].key, k, klen))
                        p = &n->pairs[m];
            }
            if (!p || p->key_len != klen || memcmp(p->key, k, klen) != 0)
                abort();
            same(json_object_iter_value(it), p->value, ordered);
        }
        return;
    case JSON_ARRAY:
        if (n->type != DH_YAML_SEQUENCE || n->n_items != json_array_size(j))
            abort();
        for (i = 0; i < n->n_items; i++)
            same(json_array_get(j, i), n->items[i], ordered);
        return;
    case JSON_STRING:
        if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_STR ||
            n->len != json_string_length(j) || memcmp(n->text, json_string_value(j), n->len) != 0)
            abort();
        return;
    case JSON_INTEGER:
        (void)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_INT || strcmp(n->text, num) != 0)
            abort();
        return;
    case JSON_REAL:
        if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_FLOAT ||
            strtod(n->text, NULL) != json_real_value(j))
            abort();
        return;
    case JSON_TRUE:
    case JSON_FALSE:
        if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_BOOL ||
            strcmp(n->text, json_is_true(j) ? "true" : "false") != 0)
            abort();
        return;
    case JSON_NULL:
        if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_NULL)
            abort();
        return;
    }
    abort();
}

static void round_trip(json_t *j, unsigned flags)
{
    struct dh_buf out = DH_BUF_INIT_SECRET(DH_YAML_MAX_SIZE);
    struct dh_error *err = NULL;
    struct dh_yaml_node *root = NULL;

    if (dh_yaml_emit_json(j, flags, &out, &err) < 0) {
        /* Only nesting past the parser's limit or the size cap may fail. */
        if (!err || out.len != 0)
            abort();
        dh_error_free(&err);
        return;
    }
    if (err || !out.len || out.data[out.len - 1] != '\n')
        abort();
    if (dh_yaml_parse(out.data, out.len, "emitted.yaml", &root, &err) < 0) {
        fprintf(stderr, "cannot read back:\n%s\n%s\n", out.data, err->msg);
        abort();
    }
    same(j, root, !(flags & DH_YAML_EMIT_SORT_KEYS));
    dh_yaml_free(root);
    dh_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j =
            json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

    if (!j)
        return 0;
    round_trip(j, 0);
    round_trip(j, DH_YAML_EMIT_SORT_KEYS);
    json_decref(j);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the YAML tree and the config schema: parses the bytes with
 * dh_yaml_parse() and dh_config_parse(), checks the error contract (an error
 * is set exactly on failure, starts with "fuzz.yaml:", and the output is not
 * written) and walks the tree checking its invariants, then frees everything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/config.h"
#include "dockhand/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILENAME "fuzz.yaml"

static void check_error(int r, struct dh_error *err)
{
    if (r == 0) {
        if (err)
            abort();
        return;
    }
    if (r != -1 || !err || !err->msg || strncmp(err->msg, FILENAME ":", strlen(FILENAME ":")))
        abort();
}

static void walk(const struct dh_yaml_node *n, const char *filename, size_t depth)
{
    size_t i;

    /* depth counts collections: at most DH_YAML_MAX_DEPTH, plus a scalar leaf. */
    if (!n || depth > DH_YAML_MAX_DEPTH + 1 || n->line == 0 || n->column == 0 ||
        n->filename != filename)
        abort();
    if (n->type != DH_YAML_SCALAR && depth > DH_YAML_MAX_DEPTH)
        abort();
    switch (n->type) {
    case DH_YAML_SCALAR:
        if (!n->text || n->text[n->len] != '\0' || n->pairs || n->items)
            abort();
        break;
    case DH_YAML_MAPPING:
        for (i = 0; i < n->n_pairs; i++) {
            const struct dh_yaml_pair *p = &n->pairs[i];

            if (!p->key || p->key[p->key_len] != '\0' || p->key_line == 0 || !p->value)
                abort();
            /* Keys are unique: a lookup finds this very entry (when the key has no NUL). */
            if (strlen(p->key) == p->key_len && dh_yaml_mapping_get(n, p->key) != p->value)
                abort();
            walk(p->value, filename, depth + 1);
        }
        break;
    case DH_YAML_SEQUENCE:
        for (i = 0; i < n->n_items; i++)
            walk(n->items[i], filename, depth + 1);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct dh_yaml_node *root = NULL;
    struct dh_config *c = NULL;
    struct dh_error *err = NULL;
    int r;

    r = dh_yaml_parse(s, size, FILENAME, &root, &err);
    check_error(r, err);
    if (r == 0 && root) {
        if (strcmp(root->filename, FILENAME) != 0)
            abort();
        walk(root, root->filename, 1);
    } else if (r < 0 && root) {
        abort();
    }
    dh_yaml_free(root);
    dh_error_free(&err);

    r = dh_config_parse(s, size, FILENAME, &c, &err);
    check_error(r, err);
    if (r == 0) {
        if (!c || !c->store || !c->namespace || !c->path || strcmp(c->path, FILENAME) != 0)
            abort();
        if ((c->file_dir && c->file_dir[0] != '/') ||
            (c->file_key_file && c->file_key_file[0] != '/'))
            abort();
    } else if (c) {
        abort();
    }
    dh_config_free(c);
    dh_error_free(&err);
    return 0;
}

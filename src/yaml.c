/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <sys/random.h>

#include <yaml.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

/* An open collection while building the tree. */
struct frame {
    struct dh_yaml_node *node;
    size_t cap; /* allocated pairs or items */
    /* mapping: the key waiting for its value */
    bool have_key;
    char *key;
    size_t key_len;
    size_t key_line;
    size_t key_column;
};

struct builder {
    const char *data;
    size_t len;
    char *filename;            /* for messages while parsing */
    const char *node_filename; /* stored after the root node, borrowed by every node */
    struct dh_yaml_node *root;
    struct frame stack[DH_YAML_MAX_DEPTH];
    size_t depth;
    unsigned documents;
};

static void node_free(struct dh_yaml_node *n)
{
    size_t i;

    if (!n)
        return;
    free(n->text);
    for (i = 0; i < n->n_pairs; i++) {
        free(n->pairs[i].key);
        node_free(n->pairs[i].value);
    }
    free(n->pairs);
    for (i = 0; i < n->n_items; i++)
        node_free(n->items[i]);
    free(n->items);
    free(n);
}

void dh_yaml_free(struct dh_yaml_node *root)
{
    /* The file name every node points to lives in the root's allocation. */
    node_free(root);
}

char *dh_yaml_printable(const char *s, size_t len)
{
    const size_t max = 64;
    size_t n = len > max ? max : len, i, o = 0;
    /* Each byte takes at most 4 characters, plus "..." and the NUL. */
    char *out = dh_xmalloc(n * 4 + 4);

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f || c == '\\') {
            (void)snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        } else {
            out[o++] = (char)c;
        }
    }
    if (len > max) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int verror_at(struct dh_error **err, int status, const char *filename, size_t line,
                     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static int verror_at(struct dh_error **err, int status, const char *filename, size_t line,
                     const char *fmt, va_list ap)
{
    _cleanup_free_ char *msg = dh_xvasprintf(fmt, ap);

    return dh_error_make(err, status, "%s:%zu: %s", filename, line, msg);
}

static int error_at(struct dh_error **err, int status, const char *filename, size_t line,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int error_at(struct dh_error **err, int status, const char *filename, size_t line,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror_at(err, status, filename, line, fmt, ap);
    va_end(ap);
    return -1;
}

int dh_yaml_error(const struct dh_yaml_node *n, struct dh_error **err, int status, const char *fmt,
                  ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror_at(err, status, n->filename, n->line, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- YAML 1.2 core schema resolution ------------------------------------------------------- */

static bool str_is(const char *s, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool all_chars(const char *s, size_t len, bool (*pred)(char))
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++)
        if (!pred(s[i]))
            return false;
    return true;
}

static bool is_odigit(char c)
{
    return c >= '0' && c <= '7';
}

static bool match_int(const char *s, size_t len)
{
    if (len > 2 && s[0] == '0' && s[1] == 'o')
        return all_chars(s + 2, len - 2, is_odigit);
    if (len > 2 && s[0] == '0' && s[1] == 'x')
        return all_chars(s + 2, len - 2, is_xdigit);
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        s++, len--;
    return all_chars(s, len, is_digit);
}

static bool match_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    if (str_is(s, len, ".nan") || str_is(s, len, ".NaN") || str_is(s, len, ".NAN"))
        return true;
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        i++;
    if (str_is(s + i, len - i, ".inf") || str_is(s + i, len - i, ".Inf") ||
        str_is(s + i, len - i, ".INF"))
        return true;
    /* [0-9]* ( \. [0-9]* )? with at least one digit, then ([eE][-+]?[0-9]+)? */
    while (i < len && is_digit(s[i]))
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i]))
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp = 0;

        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < len && is_digit(s[i]))
            i++, exp++;
        if (exp == 0)
            return false;
    }
    return i == len;
}

static enum dh_yaml_kind resolve_plain(const char *s, size_t len)
{
    if (len == 0 || str_is(s, len, "~") || str_is(s, len, "null") || str_is(s, len, "Null") ||
        str_is(s, len, "NULL"))
        return DH_YAML_KIND_NULL;
    if (str_is(s, len, "true") || str_is(s, len, "True") || str_is(s, len, "TRUE") ||
        str_is(s, len, "false") || str_is(s, len, "False") || str_is(s, len, "FALSE"))
        return DH_YAML_KIND_BOOL;
    if (match_int(s, len))
        return DH_YAML_KIND_INT;
    if (match_float(s, len))
        return DH_YAML_KIND_FLOAT;
    return DH_YAML_KIND_STR;
}

/* --- building the tree --------------------------------------------------------------------- */

static size_t grow_cap(size_t cap)
{
    return cap ? cap * 2 : 4;
}

static void *grow_array(void *p, size_t *cap, size_t elem)
{
    size_t ncap = grow_cap(*cap), bytes;

    if (__builtin_mul_overflow(ncap, elem, &bytes))
        dh_oom();
    p = dh_xrealloc(p, bytes);
    *cap = ncap;
    return p;
}

static char *copy_text(const unsigned char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        dh_oom();
    p = dh_xmalloc(len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static int check_anchor(struct builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                        struct dh_error **err)
{
    if (anchor)
        return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1,
                        "anchors are not supported");
    return 0;
}

static int unsupported_tag(struct builder *b, const yaml_event_t *ev, const yaml_char_t *tag,
                           struct dh_error **err)
{
    const char *t = (const char *)tag;
    _cleanup_free_ char *p = NULL;
    bool core = strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) == 0;

    /* Spell the core tags the way they are written: !!map, not tag:yaml.org,2002:map. */
    if (core)
        t += strlen(TAG_PREFIX);
    p = dh_yaml_printable(t, strlen(t));
    return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1, "unsupported tag '%s%s'",
                    core ? "!!" : "", p);
}

static int collection_tag(struct builder *b, const yaml_event_t *ev, const yaml_char_t *tag,
                          const char *expected, struct dh_error **err)
{
    if (!tag || strcmp((const char *)tag, "!") == 0 || strcmp((const char *)tag, expected) == 0)
        return 0;
    return unsupported_tag(b, ev, tag, err);
}

/* Resolves a scalar's kind from its style and tag. */
static int scalar_kind(struct builder *b, const yaml_event_t *ev, struct dh_yaml_node *n,
                       struct dh_error **err)
{
    static const struct {
        const char *tag;
        enum dh_yaml_kind kind;
    } tags[] = {
            {TAG_PREFIX "null", DH_YAML_KIND_NULL},
            {TAG_PREFIX "bool", DH_YAML_KIND_BOOL},
            {TAG_PREFIX "int", DH_YAML_KIND_INT},
            {TAG_PREFIX "float", DH_YAML_KIND_FLOAT},
    };
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t i;

    if (!tag) {
        n->kind = n->quoted ? DH_YAML_KIND_STR : resolve_plain(n->text, n->len);
        return 0;
    }
    if (strcmp(tag, "!") == 0 || strcmp(tag, TAG_PREFIX "str") == 0) {
        n->kind = DH_YAML_KIND_STR;
        return 0;
    }
    for (i = 0; i < DH_ARRAY_SIZE(tags); i++) {
        if (strcmp(tag, tags[i].tag) != 0)
            continue;
        if (resolve_plain(n->text, n->len) != tags[i].kind)
            return error_at(err, EINVAL, b->filename, n->line, "invalid value for tag '!!%s'",
                            tag + strlen(TAG_PREFIX));
        n->kind = tags[i].kind;
        return 0;
    }
    return unsupported_tag(b, ev, ev->data.scalar.tag, err);
}

static struct dh_yaml_node *node_new(struct builder *b, const yaml_event_t *ev,
                                     enum dh_yaml_type type)
{
    struct dh_yaml_node *n;

    if (b->depth == 0) {
        /* The root carries the file name in the same allocation, so that
           dh_yaml_free() of the root releases it and no node owns a string
           it would have to cast const away from. */
        size_t flen = strlen(b->filename) + 1;
        char *name;

        n = dh_xcalloc(1, sizeof(*n) + flen);
        name = (char *)(n + 1);
        memcpy(name, b->filename, flen);
        b->node_filename = name;
    } else {
        n = dh_xcalloc(1, sizeof(*n));
    }
    n->type = type;
    n->line = ev->start_mark.line + 1;
    n->column = ev->start_mark.column + 1;
    n->filename = b->node_filename;
    return n;
}

/* Hands a complete or just-opened node to its parent (or makes it the root).  Takes n. */
static int attach(struct builder *b, const yaml_event_t *ev, struct dh_yaml_node *n,
                  struct dh_error **err)
{
    struct dh_yaml_pair *p;
    struct frame *f;

    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    f = &b->stack[b->depth - 1];
    if (f->node->type == DH_YAML_SEQUENCE) {
        if (f->node->n_items == f->cap)
            f->node->items = grow_array(f->node->items, &f->cap, sizeof(*f->node->items));
        f->node->items[f->node->n_items++] = n;
        return 0;
    }
    if (!f->have_key) {
        if (n->type != DH_YAML_SCALAR) {
            node_free(n);
            return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1,
                            "mapping keys must be scalars");
        }
        f->key = TAKE_PTR(n->text);
        f->key_len = n->len;
        f->key_line = n->line;
        f->key_column = n->column;
        f->have_key = true;
        node_free(n);
        return 0;
    }
    if (f->node->n_pairs == f->cap)
        f->node->pairs = grow_array(f->node->pairs, &f->cap, sizeof(*f->node->pairs));
    p = &f->node->pairs[f->node->n_pairs++];
    p->key = TAKE_PTR(f->key);
    p->key_len = f->key_len;
    p->key_line = f->key_line;
    p->key_column = f->key_column;
    p->value = n;
    f->have_key = false;
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev, struct dh_error **err)
{
    struct dh_yaml_node *n;

    if (check_anchor(b, ev, ev->data.scalar.anchor, err) < 0)
        return -1;
    n = node_new(b, ev, DH_YAML_SCALAR);
    n->text = copy_text(ev->data.scalar.value, ev->data.scalar.length);
    n->len = ev->data.scalar.length;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (scalar_kind(b, ev, n, err) < 0) {
        node_free(n);
        return -1;
    }
    return attach(b, ev, n, err);
}

static int on_collection_start(struct builder *b, const yaml_event_t *ev, enum dh_yaml_type type,
                               struct dh_error **err)
{
    const yaml_char_t *anchor, *tag;
    struct dh_yaml_node *n;

    if (type == DH_YAML_MAPPING) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (check_anchor(b, ev, anchor, err) < 0)
        return -1;
    if (collection_tag(b, ev, tag, type == DH_YAML_MAPPING ? TAG_PREFIX "map" : TAG_PREFIX "seq",
                       err) < 0)
        return -1;
    if (b->depth >= DH_YAML_MAX_DEPTH)
        return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1,
                        "nesting deeper than %d levels", DH_YAML_MAX_DEPTH);
    n = node_new(b, ev, type);
    if (attach(b, ev, n, err) < 0)
        return -1;
    b->stack[b->depth++] = (struct frame){.node = n};
    return 0;
}

static int pair_cmp(const void *a, const void *b, void *arg)
{
    const struct dh_yaml_pair *pairs = arg;
    const struct dh_yaml_pair *x = &pairs[*(const size_t *)a], *y = &pairs[*(const size_t *)b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = n ? memcmp(x->key, y->key, n) : 0;

    if (r)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    /* Equal keys keep document order. */
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static bool same_key(const struct dh_yaml_pair *x, const struct dh_yaml_pair *y)
{
    return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/* Fails on the first key (in document order) that repeats an earlier one.
   Sorting keeps this O(n log n) for large mappings. */
static int check_duplicates(struct builder *b, const struct dh_yaml_node *map,
                            struct dh_error **err)
{
    _cleanup_free_ size_t *idx = NULL;
    _cleanup_free_ char *k = NULL;
    size_t i, group = 0, n = map->n_pairs, dup = SIZE_MAX, first = 0, bytes;

    if (n < 2)
        return 0;
    if (__builtin_mul_overflow(n, sizeof(*idx), &bytes))
        dh_oom();
    idx = dh_xmalloc(bytes);
    for (i = 0; i < n; i++)
        idx[i] = i;
    /* Equal keys end up next to each other, in document order. */
    qsort_r(idx, n, sizeof(*idx), pair_cmp, map->pairs);
    for (i = 1; i < n; i++) {
        if (!same_key(&map->pairs[idx[group]], &map->pairs[idx[i]])) {
            group = i;
        } else if (idx[i] < dup) {
            dup = idx[i];
            first = idx[group];
        }
    }
    if (dup == SIZE_MAX)
        return 0;
    k = dh_yaml_printable(map->pairs[dup].key, map->pairs[dup].key_len);
    return error_at(err, EINVAL, b->filename, map->pairs[dup].key_line,
                    "duplicate key '%s' (first defined on line %zu)", k,
                    map->pairs[first].key_line);
}

static int on_event(struct builder *b, const yaml_event_t *ev, bool *done, struct dh_error **err)
{
    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (b->documents++ > 0)
            return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1,
                            "more than one document");
        return 0;
    case YAML_ALIAS_EVENT:
        return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1,
                        "aliases are not supported");
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, err);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(b, ev, DH_YAML_SEQUENCE, err);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(b, ev, DH_YAML_MAPPING, err);
    case YAML_MAPPING_END_EVENT:
        if (b->depth == 0)
            break;
        if (check_duplicates(b, b->stack[b->depth - 1].node, err) < 0)
            return -1;
        b->depth--;
        return 0;
    case YAML_SEQUENCE_END_EVENT:
        if (b->depth == 0)
            break;
        b->depth--;
        return 0;
    }
    return error_at(err, EINVAL, b->filename, ev->start_mark.line + 1, "unexpected YAML event");
}

/* Line (1-based) of byte offset off in the input. */
static size_t line_of_offset(const struct builder *b, size_t off)
{
    size_t i, line = 1;

    if (off > b->len)
        off = b->len;
    for (i = 0; i < off; i++)
        if (b->data[i] == '\n')
            line++;
    return line;
}

static int parser_error(struct builder *b, const yaml_parser_t *p, struct dh_error **err)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    size_t line;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return dh_error_make(err, ENOMEM, "%s: out of memory while parsing YAML", b->filename);
    case YAML_READER_ERROR:
        line = line_of_offset(b, p->problem_offset);
        break;
    default:
        line = p->problem_mark.line + 1;
        break;
    }
    if (p->context)
        return error_at(err, EINVAL, b->filename, line, "%s (%s on line %zu)", problem, p->context,
                        p->context_mark.line + 1);
    return error_at(err, EINVAL, b->filename, line, "%s", problem);
}

static void builder_release(struct builder *b)
{
    size_t i;

    for (i = 0; i < b->depth; i++)
        free(b->stack[i].key);
    b->depth = 0;
    node_free(b->root);
    b->root = NULL;
    free(b->filename);
    b->filename = NULL;
}

int dh_yaml_parse(const char *data, size_t len, const char *filename, struct dh_yaml_node **ret,
                  struct dh_error **err)
{
    struct builder b = {.data = data, .len = len};
    yaml_parser_t parser;
    bool done = false;
    int r = 0;

    if (!filename)
        filename = "<input>";
    if (len > DH_YAML_MAX_SIZE)
        return dh_error_make(err, E2BIG, "%s: larger than %d bytes", filename, DH_YAML_MAX_SIZE);
    if (!yaml_parser_initialize(&parser))
        return dh_error_make(err, ENOMEM, "%s: cannot initialise the YAML parser", filename);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""), len);
    b.filename = dh_xstrdup(filename);

    while (!done) {
        yaml_event_t ev;

        if (!yaml_parser_parse(&parser, &ev)) {
            r = parser_error(&b, &parser, err);
            break;
        }
        r = on_event(&b, &ev, &done, err);
        yaml_event_delete(&ev);
        if (r < 0)
            break;
    }
    yaml_parser_delete(&parser);
    if (r < 0) {
        builder_release(&b);
        return -1;
    }
    /* A document with no content ("---" alone) is an empty document. */
    if (b.root && b.root->type == DH_YAML_SCALAR && b.root->kind == DH_YAML_KIND_NULL &&
        b.root->len == 0 && !b.root->quoted) {
        node_free(b.root);
        b.root = NULL;
    }
    if (!b.root) {
        builder_release(&b);
        *ret = NULL;
        return 0;
    }
    free(b.filename);
    *ret = TAKE_PTR(b.root);
    return 0;
}

/* --- accessors ----------------------------------------------------------------------------- */

const struct dh_yaml_node *dh_yaml_mapping_get(const struct dh_yaml_node *map, const char *key)
{
    size_t i, klen;

    if (!map || map->type != DH_YAML_MAPPING || !key)
        return NULL;
    klen = strlen(key);
    for (i = 0; i < map->n_pairs; i++)
        if (map->pairs[i].key_len == klen && memcmp(map->pairs[i].key, key, klen) == 0)
            return map->pairs[i].value;
    return NULL;
}

bool dh_yaml_is_null(const struct dh_yaml_node *n)
{
    return n && n->type == DH_YAML_SCALAR && n->kind == DH_YAML_KIND_NULL;
}

static int missing(const char *path, struct dh_error **err)
{
    return dh_error_make(err, EINVAL, "'%s' is missing", path);
}

int dh_yaml_expect(const struct dh_yaml_node *n, enum dh_yaml_type type, const char *path,
                   struct dh_error **err)
{
    if (!n)
        return missing(path, err);
    if (n->type == type)
        return 0;
    switch (type) {
    case DH_YAML_MAPPING:
        return dh_yaml_error(n, err, EINVAL, "'%s' must be a mapping", path);
    case DH_YAML_SEQUENCE:
        return dh_yaml_error(n, err, EINVAL, "'%s' must be a list", path);
    case DH_YAML_SCALAR:
        break;
    }
    return dh_yaml_error(n, err, EINVAL, "'%s' must be a scalar", path);
}

int dh_yaml_get_string(const struct dh_yaml_node *n, const char *path, char **ret,
                       struct dh_error **err)
{
    if (!n)
        return missing(path, err);
    if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_STR)
        return dh_yaml_error(n, err, EINVAL, "'%s' must be a string", path);
    if (memchr(n->text, '\0', n->len))
        return dh_yaml_error(n, err, EINVAL, "'%s' must not contain NUL bytes", path);
    *ret = dh_xstrdup(n->text);
    return 0;
}

int dh_yaml_get_bool(const struct dh_yaml_node *n, const char *path, bool *ret,
                     struct dh_error **err)
{
    if (!n)
        return missing(path, err);
    if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_BOOL)
        return dh_yaml_error(n, err, EINVAL, "'%s' must be a boolean (true or false)", path);
    *ret = n->text[0] == 't' || n->text[0] == 'T';
    return 0;
}

/* Parses digits in base (10, 16 or 8) into *ret; false on overflow. */
static bool parse_digits(const char *s, size_t len, unsigned base, uint64_t *ret)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;

        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a') + 10;
        else
            d = (unsigned)(c - 'A') + 10;
        if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
            return false;
    }
    *ret = v;
    return true;
}

int dh_yaml_get_uint(const struct dh_yaml_node *n, const char *path, uint64_t max, uint64_t *ret,
                     struct dh_error **err)
{
    const char *s;
    size_t len;
    unsigned base = 10;
    uint64_t v;

    if (!n)
        return missing(path, err);
    if (n->type != DH_YAML_SCALAR || n->kind != DH_YAML_KIND_INT || n->text[0] == '-')
        return dh_yaml_error(n, err, EINVAL, "'%s' must be a non-negative integer", path);
    s = n->text;
    len = n->len;
    if (s[0] == '+') {
        s++, len--;
    } else if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        s += 2, len -= 2;
    }
    if (!parse_digits(s, len, base, &v) || v > max)
        return dh_yaml_error(n, err, ERANGE, "'%s' must be at most %" PRIu64, path, max);
    *ret = v;
    return 0;
}

int dh_yaml_get_duration(const struct dh_yaml_node *n, const char *path, uint64_t max_ms,
                         uint64_t *ret_ms, struct dh_error **err)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
    uint64_t total = 0;
    const char *s;
    size_t len, i = 0;

    if (!n)
        return missing(path, err);
    if (n->type != DH_YAML_SCALAR || (n->kind != DH_YAML_KIND_STR && n->kind != DH_YAML_KIND_INT) ||
        n->len == 0)
        goto bad;
    s = n->text;
    len = n->len;
    if (all_chars(s, len, is_digit)) {
        if (!parse_digits(s, len, 10, &total) || __builtin_mul_overflow(total, 1000, &total))
            goto range;
        goto done;
    }
    while (i < len) {
        size_t start = i, u, best = SIZE_MAX, best_len = 0;
        uint64_t v, part;

        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            goto bad;
        if (!parse_digits(s + start, i - start, 10, &v))
            goto range;
        /* Longest unit name that matches ("ms" before "m"). */
        for (u = 0; u < DH_ARRAY_SIZE(units); u++) {
            size_t ulen = strlen(units[u].name);

            if (ulen <= len - i && memcmp(s + i, units[u].name, ulen) == 0 && ulen > best_len) {
                best = u;
                best_len = ulen;
            }
        }
        if (best == SIZE_MAX)
            goto bad;
        i += best_len;
        if (__builtin_mul_overflow(v, units[best].ms, &part) ||
            __builtin_add_overflow(total, part, &total))
            goto range;
    }
done:
    if (total > max_ms)
        goto range;
    *ret_ms = total;
    return 0;
bad:
    return dh_yaml_error(n, err, EINVAL, "'%s' must be a duration such as 30s, 5m or 1h", path);
range:
    return dh_yaml_error(n, err, ERANGE, "'%s' must be at most %" PRIu64 "ms", path, max_ms);
}

/* --- emitting JSON values as YAML ---------------------------------------------------------- */

/*
 * kubectl -o yaml marshals with go-yaml v2 (a port of libyaml's emitter):
 * block collections indented by two, sequences inside a mapping not indented,
 * empty collections as {} and [], strings plain unless they would read back as
 * something else (then double-quoted) or contain a line break (then literal),
 * libyaml falling back to single or double quotes when plain is not allowed.
 * go-yaml resolves plain scalars with YAML 1.1 rules, so a string is quoted
 * when YAML 1.1 or the YAML 1.2 core schema (dh_yaml_parse) would read it as
 * null, a bool, a number or a timestamp.  ("<<" and "=" stay plain, as kubectl
 * prints them.)
 */

static bool is_bin(char c)
{
    return c == '0' || c == '1';
}

/* s[0..len) without underscores is a YAML 1.1 / Go ParseInt(s, 0) integer or a
   YAML float: [-+]? then 0x.. | 0o.. | 0b.. | digits, or the float pattern. */
static bool number_like(const char *s, size_t len)
{
    _cleanup_free_ char *t = dh_xmalloc(len + 1);
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (s[i] != '_')
            t[n++] = s[i];
    t[n] = '\0';
    i = (n > 0 && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
    if (n - i > 2 && t[i] == '0') {
        char b = t[i + 1];

        if ((b == 'x' || b == 'X') && all_chars(t + i + 2, n - i - 2, is_xdigit))
            return true;
        if ((b == 'o' || b == 'O') && all_chars(t + i + 2, n - i - 2, is_odigit))
            return true;
        if ((b == 'b' || b == 'B') && all_chars(t + i + 2, n - i - 2, is_bin))
            return true;
    }
    if (all_chars(t + i, n - i, is_digit))
        return true;
    return match_float(t, n);
}

/* go-yaml's isBase60Float: [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)? */
static bool base60_like(const char *s, size_t len)
{
    size_t i = 0, groups = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i >= len || !is_digit(s[i]))
        return false;
    while (i < len && (is_digit(s[i]) || s[i] == '_'))
        i++;
    while (i < len && s[i] == ':') {
        size_t d = 0;

        i++;
        while (i < len && is_digit(s[i]) && d < 2)
            i++, d++;
        if (d == 0 || (d == 2 && s[i - 2] > '5'))
            return false;
        groups++;
    }
    if (groups == 0)
        return false;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && (is_digit(s[i]) || s[i] == '_'))
            i++;
    }
    return i == len;
}

/* A YAML 1.1 timestamp: YYYY-M-D, alone or followed by [Tt ] and a time. */
static bool timestamp_like(const char *s, size_t len)
{
    size_t i = 0, d;
    int part;

    for (part = 0; part < 3; part++) {
        for (d = 0; i < len && is_digit(s[i]); i++)
            d++;
        if (part == 0 ? d != 4 : (d < 1 || d > 2))
            return false;
        if (part < 2) {
            if (i >= len || s[i] != '-')
                return false;
            i++;
        }
    }
    return i == len || s[i] == 'T' || s[i] == 't' || s[i] == ' ';
}

static bool plain_reads_as_other(const char *s, size_t len)
{
    static const char *const words[] = {
            "y",     "Y",     "yes",   "Yes",   "YES",   "n",    "N",    "no",   "No",   "NO",
            "on",    "On",    "ON",    "off",   "Off",   "OFF",  "true", "True", "TRUE", "false",
            "False", "FALSE", "~",     "null",  "Null",  "NULL", ".inf", ".Inf", ".INF", "+.inf",
            "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    };
    size_t i;

    if (len == 0)
        return true;
    for (i = 0; i < DH_ARRAY_SIZE(words); i++)
        if (str_is(s, len, words[i]))
            return true;
    if (!is_digit(s[0]) && s[0] != '-' && s[0] != '+' && s[0] != '.')
        return false;
    return resolve_plain(s, len) != DH_YAML_KIND_STR || number_like(s, len) ||
           base60_like(s, len) || timestamp_like(s, len);
}

bool dh_yaml_needs_quotes(const char *s, size_t len)
{
    return plain_reads_as_other(s, len);
}

/* Values that look like tokens (base64, hex, JWT parts: at least 16 characters
   of [A-Za-z0-9+/=_.-], plain-safe) never enter libyaml, whose heap copies are
   freed without wiping: a same-length placeholder of random letters is emitted
   instead and the value is spliced into the (secret) output afterwards. */
#define TOKEN_MIN 16

struct splice {
    char *placeholder;
    const char *value; /* borrowed from the JSON value */
    size_t len;
};

struct emitter {
    yaml_emitter_t e;
    struct dh_buf raw; /* what libyaml writes (secret: may hold non-token values) */
    struct dh_error *write_err;
    unsigned flags;
    struct splice *splices;
    size_t n_splices, cap_splices;
};

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    struct emitter *em = data;

    if (dh_buf_append(&em->raw, buffer, size, &em->write_err) < 0)
        return 0;
    return 1;
}

static bool token_shaped(const char *s, size_t len)
{
    size_t i;

    if (len < TOKEN_MIN)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' ||
              c == '/' || c == '=' || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return !plain_reads_as_other(s, len);
}

static int emitter_error(struct emitter *em, struct dh_error **err)
{
    if (em->write_err) {
        dh_error_move(err, &em->write_err);
        return -1;
    }
    if (em->e.error == YAML_MEMORY_ERROR)
        dh_oom();
    return dh_error_make(err, EIO, "cannot emit YAML: %s",
                         em->e.problem ? em->e.problem : "libyaml failed");
}

static int emit_event(struct emitter *em, yaml_event_t *ev, bool ok, struct dh_error **err)
{
    if (!ok)
        dh_oom(); /* the *_event_initialize functions fail only on allocation */
    if (!yaml_emitter_emit(&em->e, ev))
        return emitter_error(em, err);
    return 0;
}

static int emit_scalar(struct emitter *em, const char *s, size_t len, yaml_scalar_style_t style,
                       struct dh_error **err)
{
    yaml_event_t ev;
    bool ok;

    if (len > INT_MAX)
        return dh_error_make(err, E2BIG, "cannot emit YAML: a value is too large");
    ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)len, 1, 1,
                                      style);
    return emit_event(em, &ev, ok, err);
}

static int emit_string(struct emitter *em, const char *s, size_t len, bool is_key,
                       struct dh_error **err)
{
    if (plain_reads_as_other(s, len))
        return emit_scalar(em, s, len, YAML_DOUBLE_QUOTED_SCALAR_STYLE, err);
    if (memchr(s, '\n', len))
        return emit_scalar(em, s, len, YAML_LITERAL_SCALAR_STYLE, err);
    if (!is_key && token_shaped(s, len)) {
        struct splice *sp;
        unsigned char rnd[64];
        char *ph = dh_xmalloc(len + 1);
        size_t i;

        for (i = 0; i < len; i++) {
            if (i % sizeof(rnd) == 0 && getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
                free(ph);
                return dh_error_sys(err, errno, "getrandom");
            }
            ph[i] = (char)("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   [rnd[i % sizeof(rnd)] % 52]);
        }
        ph[len] = '\0';
        if (em->n_splices == em->cap_splices)
            em->splices = grow_array(em->splices, &em->cap_splices, sizeof(*em->splices));
        sp = &em->splices[em->n_splices++];
        *sp = (struct splice){.placeholder = ph, .value = s, .len = len};
        return emit_scalar(em, ph, len, YAML_PLAIN_SCALAR_STYLE, err);
    }
    return emit_scalar(em, s, len, YAML_PLAIN_SCALAR_STYLE, err);
}

struct key_ref {
    const char *key;
    size_t len;
    json_t *value;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = n ? memcmp(x->key, y->key, n) : 0;

    if (r)
        return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int emit_value(struct emitter *em, json_t *v, size_t depth, struct dh_error **err);

static int emit_object(struct emitter *em, json_t *v, size_t depth, struct dh_error **err)
{
    _cleanup_free_ struct key_ref *keys = NULL;
    size_t n = json_object_size(v), i = 0, bytes;
    yaml_event_t ev;
    void *it;

    if (__builtin_mul_overflow(n ? n : 1, sizeof(*keys), &bytes))
        dh_oom();
    keys = dh_xmalloc(bytes);
    for (it = json_object_iter(v); it && i < n; it = json_object_iter_next(v, it), i++) {
        keys[i].key = json_object_iter_key(it);
        keys[i].len = json_object_iter_key_len(it);
        keys[i].value = json_object_iter_value(it);
    }
    if (em->flags & DH_YAML_EMIT_SORT_KEYS)
        qsort(keys, n, sizeof(*keys), key_cmp);
    if (emit_event(
                em, &ev,
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE),
                err) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (emit_string(em, keys[i].key, keys[i].len, true, err) < 0 ||
            emit_value(em, keys[i].value, depth + 1, err) < 0)
            return -1;
    }
    return emit_event(em, &ev, yaml_mapping_end_event_initialize(&ev), err);
}

static int emit_value(struct emitter *em, json_t *v, size_t depth, struct dh_error **err)
{
    yaml_event_t ev;
    char num[64];
    size_t i;

    /* depth counts the collections around v: at most DH_YAML_MAX_DEPTH in all, as the
       parser allows. */
    if ((json_is_object(v) || json_is_array(v)) && depth >= DH_YAML_MAX_DEPTH)
        return dh_error_make(err, EINVAL, "cannot emit YAML: nesting deeper than %d levels",
                             DH_YAML_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_object(em, v, depth, err);
    case JSON_ARRAY:
        if (emit_event(em, &ev,
                       yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                            YAML_BLOCK_SEQUENCE_STYLE),
                       err) < 0)
            return -1;
        for (i = 0; i < json_array_size(v); i++)
            if (emit_value(em, json_array_get(v, i), depth + 1, err) < 0)
                return -1;
        return emit_event(em, &ev, yaml_sequence_end_event_initialize(&ev), err);
    case JSON_STRING:
        return emit_string(em, json_string_value(v), json_string_length(v), false, err);
    case JSON_INTEGER:
        (void)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_REAL:
        /* Shortest form that reads back as the same double, always a float. */
        for (i = 1; i <= 17; i++) {
            (void)snprintf(num, sizeof(num), "%.*g", (int)i, json_real_value(v));
            if (strtod(num, NULL) == json_real_value(v))
                break;
        }
        if (!strpbrk(num, ".eEin")) {
            size_t l = strlen(num);

            if (l + 3 <= sizeof(num))
                memcpy(num + l, ".0", 3);
        }
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_NULL:
        return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
    }
    return dh_error_make(err, EINVAL, "cannot emit YAML: unknown JSON type");
}

static void emitter_release(struct emitter *em)
{
    size_t i;

    /* libyaml's output buffer held everything that was written. */
    if (em->e.buffer.start)
        dh_wipe(em->e.buffer.start, (size_t)(em->e.buffer.end - em->e.buffer.start));
    if (em->e.raw_buffer.start)
        dh_wipe(em->e.raw_buffer.start, (size_t)(em->e.raw_buffer.end - em->e.raw_buffer.start));
    yaml_emitter_delete(&em->e);
    dh_buf_release(&em->raw);
    dh_error_free(&em->write_err);
    for (i = 0; i < em->n_splices; i++)
        free(em->splices[i].placeholder);
    free(em->splices);
}

/* Number of occurrences of needle in hay. */
static size_t count_in(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    size_t count = 0;
    const char *p = hay, *end = hay + hlen;

    while ((p = memmem(p, (size_t)(end - p), needle, nlen))) {
        count++;
        p++;
    }
    return count;
}

/* One attempt; returns 1 when a placeholder was not unique in the output (try again). */
static int emit_once(json_t *v, unsigned flags, struct dh_buf *out, struct dh_error **err)
{
    struct emitter em = {.raw = DH_BUF_INIT_SECRET(out->max), .flags = flags};
    yaml_event_t ev;
    size_t i, cursor = 0, start = out->len;
    int r = -1;

    if (!yaml_emitter_initialize(&em.e))
        dh_oom();
    yaml_emitter_set_output(&em.e, write_handler, &em);
    yaml_emitter_set_unicode(&em.e, 1);
    yaml_emitter_set_indent(&em.e, 2);
    yaml_emitter_set_width(&em.e, -1);
    yaml_emitter_set_break(&em.e, YAML_LN_BREAK);
    if (emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING), err) <
                0 ||
        emit_event(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1), err) <
                0 ||
        emit_value(&em, v, 0, err) < 0 ||
        emit_event(&em, &ev, yaml_document_end_event_initialize(&ev, 1), err) < 0 ||
        emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev), err) < 0)
        goto out;
    if (!yaml_emitter_flush(&em.e)) {
        emitter_error(&em, err);
        goto out;
    }
    for (i = 0; i < em.n_splices; i++) {
        const struct splice *sp = &em.splices[i];
        const char *at;

        if (count_in(em.raw.data, em.raw.len, sp->placeholder, sp->len) != 1) {
            r = 1;
            goto out;
        }
        at = memmem(em.raw.data + cursor, em.raw.len - cursor, sp->placeholder, sp->len);
        if (!at) {
            r = 1;
            goto out;
        }
        if (dh_buf_append(out, em.raw.data + cursor, (size_t)(at - em.raw.data) - cursor, err) <
                    0 ||
            dh_buf_append(out, sp->value, sp->len, err) < 0)
            goto out;
        cursor = (size_t)(at - em.raw.data) + sp->len;
    }
    if (dh_buf_append(out, em.raw.data + cursor, em.raw.len - cursor, err) < 0)
        goto out;
    r = 0;
out:
    if (r != 0)
        dh_buf_truncate(out, start);
    emitter_release(&em);
    return r;
}

int dh_yaml_emit_json(json_t *v, unsigned flags, struct dh_buf *out, struct dh_error **err)
{
    int attempt, r;

    for (attempt = 0; attempt < 4; attempt++) {
        r = emit_once(v, flags, out, err);
        if (r <= 0)
            return r;
    }
    return dh_error_make(err, EIO, "cannot emit YAML: no unique placeholder");
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small YAML document tree on top of libyaml (the only file that includes
 * <yaml.h> is src/yaml.c).
 *
 * dh_yaml_parse() reads one YAML document into a tree of dh_yaml_node.  It is
 * meant for small, untrusted configuration files, so it is strict:
 *   - input larger than DH_YAML_MAX_SIZE bytes is rejected;
 *   - at most one document; an empty stream gives a NULL root (not an error);
 *   - anchors and aliases are rejected (no billion-laughs, no shared nodes);
 *   - duplicate keys in a mapping are rejected;
 *   - mapping keys must be scalars;
 *   - nesting deeper than DH_YAML_MAX_DEPTH collections is rejected;
 *   - explicit tags are limited to the YAML 1.2 core schema (!!str, !!int,
 *     !!bool, !!null, !!float, !!map, !!seq) and the non-specific "!".
 *
 * Plain scalars are resolved with the YAML 1.2 core schema: `true`, `123`,
 * `~` are a bool, an int and a null; `"123"`, `'true'` and `!!str 123` are
 * strings.  The YAML 1.1 forms are gone: `yes`, `on` and `off` are strings,
 * never booleans, and `0777` is the decimal integer 777 (octal is `0o777`).
 *
 * Every error message starts with "<filename>:<line>: " (1-based line), except
 * the size limit which names the file only.  The accessors below add the key
 * path the caller passes, e.g. "config.yaml:3: 'file.dir' must be a string".
 */
#ifndef DOCKHAND_YAML_H
#define DOCKHAND_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_YAML_MAX_SIZE  (1024 * 1024)
#define DH_YAML_MAX_DEPTH 64

enum dh_yaml_type {
    DH_YAML_SCALAR = 0,
    DH_YAML_MAPPING = 1,
    DH_YAML_SEQUENCE = 2,
};

/* The YAML 1.2 core-schema type of a scalar (plain resolution or explicit tag). */
enum dh_yaml_kind {
    DH_YAML_KIND_STR = 0,
    DH_YAML_KIND_NULL = 1, /* ``, `~`, `null`, `Null`, `NULL`, or !!null */
    DH_YAML_KIND_BOOL = 2, /* `true`/`false` (also True/TRUE/False/FALSE), or !!bool */
    DH_YAML_KIND_INT = 3,  /* `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`, or !!int */
    DH_YAML_KIND_FLOAT = 4,
};

struct dh_yaml_node;

struct dh_yaml_pair {
    char *key; /* NUL-terminated; may contain NUL bytes before key_len */
    size_t key_len;
    size_t key_line; /* 1-based */
    size_t key_column;
    struct dh_yaml_node *value; /* never NULL */
};

struct dh_yaml_node {
    enum dh_yaml_type type;
    size_t line;          /* 1-based line where the node starts */
    size_t column;        /* 1-based column */
    const char *filename; /* borrowed from the root, valid until dh_yaml_free() */

    /* DH_YAML_SCALAR */
    char *text; /* NUL-terminated; may contain NUL bytes before len */
    size_t len;
    bool quoted; /* single/double quoted or a block scalar (| or >) */
    enum dh_yaml_kind kind;

    /* DH_YAML_MAPPING: entries in document order */
    struct dh_yaml_pair *pairs;
    size_t n_pairs;

    /* DH_YAML_SEQUENCE */
    struct dh_yaml_node **items;
    size_t n_items;
};

/* Parses data[0..len) (need not be NUL-terminated).  filename is used in error
   messages only (NULL: "<input>").  On success *ret is the root, or NULL for an
   empty stream (no document, or one document with no content); the caller frees
   it with dh_yaml_free(). */
int dh_yaml_parse(const char *data, size_t len, const char *filename, struct dh_yaml_node **ret,
                  struct dh_error **err);
/* Frees a tree returned by dh_yaml_parse() (the root only, never a subtree).  NULL allowed. */
void dh_yaml_free(struct dh_yaml_node *root);
static inline void dh_yaml_freep(struct dh_yaml_node **p)
{
    dh_yaml_free(*p);
}
#define _cleanup_yaml_ __attribute__((cleanup(dh_yaml_freep)))

/* Sets *err to "<file>:<line>: <message>" for node n.  Returns -1. */
int dh_yaml_error(const struct dh_yaml_node *n, struct dh_error **err, int status, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* Returns a new printable copy of s[0..len) for error messages: control and
   non-ASCII bytes escaped as \xNN, cut to 64 bytes with "..." appended. */
char *dh_yaml_printable(const char *s, size_t len);

/* Returns the value for key in mapping map (borrowed), or NULL when map is NULL,
   not a mapping, or has no such key. */
const struct dh_yaml_node *dh_yaml_mapping_get(const struct dh_yaml_node *map, const char *key);

/* True for a null scalar: `key:` with no value, `~`, `null`. */
bool dh_yaml_is_null(const struct dh_yaml_node *n);

/*
 * Typed accessors.  `path` is the key path used in messages ("file.dir").
 * On a type mismatch they fail with EINVAL and a message such as
 *   "config.yaml:3: 'file.dir' must be a string"
 * and leave the output untouched.
 */
/* Fails unless n is a collection of that type: "'x' must be a mapping" / "'x' must be a list". */
int dh_yaml_expect(const struct dh_yaml_node *n, enum dh_yaml_type type, const char *path,
                   struct dh_error **err);
/* A string scalar (quoted, or plain that resolves to a string; never a plain
   number, bool or null).  NUL bytes are rejected.  *ret is new, caller frees. */
int dh_yaml_get_string(const struct dh_yaml_node *n, const char *path, char **ret,
                       struct dh_error **err);
/* A plain true/false: "'x' must be a boolean (true or false)". */
int dh_yaml_get_bool(const struct dh_yaml_node *n, const char *path, bool *ret,
                     struct dh_error **err);
/* A plain non-negative integer (decimal, 0x hex or 0o octal) <= max:
   "'x' must be a non-negative integer", "'x' must be at most <max>". */
int dh_yaml_get_uint(const struct dh_yaml_node *n, const char *path, uint64_t max, uint64_t *ret,
                     struct dh_error **err);
/* A duration in milliseconds <= max_ms: a plain integer number of seconds, or a
   sequence of <integer><unit> with units ms, s, m, h ("1h30m", "500ms"):
   "'x' must be a duration such as 30s, 5m or 1h", "'x' must be at most <max>ms". */
int dh_yaml_get_duration(const struct dh_yaml_node *n, const char *path, uint64_t max_ms,
                         uint64_t *ret_ms, struct dh_error **err);

/*
 * Emitting.  dh_yaml_emit_json() appends v as one block-style YAML document
 * (no "---", ends with a newline), shaped as kubectl -o yaml shapes it (go-yaml
 * v2, itself libyaml's emitter): two-space indent, sequences in a mapping not
 * indented, empty collections as {} and [], no line folding; strings plain
 * unless dh_yaml_needs_quotes() (then double-quoted) or they hold a line break
 * (then a literal block when possible), libyaml falling back to quotes when
 * plain is not allowed (": ", leading indicators, ...).  Keys are written in
 * the object's order, or sorted by bytes with DH_YAML_EMIT_SORT_KEYS (what
 * kubectl prints).
 *
 * Secrets: values shaped like tokens (at least 16 characters of
 * [A-Za-z0-9+/=_.-], so every base64 Secret data value) never reach libyaml,
 * which frees its copies without wiping: a random placeholder of the same
 * length is emitted and the value spliced into out afterwards.  libyaml's
 * output buffer is wiped.  Pass a secret buffer when v holds secrets.
 * Errors: E2BIG past out's cap (out unchanged), EINVAL for nesting deeper than
 * DH_YAML_MAX_DEPTH.
 */
enum dh_yaml_emit_flags {
    DH_YAML_EMIT_SORT_KEYS = 1 << 0,
};
int dh_yaml_emit_json(json_t *v, unsigned flags, struct dh_buf *out, struct dh_error **err);

/* True when the plain scalar s[0..len) would not read back as that string under
   YAML 1.1 (go-yaml, kubectl) or the YAML 1.2 core schema: empty, null, bool
   (yes/no/on/off too), int, float, base-60 number or timestamp. */
bool dh_yaml_needs_quotes(const char *s, size_t len);

#endif

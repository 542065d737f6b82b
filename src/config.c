/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/store.h"
#include "dockhand/xdg.h"
#include "dockhand/yaml.h"

/*
 * The schema.  Each mapping of the file is described by a table of keys; a
 * key is stored into a field of struct dh_config (by offset) according to its
 * type, or handed to a custom handler.  To add a setting, add a field to
 * struct dh_config, its default to config_new() (and its release to
 * dh_config_free() when it owns memory), and an entry to one of the tables.
 * A new section (e.g. `ecr:`) is a new table plus a KEY_SECTION entry; a list
 * such as `routes:` is a KEY_CUSTOM entry whose handler walks the sequence.
 */

enum key_type {
    KEY_STRING,   /* char *, via dh_yaml_get_string() */
    KEY_PATH,     /* char *, absolute after "~/" expansion */
    KEY_BOOL,     /* bool */
    KEY_UINT,     /* uint64_t, at most .max */
    KEY_DURATION, /* uint64_t milliseconds, at most .max */
    KEY_SECTION,  /* a nested mapping described by .section */
    KEY_CUSTOM,   /* .handler does the work */
};

enum key_flags {
    KEY_NONEMPTY = 1 << 0, /* KEY_STRING: "" is an error */
};

struct config_key;

/* base is the struct the table describes (struct dh_config, struct dh_route). */
typedef int (*key_handler)(void *base, const struct config_key *key,
                           const struct dh_yaml_node *value, const char *path,
                           struct dh_error **err);

struct config_key {
    const char *name;
    enum key_type type;
    size_t offset; /* of the field in the base struct (not for KEY_SECTION) */
    unsigned flags;
    uint64_t max;                     /* KEY_UINT, KEY_DURATION */
    const struct config_key *section; /* KEY_SECTION: table ended by {NULL} */
    key_handler handler;              /* KEY_CUSTOM */
};

#define FIELD(f)       offsetof(struct dh_config, f)
#define ROUTE_FIELD(f) offsetof(struct dh_route, f)

static int parse_log_level(void *base, const struct config_key *key,
                           const struct dh_yaml_node *value, const char *path,
                           struct dh_error **err);
static int parse_log_format(void *base, const struct config_key *key,
                            const struct dh_yaml_node *value, const char *path,
                            struct dh_error **err);
static int parse_routes(void *base, const struct config_key *key, const struct dh_yaml_node *value,
                        const char *path, struct dh_error **err);
static int parse_ecr(void *base, const struct config_key *key, const struct dh_yaml_node *value,
                     const char *path, struct dh_error **err);
static int parse_string_list(void *base, const struct config_key *key,
                             const struct dh_yaml_node *value, const char *path,
                             struct dh_error **err);
static void *field_of(void *base, const struct config_key *key);

/* A namespace name, stored into the char * field at key->offset. */
static int parse_namespace(void *base, const struct config_key *key,
                           const struct dh_yaml_node *value, const char *path,
                           struct dh_error **err)
{
    _cleanup_free_ char *s = NULL;
    char **field = field_of(base, key);

    if (dh_yaml_get_string(value, path, &s, err) < 0)
        return -1;
    if (!dh_namespace_valid(s))
        return dh_yaml_error(value, err, EINVAL,
                             "'%s' must be 1 to 63 letters, digits, '.', '_' or '-'", path);
    free(*field);
    *field = TAKE_PTR(s);
    return 0;
}

static const struct config_key log_keys[] = {
        {.name = "level", .type = KEY_CUSTOM, .handler = parse_log_level},
        {.name = "format", .type = KEY_CUSTOM, .handler = parse_log_format},
        {.name = NULL},
};

static const struct config_key file_keys[] = {
        {.name = "dir", .type = KEY_PATH, .offset = FIELD(file_dir)},
        {.name = "key_file", .type = KEY_PATH, .offset = FIELD(file_key_file)},
        {.name = NULL},
};

static const struct config_key gcr_keys[] = {
        {.name = "registries", .type = KEY_CUSTOM, .handler = parse_string_list},
        {.name = "key_file", .type = KEY_PATH, .offset = FIELD(gcr_key_file)},
        {.name = NULL},
};

static const struct config_key kubelet_keys[] = {
        {.name = "cache_duration",
         .type = KEY_DURATION,
         .offset = FIELD(kubelet_cache_duration_ms),
         .max = 7ull * 24 * 3600 * 1000},
        {.name = "ecr_role_arn",
         .type = KEY_STRING,
         .offset = FIELD(kubelet_ecr_role_arn),
         .flags = KEY_NONEMPTY},
        {.name = "gcp_audience",
         .type = KEY_STRING,
         .offset = FIELD(kubelet_gcp_audience),
         .flags = KEY_NONEMPTY},
        {.name = "gcp_service_account",
         .type = KEY_STRING,
         .offset = FIELD(kubelet_gcp_service_account),
         .flags = KEY_NONEMPTY},
        {.name = "gcp_sts_url",
         .type = KEY_STRING,
         .offset = FIELD(kubelet_gcp_sts_url),
         .flags = KEY_NONEMPTY},
        {.name = "gcp_iam_url",
         .type = KEY_STRING,
         .offset = FIELD(kubelet_gcp_iam_url),
         .flags = KEY_NONEMPTY},
        {.name = NULL},
};

static const struct config_key top_keys[] = {
        {.name = "store", .type = KEY_STRING, .offset = FIELD(store), .flags = KEY_NONEMPTY},
        {.name = "namespace",
         .type = KEY_CUSTOM,
         .offset = FIELD(namespace),
         .handler = parse_namespace},
        {.name = "routes", .type = KEY_CUSTOM, .handler = parse_routes},
        {.name = "ecr", .type = KEY_CUSTOM, .handler = parse_ecr},
        {.name = "gcr", .type = KEY_SECTION, .section = gcr_keys},
        {.name = "kubelet", .type = KEY_SECTION, .section = kubelet_keys},
        {.name = "log", .type = KEY_SECTION, .section = log_keys},
        {.name = "file", .type = KEY_SECTION, .section = file_keys},
        {.name = NULL},
};

static int parse_log_level(void *base, const struct config_key *key DH_UNUSED,
                           const struct dh_yaml_node *value, const char *path,
                           struct dh_error **err)
{
    _cleanup_free_ char *s = NULL;
    enum dh_log_level level;

    if (dh_yaml_get_string(value, path, &s, err) < 0)
        return -1;
    if (dh_log_parse_level(s, &level) < 0)
        return dh_yaml_error(value, err, EINVAL, "'%s' must be one of error, warn, info, debug",
                             path);
    struct dh_config *c = base;

    c->log_level = level;
    c->log_level_set = true;
    return 0;
}

static int parse_log_format(void *base, const struct config_key *key DH_UNUSED,
                            const struct dh_yaml_node *value, const char *path,
                            struct dh_error **err)
{
    _cleanup_free_ char *s = NULL;
    enum dh_log_format format;

    if (dh_yaml_get_string(value, path, &s, err) < 0)
        return -1;
    if (dh_log_parse_format(s, &format) < 0)
        return dh_yaml_error(value, err, EINVAL, "'%s' must be one of text, json", path);
    struct dh_config *c = base;

    c->log_format = format;
    c->log_format_set = true;
    return 0;
}

/* Expands a leading "~" or "~/" with the home directory; the result must be absolute. */
static int parse_path(const struct dh_yaml_node *value, const char *path, char **ret,
                      struct dh_error **err)
{
    _cleanup_free_ char *s = NULL;
    _cleanup_free_ char *home = NULL;

    if (dh_yaml_get_string(value, path, &s, err) < 0)
        return -1;
    if (s[0] == '~' && (s[1] == '\0' || s[1] == '/')) {
        char *expanded;

        if (dh_home_dir(&home, err) < 0)
            return dh_error_wrap(err, "%s:%zu: cannot expand '%s'", value->filename, value->line,
                                 path);
        expanded = dh_xasprintf("%s%s", home, s + 1);
        free(s);
        s = expanded;
    }
    if (s[0] != '/')
        return dh_yaml_error(value, err, EINVAL, "'%s' must be an absolute path", path);
    *ret = TAKE_PTR(s);
    return 0;
}

static void *field_of(void *base, const struct config_key *key)
{
    return (char *)base + key->offset;
}

static void set_string(void *base, const struct config_key *key, char *s)
{
    char **field = field_of(base, key);

    free(*field);
    *field = s;
}

static int apply_mapping(void *c, const struct dh_yaml_node *map, const struct config_key *table,
                         const char *prefix, struct dh_error **err);

static int apply_key(void *c, const struct config_key *key, const struct dh_yaml_node *value,
                     const char *path, struct dh_error **err)
{
    char *s = NULL;

    switch (key->type) {
    case KEY_STRING:
        if (dh_yaml_get_string(value, path, &s, err) < 0)
            return -1;
        if ((key->flags & KEY_NONEMPTY) && s[0] == '\0') {
            free(s);
            return dh_yaml_error(value, err, EINVAL, "'%s' must not be empty", path);
        }
        set_string(c, key, s);
        return 0;
    case KEY_PATH:
        if (parse_path(value, path, &s, err) < 0)
            return -1;
        set_string(c, key, s);
        return 0;
    case KEY_BOOL:
        return dh_yaml_get_bool(value, path, field_of(c, key), err);
    case KEY_UINT:
        return dh_yaml_get_uint(value, path, key->max, field_of(c, key), err);
    case KEY_DURATION:
        return dh_yaml_get_duration(value, path, key->max, field_of(c, key), err);
    case KEY_SECTION:
        if (dh_yaml_expect(value, DH_YAML_MAPPING, path, err) < 0)
            return -1;
        return apply_mapping(c, value, key->section, path, err);
    case KEY_CUSTOM:
        return key->handler(c, key, value, path, err);
    }
    return dh_yaml_error(value, err, EINVAL, "'%s' has an unknown schema type", path);
}

static const struct config_key *find_key(const struct config_key *table,
                                         const struct dh_yaml_pair *pair)
{
    for (; table->name; table++)
        if (strlen(table->name) == pair->key_len &&
            memcmp(table->name, pair->key, pair->key_len) == 0)
            return table;
    return NULL;
}

/* Applies every entry of map, in document order.  prefix is the dotted path of
   map ("file"), or NULL at the top level. */
static int apply_mapping(void *c, const struct dh_yaml_node *map, const struct config_key *table,
                         const char *prefix, struct dh_error **err)
{
    size_t i;

    for (i = 0; i < map->n_pairs; i++) {
        const struct dh_yaml_pair *pair = &map->pairs[i];
        const struct config_key *key = find_key(table, pair);
        _cleanup_free_ char *path = NULL;

        if (!key) {
            _cleanup_free_ char *name = dh_yaml_printable(pair->key, pair->key_len);

            if (prefix)
                return dh_error_make(err, EINVAL, "%s:%zu: unknown key '%s' in '%s'", map->filename,
                                     pair->key_line, name, prefix);
            return dh_error_make(err, EINVAL, "%s:%zu: unknown key '%s'", map->filename,
                                 pair->key_line, name);
        }
        /* A null value (`key:` or `key: ~`) keeps the default. */
        if (dh_yaml_is_null(pair->value))
            continue;
        path = prefix ? dh_xasprintf("%s.%s", prefix, key->name) : dh_xstrdup(key->name);
        if (apply_key(c, key, pair->value, path, err) < 0)
            return -1;
    }
    return 0;
}

static const struct config_key route_keys[] = {
        {.name = "registry",
         .type = KEY_STRING,
         .offset = ROUTE_FIELD(registry),
         .flags = KEY_NONEMPTY},
        {.name = "store", .type = KEY_STRING, .offset = ROUTE_FIELD(store), .flags = KEY_NONEMPTY},
        {.name = "namespace",
         .type = KEY_CUSTOM,
         .offset = ROUTE_FIELD(namespace),
         .handler = parse_namespace},
        {.name = NULL},
};

static void routes_free(struct dh_route *routes, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(routes[i].registry);
        free(routes[i].store);
        free(routes[i].namespace);
    }
    free(routes);
}

/* `routes:` is a list of {registry, store?, namespace?}; it replaces any earlier value. */
static int parse_routes(void *base, const struct config_key *key DH_UNUSED,
                        const struct dh_yaml_node *value, const char *path, struct dh_error **err)
{
    struct dh_config *c = base;
    struct dh_route *routes;
    size_t i;

    if (dh_yaml_expect(value, DH_YAML_SEQUENCE, path, err) < 0)
        return -1;
    routes = dh_xcalloc(value->n_items ? value->n_items : 1, sizeof(*routes));
    for (i = 0; i < value->n_items; i++) {
        const struct dh_yaml_node *item = value->items[i];
        _cleanup_free_ char *ipath = dh_xasprintf("%s[%zu]", path, i);
        struct dh_route *r = &routes[i];

        r->line = item->line;
        if (dh_yaml_expect(item, DH_YAML_MAPPING, ipath, err) < 0 ||
            apply_mapping(r, item, route_keys, ipath, err) < 0)
            goto fail;
        if (!r->registry) {
            dh_yaml_error(item, err, EINVAL, "'%s' needs a 'registry' pattern", ipath);
            goto fail;
        }
        if (!r->store && !r->namespace) {
            dh_yaml_error(item, err, EINVAL, "'%s' needs a 'store' or a 'namespace'", ipath);
            goto fail;
        }
    }
    routes_free(c->routes, c->n_routes);
    c->routes = routes;
    c->n_routes = value->n_items;
    return 0;
fail:
    routes_free(routes, value->n_items);
    return -1;
}

#define ECR_FIELD(f) offsetof(struct dh_ecr_setting, f)

static const struct config_key ecr_keys[] = {
        {.name = "registry",
         .type = KEY_STRING,
         .offset = ECR_FIELD(registry),
         .flags = KEY_NONEMPTY},
        {.name = "account",
         .type = KEY_STRING,
         .offset = ECR_FIELD(account),
         .flags = KEY_NONEMPTY},
        {.name = "region", .type = KEY_STRING, .offset = ECR_FIELD(region), .flags = KEY_NONEMPTY},
        {.name = "profile",
         .type = KEY_STRING,
         .offset = ECR_FIELD(profile),
         .flags = KEY_NONEMPTY},
        {.name = "role_arn",
         .type = KEY_STRING,
         .offset = ECR_FIELD(role_arn),
         .flags = KEY_NONEMPTY},
        {.name = NULL},
};

static void ecr_free(struct dh_ecr_setting *e, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(e[i].registry);
        free(e[i].account);
        free(e[i].region);
        free(e[i].profile);
        free(e[i].role_arn);
    }
    free(e);
}

/* `ecr:` is a list of {registry, account?, region?, profile?, role_arn?}. */
static int parse_ecr(void *base, const struct config_key *key DH_UNUSED,
                     const struct dh_yaml_node *value, const char *path, struct dh_error **err)
{
    struct dh_config *c = base;
    struct dh_ecr_setting *list;
    size_t i;

    if (dh_yaml_expect(value, DH_YAML_SEQUENCE, path, err) < 0)
        return -1;
    list = dh_xcalloc(value->n_items ? value->n_items : 1, sizeof(*list));
    for (i = 0; i < value->n_items; i++) {
        const struct dh_yaml_node *item = value->items[i];
        _cleanup_free_ char *ipath = dh_xasprintf("%s[%zu]", path, i);
        struct dh_ecr_setting *e = &list[i];

        e->line = item->line;
        if (dh_yaml_expect(item, DH_YAML_MAPPING, ipath, err) < 0 ||
            apply_mapping(e, item, ecr_keys, ipath, err) < 0)
            goto fail;
        if (!e->registry) {
            dh_yaml_error(item, err, EINVAL, "'%s' needs a 'registry' pattern", ipath);
            goto fail;
        }
        if (e->account && !e->region) {
            dh_yaml_error(item, err, EINVAL, "'%s' needs a 'region' with its 'account'", ipath);
            goto fail;
        }
    }
    ecr_free(c->ecr, c->n_ecr);
    c->ecr = list;
    c->n_ecr = value->n_items;
    return 0;
fail:
    ecr_free(list, value->n_items);
    return -1;
}

static void strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* `gcr.registries:` a list of non-empty strings. */
static int parse_string_list(void *base, const struct config_key *key DH_UNUSED,
                             const struct dh_yaml_node *value, const char *path,
                             struct dh_error **err)
{
    struct dh_config *c = base;
    char **v;
    size_t i;

    if (dh_yaml_expect(value, DH_YAML_SEQUENCE, path, err) < 0)
        return -1;
    v = dh_xcalloc(value->n_items ? value->n_items : 1, sizeof(*v));
    for (i = 0; i < value->n_items; i++) {
        _cleanup_free_ char *ipath = dh_xasprintf("%s[%zu]", path, i);

        if (dh_yaml_get_string(value->items[i], ipath, &v[i], err) < 0)
            goto fail;
        if (!v[i][0]) {
            dh_yaml_error(value->items[i], err, EINVAL, "'%s' must not be empty", ipath);
            goto fail;
        }
    }
    strv_free(c->gcr_registries, c->n_gcr_registries);
    c->gcr_registries = v;
    c->n_gcr_registries = value->n_items;
    return 0;
fail:
    strv_free(v, value->n_items);
    return -1;
}

static struct dh_config *config_new(void)
{
    struct dh_config *c = dh_xcalloc(1, sizeof(*c));

    c->store = dh_xstrdup(DH_CONFIG_DEFAULT_STORE);
    c->namespace = dh_xstrdup(DH_CONFIG_DEFAULT_NAMESPACE);
    c->log_level = DH_LOG_WARN;
    c->log_format = DH_LOG_TEXT;
    c->kubelet_cache_duration_ms = DH_CONFIG_UNSET;
    return c;
}

void dh_config_free(struct dh_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->store);
    free(c->namespace);
    free(c->file_dir);
    free(c->file_key_file);
    routes_free(c->routes, c->n_routes);
    ecr_free(c->ecr, c->n_ecr);
    strv_free(c->gcr_registries, c->n_gcr_registries);
    free(c->gcr_key_file);
    free(c->kubelet_ecr_role_arn);
    free(c->kubelet_gcp_audience);
    free(c->kubelet_gcp_service_account);
    free(c->kubelet_gcp_sts_url);
    free(c->kubelet_gcp_iam_url);
    free(c);
}

int dh_config_parse(const char *data, size_t len, const char *filename, struct dh_config **ret,
                    struct dh_error **err)
{
    _cleanup_yaml_ struct dh_yaml_node *root = NULL;
    _cleanup_config_ struct dh_config *c = NULL;

    if (dh_yaml_parse(data, len, filename, &root, err) < 0)
        return -1;
    c = config_new();
    if (root && !dh_yaml_is_null(root)) {
        if (root->type != DH_YAML_MAPPING)
            return dh_yaml_error(root, err, EINVAL, "the top level must be a mapping");
        if (apply_mapping(c, root, top_keys, NULL, err) < 0)
            return -1;
    }
    if (filename)
        c->path = dh_xstrdup(filename);
    *ret = TAKE_PTR(c);
    return 0;
}

static int load_file(const char *path, bool must_exist, const char *origin, struct dh_config **ret,
                     struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf buf = DH_BUF_INIT(DH_CONFIG_MAX_SIZE);
    _cleanup_close_ int fd = -1;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        if (!must_exist && (e == ENOENT || e == ENOTDIR)) {
            *ret = config_new();
            return 0;
        }
        return dh_error_sys(err, e, "cannot open config file '%s'%s", path, origin ? origin : "");
    }
    if (fstat(fd, &st) < 0)
        return dh_error_sys(err, errno, "cannot stat config file '%s'", path);
    if (!S_ISREG(st.st_mode))
        return dh_error_make(err, EINVAL, "config file '%s' is not a regular file", path);
    if (st.st_size > DH_CONFIG_MAX_SIZE)
        return dh_error_make(err, E2BIG, "%s: larger than %d bytes", path, DH_CONFIG_MAX_SIZE);
    if (dh_buf_read_fd(&buf, fd, err) < 0) {
        if (err && *err && (*err)->status == E2BIG)
            return dh_error_make(err, E2BIG, "%s: larger than %d bytes", path, DH_CONFIG_MAX_SIZE);
        return dh_error_wrap(err, "cannot read config file '%s'", path);
    }
    return dh_config_parse(buf.data, buf.len, path, ret, err);
}

int dh_config_load_file(const char *path, bool must_exist, struct dh_config **ret,
                        struct dh_error **err)
{
    return load_file(path, must_exist, NULL, ret, err);
}

int dh_config_load(struct dh_config **ret, struct dh_error **err)
{
    const char *env = secure_getenv("DOCKHAND_CONFIG");
    _cleanup_free_ char *dir = NULL;
    _cleanup_free_ char *path = NULL;

    if (env && *env)
        return load_file(env, true, " (from DOCKHAND_CONFIG)", ret, err);
    if (dh_xdg_dir(DH_XDG_CONFIG, &dir, err) < 0)
        return -1;
    path = dh_xasprintf("%s/config.yaml", dir);
    return load_file(path, false, NULL, ret, err);
}

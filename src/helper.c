/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/helper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"
#include "dockhand/token.h"
#include "dockhand/resolve.h"
#include "dockhand/tokens.h"
#include "dockhand/usage.h"

void dh_helper_join_lines(struct dh_buf *in)
{
    size_t r, w = 0;

    for (r = 0; r < in->len; r++) {
        char c = in->data[r];

        if (c == '\n') {
            if (w > 0 && in->data[w - 1] == '\r')
                w--;
            continue;
        }
        in->data[w++] = c;
    }
    if (w > 0 && in->data[w - 1] == '\r')
        w--;
    dh_buf_truncate(in, w);
}

/* Returns the value of a credentials field: NULL (absent or null) or a string. */
static int store_field(json_t *obj, const char *name, const char **ret, struct dh_error **err)
{
    const char *key;
    json_t *v;

    *ret = NULL;
    json_object_foreach (obj, key, v) {
        if (strcasecmp(key, name) != 0)
            continue;
        if (json_is_null(v)) {
            *ret = NULL;
        } else if (json_is_string(v)) {
            *ret = json_string_value(v);
        } else {
            return dh_error_make(err, EINVAL, "invalid credentials: '%s' must be a string", name);
        }
    }
    return 0;
}

int dh_helper_parse_store(const char *in, size_t len, struct dh_cred **ret, struct dh_error **err)
{
    json_auto_t *root = NULL;
    json_error_t jerr;
    const char *server = NULL, *user = NULL, *secret = NULL;

    if (!dh_utf8_valid(in, len))
        return dh_error_make(err, EINVAL, "invalid UTF-8 in input");
    root = json_loadb(in, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return dh_error_make(err, EINVAL, "invalid JSON input at line %d, column %d", jerr.line,
                             jerr.column);
    if (!json_is_null(root) && !json_is_object(root))
        return dh_error_make(err, EINVAL, "invalid credentials: expected a JSON object");
    if (json_is_object(root) && (store_field(root, "ServerURL", &server, err) < 0 ||
                                 store_field(root, "Username", &user, err) < 0 ||
                                 store_field(root, "Secret", &secret, err) < 0))
        return -1;
    if (!server || !*server)
        return dh_error_make(err, EINVAL, DH_HELPER_ERR_NO_SERVER);
    if (!user || !*user)
        return dh_error_make(err, EINVAL, DH_HELPER_ERR_NO_USER);
    *ret = dh_cred_new(server, user, secret);
    return 0;
}

int dh_helper_parse_server(const char *in, size_t len, char **ret, struct dh_error **err)
{
    size_t start, n;

    if (memchr(in, '\0', len) || !dh_utf8_valid(in, len))
        return dh_error_make(err, EINVAL, "invalid UTF-8 in input");
    dh_trim_space(in, len, &start, &n);
    if (n == 0)
        return dh_error_make(err, EINVAL, DH_HELPER_ERR_NO_SERVER);
    *ret = dh_xstrndup(in + start, n);
    return 0;
}

int dh_helper_format_cred(struct dh_buf *out, const char *server_url, const struct dh_cred *c,
                          struct dh_error **err)
{
    if (dh_buf_puts(out, "{\"ServerURL\":", err) < 0 ||
        dh_json_go_quote(out, server_url, err) < 0 || dh_buf_puts(out, ",\"Username\":", err) < 0 ||
        dh_json_go_quote(out, c->username, err) < 0 || dh_buf_puts(out, ",\"Secret\":", err) < 0 ||
        dh_json_go_quote(out, c->secret, err) < 0 || dh_buf_puts(out, "}\n", err) < 0)
        return -1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dh_helper_format_list(struct dh_buf *out, json_t *map, struct dh_error **err)
{
    size_t n = json_object_size(map), i = 0;
    _cleanup_free_ const char **keys = dh_xcalloc(n ? n : 1, sizeof(*keys));
    const char *key;
    json_t *v;

    json_object_foreach (map, key, v)
        keys[i++] = key;
    qsort(keys, n, sizeof(*keys), cmp_str);
    if (dh_buf_puts(out, "{", err) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        const char *user = json_string_value(json_object_get(map, keys[i]));

        if ((i && dh_buf_puts(out, ",", err) < 0) || dh_json_go_quote(out, keys[i], err) < 0 ||
            dh_buf_puts(out, ":", err) < 0 || dh_json_go_quote(out, user ? user : "", err) < 0)
            return -1;
    }
    return dh_buf_puts(out, "}\n", err);
}

/* Loads the config file and applies its log settings (the environment wins). */
static int load_config(struct dh_config **ret, struct dh_error **err)
{
    if (dh_config_load(ret, err) < 0)
        return -1;
    if ((*ret)->log_level_set && !dh_log_level_from_env())
        dh_log_set_level((*ret)->log_level);
    if ((*ret)->log_format_set && !dh_log_format_from_env())
        dh_log_set_format((*ret)->log_format);
    return 0;
}

/* Loads the config and opens the store for this call: the config file's store,
   namespace and routes, then DOCKHAND_STORE / DOCKHAND_NAMESPACE (src/router.c).
   The store borrows *ret_cfg: the caller frees it after closing the store. */
static int open_store(struct dh_config **ret_cfg, struct dh_store **ret, struct dh_error **err)
{
    if (load_config(ret_cfg, err) < 0)
        return -1;
    return dh_store_open_for_call(*ret_cfg, ret, err);
}

static int read_input(int in_fd, struct dh_buf *in, struct dh_error **err)
{
    if (dh_buf_read_fd(in, in_fd, err) < 0)
        return -1;
    dh_helper_join_lines(in);
    return 0;
}

static int do_store(int in_fd, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf in = DH_BUF_INIT_SECRET(DH_HELPER_INPUT_MAX);
    _cleanup_cred_ struct dh_cred *c = NULL;
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *s = NULL;

    (void)out;
    if (read_input(in_fd, &in, err) < 0 || dh_helper_parse_store(in.data, in.len, &c, err) < 0)
        return -1;
    dh_buf_release(&in);
    if (open_store(&cfg, &s, err) < 0)
        return -1;
    return s->ops->store(s, c, err);
}

static int do_get(int in_fd, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf in = DH_BUF_INIT_SECRET(DH_HELPER_INPUT_MAX);
    _cleanup_free_ char *server = NULL;
    _cleanup_cred_ struct dh_cred *c = NULL;
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *s = NULL;
    int r;

    if (read_input(in_fd, &in, err) < 0 ||
        dh_helper_parse_server(in.data, in.len, &server, err) < 0 || open_store(&cfg, &s, err) < 0)
        return -1;
    r = dh_resolve_cred(cfg, s, server, &c, NULL, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return dh_error_make(err, ENOENT, DH_HELPER_ERR_NOT_FOUND);
    dh_usage_record(server); /* for `dockhand prune --older-than` */
    return dh_helper_format_cred(out, server, c, err);
}

static int do_erase(int in_fd, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf in = DH_BUF_INIT(DH_HELPER_INPUT_MAX);
    _cleanup_free_ char *server = NULL;
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *s = NULL;

    (void)out;
    if (read_input(in_fd, &in, err) < 0 ||
        dh_helper_parse_server(in.data, in.len, &server, err) < 0 || open_store(&cfg, &s, err) < 0)
        return -1;
    return s->ops->erase(s, server, err);
}

static int do_list(int in_fd, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *s = NULL;
    json_auto_t *map = json_object();

    (void)in_fd; /* the client sends "unused"; like the Go helpers, do not read it */
    if (open_store(&cfg, &s, err) < 0 || s->ops->list(s, map, err) < 0)
        return -1;
    return dh_helper_format_list(out, map, err);
}

static int do_version(int in_fd, struct dh_buf *out, struct dh_error **err)
{
    (void)in_fd;
    return dh_buf_printf(out, err, "%s (%s) v%s\n", DH_HELPER_NAME, DH_HELPER_PACKAGE, DH_VERSION);
}

static const struct helper_verb {
    const char *name;
    int (*fn)(int in_fd, struct dh_buf *out, struct dh_error **err);
} verbs[] = {
        {"store", do_store}, {"get", do_get},         {"erase", do_erase},
        {"list", do_list},   {"version", do_version},
};

int dh_helper_main(int argc, char **argv, int in_fd, struct dh_buf *out)
{
    _cleanup_error_ struct dh_error *err = NULL;
    const char *verb;
    size_t i;

    dh_buf_release(out);
    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")))
        return do_version(in_fd, out, &err) < 0 ? 1 : 0;
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        (void)dh_buf_printf(out, NULL, "Usage: %s <store|get|erase|list|version>\n",
                            DH_HELPER_NAME);
        return 0;
    }
    if (argc != 2) {
        (void)dh_buf_printf(out, NULL, "Usage: %s <store|get|erase|list|version>\n",
                            DH_HELPER_NAME);
        return 1;
    }
    verb = argv[1];
    for (i = 0; i < DH_ARRAY_SIZE(verbs); i++) {
        if (strcmp(verbs[i].name, verb) != 0)
            continue;
        if (verbs[i].fn(in_fd, out, &err) == 0)
            return 0;
        break;
    }
    if (!err)
        dh_error_make(&err, EINVAL, "%s: unknown action: %s", DH_HELPER_NAME, verb);
    dh_buf_release(out);
    dh_buf_printf(out, NULL, "%s\n", err->msg);
    return 1;
}

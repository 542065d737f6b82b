/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small Kubernetes API client (see include/dockhand/kube.h): kubeconfig and
 * in-cluster connection settings, exec credential plugins, JSON requests and
 * Status errors.
 */
#include "dockhand/kube.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/http.h"
#include "dockhand/log.h"
#include "dockhand/yaml.h"

extern char **environ;

#define FILE_MAX          (1024 * 1024) /* PEM files, token files */
#define RESPONSE_MAX      ((size_t)64 << 20)
#define STATUS_MSG_MAX    400
#define EXEC_EXPIRY_SLACK 5 /* seconds: an ExecCredential this close to expiry is renewed */

static void exec_free(struct dh_kube_exec *x);
DH_DEFINE_CLEANUP_FUNC(struct dh_kube_exec *, exec_free)

/* --- small helpers ---------------------------------------------------------------------------- */

static long now_mono(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads a small file whose contents are a secret, trimmed of surrounding white space. */
static int read_secret_file(const char *path, struct dh_secret **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(FILE_MAX);
    size_t start = 0, end;

    if (dh_read_file(path, &b, err) < 0)
        return -1;
    end = b.len;
    while (start < end && is_space(b.data[start]))
        start++;
    while (end > start && is_space(b.data[end - 1]))
        end--;
    if (memchr(b.data + start, '\0', end - start))
        return dh_error_make(err, EINVAL, "'%s' contains a NUL byte", path);
    *ret = dh_secret_new(b.data + start, end - start);
    return 0;
}

/* Reads a PEM file into a new string (a secret buffer when secret). */
static int read_pem_file(const char *path, bool secret, char **ret, struct dh_error **err)
{
    struct dh_buf b = DH_BUF_INIT(FILE_MAX);

    b.secret = secret;
    if (dh_read_file(path, &b, err) < 0) {
        dh_buf_release(&b);
        return -1;
    }
    if (memchr(b.data ? b.data : "", '\0', b.len)) {
        dh_buf_release(&b);
        return dh_error_make(err, EINVAL, "'%s' is not a PEM file", path);
    }
    *ret = dh_buf_steal(&b, NULL);
    return 0;
}

/* Decodes base64 that may be broken over lines (Go's decoder skips \r and \n). */
static int decode_b64(const char *s, struct dh_buf *out, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf clean = DH_BUF_INIT_SECRET(4 * FILE_MAX);
    size_t i;

    for (i = 0; s[i]; i++)
        if (!is_space(s[i]) && dh_buf_append(&clean, &s[i], 1, err) < 0)
            return -1;
    return dh_base64_decode(clean.data ? clean.data : "", clean.len, out, err);
}

static char *path_join(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir || !*dir)
        return dh_xstrdup(p);
    return dh_xasprintf("%s/%s", dir, p);
}

static void strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dh_str_free_wipe(v[i]);
    free(v);
}

static void exec_free(struct dh_kube_exec *x)
{
    size_t i;

    if (!x)
        return;
    free(x->api_version);
    free(x->command);
    strv_free(x->args, x->n_args);
    for (i = 0; i < x->n_env; i++) {
        free(x->env[i].name);
        dh_str_free_wipe(x->env[i].value);
    }
    free(x->env);
    free(x->interactive_mode);
    free(x->install_hint);
    free(x);
}

void dh_kube_config_free(struct dh_kube_config *c)
{
    if (!c)
        return;
    free(c->source);
    free(c->context);
    free(c->cluster);
    free(c->user);
    free(c->server);
    free(c->namespace);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->client_cert_file);
    free(c->client_cert_pem);
    free(c->client_key_file);
    dh_secret_free(c->client_key_pem);
    dh_secret_free(c->token);
    free(c->token_file);
    free(c->username);
    dh_secret_free(c->password);
    exec_free(c->exec);
    free(c);
}

/* --- kubeconfig --------------------------------------------------------------------------------
 */

struct kc_file {
    char *name; /* for messages */
    char *dir;  /* for relative paths */
    struct dh_yaml_node *root;
};

struct kc {
    struct kc_file *files;
    size_t n;
};

/* The tree may hold tokens and keys: wipe every string before freeing it. */
static void yaml_wipe(struct dh_yaml_node *n)
{
    size_t i;

    if (!n)
        return;
    if (n->text)
        dh_wipe(n->text, n->len);
    for (i = 0; i < n->n_pairs; i++) {
        dh_wipe(n->pairs[i].key, n->pairs[i].key_len);
        yaml_wipe(n->pairs[i].value);
    }
    for (i = 0; i < n->n_items; i++)
        yaml_wipe(n->items[i]);
}

static void kc_release(struct kc *k)
{
    size_t i;

    for (i = 0; i < k->n; i++) {
        yaml_wipe(k->files[i].root);
        dh_yaml_free(k->files[i].root);
        free(k->files[i].name);
        free(k->files[i].dir);
    }
    free(k->files);
    k->files = NULL;
    k->n = 0;
}

static const char *const kc_lists[][2] = {
        {"clusters", "cluster"},
        {"users", "user"},
        {"contexts", "context"},
};

/* Checks the shape of one file: a mapping whose lists hold named mappings. */
static int kc_check_file(const struct dh_yaml_node *root, struct dh_error **err)
{
    size_t l, i;

    if (!root)
        return 0;
    if (dh_yaml_expect(root, DH_YAML_MAPPING, "kubeconfig", err) < 0)
        return -1;
    for (l = 0; l < DH_ARRAY_SIZE(kc_lists); l++) {
        const struct dh_yaml_node *list = dh_yaml_mapping_get(root, kc_lists[l][0]);

        if (!list || dh_yaml_is_null(list))
            continue;
        if (dh_yaml_expect(list, DH_YAML_SEQUENCE, kc_lists[l][0], err) < 0)
            return -1;
        for (i = 0; i < list->n_items; i++) {
            const struct dh_yaml_node *item = list->items[i], *inner;
            _cleanup_free_ char *path = dh_xasprintf("%s[%zu]", kc_lists[l][0], i);
            _cleanup_free_ char *npath = dh_xasprintf("%s.name", path);
            _cleanup_free_ char *ipath = dh_xasprintf("%s.%s", path, kc_lists[l][1]);
            _cleanup_free_ char *name = NULL;

            if (dh_yaml_expect(item, DH_YAML_MAPPING, path, err) < 0 ||
                dh_yaml_get_string(dh_yaml_mapping_get(item, "name"), npath, &name, err) < 0)
                return -1;
            inner = dh_yaml_mapping_get(item, kc_lists[l][1]);
            if (inner && !dh_yaml_is_null(inner) &&
                dh_yaml_expect(inner, DH_YAML_MAPPING, ipath, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int kc_add(struct kc *k, const char *data, size_t len, const char *name, const char *dir,
                  struct dh_error **err)
{
    struct dh_yaml_node *root = NULL;

    if (dh_yaml_parse(data, len, name, &root, err) < 0)
        return -1;
    if (kc_check_file(root, err) < 0) {
        yaml_wipe(root);
        dh_yaml_free(root);
        return -1;
    }
    k->files = dh_xrealloc(k->files, (k->n + 1) * sizeof(*k->files));
    k->files[k->n].root = root;
    k->files[k->n].name = dh_xstrdup(name);
    k->files[k->n].dir = dir ? dh_xstrdup(dir) : NULL;
    k->n++;
    return 0;
}

/* Finds the first entry named name in list l (first file wins).  Returns its inner
   mapping (NULL when it is empty) and sets *ret_found, *ret_file and *ret_path. */
static const struct dh_yaml_node *kc_find(const struct kc *k, size_t l, const char *name,
                                          bool *ret_found, const struct kc_file **ret_file,
                                          char **ret_path)
{
    size_t f, i;

    *ret_found = false;
    for (f = 0; f < k->n; f++) {
        const struct dh_yaml_node *list = dh_yaml_mapping_get(k->files[f].root, kc_lists[l][0]);

        if (!list || list->type != DH_YAML_SEQUENCE)
            continue;
        for (i = 0; i < list->n_items; i++) {
            const struct dh_yaml_node *n = dh_yaml_mapping_get(list->items[i], "name");
            const struct dh_yaml_node *inner;

            if (!n || n->type != DH_YAML_SCALAR || strcmp(n->text, name) != 0)
                continue;
            inner = dh_yaml_mapping_get(list->items[i], kc_lists[l][1]);
            *ret_found = true;
            *ret_file = &k->files[f];
            *ret_path = dh_xasprintf("%s[%zu].%s", kc_lists[l][0], i, kc_lists[l][1]);
            return inner && inner->type == DH_YAML_MAPPING ? inner : NULL;
        }
    }
    return NULL;
}

/* An optional string field; an empty string counts as unset. */
static int kc_str(const struct dh_yaml_node *map, const char *path, const char *key, char **ret,
                  struct dh_error **err)
{
    const struct dh_yaml_node *n = dh_yaml_mapping_get(map, key);
    _cleanup_free_ char *p = NULL;
    char *v = NULL;

    *ret = NULL;
    if (!n || dh_yaml_is_null(n))
        return 0;
    p = dh_xasprintf("%s.%s", path, key);
    if (dh_yaml_get_string(n, p, &v, err) < 0)
        return -1;
    if (!*v) {
        free(v);
        return 0;
    }
    *ret = v;
    return 0;
}

static int kc_secret(const struct dh_yaml_node *map, const char *path, const char *key,
                     struct dh_secret **ret, struct dh_error **err)
{
    char *v = NULL;

    *ret = NULL;
    if (kc_str(map, path, key, &v, err) < 0)
        return -1;
    if (v) {
        *ret = dh_secret_from_str(v);
        dh_str_free_wipe(v);
    }
    return 0;
}

/* A path field, resolved against the file's directory. */
static int kc_path(const struct dh_yaml_node *map, const struct kc_file *f, const char *path,
                   const char *key, char **ret, struct dh_error **err)
{
    _cleanup_free_ char *v = NULL;

    *ret = NULL;
    if (kc_str(map, path, key, &v, err) < 0)
        return -1;
    if (v)
        *ret = path_join(f->dir, v);
    return 0;
}

/* A base64 field, decoded into a new NUL-terminated string. */
static int kc_data(const struct dh_yaml_node *map, const char *path, const char *key, bool secret,
                   char **ret, struct dh_error **err)
{
    _cleanup_free_ char *v = NULL;
    struct dh_buf b = DH_BUF_INIT(FILE_MAX);

    *ret = NULL;
    b.secret = secret;
    if (kc_str(map, path, key, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (decode_b64(v, &b, NULL) < 0 || memchr(b.data ? b.data : "", '\0', b.len)) {
        dh_buf_release(&b);
        return dh_yaml_error(dh_yaml_mapping_get(map, key), err, EINVAL,
                             "'%s.%s' is not valid base64-encoded PEM", path, key);
    }
    *ret = dh_buf_steal(&b, NULL);
    return 0;
}

/* Fails when key is set (non-null, non-empty) in map: the setting is not supported. */
static int kc_refuse(const struct dh_yaml_node *map, const char *path, const char *key,
                     const char *why, struct dh_error **err)
{
    const struct dh_yaml_node *n = dh_yaml_mapping_get(map, key);

    if (!n || dh_yaml_is_null(n) || (n->type == DH_YAML_SCALAR && n->len == 0) ||
        (n->type == DH_YAML_SEQUENCE && n->n_items == 0) ||
        (n->type == DH_YAML_MAPPING && n->n_pairs == 0))
        return 0;
    return dh_yaml_error(n, err, ENOTSUP, "'%s.%s' is not supported by dockhand%s%s", path, key,
                         why ? ": " : "", why ? why : "");
}

static int kc_exec(const struct dh_yaml_node *map, const struct kc_file *f, const char *path,
                   const char *user, struct dh_kube_exec **ret, struct dh_error **err)
{
    DH_CLEANUP(exec_freep) struct dh_kube_exec *x = dh_xcalloc(1, sizeof(*x));
    _cleanup_free_ char *command = NULL;
    const struct dh_yaml_node *args, *env, *pci;
    size_t i;

    if (dh_yaml_expect(map, DH_YAML_MAPPING, path, err) < 0 ||
        kc_str(map, path, "apiVersion", &x->api_version, err) < 0 ||
        kc_str(map, path, "command", &command, err) < 0 ||
        kc_str(map, path, "interactiveMode", &x->interactive_mode, err) < 0 ||
        kc_str(map, path, "installHint", &x->install_hint, err) < 0)
        return -1;
    if (!command)
        return dh_yaml_error(map, err, EINVAL, "'%s.command' is missing (user '%s')", path, user);
    if (!x->api_version || (strcmp(x->api_version, DH_KUBE_EXEC_V1) != 0 &&
                            strcmp(x->api_version, DH_KUBE_EXEC_V1BETA1) != 0))
        return dh_yaml_error(map, err, EINVAL, "'%s.apiVersion' of user '%s' must be '%s' or '%s'",
                             path, user, DH_KUBE_EXEC_V1, DH_KUBE_EXEC_V1BETA1);
    if (x->interactive_mode && strcmp(x->interactive_mode, "Never") != 0 &&
        strcmp(x->interactive_mode, "IfAvailable") != 0 &&
        strcmp(x->interactive_mode, "Always") != 0)
        return dh_yaml_error(dh_yaml_mapping_get(map, "interactiveMode"), err, EINVAL,
                             "'%s.interactiveMode' must be Never, IfAvailable or Always", path);
    if (!x->interactive_mode && strcmp(x->api_version, DH_KUBE_EXEC_V1) == 0)
        return dh_yaml_error(map, err, EINVAL,
                             "'%s.interactiveMode' must be set for apiVersion '%s' (user '%s')",
                             path, DH_KUBE_EXEC_V1, user);
    /* client-go: a relative command with a '/' is relative to the kubeconfig's directory. */
    x->command = strchr(command, '/') ? path_join(f->dir, command) : TAKE_PTR(command);

    pci = dh_yaml_mapping_get(map, "provideClusterInfo");
    if (pci && !dh_yaml_is_null(pci)) {
        _cleanup_free_ char *p = dh_xasprintf("%s.provideClusterInfo", path);
        if (dh_yaml_get_bool(pci, p, &x->provide_cluster_info, err) < 0)
            return -1;
    }
    args = dh_yaml_mapping_get(map, "args");
    if (args && !dh_yaml_is_null(args)) {
        _cleanup_free_ char *p = dh_xasprintf("%s.args", path);
        if (dh_yaml_expect(args, DH_YAML_SEQUENCE, p, err) < 0)
            return -1;
        x->args = dh_xcalloc(args->n_items + 1, sizeof(*x->args));
        for (i = 0; i < args->n_items; i++) {
            _cleanup_free_ char *ip = dh_xasprintf("%s.args[%zu]", path, i);
            if (dh_yaml_get_string(args->items[i], ip, &x->args[i], err) < 0)
                return -1;
            x->n_args++;
        }
    }
    env = dh_yaml_mapping_get(map, "env");
    if (env && !dh_yaml_is_null(env)) {
        _cleanup_free_ char *p = dh_xasprintf("%s.env", path);
        if (dh_yaml_expect(env, DH_YAML_SEQUENCE, p, err) < 0)
            return -1;
        x->env = dh_xcalloc(env->n_items + 1, sizeof(*x->env));
        for (i = 0; i < env->n_items; i++) {
            _cleanup_free_ char *ip = dh_xasprintf("%s.env[%zu]", path, i);
            _cleanup_free_ char *np = dh_xasprintf("%s.name", ip);
            _cleanup_free_ char *vp = dh_xasprintf("%s.value", ip);
            const struct dh_yaml_node *v;
            struct dh_kube_env *e = &x->env[x->n_env];

            if (dh_yaml_expect(env->items[i], DH_YAML_MAPPING, ip, err) < 0 ||
                dh_yaml_get_string(dh_yaml_mapping_get(env->items[i], "name"), np, &e->name, err) <
                        0)
                return -1;
            x->n_env++;
            if (!*e->name || strchr(e->name, '='))
                return dh_yaml_error(env->items[i], err, EINVAL, "'%s' is not a valid name", np);
            v = dh_yaml_mapping_get(env->items[i], "value");
            if (!v || dh_yaml_is_null(v))
                e->value = dh_xstrdup("");
            else if (dh_yaml_get_string(v, vp, &e->value, err) < 0)
                return -1;
        }
    }
    *ret = TAKE_PTR(x);
    return 0;
}

static int kc_cluster(const struct kc *k, struct dh_kube_config *c, struct dh_error **err)
{
    const struct kc_file *f = NULL;
    _cleanup_free_ char *path = NULL, *server = NULL;
    const struct dh_yaml_node *m, *n;
    bool found;
    size_t len;

    m = kc_find(k, 0, c->cluster, &found, &f, &path);
    if (!found)
        return dh_error_make(err, ENOENT, "cluster '%s' of context '%s' is not in kubeconfig '%s'",
                             c->cluster, c->context, c->source);
    if (kc_str(m, path, "server", &server, err) < 0)
        return -1;
    if (!server)
        return dh_error_make(err, EINVAL, "%s: cluster '%s' has no server", f->name, c->cluster);
    if (kc_refuse(m, path, "tls-server-name",
                  "connect to a name the server certificate holds instead", err) < 0 ||
        kc_refuse(m, path, "proxy-url", "set HTTPS_PROXY instead", err) < 0)
        return -1;
    if (!strstr(server, "://")) {
        char *s = dh_xasprintf("https://%s", server);
        free(server);
        server = s;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return dh_yaml_error(dh_yaml_mapping_get(m, "server"), err, EINVAL,
                             "server of cluster '%s' must be an https:// URL", c->cluster);
    len = strlen(server);
    while (len && server[len - 1] == '/')
        server[--len] = '\0';
    c->server = TAKE_PTR(server);
    if (kc_path(m, f, path, "certificate-authority", &c->ca_file, err) < 0 ||
        kc_data(m, path, "certificate-authority-data", false, &c->ca_pem, err) < 0)
        return -1;
    n = dh_yaml_mapping_get(m, "insecure-skip-tls-verify");
    if (n && !dh_yaml_is_null(n)) {
        _cleanup_free_ char *p = dh_xasprintf("%s.insecure-skip-tls-verify", path);
        if (dh_yaml_get_bool(n, p, &c->insecure_skip_tls_verify, err) < 0)
            return -1;
    }
    if (c->insecure_skip_tls_verify && (c->ca_file || c->ca_pem))
        return dh_yaml_error(n, err, EINVAL,
                             "cluster '%s' sets both a certificate authority and "
                             "insecure-skip-tls-verify",
                             c->cluster);
    return 0;
}

static int kc_user(const struct kc *k, struct dh_kube_config *c, struct dh_error **err)
{
    static const char *const refused[] = {"as", "as-uid", "as-groups", "as-user-extra"};
    const struct kc_file *f = NULL;
    _cleanup_free_ char *path = NULL;
    const struct dh_yaml_node *m, *x;
    bool found;
    size_t i;

    m = kc_find(k, 1, c->user, &found, &f, &path);
    if (!found)
        return dh_error_make(err, ENOENT, "user '%s' of context '%s' is not in kubeconfig '%s'",
                             c->user, c->context, c->source);
    for (i = 0; i < DH_ARRAY_SIZE(refused); i++)
        if (kc_refuse(m, path, refused[i], "impersonation", err) < 0)
            return -1;
    if (kc_refuse(m, path, "auth-provider", "use an exec credential plugin", err) < 0)
        return -1;
    if (kc_secret(m, path, "token", &c->token, err) < 0 ||
        kc_path(m, f, path, "tokenFile", &c->token_file, err) < 0 ||
        kc_path(m, f, path, "client-certificate", &c->client_cert_file, err) < 0 ||
        kc_data(m, path, "client-certificate-data", false, &c->client_cert_pem, err) < 0 ||
        kc_path(m, f, path, "client-key", &c->client_key_file, err) < 0 ||
        kc_str(m, path, "username", &c->username, err) < 0 ||
        kc_secret(m, path, "password", &c->password, err) < 0)
        return -1;
    {
        _cleanup_wipe_ char *key = NULL;
        if (kc_data(m, path, "client-key-data", true, &key, err) < 0)
            return -1;
        if (key)
            c->client_key_pem = dh_secret_from_str(key);
    }
    x = dh_yaml_mapping_get(m, "exec");
    if (x && !dh_yaml_is_null(x)) {
        _cleanup_free_ char *xp = dh_xasprintf("%s.exec", path);
        if (kc_exec(x, f, xp, c->user, &c->exec, err) < 0)
            return -1;
    }
    if ((c->client_cert_file || c->client_cert_pem) != (c->client_key_file || c->client_key_pem))
        return dh_error_make(err, EINVAL,
                             "%s: user '%s' needs both a client certificate and a client key",
                             f->name, c->user);
    if ((c->token || c->token_file) && (c->username || c->password))
        return dh_error_make(err, EINVAL,
                             "%s: user '%s' sets both a token and a username/password; use one",
                             f->name, c->user);
    if (c->exec && (c->token || c->token_file || c->username || c->password))
        return dh_error_make(err, EINVAL,
                             "%s: user '%s' sets both an exec plugin and a token or password; "
                             "use one",
                             f->name, c->user);
    if (c->password && !c->username)
        return dh_error_make(err, EINVAL, "%s: user '%s' has a password but no username", f->name,
                             c->user);
    return 0;
}

static int kc_resolve(const struct kc *k, const char *source, const char *context,
                      struct dh_kube_config **ret, struct dh_error **err)
{
    _cleanup_kube_config_ struct dh_kube_config *c = dh_xcalloc(1, sizeof(*c));
    const struct kc_file *f = NULL;
    _cleanup_free_ char *path = NULL;
    const struct dh_yaml_node *m;
    bool found;
    size_t i;

    c->source = dh_xstrdup(source);
    if (context && *context) {
        c->context = dh_xstrdup(context);
    } else {
        for (i = 0; i < k->n && !c->context; i++)
            if (kc_str(k->files[i].root, "kubeconfig", "current-context", &c->context, err) < 0)
                return -1;
        if (!c->context)
            return dh_error_make(err, EINVAL,
                                 "kubeconfig '%s' has no current-context (set one with "
                                 "'kubectl config use-context')",
                                 source);
    }
    m = kc_find(k, 2, c->context, &found, &f, &path);
    if (!found)
        return dh_error_make(err, ENOENT, "context '%s' is not in kubeconfig '%s'", c->context,
                             source);
    if (kc_str(m, path, "cluster", &c->cluster, err) < 0 ||
        kc_str(m, path, "user", &c->user, err) < 0 ||
        kc_str(m, path, "namespace", &c->namespace, err) < 0)
        return -1;
    if (!c->cluster)
        return dh_error_make(err, EINVAL, "%s: context '%s' names no cluster", f->name, c->context);
    if (kc_cluster(k, c, err) < 0)
        return -1;
    if (c->user && kc_user(k, c, err) < 0)
        return -1;
    *ret = TAKE_PTR(c);
    return 0;
}

int dh_kube_config_parse(const char *data, size_t len, const char *filename, const char *dir,
                         const char *context, struct dh_kube_config **ret, struct dh_error **err)
{
    struct kc k = {0};
    int r;

    if (!filename)
        filename = "<input>";
    r = kc_add(&k, data, len, filename, dir, err);
    if (r == 0)
        r = kc_resolve(&k, filename, context, ret, err);
    kc_release(&k);
    return r;
}

/* Sets *ret_none when no file exists (then fails with ENOENT). */
static int load_files(const char *const *paths, size_t n, const char *context,
                      struct dh_kube_config **ret, bool *ret_none, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf names = DH_BUF_INIT(SIZE_MAX - 1);
    struct kc k = {0};
    size_t i;
    int r = 0;

    *ret_none = false;
    for (i = 0; i < n && r == 0; i++) {
        _cleanup_buf_ struct dh_buf data = DH_BUF_INIT_SECRET(DH_YAML_MAX_SIZE);
        _cleanup_error_ struct dh_error *e = NULL;
        _cleanup_free_ char *dir = NULL;

        if (!paths[i] || !*paths[i])
            continue;
        if (dh_read_file(paths[i], &data, &e) < 0) {
            if (e->status == ENOENT)
                continue;
            dh_error_move(err, &e);
            r = -1;
            break;
        }
        dir = dh_dirname(paths[i]);
        r = kc_add(&k, data.data ? data.data : "", data.len, paths[i], dir, err);
        if (r == 0)
            (void)dh_buf_printf(&names, NULL, "%s%s", names.len ? ":" : "", paths[i]);
    }
    if (r == 0 && k.n == 0) {
        *ret_none = true;
        r = dh_error_make(err, ENOENT, "no kubeconfig file found (looked for '%s')",
                          n && paths[0] ? paths[0] : "");
    }
    if (r == 0)
        r = kc_resolve(&k, names.data, context, ret, err);
    kc_release(&k);
    return r;
}

int dh_kube_config_from_files(const char *const *paths, size_t n, const char *context,
                              struct dh_kube_config **ret, struct dh_error **err)
{
    bool none;

    return load_files(paths, n, context, ret, &none, err);
}

/* --- in-cluster --------------------------------------------------------------------------------
 */

char *dh_kube_server_url(const char *host, const char *port)
{
    if (strchr(host, ':') && host[0] != '[')
        return dh_xasprintf("https://[%s]:%s", host, port);
    return dh_xasprintf("https://%s:%s", host, port);
}

int dh_kube_config_in_cluster(struct dh_kube_config **ret, struct dh_error **err)
{
    const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
    const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
    const char *pod_ns = secure_getenv("POD_NAMESPACE");
    _cleanup_kube_config_ struct dh_kube_config *c = NULL;
    _cleanup_secret_ struct dh_secret *probe = NULL;
    _cleanup_free_ char *ca = dh_xstrdup(DH_KUBE_SA_DIR "/ca.crt");

    if (!host || !*host || !port || !*port)
        return dh_error_make(err, ENXIO,
                             "not running in a cluster (KUBERNETES_SERVICE_HOST and "
                             "KUBERNETES_SERVICE_PORT are not set)");
    c = dh_xcalloc(1, sizeof(*c));
    c->in_cluster = true;
    c->source = dh_xstrdup("in-cluster");
    c->cluster = dh_xstrdup("in-cluster");
    c->server = dh_kube_server_url(host, port);
    c->token_file = dh_xstrdup(DH_KUBE_SA_DIR "/token");
    if (read_secret_file(c->token_file, &probe, err) < 0)
        return dh_error_wrap(err, "cannot read the service account token");
    if (access(ca, R_OK) == 0)
        c->ca_file = TAKE_PTR(ca);
    else
        dh_log_warn("in-cluster CA '%s' cannot be read, using the system CAs", ca);
    if (pod_ns && *pod_ns) {
        c->namespace = dh_xstrdup(pod_ns);
    } else {
        _cleanup_secret_ struct dh_secret *ns = NULL;
        _cleanup_error_ struct dh_error *e = NULL;

        if (read_secret_file(DH_KUBE_SA_DIR "/namespace", &ns, &e) == 0 && ns->len)
            c->namespace = dh_xstrdup(ns->buf);
        else
            c->namespace = dh_xstrdup("default");
    }
    *ret = TAKE_PTR(c);
    return 0;
}

static char *home_dir(void)
{
    const char *h = secure_getenv("HOME");
    struct passwd *pw;

    if (h && *h)
        return dh_xstrdup(h);
    pw = getpwuid(getuid());
    return pw && pw->pw_dir ? dh_xstrdup(pw->pw_dir) : NULL;
}

int dh_kube_config_load(const char *context, struct dh_kube_config **ret, struct dh_error **err)
{
    const char *env = secure_getenv("KUBECONFIG");
    _cleanup_error_ struct dh_error *e = NULL;
    _cleanup_free_ char *list = NULL, *home = NULL, *def = NULL;
    char **paths = NULL;
    size_t n = 0;
    bool none;
    int r;

    if (env && *env) {
        char *save = NULL, *tok;

        list = dh_xstrdup(env);
        for (tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
            paths = dh_xrealloc(paths, (n + 1) * sizeof(*paths));
            paths[n++] = tok;
        }
    } else {
        home = home_dir();
        if (home) {
            def = dh_xasprintf("%s/.kube/config", home);
            paths = dh_xcalloc(1, sizeof(*paths));
            paths[n++] = def;
        }
    }
    r = load_files((const char *const *)paths, n, context, ret, &none, &e);
    free(paths);
    if (r == 0)
        return 0;
    if (!none) {
        dh_error_move(err, &e);
        return -1;
    }
    /* No kubeconfig file at all: the in-cluster configuration, when there is one. */
    if (secure_getenv("KUBERNETES_SERVICE_HOST") && secure_getenv("KUBERNETES_SERVICE_PORT")) {
        if (context && *context)
            return dh_error_make(err, EINVAL,
                                 "context '%s' was asked for, but no kubeconfig file exists "
                                 "(running in cluster)",
                                 context);
        return dh_kube_config_in_cluster(ret, err);
    }
    return dh_error_make(err, ENOENT,
                         "no Kubernetes connection: %s, and not running in a cluster "
                         "(KUBERNETES_SERVICE_HOST is not set)",
                         env && *env ? "no file named in KUBECONFIG exists"
                                     : "'~/.kube/config' does not exist and KUBECONFIG is not set");
}

/* --- time ------------------------------------------------------------------------------------- */

static bool digits(const char *s, size_t n, int *ret)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

int dh_kube_parse_time(const char *s, time_t *ret)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    size_t len = s ? strlen(s) : 0, i = 19;
    time_t t;

    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return -1;
    if (s[i] == '.') {
        i++;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && len - i == 6 && digits(s + i + 1, 2, &oh) &&
               s[i + 3] == ':' && digits(s + i + 4, 2, &om)) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || oh > 23 || om > 59)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ret = t - sign * (time_t)(oh * 3600 + om * 60);
    return 0;
}

/* --- exec credential plugins ----------------------------------------------------------------- */

void dh_kube_exec_cred_free(struct dh_kube_exec_cred *c)
{
    if (!c)
        return;
    dh_secret_free(c->token);
    free(c->client_cert_pem);
    dh_secret_free(c->client_key_pem);
    free(c);
}

static struct dh_kube_exec_cred *exec_cred_dup(const struct dh_kube_exec_cred *c)
{
    struct dh_kube_exec_cred *d = dh_xcalloc(1, sizeof(*d));

    if (c->token)
        d->token = dh_secret_new(c->token->buf, c->token->len);
    if (c->client_cert_pem)
        d->client_cert_pem = dh_xstrdup(c->client_cert_pem);
    if (c->client_key_pem)
        d->client_key_pem = dh_secret_new(c->client_key_pem->buf, c->client_key_pem->len);
    d->expires = c->expires;
    return d;
}

int dh_kube_exec_cred_parse(const char *data, size_t len, const char *api_version,
                            struct dh_kube_exec_cred **ret, struct dh_error **err)
{
    _cleanup_kube_exec_cred_ struct dh_kube_exec_cred *c = NULL;
    json_auto_t *doc = NULL;
    json_t *status, *token, *cert, *key, *exp;
    const char *kind, *av;

    doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc))
        return dh_error_make(err, EINVAL, "the output is not a JSON object");
    kind = json_string_value(json_object_get(doc, "kind"));
    av = json_string_value(json_object_get(doc, "apiVersion"));
    if (!kind || strcmp(kind, "ExecCredential") != 0)
        return dh_error_make(err, EINVAL, "the output is not an ExecCredential");
    if (!av || strcmp(av, api_version) != 0)
        return dh_error_make(err, EINVAL,
                             "the ExecCredential has apiVersion '%s', but the kubeconfig asks "
                             "for '%s'",
                             av ? av : "", api_version);
    status = json_object_get(doc, "status");
    if (!json_is_object(status))
        return dh_error_make(err, EINVAL, "the ExecCredential has no status");
    token = json_object_get(status, "token");
    cert = json_object_get(status, "clientCertificateData");
    key = json_object_get(status, "clientKeyData");
    exp = json_object_get(status, "expirationTimestamp");
    if ((token && !json_is_string(token)) || (cert && !json_is_string(cert)) ||
        (key && !json_is_string(key)) || (exp && !json_is_string(exp) && !json_is_null(exp)))
        return dh_error_make(err, EINVAL,
                             "the ExecCredential status has a field of the wrong type");
    c = dh_xcalloc(1, sizeof(*c));
    if (token && json_string_length(token))
        c->token = dh_secret_new(json_string_value(token), json_string_length(token));
    if ((cert && json_string_length(cert)) != (key && json_string_length(key)))
        return dh_error_make(err, EINVAL,
                             "the ExecCredential must set both clientCertificateData and "
                             "clientKeyData, or neither");
    if (cert && json_string_length(cert)) {
        c->client_cert_pem = dh_xstrndup(json_string_value(cert), json_string_length(cert));
        c->client_key_pem = dh_secret_new(json_string_value(key), json_string_length(key));
    }
    if (!c->token && !c->client_cert_pem)
        return dh_error_make(err, EINVAL,
                             "the ExecCredential has neither a token nor a client certificate");
    if (json_is_string(exp) && json_string_length(exp) &&
        dh_kube_parse_time(json_string_value(exp), &c->expires) < 0)
        return dh_error_make(err, EINVAL,
                             "the ExecCredential's expirationTimestamp is not an RFC 3339 time");
    *ret = TAKE_PTR(c);
    return 0;
}

static char *exec_info(const struct dh_kube_config *cfg)
{
    json_auto_t *info = json_pack("{s:s, s:s, s:{s:b}}", "kind", "ExecCredential", "apiVersion",
                                  cfg->exec->api_version, "spec", "interactive", 0);
    char *s;

    if (cfg->exec->provide_cluster_info) {
        json_t *cl = json_object();

        json_object_set_new(cl, "server", json_string(cfg->server));
        if (cfg->insecure_skip_tls_verify)
            json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
        if (cfg->ca_pem) {
            char *b = dh_base64_encode(cfg->ca_pem, strlen(cfg->ca_pem), false);
            json_object_set_new(cl, "certificate-authority-data", json_string(b));
            free(b);
        } else if (cfg->ca_file) {
            _cleanup_buf_ struct dh_buf pem = DH_BUF_INIT(FILE_MAX);
            if (dh_read_file(cfg->ca_file, &pem, NULL) == 0) {
                char *b = dh_base64_encode(pem.data ? pem.data : "", pem.len, false);
                json_object_set_new(cl, "certificate-authority-data", json_string(b));
                free(b);
            }
        }
        json_object_set_new(json_object_get(info, "spec"), "cluster", cl);
    }
    s = json_dumps(info, JSON_COMPACT);
    if (!s)
        dh_oom();
    return s;
}

/* A new environment: ours without the names the plugin sets, then the plugin's. */
static char **exec_env(const struct dh_kube_exec *x, const char *info)
{
    size_t n = 0, i, j, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = dh_xcalloc(n + x->n_env + 2, sizeof(*env));
    for (i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool drop = nl == 20 && strncmp(environ[i], "KUBERNETES_EXEC_INFO", 20) == 0;

        for (j = 0; j < x->n_env && !drop; j++)
            drop = strlen(x->env[j].name) == nl && strncmp(environ[i], x->env[j].name, nl) == 0;
        if (!drop)
            env[k++] = dh_xstrdup(environ[i]);
    }
    for (j = 0; j < x->n_env; j++)
        env[k++] = dh_xasprintf("%s=%s", x->env[j].name, x->env[j].value);
    env[k++] = dh_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
    env[k] = NULL;
    return env;
}

static void envv_free(char **v)
{
    size_t i;

    for (i = 0; v && v[i]; i++)
        dh_str_free_wipe(v[i]);
    free(v);
}

/* Reads fd to EOF into out, for at most timeout_ms.  Returns 0, 1 on time-out, -1 on error. */
static int read_until(int fd, struct dh_buf *out, long timeout_ms, struct dh_error **err)
{
    struct timespec start, now;
    char chunk[4096];

    (void)clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long spent, left;
        ssize_t n;
        int r;

        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        left = timeout_ms - spent;
        if (left <= 0)
            return 1;
        r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return dh_error_sys(err, errno, "poll");
        if (r == 0)
            continue;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dh_error_sys(err, errno, "read");
        if (n == 0)
            return 0;
        r = dh_buf_append(out, chunk, (size_t)n, err);
        dh_wipe(chunk, sizeof(chunk));
        if (r < 0)
            return -1;
    }
}

int dh_kube_exec_run(const struct dh_kube_config *cfg, long timeout_ms,
                     struct dh_kube_exec_cred **ret, struct dh_error **err)
{
    const struct dh_kube_exec *x = cfg->exec;
    const char *user = cfg->user ? cfg->user : "";
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(DH_KUBE_EXEC_MAX_OUTPUT);
    _cleanup_error_ struct dh_error *e = NULL;
    _cleanup_free_ char *info = NULL;
    _cleanup_close_ int devnull = -1, rfd = -1, wfd = -1;
    posix_spawn_file_actions_t fa;
    char **argv, **envp;
    int pipefd[2], r, status = 0;
    pid_t pid;
    size_t i;

    if (timeout_ms <= 0)
        timeout_ms = DH_KUBE_EXEC_TIMEOUT_MS;
    if (x->interactive_mode && strcmp(x->interactive_mode, "Always") == 0)
        return dh_error_make(err, ENOTSUP,
                             "exec plugin '%s' of user '%s' needs a terminal (interactiveMode: "
                             "Always), but dockhand runs non-interactively",
                             x->command, user);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        return dh_error_sys(err, errno, "cannot open '/dev/null'");
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return dh_error_sys(err, errno, "cannot create a pipe");
    rfd = pipefd[0];
    wfd = pipefd[1];

    info = exec_info(cfg);
    envp = exec_env(x, info);
    argv = dh_xcalloc(x->n_args + 2, sizeof(*argv));
    argv[0] = x->command;
    for (i = 0; i < x->n_args; i++)
        argv[i + 1] = x->args[i];
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, wfd, STDOUT_FILENO);
    r = posix_spawnp(&pid, x->command, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    envv_free(envp);
    if (r != 0)
        return dh_error_sys(err, r, "cannot run exec plugin '%s' of user '%s'%s%s", x->command,
                            user, x->install_hint ? " (" : "", x->install_hint ? "see below)" : "");
    (void)close(TAKE_FD(wfd));

    r = read_until(rfd, &out, timeout_ms, &e);
    if (r != 0)
        (void)kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r == 1)
        return dh_error_make(err, ETIMEDOUT,
                             "exec plugin '%s' of user '%s' did not finish within %ld ms",
                             x->command, user, timeout_ms);
    if (r < 0) {
        dh_error_move(err, &e);
        return dh_error_wrap(err, "cannot read the output of exec plugin '%s' of user '%s'",
                             x->command, user);
    }
    if (WIFSIGNALED(status))
        return dh_error_make(err, EIO, "exec plugin '%s' of user '%s' was killed by signal %d",
                             x->command, user, WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && x->install_hint)
        return dh_error_make(err, ENOENT, "exec plugin '%s' of user '%s' was not found: %s",
                             x->command, user, x->install_hint);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return dh_error_make(err, EIO, "exec plugin '%s' of user '%s' failed with exit status %d",
                             x->command, user, WEXITSTATUS(status));
    if (dh_kube_exec_cred_parse(out.data ? out.data : "", out.len, x->api_version, ret, err) < 0)
        return dh_error_wrap(err, "exec plugin '%s' of user '%s'", x->command, user);
    return 0;
}

struct exec_cache_entry {
    char *key;
    struct dh_kube_exec_cred *cred;
    struct exec_cache_entry *next;
};

static pthread_mutex_t exec_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_cache_entry *exec_cache;

/* What identifies a plugin run: everything that goes into it. */
static char *exec_cache_key(const struct dh_kube_config *cfg)
{
    const struct dh_kube_exec *x = cfg->exec;
    json_auto_t *k = json_array();
    size_t i;
    char *s;

    json_array_append_new(k, json_string(x->api_version));
    json_array_append_new(k, json_string(x->command));
    for (i = 0; i < x->n_args; i++)
        json_array_append_new(k, json_string(x->args[i]));
    json_array_append_new(k, json_string("--env--"));
    for (i = 0; i < x->n_env; i++)
        json_array_append_new(k, json_pack("[s,s]", x->env[i].name, x->env[i].value));
    json_array_append_new(k, json_string(x->provide_cluster_info ? cfg->server : ""));
    s = json_dumps(k, JSON_COMPACT);
    if (!s)
        dh_oom();
    return s;
}

static void exec_cache_drop(const char *key)
{
    struct exec_cache_entry **pp, *e;

    for (pp = &exec_cache; (e = *pp); pp = &e->next) {
        if (strcmp(e->key, key) == 0) {
            *pp = e->next;
            dh_str_free_wipe(e->key);
            dh_kube_exec_cred_free(e->cred);
            free(e);
            return;
        }
    }
}

void dh_kube_exec_cache_clear(void)
{
    pthread_mutex_lock(&exec_cache_lock);
    while (exec_cache)
        exec_cache_drop(exec_cache->key);
    pthread_mutex_unlock(&exec_cache_lock);
}

/* A copy of the cached credential for key, or a fresh one from the plugin. */
static int exec_cred_get(const struct dh_kube_config *cfg, const char *key, bool refresh,
                         struct dh_kube_exec_cred **ret, struct dh_error **err)
{
    struct dh_kube_exec_cred *fresh = NULL;
    struct exec_cache_entry *e;
    int r = 0;

    pthread_mutex_lock(&exec_cache_lock);
    if (refresh)
        exec_cache_drop(key);
    for (e = exec_cache; e; e = e->next) {
        if (strcmp(e->key, key) != 0)
            continue;
        if (e->cred->expires && time(NULL) + EXEC_EXPIRY_SLACK >= e->cred->expires) {
            exec_cache_drop(key);
            break;
        }
        *ret = exec_cred_dup(e->cred);
        pthread_mutex_unlock(&exec_cache_lock);
        return 0;
    }
    r = dh_kube_exec_run(cfg, 0, &fresh, err);
    if (r == 0) {
        e = dh_xcalloc(1, sizeof(*e));
        e->key = dh_xstrdup(key);
        e->cred = fresh;
        e->next = exec_cache;
        exec_cache = e;
        *ret = exec_cred_dup(fresh);
        dh_log_debug("exec plugin '%s' gave a credential%s", cfg->exec->command,
                     fresh->expires ? " with an expiry" : "");
    }
    pthread_mutex_unlock(&exec_cache_lock);
    return r;
}

/* --- Status errors ---------------------------------------------------------------------------- */

/* A printable, bounded copy of a server message with redact replaced. */
static char *clean_message(const char *m, const char *redact)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(SIZE_MAX - 1);
    size_t i, n = strlen(m), rl = redact ? strlen(redact) : 0;

    for (i = 0; i < n && b.len < STATUS_MSG_MAX; i++) {
        unsigned char c = (unsigned char)m[i];

        if (rl >= 4 && strncmp(m + i, redact, rl) == 0) {
            (void)dh_buf_puts(&b, "<redacted>", NULL);
            i += rl - 1;
        } else if (c < 0x20 || c == 0x7f) {
            (void)dh_buf_puts(&b, " ", NULL);
        } else {
            (void)dh_buf_append(&b, &m[i], 1, NULL);
        }
    }
    if (i < n) {
        /* Do not leave half a UTF-8 sequence behind. */
        while (b.len && ((unsigned char)b.data[b.len - 1] & 0xc0) == 0x80)
            dh_buf_truncate(&b, b.len - 1);
        if (b.len && (unsigned char)b.data[b.len - 1] >= 0xc0)
            dh_buf_truncate(&b, b.len - 1);
        (void)dh_buf_puts(&b, "...", NULL);
    }
    return dh_buf_steal(&b, NULL);
}

int dh_kube_status_error(long code, const char *body, size_t len, const char *cluster,
                         const char *redact, struct dh_error **err)
{
    json_auto_t *doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    _cleanup_free_ char *msg = NULL;
    const char *reason = NULL, *m = NULL;

    if (!cluster)
        cluster = "";
    if (json_is_object(doc)) {
        const char *kind = json_string_value(json_object_get(doc, "kind"));

        if (kind && strcmp(kind, "Status") == 0) {
            m = json_string_value(json_object_get(doc, "message"));
            reason = json_string_value(json_object_get(doc, "reason"));
        }
    }
    if (m && *m)
        msg = clean_message(m, redact);
    switch (code) {
    case 401:
        if (msg && strcasecmp(msg, "Unauthorized") != 0)
            return dh_error_make(err, DH_KUBE_E_UNAUTHORIZED,
                                 "unauthorized: check the credentials for cluster '%s': %s",
                                 cluster, msg);
        return dh_error_make(err, DH_KUBE_E_UNAUTHORIZED,
                             "unauthorized: check the credentials for cluster '%s'", cluster);
    case 403:
        return dh_error_make(err, DH_KUBE_E_FORBIDDEN, "forbidden: %s",
                             msg ? msg : "the credentials may not do this");
    case 404:
        return dh_error_make(err, DH_KUBE_E_NOT_FOUND, "not found: %s",
                             msg ? msg : "the server could not find the requested resource");
    case 409:
        if (reason && strcmp(reason, "AlreadyExists") == 0)
            return dh_error_make(err, DH_KUBE_E_EXISTS, "already exists: %s",
                                 msg ? msg : "the object already exists");
        return dh_error_make(err, DH_KUBE_E_CONFLICT, "conflict: %s",
                             msg ? msg : "the object has been modified");
    case 410:
        return dh_error_make(err, DH_KUBE_E_GONE, "gone: %s",
                             msg ? msg : "the requested resource version is too old");
    case 400:
    case 415:
    case 422:
        return dh_error_make(err, DH_KUBE_E_INVALID, "rejected by cluster '%s' (HTTP %ld%s%s): %s",
                             cluster, code, reason ? " " : "", reason ? reason : "",
                             msg ? msg : "invalid request");
    case 408:
    case 504:
        return dh_error_make(err, DH_KUBE_E_TIMEOUT, "cluster '%s' timed out (HTTP %ld)%s%s",
                             cluster, code, msg ? ": " : "", msg ? msg : "");
    case 429:
        return dh_error_make(err, EAGAIN, "cluster '%s' is throttling requests (HTTP 429)%s%s",
                             cluster, msg ? ": " : "", msg ? msg : "");
    default:
        return dh_error_make(err, EIO, "cluster '%s' answered HTTP %ld%s%s", cluster, code,
                             msg ? ": " : "", msg ? msg : "");
    }
}

/* --- client ------------------------------------------------------------------------------------
 */

struct dh_kube_client {
    struct dh_kube_config *cfg;
    long timeout_ms;
    char *exec_key;
    struct dh_secret *file_token; /* last read of cfg->token_file */
    long file_token_at;           /* monotonic seconds */
    char *client_cert_pem;        /* from cfg (data or file) */
    struct dh_secret *client_key_pem;
    unsigned long requests; /* HTTP requests sent, for reports and benchmarks */
};

void dh_kube_client_free(struct dh_kube_client *c)
{
    if (!c)
        return;
    dh_kube_config_free(c->cfg);
    dh_str_free_wipe(c->exec_key);
    dh_secret_free(c->file_token);
    free(c->client_cert_pem);
    dh_secret_free(c->client_key_pem);
    free(c);
}

const struct dh_kube_config *dh_kube_client_config(const struct dh_kube_client *c)
{
    return c->cfg;
}

unsigned long dh_kube_client_requests(const struct dh_kube_client *c)
{
    return c->requests;
}

int dh_kube_client_new(struct dh_kube_config *cfg, long timeout_ms, struct dh_kube_client **ret,
                       struct dh_error **err)
{
    _cleanup_kube_client_ struct dh_kube_client *c = dh_xcalloc(1, sizeof(*c));

    c->cfg = cfg;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : DH_KUBE_DEFAULT_TIMEOUT_MS;
    if (cfg->client_cert_pem)
        c->client_cert_pem = dh_xstrdup(cfg->client_cert_pem);
    else if (cfg->client_cert_file &&
             read_pem_file(cfg->client_cert_file, false, &c->client_cert_pem, err) < 0)
        return dh_error_wrap(err, "cannot read the client certificate of user '%s'",
                             cfg->user ? cfg->user : "");
    if (cfg->client_key_pem) {
        c->client_key_pem = dh_secret_new(cfg->client_key_pem->buf, cfg->client_key_pem->len);
    } else if (cfg->client_key_file) {
        _cleanup_wipe_ char *key = NULL;
        if (read_pem_file(cfg->client_key_file, true, &key, err) < 0)
            return dh_error_wrap(err, "cannot read the client key of user '%s'",
                                 cfg->user ? cfg->user : "");
        c->client_key_pem = dh_secret_from_str(key);
    }
    if (cfg->ca_file && !cfg->ca_pem && access(cfg->ca_file, R_OK) < 0)
        return dh_error_sys(err, errno,
                            "cannot read the certificate authority '%s' of cluster '%s'",
                            cfg->ca_file, cfg->cluster);
    if (cfg->exec)
        c->exec_key = exec_cache_key(cfg);
    *ret = TAKE_PTR(c);
    return 0;
}

int dh_kube_client_open(const char *context, long timeout_ms, struct dh_kube_client **ret,
                        struct dh_error **err)
{
    struct dh_kube_config *cfg = NULL;

    if (dh_kube_config_load(context, &cfg, err) < 0)
        return -1;
    return dh_kube_client_new(cfg, timeout_ms, ret, err);
}

/* The credentials for one attempt. */
struct creds {
    struct dh_kube_exec_cred *exec;
    struct dh_secret *auth_header; /* "Authorization: ..." or NULL */
};

static void creds_release(struct creds *k)
{
    dh_kube_exec_cred_free(k->exec);
    dh_secret_free(k->auth_header);
    k->exec = NULL;
    k->auth_header = NULL;
}

static int file_token(struct dh_kube_client *c, bool force, struct dh_error **err)
{
    struct dh_secret *t = NULL;
    long now = now_mono();

    if (c->file_token && !force && now - c->file_token_at < DH_KUBE_TOKEN_MAX_AGE_S)
        return 0;
    if (read_secret_file(c->cfg->token_file, &t, err) < 0)
        return dh_error_wrap(err, "cannot read the token of %s",
                             c->cfg->in_cluster ? "the service account" : "the kubeconfig user");
    dh_secret_free(c->file_token);
    c->file_token = t;
    c->file_token_at = now;
    return 0;
}

static struct dh_secret *bearer(const char *token)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(SIZE_MAX - 1);
    struct dh_secret *s;

    (void)dh_buf_printf(&b, NULL, "Authorization: Bearer %s", token);
    s = dh_secret_new(b.data, b.len);
    return s;
}

static int creds_get(struct dh_kube_client *c, bool refresh, struct creds *k, struct dh_error **err)
{
    const struct dh_kube_config *cfg = c->cfg;

    if (cfg->exec) {
        if (exec_cred_get(cfg, c->exec_key, refresh, &k->exec, err) < 0)
            return -1;
        if (k->exec->token)
            k->auth_header = bearer(k->exec->token->buf);
    } else if (cfg->token_file) {
        if (file_token(c, refresh, err) < 0)
            return -1;
        if (c->file_token->len)
            k->auth_header = bearer(c->file_token->buf);
    } else if (cfg->token) {
        k->auth_header = bearer(cfg->token->buf);
    } else if (cfg->username) {
        _cleanup_buf_ struct dh_buf up = DH_BUF_INIT_SECRET(SIZE_MAX - 1);
        _cleanup_buf_ struct dh_buf h = DH_BUF_INIT_SECRET(SIZE_MAX - 1);
        _cleanup_wipe_ char *b64 = NULL;

        (void)dh_buf_printf(&up, NULL, "%s:%s", cfg->username,
                            cfg->password ? cfg->password->buf : "");
        b64 = dh_base64_encode(up.data, up.len, false);
        (void)dh_buf_printf(&h, NULL, "Authorization: Basic %s", b64);
        k->auth_header = dh_secret_new(h.data, h.len);
    }
    return 0;
}

/* The token in use, to keep it out of messages. */
static const char *creds_token(const struct dh_kube_client *c, const struct creds *k)
{
    if (k->exec && k->exec->token)
        return k->exec->token->buf;
    if (c->cfg->token_file && c->file_token)
        return c->file_token->buf;
    if (c->cfg->token)
        return c->cfg->token->buf;
    if (c->cfg->password)
        return c->cfg->password->buf;
    return NULL;
}

/* A streamed answer (watch): the body goes to on_body, and the request may last timeout_ms. */
struct stream {
    dh_http_body_cb on_body;
    void *arg;
    long timeout_ms;
};

static int send_once(struct dh_kube_client *c, const struct creds *k, const char *method,
                     const char *url, const char *ctype_header, const char *body,
                     const struct stream *st, struct dh_http_response *resp, struct dh_error **err)
{
    const struct dh_kube_config *cfg = c->cfg;
    const char *headers[5];
    size_t nh = 0;
    struct dh_http_request req = {0};

    headers[nh++] = "Accept: application/json";
    if (ctype_header)
        headers[nh++] = ctype_header;
    if (k->auth_header)
        headers[nh++] = k->auth_header->buf;
    headers[nh] = NULL;

    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = c->timeout_ms;
    req.connect_timeout_ms = c->timeout_ms < DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS
                                     ? c->timeout_ms
                                     : DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    req.max_body = RESPONSE_MAX;
    req.secret_body = true; /* answers may hold Secret data */
    req.allow_http = strncmp(cfg->server, "http://", 7) == 0;
    req.insecure_skip_verify = cfg->insecure_skip_tls_verify;
    req.ca_pem = cfg->ca_pem;
    req.ca_file = cfg->ca_pem ? NULL : cfg->ca_file;
    if (k->exec && k->exec->client_cert_pem) {
        req.client_cert_pem = k->exec->client_cert_pem;
        req.client_key_pem = k->exec->client_key_pem->buf;
    } else if (c->client_cert_pem) {
        req.client_cert_pem = c->client_cert_pem;
        req.client_key_pem = c->client_key_pem->buf;
    }
    c->requests++;
    if (st) {
        req.on_body = st->on_body;
        req.on_body_arg = st->arg;
        req.timeout_ms = st->timeout_ms;
    }
    return dh_http_do(&req, resp, err);
}

int dh_kube_request(struct dh_kube_client *c, const char *method, const char *path,
                    const char *content_type, const json_t *body, json_t **ret_body,
                    long *ret_http_status, struct dh_error **err)
{
    _cleanup_free_ char *url = dh_xasprintf("%s%s", c->cfg->server, path);
    _cleanup_free_ char *ctype = NULL;
    _cleanup_wipe_ char *text = NULL;
    struct dh_http_response resp = {0};
    struct creds k = {0};
    long status = 0;
    int attempt, r = -1;

    if (ret_body)
        *ret_body = NULL;
    if (ret_http_status)
        *ret_http_status = 0;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return dh_error_make(err, EINVAL, "cannot encode the request body as JSON");
        ctype = dh_xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
    }
    for (attempt = 0; attempt < 2; attempt++) {
        _cleanup_error_ struct dh_error *e = NULL;
        _cleanup_free_ char *old_token = NULL;
        const char *tok;

        creds_release(&k);
        dh_http_response_release(&resp);
        memset(&resp, 0, sizeof(resp));
        if (creds_get(c, attempt > 0, &k, err) < 0)
            goto out;
        tok = creds_token(c, &k);
        dh_log_debug("kube: %s %s (cluster '%s')", method, path, c->cfg->cluster);
        if (send_once(c, &k, method, url, ctype, text, NULL, &resp, &e) < 0) {
            int st = e->status;

            dh_error_move(err, &e);
            if (st == ETIMEDOUT)
                dh_error_wrap(err, "cluster '%s' did not answer", c->cfg->cluster);
            else
                dh_error_wrap(err, "cannot reach cluster '%s'", c->cfg->cluster);
            goto out;
        }
        status = resp.status;
        if (status != 401 || attempt > 0)
            break;
        /* 401: retry once with fresh credentials, when they can change. */
        if (c->cfg->exec) {
            dh_log_debug("kube: 401 from cluster '%s', running the exec plugin again",
                         c->cfg->cluster);
            continue;
        }
        if (c->cfg->token_file) {
            old_token = tok ? dh_xstrdup(tok) : NULL;
            if (file_token(c, true, err) < 0) {
                dh_str_free_wipe(TAKE_PTR(old_token));
                goto out;
            }
            if (old_token && strcmp(old_token, c->file_token->buf) != 0) {
                dh_str_free_wipe(TAKE_PTR(old_token));
                continue;
            }
            dh_str_free_wipe(TAKE_PTR(old_token));
        }
        break;
    }
    if (ret_http_status)
        *ret_http_status = status;
    if (status >= 200 && status < 300) {
        json_error_t jerr;

        r = 0;
        if (resp.body.len && ret_body) {
            *ret_body = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
            if (!*ret_body)
                r = dh_error_make(err, EIO, "cluster '%s' answered with invalid JSON (line %d)",
                                  c->cfg->cluster, jerr.line);
        }
    } else if (status >= 300 && status < 400) {
        r = dh_error_make(err, EIO,
                          "cluster '%s' answered with a redirect (HTTP %ld); not followed",
                          c->cfg->cluster, status);
    } else {
        r = dh_kube_status_error(status, resp.body.data, resp.body.len, c->cfg->cluster,
                                 creds_token(c, &k), err);
    }
out:
    if (resp.body.data)
        dh_wipe(resp.body.data, resp.body.len);
    dh_http_response_release(&resp);
    creds_release(&k);
    return r;
}

int dh_kube_get(struct dh_kube_client *c, const char *path, json_t **ret, struct dh_error **err)
{
    return dh_kube_request(c, "GET", path, NULL, NULL, ret, NULL, err);
}

int dh_kube_post(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                 struct dh_error **err)
{
    return dh_kube_request(c, "POST", path, "application/json", body, ret, NULL, err);
}

int dh_kube_put(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                struct dh_error **err)
{
    return dh_kube_request(c, "PUT", path, "application/json", body, ret, NULL, err);
}

int dh_kube_patch(struct dh_kube_client *c, const char *path, const char *content_type,
                  const json_t *body, json_t **ret, struct dh_error **err)
{
    return dh_kube_request(c, "PATCH", path, content_type, body, ret, NULL, err);
}

int dh_kube_apply(struct dh_kube_client *c, const char *path, const char *field_manager,
                  const json_t *body, json_t **ret, struct dh_error **err)
{
    _cleanup_free_ char *fm = dh_kube_query_escape(field_manager);
    _cleanup_free_ char *p =
            dh_xasprintf("%s%cfieldManager=%s&force=true", path, strchr(path, '?') ? '&' : '?', fm);

    return dh_kube_request(c, "PATCH", p, "application/apply-patch+yaml", body, ret, NULL, err);
}

int dh_kube_delete(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                   struct dh_error **err)
{
    return dh_kube_request(c, "DELETE", path, "application/json", body, ret, NULL, err);
}

/* --- lists and watches ------------------------------------------------------------------------ */

#define MAX_PAGES 100000
#define ERROR_MAX (64 * 1024) /* bytes of a non-event answer kept for the error message */

int dh_kube_list(struct dh_kube_client *c, const char *path, size_t limit, json_t **ret_items,
                 char **ret_rv, struct dh_error **err)
{
    json_auto_t *items = json_array();
    _cleanup_free_ char *cont = NULL, *rv = NULL;
    size_t page;

    for (page = 0; page < MAX_PAGES; page++) {
        _cleanup_free_ char *p = NULL, *ce = cont ? dh_kube_query_escape(cont) : NULL;
        json_auto_t *doc = NULL;
        json_t *meta, *arr, *it;
        const char *next;
        size_t i;

        p = dh_xasprintf("%s%climit=%zu%s%s", path, strchr(path, '?') ? '&' : '?', limit,
                         ce ? "&continue=" : "", ce ? ce : "");
        if (dh_kube_get(c, p, &doc, err) < 0)
            return -1;
        arr = json_object_get(doc, "items");
        meta = json_object_get(doc, "metadata");
        if (!json_is_object(doc) || (arr && !json_is_array(arr) && !json_is_null(arr)) ||
            (meta && !json_is_object(meta)))
            return dh_error_make(err, EPROTO, "cluster '%s' answered a list with no items array",
                                 c->cfg->cluster);
        json_array_foreach (arr, i, it)
            if (json_array_append(items, it) < 0)
                return dh_error_make(err, ENOMEM, "out of memory");
        if (!rv) {
            const char *v = json_string_value(json_object_get(meta, "resourceVersion"));
            rv = dh_xstrdup(v ? v : "");
        }
        next = json_string_value(json_object_get(meta, "continue"));
        free(cont);
        cont = next && *next ? dh_xstrdup(next) : NULL;
        if (!cont)
            break;
    }
    if (cont)
        return dh_error_make(err, E2BIG, "cluster '%s' answered more than %d pages",
                             c->cfg->cluster, MAX_PAGES);
    *ret_items = TAKE_PTR(items);
    if (ret_rv)
        *ret_rv = TAKE_PTR(rv);
    return 0;
}

void dh_kube_lines_init(struct dh_kube_lines *l, size_t max)
{
    l->max = max ? max : DH_KUBE_LINE_MAX;
    dh_buf_init_secret(&l->partial, l->max);
}

void dh_kube_lines_release(struct dh_kube_lines *l)
{
    dh_buf_release(&l->partial);
}

static int line_done(const char *p, size_t n, dh_kube_line_cb cb, void *arg, struct dh_error **err)
{
    if (n && p[n - 1] == '\r')
        n--;
    return cb(arg, p, n, err);
}

int dh_kube_lines_feed(struct dh_kube_lines *l, const char *data, size_t len, dh_kube_line_cb cb,
                       void *arg, struct dh_error **err)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;

        if (l->partial.len + n > l->max)
            return dh_error_make(err, E2BIG, "a line of the stream is longer than %zu bytes",
                                 l->max);
        if (!nl)
            return dh_buf_append(&l->partial, data, n, err);
        if (l->partial.len) {
            if (dh_buf_append(&l->partial, data, n, err) < 0)
                return -1;
            if (line_done(l->partial.data, l->partial.len, cb, arg, err) < 0)
                return -1;
            dh_wipe(l->partial.data, l->partial.len);
            dh_buf_truncate(&l->partial, 0);
        } else if (line_done(data, n, cb, arg, err) < 0) {
            return -1;
        }
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

int dh_kube_lines_finish(struct dh_kube_lines *l, dh_kube_line_cb cb, void *arg,
                         struct dh_error **err)
{
    int r = 0;

    if (l->partial.len)
        r = line_done(l->partial.data, l->partial.len, cb, arg, err);
    if (l->partial.data)
        dh_wipe(l->partial.data, l->partial.len);
    dh_buf_truncate(&l->partial, 0);
    return r;
}

int dh_kube_watch_event_parse(const char *line, size_t len, enum dh_kube_event_type *ret_type,
                              json_t **ret_object, struct dh_error **err)
{
    static const struct {
        const char *name;
        enum dh_kube_event_type type;
    } types[] = {
            {"ADDED", DH_KUBE_ADDED},
            {"MODIFIED", DH_KUBE_MODIFIED},
            {"DELETED", DH_KUBE_DELETED},
            {"BOOKMARK", DH_KUBE_BOOKMARK},
    };
    json_auto_t *ev = NULL;
    const char *type;
    json_t *obj;
    size_t i;

    while (len && is_space(line[0]))
        line++, len--;
    while (len && is_space(line[len - 1]))
        len--;
    if (!len)
        return 1;
    ev = json_loadb(line, len, 0, NULL);
    type = json_string_value(json_object_get(ev, "type"));
    obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj))
        return dh_error_make(err, EPROTO, "malformed watch event");
    if (strcmp(type, "ERROR") == 0) {
        _cleanup_free_ char *s = json_dumps(obj, JSON_COMPACT);
        json_int_t code = json_integer_value(json_object_get(obj, "code"));

        if (code < 100 || code > 599)
            code = 500;
        return dh_kube_status_error((long)code, s, s ? strlen(s) : 0, "watch", NULL, err);
    }
    for (i = 0; i < DH_ARRAY_SIZE(types); i++) {
        if (strcmp(type, types[i].name) == 0) {
            *ret_type = types[i].type;
            *ret_object = json_incref(obj);
            return 0;
        }
    }
    return dh_error_make(err, EPROTO, "unknown watch event type");
}

struct watch_ctx {
    struct dh_kube_lines lines;
    struct dh_buf other; /* the start of a non-event answer (a Status), for the error */
    dh_kube_watch_cb cb;
    void *arg;
    bool failed; /* the callback or an ERROR event stopped the stream */
};

static int watch_line(void *arg, const char *line, size_t len, struct dh_error **err)
{
    struct watch_ctx *w = arg;
    enum dh_kube_event_type type;
    json_auto_t *obj = NULL;
    json_auto_t *probe = NULL;
    int r;

    /* A body that is not a stream of events (the Status of a 4xx) is kept for the error. */
    probe = json_loadb(line, len, 0, NULL);
    if (!json_is_object(probe) || !json_object_get(probe, "type")) {
        if (w->other.len < ERROR_MAX)
            (void)dh_buf_append(&w->other, line,
                                len < ERROR_MAX - w->other.len ? len : ERROR_MAX - w->other.len,
                                NULL);
        return 0;
    }
    r = dh_kube_watch_event_parse(line, len, &type, &obj, err);
    if (r < 0) {
        w->failed = true;
        return -1;
    }
    if (r > 0)
        return 0;
    if (w->cb(w->arg, type, obj, err) < 0) {
        w->failed = true;
        return -1;
    }
    return 0;
}

static int watch_body(void *arg, const char *data, size_t len, struct dh_error **err)
{
    struct watch_ctx *w = arg;

    return dh_kube_lines_feed(&w->lines, data, len, watch_line, w, err);
}

int dh_kube_watch(struct dh_kube_client *c, const char *path, long timeout_ms, dh_kube_watch_cb cb,
                  void *arg, struct dh_error **err)
{
    _cleanup_free_ char *url = dh_xasprintf("%s%s", c->cfg->server, path);
    struct watch_ctx w = {.cb = cb, .arg = arg};
    struct stream st = {.on_body = watch_body, .arg = &w, .timeout_ms = timeout_ms};
    struct dh_http_response resp = {0};
    struct creds k = {0};
    long status = 0;
    int attempt, r = -1;

    dh_buf_init_secret(&w.other, ERROR_MAX);
    dh_kube_lines_init(&w.lines, 0);
    for (attempt = 0; attempt < 2; attempt++) {
        _cleanup_error_ struct dh_error *e = NULL;

        creds_release(&k);
        dh_http_response_release(&resp);
        memset(&resp, 0, sizeof(resp));
        dh_buf_truncate(&w.other, 0);
        dh_buf_truncate(&w.lines.partial, 0);
        if (creds_get(c, attempt > 0, &k, err) < 0)
            goto out;
        dh_log_debug("kube: WATCH %s (cluster '%s')", path, c->cfg->cluster);
        if (send_once(c, &k, "GET", url, NULL, NULL, &st, &resp, &e) < 0) {
            int code = e->status;

            dh_error_move(err, &e);
            if (!w.failed) {
                if (code == ETIMEDOUT)
                    dh_error_wrap(err, "cluster '%s' did not answer", c->cfg->cluster);
                else
                    dh_error_wrap(err, "cannot reach cluster '%s'", c->cfg->cluster);
            }
            goto out;
        }
        status = resp.status;
        if (status != 401 || attempt > 0 || !(c->cfg->exec || c->cfg->token_file))
            break;
        dh_log_debug("kube: 401 from cluster '%s', refreshing the credentials", c->cfg->cluster);
    }
    if (status >= 200 && status < 300) {
        if (dh_kube_lines_finish(&w.lines, watch_line, &w, err) < 0)
            goto out;
        if (w.other.len)
            dh_log_debug("kube: the watch of cluster '%s' sent a line that is not an event",
                         c->cfg->cluster);
        r = 0;
    } else {
        (void)dh_kube_lines_finish(&w.lines, watch_line, &w, NULL);
        r = dh_kube_status_error(status, w.other.data, w.other.len, c->cfg->cluster,
                                 creds_token(c, &k), err);
    }
out:
    dh_http_response_release(&resp);
    creds_release(&k);
    dh_kube_lines_release(&w.lines);
    dh_buf_release(&w.other);
    return r;
}

/* --- names ------------------------------------------------------------------------------------ */

char *dh_kube_query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct dh_buf b = DH_BUF_INIT(SIZE_MAX - 1);
    size_t i;

    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            (void)dh_buf_append(&b, &s[i], 1, NULL);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            (void)dh_buf_append(&b, e, 3, NULL);
        }
    }
    return dh_buf_steal(&b, NULL);
}

static bool alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool label_valid(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 63 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
        return false;
    for (i = 0; i < n; i++)
        if (!alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool dh_kube_label_valid(const char *s)
{
    return s && label_valid(s, strlen(s));
}

bool dh_kube_subdomain_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *p, *dot;

    if (n == 0 || n > 253)
        return false;
    for (p = s;; p = dot + 1) {
        dot = strchr(p, '.');
        if (!label_valid(p, dot ? (size_t)(dot - p) : strlen(p)))
            return false;
        if (!dot)
            return true;
    }
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

char *dh_kube_registry_secret_name(const char *prefix, const char *key)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(SIZE_MAX - 1);
    const char *p = key, *auth_end, *host_end, *port = NULL;
    bool hash = false;
    size_t i, max = 63;

    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        hash = true;
    }
    auth_end = p + strcspn(p, "/");
    if (*auth_end)
        hash = true; /* a path */
    host_end = auth_end;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(auth_end - p));
        if (rb) {
            host_end = rb + 1;
            if (*host_end == ':')
                port = host_end + 1;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        if (colon) {
            host_end = colon;
            port = colon + 1;
        }
    }
    (void)dh_buf_puts(&b, prefix, NULL);
    for (; p < host_end; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!alnum_lower(c) && c != '.' && c != '-') {
            c = '-';
            hash = true;
        }
        (void)dh_buf_append(&b, &c, 1, NULL);
    }
    if (port && port < auth_end) {
        (void)dh_buf_puts(&b, "-", NULL);
        (void)dh_buf_append(&b, port, (size_t)(auth_end - port), NULL);
    }
    if (!dh_kube_subdomain_valid(b.data) || b.len > max) {
        /* Make it a run of labels joined by '-' and cut it. */
        _cleanup_buf_ struct dh_buf c = DH_BUF_INIT(SIZE_MAX - 1);

        hash = true;
        for (i = 0; i < b.len; i++) {
            char ch = b.data[i];

            if (!alnum_lower(ch))
                ch = ch == '.' && i + 1 < b.len && alnum_lower(b.data[i + 1]) && c.len &&
                                     alnum_lower(c.data[c.len - 1])
                             ? '.'
                             : '-';
            if (ch == '-' && c.len && c.data[c.len - 1] == '-')
                continue;
            (void)dh_buf_append(&c, &ch, 1, NULL);
        }
        dh_buf_release(&b);
        (void)dh_buf_append(&b, c.data ? c.data : "", c.len, NULL);
    }
    if (hash) {
        char suffix[16];

        (void)snprintf(suffix, sizeof(suffix), "-%010llx",
                       (unsigned long long)(fnv1a64(key) & 0xffffffffffULL));
        if (b.len > max - strlen(suffix))
            dh_buf_truncate(&b, max - strlen(suffix));
        while (b.len && !alnum_lower(b.data[b.len - 1]))
            dh_buf_truncate(&b, b.len - 1);
        while (b.len && !alnum_lower(b.data[0])) {
            memmove(b.data, b.data + 1, b.len);
            b.len--;
        }
        (void)dh_buf_puts(&b, b.len ? suffix : suffix + 1, NULL);
    }
    return dh_buf_steal(&b, NULL);
}

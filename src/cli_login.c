/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand login [REGISTRY] -u USER --password-stdin [--insecure] [--no-configure]
 * dockhand logout [REGISTRY]
 *
 * login checks the credentials against the registry itself (registry.c: GET
 * /v2/, Basic or the token endpoint), stores them in the store the routes pick
 * for the registry, and points docker's config.json at dockhand for it
 * (credHelpers), dropping inline `auths` credentials it supersedes.  logout
 * erases the stored credentials and every `auths` entry of the registry.
 * No docker daemon is involved.  Rules and messages: docs/login.md.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/mem.h"
#include "dockhand/registry.h"
#include "dockhand/regurl.h"
#include "dockhand/store.h"
#include "dockhand/tokens.h"

#define PASSWORD_MAX ((size_t)64 << 10)
#define HELPER_NAME  "dockhand"

#define LOGIN_USAGE \
    "usage: dockhand login [REGISTRY] -u USER --password-stdin [--insecure] [--no-configure]"
#define LOGOUT_USAGE "usage: dockhand logout [REGISTRY]"

static int refuse_password_arg(struct dh_error **err)
{
    return dh_error_make(err, EINVAL,
                         "refusing a password on the command line (every user of this machine "
                         "can read argv); pipe it to --password-stdin");
}

/* -p, -pX, --password, --password=X (the value is never echoed). */
static bool is_password_arg(const char *a)
{
    return !strncmp(a, "-p", 2) || !strcmp(a, "--password") || !strncmp(a, "--password=", 11);
}

/* Reads the password from stdin: capped, docker's trimming (one "\n", then one "\r"). */
static int read_password(struct dh_buf *pw, struct dh_error **err)
{
    if (dh_buf_read_fd(pw, STDIN_FILENO, err) < 0) {
        if ((*err)->status == E2BIG) {
            dh_error_free(err);
            return dh_error_make(err, E2BIG, "the password on stdin is longer than %zu bytes",
                                 PASSWORD_MAX);
        }
        return dh_error_wrap(err, "cannot read the password from stdin");
    }
    if (pw->len && pw->data[pw->len - 1] == '\n')
        dh_buf_truncate(pw, pw->len - 1);
    if (pw->len && pw->data[pw->len - 1] == '\r')
        dh_buf_truncate(pw, pw->len - 1);
    if (pw->len == 0)
        return dh_error_make(err, EINVAL, "the password on stdin is empty");
    if (memchr(pw->data, '\0', pw->len))
        return dh_error_make(err, EINVAL, "the password on stdin holds a NUL byte");
    return 0;
}

static bool json_str_is(json_t *j, const char *s)
{
    return json_is_string(j) && !strcmp(json_string_value(j), s);
}

/* Points config.json at dockhand for key and drops inline credentials of the
   registry that dockhand now holds. */
static int configure_docker(const char *key, struct dh_error **err)
{
    _cleanup_dockerconfig_ struct dh_dockerconfig *dc = NULL;
    _cleanup_free_ char *host = dh_dockerconfig_hostname(key);
    json_t *root, *helpers, *auths;
    const char *path;

    if (dh_dockerconfig_open(NULL, DH_DOCKERCONFIG_LOCK | DH_DOCKERCONFIG_CREATE, &dc, err) < 0)
        return -1;
    path = dh_dockerconfig_path(dc);
    root = dh_dockerconfig_root(dc);
    helpers = json_object_get(root, "credHelpers");
    if (helpers && !json_is_object(helpers))
        return dh_error_make(err, EINVAL, "%s: 'credHelpers' is not an object", path);
    if (!json_str_is(json_object_get(root, "credsStore"), HELPER_NAME) &&
        !json_str_is(helpers ? json_object_get(helpers, key) : NULL, HELPER_NAME)) {
        if (!helpers) {
            helpers = json_object();
            json_object_set_new(root, "credHelpers", helpers);
        }
        json_object_set_new(helpers, key, json_string(HELPER_NAME));
        fprintf(stderr, "Configured credHelpers[\"%s\"] = \"%s\" in %s\n", key, HELPER_NAME, path);
    }
    auths = dh_dockerconfig_auths(dc, false);
    if (auths && !dh_dockerconfig_is_legacy(dc)) {
        const char *k;
        json_t *entry, *tmp;

        json_object_foreach_safe (auths, tmp, k, entry) {
            _cleanup_free_ char *h = dh_dockerconfig_hostname(k);
            _cleanup_error_ struct dh_error *e = NULL;
            char *u = NULL, *p = NULL;
            int r;

            if (strcmp(h, host) != 0)
                continue;
            r = dh_dockerconfig_entry_creds(entry, &u, &p, &e);
            free(u);
            dh_str_free_wipe(p);
            if (r == 0)
                continue;
            /* r == 1 (credentials) or -1 (a damaged "auth": superseded just the same) */
            fprintf(stderr,
                    "Removed the inline credentials of \"%s\" from %s (dockhand holds them now)\n",
                    k, path);
            json_object_del(auths, k);
        }
    }
    return dh_dockerconfig_save(dc, NULL, err);
}

int dh_cmd_login(int argc, char **argv, struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *store = NULL;
    _cleanup_registry_ struct dh_registry *reg = NULL;
    _cleanup_buf_ struct dh_buf pw = DH_BUF_INIT_SECRET(PASSWORD_MAX);
    _cleanup_free_ char *key = NULL;
    _cleanup_cred_ struct dh_cred *cred = NULL;
    const char *registry = NULL, *user = NULL;
    bool password_stdin = false, insecure = false, configure = true, only_args = false;
    enum dh_registry_auth auth;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (only_args || a[0] != '-' || !a[1]) {
            if (registry)
                return dh_error_make(err, EINVAL, "too many arguments; " LOGIN_USAGE);
            registry = a;
        } else if (!strcmp(a, "--")) {
            only_args = true;
        } else if (is_password_arg(a)) {
            return refuse_password_arg(err);
        } else if (!strcmp(a, "-u") || !strcmp(a, "--username")) {
            if (++i == argc)
                return dh_error_make(err, EINVAL, "%s needs a user name; " LOGIN_USAGE, a);
            user = argv[i];
        } else if (!strncmp(a, "--username=", 11)) {
            user = a + 11;
        } else if (!strncmp(a, "-u", 2)) {
            user = a + 2;
        } else if (!strcmp(a, "--password-stdin")) {
            password_stdin = true;
        } else if (!strcmp(a, "--insecure")) {
            insecure = true;
        } else if (!strcmp(a, "--no-configure")) {
            configure = false;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", LOGIN_USAGE);
            return 0;
        } else {
            return dh_error_make(err, EINVAL, "unknown option '%s'; " LOGIN_USAGE, a);
        }
    }
    if (!user || !*user)
        return dh_error_make(err, EINVAL,
                             "a user name is needed (-u USER); dockhand login never prompts");
    if (!password_stdin)
        return dh_error_make(err, EINVAL,
                             "the password must come from stdin: add --password-stdin");
    if (dh_config_load(&cfg, err) < 0)
        return -1;
    if (dh_tokens_is_minted(cfg, registry))
        return dh_error_make(err, EINVAL,
                             "'%s' is a registry dockhand mints tokens for (ECR, GCR, Artifact "
                             "Registry): no login is needed; point docker at dockhand for it "
                             "(credHelpers) and see 'dockhand token %s'",
                             registry, registry);
    if (dh_registry_new(registry, insecure ? DH_REGISTRY_INSECURE : 0, &reg, err) < 0)
        return -1;
    if (read_password(&pw, err) < 0)
        return -1;
    dh_registry_set_credentials(reg, user, pw.data);
    if (dh_registry_login_check(reg, &auth, err) < 0) {
        if (!insecure && (*err)->status == EPROTO && strstr((*err)->msg, "TLS error")) {
            _cleanup_error_ struct dh_error *e = NULL;

            dh_error_move(&e, err);
            dh_error_make(err, EPROTO,
                          "%s (a plain http registry needs --insecure; a private CA goes in "
                          "SSL_CERT_FILE or in docker's certs.d/%s/ca.crt)",
                          e->msg, dh_registry_host(reg));
        }
        return dh_error_wrap(err, "login to '%s' failed", dh_registry_host(reg));
    }
    if (auth == DH_REGISTRY_AUTH_NONE)
        fprintf(stderr, "WARNING! registry '%s' did not ask for credentials; storing them anyway\n",
                dh_registry_host(reg));

    key = dh_dockerconfig_key_for(registry && *registry ? registry : "docker.io");
    cred = dh_cred_new(key, user, pw.data);
    if (dh_store_open_for_call(cfg, &store, err) < 0)
        return -1;
    if (store->ops->store(store, cred, err) < 0)
        return dh_error_wrap(err, "cannot store the credentials for '%s'", key);
    if (configure && configure_docker(key, err) < 0)
        return dh_error_wrap(err, "credentials stored, but cannot point docker at dockhand");
    printf("Login Succeeded\n");
    return 0;
}

int dh_cmd_logout(int argc, char **argv, struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *store = NULL;
    _cleanup_dockerconfig_ struct dh_dockerconfig *dc = NULL;
    _cleanup_cred_ struct dh_cred *held = NULL;
    _cleanup_error_ struct dh_error *open_err = NULL;
    _cleanup_free_ char *key = NULL, *host = NULL;
    const char *registry = NULL;
    bool found = false;
    json_t *auths;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s\n", LOGOUT_USAGE);
            return 0;
        }
        if ((argv[i][0] == '-' && argv[i][1]) || registry)
            return dh_error_make(err, EINVAL, "unexpected argument '%s'; " LOGOUT_USAGE, argv[i]);
        registry = argv[i];
    }
    if (registry && *registry) {
        _cleanup_regurl_ struct dh_regurl u = {0};

        if (dh_regurl_parse(registry, &u, err) < 0)
            return dh_error_wrap(err, "invalid registry");
    }
    key = dh_dockerconfig_key_for(registry && *registry ? registry : "docker.io");
    host = dh_dockerconfig_hostname(key);
    if (dh_config_load(&cfg, err) < 0)
        return -1;
    if (dh_store_open_for_call(cfg, &store, err) < 0)
        return -1;
    if (store->ops->get(store, key, &held, err) < 0)
        return dh_error_wrap(err, "cannot read the credentials for '%s'", key);

    /* config.json: every auths entry of the registry, under the lock */
    if (dh_dockerconfig_open(NULL, DH_DOCKERCONFIG_LOCK, &dc, &open_err) < 0) {
        if (open_err->status != ENOENT) {
            dh_error_move(err, &open_err);
            return -1;
        }
    }
    auths = dc ? dh_dockerconfig_auths(dc, false) : NULL;
    if (auths) {
        const char *k;
        json_t *entry, *tmp;

        json_object_foreach_safe (auths, tmp, k, entry) {
            _cleanup_free_ char *h = dh_dockerconfig_hostname(k);

            (void)entry;
            if (!strcmp(h, host)) {
                json_object_del(auths, k);
                found = true;
            }
        }
    }
    if (!held && !found) {
        printf("Not logged in to %s\n", key);
        return 0;
    }
    printf("Removing login credentials for %s\n", key);
    if (held && store->ops->erase(store, key, err) < 0)
        return dh_error_wrap(err, "cannot erase the credentials for '%s'", key);
    if (found && dh_dockerconfig_save(dc, NULL, err) < 0)
        return -1;
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand secret generate NAME [-n NAMESPACE] --registry R [--registry R2 ...]
 *                          [--email E] [-o yaml|json]
 * dockhand secret generate NAME [-n NAMESPACE] --from-docker-config FILE [--email E] [-o ...]
 * dockhand secret sync ...            (src/cli_secret_sync.c)
 *
 * Prints a kubernetes.io/dockerconfigjson Secret on stdout (docs/pull-secrets.md).
 * Credentials are resolved as the helper's get resolves them (src/resolve.c),
 * or, with --from-docker-config, as docker reads a config.json (inline auths,
 * credHelpers, credsStore).  Nothing secret goes to stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/helperexec.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/pullsecret.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"
#include "dockhand/yaml.h"

static const char usage_secret[] =
        "usage: dockhand secret generate NAME [-n NAMESPACE] --registry REGISTRY [--registry ...]\n"
        "                                [--email EMAIL] [-o yaml|json]\n"
        "       dockhand secret generate NAME [-n NAMESPACE] --from-docker-config FILE\n"
        "                                [--email EMAIL] [-o yaml|json]\n"
        "       dockhand secret sync ...   (see 'dockhand secret sync --help')\n"
        "\n"
        "generate prints a kubernetes.io/dockerconfigjson Secret on stdout, the same\n"
        "payload as 'kubectl create secret docker-registry', with the credentials\n"
        "docker-credential-dockhand's get returns for each registry (stores, routes,\n"
        "minted ECR/GCR tokens), or those of a docker config.json (inline auths,\n"
        "credHelpers, credsStore).\n"
        "\n"
        "  -n, --namespace NS          metadata.namespace (omitted when not given)\n"
        "  --registry REGISTRY         a registry, as the key under \"auths\"; repeatable\n"
        "  --from-docker-config FILE   every registry of a docker config.json (- = stdin)\n"
        "  --email EMAIL               the optional email field of every entry\n"
        "  -o, --output yaml|json      output format (default yaml)\n";

struct gen_opts {
    const char *name;
    const char *ns;
    const char *email;
    const char *output;
    const char *from;
    const char **registries;
    size_t n_registries;
};

static int parse_generate(int argc, char **argv, struct gen_opts *o, bool *ret_help,
                          struct dh_error **err)
{
    bool only_args = false;
    int i, r;

    *ret_help = false;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;

        if (only_args || a[0] != '-' || !a[1]) {
            if (o->name)
                return dh_error_make(err, EINVAL,
                                     "more than one NAME given; see 'dockhand secret --help'");
            o->name = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *ret_help = true;
            return 0;
        }
        if ((r = dh_cli_opt_value(argc, argv, &i, "-n", "--namespace", &v, err)) != 0) {
            if (r < 0)
                return -1;
            o->ns = v;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, "-o", "--output", &v, err)) != 0) {
            if (r < 0)
                return -1;
            o->output = v;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, NULL, "--email", &v, err)) != 0) {
            if (r < 0)
                return -1;
            o->email = v;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, NULL, "--from-docker-config", &v, err)) !=
                   0) {
            if (r < 0)
                return -1;
            o->from = v;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, NULL, "--registry", &v, err)) != 0) {
            if (r < 0)
                return -1;
            o->registries =
                    dh_xrealloc(o->registries, (o->n_registries + 1) * sizeof(*o->registries));
            o->registries[o->n_registries++] = v;
        } else {
            _cleanup_free_ char *shown = dh_yaml_printable(a, strlen(a));

            return dh_error_make(err, EINVAL, "unknown option '%s'; see 'dockhand secret --help'",
                                 shown);
        }
    }
    if (!o->name)
        return dh_error_make(err, EINVAL, "no NAME given; see 'dockhand secret --help'");
    if (!o->output)
        o->output = "yaml";
    if (strcmp(o->output, "yaml") != 0 && strcmp(o->output, "json") != 0) {
        _cleanup_free_ char *shown = dh_yaml_printable(o->output, strlen(o->output));

        return dh_error_make(err, EINVAL, "unsupported output format '%s' (yaml or json)", shown);
    }
    if (o->from && o->n_registries)
        return dh_error_make(err, EINVAL, "--registry and --from-docker-config cannot be combined");
    if (!o->from && !o->n_registries)
        return dh_error_make(err, EINVAL,
                             "no registry given: use --registry or --from-docker-config");
    return 0;
}

/* --- --from-docker-config ------------------------------------------------------------------- */

struct from_ctx {
    const struct dh_config *cfg;
    const char *file;
    struct dh_store *store; /* dockhand's own, opened for the first "dockhand" helper */
    struct dh_pullsecret *p;
};

/* The helper docker would ask for key: credHelpers[key], else
   credHelpers[hostname(key)], else credsStore; NULL when none. */
static const char *helper_for(json_t *helpers, const char *store, const char *key)
{
    const char *h = json_string_value(json_object_get(helpers, key));
    _cleanup_free_ char *host = NULL;

    if (h && *h)
        return h;
    host = dh_dockerconfig_hostname(key);
    h = json_string_value(json_object_get(helpers, host));
    if (h && *h)
        return h;
    return store && *store ? store : NULL;
}

/* Asks helper for key.  Returns 1 with credentials, 0 when it has none, -1 on error. */
static int ask_helper(struct from_ctx *c, const char *helper, const char *key, char **ret_user,
                      char **ret_pass, int64_t *ret_expires_at, struct dh_error **err)
{
    _cleanup_cred_ struct dh_cred *cred = NULL;
    int r;

    *ret_expires_at = 0;
    if (strcmp(helper, "dockhand") != 0)
        return dh_helperexec_get(helper, key, ret_user, ret_pass, err);
    /* dockhand itself: resolved in process, exactly as its get would. */
    if (!c->store && dh_store_open_for_call(c->cfg, &c->store, err) < 0)
        return -1;
    r = dh_resolve_cred(c->cfg, c->store, key, &cred, ret_expires_at, err);
    if (r <= 0)
        return r;
    *ret_user = TAKE_PTR(cred->username);
    *ret_pass = TAKE_PTR(cred->secret);
    return 1;
}

/* Adds the credentials for key (entry may be NULL: a credHelpers host with no
   auths entry).  Identity tokens are skipped with a warning: the kubelet reads
   only username/password/auth. */
static int add_registry(struct from_ctx *c, const char *key, json_t *entry, const char *helper,
                        struct dh_error **err)
{
    _cleanup_free_ char *shown = dh_yaml_printable(key, strlen(key));
    _cleanup_free_ char *by = NULL; /* "docker-credential-NAME", or "dockhand" */
    char *user = NULL, *pass = NULL;
    const char *email = json_string_value(json_object_get(entry, "email"));
    int64_t expires_at = 0;
    int r = 0;

    if (helper) {
        _cleanup_free_ char *h = dh_yaml_printable(helper, strlen(helper));

        by = dh_xasprintf("%s%s", strcmp(helper, "dockhand") ? "docker-credential-" : "", h);
        r = ask_helper(c, helper, key, &user, &pass, &expires_at, err);
        if (r < 0)
            return dh_error_wrap(err, "%s: cannot get the credentials for '%s' from %s", c->file,
                                 shown, by);
        if (r == 1 && !strcmp(user, "<token>")) {
            dh_log_warn("%s: skipping '%s': %s holds an identity token for it, which the kubelet "
                        "cannot use",
                        c->file, shown, by);
            free(user);
            dh_str_free_wipe(pass);
            return 0;
        }
    }
    /* No helper, or the helper has nothing: the entry's own auth/username/password. */
    if (r == 0 && entry && dh_dockerconfig_entry_creds(entry, &user, &pass, err) < 0)
        return dh_error_wrap(err, "%s: the entry for '%s'", c->file, shown);
    if (!user) {
        const char *idt = json_string_value(json_object_get(entry, "identitytoken"));

        if (idt && *idt) {
            dh_log_warn("%s: skipping '%s': it holds an identity token, which the kubelet cannot "
                        "use",
                        c->file, shown);
            return 0;
        }
        if (!entry) {
            dh_log_warn("%s: skipping '%s': %s has no credentials for it", c->file, shown, by);
            return 0;
        }
        if (by)
            return dh_error_make(err, ENOENT, "%s: no credentials for '%s' (%s has none)", c->file,
                                 shown, by);
        return dh_error_make(err, ENOENT, "%s: no credentials for '%s'", c->file, shown);
    }
    dh_pullsecret_add(c->p, key, user, pass, email, expires_at);
    dh_str_free_wipe(user);
    dh_str_free_wipe(pass);
    return 0;
}

static bool has_auths_host(json_t *auths, const char *key)
{
    _cleanup_free_ char *host = dh_dockerconfig_hostname(key);
    const char *k;
    json_t *v;

    json_object_foreach (auths, k, v) {
        _cleanup_free_ char *h = dh_dockerconfig_hostname(k);

        (void)v;
        if (!strcmp(h, host))
            return true;
    }
    return false;
}

static int from_docker_config(const struct dh_config *cfg, const char *file,
                              struct dh_pullsecret *p, struct dh_error **err)
{
    _cleanup_dockerconfig_ struct dh_dockerconfig *dc = NULL;
    struct from_ctx c = {.cfg = cfg, .file = file, .p = p};
    json_t *root, *auths, *helpers, *v;
    const char *store = NULL, *k;
    int r = -1;

    if (!strcmp(file, "-")) {
        /* A decoded .dockerconfigjson piped in, e.g. from kubectl get secret. */
        _cleanup_buf_ struct dh_buf in = DH_BUF_INIT_SECRET(DH_PULLSECRET_MAX * 4);

        c.file = file = "<stdin>";
        if (dh_buf_read_fd(&in, STDIN_FILENO, err) < 0)
            return dh_error_wrap(err, "cannot read the docker config from stdin");
        if (dh_dockerconfig_parse(file, in.data ? in.data : "", in.len, &dc, err) < 0)
            return -1;
    } else if (dh_dockerconfig_open(file, 0, &dc, err) < 0) {
        return -1;
    }
    root = dh_dockerconfig_root(dc);
    auths = dh_dockerconfig_auths(dc, false);
    if (!auths && json_object_get(root, "auths"))
        return dh_error_make(err, EINVAL, "%s: \"auths\" is not an object", file);
    helpers = json_object_get(root, "credHelpers");
    if (helpers && !json_is_object(helpers))
        return dh_error_make(err, EINVAL, "%s: \"credHelpers\" is not an object", file);
    if (json_object_get(root, "credsStore")) {
        store = json_string_value(json_object_get(root, "credsStore"));
        if (!store)
            return dh_error_make(err, EINVAL, "%s: \"credsStore\" is not a string", file);
    }
    json_object_foreach (auths, k, v) {
        _cleanup_free_ char *shown = dh_yaml_printable(k, strlen(k));

        if (!json_is_object(v)) {
            dh_error_make(err, EINVAL, "%s: the entry for '%s' is not an object", file, shown);
            goto out;
        }
        if (add_registry(&c, k, v, helper_for(helpers, store, k), err) < 0)
            goto out;
    }
    json_object_foreach (helpers, k, v) {
        if (!json_is_string(v) || !*json_string_value(v)) {
            _cleanup_free_ char *shown = dh_yaml_printable(k, strlen(k));

            dh_error_make(err, EINVAL, "%s: credHelpers['%s'] is not a helper name", file, shown);
            goto out;
        }
        if (auths && has_auths_host(auths, k))
            continue;
        if (add_registry(&c, k, NULL, json_string_value(v), err) < 0)
            goto out;
    }
    if (p->n_entries == 0) {
        dh_error_make(err, ENOENT, "%s: no registry with credentials", file);
        goto out;
    }
    r = 0;
out:
    dh_store_close(c.store);
    return r;
}

/* --- output --------------------------------------------------------------------------------- */

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return dh_buf_append(data, buffer, size, NULL) < 0 ? -1 : 0;
}

static int write_all(int fd, const char *data, size_t len, struct dh_error **err)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dh_error_sys(err, errno, "cannot write to stdout");
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int cmd_generate(int argc, char **argv, struct dh_error **err)
{
    _cleanup_free_ const char **registries = NULL;
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_pullsecret_ struct dh_pullsecret p = {0};
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(4 * DH_PULLSECRET_MAX);
    struct gen_opts o = {0};
    json_auto_t *obj = NULL;
    bool help;
    int r;

    r = parse_generate(argc, argv, &o, &help, err);
    registries = o.registries;
    if (r < 0)
        return -1;
    if (help) {
        fputs(usage_secret, stdout);
        return 0;
    }
    /* Names first: no token is minted for a Secret that cannot be made. */
    if (dh_pullsecret_check_name(o.name, err) < 0 ||
        (o.ns && dh_pullsecret_check_namespace(o.ns, err) < 0))
        return -1;
    if (dh_config_load(&cfg, err) < 0)
        return -1;
    if (o.from) {
        if (from_docker_config(cfg, o.from, &p, err) < 0)
            return -1;
    } else if (dh_pullsecret_resolve(cfg, o.registries, o.n_registries, &p, err) < 0) {
        return -1;
    }
    if (o.email)
        dh_pullsecret_set_email(&p, o.email);
    if (dh_pullsecret_object(&p, o.name, o.ns, &obj, err) < 0)
        return -1;
    dh_pullsecret_release(&p);
    if (!strcmp(o.output, "json")) {
        if (json_dump_callback(obj, dump_cb, &out, JSON_INDENT(4)) < 0 ||
            dh_buf_puts(&out, "\n", err) < 0)
            return dh_error_make(err, E2BIG, "the Secret is too large");
    } else if (dh_yaml_emit_json(obj, DH_YAML_EMIT_SORT_KEYS, &out, err) < 0) {
        return -1;
    }
    json_decref(TAKE_PTR(obj));
    fflush(stdout);
    return write_all(STDOUT_FILENO, out.data, out.len, err);
}

int dh_cmd_secret(int argc, char **argv, struct dh_error **err)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        fputs(usage_secret, stdout);
        return 0;
    }
    if (!strcmp(sub, "generate"))
        return cmd_generate(argc - 1, argv + 1, err);
    if (!strcmp(sub, "sync"))
        return dh_cmd_secret_sync(argc - 1, argv + 1, err);
    {
        _cleanup_free_ char *shown = dh_yaml_printable(sub, strlen(sub));

        return dh_error_make(err, EINVAL,
                             "unknown command 'secret %s'; see 'dockhand secret --help'", shown);
    }
}

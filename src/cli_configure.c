/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand configure-docker: points docker's config.json at dockhand, per
 * registry (credHelpers) or for everything (credsStore), and undoes it.
 * See docs/configure-docker.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/ecr.h"
#include "dockhand/fsutil.h"
#include "dockhand/helperexec.h"
#include "dockhand/mem.h"
#include "dockhand/xdg.h"

#define HELPER_NAME "dockhand"
/* docker build runs `get` of every credHelpers entry (GetAllCredentials): past
   this many, say so, as docker-credential-gcr does. */
#define MANY_HELPERS 10

static const char *const gcr_hosts[] = {"gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io",
                                        "marketplace.gcr.io"};

static const char usage[] =
        "usage: dockhand configure-docker [--registries A,B] [--ecr ACCOUNT:REGION|public]... "
        "[--gcr] [--artifact-registry REGION[,REGION]] [--store] [--undo] [--dry-run] "
        "[--file PATH]";

struct selection {
    char **regs; /* credHelpers keys */
    size_t n;
    bool store; /* credsStore */
};

static void selection_release(struct selection *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->regs[i]);
    free(s->regs);
}

static void add_reg(struct selection *s, const char *registry)
{
    char *key = dh_dockerconfig_key_for(registry);
    size_t i;

    for (i = 0; i < s->n; i++)
        if (!strcmp(s->regs[i], key)) {
            free(key);
            return;
        }
    s->regs = dh_xrealloc(s->regs, (s->n + 1) * sizeof(*s->regs));
    s->regs[s->n++] = key;
}

static bool valid_host(const char *h)
{
    size_t i;

    if (!*h || strlen(h) > 255)
        return false;
    for (i = 0; h[i]; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
              (h[i] >= '0' && h[i] <= '9') || strchr(".-:[]", h[i])))
            return false;
    return true;
}

/* Adds each element of a comma-separated list (white space trimmed). */
static int add_csv(struct selection *s, const char *csv, const char *suffix, struct dh_error **err)
{
    _cleanup_free_ char *copy = dh_xstrdup(csv);
    char *save = NULL, *tok;

    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        _cleanup_free_ char *reg = NULL;
        _cleanup_free_ char *host = NULL;
        char *end;

        while (*tok == ' ' || *tok == '\t')
            tok++;
        end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (!*tok)
            continue;
        reg = dh_xasprintf("%s%s", tok, suffix);
        host = dh_dockerconfig_hostname(reg);
        if (!valid_host(host))
            return dh_error_make(err, EINVAL, "'%s' is not a registry host name", tok);
        add_reg(s, reg);
    }
    return 0;
}

/* AWS region names: "us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1". */
static bool valid_region(const char *r)
{
    size_t i, dashes = 0, n = strlen(r);

    if (n < 4 || n > 30 || r[n - 1] < '0' || r[n - 1] > '9' || r[0] == '-')
        return false;
    for (i = 0; i < n; i++) {
        if (r[i] == '-') {
            if (r[i + 1] == '-')
                return false;
            dashes++;
        } else if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9'))) {
            return false;
        }
    }
    return dashes >= 2;
}

static int add_ecr(struct selection *s, const char *arg, struct dh_error **err)
{
    struct dh_ecr_registry r = {0}, check = {0};
    _cleanup_free_ char *account = NULL;
    _cleanup_free_ char *host = NULL;
    const char *colon = strchr(arg, ':');
    size_t i;

    if (!strcmp(arg, "public")) {
        add_reg(s, "public.ecr.aws");
        return 0;
    }
    if (!colon || colon - arg != 12)
        return dh_error_make(err, EINVAL,
                             "--ecr wants ACCOUNT:REGION (a 12-digit account ID), "
                             "or 'public'");
    for (i = 0; i < 12; i++)
        if (arg[i] < '0' || arg[i] > '9')
            return dh_error_make(err, EINVAL,
                                 "--ecr wants ACCOUNT:REGION (a 12-digit account "
                                 "ID), or 'public'");
    if (!valid_region(colon + 1))
        return dh_error_make(err, EINVAL, "'%s' is not an AWS region", colon + 1);
    account = dh_xstrndup(arg, 12);
    dh_ecr_registry_init(&r, account, colon + 1);
    host = dh_xasprintf("%s.dkr.ecr.%s.%s", account, colon + 1, r.dns_suffix);
    dh_ecr_registry_release(&r);
    if (dh_ecr_parse_host(host, &check) < 0)
        return dh_error_make(err, EINVAL, "'%s' is not an AWS region", colon + 1);
    dh_ecr_registry_release(&check);
    add_reg(s, host);
    return 0;
}

/* No selection given: the registries named literally in dockhand's config. */
static int add_from_config(struct selection *s, struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    size_t i;

    if (dh_config_load(&cfg, err) < 0)
        return -1;
    for (i = 0; i < cfg->n_routes; i++)
        if (!strchr(cfg->routes[i].registry, '*'))
            add_reg(s, cfg->routes[i].registry);
    for (i = 0; i < cfg->n_ecr; i++)
        if (!strchr(cfg->ecr[i].registry, '*'))
            add_reg(s, cfg->ecr[i].registry);
    for (i = 0; i < cfg->n_gcr_registries; i++)
        add_reg(s, cfg->gcr_registries[i]);
    return 0;
}

/* What configure-docker replaced, so --undo can put it back:
   $XDG_DATA_HOME/dockhand/configure-docker.json,
   {"<config.json path>": {"credHelpers": {key: previous or null}, "credsStore": previous or
   null}}.  It holds helper names only, no credential. */
static char *record_path(struct dh_error **err)
{
    _cleanup_free_ char *dir = NULL;

    if (dh_xdg_dir(DH_XDG_DATA, &dir, err) < 0)
        return NULL;
    return dh_xasprintf("%s/configure-docker.json", dir);
}

static json_t *record_load(const char *path)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(4 << 20);
    json_t *j;

    if (dh_read_file(path, &b, NULL) < 0)
        return json_object();
    j = json_loadb(b.data, b.len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return json_object();
    }
    return j;
}

static int record_save(const char *path, json_t *rec, struct dh_error **err)
{
    _cleanup_free_ char *dir = dh_dirname(path);
    _cleanup_free_ char *data = json_dumps(rec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (!data)
        return dh_error_make(err, ENOMEM, "cannot encode '%s'", path);
    if (dh_mkdir_p(dir, 0700, err) < 0)
        return -1;
    return dh_write_file_atomic(path, data, strlen(data), 0600, false, err);
}

/* Remembers the value key had before we set it (first time only). */
static void remember(json_t *rec, const char *field, const char *key, json_t *prev)
{
    json_t *m;

    if (!key) {
        if (!json_object_get(rec, field))
            json_object_set_new(rec, field, prev ? json_deep_copy(prev) : json_null());
        return;
    }
    m = json_object_get(rec, field);
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(rec, field, m);
    }
    if (!json_object_get(m, key))
        json_object_set_new(m, key, prev ? json_deep_copy(prev) : json_null());
}

static bool is_ours(json_t *v)
{
    return json_is_string(v) && !strcmp(json_string_value(v), HELPER_NAME);
}

static void configure(json_t *root, const struct selection *sel, json_t *rec, int *changes)
{
    json_t *helpers = json_object_get(root, "credHelpers");
    json_t *prev;
    size_t i;

    if (sel->store) {
        prev = json_object_get(root, "credsStore");
        if (is_ours(prev)) {
            printf("credsStore: already %s\n", HELPER_NAME);
        } else {
            if (json_is_string(prev))
                printf("credsStore: %s -> %s\n", json_string_value(prev), HELPER_NAME);
            else
                printf("credsStore: set to %s\n", HELPER_NAME);
            remember(rec, "credsStore", NULL, prev);
            json_object_set_new(root, "credsStore", json_string(HELPER_NAME));
            (*changes)++;
        }
    }
    if (sel->n && !json_is_object(helpers)) {
        helpers = json_object();
        json_object_set_new(root, "credHelpers", helpers);
    }
    for (i = 0; i < sel->n; i++) {
        prev = json_object_get(helpers, sel->regs[i]);
        if (is_ours(prev)) {
            printf("credHelpers: %s already uses %s\n", sel->regs[i], HELPER_NAME);
            continue;
        }
        if (json_is_string(prev))
            printf("credHelpers: %s: %s -> %s\n", sel->regs[i], json_string_value(prev),
                   HELPER_NAME);
        else
            printf("credHelpers: %s -> %s\n", sel->regs[i], HELPER_NAME);
        remember(rec, "credHelpers", sel->regs[i], prev);
        json_object_set_new(helpers, sel->regs[i], json_string(HELPER_NAME));
        (*changes)++;
    }
}

static bool selected(const struct selection *sel, bool all, const char *key)
{
    size_t i;

    if (all)
        return true;
    for (i = 0; i < sel->n; i++)
        if (!strcmp(sel->regs[i], key))
            return true;
    return false;
}

/* Puts back what the record says was there, for entries that still name dockhand;
   entries never recorded that name dockhand are removed. */
static void undo(json_t *root, const struct selection *sel, bool all, json_t *rec, int *changes)
{
    json_t *helpers = json_object_get(root, "credHelpers");
    json_t *rhelpers = json_object_get(rec, "credHelpers");
    json_t *prev, *v;
    const char *key;
    void *tmp;

    if (sel->store || all) {
        v = json_object_get(root, "credsStore");
        prev = json_object_get(rec, "credsStore");
        if (is_ours(v)) {
            if (json_is_string(prev)) {
                printf("credsStore: %s -> %s (restored)\n", HELPER_NAME, json_string_value(prev));
                json_object_set(root, "credsStore", prev);
            } else {
                printf("credsStore: %s removed\n", HELPER_NAME);
                json_object_del(root, "credsStore");
            }
            (*changes)++;
        }
        json_object_del(rec, "credsStore");
    }
    if (!json_is_object(helpers))
        return;
    json_object_foreach_safe (helpers, tmp, key, v) {
        if (!selected(sel, all, key) || !is_ours(v))
            continue;
        prev = json_object_get(rhelpers, key);
        if (json_is_string(prev)) {
            printf("credHelpers: %s: %s -> %s (restored)\n", key, HELPER_NAME,
                   json_string_value(prev));
            json_object_set(helpers, key, prev);
        } else {
            printf("credHelpers: %s removed\n", key);
            json_object_del(helpers, key);
        }
        (*changes)++;
    }
    if (json_is_object(rhelpers)) {
        json_object_foreach_safe (rhelpers, tmp, key, v)
            if (selected(sel, all, key))
                json_object_del(rhelpers, key);
    }
    /* docker writes credHelpers only when it has entries. */
    if (json_object_size(helpers) == 0)
        json_object_del(root, "credHelpers");
}

int dh_cmd_configure_docker(int argc, char **argv, struct dh_error **err)
{
    __attribute__((cleanup(selection_release))) struct selection sel = {0};
    _cleanup_dockerconfig_ struct dh_dockerconfig *dc = NULL;
    _cleanup_free_ char *rpath = NULL;
    _cleanup_free_ char *rlock = NULL;
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    json_auto_t *records = NULL;
    const char *file = NULL;
    bool do_undo = false, dry = false, given = false, written = false;
    json_t *rec, *helpers;
    int i, changes = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        int r = 0;

#define OPT_ARG(name) ((r = dh_cli_opt_value(argc, argv, &i, NULL, name, &val, err)) != 0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", usage);
            return 0;
        } else if (!strcmp(a, "--store")) {
            sel.store = given = true;
        } else if (!strcmp(a, "--gcr")) {
            size_t k;
            for (k = 0; k < DH_ARRAY_SIZE(gcr_hosts); k++)
                add_reg(&sel, gcr_hosts[k]);
            given = true;
        } else if (!strcmp(a, "--undo")) {
            do_undo = true;
        } else if (!strcmp(a, "--dry-run")) {
            dry = true;
        } else if (OPT_ARG("--registries")) {
            if (r < 0 || add_csv(&sel, val, "", err) < 0)
                return -1;
            given = true;
        } else if (OPT_ARG("--artifact-registry")) {
            if (r < 0 || add_csv(&sel, val, "-docker.pkg.dev", err) < 0)
                return -1;
            given = true;
        } else if (OPT_ARG("--ecr")) {
            if (r < 0 || add_ecr(&sel, val, err) < 0)
                return -1;
            given = true;
        } else if (OPT_ARG("--file")) {
            if (r < 0)
                return -1;
            file = val;
        } else {
            return dh_error_make(err, EINVAL, "unknown option '%s' (see --help)", a);
        }
#undef OPT_ARG
    }
    if (!given && !do_undo) {
        if (add_from_config(&sel, err) < 0)
            return -1;
        if (sel.n == 0)
            return dh_error_make(err, EINVAL,
                                 "nothing to configure: dockhand's config names no registry; "
                                 "give --registries, --ecr, --gcr, --artifact-registry or --store");
    }
    if (dh_dockerconfig_open(
                file, dry ? DH_DOCKERCONFIG_CREATE : DH_DOCKERCONFIG_CREATE | DH_DOCKERCONFIG_LOCK,
                &dc, err) < 0)
        return -1;
    rpath = record_path(err);
    if (!rpath)
        return -1;
    if (!dry) {
        _cleanup_free_ char *rdir = dh_dirname(rpath);
        rlock = dh_xasprintf("%s.lock", rpath);
        if (dh_mkdir_p(rdir, 0700, err) < 0 || dh_lock_acquire(rlock, 30000, &lock, err) < 0)
            return -1;
    }
    records = record_load(rpath);
    rec = json_object_get(records, dh_dockerconfig_path(dc));
    if (!json_is_object(rec)) {
        rec = json_object();
        json_object_set_new(records, dh_dockerconfig_path(dc), rec);
    }
    if (do_undo)
        undo(dh_dockerconfig_root(dc), &sel, !given, rec, &changes);
    else
        configure(dh_dockerconfig_root(dc), &sel, rec, &changes);
    if (changes == 0) {
        printf("%s: nothing to change\n", dh_dockerconfig_path(dc));
        return 0;
    }
    if (dry) {
        printf("%s: %d change%s (dry run: nothing written)\n", dh_dockerconfig_path(dc), changes,
               changes == 1 ? "" : "s");
        return 0;
    }
    if (dh_dockerconfig_save(dc, &written, err) < 0)
        return -1;
    if (json_object_size(json_object_get(rec, "credHelpers")) == 0)
        json_object_del(rec, "credHelpers");
    if (json_object_size(rec) == 0)
        json_object_del(records, dh_dockerconfig_path(dc));
    if (record_save(rpath, records, err) < 0)
        return -1;
    printf("%s: %d change%s written\n", dh_dockerconfig_path(dc), changes, changes == 1 ? "" : "s");
    helpers = json_object_get(dh_dockerconfig_root(dc), "credHelpers");
    if (!do_undo && json_object_size(helpers) > MANY_HELPERS)
        fprintf(stderr,
                "warning: config.json has %zu credHelpers entries; 'docker build' runs every one "
                "of them, which slows it down; consider 'dockhand configure-docker --store'\n",
                json_object_size(helpers));
    if (!do_undo && dh_helperexec_find(HELPER_NAME, NULL) == 0)
        fprintf(stderr, "warning: docker-credential-%s is not on PATH: docker will not find it\n",
                HELPER_NAME);
    return 0;
}

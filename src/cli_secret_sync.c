/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand secret sync --name NAME --registry R [--registry R ...]
 *     (--namespaces a,b | --selector k=v | --all-namespaces) [--exclude a,b]
 *     [--service-accounts default|a,b|all] [--once] [--min-interval 1m]
 *     [--max-interval 1h] [--context CTX] [--timeout 10s]
 *
 * Options also take the --opt=value form.  The report (one JSON line per
 * namespace and one per cycle) goes to stdout, logs to stderr.  With --once the
 * exit status is 1 when any namespace failed (the error names them).  See
 * docs/secret-sync.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/kube.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/secretsync.h"

#define USAGE                                                                                \
    "usage: dockhand secret sync --name NAME --registry REGISTRY [--registry ...] "          \
    "(--namespaces A,B | --selector K=V | --all-namespaces) [--exclude A,B] "                \
    "[--service-accounts default|A,B|all] [--once] [--min-interval 1m] [--max-interval 1h] " \
    "[--context CTX] [--timeout 10s]"

#define MAX_ITEMS 1000

struct strv {
    char **v;
    size_t n;
};

static void strv_release(struct strv *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void strv_push(struct strv *s, const char *x)
{
    s->v = dh_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = dh_xstrdup(x);
}

/* Splits a comma-separated list of DNS-1123 names (labels, or subdomains). */
static int split_names(const char *opt, const char *value, bool subdomain, struct strv *out,
                       struct dh_error **err)
{
    _cleanup_free_ char *copy = dh_xstrdup(value);
    char *save = NULL, *tok;

    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (subdomain ? !dh_kube_subdomain_valid(tok) : !dh_kube_label_valid(tok))
            return dh_error_make(err, EINVAL, "%s: '%s' is not a valid name", opt, tok);
        if (out->n >= MAX_ITEMS)
            return dh_error_make(err, E2BIG, "%s: more than %d names", opt, MAX_ITEMS);
        strv_push(out, tok);
    }
    if (!out->n)
        return dh_error_make(err, EINVAL, "%s needs at least one name", opt);
    return 0;
}

static int parse_ms(const char *opt, const char *v, long *ret_ms, struct dh_error **err)
{
    char *end = NULL;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!errno && end != v && n > 0 && !strcmp(end, "ms") && n <= DH_KUBE_MAX_TIMEOUT_MS) {
        *ret_ms = n;
        return 0;
    }
    if (dh_secretsync_parse_duration(v, &n) == 0 && n * 1000 <= DH_KUBE_MAX_TIMEOUT_MS) {
        *ret_ms = n * 1000;
        return 0;
    }
    return dh_error_make(err, EINVAL, "%s: '%s' is not a duration such as 10s or 500ms", opt, v);
}

int dh_cmd_secret_sync(int argc, char **argv, struct dh_error **err)
{
    struct dh_secretsync_opts o = {.min_interval_s = 60, .max_interval_s = 3600, .report = stdout};
    _cleanup_config_ struct dh_config *cfg = NULL;
    struct strv regs = {0}, nss = {0}, excl = {0}, sas = {0};
    const char *v;
    bool have_exclude = false;
    int i, modes = 0, r = -1, got;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", USAGE);
            r = 0;
            goto out;
        } else if (!strcmp(a, "--once")) {
            o.once = true;
        } else if (!strcmp(a, "--all-namespaces")) {
            o.all_namespaces = true;
            modes++;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--name", &v, err)) != 0) {
            if (got < 0)
                goto out;
            if (!dh_kube_subdomain_valid(v)) {
                dh_error_make(err, EINVAL, "--name: '%s' is not a valid Secret name", v);
                goto out;
            }
            o.name = v;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--registry", &v, err)) != 0) {
            if (got < 0)
                goto out;
            if (!*v || regs.n >= MAX_ITEMS) {
                dh_error_make(err, EINVAL, "--registry needs a registry");
                goto out;
            }
            for (size_t j = 0; j < regs.n; j++) {
                if (!strcmp(regs.v[j], v)) {
                    dh_error_make(err, EINVAL, "--registry '%s' is given twice", v);
                    goto out;
                }
            }
            strv_push(&regs, v);
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--namespaces", &v, err)) != 0) {
            if (got < 0 || split_names("--namespaces", v, false, &nss, err) < 0)
                goto out;
            modes++;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--selector", &v, err)) != 0) {
            if (got < 0)
                goto out;
            if (!*v) {
                dh_error_make(err, EINVAL, "--selector needs a label selector");
                goto out;
            }
            o.selector = v;
            modes++;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--exclude", &v, err)) != 0) {
            if (got < 0 || split_names("--exclude", v, false, &excl, err) < 0)
                goto out;
            have_exclude = true;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--service-accounts", &v, err)) !=
                   0) {
            if (got < 0)
                goto out;
            if (!strcmp(v, "all")) {
                o.sa_mode = DH_SECRETSYNC_SA_ALL;
            } else {
                if (split_names("--service-accounts", v, true, &sas, err) < 0)
                    goto out;
                o.sa_mode = DH_SECRETSYNC_SA_NAMED;
            }
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--min-interval", &v, err)) != 0) {
            if (got < 0)
                goto out;
            if (dh_secretsync_parse_duration(v, &o.min_interval_s) < 0) {
                dh_error_make(err, EINVAL, "--min-interval: '%s' is not a duration such as 1m", v);
                goto out;
            }
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--max-interval", &v, err)) != 0) {
            if (got < 0)
                goto out;
            if (dh_secretsync_parse_duration(v, &o.max_interval_s) < 0) {
                dh_error_make(err, EINVAL, "--max-interval: '%s' is not a duration such as 1h", v);
                goto out;
            }
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--context", &v, err)) != 0) {
            if (got < 0)
                goto out;
            o.context = v;
        } else if ((got = dh_cli_opt_value(argc, argv, &i, NULL, "--timeout", &v, err)) != 0) {
            if (got < 0 || parse_ms("--timeout", v, &o.timeout_ms, err) < 0)
                goto out;
        } else {
            dh_error_make(err, EINVAL, "unknown argument '%s'; %s", a, USAGE);
            goto out;
        }
    }
    if (!o.name || !regs.n) {
        dh_error_make(err, EINVAL, "--name and --registry are required; %s", USAGE);
        goto out;
    }
    if (modes != 1) {
        dh_error_make(err, EINVAL,
                      "choose the namespaces with exactly one of --namespaces, --selector and "
                      "--all-namespaces");
        goto out;
    }
    if (have_exclude && nss.n) {
        dh_error_make(err, EINVAL, "--exclude does not go with --namespaces");
        goto out;
    }
    if (o.min_interval_s > o.max_interval_s) {
        dh_error_make(err, EINVAL, "--min-interval is longer than --max-interval");
        goto out;
    }
    o.registries = (const char *const *)regs.v;
    o.n_registries = regs.n;
    o.namespaces = nss.n ? (const char *const *)nss.v : NULL;
    o.n_namespaces = nss.n;
    o.exclude = have_exclude ? (const char *const *)excl.v : NULL;
    o.n_exclude = excl.n;
    o.sas = (const char *const *)sas.v;
    o.n_sas = sas.n;
    if (dh_config_load(&cfg, err) < 0)
        goto out;
    if (cfg->log_level_set && !dh_log_level_from_env())
        dh_log_set_level(cfg->log_level);
    if (cfg->log_format_set && !dh_log_format_from_env())
        dh_log_set_format(cfg->log_format);
    r = dh_secretsync_run(&o, cfg, err);
out:
    strv_release(&regs);
    strv_release(&nss);
    strv_release(&excl);
    strv_release(&sas);
    return r;
}

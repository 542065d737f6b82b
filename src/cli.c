/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/token.h"
#include "dockhand/tokens.h"
#include "dockhand/log.h"

struct cli_command {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv, struct dh_error **err);
};

static int cmd_version(int argc, char **argv, struct dh_error **err);
static int cmd_token(int argc, char **argv, struct dh_error **err);
static int cmd_help(int argc, char **argv, struct dh_error **err);

static const struct cli_command commands[] = {
        {"agent", "keep a list of images present in the node's container runtime", dh_cmd_agent},
        {"configure-docker", "point docker's config.json at dockhand", dh_cmd_configure_docker},
        {"help", "show this help", cmd_help},
        {"kubelet-provider", "the kubelet credential provider plugin", dh_cmd_kubelet_provider},
        {"login", "check credentials against a registry and store them", dh_cmd_login},
        {"logout", "erase a registry's credentials", dh_cmd_logout},
        {"pull", "pull images into an OCI image layout", dh_cmd_pull},
        {"prune", "remove stale entries from config.json", dh_cmd_prune},
        {"secret", "generate or sync kubernetes.io/dockerconfigjson Secrets", dh_cmd_secret},
        {"token", "show the token dockhand mints for an ECR or GCR registry", cmd_token},
        {"version", "print the version", cmd_version},
};

static int cmd_version(int argc, char **argv, struct dh_error **err)
{
    (void)argc, (void)argv, (void)err;
    printf("dockhand v%s\n", DH_VERSION);
    return 0;
}

/* dockhand token REGISTRY [--show-secret] */
static int cmd_token(int argc, char **argv, struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_token_ struct dh_token *tok = NULL;
    const char *registry = NULL;
    bool show = false;
    char when[32];
    struct tm tm;
    time_t exp;
    long long left;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--show-secret"))
            show = true;
        else if (argv[i][0] == '-' || registry)
            return dh_error_make(err, EINVAL, "usage: dockhand token REGISTRY [--show-secret]");
        else
            registry = argv[i];
    }
    if (!registry)
        return dh_error_make(err, EINVAL, "usage: dockhand token REGISTRY [--show-secret]");
    if (dh_config_load(&cfg, err) < 0)
        return -1;
    r = dh_tokens_lookup(cfg, registry, &tok, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return dh_error_make(
                err, EINVAL,
                "'%s' is not a registry dockhand mints tokens for (ECR, ECR Public, "
                "GCR, Artifact Registry, or one named under ecr: or gcr: in the config)",
                registry);
    exp = (time_t)tok->expires_at;
    gmtime_r(&exp, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    left = (long long)(tok->expires_at - (int64_t)time(NULL));
    printf("registry: %s\nusername: %s\nexpires:  %s (in %lldh%02lldm%02llds)\nsource:   %s\n",
           registry, tok->username, when, left / 3600, left % 3600 / 60, left % 60, tok->source);
    if (show)
        printf("secret:   %s\n", tok->secret);
    else
        printf("secret:   (hidden; add --show-secret to print it)\n");
    return 0;
}

static int cmd_help(int argc, char **argv, struct dh_error **err)
{
    size_t i;

    (void)argc, (void)argv, (void)err;
    printf("usage: dockhand <command> [<args>]\n\ncommands:\n");
    for (i = 0; i < DH_ARRAY_SIZE(commands); i++)
        printf("  %-18s %s\n", commands[i].name, commands[i].summary);
    printf("\nThe docker credential helper is docker-credential-dockhand; see README.md.\n");
    return 0;
}

int dh_cli_opt_value(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                     const char **ret, struct dh_error **err)
{
    const char *a = argv[*i];
    size_t l = strlen(long_name);

    if ((short_name && !strcmp(a, short_name)) || !strcmp(a, long_name)) {
        if (*i + 1 >= argc)
            return dh_error_make(err, EINVAL, "option '%s' needs a value", a);
        *ret = argv[++*i];
        return 1;
    }
    if (!strncmp(a, long_name, l) && a[l] == '=') {
        *ret = a + l + 1;
        return 1;
    }
    if (short_name && !strncmp(a, short_name, 2) && a[2]) {
        *ret = a + 2;
        return 1;
    }
    return 0;
}

int dh_cli_main(int argc, char **argv)
{
    _cleanup_error_ struct dh_error *err = NULL;
    const char *name;
    size_t i;

    if (argc < 2) {
        cmd_help(argc, argv, NULL);
        return 2;
    }
    name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        name = "help";
    else if (!strcmp(name, "--version") || !strcmp(name, "-v"))
        name = "version";
    for (i = 0; i < DH_ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        if (commands[i].fn(argc - 1, argv + 1, &err) == 0)
            return 0;
        dh_log_error("%s", err->msg);
        return 1;
    }
    dh_log_error("unknown command '%s'; see 'dockhand help'", name);
    return 2;
}
